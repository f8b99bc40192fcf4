// The OCI runtime (runc or crun) driven through its command line. This is the only place where
// namespaces and cgroups are entered. Each daemon keeps the runtime's state under its own root
// (<exec-root>/runtime/<name>), so two daemons never see each other's containers.
import { constants, existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { OciSeccomp, OciSpec } from './oci-types.js';
import { run as runDirect, CommandError } from '../util/exec.js';
import { compiledLauncher, processHelper } from './process-helper.js';

export interface RuntimeState { status: 'creating' | 'created' | 'running' | 'paused' | 'stopped'; pid: number }

/** The OCI LinuxResources fields `runtime update` changes; what is left out stays as it is. */
export interface RuntimeResourceUpdate {
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

/** crun's annotation for a precompiled seccomp filter (base64 of the raw BPF program), see crun(1). */
const SECCOMP_BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';
/** Distinct profiles whose compiled filter is kept (the default one, plus a few custom ones). */
const COMPILED_SECCOMP_LIMIT = 16;

function seccompKey(seccomp: OciSeccomp): string {
  return createHash('sha256').update(JSON.stringify(seccomp)).digest('hex');
}

export class OciRuntime {
  /** The program that is executed: the runtime itself, or a launcher that ends by exec'ing it. */
  readonly executable: string;
  private readonly launcherArgs: string[];
  /** crun's compiled seccomp filters, by the profile they were compiled from (see learnFromCreate). */
  private readonly compiledSeccomp = new Map<string, string>();
  private readonly isCrun: boolean;
  /** crun on a cgroup v1 host (hybrid or not), known once: asked at every start otherwise. */
  private readonly legacyCgroupCrun: boolean;

  constructor(readonly name: string, readonly binary: string, readonly stateRoot: string) {
    this.isCrun = basename(binary).startsWith('crun');
    this.legacyCgroupCrun = this.isCrun && !existsSync('/sys/fs/cgroup/cgroup.controllers');
    const launcher = this.isCrun ? crunLauncher(binary, isHybridCgroupHost()) : undefined;
    this.executable = launcher?.executable ?? binary;
    this.launcherArgs = launcher?.args ?? [];
  }

  /**
   * The spec as this runtime can take it. crun writes an unlimited pids limit (-1) literally,
   * which a cgroup v1 pids.max rejects (EINVAL); a new cgroup has no limit anyway.
   */
  adaptSpec(spec: OciSpec): OciSpec {
    const pids = spec.linux.resources.pids;
    if (this.legacyCgroupCrun && pids && pids.limit <= 0) delete spec.linux.resources.pids;
    const compiled = this.isCrun && spec.linux.seccomp ? this.compiledSeccomp.get(seccompKey(spec.linux.seccomp)) : undefined;
    if (compiled) spec.annotations = { ...spec.annotations, [SECCOMP_BPF_ANNOTATION]: compiled };
    return spec;
  }

  /**
   * After a container's create: keeps the seccomp filter crun compiled for its profile (crun
   * leaves it in the container's state directory as seccomp.bpf), so that the next containers
   * with the same profile pass it ready-made (adaptSpec) instead of crun compiling the profile
   * with libseccomp again: that compilation is a third to a half of a `crun create` here.
   */
  async learnFromCreate(id: string, spec: OciSpec): Promise<void> {
    if (!this.isCrun || !spec.linux.seccomp || spec.annotations?.[SECCOMP_BPF_ANNOTATION]) return;
    const key = seccompKey(spec.linux.seccomp);
    if (this.compiledSeccomp.has(key)) return;
    const filter = await readFile(join(this.stateRoot, id, 'seccomp.bpf')).catch(() => undefined);
    // A classic BPF program is a whole number of 8-byte instructions.
    if (!filter || filter.length === 0 || filter.length % 8 !== 0) return;
    if (this.compiledSeccomp.size >= COMPILED_SECCOMP_LIMIT) this.compiledSeccomp.delete(this.compiledSeccomp.keys().next().value!);
    this.compiledSeccomp.set(key, filter.toString('base64'));
  }

  /**
   * crun's compiled seccomp filter of a container (seccomp.bpf in its state directory, written
   * at create), which an exec without the runtime (ns-exec.ts) loads as crun's own exec does;
   * undefined for other runtimes, whose execs always go through the runtime.
   */
  compiledSeccompPath(id: string): string | undefined {
    return this.isCrun ? join(this.stateRoot, id, 'seccomp.bpf') : undefined;
  }

  /** The runtime's CLI: through berthd's process helper where there is one (no fork of berthd), else spawned. */
  private run(args: string[], options: { input?: string } = {}): Promise<string> {
    const helper = options.input === undefined ? processHelper() : undefined;
    return helper ? helper.run(this.executable, [...this.globalArgs, ...args]) : runDirect(this.executable, [...this.globalArgs, ...args], options);
  }

  /** Global arguments that go before every subcommand (conmon receives them as --runtime-arg). */
  get globalArgs(): string[] {
    return [...this.launcherArgs, `--root=${this.stateRoot}`];
  }

  /**
   * Starts a created container. crun's `start` only opens the container's exec fifo, unlinks it
   * and writes one byte, which releases the init process waiting on it (crun's status is derived
   * from the fifo's presence): done here, that saves a runtime process (~20-40 ms on this
   * host). Anything unexpected (no fifo, no reader: the init is gone) falls back to the
   * runtime's own `start`, which reports the error in its words. runc's init writes to its fifo
   * and needs a blocking reader watched for the init's death, so runc keeps its CLI.
   */
  async start(id: string): Promise<void> {
    if (this.isCrun && await releaseCrunExecFifo(join(this.stateRoot, id, 'exec.fifo'))) return;
    await this.run(['start', id]);
  }

  async kill(id: string, signal: number | string, all = false): Promise<void> {
    await this.run(['kill', ...(all ? ['--all'] : []), id, String(signal)]);
  }

  /** Removes the runtime's record and cgroup; a container already gone is not an error. */
  async delete(id: string, force = false): Promise<void> {
    try {
      await this.run(['delete', ...(force ? ['--force'] : []), id]);
    } catch (error) {
      if (!(error instanceof CommandError) || !/does not exist|not found|no such file/i.test(error.stderr)) throw error;
    }
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      const parsed = JSON.parse(await this.run(['state', id])) as { status: RuntimeState['status']; pid: number };
      return { status: parsed.status, pid: parsed.pid };
    } catch (error) {
      if (error instanceof CommandError) return undefined;
      throw error;
    }
  }

  /** Every container's state in one call (`list`), for start-up: one process instead of one per container. */
  async states(): Promise<Map<string, RuntimeState>> {
    const parsed = JSON.parse(await this.run(['list', '--format', 'json'])) as Array<{ id: string; status: RuntimeState['status']; pid: number }> | null;
    return new Map((parsed ?? []).map((entry) => [entry.id, { status: entry.status, pid: entry.pid }]));
  }

  pause(id: string): Promise<string> {
    return this.run(['pause', id]);
  }

  resume(id: string): Promise<string> {
    return this.run(['resume', id]);
  }

  /** Changes a running container's cgroup limits: the resources JSON on stdin (runc) or in a file (crun). */
  async update(id: string, resources: RuntimeResourceUpdate): Promise<void> {
    const json = JSON.stringify(resources);
    if (!this.isCrun) {
      await this.run(['update', '--resources', '-', id], { input: json });
      return;
    }
    // crun opens a path, and /dev/stdin is not one when stdin is a socket (as Node's pipes are).
    const file = join(dirname(this.stateRoot), `update-${id}-${process.pid}-${Date.now()}.json`);
    await writeFile(file, json);
    try {
      await this.run(['update', '--resources', file, id]);
    } finally {
      await rm(file, { force: true });
    }
  }
}

const UNIFIED_MOUNT = '/sys/fs/cgroup/unified';

/**
 * crun refuses a hybrid cgroup host (v1 controllers plus a cgroup2 mount at
 * /sys/fs/cgroup/unified) as soon as any controller is attached to the v2 side, even with
 * --cgroup-manager=disabled ("cgroups in hybrid mode not supported, drop all controllers from
 * cgroupv2"). Hiding the cgroup2 mount makes crun see a plain v1 host, where it works and
 * applies limits through the v1 controllers, as runc does.
 */
function isHybridCgroupHost(): boolean {
  try {
    if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return false;
    return readFileSync(`${UNIFIED_MOUNT}/cgroup.controllers`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

/** How crun is executed: through the compiled launcher, or without it through unshare and sh where the host is hybrid. */
function crunLauncher(binary: string, hybrid: boolean): { executable: string; args: string[] } | undefined {
  const compiled = compiledLauncher();
  if (compiled) return { executable: compiled, args: [...(hybrid ? ['--hide-cgroup2'] : []), binary] };
  if (!hybrid) return undefined;
  // The launcher's steps in three processes: a mount namespace of its own (changes there never
  // reach the host) in which the cgroup2 mount is detached; `sh -c` then execs the runtime with
  // the arguments that follow, so pids, exit codes and stdio stay the runtime's own.
  return {
    executable: '/usr/bin/unshare',
    args: ['--mount', '--propagation', 'slave', '--', '/bin/sh', '-c', `umount -l ${UNIFIED_MOUNT} 2>/dev/null; exec "$0" "$@"`, binary],
  };
}

/** crun's `start`, done in-process; false when the fifo is not there to be released. */
async function releaseCrunExecFifo(fifoPath: string): Promise<boolean> {
  let fifo;
  try {
    // Non-blocking: with no reader (the init died) the open fails with ENXIO at once.
    fifo = await open(fifoPath, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    await unlink(fifoPath);
    await fifo.write(Buffer.from('0'));
    return true;
  } finally {
    await fifo.close();
  }
}

