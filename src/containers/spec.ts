// One pure function from (merged container config, host config, daemon facts) to the OCI
// runtime spec berthd gives runc/crun, producing what Docker's daemon produces (moby
// daemon/oci_linux.go on top of oci/defaults.go, Docker 24 / API 1.43); plus the create-time
// host-config checks that Docker makes, with Docker's wording.

import type { ContainerConfig, HostConfig } from '../wire/types.js';
import { badParameter } from '../errdefs/errors.js';
import { commandLine } from './merge-config.js';
import type {
  OciCpu, OciDeviceCgroupRule, OciLinuxDevice, OciMemory, OciMount, OciNamespace, OciNamespaceType,
  OciResources, OciRlimit, OciSeccomp, OciSpec,
} from '../runtime/oci-types.js';
import { type DockerSeccompProfile, loadDefaultProfile, parseSeccompProfile, seccompFromDockerProfile } from './seccomp.js';
import { parseDeviceCgroupRule } from './devices.js';
import type { IdMapping } from '../util/id-mappings.js';
import { ALL_CAPABILITIES } from '../runtime/capabilities.js';

export const OCI_VERSION = '1.0.2-dev';
export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
export const MIN_MEMORY = 6 * 1024 * 1024;
const CONTAINER_INIT_PATH = '/sbin/docker-init';

/** Docker's default capability set (moby oci/caps DefaultCapabilities), in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export { ALL_CAPABILITIES };
export { capabilitiesFromMask } from '../runtime/capabilities.js';

const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Docker's device cgroup rules; runc adds its own allow-list (pts, tun, ...) after these. */
const DEFAULT_DEVICE_RULES: readonly OciDeviceCgroupRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

/** HostConfig fields Docker has that src/api/types.ts does not (yet) declare; all optional. */
export interface HostConfigExtras {
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  CgroupParent?: string;
}
export type SpecHostConfig = HostConfig & HostConfigExtras;

/** A mount resolved by the volumes code (binds, named volumes, --mount tmpfs). */
export type ContainerMount =
  | { type: 'bind'; source: string; destination: string; readonly?: boolean; propagation?: string; nonRecursive?: boolean }
  | { type: 'tmpfs'; destination: string; options?: string };

export interface SpecInput {
  /** 64-hex container id */
  id: string;
  /** the merged container config (after mergeImageConfig); Hostname already filled in */
  config: ContainerConfig;
  hostConfig: SpecHostConfig;
  /** absolute path of the mounted root filesystem (overlay merged dir) */
  rootfsPath: string;
  hostsPath: string;
  hostnamePath: string;
  resolvConfPath: string;
  /** from resolveUser; additionalGids are the supplementary groups (the primary gid is added here) */
  user: { uid: number; gid: number; additionalGids: number[]; home: string };
  /** binds, volumes and tmpfs mounts beyond HostConfig.Tmpfs */
  mounts?: ContainerMount[];
  /** --device nodes, already looked up on the host by the caller */
  devices?: Array<{ device: OciLinuxDevice; cgroupPermissions: string }>;
  daemon: {
    /** cgroupfs parent, e.g. "berth"; cgroupsPath = `/${cgroupParent}/${id}` */
    cgroupParent: string;
    seccompProfile: DockerSeccompProfile | 'unconfined';
    /** the host's capability bounding set; a container never gets more */
    hostCapabilities: string[];
    /** process.arch */
    arch: string;
    /** joined instead of a new network namespace (bridge sandbox, or NetworkMode container:X) */
    networkNamespacePath?: string;
    /** for IpcMode container:X */
    ipcNamespacePath?: string;
    /** for PidMode container:X */
    pidNamespacePath?: string;
    /** bind-mounted at /dev/shm (IpcMode host: defaults to the host's /dev/shm; container:X: that container's) */
    shmPath?: string;
    /** host path of the init binary (tini) for --init */
    initPath?: string;
    /** daemon-wide --init default when HostConfig.Init is null */
    init?: boolean;
    /** a cgroup namespace by default (Docker does so on cgroup v2 hosts) */
    cgroupNamespace?: boolean;
    /** host device nodes given to privileged containers */
    hostDevices?: OciLinuxDevice[];
    /** `uname -r`, for the seccomp profile's minKernel rules; default: this host's */ kernelVersion?: string;
    /** --userns-remap: a user namespace with these mappings, unless UsernsMode is host */ idMappings?: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  };
}

// ---------------------------------------------------------------------------------------------
// Security options and capabilities

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** "builtin", "unconfined" or a profile's JSON text; undefined = the daemon's profile */
  seccomp?: string;
  apparmor?: string;
  labels: string[];
}

const GO_BOOL: Record<string, boolean> = {
  1: true, t: true, T: true, TRUE: true, true: true, True: true,
  0: false, f: false, F: false, FALSE: false, false: false, False: false,
};

/** HostConfig.SecurityOpt as Docker reads it (daemon parseSecurityOpt). */
export function parseSecurityOpt(securityOpt: string[] | null | undefined): SecurityOptions {
  const parsed: SecurityOptions = { noNewPrivileges: false, labels: [] };
  for (const opt of securityOpt ?? []) {
    if (opt === 'no-new-privileges') {
      parsed.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') {
      parsed.labels.push('disable');
      continue;
    }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw badParameter(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const at = opt.indexOf(sep);
    const key = opt.slice(0, at);
    const value = opt.slice(at + 1);
    switch (key) {
      case 'label': parsed.labels.push(value); break;
      case 'apparmor': parsed.apparmor = value; break;
      case 'seccomp': parsed.seccomp = value; break;
      case 'no-new-privileges': {
        const flag = GO_BOOL[value];
        if (flag === undefined) throw badParameter(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        parsed.noNewPrivileges = flag;
        break;
      }
      default: throw badParameter(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return parsed;
}

/**
 * CapAdd/CapDrop entries upper-cased with a CAP_ prefix ("ALL" kept), checked against the known
 * capabilities and, when given, the host's set (Docker: NormalizeLegacyCapabilities).
 */
export function normalizeCapabilities(names: string[] | null | undefined, field: 'CapAdd' | 'CapDrop', hostCapabilities?: string[]): string[] {
  const normalized: string[] = [];
  for (const raw of names ?? []) {
    let name = raw.toUpperCase();
    if (name !== 'ALL' && !name.startsWith('CAP_')) name = `CAP_${name}`;
    if (name !== 'ALL' && !ALL_CAPABILITIES.includes(name)) {
      throw badParameter(`invalid ${field}: unknown capability: ${JSON.stringify(name)}`);
    }
    if (name !== 'ALL' && hostCapabilities && hostCapabilities.length > 0 && !hostCapabilities.includes(name)) {
      throw badParameter(`invalid ${field}: capability not supported by your kernel or not available in the current environment: ${JSON.stringify(name)}`);
    }
    normalized.push(name);
  }
  return normalized;
}

/**
 * The container's capability set: Docker's defaults with CapAdd/CapDrop applied (or all of the
 * host's when privileged), never beyond the host's bounding set.
 */
export function containerCapabilities(hostConfig: HostConfig, hostCapabilitiesOrEmpty: string[]): string[] {
  // Like Docker, when the host's set could not be read, assume every known capability.
  const hostCapabilities = hostCapabilitiesOrEmpty.length > 0 ? hostCapabilitiesOrEmpty : [...ALL_CAPABILITIES];
  const onHost = (cap: string) => hostCapabilities.includes(cap);
  if (hostConfig.Privileged) return [...hostCapabilities];
  const drops = normalizeCapabilities(hostConfig.CapDrop, 'CapDrop', hostCapabilities);
  const adds = normalizeCapabilities(hostConfig.CapAdd, 'CapAdd', hostCapabilities);
  let caps: string[];
  if (adds.includes('ALL')) {
    caps = hostCapabilities.filter((cap) => !drops.includes(cap));
  } else if (drops.includes('ALL')) {
    caps = adds;
  } else {
    caps = [...DEFAULT_CAPABILITIES.filter((cap) => !drops.includes(cap)), ...adds];
  }
  return [...new Set(caps)].filter(onHost);
}

// ---------------------------------------------------------------------------------------------
// Create-time validation

const isContainerMode = (mode: string | undefined) => !!mode && mode.startsWith('container:');
const containerModeTarget = (mode: string) => mode.slice('container:'.length);

/** Parses a cpuset list ("0-2,4"); throws Docker's "invalid format" for bad syntax. */
function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!range) throw new Error(`invalid format: ${list}`);
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first) throw new Error(`invalid format: ${list}`);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/**
 * Docker's checks of a container's HostConfig at create time (daemon verifyContainerSettings:
 * restart policy, capabilities, resources, namespace modes, security options). Throws
 * badParameter with Docker's message; returns nothing when the config is acceptable.
 */
export function validateHostConfig(hc: SpecHostConfig, host: { hostCpus: number; hostCapabilities?: string[] }): void {
  const restart = hc.RestartPolicy;
  const restartName = restart?.Name ?? '';
  if (hc.AutoRemove && restartName !== '' && restartName !== 'no') {
    throw badParameter("can't create 'AutoRemove' container with restart policy");
  }
  const retries = restart?.MaximumRetryCount ?? 0;
  switch (restartName) {
    case 'always': case 'unless-stopped': case 'no':
      if (retries !== 0) throw badParameter(`maximum retry count cannot be used with restart policy '${restartName}'`);
      break;
    case 'on-failure':
      if (retries < 0) throw badParameter('maximum retry count cannot be negative');
      break;
    case '':
      break;
    default:
      throw badParameter(`invalid restart policy '${restartName as string}'`);
  }
  normalizeCapabilities(hc.CapAdd, 'CapAdd', host.hostCapabilities);
  normalizeCapabilities(hc.CapDrop, 'CapDrop', host.hostCapabilities);

  const memory = hc.Memory ?? 0;
  const swap = hc.MemorySwap ?? 0;
  const reservation = hc.MemoryReservation ?? 0;
  if (memory !== 0 && memory < MIN_MEMORY) throw badParameter('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap > 0 && swap < memory) {
    throw badParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (memory === 0 && swap > 0) {
    throw badParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (reservation > 0 && reservation < MIN_MEMORY) throw badParameter('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw badParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  }

  const nanoCpus = hc.NanoCpus ?? 0;
  const period = hc.CpuPeriod ?? 0;
  const quota = hc.CpuQuota ?? 0;
  if (nanoCpus > 0 && period > 0) throw badParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nanoCpus > 0 && quota > 0) throw badParameter('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nanoCpus !== 0 && (nanoCpus < 0 || nanoCpus > host.hostCpus * 1e9)) {
    throw badParameter(`Range of CPUs is from 0.01 to ${host.hostCpus}.00, as there are only ${host.hostCpus} CPUs available`);
  }
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw badParameter('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (quota > 0 && quota < 1000) throw badParameter('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if ((hc.CpuShares ?? 0) < 0) throw badParameter('shares: invalid argument');
  if (hc.CpusetCpus) {
    let requested: number[];
    try {
      requested = parseCpuList(hc.CpusetCpus);
    } catch (err) {
      throw badParameter(`Invalid value ${hc.CpusetCpus} for cpuset cpus: ${(err as Error).message}`);
    }
    if (requested.some((cpu) => cpu >= host.hostCpus)) {
      const available = host.hostCpus === 1 ? '0' : `0-${host.hostCpus - 1}`;
      throw badParameter(`Requested CPUs are not available - requested ${hc.CpusetCpus}, available: ${available}`);
    }
  }

  const ipc = hc.IpcMode ?? '';
  if (!['', 'none', 'private', 'shareable', 'host'].includes(ipc) && !isContainerMode(ipc)) {
    throw badParameter(`invalid IPC mode: ${ipc}`);
  }
  const pid = hc.PidMode ?? '';
  if (!(pid === '' || pid === 'host' || (isContainerMode(pid) && containerModeTarget(pid) !== ''))) {
    throw badParameter(`invalid PID mode: ${pid}`);
  }
  if ((hc.ShmSize ?? 0) < 0) throw badParameter('SHM size can not be less than 0');
  const uts = hc.UTSMode ?? '';
  if (uts !== '' && uts !== 'host') throw badParameter(`invalid UTS mode: ${uts}`);
  const oomScoreAdj = hc.OomScoreAdj ?? 0;
  if (oomScoreAdj < -1000 || oomScoreAdj > 1000) {
    throw badParameter(`Invalid value ${oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }

  const security = parseSecurityOpt(hc.SecurityOpt);
  if (security.seccomp && security.seccomp !== 'unconfined' && security.seccomp !== 'builtin') {
    try {
      parseSeccompProfile(security.seccomp);
    } catch (err) {
      throw badParameter((err as Error).message);
    }
  }
}

/**
 * The defaults Docker writes into a new container's HostConfig (daemon adaptContainerSettings),
 * so that inspect shows them: swap = 2 x memory, 64 MiB /dev/shm, private IPC, OOM killer on.
 */
export function applyHostConfigDefaults(hc: HostConfig, defaults: { shmSize?: number; ipcMode?: string } = {}): HostConfig {
  const adapted: HostConfig = { ...hc };
  if ((adapted.Memory ?? 0) > 0 && (adapted.MemorySwap ?? 0) === 0) adapted.MemorySwap = (adapted.Memory ?? 0) * 2;
  if (!adapted.ShmSize) adapted.ShmSize = defaults.shmSize ?? DEFAULT_SHM_SIZE;
  if (!adapted.IpcMode) adapted.IpcMode = defaults.ipcMode ?? 'private';
  if (adapted.OomKillDisable === undefined || adapted.OomKillDisable === null) adapted.OomKillDisable = false;
  // The log is written in conmon's k8s-file format and read back as Docker's json-file driver
  // reads its own (docker-py's run reads this to decide whether it can fetch the logs).
  if (!adapted.LogConfig?.Type) adapted.LogConfig = { Type: 'json-file', Config: adapted.LogConfig?.Config ?? {} };
  return adapted;
}

// ---------------------------------------------------------------------------------------------
// Spec pieces

/** Docker's ReplaceOrAppendEnvValues: same key replaces, "KEY" without "=" removes. */
export function replaceOrAppendEnv(defaults: string[], overrides: string[]): string[] {
  const env = [...defaults];
  const keyOf = (entry: string) => (entry.includes('=') ? entry.slice(0, entry.indexOf('=')) : entry);
  for (const entry of overrides) {
    const index = env.findIndex((existing) => existing !== '' && keyOf(existing) === keyOf(entry));
    if (!entry.includes('=')) {
      if (index >= 0) env[index] = '';
    } else if (index >= 0) {
      env[index] = entry;
    } else {
      env.push(entry);
    }
  }
  return env.filter((entry) => entry !== '');
}

function processEnv(config: ContainerConfig, home: string): string[] {
  const defaults = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${config.Hostname ?? ''}`];
  if (config.Tty) defaults.push('TERM=xterm');
  const env = replaceOrAppendEnv(defaults, config.Env ?? []);
  // runc would set HOME from the user's passwd entry anyway; writing it makes crun agree.
  if (!env.some((entry) => entry.startsWith('HOME='))) env.push(`HOME=${home || '/'}`);
  return env;
}

function memoryResources(hc: HostConfig): OciMemory | undefined {
  const memory: OciMemory = {};
  const limit = hc.Memory ?? 0;
  let swap = hc.MemorySwap ?? 0;
  if (limit > 0 && swap === 0) swap = limit * 2;
  if (limit > 0) memory.limit = limit;
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation;
  if (swap > 0) memory.swap = swap;
  if (hc.OomKillDisable !== undefined && hc.OomKillDisable !== null) memory.disableOOMKiller = hc.OomKillDisable;
  return Object.keys(memory).length > 0 ? memory : undefined;
}

function cpuResources(hc: HostConfig): OciCpu | undefined {
  const cpu: OciCpu = {};
  if ((hc.CpuShares ?? 0) > 0) cpu.shares = hc.CpuShares;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  const nanoCpus = hc.NanoCpus ?? 0;
  if (nanoCpus > 0) {
    const period = 100000;
    cpu.period = period;
    cpu.quota = Math.trunc((nanoCpus * period) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  return Object.keys(cpu).length > 0 ? cpu : undefined;
}

function pidsResources(hc: HostConfig): { limit: number } | undefined {
  if (hc.PidsLimit === undefined || hc.PidsLimit === null) return undefined;
  return { limit: hc.PidsLimit > 0 ? hc.PidsLimit : -1 };
}

function rlimits(hc: HostConfig): OciRlimit[] | undefined {
  if (!hc.Ulimits?.length) return undefined;
  return hc.Ulimits.map((ulimit) => ({ type: `RLIMIT_${ulimit.Name.toUpperCase()}`, soft: ulimit.Soft, hard: ulimit.Hard }));
}

function namespaces(input: SpecInput): OciNamespace[] {
  const { hostConfig: hc, daemon } = input;
  const list: OciNamespace[] = [{ type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }];
  const remove = (type: OciNamespaceType) => {
    const index = list.findIndex((ns) => ns.type === type);
    if (index >= 0) list.splice(index, 1);
  };
  const join = (type: OciNamespaceType, path: string) => {
    const ns = list.find((entry) => entry.type === type);
    if (ns) ns.path = path;
  };
  const requirePath = (path: string | undefined, what: string, mode: string): string => {
    if (!path) throw new Error(`${what} mode ${mode} needs the other container's namespace path`);
    return path;
  };

  const network = hc.NetworkMode ?? '';
  if (!input.config.NetworkDisabled) {
    if (network === 'host') remove('network');
    else if (isContainerMode(network)) join('network', requirePath(daemon.networkNamespacePath, 'network', network));
    else if (daemon.networkNamespacePath) join('network', daemon.networkNamespacePath);
  }

  const ipc = hc.IpcMode ?? '';
  if (ipc === 'host') remove('ipc');
  else if (isContainerMode(ipc)) join('ipc', requirePath(daemon.ipcNamespacePath, 'IPC', ipc));

  const pid = hc.PidMode ?? '';
  if (pid === 'host') remove('pid');
  else if (isContainerMode(pid)) join('pid', requirePath(daemon.pidNamespacePath, 'PID', pid));

  if (hc.UTSMode === 'host') remove('uts');

  const cgroupns = hc.CgroupnsMode || (daemon.cgroupNamespace ? 'private' : 'host');
  if (cgroupns === 'private') list.push({ type: 'cgroup' });
  if (daemon.idMappings && hc.UsernsMode !== 'host') list.push({ type: 'user' });
  return list;
}

/** moby/sys mount.MergeTmpfsOptions: later options win over earlier ones of the same kind. */
const TMPFS_FLAG_GROUP: Record<string, string> = {
  ro: 'ro', rw: 'ro', suid: 'suid', nosuid: 'suid', dev: 'dev', nodev: 'dev', exec: 'exec', noexec: 'exec',
  sync: 'sync', async: 'sync', dirsync: 'dirsync', remount: 'remount', mand: 'mand', nomand: 'mand',
  atime: 'atime', noatime: 'atime', diratime: 'diratime', nodiratime: 'diratime',
  bind: 'bind', rbind: 'rbind', relatime: 'relatime', norelatime: 'relatime',
  strictatime: 'strictatime', nostrictatime: 'strictatime',
  unbindable: 'propagation', runbindable: 'propagation', private: 'propagation', rprivate: 'propagation',
  shared: 'propagation', rshared: 'propagation', slave: 'propagation', rslave: 'propagation',
};
const TMPFS_DATA_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

export function mergeTmpfsOptions(options: string[]): string[] {
  const seen = new Set<string>();
  const merged: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const option = options[i];
    if (option === 'defaults') continue;
    let key = TMPFS_FLAG_GROUP[option];
    if (key === undefined) {
      const eq = option.indexOf('=');
      const name = eq < 0 ? option : option.slice(0, eq);
      if (eq < 0 || !TMPFS_DATA_KEYS.has(name)) throw badParameter(`invalid tmpfs option ${JSON.stringify(name)}`);
      key = `data:${name}`;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    merged.unshift(option);
  }
  return merged;
}

function tmpfsMount(destination: string, data: string | undefined): OciMount {
  const options = ['noexec', 'nosuid', 'nodev', 'rprivate', ...(data ? data.split(',') : [])];
  return { destination, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(options) };
}

function bindMount(source: string, destination: string, writable: boolean, propagation = 'rprivate', nonRecursive = false): OciMount {
  const options = [nonRecursive ? 'bind' : 'rbind'];
  if (!writable) options.push('ro');
  if (propagation) options.push(propagation);
  return { destination, type: 'bind', source, options };
}

const pathDepth = (path: string) => path.replace(/\/+$/, '').split('/').length;

interface MountPlan { mounts: OciMount[]; rootfsPropagation?: string }

function mounts(input: SpecInput): MountPlan {
  const { hostConfig: hc, daemon } = input;
  const writable = !hc.ReadonlyRootfs;
  let rootfsPropagation: string | undefined;

  const user: OciMount[] = [];
  for (const mount of input.mounts ?? []) {
    if (mount.type === 'tmpfs') {
      user.push(tmpfsMount(mount.destination, mount.options));
      continue;
    }
    const propagation = mount.propagation || 'rprivate';
    if (propagation === 'shared' || propagation === 'rshared') rootfsPropagation = 'shared';
    else if ((propagation === 'slave' || propagation === 'rslave') && rootfsPropagation !== 'shared') rootfsPropagation = 'rslave';
    user.push(bindMount(mount.source, mount.destination, !mount.readonly, propagation, mount.nonRecursive));
  }
  for (const [destination, data] of Object.entries(hc.Tmpfs ?? {})) {
    if (!user.some((m) => m.destination === destination)) user.push(tmpfsMount(destination, data));
  }
  const has = (destination: string) => user.some((m) => m.destination === destination);
  const ipc = hc.IpcMode ?? '';
  const shmPath = daemon.shmPath ?? (ipc === 'host' ? '/dev/shm' : undefined);
  if (shmPath && ipc !== 'none' && !has('/dev/shm')) user.push(bindMount(shmPath, '/dev/shm', true));
  const networkFiles: Array<[string, string]> = [
    [input.resolvConfPath, '/etc/resolv.conf'], [input.hostnamePath, '/etc/hostname'], [input.hostsPath, '/etc/hosts'],
  ];
  for (const [source, destination] of networkFiles) {
    if (source && !has(destination)) user.push(bindMount(source, destination, writable));
  }

  const userDestinations = new Set(user.map((m) => m.destination));
  const userMountsDev = userDestinations.has('/dev');
  const result: OciMount[] = [];
  for (const mount of defaultMounts()) {
    if (userDestinations.has(mount.destination)) continue;
    if (userMountsDev && mount.destination.startsWith('/dev/')) continue;
    if (mount.destination === '/dev/shm') {
      if (ipc === 'none') continue;
      mount.options.push(`size=${hc.ShmSize || DEFAULT_SHM_SIZE}`);
    }
    result.push(mount);
  }
  if (initEnabled(input)) {
    if (!daemon.initPath) throw new Error('--init needs the daemon to know its init binary (initPath)');
    result.push({ destination: CONTAINER_INIT_PATH, type: 'bind', source: daemon.initPath, options: ['bind', 'ro'] });
  }
  // Parents before children, so /etc does not hide /etc/resolv.conf; stable for equal depths.
  result.push(...user.map((m, i) => ({ m, i })).sort((a, b) => pathDepth(a.m.destination) - pathDepth(b.m.destination) || a.i - b.i).map(({ m }) => m));

  if (hc.ReadonlyRootfs) {
    const exempt = new Set(['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev']);
    for (const mount of result) {
      if (!exempt.has(mount.destination) && !userDestinations.has(mount.destination) && !mount.options.includes('ro')) {
        mount.options.push('ro');
      }
    }
  }
  if (hc.Privileged) {
    for (const mount of result) {
      if (mount.destination === '/sys' || mount.type === 'cgroup') mount.options = mount.options.filter((o) => o !== 'ro');
    }
  }
  return { mounts: result, rootfsPropagation };
}

function initEnabled(input: SpecInput): boolean {
  const pid = input.hostConfig.PidMode ?? '';
  if (pid === 'host' || isContainerMode(pid)) return false;
  const init = input.hostConfig.Init;
  return init === undefined || init === null ? !!input.daemon.init : init;
}

function sysctls(input: SpecInput): Record<string, string> {
  const { config, hostConfig: hc } = input;
  const result: Record<string, string> = {};
  // No field in OCI for the NIS domain name; this sysctl does what setdomainname(2) does.
  if (config.Domainname) result['kernel.domainname'] = config.Domainname;
  const network = hc.NetworkMode ?? '';
  if (network !== 'host' && !isContainerMode(network)) {
    // Docker's defaults for a network namespace of the container's own: ping without
    // CAP_NET_RAW (in a user namespace: its mapped groups), and ports below 1024 without CAP_NET_BIND_SERVICE.
    const mapped = input.hostConfig.UsernsMode !== 'host' && input.daemon.idMappings?.gidMappings;
    result['net.ipv4.ping_group_range'] = mapped ? `0 ${mapped.reduce((sum, m) => sum + m.size, 0) - 1}` : '0 2147483647';
    result['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  return { ...result, ...(hc.Sysctls ?? {}) };
}

function seccomp(input: SpecInput, security: SecurityOptions, capabilities: string[]): OciSeccomp | undefined {
  const { hostConfig: hc, daemon } = input;
  if (hc.Privileged || security.seccomp === 'unconfined') return undefined;
  let profile: DockerSeccompProfile | 'unconfined';
  if (security.seccomp === 'builtin') {
    profile = daemon.seccompProfile === 'unconfined' ? loadDefaultProfile() : daemon.seccompProfile;
  } else if (security.seccomp) {
    profile = parseSeccompProfile(security.seccomp);
  } else {
    profile = daemon.seccompProfile;
  }
  if (profile === 'unconfined') return undefined;
  // An empty profile means "no seccomp", as in moby's setupSeccomp.
  if (!profile.defaultAction && !profile.syscalls?.length) return undefined;
  return seccompFromDockerProfile(profile, { arch: daemon.arch, capabilities, kernelVersion: daemon.kernelVersion });
}

function deviceRules(input: SpecInput): { rules: OciDeviceCgroupRule[]; nodes: OciLinuxDevice[] } {
  const rules = DEFAULT_DEVICE_RULES.map((rule) => ({ ...rule }));
  const nodes: OciLinuxDevice[] = [];
  if (input.hostConfig.Privileged) {
    nodes.push(...(input.daemon.hostDevices ?? []));
    nodes.push(...(input.devices ?? []).map(({ device }) => device));
    rules.push({ allow: true, access: 'rwm' });
  } else {
    for (const { device, cgroupPermissions } of input.devices ?? []) {
      nodes.push(device);
      if (device.type === 'c' || device.type === 'b') {
        rules.push({ allow: true, type: device.type, major: device.major, minor: device.minor, access: cgroupPermissions });
      }
    }
    rules.push(...(input.hostConfig.DeviceCgroupRules ?? []).map(parseDeviceCgroupRule));
  }
  return { rules, nodes };
}

function cgroupsPath(input: SpecInput): string {
  const parent = (input.hostConfig.CgroupParent || input.daemon.cgroupParent).replace(/^\/+|\/+$/g, '');
  return parent ? `/${parent}/${input.id}` : `/${input.id}`;
}

// ---------------------------------------------------------------------------------------------

/** The OCI runtime spec (config.json) for a container. Pure apart from reading the built-in
 *  seccomp profile when a container asks for `seccomp=builtin` on an unconfined daemon. */
export function buildOciSpec(input: SpecInput): OciSpec {
  const { config, hostConfig: hc, user } = input;
  const security = parseSecurityOpt(hc.SecurityOpt);
  const capabilities = containerCapabilities(hc, input.daemon.hostCapabilities);
  const { path, args } = commandLine(config);
  const argv = initEnabled(input) ? [CONTAINER_INIT_PATH, '--', path, ...args] : [path, ...args];

  const resources: OciResources = { devices: [] };
  const devices = deviceRules(input);
  resources.devices = devices.rules;
  const memory = memoryResources(hc);
  if (memory) resources.memory = memory;
  const cpu = cpuResources(hc);
  if (cpu) resources.cpu = cpu;
  const pids = pidsResources(hc);
  if (pids) resources.pids = pids;

  const mountPlan = mounts(input);
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: !!config.Tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: [user.gid, ...user.additionalGids] },
      args: argv,
      env: processEnv(config, user.home),
      cwd: config.WorkingDir || '/',
      capabilities: { bounding: [...capabilities], effective: [...capabilities], permitted: [...capabilities] },
      noNewPrivileges: security.noNewPrivileges,
      oomScoreAdj: hc.OomScoreAdj ?? 0,
    },
    root: { path: input.rootfsPath, readonly: !!hc.ReadonlyRootfs },
    hostname: hc.UTSMode === 'host' ? '' : config.Hostname ?? '',
    mounts: mountPlan.mounts,
    linux: {
      namespaces: namespaces(input),
      cgroupsPath: cgroupsPath(input),
      resources,
      sysctl: sysctls(input),
    },
  };
  const limits = rlimits(hc);
  if (limits) spec.process.rlimits = limits;
  if (devices.nodes.length > 0) spec.linux.devices = devices.nodes;
  if (mountPlan.rootfsPropagation) spec.linux.rootfsPropagation = mountPlan.rootfsPropagation;
  if (input.daemon.idMappings && hc.UsernsMode !== 'host') Object.assign(spec.linux, input.daemon.idMappings);
  if (!hc.Privileged) {
    spec.linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
    spec.linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
  }
  if (hc.MaskedPaths) spec.linux.maskedPaths = [...hc.MaskedPaths];
  if (hc.ReadonlyPaths) spec.linux.readonlyPaths = [...hc.ReadonlyPaths];
  const filter = seccomp(input, security, capabilities);
  if (filter) spec.linux.seccomp = filter;
  return spec;
}
