// `berth exec`: run a command in a running container, as the docker CLI's exec.go does:
// create the exec ("No such container" still wins over the TTY check), then
// either start it detached or attach to it (raw terminal and client-side detach keys with
// -t, stdin with -i) and leave with the exit code the daemon recorded for the process.

import { readFileSync } from 'node:fs';
import type { ExecCreateRequest } from '../../wire/types.js';
import { ConnectionError } from '../../client/engine-client.js';
import { boolFlag, listFlag, stringFlag } from '../command.js';
import type { CommandSpec, Invocation } from '../command.js';
import { FlagError, type FlagSpec } from '../flags.js';
import { StatusError } from '../output.js';
import { monitorTtySize, pumpAttachedStreams } from './attach-io.js';
import { parseEnvFile } from './run-options.js';

const EXEC_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', description: 'Detached mode: run command in the background' },
  { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'privileged', type: 'bool', description: 'Give extended privileges to the command' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
];

/** opts.ValidateEnv: "NAME" alone takes the client's value when it has one. */
export function validateExecEnv(value: string, env: Record<string, string | undefined>): string {
  const eq = value.indexOf('=');
  const key = eq === -1 ? value : value.slice(0, eq);
  if (key === '') throw new FlagError(`invalid argument ${JSON.stringify(value)} for "-e, --env" flag: invalid environment variable: ${value}`);
  if (eq !== -1) return value;
  const found = env[key];
  return found === undefined ? value : `${key}=${found}`;
}

/** parseExec: the exec configuration the docker CLI sends for these flags. */
export function buildExecRequest(
  flags: Invocation['flags'],
  command: string[],
  environment: { env: Record<string, string | undefined>; readFile: (path: string) => string },
): ExecCreateRequest {
  const envEntries = listFlag(flags, 'env').map((value) => validateExecEnv(value, environment.env));
  const fileEntries: string[] = [];
  for (const path of listFlag(flags, 'env-file')) fileEntries.push(...parseEnvFile(environment.readFile(path), environment.env));
  const detach = boolFlag(flags, 'detach');
  const request: ExecCreateRequest = {
    User: stringFlag(flags, 'user') ?? '',
    Privileged: boolFlag(flags, 'privileged'),
    Tty: boolFlag(flags, 'tty'),
    Cmd: command,
    WorkingDir: stringFlag(flags, 'workdir') ?? '',
    Env: [...fileEntries, ...envEntries],
    AttachStdin: !detach && boolFlag(flags, 'interactive'),
    AttachStdout: !detach,
    AttachStderr: !detach,
    DetachKeys: stringFlag(flags, 'detach-keys') ?? '',
  };
  return request;
}

function readEnvFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StatusError(1, code === 'ENOENT' ? `open ${path}: no such file or directory` : (err as Error).message);
  }
}

async function runExec(invocation: Invocation): Promise<number> {
  const [container, ...command] = invocation.args as [string, ...string[]];
  const { flags } = invocation;
  let request: ExecCreateRequest;
  try {
    request = buildExecRequest(flags, command, { env: process.env, readFile: readEnvFile });
  } catch (err) {
    if (err instanceof FlagError || err instanceof StatusError) throw err;
    throw new StatusError(1, (err as Error).message);
  }
  const detach = boolFlag(flags, 'detach');
  const client = invocation.ctx.client();

  // The docker CLI inspects the container first so that "No such container" wins over the TTY
  // check (and no exec is left behind by a refused one). The exec's create answers a missing
  // container with the same 404, so the inspect is needed only when the TTY check refuses.
  if (!detach && request.Tty && request.AttachStdin && !process.stdin.isTTY) {
    await client.containerInspect(container);
    throw new StatusError(1, 'the input device is not a TTY');
  }
  if (request.Tty) request.ConsoleSize = [process.stdout.rows ?? 0, process.stdout.columns ?? 0];

  const { Id: execId } = await client.execCreate(container, request);
  if (!execId) throw new StatusError(1, 'exec ID empty');
  const startOptions = { Tty: request.Tty, ConsoleSize: request.ConsoleSize ?? null };
  if (detach) {
    await client.execStartDetached(execId, startOptions);
    return 0;
  }

  const socket = await client.execAttach(execId, startOptions);
  const tty = !!request.Tty;
  const streams = pumpAttachedStreams(socket, {
    tty, stdin: !!request.AttachStdin, stdout: true, stderr: true,
    ...(request.DetachKeys ? { detachKeys: request.DetachKeys } : {}),
  });
  const stopResize = tty && process.stdin.isTTY ? monitorTtySize(client, execId, true) : () => undefined;
  try {
    const outcome = await Promise.race([
      streams.outputDone.then(() => 'output' as const),
      streams.detached.then(() => 'detached' as const),
    ]);
    // The docker CLI returns term.EscapeError from its streamer; its main prints it and exits 1.
    if (outcome === 'detached') throw new StatusError(1, 'read escape sequence');
  } finally {
    streams.restore();
    stopResize();
    socket.destroy();
  }

  let exitCode: number | null;
  try {
    ({ ExitCode: exitCode } = await client.execInspect(execId));
  } catch (err) {
    // The daemon went away: the docker CLI reports -1 (an exit status of 255).
    if (err instanceof ConnectionError) return 255;
    throw err;
  }
  return exitCode ?? 0;
}

export const execCommand: CommandSpec = {
  name: 'exec',
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  aliases: ['container exec', 'exec'],
  flags: EXEC_FLAGS,
  args: { min: 2 },
  interspersed: false,
  run: runExec,
};
