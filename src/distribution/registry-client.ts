// A client for the Registry HTTP API v2 (the distribution spec) over Node's own http/https:
// the /v2/ check, manifests, tag lists, blob downloads (resumable with Range), blob uploads
// (one PUT, or chunked PATCHes for big blobs) and cross-repository mounts. One instance talks to
// one registry: ping() picks the first of its candidate endpoints that answers (HTTPS, then
// plain HTTP for an insecure registry; see registry-hosts.ts) and learns the registry's auth
// challenge; every later request carries the Authorization that auth.ts derives from it
// (Basic, or a Bearer token for the client's scopes), and a 401 is retried once when it asks
// for something new. Without endpoints, plain HTTP is used for localhost and 127.0.0.0/8,
// HTTPS for every other registry.
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type * as Https from 'node:https';
import { loadBuiltin } from '../util/builtins.js';
import type { Readable } from 'node:stream';
import type { AuthConfig } from '../wire/types.js';
import { RegistryAuthenticator, RegistryAuthError, type TokenCache } from './auth.js';
import { MANIFEST_ACCEPT } from '../images/manifest.js';
import type { RegistryEndpoint } from './registry-hosts.js';

const MAX_REDIRECTS = 5;
const USER_AGENT = 'berth (registry client)';

/** An error answered by the registry, worded as Docker's errcode package words it. */
export class RegistryError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }

  get notFound(): boolean {
    return this.status === 404;
  }

  /** A server error, a timeout or throttling: worth another attempt; a refusal (4xx) is not. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

/** The registry could not be reached (refused, TLS failure...): the next endpoint may do. */
export class RegistryConnectionError extends Error {}

export interface RegistryClientOptions {
  /** Candidates in order; ping() settles on the first that answers. */
  endpoints?: RegistryEndpoint[];
  credentials?: AuthConfig;
  /** Token scopes every request asks for (repository:NAME:pull, ...). */
  scopes?: string[];
  tokens?: TokenCache;
  /** Ask the token server for a refresh token (docker login). */
  offlineAccess?: boolean;
}

export interface ManifestResponse {
  bytes: Buffer;
  contentType: string;
  /** The Docker-Content-Digest header, when the registry sent one. */
  digestHeader: string | undefined;
}

export interface BlobResponse {
  stream: Readable;
  /** Content-Length, when known. */
  size: number | undefined;
  /** The answer to a Range request holds the rest of the blob only (206). */
  partial: boolean;
}

/** Blobs larger than this go up in chunks (PATCH with Content-Range), smaller ones in one PUT. */
export const CHUNKED_UPLOAD_THRESHOLD = 16 * 1024 * 1024;
export const UPLOAD_CHUNK_SIZE = 16 * 1024 * 1024;

/** The bytes [start, end) of a blob being uploaded, as a fresh stream. */
export type BlobSource = (start: number, end: number) => Readable;

/** What a cross-repository mount request gave: the blob, or an upload session to send it in. */
export type MountResult = { mounted: true } | { mounted: false; session: URL };

/** The host[:port] to talk to for a reference's domain (Docker Hub's API lives elsewhere). */
export function registryHost(domain: string): string {
  return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
}

/** True for hosts Docker talks plain HTTP to by default: localhost, ::1 and 127.0.0.0/8. */
export function isInsecureByDefault(host: string): boolean {
  const hostname = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return hostname === 'localhost' || hostname === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Docker's wording of a registry error body ({"errors":[{"code","message"}]}), or of a bare status. */
export function registryErrorMessage(status: number, body: string): { code: string; message: string } {
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = parsed.errors?.[0];
    if (first && typeof first.code === 'string') {
      const codeText = first.code.toLowerCase().replace(/_/g, ' ');
      const message = typeof first.message === 'string' && first.message !== '' ? first.message : codeText;
      return { code: first.code, message: `${codeText}: ${message}` };
    }
  } catch {
    // Not the registry's JSON error format.
  }
  return { code: '', message: `received unexpected HTTP status: ${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd() };
}

interface RawResponse { response: IncomingMessage; url: URL }

/** A request body; a function makes a fresh stream, so that the request can be sent again after a 401. */
type RequestBody = Buffer | Readable | (() => Readable);

interface SendOptions { headers?: OutgoingHttpHeaders; body?: RequestBody; signal?: AbortSignal; anonymous?: boolean }

export class RegistryClient {
  /** The endpoint in use: the first candidate until ping() has chosen. */
  baseUrl: URL;
  private agent: http.Agent;
  private readonly endpoints: RegistryEndpoint[];
  private readonly options: RegistryClientOptions;
  private auth: RegistryAuthenticator;

  constructor(readonly domain: string, options: RegistryClientOptions = {}) {
    this.options = options;
    this.endpoints = options.endpoints && options.endpoints.length > 0 ? options.endpoints : [defaultEndpoint(domain)];
    this.baseUrl = new URL(this.endpoints[0]!.url.origin + '/');
    this.agent = agentFor(this.endpoints[0]!);
    this.auth = this.authenticatorFor(this.endpoints[0]!);
  }

  close(): void {
    this.agent.destroy();
  }

  /** The refresh token the registry's token server gave (docker login's IdentityToken). */
  get refreshToken(): string | undefined {
    return this.auth.refreshToken;
  }

  /**
   * GET /v2/ without credentials: throws when the registry is unreachable or does not speak
   * API v2; a 401 is the registry's auth challenge, kept for the requests that follow.
   * Moves on to the next candidate endpoint only when one cannot be reached.
   */
  async ping(): Promise<void> {
    for (let index = 0; ; index++) {
      const endpoint = this.endpoints[index]!;
      if (index > 0) this.use(endpoint);
      let response: IncomingMessage;
      try {
        ({ response } = await this.send('GET', '/v2/', { anonymous: true }));
      } catch (error) {
        if (error instanceof RegistryConnectionError && index + 1 < this.endpoints.length) continue;
        throw error;
      }
      const body = await readText(response);
      if (response.statusCode === 401) this.auth.observe(response.headers['www-authenticate']);
      else if (response.statusCode !== 200) throw errorOf(response.statusCode ?? 0, body);
      return;
    }
  }

  /** The status of GET /v2/ with credentials (200 when they are accepted): docker login's check. */
  async checkAccess(): Promise<number> {
    const { response } = await this.send('GET', '/v2/');
    response.resume();
    return response.statusCode ?? 0;
  }

  /** GET /v2/_catalog, following its Link pages up to `max` names. */
  async catalog(max = 10_000): Promise<string[]> {
    const names: string[] = [];
    let next: string | URL = '/v2/_catalog?n=1000';
    for (let page = 0; page < 100 && names.length < max; page++) {
      const { response, url } = await this.send('GET', next);
      const text = await readText(response);
      if (response.statusCode !== 200) throw errorOf(response.statusCode ?? 0, text);
      const parsed = JSON.parse(text) as { repositories?: unknown };
      if (Array.isArray(parsed.repositories)) names.push(...parsed.repositories.filter((name): name is string => typeof name === 'string'));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(headerOf(response, 'link') ?? '');
      if (!link) break;
      next = new URL(link[1]!, url);
    }
    return names.slice(0, max);
  }

  private use(endpoint: RegistryEndpoint): void {
    this.agent.destroy();
    this.baseUrl = new URL(endpoint.url.origin + '/');
    this.agent = agentFor(endpoint);
    this.auth = this.authenticatorFor(endpoint);
  }

  private authenticatorFor(endpoint: RegistryEndpoint): RegistryAuthenticator {
    const { credentials, scopes, tokens, offlineAccess } = this.options;
    return new RegistryAuthenticator({ credentials, scopes, tokens, offlineAccess, insecureTls: endpoint.insecureTls, userAgent: USER_AGENT });
  }

  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestResponse> {
    const { response } = await this.send('GET', `/v2/${repository}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT.join(', ') }, signal });
    const bytes = await readBuffer(response);
    if (response.statusCode !== 200) throw errorOf(response.statusCode ?? 0, bytes.toString('utf8'));
    return { bytes, contentType: headerOf(response, 'content-type') ?? '', digestHeader: headerOf(response, 'docker-content-digest') };
  }

  /**
   * Streams a blob; redirects (to storage backends) are followed without our headers. From
   * `offset` on, a download resumes with a Range request: `partial` tells whether the registry
   * honoured it (206) or sent the whole blob again (200).
   */
  async getBlob(repository: string, digest: string, signal?: AbortSignal, offset = 0): Promise<BlobResponse> {
    const headers = offset > 0 ? { Range: `bytes=${offset}-` } : undefined;
    const { response } = await this.send('GET', `/v2/${repository}/blobs/${digest}`, { headers, signal });
    const status = response.statusCode ?? 0;
    if (status !== 200 && status !== 206) throw errorOf(status, await readText(response));
    const length = headerOf(response, 'content-length');
    return { stream: response, size: length === undefined ? undefined : Number(length), partial: status === 206 };
  }

  async getBlobBuffer(repository: string, digest: string, signal?: AbortSignal): Promise<Buffer> {
    const { stream } = await this.getBlob(repository, digest, signal);
    return readBuffer(stream);
  }

  /** HEAD of a blob: its size when the repository has it, undefined when not. */
  async blobExists(repository: string, digest: string): Promise<boolean> {
    const { response } = await this.send('HEAD', `/v2/${repository}/blobs/${digest}`);
    response.resume();
    if (response.statusCode === 200) return true;
    if (response.statusCode === 404) return false;
    throw errorOf(response.statusCode ?? 0, '');
  }

  /** POST /blobs/uploads/: a new upload session, as its URL. */
  async startUpload(repository: string): Promise<URL> {
    const started = await this.send('POST', `/v2/${repository}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
    const text = await readText(started.response);
    if (started.response.statusCode !== 202) throw errorOf(started.response.statusCode ?? 0, text);
    return uploadLocation(started);
  }

  /**
   * Cross-repository mount: POST /blobs/uploads/?mount=<digest>&from=<repository>. 201: the
   * registry linked the blob; 202: it could not, and opened an upload session instead.
   */
  async mountBlob(repository: string, digest: string, from: string): Promise<MountResult> {
    const query = new URLSearchParams({ mount: digest, from });
    const answer = await this.send('POST', `/v2/${repository}/blobs/uploads/?${query.toString()}`, { headers: { 'Content-Length': '0' } });
    const text = await readText(answer.response);
    if (answer.response.statusCode === 201) return { mounted: true };
    if (answer.response.statusCode !== 202) throw errorOf(answer.response.statusCode ?? 0, text);
    return { mounted: false, session: uploadLocation(answer) };
  }

  /**
   * Uploads a blob in `session` (a new one when not given): up to CHUNKED_UPLOAD_THRESHOLD
   * bytes in one PUT ?digest=; larger blobs in PATCHes of UPLOAD_CHUNK_SIZE bytes, each with
   * its Content-Range, following the Location every answer gives, then an empty PUT ?digest=.
   */
  async uploadBlob(repository: string, digest: string, size: number, source: BlobSource, session?: URL, signal?: AbortSignal): Promise<void> {
    let location = session ?? await this.startUpload(repository);
    let length = size;
    let body: (() => Readable) | undefined = () => source(0, size);
    if (size > CHUNKED_UPLOAD_THRESHOLD) {
      for (let start = 0; start < size; start += UPLOAD_CHUNK_SIZE) {
        const end = Math.min(start + UPLOAD_CHUNK_SIZE, size);
        const patched = await this.send('PATCH', location, {
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end - 1}`, 'Content-Length': String(end - start) },
          body: () => source(start, end), signal,
        });
        const text = await readText(patched.response);
        if (patched.response.statusCode !== 202) throw errorOf(patched.response.statusCode ?? 0, text);
        location = uploadLocation(patched);
      }
      length = 0;
      body = undefined;
    }
    const target = new URL(location);
    target.searchParams.set('digest', digest);
    const { response } = await this.send('PUT', target, {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length) }, body, signal,
    });
    const text = await readText(response);
    if (response.statusCode !== 201) throw errorOf(response.statusCode ?? 0, text);
  }

  /** DELETE of an upload session that will not be used (best effort). */
  async cancelUpload(session: URL): Promise<void> {
    try {
      const { response } = await this.send('DELETE', session);
      response.resume();
    } catch {
      // The registry drops abandoned sessions on its own.
    }
  }

  /** GET /v2/<name>/tags/list, following its Link pages. */
  async listTags(repository: string, signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let next: string | URL = `/v2/${repository}/tags/list`;
    for (let page = 0; page < 1000; page++) {
      const { response, url } = await this.send('GET', next, { signal });
      const text = await readText(response);
      if (response.statusCode !== 200) throw errorOf(response.statusCode ?? 0, text);
      const parsed = JSON.parse(text) as { tags?: unknown };
      if (Array.isArray(parsed.tags)) tags.push(...parsed.tags.filter((tag): tag is string => typeof tag === 'string'));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(headerOf(response, 'link') ?? '');
      if (!link) break;
      next = new URL(link[1]!, url);
    }
    return tags;
  }

  /** PUT a manifest under a tag (or digest); returns the registry's digest of it, if it sent one. */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<string | undefined> {
    const { response } = await this.send('PUT', `/v2/${repository}/manifests/${reference}`, {
      headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) }, body: bytes,
    });
    const text = await readText(response);
    if (response.statusCode !== 201) throw errorOf(response.statusCode ?? 0, text);
    return headerOf(response, 'docker-content-digest');
  }

  private async send(method: string, path: string | URL, options: SendOptions = {}): Promise<RawResponse> {
    let url = typeof path === 'string' ? new URL(path, this.baseUrl) : path;
    let retried = false;
    for (let redirects = 0; ; redirects++) {
      // Credentials go to the registry only, never to a storage backend it redirects to.
      const authorization = !options.anonymous && url.host === this.baseUrl.host ? await this.authorize(method, url) : undefined;
      const response = await this.once(method, url, { ...options, headers: { ...(options.headers ?? {}), ...(authorization ? { Authorization: authorization } : {}) } });
      const status = response.statusCode ?? 0;
      if (status === 401 && !options.anonymous && !retried && url.host === this.baseUrl.host && isReplayable(options.body)) {
        const changed = this.auth.observe(response.headers['www-authenticate']);
        if (changed || this.auth.invalidate(url, authorization)) {
          retried = true;
          redirects--;
          response.resume();
          continue;
        }
      }
      const location = headerOf(response, 'location');
      // Only downloads follow redirects; an upload's Location is the next step, not a redirect.
      if ((method === 'GET' || method === 'HEAD') && [301, 302, 303, 307, 308].includes(status) && location && redirects < MAX_REDIRECTS) {
        response.resume();
        url = new URL(location, url);
        // Storage backends get no registry headers (the Authorization must not leak), but a
        // resumed download keeps its Range.
        const range = options.headers?.Range;
        options = { signal: options.signal, ...(range ? { headers: { Range: range } } : {}) };
        continue;
      }
      return { response, url };
    }
  }

  /** The Authorization for a request; an auth failure is worded as Go's url.Error wraps it ("Get \"<url>\": ..."). */
  private async authorize(method: string, url: URL): Promise<string | undefined> {
    try {
      return await this.auth.authorize(url);
    } catch (error) {
      if (!(error instanceof RegistryAuthError)) throw error;
      throw new RegistryError(error.status, error.code, `${method.charAt(0)}${method.slice(1).toLowerCase()} "${url.href}": ${error.message}`);
    }
  }

  private once(method: string, url: URL, options: SendOptions): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      // node:https (and tls) only once a registry is reached over TLS.
      const transport = url.protocol === 'https:' ? loadBuiltin<typeof Https>('node:https') : http;
      const sameHost = url.host === this.baseUrl.host;
      const request = transport.request(url, {
        method,
        headers: { 'User-Agent': USER_AGENT, ...(options.headers ?? {}) },
        agent: sameHost ? this.agent : undefined,
        signal: options.signal,
      }, resolve);
      request.on('error', (error) => reject(connectionError(url, error)));
      const body = typeof options.body === 'function' ? options.body() : options.body;
      if (body === undefined) request.end();
      else if (Buffer.isBuffer(body)) request.end(body);
      else {
        body.on('error', (error) => request.destroy(error));
        body.pipe(request);
      }
    });
  }
}

function connectionError(url: URL, error: Error): Error {
  if (error.name === 'AbortError') return error;
  const code = (error as NodeJS.ErrnoException).code;
  // An HTTPS request answered in plain HTTP fails the TLS handshake; Go words it so.
  const plainHttp = url.protocol === 'https:' && (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/.test(error.message));
  const reason = code === 'ECONNREFUSED' ? `dial tcp ${url.host}: connect: connection refused`
    : plainHttp ? 'http: server gave HTTP response to HTTPS client' : error.message;
  return new RegistryConnectionError(`Get "${url.origin}/v2/": ${reason}`);
}

function defaultEndpoint(domain: string): RegistryEndpoint {
  const host = registryHost(domain);
  const secure = !isInsecureByDefault(host);
  return { url: new URL(`${secure ? 'https' : 'http'}://${host}/`), insecureTls: false, mirror: false, official: domain === 'docker.io' };
}

function agentFor(endpoint: RegistryEndpoint): http.Agent {
  return endpoint.url.protocol === 'https:'
    ? new (loadBuiltin<typeof Https>('node:https').Agent)({ keepAlive: true, rejectUnauthorized: !endpoint.insecureTls })
    : new http.Agent({ keepAlive: true });
}

function isReplayable(body: RequestBody | undefined): boolean {
  return body === undefined || Buffer.isBuffer(body) || typeof body === 'function';
}

function errorOf(status: number, body: string): RegistryError {
  const { code, message } = registryErrorMessage(status, body);
  return new RegistryError(status, code, message);
}

/** The Location of an upload answer (the session's next URL), resolved against the request's URL. */
function uploadLocation({ response, url }: RawResponse): URL {
  const location = headerOf(response, 'location');
  if (!location) throw new RegistryError(0, '', 'the registry answered the upload request without a Location');
  return new URL(location, url);
}

function headerOf(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Manifests, configs and error bodies are read whole: a registry may not make us hold more (containerd's limit). */
const MAX_BUFFERED_BODY = 4 * 1024 * 1024;

async function readBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > MAX_BUFFERED_BODY) {
      stream.destroy();
      throw new Error(`the registry's answer is larger than the ${MAX_BUFFERED_BODY} bytes a manifest or config may have`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readText(stream: Readable): Promise<string> {
  return (await readBuffer(stream)).toString('utf8');
}
