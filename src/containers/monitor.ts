// What follows a container's exit: conmon writes the exit file, the ExitWatcher tells us; we
// record the code, delete the runtime's container (and its cgroup), release the lifecycle hooks
// (the root filesystem is unmounted), wake the waiters, and either schedule the restart its
// policy asks for or remove a container created with --rm.
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WaitResponse } from '../wire/types.js';
import { settlesWithin } from '../util/promises.js';
import { traced } from '../util/trace.js';
import { SHIM_DIR_REMOVAL, type ContainerCore } from './core.js';
import type { ContainerRecord } from './record.js';
import { exitedAfterRestarting, restartingState, type RestartDecision } from './restart-policy.js';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter { condition: WaitCondition; resolve: (response: WaitResponse) => void }

export interface ExitMonitorDeps {
  /** Starts the container again (under its lock) at the end of a restart back-off. */
  startLocked: (record: ContainerRecord) => Promise<void>;
  /** Removes an exited --rm container. */
  remove: (id: string) => Promise<void>;
}

/** How long a killed container's exit is awaited before the runtime is asked whether it is gone. */
const KILL_EXIT_CHECK_MS = 5_000;

export class ExitMonitor {
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** Resolves when the current run of a container has been fully handled after its exit. */
  private readonly exits = new Map<string, { promise: Promise<void>; resolve: () => void }>();

  constructor(private readonly core: ContainerCore, private readonly deps: ExitMonitorDeps) {}

  armExit(id: string): void {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => { resolve = r; });
    this.exits.set(id, { promise, resolve });
  }

  /** A promise that settles once the current run has ended and been recorded. */
  exited(id: string): Promise<void> {
    return this.exits.get(id)?.promise ?? Promise.resolve();
  }

  /**
   * Waits for `exited` after a SIGKILL. An exit that can never be reported (the container's
   * shim died with it, so no exit file comes and the runtime shows it stopped) is recorded as
   * the daemon records it at start-up, so that stop and rm -f never wait forever.
   */
  async exitAfterKill(record: ContainerRecord, exited: Promise<void>): Promise<void> {
    const { core } = this;
    while (!(await settlesWithin(exited, KILL_EXIT_CHECK_MS))) {
      if (!record.state.Running || await core.hasExitFile(record.id)) continue;
      const state = await core.runtimeOf(record).state(record.id).catch(() => undefined);
      if (state && state.status !== 'stopped') continue;
      process.stderr.write(`berthd: container ${record.id} was gone without an exit report; recorded as exited\n`);
      await this.handleExit(record.id, 255);
    }
  }

  async handleExit(id: string, exitCode: number, exitedAt = new Date()): Promise<void> {
    const { core } = this;
    const record = core.records.get(id);
    if (!record) {
      await core.exitWatcher.clear(id);
      return;
    }
    let decision: RestartDecision = { restart: false, delayMs: 0 };
    await core.lock.run(id, async () => {
      if (!record.state.Running || record.state.Restarting) return;
      const shimDir = core.shimDir(id);
      const oomKilled = await exists(join(shimDir, 'oom'));
      // The runtime's delete (its record and cgroup) needs nothing of the hooks' release (unmounts,
      // interfaces) nor of the record's update. A container that --rm removes next is reported
      // exited without waiting for it: its removal waits instead (ContainerService.remove), so
      // `run --rm` still ends with nothing left; a start waits for it too.
      const deleting = core.deleteRuntimeContainer(record);
      await core.hooks.release({ ...core.hookContext(record), reason: 'exited' });
      decision = core.restarts.onExit(record, exitCode, exitedAt);
      if (decision.restart) {
        record.restartCount++;
        record.state = restartingState(record.state, { exitCode, oomKilled, exitedAt });
      } else {
        record.state = {
          ...record.state, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0,
          ExitCode: exitCode, OOMKilled: oomKilled, FinishedAt: exitedAt.toISOString(),
        };
      }
      // A container that --rm removes next is not synced: its record goes within milliseconds,
      // and a power loss before that leaves the running record, which start-up reconciles (exited, removed).
      const removedNext = !decision.restart && !!record.hostConfig.AutoRemove;
      await core.store.save(record, removedNext ? { durable: false } : {});
      await core.exitWatcher.clear(id);
      await rm(shimDir, SHIM_DIR_REMOVAL);
      if (!removedNext) await deleting;
      core.publish(record, 'die', { exitCode: String(exitCode) });
      this.exits.get(id)?.resolve();
      this.notifyWaiters(id, ['not-running', 'next-exit'], exitCode);
      core.lifecycle.emit('exited', id, exitCode);
    });
    if (decision.restart) {
      core.restarts.schedule(id, decision.delayMs, () => this.restartAfterDelay(record));
    } else if (record.hostConfig.AutoRemove) {
      await traced('exit.readers', () => settlesWithin(Promise.all(core.attachReaders.get(id) ?? []), 5000));
      await traced('container.remove', () => this.deps.remove(id)).catch(() => undefined);
    }
  }

  /** The end of a restart back-off: the container runs again (events die, then start), or is left exited. */
  async restartAfterDelay(record: ContainerRecord): Promise<void> {
    const { core } = this;
    await core.lock.run(record.id, async () => {
      if (!record.state.Restarting || !core.records.has(record.id)) return;
      const exitCode = record.state.ExitCode;
      try {
        if (core.restarts.isCanceled(record.id)) throw new Error('restart canceled');
        await this.deps.startLocked(record);
      } catch {
        // As dockerd: the failed start's message stays in State.Error, the exit code is the last run's.
        record.state = { ...exitedAfterRestarting(record.state), ExitCode: exitCode };
        await core.store.save(record).catch(() => undefined);
        this.exits.get(record.id)?.resolve();
        this.notifyWaiters(record.id, ['not-running', 'next-exit'], exitCode);
      }
    }).catch(() => undefined);
  }

  /**
   * stop/kill/rm of a container waiting out its restart back-off (after restarts.cancel): it is
   * left exited. False when it is not restarting (it runs again, or never was restarting).
   */
  async abandonRestart(record: ContainerRecord): Promise<boolean> {
    return this.core.lock.run(record.id, async () => {
      if (!record.state.Restarting) return false;
      record.state = exitedAfterRestarting(record.state);
      await this.core.store.save(record);
      this.notifyWaiters(record.id, ['not-running', 'next-exit'], record.state.ExitCode);
      return true;
    });
  }

  /** Registers the waiter synchronously (before the caller starts the container), resolves later. */
  wait(record: ContainerRecord, condition: WaitCondition): Promise<WaitResponse> {
    if (condition === 'not-running' && !record.state.Running) return Promise.resolve({ StatusCode: record.state.ExitCode, Error: null });
    return new Promise((resolve) => {
      const set = this.waiters.get(record.id) ?? new Set<Waiter>();
      set.add({ condition, resolve });
      this.waiters.set(record.id, set);
    });
  }

  notifyWaiters(id: string, conditions: WaitCondition[], exitCode: number): void {
    const set = this.waiters.get(id);
    if (!set) return;
    for (const waiter of [...set]) {
      if (!conditions.includes(waiter.condition)) continue;
      set.delete(waiter);
      waiter.resolve({ StatusCode: exitCode, Error: null });
    }
    if (set.size === 0) this.waiters.delete(id);
  }

  /** The container is gone: its run handle with it. */
  forget(id: string): void {
    this.exits.delete(id);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
