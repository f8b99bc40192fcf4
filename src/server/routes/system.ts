// /_ping, /version, /info and /events.
import { cpus, hostname, release, totalmem } from 'node:os';
import type { ServerResponse } from 'node:http';
import type { EventMessage, RegistryServiceConfig, VersionResponse } from '../../wire/types.js';
import type { EventBus } from '../../events/bus.js';
import { API_VERSION, MIN_API_VERSION, filtersParam, sendJson, sendText, startStream, type RequestContext, type RouteTable } from '../server.js';
import { badParameter } from '../../errdefs/errors.js';
import { eventFilter } from '../../events/filter.js';
import { hostArchitecture } from '../../util/host-arch.js';

export const BERTH_VERSION = '0.1.0';

export interface SystemFacts {
  daemonId: string;
  dataRoot: string;
  defaultRuntime: string;
  runtimes: Record<string, { path: string }>;
  cgroupVersion: '1' | '2';
  debug: boolean;
  startedAt: Date;
  registryConfig: RegistryServiceConfig;
  /** The daemon's labels (daemon.json "labels", --label): reloaded on SIGHUP. */
  labels?: string[];
  /** Docker's "name=..." list: seccomp and its profile, userns when --userns-remap is on. */
  securityOptions?: string[];
}

const UNAME_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ia32: 'i686', ppc64: 'ppc64le', s390x: 's390x' };

/** How many containers (and of them running, paused) and images there are, for /info. */
export interface SystemCounts { containers: number; running: number; paused: number; images: number }

export interface SystemBackend {
  counts(): SystemCounts;
  events: Pick<EventBus, 'subscribe'>;
}

export function systemRoutes(facts: SystemFacts, backend: SystemBackend): RouteTable {
  return [
    ['GET', /^\/_ping$/, (context) => {
      context.response?.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
      context.response?.setHeader('Pragma', 'no-cache');
      sendText(context, 200, context.method === 'HEAD' ? '' : 'OK');
    }],
    ['GET', /^\/version$/, (context) => sendJson(context, 200, versionInfo())],
    ['GET', /^\/info$/, (context) => {
      const counts = backend.counts();
      sendJson(context, 200, {
        ID: facts.daemonId, Containers: counts.containers, ContainersRunning: counts.running, ContainersPaused: counts.paused,
        ContainersStopped: counts.containers - counts.running - counts.paused, Images: counts.images, Driver: 'overlay2',
        DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true'], ['Using metacopy', 'false'], ['Native Overlay Diff', 'true']],
        Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: ['k8s-file'] },
        MemoryLimit: true, SwapLimit: true, KernelMemoryTCP: false, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true,
        PidsLimit: true, IPv4Forwarding: true, BridgeNfIptables: false, BridgeNfIp6tables: false, Debug: facts.debug,
        NFd: 0, OomKillDisable: true, NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: 'k8s-file',
        CgroupDriver: 'cgroupfs', CgroupVersion: facts.cgroupVersion, NEventsListener: 0, KernelVersion: release(),
        OperatingSystem: 'berth', OSVersion: '', OSType: 'linux', Architecture: UNAME_ARCH[process.arch] ?? process.arch,
        IndexServerAddress: 'https://index.docker.io/v1/', RegistryConfig: facts.registryConfig,
        NCPU: cpus().length, MemTotal: totalmem(), GenericResources: null, DockerRootDir: facts.dataRoot,
        HttpProxy: '', HttpsProxy: '', NoProxy: '', Name: hostname(), Labels: facts.labels ?? [], ExperimentalBuild: false,
        ServerVersion: BERTH_VERSION, Runtimes: facts.runtimes, DefaultRuntime: facts.defaultRuntime,
        Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
        LiveRestoreEnabled: true, Isolation: '', InitBinary: 'tini', ContainerdCommit: { ID: '', Expected: '' },
        RuncCommit: { ID: '', Expected: '' }, InitCommit: { ID: '', Expected: '' },
        SecurityOptions: facts.securityOptions ?? ['name=seccomp,profile=builtin'], Warnings: [],
      });
    }],
    ['GET', /^\/events$/, (context) => streamEvents(backend.events, context)],
    // berthd has no build cache: its prune (which `docker system prune` calls) has nothing to remove.
    ['POST', /^\/build\/prune$/, (context) => sendJson(context, 200, { CachesDeleted: null, SpaceReclaimed: 0 })],
  ];
}

export function versionInfo(): VersionResponse {
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: hostArchitecture(), KernelVersion: release() };
  return {
    Platform: { Name: 'berth' },
    Components: [{ Name: 'Engine', Version: BERTH_VERSION, Details: { ...details, GitCommit: '', GoVersion: `node ${process.version}`, BuildTime: '', Experimental: 'false' } }],
    Version: BERTH_VERSION, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: '',
    GoVersion: `node ${process.version}`, Os: 'linux', Arch: details.Arch, KernelVersion: release(), BuildTime: '',
  };
}

function parseTime(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) {
    const [seconds, fraction = ''] = value.split('.');
    return Number(seconds) * 1e9 + Number(fraction.padEnd(9, '0').slice(0, 9));
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw badParameter(`invalid timestamp: ${value}`);
  return parsed * 1e6;
}

async function streamEvents(events: SystemBackend['events'], context: RequestContext): Promise<void> {
  const filters = filtersParam(context.query);
  const wanted = eventFilter(filters);
  const since = parseTime(context.query.get('since'));
  const until = parseTime(context.query.get('until'));
  const response: ServerResponse = startStream(context, 'application/json');
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      unsubscribe();
      clearTimeout(timer);
      response.end();
      resolve();
    };
    const unsubscribe = events.subscribe(since ?? (until !== undefined ? 0 : undefined), (event) => {
      if (until !== undefined && event.timeNano > until) return;
      if (wanted(event)) response.write(JSON.stringify(event) + '\n');
    });
    if (until !== undefined) timer = setTimeout(finish, Math.max(0, (until - Date.now() * 1e6) / 1e6));
    context.signal.addEventListener('abort', finish, { once: true });
  });
}
