// The layers of a pull (Docker's LayerDownloadManager): each missing layer is one transfer,
// keyed by its chain ID and shared by every pull that needs it at the same time, so that two
// pulls of one image fetch each blob once and both show its progress. A transfer downloads
// its blob into the content store (at most `concurrency` downloads daemon-wide, verified as
// it streams in; a broken download resumes with a Range request after Docker's "Retrying in
// N seconds"), waits for its parent layer's transfer, then unpacks the blob with the layer
// store and keeps it for push (layer-blobs.ts, with the repository it came from).
//
// A pull that fails or is abandoned (its client went away) leaves nothing of its own behind:
// it releases its transfers (the last one to leave cancels a transfer, whose half-written
// blob and half-unpacked layer the stores drop), then removes the layers and blobs it added
// that no image uses and no other running pull needs.
import { pipeline, Readable } from 'node:stream';
import type { ContentStore } from '../content/store.js';
import { DigestMismatchError } from '../content/store.js';
import type { ImageService } from '../images/service.js';
import { chainIdsOf, type LayerInfo, type LayerStore } from '../layers/store.js';
import type { Lease } from '../layers/leases.js';
import type { LayerBlobIndex } from '../images/layer-blobs.js';
import type { Descriptor } from '../images/manifest.js';
import { ByteProgress, type Progress, updateMessage } from '../wire/progress.js';
import { type RegistryClient, RegistryConnectionError, RegistryError } from './registry-client.js';
import { retryCountdown, type TransferContext, TransferManager, unlessAborted, type Watch } from './transfers.js';
import { shortDigest } from '../content/store.js';

/** Retries of a broken download (Docker: 5), the n-th after n × RETRY_STEP_SECONDS. */
const MAX_DOWNLOAD_RETRIES = 5;
/** Docker waits 5 s more before each retry; a second suffices for a registry that restarts. */
const RETRY_STEP_SECONDS = 1;

/** Where a pull's blobs come from. */
export interface LayerSource {
  client: RegistryClient;
  /** The repository's path in the registry ("library/busybox"). */
  repository: string;
  /** "host/path", recorded with each blob as a repository that holds it. */
  name: string;
}

export interface LayerPullerOptions {
  layers: LayerStore;
  content: ContentStore;
  blobs: LayerBlobIndex;
  images: Pick<ImageService, 'list'>;
  /** Downloads at once, daemon-wide (Docker's max-concurrent-downloads, 3). */
  concurrency: number;
}

/** A failure worth another attempt: the connection, a short body, a server error; not a 4xx or a bad digest. */
function isRetryable(error: unknown): boolean {
  if (error instanceof RegistryError) return error.transient;
  if (error instanceof RegistryConnectionError) return true;
  if (error instanceof DigestMismatchError || (error as Error | undefined)?.name === 'AbortError') return false;
  return error instanceof Error;
}

export class LayerPuller {
  private readonly transfers: TransferManager;
  /** Chain IDs and blob digests that running pulls need, counted: cleanup leaves them alone. */
  private readonly held = new Map<string, number>();

  constructor(private readonly options: LayerPullerOptions) {
    this.transfers = new TransferManager(options.concurrency);
  }

  /** At most this many downloads at once, daemon-wide (max-concurrent-downloads). */
  setConcurrency(concurrency: number): void {
    this.transfers.setLimit(concurrency);
  }

  /**
   * Makes every layer of an image (`descriptors` and their `diffIds`, bottom first) present in
   * the layer store, leased to the caller (who releases the lease once the image exists). On
   * failure or abort removes what it added, then throws.
   */
  async fetch(source: LayerSource, descriptors: Descriptor[], diffIds: string[], progress: Progress, signal?: AbortSignal): Promise<Lease> {
    const chain = chainIdsOf(diffIds);
    const keys = [...chain, ...descriptors.map((layer) => layer.digest)];
    this.hold(keys);
    const { layers, content } = this.options;
    // Taken before looking at which layers exist ("Already exists" must stay true); the caller
    // releases it once the image record refers to the layers.
    const lease = layers.leases.acquire(chain);
    const preexistingBlobs = new Set<string>();
    for (const layer of descriptors) if (await content.has(layer.digest)) preexistingBlobs.add(layer.digest);
    const watches: Array<Watch<LayerInfo>> = [];
    try {
      let firstMissing = chain.findIndex((chainId) => !layers.get(chainId));
      if (firstMissing === -1) firstMissing = chain.length;
      for (let i = 0; i < firstMissing; i++) progress(updateMessage(shortDigest(descriptors[i]!.digest), 'Already exists'));
      for (let i = firstMissing; i < chain.length; i++) progress(updateMessage(shortDigest(descriptors[i]!.digest), 'Pulling fs layer'));
      let parentDone: Promise<unknown> = Promise.resolve();
      for (let i = firstMissing; i < chain.length; i++) {
        const parentChainId = i > 0 ? chain[i - 1]! : null;
        const waitForParent = parentDone;
        const watch = this.transfers.watch(chain[i]!, (context) => this.transfer(context, source, descriptors[i]!, diffIds[i]!, chain[i]!, parentChainId, waitForParent), progress);
        watches.push(watch);
        parentDone = watch.result;
      }
      await unlessAborted(Promise.all(watches.map((watch) => watch.result)), signal);
    } catch (error) {
      for (const watch of watches) watch.release();
      // Transfers this pull started use its registry client: let them end (cancelled, or
      // finished for the pulls that joined them) before the caller closes it.
      await Promise.allSettled(watches.filter((watch) => watch.started).map((watch) => watch.result));
      this.release(keys);
      lease.release();
      await this.removeUnused(chain, descriptors.map((layer) => layer.digest).filter((digest) => !preexistingBlobs.has(digest)));
      throw error;
    }
    this.release(keys);
    return lease;
  }

  /** One layer: download (unless the blob is here), wait for the parent, unpack, keep the blob. */
  private async transfer(
    context: TransferContext, source: LayerSource, layer: Descriptor, diffId: string, chainId: string,
    parentChainId: string | null, parentDone: Promise<unknown>,
  ): Promise<LayerInfo> {
    const { layers, content, blobs } = this.options;
    const id = shortDigest(layer.digest);
    // The slot is asked for first thing, so that layers queue in their order ("Waiting" for the last ones).
    const free = await this.transfers.slot(context, id);
    try {
      if (!(await content.has(layer.digest))) await this.download(context, source, layer);
    } finally {
      free();
    }
    context.progress(updateMessage(id, 'Download complete'));
    await parentDone;
    context.signal.throwIfAborted();
    let applied = layers.get(chainId);
    if (!applied) {
      const extracting = new ByteProgress(context.progress, id, 'Extracting', layer.size);
      const tar = extracting.meter();
      const abort = () => tar.destroy(context.signal.reason as Error);
      context.signal.addEventListener('abort', abort, { once: true });
      try {
        applied = await layers.apply(parentChainId, pipeline(content.createReadStream(layer.digest), tar, () => undefined) as Readable);
      } finally {
        context.signal.removeEventListener('abort', abort);
      }
      if (applied.chainId !== chainId) {
        await this.removeUnused([applied.chainId], []);
        throw new Error(`layer ${layer.digest} has diff ID ${applied.diffId}, but the image config expects ${diffId}`);
      }
    }
    await blobs.record(applied.diffId, { digest: layer.digest, size: layer.size, mediaType: layer.mediaType, repositories: [source.name] });
    context.progress(updateMessage(id, 'Pull complete'));
    return applied;
  }

  /** Streams a blob into the content store, resuming a broken download where it stopped. */
  private async download(context: TransferContext, source: LayerSource, layer: Descriptor): Promise<void> {
    const { content } = this.options;
    const id = shortDigest(layer.digest);
    const downloading = new ByteProgress(context.progress, id, 'Downloading', layer.size);
    async function* chunks(): AsyncGenerator<Buffer> {
      let offset = 0;
      for (let retries = 0; ; ) {
        try {
          const { stream, partial } = await source.client.getBlob(source.repository, layer.digest, context.signal, offset);
          // A registry that ignores Range sends the whole blob again: skip what we have.
          let skip = partial ? 0 : offset;
          for await (const chunk of stream) {
            let data = chunk as Buffer;
            if (skip > 0) {
              const dropped = Math.min(skip, data.length);
              skip -= dropped;
              data = data.subarray(dropped);
              if (data.length === 0) continue;
            }
            offset += data.length;
            downloading.add(data.length);
            yield data;
          }
          if (layer.size > 0 && offset < layer.size) throw new Error('unexpected EOF');
          return;
        } catch (error) {
          if (context.signal.aborted || !isRetryable(error) || ++retries > MAX_DOWNLOAD_RETRIES) throw error;
          await retryCountdown(context, id, retries * RETRY_STEP_SECONDS);
        }
      }
    }
    try {
      await content.ingest(Readable.from(chunks()), layer.digest);
    } catch (error) {
      if (error instanceof DigestMismatchError) throw new Error(`filesystem layer verification failed for digest ${layer.digest}`);
      throw error;
    }
    downloading.flush();
    context.progress(updateMessage(id, 'Verifying Checksum'));
  }

  /** Removes, top first, the layers of `chain` and the `blobs` that nothing uses or needs any more. */
  private async removeUnused(chain: string[], blobDigests: string[]): Promise<void> {
    const { layers, content, blobs, images } = this.options;
    const used = new Set<string>();
    for (const image of images.list()) for (const chainId of chainIdsOf(image.config.rootfs.diff_ids)) used.add(chainId);
    for (const chainId of [...chain].reverse()) {
      if (!layers.get(chainId) || used.has(chainId) || this.held.has(chainId)) continue;
      // A child layer that another pull still needs keeps its parent.
      await layers.remove(chainId).catch(() => undefined);
    }
    await blobs.prune(() => new Set(layers.list().map((layer) => layer.diffId))).catch(() => undefined);
    for (const digest of blobDigests) {
      if (this.held.has(digest) || blobs.isKept(digest)) continue;
      await content.delete(digest).catch(() => undefined);
    }
  }

  private hold(keys: string[]): void {
    for (const key of keys) this.held.set(key, (this.held.get(key) ?? 0) + 1);
  }

  private release(keys: string[]): void {
    for (const key of keys) {
      const count = (this.held.get(key) ?? 0) - 1;
      if (count > 0) this.held.set(key, count);
      else this.held.delete(key);
    }
  }
}
