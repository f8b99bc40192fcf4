// Volumes as a lifecycle hook: before each start, the volumes a running container needs mounted
// (local driver options) are mounted and missing -v host directories are made; the container's binds, volumes and --mount tmpfs mounts go into
// the spec. After the run, volume mounts no running container uses are undone. Resolving the
// mounts, making the volumes and filling new ones from the image (copy-up) happen at create
// (ContainerService.create), and rm -v drops
// the anonymous ones (ContainerService.remove): the hooks have no create phase, and rm -v is an
// option of the removal.
import type { ContainerVolumes } from '../volumes/container-volumes.js';
import type { ContainerMountPoint } from '../volumes/mounts.js';
import type { LifecycleHook, PrepareContext, ReleaseContext } from './hooks.js';
import type { ContainerMount } from './spec.js';

export class VolumesHook implements LifecycleHook {
  readonly name = 'volumes';

  constructor(private readonly volumes: ContainerVolumes) {}

  async prepare({ record, paths, spec }: PrepareContext): Promise<void> {
    const points = record.mountPoints ?? [];
    if (points.length === 0) return;
    // A copy-up still owed (done at create) clears its point's copyData; the start saves the record with it.
    await this.volumes.beforeStart(points, paths.rootfs, record.id).catch(async (error: unknown) => {
      await this.volumes.afterExit(points, record.id).catch(() => undefined);
      throw error;
    });
    spec.mounts.push(...specMounts(points));
  }

  async release({ record }: ReleaseContext): Promise<void> {
    await this.volumes.afterExit(record.mountPoints ?? [], record.id);
  }
}

/** A container's recorded mount points as the spec's mounts: a volume is a bind of its data directory. */
export function specMounts(points: readonly ContainerMountPoint[]): ContainerMount[] {
  return points.map((point): ContainerMount => {
    if (point.Type === 'tmpfs') return { type: 'tmpfs', destination: point.Destination, options: point.tmpfsOptions || undefined };
    return {
      type: 'bind', source: point.Source, destination: point.Destination, readonly: !point.RW,
      propagation: point.Propagation || undefined, nonRecursive: point.nonRecursive,
    };
  });
}
