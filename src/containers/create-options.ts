// Every field of a create request's ContainerConfig and HostConfig, and what berthd does with
// it: honoured (the daemon applies it), inert (nothing for the daemon to do: the client uses it,
// or it only matters on Windows or to builds), or refused when set to anything but its default,
// because berthd does not implement it yet and must not start a container that silently lacks
// a mount, a port or a limit the user asked for. test/unit/create-options.test.ts walks the
// Engine API schema and checks every field is listed here.
import { badParameter } from '../errdefs/errors.js';
import type { ContainerCreateRequest } from '../wire/types.js';

export type OptionSupport =
  | { support: 'honoured' }
  | { support: 'inert'; why: string }
  | {
    support: 'refused';
    /** The docker CLI flag that sets it, for the message. */
    flag: string;
    /** A value that must be refused (the test sends it). */
    example: unknown;
    /** Whether a value is the default (what a client sends when the option is not used); Go's zero value if not given. */
    isDefault?: (value: unknown) => boolean;
  };

const honoured: OptionSupport = { support: 'honoured' };
const refused = (flag: string, example: unknown, isDefault?: (value: unknown) => boolean): OptionSupport => ({ support: 'refused', flag, example, isDefault });
const zeroOr = (...values: unknown[]) => (value: unknown) => isZero(value) || values.includes(value);
const noKeys = (value: unknown) => Object.keys(value ?? {}).length === 0;

export const CONTAINER_CONFIG_OPTIONS: Record<string, OptionSupport> = {
  Hostname: honoured, Domainname: honoured, User: honoured,
  AttachStdin: { support: 'inert', why: 'the client attaches the streams it wants' },
  AttachStdout: { support: 'inert', why: 'the client attaches the streams it wants' },
  AttachStderr: { support: 'inert', why: 'the client attaches the streams it wants' },
  ExposedPorts: honoured, // metadata, as in Docker: exposing publishes nothing
  Tty: honoured, OpenStdin: honoured, StdinOnce: honoured, Env: honoured, Cmd: honoured, Healthcheck: honoured,
  ArgsEscaped: { support: 'inert', why: 'Windows only' },
  Image: honoured,
  Volumes: honoured, // the image's and the request's VOLUME paths become anonymous volumes
  WorkingDir: honoured, Entrypoint: honoured, NetworkDisabled: honoured,
  MacAddress: honoured,
  OnBuild: { support: 'inert', why: 'used by image builds only' },
  Labels: honoured, StopSignal: honoured, StopTimeout: honoured, Shell: honoured,
};

const LOG_DRIVERS = ['', 'json-file', 'k8s-file'];

export const HOST_CONFIG_OPTIONS: Record<string, OptionSupport> = {
  // Resources
  CpuShares: honoured, Memory: honoured, CgroupParent: honoured,
  BlkioWeight: refused('--blkio-weight', 500),
  BlkioWeightDevice: refused('--blkio-weight-device', [{ Path: '/dev/sda', Weight: 500 }]),
  BlkioDeviceReadBps: refused('--device-read-bps', [{ Path: '/dev/sda', Rate: 1024 }]),
  BlkioDeviceWriteBps: refused('--device-write-bps', [{ Path: '/dev/sda', Rate: 1024 }]),
  BlkioDeviceReadIOps: refused('--device-read-iops', [{ Path: '/dev/sda', Rate: 10 }]),
  BlkioDeviceWriteIOps: refused('--device-write-iops', [{ Path: '/dev/sda', Rate: 10 }]),
  CpuPeriod: honoured, CpuQuota: honoured,
  CpuRealtimePeriod: refused('--cpu-rt-period', 1000000),
  CpuRealtimeRuntime: refused('--cpu-rt-runtime', 950000),
  CpusetCpus: honoured,
  CpusetMems: refused('--cpuset-mems', '0'),
  Devices: honoured, DeviceCgroupRules: honoured,
  DeviceRequests: refused('--gpus', [{ Driver: 'nvidia', Count: -1 }]),
  KernelMemoryTCP: refused('--kernel-memory-tcp', 10485760),
  MemoryReservation: honoured, MemorySwap: honoured,
  MemorySwappiness: refused('--memory-swappiness', 10, zeroOr(-1)),
  NanoCpus: honoured, OomKillDisable: honoured, Init: honoured, PidsLimit: honoured, Ulimits: honoured,
  CpuCount: refused('--cpu-count', 2), CpuPercent: refused('--cpu-percent', 50),
  IOMaximumIOps: refused('--io-maxiops', 100), IOMaximumBandwidth: refused('--io-maxbandwidth', 1048576),
  // HostConfig proper
  Binds: honoured,
  ContainerIDFile: { support: 'inert', why: 'the client writes the file' },
  LogConfig: refused('--log-driver, --log-opt', { Type: 'syslog' },
    (value) => { const { Type, Config } = (value ?? {}) as { Type?: string; Config?: Record<string, string> }; return LOG_DRIVERS.includes(Type ?? '') && noKeys(Config); }),
  NetworkMode: honoured, // the container service knows the modes that exist
  PortBindings: honoured,
  RestartPolicy: honoured, AutoRemove: honoured,
  VolumeDriver: refused('--volume-driver', 'local'),
  VolumesFrom: honoured, Mounts: honoured,
  ConsoleSize: { support: 'inert', why: 'the client sets the terminal size once attached' },
  Annotations: refused('--annotation', { 'com.example.key': 'value' }, noKeys),
  CapAdd: honoured, CapDrop: honoured, CgroupnsMode: honoured, Dns: honoured, DnsOptions: honoured, DnsSearch: honoured,
  ExtraHosts: honoured, GroupAdd: honoured, IpcMode: honoured,
  Cgroup: refused('--cgroup', 'container:other'),
  Links: honoured,
  OomScoreAdj: honoured, PidMode: honoured, Privileged: honoured,
  PublishAllPorts: honoured,
  ReadonlyRootfs: honoured, SecurityOpt: honoured,
  StorageOpt: refused('--storage-opt', { size: '10G' }, noKeys),
  Tmpfs: honoured, UTSMode: honoured,
  UsernsMode: honoured, // '' or 'host' (validatePrivilegeOptions)
  ShmSize: honoured, Sysctls: honoured, Runtime: honoured,
  Isolation: refused('--isolation', 'hyperv', zeroOr('default')),
  MaskedPaths: honoured, ReadonlyPaths: honoured,
};

/** Go's zero value (what a client sends for an option it does not set). */
function isZero(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value).every(isZero);
  return false;
}

function refuse(field: string, option: OptionSupport, value: unknown): void {
  if (option.support !== 'refused' || (option.isDefault ?? isZero)(value)) return;
  throw badParameter(`${field} (${option.flag}) is not supported by berthd yet`);
}

/**
 * Refuses a create request that asks for something berthd does not implement. Fields not in
 * the tables are unknown to the v1.43 schema and were dropped by the decoder, as Go ignores them.
 */
export function refuseUnsupportedOptions(request: ContainerCreateRequest): void {
  // NetworkingConfig is checked against the networks by the network service (network/service.ts).
  const { HostConfig: hostConfig, NetworkingConfig: _networking, ...config } = request;
  for (const [field, value] of Object.entries(config)) {
    const option = CONTAINER_CONFIG_OPTIONS[field];
    if (option) refuse(field, option, value);
  }
  for (const [field, value] of Object.entries(hostConfig ?? {})) {
    const option = HOST_CONFIG_OPTIONS[field];
    if (option) refuse(`HostConfig.${field}`, option, value);
  }
}
