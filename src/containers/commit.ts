// docker commit (POST /commit): a container's changes become a new image, as moby's
// daemon/commit.go makes it. The diff is what `docker diff` reports (changes.ts), exported as
// moby's ExportChanges does (one entry per changed path, AUFS whiteouts for deletions; written
// by GNU tar: packing thousands of files in Node took seconds); the
// config is the request's (or the container's) with the --change instructions applied and the
// container's config as defaults; `container_config`, `container` and a history entry record
// where it came from. The classic builder's steps commit through the same path.
import { packWithGnuTar, whiteoutOf } from '../archive/gnu-tar.js';
import { conflict } from '../errdefs/errors.js';
import { applyChanges } from '../images/changes.js';
import type { ImageCommitter } from '../images/commit.js';
import type { ImageRecord, ImageService } from '../images/service.js';
import type { ContainerConfig, FilesystemChange } from '../wire/types.js';
import { ContainerChanges } from './changes.js';
import { mergeImageConfig } from './merge-config.js';
import type { ContainerService } from './service.js';

export interface CommitOptions {
  /** The new image's config; the container's when absent. */
  config?: ContainerConfig | null;
  /** Dockerfile instructions applied to the config (--change). */
  changes?: string[];
  author?: string;
  comment?: string;
  /** Pause a running container while its changes are read (default true, as Docker). */
  pause?: boolean;
  /** The builder's step: its config as `container_config` and history's created_by. */
  containerConfig?: ContainerConfig;
  /** The builder's config as it is, without the container's config as defaults. */
  exactConfig?: boolean;
  /** A commit with no changes makes no layer (the builder's steps); `docker commit` always makes one. */
  skipEmptyLayer?: boolean;
}

const DELETED = 2;

export class ContainerCommitter {
  private readonly changes: ContainerChanges;

  constructor(private readonly containers: ContainerService, private readonly images: ImageService, private readonly committer: ImageCommitter) {
    this.changes = new ContainerChanges(containers, images);
  }

  async commit(reference: string, options: CommitOptions): Promise<ImageRecord> {
    const record = this.containers.get(reference);
    if (record.state.Restarting) throw conflict(`Cannot commit container ${record.id}: container is restarting`);
    const pause = options.pause !== false && record.state.Running && !record.state.Paused;
    const runtime = this.containers.runtimeOf(record);
    if (pause) await runtime.pause(record.id);
    try {
      const requested = applyChanges(structuredClone(options.config ?? record.config), options.changes ?? []);
      const config = options.exactConfig ? requested : mergeImageConfig(record.config, requested);
      const changes = await this.changes.changes(record.id);
      const { upper } = this.containers.paths(record);
      const parent = this.images.resolve(record.image) ?? null;
      const containerConfig = options.containerConfig ?? record.config;
      return await this.committer.commit({
        parent,
        diff: changes.length === 0 && options.skipEmptyLayer ? null : packChanges(changes, upper),
        config,
        containerConfig,
        container: record.id,
        author: options.author,
        comment: options.comment,
        createdBy: (containerConfig.Cmd ?? []).join(' '),
      });
    } finally {
      if (pause) await runtime.resume(record.id).catch(() => undefined);
    }
  }
}

/** The changes as moby's ExportChanges exports them: changed paths (a directory alone), then deletions as AUFS whiteouts. */
function packChanges(changes: FilesystemChange[], upper: string) {
  const names = changes.filter((change) => change.Kind !== DELETED).map((change) => change.Path.replace(/^\//, ''));
  const whiteouts = changes.filter((change) => change.Kind === DELETED).map((change) => whiteoutOf(change.Path.replace(/^\//, '')));
  return packWithGnuTar(upper, names, { append: whiteouts });
}
