// Clients that misbehave on purpose: for every streaming or hijacked endpoint a raw socket
// resets (RST) or half-closes at a few points, and berthd must go on (same pid, /_ping), end
// only that session and release what it held (fds, stdin relays, tar children, memory).
// Also the bugs that once took berthd down or held its resources: a reset after an exec's
// container was removed (docker-py's test_detach_with_config_file), fds left by aborted
// saves, an attach request's body fed to the container's stdin, an unread export that
// blocked stop; and SIGTERM with followers open.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, eventually, processAlive, sleep, freePort } from './harness.js';

let daemon: TestDaemon;
let port = 0;
let daemonPid = 0;


function readPid(): number {
  return Number.parseInt(readFileSync(join(daemon.root, 'berthd.pid'), 'utf8'), 10);
}

before(async () => {
  port = await freePort();
  // TCP besides the unix socket: only a TCP connection can be reset.
  daemon = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`]);
  await daemon.start();
  await daemon.importBusybox();
  daemonPid = readPid();
});
after(() => daemon.cleanup());

// ---- raw connections --------------------------------------------------------------------------

/** A raw connection that collects everything it receives. */
class Raw {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => { this.received = Buffer.concat([this.received, chunk]); });
    socket.on('error', () => undefined);
    socket.on('close', () => { this.closed = true; });
  }

  static async open(): Promise<Raw> {
    // Half-open allowed: a client that ended its side still reads, and answers berthd's end with nothing.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new Raw(socket);
  }

  /** Sends a request head (and optionally a body). */
  send(method: string, path: string, headers: Record<string, string | number> = {}, body?: Buffer | string): void {
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: berthd', ...Object.entries(headers).map(([key, value]) => `${key}: ${value}`)];
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (body !== undefined) this.socket.write(body);
  }

  headerEnd(): number {
    return this.received.indexOf('\r\n\r\n');
  }

  async waitForHeaders(timeoutMs = 10_000): Promise<string> {
    await eventually(() => this.headerEnd() >= 0 || this.closed, timeoutMs, 'response headers');
    assert.ok(this.headerEnd() >= 0, `no response headers: ${this.received.toString()}`);
    return this.received.subarray(0, this.headerEnd()).toString();
  }

  /** Waits for `bytes` bytes after the response head. */
  async waitForBody(bytes: number, timeoutMs = 10_000): Promise<void> {
    await eventually(() => (this.headerEnd() >= 0 && this.received.length - this.headerEnd() - 4 >= bytes) || this.closed, timeoutMs, `${bytes} bytes of body`);
  }

  async waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    await eventually(() => this.received.includes(text) || this.closed, timeoutMs, JSON.stringify(text));
    assert.ok(this.received.includes(text), `${JSON.stringify(text)} not received: ${JSON.stringify(this.received.toString())}`);
  }

  abort(mode: 'reset' | 'end'): void {
    if (mode === 'reset') this.socket.resetAndDestroy();
    else this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---- what berthd holds --------------------------------------------------------------------------

function fdCount(): number {
  return readdirSync(`/proc/${daemonPid}/fd`).length;
}

function rssKb(): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${daemonPid}/status`, 'utf8'))?.[1] ?? 0);
}

/** berthd's children by name (stdin relays are python3, export is tar). */
function children(): string[] {
  const names: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === daemonPid) names.push(stat.slice(stat.indexOf('(') + 1, close));
    } catch { /* gone meanwhile */ }
  }
  return names;
}

async function assertAlive(what: string): Promise<void> {
  assert.equal(readPid(), daemonPid, `berthd restarted after ${what}`);
  assert.ok(processAlive(daemonPid), `berthd died after ${what}:\n${daemon.log}`);
  const ping = await daemon.api('GET', '/_ping');
  assert.equal(ping.status, 200, `no /_ping after ${what}`);
}

async function assertReleased(baseline: number, slack = 4): Promise<void> {
  await eventually(() => fdCount() <= baseline + slack, 8000, `berthd's fds back near ${baseline}`).catch(() => undefined);
  assert.ok(fdCount() <= baseline + slack, `berthd holds ${fdCount()} fds, ${baseline} before: ${openFiles()}`);
  await eventually(() => !children().some((name) => name === 'python3' || name === 'tar'), 8000, 'no relay or tar children').catch(() => undefined);
  assert.deepEqual(children().filter((name) => name === 'python3' || name === 'tar'), []);
}

/** What berthd's fds are, for a failure's message. */
function openFiles(): string {
  return readdirSync(`/proc/${daemonPid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${daemonPid}/fd/${fd}`);
    } catch {
      return '?';
    }
  }).join(' ');
}

async function createContainer(name: string, config: Record<string, unknown>): Promise<string> {
  const created = await daemon.api('POST', `/containers/create?name=${name}`, { Image: 'busybox', ...config });
  assert.equal(created.status, 201, created.body);
  const started = await daemon.api('POST', `/containers/${name}/start`);
  assert.equal(started.status, 204, started.body);
  return created.json().Id as string;
}

const execIds: string[] = [];

async function createExec(container: string, tty: boolean): Promise<string> {
  const exec = await daemon.api('POST', `/containers/${container}/exec`, { Cmd: ['cat'], AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: tty });
  assert.equal(exec.status, 201, exec.body);
  execIds.push(exec.json().Id as string);
  return exec.json().Id as string;
}

/** conmon processes of exec sessions under this daemon's roots. */
function execShims(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('--exec') && args.some((arg) => arg.startsWith(daemon.root))) found.push(entry);
    } catch { /* gone meanwhile */ }
  }
  return found;
}

const UPGRADE = { Connection: 'Upgrade', Upgrade: 'tcp' };

/** A masked websocket frame from a client (binary, short payload). */
function wsFrame(payload: Buffer): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]!));
  return Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, masked]);
}

let busyboxArchive: Buffer;

/** One endpoint: how to start it, and how to get it mid-stream. */
interface Endpoint {
  name: string;
  /** Sends the request; resolves once the response (or upgrade) head is in, or the request body is under way. */
  start(raw: Raw): Promise<void>;
  /** Takes the session into its stream (reads body bytes, echoes input, sends part of a body). */
  midway(raw: Raw): Promise<void>;
}

const endpoints: Endpoint[] = [
  {
    name: 'logs -f',
    start: async (raw) => { raw.send('GET', '/containers/logger/logs?follow=1&stdout=1&stderr=1&tail=1'); await raw.waitForHeaders(); },
    midway: (raw) => raw.waitForBody(20),
  },
  {
    name: 'events',
    start: async (raw) => { raw.send('GET', '/events?since=0'); await raw.waitForHeaders(); },
    midway: (raw) => raw.waitForBody(100),
  },
  {
    name: 'stats stream',
    start: async (raw) => { raw.send('GET', '/containers/logger/stats'); await raw.waitForHeaders(); },
    midway: (raw) => raw.waitForBody(100),
  },
  {
    name: 'attach (hijacked)',
    start: async (raw) => { raw.send('POST', '/containers/catter/attach?stream=1&stdin=1&stdout=1&stderr=1', UPGRADE); await raw.waitFor('101 UPGRADED'); },
    midway: async (raw) => { raw.socket.write('attached-echo\n'); await raw.waitFor('attached-echo'); },
  },
  {
    name: 'attach (websocket)',
    start: async (raw) => {
      raw.send('GET', '/containers/catter/attach/ws?stream=1&stdin=1&stdout=1', {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': 13, 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      });
      await raw.waitFor('101 Switching Protocols');
    },
    midway: async (raw) => { raw.socket.write(wsFrame(Buffer.from('ws-echo\n'))); await raw.waitFor('ws-echo'); },
  },
  ...[true, false].map((tty): Endpoint => ({
    name: `exec start (hijacked, ${tty ? 'tty' : 'no tty'})`,
    start: async (raw) => {
      const id = await createExec('execer', tty);
      const body = JSON.stringify({ Detach: false, Tty: tty });
      raw.send('POST', `/exec/${id}/start`, { ...UPGRADE, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, body);
      await raw.waitFor('101 UPGRADED');
    },
    midway: async (raw) => { raw.socket.write('exec-echo\n'); await raw.waitFor('exec-echo'); },
  })),
  {
    name: 'export',
    start: async (raw) => { raw.send('GET', '/containers/logger/export'); await raw.waitForHeaders(); },
    midway: (raw) => raw.waitForBody(10_000),
  },
  {
    name: 'archive GET',
    start: async (raw) => { raw.send('GET', '/containers/logger/archive?path=/bin'); await raw.waitForHeaders(); },
    midway: (raw) => raw.waitForBody(10_000),
  },
  {
    name: 'archive PUT',
    start: async (raw) => {
      raw.send('PUT', '/containers/logger/archive?path=/tmp', { 'Content-Type': 'application/x-tar', 'Content-Length': busyboxArchive.length });
      await sleep(100);
    },
    midway: async (raw) => { raw.socket.write(busyboxArchive.subarray(0, busyboxArchive.length >> 1)); await sleep(200); },
  },
  {
    name: 'image save',
    start: async (raw) => { raw.send('GET', '/images/get?names=busybox'); await raw.waitForHeaders(); },
    midway: (raw) => raw.waitForBody(10_000),
  },
  {
    name: 'image load',
    start: async (raw) => {
      raw.send('POST', '/images/load?quiet=1', { 'Content-Type': 'application/x-tar', 'Content-Length': busyboxArchive.length });
      await sleep(100);
    },
    midway: async (raw) => { raw.socket.write(busyboxArchive.subarray(0, busyboxArchive.length >> 1)); await sleep(200); },
  },
];

let baselineFds = 0;

test('setup: containers to stream from, a warm daemon, the baseline', async () => {
  await createContainer('logger', { Cmd: ['sh', '-c', 'while true; do echo line; sleep 0.1; done'] });
  await createContainer('catter', { Cmd: ['cat'], OpenStdin: true });
  await createContainer('execer', { Cmd: ['cat'], OpenStdin: true });
  const saved = await new Promise<Buffer>((resolve, reject) => {
    const raw = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk)).on('error', reject).on('end', () => resolve(Buffer.concat(chunks)));
    raw.write('GET /images/get?names=busybox HTTP/1.1\r\nHost: berthd\r\nConnection: close\r\n\r\n');
  });
  assert.match(saved.subarray(0, 20).toString(), /^HTTP\/1.1 200/);
  // A plain tar to send as a body: the save's own body, de-chunked.
  busyboxArchive = dechunk(saved.subarray(saved.indexOf('\r\n\r\n') + 4));
  assert.ok(busyboxArchive.length > 100_000, `archive of ${busyboxArchive.length} bytes`);
  // Every endpoint once, run through, so that what libuv opens once (inotify, pipes) is open.
  for (const endpoint of endpoints) {
    const raw = await Raw.open();
    try {
      await endpoint.start(raw);
      await endpoint.midway(raw);
    } finally {
      raw.destroy();
    }
  }
  await sleep(500);
  await assertAlive('warm-up');
  await eventually(() => !children().some((name) => name === 'python3' || name === 'tar'), 8000, 'warm-up children to go');
  baselineFds = fdCount();
});

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString(), 16);
    if (!size) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

for (const endpoint of endpoints) {
  test(`${endpoint.name}: a client that resets or half-closes at any point ends only its session`, async () => {
    for (const mode of ['reset', 'end'] as const) {
      for (const point of ['head', 'midway'] as const) {
        const raw = await Raw.open();
        try {
          await endpoint.start(raw);
          if (point === 'midway') await endpoint.midway(raw);
          raw.abort(mode);
          await sleep(100);
        } finally {
          raw.destroy();
        }
        await assertAlive(`${endpoint.name}, ${mode} at ${point}`);
      }
    }
  });
}

test('a websocket handshake that ws refuses gets its answer and holds nothing', async () => {
  const raw = await Raw.open();
  try {
    raw.send('GET', '/containers/catter/attach/ws?stream=1&stdin=1&stdout=1', { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': 13 });
    await raw.waitFor('400 Bad Request');
  } finally {
    raw.destroy();
  }
  await assertAlive('a refused websocket handshake');
});

test('after all those sessions, berthd holds what it held before (fds, relays, tar)', async () => {
  // An exec with a TTY outlives its client, as in Docker: its container's removal ends it.
  const removed = await daemon.api('DELETE', '/containers/execer?force=1');
  assert.equal(removed.status, 204, removed.body);
  for (const id of execIds) assert.equal((await daemon.api('GET', `/exec/${id}/json`)).status, 404, `exec ${id} is still known`);
  await eventually(() => execShims().length === 0, 8000, 'no exec session left');
  await assertReleased(baselineFds);
});

test('bug: a reset after the exec\'s container was removed (docker-py test_detach_with_config_file) leaves berthd running', async () => {
  await createContainer('detach-config', { Cmd: ['cat'], OpenStdin: true });
  const exec = await daemon.api('POST', '/containers/detach-config/exec', { Cmd: ['cat'], Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
  assert.equal(exec.status, 201, exec.body);
  const raw = await Raw.open();
  const body = JSON.stringify({ Detach: false, Tty: true });
  raw.send('POST', `/exec/${exec.json().Id}/start`, { ...UPGRADE, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, body);
  await raw.waitFor('101 UPGRADED');
  raw.socket.write('hello\n');
  await raw.waitFor('hello');
  const removed = await daemon.api('DELETE', '/containers/detach-config?force=1');
  assert.equal(removed.status, 204, removed.body);
  raw.socket.write('more\n');
  await sleep(200);
  raw.socket.resetAndDestroy();
  await sleep(500);
  await assertAlive('the exec reset');
  assert.doesNotMatch(daemon.log, /Unhandled 'error' event/);
});

test('bug: aborted saves leave no layer blob open', async () => {
  const before = fdCount();
  for (let index = 0; index < 20; index++) {
    const raw = await Raw.open();
    raw.send('GET', '/images/get?names=busybox');
    await raw.waitForBody(200_000);
    raw.abort(index % 2 === 0 ? 'reset' : 'end');
    raw.destroy();
  }
  await assertAlive('20 aborted saves');
  await assertReleased(before);
});

test('bug: the attach request\'s body does not reach the container\'s stdin', async () => {
  await createContainer('attach-body', { Cmd: ['cat'], OpenStdin: true });
  const raw = await Raw.open();
  const body = JSON.stringify({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
  raw.send('POST', '/containers/attach-body/attach?stream=1&stdin=1&stdout=1&stderr=1', { ...UPGRADE, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, body);
  await raw.waitFor('101 UPGRADED');
  raw.socket.write('typed-after-upgrade\n');
  await raw.waitFor('typed-after-upgrade');
  raw.destroy();
  const logs = await daemon.api('GET', '/containers/attach-body/logs?stdout=1&stderr=1');
  assert.match(logs.body, /typed-after-upgrade/);
  assert.doesNotMatch(logs.body, /"stream"/);
  await daemon.api('DELETE', '/containers/attach-body?force=1');
});

test('bug: an export nobody reads does not block stop', async () => {
  // More than the socket buffers hold, so that the export really waits for its reader.
  await createContainer('unread-export', { Cmd: ['sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; echo ready; exec sleep 1000'] });
  await eventually(async () => (await daemon.api('GET', '/containers/unread-export/logs?stdout=1')).body.includes('ready'), 20_000, 'the big file');
  const raw = await Raw.open();
  raw.send('GET', '/containers/unread-export/export');
  await raw.waitForHeaders();
  raw.socket.pause();
  try {
    const started = Date.now();
    const stopped = await Promise.race([
      daemon.api('POST', '/containers/unread-export/stop?t=1'),
      sleep(15_000).then(() => assert.fail('stop did not return within 15 s')),
    ]);
    assert.equal(stopped.status, 204, stopped.body);
    assert.ok(Date.now() - started < 15_000, `stop took ${Date.now() - started} ms`);
    const inspect = await daemon.api('GET', '/containers/unread-export/json');
    assert.equal(inspect.json().State.Running, false);
    const removed = await daemon.api('DELETE', '/containers/unread-export?force=1');
    assert.equal(removed.status, 204, removed.body);
  } finally {
    raw.destroy();
  }
  await assertAlive('the unread export');
});

/** `count` streams of the mix, each aborted (reset or half-close) once its head is in, 16 at a time. */
async function abortStreams(count: number): Promise<void> {
  const kinds: Array<[string, string]> = [
    ['GET', '/containers/logger/logs?follow=1&stdout=1&tail=1'],
    ['GET', '/events'],
    ['GET', '/containers/logger/export'],
    ['GET', '/images/get?names=busybox'],
  ];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const [method, path] = kinds[index % kinds.length]!;
      const raw = await Raw.open();
      raw.send(method, path);
      await raw.waitForHeaders();
      raw.abort(index % 2 === 0 ? 'reset' : 'end');
      raw.destroy();
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

test('1,000 aborted streams (logs -f, events, export, save) leave fds and memory near where they were', async () => {
  await assertReleased(baselineFds);
  // A first round brings the heap and malloc's arenas to their working size (measured: they
  // grow by ~30 MB over the first few hundred streams, then stay); the second must not add.
  await abortStreams(200);
  await sleep(1000);
  const fdsBefore = fdCount();
  const rssBefore = rssKb();
  const started = Date.now();
  await abortStreams(1000);
  const elapsed = Date.now() - started;
  await assertAlive('1,000 aborted streams');
  await assertReleased(fdsBefore);
  const rssAfter = rssKb();
  assert.ok(rssAfter < rssBefore + 30 * 1024, `RSS grew from ${rssBefore} kB to ${rssAfter} kB`);
  // Generous: the machine is shared; on a quiet one this takes ~30 s.
  assert.ok(elapsed < 120_000, `1,000 aborted streams took ${elapsed} ms`);
});

test('SIGTERM ends followers cleanly within 10 s, and containers keep running', async () => {
  const followers = await Promise.all([
    '/containers/logger/logs?follow=1&stdout=1&tail=1',
    '/events',
  ].map(async (path) => {
    const raw = await Raw.open();
    raw.send('GET', path);
    await raw.waitForHeaders();
    return raw;
  }));
  const containerPid = (await daemon.api('GET', '/containers/logger/json')).json().State.Pid as number;
  const started = Date.now();
  await daemon.stop();
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 10_000, `berthd took ${elapsed} ms to stop`);
  for (const raw of followers) {
    // A chunked stream ended properly ends with its last chunk.
    assert.ok(raw.received.includes('0\r\n\r\n'), `follower not ended cleanly: ${JSON.stringify(raw.received.subarray(-40).toString())}`);
    raw.destroy();
  }
  assert.ok(processAlive(containerPid), 'the container stopped with berthd');
  await daemon.start();
  daemonPid = readPid();
  const inspect = await daemon.api('GET', '/containers/logger/json');
  assert.equal(inspect.json().State.Running, true);
});
