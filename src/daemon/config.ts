// berthd's configuration: command-line flags over daemon.json (Docker's keys where they
// overlap) over built-in defaults. Pure: parseDaemonArgs and mergeConfig take text, not files.
export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  configFile: string;
  defaultRuntime: string;
  runtimes: Record<string, { path: string }>;
  cgroupParent: string;
  debug: boolean;
  seccompProfile: string;
  /** Pull-through mirrors of Docker Hub, tried in order. */
  registryMirrors: string[];
  /** Registries (host[:port] or CIDR) reached over plain HTTP or unverified HTTPS. */
  insecureRegistries: string[];
  /** The daemon's labels ("key=value"), as /info shows them. */
  labels: string[];
  /** Layer downloads at once, daemon-wide. */
  maxConcurrentDownloads: number;
  /** --tls / --tlsverify: undefined when not given (Docker tells "not set" from an explicit false). */
  tls: boolean | undefined;
  tlsVerify: boolean | undefined;
  /** TLS files; empty: DOCKER_CERT_PATH (else /etc/berth) /ca.pem, cert.pem, key.pem. */
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  /** The unix socket's group (-G, --group); the default, berth, is used only when it exists. */
  group: string;
  /** --userns-remap: "default", "user[:group]" or "uid[:gid]"; empty for none. */
  usernsRemap: string;
  /** The default bridge's interface (also names the daemon's iptables chains, BERTH-<bridge>). */
  bridge: string;
  /** The default bridge's gateway address and prefix ("" = a free subnet of the default pools). */
  bip: string;
  /** Where the default bridge's automatic addresses come from. */
  fixedCidr: string;
  mtu: number;
  ipForward: boolean;
  ipMasq: boolean;
  iptables: boolean;
  icc: boolean;
  /** User networks' automatic subnets: "base=10.10.0.0/16,size=24" (daemon.json: objects). */
  defaultAddressPools: Array<string | { base: string; size: number }>;
}

export const DEFAULT_CONFIG: DaemonConfig = {
  hosts: ['unix:///run/berth/berth.sock'],
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  pidfile: '/run/berth/berthd.pid',
  configFile: '/etc/berth/daemon.json',
  defaultRuntime: 'crun',
  runtimes: { runc: { path: '/usr/sbin/runc' }, crun: { path: '/usr/bin/crun' } },
  cgroupParent: 'berth',
  debug: false,
  seccompProfile: 'builtin',
  registryMirrors: [],
  insecureRegistries: [],
  labels: [],
  maxConcurrentDownloads: 3,
  tls: undefined,
  tlsVerify: undefined,
  tlsCaCert: '',
  tlsCert: '',
  tlsKey: '',
  group: 'berth',
  usernsRemap: '',
  bridge: 'berth0',
  bip: '',
  fixedCidr: '',
  mtu: 1500,
  ipForward: true,
  ipMasq: true,
  iptables: true,
  icc: true,
  defaultAddressPools: [],
};

export class ConfigError extends Error {}

const FLAGS: Record<string, { key: keyof DaemonConfig; kind: 'string' | 'list' | 'bool' | 'number' }> = {
  '-H': { key: 'hosts', kind: 'list' }, '--host': { key: 'hosts', kind: 'list' },
  '-g': { key: 'dataRoot', kind: 'string' }, '--data-root': { key: 'dataRoot', kind: 'string' },
  '--exec-root': { key: 'execRoot', kind: 'string' },
  '-p': { key: 'pidfile', kind: 'string' }, '--pidfile': { key: 'pidfile', kind: 'string' },
  '--config-file': { key: 'configFile', kind: 'string' },
  '--default-runtime': { key: 'defaultRuntime', kind: 'string' }, '--runtime': { key: 'defaultRuntime', kind: 'string' },
  '--cgroup-parent': { key: 'cgroupParent', kind: 'string' },
  '--seccomp-profile': { key: 'seccompProfile', kind: 'string' },
  '--registry-mirror': { key: 'registryMirrors', kind: 'list' },
  '--insecure-registry': { key: 'insecureRegistries', kind: 'list' },
  '-D': { key: 'debug', kind: 'bool' }, '--debug': { key: 'debug', kind: 'bool' },
  '--label': { key: 'labels', kind: 'list' },
  '--max-concurrent-downloads': { key: 'maxConcurrentDownloads', kind: 'number' },
  '--tls': { key: 'tls', kind: 'bool' }, '--tlsverify': { key: 'tlsVerify', kind: 'bool' },
  '--tlscacert': { key: 'tlsCaCert', kind: 'string' }, '--tlscert': { key: 'tlsCert', kind: 'string' },
  '--tlskey': { key: 'tlsKey', kind: 'string' },
  '-G': { key: 'group', kind: 'string' }, '--group': { key: 'group', kind: 'string' },
  '--userns-remap': { key: 'usernsRemap', kind: 'string' },
  '-b': { key: 'bridge', kind: 'string' }, '--bridge': { key: 'bridge', kind: 'string' },
  '--bip': { key: 'bip', kind: 'string' },
  '--fixed-cidr': { key: 'fixedCidr', kind: 'string' },
  '--mtu': { key: 'mtu', kind: 'number' },
  '--ip-forward': { key: 'ipForward', kind: 'bool' },
  '--ip-masq': { key: 'ipMasq', kind: 'bool' },
  '--iptables': { key: 'iptables', kind: 'bool' },
  '--icc': { key: 'icc', kind: 'bool' },
  '--default-address-pool': { key: 'defaultAddressPools', kind: 'list' },
};

/** Flags given on the command line, and whether --help/--version was asked for. */
export function parseDaemonArgs(argv: string[]): { flags: Partial<DaemonConfig>; help: boolean; version: boolean } {
  const flags: Partial<DaemonConfig> = {};
  const set = flags as Record<string, unknown>;
  let help = false;
  let version = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === '-h' || arg === '--help') { help = true; continue; }
    if (arg === '-v' || arg === '--version') { version = true; continue; }
    const equals = arg.indexOf('=');
    const name = arg.startsWith('--') && equals > 0 ? arg.slice(0, equals) : arg;
    const spec = FLAGS[name];
    if (!spec) throw new ConfigError(`unknown flag: ${name}`);
    if (spec.kind === 'bool') {
      set[spec.key] = equals > 0 ? arg.slice(equals + 1) !== 'false' : true;
      continue;
    }
    const value = equals > 0 && arg.startsWith('--') ? arg.slice(equals + 1) : argv[++index];
    if (value === undefined) throw new ConfigError(`flag needs an argument: ${name}`);
    if (spec.kind === 'list') set[spec.key] = [...((set[spec.key] as string[] | undefined) ?? []), value];
    else if (spec.kind === 'number') set[spec.key] = Number(value);
    else set[spec.key] = value;
  }
  return { flags, help, version };
}

/** daemon.json keys, as Docker names them. */
interface DaemonJson {
  hosts?: string[];
  'data-root'?: string;
  'exec-root'?: string;
  pidfile?: string;
  'default-runtime'?: string;
  runtimes?: Record<string, { path: string }>;
  'cgroup-parent'?: string;
  debug?: boolean;
  'seccomp-profile'?: string;
  'registry-mirrors'?: string[];
  'insecure-registries'?: string[];
  labels?: string[];
  'max-concurrent-downloads'?: number;
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  group?: string;
  'userns-remap'?: string;
  bridge?: string;
  bip?: string;
  'fixed-cidr'?: string;
  mtu?: number;
  'ip-forward'?: boolean;
  'ip-masq'?: boolean;
  iptables?: boolean;
  icc?: boolean;
  'default-address-pools'?: Array<{ base: string; size: number }>;
}

const JSON_KEYS: Record<keyof DaemonJson, keyof DaemonConfig> = {
  hosts: 'hosts', 'data-root': 'dataRoot', 'exec-root': 'execRoot', pidfile: 'pidfile', 'default-runtime': 'defaultRuntime',
  runtimes: 'runtimes', 'cgroup-parent': 'cgroupParent', debug: 'debug', 'seccomp-profile': 'seccompProfile',
  'registry-mirrors': 'registryMirrors', 'insecure-registries': 'insecureRegistries',
  labels: 'labels', 'max-concurrent-downloads': 'maxConcurrentDownloads',
  tls: 'tls', tlsverify: 'tlsVerify', tlscacert: 'tlsCaCert', tlscert: 'tlsCert', tlskey: 'tlsKey', group: 'group',
  'userns-remap': 'usernsRemap',
  bridge: 'bridge', bip: 'bip', 'fixed-cidr': 'fixedCidr', mtu: 'mtu', 'ip-forward': 'ipForward', 'ip-masq': 'ipMasq', iptables: 'iptables', icc: 'icc',
  'default-address-pools': 'defaultAddressPools',
};

/** What a SIGHUP changes in a running daemon, as dockerd reloads them. */
export const RELOADABLE_KEYS = ['debug', 'labels', 'registryMirrors', 'insecureRegistries', 'maxConcurrentDownloads'] as const;

/**
 * The configuration after a reload (SIGHUP): the file is checked as at start (an invalid one
 * throws and the caller keeps `current`); of the reloadable keys, those the file sets take
 * its values, the others stay as they are (dockerd's IsValueSet). Other keys need a restart.
 */
export function reloadConfig(current: DaemonConfig, flags: Partial<DaemonConfig>, daemonJsonText: string | undefined): DaemonConfig {
  const next = mergeConfig(flags, daemonJsonText);
  const setInFile = new Set(Object.keys(parseDaemonJson(daemonJsonText)).map((key) => JSON_KEYS[key as keyof DaemonJson]));
  const reloaded: DaemonConfig = { ...current };
  for (const key of RELOADABLE_KEYS) {
    if (setInFile.has(key)) (reloaded as unknown as Record<string, unknown>)[key] = next[key];
  }
  return reloaded;
}

function parseDaemonJson(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`unable to configure the daemon with file: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('unable to configure the daemon with file: the configuration must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** Docker's checks of the values berth reloads. */
function validateConfig(config: DaemonConfig): void {
  if (typeof config.debug !== 'boolean') throw new ConfigError('debug must be a boolean');
  if (!Array.isArray(config.labels) || !config.labels.every((label) => typeof label === 'string')) throw new ConfigError('labels must be a list of strings');
  for (const label of config.labels) {
    if (!label.includes('=') || label.startsWith('=')) throw new ConfigError(`bad attribute format: ${label}`);
  }
  if (config.bridge.length === 0 || config.bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(config.bridge)) throw new ConfigError(`invalid bridge name: ${config.bridge} (1 to 15 of [a-zA-Z0-9_.-])`);
  if (!Number.isInteger(config.mtu) || config.mtu < 68 || config.mtu > 65535) throw new ConfigError(`invalid MTU: ${String(config.mtu)}`);
  const downloads = config.maxConcurrentDownloads;
  if (typeof downloads !== 'number' || !Number.isInteger(downloads) || downloads < 0) throw new ConfigError(`invalid max concurrent downloads: ${String(downloads)}`);
}

/** Go's decoding error for a daemon.json value of the wrong type. */
function assertJsonType(key: string, value: unknown, expected: string): void {
  const isList = (item: unknown) => Array.isArray(item) && item.every((entry) => typeof entry === 'string');
  const ok = key === 'default-address-pools' ? Array.isArray(value) && value.every((pool) => typeof (pool as { base?: unknown })?.base === 'string' && typeof (pool as { size?: unknown }).size === 'number')
    : Array.isArray(DEFAULT_CONFIG[JSON_KEYS[key as keyof DaemonJson]]) ? isList(value)
    : key === 'runtimes' ? typeof value === 'object' && value !== null && !Array.isArray(value)
      && Object.values(value).every((runtime) => typeof (runtime as { path?: unknown })?.path === 'string')
      : typeof value === expected;
  if (!ok) throw new ConfigError(`unable to configure the daemon with file: invalid value for ${key}: ${JSON.stringify(value)}`);
}

/** Docker refuses a setting given both as a flag and in daemon.json; so do we. */
export function mergeConfig(flags: Partial<DaemonConfig>, daemonJsonText: string | undefined): DaemonConfig {
  const fromFile: Partial<DaemonConfig> = {};
  const parsed = parseDaemonJson(daemonJsonText);
  // A setting berthd would not apply is refused rather than silently ignored.
  const unsupported = Object.keys(parsed).filter((key) => !Object.hasOwn(JSON_KEYS, key));
  if (unsupported.length > 0) {
    throw new ConfigError(`the following directives are not supported by berthd: ${unsupported.join(', ')}`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    const configKey = JSON_KEYS[key as keyof DaemonJson];
    assertJsonType(key, value, key === 'tls' || key === 'tlsverify' ? 'boolean' : typeof DEFAULT_CONFIG[configKey]);
    if (flags[configKey] !== undefined) {
      throw new ConfigError(`the following directives are specified both as a flag and in the configuration file: ${key}`);
    }
    (fromFile as Record<string, unknown>)[configKey] = value;
  }
  const config: DaemonConfig = { ...DEFAULT_CONFIG, ...fromFile, ...flags };
  config.runtimes = { ...DEFAULT_CONFIG.runtimes, ...(fromFile.runtimes ?? {}) };
  if (!config.runtimes[config.defaultRuntime]) throw new ConfigError(`default runtime ${config.defaultRuntime} is not configured`);
  validateConfig(config);
  return config;
}

export const DAEMON_USAGE = `Usage:	berthd [OPTIONS]

A self-sufficient runtime for containers, compatible with the Docker Engine API.

Options:
      --cgroup-parent string     Parent cgroup for all containers (default "berth")
      --config-file string       Daemon configuration file (default "/etc/berth/daemon.json")
      --data-root string         Root directory of persistent state (default "/var/lib/berth")
  -D, --debug                    Enable debug mode
      --default-runtime string   Default OCI runtime for containers (default "crun")
      --exec-root string         Root directory for execution state files (default "/run/berth")
  -G, --group string             Group for the unix socket (default "berth")
  -H, --host list                Daemon socket(s) to connect to (default unix:///run/berth/berth.sock);
                                 unix:///path, tcp://host:port, fd:// or fd://N (socket activation)
      --insecure-registry list   Enable insecure registry communication
      --label list               Set key=value labels to the daemon
      --max-concurrent-downloads int   Set the max concurrent downloads (default 3)
  -b, --bridge string            Attach containers to a network bridge (default "berth0")
      --bip string               Specify network bridge IP
      --default-address-pool list   Default address pools for node specific local networks
      --fixed-cidr string        IPv4 subnet for fixed IPs
      --icc                      Enable inter-container communication (default true)
      --ip-forward               Enable net.ipv4.ip_forward (default true)
      --ip-masq                  Enable IP masquerading (default true)
      --iptables                 Enable addition of iptables rules (default true)
      --mtu int                  Set the containers network MTU (default 1500)
  -p, --pidfile string           Path to use for daemon PID file (default "/run/berth/berthd.pid")
      --registry-mirror list     Preferred registry mirror
      --seccomp-profile string   Path to seccomp profile, or "unconfined" (default "builtin")
      --tls                      Use TLS; implied by --tlsverify
      --tlscacert string         Trust certs signed only by this CA (default "/etc/berth/ca.pem")
      --tlscert string           Path to TLS certificate file (default "/etc/berth/cert.pem")
      --tlskey string            Path to TLS key file (default "/etc/berth/key.pem")
      --tlsverify                Use TLS and verify the remote
      --userns-remap string      User/Group setting for user namespaces
  -v, --version                  Print version information and quit
`;
