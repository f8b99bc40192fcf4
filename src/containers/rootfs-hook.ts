// The root filesystem as a lifecycle hook: the container's overlay (image layers below, its
// writable layer above) is mounted before the runtime creates the container and unmounted once
// it exited. Readers of a stopped container's root (cp, export: `withRootfs`) mount it too; a
// start takes their mount over, and a failed start hands it back while they still read.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageService } from '../images/service.js';
import { isMounted, mountOverlay, overlayMountData, unmount as unmountWithCommand, type OverlayOptions } from '../layers/overlay.js';
import { processHelper } from '../runtime/process-helper.js';
import { traced } from '../util/trace.js';
import type { ContainerPaths, HookContext, LifecycleHook, PrepareContext, ReleaseContext } from './hooks.js';
import type { ContainerRecord } from './record.js';

/** How long a mount left for a start waits for it (a daemon stopped meanwhile leaves it to the start-up sweep). */
const KEPT_MOUNT_MS = 10_000;

export type RootfsLayers = Pick<ImageService, 'layersRoot' | 'lowerDirs'>;

export class RootfsHook implements LifecycleHook {
  readonly name = 'rootfs';
  /** Readers of a container's root filesystem at work, by container. */
  private readonly users = new Map<string, number>();
  /** The stopped containers whose root a reader mounted. */
  private readonly readerMounts = new Set<string>();
  /** Reader mounts left for a start to take over (the copy-up at create), each with the timer that drops it otherwise. */
  private readonly kept = new Map<string, NodeJS.Timeout>();

  constructor(private readonly images: RootfsLayers) {}

  async prepare({ record, paths }: PrepareContext): Promise<void> {
    // A reader (cp, export, the copy-up at create) that mounted the stopped container's root hands its mount over.
    this.unkeep(record.id);
    if (this.readerMounts.delete(record.id)) return;
    await this.mount(record, paths);
  }

  async release({ record, paths, reason }: ReleaseContext): Promise<void> {
    if (reason === 'start-failed' && this.users.has(record.id)) {
      this.readerMounts.add(record.id);
      return;
    }
    await unmount(paths.rootfs).catch(() => undefined);
  }

  async remove({ record, paths }: HookContext): Promise<void> {
    // Readers still at work keep the detached mount (umount -l) until they finish.
    this.unkeep(record.id);
    this.readerMounts.delete(record.id);
    // Mostly unmounted already, by the release after its last run: mountinfo says so without a request to the helper.
    if (await isMounted(paths.rootfs).catch(() => true)) await unmount(paths.rootfs).catch(() => undefined);
  }

  /**
   * Runs `work` with the container's root filesystem mounted: the live one when `live` says it
   * runs, otherwise mounted for the call and unmounted after the last reader. `locked` (the
   * container's lock) is held only to mount and unmount: `work` may stream for as long as its
   * client reads, and never blocks stop, start or rm of the container. `keepForStart`: the last
   * reader leaves the mount for a start that follows at once (run = create + start) to take
   * over, saving an unmount and a mount; unless one does within KEPT_MOUNT_MS, it goes.
   */
  async withRootfs<T>(record: ContainerRecord, paths: ContainerPaths, options: {
    live: () => boolean; locked: (work: () => Promise<void>) => Promise<void>; keepForStart?: boolean;
  }, work: (rootfs: string) => Promise<T>): Promise<T> {
    await options.locked(async () => {
      this.unkeep(record.id);
      if (!options.live() && !this.readerMounts.has(record.id)) {
        await this.mount(record, paths);
        this.readerMounts.add(record.id);
      }
      this.users.set(record.id, (this.users.get(record.id) ?? 0) + 1);
    });
    try {
      return await work(paths.rootfs);
    } finally {
      await options.locked(async () => {
        const users = (this.users.get(record.id) ?? 1) - 1;
        if (users > 0) {
          this.users.set(record.id, users);
          return;
        }
        this.users.delete(record.id);
        if (options.keepForStart && this.readerMounts.has(record.id)) this.keep(record.id, paths, options.locked);
        else if (this.readerMounts.delete(record.id)) await unmount(paths.rootfs).catch(() => undefined);
      });
    }
  }

  private keep(id: string, paths: ContainerPaths, locked: (work: () => Promise<void>) => Promise<void>): void {
    const timer = setTimeout(() => {
      locked(async () => {
        if (this.kept.get(id) !== timer) return;
        this.kept.delete(id);
        if (!this.users.has(id) && this.readerMounts.delete(id)) await unmount(paths.rootfs).catch(() => undefined);
      }).catch(() => undefined);
    }, KEPT_MOUNT_MS);
    timer.unref();
    this.kept.set(id, timer);
  }

  private unkeep(id: string): void {
    clearTimeout(this.kept.get(id));
    this.kept.delete(id);
  }

  /** The directories the container's root is the union of, top first: its upper one, then the image's layers. */
  async layerDirs(record: Readonly<ContainerRecord>, paths: ContainerPaths): Promise<string[]> {
    const lowers = await this.images.lowerDirs(record.topChainId);
    return [paths.upper, ...lowers.map((dir) => join(this.images.layersRoot, dir))];
  }

  private async mount(record: Readonly<ContainerRecord>, paths: ContainerPaths): Promise<void> {
    await mountRoot({
      layersRoot: this.images.layersRoot,
      lowerDirs: await this.images.lowerDirs(record.topChainId),
      upper: paths.upper, work: paths.work, target: paths.rootfs,
    });
  }
}

/**
 * The container's overlay mounted by a mount(2) in berthd's process helper (mount(8) is a fork
 * of berthd and a program's start, ~20-60 ms here, for a 1 ms system call); mount(8) where
 * there is no helper, or for an image without layers (its empty lowerdir is the layer store's).
 */
async function mountRoot(options: OverlayOptions): Promise<void> {
  const helper = processHelper();
  if (!helper || options.lowerDirs.length === 0) return mountOverlay(options);
  await Promise.all([options.target, options.upper!, options.work!].map((dir) => mkdir(dir, { recursive: true })));
  await traced('rootfs.mount', () => helper.mount(options.layersRoot, 'overlay', options.target, 'overlay', overlayMountData(options)));
}

/** Unmounts the container's root: umount2(2) in the helper, else umount(8); not mounted is fine, busy is detached. */
function unmount(target: string): Promise<void> {
  const helper = processHelper();
  return helper ? traced('rootfs.umount', () => helper.unmount(target)) : unmountWithCommand(target);
}

/** The host paths of a container whose directory is `directory`. */
export function containerPaths(directory: string): ContainerPaths {
  return {
    directory, rootfs: join(directory, 'fs', 'merged'), upper: join(directory, 'fs', 'upper'), work: join(directory, 'fs', 'work'),
    bundle: join(directory, 'bundle'),
  };
}
