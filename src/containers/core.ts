// What the parts of the container service (lifecycle, monitor, attach, views) share: the
// records and names, their store and locks, the runtime's exit watcher, the restart manager,
// the lifecycle hooks and the event publishing. Internal to src/containers: the API and the
// other services see ContainerService.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { serverError } from '../errdefs/errors.js';
import type { Publish } from '../events/bus.js';
import type { ImageService } from '../images/service.js';
import { ExitWatcher } from '../runtime/exit-watcher.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { ContainerPaths, HookContext, LifecycleHooks } from './hooks.js';
import { ContainerRecordStore, type ContainerRecord } from './record.js';
import { RestartManager } from './restart-policy.js';
import { containerPaths, type RootfsHook } from './rootfs-hook.js';
import type { DockerSeccompProfile } from './seccomp.js';
import type { IdMappings } from '../util/id-mappings.js';
import type { ContainerVolumes } from '../volumes/container-volumes.js';
import type { NetworkService } from '../network/service.js';

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
  /** Prepared before each start, released after each run, told of each removal (registered by the daemon, in order). */
  hooks: LifecycleHooks;
  /** The root filesystem hook among `hooks`: cp and export read stopped containers' roots through it. */
  rootfs: RootfsHook;
  /** The container's exec sessions that have not ended (inspect's ExecIDs); late-bound by the daemon. */
  execIds?: (containerId: string) => string[];
  /** --userns-remap: containers run in a user namespace with these mappings unless their UsernsMode is host. */
  idMappings?: IdMappings;
  /** Binds, volumes and mounts resolved at create, anonymous volumes dropped by rm -v; without it a create that asks for one is refused. */
  volumes?: ContainerVolumes;
  /** The networks a create names are checked and recorded, inspect shows addresses and ports; without it only none, host and the default bridge (loopback only) exist. */
  networks?: NetworkService;
}

/** A serialised inspect and what it depended on besides the record: the networks' state and the running execs. */
export interface InspectBody {
  json: Buffer;
  networkGeneration: number;
  execIds: string;
}

/** An exec session's conmon may still be writing into the shim directory while it goes: retry. */
export const SHIM_DIR_REMOVAL = { recursive: true, force: true, maxRetries: 5, retryDelay: 50 } as const;

export class ContainerCore {
  readonly records = new Map<string, ContainerRecord>();
  readonly names = new Map<string, string>();
  /** Each container's inspect body as last serialised (views.ts); dropped whenever its record is saved. */
  readonly inspectBodies = new Map<string, InspectBody>();
  readonly store: ContainerRecordStore;
  readonly lock = new KeyedLock();
  /** Attach readers still draining a container's output: --rm waits for them before removing the log. */
  readonly attachReaders = new Map<string, Set<Promise<void>>>();
  /** The runtime's deletes of exited containers still under way (see ExitMonitor.handleExit). */
  private readonly runtimeDeletes = new Map<string, Promise<void>>();
  /**
   * What other parts of the daemon (attach, exec, health checks, restart policies) follow:
   * 'started' (id, logOffset), 'exited' (id, exitCode) once the exit is recorded, 'removed' (id).
   */
  readonly lifecycle = new EventEmitter();
  readonly exitWatcher: ExitWatcher;
  readonly restarts = new RestartManager();
  readonly shimRoot: string;
  readonly socketRoot: string;

  constructor(readonly options: ContainerServiceOptions, onExit: (id: string, exitCode: number, exitedAt: Date) => void | Promise<void>) {
    this.store = new ContainerRecordStore(join(options.dataRoot, 'containers'), (id) => this.inspectBodies.delete(id));
    this.shimRoot = join(options.execRoot, 'shims');
    this.socketRoot = join(options.execRoot, 'sockets');
    this.exitWatcher = new ExitWatcher(join(options.execRoot, 'exits'), onExit);
    this.lifecycle.setMaxListeners(0);
  }

  get hooks(): LifecycleHooks {
    return this.options.hooks;
  }

  containerPaths(record: Readonly<ContainerRecord>): ContainerPaths {
    return containerPaths(this.store.directory(record.id));
  }

  hookContext(record: Readonly<ContainerRecord>): HookContext {
    return { record, paths: this.containerPaths(record) };
  }

  shimDir(id: string): string {
    return join(this.shimRoot, id);
  }

  logPath(record: ContainerRecord): string {
    return join(this.store.directory(record.id), `${record.id}.log`);
  }

  runtimeOf(record: ContainerRecord): OciRuntime {
    const runtime = this.options.runtimes.get(record.runtime) ?? this.options.runtimes.get(this.options.defaultRuntime);
    if (!runtime) throw serverError(`Unknown runtime specified ${record.runtime}`);
    return runtime;
  }

  /** Deletes the runtime's container (its state and cgroup); failures are ignored, as for a container already gone. */
  deleteRuntimeContainer(record: ContainerRecord): Promise<void> {
    const deleting = this.runtimeOf(record).delete(record.id, true).catch(() => undefined);
    this.runtimeDeletes.set(record.id, deleting);
    void deleting.then(() => {
      if (this.runtimeDeletes.get(record.id) === deleting) this.runtimeDeletes.delete(record.id);
    });
    return deleting;
  }

  /** Settles once no delete of the container's runtime state is under way: a start or a removal waits for it. */
  runtimeDeleted(id: string): Promise<void> {
    return this.runtimeDeletes.get(id) ?? Promise.resolve();
  }

  async hasExitFile(id: string): Promise<boolean> {
    return (await this.exitWatcher.readExitCode(id)) !== undefined;
  }

  /** Publishes a container event with Docker's attributes (labels, image, name) plus `extra`. */
  publish(record: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.options.publish('container', action, record.id, {
      ...(record.config.Labels ?? {}), image: record.config.Image ?? record.image, name: record.name.slice(1), ...extra,
    });
  }
}
