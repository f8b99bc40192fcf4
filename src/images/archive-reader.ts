// Reading an archive for `docker load`: unpacking it (symlinks kept apart and followed within
// it) and planning the images it holds, from a docker-archive's manifest.json or an OCI
// layout's index.json. src/images/archive.ts applies the plan.
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import type { ImageConfigFile } from '../wire/types.js';
import { digestHex, sha256Digest } from '../content/store.js';
import { MEDIA_TYPES, parseManifest, selectPlatform, type Platform } from './manifest.js';
import { decompressStream } from '../layers/decompress.js';
import { familiarString, parseReference, type Reference, ReferenceError } from './reference.js';
import { MANIFEST_FILE, OCI_INDEX_FILE, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME } from './archive-format.js';

const DIGEST = /^sha256:([a-f0-9]{64})$/;

const MAX_LINK_HOPS = 255;

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
    // A full disk is no fault of the archive.
    if (isOutOfSpace(error)) throw error;
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

function isOutOfSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
