// Container lifecycle commands: start, stop, kill, restart, rm, wait, rename and logs, with
// docker's per-target output and error collection.

import { ClientError } from '../../client/engine-client.js';
import { demuxStream } from '../../wire/stdcopy.js';
import { boolFlag, forEachTarget, intFlag, stringFlag, timestampFlag } from '../command.js';
import type { CommandSpec, Invocation } from '../command.js';
import { StatusError } from '../output.js';
import { forwardSignals, monitorTtySize, pumpAttachedStreams } from './attach-io.js';

async function startAttached(invocation: Invocation): Promise<number> {
  const { flags, args } = invocation;
  if (args.length > 1) throw new StatusError(1, 'you cannot start and attach multiple containers at once');
  const client = invocation.ctx.client();
  const container = await client.containerInspect(args[0]!);
  const tty = Boolean(container.Config.Tty);
  const stopForwarding = tty ? () => undefined : forwardSignals(client, container.Id);
  const detachKeys = stringFlag(flags, 'detach-keys') || undefined;
  const stdin = boolFlag(flags, 'interactive') && Boolean(container.Config.OpenStdin);
  const socket = await client.containerAttach(container.Id, { stream: true, stdin, stdout: true, stderr: true, detachKeys });
  const wait = client.containerWait(container.Id, container.HostConfig.AutoRemove ? 'removed' : 'next-exit');
  const status = wait.result.then(
    (result) => (result.Error?.Message ? 125 : result.StatusCode),
    () => 125,
  );
  await Promise.race([wait.headers, new Promise((resolve) => setTimeout(resolve, 500))]).catch(() => undefined);
  try {
    await client.containerStart(container.Id);
  } catch (err) {
    socket.destroy();
    stopForwarding();
    if (container.HostConfig.AutoRemove) await status;
    throw err;
  }
  const streams = pumpAttachedStreams(socket, { tty, stdin, stdout: true, stderr: true, ...(detachKeys ? { detachKeys } : {}) });
  const stopResize = tty ? monitorTtySize(client, container.Id) : () => undefined;
  try {
    const outcome = await Promise.race([streams.outputDone.then(() => 'output' as const), streams.detached.then(() => 'detached' as const)]);
    if (outcome === 'detached') return 0;
    return await status;
  } finally {
    streams.restore();
    stopResize();
    stopForwarding();
  }
}

async function runAttach(invocation: Invocation): Promise<number> {
  const { flags, args } = invocation;
  const client = invocation.ctx.client();
  const container = await client.containerInspect(args[0]!);
  if (!container.State.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
  if (container.State.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
  if (container.State.Restarting) throw new StatusError(1, 'You cannot attach to a restarting container, wait until it is running');
  const tty = Boolean(container.Config.Tty);
  const stdin = !boolFlag(flags, 'no-stdin') && Boolean(container.Config.OpenStdin);
  if (tty && stdin && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
  const detachKeys = stringFlag(flags, 'detach-keys') || undefined;
  const wait = client.containerWait(container.Id, 'next-exit');
  const status = wait.result.then((result) => (result.Error?.Message ? 125 : result.StatusCode), () => 125);
  const socket = await client.containerAttach(container.Id, { stream: true, stdin, stdout: true, stderr: true, detachKeys });
  const stopForwarding = flags['sig-proxy'] !== false && !tty ? forwardSignals(client, container.Id) : () => undefined;
  const streams = pumpAttachedStreams(socket, { tty, stdin, stdout: true, stderr: true, ...(detachKeys ? { detachKeys } : {}) });
  const stopResize = tty ? monitorTtySize(client, container.Id) : () => undefined;
  try {
    const outcome = await Promise.race([streams.outputDone.then(() => 'output' as const), streams.detached.then(() => 'detached' as const)]);
    // The docker CLI reports a detach from `attach` as the error of its stream.
    if (outcome === 'detached') throw new StatusError(1, 'read escape sequence');
    // The stream ended: the container stopped (docker attach exits with its code), or another client detached it.
    const inspected = await client.containerInspect(container.Id).catch(() => undefined);
    if (inspected?.State.Running) return 0;
    return await status;
  } finally {
    streams.restore();
    stopResize();
    stopForwarding();
  }
}

export const attachCommand: CommandSpec = {
  name: 'attach',
  usage: '[OPTIONS] CONTAINER',
  description: 'Attach local standard input, output, and error streams to a running container',
  aliases: ['container attach', 'attach'],
  flags: [
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', type: 'bool', description: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', default: true, description: 'Proxy all received signals to the process' },
  ],
  args: { min: 1, max: 1 },
  run: runAttach,
};

export const startCommand: CommandSpec = {
  name: 'start',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  aliases: ['container start', 'start'],
  flags: [
    { name: 'attach', short: 'a', type: 'bool', description: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" },
  ],
  args: { min: 1 },
  async run(invocation) {
    const { flags, args } = invocation;
    if (boolFlag(flags, 'attach') || boolFlag(flags, 'interactive')) return startAttached(invocation);
    const client = invocation.ctx.client();
    const failed: string[] = [];
    for (const container of args) {
      try {
        await client.containerStart(container);
        process.stdout.write(`${container}\n`);
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        failed.push(container);
      }
    }
    if (failed.length > 0) throw new StatusError(1, `failed to start containers: ${failed.join(', ')}`);
    return 0;
  },
};

function timeoutQuery(invocation: Invocation): { t?: number; signal?: string } {
  const query: { t?: number; signal?: string } = {};
  if (invocation.changed.has('timeout') || invocation.changed.has('time')) {
    query.t = intFlag(invocation.flags, invocation.changed.has('timeout') ? 'timeout' : 'time');
  }
  const signal = stringFlag(invocation.flags, 'signal');
  if (signal) query.signal = signal;
  return query;
}

const STOP_FLAGS = [
  { name: 'signal', short: 's', type: 'string' as const, description: 'Signal to send to the container' },
  { name: 'timeout', short: 't', type: 'int' as const, description: 'Seconds to wait before killing the container' },
  { name: 'time', type: 'int' as const, description: 'Seconds to wait before killing the container (deprecated: use --timeout)', hidden: true },
];

export const stopCommand: CommandSpec = {
  name: 'stop',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Stop one or more running containers',
  aliases: ['container stop', 'stop'],
  flags: STOP_FLAGS,
  args: { min: 1 },
  run(invocation) {
    const client = invocation.ctx.client();
    const query = timeoutQuery(invocation);
    return forEachTarget(invocation.args, (container) => client.containerStop(container, query));
  },
};

export const restartCommand: CommandSpec = {
  name: 'restart',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Restart one or more containers',
  aliases: ['container restart', 'restart'],
  flags: STOP_FLAGS,
  args: { min: 1 },
  run(invocation) {
    const client = invocation.ctx.client();
    const query = timeoutQuery(invocation);
    return forEachTarget(invocation.args, (container) => client.containerRestart(container, query));
  },
};

export const killCommand: CommandSpec = {
  name: 'kill',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Kill one or more running containers',
  aliases: ['container kill', 'kill'],
  flags: [{ name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' }],
  args: { min: 1 },
  run(invocation) {
    const client = invocation.ctx.client();
    const signal = stringFlag(invocation.flags, 'signal') || undefined;
    return forEachTarget(invocation.args, (container) => client.containerKill(container, signal));
  },
};

export const rmCommand: CommandSpec = {
  name: 'rm',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Remove one or more containers',
  aliases: ['container rm', 'container remove', 'rm'],
  flags: [
    { name: 'force', short: 'f', type: 'bool', description: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', type: 'bool', description: 'Remove the specified link' },
    { name: 'volumes', short: 'v', type: 'bool', description: 'Remove anonymous volumes associated with the container' },
  ],
  args: { min: 1 },
  run(invocation) {
    const client = invocation.ctx.client();
    const force = boolFlag(invocation.flags, 'force');
    const query = { force, v: boolFlag(invocation.flags, 'volumes'), link: boolFlag(invocation.flags, 'link') };
    return forEachTarget(
      invocation.args,
      async (container) => {
        const name = container.replace(/^\/+|\/+$/g, '');
        if (name === '') throw new Error('Container name cannot be empty');
        await client.containerRemove(name, query);
      },
      // `rm -f` of a container that does not exist reports it but does not fail.
      { ignoreError: (err) => force && err instanceof ClientError && err.status === 404 },
    );
  },
};

export const waitCommand: CommandSpec = {
  name: 'wait',
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Block until one or more containers stop, then print their exit codes',
  aliases: ['container wait', 'wait'],
  flags: [],
  args: { min: 1 },
  run(invocation) {
    const client = invocation.ctx.client();
    return forEachTarget(invocation.args, async (container) => {
      const result = await client.containerWait(container).result;
      if (result.Error?.Message) throw new Error(result.Error.Message);
      return String(result.StatusCode);
    });
  },
};

export const renameCommand: CommandSpec = {
  name: 'rename',
  usage: 'CONTAINER NEW_NAME',
  description: 'Rename a container',
  aliases: ['container rename', 'rename'],
  flags: [],
  args: { min: 2, max: 2 },
  async run(invocation) {
    const [oldName, newName] = invocation.args.map((name) => name.trim()) as [string, string];
    if (oldName === '' || newName === '') throw new StatusError(1, 'Error: Neither old nor new names may be empty');
    try {
      await invocation.ctx.client().containerRename(oldName, newName);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      throw new StatusError(1, `Error: failed to rename container named ${oldName}`);
    }
    return 0;
  },
};

export const logsCommand: CommandSpec = {
  name: 'logs',
  usage: '[OPTIONS] CONTAINER',
  description: 'Fetch the logs of a container',
  aliases: ['container logs', 'logs'],
  flags: [
    { name: 'details', type: 'bool', description: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
    { name: 'since', type: 'string', description: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', default: 'all', description: 'Number of lines to show from the end of the logs' },
    { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
    { name: 'until', type: 'string', description: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  ],
  args: { min: 1, max: 1 },
  async run(invocation) {
    const { flags } = invocation;
    const client = invocation.ctx.client();
    const container = await client.containerInspect(invocation.args[0]!);
    const now = new Date();
    const timestamp = (name: string): string | undefined => timestampFlag(flags, name, now);
    const stream = await client.containerLogs(container.Id, {
      stdout: true,
      stderr: true,
      follow: boolFlag(flags, 'follow'),
      timestamps: boolFlag(flags, 'timestamps'),
      details: boolFlag(flags, 'details'),
      since: timestamp('since'),
      until: timestamp('until'),
      tail: stringFlag(flags, 'tail') ?? 'all',
    });
    if (container.Config.Tty) {
      for await (const chunk of stream) process.stdout.write(chunk as Buffer);
    } else {
      await demuxStream(stream, process.stdout, process.stderr);
    }
    return 0;
  },
};
