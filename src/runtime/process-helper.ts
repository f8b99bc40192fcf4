// berthd's process helper: `berth-runtime-launcher --serve` (native/runtime-launcher.c), started
// once and asked to run programs, mount and unmount. libuv starts a child by fork() of berthd
// itself (~100 MB): copying its page tables took berthd's only thread 10-60 ms per process here,
// more than `crun delete` (~10 ms) or an overlay's umount (a 1 ms system call) take. The helper
// is small, so its forks are cheap, and mount/umount become system calls instead of mount(8).
// Without the compiled launcher (or once it cannot be started) callers use their direct path.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { basename } from 'node:path';
import { CommandError } from '../util/exec.js';
import { nativeProgram } from '../util/native-programs.js';
import { traced } from '../util/trace.js';

export interface HelperResult { status: number; stdout: Buffer; stderr: Buffer }

export interface HelperSpawnOptions {
  cwd?: string;
  /** The child's whole environment (default: berthd's). */
  env?: NodeJS.ProcessEnv;
}

interface Pending {
  onLine?: (line: string) => void;
  resolve: (result: HelperResult) => void;
  reject: (error: Error) => void;
}

export class ProcessHelper {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private input: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(private readonly executable: string) {}

  /** Whether requests can be sent (false once the helper could not be started). */
  get usable(): boolean {
    return !this.failed;
  }

  /** Runs a program to its end, like execFile: rejects with a CommandError unless it exits with 0. */
  async run(file: string, args: string[], options: HelperSpawnOptions = {}): Promise<string> {
    return traced(`run.${basename(file)}`, async () => {
      const result = await this.request('run', spawnFields(file, args, options));
      if (result.status !== 0) {
        throw new CommandError([file, ...args].join(' '), result.status, result.stderr.toString() || `exit status ${result.status}`);
      }
      return result.stdout.toString();
    });
  }

  /**
   * Runs a program with a pipe on its fd 3 (conmon's _OCI_SYNCPIPE); each line written to it is
   * given to `onLine` as it comes. Settles at the first line (`firstLineOnly`) or the pipe's end,
   * with what the program wrote to stderr by then.
   */
  spawnWithSyncPipe(file: string, args: string[], options: HelperSpawnOptions & { firstLineOnly: boolean }, onLine: (line: string) => void): Promise<HelperResult> {
    return this.request(options.firstLineOnly ? 'sync1' : 'sync', spawnFields(file, args, options), onLine);
  }

  /**
   * Runs a process in a running container (native/ns-exec.c; `fields` from nsExecFields):
   * `onStarted` gets the process's host pid once it runs; settles at its end with its exit
   * status, or with status -1 and the reason in stderr when it could not start.
   */
  nsExec(fields: string[], onStarted: (pidLine: string) => void): Promise<HelperResult> {
    return this.request('nsexec', fields, onStarted);
  }

  /** mount(2) without flags; relative paths in `data` are resolved from `cwd`. */
  async mount(cwd: string, source: string, target: string, type: string, data: string): Promise<void> {
    const result = await this.request('mount', [cwd, source, target, type, data]);
    if (result.status !== 0) throw new Error(`mount ${type} on ${target}: ${result.stderr.toString()}`);
  }

  /** Unmounts `target`; not being mounted is fine; a busy mount is detached lazily. */
  async unmount(target: string): Promise<void> {
    const result = await this.request('umount', [target]);
    if (result.status !== 0) throw new Error(`umount ${target}: ${result.stderr.toString()}`);
  }

  private request(op: string, fields: string[], onLine?: (line: string) => void): Promise<HelperResult> {
    const child = this.started();
    const id = this.nextId++;
    const payload = Buffer.from(fields.map((field) => `${field}\0`).join(''));
    return new Promise<HelperResult>((resolve, reject) => {
      this.pending.set(id, { onLine, resolve, reject });
      this.holdLoop(true);
      child.stdin!.write(Buffer.concat([Buffer.from(`${id} ${op} ${payload.length}\n`), payload]));
    }).finally(() => {
      this.pending.delete(id);
      if (this.pending.size === 0) this.holdLoop(false);
    });
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(this.executable, ['--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    const gone = (error: Error) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.input = Buffer.alloc(0);
      for (const waiting of this.pending.values()) waiting.reject(error);
    };
    child.on('error', (error) => {
      this.failed = true;
      gone(new Error(`process helper: ${error.message}`));
    });
    child.on('exit', (code, signal) => gone(new Error(`process helper exited (${signal ?? code})`)));
    child.stdin!.on('error', () => undefined);
    child.stdout!.on('data', (chunk: Buffer) => this.receive(chunk));
    child.unref();
    this.holdLoop(false);
    return child;
  }

  /** The helper keeps berthd's event loop alive only while a request waits for it. */
  private holdLoop(hold: boolean): void {
    const streams = [this.child?.stdin, this.child?.stdout] as Array<Socket | null | undefined>;
    for (const stream of streams) {
      if (hold) stream?.ref?.(); else stream?.unref?.();
    }
  }

  private receive(chunk: Buffer): void {
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    for (;;) {
      const newline = this.input.indexOf(0x0a);
      if (newline < 0) return;
      const [kind, idText, ...numbers] = this.input.subarray(0, newline).toString().split(' ');
      const sizes = numbers.map(Number);
      const bodyLength = kind === 'S' ? sizes[0]! : sizes[1]! + sizes[2]!;
      const start = newline + 1;
      if (this.input.length < start + bodyLength) return;
      const body = this.input.subarray(start, start + bodyLength);
      this.input = this.input.subarray(start + bodyLength);
      const waiting = this.pending.get(Number(idText));
      if (!waiting) continue;
      if (kind === 'S') {
        waiting.onLine?.(body.toString());
      } else {
        waiting.resolve({ status: sizes[0]!, stdout: Buffer.from(body.subarray(0, sizes[1])), stderr: Buffer.from(body.subarray(sizes[1])) });
      }
    }
  }
}

function spawnFields(file: string, args: string[], options: HelperSpawnOptions): string[] {
  const env = Object.entries(options.env ?? process.env).filter((entry): entry is [string, string] => entry[1] !== undefined).map(([key, value]) => `${key}=${value}`);
  return [options.cwd ?? '', String(env.length), ...env, file, ...args];
}

let shared: ProcessHelper | undefined | null = null;

/** The daemon's helper, or undefined where the launcher is not compiled or could not be started. */
export function processHelper(): ProcessHelper | undefined {
  if (shared === null) {
    const launcher = process.env.BERTH_NO_PROCESS_HELPER ? undefined : compiledLauncher();
    shared = launcher ? new ProcessHelper(launcher) : undefined;
  }
  return shared?.usable ? shared : undefined;
}

/**
 * native/runtime-launcher.c, compiled by scripts/build.mjs next to the daemon's bundle: runs
 * crun from a sealed in-memory copy (crun then skips re-executing itself from a bind mount of
 * its own binary, its guard against CVE-2019-5736) and, on a hybrid host, with the cgroup2
 * mount hidden, in one process; with --serve, it is this helper.
 */
export function compiledLauncher(): string | undefined {
  return nativeProgram('berth-runtime-launcher');
}
