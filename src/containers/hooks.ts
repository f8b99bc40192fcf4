// Lifecycle hooks: how a subsystem (root filesystem, networks, /etc files, volumes) joins
// container start and stop without editing the lifecycle code. The daemon's composition root
// registers them in order, each with the hooks it must come after (by default every hook
// registered before it). Start prepares each hook once those are prepared, so hooks with no
// order between them (the overlay mount and the network sandbox) run at the same time; an
// exit, a failed start or a removal undoes them in the reverse order.
import type { OciSpec } from '../runtime/oci-types.js';
import type { ContainerRecord } from './record.js';
import type { ContainerMount } from './spec.js';
import { traced } from '../util/trace.js';

/** Where a container's files live on the host. */
export interface ContainerPaths {
  /** the container's directory (record, log, /etc files, bundle) */
  directory: string;
  /** the overlay's merged directory: the root the runtime is given */
  rootfs: string;
  upper: string;
  work: string;
  bundle: string;
}

/** What a hook may add to the OCI spec of the start being prepared. */
export interface SpecContributions {
  /** Host files bind-mounted over the container's /etc/hostname, /etc/hosts and /etc/resolv.conf (unless the user mounts there). */
  etcFiles?: { hostname: string; hosts: string; resolvConf: string };
  /** Mounts beyond the host config's (volumes). */
  mounts: ContainerMount[];
  /** A network namespace to join instead of a new one (a network sandbox). */
  networkNamespacePath?: string;
  /** What the network hook tells the /etc files hook: the container's address, link lines, the embedded DNS server, host-gateway's address. */
  network?: { address?: string; hostsEntries: string[]; nameserver?: string; hostGateway?: string };
  /** Last edits of the built spec, in the order the hooks added them. */
  edits: Array<(spec: OciSpec) => void>;
}

export interface HookContext {
  readonly record: Readonly<ContainerRecord>;
  readonly paths: Readonly<ContainerPaths>;
}

export interface PrepareContext extends HookContext {
  readonly spec: SpecContributions;
}

/** Why a hook's preparation is undone: the run ended, or the start that prepared it failed (or was rolled back at daemon start). */
export type ReleaseReason = 'exited' | 'start-failed';

export interface ReleaseContext extends HookContext {
  readonly reason: ReleaseReason;
}

export interface LifecycleHook {
  /** For the daemon's log when a phase fails. */
  readonly name: string;
  /** Before the runtime creates the container: mount, write files, contribute to the spec. A failure fails the start; undo what this call did before throwing. */
  prepare?(context: PrepareContext): Promise<void>;
  /** After the container exited or its start failed: undo prepare. Called once per successful prepare; must tolerate finding nothing to undo. */
  release?(context: ReleaseContext): Promise<void>;
  /** When the container is removed (it is not running): drop what the hook keeps for it between runs. */
  remove?(context: HookContext): Promise<void>;
}

export function emptySpecContributions(): SpecContributions {
  return { mounts: [], edits: [] };
}

/** How a hook is ordered against the hooks registered before it. */
export interface HookOrder {
  /** The hooks whose prepare must be done before this one's (and whose release waits for this one's); default: all registered before. */
  after?: readonly string[];
}

/** The SpecContributions fields that are single values, shared by all hooks (mounts and edits are kept per hook). */
const SHARED_FIELDS = ['etcFiles', 'networkNamespacePath', 'network'] as const;
// A new single-valued field must be listed above, or a hook's write to it would be lost.
type Unshared = Exclude<keyof SpecContributions, 'mounts' | 'edits' | (typeof SHARED_FIELDS)[number]>;
const everyFieldShared: [Unshared] extends [never] ? true : never = true;
void everyFieldShared;

/**
 * A hook's view of the start's contributions: its own mounts and edits (joined in registration
 * order once all are prepared, so the spec never depends on which hook finished first), and the
 * single-valued fields read and written through to the shared object.
 */
function hookView(shared: SpecContributions, own: Pick<SpecContributions, 'mounts' | 'edits'>): SpecContributions {
  const view = { mounts: own.mounts, edits: own.edits } as SpecContributions;
  for (const field of SHARED_FIELDS) {
    Object.defineProperty(view, field, {
      enumerable: true,
      get: () => shared[field],
      set: (value: SpecContributions[typeof field]) => { Object.assign(shared, { [field]: value }); },
    });
  }
  return view;
}

/** The hooks in their registration order, and the phases run over them. */
export class LifecycleHooks {
  private readonly hooks: LifecycleHook[] = [];
  /** For each hook, the indexes of the hooks it comes after. */
  private readonly predecessors: number[][] = [];

  constructor(private readonly log: (message: string) => void = (message) => process.stderr.write(`berthd: ${message}\n`)) {}

  register(hook: LifecycleHook, order: HookOrder = {}): this {
    if (this.hooks.some((registered) => registered.name === hook.name)) throw new Error(`lifecycle hook ${hook.name} is registered twice`);
    const predecessors = order.after === undefined ? this.hooks.map((_, index) => index) : order.after.map((name) => {
      const index = this.hooks.findIndex((registered) => registered.name === name);
      if (index < 0) throw new Error(`lifecycle hook ${hook.name} comes after ${name}, which is not registered before it`);
      return index;
    });
    this.hooks.push(hook);
    this.predecessors.push(predecessors);
    return this;
  }

  get names(): string[] {
    return this.hooks.map((hook) => hook.name);
  }

  /**
   * Prepares every hook, each once its predecessors are prepared. When one fails, the others
   * under way finish, those that were prepared are released (reason start-failed), and the
   * first failure in registration order is thrown.
   */
  async prepare(context: PrepareContext): Promise<void> {
    const own = this.hooks.map(() => ({ mounts: [] as ContainerMount[], edits: [] as Array<(spec: OciSpec) => void> }));
    const prepared = new Set<number>();
    const tasks: Array<Promise<void>> = [];
    this.hooks.forEach((hook, index) => {
      tasks.push(Promise.all(this.predecessors[index]!.map((before) => tasks[before])).then(async () => {
        await traced(`hook.${hook.name}.prepare`, async () => hook.prepare?.({ record: context.record, paths: context.paths, spec: hookView(context.spec, own[index]!) }));
        prepared.add(index);
      }));
    });
    const outcomes = await Promise.allSettled(tasks);
    for (const contribution of own) {
      context.spec.mounts.push(...contribution.mounts);
      context.spec.edits.push(...contribution.edits);
    }
    const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failure) {
      await this.releaseWhere((index) => prepared.has(index), { record: context.record, paths: context.paths, reason: 'start-failed' });
      throw failure.reason;
    }
  }

  /** Releases every hook, each after the hooks that come after it. A failing hook is logged and the others still run. */
  release(context: ReleaseContext): Promise<void> {
    return this.releaseWhere(() => true, context);
  }

  /** Tells every hook, last registered first, that the container is removed. Failures are logged, not thrown: removal goes on. */
  async remove(context: HookContext): Promise<void> {
    for (const hook of [...this.hooks].reverse()) {
      await traced(`hook.${hook.name}.remove`, () => this.logFailure(hook, 'removing', context, () => hook.remove?.(context)));
    }
  }

  /** Releases the selected hooks in the reverse of the prepare order: a hook once every hook that comes after it is released. */
  private async releaseWhere(selected: (index: number) => boolean, context: ReleaseContext): Promise<void> {
    const tasks: Array<Promise<void>> = [];
    for (let index = this.hooks.length - 1; index >= 0; index--) {
      const successors = this.predecessors.flatMap((before, later) => before.includes(index) ? [tasks[later]] : []);
      const hook = this.hooks[index]!;
      tasks[index] = Promise.all(successors).then(async () => {
        if (!selected(index)) return;
        await traced(`hook.${hook.name}.release`, () => this.logFailure(hook, 'releasing', context, () => hook.release?.(context)));
      });
    }
    await Promise.all(tasks);
  }

  private async logFailure(hook: LifecycleHook, doing: string, context: HookContext, phase: () => Promise<void> | undefined): Promise<void> {
    try {
      await phase();
    } catch (error) {
      this.log(`${hook.name}: ${doing} container ${context.record.id}: ${String(error)}`);
    }
  }
}
