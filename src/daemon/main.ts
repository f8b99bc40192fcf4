// berthd's entry point and composition root: reads the configuration, builds the stores and
// services, restores containers that kept running while the daemon was away, and serves the
// API until SIGTERM/SIGINT. Stopping berthd never stops containers (conmon holds them).
// First: the heap's settings must hold before the other modules allocate.
import { IdleCollector, memoryLine } from './memory.js';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ApiServer, type ListenAddress, type ServerTls } from '../server/server.js';
import { formatDockerHost, isLoopbackAddress, parseDockerHost, type DockerHost } from '../util/docker-host.js';
import { ImageArchive } from '../images/archive.js';
import { ImagePruner } from '../images/prune.js';
import { BERTH_VERSION } from '../server/routes/system.js';
import { ContentStore } from '../content/store.js';
import { ContainerService } from '../containers/service.js';
import { EtcFilesHook } from '../containers/etc-files-hook.js';
import { ShmHook } from '../containers/shm-hook.js';
import { remappedDataRoot, setUpRemap } from './userns-remap.js';
import { LifecycleHooks } from '../containers/hooks.js';
import { RootfsHook } from '../containers/rootfs-hook.js';
import { VolumesHook } from '../containers/volumes-hook.js';
import { NetworkHook, networkContainer } from '../containers/network-hook.js';
import { NetworkService } from '../network/service.js';
import { DEFAULT_ADDRESS_POOLS, parseAddressPool, type AddressPool } from '../network/ipam.js';
import { readHostResolvConf } from '../containers/etc-files.js';
import { SEEDS_DIRECTORY, VolumeStore } from '../volumes/store.js';
import { VolumeSeeds } from '../volumes/seeds.js';
import { ContainerVolumes } from '../volumes/container-volumes.js';
import { ExecService } from '../containers/exec.js';
import { HealthMonitor } from '../containers/health.js';
import { LayerBlobIndex } from '../images/layer-blobs.js';
import { DistributionService } from '../distribution/service.js';
import { RegistryConfigError, RegistryHosts } from '../distribution/registry-hosts.js';
import { RegistryService } from '../distribution/search.js';
import { loadDefaultProfile, parseSeccompProfile } from '../containers/seccomp.js';
import { capabilitiesFromMask } from '../runtime/capabilities.js';
import { EventBus } from '../events/bus.js';
import { ImageStore } from '../images/store.js';
import { LayerStore } from '../layers/store.js';
import { OciRuntime } from '../runtime/oci-runtime.js';
import { writeFileAtomic } from '../util/atomic.js';
import { TRACE_ENABLED } from '../util/trace.js';
import { apiRoutes } from './routes.js';
import { activatedSockets, groupId, planListeners } from './listeners.js';
import { buildServices } from './build-services.js';
import { ConfigError, DEFAULT_CONFIG, DAEMON_USAGE, mergeConfig, parseDaemonArgs, RELOADABLE_KEYS, reloadConfig, type DaemonConfig } from './config.js';

async function loadConfig(argv: string[]): Promise<{ config: DaemonConfig; flags: Partial<DaemonConfig> } | undefined> {
  const { flags, help, version } = parseDaemonArgs(argv);
  if (help) {
    process.stdout.write(DAEMON_USAGE);
    return undefined;
  }
  if (version) {
    process.stdout.write(`berthd version ${BERTH_VERSION}\n`);
    return undefined;
  }
  const configFile = flags.configFile ?? '/etc/berth/daemon.json';
  let text: string | undefined;
  try {
    text = await readFile(configFile, 'utf8');
  } catch (error) {
    if (flags.configFile !== undefined || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`unable to configure the daemon with file ${configFile}: ${(error as Error).message}`);
  }
  return { config: mergeConfig(flags, text), flags };
}

/**
 * SIGHUP: daemon.json read again and its reloadable keys applied, as dockerd does; a file that
 * cannot be read or is invalid is logged and the running configuration kept.
 */
async function reload(current: DaemonConfig, flags: Partial<DaemonConfig>, apply: (next: DaemonConfig) => void): Promise<DaemonConfig> {
  try {
    let text: string | undefined;
    try {
      text = await readFile(current.configFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const next = reloadConfig(current, flags, text);
    apply(next);
    process.stderr.write(`berthd: reloaded configuration from ${current.configFile}: ${JSON.stringify(Object.fromEntries(RELOADABLE_KEYS.map((key) => [key, next[key]])))}\n`);
    return next;
  } catch (error) {
    process.stderr.write(`berthd: error reconfiguring the daemon: ${error instanceof Error ? error.message : String(error)}; the configuration is unchanged\n`);
    return current;
  }
}

/**
 * The sockets to serve on, resolved from -H/hosts and the TLS settings: Docker's warnings
 * logged, unauthenticated TCP on a non-loopback address refused, TLS files read, the unix
 * socket's group looked up, fd:// mapped to the fds systemd passed.
 */
async function prepareListeners(config: DaemonConfig): Promise<{ addresses: ListenAddress[]; tls: ServerTls | undefined; shown: string[] }> {
  const names = config.hosts.map((host) => {
    try {
      return parseDockerHost(host);
    } catch {
      return undefined;
    }
  }).filter((host): host is DockerHost & { proto: 'tcp' } => host?.proto === 'tcp' && isIP(host.host) === 0 && host.host !== 'localhost');
  const loopbackNames = new Set<string>();
  for (const { host } of names) {
    const found = await lookup(host, { all: true }).catch(() => []);
    if (found.length > 0 && found.every((entry) => isLoopbackAddress(entry.address))) loopbackNames.add(host);
  }
  const plan = planListeners(config, process.env, (host) => loopbackNames.has(host));
  for (const warning of plan.warnings) process.stderr.write(`berthd: WARNING: ${warning}\n`);
  let tls: ServerTls | undefined;
  if (plan.tls) {
    const read = async (path: string, what: string) => readFile(path).catch((error: Error) => {
      throw new ConfigError(`invalid TLS configuration: could not read ${what} "${path}": ${error.message}`);
    });
    tls = {
      key: await read(plan.tls.keyFile, 'key'), cert: await read(plan.tls.certFile, 'certificate'),
      ca: plan.tls.verifyClients || existsSync(plan.tls.caFile) ? await read(plan.tls.caFile, 'CA certificate') : undefined,
      verifyClients: plan.tls.verifyClients,
    };
    const { createSecureContext } = await import('node:tls');
    try {
      createSecureContext(tls);
    } catch (error) {
      throw new ConfigError(`invalid TLS configuration: ${(error as Error).message}`);
    }
  }
  const addresses: ListenAddress[] = [];
  const shown: string[] = [];
  for (const host of plan.hosts) {
    shown.push(formatDockerHost(host));
    if (host.proto === 'tcp') addresses.push({ tcp: { host: host.host, port: host.port } });
    else if (host.proto === 'fd') addresses.push(...activatedSockets(process.env, process.pid, host.fd).map((fd) => ({ fd })));
    else addresses.push({ unix: host.path, gid: await socketGroup(config) });
  }
  // As sd_listen_fds(unset_environment): children must not think the sockets are theirs.
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  return { addresses, tls, shown };
}

/** The unix socket's group: --group if it exists; the default group (berth) only when it exists, else root's. */
async function socketGroup(config: DaemonConfig): Promise<number> {
  const groups = await readFile('/etc/group', 'utf8').catch(() => '');
  const gid = groupId(groups, config.group);
  if (gid !== undefined) return gid;
  if (config.group !== DEFAULT_CONFIG.group && config.group !== '') throw new ConfigError(`group ${config.group} not found`);
  if (config.group !== '') process.stderr.write(`berthd: WARNING: could not change group of the socket to ${config.group}: group ${config.group} not found\n`);
  return process.getgid?.() ?? 0;
}

/** Two daemons on one set of roots would corrupt each other's records: refuse, as dockerd does. */
async function claimPidfile(path: string): Promise<void> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10);
    if (pid > 0 && pid !== process.pid && processExists(pid)) {
      throw new ConfigError(`pid file found, ensure berthd is not running or delete ${path}`);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
  }
  await writeFile(path, `${process.pid}\n`);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function hostCapabilities(): Promise<string[]> {
  const status = await readFile('/proc/self/status', 'utf8');
  return capabilitiesFromMask(/^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0');
}

async function daemonId(dataRoot: string): Promise<string> {
  const path = join(dataRoot, 'engine-id');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    const id = randomUUID();
    await writeFileAtomic(path, id);
    return id;
  }
}

function addressPools(pools: DaemonConfig['defaultAddressPools']): AddressPool[] {
  if (pools.length === 0) return DEFAULT_ADDRESS_POOLS;
  try {
    return pools.map(parseAddressPool);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

async function main(): Promise<void> {
  const loaded = await loadConfig(process.argv.slice(2));
  if (!loaded) return;
  const { config, flags } = loaded;
  if (process.getuid?.() !== 0) throw new ConfigError('berthd needs to be started with root privileges');
  // Checked (and TLS files read) before anything is touched: a daemon that cannot listen safely does not start.
  const listening = await prepareListeners(config);
  const remap = config.usernsRemap ? await setUpRemap(config.usernsRemap) : undefined;
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  // With --userns-remap everything stored (layers, images, containers, volumes) lives under
  // <data-root>/<uid>.<gid>, owned for the remapped root, as dockerd keeps it.
  if (remap) config.dataRoot = await remappedDataRoot(config.dataRoot, remap.root);
  await mkdir(config.execRoot, { recursive: true, mode: 0o700 });
  await mkdir(dirname(config.pidfile), { recursive: true });
  await claimPidfile(config.pidfile);

  const events = new EventBus();
  const runtimes = new Map<string, OciRuntime>();
  for (const [name, { path }] of Object.entries(config.runtimes)) {
    if (existsSync(path)) runtimes.set(name, new OciRuntime(name, path, join(config.execRoot, 'runtime', name)));
  }
  if (!runtimes.has(config.defaultRuntime)) throw new ConfigError(`default runtime ${config.defaultRuntime} not found at ${config.runtimes[config.defaultRuntime]?.path}`);

  const content = new ContentStore(join(config.dataRoot, 'content'));
  const layers = new LayerStore(join(config.dataRoot, 'layers'), remap?.mappings);
  const layerBlobs = new LayerBlobIndex(join(config.dataRoot, 'distribution'), content);
  // The two services need each other (rmi asks who uses an image; create resolves images):
  // the image store gets a late-bound lookup.
  let containersRef: ContainerService | undefined;
  const images = new ImageStore({
    dataRoot: config.dataRoot, content, layers, publish: events.publish,
    containersUsing: (imageId) => containersRef?.containersUsingImage(imageId) ?? [],
    layerBlobs,
  });
  let registryHosts: RegistryHosts;
  try {
    registryHosts = new RegistryHosts({ mirrors: config.registryMirrors, insecureRegistries: config.insecureRegistries });
  } catch (error) {
    if (error instanceof RegistryConfigError) throw new ConfigError(error.message);
    throw error;
  }
  const distribution = new DistributionService({
    images, layers, content, blobs: layerBlobs, publish: events.publish, hosts: registryHosts, maxConcurrentDownloads: config.maxConcurrentDownloads,
  });
  const seccompProfile = config.seccompProfile === 'unconfined' ? 'unconfined' as const
    : config.seccompProfile === 'builtin' ? loadDefaultProfile() : parseSeccompProfile(await readFile(config.seccompProfile, 'utf8'));
  let execsRef: ExecService | undefined;
  // What joins every container start and stop, prepared in this order and released in reverse
  // (docs/architecture.md, "Lifecycle hooks"): the root filesystem first, since the others write into it.
  const rootfs = new RootfsHook(images);
  const volumes = new VolumeStore(join(config.dataRoot, 'volumes'), remap?.root);
  const seeds = new VolumeSeeds(join(config.dataRoot, 'volumes', SEEDS_DIRECTORY), layers.root, (imageId) => images.resolve(imageId)?.id === imageId);
  const containerVolumes = new ContainerVolumes(volumes, seeds);
  const networks = new NetworkService({
    dataRoot: config.dataRoot, execRoot: config.execRoot, bridge: config.bridge, bip: config.bip || undefined, fixedCidr: config.fixedCidr || undefined,
    mtu: config.mtu, ipForward: config.ipForward, ipMasq: config.ipMasq, iptables: config.iptables, icc: config.icc,
    defaultAddressPools: addressPools(config.defaultAddressPools), publish: events.publish,
    // One embedded DNS server per user network, on its gateway: it forwards what is not a
    // container's name to the host's resolvers (loopback ones too: it runs in the host's namespace).
    // Its module (and dns-packet) is loaded with the first user network.
    startDns: async (network, records) => (await import('../network/dns/embedded-dns.js')).EmbeddedDnsServer.start({
      address: network.IPAM.Config[0]!.Gateway!, records,
      upstreams: (await readHostResolvConf()).split('\n').map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1]).filter((server): server is string => !!server),
    }),
  });
  // The network hook comes before the /etc files: they need the container's address and the links.
  // The overlay mount, the network sandbox and /dev/shm need nothing of each other and are made
  // at once; the /etc files need the network's addresses, and a volume's copy-up the image's files.
  const hooks = new LifecycleHooks()
    .register(rootfs, { after: [] })
    .register(new NetworkHook(networks, (reference) => containersRef?.find(reference), remap?.mappings), { after: [] })
    .register(new EtcFilesHook(), { after: ['network'] })
    .register(new ShmHook(), { after: [] })
    .register(new VolumesHook(containerVolumes), { after: ['rootfs'] });
  const containers = new ContainerService({
    dataRoot: config.dataRoot, execRoot: config.execRoot, images, runtimes, defaultRuntime: config.defaultRuntime,
    cgroupParent: config.cgroupParent, hostCapabilities: await hostCapabilities(), seccompProfile, publish: events.publish,
    hooks, rootfs, execIds: (id) => execsRef?.execIds(id) ?? [], volumes: containerVolumes, idMappings: remap?.mappings, networks,
  });
  networks.containers = {
    find: (reference) => {
      const record = containers.find(reference);
      return record && networkContainer(record);
    },
    all: () => containers.all().map(networkContainer),
  };
  volumes.users = containers.containersUsingVolume;
  volumes.runningUsers = (name) => containers.all()
    .filter((record) => record.state.Running && record.mountPoints?.some((point) => point.Name === name)).map((record) => record.id);
  containersRef = containers;
  await content.init();
  await layers.init();
  await layerBlobs.init();
  await images.init();
  await distribution.pruneBlobs();
  const imageArchive = new ImageArchive({ images, layers, content, blobs: layerBlobs, publish: events.publish, tmpDir: join(config.dataRoot, 'tmp') });
  await imageArchive.init();
  // Listening before init: init starts the containers whose restart policy wants them running.
  const health = new HealthMonitor(containers, (record, command, timeoutMs) => {
    if (!execsRef) throw new Error('exec is not ready yet');
    return execsRef.run(record.id, command, { timeoutMs });
  });
  health.listen();
  await volumes.init();
  await seeds.init();
  events.subscribe(undefined, (event) => {
    if (event.Type === 'image' && event.Action === 'delete') {
      seeds.forgetImage(event.Actor.ID).catch((error: unknown) => process.stderr.write(`berthd: removing volume seeds of ${event.Actor.ID}: ${String(error)}\n`));
    }
  });
  await networks.init();
  await containers.init();
  await networks.reconcile();
  const runningByVolume = new Map<string, string[]>();
  for (const record of containers.all().filter((container) => container.state.Running)) {
    for (const point of record.mountPoints ?? []) if (point.Name) runningByVolume.set(point.Name, [...(runningByVolume.get(point.Name) ?? []), record.id]);
  }
  await volumes.restoreMounts(runningByVolume);
  // Layers a pull, load or import killed with the daemon had unpacked, that no image or container refers to.
  await images.pruneLayers(containers.all().map((record) => record.topChainId).filter((chain): chain is string => !!chain))
    .catch((error: unknown) => process.stderr.write(`berthd: removing unused layers: ${String(error)}\n`));
  await distribution.pruneBlobs();
  const execs = new ExecService({ containers, hostCapabilities: await hostCapabilities(), execIoSocket: join(config.execRoot, 'exec-io.sock') });
  execsRef = execs;
  await execs.init();
  health.resume();

  const facts = {
    daemonId: await daemonId(config.dataRoot), dataRoot: config.dataRoot, defaultRuntime: config.defaultRuntime,
    securityOptions: [`name=seccomp,profile=${config.seccompProfile === 'unconfined' ? 'unconfined' : config.seccompProfile === 'builtin' ? 'builtin' : 'custom'}`, ...(remap ? ['name=userns'] : [])],
    runtimes: Object.fromEntries([...runtimes].map(([name, runtime]) => [name, { path: runtime.binary }])),
    cgroupVersion: existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' as const : '1' as const,
    debug: config.debug, startedAt: new Date(), registryConfig: registryHosts.serviceConfig(), labels: config.labels,
  };
  const build = await buildServices({ dataRoot: config.dataRoot, containers, images, layers, distribution });
  const server = new ApiServer(apiRoutes({
    facts, events, containers, execs, images, imageArchive, distribution, cgroupParent: config.cgroupParent, build,
    imagePruner: new ImagePruner({ images, layers, publish: events.publish }), registries: new RegistryService(registryHosts), volumes, networks,
  }), config.debug);
  server.onSettled = new IdleCollector().settled;
  await server.listen(listening.addresses, listening.tls);
  process.stderr.write(`berthd ${BERTH_VERSION} listening on ${listening.shown.join(', ')} (data root ${config.dataRoot})\n`);
  if (TRACE_ENABLED) {
    process.stderr.write(`${memoryLine()}\n`);
    setInterval(() => process.stderr.write(`${memoryLine()}\n`), 10_000).unref();
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    health.shutdown();
    containers.shutdown();
    execs.shutdown();
    await server.close();
    await networks.shutdown();
    await seeds.shutdown();
    for (const address of listening.addresses) if ('unix' in address) await rm(address.unix, { force: true });
    await rm(config.pidfile, { force: true });
    process.exit(0);
  };
  let running = config;
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      running = await reload(running, flags, (next) => {
        // Checked before anything changes: an invalid registry setting leaves all as it was.
        let hosts: RegistryHosts;
        try {
          hosts = new RegistryHosts({ mirrors: next.registryMirrors, insecureRegistries: next.insecureRegistries });
        } catch (error) {
          if (error instanceof RegistryConfigError) throw new ConfigError(error.message);
          throw error;
        }
        registryHosts.adopt(hosts);
        facts.registryConfig = registryHosts.serviceConfig();
        facts.debug = next.debug;
        facts.labels = next.labels;
        server.debug = next.debug;
        distribution.setMaxConcurrentDownloads(next.maxConcurrentDownloads);
      });
    });
  });
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`berthd: ${error instanceof Error ? error.message : String(error)}\n`);
  if (error instanceof Error && !(error instanceof ConfigError) && process.env.BERTH_DEBUG) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
