// Two berthd builds on the same data root, taking turns: each round restarts berthd from one
// build then the other (the order alternates), and measures its restore, inspect alone and
// under concurrent clients (bench/inspect-load.mjs: raw keep-alive sockets), the list API,
// and its memory after a full GC (V8 heap and RSS, through the inspector). With no
// container first, then with --total, the heap growth per container is the records' cost.
// bench/scale-ab.sh is the wrapper (it runs inside bench/run.sh with BENCH_SIDES=berth).
//
//   node bench/scale-ab.mjs --socket /x/berth.sock --a dist --b /tmp/base [--total 1000] [--rounds 5]
//        [--clients 200] [--requests 10] [--profile DIR]
// --profile writes a CPU profile of each side's daemon during the concurrent load (the last round).
import { spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { loadGet, percentile } from './inspect-load.mjs';

const { values: options } = parseArgs({
  options: {
    socket: { type: 'string' }, a: { type: 'string', default: 'dist' }, b: { type: 'string', default: '' },
    total: { type: 'string', default: '1000' }, running: { type: 'string', default: '50' }, exited: { type: 'string', default: '150' },
    rounds: { type: 'string', default: '5' }, clients: { type: 'string', default: '200' }, requests: { type: 'string', default: '10' },
    profile: { type: 'string', default: '' }, network: { type: 'string', default: 'none' }, image: { type: 'string', default: 'busybox:latest' },
  },
});
const socket = options.socket;
const INSPECTOR_PORT = 9339; // the bench's own network namespace: no one else listens there
const LABEL = 'berth-bench-scale';
const builds = [{ name: 'A', dist: resolve(options.a) }, ...(options.b ? [{ name: 'B', dist: resolve(options.b) }] : [])];
let agent = new Agent({ keepAlive: true, maxSockets: 8 });

function call(method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = request({
      agent, socketPath: socket, method, path,
      headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => (res.statusCode >= 400 ? reject(new Error(`${method} ${path}: ${res.statusCode} ${text.trim()}`)) : resolvePromise(text)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const ms = (started) => Number(process.hrtime.bigint() - started) / 1e6;
const settle = (delay) => new Promise((done) => setTimeout(done, delay));
const median = (values) => percentile(values, 50);
const pidFile = join(dirname(socket), 'berthd.pid');
const berthdPid = () => Number(readFileSync(pidFile, 'utf8').trim());
// The command line bench/run.sh started berthd with: node, the script, its flags.
const firstArgv = readFileSync(`/proc/${berthdPid()}/cmdline`, 'utf8').split('\0').filter(Boolean);
const daemonFlags = firstArgv.slice(firstArgv.findIndex((arg) => arg.endsWith('berthd.js')) + 1);

async function stopBerthd() {
  const pid = berthdPid();
  process.kill(pid, 'SIGTERM');
  while (spawnSync('kill', ['-0', String(pid)]).status === 0) await settle(20);
}

/** Starts berthd from a build with the inspector on; the time until it lists the containers. */
async function startBerthd(build) {
  const log = openSync(join(dirname(socket), 'berthd.log'), 'a');
  const started = process.hrtime.bigint();
  spawn(firstArgv[0], [`--inspect=127.0.0.1:${INSPECTOR_PORT}`, join(build.dist, 'berthd.js'), ...daemonFlags], { stdio: ['ignore', log, log], detached: true }).unref();
  agent.destroy();
  agent = new Agent({ keepAlive: true, maxSockets: 8 });
  for (;;) {
    try {
      await call('GET', '/containers/json?all=1&limit=1');
      return ms(started);
    } catch {
      await settle(10);
    }
  }
}

/** A session with the daemon's inspector (Chrome DevTools protocol). */
async function inspector() {
  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((done, fail) => { ws.once('open', done); ws.once('error', fail); });
  let next = 0;
  const waiting = new Map();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.id !== undefined) waiting.get(message.id)?.(message);
  });
  return {
    send: (method, params = {}) => new Promise((done, fail) => {
      const id = ++next;
      waiting.set(id, (message) => (message.error ? fail(new Error(`${method}: ${message.error.message}`)) : done(message.result)));
      ws.send(JSON.stringify({ id, method, params }));
    }),
    close: () => ws.close(),
  };
}

async function memoryAfterGc(session) {
  await session.send('HeapProfiler.collectGarbage');
  await session.send('HeapProfiler.collectGarbage');
  const { result } = await session.send('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
  return JSON.parse(result.value);
}

/** Self time per function of a CPU profile, the largest first. */
function topFunctions(profile, count) {
  const self = new Map();
  const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const id of profile.samples) {
    const frame = byId.get(id).callFrame;
    const key = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop()}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + interval / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, time]) => `${(100 * time / total).toFixed(1).padStart(5)}%  ${key}`);
}

/** A process's CPU time so far (user + system), in seconds. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function createContainer(cmd, start, waitExit) {
  const body = { Image: options.image, Cmd: cmd, Labels: { [LABEL]: '1' }, HostConfig: options.network ? { NetworkMode: options.network } : {} };
  const { Id: id } = JSON.parse(await call('POST', '/containers/create', body));
  if (start) await call('POST', `/containers/${id}/start`);
  if (waitExit) await call('POST', `/containers/${id}/wait`);
  return id;
}

async function measure(build, ids, { profile, loadTest }) {
  const restore = await startBerthd(build);
  const session = await inspector();
  // Right after the restore, before any load: what the records themselves cost.
  const restored = await memoryAfterGc(session);
  const facts = { restore, restoredHeapMb: restored.heapUsed / 2 ** 20, restoredRssMb: restored.rss / 2 ** 20 };
  if (loadTest) {
    const path = (client, index) => `/v1.43/containers/${ids[(client * 7919 + index) % ids.length]}/json`;
    await loadGet(socket, 1, 200, path); // warm-up: the JIT, the first requests of a connection
    facts.inspect1 = median((await loadGet(socket, 1, 200, path)).samples);
    // Once unmeasured: the code paths of many connections warmed, every container inspected before.
    await loadGet(socket, Number(options.clients), Number(options.requests), path);
    if (profile) await session.send('Profiler.enable').then(() => session.send('Profiler.start'));
    const daemonBefore = cpuSeconds(berthdPid());
    const ownBefore = process.cpuUsage();
    const load = await loadGet(socket, Number(options.clients), Number(options.requests), path);
    const own = process.cpuUsage(ownBefore);
    facts.daemonCpu = (cpuSeconds(berthdPid()) - daemonBefore) * 1000 / load.samples.length;
    facts.generatorCpu = (own.user + own.system) / 1000 / load.samples.length;
    if (profile) {
      const { profile: cpu } = await session.send('Profiler.stop');
      writeFileSync(join(options.profile, `berthd-${build.name}.cpuprofile`), JSON.stringify(cpu));
      console.log(`${build.name}: top self time during the concurrent load\n${topFunctions(cpu, 25).join('\n')}`);
    }
    facts.p50 = percentile(load.samples, 50);
    facts.p99 = percentile(load.samples, 99);
    facts.perSecond = load.samples.length / load.seconds;
    const lists = [];
    for (let index = 0; index < 10; index++) {
      const started = process.hrtime.bigint();
      await call('GET', '/containers/json?all=1');
      lists.push(ms(started));
    }
    facts.list = median(lists);
  }
  const memory = loadTest ? await memoryAfterGc(session) : restored;
  facts.heapMb = memory.heapUsed / 2 ** 20;
  facts.rssMb = memory.rss / 2 ** 20;
  session.close();
  await stopBerthd();
  return facts;
}

await stopBerthd();
const empty = new Map();
for (const build of builds) empty.set(build.name, await measure(build, [], { loadTest: false }));
await startBerthd(builds[0]);
const total = Number(options.total);
const ids = [];
const started = process.hrtime.bigint();
let next = 0;
await Promise.all(Array.from({ length: 8 }, async () => {
  while (next < total) {
    const index = next++;
    const kind = index < Number(options.running) ? 'running' : index < Number(options.running) + Number(options.exited) ? 'exited' : 'created';
    ids.push(await createContainer(kind === 'running' ? ['sleep', '3600'] : ['true'], kind !== 'created', kind === 'exited'));
  }
}));
console.log(`${total} containers in ${(ms(started) / 1000).toFixed(1)} s; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
await stopBerthd();

const results = new Map(builds.map((build) => [build.name, []]));
const rounds = Number(options.rounds);
for (let round = 0; round < rounds; round++) {
  for (const build of round % 2 ? [...builds].reverse() : builds) {
    const profile = options.profile !== '' && round === rounds - 1;
    results.get(build.name).push(await measure(build, ids, { profile, loadTest: true }));
  }
}

// The running containers go (sleep would outlive the bench); the rest goes with the data root.
await startBerthd(builds[0]);
await Promise.all(Array.from({ length: 8 }, async (_, worker) => {
  for (let index = worker; index < Number(options.running); index += 8) await call('DELETE', `/containers/${ids[index]}?force=1`).catch(() => undefined);
}));
await stopBerthd();
agent.destroy();

const rows = [
  ['restore until it lists (ms)', (r) => r.restore],
  ['inspect, one client (ms, median)', (r) => r.inspect1],
  [`inspect p50, ${options.clients} clients (ms)`, (r) => r.p50],
  [`inspect p99, ${options.clients} clients (ms)`, (r) => r.p99],
  ['inspects per second under that load', (r) => r.perSecond],
  ['berthd CPU per inspect under load (ms)', (r) => r.daemonCpu],
  ['load generator CPU per inspect (ms)', (r) => r.generatorCpu],
  ['GET /containers/json?all=1 (ms, median)', (r) => r.list],
  ['V8 heap after the restore, after GC (MB)', (r) => r.restoredHeapMb],
  ['RSS after the restore, after GC (MB)', (r) => r.restoredRssMb],
  ['V8 heap after the load, after GC (MB)', (r) => r.heapMb],
  ['RSS after the load, after GC (MB)', (r) => r.rssMb],
];
console.log(`medians of ${rounds} rounds, ${total} containers; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log(['measure'.padEnd(42), ...builds.map((build) => `${build.name} (${build.dist})`.padEnd(28))].join(' '));
const digits = (value) => (value < 1 ? value.toFixed(3) : value.toFixed(1));
for (const [label, pick] of rows) console.log([label.padEnd(42), ...builds.map((build) => digits(median(results.get(build.name).map(pick))).padEnd(28))].join(' '));
for (const build of builds) console.log(`${build.name}: p99 of each round (ms): ${results.get(build.name).map((r) => r.p99.toFixed(0)).join(', ')}; p50: ${results.get(build.name).map((r) => r.p50.toFixed(0)).join(', ')}`);
for (const build of builds) {
  const small = empty.get(build.name);
  const big = median(results.get(build.name).map((r) => r.restoredHeapMb));
  const rss = median(results.get(build.name).map((r) => r.restoredRssMb));
  console.log(`${build.name}: 0 -> ${total} containers, after a restore: heap ${small.heapMb.toFixed(1)} -> ${big.toFixed(1)} MB (${((big - small.heapMb) * 1024 / total).toFixed(1)} KB per container), `
    + `RSS ${small.rssMb.toFixed(1)} -> ${rss.toFixed(1)} MB (${((rss - small.rssMb) * 1024 / total).toFixed(1)} KB per container)`);
}
