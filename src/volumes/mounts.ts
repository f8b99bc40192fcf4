// What a container mounts, worked out from its create request without touching the host:
// HostConfig.Binds (-v), HostConfig.Mounts (--mount), HostConfig.VolumesFrom, HostConfig.Tmpfs
// and the image's VOLUME paths. Docker's rules and words (moby volume/mounts/linux_parser.go,
// daemon/volumes.go registerMountPoints): volumes-from first, then binds and mounts override
// them by destination, and the image's volumes fill the paths nobody mounted.
import { posix } from 'node:path';
import { badParameter } from '../errdefs/errors.js';
import type { ApiMount, MountPoint } from '../wire/types.js';

export type { ApiMount };

/** One mount of a container, kept in its record: inspect's MountPoint plus what berthd needs to set it up. */
export interface ContainerMountPoint extends MountPoint {
  /** A volume this container created without a name (rm -v and --rm remove it). */
  anonymous?: boolean;
  /** Fill the volume with the image's content at the destination when it is empty (not volume-nocopy). */
  copyData?: boolean;
  /** -v binds create a missing host directory; --mount binds refuse one. */
  createHostPath?: boolean;
  nonRecursive?: boolean;
  /** tmpfs mount data ("size=65536k,mode=1777"). */
  tmpfsOptions?: string;
  /** Labels for a volume created on first use (--mount volume-label). */
  volumeLabels?: Record<string, string>;
  volumeDriverOptions?: Record<string, string>;
}

export interface MountRequest {
  binds?: string[] | null;
  mounts?: ApiMount[] | null;
  volumesFrom?: string[] | null;
  tmpfs?: Record<string, string> | null;
  /** The image's and the request's Config.Volumes. */
  imageVolumes?: Record<string, unknown> | null;
}

const PROPAGATION_MODES = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
const LABEL_MODES = new Set(['z', 'Z']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);
const DEFAULT_PROPAGATION = 'rprivate';

/** Go's filepath.Clean for absolute paths: no "." or "..", no trailing slash. */
const cleanPath = (path: string) => {
  const normalized = posix.normalize(path);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
};

const invalidSpec = (raw: string) => badParameter(`invalid volume specification: '${raw}'`);
const mountConfigError = (type: string, message: string) => badParameter(`invalid mount config for type "${type}": ${message}`);

/** moby linuxParser.ValidateMountMode: rw|ro, one propagation, z|Z, nocopy, a consistency. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  let rw = 0, propagation = 0, label = 0, copy = 0, consistency = 0;
  for (const part of mode.split(',')) {
    if (part === 'rw' || part === 'ro') rw++;
    else if (PROPAGATION_MODES.has(part)) propagation++;
    else if (LABEL_MODES.has(part)) label++;
    else if (part === 'nocopy') copy++;
    else if (CONSISTENCY_MODES.has(part)) consistency++;
    else return false;
  }
  return rw <= 1 && propagation <= 1 && label <= 1 && copy <= 1 && consistency <= 1;
}

function assertAbsoluteTarget(type: string, target: string, raw?: string): void {
  if (!target.startsWith('/')) {
    const message = `invalid mount path: '${target}' mount path must be absolute`;
    throw raw ? badParameter(`invalid volume specification: '${raw}': ${mountConfigError(type, message).message}`) : mountConfigError(type, message);
  }
  if (cleanPath(target) === '/') throw badParameter('invalid specification: destination can\'t be \'/\'');
}

/** One HostConfig.Binds entry (`-v`): /host:/ctr[:mode], name:/ctr[:mode] or /ctr. */
export function parseBind(raw: string): ContainerMountPoint {
  const parts = raw.split(':');
  let source = '';
  let destination: string;
  let mode = '';
  if (parts.length === 1) {
    destination = parts[0];
  } else if (parts.length === 2) {
    // "/foo:rw" would be a destination with a mode, which a volume cannot have.
    if (validMountMode(parts[1]) && parts[1] !== '') throw invalidSpec(raw);
    [source, destination] = parts;
  } else if (parts.length === 3) {
    [source, destination, mode] = parts;
    if (!validMountMode(mode) || mode === '') throw badParameter(`invalid volume specification: '${raw}': invalid mode: ${mode}`);
  } else {
    throw invalidSpec(raw);
  }
  if (parts.slice(0, 2).some((part) => part === '') && parts.length > 1) throw invalidSpec(raw);
  const modes = mode ? mode.split(',') : [];
  const rw = !modes.includes('ro');
  const propagation = modes.find((m) => PROPAGATION_MODES.has(m));
  if (source.startsWith('/')) {
    assertAbsoluteTarget('bind', destination, raw);
    return {
      Type: 'bind', Source: cleanPath(source), Destination: cleanPath(destination), Mode: mode, RW: rw,
      Propagation: propagation ?? DEFAULT_PROPAGATION, createHostPath: true,
    };
  }
  assertAbsoluteTarget('volume', destination, raw);
  if (propagation) throw badParameter(`invalid volume specification: '${raw}': invalid mount config for type "volume": propagation mode not supported for volumes`);
  return {
    Type: 'volume', Name: source || undefined, Source: '', Destination: cleanPath(destination), Driver: 'local',
    Mode: source ? mode || 'z' : mode, RW: rw, Propagation: '', anonymous: !source, copyData: !modes.includes('nocopy'),
  };
}

/** One HostConfig.Mounts entry (`--mount`), checked as moby's validateMountConfig does. */
export function parseApiMount(mount: ApiMount): ContainerMountPoint {
  const type = mount.Type ?? '';
  const target = mount.Target ?? '';
  const source = mount.Source ?? '';
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw mountConfigError(type, 'mount type unknown');
  if (target === '') throw mountConfigError(type, 'field Target must not be empty');
  assertAbsoluteTarget(type, target);
  const destination = cleanPath(target);
  const rw = !mount.ReadOnly;
  const forbid = (field: string, value: unknown) => {
    if (value) throw mountConfigError(type, `field ${field} must not be specified`);
  };
  if (type === 'bind') {
    forbid('VolumeOptions', mount.VolumeOptions);
    forbid('TmpfsOptions', mount.TmpfsOptions);
    if (source === '') throw mountConfigError(type, 'field Source must not be empty');
    if (!source.startsWith('/')) throw mountConfigError(type, `invalid mount path: '${source}' mount path must be absolute`);
    const propagation = mount.BindOptions?.Propagation || DEFAULT_PROPAGATION;
    if (!PROPAGATION_MODES.has(propagation)) throw mountConfigError(type, `invalid propagation mode: ${propagation}`);
    return {
      Type: 'bind', Source: cleanPath(source), Destination: destination, Mode: '', RW: rw, Propagation: propagation,
      createHostPath: !!mount.BindOptions?.CreateMountpoint, nonRecursive: !!mount.BindOptions?.NonRecursive,
    };
  }
  if (type === 'volume') {
    forbid('BindOptions', mount.BindOptions);
    forbid('TmpfsOptions', mount.TmpfsOptions);
    const driver = mount.VolumeOptions?.DriverConfig?.Name || 'local';
    const driverOptions = mount.VolumeOptions?.DriverConfig?.Options ?? undefined;
    return {
      Type: 'volume', Name: source || undefined, Source: '', Destination: destination, Driver: driver, Mode: source ? 'z' : '',
      RW: rw, Propagation: '', anonymous: !source, copyData: !mount.VolumeOptions?.NoCopy,
      volumeLabels: mount.VolumeOptions?.Labels ?? undefined,
      volumeDriverOptions: driverOptions && Object.keys(driverOptions).length ? driverOptions : undefined,
    };
  }
  forbid('Source', source);
  forbid('BindOptions', mount.BindOptions);
  forbid('VolumeOptions', mount.VolumeOptions);
  const options: string[] = [];
  const size = mount.TmpfsOptions?.SizeBytes ?? 0;
  if (size < 0) throw mountConfigError(type, 'invalid tmpfs size');
  if (size > 0) options.push(`size=${size}`);
  if (mount.TmpfsOptions?.Mode) options.push(`mode=${mount.TmpfsOptions.Mode.toString(8)}`);
  if (!rw) options.push('ro');
  return { Type: 'tmpfs', Source: '', Destination: destination, Mode: '', RW: rw, Propagation: '', tmpfsOptions: options.join(',') };
}

/** `--volumes-from name[:ro|:rw]`: the container reference and the mode forced on its mounts. */
export function parseVolumesFrom(raw: string): { container: string; rw?: boolean } {
  const [container, mode, ...rest] = raw.split(':');
  if (rest.length > 0 || container === '') throw badParameter(`invalid volumes-from specification: '${raw}'`);
  if (mode === undefined) return { container };
  if (mode !== 'ro' && mode !== 'rw' && mode !== 'z' && mode !== 'Z') throw badParameter(`invalid mode for volumes-from: ${mode}`);
  return { container, rw: mode === 'ro' ? false : mode === 'rw' ? true : undefined };
}

/**
 * The container's mounts, in the order Docker registers them. `mountsOf` gives the mounts of a
 * --volumes-from container (it throws "No such container" for an unknown one).
 */
export function resolveMounts(request: MountRequest, mountsOf: (container: string) => ContainerMountPoint[]): ContainerMountPoint[] {
  const byDestination = new Map<string, ContainerMountPoint>();
  for (const raw of request.volumesFrom ?? []) {
    const { container, rw } = parseVolumesFrom(raw);
    for (const mount of mountsOf(container)) {
      if (mount.Type === 'tmpfs') continue;
      const inherited: ContainerMountPoint = { ...mount, anonymous: false, copyData: false };
      if (rw !== undefined) {
        inherited.RW = rw;
        inherited.Mode = rw ? 'rw' : 'ro';
      }
      byDestination.set(mount.Destination, inherited);
    }
  }
  const explicit = new Set<string>();
  const add = (mount: ContainerMountPoint) => {
    if (explicit.has(mount.Destination)) throw badParameter(`Duplicate mount point: ${mount.Destination}`);
    explicit.add(mount.Destination);
    byDestination.set(mount.Destination, mount);
  };
  for (const raw of request.binds ?? []) add(parseBind(raw));
  for (const mount of request.mounts ?? []) add(parseApiMount(mount));
  for (const destination of Object.keys(request.tmpfs ?? {})) {
    const normalized = cleanPath(destination);
    if (explicit.has(normalized)) throw badParameter(`Duplicate mount point: ${normalized}`);
  }
  for (const path of Object.keys(request.imageVolumes ?? {})) {
    const destination = cleanPath(path);
    if (!destination.startsWith('/')) continue;
    if (byDestination.has(destination) || Object.hasOwn(request.tmpfs ?? {}, destination)) continue;
    byDestination.set(destination, {
      Type: 'volume', Source: '', Destination: destination, Driver: 'local', Mode: '', RW: true, Propagation: '',
      anonymous: true, copyData: true,
    });
  }
  return [...byDestination.values()];
}

/** What inspect shows under Mounts: the record's mount without berthd's bookkeeping. */
export function inspectMount(mount: ContainerMountPoint): MountPoint {
  if (mount.Type === 'volume') {
    return {
      Type: mount.Type, Name: mount.Name, Source: mount.Source, Destination: mount.Destination, Driver: mount.Driver ?? 'local',
      Mode: mount.Mode, RW: mount.RW, Propagation: mount.Propagation,
    };
  }
  return { Type: mount.Type, Source: mount.Source, Destination: mount.Destination, Mode: mount.Mode, RW: mount.RW, Propagation: mount.Propagation };
}
