// Compressed layer blobs kept for push: a layer's unpacked directory cannot give back the
// exact tar its diff ID was computed from (berth keeps no tar-split data), so the compressed
// blob of every layer is kept in the content store: the one downloaded by a pull as it came,
// and a gzip of the tar an import unpacked. The index (distribution/layer-blobs.json) maps a
// diff ID to those blobs; push uploads them as they are, so a pulled image pushes with the
// digests it was pulled with. Each blob also lists the repositories known to hold it, so
// that a push to another repository of the same registry can mount it instead of uploading.
//
// Lifecycle of an entry: recorded once its layer is in the layer store; dropped (with its
// blob) by prune() once no layer has that diff ID any more (after rmi).
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { ContentStore } from '../content/store.js';
import { decompressStream } from '../layers/decompress.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { MEDIA_TYPES } from './manifest.js';

export interface KeptBlob {
  digest: string;
  size: number;
  mediaType: string;
  /** Repositories ("host/path") known to hold the blob, newest first: where a push can mount it from. */
  repositories?: string[];
}

const MAX_KNOWN_REPOSITORIES = 16;

function mergeRepositories(newer: readonly string[] | undefined, older: readonly string[] | undefined): string[] | undefined {
  const merged = [...new Set([...(newer ?? []), ...(older ?? [])])].slice(0, MAX_KNOWN_REPOSITORIES);
  return merged.length > 0 ? merged : undefined;
}

/** What the image store calls while it unpacks an imported tar (see ImageStoreOptions.layerBlobs). */
export interface LayerCapture {
  /** The stream to unpack: the same bytes as the source. */
  stream: Readable;
  /** The layer is stored: keep its blob under its diff ID. */
  commit(diffId: string): Promise<void>;
  /** The layer was not stored: drop whatever was written. */
  abort(): Promise<void>;
}

export class LayerBlobIndex {
  private readonly path: string;
  private entries = new Map<string, KeptBlob[]>();
  private mutations: Promise<unknown> = Promise.resolve();

  constructor(private readonly dir: string, private readonly content: ContentStore) {
    this.path = join(dir, 'layer-blobs.json');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    try {
      const stored = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, KeptBlob[]>;
      this.entries = new Map(Object.entries(stored));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** Blobs known for a diff ID whose content is still in the content store, newest first. */
  async lookup(diffId: string): Promise<KeptBlob[]> {
    const found: KeptBlob[] = [];
    for (const blob of this.entries.get(diffId) ?? []) if (await this.content.has(blob.digest)) found.push(blob);
    return found;
  }

  record(diffId: string, blob: KeptBlob): Promise<void> {
    return this.serialize(async () => {
      const known = this.entries.get(diffId) ?? [];
      const previous = known.find((entry) => entry.digest === blob.digest);
      const others = known.filter((entry) => entry.digest !== blob.digest);
      const repositories = mergeRepositories(blob.repositories, previous?.repositories);
      this.entries.set(diffId, [{ ...blob, ...(repositories ? { repositories } : {}) }, ...others]);
      await this.save();
    });
  }

  /** Notes that a repository holds a blob (it was pulled from, pushed or mounted there). */
  addRepository(digest: string, repository: string): Promise<void> {
    return this.serialize(async () => {
      let changed = false;
      for (const blobs of this.entries.values()) {
        for (const blob of blobs) {
          if (blob.digest !== digest || blob.repositories?.[0] === repository) continue;
          blob.repositories = mergeRepositories([repository], blob.repositories);
          changed = true;
        }
      }
      if (changed) await this.save();
    });
  }

  /** Whether some entry refers to this blob (a failed pull must not delete a blob another layer keeps). */
  isKept(digest: string): boolean {
    for (const blobs of this.entries.values()) if (blobs.some((blob) => blob.digest === digest)) return true;
    return false;
  }

  /** Drops entries, and their blobs, of diff IDs no layer has any more. `liveDiffIds` is read inside the lock. */
  prune(liveDiffIds: () => Set<string>): Promise<void> {
    return this.serialize(async () => {
      const live = liveDiffIds();
      const doomed: KeptBlob[] = [];
      for (const [diffId, blobs] of this.entries) {
        if (live.has(diffId)) continue;
        this.entries.delete(diffId);
        doomed.push(...blobs);
      }
      if (doomed.length === 0) return;
      await this.save();
      for (const blob of doomed) if (!this.isKept(blob.digest)) await this.content.delete(blob.digest);
    });
  }

  /**
   * Tees an imported tarball (plain or compressed): one copy goes to the layer store, the
   * other is decompressed, gzipped and written to the content store.
   */
  capture(source: Readable): LayerCapture {
    const [forLayer, forBlob] = tee(source);
    const content = this.content;
    const written = (async () => {
      const plain = Readable.from(await decompressStream(forBlob));
      const gzip = createGzip();
      plain.on('error', (error) => gzip.destroy(error));
      return content.ingest(plain.pipe(gzip));
    })();
    // A failed ingest leaves its branch of the tee unread; destroying it lets the layer's branch flow on.
    written.catch(() => forBlob.destroy());
    return {
      stream: forLayer,
      commit: async (diffId) => {
        const blob = await written;
        await this.record(diffId, { digest: blob.digest, size: blob.size, mediaType: MEDIA_TYPES.dockerLayerGzip });
      },
      abort: async () => {
        forBlob.destroy();
        const blob = await written.catch(() => undefined);
        if (blob && !this.isKept(blob.digest)) await content.delete(blob.digest);
      },
    };
  }

  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.mutations.then(operation, operation);
    this.mutations = result.catch(() => undefined);
    return result;
  }

  private async save(): Promise<void> {
    await writeJsonAtomic(this.path, Object.fromEntries(this.entries));
  }
}

/**
 * Two readers of one stream, each getting every byte; the source is paused while either is
 * behind. A reader that is destroyed stops receiving; a source error reaches both.
 */
export function tee(source: Readable): [PassThrough, PassThrough] {
  const outputs = [new PassThrough(), new PassThrough()] as [PassThrough, PassThrough];
  let waiting = 0;
  const live = () => outputs.filter((output) => !output.destroyed && !output.writableEnded);
  source.on('data', (chunk: Buffer) => {
    for (const output of live()) {
      if (!output.write(chunk)) {
        waiting++;
        source.pause();
        const resume = () => {
          output.off('drain', resume);
          output.off('close', resume);
          if (--waiting === 0) source.resume();
        };
        output.on('drain', resume);
        output.on('close', resume);
      }
    }
  });
  source.on('end', () => { for (const output of live()) output.end(); });
  source.on('error', (error) => { for (const output of live()) output.destroy(error); });
  for (const output of outputs) {
    output.on('close', () => {
      if (live().length === 0 && !source.readableEnded) source.destroy();
    });
  }
  return outputs;
}
