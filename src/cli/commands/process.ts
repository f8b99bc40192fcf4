// Process control commands: pause, unpause, top, stats and update, with the docker CLI's flags,
// output and errors. The stats figures are computed as the docker CLI computes them (CPU delta
// over system delta times online CPUs; memory without the inactive file cache; binary units for
// memory, decimal ones for I/O); those calculations are exported pure functions.

import type { BlkioStats, ContainerStatsResponse, ContainerUpdateRequest, CpuStats, MemoryStats, NetworkStats } from '../../wire/types.js';
import type { EngineClient } from '../../client/engine-client.js';
import { boolFlag, forEachTarget, intFlag, stringFlag } from '../command.js';
import type { CommandSpec, Invocation } from '../command.js';
import { FlagError } from '../flags.js';
import { chooseFormat, displaySize, renderFormatted, sortedJson, StatusError, truncateId, writeOut } from '../output.js';
import { tabwrite } from '../table.js';
import { bytesSize, formatGoFloat, parseBytes, parseCpus } from '../../util/units.js';
import { FORMAT_HELP } from './ps.js';
import { parseRestartPolicy } from './run-options.js';

// ---- pause / unpause -------------------------------------------------------------------------

export const pauseCommand: CommandSpec = {
  name: 'pause',
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Pause all processes within one or more containers',
  aliases: ['container pause', 'pause'],
  flags: [],
  args: { min: 1 },
  run: (invocation) => forEachTarget(invocation.args, (container) => invocation.ctx.client().containerPause(container)),
};

export const unpauseCommand: CommandSpec = {
  name: 'unpause',
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Unpause all processes within one or more containers',
  aliases: ['container unpause', 'unpause'],
  flags: [],
  args: { min: 1 },
  run: (invocation) => forEachTarget(invocation.args, (container) => invocation.ctx.client().containerUnpause(container)),
};

// ---- top -------------------------------------------------------------------------------------

/** docker top's table: tabwriter with a minimum cell width of 20 and 3 spaces of padding. */
export function formatTop(titles: string[], processes: string[][]): string {
  const lines = [titles, ...processes].map((row) => row.join('\t'));
  return tabwrite(lines.join('\n') + '\n', { minWidth: 20, padding: 3, padChar: ' ' });
}

export const topCommand: CommandSpec = {
  name: 'top',
  usage: 'CONTAINER [ps OPTIONS]',
  description: 'Display the running processes of a container',
  aliases: ['container top', 'top'],
  flags: [],
  args: { min: 1 },
  interspersed: false,
  async run(invocation) {
    const [container, ...psArgs] = invocation.args;
    const list = await invocation.ctx.client().containerTop(container!, psArgs);
    await writeOut(formatTop(list.Titles ?? [], list.Processes ?? []));
    return 0;
  },
};

// ---- stats: the docker CLI's calculations (pure) --------------------------------------------------

export interface StatsEntry {
  container: string;
  name: string;
  id: string;
  cpuPercentage: number;
  memory: number;
  memoryLimit: number;
  memoryPercentage: number;
  networkRx: number;
  networkTx: number;
  blockRead: number;
  blockWrite: number;
  pidsCurrent: number;
  isInvalid: boolean;
}

export function calculateCpuPercentUnix(previous: CpuStats | undefined, current: CpuStats): number {
  const cpuDelta = current.cpu_usage.total_usage - (previous?.cpu_usage.total_usage ?? 0);
  const systemDelta = (current.system_cpu_usage ?? 0) - (previous?.system_cpu_usage ?? 0);
  let onlineCpus = current.online_cpus ?? 0;
  if (onlineCpus === 0) onlineCpus = current.cpu_usage.percpu_usage?.length ?? 0;
  if (systemDelta > 0 && cpuDelta > 0) return (cpuDelta / systemDelta) * onlineCpus * 100;
  return 0;
}

/** Usage without the inactive file cache: total_inactive_file on cgroup v1, inactive_file on v2. */
export function calculateMemUsageUnixNoCache(memory: MemoryStats): number {
  const usage = memory.usage ?? 0;
  const stats = memory.stats ?? {};
  const v1 = stats.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = stats.inactive_file ?? 0;
  if (v2 < usage) return usage - v2;
  return usage;
}

export function calculateMemPercentUnixNoCache(limit: number, usedNoCache: number): number {
  return limit !== 0 ? (usedNoCache / limit) * 100 : 0;
}

export function calculateBlockIo(blkio: BlkioStats | undefined): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const entry of blkio?.io_service_bytes_recursive ?? []) {
    const first = entry.op[0];
    if (first === 'r' || first === 'R') read += entry.value;
    else if (first === 'w' || first === 'W') write += entry.value;
  }
  return { read, write };
}

export function calculateNetwork(networks: Record<string, NetworkStats> | undefined): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const network of Object.values(networks ?? {})) {
    rx += network.rx_bytes;
    tx += network.tx_bytes;
  }
  return { rx, tx };
}

/** One answer of the stats endpoint as the docker CLI's StatsEntry (Linux daemon). */
export function statsEntry(container: string, stats: ContainerStatsResponse): StatsEntry {
  const memory = calculateMemUsageUnixNoCache(stats.memory_stats ?? {});
  const memoryLimit = stats.memory_stats?.limit ?? 0;
  const network = calculateNetwork(stats.networks);
  const block = calculateBlockIo(stats.blkio_stats);
  return {
    container, name: stats.name ?? '', id: stats.id ?? '',
    cpuPercentage: calculateCpuPercentUnix(stats.precpu_stats, stats.cpu_stats),
    memory, memoryLimit, memoryPercentage: calculateMemPercentUnixNoCache(memoryLimit, memory),
    networkRx: network.rx, networkTx: network.tx, blockRead: block.read, blockWrite: block.write,
    pidsCurrent: stats.pids_stats?.current ?? 0, isInvalid: false,
  };
}

export function emptyStatsEntry(container: string): StatsEntry {
  return {
    container, name: '', id: '', cpuPercentage: 0, memory: 0, memoryLimit: 0, memoryPercentage: 0,
    networkRx: 0, networkTx: 0, blockRead: 0, blockWrite: 0, pidsCurrent: 0, isInvalid: false,
  };
}

const NO_VALUE = '--';

function formatPercentage(value: number): string {
  return `${formatGoFloat(value, 'f', 2)}%`;
}

export interface StatsRow {
  Container: string;
  Name: string;
  ID: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

/** The formatter's view of an entry (docker's statsContext). */
export function statsRow(entry: StatsEntry, trunc: boolean): StatsRow {
  const invalid = entry.isInvalid;
  return {
    Container: entry.container,
    Name: entry.name.length > 1 ? entry.name.slice(1) : NO_VALUE,
    ID: trunc ? truncateId(entry.id) : entry.id,
    CPUPerc: invalid ? NO_VALUE : formatPercentage(entry.cpuPercentage),
    MemUsage: invalid ? '-- / --' : `${bytesSize(entry.memory)} / ${bytesSize(entry.memoryLimit)}`,
    MemPerc: invalid ? NO_VALUE : formatPercentage(entry.memoryPercentage),
    NetIO: invalid ? NO_VALUE : `${displaySize(entry.networkRx)} / ${displaySize(entry.networkTx)}`,
    BlockIO: invalid ? NO_VALUE : `${displaySize(entry.blockRead)} / ${displaySize(entry.blockWrite)}`,
    PIDs: invalid ? NO_VALUE : String(entry.pidsCurrent),
  };
}

export const DEFAULT_STATS_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

export const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

/** The entries rendered with a format (table, json or a Go template). */
export function renderStats(format: string, entries: StatsEntry[], trunc: boolean): string {
  const effective = chooseFormat({ format, defaultTable: DEFAULT_STATS_FORMAT });
  const rows = entries.map((entry) => statsRow(entry, trunc));
  if (effective === 'json') return rows.map((row) => `${sortedJson({ ...row })}\n`).join('');
  return renderFormatted(effective, rows, STATS_HEADERS);
}

/** A streaming frame: cursor home, each line followed by erase-to-end-of-line, then erase below. */
export function streamFrame(rendered: string): string {
  return `\u001b[H${rendered.split('\n').map((line) => `${line}\u001b[K\n`).join('')}\u001b[J`;
}

// ---- stats: collecting ---------------------------------------------------------------------

const STATS_TIMEOUT_MS = 2000;

/** One container's figures, kept up to date from its stats stream (docker's Stats + collect). */
class ContainerStats {
  entry: StatsEntry;
  error: Error | undefined;
  private readonly abort = new AbortController();
  readonly first: Promise<void>;
  private releaseFirst!: () => void;

  constructor(readonly container: string) {
    this.entry = emptyStatsEntry(container);
    this.first = new Promise((resolve) => { this.releaseFirst = resolve; });
  }

  stop(): void {
    this.abort.abort();
  }

  private setErrorAndReset(error: Error): void {
    this.entry = { ...emptyStatsEntry(this.container), name: this.entry.name, id: this.entry.id, isInvalid: true };
    this.error = error;
  }

  async collect(client: EngineClient, stream: boolean): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        // No figures for a while: they are shown as "--" until new ones come.
        this.setErrorAndReset(new Error('timeout waiting for stats'));
        this.releaseFirst();
        if (stream) arm();
      }, STATS_TIMEOUT_MS);
    };
    arm();
    try {
      const values = await client.containerStats(this.container, { stream });
      for await (const { value } of values) {
        if (this.abort.signal.aborted) break;
        this.entry = statsEntry(this.container, value);
        this.error = undefined;
        this.releaseFirst();
        if (!stream) break;
        arm();
      }
      if (stream && !this.abort.signal.aborted) {
        this.error = new Error('EOF');
        this.entry = { ...this.entry, isInvalid: true };
      }
    } catch (error) {
      this.error = error instanceof Error ? error : new Error(String(error));
      this.entry = { ...this.entry, isInvalid: true };
    } finally {
      clearTimeout(timer);
      this.releaseFirst();
    }
  }
}

async function runStats(invocation: Invocation): Promise<number> {
  const { flags, args } = invocation;
  const client = invocation.ctx.client();
  const all = boolFlag(flags, 'all');
  const noStream = boolFlag(flags, 'no-stream');
  const trunc = !boolFlag(flags, 'no-trunc');
  const format = stringFlag(flags, 'format') ?? '';
  const showAll = args.length === 0;
  const tracked: ContainerStats[] = [];
  const add = (container: string): ContainerStats | undefined => {
    if (tracked.some((stats) => stats.container === container)) return undefined;
    const stats = new ContainerStats(container);
    tracked.push(stats);
    void stats.collect(client, !noStream);
    return stats;
  };
  const remove = (container: string) => {
    const index = tracked.findIndex((stats) => stats.container === container);
    if (index >= 0) tracked.splice(index, 1)[0]!.stop();
  };

  let eventsEnded: Promise<number> | undefined;
  if (showAll) {
    if (!noStream) {
      // Subscribed before listing, so that a container started in between is not missed.
      const events = await client.events({ filters: JSON.stringify({ type: ['container'] }) });
      eventsEnded = (async () => {
        try {
          for await (const { value: event } of events) {
            const id = (event.Actor?.ID ?? event.id ?? '').slice(0, 12);
            if (!id) continue;
            if (event.Action === 'start' || (all && event.Action === 'create')) add(id);
            else if (event.Action === 'destroy' || (!all && event.Action === 'die')) remove(id);
          }
        } catch { /* the daemon went away: end quietly, as docker does */ }
        return 0;
      })();
    }
    for (const container of await client.containerList({ all })) add(container.Id.slice(0, 12));
    await Promise.all(tracked.map((stats) => stats.first));
  } else {
    for (const container of args) add(container);
    await Promise.all(tracked.map((stats) => stats.first));
    const errors = tracked.map((stats) => stats.error?.message).filter((message): message is string => !!message);
    if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  }

  if (noStream) {
    if (tracked.length > 0) await writeOut(renderStats(format, tracked.map((stats) => stats.entry), trunc));
    return 0;
  }
  return new Promise<number>((resolve) => {
    const render = () => {
      if (tracked.length === 0 && !showAll) {
        clearInterval(ticker);
        process.stdout.write('\u001b[H\u001b[J');
        resolve(0);
        return;
      }
      process.stdout.write(streamFrame(renderStats(format, tracked.map((stats) => stats.entry), trunc)));
    };
    const ticker = setInterval(render, 500);
    void eventsEnded?.then((code) => {
      clearInterval(ticker);
      resolve(code);
    });
  });
}

export const statsCommand: CommandSpec = {
  name: 'stats',
  usage: '[OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  aliases: ['container stats', 'stats'],
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    { name: 'format', type: 'string', description: FORMAT_HELP },
    { name: 'no-stream', type: 'bool', description: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', description: 'Do not truncate output' },
  ],
  run: runStats,
};

// ---- update ----------------------------------------------------------------------------------

const UPDATE_FLAGS = [
  { name: 'blkio-weight', type: 'int' as const, valueName: 'uint16', description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
  { name: 'cpu-period', type: 'int' as const, description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int' as const, description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-rt-period', type: 'int' as const, description: 'Limit the CPU real-time period in microseconds' },
  { name: 'cpu-rt-runtime', type: 'int' as const, description: 'Limit the CPU real-time runtime in microseconds' },
  { name: 'cpu-shares', short: 'c', type: 'int' as const, description: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'string' as const, valueName: 'decimal', description: 'Number of CPUs' },
  { name: 'cpuset-cpus', type: 'string' as const, description: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string' as const, description: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'kernel-memory', type: 'string' as const, valueName: 'bytes', description: 'Kernel memory limit (deprecated)', hidden: true },
  { name: 'memory', short: 'm', type: 'string' as const, valueName: 'bytes', description: 'Memory limit' },
  { name: 'memory-reservation', type: 'string' as const, valueName: 'bytes', description: 'Memory soft limit' },
  { name: 'memory-swap', type: 'string' as const, valueName: 'bytes', description: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
  { name: 'pids-limit', type: 'int' as const, description: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'restart', type: 'string' as const, description: 'Restart policy to apply when a container exits' },
];

function bytesValue(invocation: Invocation, name: string, display: string, allowUnlimited = false): number {
  const value = stringFlag(invocation.flags, name);
  if (value === undefined || value === '') return 0;
  if (allowUnlimited && value === '-1') return -1;
  try {
    return parseBytes(value);
  } catch (error) {
    throw new FlagError(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(display)} flag: ${(error as Error).message}`);
  }
}

/** The update request from the flags, as the docker CLI fills UpdateConfig. */
export function updateRequest(invocation: Invocation): ContainerUpdateRequest {
  const { flags } = invocation;
  const weight = intFlag(flags, 'blkio-weight') ?? 0;
  if (weight < 0 || weight > 65535) {
    throw new FlagError(`invalid argument ${JSON.stringify(String(weight))} for "--blkio-weight" flag: strconv.ParseUint: parsing ${JSON.stringify(String(weight))}: ${weight < 0 ? 'invalid syntax' : 'value out of range'}`);
  }
  let nanoCpus = 0;
  const cpus = stringFlag(flags, 'cpus');
  if (cpus) {
    try {
      nanoCpus = parseCpus(cpus);
    } catch (error) {
      throw new FlagError((error as Error).message);
    }
  }
  const request: ContainerUpdateRequest = {
    BlkioWeight: weight,
    CpusetCpus: stringFlag(flags, 'cpuset-cpus') ?? '',
    CpusetMems: stringFlag(flags, 'cpuset-mems') ?? '',
    CpuShares: intFlag(flags, 'cpu-shares') ?? 0,
    Memory: bytesValue(invocation, 'memory', '-m, --memory'),
    MemoryReservation: bytesValue(invocation, 'memory-reservation', '--memory-reservation'),
    MemorySwap: bytesValue(invocation, 'memory-swap', '--memory-swap', true),
    CpuPeriod: intFlag(flags, 'cpu-period') ?? 0,
    CpuQuota: intFlag(flags, 'cpu-quota') ?? 0,
    NanoCpus: nanoCpus,
  };
  const pidsLimit = intFlag(flags, 'pids-limit') ?? 0;
  if (pidsLimit !== 0) request.PidsLimit = pidsLimit;
  const restart = stringFlag(flags, 'restart') ?? '';
  if (restart !== '') {
    try {
      request.RestartPolicy = parseRestartPolicy(restart);
    } catch (error) {
      throw new StatusError(1, (error as Error).message);
    }
  }
  return request;
}

export const updateCommand: CommandSpec = {
  name: 'update',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Update configuration of one or more containers',
  aliases: ['container update', 'update'],
  flags: UPDATE_FLAGS,
  args: { min: 1 },
  async run(invocation) {
    if ([...invocation.changed].filter((name) => name !== 'help').length === 0) {
      throw new StatusError(1, 'you must provide one or more flags when using this command');
    }
    const request = updateRequest(invocation);
    const client = invocation.ctx.client();
    const warnings: string[] = [];
    const errors: string[] = [];
    for (const container of invocation.args) {
      try {
        const response = await client.containerUpdate(container, request);
        warnings.push(...(response?.Warnings ?? []));
        process.stdout.write(`${container}\n`);
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    if (warnings.length > 0) process.stdout.write(`${warnings.join('\n')}\n`);
    if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
    return 0;
  },
};
