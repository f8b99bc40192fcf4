// conmon, the per-container shim. berthd spawns one per container start; conmon daemonizes,
// runs `<runtime> create`, then holds the container's stdio, writes its output to the log file
// (k8s-file format), waits for it and writes the exit code to <exit-dir>/<id>. Because conmon is
// not berthd's child once it has daemonized, containers outlive berthd; a restarted berthd finds
// them through the runtime's state and the exit files.
//
// Synchronisation: conmon reports the container's pid (or the runtime's error) as one JSON
// message on the pipe named by _OCI_SYNCPIPE once `create` has finished; only then may the
// caller run `<runtime> start`.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { OciRuntime } from './oci-runtime.js';
import { traced, traceNow, traceRecord } from '../util/trace.js';
import { processHelper, type ProcessHelper } from './process-helper.js';

export const CONMON_BINARY = process.env.BERTH_CONMON ?? '/usr/bin/conmon';

export interface ShimCreateOptions {
  id: string;
  name: string;
  bundle: string;
  runtime: OciRuntime;
  logPath: string;
  exitDir: string;
  /** Per-container directory for conmon's persisted state (exit, oom files) and its pid file. */
  shimDir: string;
  /** Directory for the attach socket (conmon makes <socketDir>/<id>/attach and ctl). */
  socketDir: string;
  terminal: boolean;
  stdin: boolean;
  /** Keep the container's stdin open when an attached client disconnects (all but StdinOnce without a TTY). */
  leaveStdinOpen: boolean;
  /** The process's argv[0], for the runtime's error messages. */
  command?: string;
}

export class ShimError extends Error {}

export interface ConmonArgsInput {
  containerId: string;
  /** Names the attach socket's directory under socketDir (the container's ID, or an exec session's). */
  uuid: string;
  name: string;
  runtime: OciRuntime;
  /** Where conmon finds config.json and makes its ctl/winsz FIFOs and attach socket. */
  bundle: string;
  /** conmon's pid files, persisted state and working directory. */
  stateDir: string;
  exitDir: string;
  socketDir: string;
  /** "k8s-file:<path>" or "none:". */
  logSpec: string;
  terminal: boolean;
  stdin: boolean;
  leaveStdinOpen: boolean;
}

/** conmon's command line shared by containers and exec sessions. */
export function conmonArgs(input: ConmonArgsInput): string[] {
  return [
    '--api-version', '1',
    '-c', input.containerId, '-u', input.uuid, '-n', input.name,
    '-r', input.runtime.executable, '-b', input.bundle,
    '-p', `${input.stateDir}/pidfile`, '-P', `${input.stateDir}/conmon.pid`,
    '--exit-dir', input.exitDir, '--persist-dir', input.stateDir,
    '--socket-dir-path', input.socketDir,
    '-l', input.logSpec,
    '--log-level', 'error',
    ...input.runtime.globalArgs.flatMap((arg) => ['--runtime-arg', arg]),
    ...(input.terminal ? ['-t'] : []),
    ...(input.stdin ? ['-i'] : []),
    ...(input.stdin && input.leaveStdinOpen ? ['--leave-stdin-open'] : []),
  ];
}

/** Spawns conmon, which creates (not starts) the container. Resolves with the container's pid. */
export function createWithShim(options: ShimCreateOptions): Promise<{ pid: number }> {
  return traced('conmon.create', () => spawnCreateShim(options));
}

function spawnCreateShim(options: ShimCreateOptions): Promise<{ pid: number }> {
  const args = conmonArgs({
    containerId: options.id, uuid: options.id, name: options.name, runtime: options.runtime, bundle: options.bundle,
    stateDir: options.shimDir, exitDir: options.exitDir, socketDir: options.socketDir, logSpec: `k8s-file:${options.logPath}`,
    terminal: options.terminal, stdin: options.stdin, leaveStdinOpen: options.leaveStdinOpen,
  });
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' };
  // conmon writes an `oom` marker into its working directory besides the persist dir.
  const helper = processHelper();
  if (helper) return createThroughHelper(helper, args, env, options);
  return new Promise((resolve, reject) => {
    const child = spawn(CONMON_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true, cwd: options.shimDir, env });
    traceSpawn(child);
    const syncPipe = child.stdio[3] as Readable;
    let syncText = '';
    let stderr = '';
    let settled = false;
    const finish = (error: Error | null, pid?: number) => {
      if (settled) return;
      settled = true;
      // conmon keeps its end of these pipes; ours must not keep berthd's event loop busy.
      syncPipe.destroy();
      child.stderr?.destroy();
      child.unref();
      if (error) reject(error); else resolve({ pid: pid! });
    };
    child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', (error) => finish(new ShimError(`conmon: ${error.message}`)));
    syncPipe.on('data', (chunk: Buffer) => {
      syncText += chunk.toString();
      const newline = syncText.indexOf('\n');
      const candidate = newline >= 0 ? syncText.slice(0, newline) : syncText;
      let message: { data: number; message?: string };
      try { message = JSON.parse(candidate) as { data: number; message?: string }; } catch { return; }
      if (message.data > 0) finish(null, message.data);
      else finish(new ShimError(cleanRuntimeMessage(message.message ?? (stderr || 'container create failed'), options.command)));
    });
    syncPipe.on('end', () => finish(new ShimError(cleanRuntimeMessage(stderr || 'conmon exited before the container was created', options.command))));
  });
}

/** conmon forked by berthd's process helper (no fork of berthd), which relays the first line of its sync pipe. */
async function createThroughHelper(helper: ProcessHelper, args: string[], env: NodeJS.ProcessEnv, options: ShimCreateOptions): Promise<{ pid: number }> {
  const lines: string[] = [];
  const { stderr } = await helper.spawnWithSyncPipe(CONMON_BINARY, args, { cwd: options.shimDir, env, firstLineOnly: true }, (line) => lines.push(line));
  let message: { data: number; message?: string } | undefined;
  try { message = lines.length > 0 ? JSON.parse(lines[0]!) as { data: number; message?: string } : undefined; } catch { message = undefined; }
  if (message && message.data > 0) return { pid: message.data };
  const fallback = message ? 'container create failed' : 'conmon exited before the container was created';
  throw new ShimError(cleanRuntimeMessage(message?.message ?? (stderr.toString() || fallback), options.command));
}

/** Records how long spawning conmon took (fork and exec, until Node's 'spawn' event). */
export function traceSpawn(child: ChildProcess): void {
  const spawning = traceNow();
  child.once('spawn', () => traceRecord('conmon.spawn', traceNow() - spawning));
}

/**
 * The runtime's message as Docker words it: runc's log decoration stripped, and crun's wording
 * of the failures clients act on put the way runc (and so Docker) says them, since the docker
 * CLI derives `run`'s exit code from these words (127: "executable file not found", "no such
 * file or directory"; 126: "permission denied"). `command` is the process's argv[0], which
 * some of crun's messages leave out.
 */
export function cleanRuntimeMessage(message: string, command?: string): string {
  const lines = message.trim().split('\n').map((line) => {
    const jsonMsg = /"msg":"((?:[^"\\]|\\.)*)"/.exec(line);
    if (jsonMsg) return JSON.parse(`"${jsonMsg[1]}"`) as string;
    const logfmt = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (logfmt) return JSON.parse(`"${logfmt[1]}"`) as string;
    return line.replace(/^\[conmon:\w\]: /, '');
  }).filter((line) => line !== '');
  return lines.map((line) => asRuncWords(line, command)).join('\n');
}

/** crun's strerror texts are capitalised (C's); Go's, which Docker's clients match, are not. */
const ERRNO_TEXTS = ['No such file or directory', 'Permission denied', 'Not a directory', 'Is a directory', 'Operation not permitted'];

function asRuncWords(line: string, command: string | undefined): string {
  const notFound = /^executable file `(.+)` not found in \$PATH: No such file or directory$/.exec(line);
  if (notFound) {
    const name = notFound[1]!;
    return name.includes('/') ? `exec: "${name}": stat ${name}: no such file or directory` : `exec: "${name}": executable file not found in $PATH`;
  }
  // A directory or a file without the execute bit.
  if (/^open executable: (Permission denied|Operation not permitted)$/.test(line)) return `exec: "${command ?? 'executable'}": permission denied`;
  let worded = line;
  for (const text of ERRNO_TEXTS) worded = worded.replace(`: ${text}`, `: ${text.toLowerCase()}`);
  return worded;
}
