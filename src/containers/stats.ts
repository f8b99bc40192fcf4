// Container stats for GET /containers/{id}/stats: one sampler per watched container, shared by
// every client that watches it.
//
//   first subscriber -> a sampler starts: it samples at once, then once a second
//   each sample       -> read once (cgroup files, /proc/stat, the container's net/dev),
//                        encoded once, and the same JSON line goes to every subscriber
//   last unsubscribe  -> the sampler stops; container removed -> its subscribers' streams end
//
// A container that is not running samples as Docker's zeroed answer (name and id alone), so a
// stream of a stopped container goes on, as Docker's does, until the container is removed.
// System CPU time is read with each sample, close to the container's own counters, as moby does.
import type { EventEmitter } from 'node:events';
import { totalmem } from 'node:os';
import { ZERO_TIME, type ContainerStatsResponse, type CpuStats } from '../wire/types.js';
import {
  containerCgroupsPath, locateContainerCgroup, readCgroupStats, readNetworks, readSystemCpu,
  type CgroupLocation, type CgroupStats,
} from './cgroups.js';
import type { ContainerRecord } from './record.js';


/** What the stats service needs of the container service. */
export interface StatsBackend {
  get(reference: string): ContainerRecord;
  /** Emits 'removed' (id) when a container is gone. */
  readonly lifecycle: EventEmitter;
}

export interface StatsOptions {
  /** The daemon's --cgroup-parent (where runc put a container whose pid is unknown). */
  cgroupParent: string;
  intervalMs?: number;
  /** A container without a memory limit reports this as its limit; default: the host's memory. */
  machineMemory?: number;
}

/** One sample as every subscriber receives it. */
export interface StatsFrame {
  stats: ContainerStatsResponse;
  /** The JSON line (with its newline), encoded once for all subscribers. */
  text: string;
  /** Whether precpu_stats holds a real earlier sample (a single answer waits for one). */
  hasPrevious: boolean;
}

interface Subscriber { onFrame(frame: StatsFrame): void; onEnd(): void }

export function zeroCpuStats(): CpuStats {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** Docker's answer for a container that is not running: name and id, every counter empty. */
export function zeroStats(name: string, id: string): ContainerStatsResponse {
  return {
    read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {},
    blkio_stats: {
      io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null,
      io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    num_procs: 0, storage_stats: {}, cpu_stats: zeroCpuStats(), precpu_stats: zeroCpuStats(), memory_stats: {}, name, id,
  };
}

/** A full answer from the parts, in Docker's key order; precpu/preread from the sample before. */
export function composeStats(parts: {
  read: string; previous?: { read: string; cpu: CpuStats }; cgroup: CgroupStats; system: { systemUsage: number; onlineCpus: number };
  name: string; id: string; networks?: ContainerStatsResponse['networks'];
}): ContainerStatsResponse {
  const { cpu_usage, throttling_data } = parts.cgroup.cpu_stats;
  const { systemUsage, onlineCpus } = parts.system;
  // Docker's key order: system usage and online CPUs (both omitted when zero) before throttling.
  const cpu: CpuStats = {
    cpu_usage, ...(systemUsage ? { system_cpu_usage: systemUsage } : {}), ...(onlineCpus ? { online_cpus: onlineCpus } : {}), throttling_data,
  };
  const stats: ContainerStatsResponse = {
    read: parts.read, preread: parts.previous?.read ?? ZERO_TIME,
    pids_stats: parts.cgroup.pids_stats, blkio_stats: parts.cgroup.blkio_stats, num_procs: 0, storage_stats: {},
    cpu_stats: cpu, precpu_stats: parts.previous?.cpu ?? zeroCpuStats(), memory_stats: parts.cgroup.memory_stats,
    name: parts.name, id: parts.id,
  };
  if (parts.networks && Object.keys(parts.networks).length > 0) stats.networks = parts.networks;
  return stats;
}

/** Samples one container: where its cgroups are is worked out once per run (pid). */
class ContainerSampler {
  private readonly subscribers = new Set<Subscriber>();
  private previous: { read: string; cpu: CpuStats } | undefined;
  private located: { pid: number; location: CgroupLocation | undefined } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(readonly record: ContainerRecord, private readonly options: Required<StatsOptions>) {}

  get size(): number {
    return this.subscribers.size;
  }

  add(subscriber: Subscriber): void {
    this.subscribers.add(subscriber);
    if (!this.running) {
      this.running = true;
      void this.tick();
    }
  }

  remove(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** The container is gone: every subscriber's stream ends. */
  end(): void {
    this.stop();
    for (const subscriber of [...this.subscribers]) subscriber.onEnd();
    this.subscribers.clear();
  }

  private async tick(): Promise<void> {
    const startedAt = Date.now();
    const frame = await this.sample();
    if (!this.running) return;
    for (const subscriber of [...this.subscribers]) subscriber.onFrame(frame);
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, startedAt + this.options.intervalMs - Date.now()));
  }

  private async sample(): Promise<StatsFrame> {
    const previous = this.previous;
    const stats = await sampleContainer(this.record, this.options, previous, (pid) => this.locate(pid));
    this.previous = { read: stats.read, cpu: stats.cpu_stats };
    return { stats, text: `${JSON.stringify(stats)}\n`, hasPrevious: previous !== undefined && previous.read !== ZERO_TIME };
  }

  private async locate(pid: number): Promise<CgroupLocation | undefined> {
    if (this.located?.pid !== pid) {
      const cgroupsPath = containerCgroupsPath(cgroupParentOf(this.record) || this.options.cgroupParent, this.record.id);
      this.located = { pid, location: await locateContainerCgroup(pid, cgroupsPath) };
    }
    return this.located.location;
  }
}

function cgroupParentOf(record: ContainerRecord): string {
  return (record.hostConfig as { CgroupParent?: string }).CgroupParent ?? '';
}

/** One sample of a container (Docker's zeroed answer when it is not running or its cgroup is gone). */
async function sampleContainer(
  record: ContainerRecord, options: Required<StatsOptions>, previous: { read: string; cpu: CpuStats } | undefined,
  locate: (pid: number) => Promise<CgroupLocation | undefined>,
): Promise<ContainerStatsResponse> {
  const { state } = record;
  const zero = () => ({ ...zeroStats(record.name, record.id), precpu_stats: previous?.cpu ?? zeroCpuStats(), preread: previous?.read ?? ZERO_TIME });
  if (!state.Running || state.Restarting || state.Pid <= 0) return zero();
  try {
    const location = await locate(state.Pid);
    if (!location) return zero();
    const hostNetwork = record.hostConfig.NetworkMode === 'host' || !!record.config.NetworkDisabled;
    const [cgroup, system, networks] = await Promise.all([
      readCgroupStats(location, options.machineMemory),
      readSystemCpu(),
      hostNetwork ? Promise.resolve(undefined) : readNetworks(state.Pid),
    ]);
    // The container may have stopped while its files were read.
    if (!record.state.Running) return zero();
    return composeStats({ read: new Date().toISOString(), previous, cgroup, system, name: record.name, id: record.id, networks });
  } catch {
    return zero();
  }
}

export class StatsService {
  private readonly samplers = new Map<string, ContainerSampler>();
  private readonly options: Required<StatsOptions>;

  constructor(private readonly containers: StatsBackend, options: StatsOptions) {
    this.options = { intervalMs: 1000, machineMemory: totalmem(), ...options };
    containers.lifecycle.on('removed', (id: string) => {
      const sampler = this.samplers.get(id);
      if (!sampler) return;
      this.samplers.delete(id);
      sampler.end();
    });
  }

  /** How many containers are being sampled (for tests and debugging). */
  get activeSamplers(): number {
    return this.samplers.size;
  }

  /**
   * Frames of a container, one a second, until the returned function is called or the container
   * is removed (then onEnd). The first frame of a new sampler has no previous sample.
   */
  subscribe(reference: string, onFrame: (frame: StatsFrame) => void, onEnd: () => void): () => void {
    const record = this.containers.get(reference);
    let sampler = this.samplers.get(record.id);
    if (!sampler) {
      sampler = new ContainerSampler(record, this.options);
      this.samplers.set(record.id, sampler);
    }
    const subscriber: Subscriber = { onFrame, onEnd };
    sampler.add(subscriber);
    const owner = sampler;
    return () => {
      owner.remove(subscriber);
      if (owner.size === 0 && this.samplers.get(record.id) === owner) {
        owner.stop();
        this.samplers.delete(record.id);
      }
    };
  }

  /**
   * One answer (stream=false). Not running: the zeroed answer at once. one-shot: a sample now,
   * without precpu. Otherwise the first sample that has one before it (about a second for a
   * container nobody watches; at the next tick when a sampler runs already).
   */
  async single(reference: string, oneShot: boolean, signal?: AbortSignal): Promise<StatsFrame> {
    const record = this.containers.get(reference);
    if (!record.state.Running || record.state.Restarting) {
      const stats = zeroStats(record.name, record.id);
      return { stats, text: `${JSON.stringify(stats)}\n`, hasPrevious: false };
    }
    if (oneShot) {
      const cgroupsPath = containerCgroupsPath(cgroupParentOf(record) || this.options.cgroupParent, record.id);
      const stats = await sampleContainer(record, this.options, undefined, (pid) => locateContainerCgroup(pid, cgroupsPath));
      return { stats, text: `${JSON.stringify(stats)}\n`, hasPrevious: false };
    }
    return new Promise((resolve, reject) => {
      let last: StatsFrame | undefined;
      let done = false;
      const finish = (frame: StatsFrame | undefined) => {
        if (done) return;
        done = true;
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        if (frame) resolve(frame);
        else reject(new Error('the container is gone'));
      };
      const onAbort = () => finish(last ?? { stats: zeroStats(record.name, record.id), text: '', hasPrevious: false });
      const unsubscribe = this.subscribe(record.id, (frame) => {
        last = frame;
        if (frame.hasPrevious || !record.state.Running) finish(frame);
      }, () => finish(last));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
