// /containers/*: thin routes over the container service (decode, call, encode).
import type { Duplex, Writable } from 'node:stream';
import type { ContainerCreateRequest } from '../../wire/types.js';
import type { ContainerService, WaitCondition } from '../../containers/service.js';
import type { LogEntry } from '../../containers/logs.js';
import type { ContainerRecord } from '../../containers/record.js';
import { encodeFrame, STDERR, STDOUT } from '../../wire/stdcopy.js';
import { badParameter, conflict } from '../../errdefs/errors.js';
import { runAttachSession } from '../attach-session.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../util/detach-keys.js';
import { drained } from '../../util/streams.js';
import {
  boolParam, compareVersions, filtersParam, intParam, readUpgradeBody, sendJson, sendJsonBody, sendNoContent, startStream,
  type RequestContext, type RouteTable,
} from '../server.js';
import { readRequestBody } from '../decode/request.js';

const ID = '([^/]+)';

/** What the container routes need: the container service, as the daemon wires it. */
export type ContainerBackend = Pick<ContainerService,
  'create' | 'list' | 'get' | 'inspect' | 'inspectJson' | 'sizes' | 'start' | 'stop' | 'restart' | 'kill' | 'wait' | 'rename' | 'remove'
  | 'logs' | 'attachOutput' | 'openStdin' | 'resize' | 'publishEvent' | 'prune'>;

export function containerRoutes(containers: ContainerBackend): RouteTable {
  return [
    ['POST', /^\/containers\/create$/, async (context) => {
      const request = await readRequestBody<ContainerCreateRequest>(context, 'containerCreate');
      sendJson(context, 201, await containers.create(request, context.query.get('name') ?? undefined));
    }],
    ['GET', /^\/containers\/json$/, async (context) => {
      const limit = intParam(context.query, 'limit');
      sendJson(context, 200, await containers.list({
        all: boolParam(context.query, 'all'), limit, size: boolParam(context.query, 'size'), filters: filtersParam(context.query),
      }));
    }],
    ['POST', /^\/containers\/prune$/, async (context) => {
      sendJson(context, 200, await containers.prune(filtersParam(context.query)));
    }],
    ['GET', new RegExp(`^/containers/${ID}/json$`), async (context) => {
      if (!boolParam(context.query, 'size')) return sendJsonBody(context, 200, containers.inspectJson(context.params[0]));
      const inspect = containers.inspect(context.params[0]);
      Object.assign(inspect, await containers.sizes(containers.get(inspect.Id)));
      sendJson(context, 200, inspect);
    }],
    ['POST', new RegExp(`^/containers/${ID}/start$`), async (context) => {
      await containers.start(context.params[0]);
      sendNoContent(context);
    }],
    ['POST', new RegExp(`^/containers/${ID}/stop$`), async (context) => {
      await containers.stop(context.params[0], { signal: context.query.get('signal') ?? undefined, timeoutSeconds: intParam(context.query, 't') });
      sendNoContent(context);
    }],
    ['POST', new RegExp(`^/containers/${ID}/restart$`), async (context) => {
      await containers.restart(context.params[0], intParam(context.query, 't'), context.query.get('signal') ?? undefined);
      sendNoContent(context);
    }],
    ['POST', new RegExp(`^/containers/${ID}/kill$`), async (context) => {
      await containers.kill(context.params[0], context.query.get('signal') ?? undefined);
      sendNoContent(context);
    }],
    ['POST', new RegExp(`^/containers/${ID}/wait$`), async (context) => {
      const condition = (context.query.get('condition') || 'not-running') as WaitCondition;
      if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw badParameter(`invalid condition: "${condition}"`);
      const result = containers.wait(context.params[0], condition);
      // The header goes out at once so that the client knows the wait is registered before it starts the container.
      const response = startStream(context, 'application/json');
      response.end(JSON.stringify(await result) + '\n');
    }],
    ['POST', new RegExp(`^/containers/${ID}/rename$`), async (context) => {
      await containers.rename(context.params[0], context.query.get('name') ?? '');
      sendNoContent(context);
    }],
    ['DELETE', new RegExp(`^/containers/${ID}$`), async (context) => {
      await containers.remove(context.params[0], { force: boolParam(context.query, 'force'), volumes: boolParam(context.query, 'v') });
      sendNoContent(context);
    }],
    ['GET', new RegExp(`^/containers/${ID}/logs$`), (context) => streamLogs(containers, context)],
    ['POST', new RegExp(`^/containers/${ID}/attach$`), (context) => attach(containers, context)],
    ['GET', new RegExp(`^/containers/${ID}/attach/ws$`), (context) => attachWebsocket(containers, context)],
    ['POST', new RegExp(`^/containers/${ID}/resize$`), async (context) => {
      await containers.resize(context.params[0], intParam(context.query, 'h') ?? 0, intParam(context.query, 'w') ?? 0);
      sendNoContent(context, 200);
    }],
  ];
}

/** Writes entries as the logs/attach endpoints do: multiplexed frames, or raw with a TTY. */
function entryWriter(output: Writable, tty: boolean, timestamps: boolean): (entry: LogEntry) => boolean {
  return (entry) => {
    const bytes = timestamps ? Buffer.concat([Buffer.from(`${entry.timestamp} `), entry.bytes]) : entry.bytes;
    return output.write(tty ? bytes : encodeFrame(entry.stream === 'stderr' ? STDERR : STDOUT, bytes));
  };
}

async function streamLogs(containers: ContainerBackend, context: RequestContext): Promise<void> {
  const record = containers.get(context.params[0]);
  const { query } = context;
  const stdout = boolParam(query, 'stdout');
  const stderr = boolParam(query, 'stderr');
  if (!stdout && !stderr) throw badParameter('Bad parameters: you must choose at least one stream');
  const tailText = query.get('tail');
  const tail = tailText && tailText !== 'all' ? Number.parseInt(tailText, 10) : undefined;
  const entries = containers.logs(record.id, {
    stdout, stderr, tail: Number.isNaN(tail) ? undefined : tail,
    sinceNs: secondsToNs(query.get('since'), 'since'), untilNs: secondsToNs(query.get('until'), 'until'),
  }, boolParam(query, 'follow'), context.signal);
  const tty = !!record.config.Tty;
  const response = startStream(context, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
  const write = entryWriter(response, tty, boolParam(query, 'timestamps'));
  for await (const entry of entries) {
    if (context.signal.aborted) break;
    if (!write(entry)) await drained(response, context.signal);
  }
  // Also when the daemon shuts down (the signal aborts then too): the stream ends properly.
  response.end();
}

function secondsToNs(value: string | null, name: string): bigint | undefined {
  if (!value || value === '0') return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw badParameter(`invalid value for ${name}: ${JSON.stringify(value)} is not a Unix timestamp`);
  const [seconds, fraction = ''] = value.split('.');
  return BigInt(seconds) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9) || '0');
}

/** POST /containers/{id}/attach: the hijacked connection carries the session. */
async function attach(containers: ContainerBackend, context: RequestContext): Promise<void> {
  const record = containers.get(context.params[0]);
  assertAttachable(record, context.params[0]);
  const detachKeys = detachKeysParam(context.query);
  const tty = !!record.config.Tty;
  const connection = context.hijack(tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
  // Clients may send a body (dockerode sends its options as JSON): Docker ignores it, and its
  // bytes must not reach the container's stdin.
  await readUpgradeBody(context);
  await attachSession(containers, record, context, connection, detachKeys, {
    stdin: boolParam(context.query, 'stdin'), stdout: boolParam(context.query, 'stdout'), stderr: boolParam(context.query, 'stderr'),
    multiplex: true,
  });
}

/** GET /containers/{id}/attach/ws: the same session over a websocket, never multiplexed. */
async function attachWebsocket(containers: ContainerBackend, context: RequestContext): Promise<void> {
  const record = containers.get(context.params[0]);
  assertAttachable(record, context.params[0]);
  const detachKeys = detachKeysParam(context.query);
  const socket = context.upgradedSocket;
  if (!socket || context.request.headers.upgrade?.toLowerCase() !== 'websocket') throw badParameter('websocket: the client is not using the websocket protocol');
  const { WebSocketServer, createWebSocketStream } = await import('ws');
  const server = new WebSocketServer({ noServer: true });
  // ws answers a bad handshake itself and never calls back: the socket's close ends the wait.
  const websocket = await new Promise<import('ws').WebSocket | undefined>((resolve) => {
    context.signal.addEventListener('abort', () => resolve(undefined), { once: true });
    server.handleUpgrade(context.request, socket, Buffer.alloc(0), resolve);
  });
  if (!websocket) return;
  const connection = createWebSocketStream(websocket);
  connection.on('error', () => undefined);
  // Before API 1.42 the websocket carried every stream whatever the query said.
  const old = compareVersions(context.version, '1.42') < 0;
  await attachSession(containers, record, context, connection, detachKeys, {
    stdin: old || boolParam(context.query, 'stdin'), stdout: old || boolParam(context.query, 'stdout'), stderr: old || boolParam(context.query, 'stderr'),
    multiplex: false,
  });
}

async function attachSession(
  containers: ContainerBackend, record: ContainerRecord, context: RequestContext, connection: Duplex, detachKeys: number[],
  streams: { stdin: boolean; stdout: boolean; stderr: boolean; multiplex: boolean },
): Promise<void> {
  const { query } = context;
  const wantsStdin = streams.stdin && !!record.config.OpenStdin;
  const outputOptions = { stdout: streams.stdout, stderr: streams.stderr, logs: boolParam(query, 'logs'), stream: boolParam(query, 'stream') };
  containers.publishEvent(record, 'attach');
  const ending = await runAttachSession({
    connection, tty: !!record.config.Tty, multiplex: streams.multiplex && !record.config.Tty, detachKeys,
    closeStdinOnEof: !!record.config.StdinOnce,
    output: (signal) => containers.attachOutput(record.id, outputOptions, signal),
    // Not read until the container runs: what the client sends meanwhile waits in the socket.
    stdin: wantsStdin ? containers.openStdin(record.id, context.signal) : undefined,
    signal: context.signal,
  });
  if (ending === 'detached') containers.publishEvent(record, 'detach');
}

/** As moby: a frozen or restarting container has no process to take input or give output now. */
function assertAttachable(record: ContainerRecord, reference: string): void {
  if (record.state.Paused) throw conflict(`container ${reference} is paused, unpause the container before attach`);
  if (record.state.Restarting) throw conflict(`container ${reference} is restarting, wait until the container is running`);
}

function detachKeysParam(query: URLSearchParams): number[] {
  const text = query.get('detachKeys') || DEFAULT_DETACH_KEYS;
  try {
    return parseDetachKeys(text);
  } catch {
    throw badParameter(`Invalid detach keys (${text}) provided`);
  }
}
