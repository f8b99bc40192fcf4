// Starting and stopping containers.
//
//   start     -> the lifecycle hooks prepare in order (root filesystem mounted, /etc files
//                written, ...), the OCI bundle is written with what they contributed, conmon is
//                spawned (it runs `runtime create`), then `runtime start`; state running.
//                A failure releases the hooks in reverse order.
//   stop/kill -> signals through the runtime; stop escalates to SIGKILL after the timeout.
//                The exit itself is recorded by the ExitMonitor.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { badParameter, conflict, isEngineError, isNotModified, notModified, serverError } from '../errdefs/errors.js';
import { createWithShim, ShimError } from '../runtime/shim.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { traced } from '../util/trace.js';
import { settlesWithin } from '../util/promises.js';
import { parseSignal } from '../util/signals.js';
import { ZERO_TIME } from '../wire/types.js';
import { SHIM_DIR_REMOVAL, type ContainerCore } from './core.js';
import { emptySpecContributions } from './hooks.js';
import { logSize } from './logs.js';
import type { ExitMonitor } from './monitor.js';
import type { ContainerRecord } from './record.js';
import { killCancelsRestart } from './restart-policy.js';
import { gatherDevices, hostDevices } from './devices.js';
import { shmPathOf } from './shm-hook.js';
import { sharedNamespaces, type NamespaceDonor } from './security-checks.js';
import { buildOciSpec } from './spec.js';
import { readContainerFile, resolveUser } from './user.js';

const EPHEMERAL = { durable: false } as const;

export class ContainerLifecycle {
  constructor(
    private readonly core: ContainerCore,
    private readonly monitor: ExitMonitor,
    /** Removes a --rm container whose start failed. */
    private readonly removeAfterFailedStart: (id: string) => Promise<void>,
    /** Another container by name or ID (throws Docker's not found), for --ipc/--pid container:x. */
    private readonly get: (reference: string) => ContainerRecord,
  ) {}

  private namespaceDonor = (reference: string): NamespaceDonor => {
    const donor = this.get(reference);
    return {
      id: donor.id, running: donor.state.Running && !donor.state.Restarting && donor.state.Pid > 0, pid: donor.state.Pid, ipcMode: donor.hostConfig.IpcMode ?? '', shmPath: shmPathOf(this.core.containerPaths(donor).directory),
    };
  };

  async start(record: ContainerRecord): Promise<void> {
    let startFailed = false;
    try {
      await this.core.lock.run(record.id, async () => {
        if (record.state.Paused) throw conflict('cannot start a paused container, try unpause instead');
        if (record.state.Running) throw notModified();
        startFailed = true;
        // A start by the user begins the restart policy afresh (dockerd's ResetRestartManager).
        this.core.restarts.reset(record.id);
        record.restartCount = 0;
        await this.startLocked(record);
        startFailed = false;
      });
    } catch (error) {
      // Docker removes an --rm container whose start failed; `docker run --rm` waits for that removal.
      if (startFailed && record.hostConfig.AutoRemove) await this.removeAfterFailedStart(record.id).catch(() => undefined);
      throw error;
    }
  }

  /** Starts the container; the caller holds its lock. */
  async startLocked(record: ContainerRecord): Promise<void> {
    const { core } = this;
    const { options } = core;
    const paths = core.containerPaths(record);
    const runtime = core.runtimeOf(record);
    const shimDir = core.shimDir(record.id);
    const logPath = core.logPath(record);
    let prepared = false;
    try {
      await core.runtimeDeleted(record.id);
      await core.exitWatcher.clear(record.id);
      record.starting = new Date().toISOString();
      // The start's records and bundle describe a run, which a power loss ends anyway: they are
      // written atomically (a kill -9 of berthd finds them whole) but not synced.
      await core.store.save(record, EPHEMERAL);
      const spec = emptySpecContributions();
      await core.hooks.prepare({ record, paths, spec });
      prepared = true;
      const shared = sharedNamespaces(record.hostConfig, this.namespaceDonor);
      const devices = (await Promise.all((record.hostConfig.Devices ?? []).map(gatherDevices))).flat();
      const user = resolveUser(record.config.User, await readContainerFile(paths.rootfs, 'etc/passwd'), await readContainerFile(paths.rootfs, 'etc/group'), record.hostConfig.GroupAdd ?? []);
      const ociSpec = buildOciSpec({
        id: record.id, config: record.config, hostConfig: record.hostConfig, rootfsPath: paths.rootfs,
        hostsPath: spec.etcFiles?.hosts ?? '', hostnamePath: spec.etcFiles?.hostname ?? '', resolvConfPath: spec.etcFiles?.resolvConf ?? '',
        user, mounts: spec.mounts, devices,
        daemon: {
          cgroupParent: options.cgroupParent, seccompProfile: options.seccompProfile,
          hostCapabilities: options.hostCapabilities, arch: process.arch, initPath: '/usr/bin/tini-static',
          networkNamespacePath: spec.networkNamespacePath, ...shared, idMappings: options.idMappings,
          hostDevices: record.hostConfig.Privileged ? await hostDevices() : undefined,
        },
      });
      for (const edit of spec.edits) edit(ociSpec);
      await mkdir(paths.bundle, { recursive: true });
      await traced('bundle.write', () => writeJsonAtomic(join(paths.bundle, 'config.json'), runtime.adaptSpec(ociSpec), EPHEMERAL));
      await rm(shimDir, SHIM_DIR_REMOVAL);
      await mkdir(shimDir, { recursive: true });
      const logOffset = await logSize(logPath);
      const { pid } = await createWithShim({
        id: record.id, name: record.name.slice(1), bundle: paths.bundle, runtime, logPath,
        exitDir: core.exitWatcher.directory, shimDir, socketDir: core.socketRoot,
        terminal: !!record.config.Tty, stdin: !!record.config.OpenStdin,
        leaveStdinOpen: !!record.config.Tty || !record.config.StdinOnce,
        command: ociSpec.process.args[0],
      });
      this.monitor.armExit(record.id);
      await runtime.learnFromCreate(record.id, ociSpec);
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
      await core.store.save(record, EPHEMERAL);
      core.publish(record, 'start');
      core.lifecycle.emit('started', record.id, logOffset);
    } catch (error) {
      // A failed create can leave the runtime's record or cgroup behind (crun does).
      // A container waiting out its restart back-off counts as running without a process.
      const started = record.state.Running && !record.state.Restarting;
      if (!started) await runtime.delete(record.id, true).catch(() => undefined);
      if (prepared && !started) await core.hooks.release({ record, paths, reason: 'start-failed' });
      await rm(shimDir, SHIM_DIR_REMOVAL);
      delete record.starting;
      if (isEngineError(error)) {
        await core.store.save(record).catch(() => undefined);
        throw error;
      }
      const message = startErrorMessage(error);
      record.state = { ...record.state, Error: message, ExitCode: exitCodeForStartError(message) };
      await core.store.save(record).catch(() => undefined);
      throw exitCodeForStartError(message) === 128 ? serverError(message) : badParameter(message);
    }
  }

  async kill(record: ContainerRecord, reference: string, signalText: string | undefined): Promise<void> {
    const { core, monitor } = this;
    const signal = parseSignal(signalText, 'SIGKILL');
    if (signal === undefined) throw badParameter(`Invalid signal: ${signalText}`);
    if (!record.state.Running) throw conflict(`Cannot kill container: ${reference}: Container ${record.id} is not running`);
    // As dockerd: any kill counts as stopped by the user; SIGKILL and the stop signal cancel the restart policy.
    record.stoppedByUser = true;
    const cancels = killCancelsRestart(signal, record.config.StopSignal ? parseSignal(record.config.StopSignal) : undefined);
    if (cancels) core.restarts.cancel(record.id);
    await core.store.save(record);
    // Waiting out a restart back-off there is no process to signal.
    if (record.state.Restarting && (!cancels || await monitor.abandonRestart(record))) return;
    const exited = monitor.exited(record.id);
    await this.signal(record, signal);
    // Like Docker, SIGKILL waits for the exit, so that `docker kill x && docker rm x` works.
    if (signal === 9 && await settlesWithin(exited, 10_000)) await monitor.abandonRestart(record);
  }

  async signal(record: ContainerRecord, signal: number): Promise<void> {
    const { core } = this;
    core.publish(record, 'kill', { signal: String(signal) });
    try {
      await core.runtimeOf(record).kill(record.id, signal, signal === 9);
    } catch (error) {
      // The process may have exited between our check and the signal: that is a success.
      if (record.state.Running && !(await core.hasExitFile(record.id))) {
        const state = await core.runtimeOf(record).state(record.id).catch(() => undefined);
        if (state && state.status !== 'stopped') throw serverError(startErrorMessage(error));
        // Gone with its shim: no exit report will come, so it is recorded here.
        process.stderr.write(`berthd: container ${record.id} was gone without an exit report; recorded as exited\n`);
        await this.monitor.handleExit(record.id, 255);
        return;
      }
    }
    // A frozen process gets its signal once thawed: like Docker, resume a paused container
    // after SIGKILL or its stop signal (any signal when it has none of its own).
    const stopSignal = record.config.StopSignal ? parseSignal(record.config.StopSignal) : undefined;
    if (record.state.Paused && (signal === 9 || stopSignal === undefined || stopSignal === signal)) {
      await core.lock.run(record.id, async () => {
        if (!record.state.Paused || !record.state.Running) return;
        await core.runtimeOf(record).resume(record.id).catch(() => undefined);
        record.state = { ...record.state, Paused: false, Status: 'running' };
        await core.store.save(record);
        core.publish(record, 'unpause');
      });
    }
  }

  async stop(record: ContainerRecord, options: { signal?: string; timeoutSeconds?: number }): Promise<void> {
    const { core, monitor } = this;
    if (!record.state.Running) throw notModified();
    const stopSignal = parseSignal(options.signal || record.config.StopSignal || 'SIGTERM');
    if (stopSignal === undefined) throw badParameter(`Invalid signal: ${options.signal}`);
    const timeout = options.timeoutSeconds ?? record.config.StopTimeout ?? 10;
    record.stoppedByUser = true;
    core.restarts.cancel(record.id);
    await core.store.save(record);
    if (await monitor.abandonRestart(record)) {
      core.publish(record, 'stop');
      return;
    }
    const exited = monitor.exited(record.id);
    await this.signal(record, stopSignal);
    if (timeout < 0) {
      await exited;
    } else if (!(await settlesWithin(exited, timeout * 1000))) {
      await this.signal(record, 9);
      await monitor.exitAfterKill(record, exited);
    }
    // An exit already on its way when the policy was cancelled may have been taken for a restart.
    await monitor.abandonRestart(record);
    core.publish(record, 'stop');
  }

  async restart(record: ContainerRecord, timeoutSeconds: number | undefined, signal?: string): Promise<void> {
    if (record.state.Running) await this.stop(record, { timeoutSeconds, signal }).catch((error: unknown) => {
      if (!isNotModified(error)) throw error;
    });
    await this.core.lock.run(record.id, async () => {
      if (record.state.Running) return;
      this.core.restarts.reset(record.id);
      record.restartCount = 0;
      await this.startLocked(record);
    });
    this.core.publish(record, 'restart');
  }
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
