// The layers of a push (Docker's LayerUploadManager): each layer is one transfer, keyed by
// the target repository and the blob, shared by pushes running at the same time; at most
// `concurrency` move bytes daemon-wide, the others say "Waiting". A blob the repository has
// already (HEAD) is skipped ("Layer already exists"); one known to be in another repository
// of the same registry is mounted from there (POST ?mount=&from=, "Mounted from <repo>");
// anything else is uploaded from the content store, in one PUT or in chunks (see
// registry-client.ts), with "Pushing" progress. Every repository found or made to hold a blob
// is remembered (layer-blobs.ts) for later mounts. Progress ids are the layers' diff IDs, as
// Docker shows them on push.
import { createReadStream } from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import type { ContentStore } from '../content/store.js';
import type { KeptBlob, LayerBlobIndex } from '../images/layer-blobs.js';
import { shortDigest } from '../content/store.js';
import { ByteProgress, type Progress, updateMessage } from '../wire/progress.js';
import type { RegistryClient } from './registry-client.js';
import { type TransferContext, TransferManager, unlessAborted, type Watch } from './transfers.js';

/** Docker tries at most three other repositories to mount a blob from. */
const MAX_MOUNT_ATTEMPTS = 3;

/** Where a push goes. */
export interface PushTarget {
  client: RegistryClient;
  /** The registry host ("127.0.0.1:5000", "docker.io"). */
  domain: string;
  /** The repository's path in the registry ("me/app"). */
  repository: string;
}

export interface PushLayer {
  diffId: string;
  blob: KeptBlob;
}

export interface LayerPusherOptions {
  content: ContentStore;
  blobs: LayerBlobIndex;
  /** Uploads at once, daemon-wide (Docker's max-concurrent-uploads, 5). */
  concurrency: number;
}

export class LayerPusher {
  private readonly transfers: TransferManager;

  constructor(private readonly options: LayerPusherOptions) {
    this.transfers = new TransferManager(options.concurrency);
  }

  /** Pushes an image's layers (bottom first); throws at the first failure, cancelling the rest. */
  async push(target: PushTarget, layers: PushLayer[], progress: Progress, signal?: AbortSignal): Promise<void> {
    // Docker lists the layers top first.
    const unique = [...new Map(layers.map((layer) => [layer.blob.digest, layer])).values()].reverse();
    for (const layer of unique) progress(updateMessage(shortDigest(layer.diffId), 'Preparing'));
    const watches: Array<Watch<void>> = unique.map((layer) => this.transfers.watch(
      `${target.domain}/${target.repository}@${layer.blob.digest}`, (context) => this.transfer(context, target, layer), progress,
    ));
    try {
      await unlessAborted(Promise.all(watches.map((watch) => watch.result)), signal);
    } catch (error) {
      for (const watch of watches) watch.release();
      // Transfers this push started use its registry client: let them end before the caller closes it.
      await Promise.allSettled(watches.filter((watch) => watch.started).map((watch) => watch.result));
      throw error;
    }
  }

  /** The image config: uploaded in one piece unless the repository has it; Docker shows no progress for it. */
  async pushConfig(target: PushTarget, digest: string, size: number, signal?: AbortSignal): Promise<void> {
    if (await target.client.blobExists(target.repository, digest)) return;
    await target.client.uploadBlob(target.repository, digest, size, (start, end) => this.read(digest, start, end), undefined, signal);
  }

  private async transfer(context: TransferContext, target: PushTarget, layer: PushLayer): Promise<void> {
    const id = shortDigest(layer.diffId);
    const { digest, size } = layer.blob;
    const free = await this.transfers.slot(context, id);
    try {
      if (await target.client.blobExists(target.repository, digest)) {
        context.progress(updateMessage(id, 'Layer already exists'));
      } else {
        const mount = await this.mount(target, layer.blob);
        if (mount.from !== undefined) {
          context.progress(updateMessage(id, `Mounted from ${mount.from}`));
        } else {
          const pushing = new ByteProgress(context.progress, id, 'Pushing', size);
          await target.client.uploadBlob(target.repository, digest, size, (start, end) => this.read(digest, start, end, pushing), mount.session, context.signal);
          context.progress(updateMessage(id, 'Pushed'));
        }
      }
      await this.options.blobs.addRepository(digest, `${target.domain}/${target.repository}`);
    } finally {
      free();
    }
  }

  /**
   * Tries to mount the blob from the other repositories of this registry known to hold it.
   * Gives the repository it came from, or the upload session the last refusal opened.
   */
  private async mount(target: PushTarget, blob: KeptBlob): Promise<{ from?: string; session?: URL }> {
    const prefix = `${target.domain}/`;
    const candidates = (blob.repositories ?? [])
      .filter((name) => name.startsWith(prefix) && name.slice(prefix.length) !== target.repository)
      .map((name) => name.slice(prefix.length))
      .slice(0, MAX_MOUNT_ATTEMPTS);
    let session: URL | undefined;
    for (const from of candidates) {
      if (session) await target.client.cancelUpload(session);
      const result = await target.client.mountBlob(target.repository, blob.digest, from);
      if (result.mounted) return { from };
      session = result.session;
    }
    return { session };
  }

  /** Bytes [start, end) of a stored blob, counted by `meter` when given. */
  private read(digest: string, start: number, end: number, meter?: ByteProgress): Readable {
    if (end <= start) return Readable.from([]);
    const file = createReadStream(this.options.content.path(digest), { start, end: end - 1 });
    return meter ? pipeline(file, meter.meter(), () => undefined) : file;
  }
}
