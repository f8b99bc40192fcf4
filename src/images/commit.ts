// A new image on top of another: a layer diff (AUFS whiteout form, as `docker commit` and the
// classic builder produce it) applied above the parent's layers, or no layer at all for a
// metadata-only step, and a config with the parent's history and rootfs extended.
// The layer is leased from the moment it exists until the image record names it, so a
// concurrent prune cannot take it; a failure removes a layer this commit added.
import type { Readable } from 'node:stream';
import type { LayerStore } from '../layers/store.js';
import { hostArchitecture } from '../util/host-arch.js';
import type { ContainerConfig, ImageConfigFile } from '../wire/types.js';
import type { ImageRecord, ImageService } from './service.js';

export interface CommitImageOptions {
  /** The image below; null for `FROM scratch`. */
  parent: ImageRecord | null;
  /** The diff tar, or null when the step made no layer. */
  diff: Readable | null;
  config: ContainerConfig;
  /** The config of the container (or builder step) that made it: `container_config`. */
  containerConfig?: ContainerConfig;
  container?: string;
  author?: string;
  comment?: string;
  /** History's created_by. */
  createdBy: string;
  platform?: { os: string; architecture: string; variant?: string };
}

export class ImageCommitter {
  constructor(private readonly images: Pick<ImageService, 'createFromConfig'>, private readonly layers: LayerStore) {}

  async commit(options: CommitImageOptions): Promise<ImageRecord> {
    const parentConfig = options.parent?.config;
    const created = new Date().toISOString();
    const diffIds = [...(parentConfig?.rootfs.diff_ids ?? [])];
    const lease = this.layers.leases.acquire(options.parent?.topChainId ? [options.parent.topChainId] : []);
    let added: string | undefined;
    try {
      if (options.diff) {
        const before = new Set(this.layers.list().map((layer) => layer.chainId));
        const layer = await this.layers.apply(options.parent?.topChainId ?? null, options.diff, lease);
        if (!before.has(layer.chainId)) added = layer.chainId;
        diffIds.push(layer.diffId);
      }
      const history = [...(parentConfig?.history ?? [])];
      const entry: NonNullable<ImageConfigFile['history']>[number] = { created, created_by: options.createdBy };
      if (options.author) entry.author = options.author;
      if (options.comment) entry.comment = options.comment;
      if (!options.diff) entry.empty_layer = true;
      history.push(entry);
      const config: ImageConfigFile = {
        architecture: options.platform?.architecture ?? parentConfig?.architecture ?? hostArchitecture(),
        ...(options.author ? { author: options.author } : {}),
        ...(options.comment ? { comment: options.comment } : {}),
        config: options.config,
        ...(options.container !== undefined ? { container: options.container } : {}),
        ...(options.containerConfig ? { container_config: options.containerConfig } : {}),
        created,
        history,
        os: options.platform?.os ?? parentConfig?.os ?? 'linux',
        rootfs: { type: 'layers', diff_ids: diffIds },
      };
      const variant = options.platform?.variant ?? parentConfig?.variant;
      if (variant) config.variant = variant;
      return await this.images.createFromConfig(config);
    } catch (error) {
      lease.release();
      if (added) await this.layers.remove(added).catch(() => undefined);
      throw error;
    } finally {
      lease.release();
    }
  }
}
