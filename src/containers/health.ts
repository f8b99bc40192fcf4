// Health checks (HEALTHCHECK / --health-*): while a container with a check runs, its probe is
// run in the container every interval, and State.Health (status, failing streak, the last five
// results) follows Docker's rules, with a `health_status: <status>` event on every change.
//
//   started  -> Health reset to "starting", a monitor scheduled (also for containers found
//               running when berthd starts)
//   probe    -> exit 0 healthy; a failure counts unless the container is still "starting"
//               within its start period; `Retries` failures in a row make it unhealthy
//   exited / removed -> the monitor stops (a probe under way is abandoned); Health stays
//               as it was, as in Docker
import type { HealthConfig } from '../wire/types.js';
import { MAX_PROBE_OUTPUT } from './exec.js';
import type { ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';

/** Runs a command in the container; `exitCode` -1 with Docker's message when it timed out. */
export type ProbeRunner = (record: ContainerRecord, command: string[], timeoutMs: number) => Promise<{ exitCode: number; output: string }>;

export interface HealthResult { Start: string; End: string; ExitCode: number; Output: string }

const SECOND_NS = 1e9;
export const HEALTH_DEFAULTS = { intervalNs: 30 * SECOND_NS, timeoutNs: 30 * SECOND_NS, startPeriodNs: 0, startIntervalNs: 5 * SECOND_NS, retries: 3 };
const MAX_LOG_ENTRIES = 5;

/** The probe's command line, or undefined when the container has no (or a disabled) check. */
export function probeCommand(check: HealthConfig | undefined, shell: string[] | undefined): string[] | undefined {
  const test = check?.Test;
  if (!test || test.length === 0) return undefined;
  switch (test[0]) {
    case 'CMD': return test.length > 1 ? test.slice(1) : undefined;
    case 'CMD-SHELL': return [...(shell && shell.length > 0 ? shell : ['/bin/sh', '-c']), test.slice(1).join(' ')];
    default: return undefined; // NONE, or anything Docker does not know
  }
}

function orDefault(value: number | undefined, fallback: number): number {
  return value && value > 0 ? value : fallback;
}

/** The delay before the next probe (ms): the start interval while starting within the start period. */
export function nextProbeDelayMs(check: HealthConfig, status: string, sinceStartMs: number): number {
  const startPeriodMs = orDefault(check.StartPeriod, HEALTH_DEFAULTS.startPeriodNs) / 1e6;
  const intervalMs = orDefault(check.Interval, HEALTH_DEFAULTS.intervalNs) / 1e6;
  if (sinceStartMs >= startPeriodMs || status !== 'starting') return intervalMs;
  return orDefault(check.StartInterval, HEALTH_DEFAULTS.startIntervalNs) / 1e6;
}

export interface HealthState { Status: string; FailingStreak: number; Log: HealthResult[] }

/** Docker's handleProbeResult: the new health state after one probe. Pure. */
export function applyProbeResult(health: HealthState, result: HealthResult, check: HealthConfig, startedAt: string): HealthState {
  const log = [...health.Log, result].slice(-MAX_LOG_ENTRIES);
  if (result.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log: log };
  const startPeriodMs = orDefault(check.StartPeriod, HEALTH_DEFAULTS.startPeriodNs) / 1e6;
  const inStartPeriod = health.Status === 'starting' && Date.parse(result.Start) - Date.parse(startedAt) < startPeriodMs;
  if (inStartPeriod) return { ...health, Log: log };
  const streak = health.FailingStreak + 1;
  const retries = orDefault(check.Retries, HEALTH_DEFAULTS.retries);
  return { Status: streak >= retries ? 'unhealthy' : health.Status, FailingStreak: streak, Log: log };
}

export class HealthMonitor {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Bumped when a container's monitor stops, so that a probe under way is ignored. */
  private readonly generations = new Map<string, number>();

  constructor(private readonly containers: ContainerService, private readonly runProbe: ProbeRunner) {}

  /** Follows the containers' lifecycle; call before the container service's init, which may start containers. */
  listen(): void {
    this.containers.lifecycle.on('started', (id: string) => void this.begin(id, true));
    this.containers.lifecycle.on('exited', (id: string) => this.stop(id));
    this.containers.lifecycle.on('removed', (id: string) => this.stop(id));
  }

  /** Takes up the checks of containers that kept running while the daemon was away; call once probes can run. */
  resume(): void {
    for (const record of this.containers.all()) {
      if (record.state.Running && !record.state.Restarting) void this.begin(record.id, false);
    }
  }

  shutdown(): void {
    for (const id of [...this.timers.keys()]) this.stop(id);
  }

  private async begin(id: string, fresh: boolean): Promise<void> {
    this.stop(id);
    const generation = this.generations.get(id);
    const record = this.containers.find(id);
    if (!record || !probeCommand(record.config.Healthcheck, record.config.Shell)) return;
    if (fresh || !record.state.Health) {
      record.state.Health = { Status: 'starting', FailingStreak: 0, Log: record.state.Health?.Log ?? [] };
      await this.containers.saveRecord(record).catch(() => undefined);
    }
    // Another start or stop came while the record was written: that one decides.
    if (this.generations.get(id) !== generation) return;
    this.schedule(record);
  }

  private stop(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
  }

  private schedule(record: ContainerRecord): void {
    const check = record.config.Healthcheck ?? {};
    const status = record.state.Health?.Status ?? 'starting';
    const delay = nextProbeDelayMs(check, status, Date.now() - Date.parse(record.state.StartedAt));
    clearTimeout(this.timers.get(record.id));
    const timer = setTimeout(() => void this.probe(record), delay);
    timer.unref();
    this.timers.set(record.id, timer);
  }

  private async probe(record: ContainerRecord): Promise<void> {
    const generation = this.generations.get(record.id) ?? 0;
    // As moby: no probes while the container is frozen; they take up again once it is thawed.
    if (record.state.Paused) {
      this.schedule(record);
      return;
    }
    const check = record.config.Healthcheck ?? {};
    const command = probeCommand(check, record.config.Shell);
    if (!command) return;
    const start = new Date();
    const timeoutMs = orDefault(check.Timeout, HEALTH_DEFAULTS.timeoutNs) / 1e6;
    let outcome: { exitCode: number; output: string };
    try {
      outcome = await this.runProbe(record, command, timeoutMs);
    } catch (error) {
      outcome = { exitCode: -1, output: error instanceof Error ? error.message : String(error) };
    }
    if (this.generations.get(record.id) !== generation || !record.state.Running) return;
    const result: HealthResult = {
      Start: start.toISOString(), End: new Date().toISOString(), ExitCode: outcome.exitCode,
      Output: outcome.output.slice(0, MAX_PROBE_OUTPUT),
    };
    const before = record.state.Health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const after = applyProbeResult(before, result, check, record.state.StartedAt);
    record.state.Health = after;
    await this.containers.saveRecord(record).catch(() => undefined);
    if (after.Status !== before.Status) this.containers.publishEvent(record, `health_status: ${after.Status}`);
    this.schedule(record);
  }
}
