// The Engine API's HTTP server: listens on unix sockets and TCP, strips the /vX.Y prefix,
// routes to the per-resource routers, and turns thrown errors into Docker's
// `{"message": ...}` responses. Requests that ask to upgrade the connection (attach, exec
// start) reach their route with a `hijack()` that answers `101 UPGRADED` and hands over
// the raw socket.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { chmod, rm } from 'node:fs/promises';
import { badParameter, isEngineError, isNotModified, notFound } from '../errdefs/errors.js';
import { MethodNotAllowed, statusOf } from './http-status.js';

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

function requireResponse(context: RequestContext): ServerResponse {
  if (!context.response) throw new Error('this connection was hijacked');
  return context.response;
}

// ---- the server ----------------------------------------------------------------------------------

export class ApiServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Duplex>();

  /** `debug` logs each request; a SIGHUP reload may change it. */
  constructor(private readonly routes: RouteTable, public debug = false) {}

  async listen(hosts: string[]): Promise<void> {
    for (const host of hosts) {
      const server = createServer({ keepAliveTimeout: 60_000 }, (request, response) => void this.dispatch(request, response, undefined));
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (head.length) socket.unshift(head);
        void this.dispatch(request, undefined, socket);
      });
      server.on('connection', (socket) => {
        this.connections.add(socket);
        socket.on('close', () => this.connections.delete(socket));
      });
      if (host.startsWith('unix://')) {
        const path = host.slice('unix://'.length);
        await rm(path, { force: true });
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
        await chmod(path, 0o660);
      } else if (host.startsWith('tcp://')) {
        const url = new URL(host.replace(/^tcp:/, 'http:'));
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(url.port || 2375), url.hostname, resolve));
      } else {
        throw new Error(`unsupported host: ${host}`);
      }
      this.servers.push(server);
    }
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await Promise.all(this.servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse | undefined, upgraded: Duplex | undefined): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://berthd');
    let path = url.pathname;
    let version = API_VERSION;
    const versioned = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (versioned) {
      version = versioned[1];
      path = versioned[2];
    }
    const controller = new AbortController();
    const connection = upgraded ?? request.socket;
    connection.once('close', () => controller.abort());
    response?.once('close', () => { if (!response.writableFinished) controller.abort(); });
    let hijacked: Duplex | undefined;
    const context: RequestContext = {
      method: request.method ?? 'GET', path, params: [], query: url.searchParams, version, request, response,
      signal: controller.signal, upgradedSocket: upgraded,
      hijack: (contentType = 'application/vnd.docker.raw-stream') => {
        if (hijacked) return hijacked;
        if (upgraded) {
          upgraded.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
          hijacked = upgraded;
        } else {
          // A client that did not ask to upgrade still gets the raw stream on the same socket.
          const socket = request.socket;
          socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nConnection: close\r\n\r\n`);
          context.response = undefined;
          hijacked = socket;
        }
        return hijacked;
      },
    };
    const started = Date.now();
    if (this.debug) process.stderr.write(`-> ${context.method} ${url.pathname}${url.search}\n`);
    if (response) {
      response.setHeader('Api-Version', API_VERSION);
      response.setHeader('Docker-Experimental', 'false');
      response.setHeader('Ostype', 'linux');
      response.setHeader('Server', `berthd/${API_VERSION} (linux)`);
    }
    try {
      if (compareVersions(version, MIN_API_VERSION) < 0) {
        throw badParameter(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      if (compareVersions(version, API_VERSION) > 0) {
        throw badParameter(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
      }
      const route = this.match(context.method, path, context);
      await route(context);
    } catch (error) {
      this.fail(context, hijacked, error);
    } finally {
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

  private fail(context: RequestContext, hijacked: Duplex | undefined, error: unknown): void {
    const status = statusOf(error);
    const message = error instanceof Error ? error.message : String(error);
    if (!isEngineError(error) && !(error instanceof MethodNotAllowed)) process.stderr.write(`berthd: ${context.method} ${context.path}: ${error instanceof Error ? error.stack : message}\n`);
    if (hijacked) {
      hijacked.end(`Error: ${message}\n`);
      return;
    }
    const response = context.response;
    if (!response) return;
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

export function compareVersions(a: string, b: string): number {
  const [aMajor, aMinor] = a.split('.').map(Number);
  const [bMajor, bMinor] = b.split('.').map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}
