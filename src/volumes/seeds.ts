// Volume seeds: a spare copy of an image's content at one of its VOLUME paths, made in the
// background after a copy-up, so that the next new volume owed the same copy-up gets it by one
// rename() instead of an inode creation per file. Images are immutable, so a seed keyed by the
// image's ID and the path stays right for as long as the image exists.
//
// Layout under <volumes>/.seeds/ (docs/storage.md):
//   <image hex>-<path hash>/   a complete seed: synced before it got this name
//   .tmp-<random>/             a seed being made (or dropped): never taken, swept at start-up
//   .mnt-<random>/             the image's layers mounted read-only to copy from; unmounted and
//                              removed at start-up if a crash left it
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, realpath, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { mountOverlay, unmount } from '../layers/overlay.js';
import { syncDirectory } from '../util/atomic.js';
import { run } from '../util/exec.js';
import { copyTreeInBackground, hasNativeCopier, type CopyLimits } from './copy-up.js';

/** Trees larger than this get no seed, so that the disk a seed takes stays small. */
export const SEED_LIMITS: CopyLimits = { maxEntries: 20_000, maxBytes: 64 * 1024 * 1024 };

const TEMP_PREFIX = '.tmp-';
const MOUNT_PREFIX = '.mnt-';

/** An image and the directories its root is the union of, top first (absolute paths). */
export interface ImageLayers { imageId: string; lowerDirs: readonly string[] }

/** The seed's directory name: the image's hex ID, then a hash of the path (any characters, any length). */
export function seedName(imageId: string, path: string): string {
  const hex = imageId.replace(/^sha256:/, '');
  const normalized = '/' + path.split('/').filter((part) => part !== '' && part !== '.').join('/');
  return `${hex}-${createHash('sha256').update(normalized).digest('hex').slice(0, 16)}`;
}

/** The image hex ID a seed's directory name starts with; undefined for a temporary name. */
export function seedImage(name: string): string | undefined {
  return /^([0-9a-f]{64})-[0-9a-f]{16}$/.exec(name)?.[1];
}

/** A seed being made; a create that finds none ready waits for its copy instead of copying too. */
interface Making {
  /** Creates waiting for it. */
  waiting: number;
  /** Resolves when the copy is there, to its temporary directory handed to one waiting create (undefined: none). */
  handOff: Promise<string | undefined>;
  give: (temp: string | undefined) => void;
}

export class VolumeSeeds {
  /** Seeds being made, by name: one at a time each. */
  private readonly making = new Map<string, Making>();
  /** Image paths found too large or not a directory: not tried again until the daemon restarts. */
  private readonly unseedable = new Set<string>();
  /** Image paths copied up once since the daemon started: the next copy-up makes their seed. */
  private readonly copiedOnce = new Set<string>();
  /** The read-only mounts of seeds being made. */
  private readonly mounts = new Set<string>();

  /** `imageExists` answers for an ID with or without `sha256:`. */
  constructor(readonly root: string, readonly layersRoot: string, private readonly imageExists: (imageId: string) => boolean) {}

  /** Half-made seeds, their mounts and the seeds of images gone while the daemon was down are removed. */
  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.root)) {
      const path = join(this.root, name);
      // Seeds are spare copies: one that cannot be removed now is no reason not to start.
      const removed = name.startsWith(MOUNT_PREFIX) ? this.removeMountPoint(path)
        : name.startsWith(TEMP_PREFIX) ? rm(path, { recursive: true, force: true })
          : this.imageExists(`sha256:${seedImage(name) ?? ''}`) ? undefined : this.discard(path);
      await removed?.catch((error: unknown) => process.stderr.write(`berthd: removing ${path}: ${String(error)}\n`));
    }
  }

  /**
   * Moves the seed of `path` in `imageId` onto `target` (a new volume's empty data directory):
   * false when there is none, or when `target` is not empty (rename(2) never replaces a
   * directory that holds anything). A seed being made is waited for: its copy has a head start
   * on the one the create would make. The rename is synced: the container's record that
   * follows says the copy-up is done.
   */
  async take(imageId: string, path: string, target: string): Promise<boolean> {
    const name = seedName(imageId, path);
    let source = join(this.root, name);
    const making = this.making.get(name);
    if (making) {
      making.waiting++;
      source = (await making.handOff) ?? source;
    }
    try {
      await rename(source, target);
    } catch {
      // A copy handed to this create and not taken goes (none other waits for it).
      if (making && source !== join(this.root, name)) await rm(source, { recursive: true, force: true });
      return false;
    }
    await syncDirectory(dirname(target));
    return true;
  }

  /**
   * After a copy-up of `path` in the image (or the take of its seed: `replace`): makes its seed
   * in the background, unless it is there, being made or known to be unseedable. Not at an image
   * path's first copy-up: an image run once (a build's step) costs no seed, neither the disk nor
   * the copy.
   */
  prepare(image: ImageLayers, path: string, options: { replace?: boolean } = {}): void {
    const name = seedName(image.imageId, path);
    if (!hasNativeCopier() || this.making.has(name) || this.unseedable.has(name)) return;
    if (!options.replace && !this.copiedOnce.has(name)) {
      this.copiedOnce.add(name);
      return;
    }
    let give: (temp: string | undefined) => void = () => undefined;
    const handOff = new Promise<string | undefined>((resolve) => { give = resolve; });
    const making: Making = { waiting: 0, handOff, give };
    this.making.set(name, making);
    this.make(image, path, name, making)
      .catch((error: unknown) => process.stderr.write(`berthd: preparing the volume seed of ${image.imageId} ${path}: ${String(error)}\n`))
      .finally(() => {
        this.making.delete(name);
        making.give(undefined);
      });
  }

  /** berthd stops: no mount stays behind it (a copy still reading one is killed with berthd; start-up sweeps its directories). */
  async shutdown(): Promise<void> {
    for (const mountPoint of this.mounts) await unmount(mountPoint).catch(() => undefined);
  }

  /** The image is gone: so are its seeds. */
  async forgetImage(imageId: string): Promise<void> {
    const hex = imageId.replace(/^sha256:/, '');
    const names = await readdir(this.root).catch(() => [] as string[]);
    for (const name of names) if (seedImage(name) === hex) await this.discard(join(this.root, name));
  }

  private async make(image: ImageLayers, path: string, name: string, making: Making): Promise<void> {
    const seed = join(this.root, name);
    if (await lstat(seed).then(() => true, () => false)) return;
    const random = randomBytes(6).toString('hex');
    const mountPoint = join(this.root, `${MOUNT_PREFIX}${random}`);
    const temp = join(this.root, `${TEMP_PREFIX}${random}`);
    let handedOff = false;
    const handOff = () => {
      handedOff = true;
      making.give(temp);
    };
    try {
      this.mounts.add(mountPoint);
      await mountOverlay({
        layersRoot: this.layersRoot, lowerDirs: image.lowerDirs.map((dir) => relative(this.layersRoot, dir)), target: mountPoint, readonly: true,
      });
      // The copy-up's own rules: a directory, reached without a symlink out of the image's root.
      const from = join(mountPoint, path);
      const inside = await realpath(from).then((real) => real.startsWith(`${mountPoint}/`), () => false);
      const directory = await lstat(from).then((stat) => stat.isDirectory(), () => false);
      await mkdir(temp, { mode: 0o700 });
      if (!inside || !directory || !(await copyTreeInBackground(from, temp, SEED_LIMITS))) {
        this.unseedable.add(name);
        return;
      }
      await this.removeMountPoint(mountPoint);
      // A create waiting for it takes the copy as it is: a volume's copy-up is not synced either.
      if (making.waiting > 0) return handOff();
      // At rest, a seed must never survive a crash that its files do not: synced before its name.
      await run('sync', ['-f', temp]);
      if (making.waiting > 0) return handOff();
      if (!this.imageExists(image.imageId)) return;
      await rename(temp, seed);
      await syncDirectory(this.root);
    } finally {
      await this.removeMountPoint(mountPoint);
      this.mounts.delete(mountPoint);
      // Handed off: the waiting create renames it at once (before any later sweep can run).
      if (!handedOff) await rm(temp, { recursive: true, force: true });
    }
  }

  /** Unmounted first; never deleted through a mount. */
  private async removeMountPoint(path: string): Promise<void> {
    await unmount(path);
    await rmdir(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /** Renamed away first, so that a crash never leaves half a seed under a seed's name. */
  private async discard(path: string): Promise<void> {
    const doomed = join(this.root, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    await rename(path, doomed);
    await rm(doomed, { recursive: true, force: true });
  }
}
