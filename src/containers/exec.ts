// Exec sessions: more processes run in a running container (docker exec, and the probes of
// health checks). As in Docker the records live in memory only.
//
//   create -> a record (command, env, user, cwd resolved as Docker does); the container must
//             be running, not paused or restarting; `exec_create: <cmd>` published
//   start  -> the OCI process built from the container's bundle config.json, run by conmon in
//             exec mode in a directory of the session's own (<shim dir>/execs/<id>);
//             `exec_start: <cmd>`; attached: output followed in the session's log, stdin
//             through conmon's attach socket, detach keys end the session, not the process
//   exit   -> ExitCode recorded, `exec_die` published, the session's files removed once its
//             output has been read
//   container exit -> running execs are killed, never-started ones forgotten (Docker's
//             Cleanup); container removal forgets them all
//   GC     -> ended execs are forgotten after two GC rounds (5 minutes apart), as in Docker
import { randomBytes } from 'node:crypto';
import { access, lstat, mkdir, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { ContainerConfig, ExecCreateRequest, ExecInspectResponse } from '../wire/types.js';
import { badParameter, conflict, EngineError, isEngineError, notFound, serverError } from '../errdefs/errors.js';
import { resizeTerminal } from '../runtime/console.js';
import { execAttachSocket, execWithShim, removeExecSessionFiles, type ExecShimProcess } from '../runtime/exec-shim.js';
import { ShimError } from '../runtime/shim.js';
import { openStdinRelay } from '../runtime/stdin-relay.js';
import { ExecIoListener, execOutputFrames } from '../runtime/exec-io.js';
import { execInNamespaces, nsExecUnsupported } from '../runtime/ns-exec.js';
import { processHelper } from '../runtime/process-helper.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../util/detach-keys.js';
import { readLog, type LogEntry } from './logs.js';
import type { OciProcess, OciUser } from '../runtime/oci-types.js';
import type { ContainerRecord } from './record.js';
import type { ContainerService } from './service.js';
import { DEFAULT_PATH_ENV, replaceOrAppendEnv } from './spec.js';
import { resolveUser } from './user.js';
import { FileCache } from '../util/file-cache.js';
import { settlesWithin } from '../util/promises.js';
import { traced, traceNow, traceRecord } from '../util/trace.js';

export { replaceOrAppendEnv };

/** Docker keeps the first 4 KiB of a health probe's output. */
export const MAX_PROBE_OUTPUT = 4096;
const GC_INTERVAL_MS = 5 * 60_000;
const RESIZE_WAIT_MS = 10_000;
/** How long an ended session's files wait for a slow reader of its output. */
const OUTPUT_DRAIN_GRACE_MS = 5_000;

export interface ExecServiceOptions {
  containers: ContainerService;
  /** The host's capability bounding set: what `--privileged` grants. */
  hostCapabilities: string[];
  /**
   * Where execs without a terminal in crun containers get their stdio when berthd's process
   * helper runs them itself (runtime/ns-exec.ts); without it, every exec goes through conmon.
   */
  execIoSocket?: string;
}

export interface ExecStartOptions {
  /** [height, width] from the start request (Docker prefers it to the create request's). */
  consoleSize?: [number, number] | null;
}

/** What the server's attach session needs for an exec started with a client. */
export interface ExecAttachment {
  /** The process has a terminal: detach keys apply. */
  tty: boolean;
  detachKeys: number[];
  /** The process's output, followed until it ends. */
  output: (signal: AbortSignal) => AsyncIterable<LogEntry>;
  /** The process's stdin, when the exec was created to take input. */
  stdin: Promise<Writable | undefined> | undefined;
  /** Called once when the session is over: publishes exec_detach for a detach, lets the session's files go. */
  finish(ending: 'detached' | 'ended' | 'failed'): void;
}

export interface ExecRunOptions {
  timeoutMs: number;
  user?: string;
  env?: string[];
}

export interface ExecRunResult {
  exitCode: number;
  /** stdout and stderr as they came, at most MAX_PROBE_OUTPUT bytes (the first ones). */
  output: string;
}

interface ExecRecord {
  id: string;
  containerId: string;
  entrypoint: string;
  args: string[];
  /** PATH/HOSTNAME/TERM, the container's Env, then the exec's: fixed at create, as in Docker. */
  env: string[];
  /** The exec's user, or the container's when none was given. */
  user: string;
  workingDir: string;
  tty: boolean;
  consoleSize: [number, number] | null;
  privileged: boolean;
  openStdin: boolean;
  openStdout: boolean;
  openStderr: boolean;
  detachKeys: number[];
  state: 'created' | 'starting' | 'running' | 'exited';
  exitCode: number | null;
  /** performance.now() when the exit was recorded (for the trace's output drain). */
  exitedAt?: number;
  pid: number;
  canRemove: boolean;
  sessionDir: string;
  socketDir: string;
  /** Settles when a start attempt is over, whether the process runs or failed to start. */
  started: Deferred;
  /** Settles once the exit is recorded (ExitCode set, exec_die published). */
  finished: Deferred;
  /** Readers of the session's log still at work: the files stay until they are done. */
  readers: Set<Promise<void>>;
  /** The process's stdio, when the process helper runs it (no conmon, no session files). */
  io?: Socket;
}

/** What an exec inherits from the container's bundle (config.json). */
interface BundleProcess {
  process: OciProcess;
  seccomp: boolean;
  userNamespace: boolean;
}

interface Deferred { promise: Promise<void>; resolve: () => void; settled: boolean }

function deferred(): Deferred {
  let resolve!: () => void;
  const result: Deferred = { promise: new Promise<void>((r) => { resolve = r; }), resolve: () => undefined, settled: false };
  result.resolve = () => { result.settled = true; resolve(); };
  return result;
}

export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();
  private gcTimer: NodeJS.Timeout | undefined;
  /** The containers' /etc/passwd and /etc/group, as text, while they stay the same. */
  private readonly containerFiles = new FileCache<string>((text) => text);
  /** The containers' bundle processes, parsed, while config.json stays the same (it is written at each start). */
  private readonly bundleProcesses = new FileCache<BundleProcess>(parseBundleProcess);
  private readonly execIo: ExecIoListener | undefined;

  constructor(private readonly options: ExecServiceOptions) {
    this.execIo = options.execIoSocket ? new ExecIoListener(options.execIoSocket) : undefined;
  }

  private get containers(): ContainerService {
    return this.options.containers;
  }

  /** Follows the containers' lifecycle; call after the container service's init. */
  async init(): Promise<void> {
    this.containers.lifecycle.on('exited', (id: string) => this.containerExited(id));
    this.containers.lifecycle.on('removed', (id: string) => void this.containerRemoved(id));
    this.gcTimer = setInterval(() => this.collectGarbage(), GC_INTERVAL_MS);
    this.gcTimer.unref();
    await this.removeDanglingSocketLinks();
  }

  shutdown(): void {
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.execIo?.close();
  }

  // ---- create ------------------------------------------------------------------------------

  async create(containerRef: string, request: ExecCreateRequest): Promise<{ Id: string }> {
    const cmd = request.Cmd ?? [];
    if (cmd.length === 0) throw badParameter('No exec command specified');
    const record = this.containers.get(containerRef);
    assertActive(record, containerRef);
    if (request.User) {
      try {
        await this.resolveExecUser(record, request.User);
      } catch (error) {
        throw badParameter(error instanceof Error ? error.message : String(error));
      }
    }
    let detachKeys: number[] = [];
    if (request.DetachKeys) {
      try {
        detachKeys = parseDetachKeys(request.DetachKeys);
      } catch {
        throw badParameter(`Invalid escape keys (${request.DetachKeys}) provided`);
      }
    }
    const exec = this.register(record, {
      cmd, env: request.Env ?? [], user: request.User || record.config.User || '', workingDir: request.WorkingDir || record.config.WorkingDir || '',
      tty: !!request.Tty, consoleSize: request.ConsoleSize ?? null, privileged: !!request.Privileged,
      openStdin: !!request.AttachStdin, openStdout: !!request.AttachStdout, openStderr: !!request.AttachStderr, detachKeys,
    });
    return { Id: exec.id };
  }

  private register(record: ContainerRecord, config: {
    cmd: string[]; env: string[]; user: string; workingDir: string; tty: boolean; consoleSize: [number, number] | null; privileged: boolean;
    openStdin: boolean; openStdout: boolean; openStderr: boolean; detachKeys: number[];
  }): ExecRecord {
    const id = randomBytes(32).toString('hex');
    const paths = this.containers.paths(record);
    const [entrypoint, ...args] = config.cmd;
    const exec: ExecRecord = {
      id, containerId: record.id, entrypoint: entrypoint!, args,
      env: execEnvironment(record.config, config.tty, config.env),
      user: config.user, workingDir: config.workingDir, tty: config.tty, consoleSize: config.consoleSize, privileged: config.privileged,
      openStdin: config.openStdin, openStdout: config.openStdout, openStderr: config.openStderr, detachKeys: config.detachKeys,
      state: 'created', exitCode: null, pid: 0, canRemove: false,
      sessionDir: join(paths.shimDir, 'execs', id), socketDir: paths.socketRoot,
      started: deferred(), finished: deferred(), readers: new Set(),
    };
    this.execs.set(id, exec);
    this.containers.publishEvent(record, `exec_create: ${commandText(exec)}`, { execID: id });
    return exec;
  }

  // ---- look-ups ----------------------------------------------------------------------------

  inspect(id: string): ExecInspectResponse {
    const exec = this.execs.get(id);
    if (!exec || !this.containers.find(exec.containerId)) throw noSuchExec(id);
    return {
      ID: exec.id, Running: exec.state === 'starting' || exec.state === 'running', ExitCode: exec.exitCode,
      ProcessConfig: { tty: exec.tty, entrypoint: exec.entrypoint, arguments: exec.args, privileged: exec.privileged, user: exec.user },
      OpenStdin: exec.openStdin, OpenStderr: exec.openStderr, OpenStdout: exec.openStdout, CanRemove: exec.canRemove,
      ContainerID: exec.containerId, DetachKeys: Buffer.from(exec.detachKeys).toString('base64'), Pid: exec.pid,
    };
  }

  /** IDs of the container's execs that have not ended (its inspect's ExecIDs). */
  execIds(containerId: string): string[] {
    return [...this.execs.values()].filter((exec) => exec.containerId === containerId && exec.exitCode === null).map((exec) => exec.id);
  }

  /**
   * The exec, when its container can run it now (Docker's getExecConfig): the checks that
   * `start` and `resize` answer with an HTTP error before anything else happens.
   */
  assertUsable(id: string): void {
    this.lookUp(id);
  }

  private lookUp(id: string): { exec: ExecRecord; record: ContainerRecord } {
    const exec = this.execs.get(id);
    if (!exec) throw noSuchExec(id);
    const record = this.containers.find(exec.containerId);
    if (!record) throw notFound(`No such container: ${id}`);
    if (!record.state.Running) throw notRunning(record.id);
    if (record.state.Paused) throw paused(record.id);
    if (record.state.Restarting) throw restarting(record.id);
    return { exec, record };
  }

  // ---- start -------------------------------------------------------------------------------

  /** Starts the exec without a client (Detach): resolves once the process runs. */
  async start(id: string, options: ExecStartOptions = {}): Promise<void> {
    const { exec, record } = this.lookUp(id);
    await this.launch(exec, record, options.consoleSize ?? null, false);
  }

  /**
   * Starts the exec for a client and answers what its attach session needs; the caller runs
   * the session and calls `finish` once. Errors before the process runs are thrown (the
   * route writes them into the stream, as Docker does).
   */
  async startAttached(id: string, options: ExecStartOptions = {}): Promise<ExecAttachment> {
    const { exec, record } = this.lookUp(id);
    // Registered before the launch: a fast process may end (and its files go) before launch returns.
    const reading = this.trackReader(exec);
    try {
      await this.launch(exec, record, options.consoleSize ?? null, exec.openStdout || exec.openStderr);
    } catch (error) {
      reading.done();
      throw error;
    }
    let relay: Writable | undefined;
    let finished = false;
    return {
      tty: exec.tty,
      // Docker records no keys when none were given, and then detaches on the default ones.
      detachKeys: exec.detachKeys.length > 0 ? exec.detachKeys : parseDetachKeys(DEFAULT_DETACH_KEYS),
      output: (signal) => this.output(exec, { stdout: exec.openStdout, stderr: exec.openStderr }, signal),
      stdin: exec.openStdin ? Promise.resolve(relay = exec.io ?? openStdinRelay(execAttachSocket(exec.socketDir, exec.id))) : undefined,
      finish: (ending) => {
        if (finished) return;
        finished = true;
        if (exec.exitedAt !== undefined) traceRecord('exec.drain', traceNow() - exec.exitedAt);
        if (ending === 'detached') this.publish(exec, 'exec_detach', { execID: exec.id });
        relay?.end();
        // The output was read to its end or abandoned: an unread connection would hold the process on its next write.
        exec.io?.destroy();
        reading.done();
      },
    };
  }

  /** Marks the process started (409 when it already was), runs it; a failure is recorded as Docker records it. */
  private async launch(exec: ExecRecord, record: ContainerRecord, startConsoleSize: [number, number] | null, keepOutput: boolean): Promise<ExecShimProcess> {
    if (exec.exitCode !== null) throw conflict(`exec command ${exec.id} has already run`);
    if (exec.state !== 'created') throw conflict(`exec command ${exec.id} is already running`);
    exec.state = 'starting';
    this.publish(exec, `exec_start: ${commandText(exec)}`, { execID: exec.id });
    try {
      const [user, bundle] = await Promise.all([
        traced('exec.user', () => this.resolveExecUser(record, exec.user)),
        traced('exec.bundle.read', () => this.readBundleProcess(record)),
      ]);
      const spec = buildExecProcess({
        base: bundle.process, args: [exec.entrypoint, ...exec.args], env: exec.env, home: user.home, cwd: exec.workingDir, tty: exec.tty,
        consoleSize: startConsoleSize ?? exec.consoleSize, user: ociUser(user), privileged: exec.privileged,
        hostCapabilities: this.options.hostCapabilities,
      });
      const execProcess = (keepOutput && await this.inNamespaces(exec, record, bundle, spec)) || await this.throughShim(exec, record, spec, keepOutput);
      exec.pid = execProcess.pid;
      exec.state = 'running';
      exec.started.resolve();
      const running = traceNow();
      void execProcess.exited.then((code) => {
        traceRecord('exec.running', traceNow() - running);
        this.recordExit(exec, record, code);
      });
      return execProcess;
    } catch (error) {
      const failure = startFailure(error);
      exec.state = 'exited';
      exec.exitCode = failure.exitCode;
      exec.started.resolve();
      exec.finished.resolve();
      await removeExecSessionFiles(exec.sessionDir, exec.socketDir, exec.id).catch(() => undefined);
      throw failure.error;
    }
  }

  /**
   * The process run by berthd's process helper itself (runtime/ns-exec.ts), when it can run it:
   * crun's container, no terminal, no user namespace, the seccomp filter crun compiled. Else
   * undefined, and conmon runs it.
   */
  private async inNamespaces(exec: ExecRecord, record: ContainerRecord, bundle: BundleProcess, spec: OciProcess): Promise<ExecShimProcess | undefined> {
    const helper = processHelper();
    const filter = this.containers.runtimeOf(record).compiledSeccompPath(record.id);
    if (!helper || !this.execIo || !filter || bundle.userNamespace || nsExecUnsupported(spec) || !record.state.Pid) return undefined;
    if (bundle.seccomp && !(await access(filter).then(() => true, () => false))) return undefined;
    if (!(await this.execIo.ready())) return undefined;
    const started = await execInNamespaces(helper, this.execIo, {
      containerPid: record.state.Pid, seccompFilter: bundle.seccomp ? filter : undefined, process: spec,
      stdin: exec.openStdin, stdout: exec.openStdout, stderr: exec.openStderr,
    });
    exec.io = started.io;
    return started;
  }

  /** conmon in exec mode runs the process, in a session directory of its own. */
  private async throughShim(exec: ExecRecord, record: ContainerRecord, spec: OciProcess, keepOutput: boolean): Promise<ExecShimProcess> {
    const processSpecPath = join(exec.sessionDir, 'process.json');
    await traced('exec.session.mkdir', () => mkdir(join(exec.sessionDir, 'exits'), { recursive: true }));
    // Not atomic, not synced: conmon reads it once, now, and a crash ends the session anyway.
    await traced('exec.process.write', () => writeFile(processSpecPath, JSON.stringify(spec)));
    return execWithShim({
      containerId: record.id, execId: exec.id, containerName: record.name.slice(1), runtime: this.containers.runtimeOf(record),
      sessionDir: exec.sessionDir, socketDir: exec.socketDir, processSpecPath,
      logPath: keepOutput ? join(exec.sessionDir, 'log') : undefined,
      terminal: exec.tty, stdin: exec.openStdin,
      // With a TTY, closing stdin would hang up the terminal: Docker never closes it there.
      leaveStdinOpen: exec.tty,
      command: spec.args[0],
    });
  }

  /** The process's output as it comes, until it has ended and all of it was read (or `signal`). */
  private async *output(exec: ExecRecord, streams: { stdout: boolean; stderr: boolean }, signal: AbortSignal): AsyncGenerator<LogEntry> {
    if (!exec.io) {
      yield* readLog(join(exec.sessionDir, 'log'), { ...streams, byRead: true }, { done: exec.finished.promise, signal });
      return;
    }
    for await (const chunk of execOutputFrames(exec.io, signal)) {
      yield { stream: chunk.stream, bytes: chunk.bytes, timestamp: '', timeNs: 0n, rawTimestamp: '' };
    }
    // A client asks for the exit code as soon as the output ends (docker exec does): it must be known by then.
    if (!signal.aborted) await exec.finished.promise;
  }

  private recordExit(exec: ExecRecord, record: ContainerRecord, exitCode: number): void {
    exec.exitedAt = traceNow();
    exec.exitCode = exitCode;
    exec.state = 'exited';
    this.containers.publishEvent(record, 'exec_die', { execID: exec.id, exitCode: String(exitCode) });
    exec.finished.resolve();
    void this.removeSessionWhenRead(exec);
  }

  private async removeSessionWhenRead(exec: ExecRecord): Promise<void> {
    if (exec.io) return;  // no session files
    await settlesWithin(Promise.all(exec.readers), OUTPUT_DRAIN_GRACE_MS);
    await removeExecSessionFiles(exec.sessionDir, exec.socketDir, exec.id).catch(() => undefined);
  }

  private trackReader(exec: ExecRecord): { done: () => void } {
    let done!: () => void;
    const reader = new Promise<void>((resolve) => { done = resolve; });
    exec.readers.add(reader);
    return { done: () => { exec.readers.delete(reader); done(); } };
  }

  // ---- resize ------------------------------------------------------------------------------

  async resize(id: string, height: number, width: number): Promise<void> {
    const { exec } = this.lookUp(id);
    if (!(await settlesWithin(exec.started.promise, RESIZE_WAIT_MS))) throw serverError('timeout waiting for exec session ready');
    if (exec.pid === 0) throw badParameter('exec process is not started');
    // Without a terminal there is nothing to size (containerd answers the same).
    if (!exec.tty) return;
    if (exec.state === 'exited') throw conflict('cannot resize a stopped container');
    try {
      await resizeTerminal(exec.sessionDir, height, width);
    } catch {
      throw conflict('cannot resize a stopped container');
    }
  }

  // ---- health-check probes -----------------------------------------------------------------

  /**
   * Runs `cmd` in the container as a health probe does: not attached to any client, output
   * (stdout then stderr as they came) kept up to MAX_PROBE_OUTPUT bytes. On timeout the
   * process is killed and the result is Docker's: exit code -1, "Health check exceeded
   * timeout (<duration>)". Rejects (with Docker's message) when the container is not running
   * or the process cannot start.
   */
  async run(containerRef: string, cmd: string[], options: ExecRunOptions): Promise<ExecRunResult> {
    if (cmd.length === 0) throw badParameter('No exec command specified');
    const record = this.containers.get(containerRef);
    assertActive(record, containerRef);
    const exec = this.register(record, {
      cmd, env: options.env ?? [], user: options.user ?? record.config.User ?? '', workingDir: record.config.WorkingDir ?? '',
      tty: false, consoleSize: null, privileged: false, openStdin: false, openStdout: true, openStderr: true, detachKeys: [],
    });
    const reading = this.trackReader(exec);
    let execProcess: ExecShimProcess;
    try {
      execProcess = await this.launch(exec, record, null, true);
    } catch (error) {
      reading.done();
      throw error;
    }
    const stopReading = new AbortController();
    const chunks: Buffer[] = [];
    let kept = 0;
    const collected = (async () => {
      for await (const entry of this.output(exec, { stdout: true, stderr: true }, stopReading.signal)) {
        if (kept >= MAX_PROBE_OUTPUT) continue;
        const part = entry.bytes.subarray(0, MAX_PROBE_OUTPUT - kept);
        chunks.push(part);
        kept += part.length;
      }
    })().finally(() => reading.done());
    const inTime = await settlesWithin(exec.finished.promise, options.timeoutMs);
    if (!inTime) {
      killProcess(execProcess.pid);
      await exec.finished.promise;
      stopReading.abort();
      await collected.catch(() => undefined);
      return { exitCode: -1, output: `Health check exceeded timeout (${goDurationString(options.timeoutMs)})` };
    }
    await collected.catch(() => undefined);
    return { exitCode: exec.exitCode ?? -1, output: Buffer.concat(chunks).toString('utf8') };
  }

  // ---- the containers' lifecycle -----------------------------------------------------------

  private containerExited(containerId: string): void {
    for (const exec of this.execs.values()) {
      if (exec.containerId !== containerId) continue;
      // The process dies with the container's pid namespace; one sharing the host's would not.
      if (exec.state === 'running') killProcess(exec.pid);
      else if (exec.state === 'created') this.execs.delete(exec.id);
    }
  }

  private async containerRemoved(containerId: string): Promise<void> {
    this.containerFiles.forgetPathsWith(containerId);
    this.bundleProcesses.forgetPathsWith(containerId);
    for (const exec of [...this.execs.values()]) {
      if (exec.containerId !== containerId) continue;
      this.execs.delete(exec.id);
      await removeExecSessionFiles(exec.sessionDir, exec.socketDir, exec.id).catch(() => undefined);
    }
  }

  /** Docker's execCommandGC: an ended exec is marked removable, and forgotten one round later. */
  private collectGarbage(): void {
    for (const exec of [...this.execs.values()]) {
      if (exec.exitCode === null) continue;
      if (exec.canRemove) this.execs.delete(exec.id);
      else exec.canRemove = true;
    }
  }

  /** Attach-socket links of sessions whose directory is gone (a daemon restart forgets its execs). */
  private async removeDanglingSocketLinks(): Promise<void> {
    const [anyRecord] = this.containers.all();
    if (!anyRecord) return;
    const socketRoot = this.containers.paths(anyRecord).socketRoot;
    let names: string[];
    try {
      names = await readdir(socketRoot);
    } catch {
      return;
    }
    for (const name of names) {
      const link = join(socketRoot, name);
      try {
        if (!(await lstat(link)).isSymbolicLink() || !(await readlink(link)).includes('/execs/')) continue;
        await stat(link);
      } catch {
        await rm(link, { force: true }).catch(() => undefined);
      }
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  private async resolveExecUser(record: ContainerRecord, user: string) {
    const rootfs = this.containers.paths(record).rootfs;
    const [passwd, group] = await Promise.all([this.containerFiles.read(join(rootfs, 'etc/passwd')), this.containerFiles.read(join(rootfs, 'etc/group'))]);
    return resolveUser(user, passwd, group, record.hostConfig.GroupAdd ?? []);
  }

  /** The container's own OCI process (bundle config.json): what an exec inherits. */
  private async readBundleProcess(record: ContainerRecord): Promise<BundleProcess> {
    const base = await this.bundleProcesses.read(join(this.containers.paths(record).bundle, 'config.json'));
    if (!base) throw serverError(`container ${record.id} has no bundle: is it running?`);
    return base;
  }

  private publish(exec: ExecRecord, action: string, attributes: Record<string, string>): void {
    const record = this.containers.find(exec.containerId);
    if (record) this.containers.publishEvent(record, action, attributes);
  }
}

// ---- pure helpers ------------------------------------------------------------------------------

function parseBundleProcess(text: string): BundleProcess {
  const config = JSON.parse(text) as { process: OciProcess; linux?: { seccomp?: unknown; namespaces?: Array<{ type: string }> } };
  return {
    process: config.process,
    seccomp: !!config.linux?.seccomp,
    userNamespace: !!config.linux?.namespaces?.some((namespace) => namespace.type === 'user'),
  };
}

/** The OCI process of an exec, with the console size runc applies to the new pty. */
export interface ExecOciProcess extends OciProcess {
  consoleSize?: { height: number; width: number };
}

export interface ExecProcessInput {
  /** The container's own process (bundle config.json): what an exec inherits. */
  base: OciProcess;
  args: string[];
  env: string[];
  /** The user's home, for HOME when the environment has none (runc would add it; crun would not). */
  home: string;
  cwd: string;
  tty: boolean;
  consoleSize: [number, number] | null;
  user: OciUser;
  privileged: boolean;
  hostCapabilities: string[];
}

/** Docker's exec process: the container's process with the exec's command, env, cwd, user and terminal. */
export function buildExecProcess(input: ExecProcessInput): ExecOciProcess {
  const env = [...input.env];
  if (!env.some((entry) => entry.startsWith('HOME='))) env.push(`HOME=${input.home || '/'}`);
  const execProcess: ExecOciProcess = {
    ...input.base,
    terminal: input.tty,
    args: [...input.args],
    env,
    cwd: input.cwd || '/',
    user: input.user,
  };
  if (input.privileged) {
    const all = [...input.hostCapabilities];
    execProcess.capabilities = { bounding: [...all], effective: [...all], permitted: [...all] };
  }
  delete execProcess.consoleSize;
  // runc leaves a 0x0 size alone: so do we.
  if (input.tty && input.consoleSize && input.consoleSize[0] > 0 && input.consoleSize[1] > 0) execProcess.consoleSize = { height: input.consoleSize[0], width: input.consoleSize[1] };
  return execProcess;
}

/** Docker's CreateDaemonEnvironment, then the exec's own variables over it ("NAME" alone unsets). */
export function execEnvironment(config: ContainerConfig, tty: boolean, execEnv: string[]): string[] {
  const defaults = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${config.Hostname ?? ''}`];
  if (tty) defaults.push('TERM=xterm');
  return replaceOrAppendEnv(replaceOrAppendEnv(defaults, config.Env ?? []), execEnv);
}

/**
 * How Docker reports an exec that could not start (setExitCodeFromError): the runtime's
 * message as containerd words it, the exit code inspect shows, and whether the request or the
 * daemon is at fault.
 */
export function execStartFailure(runtimeMessage: string): { message: string; exitCode: number; kind: 'invalid-parameter' | 'system' } {
  let message = `OCI runtime exec failed: ${runtimeMessage}: unknown`;
  const lower = message.toLowerCase();
  if (lower.includes('permission denied')) return { message, exitCode: 126, kind: 'invalid-parameter' };
  if (lower.includes('is a directory')) return { message: `${message}: permission denied`, exitCode: 126, kind: 'invalid-parameter' };
  if (lower.includes('not a directory')) {
    message += ': Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type';
    return { message, exitCode: 127, kind: 'invalid-parameter' };
  }
  if (['executable file not found', 'no such file or directory', 'system cannot find the file specified', 'failed to run runc create/exec call'].some((text) => lower.includes(text))) {
    return { message, exitCode: 127, kind: 'invalid-parameter' };
  }
  return { message, exitCode: 128, kind: 'system' };
}

/** Go's time.Duration.String() for a whole number of milliseconds. */
export function goDurationString(ms: number): string {
  const total = Math.round(ms);
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const fraction = millis % 1000;
  const seconds = `${Math.floor(millis / 1000)}${fraction ? `.${String(fraction).padStart(3, '0').replace(/0+$/, '')}` : ''}`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function startFailure(error: unknown): { error: EngineError; exitCode: number } {
  if (isEngineError(error)) return { error, exitCode: 126 };
  if (error instanceof ShimError) {
    const failure = execStartFailure(error.message);
    return { error: new EngineError(failure.kind, failure.message), exitCode: failure.exitCode };
  }
  return { error: serverError(error instanceof Error ? error.message : String(error)), exitCode: 126 };
}

function commandText(exec: ExecRecord): string {
  return `${exec.entrypoint} ${exec.args.join(' ')}`;
}

function ociUser(user: { uid: number; gid: number; additionalGids: number[] }): OciUser {
  return { uid: user.uid, gid: user.gid, additionalGids: [user.gid, ...user.additionalGids] };
}

function assertActive(record: ContainerRecord, reference: string): void {
  if (!record.state.Running) throw notRunning(record.id);
  if (record.state.Paused) throw paused(reference);
  if (record.state.Restarting) throw restarting(record.id);
}

const noSuchExec = (id: string) => notFound(`No such exec instance: ${id}`);
const notRunning = (id: string) => conflict(`container ${id} is not running`);
const paused = (reference: string) => conflict(`Container ${reference} is paused, unpause the container before exec`);
const restarting = (id: string) => conflict(`Container ${id} is restarting, wait until the container is running`);


function killProcess(pid: number): void {
  if (pid <= 0) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
