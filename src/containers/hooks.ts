// Lifecycle hooks: how a subsystem (root filesystem, /etc files, and next networks and volumes)
// joins container start and stop without editing the lifecycle code. The daemon's composition
// root registers them in order; start prepares them in that order, and an exit, a failed start
// or a removal undoes them in reverse.
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

/** The hooks in their registration order, and the phases run over them. */
export class LifecycleHooks {
  private readonly hooks: LifecycleHook[] = [];

  constructor(private readonly log: (message: string) => void = (message) => process.stderr.write(`berthd: ${message}\n`)) {}

  register(hook: LifecycleHook): this {
    if (this.hooks.some((registered) => registered.name === hook.name)) throw new Error(`lifecycle hook ${hook.name} is registered twice`);
    this.hooks.push(hook);
    return this;
  }

  get names(): string[] {
    return this.hooks.map((hook) => hook.name);
  }

  /** Prepares every hook in order; when hook k fails, hooks k-1..0 are released (reason start-failed) and the error is thrown. */
  async prepare(context: PrepareContext): Promise<void> {
    for (let index = 0; index < this.hooks.length; index++) {
      try {
        const hook = this.hooks[index]!;
        await traced(`hook.${hook.name}.prepare`, async () => hook.prepare?.(context));
      } catch (error) {
        await this.releaseFrom(index - 1, { record: context.record, paths: context.paths, reason: 'start-failed' });
        throw error;
      }
    }
  }

  /** Releases every hook, last registered first. A failing hook is logged and the others still run. */
  release(context: ReleaseContext): Promise<void> {
    return this.releaseFrom(this.hooks.length - 1, context);
  }

  /** Tells every hook, last registered first, that the container is removed. Failures are logged, not thrown: removal goes on. */
  async remove(context: HookContext): Promise<void> {
    for (const hook of [...this.hooks].reverse()) {
      await this.logFailure(hook, 'removing', context, () => hook.remove?.(context));
    }
  }

  private async releaseFrom(last: number, context: ReleaseContext): Promise<void> {
    for (let index = last; index >= 0; index--) {
      const hook = this.hooks[index]!;
      await traced(`hook.${hook.name}.release`, () => this.logFailure(hook, 'releasing', context, () => hook.release?.(context)));
    }
  }

  private async logFailure(hook: LifecycleHook, doing: string, context: HookContext, phase: () => Promise<void> | undefined): Promise<void> {
    try {
      await phase();
    } catch (error) {
      this.log(`${hook.name}: ${doing} container ${context.record.id}: ${String(error)}`);
    }
  }
}
