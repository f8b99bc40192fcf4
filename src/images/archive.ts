// Image archives: the tar that `docker save` writes and `docker load` reads.
//
// Save writes the layout of Docker 25 and later: manifest.json ([{Config, RepoTags, Layers,
// LayerSources}]), repositories, and an OCI image layout (oci-layout, index.json,
// blobs/sha256/<hex>) holding the image configs, one OCI manifest per image, the legacy v1
// JSON of each layer and each layer as the uncompressed tar whose digest is its diff ID.
// berth keeps no tar-split data, so a layer's tar is the plain form of the compressed blob
// kept for push (images/layer-blobs.ts): exactly the bytes its diff ID was computed
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
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline as streamPipeline, Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { badParameter, notFound, serverError } from '../errdefs/errors.js';
import type { ImageConfigFile } from '../wire/types.js';
import { shortDigest, type ContentStore } from '../content/store.js';
import type { LayerBlobIndex } from './layer-blobs.js';
import { ByteProgress, type ProgressMessage } from '../wire/progress.js';
import type { Platform } from './manifest.js';
import type { Publish } from '../events/bus.js';
import { decompressStream } from '../layers/decompress.js';
import { chainIdsOf, type LayerStore } from '../layers/store.js';
import type { Lease } from '../layers/leases.js';
import { familiarName, familiarString, parseReference, type Reference, ReferenceError } from './reference.js';
import type { ImageRecord, ImageService } from './service.js';
import { hostArchitecture } from '../util/host-arch.js';
import {
  buildArchiveMetadata, MANIFEST_FILE, OCI_INDEX_FILE, OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, REPOSITORIES_FILE, type ArchiveMetadata, type SaveItem,
} from './archive-format.js';
import { planArchive, unpackArchive, type ArchiveFiles, type PlannedImage } from './archive-reader.js';
import type { TarHeader } from '../archive/tar.js';

type TarSink = ReturnType<tarStream.Pack['entry']>;


/** A message of the load stream: "Loading layer" progress, or a line of output. */
export type ArchiveMessage = ProgressMessage | { stream: string };

/** What load and save need from the image store (createFromConfig with the config's exact bytes). */
export type ArchiveImages = Pick<ImageService, 'resolve' | 'list' | 'get' | 'tag'> & {
  createFromConfig(config: ImageConfigFile, raw?: Buffer): Promise<ImageRecord>;
};

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
      if (item.config.rootfs.diff_ids.length === 0) throw serverError('empty export - not implemented');
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
        const blobStream = this.options.content.createReadStream(kept.digest);
        try {
          for await (const chunk of await decompressStream(blobStream)) {
            hash.update(chunk);
            size += chunk.length;
          }
        } catch {
          continue;
        } finally {
          blobStream.destroy();
        }
        measured = { diffId: `sha256:${hash.digest('hex')}`, size };
        this.measured.set(kept.digest, measured);
      }
      if (measured.diffId === diffId) return { blob: kept.digest, size: measured.size };
    }
    throw serverError(`cannot save layer ${diffId}: berth keeps no tar for it (it was stored before berth kept layer blobs)`);
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
      const { lease, added } = await this.applyLayers(plan, files, options.quiet, write);
      try {
        await this.createImages(plan, write);
      } catch (error) {
        // A full disk may refuse a record after the layers are in: those no image uses go.
        lease.release();
        await this.removeLayers(added, this.layersInUse());
        throw error;
      } finally {
        lease.release();
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** The layers some image is made of. */
  private layersInUse(): Set<string> {
    return new Set(this.options.images.list().flatMap((image) => chainIdsOf(image.config.rootfs.diff_ids)));
  }

  /** Removes the layers (newest first) that `keep` does not hold, and the kept blobs of those gone. */
  private async removeLayers(chainIds: readonly string[], keep: ReadonlySet<string>): Promise<void> {
    const { layers, blobs } = this.options;
    for (const chainId of [...chainIds].reverse()) if (!keep.has(chainId)) await layers.remove(chainId).catch(() => undefined);
    await blobs.prune(() => new Set(layers.list().map((layer) => layer.diffId))).catch(() => undefined);
  }

  /**
   * Makes the plan's layers present, leased until the caller has made their images; says which
   * chain IDs it added (oldest first).
   */
  private async applyLayers(plan: readonly PlannedImage[], files: ArchiveFiles, quiet: boolean, write: (message: ArchiveMessage) => void): Promise<{ lease: Lease; added: string[] }> {
    const { layers, blobs } = this.options;
    // Before looking at which layers exist: a concurrent rmi or prune must not take one we skip.
    const lease = layers.leases.acquire(plan.flatMap((image) => chainIdsOf(image.config.rootfs.diff_ids)));
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
      lease.release();
      // A layer another image has started using since we made it stays (a pull found it "Already exists").
      await this.removeLayers(created, this.layersInUse());
      throw error;
    }
    return { lease, added: created };
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
