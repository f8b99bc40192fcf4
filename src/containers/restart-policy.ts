// Restart policies (HostConfig.RestartPolicy: no, on-failure[:N], always, unless-stopped), as
// dockerd applies them. The decisions and the back-off are pure functions; RestartManager
// keeps each container's in-memory part (current back-off delay, a cancellation by stop/kill,
// the timer of a pending restart).
//
// Lifecycle of one container under a policy:
//   exit -> onExit() decides (and advances the back-off) -> the service records the
//           "restarting" state (Running and Restarting true, RestartCount + 1) and schedule()s
//   delay over -> the service starts the container again (events die, then start)
//   stop/kill/rm -> cancel(): the pending restart is dropped and no later exit restarts it,
//                   until the user starts the container again (reset())
//   daemon start -> startsAtDaemonStart() picks the stopped containers dockerd would start
//
// RestartCount lives in the container's record; the back-off delay and the cancellation live
// here only, as in dockerd, where a new daemon (or a start by the user) begins afresh.
import type { ContainerState, RestartPolicy } from '../wire/types.js';
import type { ContainerRecord } from './record.js';

/** moby restartmanager: first delay 100 ms, doubled after each restart, at most a minute. */
export const FIRST_RESTART_DELAY_MS = 100;
export const MAX_RESTART_DELAY_MS = 60_000;
/** A run at least this long starts the back-off again from the first delay. */
export const BACKOFF_RESET_AFTER_MS = 10_000;

/** The delay before the next restart, from the previous delay (0: none yet) and the length of the run that just ended. */
export function nextRestartDelay(previousDelayMs: number, ranForMs: number): number {
  if (ranForMs >= BACKOFF_RESET_AFTER_MS || previousDelayMs <= 0) return FIRST_RESTART_DELAY_MS;
  return Math.min(previousDelayMs * 2, MAX_RESTART_DELAY_MS);
}

export interface ExitFacts {
  exitCode: number;
  /** Docker's HasBeenManuallyStopped: stop or kill was asked for since the last start by the user. */
  stoppedByUser: boolean;
  /** Restarts done by the policy so far (the record's RestartCount). */
  restartCount: number;
}

/** Whether the policy wants the container running again after this exit (moby ShouldRestart). */
export function policyRestarts(policy: RestartPolicy | undefined, facts: ExitFacts): boolean {
  switch (policy?.Name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !facts.stoppedByUser;
    case 'on-failure': {
      // 0 (the default) means no limit.
      const max = policy.MaximumRetryCount ?? 0;
      return (max === 0 || facts.restartCount < max) && facts.exitCode !== 0;
    }
    default:
      return false;
  }
}

/**
 * Whether dockerd would start this container when the daemon starts: it is not running, has run
 * before, and its policy wants it back (so `always` comes back even after `docker stop`, while
 * `unless-stopped` stays stopped).
 */
export function startsAtDaemonStart(record: Pick<ContainerRecord, 'hostConfig' | 'state' | 'restartCount' | 'stoppedByUser'>): boolean {
  const state = record.state;
  if (state.Running || state.Dead || state.Status === 'removing' || !hasRun(state)) return false;
  return policyRestarts(record.hostConfig.RestartPolicy, {
    exitCode: state.ExitCode, stoppedByUser: !!record.stoppedByUser, restartCount: record.restartCount,
  });
}

function hasRun(state: ContainerState): boolean {
  const startedAt = Date.parse(state.StartedAt);
  return !Number.isNaN(startedAt) && startedAt > 0;
}

/**
 * Whether a signal sent by `docker kill`/`stop` cancels the policy (moby ExitOnNext): SIGKILL and
 * the container's stop signal do; any signal does when the container has no StopSignal of its own.
 */
export function killCancelsRestart(signal: number, containerStopSignal: number | undefined): boolean {
  if (containerStopSignal === undefined || signal === 9) return true;
  return signal === containerStopSignal;
}

/** The state while waiting out the back-off: Docker keeps Running true ("restarting"). */
export function restartingState(previous: ContainerState, exit: { exitCode: number; oomKilled: boolean; exitedAt: Date }): ContainerState {
  return {
    ...previous, Status: 'restarting', Running: true, Restarting: true, Paused: false, Pid: 0,
    ExitCode: exit.exitCode, OOMKilled: exit.oomKilled, FinishedAt: exit.exitedAt.toISOString(),
  };
}

/** The state once a pending restart is given up (cancelled, or the start failed): exited with the last run's code. */
export function exitedAfterRestarting(previous: ContainerState): ContainerState {
  return { ...previous, Status: 'exited', Running: false, Restarting: false, Paused: false, Pid: 0 };
}

export interface RestartDecision {
  restart: boolean;
  /** How long to wait before starting again (meaningful when restart is true). */
  delayMs: number;
}

interface Tracked {
  delayMs: number;
  canceled: boolean;
  timer?: NodeJS.Timeout;
}

export class RestartManager {
  private readonly containers = new Map<string, Tracked>();

  /**
   * Decides what follows an exit, as moby's restart manager does: the back-off advances on
   * every exit (and starts over after a run of 10 s or more); a cancelled container never
   * restarts. Call once per exit, before recording the new state.
   */
  onExit(record: ContainerRecord, exitCode: number, exitedAt: Date): RestartDecision {
    const tracked = this.track(record.id);
    if (tracked.canceled) return { restart: false, delayMs: 0 };
    const startedAt = Date.parse(record.state.StartedAt);
    const ranForMs = Number.isNaN(startedAt) ? 0 : exitedAt.getTime() - startedAt;
    tracked.delayMs = nextRestartDelay(tracked.delayMs, ranForMs);
    const restart = policyRestarts(record.hostConfig.RestartPolicy, {
      exitCode, stoppedByUser: !!record.stoppedByUser, restartCount: record.restartCount,
    });
    return { restart, delayMs: tracked.delayMs };
  }

  /**
   * Calls `restart` once `delayMs` has passed; cancel() before that drops the call. When the
   * container was cancelled between the decision and this call, `restart` runs at once, and
   * must check isCanceled() to give the restart up.
   */
  schedule(id: string, delayMs: number, restart: () => Promise<void>): void {
    const tracked = this.track(id);
    if (tracked.timer) clearTimeout(tracked.timer);
    tracked.timer = setTimeout(() => {
      tracked.timer = undefined;
      void restart();
    }, tracked.canceled ? 0 : delayMs);
  }

  isCanceled(id: string): boolean {
    return !!this.containers.get(id)?.canceled;
  }

  /**
   * stop/kill/rm asked for the container to end (moby ExitOnNext): drops a pending restart and
   * keeps the policy from restarting it on later exits, until reset().
   */
  cancel(id: string): void {
    const tracked = this.track(id);
    tracked.canceled = true;
    if (tracked.timer) clearTimeout(tracked.timer);
    tracked.timer = undefined;
  }

  /** A start by the user: the back-off starts over and a cancellation is lifted (moby ResetRestartManager). */
  reset(id: string): void {
    this.forget(id);
  }

  /** The container is gone. */
  forget(id: string): void {
    const tracked = this.containers.get(id);
    if (tracked?.timer) clearTimeout(tracked.timer);
    this.containers.delete(id);
  }

  /** Daemon shutdown: no timers left behind; pending restarts are picked up by the next daemon from the records. */
  shutdown(): void {
    for (const tracked of this.containers.values()) {
      if (tracked.timer) clearTimeout(tracked.timer);
      tracked.timer = undefined;
    }
  }

  private track(id: string): Tracked {
    let tracked = this.containers.get(id);
    if (!tracked) {
      tracked = { delayMs: 0, canceled: false };
      this.containers.set(id, tracked);
    }
    return tracked;
  }
}
