// The distribution service: docker pull and docker push against a registry (API v2), with
// Docker's progress messages.
//
// Pull: manifest (a list/index resolves to linux/<host arch>), verified config, layers
// downloaded in parallel (at most PARALLEL_TRANSFERS) into the content store, each verified
// against its digest as it streams in, then unpacked in order by the layer store; a layer whose
// chain exists already is not fetched. Only then is the image stored, tagged, and its repo
// digest recorded. Any failure removes what this pull added: layers, blobs, nothing is left.
// Push: each layer's kept compressed blob (see layer-blobs.ts) is uploaded unless the
// registry has it (HEAD), then the config blob, then a Docker schema 2 manifest per tag.
import { ApiError, badParameter, notFound } from '../api/errors.js';
import type { ImageConfigFile } from '../api/types.js';
import type { ContentStore } from '../content/store.js';
import { DigestMismatchError } from '../content/store.js';
import type { Publish } from '../events/bus.js';
import {
  familiarName, familiarString, fullString, normalizeTagged, parseReference, type Reference, ReferenceError, validateTag,
} from '../images/reference.js';
import type { ImageRecord, ImageService } from '../images/service.js';
import { hostArchitecture } from '../images/store.js';
import { chainIdsOf, type LayerStore } from '../layers/store.js';
import { LayerBlobIndex, type KeptBlob } from './layer-blobs.js';
import {
  buildManifest, checkConfigMatchesManifest, type Descriptor, type ImageManifest, ManifestError, parseManifest, type Platform,
  platformString, selectPlatform, sha256Digest,
} from './manifest.js';
import { RegistryClient, RegistryError } from './registry-client.js';

const PARALLEL_TRANSFERS = 3;

/** One message of Docker's JSON progress stream (jsonmessage.JSONMessage). */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: Record<string, never>;
  aux?: { Tag: string; Digest: string; Size: number };
}

export type Progress = (message: ProgressMessage) => void;

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
  /** Makes the client for a registry domain (tests may point it elsewhere). */
  clientFor?: (domain: string) => RegistryClient;
}

/** The first 12 hex digits, as Docker's progress ids show a blob. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** Docker's pull reference from fromImage + tag: a tag that is a digest pins it. */
export function pullReference(fromImage: string, tag: string | undefined): Reference {
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
    return normalizeTagged(reference);
  } catch (error) {
    if (error instanceof ReferenceError) throw badParameter(error.message);
    throw error;
  }
}

/** Runs tasks with at most `limit` at a time. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

function apiErrorOf(error: unknown): unknown {
  if (error instanceof ApiError) return error;
  if (error instanceof RegistryError) return new ApiError(error.status === 404 ? 404 : 500, error.message);
  return error;
}

export class DistributionService {
  private readonly images: DistributionImages;
  private readonly layers: LayerStore;
  private readonly content: ContentStore;
  private readonly blobs: LayerBlobIndex;
  private readonly publish: Publish;
  private readonly platform: Platform;
  private readonly clientFor: (domain: string) => RegistryClient;

  constructor(options: DistributionOptions) {
    this.images = options.images;
    this.layers = options.layers;
    this.content = options.content;
    this.blobs = options.blobs;
    this.publish = options.publish;
    this.platform = options.platform ?? { os: 'linux', architecture: hostArchitecture() };
    this.clientFor = options.clientFor ?? ((domain) => new RegistryClient(domain));
  }

  /** Drops kept blobs of layers that are gone (call after images are deleted). */
  pruneBlobs(): Promise<void> {
    return this.blobs.prune(() => new Set(this.layers.list().map((layer) => layer.diffId)));
  }

  /**
   * docker pull. Errors before the first progress message (unknown manifest, unreachable
   * registry) are thrown as ApiErrors; the route turns later ones into stream errors.
   */
  async pull(reference: Reference, progress: Progress): Promise<ImageRecord> {
    const client = this.clientFor(reference.domain);
    try {
      return await this.pullWith(client, reference, progress);
    } catch (error) {
      throw apiErrorOf(error);
    } finally {
      client.close();
    }
  }

  private async pullWith(client: RegistryClient, reference: Reference, progress: Progress): Promise<ImageRecord> {
    const repository = reference.path;
    const shown = familiarString(reference);
    await client.ping();
    const tagOrDigest = reference.digest ?? reference.tag ?? 'latest';
    let fetched;
    try {
      fetched = await client.getManifest(repository, tagOrDigest);
    } catch (error) {
      if (error instanceof RegistryError && (error.code === 'MANIFEST_UNKNOWN' || error.code === 'NAME_UNKNOWN' || error.status === 404)) {
        throw notFound(`manifest for ${shown} not found: ${error.message}`);
      }
      throw error;
    }
    const topDigest = manifestDigest(fetched.bytes, reference.digest, fetched.digestHeader);
    let parsed = parseManifest(fetched.bytes, fetched.contentType);
    if (parsed.kind === 'list') {
      const entry = selectPlatform(parsed.manifests, this.platform);
      if (!entry) throw notFound(`no matching manifest for ${platformString(this.platform)} in the manifest list entries`);
      const platformManifest = await client.getManifest(repository, entry.digest);
      manifestDigest(platformManifest.bytes, entry.digest, undefined);
      parsed = parseManifest(platformManifest.bytes, platformManifest.contentType);
      if (parsed.kind === 'list') throw new ManifestError('invalid manifest list: an entry is itself a list');
    }
    const manifest: ImageManifest = parsed;
    progress({ status: `Pulling from ${repository}`, id: tagOrDigest });

    const rawConfig = await client.getBlobBuffer(repository, manifest.config.digest);
    if (sha256Digest(rawConfig) !== manifest.config.digest) {
      throw new Error(`image config verification failed for digest ${manifest.config.digest}`);
    }
    const config = parseConfig(rawConfig);
    checkConfigMatchesManifest(config.rootfs.diff_ids, manifest);
    const previous = this.images.resolve(shown)?.id;

    await this.fetchLayers(client, repository, manifest.layers, config.rootfs.diff_ids, progress);

    const record = await this.images.createFromConfig(config, rawConfig);
    const name = familiarName(reference);
    if (reference.digest === undefined) await this.images.tag(record.id, name, reference.tag ?? 'latest');
    await this.images.addRepoDigest(record.id, name, topDigest);
    this.publish('image', 'pull', shown, { ...(config.config?.Labels ?? {}), name });
    progress({ status: `Digest: ${topDigest}` });
    progress({ status: previous === record.id ? `Status: Image is up to date for ${shown}` : `Status: Downloaded newer image for ${shown}` });
    return this.images.resolve(record.id) ?? record;
  }

  /** Downloads the missing layers (in parallel) and applies them in order; on failure removes what it added. */
  private async fetchLayers(client: RegistryClient, repository: string, descriptors: Descriptor[], diffIds: string[], progress: Progress): Promise<void> {
    const chain = chainIdsOf(diffIds);
    const preexisting = new Set(this.layers.list().map((layer) => layer.chainId));
    let firstMissing = chain.findIndex((chainId) => !preexisting.has(chainId));
    if (firstMissing === -1) firstMissing = chain.length;
    for (let i = 0; i < firstMissing; i++) progress({ status: 'Already exists', id: shortDigest(descriptors[i]!.digest) });
    const missing = descriptors.slice(firstMissing);
    for (const layer of missing) progress({ status: 'Pulling fs layer', id: shortDigest(layer.digest) });

    const abort = new AbortController();
    const ingested = new Set<string>();
    const created: string[] = [];
    const limit = limiter(PARALLEL_TRANSFERS);
    const downloads = new Map<string, Promise<void>>();
    for (const layer of missing) {
      if (downloads.has(layer.digest)) continue;
      const download = limit(() => this.download(client, repository, layer, abort.signal, ingested, progress));
      download.catch(() => undefined);
      downloads.set(layer.digest, download);
    }
    try {
      let parent: string | null = firstMissing > 0 ? chain[firstMissing - 1]! : null;
      for (let i = firstMissing; i < descriptors.length; i++) {
        const layer = descriptors[i]!;
        const id = shortDigest(layer.digest);
        await downloads.get(layer.digest);
        progress({ status: 'Extracting', id });
        const applied = await this.layers.apply(parent, this.content.createReadStream(layer.digest));
        if (!preexisting.has(applied.chainId) && !created.includes(applied.chainId)) created.push(applied.chainId);
        if (applied.chainId !== chain[i]) {
          throw new Error(`layer ${layer.digest} has diff ID ${applied.diffId}, but the image config expects ${diffIds[i]}`);
        }
        await this.blobs.record(applied.diffId, { digest: layer.digest, size: layer.size, mediaType: layer.mediaType });
        progress({ status: 'Pull complete', id });
        parent = applied.chainId;
      }
    } catch (error) {
      abort.abort();
      await Promise.allSettled(downloads.values());
      for (const chainId of created.reverse()) await this.layers.remove(chainId).catch(() => undefined);
      await this.pruneBlobs().catch(() => undefined);
      for (const digest of ingested) if (!this.blobs.isKept(digest)) await this.content.delete(digest).catch(() => undefined);
      throw error;
    }
  }

  private async download(
    client: RegistryClient, repository: string, layer: Descriptor, signal: AbortSignal, ingested: Set<string>, progress: Progress,
  ): Promise<void> {
    const id = shortDigest(layer.digest);
    signal.throwIfAborted();
    if (!(await this.content.has(layer.digest))) {
      progress({ status: 'Downloading', id });
      const { stream } = await client.getBlob(repository, layer.digest, signal);
      ingested.add(layer.digest);
      try {
        await this.content.ingest(stream, layer.digest);
      } catch (error) {
        if (error instanceof DigestMismatchError) throw new Error(`filesystem layer verification failed for digest ${layer.digest}`);
        throw error;
      }
      progress({ status: 'Verifying Checksum', id });
    }
    progress({ status: 'Download complete', id });
  }

  /**
   * docker push of one tag, or of every local tag of the repository when tag is undefined.
   * Throws (before any message) when no such image exists locally.
   */
  async push(name: string, tag: string | undefined, progress: Progress): Promise<void> {
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

    const client = this.clientFor(reference.domain);
    try {
      progress({ status: `The push refers to repository [${fullString({ domain: reference.domain, path: reference.path })}]` });
      await client.ping();
      for (const { tag: pushedTag, image } of targets) {
        await this.pushImage(client, reference.path, repositoryShown, pushedTag, image, progress);
      }
    } catch (error) {
      throw apiErrorOf(error);
    } finally {
      client.close();
    }
  }

  private async pushImage(client: RegistryClient, repository: string, name: string, tag: string, image: ImageRecord, progress: Progress): Promise<void> {
    const diffIds = image.config.rootfs.diff_ids;
    const blobs: KeptBlob[] = [];
    for (const diffId of diffIds) {
      const [kept] = await this.blobs.lookup(diffId);
      if (!kept) throw new Error(`cannot push layer ${diffId}: berth keeps no compressed blob for it (it was stored before berth kept layer blobs)`);
      blobs.push(kept);
    }
    // Docker lists the layers top first.
    const unique = [...new Map(blobs.map((blob) => [blob.digest, blob])).values()].reverse();
    for (const blob of unique) progress({ status: 'Preparing', id: shortDigest(blob.digest) });
    const limit = limiter(PARALLEL_TRANSFERS);
    const uploads = unique.map((blob) => limit(async () => {
      const id = shortDigest(blob.digest);
      if (await client.blobExists(repository, blob.digest)) {
        progress({ status: 'Layer already exists', id });
        return;
      }
      progress({ status: 'Pushing', id });
      await client.uploadBlob(repository, blob.digest, blob.size, () => this.content.createReadStream(blob.digest));
      progress({ status: 'Pushed', id });
    }));
    const results = await Promise.allSettled(uploads);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;

    const rawConfig = await this.content.readBuffer(image.id);
    if (!(await client.blobExists(repository, image.id))) {
      await client.uploadBlob(repository, image.id, rawConfig.length, () => this.content.createReadStream(image.id));
    }
    const manifest = buildManifest({ digest: image.id, size: rawConfig.length }, blobs);
    const digest = (await client.putManifest(repository, tag, manifest.mediaType, manifest.bytes)) ?? sha256Digest(manifest.bytes);
    await this.images.addRepoDigest(image.id, name, digest);
    this.publish('image', 'push', `${name}:${tag}`, { ...(image.config.config?.Labels ?? {}), name });
    progress({ status: `${tag}: digest: ${digest} size: ${manifest.bytes.length}` });
    progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifest.bytes.length } });
  }
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
