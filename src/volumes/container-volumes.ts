// What a container's life needs from the volumes: at create, its mounts resolved and its volumes
// made (named ones on first use, anonymous ones fresh); at start, an empty new volume filled with
// the image's content at its path (copy-up) and missing -v host directories made; at removal,
// its anonymous volumes dropped when asked (rm -v, --rm). A volume made by this create takes a
// prepared copy of the image's content (a seed, seeds.ts) by rename where there is one.
import { chown, lstat, mkdir, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { badParameter, isConflict } from '../errdefs/errors.js';
import { traced } from '../util/trace.js';
import { copyTree } from './copy-up.js';
import { resolveMounts, type ContainerMountPoint, type MountRequest } from './mounts.js';
import type { ImageLayers, VolumeSeeds } from './seeds.js';
import { ANONYMOUS_LABEL, validateVolumeName, type VolumeStore } from './store.js';

export class ContainerVolumes {
  /** Mount points whose volume this create made: only those may take a seed (nothing else can have it mounted yet). */
  private readonly made = new WeakSet<ContainerMountPoint>();

  constructor(readonly store: VolumeStore, readonly seeds?: VolumeSeeds) {}

  /**
   * Resolves and checks every mount before anything is made, then makes the volumes. Whatever
   * this created is removed again if a later one fails, so a refused create leaves nothing.
   */
  async prepare(request: MountRequest, mountsOf: (container: string) => ContainerMountPoint[]): Promise<ContainerMountPoint[]> {
    const points = resolveMounts(request, mountsOf);
    for (const point of points) {
      if (point.Type === 'volume' && point.Name) validateVolumeName(point.Name);
      if (point.Type === 'volume' && point.Driver && point.Driver !== 'local') {
        throw badParameter(`create ${point.Name ?? ''}: error looking up volume plugin ${point.Driver}: plugin "${point.Driver}" not found`);
      }
      if (point.Type === 'bind' && !point.createHostPath && !(await exists(point.Source))) {
        throw badParameter(`invalid mount config for type "bind": bind source path does not exist: ${point.Source}`);
      }
    }
    const created: string[] = [];
    try {
      for (const point of points) {
        if (point.Type !== 'volume' || point.Source) continue;
        if (point.Name && this.store.has(point.Name)) {
          point.copyData = point.copyData && (await isEmptyDirectory(this.store.dataPath(point.Name)));
        } else {
          const volume = await traced('volumes.create', () => this.store.create({
            Name: point.Name, Labels: point.anonymous ? { [ANONYMOUS_LABEL]: '', ...point.volumeLabels } : point.volumeLabels,
            DriverOpts: point.volumeDriverOptions,
          }));
          created.push(volume.Name);
          point.Name = volume.Name;
          this.made.add(point);
        }
        point.Source = this.store.dataPath(point.Name);
        delete point.volumeLabels;
        delete point.volumeDriverOptions;
      }
    } catch (error) {
      for (const name of created) await this.store.remove(name, { force: true }).catch(() => undefined);
      throw error;
    }
    return points;
  }

  /**
   * At create, with the container's root filesystem mounted: new volumes are filled with the
   * image's content at their path, as Docker does at create (a never-started "data container"
   * hands filled volumes to --volumes-from). A volume with mount options is mounted for it.
   */
  async copyUp(points: ContainerMountPoint[], rootfs: string, containerId: string, image?: ImageLayers): Promise<void> {
    const pending = points.filter((point) => point.Type === 'volume' && point.copyData && point.Name);
    if (pending.length === 0) return;
    try {
      for (const point of pending) await this.store.activate(point.Name!, containerId);
      await copyPending(pending, rootfs);
    } finally {
      await this.afterExit(pending, containerId);
    }
    // The next new volume owed the same copy gets it by rename (from the second copy-up on).
    if (image) for (const point of pending) if (this.made.has(point)) this.seeds?.prepare(image, point.Destination);
  }

  /**
   * At create, before the copy-up, the root filesystem not mounted: a volume this create made
   * (so still empty and used by no one), without mount options, takes the seed of the image's
   * content at its path if one is ready, and needs no copy then. Another seed is made for the next.
   */
  async takeSeeds(points: ContainerMountPoint[], image: ImageLayers): Promise<void> {
    if (!this.seeds) return;
    for (const point of points) {
      if (point.Type !== 'volume' || !point.copyData || !point.Name || !this.made.has(point)) continue;
      if (this.store.get(point.Name).Options) continue;
      if (!(await traced('volumes.seed.take', () => this.seeds!.take(image.imageId, point.Destination, point.Source)))) continue;
      point.copyData = false;
      this.seeds.prepare(image, point.Destination, { replace: true });
    }
  }

  /**
   * At create, before the copy-up: a volume whose path holds nothing in the image needs no copy,
   * and the root filesystem no mount for it. `layerDirs` are the directories the container's root
   * is the union of, top first (its upper one, still empty, then the image's layers).
   */
  async dropCopiesOfNothing(points: ContainerMountPoint[], layerDirs: readonly string[]): Promise<void> {
    for (const point of points) {
      if (point.Type === 'volume' && point.copyData && !(await unionMayHold(layerDirs, point.Destination))) point.copyData = false;
    }
  }

  /** Before the runtime creates the container (root filesystem mounted): volumes mounted, -v host directories made, any copy-up still owed. */
  async beforeStart(points: ContainerMountPoint[], rootfs: string, containerId: string): Promise<void> {
    for (const point of points) {
      if (point.Type === 'volume' && point.Name) await this.store.activate(point.Name, containerId);
      if (point.Type === 'bind' && point.createHostPath) await this.makeHostDirectory(point.Source);
    }
    await copyPending(points, rootfs);
  }

  /** A missing -v host directory, owned by the containers' root (remapped or not) as Docker makes it. */
  private async makeHostDirectory(path: string): Promise<void> {
    // Only a missing path is made: an existing file (-v /etc/x:/x) is bound as it is, as with Docker.
    const made = await mkdir(path, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return undefined;
      throw error;
    });
    if (made && this.store.owner) await chown(path, this.store.owner.uid, this.store.owner.gid);
  }

  /** After the container's exit (or a failed start): mounts of volumes no running container uses go. */
  async afterExit(points: readonly ContainerMountPoint[], containerId: string): Promise<void> {
    for (const point of points) {
      if (point.Type === 'volume' && point.Name) await this.store.deactivate(point.Name, containerId);
    }
  }

  /** rm -v: the container's anonymous volumes go; one still used by another container stays, as in Docker. */
  async removeAnonymous(points: readonly ContainerMountPoint[]): Promise<void> {
    if (points.some((point) => point.anonymous)) await traced('volumes.remove', () => this.removeAnonymousNow(points));
  }

  private async removeAnonymousNow(points: readonly ContainerMountPoint[]): Promise<void> {
    for (const point of points) {
      if (point.Type !== 'volume' || !point.anonymous || !point.Name) continue;
      await this.store.remove(point.Name, { force: true }).catch((error: unknown) => {
        if (!isConflict(error)) throw error;
      });
    }
  }
}

/** Fills each volume still owed its copy-up, if empty, from the root filesystem at its path; clears copyData. */
async function copyPending(points: ContainerMountPoint[], rootfs: string): Promise<void> {
  for (const point of points) {
    if (point.Type !== 'volume' || !point.copyData) continue;
    const from = join(rootfs, point.Destination);
    // A symlink on the way may point out of the root filesystem: never copy the host's files.
    const inside = await realpath(from).then((real) => real.startsWith(`${rootfs}/`), () => false);
    if (inside && (await isEmptyDirectory(point.Source)) && (await isDirectory(from))) {
      await copyTree(from, point.Source);
    }
    point.copyData = false;
  }
}

/**
 * Whether an overlay union of `dirs` may show something at the absolute `path`: false only when
 * no directory holds an entry there, nor a symlink on the way (which the union could follow
 * anywhere). Whiteouts and opaque directories only ever hide entries, so the answer is safe
 * without reading them; the copy-up itself still reads the mounted union.
 */
export async function unionMayHold(dirs: readonly string[], path: string): Promise<boolean> {
  const components = path.split('/').filter((part) => part !== '');
  for (const dir of dirs) {
    let prefix = dir;
    for (const [index, component] of components.entries()) {
      prefix = join(prefix, component);
      // lstat follows symlinks on the way, so each prefix is looked at before going deeper.
      const stat = await lstat(prefix).catch(() => undefined);
      if (!stat) break;
      if (index === components.length - 1 || stat.isSymbolicLink()) return true;
      if (!stat.isDirectory()) break;
    }
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

async function isDirectory(path: string): Promise<boolean> {
  return lstat(path).then((stat) => stat.isDirectory(), () => false);
}

async function isEmptyDirectory(path: string): Promise<boolean> {
  return readdir(path).then((entries) => entries.length === 0, () => false);
}
