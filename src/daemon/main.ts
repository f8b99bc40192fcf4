// berthd's entry point and composition root: reads the configuration, builds the stores and
// services, restores containers that kept running while the daemon was away, and serves the
// API until SIGTERM/SIGINT. Stopping berthd never stops containers (conmon holds them).
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ApiServer } from '../server/server.js';
import { ImageArchive } from '../images/archive.js';
import { ImagePruner } from '../images/prune.js';
import { BERTH_VERSION } from '../server/routes/system.js';
import { ContentStore } from '../content/store.js';
import { ContainerService } from '../containers/service.js';
import { EtcFilesHook } from '../containers/etc-files-hook.js';
import { LifecycleHooks } from '../containers/hooks.js';
import { RootfsHook } from '../containers/rootfs-hook.js';
import { VolumesHook } from '../containers/volumes-hook.js';
import { NetworkHook, networkContainer } from '../containers/network-hook.js';
import { NetworkService } from '../network/service.js';
import { DEFAULT_ADDRESS_POOLS, parseAddressPool, type AddressPool } from '../network/ipam.js';
import { EmbeddedDnsServer } from '../network/dns/embedded-dns.js';
import { readHostResolvConf } from '../containers/etc-files.js';
import { VolumeStore } from '../volumes/store.js';
import { ContainerVolumes } from '../volumes/container-volumes.js';
import { ExecService } from '../containers/exec.js';
import { HealthMonitor } from '../containers/health.js';
import { LayerBlobIndex } from '../images/layer-blobs.js';
import { DistributionService } from '../distribution/service.js';
import { RegistryConfigError, RegistryHosts } from '../distribution/registry-hosts.js';
import { RegistryService } from '../distribution/search.js';
import { loadDefaultProfile, parseSeccompProfile } from '../containers/seccomp.js';
import { capabilitiesFromMask } from '../containers/spec.js';
import { EventBus } from '../events/bus.js';
import { ImageStore } from '../images/store.js';
import { LayerStore } from '../layers/store.js';
import { OciRuntime } from '../runtime/oci-runtime.js';
import { writeFileAtomic } from '../util/atomic.js';
import { apiRoutes } from './routes.js';
import { ConfigError, DAEMON_USAGE, mergeConfig, parseDaemonArgs, RELOADABLE_KEYS, reloadConfig, type DaemonConfig } from './config.js';

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
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
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
  const layers = new LayerStore(join(config.dataRoot, 'layers'));
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
  const volumes = new VolumeStore(join(config.dataRoot, 'volumes'));
  const containerVolumes = new ContainerVolumes(volumes);
  const networks = new NetworkService({
    dataRoot: config.dataRoot, execRoot: config.execRoot, bridge: config.bridge, bip: config.bip || undefined, fixedCidr: config.fixedCidr || undefined,
    mtu: config.mtu, ipForward: config.ipForward, ipMasq: config.ipMasq, iptables: config.iptables, icc: config.icc,
    defaultAddressPools: addressPools(config.defaultAddressPools), publish: events.publish,
    // One embedded DNS server per user network, on its gateway: it forwards what is not a
    // container's name to the host's resolvers (loopback ones too: it runs in the host's namespace).
    startDns: async (network, records) => EmbeddedDnsServer.start({
      address: network.IPAM.Config[0]!.Gateway!, records,
      upstreams: (await readHostResolvConf()).split('\n').map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1]).filter((server): server is string => !!server),
    }),
  });
  // The network hook comes before the /etc files: they need the container's address and the links.
  const hooks = new LifecycleHooks().register(rootfs).register(new NetworkHook(networks, (reference) => containersRef?.find(reference)))
    .register(new EtcFilesHook()).register(new VolumesHook(containerVolumes));
  const containers = new ContainerService({
    dataRoot: config.dataRoot, execRoot: config.execRoot, images, runtimes, defaultRuntime: config.defaultRuntime,
    cgroupParent: config.cgroupParent, hostCapabilities: await hostCapabilities(), seccompProfile, publish: events.publish,
    hooks, rootfs, execIds: (id) => execsRef?.execIds(id) ?? [], volumes: containerVolumes, networks,
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
  const execs = new ExecService({ containers, hostCapabilities: await hostCapabilities() });
  execsRef = execs;
  await execs.init();
  health.resume();

  const facts = {
    daemonId: await daemonId(config.dataRoot), dataRoot: config.dataRoot, defaultRuntime: config.defaultRuntime,
    runtimes: Object.fromEntries([...runtimes].map(([name, runtime]) => [name, { path: runtime.binary }])),
    cgroupVersion: existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' as const : '1' as const,
    debug: config.debug, startedAt: new Date(), registryConfig: registryHosts.serviceConfig(), labels: config.labels,
  };
  const server = new ApiServer(apiRoutes({
    facts, events, containers, execs, images, imageArchive, distribution, cgroupParent: config.cgroupParent,
    imagePruner: new ImagePruner({ images, layers, publish: events.publish }), registries: new RegistryService(registryHosts), volumes, networks,
  }), config.debug);
  await server.listen(config.hosts);
  process.stderr.write(`berthd ${BERTH_VERSION} listening on ${config.hosts.join(', ')} (data root ${config.dataRoot})\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    health.shutdown();
    containers.shutdown();
    execs.shutdown();
    await server.close();
    await networks.shutdown();
    for (const host of config.hosts) if (host.startsWith('unix://')) await rm(host.slice(7), { force: true });
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
