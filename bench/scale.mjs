// berth with many containers, side by side with Docker: `docker ps` and `ps -a` (the docker
// CLI against each daemon), inspect latency alone and under 200 concurrent API clients (p50,
// p99), berthd's memory per container, its processes and fds, and its restart (restore) time.
// The daemons are started (and stopped) by bench/run.sh; bench/scale.sh is the wrapper.
//
//   node bench/scale.mjs --berth /x/berth.sock --docker /y/docker.sock --docker-cli docker \
//        [--total 1000] [--running 50] [--exited 150] [--runs 10] [--clients 200] [--requests 10]
// Of --total containers, --running run `sleep`, --exited ran `true`, the rest are only
// created: on a small shared machine a thousand running containers would measure the machine.
import { spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadGet, percentile } from './inspect-load.mjs';

const { values: options } = parseArgs({
  options: {
    berth: { type: 'string', default: '' },
    docker: { type: 'string', default: '' },
    'docker-cli': { type: 'string', default: 'docker' },
    total: { type: 'string', default: '1000' },
    running: { type: 'string', default: '50' },
    exited: { type: 'string', default: '150' },
    runs: { type: 'string', default: '10' },
    clients: { type: 'string', default: '200' },
    requests: { type: 'string', default: '10' },
    network: { type: 'string', default: 'none' },
    image: { type: 'string', default: 'busybox:latest' },
  },
});
const total = Number(options.total);
const running = Number(options.running);
const exited = Number(options.exited);
const runs = Number(options.runs);
const LABEL = 'berth-bench-scale';
const sides = [
  { name: 'berth', socket: options.berth },
  { name: 'docker', socket: options.docker },
].filter((side) => side.socket !== '');
for (const side of sides) side.agent = new Agent({ keepAlive: true, maxSockets: 16 });

function call(side, method, path, body, agent = side.agent) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({
      agent, socketPath: side.socket, method, path,
      headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => (res.statusCode >= 400 ? reject(new Error(`${method} ${path}: ${res.statusCode} ${text.trim()}`)) : resolve(text)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function inParallel(count, width, task) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) await task(next++);
  }));
}

const ms = (started) => Number(process.hrtime.bigint() - started) / 1e6;
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

async function createContainer(side, cmd, start, waitExit) {
  const body = { Image: options.image, Cmd: cmd, Labels: { [LABEL]: '1' }, HostConfig: options.network ? { NetworkMode: options.network } : {} };
  const { Id: id } = JSON.parse(await call(side, 'POST', '/containers/create', body));
  if (start) await call(side, 'POST', `/containers/${id}/start`);
  if (waitExit) await call(side, 'POST', `/containers/${id}/wait`);
  return id;
}

/** Times the docker CLI's command against a side: the same client, so the daemons' parts compare. */
function cliTime(side, args) {
  const cli = options['docker-cli'].split(' ').filter(Boolean);
  const started = process.hrtime.bigint();
  const result = spawnSync(cli[0], [...cli.slice(1), '-H', `unix://${side.socket}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')} against ${side.name}: ${result.stderr.trim()}`);
  return ms(started);
}

async function sequentialInspect(side, ids, count) {
  const samples = [];
  for (let index = 0; index < count; index++) {
    const started = process.hrtime.bigint();
    await call(side, 'GET', `/containers/${ids[index % ids.length]}/json`);
    samples.push(ms(started));
  }
  return median(samples);
}

async function concurrentInspect(side, ids) {
  const clients = Number(options.clients);
  const requests = Number(options.requests);
  // Each client its own raw keep-alive connection, as separate programs would have (bench/inspect-load.mjs).
  const { samples } = await loadGet(side.socket, clients, requests, (client, index) => `/containers/${ids[(client * requests + index) % ids.length]}/json`);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

function berthdPid(side) {
  return Number(readFileSync(join(dirname(side.socket), 'berthd.pid'), 'utf8').trim());
}

function processFacts(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const threads = Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fds = spawnSync('ls', [`/proc/${pid}/fd`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
  return { rssKb, threads, fds, children };
}

const settle = (delay) => new Promise((resolve) => setTimeout(resolve, delay));

/** Restarts berthd with the same command line; the time until it answers /containers/json. */
async function restartBerthd(side) {
  const pid = berthdPid(side);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  process.kill(pid, 'SIGTERM');
  while (spawnSync('kill', ['-0', String(pid)]).status === 0) await settle(20);
  const log = openSync(join(dirname(side.socket), 'berthd.log'), 'a');
  const started = process.hrtime.bigint();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log], detached: true });
  child.unref();
  side.agent.destroy();
  side.agent = new Agent({ keepAlive: true, maxSockets: 16 });
  for (;;) {
    try {
      await call(side, 'GET', '/containers/json?all=1&limit=1');
      break;
    } catch {
      await settle(10);
    }
  }
  return ms(started);
}

const rows = [];
const row = (measure, values, goal = '') => rows.push({ measure, ...values, goal });

// A container to inspect before the others exist.
const ids = new Map();
const baseline = new Map();
for (const side of sides) {
  const probe = await createContainer(side, ['true'], false, false);
  ids.set(side.name, [probe]);
  await sequentialInspect(side, [probe], 20); // warm-up: the first requests of a connection cost more
  baseline.set(side.name, {
    inspect: await sequentialInspect(side, [probe], 50),
    process: side.name === 'berth' ? processFacts(berthdPid(side)) : undefined,
  });
}
for (const side of sides) {
  const started = process.hrtime.bigint();
  const created = [];
  await inParallel(total - 1, 8, async (index) => {
    const kind = index < running ? 'running' : index < running + exited ? 'exited' : 'created';
    created.push(await createContainer(side, kind === 'running' ? ['sleep', '3600'] : ['true'], kind !== 'created', kind === 'exited'));
  });
  ids.get(side.name).push(...created);
  console.log(`${side.name}: ${total} containers (${running} running, ${exited} exited, the rest created) in ${(ms(started) / 1000).toFixed(1)} s`);
}
await settle(2000);

const psTimes = new Map(sides.map((side) => [side.name, { ps: [], psa: [] }]));
for (let index = 0; index < runs; index++) {
  for (const side of index % 2 ? [...sides].reverse() : sides) {
    psTimes.get(side.name).ps.push(cliTime(side, ['ps']));
    psTimes.get(side.name).psa.push(cliTime(side, ['ps', '-a']));
  }
}
const ratio = (berth, docker) => (berth !== undefined && docker !== undefined ? (berth / docker).toFixed(2) : '-');
const value = (name, pick) => pick(name);
const bothSides = (pick, goal, measure) => {
  const berth = sides.some((s) => s.name === 'berth') ? value('berth', pick) : undefined;
  const docker = sides.some((s) => s.name === 'docker') ? value('docker', pick) : undefined;
  row(measure, { berth, docker, ratio: ratio(berth, docker) }, goal);
};
bothSides((name) => median(psTimes.get(name).ps), '<= 0.5x', `docker ps, ${running} running of ${total} (ms)`);
bothSides((name) => median(psTimes.get(name).psa), '<= 0.5x', `docker ps -a, ${total} containers (ms)`);
const listApi = new Map();
for (const side of sides) {
  const samples = [];
  for (let index = 0; index < runs; index++) {
    const started = process.hrtime.bigint();
    await call(side, 'GET', '/containers/json?all=1');
    samples.push(ms(started));
  }
  listApi.set(side.name, median(samples));
}
bothSides((name) => listApi.get(name), '', `GET /containers/json?all=1 API, ${total} containers (ms)`);
const inspectNow = new Map();
for (const side of sides) inspectNow.set(side.name, await sequentialInspect(side, ids.get(side.name), 100));
bothSides((name) => baseline.get(name).inspect, '', 'inspect API, 1 container (ms, median)');
bothSides((name) => inspectNow.get(name), 'same as with 1', `inspect API, ${total} containers (ms, median)`);
// Rounds taking turns between the engines: one round's p99 is its 20th slowest request of 2,000,
// which a single pause of the machine decides; the median round says how each engine serves.
const loadRounds = Number(process.env.BENCH_LOAD_ROUNDS ?? 5);
const concurrent = new Map(sides.map((side) => [side.name, { p50: [], p99: [] }]));
for (let round = 0; round < loadRounds; round++) {
  for (const side of round % 2 ? [...sides].reverse() : sides) {
    const { p50, p99 } = await concurrentInspect(side, ids.get(side.name));
    concurrent.get(side.name).p50.push(p50);
    concurrent.get(side.name).p99.push(p99);
  }
}
bothSides((name) => median(concurrent.get(name).p50), '', `inspect p50, ${options.clients} concurrent clients (ms, median of ${loadRounds} rounds)`);
bothSides((name) => median(concurrent.get(name).p99), '< 50 ms', `inspect p99, ${options.clients} concurrent clients (ms, median of ${loadRounds} rounds)`);
bothSides((name) => Math.max(...concurrent.get(name).p99), '', `inspect p99, ${options.clients} concurrent clients (ms, the worst round)`);

const berth = sides.find((side) => side.name === 'berth');
if (berth) {
  await settle(2000);
  const before = baseline.get('berth').process;
  const after = processFacts(berthdPid(berth));
  row('berthd RSS, 1 container -> all, before any restart (MB)', { berth: `${(before.rssKb / 1024).toFixed(1)} -> ${(after.rssKb / 1024).toFixed(1)}` });
  row('berthd threads, fds, children: 1 container -> all', { berth: `${before.threads}/${before.fds}/${before.children} -> ${after.threads}/${after.fds}/${after.children}` }, 'no growth with the count');
  row(`berthd restart until it lists (restore of ${total}) (ms)`, { berth: (await restartBerthd(berth)).toFixed(0) }, '< 2000');
  await sequentialInspect(berth, ids.get('berth'), 100);
  await settle(2000);
  const restarted = processFacts(berthdPid(berth));
  row(`berthd RSS after the restart with ${total} (MB)`, { berth: (restarted.rssKb / 1024).toFixed(1) });
  // Against the daemon that had served the same kind of requests with one container: what the records cost, not garbage not yet collected.
  row('berthd memory per container, after the restart (KB)', { berth: ((restarted.rssKb - before.rssKb) / (total - 1)).toFixed(1) }, '< 20 KB');
}

// The running containers go (sleep would outlive the bench); the rest goes with the data roots.
for (const side of sides) {
  const list = JSON.parse(await call(side, 'GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: [LABEL] }))}`));
  await inParallel(list.length, 8, async (index) => { await call(side, 'DELETE', `/containers/${list[index].Id}?force=1`).catch(() => undefined); });
  side.agent.destroy();
}
// The berthd started here is not bench/run.sh's to stop.
if (berth) {
  const pid = berthdPid(berth);
  process.kill(pid, 'SIGTERM');
  while (spawnSync('kill', ['-0', String(pid)]).status === 0) await settle(50);
}

const format = (text) => (text === undefined ? '-' : typeof text === 'number' ? text.toFixed(1) : String(text));
const widths = [58, 20, 12, 7, 24];
console.log(['measure', 'berth', 'docker', 'ratio', 'goal'].map((text, index) => text.padEnd(widths[index])).join(' '));
for (const entry of rows) {
  console.log([entry.measure, format(entry.berth), format(entry.docker), format(entry.ratio), entry.goal].map((text, index) => String(text).padEnd(widths[index])).join(' '));
}
