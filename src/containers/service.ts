// The container service: every container's record and name, and the facade the API routes and
// the daemon see. Its parts:
//
//   lifecycle.ts  start, stop, kill, restart (the lifecycle hooks of hooks.ts prepare each start
//                 and are released after it: root filesystem, /etc files, ...)
//   monitor.ts    what follows an exit: the record, restart policies, --rm, waiters
//   attach.ts     logs, attach output, stdin, terminal size
//   views.ts      inspect, `docker ps`, sizes
//
//   create  -> a record and an empty writable layer (nothing mounted, no process)
//   remove  -> the hooks told, record and directory gone (force kills first)
//
// Containers outlive the daemon (conmon holds them); `init` restores each record's true state
// from the runtime and the exit files written while the daemon was away.
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { chown, mkdir, rm } from 'node:fs/promises';
import { hostname as hostHostname, cpus } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateRequest, ContainerInspect, ContainerSummary, WaitResponse } from '../wire/types.js';
import { ZERO_TIME } from '../wire/types.js';
import type { ContainerPruneReport } from '../wire/types.js';
import type { Filters } from '../util/filters.js';
import { type IdMappings, toHostId } from '../util/id-mappings.js';
import { ContainerPruner } from './prune.js';
import { badParameter, conflict, forbidden, noSuchContainer, notFound } from '../errdefs/errors.js';
import type { OciRuntime, RuntimeState } from '../runtime/oci-runtime.js';
import { ContainerStreams, type AttachOutputOptions } from './attach.js';
import { ContainerCore, type ContainerServiceOptions } from './core.js';
import { ContainerLifecycle } from './lifecycle.js';
import type { ContainerListOptions } from './list.js';
import type { LogEntry, LogReadOptions } from './logs.js';
import { assertHasCommand, commandLine, mergeImageConfig } from './merge-config.js';
import { ExitMonitor, type WaitCondition } from './monitor.js';
import { randomName, VALID_NAME } from './names.js';
import { initialState, type ContainerRecord } from './record.js';
import { findShims, removeContainerLeftovers, resolveInterruptedStart, sweepOrphans, type ShimProcess } from './reconcile.js';
import { startsAtDaemonStart } from './restart-policy.js';
import { applyHostConfigDefaults, validateHostConfig } from './spec.js';
import { validateCreateRequest } from './create-checks.js';
import { gatherDevices } from './devices.js';
import { validatePrivilegeOptions } from './security-checks.js';
import { refuseUnsupportedOptions } from './create-options.js';
import { ContainerViews } from './views.js';
import { resolveMounts, type ContainerMountPoint } from '../volumes/mounts.js';
import type { ImageLayers } from '../volumes/seeds.js';
import { traced } from '../util/trace.js';
import { parseLink } from '../network/links.js';
import type { EndpointConfig } from '../network/service.js';
import { networkContainer } from './network-hook.js';

export type { ContainerServiceOptions } from './core.js';
export type { WaitCondition } from './monitor.js';
export { exitCodeForStartError, startErrorMessage } from './lifecycle.js';

const SUPPORTED_NETWORK_MODES = new Set(['default', 'bridge', 'none', 'host']);

export class ContainerService {
  private readonly core: ContainerCore;
  private readonly monitor: ExitMonitor;
  private readonly starter: ContainerLifecycle;
  private readonly streams: ContainerStreams;
  private readonly views: ContainerViews;
  private readonly pruner: ContainerPruner;
  /** Records being created (not yet listed): their volumes are in use already. */
  private readonly creating = new Map<string, ContainerRecord>();
  /**
   * What other parts of the daemon (attach, exec, health checks, restart policies) follow:
   * 'started' (id, logOffset), 'exited' (id, exitCode) once the exit is recorded, 'removed' (id).
   */
  readonly lifecycle: EventEmitter;

  constructor(options: ContainerServiceOptions) {
    this.core = new ContainerCore(options, (id, code, exitedAt) => {
      // An exit that cannot be recorded now is found again at the next start; it must not end the daemon.
      return this.monitor.handleExit(id, code, exitedAt).catch((error: unknown) => {
        process.stderr.write(`berthd: recording the exit of ${id}: ${String(error)}\n`);
      });
    });
    const removeForced = (id: string) => this.remove(id, { force: true, volumes: true });
    this.monitor = new ExitMonitor(this.core, { startLocked: (record) => this.starter.startLocked(record), remove: removeForced });
    this.starter = new ContainerLifecycle(this.core, this.monitor, removeForced, (reference) => this.get(reference));
    this.streams = new ContainerStreams(this.core, this.monitor);
    this.views = new ContainerViews(this.core, { all: () => this.all(), get: (reference) => this.get(reference) });
    this.pruner = new ContainerPruner(this, options.publish);
    this.lifecycle = this.core.lifecycle;
  }

  // ---- start-up and shutdown -------------------------------------------------------------

  async init(): Promise<void> {
    const { core, monitor } = this;
    await core.store.init();
    await mkdir(core.shimRoot, { recursive: true });
    await mkdir(core.socketRoot, { recursive: true });
    for (const record of await core.store.loadAll()) {
      core.records.set(record.id, record);
      core.names.set(record.name, record.id);
    }
    // Starts a killed daemon left half-done are completed or undone before anything else looks at the records.
    const shims = await findShims(core.options.execRoot);
    for (const record of core.records.values()) {
      if (record.starting !== undefined) await this.finishInterruptedStart(record, shims);
    }
    // The watcher's first scan records the exits that happened while the daemon was away, before anything is served.
    await core.exitWatcher.start();
    const runtimeStates = await this.runtimeStates();
    for (const record of core.records.values()) {
      if (!record.state.Running) continue;
      if (record.state.Restarting) {
        // The daemon stopped during the back-off: the restart it owed is done now.
        core.restarts.schedule(record.id, 0, () => monitor.restartAfterDelay(record));
        continue;
      }
      monitor.armExit(record.id);
      if (await core.hasExitFile(record.id)) continue;
      const runtime = core.runtimeOf(record);
      const state = runtimeStates.get(runtime)?.get(record.id) ?? await runtime.state(record.id);
      if (state && (state.status === 'running' || state.status === 'paused' || state.status === 'created')) {
        // The freezer is the truth about pause (a crash may fall between it and the record).
        const paused = state.status === 'paused';
        if (record.state.Paused !== paused) {
          record.state = { ...record.state, Paused: paused, Status: paused ? 'paused' : 'running' };
          await core.store.save(record);
        }
        continue;
      }
      // Neither running nor an exit file: the shim died with the container (or the host rebooted).
      await monitor.handleExit(record.id, 255);
    }
    await sweepOrphans(this.sweepOptions([]));
    // As dockerd at boot: stopped containers whose restart policy wants them running are started.
    await Promise.all(this.all().filter(startsAtDaemonStart).map((record) => core.lock.run(record.id, async () => {
      if (record.state.Running || !core.records.has(record.id)) return;
      record.restartCount = 0;
      await this.starter.startLocked(record);
    }).catch(() => undefined)));
  }

  /**
   * Each runtime's containers, listed once: asking for each container's state would be one
   * process per running container at start-up. A runtime that cannot list is asked per container.
   */
  private async runtimeStates(): Promise<Map<OciRuntime, Map<string, RuntimeState>>> {
    const used = new Set([...this.core.records.values()].filter((record) => record.state.Running).map((record) => this.core.runtimeOf(record)));
    const states = new Map<OciRuntime, Map<string, RuntimeState>>();
    await Promise.all([...used].map(async (runtime) => {
      const listed = await runtime.states().catch(() => undefined);
      if (listed) states.set(runtime, listed);
    }));
    return states;
  }

  /**
   * A start the daemon was killed in: a container that came up is adopted; otherwise (the
   * runtime only created it, or less) what the start made goes (the hooks are released) and
   * the record keeps its previous state.
   */
  private async finishInterruptedStart(record: ContainerRecord, shims: ShimProcess[]): Promise<void> {
    const { core } = this;
    const runtime = core.runtimeOf(record);
    const shimAlive = shims.some((shim) => shim.containerId === record.id && shim.uuid === record.id);
    const exited = await core.hasExitFile(record.id);
    const outcome = resolveInterruptedStart(await runtime.state(record.id), shimAlive, exited);
    const state = outcome === 'adopt' ? await runtime.state(record.id) : undefined;
    if (state && (state.status === 'running' || state.status === 'paused')) {
      record.state = {
        ...record.state, Status: state.status, Running: true, Paused: state.status === 'paused', Restarting: false, OOMKilled: false,
        Dead: false, Pid: state.pid, ExitCode: 0, Error: '', StartedAt: record.starting ?? new Date().toISOString(), FinishedAt: ZERO_TIME,
      };
      record.stoppedByUser = false;
      delete record.starting;
      await core.store.save(record);
      process.stderr.write(`berthd: adopted container ${record.id}, whose start the daemon was stopped in\n`);
      return;
    }
    process.stderr.write(`berthd: rolling back the start of container ${record.id} that the daemon was stopped in\n`);
    await removeContainerLeftovers(record.id, this.sweepOptions(shims.filter((shim) => shim.containerId === record.id)));
    await core.hooks.release({ ...core.hookContext(record), reason: 'start-failed' });
    await core.exitWatcher.clear(record.id);
    delete record.starting;
    await core.store.save(record);
  }

  /** What the sweep of shims, runtime containers, mounts, cgroups and exec-root entries no running record claims needs. */
  private sweepOptions(shims: ShimProcess[]): Parameters<typeof removeContainerLeftovers>[1] {
    const { core } = this;
    return {
      execRoot: core.options.execRoot, containersRoot: core.store.root, cgroupParent: core.options.cgroupParent,
      runtimes: [...core.options.runtimes.values()],
      claimed: (id) => core.records.get(id)?.state.Running === true,
      known: (id) => core.records.has(id),
      cgroupParentOf: (id) => (core.records.get(id)?.hostConfig as { CgroupParent?: string } | undefined)?.CgroupParent || undefined,
      locked: (id, work) => core.lock.run(id, work),
      log: (message) => process.stderr.write(`berthd: ${message}\n`),
      shims, mounts: [],
    };
  }

  shutdown(): void {
    this.core.exitWatcher.stop();
    this.core.restarts.shutdown();
  }

  // ---- lookup ------------------------------------------------------------------------------

  /** Full ID, name (with or without "/"), or unique ID prefix, as Docker resolves them. */
  find(reference: string): ContainerRecord | undefined {
    const { records, names } = this.core;
    if (!reference) return undefined;
    const byId = records.get(reference);
    if (byId) return byId;
    const byName = names.get(reference.startsWith('/') ? reference : `/${reference}`);
    if (byName) return records.get(byName);
    if (!/^[0-9a-f]+$/.test(reference)) return undefined;
    let match: ContainerRecord | undefined;
    for (const [id, record] of records) {
      if (!id.startsWith(reference)) continue;
      if (match) throw badParameter(`multiple IDs found with provided prefix: ${reference}`);
      match = record;
    }
    return match;
  }

  /** --userns-remap's mappings: the storage's files belong to the host IDs the containers' IDs map to. */
  get idMappings(): IdMappings | undefined {
    return this.core.options.idMappings;
  }

  get(reference: string): ContainerRecord {
    const record = this.find(reference);
    if (!record) throw noSuchContainer(reference);
    return record;
  }

  all(): ContainerRecord[] {
    return [...this.core.records.values()];
  }

  /** For the image service: which containers use an image (rmi refuses those). */
  readonly containersUsingImage = (imageId: string) =>
    this.all().filter((record) => record.image === imageId).map((record) => ({ id: record.id, running: record.state.Running }));

  // ---- create ------------------------------------------------------------------------------

  async create(request: ContainerCreateRequest, requestedName: string | undefined): Promise<{ Id: string; Warnings: string[] }> {
    validateCreateRequest(request);
    refuseUnsupportedOptions(request);
    const { HostConfig: rawHostConfig, NetworkingConfig: _networking, ...createConfig } = request;
    const imageRef = createConfig.Image ?? '';
    if (!imageRef) throw badParameter('No image was specified');
    const image = this.core.options.images.get(imageRef);
    const hostConfig = applyHostConfigDefaults({ ...(rawHostConfig ?? {}) });
    if (!hostConfig.NetworkMode) hostConfig.NetworkMode = 'default';
    validateHostConfig(hostConfig, { hostCpus: cpus().length, hostCapabilities: this.core.options.hostCapabilities });
    validatePrivilegeOptions(hostConfig, { usernsRemap: !!this.core.options.idMappings });
    // A device that is not there fails now, as nothing is made yet (Docker finds out at start).
    for (const device of hostConfig.Devices ?? []) await gatherDevices(device);
    const networks = this.core.options.networks;
    const endpointsConfig = (request.NetworkingConfig as { EndpointsConfig?: Record<string, EndpointConfig> } | undefined)?.EndpointsConfig ?? undefined;
    let connected: Record<string, EndpointConfig> | undefined;
    if (networks) {
      connected = networks.endpointsForCreate(hostConfig.NetworkMode, endpointsConfig, (createConfig as { MacAddress?: string }).MacAddress);
      for (const link of hostConfig.Links ?? []) {
        const { name: linked } = parseLink(link);
        if (!this.find(linked)) throw badParameter(`could not get container for ${linked}: No such container: ${linked}`);
      }
    } else if (!SUPPORTED_NETWORK_MODES.has(hostConfig.NetworkMode)) throw notFound(`network ${hostConfig.NetworkMode} not found`);
    const runtimeName = hostConfig.Runtime || this.core.options.defaultRuntime;
    if (!this.core.options.runtimes.has(runtimeName)) throw badParameter(`Unknown runtime specified ${runtimeName}`);
    hostConfig.Runtime = runtimeName;

    const config = mergeImageConfig(image.config.config, createConfig);
    config.Image = imageRef;
    assertHasCommand(config);
    const { path, args } = commandLine(config);

    const id = randomBytes(32).toString('hex');
    if (!config.Hostname) config.Hostname = hostConfig.NetworkMode === 'host' ? hostHostname() : id.slice(0, 12);
    const name = this.claimName(requestedName, id);
    const record: ContainerRecord = {
      id, name, created: new Date().toISOString(), path, args, config, hostConfig, image: image.id, topChainId: image.topChainId,
      state: initialState(), restartCount: 0, runtime: runtimeName, ...(connected ? { networks: connected } : {}),
    };
    const directory = this.core.store.directory(id);
    // Mounts resolved and volumes made before the record exists; undone if the create fails.
    // Until the record is listed, `creating` keeps its volumes from being removed or pruned.
    this.creating.set(id, record);
    try {
      record.mountPoints = await this.prepareMounts(record);
    } catch (error) {
      this.creating.delete(id);
      this.core.names.delete(name);
      throw error;
    }
    try {
      await mkdir(join(directory, 'fs', 'upper'), { recursive: true });
      // The root directory's owner comes from the upper one: the remapped root's, so that root in the container owns /.
      const mappings = this.core.options.idMappings;
      if (mappings) await chown(join(directory, 'fs', 'upper'), toHostId(0, mappings.uidMappings) ?? 0, toHostId(0, mappings.gidMappings) ?? 0);
      await mkdir(join(directory, 'fs', 'work'), { recursive: true });
      await mkdir(join(directory, 'fs', 'merged'), { recursive: true });
      // Nothing to copy where the image holds nothing, nor where a volume takes a seed: then no mount either (the record keeps that).
      let imageLayers: ImageLayers | undefined;
      if (record.mountPoints.some((point) => point.copyData)) {
        const layerDirs = await this.core.options.rootfs.layerDirs(record, this.core.containerPaths(record));
        await this.core.options.volumes!.dropCopiesOfNothing(record.mountPoints, layerDirs);
        imageLayers = { imageId: image.id, lowerDirs: layerDirs.slice(1) };
        await this.core.options.volumes!.takeSeeds(record.mountPoints, imageLayers);
      }
      await this.core.store.save(record);
      // Copy-up now, as Docker does at create: a container that never starts still hands filled volumes on.
      if (record.mountPoints.some((point) => point.copyData)) {
        // The mount stays for a start that follows at once (run), which takes it over.
        await traced('volumes.copyup', () => this.withRootfs(record, (rootfs) => this.core.options.volumes!.copyUp(record.mountPoints!, rootfs, id, imageLayers), true));
        await this.core.store.save(record);
      }
    } catch (error) {
      this.core.names.delete(name);
      await this.core.store.remove(id);
      // The copy-up's mount, left for the start, goes before the directory does.
      await this.core.options.rootfs.remove(this.core.hookContext(record)).catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
      this.creating.delete(id);
      await this.core.options.volumes?.removeAnonymous(record.mountPoints ?? []).catch(() => undefined);
      throw error;
    }
    this.core.records.set(id, record);
    this.creating.delete(id);
    this.core.publish(record, 'create');
    return { Id: id, Warnings: [] };
  }

  private async prepareMounts(record: ContainerRecord): Promise<ContainerMountPoint[]> {
    const hc = record.hostConfig;
    const request = { binds: hc.Binds, mounts: hc.Mounts, volumesFrom: hc.VolumesFrom, tmpfs: hc.Tmpfs, imageVolumes: record.config.Volumes };
    const mountsOf = (reference: string) => this.get(reference).mountPoints ?? [];
    if (this.core.options.volumes) return this.core.options.volumes.prepare(request, mountsOf);
    if (resolveMounts(request, mountsOf).length > 0) throw badParameter('volumes and bind mounts are not available in this daemon');
    return [];
  }

  /** The containers whose records mount a volume: volume rm and prune ask this. */
  readonly containersUsingVolume = (name: string) =>
    [...this.all(), ...this.creating.values()].filter((record) => record.mountPoints?.some((point) => point.Type === 'volume' && point.Name === name)).map((record) => record.id);

  private claimName(requested: string | undefined, id: string): string {
    if (requested) {
      if (!VALID_NAME.test(requested)) throw badParameter(`Invalid container name (${requested}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const name = requested.startsWith('/') ? requested : `/${requested}`;
      const owner = this.core.names.get(name);
      if (owner) throw conflict(`Conflict. The container name "${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`);
      this.core.names.set(name, id);
      return name;
    }
    for (let attempt = 0; ; attempt++) {
      const name = `/${randomName(attempt)}`;
      if (!this.core.names.has(name)) {
        this.core.names.set(name, id);
        return name;
      }
    }
  }

  // ---- start / stop / kill / restart / wait (lifecycle.ts, monitor.ts) ---------------------

  start(reference: string): Promise<void> {
    return this.starter.start(this.get(reference));
  }

  kill(reference: string, signalText: string | undefined): Promise<void> {
    return this.starter.kill(this.get(reference), reference, signalText);
  }

  stop(reference: string, options: { signal?: string; timeoutSeconds?: number }): Promise<void> {
    return this.starter.stop(this.get(reference), options);
  }

  restart(reference: string, timeoutSeconds: number | undefined, signal?: string): Promise<void> {
    return this.starter.restart(this.get(reference), timeoutSeconds, signal);
  }

  /** Registers the waiter synchronously (before the caller starts the container), resolves later. */
  wait(reference: string, condition: WaitCondition): Promise<WaitResponse> {
    return this.monitor.wait(this.get(reference), condition);
  }

  // ---- network connect / disconnect ------------------------------------------------------------

  /** POST /networks/{id}/connect: recorded on the container, and made live when it runs. */
  async connectNetwork(networkReference: string, containerReference: string, config: EndpointConfig): Promise<void> {
    const networks = this.requireNetworks();
    const network = networks.get(networkReference);
    const record = this.get(containerReference);
    await this.core.lock.run(record.id, async () => {
      const container = networkContainer(record);
      networks.checkConnect(network, container, config);
      const before = record.networks;
      record.networks = { ...container.networks, [network.Name]: { ...config, NetworkID: network.Id } };
      await this.core.store.save(record);
      if (record.state.Running) {
        try {
          await networks.connectRunning(networkContainer(record), network.Name, record.networks[network.Name]!);
        } catch (error) {
          record.networks = before;
          await this.core.store.save(record);
          throw error;
        }
      }
    });
  }

  /** POST /networks/{id}/disconnect. */
  async disconnectNetwork(networkReference: string, containerReference: string, force: boolean): Promise<void> {
    const networks = this.requireNetworks();
    const network = networks.get(networkReference);
    const record = this.find(containerReference);
    if (!record) {
      if (force) return;
      throw noSuchContainer(containerReference);
    }
    await this.core.lock.run(record.id, async () => {
      const container = networkContainer(record);
      const name = Object.keys(container.networks).find((key) => key === network.Name || container.networks[key]!.NetworkID === network.Id);
      if (!name) throw forbidden(`container ${record.id} is not connected to network ${network.Name}`);
      if (record.state.Running) await networks.disconnectRunning(record.id, network.Id);
      const rest = { ...container.networks };
      delete rest[name];
      record.networks = rest;
      await this.core.store.save(record);
    });
  }

  private requireNetworks(): NonNullable<ContainerServiceOptions['networks']> {
    const networks = this.core.options.networks;
    if (!networks) throw notFound('networks are not available in this daemon');
    return networks;
  }

  // ---- remove / rename -------------------------------------------------------------------------

  async remove(reference: string, options: { force: boolean; volumes: boolean }): Promise<void> {
    const { core, monitor } = this;
    const record = this.get(reference);
    if (record.state.Running) {
      if (!options.force) {
        throw conflict(`You cannot remove a ${record.state.Restarting ? 'restarting' : 'running'} container ${record.id}. Stop the container before attempting removal or force remove`);
      }
      record.stoppedByUser = true;
      core.restarts.cancel(record.id);
      if (!(await monitor.abandonRestart(record))) {
        const exited = monitor.exited(record.id);
        await this.starter.signal(record, 9);
        await monitor.exitAfterKill(record, exited);
        await monitor.abandonRestart(record);
      }
    }
    let volumesFailure: unknown;
    await core.lock.run(record.id, async () => {
      if (!core.records.has(record.id)) return;
      if (record.state.Running) throw conflict(`You cannot remove a running container ${record.id}. Stop the container before attempting removal or force remove`);
      await core.hooks.remove(core.hookContext(record));
      await traced('record.remove', () => core.store.remove(record.id));
      // conmon's link from the socket directory to the bundle outlives conmon.
      await rm(join(core.socketRoot, record.id), { force: true });
      core.records.delete(record.id);
      // An inspect while the files went may have kept a body again.
      core.inspectBodies.delete(record.id);
      core.names.delete(record.name);
      // rm -v and --rm drop the container's anonymous volumes (never named ones) once its record
      // is gone and before waiters hear of the removal, as dockerd does; a failure is the request's.
      if (options.volumes) await core.options.volumes?.removeAnonymous(record.mountPoints ?? []).catch((error: unknown) => { volumesFailure = error; });
      monitor.forget(record.id);
      core.restarts.forget(record.id);
      await core.runtimeDeleted(record.id);
      core.publish(record, 'destroy');
      core.lifecycle.emit('removed', record.id);
      monitor.notifyWaiters(record.id, ['not-running', 'next-exit', 'removed'], record.state.ExitCode);
    });
    if (volumesFailure !== undefined) throw volumesFailure;
    // The last container of a force-deleted image frees the layers the image left behind.
    if (!core.options.images.resolve(record.image)) {
      await core.options.images.pruneLayers(this.all().map((other) => other.topChainId).filter((chain): chain is string => !!chain));
    }
  }

  async rename(reference: string, newName: string): Promise<void> {
    const { core } = this;
    const record = this.get(reference);
    if (!newName) throw badParameter('Neither old nor new names may be empty');
    if ((newName.startsWith('/') ? newName : `/${newName}`) === record.name) {
      throw badParameter('Renaming a container with the same name as its current name');
    }
    await core.lock.run(record.id, async () => {
      const oldName = record.name;
      const name = this.claimName(newName, record.id);
      record.name = name;
      try {
        await core.store.save(record);
      } catch (error) {
        core.names.delete(name);
        record.name = oldName;
        throw error;
      }
      core.names.delete(oldName);
      // A running container's endpoints answer to the new name in DNS at once, as with Docker.
      await core.options.networks?.renameContainer(record.id, name.replace(/^\//, ''));
      core.publish(record, 'rename', { oldName });
    });
  }

  // ---- logs and attach (attach.ts) -------------------------------------------------------------

  logPath(record: ContainerRecord): string {
    return this.core.logPath(record);
  }

  /** Log entries; with follow, until the container stops or the reader aborts. */
  logs(reference: string, options: LogReadOptions, follow: boolean, signal: AbortSignal): AsyncGenerator<LogEntry> {
    return this.streams.logs(this.get(reference), options, follow, signal);
  }

  /** The output of the container's current run (or its next one): what `docker run` and `docker attach` show. */
  attachOutput(reference: string, options: AttachOutputOptions, signal: AbortSignal): AsyncGenerator<LogEntry> {
    return this.streams.attachOutput(this.get(reference), options, signal);
  }

  /** The container's stdin once it runs; undefined when it was created without -i or the reader left. */
  async openStdin(reference: string, signal: AbortSignal): Promise<Writable | undefined> {
    return this.streams.openStdin(this.get(reference), signal);
  }

  /** Sets the size of the container's terminal. */
  async resize(reference: string, height: number, width: number): Promise<void> {
    return this.streams.resize(this.get(reference), height, width);
  }

  // ---- views (views.ts) ----------------------------------------------------------------------------

  inspect(reference: string): ContainerInspect {
    return this.views.inspect(this.get(reference));
  }

  /** The inspect body as sent (JSON and a newline), kept serialised until the container changes. */
  inspectJson(reference: string): Buffer {
    return this.views.inspectJson(this.get(reference));
  }

  /** `docker ps`: the containers the options select, newest first. */
  list(options: ContainerListOptions): Promise<ContainerSummary[]> {
    return this.views.list(options);
  }

  summary(record: ContainerRecord): ContainerSummary {
    return this.views.summary(record);
  }

  /** SizeRw: bytes in the container's writable layer; SizeRootFs: that plus its image's layers. */
  /** Removes the stopped containers the filters select (POST /containers/prune). */
  prune(filters: Filters): Promise<ContainerPruneReport> {
    return this.pruner.prune(filters);
  }

  sizes(record: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }> {
    return this.views.sizes(record);
  }

  // ---- for the other container services (exec, process control, stats, health, files) ----------------

  /** The container's writable-layer, bundle and socket paths. */
  paths(record: ContainerRecord) {
    const paths = this.core.containerPaths(record);
    return {
      directory: paths.directory, rootfs: paths.rootfs, upper: paths.upper, bundle: paths.bundle,
      socketRoot: this.core.socketRoot, shimDir: this.core.shimDir(record.id),
    };
  }

  /** Runs `work` under the container's lock (start, exit handling and removal take it too). */
  locked<T>(record: ContainerRecord, work: () => Promise<T>): Promise<T> {
    return this.core.lock.run(record.id, work);
  }

  /**
   * Runs `work` with the container's root filesystem mounted: the live one when it runs,
   * otherwise mounted for the call and unmounted after the last reader. The container's lock
   * is held only to mount and unmount: `work` may stream for as long as its client reads.
   */
  withRootfs<T>(record: ContainerRecord, work: (rootfs: string) => Promise<T>, keepForStart = false): Promise<T> {
    return this.core.options.rootfs.withRootfs(record, this.core.containerPaths(record), {
      keepForStart,
      // A container waiting out its restart back-off has no mounted root, like a stopped one.
      live: () => record.state.Running && !record.state.Restarting,
      locked: (locked) => this.core.lock.run(record.id, locked),
    }, work);
  }

  /** Writes the record atomically (after a caller changed its state or host config). */
  saveRecord(record: ContainerRecord): Promise<void> {
    return this.core.store.save(record);
  }

  /** Publishes a container event with Docker's attributes (labels, image, name) plus `extra`. */
  publishEvent(record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.core.publish(record, action, extra);
  }

  runtimeOf(record: ContainerRecord): OciRuntime {
    return this.core.runtimeOf(record);
  }
}
