// A small typed client for the Docker Engine API (v1.43) over HTTP/1.1 (./http1.ts), used by the
// berth CLI and by tests. It speaks to unix:// and tcp:// hosts (TLS too), maps daemon errors to
// ClientError and exposes the raw pieces (streams, hijacked sockets) that attach/logs/events need.

import { HostFormatError, parseDockerHost } from '../util/docker-host.js';
import { traced } from '../util/trace.js';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { encodeFilters, encodeQuery, readJsonLines, type Query } from './encoding.js';
import { Http1Client, HttpResponse, type Endpoint, type TlsConnectOptions } from './http1.js';
import type {
  AuthConfig,
  AuthResponse,
  ImageSearchResult,
  ContainerCreateRequest,
  ContainerInspect,
  ContainerSummary,
  EventMessage,
  ImageHistoryItem,
  ImageInspect,
  ImageSummary,
  VersionResponse,
  WaitResponse,
} from '../wire/types.js';

// The encodings are part of this module's interface, as they were before they moved.
export { encodeFilters, encodeQuery, readJsonLines, type Query, type QueryValue } from './encoding.js';
export { HttpResponse } from './http1.js';

export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';
export const API_VERSION = '1.43';

/** The daemon answered with an error status; `message` is worded like the docker CLI's. */
export class ClientError extends Error {
  override name = 'ClientError';
  constructor(
    readonly status: number,
    readonly daemonMessage: string,
  ) {
    super(`Error response from daemon: ${daemonMessage}`);
  }
}

/** The daemon could not be reached at all. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
  constructor(
    readonly host: string,
    override readonly cause?: Error,
  ) {
    super(`Cannot connect to the Docker daemon at ${host}. Is the docker daemon running?`);
  }
}

/** -H flag, else BERTH_HOST, else DOCKER_HOST, else the default socket. */
export function resolveHost(flagHost: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flagHost || env.BERTH_HOST || env.DOCKER_HOST || DEFAULT_HOST;
}

/** unix:///path, tcp://host:port, or a bare host:port / path like docker's ParseHost accepts; tcp's default port is 2376 with TLS. */
export function parseHost(host: string, options: { tls?: boolean } = {}): Endpoint {
  if (host.startsWith('/')) return { socketPath: host };
  const parsed = parseDockerHost(host, options);
  if (parsed.proto === 'unix') return { socketPath: parsed.path };
  if (parsed.proto === 'fd') throw new HostFormatError(`invalid bind address (${host}): fd:// is for the daemon`);
  return { host: parsed.host, port: parsed.port };
}

export interface RequestOptions {
  query?: Query;
  /** A JSON value (sent as application/json), raw bytes, or a stream (e.g. a tar). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** TLS towards a tcp:// daemon (PEM material already read). */
export interface ClientTls {
  /** Trusted CAs (PEM, one or several); without one, the system's. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The client's certificate and key, for a daemon that verifies its clients. */
  cert?: Buffer;
  key?: Buffer;
  /** false: any server certificate is accepted (--tls without --tlsverify, skip-tls-verify). */
  verify: boolean;
}

export interface EngineClientOptions {
  host?: string;
  apiVersion?: string;
  tls?: ClientTls;
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[] | null;
}

export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export interface JsonMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
  time?: number;
  timeNano?: number;
  from?: string;
}

export type SystemInfo = Record<string, unknown>;

function isBodyStream(body: unknown): body is Readable {
  return body instanceof Readable || (typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

function errorFromBody(res: HttpResponse, body: Buffer): ClientError {
  const status = res.statusCode;
  const text = body.toString().trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // Not JSON: Docker's client shows the body as it is.
  }
  if (!message) message = res.statusMessage || `status ${status}`;
  return new ClientError(status, message);
}

export class EngineClient {
  readonly host: string;
  readonly apiVersion: string;
  private readonly endpoint: Endpoint;
  private readonly http: Http1Client;
  /** TLS towards a tcp:// daemon (never for a unix socket). */
  private readonly tls: TlsConnectOptions | undefined;

  constructor(options: EngineClientOptions = {}) {
    this.host = options.host ?? DEFAULT_HOST;
    this.apiVersion = options.apiVersion ?? API_VERSION;
    this.endpoint = parseHost(this.host, { tls: options.tls !== undefined });
    const tls = options.tls && !('socketPath' in this.endpoint) ? options.tls : undefined;
    this.tls = tls && { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify };
    this.http = new Http1Client(this.endpoint, this.tls);
  }

  /** Close idle keep-alive connections (tests call this; the CLI just exits). */
  close(): void {
    this.http.close();
  }

  private fullPath(path: string, query: Query | undefined): string {
    return `/v${this.apiVersion}${path}${encodeQuery(query)}`;
  }

  private connectionError(err: Error): Error {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES' || code === 'ECONNRESET' || code === 'EPIPE') {
      if (code === 'EACCES') {
        return new Error(
          `permission denied while trying to connect to the Docker daemon socket at ${this.host}: ${err.message}`,
        );
      }
      return new ConnectionError(this.host, err);
    }
    // A TLS failure (unknown CA, certificate required, wrong name) says why, as the docker CLI does.
    if (this.tls) return new Error(`error during connect: ${err.message}`);
    return err;
  }

  /** Send a request; resolves with the response once headers arrive; rejects with ClientError on >= 400. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    let payload: Buffer | Readable | undefined;
    if (options.body !== undefined) {
      if (Buffer.isBuffer(options.body)) {
        payload = options.body;
        headers['Content-Type'] ??= 'application/octet-stream';
      } else if (isBodyStream(options.body)) {
        payload = options.body;
        headers['Content-Type'] ??= 'application/x-tar';
      } else {
        payload = Buffer.from(JSON.stringify(options.body));
        headers['Content-Type'] ??= 'application/json';
      }
    }
    return traced(`api.${method}_${routeOf(path)}`, async () => {
      let res: HttpResponse;
      try {
        res = await this.http.request({ method, path: this.fullPath(path, options.query), headers, body: payload });
      } catch (err) {
        throw this.connectionError(err as Error);
      }
      if (res.statusCode >= 400) throw errorFromBody(res, await readAll(res));
      return res;
    });
  }

  /** A request whose response body is JSON (or empty: then undefined). */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, options);
    const body = await readAll(res);
    const text = body.toString();
    if (text.trim() === '') return undefined as T;
    return JSON.parse(text) as T;
  }

  /** A request whose body is not needed (204s, 304s). */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<number> {
    const res = await this.request(method, path, options);
    res.resume();
    await new Promise<void>((resolve) => {
      if (res.complete) resolve();
      else res.once('end', resolve).once('close', resolve);
    });
    return res.statusCode;
  }

  /**
   * Upgrade the connection (`Connection: Upgrade`, `Upgrade: tcp`) as attach and exec start do;
   * resolves with the raw socket once the daemon answered 101. Bytes the daemon sent with the
   * 101 are put back into the socket.
   */
  hijack(path: string, query?: Query, body?: unknown): Promise<Duplex> {
    const headers: Record<string, string> = { Connection: 'Upgrade', Upgrade: 'tcp' };
    let payload: Buffer | undefined;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['Content-Type'] = 'application/json';
    }
    return traced(`api.hijack_${routeOf(path)}`, async () => {
      let answer;
      try {
        answer = await this.http.hijack({ method: 'POST', path: this.fullPath(path, query), headers, body: payload });
      } catch (err) {
        throw this.connectionError(err as Error);
      }
      if (!(answer instanceof HttpResponse)) return answer.socket;
      if (answer.statusCode >= 400) throw errorFromBody(answer, await readAll(answer));
      answer.resume();
      throw new Error(`unexpected response from daemon to an upgrade request: ${answer.statusCode}`);
    });
  }

  // ---- system ----

  async ping(): Promise<{ apiVersion: string | undefined; body: string }> {
    const res = await this.request('GET', '/_ping');
    const body = (await readAll(res)).toString();
    const header = res.headers['api-version'];
    return { apiVersion: Array.isArray(header) ? header[0] : header, body };
  }

  version(): Promise<VersionResponse> {
    return this.json<VersionResponse>('GET', '/version');
  }

  info(): Promise<SystemInfo> {
    return this.json<SystemInfo>('GET', '/info');
  }

  /** The event stream; each item also carries the raw JSON text (timeNano needs all its digits). */
  async events(query: { since?: string; until?: string; filters?: string }): Promise<AsyncGenerator<{ value: EventMessage; raw: string }>> {
    const res = await this.request('GET', '/events', { query });
    return readJsonLines<EventMessage>(res);
  }

  // ---- containers ----

  containerCreate(config: ContainerCreateRequest, query: { name?: string; platform?: string } = {}): Promise<ContainerCreateResponse> {
    return this.json<ContainerCreateResponse>('POST', '/containers/create', { query, body: config });
  }

  containerInspect(id: string, options: { size?: boolean } = {}): Promise<ContainerInspect> {
    return this.json<ContainerInspect>('GET', `/containers/${encodeURIComponent(id)}/json`, { query: { size: options.size } });
  }

  containerList(query: { all?: boolean; limit?: number; size?: boolean; filters?: string } = {}): Promise<ContainerSummary[]> {
    return this.json<ContainerSummary[]>('GET', '/containers/json', { query });
  }

  async containerStart(id: string, query: { detachKeys?: string } = {}): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/start`, { query });
  }

  async containerStop(id: string, query: { t?: number; signal?: string } = {}): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/stop`, { query });
  }

  async containerRestart(id: string, query: { t?: number; signal?: string } = {}): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/restart`, { query });
  }

  async containerKill(id: string, signal?: string): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/kill`, { query: { signal } });
  }

  async containerRemove(id: string, query: { force?: boolean; v?: boolean; link?: boolean } = {}): Promise<void> {
    await this.call('DELETE', `/containers/${encodeURIComponent(id)}`, { query });
  }

  async containerRename(id: string, name: string): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/rename`, { query: { name } });
  }

  async containerResize(id: string, height: number, width: number): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/resize`, { query: { h: height, w: width } });
  }

  /**
   * Start waiting. `headers` resolves once the daemon accepted the wait (Docker flushes the
   * response headers at once, so a start sent after that cannot be missed); `result` resolves
   * at the exit (or removal).
   */
  containerWait(id: string, condition?: 'not-running' | 'next-exit' | 'removed'): { headers: Promise<void>; result: Promise<WaitResponse> } {
    const response = this.request('POST', `/containers/${encodeURIComponent(id)}/wait`, { query: { condition } });
    const result = response.then(async (res) => {
      const text = (await readAll(res)).toString().trim();
      if (!text) throw new Error('unexpected end of wait response');
      return JSON.parse(text) as WaitResponse;
    });
    return { headers: response.then(() => undefined), result };
  }

  /** Logs as a raw stream (multiplexed unless the container has a TTY). */
  containerLogs(
    id: string,
    query: { follow?: boolean; stdout?: boolean; stderr?: boolean; since?: string; until?: string; timestamps?: boolean; tail?: string; details?: boolean },
  ): Promise<HttpResponse> {
    return this.request('GET', `/containers/${encodeURIComponent(id)}/logs`, { query });
  }

  containerAttach(
    id: string,
    query: { stream?: boolean; stdin?: boolean; stdout?: boolean; stderr?: boolean; logs?: boolean; detachKeys?: string },
  ): Promise<Duplex> {
    return this.hijack(`/containers/${encodeURIComponent(id)}/attach`, query);
  }

  // ---- images ----

  imageList(query: { all?: boolean; filters?: string; digests?: boolean } = {}): Promise<ImageSummary[]> {
    return this.json<ImageSummary[]>('GET', '/images/json', { query });
  }

  imageInspect(name: string): Promise<ImageInspect> {
    return this.json<ImageInspect>('GET', `/images/${encodeImageName(name)}/json`);
  }

  imageHistory(name: string): Promise<ImageHistoryItem[]> {
    return this.json<ImageHistoryItem[]>('GET', `/images/${encodeImageName(name)}/history`);
  }

  async imageTag(source: string, repo: string, tag: string): Promise<void> {
    await this.call('POST', `/images/${encodeImageName(source)}/tag`, { query: { repo, tag } });
  }

  imageRemove(name: string, query: { force?: boolean; noprune?: boolean } = {}): Promise<ImageDeleteItem[]> {
    return this.json<ImageDeleteItem[]>('DELETE', `/images/${encodeImageName(name)}`, { query });
  }

  /** POST /images/create: pull (fromImage) or import (fromSrc); the body is a progress stream. */
  async imageCreate(
    query: { fromImage?: string; fromSrc?: string; repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string },
    body?: Readable | Buffer,
  ): Promise<AsyncGenerator<{ value: JsonMessage; raw: string }>> {
    const res = await this.request('POST', '/images/create', { query, body });
    return readJsonLines<JsonMessage>(res);
  }

  /** POST /build with the context tar (or nothing, for a remote context); the answer is the builder's message stream. */
  async imageBuild(query: Record<string, string | string[] | undefined>, body?: Readable): Promise<AsyncGenerator<{ value: JsonMessage; raw: string }>> {
    const res = await this.request('POST', '/build', { query, body, headers: { 'Content-Type': 'application/x-tar' } });
    return readJsonLines<JsonMessage>(res);
  }

  /** POST /commit: the container's changes as a new image. */
  containerCommit(query: Record<string, string | string[] | undefined>, config?: import('../wire/types.js').ContainerConfig): Promise<{ Id: string }> {
    return this.json('POST', '/commit', { query, body: config ?? null });
  }

  // ---- registries ----

  /** POST /auth: the daemon checks the credentials against the registry. */
  registryLogin(auth: AuthConfig): Promise<AuthResponse> {
    return this.json<AuthResponse>('POST', '/auth', { body: auth });
  }

  /** GET /images/search; registryAuth is the X-Registry-Auth value (base64url JSON). */
  imageSearch(term: string, options: { limit?: number; filters?: string; registryAuth?: string } = {}): Promise<ImageSearchResult[]> {
    const headers: Record<string, string> = options.registryAuth ? { 'X-Registry-Auth': options.registryAuth } : {};
    return this.json<ImageSearchResult[]>('GET', '/images/search', { query: { term, limit: options.limit || undefined, filters: options.filters }, headers });
  }

  // ---- process control: pause, unpause, top, stats, update ----

  async containerPause(id: string): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/pause`);
  }

  async containerUnpause(id: string): Promise<void> {
    await this.call('POST', `/containers/${encodeURIComponent(id)}/unpause`);
  }

  /** GET /containers/{id}/top; the ps arguments are joined with spaces, as the docker CLI sends them. */
  containerTop(id: string, psArgs: string[] = []): Promise<import('../wire/types.js').ContainerTopResponse> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/top`, { query: { ps_args: psArgs.length > 0 ? psArgs.join(' ') : undefined } });
  }

  /** GET /containers/{id}/stats: one JSON value per line (one in all with stream=false). */
  async containerStats(id: string, options: { stream: boolean; oneShot?: boolean }): Promise<AsyncGenerator<{ value: import('../wire/types.js').ContainerStatsResponse; raw: string }>> {
    const res = await this.request('GET', `/containers/${encodeURIComponent(id)}/stats`, {
      query: { stream: options.stream ? '1' : '0', 'one-shot': options.oneShot ? '1' : undefined },
    });
    return readJsonLines(res);
  }

  containerUpdate(id: string, update: import('../wire/types.js').ContainerUpdateRequest): Promise<import('../wire/types.js').ContainerUpdateResponse> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/update`, { body: update });
  }

  // ---- image archives and prune ----

  /** GET /images/get?names=...: the tar stream of `docker save`. */
  imageSave(names: string[]): Promise<HttpResponse> {
    return this.request('GET', '/images/get', { query: { names } });
  }

  /** POST /images/load with a tar body; the answer is a JSON message stream (its last message may be an error). */
  async imageLoad(body: Readable, quiet: boolean): Promise<AsyncGenerator<{ value: JsonMessage; raw: string }>> {
    const res = await this.request('POST', '/images/load', { query: { quiet: quiet ? '1' : '0' }, body, headers: { 'Content-Type': 'application/x-tar' } });
    return readJsonLines<JsonMessage>(res);
  }

  /** POST /images/prune; filters is the API's filters JSON. */
  imagePrune(filters: string | undefined): Promise<import('../wire/types.js').ImagePruneReport> {
    return this.json('POST', '/images/prune', { query: { filters } });
  }

  /** POST /containers/prune; filters is the API's filters JSON. */
  containerPrune(filters: string | undefined): Promise<import('../wire/types.js').ContainerPruneReport> {
    return this.json('POST', '/containers/prune', { query: { filters } });
  }

  // ---- volumes ----

  volumeCreate(options: import('../wire/types.js').VolumeCreateOptions): Promise<import('../wire/types.js').Volume> {
    return this.json('POST', '/volumes/create', { body: options });
  }

  volumeList(filters: string | undefined): Promise<{ Volumes: import('../wire/types.js').Volume[] | null; Warnings: string[] | null }> {
    return this.json('GET', '/volumes', { query: { filters } });
  }

  volumeInspect(name: string): Promise<import('../wire/types.js').Volume> {
    return this.json('GET', `/volumes/${encodeURIComponent(name)}`);
  }

  async volumeRemove(name: string, force: boolean): Promise<void> {
    await this.call('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: force || undefined } });
  }

  volumePrune(filters: string | undefined): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }> {
    return this.json('POST', '/volumes/prune', { query: { filters } });
  }

  // ---- networks ----

  networkCreate(request: import('../wire/network.js').NetworkCreateRequest): Promise<import('../wire/network.js').NetworkCreateResponse> {
    return this.json('POST', '/networks/create', { body: request });
  }

  networkList(filters: string | undefined): Promise<import('../wire/network.js').NetworkResource[]> {
    return this.json('GET', '/networks', { query: { filters } });
  }

  networkInspect(name: string, verbose = false): Promise<import('../wire/network.js').NetworkResource> {
    return this.json('GET', `/networks/${encodeURIComponent(name)}`, { query: { verbose: verbose || undefined } });
  }

  async networkRemove(name: string): Promise<void> {
    await this.call('DELETE', `/networks/${encodeURIComponent(name)}`);
  }

  networkPrune(filters: string | undefined): Promise<import('../wire/network.js').NetworkPruneReport> {
    return this.json('POST', '/networks/prune', { query: { filters } });
  }

  async networkConnect(name: string, request: import('../wire/network.js').NetworkConnectRequest): Promise<void> {
    await this.call('POST', `/networks/${encodeURIComponent(name)}/connect`, { body: request });
  }

  async networkDisconnect(name: string, request: import('../wire/network.js').NetworkDisconnectRequest): Promise<void> {
    await this.call('POST', `/networks/${encodeURIComponent(name)}/disconnect`, { body: request });
  }

  // ---- container files ----

  /** HEAD /containers/{id}/archive: the stat of a path in the container (ClientError 404 when missing). */
  async containerStatPath(id: string, path: string): Promise<import('../wire/types.js').ContainerPathStat> {
    const res = await this.request('HEAD', `/containers/${encodeURIComponent(id)}/archive`, { query: { path } });
    res.resume();
    return decodePathStatHeader(res);
  }

  /** GET /containers/{id}/archive: a tar of the path, with its stat. */
  async containerArchive(id: string, path: string): Promise<{ stat: import('../wire/types.js').ContainerPathStat; content: HttpResponse }> {
    const res = await this.request('GET', `/containers/${encodeURIComponent(id)}/archive`, { query: { path } });
    try {
      return { stat: decodePathStatHeader(res), content: res };
    } catch (err) {
      res.destroy();
      throw new Error(`unable to get resource stat from response: ${(err as Error).message}`);
    }
  }

  /** PUT /containers/{id}/archive: a tar extracted into the directory `path` of the container. */
  async containerPutArchive(id: string, path: string, content: Readable, options: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {}): Promise<void> {
    await this.call('PUT', `/containers/${encodeURIComponent(id)}/archive`, {
      query: { path, noOverwriteDirNonDir: options.noOverwriteDirNonDir ? 'true' : undefined, copyUIDGID: options.copyUIDGID ? 'true' : undefined },
      body: content,
      headers: { 'Content-Type': 'application/x-tar' },
    });
  }

  /** GET /containers/{id}/changes (the daemon sends null for none). */
  async containerChanges(id: string): Promise<import('../wire/types.js').FilesystemChange[]> {
    return (await this.json<import('../wire/types.js').FilesystemChange[] | null>('GET', `/containers/${encodeURIComponent(id)}/changes`)) ?? [];
  }

  /** GET /containers/{id}/export: the container's root filesystem as a tar stream. */
  containerExport(id: string): Promise<HttpResponse> {
    return this.request('GET', `/containers/${encodeURIComponent(id)}/export`);
  }

  // ---- exec ----

  execCreate(container: string, config: import('../wire/types.js').ExecCreateRequest): Promise<{ Id: string }> {
    return this.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(container)}/exec`, { body: config });
  }

  /** POST /exec/{id}/start with Detach: returns once the process runs. */
  async execStartDetached(id: string, options: { Tty?: boolean; ConsoleSize?: [number, number] | null } = {}): Promise<void> {
    await this.call('POST', `/exec/${encodeURIComponent(id)}/start`, { body: { Detach: true, ...options } });
  }

  /** POST /exec/{id}/start, hijacked: the socket carries the session (multiplexed unless Tty). */
  execAttach(id: string, options: { Tty?: boolean; ConsoleSize?: [number, number] | null } = {}): Promise<Duplex> {
    return this.hijack(`/exec/${encodeURIComponent(id)}/start`, undefined, { Detach: false, ...options });
  }

  execInspect(id: string): Promise<import('../wire/types.js').ExecInspectResponse> {
    return this.json<import('../wire/types.js').ExecInspectResponse>('GET', `/exec/${encodeURIComponent(id)}/json`);
  }

  async execResize(id: string, height: number, width: number): Promise<void> {
    await this.call('POST', `/exec/${encodeURIComponent(id)}/resize`, { query: { h: height, w: width } });
  }
}

/** The X-Docker-Container-Path-Stat header: base64 of the stat's JSON. */
function decodePathStatHeader(res: HttpResponse): import('../wire/types.js').ContainerPathStat {
  const header = res.headers['x-docker-container-path-stat'];
  const text = Buffer.from(Array.isArray(header) ? header[0] ?? '' : header ?? '', 'base64').toString('utf8');
  try {
    return JSON.parse(text) as import('../wire/types.js').ContainerPathStat;
  } catch (err) {
    throw new Error(`unable to decode container path stat header: ${(err as Error).message}`);
  }
}

/** Image names keep their "/" and ":" in the path as Docker's client sends them. */
function encodeImageName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/').replace(/%3A/gi, ':').replace(/%40/g, '@');
}

/** The API path with its names and IDs as {}: one trace phase per route. */
function routeOf(path: string): string {
  return path.replace(/^\/(containers|exec|images|volumes|networks|plugins|distribution)\/(?!(?:json|create|prune|load|get|search)(?:$|\/))[^/]+/, '/$1/{}');
}
