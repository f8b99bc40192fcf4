// The distribution service: docker pull and docker push against a registry (API v2), with
// Docker's progress messages.
//
// Pull: one tag, or every tag of the repository (a name without tag or digest); for each, the
// manifest (a list/index resolves to the requested platform, linux/<host arch> by default),
// the verified config (nothing more when an image with that config is here already), then the
// layers (pull-layers.ts: shared with concurrent pulls, downloaded in parallel, resumed after
// a broken connection, unpacked in order). Only then is the image stored, tagged, and its repo
// digest recorded. A failure, or the client going away, removes what the pull added.
// Push: the layers' kept compressed blobs (push-layers.ts: skipped when the registry has
// them, mounted from another repository of the registry when possible, uploaded otherwise),
// then the config blob, then a manifest per tag.
import { badParameter, isEngineError, notFound, serverError } from '../errdefs/errors.js';
import type { AuthConfig, ImageConfigFile } from '../wire/types.js';
import type { ContentStore } from '../content/store.js';
import type { Publish } from '../events/bus.js';
import {
  familiarName, familiarString, fullString, normalizeTagged, parseReference, type Reference, ReferenceError, validateTag,
} from '../images/reference.js';
import type { ImageRecord, ImageService } from '../images/service.js';
import { hostArchitecture } from '../util/host-arch.js';
import type { LayerStore } from '../layers/store.js';
import { LayerBlobIndex, type KeptBlob } from '../images/layer-blobs.js';
import { buildManifest, checkConfigMatchesManifest, type ImageManifest, ManifestError, parseManifest, type Platform, platformString, selectPlatform } from '../images/manifest.js';
import { sha256Digest } from '../content/store.js';
import { parsePlatform, PlatformError } from '../images/platform.js';
import { type Progress, statusMessage } from '../wire/progress.js';
import { LayerPuller } from './pull-layers.js';
import { LayerPusher, type PushLayer, type PushTarget } from './push-layers.js';
import { repositoryScope, TokenCache } from './auth.js';
import { RegistryClient, type RegistryClientOptions, RegistryError } from './registry-client.js';
import { RegistryHosts } from './registry-hosts.js';

/** Docker's max-concurrent-downloads and max-concurrent-uploads defaults. */
const CONCURRENT_DOWNLOADS = 3;
const CONCURRENT_UPLOADS = 5;

export type { Progress, ProgressMessage } from '../wire/progress.js';

export interface PullOptions {
  /** The API's `platform` ("linux/arm64", "arm64"...): what a manifest list resolves to; the daemon's own by default. */
  platform?: string;
  /** Aborted when the client goes away: the pull stops and leaves nothing behind. */
  signal?: AbortSignal;
}

export interface PushOptions {
  /** Aborted when the client goes away: the push stops. */
  signal?: AbortSignal;
}

/** What pulling one tag did: the image, and whether the tag now names another image than before. */
interface PulledTag {
  image: ImageRecord;
  changed: boolean;
}

/** What distribution needs from the image store (createFromConfig with the config's exact bytes). */
export type DistributionImages = Pick<ImageService, 'resolve' | 'list' | 'tag' | 'addRepoDigest'> & {
  createFromConfig(config: ImageConfigFile, raw?: Buffer): Promise<ImageRecord>;
};

export interface DistributionOptions {
  images: DistributionImages;
  layers: LayerStore;
  content: ContentStore;
  blobs: LayerBlobIndex;
  publish: Publish;
  /** The platform a manifest list resolves to; linux/<host arch> by default. */
  platform?: Platform;
  /** Endpoint selection (mirrors, insecure registries); Docker's defaults when not given. */
  hosts?: RegistryHosts;
  /** Downloads at once, daemon-wide (daemon.json's max-concurrent-downloads; Docker's default 3). */
  maxConcurrentDownloads?: number;
  /** Bearer tokens shared by all pulls and pushes. */
  tokens?: TokenCache;
  /** Makes the client for a registry domain (tests may point it elsewhere). */
  clientFor?: (domain: string, options: RegistryClientOptions) => RegistryClient;
}

/**
 * Docker's pull reference from fromImage + tag: a tag that is a digest pins it. Neither a tag
 * nor a digest means "latest", or with `allTags` (the API's meaning) every tag: the reference
 * is then returned without either.
 */
export function pullReference(fromImage: string, tag: string | undefined, options: { allTags?: boolean } = {}): Reference {
  try {
    let reference = parseReference(fromImage);
    if (tag) {
      if (/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(tag)) {
        reference = parseReference(`${familiarName(reference)}@${tag}`);
      } else {
        validateTag(tag);
        reference = { ...reference, tag };
      }
    }
    if (options.allTags && reference.tag === undefined && reference.digest === undefined) return reference;
    return normalizeTagged(reference);
  } catch (error) {
    if (error instanceof ReferenceError) throw badParameter(error.message);
    throw error;
  }
}

function apiErrorOf(error: unknown): unknown {
  if (isEngineError(error)) return error;
  if (error instanceof RegistryError) return error.notFound ? notFound(error.message) : serverError(error.message);
  return error;
}

export class DistributionService {
  private readonly images: DistributionImages;
  private readonly layers: LayerStore;
  private readonly content: ContentStore;
  private readonly blobs: LayerBlobIndex;
  private readonly publish: Publish;
  private readonly platform: Platform;
  private readonly clientFor: (domain: string, options: RegistryClientOptions) => RegistryClient;
  private readonly hosts: RegistryHosts;
  private readonly tokens: TokenCache;
  private readonly puller: LayerPuller;
  private readonly pusher: LayerPusher;

  constructor(options: DistributionOptions) {
    this.images = options.images;
    this.layers = options.layers;
    this.content = options.content;
    this.blobs = options.blobs;
    this.publish = options.publish;
    this.platform = options.platform ?? { os: 'linux', architecture: hostArchitecture() };
    this.clientFor = options.clientFor ?? ((domain, clientOptions) => new RegistryClient(domain, clientOptions));
    this.hosts = options.hosts ?? new RegistryHosts();
    this.tokens = options.tokens ?? new TokenCache();
    this.puller = new LayerPuller({
      layers: this.layers, content: this.content, blobs: this.blobs, images: this.images, concurrency: options.maxConcurrentDownloads ?? CONCURRENT_DOWNLOADS,
    });
    this.pusher = new LayerPusher({ content: this.content, blobs: this.blobs, concurrency: CONCURRENT_UPLOADS });
  }

  /** A reload of max-concurrent-downloads: transfers under way keep their slots. */
  setMaxConcurrentDownloads(limit: number): void {
    this.puller.setConcurrency(limit);
  }

  /** Drops kept blobs of layers that are gone (call after images are deleted). */
  pruneBlobs(): Promise<void> {
    return this.blobs.prune(() => new Set(this.layers.list().map((layer) => layer.diffId)));
  }

  /**
   * docker pull. Errors before the first progress message (unknown manifest, unreachable
   * registry) are thrown as EngineErrors; the route turns later ones into stream errors.
   */
  async pull(reference: Reference, progress: Progress, auth: AuthConfig = {}, options: PullOptions = {}): Promise<ImageRecord | undefined> {
    const platform = this.pullPlatform(options.platform);
    // Mirrors first: any failure there falls back to the next, as Docker does. Mirrors get no credentials.
    const groups = await this.hosts.endpointGroups(reference.domain, 'pull');
    for (let index = 0; ; index++) {
      const endpoints = groups[index]!;
      const client = this.clientFor(reference.domain, {
        endpoints, credentials: endpoints[0]!.mirror ? undefined : auth, scopes: [repositoryScope(reference.path, ['pull'])], tokens: this.tokens,
      });
      try {
        return await this.pullTags(client, reference, progress, platform, options.signal);
      } catch (error) {
        // A client that went away ends the pull here, not at the next registry.
        if (!endpoints[0]!.mirror || index + 1 === groups.length || options.signal?.aborted) throw apiErrorOf(error);
      } finally {
        client.close();
      }
    }
  }

  /** The platform of a pull: the API's `platform` parsed, else the daemon's. */
  private pullPlatform(specifier: string | undefined): Platform {
    if (!specifier) return this.platform;
    try {
      return parsePlatform(specifier, this.platform);
    } catch (error) {
      if (error instanceof PlatformError) throw badParameter(error.message);
      throw error;
    }
  }

  /**
   * One tag or digest, or every tag when the reference names neither (docker pull -a), then
   * Docker's status line. Resolves with the image of the last tag (none when the repository has no tags).
   */
  private async pullTags(
    client: RegistryClient, reference: Reference, progress: Progress, platform: Platform, signal: AbortSignal | undefined,
  ): Promise<ImageRecord | undefined> {
    if (reference.tag !== undefined || reference.digest !== undefined) {
      const pulled = await this.pullWith(client, reference, progress, platform, signal);
      progress(statusMessage(pullStatus(pulled.changed, familiarString(reference))));
      return pulled.image;
    }
    await client.ping();
    let tags: string[];
    try {
      tags = await client.listTags(reference.path, signal);
    } catch (error) {
      if (error instanceof RegistryError && (error.code === 'NAME_UNKNOWN' || error.notFound)) {
        throw notFound(`repository ${familiarName(reference)} not found: ${error.message}`);
      }
      throw error;
    }
    let changed = false;
    let image: ImageRecord | undefined;
    for (const tag of tags) {
      const pulled = await this.pullWith(client, { ...reference, tag }, progress, platform, signal);
      changed ||= pulled.changed;
      image = pulled.image;
    }
    progress(statusMessage(pullStatus(changed, familiarName(reference))));
    return image;
  }

  private async pullWith(
    client: RegistryClient, reference: Reference, progress: Progress, platform: Platform, signal: AbortSignal | undefined,
  ): Promise<PulledTag> {
    const repository = reference.path;
    const shown = familiarString(reference);
    await client.ping();
    const tagOrDigest = reference.digest ?? reference.tag ?? 'latest';
    let fetched;
    try {
      fetched = await client.getManifest(repository, tagOrDigest, signal);
    } catch (error) {
      if (error instanceof RegistryError && (error.code === 'MANIFEST_UNKNOWN' || error.code === 'NAME_UNKNOWN' || error.notFound)) {
        throw notFound(`manifest for ${shown} not found: ${error.message}`);
      }
      if (error instanceof RegistryError && error.code === 'DENIED') {
        throw notFound(`pull access denied for ${familiarName(reference)}, repository does not exist or may require 'docker login': ${error.message}`);
      }
      throw error;
    }
    const topDigest = manifestDigest(fetched.bytes, reference.digest, fetched.digestHeader);
    let parsed = parseManifest(fetched.bytes, fetched.contentType);
    // Docker says where it pulls from before it looks into a manifest list.
    progress(statusMessage(`Pulling from ${repository}`, tagOrDigest));
    if (parsed.kind === 'list') {
      const entry = selectPlatform(parsed.manifests, platform);
      if (!entry) throw notFound(`no matching manifest for ${platformString(platform)} in the manifest list entries`);
      const platformManifest = await client.getManifest(repository, entry.digest, signal);
      manifestDigest(platformManifest.bytes, entry.digest, undefined);
      parsed = parseManifest(platformManifest.bytes, platformManifest.contentType);
      if (parsed.kind === 'list') throw new ManifestError('invalid manifest list: an entry is itself a list');
    }
    const manifest: ImageManifest = parsed;
    const previous = this.images.resolve(shown)?.id;

    // An image with this config is here already: nothing to fetch (Docker shows no layers then).
    let record = this.images.resolve(manifest.config.digest);
    let labels = record?.config.config?.Labels ?? {};
    if (!record) {
      const rawConfig = await client.getBlobBuffer(repository, manifest.config.digest, signal);
      if (sha256Digest(rawConfig) !== manifest.config.digest) {
        throw new Error(`image config verification failed for digest ${manifest.config.digest}`);
      }
      const config = parseConfig(rawConfig);
      checkConfigMatchesManifest(config.rootfs.diff_ids, manifest);
      const source = { client, repository, name: `${reference.domain}/${repository}` };
      const lease = await this.puller.fetch(source, manifest.layers, config.rootfs.diff_ids, progress, signal);
      try {
        record = await this.images.createFromConfig(config, rawConfig);
      } finally {
        lease.release();
      }
      labels = config.config?.Labels ?? {};
    }
    const name = familiarName(reference);
    if (reference.digest === undefined) await this.images.tag(record.id, name, reference.tag ?? 'latest');
    await this.images.addRepoDigest(record.id, name, topDigest);
    this.publish('image', 'pull', shown, { ...labels, name });
    progress(statusMessage(`Digest: ${topDigest}`));
    return { image: this.images.resolve(record.id) ?? record, changed: previous !== record.id };
  }

  /**
   * docker push of one tag, or of every local tag of the repository when tag is undefined.
   * Throws (before any message) when no such image exists locally.
   */
  async push(name: string, tag: string | undefined, progress: Progress, auth: AuthConfig = {}, options: PushOptions = {}): Promise<void> {
    let reference: Reference;
    try {
      reference = parseReference(name);
      if (tag) {
        validateTag(tag);
        reference = { ...reference, tag };
      }
    } catch (error) {
      if (error instanceof ReferenceError) throw badParameter(error.message);
      throw error;
    }
    const repositoryShown = familiarName(reference);
    const targets: Array<{ tag: string; image: ImageRecord }> = [];
    if (reference.tag !== undefined) {
      const image = this.images.resolve(familiarString(reference));
      if (image) targets.push({ tag: reference.tag, image });
    } else {
      for (const image of this.images.list()) {
        for (const repoTag of image.repoTags) {
          const parsed = parseReference(repoTag);
          if (parsed.domain === reference.domain && parsed.path === reference.path && parsed.tag) targets.push({ tag: parsed.tag, image });
        }
      }
      targets.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
    }
    if (targets.length === 0) throw notFound(`An image does not exist locally with the tag: ${repositoryShown}`);

    const [endpoints] = await this.hosts.endpointGroups(reference.domain, 'push');
    const client = this.clientFor(reference.domain, { endpoints, credentials: auth, scopes: [repositoryScope(reference.path, ['pull', 'push'])], tokens: this.tokens });
    try {
      progress({ status: `The push refers to repository [${fullString({ domain: reference.domain, path: reference.path })}]` });
      await client.ping();
      for (const { tag: pushedTag, image } of targets) {
        await this.pushImage({ client, domain: reference.domain, repository: reference.path }, repositoryShown, pushedTag, image, progress, options.signal);
      }
    } catch (error) {
      throw apiErrorOf(error);
    } finally {
      client.close();
    }
  }

  private async pushImage(target: PushTarget, name: string, tag: string, image: ImageRecord, progress: Progress, signal: AbortSignal | undefined): Promise<void> {
    const { client, repository } = target;
    const layers: PushLayer[] = [];
    for (const diffId of image.config.rootfs.diff_ids) {
      const [kept] = await this.blobs.lookup(diffId);
      if (!kept) throw new Error(`cannot push layer ${diffId}: berth keeps no compressed blob for it (it was stored before berth kept layer blobs)`);
      layers.push({ diffId, blob: kept });
    }
    const blobs: KeptBlob[] = layers.map((layer) => layer.blob);
    await this.pusher.push(target, layers, progress, signal);
    const rawConfig = await this.content.readBuffer(image.id);
    await this.pusher.pushConfig(target, image.id, rawConfig.length, signal);
    const manifest = buildManifest({ digest: image.id, size: rawConfig.length }, blobs);
    const digest = (await client.putManifest(repository, tag, manifest.mediaType, manifest.bytes)) ?? sha256Digest(manifest.bytes);
    await this.images.addRepoDigest(image.id, name, digest);
    this.publish('image', 'push', `${name}:${tag}`, { ...(image.config.config?.Labels ?? {}), name });
    progress({ status: `${tag}: digest: ${digest} size: ${manifest.bytes.length}` });
    progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifest.bytes.length } });
  }
}

/** The last line of a pull: whether a tag now names another image than before. */
function pullStatus(changed: boolean, shown: string): string {
  return changed ? `Status: Downloaded newer image for ${shown}` : `Status: Image is up to date for ${shown}`;
}

/** The digest of manifest bytes; checked against the digest pulled by, or the registry's header. */
function manifestDigest(bytes: Buffer, expected: string | undefined, header: string | undefined): string {
  const actual = sha256Digest(bytes);
  if (expected !== undefined && expected !== actual) throw new Error(`manifest verification failed for digest ${expected}`);
  if (header !== undefined && header.startsWith('sha256:') && header !== actual) {
    throw new Error(`manifest verification failed: the registry says ${header}, the content is ${actual}`);
  }
  return actual;
}

function parseConfig(raw: Buffer): ImageConfigFile {
  let config: unknown;
  try {
    config = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ManifestError('invalid image config: not JSON');
  }
  const candidate = config as Partial<ImageConfigFile> | null;
  if (!candidate || typeof candidate !== 'object' || !Array.isArray(candidate.rootfs?.diff_ids)) {
    throw new ManifestError('invalid image config: no rootfs.diff_ids');
  }
  return candidate as ImageConfigFile;
}
