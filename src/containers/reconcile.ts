// Start-up reconciliation of what containers leave on the host (conmon shims, the runtime's
// state, overlay mounts, cgroups, exec-root entries) with the container records.
//
// A record is written before anything of its run exists (service.ts marks it `starting`
// before the mount and the shim), so after a kill -9 of berthd:
//   - a record still marked starting is completed when its container did come up (the shim
//     lives and the runtime says running or paused), and rolled back otherwise (its previous
//     state stays; what the start made is removed), as dockerd records a container whose
//     process is gone as not running. A container the runtime has only created is rolled back
//     too: its conmon has still to send the pid on its sync pipe, whose reader (the killed
//     daemon) is gone, and the SIGPIPE ends it a moment later, so a container started then
//     would run without its shim;
//   - whatever no running record claims (a shim, a runtime container, a mount under a
//     container's directory, its cgroup under the daemon's parent, shims/, exits/ or sockets/
//     entries) is stopped and removed. Everything is found through this daemon's own roots
//     (conmon's command line names the exec root), never through what daemons may share.
import { open, readFile, readdir, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { OciRuntime, RuntimeState } from '../runtime/oci-runtime.js';
import { unmount } from '../layers/overlay.js';
import { containerCgroupsPath } from './cgroups.js';

const CONTAINER_ID = /^[0-9a-f]{64}$/;

export interface ShimProcess {
  pid: number;
  /** conmon's -c: the container the shim (or exec session) belongs to. */
  containerId: string;
  /** conmon's -u: the container's ID for its own shim, the exec ID for an exec session. */
  uuid: string;
}

/** The conmon processes of this daemon: those whose exit directory or persist directory lies in its exec root. */
export async function findShims(execRoot: string): Promise<ShimProcess[]> {
  const shims: ShimProcess[] = [];
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  } catch {
    return shims;
  }
  // One buffer for all: readFile takes 64 KB per file whose size it cannot know (all of /proc),
  // ~14 MB of garbage for a hundred processes that the allocator keeps long after.
  const buffer = Buffer.allocUnsafe(16384);
  for (const pid of pids) {
    let args: string[];
    try {
      args = (await readSmallFile(`/proc/${pid}/cmdline`, buffer)).split('\0');
    } catch {
      continue;
    }
    const shim = parseShimArgs(args, execRoot);
    if (shim) shims.push({ pid: Number(pid), ...shim });
  }
  return shims;
}

/** A file read through `buffer` (in turns when it does not fit), as text. */
async function readSmallFile(path: string, buffer: Buffer): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const parts: Buffer[] = [];
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return Buffer.concat(parts).toString('utf8');
      parts.push(Buffer.from(buffer.subarray(0, bytesRead)));
    }
  } finally {
    await handle.close();
  }
}

/** The container and session a conmon command line belongs to, when it is one of `execRoot`'s. */
export function parseShimArgs(args: readonly string[], execRoot: string): { containerId: string; uuid: string } | undefined {
  if (!args[0] || !/(^|\/)conmon$/.test(args[0])) return undefined;
  const option = (name: string) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const prefix = execRoot.replace(/\/+$/, '') + '/';
  const exitDir = option('--exit-dir') ?? '';
  const persistDir = option('--persist-dir') ?? '';
  if (!exitDir.startsWith(prefix) && !persistDir.startsWith(prefix)) return undefined;
  const containerId = option('-c');
  if (!containerId) return undefined;
  return { containerId, uuid: option('-u') ?? containerId };
}

/** What a record marked `starting` turns into at start-up. */
export type InterruptedStart = 'adopt' | 'roll back';

/** Pure: the runtime's view of the container and whether its shim lives decide. */
export function resolveInterruptedStart(state: RuntimeState | undefined, shimAlive: boolean, exited: boolean): InterruptedStart {
  if (!shimAlive || exited || !state) return 'roll back';
  if (state.status === 'running' || state.status === 'paused') return 'adopt';
  return 'roll back';
}

export interface OrphanSweepOptions {
  execRoot: string;
  containersRoot: string;
  cgroupParent: string;
  runtimes: Iterable<OciRuntime>;
  /** Whether the container with this ID is running (or waiting out a restart) per its record. */
  claimed: (id: string) => boolean;
  /** Whether a record with this ID exists (its exit file is then the exit watcher's). */
  known: (id: string) => boolean;
  /** The container's own cgroup parent when its record sets one (HostConfig.CgroupParent). */
  cgroupParentOf: (id: string) => string | undefined;
  /** Runs the clean-up of one ID under that container's lock (start and exit handling take it too). */
  locked: (id: string, work: () => Promise<void>) => Promise<void>;
  log: (message: string) => void;
}

/** Stops and removes everything of containers that no running record claims. Never throws. */
export async function sweepOrphans(options: OrphanSweepOptions): Promise<void> {
  const shims = await findShims(options.execRoot);
  const ids = new Set<string>();
  for (const shim of shims) ids.add(shim.containerId);
  for (const runtime of options.runtimes) for (const id of await listDirectory(runtime.stateRoot)) ids.add(id);
  for (const name of ['shims', 'exits', 'sockets']) for (const id of await listDirectory(join(options.execRoot, name))) ids.add(id);
  for (const id of await listDirectory(options.containersRoot)) ids.add(id);
  // Cgroups are not searched for IDs: another daemon (other roots) may share the cgroup parent.
  // A container of ours has its directory under containersRoot until it is removed, which finds its cgroups.
  const mounts = await mountsUnder(options.containersRoot);
  // Each directory the checks look into is read once for the whole sweep, not once per
  // container: with a thousand containers that is the difference between milliseconds and
  // seconds of start-up. What the sweep removes for one ID is never looked for again.
  const list = snapshotLister();
  for (const id of ids) {
    if (!CONTAINER_ID.test(id)) continue;
    await options.locked(id, async () => {
      if (options.claimed(id)) return;
      const idShims = shims.filter((shim) => shim.containerId === id);
      // A live shim may still make the runtime's container after the snapshot: look afresh then.
      const leftovers = await removeContainerLeftovers(id, {
        ...options, list: idShims.length > 0 ? undefined : list, shims: idShims,
        mounts: mounts.filter((mount) => mount.startsWith(join(options.containersRoot, id) + '/')),
      });
      if (leftovers.length > 0) options.log(`removed what an unfinished run of container ${id} left: ${leftovers.join(', ')}`);
    }).catch((error: unknown) => options.log(`cleaning up container ${id}: ${String(error)}`));
  }
}

/**
 * Everything one container's run may have left, gone: its shims, the runtime's container,
 * mounts, cgroups and exec-root entries. Returns what it found, for the log.
 */
export async function removeContainerLeftovers(id: string, options: OrphanSweepOptions & { shims: ShimProcess[]; mounts: string[]; list?: DirectoryLister }): Promise<string[]> {
  const list = options.list ?? freshLister;
  const found: string[] = [];
  // The shims first: a conmon still running `runtime create` would otherwise make the runtime's container after we looked.
  for (const shim of options.shims) {
    found.push(`conmon ${shim.pid}`);
    killQuietly(shim.pid);
  }
  if (options.shims.length > 0) await waitGone(options.shims.map((shim) => shim.pid), 2000);
  for (const runtime of options.runtimes) {
    if (!(await list(runtime.stateRoot)).has(id)) continue;
    found.push(`${runtime.name} state`);
    await runtime.kill(id, 9, true).catch(() => undefined);
    await runtime.delete(id, true).catch((error: unknown) => options.log(`${runtime.name} delete ${id}: ${String(error)}`));
  }
  for (const mount of options.mounts.sort((a, b) => b.length - a.length)) {
    found.push(`mount ${mount}`);
    await unmount(mount).catch((error: unknown) => options.log(String(error)));
  }
  if (!options.known(id) && (await list(options.containersRoot)).has(id)) {
    found.push(`containers/${id}`);
    await rm(join(options.containersRoot, id), { recursive: true, force: true });
  }
  const parents = new Set([options.cgroupParent, options.cgroupParentOf(id) ?? options.cgroupParent]);
  for (const parent of parents) {
    for (const dir of await cgroupDirectories(containerCgroupsPath(parent, id), list)) {
      found.push(`cgroup ${dir}`);
      await removeCgroup(dir);
    }
  }
  for (const [name, recursive] of [['shims', true], ['exits', false], ['sockets', false]] as const) {
    const path = join(options.execRoot, name, id);
    if (!(await list(join(options.execRoot, name))).has(id)) continue;
    // An exit file of a container with a record is the exit watcher's; only a stray one goes here.
    if (name === 'exits' && options.known(id)) continue;
    // An exec session's link (into shims/<container>/execs/) is the exec service's to collect.
    if (name === 'sockets' && ((await readlink(path).catch(() => '')).includes('/shims/') || options.known(id))) continue;
    found.push(`${name}/${id}`);
    await rm(path, { recursive, force: true, maxRetries: 5, retryDelay: 50 });
  }
  return found;
}

/** A directory's entries (none when it cannot be read). */
type DirectoryLister = (path: string) => Promise<Set<string>>;

const freshLister: DirectoryLister = async (path) => new Set(await listDirectory(path));

/** Reads each directory once; later calls answer that first reading. */
function snapshotLister(): DirectoryLister {
  const listings = new Map<string, Promise<Set<string>>>();
  return (path) => {
    let listing = listings.get(path);
    if (!listing) {
      listing = freshLister(path);
      listings.set(path, listing);
    }
    return listing;
  };
}

async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

async function mountsUnder(root: string): Promise<string[]> {
  const prefix = root.replace(/\/+$/, '') + '/';
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').map((line) => line.split(' ')[4])
    .filter((point): point is string => !!point)
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => point.startsWith(prefix));
}

/** Every hierarchy's directory for a cgroupfs path (v1: one per mounted controller set; v2: one). */
async function cgroupDirectories(cgroupsPath: string, list: DirectoryLister): Promise<string[]> {
  const dirs: string[] = [];
  const root = '/sys/fs/cgroup';
  const candidates = [join(root, cgroupsPath), ...[...(await list(root))].map((hierarchy) => join(root, hierarchy, cgroupsPath))];
  for (const dir of new Set(candidates)) {
    // The parent's listing (shared by every container under the same parent) says whether to look.
    if (!(await list(dirname(dir))).has(basename(dir))) continue;
    if ((await listDirectory(dir)).length > 0) dirs.push(dir);
  }
  return dirs;
}

/** Kills what is left in a cgroup and removes it (children first). */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    for (const entry of await listDirectory(dir)) {
      const child = join(dir, entry);
      if ((await listDirectory(child)).length > 0) await removeCgroup(child);
    }
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter(Boolean)) killQuietly(Number(pid));
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      // A frozen cgroup keeps its killed processes: thaw it (v1 freezer, v2 cgroup.freeze).
      await writeFile(join(dir, 'freezer.state'), 'THAWED').catch(() => undefined);
      await writeFile(join(dir, 'cgroup.freeze'), '0').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch { /* gone already */ }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    if (alive.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
