// The Engine API's HTTP server: listens on unix sockets and TCP, strips the /vX.Y prefix,
// routes to the per-resource routers, and turns thrown errors into Docker's
// `{"message": ...}` responses. Requests that ask to upgrade the connection (attach, exec
// start) reach their route with a `hijack()` that answers `101 UPGRADED` and hands over
// the raw socket.
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { chmod, chown, rm } from 'node:fs/promises';
import { badParameter, isEngineError, isNotModified, notFound } from '../errdefs/errors.js';
import { answerPlainHttp } from './plain-http-on-tls.js';
import { MethodNotAllowed, statusOf } from './http-status.js';
import { TRACE_ENABLED, traceOperation } from '../util/trace.js';

export const API_VERSION = '1.43';
export const MIN_API_VERSION = '1.24';

export interface RequestContext {
  method: string;
  path: string;
  params: string[];
  query: URLSearchParams;
  /** The API version the client asked for (or the current one for unversioned paths). */
  version: string;
  request: IncomingMessage;
  response: ServerResponse | undefined;
  /** Resolves with the raw connection, after the upgrade/raw-stream response header is sent. */
  hijack(contentType?: string): Duplex;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** The raw socket of a request that asked to upgrade (websocket routes take it over themselves). */
  upgradedSocket: Duplex | undefined;
}

export type Handler = (context: RequestContext) => Promise<void> | void;
export type RouteTable = Array<[method: string, pattern: RegExp, handler: Handler]>;

// ---- helpers routes use to decode and encode ---------------------------------------------------

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sendJson(context: RequestContext, status: number, value: unknown): void {
  const response = requireResponse(context);
  const body = JSON.stringify(value) + '\n';
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}

/** A JSON body serialised already (kept by the caller): one write, no per-request encoding. */
export function sendJsonBody(context: RequestContext, status: number, json: Buffer): void {
  const response = requireResponse(context);
  response.writeHead(status, ['Content-Type', 'application/json', 'Content-Length', String(json.length)]);
  response.end(json);
}

export function sendNoContent(context: RequestContext, status = 204): void {
  const response = requireResponse(context);
  response.writeHead(status);
  response.end();
}

export function sendText(context: RequestContext, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  const response = requireResponse(context);
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** Starts a streamed response (chunked); the caller writes and ends it. */
export function startStream(context: RequestContext, contentType: string, status = 200): ServerResponse {
  const response = requireResponse(context);
  response.writeHead(status, { 'Content-Type': contentType });
  response.flushHeaders();
  return response;
}

/**
 * Docker's httputils.BoolValueOrDefault: an absent parameter is the fallback; a present one is
 * false when it is "", "0", "no", "false" or "none" (any case, spaces trimmed), else true.
 */
export function boolParam(query: URLSearchParams, name: string, fallback = false): boolean {
  const value = query.get(name);
  if (value === null) return fallback;
  return !['', '0', 'no', 'false', 'none'].includes(value.trim().toLowerCase());
}

/** An integer parameter as Go's strconv.Atoi reads it; absent or empty is undefined. */
export function intParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  const number = Number(value);
  if (!/^[+-]?\d+$/.test(value)) throw badParameter(`invalid value for ${name}: strconv.Atoi: parsing ${JSON.stringify(value)}: invalid syntax`);
  if (!Number.isSafeInteger(number)) throw badParameter(`invalid value for ${name}: strconv.Atoi: parsing ${JSON.stringify(value)}: value out of range`);
  return number;
}

/**
 * Docker's `filters` query parameter (filters.FromJSON): {"key": ["v1", "v2"]} or the old
 * {"key": {"v1": true}}; anything else is refused.
 */
export function filtersParam(query: URLSearchParams): Map<string, string[]> {
  const raw = query.get('filters');
  const filters = new Map<string, string[]>();
  if (!raw) return filters;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badParameter(`invalid filter: ${raw}`);
  }
  if (parsed === null) return filters;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw badParameter(`invalid filter: ${raw}`);
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      filters.set(key, value);
    } else if (value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((item) => typeof item === 'boolean')) {
      filters.set(key, Object.keys(value).filter((k) => (value as Record<string, boolean>)[k]));
    } else if (value !== null) {
      throw badParameter(`invalid filter: ${raw}`);
    }
  }
  return filters;
}

export function assertFilterKeys(filters: Map<string, string[]>, allowed: string[]): void {
  for (const key of filters.keys()) if (!allowed.includes(key)) throw badParameter(`invalid filter '${key}'`);
}

/**
 * The body of a request that asked to upgrade: it arrives on the raw socket ahead of the
 * hijacked stream (Content-Length bytes), and must not be taken for the client's input.
 */
export async function readUpgradeBody(context: RequestContext): Promise<Buffer> {
  const socket = context.upgradedSocket;
  if (!socket) return readBody(context.request);
  const length = Number.parseInt(String(context.request.headers['content-length'] ?? '0'), 10) || 0;
  return length > 0 ? readExactly(socket, length) : Buffer.alloc(0);
}

/** Reads `length` bytes without setting the socket flowing: what follows is the client's stdin. */
async function readExactly(socket: Duplex, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) {
      if (socket.readableEnded || socket.destroyed) break;
      const waiting = new AbortController();
      await Promise.race([once(socket, 'readable', { signal: waiting.signal }), once(socket, 'close', { signal: waiting.signal })])
        .catch(() => undefined)
        .finally(() => waiting.abort());
      continue;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  const all = Buffer.concat(chunks);
  if (all.length > length) socket.unshift(all.subarray(length));
  return all.subarray(0, length);
}

function requireResponse(context: RequestContext): ServerResponse {
  if (!context.response) throw new Error('this connection was hijacked');
  return context.response;
}

// ---- the server ----------------------------------------------------------------------------------

/** How long shutdown waits for requests under way (streams are told to end first). */
const SHUTDOWN_GRACE_MS = 7_000;
/** How long connections get to flush their last bytes at shutdown. */
const SHUTDOWN_FLUSH_MS = 1_000;
/** How long a finished hijacked connection may take to flush its last bytes before it is cut. */
const HIJACK_LINGER_MS = 5_000;

/** A socket to serve the API on. */
export type ListenAddress = { unix: string; gid: number } | { tcp: { host: string; port: number } } | { fd: number };

/** PEM material for HTTPS listeners. */
export interface ServerTls {
  key: Buffer;
  cert: Buffer;
  ca?: Buffer;
  verifyClients: boolean;
}

export class ApiServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Duplex>();
  /** Requests under way: their abort handles (shutdown ends streams through them) and their ends. */
  private readonly inFlight = new Map<RequestAbort, Promise<void>>();
  private closing = false;

  /** `debug` logs each request; a SIGHUP reload may change it. */
  /** Called as each request ends (berthd's idle collection, daemon/memory.ts). */
  onSettled: (() => void) | undefined;

  constructor(private readonly routes: RouteTable, public debug = false) {}

  /**
   * Listens on each address: unix sockets (mode 0660, group `gid`), TCP, or a socket handed
   * over as an fd (systemd socket activation). With `tls`, TCP and fd listeners speak HTTPS;
   * with `tls.verifyClients`, a client without a certificate signed by `tls.ca` fails the
   * handshake and never reaches a route.
   */
  async listen(addresses: ListenAddress[], tls?: ServerTls): Promise<void> {
    for (const address of addresses) {
      const secure = tls && !('unix' in address);
      // Half-open as node:http's own server: a client that half-closes a hijacked stream
      // (docker run without -i closes its write side) still gets the output.
      const options = { keepAliveTimeout: 60_000, allowHalfOpen: true };
      const handler = (request: IncomingMessage, response: ServerResponse) => this.track(request, response, undefined);
      // node:https (and with it tls) is loaded only by a daemon that serves TLS: ~0.5 MB less for the others.
      const server: Server = secure
        ? (await import('node:https')).createServer({
          ...options, key: tls.key, cert: tls.cert, ca: tls.ca,
          requestCert: tls.verifyClients, rejectUnauthorized: tls.verifyClients, minVersion: 'TLSv1.2',
        }, handler)
        : createServer(options, handler);
      if (secure) answerPlainHttp(server as HttpsServer);
      // A handshake that fails (no certificate, another CA, a reset) ends that connection only.
      if (secure) server.on('tlsClientError', (error: Error) => { if (this.debug) process.stderr.write(`berthd: TLS handshake: ${error.message}\n`); });
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        // The HTTP server lets go of an upgraded socket, its error handler included: a reset
        // from the client would otherwise be an unhandled 'error' that ends the daemon.
        socket.on('error', () => socket.destroy());
        if (head.length) socket.unshift(head);
        this.track(request, undefined, socket);
      });
      server.on('connection', (socket: Duplex) => {
        this.connections.add(socket);
        socket.on('close', () => this.connections.delete(socket));
      });
      if ('unix' in address) {
        await rm(address.unix, { force: true });
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(address.unix, resolve));
        await chmod(address.unix, 0o660);
        await chown(address.unix, 0, address.gid);
      } else if ('tcp' in address) {
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(address.tcp.port, address.tcp.host, resolve));
      } else {
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ fd: address.fd }, resolve));
      }
      this.servers.push(server);
    }
  }

  /**
   * Stops listening, tells every request under way that it is over (followers such as
   * `logs -f` and `events` end their streams cleanly), waits a while for them, then cuts
   * what is left.
   */
  async close(): Promise<void> {
    this.closing = true;
    const closed = Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(resolve))));
    for (const server of this.servers) server.closeIdleConnections();
    for (const controller of this.inFlight.keys()) controller.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.inFlight.values()),
      new Promise((resolve) => { timer = setTimeout(resolve, SHUTDOWN_GRACE_MS); }),
    ]);
    clearTimeout(timer);
    // What the last responses wrote is flushed before their connections go.
    for (const server of this.servers) server.closeIdleConnections();
    await Promise.all([...this.connections].map((socket) => new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.once('close', () => resolve());
      setTimeout(() => socket.destroy(), SHUTDOWN_FLUSH_MS).unref();
      socket.end();
    })));
    await closed;
  }

  private track(request: IncomingMessage, response: ServerResponse | undefined, upgraded: Duplex | undefined): void {
    const controller = new RequestAbort();
    // Keep-alive must not hold a finished request's connection open during shutdown.
    if (this.closing) response?.setHeader('Connection', 'close');
    const done = this.dispatch(request, response, upgraded, controller)
      .catch((error: unknown) => { process.stderr.write(`berthd: ${error instanceof Error ? error.stack : String(error)}\n`); })
      .finally(() => {
        this.inFlight.delete(controller);
        this.onSettled?.();
      });
    this.inFlight.set(controller, done);
    if (this.closing) controller.abort();
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse | undefined, upgraded: Duplex | undefined, controller: RequestAbort): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://berthd');
    let path = url.pathname;
    let version = API_VERSION;
    const versioned = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (versioned) {
      version = versioned[1];
      path = versioned[2];
    }
    const connection = upgraded ?? request.socket;
    const abort = () => controller.abort();
    connection.once('close', abort);
    if (connection.destroyed) abort();
    // Writes to a response whose client left fail through this handler, not as an unhandled 'error'.
    response?.on('error', abort);
    response?.once('close', () => { if (!response.writableFinished) abort(); });
    const context = new ApiRequestContext(request.method ?? 'GET', path, url.searchParams, version, request, response, controller, upgraded);
    const started = Date.now();
    if (this.debug) process.stderr.write(`-> ${context.method} ${url.pathname}${url.search}\n`);
    if (response) {
      response.setHeader('Api-Version', API_VERSION);
      response.setHeader('Docker-Experimental', 'false');
      response.setHeader('Ostype', 'linux');
      response.setHeader('Server', `berthd/${API_VERSION} (linux)`);
    }
    try {
      if (version !== API_VERSION && compareVersions(version, MIN_API_VERSION) < 0) {
        throw badParameter(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      if (version !== API_VERSION && compareVersions(version, API_VERSION) > 0) {
        throw badParameter(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
      }
      const route = this.match(context.method, path, context);
      if (TRACE_ENABLED) await traceOperation(`${context.method} ${routeName(path, context.params)}`, async () => { await route(context); });
      else await route(context);
    } catch (error) {
      this.fail(context, context.hijacked ?? upgraded, context.hijacked !== undefined, error);
    } finally {
      connection.off('close', abort);
      // The session on a taken-over connection is over: the connection goes with it, once its
      // last bytes are out (a client that reads nothing more cannot keep it open).
      const taken = context.hijacked ?? upgraded;
      if (taken) closeSoon(taken);
      if (this.debug) process.stderr.write(`${context.method} ${url.pathname}${url.search} ${Date.now() - started}ms\n`);
    }
  }

  private match(method: string, path: string, context: RequestContext): Handler {
    let pathMatched = false;
    for (const [routeMethod, pattern, handler] of this.routes) {
      const match = pattern.exec(path);
      if (!match) continue;
      pathMatched = true;
      if (routeMethod !== method && !(routeMethod === 'GET' && method === 'HEAD')) continue;
      context.params = match.slice(1).map((part) => decodeURIComponent(part));
      return handler;
    }
    if (pathMatched) throw new MethodNotAllowed();
    throw notFound('page not found');
  }

  private fail(context: RequestContext, raw: Duplex | undefined, hijacked: boolean, error: unknown): void {
    const status = statusOf(error);
    const message = error instanceof Error ? error.message : String(error);
    if (!isEngineError(error) && !(error instanceof MethodNotAllowed)) process.stderr.write(`berthd: ${context.method} ${context.path}: ${error instanceof Error ? error.stack : message}\n`);
    if (raw && hijacked) {
      if (raw.writable) raw.end(`Error: ${message}\n`);
      return;
    }
    if (raw) {
      // An upgrade request refused before the upgrade: a plain HTTP answer on the raw socket.
      if (!raw.writable) return;
      const body = JSON.stringify({ message }) + '\n';
      raw.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    const response = context.response;
    if (!response) return;
    if (response.destroyed || response.writableEnded) return;
    if (response.headersSent) {
      // A stream already under way: Docker ends it with an error message in the stream.
      response.end(JSON.stringify({ errorDetail: { message }, error: message }) + '\n');
      return;
    }
    if (isNotModified(error)) {
      response.writeHead(304);
      response.end();
      return;
    }
    const body = JSON.stringify({ message }) + '\n';
    response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    response.end(body);
  }
}

/** A class, not an object literal: a literal with a getter (signal) is built through the runtime, slowly, on every request. */
class ApiRequestContext implements RequestContext {
  params: string[] = [];
  /** The connection once a route took it over. */
  hijacked: Duplex | undefined;

  constructor(
    readonly method: string, readonly path: string, readonly query: URLSearchParams, readonly version: string,
    readonly request: IncomingMessage, public response: ServerResponse | undefined, private readonly abort: RequestAbort,
    readonly upgradedSocket: Duplex | undefined,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  hijack(contentType = 'application/vnd.docker.raw-stream'): Duplex {
    if (this.hijacked) return this.hijacked;
    const upgraded = this.upgradedSocket;
    if (upgraded) {
      upgraded.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
      this.hijacked = upgraded;
    } else {
      // A client that did not ask to upgrade still gets the raw stream on the same socket.
      const socket = this.request.socket;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nConnection: close\r\n\r\n`);
      this.response = undefined;
      this.hijacked = socket;
    }
    return this.hijacked;
  }
}

/**
 * A request's abort signal, made only when a route asks for it: an AbortController costs more
 * than the rest of a short request (EventTarget set-up), and most routes (inspect, list, ping)
 * never look. Aborted before it is asked for, the signal starts out aborted.
 */
class RequestAbort {
  private controller: AbortController | undefined;
  private aborted = false;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.controller?.abort();
  }
}

/** Ends a taken-over connection and destroys it once flushed, or after a while if the client reads nothing. */
function closeSoon(socket: Duplex): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), HIJACK_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  if (socket.writableFinished) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end();
}

export function compareVersions(a: string, b: string): number {
  const [aMajor, aMinor] = a.split('.').map(Number);
  const [bMajor, bMinor] = b.split('.').map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

/** The request's path with its parameters as {} (`/containers/{}/start`): one trace operation per route. */
function routeName(path: string, params: string[]): string {
  let name = path;
  for (const param of params) {
    if (param === '') continue;
    name = name.replace(param, '{}').replace(encodeURIComponent(param), '{}');
  }
  return name;
}
