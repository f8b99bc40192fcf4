// The container service: every container's lifecycle, as the API routes and the daemon see it.
//
//   create  -> a record and an empty writable layer (nothing mounted, no process)
//   start   -> overlay mounted, /etc files and OCI bundle written, conmon spawned (it runs
//              `runtime create`), then `runtime start`; state running
//   exit    -> conmon writes the exit file; the ExitWatcher tells us; we record the code,
//              delete the runtime's container (and its cgroup), unmount, wake waiters,
//              and remove the container when it was created with --rm
//   stop/kill -> signals through the runtime; stop escalates to SIGKILL after the timeout
//   remove  -> record and directory gone (force kills first)
//
// Containers outlive the daemon (conmon holds them); `init` restores each record's true state
// from the runtime and the exit files written while the daemon was away.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { lstat, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname as hostHostname, cpus } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateRequest, ContainerInspect, ContainerSummary, NetworkSettings, WaitResponse } from '../wire/types.js';
import { badParameter, conflict, isEngineError, isNotModified, noSuchContainer, notFound, notModified, serverError } from '../errdefs/errors.js';
import type { Publish } from '../events/bus.js';
import type { ImageService } from '../images/service.js';
import { mountOverlay, unmount } from '../layers/overlay.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { createWithShim, ShimError } from '../runtime/shim.js';
import { ExitWatcher } from '../runtime/exit-watcher.js';
import { openStdinRelay } from '../runtime/stdin-relay.js';
import { resizeTerminal } from '../runtime/console.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { settlesWithin } from '../util/promises.js';
import { parseSignal } from '../util/signals.js';
import { containerStatusText } from './status.js';
import { ZERO_TIME } from '../wire/types.js';
import { hostsFile, readHostResolvConf, resolvConf } from './etc-files.js';
import { listContainers, type ContainerListOptions } from './list.js';
import { logSize, readLog, type LogEntry, type LogReadOptions } from './logs.js';
import { assertHasCommand, commandLine, mergeImageConfig } from './merge-config.js';
import { randomName, VALID_NAME } from './names.js';
import { ContainerRecordStore, initialState, type ContainerRecord } from './record.js';
import { findShims, removeContainerLeftovers, resolveInterruptedStart, sweepOrphans, type ShimProcess } from './reconcile.js';
import { exitedAfterRestarting, killCancelsRestart, RestartManager, restartingState, startsAtDaemonStart, type RestartDecision } from './restart-policy.js';
import type { DockerSeccompProfile } from './seccomp.js';
import { applyHostConfigDefaults, buildOciSpec, validateHostConfig } from './spec.js';
import type { ContainerVolumes } from '../volumes/container-volumes.js';
import { inspectMount, resolveMounts, type ContainerMountPoint } from '../volumes/mounts.js';
import { validateCreateRequest } from './create-checks.js';
import { refuseUnsupportedOptions } from './create-options.js';
import { readContainerFile, resolveUser } from './user.js';

export interface ContainerServiceOptions {
  dataRoot: string;
  execRoot: string;
  images: ImageService;
  runtimes: Map<string, OciRuntime>;
  defaultRuntime: string;
  cgroupParent: string;
  hostCapabilities: string[];
  seccompProfile: DockerSeccompProfile | 'unconfined';
  publish: Publish;
  /** The container's exec sessions that have not ended (inspect's ExecIDs); late-bound by the daemon. */
  execIds?: (containerId: string) => string[];
  /** VOLUMES: binds, volumes and mounts; without it a create that asks for one is refused. */
  volumes?: ContainerVolumes;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter { condition: WaitCondition; resolve: (response: WaitResponse) => void }

/** An exec session's conmon may still be writing into the shim directory while it goes: retry. */
const SHIM_DIR_REMOVAL = { recursive: true, force: true, maxRetries: 5, retryDelay: 50 } as const;

const SUPPORTED_NETWORK_MODES = new Set(['default', 'bridge', 'none', 'host']);

export class ContainerService {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly names = new Map<string, string>();
  /** Records being created (not yet listed): their volumes are in use already. */
  private readonly creating = new Map<string, ContainerRecord>();
  private readonly store: ContainerRecordStore;
  private readonly lock = new KeyedLock();
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Resolves when the current run of a container has been fully handled after its exit. */
  private readonly exits = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  /** Attach readers still draining a container's output: --rm waits for them before removing the log. */
  private readonly attachReaders = new Map<string, Set<Promise<void>>>();
  /**
   * Readers of a container's root filesystem (cp, export) at work, and the stopped containers
   * whose root they mounted: they stream without the container's lock, so that a client that
   * stops reading never blocks stop, start or rm of the container.
   */
  private readonly rootfsUsers = new Map<string, number>();
  private readonly readerMounts = new Set<string>();
  /**
   * What other parts of the daemon (attach, exec, health checks, restart policies) follow:
   * 'started' (id, logOffset), 'exited' (id, exitCode) once the exit is recorded, 'removed' (id).
   */
  readonly lifecycle = new EventEmitter();
  private readonly exitWatcher: ExitWatcher;
  private readonly restarts = new RestartManager();
  private readonly shimRoot: string;
  private readonly socketRoot: string;

  constructor(private readonly options: ContainerServiceOptions) {
    this.store = new ContainerRecordStore(join(options.dataRoot, 'containers'));
    this.shimRoot = join(options.execRoot, 'shims');
    this.socketRoot = join(options.execRoot, 'sockets');
    this.exitWatcher = new ExitWatcher(join(options.execRoot, 'exits'), (id, code, exitedAt) => {
      // An exit that cannot be recorded now is found again at the next start; it must not end the daemon.
      this.handleExit(id, code, exitedAt).catch((error: unknown) => process.stderr.write(`berthd: recording the exit of ${id}: ${String(error)}\n`));
    });
    this.lifecycle.setMaxListeners(0);
  }

  // ---- start-up and shutdown -------------------------------------------------------------

  async init(): Promise<void> {
    await this.store.init();
    await mkdir(this.shimRoot, { recursive: true });
    await mkdir(this.socketRoot, { recursive: true });
    for (const record of await this.store.loadAll()) {
      this.records.set(record.id, record);
      this.names.set(record.name, record.id);
    }
    // Starts a killed daemon left half-done are completed or undone before anything else looks at the records.
    const shims = await findShims(this.options.execRoot);
    for (const record of this.records.values()) {
      if (record.starting !== undefined) await this.finishInterruptedStart(record, shims);
    }
    // The watcher's first scan reports exits that happened while the daemon was away.
    await this.exitWatcher.start();
    for (const record of this.records.values()) {
      if (!record.state.Running) continue;
      if (record.state.Restarting) {
        // The daemon stopped during the back-off: the restart it owed is done now.
        this.restarts.schedule(record.id, 0, () => this.restartAfterDelay(record));
        continue;
      }
      this.armExit(record.id);
      if (await this.exitWatcher.readExitCode(record.id) !== undefined) continue;
      const runtime = this.runtimeOf(record);
      const state = await runtime.state(record.id);
      if (state && (state.status === 'running' || state.status === 'paused' || state.status === 'created')) {
        // The freezer is the truth about pause (a crash may fall between it and the record).
        const paused = state.status === 'paused';
        if (record.state.Paused !== paused) {
          record.state = { ...record.state, Paused: paused, Status: paused ? 'paused' : 'running' };
          await this.store.save(record);
        }
        continue;
      }
      // Neither running nor an exit file: the shim died with the container (or the host rebooted).
      await this.handleExit(record.id, 255);
    }
    await this.sweepOrphans();
    // As dockerd at boot: stopped containers whose restart policy wants them running are started.
    await Promise.all(this.all().filter(startsAtDaemonStart).map((record) => this.lock.run(record.id, async () => {
      if (record.state.Running || !this.records.has(record.id)) return;
      record.restartCount = 0;
      await this.startLocked(record);
    }).catch(() => undefined)));
  }

  /**
   * A start the daemon was killed in: a container that came up is adopted (and started when the
   * runtime only created it); otherwise what the start made goes and the record keeps its
   * previous state.
   */
  private async finishInterruptedStart(record: ContainerRecord, shims: ShimProcess[]): Promise<void> {
    const runtime = this.runtimeOf(record);
    const shimAlive = shims.some((shim) => shim.containerId === record.id && shim.uuid === record.id);
    const exited = await this.exitWatcher.readExitCode(record.id) !== undefined;
    let outcome = resolveInterruptedStart(await runtime.state(record.id), shimAlive, exited);
    if (outcome === 'start') outcome = await runtime.start(record.id).then(() => 'adopt' as const, () => 'roll back' as const);
    const state = outcome === 'adopt' ? await runtime.state(record.id) : undefined;
    if (state && (state.status === 'running' || state.status === 'paused')) {
      record.state = {
        ...record.state, Status: state.status, Running: true, Paused: state.status === 'paused', Restarting: false, OOMKilled: false,
        Dead: false, Pid: state.pid, ExitCode: 0, Error: '', StartedAt: record.starting ?? new Date().toISOString(), FinishedAt: ZERO_TIME,
      };
      record.stoppedByUser = false;
      delete record.starting;
      await this.store.save(record);
      process.stderr.write(`berthd: adopted container ${record.id}, whose start the daemon was stopped in\n`);
      return;
    }
    process.stderr.write(`berthd: rolling back the start of container ${record.id} that the daemon was stopped in\n`);
    await removeContainerLeftovers(record.id, this.sweepOptions(shims.filter((shim) => shim.containerId === record.id)));
    await unmount(join(this.store.directory(record.id), 'fs', 'merged')).catch(() => undefined);
    await this.exitWatcher.clear(record.id);
    delete record.starting;
    await this.store.save(record);
  }

  /** Shims, runtime containers, mounts, cgroups and exec-root entries no running record claims: stopped and removed. */
  private sweepOrphans(): Promise<void> {
    return sweepOrphans(this.sweepOptions([]));
  }

  private sweepOptions(shims: ShimProcess[]): Parameters<typeof removeContainerLeftovers>[1] {
    return {
      execRoot: this.options.execRoot, containersRoot: this.store.root, cgroupParent: this.options.cgroupParent,
      runtimes: [...this.options.runtimes.values()],
      claimed: (id) => this.records.get(id)?.state.Running === true,
      known: (id) => this.records.has(id),
      cgroupParentOf: (id) => (this.records.get(id)?.hostConfig as { CgroupParent?: string } | undefined)?.CgroupParent || undefined,
      locked: (id, work) => this.lock.run(id, work),
      log: (message) => process.stderr.write(`berthd: ${message}\n`),
      shims, mounts: [],
    };
  }

  shutdown(): void {
    this.exitWatcher.stop();
    this.restarts.shutdown();
  }

  // ---- lookup ------------------------------------------------------------------------------

  /** Full ID, name (with or without "/"), or unique ID prefix, as Docker resolves them. */
  find(reference: string): ContainerRecord | undefined {
    if (!reference) return undefined;
    const byId = this.records.get(reference);
    if (byId) return byId;
    const byName = this.names.get(reference.startsWith('/') ? reference : `/${reference}`);
    if (byName) return this.records.get(byName);
    if (!/^[0-9a-f]+$/.test(reference)) return undefined;
    let match: ContainerRecord | undefined;
    for (const [id, record] of this.records) {
      if (!id.startsWith(reference)) continue;
      if (match) throw badParameter(`multiple IDs found with provided prefix: ${reference}`);
      match = record;
    }
    return match;
  }

  get(reference: string): ContainerRecord {
    const record = this.find(reference);
    if (!record) throw noSuchContainer(reference);
    return record;
  }

  all(): ContainerRecord[] {
    return [...this.records.values()];
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
    const image = this.options.images.get(imageRef);
    const hostConfig = applyHostConfigDefaults({ ...(rawHostConfig ?? {}) });
    if (!hostConfig.NetworkMode) hostConfig.NetworkMode = 'default';
    validateHostConfig(hostConfig, { hostCpus: cpus().length, hostCapabilities: this.options.hostCapabilities });
    if (!SUPPORTED_NETWORK_MODES.has(hostConfig.NetworkMode)) throw notFound(`network ${hostConfig.NetworkMode} not found`);
    const runtimeName = hostConfig.Runtime || this.options.defaultRuntime;
    if (!this.options.runtimes.has(runtimeName)) throw badParameter(`Unknown runtime specified ${runtimeName}`);
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
      state: initialState(), restartCount: 0, runtime: runtimeName,
    };
    const directory = this.store.directory(id);
    // VOLUMES: mounts resolved and volumes made before the record exists; undone if the create fails.
    // Until the record is listed, `creating` keeps its volumes from being removed or pruned.
    this.creating.set(id, record);
    try {
      record.mountPoints = await this.prepareMounts(record);
    } catch (error) {
      this.creating.delete(id);
      this.names.delete(name);
      throw error;
    }
    try {
      await mkdir(join(directory, 'fs', 'upper'), { recursive: true });
      await mkdir(join(directory, 'fs', 'work'), { recursive: true });
      await mkdir(join(directory, 'fs', 'merged'), { recursive: true });
      await this.store.save(record);
    } catch (error) {
      this.names.delete(name);
      await rm(directory, { recursive: true, force: true });
      this.creating.delete(id);
      await this.options.volumes?.removeAnonymous(record.mountPoints ?? []).catch(() => undefined);
      throw error;
    }
    this.records.set(id, record);
    this.creating.delete(id);
    this.publish(record, 'create');
    return { Id: id, Warnings: [] };
  }

  private async prepareMounts(record: ContainerRecord): Promise<ContainerMountPoint[]> {
    const hc = record.hostConfig;
    const request = { binds: hc.Binds, mounts: hc.Mounts, volumesFrom: hc.VolumesFrom, tmpfs: hc.Tmpfs, imageVolumes: record.config.Volumes };
    const mountsOf = (reference: string) => this.get(reference).mountPoints ?? [];
    if (this.options.volumes) return this.options.volumes.prepare(request, mountsOf);
    if (resolveMounts(request, mountsOf).length > 0) throw badParameter('volumes and bind mounts are not available in this daemon');
    return [];
  }

  /** Volume names (and the containers using them), from the records: volume rm and prune ask this. */
  readonly containersUsingVolume = (name: string) =>
    [...this.all(), ...this.creating.values()].filter((record) => record.mountPoints?.some((point) => point.Type === 'volume' && point.Name === name)).map((record) => record.id);

  private claimName(requested: string | undefined, id: string): string {
    if (requested) {
      if (!VALID_NAME.test(requested)) throw badParameter(`Invalid container name (${requested}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const name = requested.startsWith('/') ? requested : `/${requested}`;
      const owner = this.names.get(name);
      if (owner) throw conflict(`Conflict. The container name "${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`);
      this.names.set(name, id);
      return name;
    }
    for (let attempt = 0; ; attempt++) {
      const name = `/${randomName(attempt)}`;
      if (!this.names.has(name)) {
        this.names.set(name, id);
        return name;
      }
    }
  }

  // ---- start -------------------------------------------------------------------------------

  async start(reference: string): Promise<void> {
    const record = this.get(reference);
    let startFailed = false;
    try {
      await this.lock.run(record.id, async () => {
        if (record.state.Paused) throw conflict('cannot start a paused container, try unpause instead');
        if (record.state.Running) throw notModified();
        startFailed = true;
        // A start by the user begins the restart policy afresh (dockerd's ResetRestartManager).
        this.restarts.reset(record.id);
        record.restartCount = 0;
        await this.startLocked(record);
        startFailed = false;
      });
    } catch (error) {
      // Docker removes an --rm container whose start failed; `docker run --rm` waits for that removal.
      if (startFailed && record.hostConfig.AutoRemove) await this.remove(record.id, { force: true, volumes: true }).catch(() => undefined);
      throw error;
    }
  }

  private async startLocked(record: ContainerRecord): Promise<void> {
    const directory = this.store.directory(record.id);
    const merged = join(directory, 'fs', 'merged');
    const runtime = this.runtimeOf(record);
    const shimDir = join(this.shimRoot, record.id);
    const logPath = this.logPath(record);
    let mounted = false;
    try {
      await this.exitWatcher.clear(record.id);
      record.starting = new Date().toISOString();
      await this.store.save(record);
      // A reader (cp, export) that mounted the stopped container's root hands its mount over.
      if (!this.readerMounts.delete(record.id)) {
        await mountOverlay({
          layersRoot: this.options.images.layersRoot,
          lowerDirs: await this.options.images.lowerDirs(record.topChainId),
          upper: join(directory, 'fs', 'upper'), work: join(directory, 'fs', 'work'), target: merged,
        });
      }
      mounted = true;
      // VOLUMES: copy-up into new volumes, missing -v host directories made.
      if (record.mountPoints?.length && this.options.volumes && (await this.options.volumes.beforeStart(record.mountPoints, merged, record.id))) {
        await this.store.save(record);
      }
      const user = resolveUser(record.config.User, await readContainerFile(merged, 'etc/passwd'), await readContainerFile(merged, 'etc/group'), record.hostConfig.GroupAdd ?? []);
      const hostNetwork = record.hostConfig.NetworkMode === 'host';
      const paths = this.etcPaths(record);
      await writeFile(paths.hostname, `${record.config.Hostname}\n`);
      await writeFile(paths.hosts, hostNetwork ? await readFile('/etc/hosts', 'utf8') : hostsFile(record.config.Hostname ?? '', undefined, record.hostConfig.ExtraHosts ?? []));
      await writeFile(paths.resolvConf, resolvConf(await readHostResolvConf(), {
        dns: record.hostConfig.Dns ?? [], search: record.hostConfig.DnsSearch ?? [], dnsOptions: record.hostConfig.DnsOptions ?? [], hostNetwork,
      }));
      const spec = buildOciSpec({
        id: record.id, config: record.config, hostConfig: record.hostConfig, rootfsPath: merged,
        hostsPath: paths.hosts, hostnamePath: paths.hostname, resolvConfPath: paths.resolvConf, user,
        mounts: record.mountPoints,
        daemon: {
          cgroupParent: this.options.cgroupParent, seccompProfile: this.options.seccompProfile,
          hostCapabilities: this.options.hostCapabilities, arch: process.arch, initPath: '/usr/bin/tini-static',
        },
      });
      await mkdir(join(directory, 'bundle'), { recursive: true });
      await writeJsonAtomic(join(directory, 'bundle', 'config.json'), runtime.adaptSpec(spec));
      await rm(shimDir, SHIM_DIR_REMOVAL);
      await mkdir(shimDir, { recursive: true });
      const logOffset = await logSize(logPath);
      const { pid } = await createWithShim({
        id: record.id, name: record.name.slice(1), bundle: join(directory, 'bundle'), runtime, logPath,
        exitDir: this.exitWatcher.directory, shimDir, socketDir: this.socketRoot,
        terminal: !!record.config.Tty, stdin: !!record.config.OpenStdin,
        leaveStdinOpen: !!record.config.Tty || !record.config.StdinOnce,
      });
      this.armExit(record.id);
      try {
        await runtime.start(record.id);
      } catch (error) {
        await runtime.delete(record.id, true);
        throw error;
      }
      record.state = {
        ...record.state, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
        Pid: pid, ExitCode: 0, Error: '', StartedAt: new Date().toISOString(), FinishedAt: ZERO_TIME,
      };
      record.stoppedByUser = false;
      delete record.starting;
      await this.store.save(record);
      this.publish(record, 'start');
      this.lifecycle.emit('started', record.id, logOffset);
    } catch (error) {
      // A failed create can leave the runtime's record or cgroup behind (crun does).
      // A container waiting out its restart back-off counts as running without a process.
      const started = record.state.Running && !record.state.Restarting;
      if (!started) await runtime.delete(record.id, true).catch(() => undefined);
      if (mounted && !started) {
        if (this.rootfsUsers.has(record.id)) this.readerMounts.add(record.id);
        else await unmount(merged).catch(() => undefined);
      }
      // VOLUMES: the volume mounts this start made go again.
      if (!started) await this.options.volumes?.afterExit(record.mountPoints ?? [], record.id).catch(() => undefined);
      await rm(shimDir, SHIM_DIR_REMOVAL);
      delete record.starting;
      if (isEngineError(error)) {
        await this.store.save(record).catch(() => undefined);
        throw error;
      }
      const message = startErrorMessage(error);
      record.state = { ...record.state, Error: message, ExitCode: exitCodeForStartError(message) };
      await this.store.save(record).catch(() => undefined);
      throw exitCodeForStartError(message) === 128 ? serverError(message) : badParameter(message);
    }
  }

  // ---- exit ----------------------------------------------------------------------------------

  private armExit(id: string): void {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => { resolve = r; });
    this.exits.set(id, { promise, resolve });
  }

  /** A promise that settles once the current run has ended and been recorded. */
  private exited(id: string): Promise<void> {
    return this.exits.get(id)?.promise ?? Promise.resolve();
  }

  private async handleExit(id: string, exitCode: number, exitedAt = new Date()): Promise<void> {
    const record = this.records.get(id);
    if (!record) {
      await this.exitWatcher.clear(id);
      return;
    }
    let decision: RestartDecision = { restart: false, delayMs: 0 };
    await this.lock.run(id, async () => {
      if (!record.state.Running || record.state.Restarting) return;
      const runtime = this.runtimeOf(record);
      const shimDir = join(this.shimRoot, id);
      const oomKilled = await exists(join(shimDir, 'oom'));
      await runtime.delete(id, true).catch(() => undefined);
      await unmount(join(this.store.directory(id), 'fs', 'merged')).catch(() => undefined);
      // VOLUMES: mounted volumes (-o type=…) no running container uses any more are unmounted.
      await this.options.volumes?.afterExit(record.mountPoints ?? [], id).catch(() => undefined);
      decision = this.restarts.onExit(record, exitCode, exitedAt);
      if (decision.restart) {
        record.restartCount++;
        record.state = restartingState(record.state, { exitCode, oomKilled, exitedAt });
      } else {
        record.state = {
          ...record.state, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0,
          ExitCode: exitCode, OOMKilled: oomKilled, FinishedAt: exitedAt.toISOString(),
        };
      }
      await this.store.save(record);
      await this.exitWatcher.clear(id);
      await rm(shimDir, SHIM_DIR_REMOVAL);
      this.publish(record, 'die', { exitCode: String(exitCode) });
      this.exits.get(id)?.resolve();
      this.notifyWaiters(id, ['not-running', 'next-exit'], exitCode);
      this.lifecycle.emit('exited', id, exitCode);
    });
    if (decision.restart) {
      this.restarts.schedule(id, decision.delayMs, () => this.restartAfterDelay(record));
    } else if (record.hostConfig.AutoRemove) {
      await settlesWithin(Promise.all(this.attachReaders.get(id) ?? []), 5000);
      await this.remove(id, { force: true, volumes: true }).catch(() => undefined);
    }
  }

  /** The end of a restart back-off: the container runs again (events die, then start), or is left exited. */
  private async restartAfterDelay(record: ContainerRecord): Promise<void> {
    await this.lock.run(record.id, async () => {
      if (!record.state.Restarting || !this.records.has(record.id)) return;
      const exitCode = record.state.ExitCode;
      try {
        if (this.restarts.isCanceled(record.id)) throw new Error('restart canceled');
        await this.startLocked(record);
      } catch {
        // As dockerd: the failed start's message stays in State.Error, the exit code is the last run's.
        record.state = { ...exitedAfterRestarting(record.state), ExitCode: exitCode };
        await this.store.save(record).catch(() => undefined);
        this.exits.get(record.id)?.resolve();
        this.notifyWaiters(record.id, ['not-running', 'next-exit'], exitCode);
      }
    }).catch(() => undefined);
  }

  /**
   * stop/kill/rm of a container waiting out its restart back-off (after restarts.cancel): it is
   * left exited. False when it is not restarting (it runs again, or never was restarting).
   */
  private async abandonRestart(record: ContainerRecord): Promise<boolean> {
    return this.lock.run(record.id, async () => {
      if (!record.state.Restarting) return false;
      record.state = exitedAfterRestarting(record.state);
      await this.store.save(record);
      this.notifyWaiters(record.id, ['not-running', 'next-exit'], record.state.ExitCode);
      return true;
    });
  }

  // ---- stop / kill / restart ------------------------------------------------------------------

  async kill(reference: string, signalText: string | undefined): Promise<void> {
    const record = this.get(reference);
    const signal = parseSignal(signalText, 'SIGKILL');
    if (signal === undefined) throw badParameter(`Invalid signal: ${signalText}`);
    if (!record.state.Running) throw conflict(`Cannot kill container: ${reference}: Container ${record.id} is not running`);
    // As dockerd: any kill counts as stopped by the user; SIGKILL and the stop signal cancel the restart policy.
    record.stoppedByUser = true;
    const cancels = killCancelsRestart(signal, record.config.StopSignal ? parseSignal(record.config.StopSignal) : undefined);
    if (cancels) this.restarts.cancel(record.id);
    await this.store.save(record);
    // Waiting out a restart back-off there is no process to signal.
    if (record.state.Restarting && (!cancels || await this.abandonRestart(record))) return;
    const exited = this.exited(record.id);
    await this.signal(record, signal);
    // Like Docker, SIGKILL waits for the exit, so that `docker kill x && docker rm x` works.
    if (signal === 9 && await settlesWithin(exited, 10_000)) await this.abandonRestart(record);
  }

  private async signal(record: ContainerRecord, signal: number): Promise<void> {
    this.publish(record, 'kill', { signal: String(signal) });
    try {
      await this.runtimeOf(record).kill(record.id, signal, signal === 9);
    } catch (error) {
      // The process may have exited between our check and the signal: that is a success.
      if (record.state.Running && !(await this.hasExitFile(record.id))) throw serverError(startErrorMessage(error));
    }
    // A frozen process gets its signal once thawed: like Docker, resume a paused container
    // after SIGKILL or its stop signal (any signal when it has none of its own).
    const stopSignal = record.config.StopSignal ? parseSignal(record.config.StopSignal) : undefined;
    if (record.state.Paused && (signal === 9 || stopSignal === undefined || stopSignal === signal)) {
      await this.lock.run(record.id, async () => {
        if (!record.state.Paused || !record.state.Running) return;
        await this.runtimeOf(record).resume(record.id).catch(() => undefined);
        record.state = { ...record.state, Paused: false, Status: 'running' };
        await this.store.save(record);
        this.publish(record, 'unpause');
      });
    }
  }

  async stop(reference: string, options: { signal?: string; timeoutSeconds?: number }): Promise<void> {
    const record = this.get(reference);
    if (!record.state.Running) throw notModified();
    const stopSignal = parseSignal(options.signal || record.config.StopSignal || 'SIGTERM');
    if (stopSignal === undefined) throw badParameter(`Invalid signal: ${options.signal}`);
    const timeout = options.timeoutSeconds ?? record.config.StopTimeout ?? 10;
    record.stoppedByUser = true;
    this.restarts.cancel(record.id);
    await this.store.save(record);
    if (await this.abandonRestart(record)) {
      this.publish(record, 'stop');
      return;
    }
    const exited = this.exited(record.id);
    await this.signal(record, stopSignal);
    if (timeout < 0) {
      await exited;
    } else if (!(await settlesWithin(exited, timeout * 1000))) {
      await this.signal(record, 9);
      await exited;
    }
    // An exit already on its way when the policy was cancelled may have been taken for a restart.
    await this.abandonRestart(record);
    this.publish(record, 'stop');
  }

  async restart(reference: string, timeoutSeconds: number | undefined, signal?: string): Promise<void> {
    const record = this.get(reference);
    if (record.state.Running) await this.stop(record.id, { timeoutSeconds, signal }).catch((error: unknown) => {
      if (!isNotModified(error)) throw error;
    });
    await this.lock.run(record.id, async () => {
      if (record.state.Running) return;
      this.restarts.reset(record.id);
      record.restartCount = 0;
      await this.startLocked(record);
    });
    this.publish(record, 'restart');
  }

  // ---- wait ------------------------------------------------------------------------------------

  /** Registers the waiter synchronously (before the caller starts the container), resolves later. */
  wait(reference: string, condition: WaitCondition): Promise<WaitResponse> {
    const record = this.get(reference);
    if (condition === 'not-running' && !record.state.Running) return Promise.resolve({ StatusCode: record.state.ExitCode, Error: null });
    return new Promise((resolve) => {
      const set = this.waiters.get(record.id) ?? new Set<Waiter>();
      set.add({ condition, resolve });
      this.waiters.set(record.id, set);
    });
  }

  private notifyWaiters(id: string, conditions: WaitCondition[], exitCode: number): void {
    const set = this.waiters.get(id);
    if (!set) return;
    for (const waiter of [...set]) {
      if (!conditions.includes(waiter.condition)) continue;
      set.delete(waiter);
      waiter.resolve({ StatusCode: exitCode, Error: null });
    }
    if (set.size === 0) this.waiters.delete(id);
  }

  // ---- remove / rename -------------------------------------------------------------------------

  async remove(reference: string, options: { force: boolean; volumes: boolean }): Promise<void> {
    const record = this.get(reference);
    if (record.state.Running) {
      if (!options.force) {
        throw conflict(`You cannot remove a ${record.state.Restarting ? 'restarting' : 'running'} container ${record.id}. Stop the container before attempting removal or force remove`);
      }
      record.stoppedByUser = true;
      this.restarts.cancel(record.id);
      if (!(await this.abandonRestart(record))) {
        const exited = this.exited(record.id);
        await this.signal(record, 9);
        await exited;
        await this.abandonRestart(record);
      }
    }
    await this.lock.run(record.id, async () => {
      if (!this.records.has(record.id)) return;
      if (record.state.Running) throw conflict(`You cannot remove a running container ${record.id}. Stop the container before attempting removal or force remove`);
      // Readers still at work keep the detached mount (umount -l) until they finish.
      this.readerMounts.delete(record.id);
      await unmount(join(this.store.directory(record.id), 'fs', 'merged')).catch(() => undefined);
      await this.store.remove(record.id);
      // conmon's link from the socket directory to the bundle outlives conmon.
      await rm(join(this.socketRoot, record.id), { force: true });
      this.records.delete(record.id);
      this.names.delete(record.name);
      this.exits.delete(record.id);
      this.restarts.forget(record.id);
      this.publish(record, 'destroy');
      this.lifecycle.emit('removed', record.id);
      this.notifyWaiters(record.id, ['not-running', 'next-exit', 'removed'], record.state.ExitCode);
    });
    // VOLUMES: rm -v and --rm drop the container's anonymous volumes (never named ones).
    if (options.volumes) await this.options.volumes?.removeAnonymous(record.mountPoints ?? []);
    // The last container of a force-deleted image frees the layers the image left behind.
    if (!this.options.images.resolve(record.image)) {
      await this.options.images.pruneLayers(this.all().map((other) => other.topChainId).filter((chain): chain is string => !!chain));
    }
  }

  async rename(reference: string, newName: string): Promise<void> {
    const record = this.get(reference);
    if (!newName) throw badParameter('Neither old nor new names may be empty');
    if ((newName.startsWith('/') ? newName : `/${newName}`) === record.name) {
      throw badParameter('Renaming a container with the same name as its current name');
    }
    await this.lock.run(record.id, async () => {
      const oldName = record.name;
      const name = this.claimName(newName, record.id);
      record.name = name;
      try {
        await this.store.save(record);
      } catch (error) {
        this.names.delete(name);
        record.name = oldName;
        throw error;
      }
      this.names.delete(oldName);
      this.publish(record, 'rename', { oldName });
    });
  }

  // ---- logs and attach ---------------------------------------------------------------------------

  logPath(record: ContainerRecord): string {
    return join(this.store.directory(record.id), `${record.id}.log`);
  }

  /** Log entries; with follow, until the container stops or the reader aborts. */
  logs(reference: string, options: LogReadOptions, follow: boolean, signal: AbortSignal): AsyncGenerator<LogEntry> {
    const record = this.get(reference);
    const followUntil = follow && record.state.Running ? { done: this.exited(record.id), signal } : undefined;
    return readLog(this.logPath(record), options, followUntil);
  }

  /**
   * The output of the container's current run (or its next one, when it is not running yet):
   * what the docker CLI's `run` and `attach` show. Ends when that run ends.
   */
  async *attachOutput(reference: string, options: { stdout: boolean; stderr: boolean; logs: boolean; stream: boolean }, signal: AbortSignal): AsyncGenerator<LogEntry> {
    const record = this.get(reference);
    let finished!: () => void;
    const reader = new Promise<void>((resolve) => { finished = resolve; });
    const readers = this.attachReaders.get(record.id) ?? new Set<Promise<void>>();
    readers.add(reader);
    this.attachReaders.set(record.id, readers);
    try {
      yield* this.readAttachedOutput(record, options, signal);
    } finally {
      finished();
      readers.delete(reader);
      if (readers.size === 0) this.attachReaders.delete(record.id);
    }
  }

  private async *readAttachedOutput(record: ContainerRecord, options: { stdout: boolean; stderr: boolean; logs: boolean; stream: boolean }, signal: AbortSignal): AsyncGenerator<LogEntry> {
    const path = this.logPath(record);
    if (options.logs) yield* readLog(path, { stdout: options.stdout, stderr: options.stderr, byRead: true });
    if (!options.stream) return;
    let offset: number;
    if (record.state.Running) {
      offset = await logSize(path);
    } else {
      const started = await this.nextStart(record.id, signal);
      if (started === undefined) return;
      offset = started;
    }
    yield* readLog(path, { stdout: options.stdout, stderr: options.stderr, offset, byRead: true }, { done: this.exited(record.id), signal });
  }

  /**
   * The container's stdin, for an attach session that asked for it: once the container runs
   * (now, or at its next start). Undefined when it was created without -i or the reader left.
   */
  async openStdin(reference: string, signal: AbortSignal): Promise<Writable | undefined> {
    const record = this.get(reference);
    if (!record.config.OpenStdin) return undefined;
    if (!record.state.Running && (await this.nextStart(record.id, signal)) === undefined) return undefined;
    return openStdinRelay(join(this.socketRoot, record.id, 'attach'));
  }

  /** Sets the size of the container's terminal (nothing to do without one, as containerd answers). */
  async resize(reference: string, height: number, width: number): Promise<void> {
    const record = this.get(reference);
    if (!record.state.Running || record.state.Restarting) throw conflict(`container ${record.id} is not running`);
    if (record.config.Tty) await resizeTerminal(this.paths(record).bundle, height, width);
    this.publish(record, 'resize', { height: String(height), width: String(width) });
  }

  /** The log offset of the container's next start; undefined when it is removed first or the reader leaves. */
  private nextStart(id: string, signal: AbortSignal): Promise<number | undefined> {
    return new Promise((resolve) => {
      const finish = (offset: number | undefined) => {
        this.lifecycle.off('started', onStart);
        this.lifecycle.off('removed', onRemoved);
        signal.removeEventListener('abort', onAbort);
        resolve(offset);
      };
      const onStart = (startedId: string, offset: number) => { if (startedId === id) finish(offset); };
      const onRemoved = (removedId: string) => { if (removedId === id) finish(undefined); };
      const onAbort = () => finish(undefined);
      this.lifecycle.on('started', onStart);
      this.lifecycle.on('removed', onRemoved);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  // ---- views ---------------------------------------------------------------------------------------

  inspect(reference: string): ContainerInspect {
    const record = this.get(reference);
    const directory = this.store.directory(record.id);
    const paths = this.etcPaths(record);
    const inspect: ContainerInspect = {
      Id: record.id, Created: record.created, Path: record.path, Args: record.args, State: record.state,
      Image: record.image, ResolvConfPath: paths.resolvConf, HostnamePath: paths.hostname, HostsPath: paths.hosts,
      LogPath: this.logPath(record), Name: record.name, RestartCount: record.restartCount, Driver: 'overlay2',
      Platform: 'linux', MountLabel: '', ProcessLabel: '', AppArmorProfile: '', ExecIDs: nonEmptyOrNull(this.options.execIds?.(record.id)),
      HostConfig: record.hostConfig,
      GraphDriver: {
        Name: 'overlay2',
        Data: {
          MergedDir: join(directory, 'fs', 'merged'), UpperDir: join(directory, 'fs', 'upper'), WorkDir: join(directory, 'fs', 'work'),
        },
      },
      Mounts: (record.mountPoints ?? []).map(inspectMount),
      Config: record.config,
      NetworkSettings: this.networkSettings(record),
    };
    return inspect;
  }

  private networkSettings(record: ContainerRecord): NetworkSettings {
    const mode = record.hostConfig.NetworkMode === 'default' ? 'bridge' : record.hostConfig.NetworkMode ?? 'bridge';
    return record.networkSettings ?? {
      Bridge: '', SandboxID: '', SandboxKey: '', Ports: {}, Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '',
      Networks: { [mode]: { NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' } },
    };
  }

  /** `docker ps`: the containers the options select, newest first. */
  list(options: ContainerListOptions): Promise<ContainerSummary[]> {
    return listContainers({
      all: () => this.all(), get: (reference) => this.get(reference), summary: (record) => this.summary(record),
      sizes: (record) => this.sizes(record), imageId: (reference) => this.options.images.resolve(reference)?.id,
    }, options);
  }

  summary(record: ContainerRecord): ContainerSummary {
    const image = this.options.images.resolve(record.config.Image ?? '');
    const settings = this.networkSettings(record);
    return {
      Id: record.id, Names: [record.name],
      // Docker shows the image ID once the name no longer points at the container's image.
      Image: image && image.id === record.image ? record.config.Image ?? record.image : record.image,
      ImageID: record.image,
      Command: [record.path, ...record.args].join(' '),
      Created: Math.floor(Date.parse(record.created) / 1000),
      Ports: [], Labels: record.config.Labels ?? {}, State: record.state.Status, Status: containerStatusText(record.state),
      HostConfig: { NetworkMode: record.hostConfig.NetworkMode ?? 'default' },
      NetworkSettings: { Networks: settings.Networks }, Mounts: (record.mountPoints ?? []).map(inspectMount),
    };
  }

  /** SizeRw: bytes in the container's writable layer; SizeRootFs: that plus its image's layers. */
  async sizes(record: ContainerRecord): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const rw = await directorySize(join(this.store.directory(record.id), 'fs', 'upper'));
    const image = this.options.images.resolve(record.image);
    return { SizeRw: rw, SizeRootFs: rw + (image ? this.options.images.inspect(image).Size : 0) };
  }

  // ---- helpers ---------------------------------------------------------------------------------------

  private etcPaths(record: ContainerRecord) {
    const directory = this.store.directory(record.id);
    return { hostname: join(directory, 'hostname'), hosts: join(directory, 'hosts'), resolvConf: join(directory, 'resolv.conf') };
  }

  /** The container's writable-layer, bundle and socket paths. */
  paths(record: ContainerRecord) {
    const directory = this.store.directory(record.id);
    return {
      directory,
      rootfs: join(directory, 'fs', 'merged'),
      upper: join(directory, 'fs', 'upper'),
      bundle: join(directory, 'bundle'),
      socketRoot: this.socketRoot,
      shimDir: join(this.shimRoot, record.id),
    };
  }

  /** Runs `work` under the container's lock (start, exit handling and removal take it too). */
  locked<T>(record: ContainerRecord, work: () => Promise<T>): Promise<T> {
    return this.lock.run(record.id, work);
  }

  /**
   * Runs `work` with the container's root filesystem mounted: the live one when it runs,
   * otherwise mounted for the call and unmounted after the last reader. The container's lock
   * is held only to mount and unmount: `work` may stream for as long as its client reads.
   */
  async withRootfs<T>(record: ContainerRecord, work: (rootfs: string) => Promise<T>): Promise<T> {
    const { rootfs, upper, directory } = this.paths(record);
    await this.lock.run(record.id, async () => {
      // A container waiting out its restart back-off has no mounted root, like a stopped one.
      const live = record.state.Running && !record.state.Restarting;
      if (!live && !this.readerMounts.has(record.id)) {
        await mountOverlay({
          layersRoot: this.options.images.layersRoot,
          lowerDirs: await this.options.images.lowerDirs(record.topChainId),
          upper, work: join(directory, 'fs', 'work'), target: rootfs,
        });
        this.readerMounts.add(record.id);
      }
      this.rootfsUsers.set(record.id, (this.rootfsUsers.get(record.id) ?? 0) + 1);
    });
    try {
      return await work(rootfs);
    } finally {
      await this.lock.run(record.id, async () => {
        const users = (this.rootfsUsers.get(record.id) ?? 1) - 1;
        if (users > 0) {
          this.rootfsUsers.set(record.id, users);
          return;
        }
        this.rootfsUsers.delete(record.id);
        if (this.readerMounts.delete(record.id)) await unmount(rootfs).catch(() => undefined);
      });
    }
  }

  /** Writes the record atomically (after a caller changed its state or host config). */
  saveRecord(record: ContainerRecord): Promise<void> {
    return this.store.save(record);
  }

  /** Publishes a container event with Docker's attributes (labels, image, name) plus `extra`. */
  publishEvent(record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.publish(record, action, extra);
  }

  runtimeOf(record: ContainerRecord): OciRuntime {
    const runtime = this.options.runtimes.get(record.runtime) ?? this.options.runtimes.get(this.options.defaultRuntime);
    if (!runtime) throw serverError(`Unknown runtime specified ${record.runtime}`);
    return runtime;
  }

  private async hasExitFile(id: string): Promise<boolean> {
    return (await this.exitWatcher.readExitCode(id)) !== undefined;
  }

  private publish(record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.options.publish('container', action, record.id, {
      ...(record.config.Labels ?? {}), image: record.config.Image ?? record.image, name: record.name.slice(1), ...extra,
    });
  }
}

// ---- pure helpers ---------------------------------------------------------------------------------


function nonEmptyOrNull(ids: string[] | undefined): string[] | null {
  return ids && ids.length > 0 ? ids : null;
}

/** Docker words a failed start this way; the CLI derives its exit code (125/126/127) from it. */
export function startErrorMessage(error: unknown): string {
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof ShimError) return `failed to create task for container: failed to create shim task: OCI runtime create failed: ${detail}: unknown`;
  return `failed to start container: ${detail}`;
}

export function exitCodeForStartError(message: string): number {
  if (/executable file not found|no such file or directory|not found in \$PATH/i.test(message)) return 127;
  if (/permission denied|cannot execute/i.test(message)) return 126;
  return 128;
}


async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function directorySize(path: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) total += await directorySize(child);
    else if (entry.isFile()) total += (await lstat(child)).size;
  }
  return total;
}

