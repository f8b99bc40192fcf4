// Image archives: the tar that `docker save` writes and `docker load` reads.
//
// Save writes the layout of Docker 25 and later: manifest.json ([{Config, RepoTags, Layers,
// LayerSources}]), repositories, and an OCI image layout (oci-layout, index.json,
// blobs/sha256/<hex>) holding the image configs, one OCI manifest per image, the legacy v1
// JSON of each layer and each layer as the uncompressed tar whose digest is its diff ID.
// berth keeps no tar-split data, so a layer's tar is the plain form of the compressed blob
// kept for push (distribution/layer-blobs.ts): exactly the bytes its diff ID was computed
// from. Every layer is checked against its diff ID (and measured, for the tar headers)
// before the first byte goes out, so that a save either fails with a plain HTTP error or
// streams a whole archive.
//
// Load reads docker-archives (manifest.json; layers as "<v1-id>/layer.tar" with symlinked
// duplicates as Docker 1.10-24 writes them, or as blobs/sha256/<hex>) and OCI image layouts
// (index.json; names from the io.containerd.image.name / org.opencontainers.image.ref.name
// annotations). Lifecycle of a load: the archive is unpacked into <tmp>/load-<random>/;
// every image in it is planned (config parsed, layer files found); the missing layers are
// applied in order, each checked against the config's diff IDs (and, in an OCI layout, each
// blob against its descriptor); only when every layer of every image is in place are the
// images created and tagged. A failure removes the layers that load added, so a failed load
// stores nothing; the temp folder always goes.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline as streamPipeline, Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { ApiError, badParameter, notFound } from '../errdefs/errors.js';
import type { ImageConfigFile } from '../wire/types.js';
import { digestHex, type ContentStore } from '../content/store.js';
import type { LayerBlobIndex } from '../distribution/layer-blobs.js';
import { ByteProgress, type ProgressMessage } from '../distribution/progress.js';
import { MEDIA_TYPES, parseManifest, selectPlatform, sha256Digest, type Platform } from '../distribution/manifest.js';
import { shortDigest } from '../distribution/pull-layers.js';
import type { Publish } from '../events/bus.js';
import { decompressStream } from '../layers/decompress.js';
import { chainIdsOf, type LayerStore } from '../layers/store.js';
import {
  familiarName, familiarString, fullString, parseReference, type Reference, ReferenceError,
} from './reference.js';
import type { ImageRecord, ImageService } from './service.js';
import { emptyContainerConfig, hostArchitecture } from './store.js';

export const MANIFEST_FILE = 'manifest.json';
export const REPOSITORIES_FILE = 'repositories';
export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_INDEX_FILE = 'index.json';
export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion": "1.0.0"}';
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

type TarHeader = Partial<tarStream.Header> & { name: string };
type TarSink = ReturnType<tarStream.Pack['entry']>;

const EPOCH = '1970-01-01T00:00:00Z';
const DIGEST = /^sha256:([a-f0-9]{64})$/;
const MAX_LINK_HOPS = 255;

// ---- shapes -------------------------------------------------------------------------------------

/** One image of a save: its config bytes (whose digest is its ID) and the tags it is saved with. */
export interface SaveItem {
  id: string;
  rawConfig: Buffer;
  config: ImageConfigFile;
  /** Tagged references, in the order they were asked for. */
  tags: Reference[];
}

interface LayerSource { mediaType: string; size: number; digest: string }

/** An entry of manifest.json as Docker writes it (Go field order). */
export interface ArchiveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  Parent?: string;
  LayerSources?: Record<string, LayerSource>;
}

/** Everything of a save but the layer tars: small files by path, blobs by hex. */
export interface ArchiveMetadata {
  manifestJson: string;
  repositories: string | undefined;
  indexJson: string;
  /** Configs, OCI manifests and v1 layer JSON, by digest hex. */
  blobs: Map<string, { data: Buffer; mtime: string }>;
  /** Layer tars by diff ID hex. */
  layers: Map<string, { diffId: string; size: number; mtime: string }>;
}

/** A message of the load stream: "Loading layer" progress, or a line of output. */
export type ArchiveMessage = ProgressMessage | { stream: string };

/** What load and save need from the image store (createFromConfig with the config's exact bytes). */
export type ArchiveImages = Pick<ImageService, 'resolve' | 'list' | 'get' | 'tag'> & {
  createFromConfig(config: ImageConfigFile, raw?: Buffer): Promise<ImageRecord>;
};

// ---- pure pieces of the writer -------------------------------------------------------------------

/** JSON as Go's encoding/json writes it: <, > and & escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}


/** The image part of a legacy v1 layer JSON (image.V1Image, Go field order, omitempty as Go omits). */
function v1ImageFields(config: ImageConfigFile | undefined): Record<string, unknown> {
  if (!config) return { created: EPOCH, container_config: emptyContainerConfig() };
  const fields: Record<string, unknown> = {};
  if (config.comment) fields.comment = config.comment;
  fields.created = config.created ?? null;
  if (config.container) fields.container = config.container;
  fields.container_config = config.container_config ?? emptyContainerConfig();
  if (config.docker_version) fields.docker_version = config.docker_version;
  if (config.author) fields.author = config.author;
  if (config.config) fields.config = config.config;
  if (config.architecture) fields.architecture = config.architecture;
  if (config.variant) fields.variant = config.variant;
  return fields;
}

/**
 * The legacy v1 ID and JSON of each layer (v1.CreateID): the ID is the digest of the layer's
 * v1 JSON with its chain ID and parent's v1 ID added, keys sorted; only the top layer carries
 * the image's own fields.
 */
export function legacyLayers(config: ImageConfigFile): Array<{ id: string; json: string }> {
  const diffIds = config.rootfs.diff_ids;
  const chain = chainIdsOf(diffIds);
  const result: Array<{ id: string; json: string }> = [];
  let parent = '';
  for (let index = 0; index < diffIds.length; index++) {
    const top = index === diffIds.length - 1;
    const fields = v1ImageFields(top ? config : undefined);
    // Docker sets the OS of the lower layers only after computing their IDs.
    if (top && config.os) fields.os = config.os;
    const forId: Record<string, unknown> = { ...fields, layer_id: chain[index] };
    if (!top && config.os) fields.os = config.os;
    if (parent) forId.parent = parent;
    const sorted = Object.fromEntries(Object.entries(forId).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const id = sha256Digest(goJson(sorted));
    const json = goJson({ id: digestHex(id), ...(parent ? { parent: digestHex(parent) } : {}), ...fields });
    result.push({ id, json });
    parent = id;
  }
  return result;
}

function sortedRecord<T>(entries: Iterable<[string, T]>): Record<string, T> {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** manifest.json, repositories, index.json and the small blobs of a save, as Docker 25+ writes them. */
export function buildArchiveMetadata(items: readonly SaveItem[], layerSizes: ReadonlyMap<string, number>): ArchiveMetadata {
  const blobs = new Map<string, { data: Buffer; mtime: string }>();
  const layers = new Map<string, { diffId: string; size: number; mtime: string }>();
  const manifest: ArchiveManifestEntry[] = [];
  const repositories = new Map<string, Map<string, string>>();
  const indexManifests: Array<Record<string, unknown>> = [];

  for (const item of items) {
    const diffIds = item.config.rootfs.diff_ids;
    if (diffIds.length === 0) throw new Error('empty export - not implemented');
    const created = item.config.created ?? EPOCH;
    for (const legacy of legacyLayers(item.config)) {
      blobs.set(digestHex(sha256Digest(legacy.json)), { data: Buffer.from(legacy.json), mtime: created });
    }
    const sources = new Map<string, LayerSource>();
    for (const diffId of diffIds) {
      const size = layerSizes.get(diffId);
      if (size === undefined) throw new Error(`no size known for layer ${diffId}`);
      if (!layers.has(digestHex(diffId))) layers.set(digestHex(diffId), { diffId, size, mtime: created });
      sources.set(diffId, { mediaType: MEDIA_TYPES.ociLayer, size, digest: diffId });
    }
    blobs.set(digestHex(item.id), { data: item.rawConfig, mtime: created });

    const ociManifest = goJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: item.id, size: item.rawConfig.length },
      layers: diffIds.map((diffId) => ({ mediaType: MEDIA_TYPES.ociLayer, digest: diffId, size: sources.get(diffId)!.size })),
    });
    const manifestDigest = sha256Digest(ociManifest);
    blobs.set(digestHex(manifestDigest), { data: Buffer.from(ociManifest), mtime: EPOCH });
    const descriptor = { mediaType: MEDIA_TYPES.ociManifest, digest: manifestDigest, size: Buffer.byteLength(ociManifest) };

    const repoTags: string[] = [];
    for (const tag of item.tags) {
      const name = familiarName(tag);
      const byTag = repositories.get(name) ?? new Map<string, string>();
      byTag.set(tag.tag!, digestHex(diffIds[diffIds.length - 1]!));
      repositories.set(name, byTag);
      repoTags.push(familiarString(tag));
      indexManifests.push({ ...descriptor, annotations: { [ANNOTATION_IMAGE_NAME]: fullString(tag), [ANNOTATION_REF_NAME]: tag.tag! } });
    }
    if (item.tags.length === 0) indexManifests.push(descriptor);

    manifest.push({
      Config: `blobs/sha256/${digestHex(item.id)}`,
      RepoTags: repoTags.length > 0 ? repoTags : null,
      Layers: diffIds.map((diffId) => `blobs/sha256/${digestHex(diffId)}`),
      LayerSources: sortedRecord(sources),
    });
  }

  const repositoriesJson = repositories.size > 0
    ? goJson(sortedRecord([...repositories].map(([name, byTag]) => [name, sortedRecord(byTag)]))) + '\n'
    : undefined;
  return {
    manifestJson: goJson(manifest) + '\n',
    repositories: repositoriesJson,
    indexJson: goJson({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: indexManifests }),
    blobs,
    layers,
  };
}

// ---- pure pieces of the reader -------------------------------------------------------------------

/**
 * A path inside an archive after following the archive's own symlinks, never leaving it
 * (symlink.FollowSymlinkInScope): ".." stops at the root, absolute targets start from it.
 */
export function resolveInScope(path: string, symlinks: ReadonlyMap<string, string>): string {
  let pending = path.split('/');
  let resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, part].join('/');
    const target = symlinks.get(candidate);
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_LINK_HOPS) throw new Error(`invalid archive: too many levels of symbolic links in ${path}`);
    if (target.startsWith('/')) resolved = [];
    pending = [...target.split('/'), ...pending];
  }
  return resolved.join('/');
}

/** An archive member's name as a relative path, or undefined for the root itself; throws for one that leaves the archive. */
export function memberPath(name: string): string | undefined {
  const normalized = posix.normalize(name.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (normalized === '' || normalized === '.') return undefined;
  if (normalized === '..' || normalized.startsWith('../')) throw new Error(`invalid archive: ${name} points outside the archive`);
  return normalized;
}

/** Read access to an unpacked archive; paths are archive paths (symlinks followed within it). */
export interface ArchiveFiles {
  exists(path: string): Promise<boolean>;
  read(path: string): Promise<Buffer>;
  size(path: string): Promise<number>;
  open(path: string): Readable;
}

/** A layer to load: its file in the archive, and for an OCI layout the digest its blob must have. */
export interface PlannedLayer { path: string; blobDigest?: string }

export interface PlannedImage {
  id: string;
  rawConfig: Buffer;
  config: ImageConfigFile;
  layers: PlannedLayer[];
  /** Tagged references to give it, in archive order. */
  tags: Reference[];
}

function parseConfig(raw: Buffer): ImageConfigFile {
  let config: unknown;
  try {
    config = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new Error(`invalid image JSON: ${(error as Error).message}`);
  }
  const candidate = config as Partial<ImageConfigFile> | null;
  if (!candidate || typeof candidate !== 'object' || Array.isArray(candidate)) throw new Error('invalid image JSON: not an object');
  if (!candidate.rootfs || typeof candidate.rootfs !== 'object') throw new Error('invalid image JSON, no RootFS key');
  const diffIds = candidate.rootfs.diff_ids ?? [];
  if (!Array.isArray(diffIds) || diffIds.some((diffId) => typeof diffId !== 'string' || !DIGEST.test(diffId))) {
    throw new Error('invalid image JSON: rootfs.diff_ids holds an invalid digest');
  }
  candidate.rootfs.diff_ids = diffIds;
  const os = candidate.os ?? '';
  if (os !== '' && os !== 'linux') throw new Error(`cannot load ${os} image on linux`);
  return candidate as ImageConfigFile;
}

function taggedReference(text: string): Reference {
  let reference: Reference;
  try {
    reference = parseReference(text);
  } catch (error) {
    if (error instanceof ReferenceError) throw new Error(`invalid reference "${text}": ${error.message}`);
    throw error;
  }
  if (reference.tag === undefined || reference.digest !== undefined) throw new Error(`invalid tag "${text}"`);
  return reference;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The images of a docker-archive (manifest.json), in manifest order. */
export async function planDockerArchive(files: ArchiveFiles): Promise<PlannedImage[]> {
  let entries: unknown;
  try {
    entries = JSON.parse((await files.read(MANIFEST_FILE)).toString('utf8'));
  } catch (error) {
    throw new Error(`invalid archive: failed to decode ${MANIFEST_FILE}: ${(error as Error).message}`);
  }
  if (entries === null) throw new Error('invalid manifest, manifest cannot be null (but can be [])');
  if (!Array.isArray(entries)) throw new Error(`invalid archive: failed to decode ${MANIFEST_FILE}: not a list`);
  const planned: PlannedImage[] = [];
  for (const entry of entries) {
    if (!isRecord(entry) || typeof entry.Config !== 'string') throw new Error(`invalid archive: an entry of ${MANIFEST_FILE} names no Config`);
    const layerPaths = Array.isArray(entry.Layers) ? entry.Layers : [];
    if (layerPaths.some((path) => typeof path !== 'string')) throw new Error(`invalid archive: an entry of ${MANIFEST_FILE} has invalid Layers`);
    if (!(await files.exists(entry.Config))) throw new Error(`invalid archive: ${entry.Config} not found`);
    const rawConfig = await files.read(entry.Config);
    const config = parseConfig(rawConfig);
    const diffIds = config.rootfs.diff_ids;
    if (layerPaths.length !== diffIds.length) {
      throw new Error(`invalid manifest, layers length mismatch: expected ${layerPaths.length}, got ${diffIds.length}`);
    }
    const repoTags = Array.isArray(entry.RepoTags) ? entry.RepoTags : [];
    planned.push({
      id: sha256Digest(rawConfig),
      rawConfig,
      config,
      layers: (layerPaths as string[]).map((path) => ({ path })),
      tags: repoTags.map((tag) => taggedReference(String(tag))),
    });
  }
  return planned;
}

interface Descriptor { mediaType: string; digest: string; size: number; annotations: Record<string, string>; platform?: Platform }

function descriptorOf(value: unknown, what: string): Descriptor {
  if (!isRecord(value) || typeof value.digest !== 'string' || !DIGEST.test(value.digest)) {
    throw new Error(`invalid archive: ${what} has no valid digest`);
  }
  const annotations: Record<string, string> = {};
  if (isRecord(value.annotations)) {
    for (const [key, text] of Object.entries(value.annotations)) if (typeof text === 'string') annotations[key] = text;
  }
  const descriptor: Descriptor = {
    mediaType: typeof value.mediaType === 'string' ? value.mediaType : '',
    digest: value.digest,
    size: typeof value.size === 'number' ? value.size : -1,
    annotations,
  };
  const platform = value.platform;
  if (isRecord(platform) && typeof platform.os === 'string' && typeof platform.architecture === 'string') {
    descriptor.platform = { os: platform.os, architecture: platform.architecture };
    if (typeof platform.variant === 'string' && platform.variant) descriptor.platform.variant = platform.variant;
  }
  return descriptor;
}

/** The name an OCI index entry gives its image: io.containerd.image.name, else a ref.name that is a whole reference (not a bare tag). */
export function ociImageName(annotations: Record<string, string>): Reference | undefined {
  const candidates = [annotations[ANNOTATION_IMAGE_NAME], annotations[ANNOTATION_REF_NAME]];
  for (const [index, candidate] of candidates.entries()) {
    if (!candidate) continue;
    if (index === 1 && !candidate.includes('/') && !candidate.includes(':')) continue;
    try {
      const reference = parseReference(candidate);
      if (reference.tag !== undefined && reference.digest === undefined) return reference;
      if (reference.digest === undefined) return { ...reference, tag: 'latest' };
    } catch {
      // A ref.name that is no reference (e.g. a bare tag like "v1.0") names no image.
    }
  }
  return undefined;
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

async function readBlob(files: ArchiveFiles, descriptor: Descriptor, what: string): Promise<Buffer> {
  const path = blobPath(descriptor.digest);
  if (!(await files.exists(path))) throw new Error(`invalid archive: ${what} ${descriptor.digest} not found`);
  const data = await files.read(path);
  if (sha256Digest(data) !== descriptor.digest) throw new Error(`invalid archive: ${what} ${descriptor.digest} does not match its content`);
  return data;
}

/** The images of an OCI image layout (index.json): manifests for this platform, grouped by manifest, with their names. */
export async function planOciLayout(files: ArchiveFiles, platform: Platform): Promise<PlannedImage[]> {
  let index: unknown;
  try {
    index = JSON.parse((await files.read(OCI_INDEX_FILE)).toString('utf8'));
  } catch (error) {
    throw new Error(`invalid archive: failed to decode ${OCI_INDEX_FILE}: ${(error as Error).message}`);
  }
  if (!isRecord(index) || !Array.isArray(index.manifests)) throw new Error(`invalid archive: ${OCI_INDEX_FILE} lists no manifests`);
  const byManifest = new Map<string, PlannedImage>();

  const visit = async (descriptor: Descriptor, name: Reference | undefined, depth: number): Promise<void> => {
    if (depth > 8) throw new Error('invalid archive: indexes nested too deep');
    const mediaType = descriptor.mediaType;
    if (mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList) {
      const nested = JSON.parse((await readBlob(files, descriptor, 'index')).toString('utf8')) as unknown;
      if (!isRecord(nested) || !Array.isArray(nested.manifests)) throw new Error(`invalid archive: index ${descriptor.digest} lists no manifests`);
      const entries = nested.manifests.map((entry, position) => descriptorOf(entry, `manifests[${position}] of ${descriptor.digest}`));
      const chosen = selectPlatform(entries.filter((entry) => entry.platform), platform)
        ?? (entries.length === 1 && !entries[0]!.platform ? entries[0] : undefined);
      if (!chosen) throw new Error(`invalid archive: no image for ${platform.os}/${platform.architecture} in index ${descriptor.digest}`);
      await visit(chosen, name, depth + 1);
      return;
    }
    if (mediaType !== '' && mediaType !== MEDIA_TYPES.ociManifest && mediaType !== MEDIA_TYPES.dockerManifest) return;
    const existing = byManifest.get(descriptor.digest);
    if (existing) {
      if (name && !existing.tags.some((tag) => familiarString(tag) === familiarString(name))) existing.tags.push(name);
      return;
    }
    const parsed = parseManifest(await readBlob(files, descriptor, 'manifest'), mediaType);
    if (parsed.kind !== 'image') throw new Error(`invalid archive: manifest ${descriptor.digest} is an index`);
    const rawConfig = await readBlob(files, { ...parsed.config, annotations: {} }, 'config');
    const config = parseConfig(rawConfig);
    if (config.rootfs.diff_ids.length !== parsed.layers.length) {
      throw new Error(`invalid manifest, layers length mismatch: expected ${parsed.layers.length}, got ${config.rootfs.diff_ids.length}`);
    }
    byManifest.set(descriptor.digest, {
      id: parsed.config.digest,
      rawConfig,
      config,
      layers: parsed.layers.map((layer) => ({ path: blobPath(layer.digest), blobDigest: layer.digest })),
      tags: name ? [name] : [],
    });
  };

  for (const [position, entry] of index.manifests.entries()) {
    const descriptor = descriptorOf(entry, `manifests[${position}] of ${OCI_INDEX_FILE}`);
    if (descriptor.platform && (descriptor.platform.os !== platform.os || descriptor.platform.architecture !== platform.architecture)) continue;
    await visit(descriptor, ociImageName(descriptor.annotations), 0);
  }
  return [...byManifest.values()];
}

// ---- unpacking ------------------------------------------------------------------------------------

/** An archive unpacked in a directory; its symlinks are kept apart and followed within it. */
class UnpackedArchive implements ArchiveFiles {
  constructor(private readonly root: string, private readonly symlinks: ReadonlyMap<string, string>) {}

  private real(path: string): string {
    return join(this.root, resolveInScope(path, this.symlinks));
  }

  async exists(path: string): Promise<boolean> {
    try {
      return (await stat(this.real(path))).isFile();
    } catch {
      return false;
    }
  }

  read(path: string): Promise<Buffer> {
    return readFile(this.real(path));
  }

  async size(path: string): Promise<number> {
    return (await stat(this.real(path))).size;
  }

  open(path: string): Readable {
    return createReadStream(this.real(path));
  }
}

/** Unpacks a (possibly compressed) tar into `dir`: files and directories on disk, symlinks recorded, hard links linked. */
export async function unpackArchive(input: Readable, dir: string): Promise<ArchiveFiles> {
  await mkdir(dir, { recursive: true });
  const symlinks = new Map<string, string>();
  const plain = Readable.from(await decompressStream(input));
  // allowUnknownFormat: old v7 archives have no "ustar" magic.
  const extract = tarStream.extract({ allowUnknownFormat: true } as Parameters<typeof tarStream.extract>[0]);
  const feeding = pipeline(plain, extract);
  feeding.catch(() => undefined);
  let members = 0;
  try {
    for await (const entry of extract) {
      members++;
      const header = entry.header;
      const path = memberPath(header.name);
      if (path === undefined) {
        entry.resume();
        continue;
      }
      const target = join(dir, path);
      if (header.type === 'file' || header.type === 'contiguous-file') {
        await mkdir(posix.dirname(target), { recursive: true });
        symlinks.delete(path);
        await rm(target, { recursive: true, force: true });
        await pipeline(entry, createWriteStream(target, { mode: 0o600 }));
        continue;
      }
      entry.resume();
      if (header.type === 'directory') {
        await mkdir(target, { recursive: true });
      } else if (header.type === 'symlink') {
        symlinks.set(path, header.linkname ?? '');
      } else if (header.type === 'link') {
        const source = memberPath(header.linkname ?? '');
        if (source === undefined) continue;
        const linked = symlinks.get(source);
        if (linked !== undefined) {
          symlinks.set(path, linked);
          continue;
        }
        await mkdir(posix.dirname(target), { recursive: true });
        await rm(target, { force: true });
        await link(join(dir, resolveInScope(source, symlinks)), target).catch(() => {
          throw new Error(`invalid archive: ${header.name} links to ${header.linkname}, which it does not hold`);
        });
      }
    }
    await feeding;
  } catch (error) {
    plain.destroy();
    throw error instanceof Error && error.message.startsWith('invalid archive') ? error : new Error(`invalid archive: ${(error as Error).message}`);
  }
  if (members === 0) throw new Error('invalid archive: it holds no files');
  return new UnpackedArchive(dir, symlinks);
}

/** The images an unpacked archive holds: a docker-archive when it has manifest.json, else an OCI layout. */
export async function planArchive(files: ArchiveFiles, platform: Platform): Promise<PlannedImage[]> {
  if (await files.exists(MANIFEST_FILE)) return planDockerArchive(files);
  if (await files.exists(OCI_INDEX_FILE)) return planOciLayout(files, platform);
  throw new Error(`invalid archive: does not contain a ${MANIFEST_FILE}`);
}

// ---- streams --------------------------------------------------------------------------------------

/** Passes bytes through, hashing them; fails at the end unless they have `digest`. */
class VerifyDigest extends Transform {
  private readonly hash = createHash('sha256');
  constructor(private readonly digest: string, private readonly what: string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = `sha256:${this.hash.digest('hex')}`;
    callback(actual === this.digest ? null : new Error(`invalid archive: ${this.what} ${this.digest} does not match its content (${actual})`));
  }
}

/**
 * Writes one tar entry, resolving when tar-stream has taken it all; `failed` rejects when the
 * archive's reader is gone, which ends a wait for it to drain.
 */
async function writeEntry(
  pack: tarStream.Pack, header: TarHeader, source: AsyncIterable<Buffer> | Buffer | undefined, failed: Promise<never>,
): Promise<void> {
  let entry: TarSink | undefined;
  // pack.entry throws once the pack is destroyed (its reader went away): that rejects `done`.
  const done = new Promise<void>((resolve, reject) => {
    const callback = (error?: Error | null) => (error ? reject(error) : resolve());
    entry = source === undefined || Buffer.isBuffer(source) ? pack.entry(header, source ?? Buffer.alloc(0), callback) : pack.entry(header, callback);
  });
  done.catch(() => undefined);
  if (entry === undefined) return done;
  // A sink destroyed with its pack reports it through `failed` and `done`.
  (entry as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  if (source !== undefined && !Buffer.isBuffer(source)) {
    for await (const chunk of source) {
      if (!entry.write(chunk)) await Promise.race([once(entry as unknown as NodeJS.EventEmitter, 'drain'), failed]);
    }
    entry.end(undefined);
  }
  await Promise.race([done, failed]);
}

/** An RFC 3339 time as a tar entry's mtime; the epoch for one that does not parse. */
function timeOf(text: string): Date {
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? new Date(0) : time;
}

/** The streams piped one into the next; the last one, which fails when any of them does. */
function pipeStages(stages: Array<Readable | Transform>): Readable {
  const [first, ...rest] = stages;
  return (streamPipeline as (...streams: unknown[]) => Readable)(first, ...rest, () => undefined);
}


// ---- the service ----------------------------------------------------------------------------------

export interface ImageArchiveOptions {
  images: ArchiveImages;
  layers: LayerStore;
  content: ContentStore;
  blobs: LayerBlobIndex;
  publish: Publish;
  /** Where loads are unpacked: <data-root>/tmp (the same file system as the layers). */
  tmpDir: string;
  platform?: Platform;
}

/** A save whose images and layers are resolved and checked; writing it can no longer fail for want of them. */
export interface PreparedSave {
  items: SaveItem[];
  metadata: ArchiveMetadata;
  /** Diff ID -> the kept blob whose plain bytes are that layer's tar. */
  layerBlobs: Map<string, string>;
}

export class ImageArchive {
  private readonly options: ImageArchiveOptions;
  private readonly platform: Platform;
  /** Kept blob digest -> the diff ID and size of its plain tar (blobs never change). */
  private readonly measured = new Map<string, { diffId: string; size: number }>();

  constructor(options: ImageArchiveOptions) {
    this.options = options;
    this.platform = options.platform ?? { os: 'linux', architecture: hostArchitecture() };
  }

  /** Removes what loads interrupted by a crash left behind. */
  async init(): Promise<void> {
    await mkdir(this.options.tmpDir, { recursive: true });
    for (const name of await readdir(this.options.tmpDir)) {
      if (name.startsWith('load-')) await rm(join(this.options.tmpDir, name), { recursive: true, force: true });
    }
  }

  // ---- save ----

  /**
   * Resolves the names as docker save does (a repository alone means all its tags; an ID or
   * digest saves the image untagged) and checks every layer; throws Docker's errors.
   */
  async prepareSave(names: readonly string[]): Promise<PreparedSave> {
    const items = new Map<string, SaveItem>();
    const add = async (record: ImageRecord, tag: Reference | undefined) => {
      let item = items.get(record.id);
      if (!item) {
        const rawConfig = await this.options.content.readBuffer(record.id);
        item = { id: record.id, rawConfig, config: record.config, tags: [] };
        items.set(record.id, item);
      }
      if (tag && !item.tags.some((known) => familiarString(known) === familiarString(tag))) item.tags.push(tag);
    };
    for (const name of names) {
      for (const [record, tag] of this.resolveSaveName(name)) await add(record, tag);
    }
    const layerBlobs = new Map<string, string>();
    const sizes = new Map<string, number>();
    for (const item of items.values()) {
      if (item.config.rootfs.diff_ids.length === 0) throw new ApiError(500, 'empty export - not implemented');
      for (const diffId of item.config.rootfs.diff_ids) {
        if (layerBlobs.has(diffId)) continue;
        const found = await this.findLayerTar(diffId);
        layerBlobs.set(diffId, found.blob);
        sizes.set(diffId, found.size);
      }
    }
    const list = [...items.values()];
    return { items: list, metadata: buildArchiveMetadata(list, sizes), layerBlobs };
  }

  /** Writes a prepared save as a tar into `out` (entries in the order Docker's directory walk gives). */
  async writeSave(prepared: PreparedSave, out: Writable): Promise<void> {
    const pack = tarStream.pack();
    const piping = pipeline(pack, out);
    const failed = piping.then(() => new Promise<never>(() => undefined));
    failed.catch(() => undefined);
    const { metadata } = prepared;
    const epoch = new Date(0);
    const dirHeader = (name: string): TarHeader => ({ name, type: 'directory', mode: 0o755, mtime: epoch, uid: 0, gid: 0 });
    const fileHeader = (name: string, size: number, mtime: Date): TarHeader => ({ name, type: 'file', mode: 0o644, size, mtime, uid: 0, gid: 0 });
    try {
      await writeEntry(pack, dirHeader('blobs/'), undefined, failed);
      await writeEntry(pack, dirHeader('blobs/sha256/'), undefined, failed);
      const hexes = [...new Set([...metadata.blobs.keys(), ...metadata.layers.keys()])].sort();
      for (const hex of hexes) {
        const name = `blobs/sha256/${hex}`;
        const small = metadata.blobs.get(hex);
        if (small) {
          await writeEntry(pack, fileHeader(name, small.data.length, timeOf(small.mtime)), small.data, failed);
          continue;
        }
        const layer = metadata.layers.get(hex)!;
        const blob = prepared.layerBlobs.get(layer.diffId)!;
        // Owned here: a client that leaves mid-layer must not leave the blob open.
        const blobStream = this.options.content.createReadStream(blob);
        try {
          const plain = await decompressStream(blobStream);
          await writeEntry(pack, fileHeader(name, layer.size, timeOf(layer.mtime)), plain, failed);
        } finally {
          blobStream.destroy();
        }
      }
      const small = (name: string, text: string) => writeEntry(pack, fileHeader(name, Buffer.byteLength(text), epoch), Buffer.from(text), failed);
      await small(OCI_INDEX_FILE, metadata.indexJson);
      await small(MANIFEST_FILE, metadata.manifestJson);
      await small(OCI_LAYOUT_FILE, OCI_LAYOUT_CONTENT);
      if (metadata.repositories !== undefined) await small(REPOSITORIES_FILE, metadata.repositories);
      pack.finalize();
      await piping;
    } catch (error) {
      pack.destroy(error as Error);
      await piping.catch(() => undefined);
      throw error;
    }
    for (const item of prepared.items) {
      this.options.publish('image', 'save', item.id, { ...(item.config.config?.Labels ?? {}), name: item.id });
    }
  }

  private resolveSaveName(name: string): Array<[ImageRecord, Reference | undefined]> {
    const { images } = this.options;
    if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) {
      const record = images.resolve(name);
      if (!record) throw notFound(`No such image: ${name.startsWith('sha256:') ? name : `sha256:${name}`}`);
      return [[record, undefined]];
    }
    let reference: Reference;
    try {
      reference = parseReference(name);
    } catch (error) {
      if (error instanceof ReferenceError) throw badParameter(error.message);
      throw error;
    }
    if (familiarName(reference) === 'sha256' && reference.digest === undefined) {
      const record = images.resolve(name);
      if (!record) throw notFound(`No such image: ${name}`);
      return [[record, undefined]];
    }
    if (reference.tag === undefined && reference.digest === undefined) {
      const repository = `${reference.domain}/${reference.path}`;
      const found: Array<[ImageRecord, Reference | undefined]> = [];
      for (const record of images.list()) {
        for (const repoTag of [...record.repoTags].sort()) {
          const tagged = parseReference(repoTag);
          if (`${tagged.domain}/${tagged.path}` === repository && tagged.tag !== undefined) found.push([record, tagged]);
        }
      }
      if (found.length > 0) return found;
      const record = images.resolve(name);
      if (!record) throw notFound(`No such image: ${name}`);
      return [[record, undefined]];
    }
    const record = images.resolve(name);
    if (!record) throw notFound('reference does not exist');
    return [[record, reference.digest === undefined ? reference : undefined]];
  }

  /** The kept blob whose plain bytes hash to `diffId`, and their size; measured once per blob. */
  private async findLayerTar(diffId: string): Promise<{ blob: string; size: number }> {
    for (const kept of await this.options.blobs.lookup(diffId)) {
      let measured = this.measured.get(kept.digest);
      if (!measured) {
        const hash = createHash('sha256');
        let size = 0;
        try {
          for await (const chunk of await decompressStream(this.options.content.createReadStream(kept.digest))) {
            hash.update(chunk);
            size += chunk.length;
          }
        } catch {
          continue;
        }
        measured = { diffId: `sha256:${hash.digest('hex')}`, size };
        this.measured.set(kept.digest, measured);
      }
      if (measured.diffId === diffId) return { blob: kept.digest, size: measured.size };
    }
    throw new ApiError(500, `cannot save layer ${diffId}: berth keeps no tar for it (it was stored before berth kept layer blobs)`);
  }

  // ---- load ----

  /**
   * docker load: reads the whole archive, then loads every image in it or nothing. Messages
   * (progress unless quiet, "Loaded image: ...") go to `write`; failures are thrown.
   */
  async load(input: Readable, options: { quiet: boolean }, write: (message: ArchiveMessage) => void): Promise<void> {
    const work = join(this.options.tmpDir, `load-${randomBytes(8).toString('hex')}`);
    try {
      const files = await unpackArchive(input, work);
      const plan = await planArchive(files, this.platform);
      await this.applyLayers(plan, files, options.quiet, write);
      await this.createImages(plan, write);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private async applyLayers(plan: readonly PlannedImage[], files: ArchiveFiles, quiet: boolean, write: (message: ArchiveMessage) => void): Promise<void> {
    const { layers, blobs } = this.options;
    const existing = new Set(layers.list().map((layer) => layer.chainId));
    const created: string[] = [];
    try {
      for (const image of plan) {
        const diffIds = image.config.rootfs.diff_ids;
        const chain = chainIdsOf(diffIds);
        let parent: string | null = null;
        for (const [index, layer] of image.layers.entries()) {
          const chainId = chain[index]!;
          if (!layers.get(chainId)) {
            if (!(await files.exists(layer.path))) throw new Error(`invalid archive: layer ${layer.path} not found`);
            const stages: Array<Readable | Transform> = [files.open(layer.path)];
            if (layer.blobDigest) stages.push(new VerifyDigest(layer.blobDigest, 'layer'));
            if (!quiet) stages.push(new ByteProgress(write, shortDigest(diffIds[index]!), 'Loading layer', await files.size(layer.path)).meter());
            // Errors of any stage reach the last one, which the layer store reads.
            const source = stages.length === 1 ? stages[0]! as Readable : pipeStages(stages);
            const capture = blobs.capture(source);
            let applied;
            try {
              applied = await layers.apply(parent, capture.stream);
            } catch (error) {
              await capture.abort();
              throw error;
            }
            if (applied.chainId !== chainId) {
              if (!existing.has(applied.chainId) && !created.includes(applied.chainId)) created.push(applied.chainId);
              await capture.abort();
              throw new Error(`invalid diffID for layer ${index}: expected "${diffIds[index]}", got "${applied.diffId}"`);
            }
            created.push(chainId);
            await capture.commit(applied.diffId);
          }
          parent = chainId;
        }
      }
    } catch (error) {
      for (const chainId of created.reverse()) await layers.remove(chainId).catch(() => undefined);
      await blobs.prune(() => new Set(layers.list().map((layer) => layer.diffId))).catch(() => undefined);
      throw error;
    }
  }

  private async createImages(plan: readonly PlannedImage[], write: (message: ArchiveMessage) => void): Promise<void> {
    const { images, publish } = this.options;
    const idLines: string[] = [];
    let namedInLast = 0;
    for (const image of plan) {
      const record = await images.createFromConfig(image.config, image.rawConfig);
      idLines.push(`Loaded image ID: ${record.id}\n`);
      namedInLast = 0;
      for (const tag of image.tags) {
        const shown = familiarString(tag);
        const previous = images.resolve(shown)?.id;
        if (previous !== undefined && previous !== record.id) {
          write({ stream: `The image ${shown} already exists, renaming the old one with ID ${previous} to empty string\n` });
        }
        await images.tag(record.id, familiarName(tag), tag.tag);
        write({ stream: `Loaded image: ${shown}\n` });
        namedInLast++;
      }
      publish('image', 'load', record.id, { ...(image.config.config?.Labels ?? {}), name: record.id });
    }
    // Docker lists the IDs only when the last image had no name.
    if (namedInLast === 0) for (const line of idLines) write({ stream: line });
  }
}
