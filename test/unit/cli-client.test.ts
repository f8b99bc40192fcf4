// Tests for the Engine API client: stream demultiplexing, errors, hijack, query encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import {
  ClientError,
  ConnectionError,
  EngineClient,
  encodeFilters,
  encodeQuery,
  parseHost,
  resolveHost,
} from '../../src/client/engine-client.js';
import { demuxStream, encodeFrame, StreamDemuxer, STDERR, STDOUT } from '../../src/wire/stdcopy.js';

class Collector extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk);
    callback();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

test('the demuxer handles frames split across and joined in chunks', () => {
  const bytes = Buffer.concat([encodeFrame(STDOUT, 'hello '), encodeFrame(STDERR, 'oops'), encodeFrame(STDOUT, 'world')]);
  const demuxer = new StreamDemuxer();
  const frames = [];
  for (let i = 0; i < bytes.length; i += 5) frames.push(...demuxer.push(bytes.subarray(i, i + 5)));
  assert.deepEqual(
    frames.map((f) => [f.stream, f.payload.toString()]),
    [[1, 'hello '], [2, 'oops'], [1, 'world']],
  );
  assert.equal(demuxer.pendingBytes, 0);
  assert.throws(() => new StreamDemuxer().push(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0])), /Unrecognized input header: 9/);
});

test('demuxStream copies to stdout and stderr', async () => {
  const source = new PassThrough();
  const out = new Collector();
  const err = new Collector();
  const done = demuxStream(source, out, err);
  source.write(encodeFrame(STDOUT, 'a'));
  source.write(Buffer.concat([encodeFrame(STDERR, 'b'), encodeFrame(STDOUT, 'c')]).subarray(0, 10));
  source.end(Buffer.concat([encodeFrame(STDERR, 'b'), encodeFrame(STDOUT, 'c')]).subarray(10));
  await done;
  assert.equal(out.text, 'ac');
  assert.equal(err.text, 'b');
});

test('query and filter encoding, host resolution', () => {
  assert.equal(encodeQuery({ a: true, b: false, c: undefined, d: 'x y', e: ['1', '2'], f: 3 }), '?a=1&d=x+y&e=1&e=2&f=3');
  assert.equal(encodeQuery({}), '');
  assert.equal(encodeFilters(['status=exited', 'status=created', 'name=web']), '{"status":["exited","created"],"name":["web"]}');
  assert.equal(encodeFilters([]), undefined);
  assert.deepEqual(parseHost('unix:///run/berth/berth.sock'), { socketPath: '/run/berth/berth.sock' });
  assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { host: '127.0.0.1', port: 2375 });
  assert.equal(resolveHost(undefined, {}), 'unix:///run/berth/berth.sock');
  assert.equal(resolveHost(undefined, { DOCKER_HOST: 'tcp://h:1' }), 'tcp://h:1');
  assert.equal(resolveHost(undefined, { DOCKER_HOST: 'tcp://h:1', BERTH_HOST: 'unix:///b' }), 'unix:///b');
  assert.equal(resolveHost('unix:///flag', { BERTH_HOST: 'unix:///b' }), 'unix:///flag');
});

test('an unreachable daemon gives docker\'s message', async () => {
  const client = new EngineClient({ host: 'unix:///nonexistent/berth.sock' });
  await assert.rejects(client.version(), (err: Error) => {
    assert.ok(err instanceof ConnectionError);
    assert.equal(err.message, 'Cannot connect to the Docker daemon at unix:///nonexistent/berth.sock. Is the docker daemon running?');
    return true;
  });
});

test('requests, errors and hijack against a fake daemon', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-client-'));
  const socketPath = join(dir, 'd.sock');
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/v1.43/containers/nope/json') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'No such container: nope' }));
      return;
    }
    if (req.url?.startsWith('/v1.43/containers/create')) {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const config = JSON.parse(body) as { Image: string };
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ Id: `id-for-${config.Image}`, Warnings: [] }));
      });
      return;
    }
    if (req.url?.startsWith('/v1.43/containers/c1/wait')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      setTimeout(() => res.end(JSON.stringify({ StatusCode: 3 })), 20);
      return;
    }
    res.writeHead(204);
    res.end();
  });
  server.on('upgrade', (req, socket) => {
    seen.push(`UPGRADE ${req.url} ${req.headers.upgrade}`);
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    socket.write(encodeFrame(STDOUT, 'from container\n'));
    let input = '';
    socket.on('data', (chunk: Buffer) => (input += chunk.toString()));
    socket.on('end', () => {
      socket.end(encodeFrame(STDERR, `got ${input}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const client = new EngineClient({ host: `unix://${socketPath}` });
  t.after(() => {
    client.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  await assert.rejects(client.containerInspect('nope'), (err: Error) => {
    assert.ok(err instanceof ClientError);
    assert.equal(err.status, 404);
    assert.equal(err.daemonMessage, 'No such container: nope');
    assert.equal(err.message, 'Error response from daemon: No such container: nope');
    return true;
  });

  const created = await client.containerCreate({ Image: 'busybox' }, { name: 'web' });
  assert.equal(created.Id, 'id-for-busybox');
  assert.ok(seen.includes('POST /v1.43/containers/create?name=web'));

  const wait = client.containerWait('c1', 'next-exit');
  await wait.headers;
  assert.equal((await wait.result).StatusCode, 3);

  await client.containerStop('c1', { t: 5 });
  assert.ok(seen.includes('POST /v1.43/containers/c1/stop?t=5'));

  const socket = await client.containerAttach('c1', { stream: true, stdin: true, stdout: true, stderr: true });
  const out = new Collector();
  const err = new Collector();
  const copied = demuxStream(socket, out, err);
  socket.end('typed');
  await copied;
  assert.equal(out.text, 'from container\n');
  assert.equal(err.text, 'got typed');
  assert.ok(seen.includes('UPGRADE /v1.43/containers/c1/attach?stream=1&stdin=1&stdout=1&stderr=1 tcp'));
});
