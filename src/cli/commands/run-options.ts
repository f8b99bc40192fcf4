// The flags of `berth run` / `berth create` and their pure conversion into a POST
// /containers/create request, following the docker CLI's opts.go (parse) and go-connections'
// port-spec grammar. Nothing here talks to the daemon, so all of it is unit-tested.

import { isAbsolute, resolve as resolvePath } from 'node:path';
import { isIP } from 'node:net';
import type { ContainerCreateRequest, HealthConfig, HostConfig, RestartPolicy } from '../../wire/types.js';
import type { EndpointRequest } from '../../wire/network.js';
import { FlagError, keyValueMap } from '../flags.js';
import type { FlagSpec, FlagValues } from '../flags.js';
import { parseBytes, parseCpus, parseGoDuration } from '../../util/units.js';
import { parseMountFlag } from './mount-flag.js';
import { sysctlNotWhitelisted } from '../../util/sysctl.js';
import { CreateOptionsError } from './create-errors.js';
import { networkingConfig } from './network-options.js';
import { parseExpose, parsePublish } from './publish-options.js';

/** Flags shared by run and create (docker's addFlags plus createOptions). */
export const CONTAINER_FLAGS: FlagSpec[] = [
  { name: 'add-host', type: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'attach', short: 'a', type: 'list', description: 'Attach to STDIN, STDOUT or STDERR' },
  { name: 'cap-add', type: 'list', description: 'Add Linux capabilities' },
  { name: 'cap-drop', type: 'list', description: 'Drop Linux capabilities' },
  { name: 'cidfile', type: 'string', description: 'Write the container ID to the file' },
  { name: 'cpu-period', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-shares', short: 'c', type: 'int', description: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'string', valueName: 'decimal', description: 'Number of CPUs' },
  { name: 'cgroupns', type: 'string', description: 'Cgroup namespace to use (host|private)\n\'host\':    Run the container in the Docker host\'s cgroup namespace\n\'private\': Run the container in its own private cgroup namespace\n\'\':        Use the cgroup namespace as configured by the\n           default-cgroupns-mode option on the daemon (default)' },
  { name: 'cpuset-cpus', type: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'device', type: 'list', description: 'Add a host device to the container' },
  { name: 'device-cgroup-rule', type: 'list', description: 'Add a rule to the cgroup allowed devices list' },
  { name: 'dns', type: 'list', description: 'Set custom DNS servers' },
  { name: 'dns-option', type: 'list', description: 'Set DNS options' },
  { name: 'dns-search', type: 'list', description: 'Set custom DNS search domains' },
  { name: 'domainname', type: 'string', description: 'Container NIS domain name' },
  { name: 'entrypoint', type: 'string', description: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
  { name: 'expose', type: 'list', description: 'Expose a port or a range of ports' },
  { name: 'group-add', type: 'list', description: 'Add additional groups to join' },
  { name: 'hostname', short: 'h', type: 'string', description: 'Container host name' },
  { name: 'init', type: 'bool', description: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'ip', type: 'string', description: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'ipc', type: 'string', description: 'IPC mode to use' },
  { name: 'label', short: 'l', type: 'list', description: 'Set meta data on a container' },
  { name: 'link', type: 'list', description: 'Add link to another container' },
  { name: 'link-local-ip', type: 'list', description: 'Container IPv4/IPv6 link-local addresses' },
  { name: 'log-driver', type: 'string', description: 'Logging driver for the container' },
  { name: 'log-opt', type: 'list', description: 'Log driver options' },
  { name: 'mac-address', type: 'string', description: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { name: 'memory', short: 'm', type: 'string', valueName: 'bytes', description: 'Memory limit' },
  { name: 'memory-reservation', type: 'string', valueName: 'bytes', description: 'Memory soft limit' },
  { name: 'memory-swap', type: 'string', valueName: 'bytes', description: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: 'mount', type: 'list', valueName: 'mount', description: 'Attach a filesystem mount to the container' },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  { name: 'network', type: 'list', valueName: 'network', description: 'Connect a container to a network' },
  { name: 'net', type: 'list', valueName: 'network', description: 'Connect a container to a network', hidden: true },
  { name: 'network-alias', type: 'list', description: 'Add network-scoped alias for the container' },
  { name: 'net-alias', type: 'list', description: 'Add network-scoped alias for the container', hidden: true },
  { name: 'health-cmd', type: 'string', description: 'Command to run to check health' },
  { name: 'health-interval', type: 'string', valueName: 'duration', default: '0s', description: 'Time between running the check (ms|s|m|h) (default 0s)' },
  { name: 'health-retries', type: 'int', description: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-interval', type: 'string', valueName: 'duration', default: '0s', description: 'Time between running the check during the start period (ms|s|m|h) (default 0s)' },
  { name: 'health-start-period', type: 'string', valueName: 'duration', default: '0s', description: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)' },
  { name: 'health-timeout', type: 'string', valueName: 'duration', default: '0s', description: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)' },
  { name: 'no-healthcheck', type: 'bool', description: 'Disable any container-specified HEALTHCHECK' },
  { name: 'oom-kill-disable', type: 'bool', description: 'Disable OOM Killer' },
  { name: 'oom-score-adj', type: 'int', description: "Tune host's OOM preferences (-1000 to 1000)" },
  { name: 'pid', type: 'string', description: 'PID namespace to use' },
  { name: 'pids-limit', type: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  { name: 'privileged', type: 'bool', description: 'Give extended privileges to this container' },
  { name: 'publish', short: 'p', type: 'list', description: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', type: 'bool', description: 'Publish all exposed ports to random ports' },
  { name: 'pull', type: 'string', default: 'missing', description: 'Pull image before running ("always", "missing", "never")' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the pull output' },
  { name: 'read-only', type: 'bool', description: "Mount the container's root filesystem as read only" },
  { name: 'restart', type: 'string', default: 'no', description: 'Restart policy to apply when a container exits' },
  { name: 'rm', type: 'bool', description: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { name: 'runtime', type: 'string', description: 'Runtime to use for this container' },
  { name: 'security-opt', type: 'list', description: 'Security Options' },
  { name: 'shm-size', type: 'string', valueName: 'bytes', description: 'Size of /dev/shm' },
  { name: 'stop-signal', type: 'string', description: 'Signal to stop the container' },
  { name: 'stop-timeout', type: 'int', description: 'Timeout (in seconds) to stop a container' },
  { name: 'sysctl', type: 'list', valueName: 'map', description: 'Sysctl options' },
  { name: 'tmpfs', type: 'list', description: 'Mount a tmpfs directory' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'ulimit', type: 'list', valueName: 'ulimit', description: 'Ulimit options' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'userns', type: 'string', description: 'User namespace to use' },
  { name: 'uts', type: 'string', description: 'UTS namespace to use' },
  { name: 'volume', short: 'v', type: 'list', description: 'Bind mount a volume' },
  { name: 'volumes-from', type: 'list', description: 'Mount volumes from the specified container(s)' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
];

/** Flags only `run` has. */
export const RUN_ONLY_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
  { name: 'sig-proxy', type: 'bool', default: true, description: 'Proxy received signals to the process' },
];

export { CreateOptionsError } from './create-errors.js';

/** opts.ParseRestartPolicy */
export function parseRestartPolicy(policy: string): RestartPolicy | undefined {
  if (policy === '') return undefined;
  const colon = policy.indexOf(':');
  const name = colon === -1 ? policy : policy.slice(0, colon);
  const count = colon === -1 ? '' : policy.slice(colon + 1);
  if (colon !== -1 && name === '') throw new CreateOptionsError('invalid restart policy format: no policy provided before colon');
  const result: RestartPolicy = { Name: name as RestartPolicy['Name'] };
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count)) {
      throw new CreateOptionsError('invalid restart policy format: maximum retry count must be an integer');
    }
    result.MaximumRetryCount = Number(count);
  }
  return result;
}

const ULIMIT_NAMES = new Set([
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
]);

/** go-units ParseUlimit: "nofile=1024[:2048]". */
export function parseUlimit(value: string): { Name: string; Soft: number; Hard: number } {
  const eq = value.indexOf('=');
  if (eq === -1) throw new Error(`invalid ulimit argument: ${value}`);
  const name = value.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const limits = value.slice(eq + 1).split(':');
  if (limits.length > 2) {
    throw new Error(`too many limit value arguments - ${value.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  }
  const parseLimit = (text: string): number => {
    if (!/^[+-]?\d+$/.test(text)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
    return Number(text);
  };
  const soft = parseLimit(limits[0]!);
  const hard = limits.length === 2 ? parseLimit(limits[1]!) : soft;
  if (hard !== -1 && soft > hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Soft: soft, Hard: hard };
}

function flagName(spec: { name: string; short?: string }): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

function invalidFlagValue(name: string, value: string, reason: string): FlagError {
  const spec = CONTAINER_FLAGS.find((s) => s.name === name) ?? { name };
  return new FlagError(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(flagName(spec))} flag: ${reason}`);
}

function str(flags: FlagValues, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

function list(flags: FlagValues, name: string): string[] {
  const value = flags[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

function bool(flags: FlagValues, name: string): boolean {
  return flags[name] === true;
}

function int(flags: FlagValues, name: string): number | undefined {
  const value = flags[name];
  return typeof value === 'number' ? value : undefined;
}

function bytesFlag(flags: FlagValues, name: string, allowUnlimited = false): number | undefined {
  const value = str(flags, name);
  if (value === undefined || value === '') return undefined;
  if (allowUnlimited && value === '-1') return -1;
  try {
    return parseBytes(value);
  } catch (err) {
    throw invalidFlagValue(name, value, (err as Error).message);
  }
}

const DEVICE_CGROUP_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;
const isDeviceMode = (mode: string) => mode !== '' && mode.length <= 3 && [...mode].every((c, i) => 'rwm'.includes(c) && mode.indexOf(c) === i);

/** The docker CLI's parseLinuxDevice: `host[:container][:rwm]`, the container path defaulting to the host's. */
export function parseDeviceFlag(spec: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = spec.split(':');
  if (parts.length > 3) throw invalidFlagValue('device', spec, `invalid device specification: ${spec}`);
  let permissions = 'rwm';
  let inContainer = '';
  if (parts.length === 3) permissions = parts[2];
  if (parts.length >= 2) {
    if (isDeviceMode(parts[1])) permissions = parts[1];
    else inContainer = parts[1];
  }
  const onHost = parts[0];
  if (!isDeviceMode(permissions)) throw invalidFlagValue('device', spec, `bad mode specified: ${permissions}`);
  for (const path of [onHost, inContainer || onHost]) {
    if (!path.startsWith('/')) throw invalidFlagValue('device', spec, `${path} is not an absolute path`);
  }
  return { PathOnHost: onHost, PathInContainer: inContainer || onHost, CgroupPermissions: permissions };
}

/** One --security-opt: a seccomp profile's file is read and sent compacted, as the docker CLI does. */
function parseSecurityOptFlag(opt: string, readFile: CreateEnvironment['readFile']): string {
  if (opt === 'no-new-privileges') return opt;
  if (opt === 'systempaths=unconfined') return opt;
  const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
  if (!sep) throw new CreateOptionsError(`invalid --security-opt: ${JSON.stringify(opt)}`);
  const key = opt.slice(0, opt.indexOf(sep));
  const value = opt.slice(opt.indexOf(sep) + 1);
  if (key !== 'seccomp' || value === 'unconfined' || value === 'builtin') return opt;
  let text: string;
  try {
    text = (readFile ?? (() => { throw new Error(`open ${value}: no such file or directory`); }))(value);
  } catch (err) {
    throw new CreateOptionsError(`opening seccomp profile (${value}) failed: ${(err as Error).message}`);
  }
  try {
    return `seccomp=${JSON.stringify(JSON.parse(text))}`;
  } catch (err) {
    throw new CreateOptionsError(`compacting json for seccomp profile (${value}) failed: ${(err as Error).message}`);
  }
}

/** The environment lookups and file reads the conversion needs, injectable for tests. */
export interface CreateEnvironment {
  /** Names present flags (pflag's Changed); needed for flags whose absence differs from their zero value. */
  changed?: Set<string>;
  env?: Record<string, string | undefined>;
  readFile?: (path: string) => string;
  cwd?: string;
}

/** opts.ParseEnvFile: KEY=VALUE lines, comments and blank lines skipped, bare names looked up. */
export function parseEnvFile(content: string, env: Record<string, string | undefined>): string[] {
  const result: string[] = [];
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((rawLine) => {
    const line = rawLine.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq === -1 ? line : line.slice(0, eq);
    if (/\s/.test(name)) throw new CreateOptionsError(`variable '${name}' contains whitespaces`);
    if (eq !== -1) {
      result.push(line);
      return;
    }
    const value = env[name];
    if (value !== undefined) result.push(`${name}=${value}`);
  });
  return result;
}

function validateEnv(value: string, env: Record<string, string | undefined>): string {
  const eq = value.indexOf('=');
  const key = eq === -1 ? value : value.slice(0, eq);
  if (key === '') throw invalidFlagValue('env', value, `invalid environment variable: ${value}`);
  if (eq !== -1) return value;
  const found = env[key];
  return found === undefined ? value : `${key}=${found}`;
}

function validateExtraHost(value: string): string {
  const separator = value.includes('=') ? '=' : ':';
  const index = value.indexOf(separator);
  const host = index === -1 ? '' : value.slice(0, index);
  let address = index === -1 ? '' : value.slice(index + 1);
  if (index === -1 || host === '') throw invalidFlagValue('add-host', value, `bad format for add-host: ${JSON.stringify(value)}`);
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  if (address !== 'host-gateway' && isIP(address) === 0) {
    throw invalidFlagValue('add-host', value, `invalid IP address in add-host: ${JSON.stringify(address)}`);
  }
  return `${host}:${address}`;
}

const ATTACHABLE = new Set(['stdin', 'stdout', 'stderr']);

/** The outcome of the conversion: what to send, and the options that are not part of the body. */
export interface CreatePlan {
  name?: string;
  platform?: string;
  pull: string;
  quiet: boolean;
  autoRemove: boolean;
  request: ContainerCreateRequest & {
    MacAddress?: string;
    HostConfig: HostConfig & { PublishAllPorts?: boolean; Links: string[] | null };
    NetworkingConfig: { EndpointsConfig: Record<string, EndpointRequest> };
  };
}

/**
 * Turn parsed run/create flags and the positional arguments (IMAGE [COMMAND] [ARG...]) into
 * a create request, as the docker CLI's parse() does. Throws FlagError for a bad flag value
 * and CreateOptionsError for a bad combination.
 */
export function buildCreateRequest(flags: FlagValues, positional: string[], environment: CreateEnvironment = {}): CreatePlan {
  const env = environment.env ?? {};
  const changed = environment.changed ?? new Set<string>();
  const cwd = environment.cwd ?? '/';
  const [image = '', ...args] = positional;

  const attachValues = list(flags, 'attach').map((value) => {
    const lower = value.toLowerCase();
    if (!ATTACHABLE.has(lower)) throw invalidFlagValue('attach', value, 'valid streams are STDIN, STDOUT and STDERR');
    return lower;
  });
  const interactive = bool(flags, 'interactive');
  const attachStdin = interactive || attachValues.includes('stdin');
  const attachStdout = attachValues.length === 0 || attachValues.includes('stdout');
  const attachStderr = attachValues.length === 0 || attachValues.includes('stderr');

  const memory = bytesFlag(flags, 'memory');
  const memorySwap = bytesFlag(flags, 'memory-swap', true);
  const memoryReservation = bytesFlag(flags, 'memory-reservation');
  const shmSize = bytesFlag(flags, 'shm-size');
  let nanoCpus: number | undefined;
  const cpus = str(flags, 'cpus');
  if (cpus !== undefined && cpus !== '') {
    try {
      nanoCpus = parseCpus(cpus);
    } catch (err) {
      throw new FlagError((err as Error).message);
    }
  }
  const ulimits = list(flags, 'ulimit').map((value) => {
    try {
      return parseUlimit(value);
    } catch (err) {
      throw invalidFlagValue('ulimit', value, (err as Error).message);
    }
  });
  const extraHosts = list(flags, 'add-host').map(validateExtraHost);
  const dns = list(flags, 'dns').map((value) => {
    if (isIP(value) === 0) throw invalidFlagValue('dns', value, `IP address is not correctly formatted: ${value}`);
    return value;
  });

  // Volumes: "/data" is an anonymous volume, "src:/dst[:mode]" a bind (relative ./ paths made absolute).
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const spec of list(flags, 'volume')) {
    const colon = spec.indexOf(':');
    if (colon <= 0) {
      volumes[spec] = {};
      continue;
    }
    let host = spec.slice(0, colon);
    if (!isAbsolute(host) && host.startsWith('.')) host = resolvePath(cwd, host);
    binds.push(`${host}${spec.slice(colon)}`);
  }

  const mounts = list(flags, 'mount').map((value) => {
    try {
      return parseMountFlag(value);
    } catch (err) {
      throw invalidFlagValue('mount', value, (err as Error).message);
    }
  });

  const tmpfs: Record<string, string> = {};
  for (const spec of list(flags, 'tmpfs')) {
    const colon = spec.indexOf(':');
    if (colon === -1) tmpfs[spec] = '';
    else tmpfs[spec.slice(0, colon)] = spec.slice(colon + 1);
  }

  const { exposed, bindings } = parsePublish(list(flags, 'publish'));
  for (const spec of list(flags, 'expose')) Object.assign(exposed, parseExpose(spec));

  const envFileEntries: string[] = [];
  for (const path of list(flags, 'env-file')) {
    let content: string;
    try {
      content = (environment.readFile ?? (() => { throw new Error(`open ${path}: no such file or directory`); }))(path);
    } catch (err) {
      throw new CreateOptionsError(`--env-file: ${(err as Error).message}`);
    }
    try {
      envFileEntries.push(...parseEnvFile(content, env));
    } catch (err) {
      throw new CreateOptionsError(`--env-file: ${(err as Error).message}`);
    }
  }
  const envEntries = [...envFileEntries, ...list(flags, 'env').map((value) => validateEnv(value, env))];

  const labels = keyValueMap(list(flags, 'label'));

  const sysctls: Record<string, string> = {};
  for (const sysctl of list(flags, 'sysctl')) {
    const eq = sysctl.indexOf('=');
    const notWhitelisted = sysctlNotWhitelisted(sysctl);
    if (notWhitelisted) throw invalidFlagValue('sysctl', sysctl, notWhitelisted);
    sysctls[sysctl.slice(0, eq)] = sysctl.slice(eq + 1);
  }

  const restartPolicy = parseRestartPolicy(str(flags, 'restart') ?? '');
  const autoRemove = bool(flags, 'rm');
  if (autoRemove && restartPolicy && restartPolicy.Name !== 'no' && restartPolicy.Name !== '') {
    throw new CreateOptionsError('conflicting options: cannot specify both --restart and --rm');
  }

  const securityOpts = list(flags, 'security-opt').map((opt) => parseSecurityOptFlag(opt, environment.readFile));
  const devices = list(flags, 'device').map(parseDeviceFlag);
  const deviceCgroupRules = list(flags, 'device-cgroup-rule').map((rule) => {
    if (!DEVICE_CGROUP_RULE.test(rule)) throw invalidFlagValue('device-cgroup-rule', rule, `invalid device cgroup format '${rule}'`);
    return rule;
  });
  const cgroupns = str(flags, 'cgroupns') ?? '';
  if (!['', 'host', 'private'].includes(cgroupns)) throw new CreateOptionsError('--cgroupns: invalid CGROUP mode');
  const userns = str(flags, 'userns') ?? '';
  if (userns !== '' && userns !== 'host') throw new CreateOptionsError('--userns: invalid USER mode');

  const logOpts: Record<string, string> = {};
  for (const opt of list(flags, 'log-opt')) {
    const eq = opt.indexOf('=');
    if (eq === -1) throw new CreateOptionsError(`invalid key-value pair: ${opt}`);
    logOpts[opt.slice(0, eq)] = opt.slice(eq + 1);
  }
  const logDriver = str(flags, 'log-driver') ?? '';
  if (logDriver === 'none' && Object.keys(logOpts).length > 0) {
    throw new CreateOptionsError(`invalid logging opts for driver ${logDriver}`);
  }

  const networking = networkingConfig({
    networks: [...list(flags, 'network'), ...list(flags, 'net')],
    aliases: [...list(flags, 'network-alias'), ...list(flags, 'net-alias')],
    links: list(flags, 'link'),
    ipv4Address: str(flags, 'ip') ?? '',
    ipv6Address: str(flags, 'ip6') ?? '',
    linkLocalIps: list(flags, 'link-local-ip'),
    macAddress: str(flags, 'mac-address') ?? '',
  });

  let entrypoint: string[] | undefined;
  const entrypointFlag = str(flags, 'entrypoint');
  if (entrypointFlag !== undefined && entrypointFlag !== '') entrypoint = [entrypointFlag];
  else if (changed.has('entrypoint') || entrypointFlag === '') entrypoint = [''];

  const tty = bool(flags, 'tty');
  const hostConfig: CreatePlan['request']['HostConfig'] = {
    Binds: binds.length > 0 ? binds : null,
    NetworkMode: networking.networkMode,
    Links: networking.links.length > 0 ? networking.links : null,
    PortBindings: bindings,
    RestartPolicy: restartPolicy ?? { Name: '' },
    AutoRemove: autoRemove,
    VolumesFrom: list(flags, 'volumes-from').length > 0 ? list(flags, 'volumes-from') : null,
    Mounts: mounts.length > 0 ? mounts : null,
    CapAdd: list(flags, 'cap-add').length > 0 ? list(flags, 'cap-add') : null,
    CapDrop: list(flags, 'cap-drop').length > 0 ? list(flags, 'cap-drop') : null,
    Dns: dns,
    DnsOptions: list(flags, 'dns-option'),
    DnsSearch: list(flags, 'dns-search'),
    ExtraHosts: extraHosts.length > 0 ? extraHosts : null,
    GroupAdd: list(flags, 'group-add').length > 0 ? list(flags, 'group-add') : null,
    IpcMode: str(flags, 'ipc') ?? '',
    Devices: devices,
    DeviceCgroupRules: deviceCgroupRules.length > 0 ? deviceCgroupRules : null,
    CgroupnsMode: cgroupns,
    UsernsMode: userns,
    PidMode: str(flags, 'pid') ?? '',
    UTSMode: str(flags, 'uts') ?? '',
    Privileged: bool(flags, 'privileged'),
    PublishAllPorts: bool(flags, 'publish-all'),
    ReadonlyRootfs: bool(flags, 'read-only'),
    SecurityOpt: securityOpts.length > 0 ? securityOpts : null,
    Tmpfs: Object.keys(tmpfs).length > 0 ? tmpfs : null,
    Runtime: str(flags, 'runtime') ?? '',
    LogConfig: { Type: logDriver, Config: logOpts },
  };
  if (shmSize !== undefined) hostConfig.ShmSize = shmSize;
  if (Object.keys(sysctls).length > 0) hostConfig.Sysctls = sysctls;
  if (memory !== undefined) hostConfig.Memory = memory;
  if (memorySwap !== undefined) hostConfig.MemorySwap = memorySwap;
  if (memoryReservation !== undefined) hostConfig.MemoryReservation = memoryReservation;
  if (nanoCpus !== undefined) hostConfig.NanoCpus = nanoCpus;
  const cpuShares = int(flags, 'cpu-shares');
  if (cpuShares !== undefined) hostConfig.CpuShares = cpuShares;
  const cpuPeriod = int(flags, 'cpu-period');
  if (cpuPeriod !== undefined) hostConfig.CpuPeriod = cpuPeriod;
  const cpuQuota = int(flags, 'cpu-quota');
  if (cpuQuota !== undefined) hostConfig.CpuQuota = cpuQuota;
  const cpuset = str(flags, 'cpuset-cpus');
  if (cpuset) hostConfig.CpusetCpus = cpuset;
  const pidsLimit = int(flags, 'pids-limit');
  if (pidsLimit !== undefined) hostConfig.PidsLimit = pidsLimit;
  if (changed.has('oom-kill-disable')) hostConfig.OomKillDisable = bool(flags, 'oom-kill-disable');
  if (ulimits.length > 0) hostConfig.Ulimits = ulimits;
  if (changed.has('init')) hostConfig.Init = bool(flags, 'init');
  const oomScoreAdj = int(flags, 'oom-score-adj');
  if (oomScoreAdj !== undefined) {
    if (oomScoreAdj < -1000 || oomScoreAdj > 1000) throw new CreateOptionsError('--oom-score-adj: invalid value; it must be between -1000 and 1000');
    hostConfig.OomScoreAdj = oomScoreAdj;
  }

  const request: CreatePlan['request'] = {
    Hostname: str(flags, 'hostname') ?? '',
    Domainname: str(flags, 'domainname') ?? '',
    User: str(flags, 'user') ?? '',
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ExposedPorts: exposed,
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive && attachStdin,
    Env: envEntries,
    Cmd: args.length > 0 ? args : null,
    Image: image,
    Volumes: volumes,
    WorkingDir: str(flags, 'workdir') ?? '',
    Entrypoint: entrypoint ?? null,
    Labels: labels,
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: networking.endpoints },
  };
  if (networking.macAddress) request.MacAddress = networking.macAddress;
  const stopSignal = str(flags, 'stop-signal');
  if (stopSignal) request.StopSignal = stopSignal;
  const stopTimeout = int(flags, 'stop-timeout');
  if (stopTimeout !== undefined && (changed.has('stop-timeout') || environment.changed === undefined)) request.StopTimeout = stopTimeout;
  const healthcheck = healthConfig(flags, changed);
  if (healthcheck) request.Healthcheck = healthcheck;

  const pull = str(flags, 'pull') ?? 'missing';
  if (!['always', 'missing', 'never', ''].includes(pull)) {
    throw new CreateOptionsError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }
  const name = str(flags, 'name');
  const platform = str(flags, 'platform');
  return {
    ...(name ? { name } : {}),
    ...(platform ? { platform } : {}),
    pull: pull || 'missing',
    quiet: bool(flags, 'quiet'),
    autoRemove,
    request,
  };
}

/** The docker CLI's health options: --no-healthcheck, or the --health-* settings as a HealthConfig (durations in ns). */
function healthConfig(flags: FlagValues, changed: ReadonlySet<string>): HealthConfig | undefined {
  const durationNames = ['health-interval', 'health-timeout', 'health-start-period', 'health-start-interval'] as const;
  const nanoseconds = (name: string): number => {
    const text = str(flags, name) ?? '0s';
    try {
      return Math.round(parseGoDuration(text) * 1e6);
    } catch (error) {
      throw new CreateOptionsError(`invalid argument "${text}" for "--${name}" flag: ${(error as Error).message}`);
    }
  };
  const haveSettings = changed.has('health-cmd') || changed.has('health-retries') || durationNames.some((name) => changed.has(name));
  if (bool(flags, 'no-healthcheck')) {
    if (haveSettings) throw new CreateOptionsError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!haveSettings) return undefined;
  const [interval, timeout, startPeriod, startInterval] = durationNames.map(nanoseconds) as [number, number, number, number];
  const retries = int(flags, 'health-retries') ?? 0;
  if (interval < 0) throw new CreateOptionsError('--health-interval cannot be negative');
  if (timeout < 0) throw new CreateOptionsError('--health-timeout cannot be negative');
  if (retries < 0) throw new CreateOptionsError('--health-retries cannot be negative');
  if (startPeriod < 0) throw new CreateOptionsError('--health-start-period cannot be negative');
  if (startInterval < 0) throw new CreateOptionsError('--health-start-interval cannot be negative');
  const command = str(flags, 'health-cmd');
  return {
    ...(command ? { Test: ['CMD-SHELL', command] } : {}),
    Interval: interval, Timeout: timeout, StartPeriod: startPeriod, StartInterval: startInterval, Retries: retries,
  };
}
