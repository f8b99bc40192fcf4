// The local volume driver and its store: each volume is <root>/<name>/_data (what containers
// mount) beside <root>/<name>/volume.json (its record, written atomically). Which containers use
// a volume is not stored here: it is derived from the container records (the `users` callback),
// so the two can never disagree after a crash.
import { randomBytes } from 'node:crypto';
import { chown, lstat, mkdir, readFile, readdir, rm, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { badParameter, conflict, notFound, serverError } from '../errdefs/errors.js';
import { isMounted, unmount } from '../layers/overlay.js';
import { CommandError, run } from '../util/exec.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { matchLabelList, type Filters } from '../util/filters.js';
import type { Volume, VolumeCreateOptions } from '../wire/types.js';

export type { Volume, VolumeCreateOptions };

/** moby volume/local: a name is at least two characters of these, first one alphanumeric. */
const VALID_VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker labels anonymous volumes so that `volume prune` (API 1.42+) knows them. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export function validateVolumeName(name: string): void {
  if (!VALID_VOLUME_NAME.test(name)) {
    throw badParameter(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

/** Where the volume seeds live (src/volumes/seeds.ts): a name no volume can have. */
export const SEEDS_DIRECTORY = '.seeds';

/** A volume directory being removed is renamed to this prefix first (a name no volume can have). */
const REMOVING_PREFIX = '.removing-';

export const anonymousVolumeName = () => randomBytes(32).toString('hex');

/** Filters accepted by GET /volumes and POST /volumes/prune. */
const LIST_FILTERS = ['dangling', 'name', 'label', 'driver'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

export class VolumeStore {
  private readonly volumes = new Map<string, Volume>();
  private readonly lock = new KeyedLock();
  /** Running containers holding each mounted volume. */
  private readonly active = new Map<string, Set<string>>();

  /** Names the containers (IDs) whose records mount a volume; bound by the daemon once containers exist. */
  users: (name: string) => string[] = () => [];
  /** The running ones among them (the records' view: it holds before restoreMounts has run). */
  runningUsers: (name: string) => string[] = () => [];

  /** `owner` (--userns-remap): the host IDs of the containers' root, which own each new volume's data. */
  constructor(readonly root: string, readonly owner?: { uid: number; gid: number }) {}

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o701 });
    for (const name of await readdir(this.root)) {
      if (name === SEEDS_DIRECTORY) continue;
      if (name.startsWith(REMOVING_PREFIX)) {
        // A removal cut short: the volume was already gone for its clients.
        await this.removeData(join(this.root, name));
        continue;
      }
      try {
        this.volumes.set(name, JSON.parse(await readFile(join(this.root, name, 'volume.json'), 'utf8')) as Volume);
      } catch {
        // A directory without a record is a create that never finished or a removal cut short.
        await this.removeData(join(this.root, name)).catch(() => undefined);
      }
    }
  }

  dataPath(name: string): string {
    return join(this.root, name, '_data');
  }

  has(name: string): boolean {
    return this.volumes.has(name);
  }

  get(name: string): Volume {
    const volume = this.volumes.get(name);
    if (!volume) throw notFound(`get ${name}: no such volume`);
    return volume;
  }

  usedBy(name: string): string[] {
    return this.users(name);
  }

  /** Creates a volume, or returns the existing one of that name (Docker's create is idempotent). */
  async create(options: VolumeCreateOptions): Promise<Volume> {
    const name = options.Name || anonymousVolumeName();
    validateVolumeName(name);
    const driver = options.Driver || 'local';
    if (driver !== 'local') throw notFound(`create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const driverOpts = options.DriverOpts ?? {};
    validateLocalOptions(name, driverOpts);
    return this.lock.run(name, async () => {
      const existing = this.volumes.get(name);
      if (existing) return existing;
      // Go's field order (moby's volume.Volume), so that clients printing the JSON as sent match docker's output.
      const volume: Volume = {
        CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), Driver: 'local', Labels: { ...(options.Labels ?? {}) },
        Mountpoint: this.dataPath(name), Name: name, Options: Object.keys(driverOpts).length ? { ...driverOpts } : null, Scope: 'local',
      };
      const directory = join(this.root, name);
      try {
        await mkdir(this.dataPath(name), { recursive: true, mode: 0o755 });
        if (this.owner) await chown(this.dataPath(name), this.owner.uid, this.owner.gid);
        await writeJsonAtomic(join(directory, 'volume.json'), volume);
      } catch (error) {
        await rm(directory, { recursive: true, force: true });
        throw error;
      }
      this.volumes.set(name, volume);
      return volume;
    });
  }

  /**
   * A volume with mount options (-o type=tmpfs,device=tmpfs,o=size=1m; o=bind) is mounted on its
   * data directory while a running container uses it, as Docker's local driver does; one without
   * needs nothing.
   */
  async activate(name: string, containerId: string): Promise<void> {
    await this.lock.run(name, async () => {
      const volume = this.volumes.get(name);
      if (!volume?.Options) return;
      const users = this.active.get(name) ?? new Set<string>();
      if (users.size === 0 && !(await isMounted(this.dataPath(name)))) await mountLocal(this.dataPath(name), volume.Options);
      users.add(containerId);
      this.active.set(name, users);
    });
  }

  async deactivate(name: string, containerId: string): Promise<void> {
    await this.lock.run(name, async () => {
      const users = this.active.get(name);
      users?.delete(containerId);
      if (users?.size) return;
      if (this.runningUsers(name).some((id) => id !== containerId)) return;
      this.active.delete(name);
      if (this.volumes.get(name)?.Options) await unmount(this.dataPath(name));
    });
  }

  /** At start-up: the running containers (by volume) hold their volumes' mounts; no other mount stays. */
  async restoreMounts(running: Map<string, string[]>): Promise<void> {
    for (const volume of this.volumes.values()) {
      if (!volume.Options) continue;
      const users = running.get(volume.Name) ?? [];
      if (users.length > 0) for (const id of users) await this.activate(volume.Name, id);
      else await unmount(this.dataPath(volume.Name));
    }
  }

  async remove(name: string, options: { force?: boolean } = {}): Promise<void> {
    await this.lock.run(name, async () => {
      if (!this.volumes.has(name)) {
        if (options.force) return;
        throw notFound(`get ${name}: no such volume`);
      }
      const users = this.users(name);
      if (users.length > 0) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      // The record goes first (by renaming the directory away), so a crash never leaves a
      // record whose data is half deleted.
      await unmount(this.dataPath(name));
      const doomed = join(this.root, `${REMOVING_PREFIX}${name}-${randomBytes(4).toString('hex')}`);
      await rename(join(this.root, name), doomed);
      this.volumes.delete(name);
      // Gone for every client now; the data is deleted in the background (init sweeps what a stop or a crash leaves).
      this.discard(doomed);
    });
  }

  /** Deletes a removed volume's renamed-away directory without waiting for it. */
  private discard(directory: string): void {
    rm(directory, { recursive: true, force: true }).catch((error: unknown) => {
      process.stderr.write(`berthd: removing ${directory}: ${String(error)}\n`);
    });
  }

  /** Deletes a volume's directory; a mount left on its data (a crash while it was used) is undone first, never deleted through. */
  private async removeData(directory: string): Promise<void> {
    await unmount(join(directory, '_data'));
    await rm(directory, { recursive: true, force: true });
  }

  list(filters: Filters = new Map()): Volume[] {
    for (const key of filters.keys()) if (!LIST_FILTERS.includes(key)) throw badParameter(`invalid filter '${key}'`);
    const dangling = filters.get('dangling')?.map(parseBoolFilter('dangling'));
    return [...this.volumes.values()].filter((volume) => {
      if (dangling?.length && !dangling.includes(this.users(volume.Name).length === 0)) return false;
      const names = filters.get('name');
      if (names?.length && !names.some((name) => volume.Name.includes(name))) return false;
      const drivers = filters.get('driver');
      if (drivers?.length && !drivers.includes(volume.Driver)) return false;
      return matchLabelList(filters.get('label') ?? [], volume.Labels ?? {});
    });
  }

  /** Removes unused volumes: anonymous ones only, unless the filter all=true (API 1.42+). */
  async prune(filters: Filters = new Map()): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    for (const key of filters.keys()) if (!PRUNE_FILTERS.includes(key)) throw badParameter(`invalid filter '${key}'`);
    const all = (filters.get('all') ?? []).map(parseBoolFilter('all')).includes(true);
    const labels = filters.get('label') ?? [];
    const notLabels = filters.get('label!') ?? [];
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const volume of [...this.volumes.values()]) {
      if (this.users(volume.Name).length > 0) continue;
      if (!all && !(ANONYMOUS_LABEL in (volume.Labels ?? {}))) continue;
      if (!matchLabelList(labels, volume.Labels ?? {})) continue;
      if (notLabels.length > 0 && matchLabelList(notLabels, volume.Labels ?? {})) continue;
      const size = await directorySize(this.dataPath(volume.Name)).catch(() => 0);
      try {
        await this.remove(volume.Name);
      } catch {
        continue; // taken into use meanwhile
      }
      deleted.push(volume.Name);
      reclaimed += size;
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /** Bytes used by a volume's data (system df). */
  size(name: string): Promise<number> {
    return directorySize(this.dataPath(name)).catch(() => 0);
  }
}

/** moby's local driver options: type, device and o (mount(8)'s -t, device and -o). */
function validateLocalOptions(name: string, options: Record<string, string>): void {
  for (const key of Object.keys(options)) {
    if (!['type', 'device', 'o'].includes(key)) throw badParameter(`create ${name}: invalid option: "${key}"`);
  }
  if (Object.keys(options).length === 0) return;
  const bind = (options.o ?? '').split(',').includes('bind');
  if (!options.device) throw badParameter(`create ${name}: missing required option: "device"`);
  if (!options.type && !bind) throw badParameter(`create ${name}: missing required option: "type"`);
  if (bind && !options.device.startsWith('/')) throw badParameter(`create ${name}: bind device must be an absolute path: ${options.device}`);
}

async function mountLocal(target: string, options: Record<string, string>): Promise<void> {
  const args = [...(options.type ? ['-t', options.type] : []), ...(options.o ? ['-o', options.o] : []), options.device, target];
  try {
    await run('mount', args);
  } catch (error) {
    throw serverError(`error while mounting volume '${target}': failed to mount local volume: ${error instanceof CommandError ? error.stderr.trim() : String(error)}`);
  }
}

function parseBoolFilter(key: string): (value: string) => boolean {
  return (value) => {
    const lower = value.toLowerCase();
    if (['1', 'true'].includes(lower)) return true;
    if (['0', 'false'].includes(lower)) return false;
    throw badParameter(`invalid filter '${key}=${value}'`);
  };
}

async function directorySize(path: string): Promise<number> {
  let total = 0;
  const stat = await lstat(path);
  if (!stat.isDirectory()) return stat.size;
  for (const entry of await readdir(path)) total += await directorySize(join(path, entry));
  return total;
}
