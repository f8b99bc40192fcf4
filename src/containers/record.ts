// A container's persistent record (containers/<id>/config.json) and the store that keeps them.
// The record is the single source of truth: inspect and ps derive from it; every change is
// written atomically before it is reported, so a crash of the daemon loses nothing.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ZERO_TIME, type ContainerConfig, type ContainerState, type HostConfig, type NetworkSettings } from '../wire/types.js';
import { writeJsonAtomic, type AtomicWriteOptions } from '../util/atomic.js';
import { traced } from '../util/trace.js';
import type { ContainerMountPoint } from '../volumes/mounts.js';
import type { EndpointConfig } from '../network/service.js';

export interface ContainerRecord {
  id: string;
  /** With the leading slash, as Docker stores it. */
  name: string;
  created: string;
  path: string;
  args: string[];
  /** The merged configuration (image defaults + create options). */
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** Image ID ("sha256:..."). */
  image: string;
  /** The image's top layer when the container was created: its root filesystem's lower layers
   * stay usable even after `rmi -f` of the image. */
  topChainId: string | null;
  state: ContainerState;
  restartCount: number;
  /** Set when stop/kill was asked for, so that restart policies know the exit was wanted. */
  stoppedByUser?: boolean;
  networkSettings?: NetworkSettings;
  /** The runtime the container was created with (runc or crun). */
  runtime: string;
  /**
   * Set (to when it began) while a start is under way: written before the mount and the shim
   * exist, cleared with the start's outcome, so that a daemon killed in between knows at its
   * next start that this container's shim and runtime state may exist (reconcile.ts).
   */
  starting?: string;
  /** Binds, volumes and --mount tmpfs mounts, resolved at create (volumes/mounts.ts). */
  mountPoints?: ContainerMountPoint[];
  /** The networks it is connected to, by name, in connection order (NetworkingConfig at create, network connect/disconnect). */
  networks?: Record<string, EndpointConfig>;
}

export function initialState(): ContainerState {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
    Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
  };
}

export class ContainerRecordStore {
  /**
   * `changed` is told of every save and removal, as it begins and once it is done: what is
   * derived from a record and kept (its serialised inspect) is dropped there. A record is
   * changed in place and saved at once, so the save is where every change passes.
   */
  constructor(readonly root: string, private readonly changed: (id: string) => void = () => undefined) {}

  directory(id: string): string {
    return join(this.root, id);
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async loadAll(): Promise<ContainerRecord[]> {
    const records: ContainerRecord[] = [];
    // Read synchronously: this runs once, before anything is served, and a thousand small
    // files read in one go take milliseconds where four thread-pool trips each took ~0.5 s.
    await Promise.all((await readdir(this.root)).map(async (id) => {
      try {
        records.push(JSON.parse(readFileSync(join(this.root, id, 'config.json'), 'utf8')) as ContainerRecord);
      } catch {
        // A directory without a record is a create that never finished (or a removal): nothing
        // refers to it. One with a mount left in it is removed by the start-up sweep, after the unmount.
        await rm(join(this.root, id), { recursive: true, force: true }).catch(() => undefined);
      }
    }));
    return records;
  }

  save(record: ContainerRecord, options: AtomicWriteOptions = {}): Promise<void> {
    const { id } = record;
    this.changed(id);
    // Again once written: a caller that puts the record back after a failed save does so before anything else runs.
    return traced('record.save', () => writeJsonAtomic(join(this.root, id, 'config.json'), record, options)).finally(() => this.changed(id));
  }

  async remove(id: string): Promise<void> {
    this.changed(id);
    // The record goes first: a crash half-way leaves a directory that loadAll sweeps away.
    await rm(join(this.root, id, 'config.json'), { force: true });
    await rm(join(this.root, id), { recursive: true, force: true });
  }
}
