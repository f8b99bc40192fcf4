// Process control of containers, as Docker's daemon does it:
//   pause/unpause -> the cgroup freezer through the runtime (`runc pause`/`resume`); the
//                    processes cannot notice; the record says Paused and survives a restart
//   top           -> the host's procps `ps` with the client's arguments, keeping the rows whose
//                    PID is in the container's cgroup
//   update        -> new limits: applied to a running container through `runc update`, then
//                    written to the record (a stopped container gets them at its next start);
//                    a failed runtime update leaves the record as it was
// Each step holds the container's lock; events pause, unpause, top and update are published.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { ContainerTopResponse, ContainerUpdateRequest, ContainerUpdateResponse, HostConfig } from '../wire/types.js';
import { badParameter, conflict, serverError } from '../errdefs/errors.js';
import type { OciRuntime, RuntimeResourceUpdate } from '../runtime/oci-runtime.js';
import { CommandError, run } from '../util/exec.js';
import { blkioWeightSupported, cgroupProcesses, containerCgroupsPath, hostCgroupVersion, locateContainerCgroup } from './cgroups.js';
import type { ContainerRecord } from './record.js';
import { validateHostConfig } from './spec.js';

/** What process control needs of the container service. */
export interface ProcessControlBackend {
  get(reference: string): ContainerRecord;
  locked<T>(record: ContainerRecord, work: () => Promise<T>): Promise<T>;
  saveRecord(record: ContainerRecord): Promise<void>;
  publishEvent(record: ContainerRecord, action: string, extra?: Record<string, string>): void;
  runtimeOf(record: ContainerRecord): OciRuntime;
}

export interface ProcessControlOptions {
  cgroupParent: string;
  hostCpus?: number;
  /** The ps program (procps); default "ps" from PATH. */
  ps?: string;
}

const notRunning = (id: string) => conflict(`Container ${id} is not running`);
const restarting = (id: string) => conflict(`Container ${id} is restarting, wait until the container is running`);

function detail(error: unknown): string {
  if (error instanceof CommandError) return error.stderr.trim() || error.message;
  return error instanceof Error ? error.message : String(error);
}

export class ProcessControl {
  private readonly hostCpus: number;

  constructor(private readonly containers: ProcessControlBackend, private readonly options: ProcessControlOptions) {
    this.hostCpus = options.hostCpus ?? cpus().length;
  }

  // ---- pause / unpause ------------------------------------------------------------------------

  async pause(reference: string): Promise<void> {
    const record = this.containers.get(reference);
    await this.containers.locked(record, async () => {
      if (!record.state.Running) throw notRunning(record.id);
      if (record.state.Paused) throw conflict(`Container ${record.id} is already paused`);
      if (record.state.Restarting) throw restarting(record.id);
      try {
        await this.containers.runtimeOf(record).pause(record.id);
      } catch (error) {
        throw serverError(`cannot pause container ${record.id}: ${detail(error)}`);
      }
      record.state = { ...record.state, Paused: true, Status: 'paused' };
      await this.containers.saveRecord(record);
      this.containers.publishEvent(record, 'pause');
    });
  }

  async unpause(reference: string): Promise<void> {
    const record = this.containers.get(reference);
    await this.containers.locked(record, async () => {
      // Docker's words; it answers 500 here (a plain error), not 409.
      if (!record.state.Paused) throw serverError(`Container ${record.id} is not paused`);
      if (!record.state.Running) throw notRunning(record.id);
      try {
        await this.containers.runtimeOf(record).resume(record.id);
      } catch (error) {
        throw serverError(`Cannot unpause container ${record.id}: ${detail(error)}`);
      }
      record.state = { ...record.state, Paused: false, Status: 'running' };
      await this.containers.saveRecord(record);
      this.containers.publishEvent(record, 'unpause');
    });
  }

  // ---- top ------------------------------------------------------------------------------------

  async top(reference: string, psArgs: string | undefined): Promise<ContainerTopResponse> {
    const args = psArgs || '-ef';
    validatePsArgs(args);
    const record = this.containers.get(reference);
    if (!record.state.Running) throw notRunning(record.id);
    if (record.state.Restarting) throw restarting(record.id);
    const pids = await this.processes(record);
    const argv = args.split(' ');
    const ps = this.options.ps ?? 'ps';
    let output: string;
    try {
      output = await run(ps, [...argv, `-q${pids.join(',')}`]);
    } catch {
      // Some options (f) do not go with -q: ask again without it and filter here.
      try {
        output = await run(ps, argv);
      } catch (error) {
        const firstLine = error instanceof CommandError ? error.stderr.split('\n')[0] : '';
        throw serverError(`ps: ${firstLine || (error instanceof CommandError ? `exit status ${error.code}` : detail(error))}`);
      }
    }
    const list = parsePsOutput(output, pids);
    this.containers.publishEvent(record, 'top');
    return list;
  }

  /** The pids in the container's cgroup (host pid namespace). */
  private async processes(record: ContainerRecord): Promise<number[]> {
    const parent = (record.hostConfig as { CgroupParent?: string }).CgroupParent || this.options.cgroupParent;
    const location = await locateContainerCgroup(record.state.Pid, containerCgroupsPath(parent, record.id));
    const pids = location ? await cgroupProcesses(location) : [];
    return pids.length > 0 ? pids : record.state.Pid > 0 ? [record.state.Pid] : [];
  }

  // ---- update ---------------------------------------------------------------------------------

  async update(reference: string, request: ContainerUpdateRequest): Promise<ContainerUpdateResponse> {
    const warnings: string[] = [];
    const update: ContainerUpdateRequest = { ...request };
    validateUpdate(update, this.hostCpus);
    if ((update.BlkioWeight ?? 0) > 0 && !blkioWeightSupported(hostCgroupVersion())) {
      warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
      update.BlkioWeight = 0;
    }
    if ((update.BlkioWeight ?? 0) > 0 && (update.BlkioWeight! < 10 || update.BlkioWeight! > 1000)) {
      throw badParameter('Range of blkio weight is from 10 to 1000');
    }
    const record = this.containers.get(reference);
    await this.containers.locked(record, async () => {
      if (record.state.Dead || record.state.Status === 'removing') {
        throw badParameter(`Cannot update container ${record.id}: container is marked for removal and cannot be "update"`);
      }
      let hostConfig: HostConfig;
      try {
        hostConfig = mergeUpdate(record.hostConfig, update);
      } catch (error) {
        throw conflict(`Cannot update container ${record.id}: ${(error as Error).message}`);
      }
      if (record.state.Running && !record.state.Restarting) {
        const resources = runtimeResources(update);
        if (Object.keys(resources).length > 0) {
          try {
            await this.containers.runtimeOf(record).update(record.id, resources);
          } catch (error) {
            throw serverError(`Cannot update container ${record.id}: ${detail(error)}`);
          }
        }
      }
      const previous = record.hostConfig;
      record.hostConfig = hostConfig;
      try {
        await this.containers.saveRecord(record);
      } catch (error) {
        record.hostConfig = previous;
        throw serverError(`Cannot update container ${record.id}: ${detail(error)}`);
      }
    });
    this.containers.publishEvent(record, 'update');
    return { Warnings: warnings };
  }
}

// ---- pure helpers ---------------------------------------------------------------------------

/** moby validatePSArgs: a format of the PID column must keep the name "pid". */
export function validatePsArgs(psArgs: string): void {
  const pattern = /\s+([^\s]*)=\s*(PID[^\s]*)/g;
  for (const match of psArgs.matchAll(pattern)) {
    if (match[1] !== 'pid') throw serverError(`specifying "${match[1]}=${match[2]}" is not allowed`);
  }
}

/** strings.FieldsFunc on ASCII white space only (moby's fieldsASCII). */
function fieldsAscii(line: string): string[] {
  return line.split(/[\t\n\f\r ]+/).filter((field) => field !== '');
}

/**
 * ps output filtered to the container's pids (moby parsePSOutput): the titles from the first
 * line; a row's fields beyond the titles joined into the last column (the command); thread rows
 * ("-" as PID, with `ps m`) kept after a kept process.
 */
export function parsePsOutput(output: string, pids: number[]): ContainerTopResponse {
  const lines = output.split('\n');
  const titles = fieldsAscii(lines[0] ?? '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex === -1) throw serverError("Couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const processes: string[][] = [];
  const append = (fields: string[]) => {
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  };
  let previousKept = false;
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = fieldsAscii(line);
    const pidField = fields[pidIndex] ?? '';
    if (pidField === '-') {
      if (previousKept) append(fields);
      continue;
    }
    if (!/^[+-]?\d+$/.test(pidField)) throw serverError(`Unexpected pid '${pidField}': strconv.Atoi: parsing ${JSON.stringify(pidField)}: invalid syntax`);
    previousKept = wanted.has(Number(pidField));
    if (previousKept) append(fields);
  }
  return { Titles: titles, Processes: processes };
}

/** Docker's checks of an update request (verifyContainerSettings with update=true). */
export function validateUpdate(update: ContainerUpdateRequest, hostCpus: number, availableMems = hostMemoryNodes()): void {
  const checked: HostConfig = {
    Memory: update.Memory ?? 0, MemoryReservation: update.MemoryReservation ?? 0, NanoCpus: update.NanoCpus ?? 0,
    CpuShares: update.CpuShares ?? 0, CpuPeriod: update.CpuPeriod ?? 0, CpuQuota: update.CpuQuota ?? 0,
    CpusetCpus: update.CpusetCpus ?? '', RestartPolicy: update.RestartPolicy,
    // Swap without memory is fine in an update (the container's memory limit applies).
    MemorySwap: (update.Memory ?? 0) === 0 ? 0 : update.MemorySwap ?? 0,
  };
  validateHostConfig(checked, { hostCpus });
  if (update.CpusetMems) {
    let requested: number[];
    try {
      requested = parseIdList(update.CpusetMems);
    } catch {
      throw badParameter(`Invalid value ${update.CpusetMems} for cpuset mems: invalid format: ${update.CpusetMems}`);
    }
    const available = parseIdList(availableMems);
    if (requested.some((node) => !available.includes(node))) {
      throw badParameter(`Requested memory nodes are not available - requested ${update.CpusetMems}, available: ${availableMems}`);
    }
  }
}

function parseIdList(list: string): number[] {
  const ids: number[] = [];
  for (const part of list.trim().split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!range) throw new Error(`invalid format: ${list}`);
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first) throw new Error(`invalid format: ${list}`);
    for (let id = first; id <= last; id++) ids.push(id);
  }
  return ids;
}

function hostMemoryNodes(): string {
  for (const path of ['/sys/fs/cgroup/cpuset/cpuset.mems', '/sys/fs/cgroup/cpuset.mems.effective', '/sys/devices/system/node/online']) {
    try {
      const text = readFileSync(path, 'utf8').trim();
      if (text) return text;
    } catch { /* the next source */ }
  }
  return '0';
}

class UpdateConflict extends Error {}

/**
 * The container's host config with an update applied (moby Container.UpdateContainer): zero
 * and empty values leave a setting as it is; NanoCpus and CpuPeriod/CpuQuota exclude each
 * other across the old and the new settings. Throws with Docker's wording on a conflict.
 */
export function mergeUpdate(current: HostConfig, update: ContainerUpdateRequest): HostConfig {
  const next: HostConfig = { ...current };
  const nano = update.NanoCpus ?? 0;
  const period = update.CpuPeriod ?? 0;
  const quota = update.CpuQuota ?? 0;
  if (nano > 0 && (current.CpuPeriod ?? 0) > 0) throw new UpdateConflict('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if (nano > 0 && (current.CpuQuota ?? 0) > 0) throw new UpdateConflict('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if (period > 0 && (current.NanoCpus ?? 0) > 0) throw new UpdateConflict('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if (quota > 0 && (current.NanoCpus ?? 0) > 0) throw new UpdateConflict('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  if (update.BlkioWeight) next.BlkioWeight = update.BlkioWeight;
  if (update.CpuShares) next.CpuShares = update.CpuShares;
  if (nano) next.NanoCpus = nano;
  if (period) next.CpuPeriod = period;
  if (quota) next.CpuQuota = quota;
  if (update.CpusetCpus) next.CpusetCpus = update.CpusetCpus;
  if (update.CpusetMems) next.CpusetMems = update.CpusetMems;
  const memory = update.Memory ?? 0;
  const swap = update.MemorySwap ?? 0;
  if (memory) {
    if (memory > (current.MemorySwap ?? 0) && swap === 0) {
      throw new UpdateConflict('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
    next.Memory = memory;
  }
  if (swap) next.MemorySwap = swap;
  if (update.MemoryReservation) next.MemoryReservation = update.MemoryReservation;
  if (update.PidsLimit !== undefined && update.PidsLimit !== null) next.PidsLimit = update.PidsLimit;
  const restart = update.RestartPolicy;
  if (restart && restart.Name !== '') {
    if (current.AutoRemove && restart.Name !== 'no') {
      throw new UpdateConflict('Restart policy cannot be updated because AutoRemove is enabled for the container');
    }
    next.RestartPolicy = { ...restart };
  }
  return next;
}

/** The runtime's view of an update (moby toContainerdResources): only what the request sets. */
export function runtimeResources(update: ContainerUpdateRequest): RuntimeResourceUpdate {
  const resources: RuntimeResourceUpdate = {};
  if (update.BlkioWeight) resources.blockIO = { weight: update.BlkioWeight };
  const cpu: NonNullable<RuntimeResourceUpdate['cpu']> = {};
  if (update.CpusetCpus) cpu.cpus = update.CpusetCpus;
  if (update.CpusetMems) cpu.mems = update.CpusetMems;
  if (update.CpuShares) cpu.shares = update.CpuShares;
  let period = 0;
  let quota = 0;
  if (update.NanoCpus) {
    period = 100_000;
    quota = Math.trunc((update.NanoCpus * period) / 1e9);
  }
  if (quota === 0 && update.CpuQuota) quota = update.CpuQuota;
  if (period === 0 && update.CpuPeriod) period = update.CpuPeriod;
  if (period) cpu.period = period;
  if (quota) cpu.quota = quota;
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;
  const memory: NonNullable<RuntimeResourceUpdate['memory']> = {};
  if (update.Memory) memory.limit = update.Memory;
  if (update.MemoryReservation) memory.reservation = update.MemoryReservation;
  if ((update.MemorySwap ?? 0) > 0) memory.swap = update.MemorySwap;
  if (Object.keys(memory).length > 0) resources.memory = memory;
  if (update.PidsLimit !== undefined && update.PidsLimit !== null) resources.pids = { limit: update.PidsLimit > 0 ? update.PidsLimit : -1 };
  return resources;
}

