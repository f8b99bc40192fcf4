// The image store: image records (images/<hex>.json), their tags and digests
// (images/repositories.json, in Docker's format), configs in the content store and layers in
// the layer store. Implements ImageService: import, resolve, tag, rmi (with Docker's conflict
// rules and messages), and the inspect / list / history shapes of the Engine API.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { badParameter, conflict, isEngineError, notFound, type EngineError } from '../errdefs/errors.js';
import { ZERO_TIME, type ContainerConfig, type ImageConfigFile, type ImageHistoryItem, type ImageInspect, type ImageSummary } from '../wire/types.js';
import type { ContentStore } from '../content/store.js';
import type { Publish } from '../events/bus.js';
import { chainIdsOf, type LayerInfo, type LayerStore } from '../layers/store.js';
import { syncDirectory, writeJsonAtomic } from '../util/atomic.js';
import { applyChanges } from './changes.js';
import {
  familiarName, familiarString, isIdPrefix, looksLikeIdPrefix, normalizeTagged, parseReference, type Reference,
  ReferenceError, validateTag,
} from './reference.js';
import type { ContainersUsingImage, DeleteResult, ImageRecord, ImageService, ImportOptions } from './service.js';
import { hostArchitecture } from '../util/host-arch.js';

export interface ImageStoreOptions {
  dataRoot: string;
  content: ContentStore;
  layers: LayerStore;
  publish: Publish;
  containersUsing: ContainersUsingImage;
  /** Keeps a compressed copy of each imported layer's tar (for push); optional. */
  layerBlobs?: LayerBlobCapturer;
}

/** Tees a layer tarball while it is unpacked; commit once the layer is stored, abort otherwise. */
export interface LayerBlobCapturer {
  capture(source: Readable): { stream: Readable; commit(diffId: string): Promise<void>; abort(): Promise<void> };
  /** Drops the kept blobs of layers that are gone; called whenever layers are removed. */
  prune(liveDiffIds: () => Set<string>): Promise<void>;
}

/** What images/<hex>.json holds; the config itself is the content blob named by the ID. */
interface StoredRecord { id: string; lastTagTime: string }

interface LoadedImage {
  id: string;
  config: ImageConfigFile;
  /** chain[i] is the chain ID of layers 0..i. */
  chain: string[];
  lastTagTime: string;
}

const NEVER_TAGGED = ZERO_TIME;
const FULL_ID = /^[a-f0-9]{64}$/;
const FULL_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** A container config with every field Docker always writes (Go's non-omitempty fields). */
export function emptyContainerConfig(): ContainerConfig {
  return {
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
    Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null,
    WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
  };
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function isDigestRef(familiar: string): boolean {
  return familiar.includes('@');
}

/** The repository part of a familiar ref string ("busybox" of "busybox:latest" / "busybox@sha256:..."). */
function refRepository(familiar: string): string {
  const at = familiar.indexOf('@');
  const withoutDigest = at >= 0 ? familiar.slice(0, at) : familiar;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
}

function referenceError(error: unknown): EngineError {
  if (isEngineError(error)) return error;
  return badParameter(error instanceof Error ? error.message : String(error));
}

interface DeleteConflict { message: string; hard: boolean; used: boolean }

export class ImageStore implements ImageService {
  private readonly images = new Map<string, LoadedImage>();
  /** Familiar ref ("busybox:latest", "me/app@sha256:...") -> image ID. */
  private readonly refs = new Map<string, string>();
  private readonly imagesDir: string;
  private readonly repositoriesPath: string;
  private readonly content: ContentStore;
  private readonly layers: LayerStore;
  private readonly publish: Publish;
  private readonly containersUsing: ContainersUsingImage;
  private readonly layerBlobs: LayerBlobCapturer | undefined;
  private mutations: Promise<unknown> = Promise.resolve();

  constructor(options: ImageStoreOptions) {
    this.imagesDir = join(options.dataRoot, 'images');
    this.repositoriesPath = join(this.imagesDir, 'repositories.json');
    this.content = options.content;
    this.layers = options.layers;
    this.publish = options.publish;
    this.containersUsing = options.containersUsing;
    this.layerBlobs = options.layerBlobs;
  }

  get layersRoot(): string {
    return this.layers.root;
  }

  async init(): Promise<void> {
    await mkdir(this.imagesDir, { recursive: true });
    this.images.clear();
    this.refs.clear();
    for (const name of await readdir(this.imagesDir)) {
      const match = /^([a-f0-9]{64})\.json$/.exec(name);
      if (!match) {
        // Temp files of writes interrupted by a crash.
        if (name.startsWith('.') && name.endsWith('.tmp')) await rm(join(this.imagesDir, name), { force: true });
        continue;
      }
      const id = `sha256:${match[1]}`;
      const stored = JSON.parse(await readFile(join(this.imagesDir, name), 'utf8')) as StoredRecord;
      if (!(await this.content.has(id))) {
        await rm(join(this.imagesDir, name), { force: true });
        continue;
      }
      const config = JSON.parse((await this.content.readBuffer(id)).toString('utf8')) as ImageConfigFile;
      // An image whose layers are not all here could not run: it is not listed (records are written after their layers).
      const chain = chainIdsOf(config.rootfs?.diff_ids ?? []);
      if (chain.some((chainId) => !this.layers.get(chainId))) {
        process.stderr.write(`berthd: image ${id} misses layers; removing its record\n`);
        await rm(join(this.imagesDir, name), { force: true });
        continue;
      }
      this.images.set(id, { id, config, chain: chainIdsOf(config.rootfs?.diff_ids ?? []), lastTagTime: stored.lastTagTime || NEVER_TAGGED });
    }
    let repositories: { Repositories?: Record<string, Record<string, string>> } = {};
    try {
      repositories = JSON.parse(await readFile(this.repositoriesPath, 'utf8')) as typeof repositories;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    for (const byRef of Object.values(repositories.Repositories ?? {})) {
      for (const [ref, id] of Object.entries(byRef)) if (this.images.has(id)) this.refs.set(ref, id);
    }
  }

  resolve(ref: string): ImageRecord | undefined {
    const image = this.find(ref);
    return image && this.toRecord(image);
  }

  /** Like resolve, but throws Docker's errors: 400 for an invalid reference, 404 "No such image: x:latest". */
  get(ref: string): ImageRecord {
    const image = this.find(ref);
    if (image) return this.toRecord(image);
    throw this.notFoundError(ref);
  }

  list(): ImageRecord[] {
    return [...this.images.values()].map((image) => this.toRecord(image));
  }

  async importRootfs(tar: Readable, options: ImportOptions): Promise<ImageRecord> {
    let reference: Reference | undefined;
    let config: ContainerConfig;
    try {
      reference = options.repo ? repoTagReference(options.repo, options.tag) : undefined;
      config = applyChanges(emptyContainerConfig(), options.changes ?? []);
    } catch (error) {
      tar.destroy();
      throw referenceError(error);
    }
    const capture = this.layerBlobs?.capture(tar);
    const layersBefore = new Set(this.layers.list().map((known) => known.chainId));
    let layer: LayerInfo | undefined;
    // Until the image exists nothing else refers to its layer: a concurrent prune would take it.
    const lease = this.layers.leases.acquire();
    try {
      layer = await this.layers.apply(null, capture?.stream ?? tar, lease);
      await capture?.commit(layer.diffId);
    } catch (error) {
      lease.release();
      await capture?.abort();
      // The layer may be in place while its kept blob did not fit (a full disk): an import
      // stores all of itself or nothing.
      if (layer && !layersBefore.has(layer.chainId)) await this.dropUnusedLayer(layer.chainId);
      throw error;
    }
    const newLayer = layersBefore.has(layer.chainId) ? undefined : layer.chainId;
    const created = new Date().toISOString();
    const comment = options.message || `Imported from ${options.source || '-'}`;
    const imageConfig: ImageConfigFile = {
      architecture: options.platform?.architecture ?? hostArchitecture(),
      comment,
      config,
      created,
      history: [{ created, comment }],
      os: options.platform?.os ?? 'linux',
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    };
    return this.serialize(async () => {
      const imagesBefore = new Set(this.images.keys());
      let image: LoadedImage | undefined;
      try {
        image = await this.store(imageConfig);
        if (reference) await this.addTag(image, reference);
      } catch (error) {
        if (image && !imagesBefore.has(image.id)) await this.forgetImage(image);
        else if (!image) {
          // The config blob may be stored while its record did not fit.
          const configId = `sha256:${createHash('sha256').update(JSON.stringify(imageConfig)).digest('hex')}`;
          if (!this.images.has(configId)) await this.content.delete(configId).catch(() => undefined);
        }
        if (newLayer) await this.dropUnusedLayer(newLayer);
        throw error;
      }
      this.emit('import', image, image.id);
      return this.toRecord(image);
    }).finally(() => lease.release());
  }

  /** Undoes the record of an image that was never announced (its import failed half-way). */
  private async forgetImage(image: LoadedImage): Promise<void> {
    await rm(join(this.imagesDir, `${image.id.slice('sha256:'.length)}.json`), { force: true }).catch(() => undefined);
    this.images.delete(image.id);
    for (const [name, id] of this.refs) if (id === image.id) this.refs.delete(name);
    await this.content.delete(image.id).catch(() => undefined);
  }

  /** Removes a layer this store just added, unless some image or layer has come to use it meanwhile. */
  private async dropUnusedLayer(chainId: string): Promise<void> {
    if (!this.layers.get(chainId) || this.layerInUse(chainId)) return;
    await this.layers.remove(chainId).catch(() => undefined);
    await this.forgetRemovedLayerBlobs().catch(() => undefined);
  }

  /** With `raw`, the config blob is stored byte for byte (a pulled image keeps its ID, the digest of those bytes). */
  async createFromConfig(config: ImageConfigFile, raw?: Buffer): Promise<ImageRecord> {
    const chain = chainIdsOf(config.rootfs.diff_ids);
    const top = chain[chain.length - 1];
    if (top !== undefined && !this.layers.get(top)) throw new Error(`layer ${top} does not exist`);
    return this.serialize(async () => this.toRecord(await this.store(config, raw)));
  }

  async tag(source: string, repo: string, tag?: string): Promise<void> {
    let reference: Reference;
    try {
      reference = repoTagReference(repo, tag);
    } catch (error) {
      throw referenceError(error);
    }
    if (familiarName(reference) === 'sha256') {
      throw badParameter('refusing to create an ambiguous tag using digest algorithm as name');
    }
    const image = this.find(source);
    if (!image) throw notFound(this.notFoundError(source).message);
    await this.serialize(() => this.addTag(image, reference));
  }

  /** Records "repo@digest" for an image (after a pull or push by digest). */
  async addRepoDigest(imageId: string, repository: string, digest: string): Promise<void> {
    const image = this.images.get(imageId);
    if (!image) throw notFound(`No such image: ${imageId}`);
    let reference: Reference;
    try {
      reference = parseReference(`${repository}@${digest}`);
    } catch (error) {
      throw referenceError(error);
    }
    await this.serialize(async () => {
      this.refs.set(familiarString({ domain: reference.domain, path: reference.path, digest: reference.digest }), image.id);
      await this.saveRepositories();
    });
  }

  remove(ref: string, options: { force: boolean; noPrune: boolean }): Promise<DeleteResult[]> {
    return this.serialize(() => this.removeNow(ref, options));
  }

  inspect(record: ImageRecord): ImageInspect {
    const { config } = record;
    const size = this.imageSize(record.id);
    const inspect: ImageInspect = {
      Id: record.id,
      RepoTags: record.repoTags,
      RepoDigests: record.repoDigests,
      Parent: '',
      Comment: config.comment ?? '',
      Created: config.created ?? '',
      Container: config.container ?? '',
      ContainerConfig: config.container_config ?? emptyContainerConfig(),
      DockerVersion: config.docker_version ?? '',
      Author: config.author ?? '',
      Config: config.config ?? emptyContainerConfig(),
      Architecture: config.architecture,
      Os: config.os,
      Size: size,
      VirtualSize: size,
      GraphDriver: { Name: 'overlay2', Data: this.graphDriverData(record) },
      RootFS: { Type: 'layers', Layers: [...config.rootfs.diff_ids] },
      Metadata: { LastTagTime: record.lastTagTime },
    };
    if (config.variant) inspect.Variant = config.variant;
    return inspect;
  }

  summary(record: ImageRecord, containersUsing: number): ImageSummary {
    const size = this.imageSize(record.id);
    return {
      Id: record.id,
      ParentId: '',
      RepoTags: record.repoTags,
      RepoDigests: record.repoDigests,
      Created: record.config.created ? Math.floor(Date.parse(record.config.created) / 1000) : 0,
      Size: size,
      SharedSize: -1,
      VirtualSize: size,
      Labels: record.config.config?.Labels ?? {},
      Containers: containersUsing,
    };
  }

  history(record: ImageRecord): ImageHistoryItem[] {
    const image = this.images.get(record.id);
    const chain = image?.chain ?? chainIdsOf(record.config.rootfs.diff_ids);
    const rows: ImageHistoryItem[] = [];
    let layerIndex = 0;
    for (const entry of record.config.history ?? []) {
      let size = 0;
      if (!entry.empty_layer) {
        const chainId = chain[layerIndex++];
        size = (chainId && this.layers.get(chainId)?.size) || 0;
      }
      rows.unshift({
        Id: '<missing>',
        Created: entry.created ? Math.floor(Date.parse(entry.created) / 1000) : 0,
        CreatedBy: entry.created_by ?? '',
        Tags: null,
        Size: size,
        Comment: entry.comment ?? '',
      });
    }
    if (rows[0]) {
      rows[0].Id = record.id;
      rows[0].Tags = record.repoTags.length > 0 ? [...record.repoTags] : null;
    }
    return rows;
  }

  async lowerDirs(topChainId: string | null): Promise<string[]> {
    return topChainId ? this.layers.lowerDirs(topChainId) : [];
  }

  /**
   * Removes layers that no image uses and that are not in `inUse` (chain IDs still needed, e.g.
   * by containers of force-deleted images). Returns the removed chain IDs.
   */
  pruneLayers(inUse: Iterable<string> = []): Promise<string[]> {
    return this.serialize(async () => {
      const keep = new Set<string>();
      const keepChainOf = (top: string | null) => {
        for (let current = top; current; current = this.layers.get(current)?.parent ?? null) keep.add(current);
      };
      for (const image of this.images.values()) keepChainOf(image.chain[image.chain.length - 1] ?? null);
      for (const chainId of inUse) keepChainOf(chainId);
      const removed: string[] = [];
      // Children before parents: repeat until nothing more can go.
      for (let progress = true; progress;) {
        progress = false;
        for (const layer of this.layers.list()) {
          if (keep.has(layer.chainId) || this.layers.leases.isLeased(layer.chainId)) continue;
          if (this.layers.list().some((other) => other.parent === layer.chainId)) continue;
          await this.layers.remove(layer.chainId);
          removed.push(layer.chainId);
          progress = true;
        }
      }
      if (removed.length > 0) await this.forgetRemovedLayerBlobs();
      return removed;
    });
  }

  // --- internals ---

  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.mutations.then(operation, operation);
    this.mutations = result.catch(() => undefined);
    return result;
  }

  private find(ref: string): LoadedImage | undefined {
    if (FULL_ID.test(ref)) return this.images.get(`sha256:${ref}`);
    if (FULL_DIGEST.test(ref)) return this.images.get(ref);
    let reference: Reference | undefined;
    try {
      reference = parseReference(ref);
    } catch {
      reference = undefined;
    }
    if (reference) {
      const key = reference.digest
        ? familiarString({ domain: reference.domain, path: reference.path, digest: reference.digest })
        : familiarString(normalizeTagged(reference));
      const id = this.refs.get(key);
      if (id) return this.images.get(id);
    }
    if (!looksLikeIdPrefix(ref)) return undefined;
    const hexPrefix = ref.replace(/^sha256:/, '');
    if (hexPrefix === '') return undefined;
    let found: LoadedImage | undefined;
    for (const image of this.images.values()) {
      if (!image.id.slice('sha256:'.length).startsWith(hexPrefix)) continue;
      // An ambiguous prefix matches nothing, as in Docker.
      if (found) return undefined;
      found = image;
    }
    return found;
  }

  /** Docker's error for a reference that names no image (ErrImageDoesNotExist) or is invalid. */
  private notFoundError(ref: string): EngineError {
    if (FULL_ID.test(ref)) return notFound(`No such image: sha256:${ref}`);
    if (FULL_DIGEST.test(ref)) return notFound(`No such image: ${ref}`);
    try {
      return notFound(`No such image: ${familiarString(normalizeTagged(parseReference(ref)))}`);
    } catch (error) {
      return referenceError(error);
    }
  }

  private refsOf(id: string): string[] {
    const refs: string[] = [];
    for (const [ref, target] of this.refs) if (target === id) refs.push(ref);
    return refs.sort();
  }

  private toRecord(image: LoadedImage): ImageRecord {
    const refs = this.refsOf(image.id);
    return {
      id: image.id,
      config: image.config,
      topChainId: image.chain[image.chain.length - 1] ?? null,
      repoTags: refs.filter((ref) => !isDigestRef(ref)),
      repoDigests: refs.filter(isDigestRef),
      lastTagTime: image.lastTagTime,
    };
  }

  private imageSize(id: string): number {
    const image = this.images.get(id);
    if (!image) return 0;
    return image.chain.reduce((total, chainId) => total + (this.layers.get(chainId)?.size ?? 0), 0);
  }

  private graphDriverData(record: ImageRecord): Record<string, string> | null {
    const image = this.images.get(record.id);
    if (!image || image.chain.length === 0) return null;
    const diffs = image.chain.map((chainId) => this.layers.diffPath(chainId)).reverse();
    const data: Record<string, string> = {};
    if (diffs.length > 1) data.LowerDir = diffs.slice(1).join(':');
    data.UpperDir = diffs[0]!;
    return data;
  }

  /** Writes the config blob and the record (unless this exact image exists already). */
  private async store(config: ImageConfigFile, raw?: Buffer): Promise<LoadedImage> {
    const { digest: id } = await this.content.ingest(raw ?? Buffer.from(JSON.stringify(config)));
    const existing = this.images.get(id);
    if (existing) return existing;
    const image: LoadedImage = { id, config, chain: chainIdsOf(config.rootfs.diff_ids), lastTagTime: NEVER_TAGGED };
    await this.saveRecord(image);
    this.images.set(id, image);
    return image;
  }

  private async saveRecord(image: LoadedImage): Promise<void> {
    const stored: StoredRecord = { id: image.id, lastTagTime: image.lastTagTime };
    await writeJsonAtomic(join(this.imagesDir, `${image.id.slice('sha256:'.length)}.json`), stored);
  }

  private async saveRepositories(): Promise<void> {
    const repositories: Record<string, Record<string, string>> = {};
    for (const [ref, id] of [...this.refs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      (repositories[refRepository(ref)] ??= {})[ref] = id;
    }
    await writeJsonAtomic(this.repositoriesPath, { Repositories: repositories });
  }

  private async addTag(image: LoadedImage, reference: Reference): Promise<void> {
    const name = familiarString(normalizeTagged(reference));
    const previous = this.refs.get(name);
    this.refs.set(name, image.id);
    try {
      await this.saveRepositories();
    } catch (error) {
      // Memory keeps what the disk holds (a full disk refuses the new tag).
      if (previous === undefined) this.refs.delete(name);
      else this.refs.set(name, previous);
      throw error;
    }
    image.lastTagTime = new Date().toISOString();
    await this.saveRecord(image);
    this.emit('tag', image, name);
  }

  private emit(action: string, image: LoadedImage, name: string): void {
    this.publish('image', action, image.id, { ...(image.config.config?.Labels ?? {}), name });
  }

  private async removeNow(ref: string, options: { force: boolean; noPrune: boolean }): Promise<DeleteResult[]> {
    const { force } = options;
    const image = this.find(ref);
    if (!image) throw this.notFoundError(ref);
    const records: DeleteResult[] = [];
    let repoRefs = this.refsOf(image.id);
    let removedRepositoryRef = false;

    if (!isIdPrefix(image.id, ref)) {
      // A name was given: remove that name first. Removing the last name of an image that a
      // container uses would leave it dangling, so that needs force.
      if (!force && isSingleReference(repoRefs)) {
        const user = this.containersUsing(image.id)[0];
        if (user) {
          throw conflict(`conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(user.id)} is using its referenced image ${shortId(image.id)}`);
        }
      }
      let reference: Reference;
      try {
        reference = parseReference(ref);
      } catch (error) {
        throw referenceError(error);
      }
      const removedName = reference.digest
        ? familiarString({ domain: reference.domain, path: reference.path, digest: reference.digest })
        : familiarString(normalizeTagged(reference));
      this.refs.delete(removedName);
      await this.saveRepositories();
      this.emit('untag', image, image.id);
      records.push({ Untagged: removedName });
      repoRefs = this.refsOf(image.id);

      if (!reference.digest) {
        // With the last tag of a repository gone, its digest references go too.
        const repository = refRepository(removedName);
        const tagLeft = repoRefs.some((other) => !isDigestRef(other) && refRepository(other) === repository);
        if (!tagLeft) {
          for (const other of repoRefs) {
            if (!isDigestRef(other) || refRepository(other) !== repository) continue;
            this.refs.delete(other);
            records.push({ Untagged: other });
          }
          await this.saveRepositories();
          repoRefs = this.refsOf(image.id);
        }
      }
      if (repoRefs.length > 0) return records;
      removedRepositoryRef = true;
    } else if (isSingleReference(repoRefs)) {
      // An ID was given and the image has one name at most: that name goes with it.
      const found = this.deleteConflict(image, { hard: true, stopped: !force, references: false });
      if (found) throw conflict(conflictMessage(image.id, found));
      for (const name of repoRefs) {
        this.refs.delete(name);
        this.emit('untag', image, image.id);
        records.push({ Untagged: name });
      }
      await this.saveRepositories();
    }

    await this.deleteImage(image, records, force, removedRepositoryRef);
    return records;
  }

  private async deleteImage(image: LoadedImage, records: DeleteResult[], force: boolean, quiet: boolean): Promise<void> {
    const found = this.deleteConflict(image, { hard: true, stopped: !force, references: !force });
    if (found) {
      const dangling = this.refsOf(image.id).length === 0;
      // After untagging, a conflict only means the image stays (untagged); Docker reports it
      // only when the image is now dangling and unused.
      if (quiet && (!dangling || found.used)) return;
      throw conflict(conflictMessage(image.id, found));
    }
    const names = this.refsOf(image.id);
    for (const name of names) {
      this.refs.delete(name);
      this.emit('untag', image, image.id);
      records.push({ Untagged: name });
    }
    if (names.length > 0) await this.saveRepositories();

    const hex = image.id.slice('sha256:'.length);
    await rm(join(this.imagesDir, `${hex}.json`), { force: true });
    await syncDirectory(this.imagesDir);
    this.images.delete(image.id);
    const stillUsed = this.containersUsing(image.id).length > 0;
    await this.content.delete(image.id);
    this.emit('delete', image, image.id);
    records.push({ Deleted: image.id });
    // Layers of a (force-)deleted image that a container still uses stay for that container.
    if (stillUsed) return;
    for (const chainId of [...image.chain].reverse()) {
      if (this.layerInUse(chainId)) break;
      if (!this.layers.get(chainId)) continue;
      await this.layers.remove(chainId);
      records.push({ Deleted: chainId });
    }
    await this.forgetRemovedLayerBlobs();
  }

  private async forgetRemovedLayerBlobs(): Promise<void> {
    await this.layerBlobs?.prune(() => new Set(this.layers.list().map((layer) => layer.diffId)));
  }

  private layerInUse(chainId: string): boolean {
    if (this.layers.leases.isLeased(chainId)) return true;
    for (const other of this.images.values()) if (other.chain.includes(chainId)) return true;
    return this.layers.list().some((layer) => layer.parent === chainId);
  }

  private deleteConflict(image: LoadedImage, check: { hard: boolean; stopped: boolean; references: boolean }): DeleteConflict | undefined {
    const users = this.containersUsing(image.id);
    if (check.hard) {
      const running = users.find((user) => user.running);
      if (running) return { hard: true, used: true, message: `image is being used by running container ${shortId(running.id)}` };
    }
    if (check.references && this.refsOf(image.id).length > 0) {
      return { hard: false, used: false, message: 'image is referenced in multiple repositories' };
    }
    if (check.stopped) {
      const stopped = users.find((user) => !user.running);
      if (stopped) return { hard: false, used: true, message: `image is being used by stopped container ${shortId(stopped.id)}` };
    }
    return undefined;
  }
}

function conflictMessage(id: string, found: DeleteConflict): string {
  return `conflict: unable to delete ${shortId(id)} (${found.hard ? 'cannot be forced' : 'must be forced'}) - ${found.message}`;
}

/** True when all references are in one repository with at most one tag (Docker's isSingleReference). */
function isSingleReference(refs: string[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: string | undefined;
  const digestRepositories = new Set<string>();
  for (const ref of refs) {
    if (isDigestRef(ref)) digestRepositories.add(refRepository(ref));
    else if (single === undefined) single = ref;
    else return false;
  }
  single ??= refs[0]!;
  return digestRepositories.size === 1 && digestRepositories.has(refRepository(single));
}

/** Parses repo + optional tag for tag/import/commit (Docker's httputils.RepoTagReference). */
export function repoTagReference(repo: string, tag?: string): Reference {
  if (repo === '') throw new ReferenceError('invalid reference format');
  const reference = parseReference(repo);
  if (reference.digest) throw new ReferenceError('cannot import digest reference');
  if (tag) {
    validateTag(tag);
    return { ...reference, tag };
  }
  return normalizeTagged(reference);
}
