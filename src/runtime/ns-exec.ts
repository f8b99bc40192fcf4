// An exec without conmon and without a runtime process: berthd's process helper enters the
// container's namespaces and cgroups itself and runs the process as crun's exec would
// (native/ns-exec.c says how, and why: most of a `crun exec` is crun loading its libraries).
// The process's stdio comes through the exec I/O socket (exec-io.ts). Used for execs without a
// terminal in crun containers without a user namespace; everything else goes through conmon.
import type { Socket } from 'node:net';
import type { OciProcess } from './oci-types.js';
import type { ProcessHelper } from './process-helper.js';
import type { ExecIoListener } from './exec-io.js';
import { capabilityMask } from './capabilities.js';
import { ShimError, cleanRuntimeMessage } from './shim.js';
import { traced } from '../util/trace.js';

export interface NsExecOptions {
  /** The container's init process, on the host. */
  containerPid: number;
  /** crun's compiled seccomp filter for the container, or undefined when it has none. */
  seccompFilter: string | undefined;
  process: OciProcess;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface NsExecProcess {
  /** The process's pid on the host. */
  pid: number;
  /** Resolves with the exit code (128+n after signal n) once the process has ended; never rejects. */
  exited: Promise<number>;
  /** Its stdio: output frames to read (execOutputFrames), stdin to write, half-closed to end it. */
  io: Socket;
}

/** Why a process cannot be run this way (the runtime must run it), or undefined when it can. */
export function nsExecUnsupported(process: OciProcess): string | undefined {
  if (process.terminal) return 'a terminal';
  if (process.rlimits && process.rlimits.length > 0) return 'rlimits';
  if (process.apparmorProfile) return 'an AppArmor profile';
  return undefined;
}

/** The helper's nsexec request fields, in native/ns-exec.c's order. */
export function nsExecFields(socketPath: string, token: string, options: NsExecOptions): string[] {
  const { process } = options;
  const streams = `${options.stdout ? 'o' : ''}${options.stderr ? 'e' : ''}${options.stdin ? 'i' : ''}`;
  const caps = process.capabilities;
  return [
    socketPath, token, String(options.containerPid), options.seccompFilter ?? '', streams,
    String(process.user.uid), String(process.user.gid), (process.user.additionalGids ?? []).join(','),
    capabilityMask(caps.bounding), capabilityMask(caps.effective), capabilityMask(caps.permitted),
    capabilityMask(caps.inheritable), capabilityMask(caps.ambient),
    process.noNewPrivileges ? '1' : '0',
    process.cwd, String(process.env.length), ...process.env, ...process.args,
  ];
}

/** Starts the process; resolves once it runs, rejects with the runtime's words when it cannot start. */
export function execInNamespaces(helper: ProcessHelper, io: ExecIoListener, options: NsExecOptions): Promise<NsExecProcess> {
  return traced('exec.nsexec', async () => {
    const expected = io.expect();
    let pid: number | undefined;
    let resolveStart!: (pid: number) => void;
    let rejectStart!: (error: Error) => void;
    const started = new Promise<number>((resolve, reject) => { resolveStart = resolve; rejectStart = reject; });
    const exited = helper.nsExec(nsExecFields(io.path, expected.token, options), (line) => {
      pid = Number.parseInt(line, 10);
      resolveStart(pid);
    }).then(
      (result) => {
        if (pid !== undefined) return result.status < 0 ? 137 : result.status;
        const message = result.stderr.toString() || 'exec failed';
        rejectStart(new ShimError(cleanRuntimeMessage(message, options.process.args[0])));
        return -1;
      },
      (error: Error) => {
        rejectStart(new ShimError(error.message));
        return 137;  // the helper died under the process: it is gone with it
      },
    );
    try {
      const hostPid = await started;
      return { pid: hostPid, exited, io: await expected.connection };
    } catch (error) {
      expected.cancel(error as Error);
      void expected.connection.then((socket) => socket.destroy(), () => undefined);
      throw error;
    }
  });
}
