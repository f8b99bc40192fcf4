// A container's cgroups, found and read: where the runtime put them (cgroup v1 controllers, or
// the v2 unified hierarchy), the processes in them, and their counters turned into the parts
// of Docker's stats answer (pids, blkio, cpu, memory) as moby derives them from containerd's
// cgroup metrics. The parsers and assemblers are pure and take the files' text; the readers
// around them do the I/O.
//
// On a hybrid host (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified without
// controllers of note) the v1 hierarchies are the ones that count, as for runc and Docker.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { BlkioStatEntry, BlkioStats, CpuStats, MemoryStats, NetworkStats } from '../wire/types.js';

export type CgroupVersion = 1 | 2;

/** The controllers berth reads (v1 names). */
export const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'blkio', 'pids', 'freezer', 'devices'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export type CgroupLocation =
  | { version: 1; dirs: Partial<Record<V1Controller, string>> }
  | { version: 2; dir: string };

export interface CgroupMount {
  version: CgroupVersion;
  /** The cgroup path that is the mount's root ("/" unless the mount shows a sub-tree). */
  root: string;
  mountPoint: string;
  /** v1: the controllers (and name=...) of the hierarchy; v2: empty. */
  controllers: string[];
}

export function hostCgroupVersion(cgroupRoot = '/sys/fs/cgroup'): CgroupVersion {
  return existsSync(join(cgroupRoot, 'cgroup.controllers')) ? 2 : 1;
}

/** runc's cgroupfs path for a container: `/<parent>/<id>` (the OCI spec's cgroupsPath). */
export function containerCgroupsPath(cgroupParent: string, id: string): string {
  const parent = cgroupParent.replace(/^\/+|\/+$/g, '');
  return parent ? `/${parent}/${id}` : `/${id}`;
}

// ---- locating ---------------------------------------------------------------------------------

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The cgroup and cgroup2 mounts in a /proc/<pid>/mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (separator < 6 || fields.length < separator + 4) continue;
    const fsType = fields[separator + 1];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const superOptions = fields[separator + 3] ?? '';
    mounts.push({
      version: fsType === 'cgroup2' ? 2 : 1,
      root: unescapeMountField(fields[3]!),
      mountPoint: unescapeMountField(fields[4]!),
      controllers: fsType === 'cgroup2' ? [] : superOptions.split(',').filter((option) => option !== 'rw' && option !== 'ro'),
    });
  }
  return mounts;
}

export interface ProcCgroupEntry { hierarchy: number; controllers: string[]; path: string }

/** /proc/<pid>/cgroup: "4:memory:/berth/<id>", "2:cpu,cpuacct:/...", "0::/..." (v2). */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    entries.push({ hierarchy: Number(line.slice(0, first)), controllers: controllers ? controllers.split(',') : [], path: line.slice(second + 1) });
  }
  return entries;
}

function underMount(mount: CgroupMount, cgroupPath: string): string {
  const inside = relative(mount.root, cgroupPath);
  // A path outside the mount's root (another cgroup namespace) is taken from the mount point.
  return join(mount.mountPoint, inside.startsWith('..') ? cgroupPath : inside);
}

/** Where a process's cgroups are, from its /proc/<pid>/cgroup and the host's cgroup mounts. */
export function locateFromProcCgroup(entries: ProcCgroupEntry[], mounts: CgroupMount[], version: CgroupVersion): CgroupLocation | undefined {
  if (version === 2) {
    const entry = entries.find((candidate) => candidate.hierarchy === 0 && candidate.controllers.length === 0);
    const mount = mounts.find((candidate) => candidate.version === 2);
    return entry && mount ? { version: 2, dir: underMount(mount, entry.path) } : undefined;
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const controller of V1_CONTROLLERS) {
    const entry = entries.find((candidate) => candidate.controllers.includes(controller));
    const mount = mounts.find((candidate) => candidate.version === 1 && candidate.controllers.includes(controller));
    if (entry && mount) dirs[controller] = underMount(mount, entry.path);
  }
  return Object.keys(dirs).length > 0 ? { version: 1, dirs } : undefined;
}

/** Where runc's cgroupfs driver puts a cgroupsPath: under each hierarchy's mount point. */
export function locateFromCgroupsPath(cgroupsPath: string, mounts: CgroupMount[], version: CgroupVersion): CgroupLocation | undefined {
  if (version === 2) {
    const mount = mounts.find((candidate) => candidate.version === 2);
    return mount ? { version: 2, dir: join(mount.mountPoint, cgroupsPath) } : undefined;
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  for (const controller of V1_CONTROLLERS) {
    const mount = mounts.find((candidate) => candidate.version === 1 && candidate.controllers.includes(controller));
    if (mount) dirs[controller] = join(mount.mountPoint, cgroupsPath);
  }
  return Object.keys(dirs).length > 0 ? { version: 1, dirs } : undefined;
}

/**
 * The cgroups of a container: those its init process (pid) is in, which holds whatever the
 * runtime did; without a live pid, where runc's cgroupfs driver puts cgroupsPath.
 */
export async function locateContainerCgroup(pid: number | undefined, cgroupsPath: string): Promise<CgroupLocation | undefined> {
  const version = hostCgroupVersion();
  const mounts = parseCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8'));
  if (pid && pid > 0) {
    const text = await readText(`/proc/${pid}/cgroup`);
    const located = text === undefined ? undefined : locateFromProcCgroup(parseProcCgroup(text), mounts, version);
    if (located) return located;
  }
  return locateFromCgroupsPath(cgroupsPath, mounts, version);
}

/** The directory whose cgroup.procs lists the container's processes. */
function processDirectory(location: CgroupLocation): string | undefined {
  if (location.version === 2) return location.dir;
  const { pids, memory, freezer, cpu, devices } = location.dirs;
  return pids ?? memory ?? freezer ?? cpu ?? devices;
}

/** Every process in the container's cgroup and its descendants (as runc's GetAllPids). */
export async function cgroupProcesses(location: CgroupLocation): Promise<number[]> {
  const root = processDirectory(location);
  if (!root) return [];
  const pids: number[] = [];
  const walk = async (dir: string): Promise<void> => {
    const text = await readText(join(dir, 'cgroup.procs'));
    if (text === undefined) return;
    for (const line of text.split('\n')) if (line.trim()) pids.push(Number(line));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory()) await walk(join(dir, entry.name));
  };
  await walk(root);
  return pids;
}

/** Whether the host's cgroups can weigh block I/O (Docker's sysInfo.BlkioWeight). */
export function blkioWeightSupported(version: CgroupVersion, cgroupRoot = '/sys/fs/cgroup'): boolean {
  if (version === 2) return existsSync(join(cgroupRoot, 'io.weight')) || existsSync(join(cgroupRoot, 'io.bfq.weight'));
  return existsSync(join(cgroupRoot, 'blkio', 'blkio.weight'));
}

// ---- parsers (pure) -------------------------------------------------------------------------

/** A single-number cgroup file; "max" (no limit) and unreadable files give undefined. */
export function parseCgroupNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = text.trim();
  if (value === '' || value === 'max') return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events). */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const values: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (!key || value === undefined) continue;
    const number = Number(value);
    if (Number.isFinite(number)) values[key] = number;
  }
  return values;
}

/** cpuacct.usage_percpu: one nanosecond counter per CPU on one line. */
export function parsePerCpu(text: string | undefined): number[] {
  return (text ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** v1 blkio files ("8:0 Read 4096" lines, a "Total N" line), as containerd reads them. */
export function parseBlkioV1(text: string | undefined): BlkioStatEntry[] {
  const entries: BlkioStatEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const fields = line.split(/[ :]/).filter(Boolean);
    if (fields.length < 3) continue;
    const withOp = fields.length >= 4;
    entries.push({
      major: Number(fields[0]), minor: Number(fields[1]), op: withOp ? fields[2]! : '', value: Number(fields[withOp ? 3 : 2]),
    });
  }
  return entries;
}

export interface IoStatLine { major: number; minor: number; values: Record<string, number> }

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
export function parseIoStatV2(text: string | undefined): IoStatLine[] {
  const lines: IoStatLine[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [device, ...pairs] = line.trim().split(/\s+/);
    const match = /^(\d+):(\d+)$/.exec(device ?? '');
    if (!match) continue;
    const values: Record<string, number> = {};
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq > 0) values[pair.slice(0, eq)] = Number(pair.slice(eq + 1));
    }
    lines.push({ major: Number(match[1]), minor: Number(match[2]), values });
  }
  return lines;
}

const CLOCK_TICKS_PER_SECOND = 100;
const NANOSECONDS_PER_SECOND = 1e9;

/**
 * /proc/stat's first lines: the host's CPU time in nanoseconds (the first seven fields of the
 * "cpu" line, in clock ticks) and the number of "cpuN" lines, as moby's getSystemCPUUsage.
 */
export function parseProcStat(text: string): { systemUsage: number; onlineCpus: number } {
  let systemUsage = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    if (line.length < 4 || !line.startsWith('cpu')) break;
    if (line[3] === ' ') {
      const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((sum, field) => sum + Number(field), 0);
      systemUsage = (ticks * NANOSECONDS_PER_SECOND) / CLOCK_TICKS_PER_SECOND;
    } else if (line[3]! >= '0' && line[3]! <= '9') {
      onlineCpus++;
    }
  }
  return { systemUsage, onlineCpus };
}

/** /proc/<pid>/net/dev: each interface's counters but the loopback's (Docker reports its endpoints). */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const networks: Record<string, NetworkStats> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const values = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (!name || name === 'lo' || values.length < 16 || values.some((value) => !Number.isFinite(value))) continue;
    networks[name] = {
      rx_bytes: values[0]!, rx_packets: values[1]!, rx_errors: values[2]!, rx_dropped: values[3]!,
      tx_bytes: values[8]!, tx_packets: values[9]!, tx_errors: values[10]!, tx_dropped: values[11]!,
    };
  }
  return networks;
}

// ---- assembling Docker's stats parts (pure) ----------------------------------------------------

/** The parts of a stats answer that come from the cgroup (system CPU and networks come from /proc). */
export interface CgroupStats {
  pids_stats: { current?: number; limit?: number };
  blkio_stats: BlkioStats;
  cpu_stats: CpuStats;
  memory_stats: MemoryStats;
}

/** The v1 files a sample reads; undefined where a file is missing. */
export interface CgroupV1Files {
  cpuacctUsage?: string;
  cpuacctUsagePercpu?: string;
  cpuacctStat?: string;
  cpuStat?: string;
  memoryUsage?: string;
  memoryMaxUsage?: string;
  memoryLimit?: string;
  memoryFailcnt?: string;
  memoryStat?: string;
  blkioServiceBytes?: string;
  blkioServiced?: string;
  pidsCurrent?: string;
  pidsMax?: string;
}

export interface CgroupV2Files {
  cpuStat?: string;
  memoryCurrent?: string;
  memoryMax?: string;
  memoryStat?: string;
  memoryEvents?: string;
  ioStat?: string;
  pidsCurrent?: string;
  pidsMax?: string;
}

/** memory.stat keys moby copies into memory_stats.stats on a v1 host. */
const V1_MEMORY_KEYS = [
  'cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault', 'pgmajfault',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'hierarchical_memory_limit',
  'hierarchical_memsw_limit', 'total_cache', 'total_rss', 'total_rss_huge', 'total_mapped_file', 'total_dirty',
  'total_writeback', 'total_pgpgin', 'total_pgpgout', 'total_pgfault', 'total_pgmajfault', 'total_inactive_anon',
  'total_active_anon', 'total_inactive_file', 'total_active_file', 'total_unevictable',
];

/** memory.stat keys moby copies on a v2 host. */
const V2_MEMORY_KEYS = [
  'anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty', 'file_writeback', 'anon_thp',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'slab_reclaimable', 'slab_unreclaimable',
  'pgfault', 'pgmajfault', 'workingset_refault', 'workingset_activate', 'workingset_nodereclaim', 'pgrefill', 'pgscan',
  'pgsteal', 'pgactivate', 'pgdeactivate', 'pglazyfree', 'pglazyfreed', 'thp_fault_alloc', 'thp_collapse_alloc',
];

function pick(values: Record<string, number>, keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.map((key) => [key, values[key] ?? 0]));
}

function pidsStats(current: string | undefined, max: string | undefined): CgroupStats['pids_stats'] {
  const stats: CgroupStats['pids_stats'] = {};
  const currentValue = parseCgroupNumber(current);
  const limit = parseCgroupNumber(max);
  if (currentValue) stats.current = currentValue;
  if (limit) stats.limit = limit;
  return stats;
}

/** Without a limit of its own, a container's limit is the machine's memory (as Docker reports it). */
function clampLimit(limit: number | undefined, machineMemory: number): number | undefined {
  if (limit === undefined) return machineMemory > 0 ? machineMemory : undefined;
  return machineMemory > 0 && limit > machineMemory ? machineMemory : limit;
}

/** memory_stats without its zero fields, in Docker's key order (every field is omitempty). */
function memoryStats(fields: { usage?: number; maxUsage?: number; stats: Record<string, number>; failcnt?: number; limit?: number }): MemoryStats {
  const stats: MemoryStats = {};
  if (fields.usage) stats.usage = fields.usage;
  if (fields.maxUsage) stats.max_usage = fields.maxUsage;
  stats.stats = fields.stats;
  if (fields.failcnt) stats.failcnt = fields.failcnt;
  if (fields.limit) stats.limit = fields.limit;
  return stats;
}

export function cgroupV1Stats(files: CgroupV1Files, machineMemory: number): CgroupStats {
  const cpuacct = parseFlatKeyed(files.cpuacctStat);
  const throttling = parseFlatKeyed(files.cpuStat);
  const perCpu = parsePerCpu(files.cpuacctUsagePercpu);
  const cpu: CpuStats = {
    cpu_usage: {
      total_usage: parseCgroupNumber(files.cpuacctUsage) ?? 0,
      ...(perCpu.length > 0 ? { percpu_usage: perCpu } : {}),
      usage_in_kernelmode: ((cpuacct.system ?? 0) * NANOSECONDS_PER_SECOND) / CLOCK_TICKS_PER_SECOND,
      usage_in_usermode: ((cpuacct.user ?? 0) * NANOSECONDS_PER_SECOND) / CLOCK_TICKS_PER_SECOND,
    },
    throttling_data: {
      periods: throttling.nr_periods ?? 0, throttled_periods: throttling.nr_throttled ?? 0, throttled_time: throttling.throttled_time ?? 0,
    },
  };
  const serviceBytes = parseBlkioV1(files.blkioServiceBytes);
  const serviced = parseBlkioV1(files.blkioServiced);
  return {
    pids_stats: pidsStats(files.pidsCurrent, files.pidsMax),
    // moby copies every list containerd fills, so an unread one is [] rather than null.
    blkio_stats: {
      io_service_bytes_recursive: serviceBytes, io_serviced_recursive: serviced, io_queue_recursive: [],
      io_service_time_recursive: [], io_wait_time_recursive: [], io_merged_recursive: [], io_time_recursive: [], sectors_recursive: [],
    },
    cpu_stats: cpu,
    memory_stats: memoryStats({
      usage: parseCgroupNumber(files.memoryUsage),
      maxUsage: parseCgroupNumber(files.memoryMaxUsage),
      stats: pick(parseFlatKeyed(files.memoryStat), V1_MEMORY_KEYS),
      failcnt: parseCgroupNumber(files.memoryFailcnt),
      limit: clampLimit(parseCgroupNumber(files.memoryLimit), machineMemory),
    }),
  };
}

export function cgroupV2Stats(files: CgroupV2Files, machineMemory: number): CgroupStats {
  const cpu = parseFlatKeyed(files.cpuStat);
  const io = parseIoStatV2(files.ioStat);
  const serviceBytes = io.flatMap(({ major, minor, values }) => [
    { major, minor, op: 'read', value: values.rbytes ?? 0 },
    { major, minor, op: 'write', value: values.wbytes ?? 0 },
  ]);
  return {
    pids_stats: pidsStats(files.pidsCurrent, files.pidsMax),
    blkio_stats: {
      io_service_bytes_recursive: serviceBytes.length > 0 ? serviceBytes : null, io_serviced_recursive: null, io_queue_recursive: null,
      io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    cpu_stats: {
      cpu_usage: {
        total_usage: (cpu.usage_usec ?? 0) * 1000, usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000, usage_in_usermode: (cpu.user_usec ?? 0) * 1000,
      },
      throttling_data: { periods: cpu.nr_periods ?? 0, throttled_periods: cpu.nr_throttled ?? 0, throttled_time: (cpu.throttled_usec ?? 0) * 1000 },
    },
    memory_stats: memoryStats({
      usage: parseCgroupNumber(files.memoryCurrent),
      stats: pick(parseFlatKeyed(files.memoryStat), V2_MEMORY_KEYS),
      failcnt: parseFlatKeyed(files.memoryEvents).oom,
      limit: clampLimit(parseCgroupNumber(files.memoryMax), machineMemory),
    }),
  };
}

// ---- reading ----------------------------------------------------------------------------------

async function readText(path: string | undefined): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads each file once, all at the same time. */
async function readAll<K extends string>(paths: Record<K, string | undefined>): Promise<Partial<Record<K, string>>> {
  const keys = Object.keys(paths) as K[];
  const texts = await Promise.all(keys.map((key) => readText(paths[key])));
  const files: Partial<Record<K, string>> = {};
  keys.forEach((key, index) => { if (texts[index] !== undefined) files[key] = texts[index]; });
  return files;
}

/** The container's counters now; throws when its memory (or v2) cgroup is gone. */
export async function readCgroupStats(location: CgroupLocation, machineMemory: number): Promise<CgroupStats> {
  if (location.version === 2) {
    const at = (name: string) => join(location.dir, name);
    const files = await readAll({
      cpuStat: at('cpu.stat'), memoryCurrent: at('memory.current'), memoryMax: at('memory.max'), memoryStat: at('memory.stat'),
      memoryEvents: at('memory.events'), ioStat: at('io.stat'), pidsCurrent: at('pids.current'), pidsMax: at('pids.max'),
    });
    if (files.cpuStat === undefined && files.memoryStat === undefined) throw new Error(`cgroup ${location.dir} is gone`);
    return cgroupV2Stats(files, machineMemory);
  }
  const { cpu, cpuacct, memory, blkio, pids } = location.dirs;
  const at = (dir: string | undefined, name: string) => (dir ? join(dir, name) : undefined);
  const files = await readAll({
    cpuacctUsage: at(cpuacct, 'cpuacct.usage'), cpuacctUsagePercpu: at(cpuacct, 'cpuacct.usage_percpu'), cpuacctStat: at(cpuacct, 'cpuacct.stat'),
    cpuStat: at(cpu, 'cpu.stat'),
    memoryUsage: at(memory, 'memory.usage_in_bytes'), memoryMaxUsage: at(memory, 'memory.max_usage_in_bytes'),
    memoryLimit: at(memory, 'memory.limit_in_bytes'), memoryFailcnt: at(memory, 'memory.failcnt'), memoryStat: at(memory, 'memory.stat'),
    blkioServiceBytes: at(blkio, 'blkio.throttle.io_service_bytes_recursive'), blkioServiced: at(blkio, 'blkio.throttle.io_serviced_recursive'),
    pidsCurrent: at(pids, 'pids.current'), pidsMax: at(pids, 'pids.max'),
  });
  if (files.memoryStat === undefined && files.cpuacctUsage === undefined) throw new Error(`cgroup ${memory ?? cpuacct ?? ''} is gone`);
  return cgroupV1Stats(files, machineMemory);
}

/** The host's CPU time and online CPUs (/proc/stat). */
export async function readSystemCpu(): Promise<{ systemUsage: number; onlineCpus: number }> {
  return parseProcStat(await readFile('/proc/stat', 'utf8'));
}

/** The container's interfaces, read from its network namespace through its init process. */
export async function readNetworks(pid: number): Promise<Record<string, NetworkStats>> {
  const text = await readText(`/proc/${pid}/net/dev`);
  return text === undefined ? {} : parseNetDev(text);
}
