// conmon in exec mode: runs one more process in a running container (`<runtime> exec
// --process FILE`), holding its stdio as it does for a container: a real pty with a TTY, the
// output in a k8s-file log, stdin through an attach socket. Each exec session gets a
// directory of its own, given to conmon as its bundle, so its `ctl`/`winsz` FIFOs, exit file
// and pid files never meet the container's.
//
// What conmon does in exec mode (2.1.6, found by experiment):
//   - the sync pipe (_OCI_SYNCPIPE) carries {"data": <host pid>} once the process runs, then
//     {"data": <exit code>} when it ends (128+n after signal n), then EOF;
//     a failed `runtime exec` gives {"data": -1, "message": "<runtime's log line>"} and EOF;
//   - the exit file is <exit-dir>/<container id> (named after -c, not -u): the exit dir must
//     be the session's own, never the daemon's container exit directory;
//   - the attach socket is <socket-dir>/<-u value>/attach, where <socket-dir>/<-u value> is a
//     symlink conmon makes to its bundle dir (the session dir); the symlink stays behind;
//   - `-l none:` writes no log at all.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { OciRuntime } from './oci-runtime.js';
import { CONMON_BINARY, ShimError, cleanRuntimeMessage, conmonArgs, traceSpawn } from './shim.js';
import { traced } from '../util/trace.js';
import { processHelper } from './process-helper.js';

export interface ExecShimOptions {
  containerId: string;
  /** The exec session's ID: conmon's -u, and the name of its attach socket link. */
  execId: string;
  containerName: string;
  runtime: OciRuntime;
  /** The session's own directory: conmon's bundle (ctl, winsz), persist and exit dirs. */
  sessionDir: string;
  socketDir: string;
  processSpecPath: string;
  /** The k8s-file log to write, or undefined to keep no output. */
  logPath: string | undefined;
  terminal: boolean;
  stdin: boolean;
  leaveStdinOpen: boolean;
  /** The process's argv[0], for the runtime's error messages. */
  command?: string;
}

export interface ExecShimProcess {
  /** The process's pid on the host. */
  pid: number;
  /** Resolves with the exit code once the process has ended (never rejects). */
  exited: Promise<number>;
}

/** Where conmon puts an exec session's attach socket (a path through conmon's symlink). */
export function execAttachSocket(socketDir: string, execId: string): string {
  return join(socketDir, execId, 'attach');
}

/** Removes what conmon leaves of a session outside its directory, and the directory. */
export async function removeExecSessionFiles(sessionDir: string, socketDir: string, execId: string): Promise<void> {
  await rm(join(socketDir, execId), { force: true });
  // conmon may still be writing its last files there: retry.
  await rm(sessionDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}

/** Starts the process; resolves once it runs, rejects with the runtime's message when it cannot start. */
export function execWithShim(options: ExecShimOptions): Promise<ExecShimProcess> {
  return traced('conmon.exec', () => spawnExecShim(options));
}

function spawnExecShim(options: ExecShimOptions): Promise<ExecShimProcess> {
  const { sessionDir } = options;
  const args = [
    ...conmonArgs({
      containerId: options.containerId, uuid: options.execId, name: options.containerName, runtime: options.runtime,
      bundle: sessionDir, stateDir: sessionDir, exitDir: join(sessionDir, 'exits'), socketDir: options.socketDir,
      logSpec: options.logPath ? `k8s-file:${options.logPath}` : 'none:',
      terminal: options.terminal, stdin: options.stdin, leaveStdinOpen: options.leaveStdinOpen,
    }),
    '--exec', '--exec-process-spec', options.processSpecPath,
  ];
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' };
  return new Promise((resolve, reject) => {
    let pid: number | undefined;
    let resolveExit!: (code: number) => void;
    const exited = new Promise<number>((r) => { resolveExit = r; });
    let finished = false;
    const finish = (exitCode: number) => {
      if (finished) return;
      finished = true;
      resolveExit(exitCode);
    };
    const fail = (message: string) => {
      if (pid !== undefined) return;
      finished = true;
      reject(new ShimError(cleanRuntimeMessage(message, options.command)));
    };
    let stderr = '';
    const onLine = (text: string) => {
      const line = text.trim();
      if (line === '') return;
      let message: { data: number; message?: string };
      try { message = JSON.parse(line) as { data: number; message?: string }; } catch { return; }
      if (pid === undefined) {
        if (message.data > 0) {
          pid = message.data;
          resolve({ pid, exited });
        } else {
          fail(message.message ?? (stderr || 'exec failed'));
        }
      } else {
        finish(message.data);
      }
    };
    const onEnd = () => {
      if (pid === undefined) {
        fail(stderr || 'conmon exited before the exec process started');
        return;
      }
      // conmon went away without a word (killed): its exit file may still say how the process ended.
      void readFile(join(sessionDir, 'exit'), 'utf8').then(
        (text) => finish(Number.parseInt(text.trim(), 10) || 0),
        () => finish(137),
      );
    };
    const helper = processHelper();
    if (helper) {
      // The helper forks conmon (no fork of berthd) and relays its sync pipe line by line.
      helper.spawnWithSyncPipe(CONMON_BINARY, args, { cwd: sessionDir, env, firstLineOnly: false }, onLine).then(
        (result) => { stderr = result.stderr.toString(); onEnd(); },
        (error: Error) => { stderr = error.message; onEnd(); },
      );
      return;
    }
    const child = spawn(CONMON_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true, cwd: sessionDir, env });
    traceSpawn(child);
    const syncPipe = child.stdio[3] as Readable;
    let pending = '';
    child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', (error) => { syncPipe.destroy(); fail(`conmon: ${error.message}`); });
    // The first conmon exits as soon as it has daemonized: nothing of ours must wait on it.
    child.on('exit', () => { child.stderr?.destroy(); });
    child.unref();
    syncPipe.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        onLine(line);
        if (finished) syncPipe.destroy();
      }
    });
    syncPipe.on('end', onEnd);
    syncPipe.on('error', () => undefined);
  });
}
