// The CLI's HTTP/1.1 client (src/client/http1.ts) against node:http's server and against raw
// sockets that write responses byte by byte: bodies by length, chunked and to the end, keep-alive,
// streamed request bodies, upgrades (101, and 200 with the raw stream), and a connection lost
// mid-body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ChunkedDecoder, Http1Client, HttpResponse } from '../../src/client/http1.js';

async function text(stream: Readable): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += (chunk as Buffer).toString();
  return out;
}

async function listen(t: { after: (fn: () => void) => void }, server: Server | http.Server): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-http1-'));
  const socketPath = join(dir, 's.sock');
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return socketPath;
}

/** A server that answers every request on a connection with `reply`, one byte per write. */
function rawServer(reply: (request: string, socket: Socket) => void): Server {
  return createServer((socket) => {
    let pending = '';
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      const request = pending.slice(0, end);
      pending = pending.slice(end + 4);
      reply(request, socket);
    });
    socket.on('error', () => undefined);
  });
}

function byteByByte(socket: Socket, data: string, then?: () => void): void {
  const bytes = Buffer.from(data, 'latin1');
  let index = 0;
  const next = (): void => {
    if (socket.destroyed) return;
    if (index === bytes.length) {
      then?.();
      return;
    }
    socket.write(bytes.subarray(index, ++index), () => setImmediate(next));
  };
  next();
}

test('chunked decoding: sizes with extensions, trailers, any split', () => {
  const wire = '5;name=x\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: yes\r\n\r\nNEXT';
  for (const step of [1, 2, 3, 7, wire.length]) {
    const decoder = new ChunkedDecoder();
    let body = '';
    let rest = '';
    for (let i = 0; i < wire.length; i += step) {
      const out = decoder.feed(Buffer.from(wire.slice(i, i + step), 'latin1'));
      body += out.body.map((part) => part.toString()).join('');
      rest += out.rest.toString();
      if (decoder.done) break;
    }
    assert.equal(body, 'hello world!', `split every ${step}`);
    assert.ok(decoder.done);
  }
  assert.throws(() => new ChunkedDecoder().feed(Buffer.from('zz\r\n')), /chunk size/);
});

test('node:http server: JSON, 204, HEAD, chunked streams, stream bodies; one kept-alive connection', async (t) => {
  const connections = new Set<Socket>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/count') {
        res.writeHead(200);
        res.end(`${req.headers['transfer-encoding']} ${Buffer.byteLength(body, 'latin1')} ${body.endsWith('end') ? 'end' : 'cut'}`);
      } else if (req.url === '/empty') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/stream') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"a":1}\n');
        setTimeout(() => res.end('{"b":2}\n'), 20);
      } else {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Seen': `${req.method} ${req.headers['transfer-encoding'] ?? req.headers['content-length'] ?? '-'}` });
        res.end(req.method === 'HEAD' ? undefined : `echo:${body}`);
      }
    });
  });
  server.on('connection', (socket: Socket) => connections.add(socket));
  const client = new Http1Client({ socketPath: await listen(t, server) });
  t.after(() => client.close());

  const posted = await client.request({ method: 'POST', path: '/x', headers: { 'Content-Type': 'application/json' }, body: Buffer.from('{"k":true}') });
  assert.equal(posted.statusCode, 200);
  assert.equal(posted.statusMessage, 'OK');
  assert.equal(posted.headers['x-seen'], 'POST 10');
  assert.equal(await text(posted), 'echo:{"k":true}');

  const empty = await client.request({ method: 'POST', path: '/empty', headers: {} });
  assert.equal(empty.statusCode, 204);
  assert.equal(await text(empty), '');

  const head = await client.request({ method: 'HEAD', path: '/x', headers: {} });
  assert.equal(head.headers['x-seen'], 'HEAD -');
  assert.equal(await text(head), '');

  const streamed = await client.request({ method: 'GET', path: '/stream', headers: {} });
  assert.equal(await text(streamed), '{"a":1}\n{"b":2}\n');

  const upload = await client.request({ method: 'PUT', path: '/x', headers: {}, body: Readable.from([Buffer.from('a'.repeat(70_000)), Buffer.from('tail')]) });
  assert.equal(upload.headers['x-seen'], 'PUT chunked');
  assert.equal(await text(upload), `echo:${'a'.repeat(70_000)}tail`);
  // Far more than a socket's buffer, read slowly: the body waits for the socket to drain.
  const big = Readable.from((function* () {
    for (let i = 0; i < 128; i++) yield Buffer.alloc(65_536, 'x');
    yield Buffer.from('end');
  })());
  const slowly = new Promise<void>((resolve) => server.once('request', (req: http.IncomingMessage) => {
    req.pause();
    setTimeout(() => {
      req.resume();
      resolve();
    }, 100);
  }));
  const counted = await client.request({ method: 'POST', path: '/count', headers: {}, body: big });
  await slowly;
  assert.equal(await text(counted), `chunked ${128 * 65_536 + 3} end`);
  assert.equal(connections.size, 1, 'every request on one kept-alive connection');

  // Two at once: the second needs a connection of its own.
  const [first, second] = await Promise.all([client.request({ method: 'GET', path: '/stream', headers: {} }), client.request({ method: 'GET', path: '/x', headers: {} })]);
  assert.deepEqual([await text(first), await text(second)], ['{"a":1}\n{"b":2}\n', 'echo:']);
  assert.equal(connections.size, 2);
});

test('raw server, byte by byte: Content-Length, a body to the end, a 100 Continue, a lost connection', async (t) => {
  const server = rawServer((request, socket) => {
    const path = request.split(' ')[1];
    if (path === '/length') byteByByte(socket, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Multi: a\r\nx-multi: b\r\n\r\nhello');
    else if (path === '/until-close') byteByByte(socket, 'HTTP/1.0 200 OK\r\n\r\nall of it', () => socket.end());
    else if (path === '/continue') byteByByte(socket, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok');
    else if (path === '/hang') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome');
      socket.once('close', () => hangClosed());
    } else byteByByte(socket, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial', () => socket.destroy());
  });
  let hangClosed: () => void = () => undefined;
  const hangClosedPromise = new Promise<void>((resolve) => (hangClosed = resolve));
  const client = new Http1Client({ socketPath: await listen(t, server) });
  t.after(() => client.close());

  const length = await client.request({ method: 'GET', path: '/length', headers: {} });
  assert.equal(length.headers['x-multi'], 'a, b');
  assert.equal(await text(length), 'hello');
  assert.ok(length.complete);
  assert.equal(await text(await client.request({ method: 'GET', path: '/until-close', headers: {} })), 'all of it');
  const continued = await client.request({ method: 'POST', path: '/continue', headers: {} });
  assert.equal(continued.statusCode, 201);
  assert.equal(await text(continued), 'ok');
  // A reader that gives up on a body closes the connection, which is not kept.
  const hung = await client.request({ method: 'GET', path: '/hang', headers: {} });
  hung.destroy();
  await hangClosedPromise;
  const lost = await client.request({ method: 'GET', path: '/lost', headers: {} });
  await assert.rejects(text(lost), (error: NodeJS.ErrnoException) => error.code === 'ECONNRESET');
});

test('hijack: 101 with stream bytes in the same packet, 200 with the raw stream, and an error status', async (t) => {
  const server = rawServer((request, socket) => {
    const path = request.split(' ')[1];
    assert.match(request, /\r\nUpgrade: tcp/);
    if (path === '/upgrade') {
      socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly bytes;');
      socket.once('data', (data) => socket.end(`got ${data.toString()}`));
    } else if (path === '/raw') {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nraw output');
    } else {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{"message":"missing"}');
    }
  });
  const client = new Http1Client({ socketPath: await listen(t, server) });
  t.after(() => client.close());
  const headers = { Connection: 'Upgrade', Upgrade: 'tcp' };

  const upgraded = await client.hijack({ method: 'POST', path: '/upgrade', headers });
  assert.ok(!(upgraded instanceof HttpResponse));
  assert.equal(upgraded.response.statusCode, 101);
  // Nothing is lost before the reader listens.
  await new Promise((resolve) => setTimeout(resolve, 20));
  upgraded.socket.write('input');
  assert.equal(await text(upgraded.socket), 'early bytes;got input');

  const raw = await client.hijack({ method: 'POST', path: '/raw', headers });
  assert.ok(!(raw instanceof HttpResponse));
  assert.equal(await text(raw.socket), 'raw output');

  const refused = await client.hijack({ method: 'POST', path: '/missing', headers });
  assert.ok(refused instanceof HttpResponse);
  assert.equal(refused.statusCode, 404);
  assert.equal(await text(refused), '{"message":"missing"}');
});

test('a daemon that is not there: the connect error, for the caller to word', async () => {
  const client = new Http1Client({ socketPath: '/nonexistent/berth-http1.sock' });
  await assert.rejects(client.request({ method: 'GET', path: '/_ping', headers: {} }), (error: NodeJS.ErrnoException) => error.code === 'ENOENT');
});
