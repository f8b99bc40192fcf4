// The CLI's HTTP/1.1 client, on net.Socket (or tls.connect's): the request line and headers, a
// body of known length or chunked from a stream; the response's status line and headers, a body
// by Content-Length, chunked or to the connection's end; keep-alive across one command's
// requests; and the hijacked connection of attach and exec start (101, or 200 and the raw stream).
//
// Why not node:http: its first request costs a CLI about a third of its own start (docs/
// performance.md, CLI start), for machinery (agents, parsers in C++, outgoing message streams)
// that a client of one daemon, one request at a time per connection, does not use.
import { connect as connectNet, isIP, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type * as Tls from 'node:tls';
import { loadBuiltin } from '../util/builtins.js';
import { traceNow, traceRecord, tracing } from '../util/trace.js';

export type Endpoint = { socketPath: string } | { host: string; port: number };

/** TLS options for tls.connect (PEM material already read). */
export type TlsConnectOptions = Pick<Tls.ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;

export interface Http1Request {
  method: string;
  /** The path with its query string. */
  path: string;
  headers: Record<string, string>;
  /** Sent with Content-Length (bytes) or chunked (a stream). */
  body?: Buffer | Readable;
}

/** A response: its status and headers (names in lower case), and its body as a stream. */
export class HttpResponse extends Readable {
  /** True once the whole body has arrived. */
  complete = false;
  /** Called when the reader wants more: the connection is read again. */
  resumeSource: () => void = () => undefined;

  constructor(
    readonly statusCode: number,
    readonly statusMessage: string,
    readonly headers: Record<string, string>,
  ) {
    super();
  }

  override _read(): void {
    this.resumeSource();
  }
}

/** A hijacked connection: the response's head, and the socket that now carries the raw stream. */
export interface Hijacked {
  response: HttpResponse;
  socket: Socket;
}

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const HEAD_LIMIT = 64 * 1024;
/** Methods that carry a body: one without is sent with Content-Length: 0, as node:http does. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function connectionLost(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

function protocolError(message: string): Error {
  return Object.assign(new Error(`malformed HTTP response: ${message}`), { code: 'HPE_INVALID' });
}

/** Status line and headers; throws on what is not HTTP/1.x. */
function parseHead(text: string): { version: string; status: number; message: string; headers: Record<string, string> } {
  const lines = text.split('\r\n');
  const statusLine = /^HTTP\/(1\.[01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!statusLine) throw protocolError(JSON.stringify((lines[0] ?? '').slice(0, 80)));
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw protocolError(`header ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { version: statusLine[1]!, status: Number(statusLine[2]), message: statusLine[3] ?? '', headers };
}

/** Decodes a chunked body incrementally; `feed` returns the data bytes, `done` once the last chunk and trailers passed. */
export class ChunkedDecoder {
  done = false;
  private pending: Buffer = Buffer.alloc(0);
  /** Data bytes left in the current chunk, then its CRLF (-1: reading a size line). */
  private left = -1;
  private trailers = false;

  /** The body bytes in `data`; what follows the body is returned as `rest`. */
  feed(data: Buffer): { body: Buffer[]; rest: Buffer } {
    const body: Buffer[] = [];
    let buffer = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    this.pending = Buffer.alloc(0);
    while (buffer.length > 0 && !this.done) {
      if (this.left > 0) {
        const take = Math.min(this.left, buffer.length);
        body.push(buffer.subarray(0, take));
        buffer = buffer.subarray(take);
        this.left -= take;
        continue;
      }
      if (this.left === 0) {
        if (buffer.length < 2) break;
        if (buffer[0] !== 0x0d || buffer[1] !== 0x0a) throw protocolError('chunk not followed by CRLF');
        buffer = buffer.subarray(2);
        this.left = -1;
        continue;
      }
      const end = buffer.indexOf('\r\n');
      if (end === -1) {
        if (buffer.length > HEAD_LIMIT) throw protocolError('chunk size line too long');
        break;
      }
      const line = buffer.toString('latin1', 0, end);
      buffer = buffer.subarray(end + 2);
      if (this.trailers) {
        if (line === '') this.done = true;
        continue;
      }
      const size = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line);
      if (!size) throw protocolError(`chunk size ${JSON.stringify(line.slice(0, 40))}`);
      const length = Number.parseInt(size[1]!, 16);
      // The last chunk has no data and no CRLF of its own: trailer lines follow, then an empty line.
      if (length === 0) this.trailers = true;
      else this.left = length;
    }
    if (!this.done) this.pending = Buffer.from(buffer);
    return { body, rest: this.done ? buffer : Buffer.alloc(0) };
  }
}

/** One daemon, a pool of kept-alive connections to it; one request at a time per connection. */
export class Http1Client {
  private readonly idle: Socket[] = [];
  private readonly hostHeader: string;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly tls?: TlsConnectOptions,
  ) {
    this.hostHeader = 'socketPath' in endpoint ? 'localhost' : `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  }

  /** Closes the idle connections (those in use end with their response). */
  close(): void {
    for (const socket of this.idle.splice(0)) socket.destroy();
  }

  /** Sends the request; resolves with the response once its head arrived. */
  request(request: Http1Request): Promise<HttpResponse> {
    return this.exchange(request, false).then(({ response }) => response);
  }

  /**
   * Sends an upgrade request (attach, exec start). A 101, or a 200 that streams without framing
   * (older daemons), hands the socket over, with any bytes that came with the head put back;
   * any other status comes back as a response with its body, and the socket is not kept.
   */
  hijack(request: Http1Request): Promise<Hijacked | HttpResponse> {
    return this.exchange(request, true).then(({ response, socket }) => (socket ? { response, socket } : response));
  }

  private connect(): Socket {
    const traced = tracing() ? traceNow() : undefined;
    let socket: Socket;
    if ('socketPath' in this.endpoint) {
      socket = connectNet({ path: this.endpoint.socketPath });
    } else if (this.tls) {
      const tls = loadBuiltin<typeof Tls>('node:tls');
      const { host, port } = this.endpoint;
      // No SNI for an address (RFC 6066); the certificate is still checked against it.
      const servername = isIP(host) ? undefined : host;
      socket = tls.connect({ host, port, ...(servername ? { servername } : {}), ...this.tls });
    } else {
      socket = connectNet({ host: this.endpoint.host, port: this.endpoint.port });
      socket.setNoDelay(true);
    }
    if (traced !== undefined) socket.once(this.tls ? 'secureConnect' : 'connect', () => traceRecord('api.connect', traceNow() - traced));
    return socket;
  }

  private take(): Socket {
    for (;;) {
      const socket = this.idle.pop();
      if (!socket) return this.connect();
      if (socket.destroyed || !socket.writable || socket.readableEnded) continue;
      socket.removeAllListeners('close').removeAllListeners('end').removeAllListeners('error');
      socket.ref();
      return socket;
    }
  }

  private release(socket: Socket): void {
    socket.removeAllListeners('data').removeAllListeners('close').removeAllListeners('end').removeAllListeners('error');
    if (socket.destroyed || !socket.writable) return;
    // An idle connection neither keeps the CLI alive nor outlives the daemon's closing it.
    socket.unref();
    const drop = (): void => {
      const index = this.idle.indexOf(socket);
      if (index !== -1) this.idle.splice(index, 1);
      socket.destroy();
    };
    socket.once('end', drop).once('close', drop).once('error', drop);
    this.idle.push(socket);
  }

  private exchange(request: Http1Request, upgrade: boolean): Promise<{ response: HttpResponse; socket?: Socket }> {
    return new Promise((resolve, reject) => {
      const socket = this.take();
      let head: Buffer = Buffer.alloc(0);
      let response: HttpResponse | undefined;
      let settled = false;
      let sent = false;
      let reusable = false;
      let remaining = 0;
      let mode: 'length' | 'chunked' | 'close' | 'none' = 'none';
      let chunked: ChunkedDecoder | undefined;

      const fail = (error: Error): void => {
        socket.destroy();
        if (!settled) {
          settled = true;
          reject(error);
        } else if (response && !response.complete) {
          response.destroy(error);
        }
      };
      const finish = (): void => {
        if (!response || response.complete) return;
        response.complete = true;
        response.resumeSource = () => undefined;
        response.push(null);
        if (reusable && sent) this.release(socket);
        else socket.destroy();
      };
      const deliver = (data: Buffer): void => {
        if (!response || data.length === 0) return;
        if (!response.push(data)) socket.pause();
      };
      const onBody = (data: Buffer): void => {
        if (mode === 'close') deliver(data);
        else if (mode === 'length') {
          const take = Math.min(remaining, data.length);
          remaining -= take;
          deliver(data.subarray(0, take));
          if (remaining === 0) finish();
        } else if (mode === 'chunked') {
          const { body } = chunked!.feed(data);
          for (const part of body) deliver(part);
          if (chunked!.done) finish();
        }
      };
      const onHead = (data: Buffer): void => {
        head = head.length > 0 ? Buffer.concat([head, data]) : data;
        const end = head.indexOf(CRLF_CRLF);
        if (end === -1) {
          if (head.length > HEAD_LIMIT) throw protocolError('head too long');
          return;
        }
        const parsed = parseHead(head.toString('latin1', 0, end));
        const rest = head.subarray(end + 4);
        head = Buffer.alloc(0);
        // 100 Continue and the like: the real answer follows.
        if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
          if (rest.length > 0) onHead(rest);
          return;
        }
        response = new HttpResponse(parsed.status, parsed.message, parsed.headers);
        response.resumeSource = () => socket.resume();
        // A reader that gives up on the body (destroy) gives the connection up with it.
        response.once('close', () => {
          if (!response?.complete) socket.destroy();
        });
        const raw = upgrade && (parsed.status === 101 || (parsed.status === 200 && parsed.headers['content-type'] === 'application/vnd.docker.raw-stream'));
        if (raw) {
          socket.removeListener('data', onData).removeListener('end', onEnd).removeListener('close', onEnd).removeListener('error', fail);
          // As node:http hands an upgraded socket over: nothing flows until its reader listens.
          socket.pause();
          if (rest.length > 0) socket.unshift(rest);
          (socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
          response.resumeSource = () => undefined;
          response.complete = true;
          response.push(null);
          settled = true;
          resolve({ response, socket });
          return;
        }
        const encoding = parsed.headers['transfer-encoding'];
        const length = parsed.headers['content-length'];
        const connection = (parsed.headers.connection ?? '').toLowerCase();
        // An upgrade request's connection is never reused, whatever the answer.
        reusable = !upgrade && (parsed.version === '1.1' ? !connection.includes('close') : connection.includes('keep-alive'));
        if (request.method === 'HEAD' || parsed.status === 204 || parsed.status === 304) mode = 'none';
        else if (encoding !== undefined && /(?:^|,)\s*chunked\s*$/i.test(encoding)) {
          mode = 'chunked';
          chunked = new ChunkedDecoder();
        } else if (length !== undefined) {
          if (!/^\d+$/.test(length)) throw protocolError(`Content-Length ${JSON.stringify(length)}`);
          mode = 'length';
          remaining = Number(length);
        } else {
          mode = 'close';
          reusable = false;
        }
        settled = true;
        resolve({ response });
        if (mode === 'none' || (mode === 'length' && remaining === 0)) finish();
        else if (rest.length > 0) onBody(rest);
      };
      const onData = (data: Buffer): void => {
        try {
          if (!response) onHead(data);
          else if (!response.complete) onBody(data);
        } catch (error) {
          fail(error as Error);
        }
      };
      const onEnd = (): void => {
        if (response && mode === 'close' && !response.complete) finish();
        else if (!response || !response.complete) fail(connectionLost());
      };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.on('error', fail);
      // A kept-alive connection may have been left paused by its last response's reader.
      socket.resume();

      try {
        this.send(socket, request, () => {
          sent = true;
          if (response?.complete && reusable) this.release(socket);
        }, fail);
      } catch (error) {
        fail(error as Error);
      }
    });
  }

  /** Writes the request; `sent` once all of it went, `fail` when the body's stream failed. */
  private send(socket: Socket, request: Http1Request, sent: () => void, fail: (error: Error) => void): void {
    let text = `${request.method} ${request.path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n`;
    const headers = { ...request.headers };
    const { body } = request;
    const lower = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
    if (Buffer.isBuffer(body)) {
      if (!lower.has('content-length')) headers['Content-Length'] = String(body.length);
    } else if (body) {
      headers['Transfer-Encoding'] = 'chunked';
    } else if (BODY_METHODS.has(request.method) && !lower.has('content-length')) {
      headers['Content-Length'] = '0';
    }
    for (const [name, value] of Object.entries(headers)) {
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new TypeError(`invalid HTTP header ${JSON.stringify(name)}`);
      text += `${name}: ${value}\r\n`;
    }
    text += '\r\n';
    if (body === undefined || Buffer.isBuffer(body)) {
      socket.write(body && body.length > 0 ? Buffer.concat([Buffer.from(text, 'latin1'), body]) : text, 'latin1', () => sent());
      return;
    }
    socket.write(text, 'latin1');
    void (async () => {
      try {
        for await (const chunk of body) {
          const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
          if (data.length === 0) continue;
          if (socket.destroyed) return;
          socket.write(`${data.length.toString(16)}\r\n`, 'latin1');
          socket.write(data);
          if (!socket.write('\r\n', 'latin1')) await new Promise<void>((resolve) => {
            const done = (): void => {
              socket.off('drain', done).off('close', done);
              resolve();
            };
            socket.on('drain', done).on('close', done);
          });
        }
        if (!socket.destroyed) socket.write('0\r\n\r\n', 'latin1', () => sent());
      } catch (error) {
        fail(error as Error);
      }
    })();
  }
}
