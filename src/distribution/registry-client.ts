// A client for the Registry HTTP API v2 (the distribution spec) over Node's own http/https:
// the /v2/ check, manifests, blob downloads and monolithic blob uploads. One instance talks to
// one registry host; requests carry no credentials yet (Bearer/Basic auth comes with login).
// Plain HTTP is used for localhost and 127.0.0.0/8 (Docker's default insecure registries),
// HTTPS for every other registry.
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { MANIFEST_ACCEPT } from './manifest.js';

const MAX_REDIRECTS = 5;
const USER_AGENT = 'berth (registry client)';

/** An error answered by the registry, worded as Docker's errcode package words it. */
export class RegistryError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
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
}

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

export class RegistryClient {
  readonly baseUrl: URL;
  private readonly agent: http.Agent;

  constructor(readonly domain: string) {
    const host = registryHost(domain);
    const secure = !isInsecureByDefault(host);
    this.baseUrl = new URL(`${secure ? 'https' : 'http'}://${host}/`);
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  close(): void {
    this.agent.destroy();
  }

  /** GET /v2/: throws when the registry is unreachable or does not speak API v2. */
  async ping(): Promise<void> {
    const { response } = await this.send('GET', '/v2/');
    const body = await readText(response);
    // 401 means "v2, but log in first": the auth slice handles the challenge.
    if (response.statusCode !== 200 && response.statusCode !== 401) throw errorOf(response.statusCode ?? 0, body);
  }

  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestResponse> {
    const { response } = await this.send('GET', `/v2/${repository}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT.join(', ') }, signal });
    const bytes = await readBuffer(response);
    if (response.statusCode !== 200) throw errorOf(response.statusCode ?? 0, bytes.toString('utf8'));
    return { bytes, contentType: headerOf(response, 'content-type') ?? '', digestHeader: headerOf(response, 'docker-content-digest') };
  }

  /** Streams a blob; redirects (to storage backends) are followed without our headers. */
  async getBlob(repository: string, digest: string, signal?: AbortSignal): Promise<BlobResponse> {
    const { response } = await this.send('GET', `/v2/${repository}/blobs/${digest}`, { signal });
    if (response.statusCode !== 200) throw errorOf(response.statusCode ?? 0, await readText(response));
    const length = headerOf(response, 'content-length');
    return { stream: response, size: length === undefined ? undefined : Number(length) };
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

  /** Monolithic upload: POST /blobs/uploads/ for a session, then PUT the whole blob with ?digest=. */
  async uploadBlob(repository: string, digest: string, size: number, body: () => Readable): Promise<void> {
    const started = await this.send('POST', `/v2/${repository}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
    const startBody = await readText(started.response);
    if (started.response.statusCode !== 202) throw errorOf(started.response.statusCode ?? 0, startBody);
    const location = headerOf(started.response, 'location');
    if (!location) throw new RegistryError(0, '', 'the registry answered the upload request without a Location');
    const target = new URL(location, started.url);
    target.searchParams.set('digest', digest);
    const { response } = await this.send('PUT', target, {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) }, body: body(),
    });
    const text = await readText(response);
    if (response.statusCode !== 201) throw errorOf(response.statusCode ?? 0, text);
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

  private async send(
    method: string, path: string | URL,
    options: { headers?: OutgoingHttpHeaders; body?: Buffer | Readable; signal?: AbortSignal } = {},
  ): Promise<RawResponse> {
    let url = typeof path === 'string' ? new URL(path, this.baseUrl) : path;
    for (let redirects = 0; ; redirects++) {
      const response = await this.once(method, url, options);
      const status = response.statusCode ?? 0;
      const location = headerOf(response, 'location');
      // Only downloads follow redirects; an upload's Location is the next step, not a redirect.
      if ((method === 'GET' || method === 'HEAD') && [301, 302, 303, 307, 308].includes(status) && location && redirects < MAX_REDIRECTS) {
        response.resume();
        url = new URL(location, url);
        // Storage backends get no registry headers (a future Authorization must not leak).
        options = { signal: options.signal };
        continue;
      }
      return { response, url };
    }
  }

  private once(method: string, url: URL, options: { headers?: OutgoingHttpHeaders; body?: Buffer | Readable; signal?: AbortSignal }): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const transport = url.protocol === 'https:' ? https : http;
      const sameHost = url.host === this.baseUrl.host;
      const request = transport.request(url, {
        method,
        headers: { 'User-Agent': USER_AGENT, ...(options.headers ?? {}) },
        agent: sameHost ? this.agent : undefined,
        signal: options.signal,
      }, resolve);
      request.on('error', (error) => reject(connectionError(url, error)));
      const { body } = options;
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
  const wrapped = new Error(`Get "${url.origin}/v2/": ${code === 'ECONNREFUSED' ? `dial tcp ${url.host}: connect: connection refused` : error.message}`);
  return wrapped;
}

function errorOf(status: number, body: string): RegistryError {
  const { code, message } = registryErrorMessage(status, body);
  return new RegistryError(status, code, message);
}

function headerOf(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readText(stream: Readable): Promise<string> {
  return (await readBuffer(stream)).toString('utf8');
}
