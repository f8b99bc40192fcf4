// `berth run` and `berth create`: convert flags, create the container (pulling a missing
// image), and for run attach + wait before start, then stream until the container exits and
// leave with its exit status, as the docker CLI's run.go does.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ClientError } from '../../client/engine-client.js';
import type { EngineClient } from '../../client/engine-client.js';
import type { WaitResponse } from '../../wire/types.js';
import { BINARY, boolFlag, stringFlag } from '../command.js';
import type { CommandSpec, Invocation } from '../command.js';
import { displayProgressStream, StatusError } from '../output.js';
import { familiarWithDefaultTag, parseReference, pullQuery } from '../reference.js';
import { forwardSignals, monitorTtySize, pumpAttachedStreams } from './attach-io.js';
import { parseDetachKeys } from '../../util/detach-keys.js';
import { buildCreateRequest, CONTAINER_FLAGS, CreateOptionsError, RUN_ONLY_FLAGS } from './run-options.js';
import type { CreatePlan } from './run-options.js';

/** withHelp: "berth: <err>" and the pointer to --help. */
function withHelp(message: string, command: string): string {
  return `${BINARY}: ${message}\n\nRun '${BINARY} ${command} --help' for more information`;
}

/** toStatusError / runStartContainerErr: exit 127 for a missing executable, 126 for one that cannot run, else 125. */
export function startErrorStatus(message: string): number {
  if (message.includes('executable file not found') || message.includes('no such file or directory') || message.includes('system cannot find the file specified')) {
    return 127;
  }
  if (message.includes('permission denied') || message.includes('is a directory')) return 126;
  return 125;
}

function toStatusError(err: unknown, command = 'run'): StatusError {
  const message = err instanceof Error ? err.message : String(err);
  return new StatusError(startErrorStatus(message), withHelp(message, command));
}

function plan(invocation: Invocation): CreatePlan {
  const command = invocation.commandPath.split(' ').pop() ?? 'run';
  try {
    return buildCreateRequest(invocation.flags, invocation.args, {
      changed: invocation.changed,
      env: process.env,
      readFile: (path) => {
        try {
          return readFileSync(path, 'utf8');
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new Error(code === 'ENOENT' ? `open ${path}: no such file or directory` : (err as Error).message);
        }
      },
      cwd: process.cwd(),
    });
  } catch (err) {
    if (err instanceof CreateOptionsError) throw new StatusError(125, withHelp(err.message, command));
    throw err;
  }
}

async function pullImage(client: EngineClient, image: string, quiet: boolean): Promise<void> {
  const messages = await client.imageCreate(pullQuery(image));
  await displayProgressStream(messages, (text) => { if (!quiet) process.stderr.write(text); }, undefined, process.stderr);
}

/** createContainer: create, and on "No such image" pull it and try once more. */
async function createContainer(client: EngineClient, createPlan: CreatePlan): Promise<string> {
  const image = createPlan.request.Image ?? '';
  let familiar: string | undefined;
  try {
    parseReference(image);
    familiar = familiarWithDefaultTag(image);
  } catch (err) {
    throw new Error((err as Error).message);
  }
  if (createPlan.pull === 'always') await pullImage(client, image, createPlan.quiet);
  const query = { name: createPlan.name, platform: createPlan.platform };
  let response;
  try {
    response = await client.containerCreate(createPlan.request, query);
  } catch (err) {
    if (!(err instanceof ClientError) || err.status !== 404 || createPlan.pull !== 'missing' || familiar === undefined) throw err;
    if (!createPlan.quiet) process.stderr.write(`Unable to find image '${familiar}' locally\n`);
    await pullImage(client, image, createPlan.quiet);
    response = await client.containerCreate(createPlan.request, query);
  }
  for (const warning of response.Warnings ?? []) process.stderr.write(`WARNING: ${warning}\n`);
  return response.Id;
}

/** --cidfile: refuse an existing file before creating anything, write the ID after. */
function checkCidFile(path: string | undefined): void {
  if (path && existsSync(path)) {
    throw new StatusError(1, `container ID file found, make sure the other container isn't running or delete ${path}`);
  }
}

function writeCidFile(path: string | undefined, id: string): void {
  if (!path) return;
  try {
    writeFileSync(path, id, { flag: 'wx' });
  } catch (err) {
    throw new StatusError(1, `failed to write the container ID (${id}) to file: ${(err as Error).message}`);
  }
}

async function runCreate(invocation: Invocation): Promise<number> {
  const createPlan = plan(invocation);
  const client = invocation.ctx.client();
  checkCidFile(stringFlag(invocation.flags, 'cidfile'));
  const id = await createContainer(client, createPlan);
  writeCidFile(stringFlag(invocation.flags, 'cidfile'), id);
  process.stdout.write(`${id}\n`);
  return 0;
}

/** Resolves once the wait is registered, or after a grace period if the daemon holds back the headers. */
function waitRegistered(headers: Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 500);
    headers.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

async function runRun(invocation: Invocation): Promise<number> {
  const { flags } = invocation;
  const createPlan = plan(invocation);
  const config = createPlan.request;
  const detach = boolFlag(flags, 'detach');
  const sigProxy = flags['sig-proxy'] !== false;
  const detachKeys = stringFlag(flags, 'detach-keys') || undefined;

  if (detach) {
    if ((Array.isArray(flags.attach) ? flags.attach : []).length > 0) {
      throw new StatusError(1, 'conflicting options: cannot specify both --attach and --detach');
    }
    config.AttachStdin = false;
    config.AttachStdout = false;
    config.AttachStderr = false;
    config.StdinOnce = false;
  } else if (config.Tty && config.AttachStdin && !process.stdin.isTTY) {
    throw new StatusError(1, 'the input device is not a TTY');
  }
  if (detachKeys) {
    try {
      parseDetachKeys(detachKeys);
    } catch (err) {
      throw new StatusError(1, `invalid detach keys (${detachKeys}): ${(err as Error).message}`);
    }
  }
  if (config.Tty && process.stdout.isTTY && process.stdout.rows && process.stdout.columns) {
    Object.assign(config.HostConfig, { ConsoleSize: [process.stdout.rows, process.stdout.columns] });
  }

  const client = invocation.ctx.client();
  checkCidFile(stringFlag(flags, 'cidfile'));
  let id: string;
  try {
    id = await createContainer(client, createPlan);
  } catch (err) {
    if (err instanceof StatusError) throw err;
    throw toStatusError(err);
  }
  writeCidFile(stringFlag(flags, 'cidfile'), id);

  const stopForwarding = sigProxy ? forwardSignals(client, id) : () => undefined;
  const attach = Boolean(config.AttachStdin || config.AttachStdout || config.AttachStderr);
  if (!attach) process.stdout.write(`${id}\n`);

  let streams: ReturnType<typeof pumpAttachedStreams> | undefined;
  // The attach and the wait both only need to be in place before the start (docker's CLI sends
  // them one after the other): sent together, they cost one round trip instead of two.
  const attaching = attach
    ? client.containerAttach(id, {
      stream: true,
      stdin: config.AttachStdin,
      stdout: config.AttachStdout,
      stderr: config.AttachStderr,
      detachKeys,
    })
    : undefined;
  const wait = client.containerWait(id, createPlan.autoRemove ? 'removed' : 'next-exit');
  const status: Promise<number> = wait.result.then(
    (result: WaitResponse) => {
      if (result.Error?.Message) {
        process.stderr.write(`Error waiting for container: ${result.Error.Message}\n`);
        return 125;
      }
      return result.StatusCode;
    },
    (err: Error) => {
      process.stderr.write(`error waiting for container: ${err.message}\n`);
      return 125;
    },
  );
  const socket = await attaching;
  await waitRegistered(wait.headers).catch(() => undefined);

  try {
    await client.containerStart(id);
  } catch (err) {
    socket?.destroy();
    stopForwarding();
    if (createPlan.autoRemove) await status;
    throw toStatusError(err);
  }

  if (socket) {
    streams = pumpAttachedStreams(socket, {
      tty: Boolean(config.Tty),
      stdin: Boolean(config.AttachStdin),
      stdout: Boolean(config.AttachStdout),
      stderr: Boolean(config.AttachStderr),
      ...(detachKeys ? { detachKeys } : {}),
    });
  }
  if (!attach || !streams) {
    stopForwarding();
    return 0;
  }
  const stopResize = config.Tty ? monitorTtySize(client, id) : () => undefined;
  try {
    const outcome = await Promise.race([
      streams.outputDone.then(() => 'output' as const),
      streams.detached.then(() => 'detached' as const),
      status.then(() => 'exited' as const),
    ]);
    if (outcome === 'detached') return 0;
    if (outcome === 'exited') {
      // The container is gone, but its last output may still be in flight.
      if (config.AttachStdout || config.AttachStderr) await streams.outputDone.catch(() => undefined);
    }
    return await status;
  } finally {
    streams.restore();
    stopResize();
    stopForwarding();
  }
}

export const runCommand: CommandSpec = {
  name: 'run',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  aliases: ['container run', 'run'],
  flags: [...CONTAINER_FLAGS, ...RUN_ONLY_FLAGS],
  args: { min: 1 },
  interspersed: false,
  run: runRun,
};

export const createCommand: CommandSpec = {
  name: 'create',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create a new container',
  aliases: ['container create', 'create'],
  flags: CONTAINER_FLAGS,
  args: { min: 1 },
  interspersed: false,
  run: runCreate,
};
