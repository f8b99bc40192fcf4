// Latency of the container lifecycle through the Engine API under concurrent clients, berth
// side by side with Docker: each client loops POST /containers/create -> POST
// /containers/{id}/start -> DELETE /containers/{id}?force=1 (its own keep-alive connection,
// as an SDK client holds one), and the p50 and p99 of each call and of the whole cycle are
// printed per number of clients, with the berth/docker ratio. The daemons are started (and
// stopped) by bench/run.sh; bench/api-latency.sh is the wrapper.
//
//   node bench/api-latency.mjs --berth /x/berth.sock --docker /y/docker.sock \
//        [--clients 1,10,100] [--cycles 10] [--warmup 1] [--network none]
// --cycles is per client; a side given as '' is skipped. The sides take turns per client count.
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({
  options: {
    berth: { type: 'string', default: '' },
    docker: { type: 'string', default: '' },
    clients: { type: 'string', default: '1,10,100' },
    cycles: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    network: { type: 'string', default: 'none' },
    image: { type: 'string', default: 'busybox:latest' },
  },
});
const clientCounts = options.clients.split(',').map(Number).filter((count) => count > 0);
const cycles = Number(options.cycles);
const warmup = Number(options.warmup);
const sides = [
  { name: 'berth', socket: options.berth },
  { name: 'docker', socket: options.docker },
].filter((side) => side.socket !== '');
const STEPS = ['create', 'start', 'delete', 'cycle'];
const LABEL = 'berth-bench-api-latency';

/** One call on a client's connection; resolves with the status and body, rejects on a transport error. */
function call(agent, socketPath, method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({
      agent, socketPath, method, path,
      headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function timed(samples, step, action) {
  const started = process.hrtime.bigint();
  const result = await action();
  samples[step].push(Number(process.hrtime.bigint() - started) / 1e6);
  return result;
}

function expectStatus(result, wanted, what) {
  if (!wanted.includes(result.status)) throw new Error(`${what}: HTTP ${result.status}: ${result.text.trim().slice(0, 200)}`);
}

/** One client's loop; returns nothing, adds its latencies to `samples` (skipping the warm-up cycles). */
async function client(side, samples, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const discard = Object.fromEntries(STEPS.map((step) => [step, []]));
  try {
    for (let index = 0; index < warmup + count; index++) {
      const into = index < warmup ? discard : samples;
      const cycleStart = process.hrtime.bigint();
      const created = await timed(into, 'create', () => call(agent, side.socket, 'POST', '/containers/create', {
        Image: options.image, Cmd: ['true'], Labels: { [LABEL]: '1' },
        HostConfig: options.network ? { NetworkMode: options.network } : {},
      }));
      expectStatus(created, [201], `${side.name} create`);
      const id = JSON.parse(created.text).Id;
      const started = await timed(into, 'start', () => call(agent, side.socket, 'POST', `/containers/${id}/start`));
      expectStatus(started, [204, 304], `${side.name} start`);
      const deleted = await timed(into, 'delete', () => call(agent, side.socket, 'DELETE', `/containers/${id}?force=1`));
      expectStatus(deleted, [204], `${side.name} delete`);
      into.cycle.push(Number(process.hrtime.bigint() - cycleStart) / 1e6);
    }
  } finally {
    agent.destroy();
  }
}

function percentile(values, fraction) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

/** Removes what an interrupted run left (the bench's label), so that the next level starts clean. */
async function sweep(side) {
  const agent = new Agent({ keepAlive: false });
  const filters = encodeURIComponent(JSON.stringify({ label: [LABEL] }));
  const listed = await call(agent, side.socket, 'GET', `/containers/json?all=1&filters=${filters}`).catch(() => undefined);
  if (listed?.status !== 200) return;
  for (const { Id } of JSON.parse(listed.text)) await call(agent, side.socket, 'DELETE', `/containers/${Id}?force=1`).catch(() => undefined);
}

const format = (ms) => (Number.isNaN(ms) ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const rows = [];
let failed = false;
for (const clients of clientCounts) {
  const results = {};
  for (const side of sides) {
    const samples = Object.fromEntries(STEPS.map((step) => [step, []]));
    const started = Date.now();
    const outcomes = await Promise.allSettled(Array.from({ length: clients }, () => client(side, samples, cycles)));
    const wall = (Date.now() - started) / 1000;
    const errors = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => outcome.reason.message);
    if (errors.length > 0) {
      failed = true;
      console.error(`${side.name}, ${clients} clients: ${errors.length} clients failed; first: ${errors[0]}`);
    }
    await sweep(side);
    results[side.name] = { samples, throughput: samples.cycle.length / wall };
  }
  for (const step of STEPS) {
    const row = { clients, step };
    for (const side of sides) {
      const values = results[side.name].samples[step];
      row[side.name] = { p50: percentile(values, 0.5), p99: percentile(values, 0.99), n: values.length };
    }
    rows.push(row);
  }
  const perSecond = sides.map((side) => `${side.name} ${results[side.name].throughput.toFixed(1)} cycles/s`).join(', ');
  console.error(`${clients} clients: ${perSecond}`);
}

const header = ['clients', 'call', ...sides.flatMap((side) => [`${side.name} p50 ms`, `${side.name} p99 ms`])];
if (sides.length === 2) header.push('p50 berth/docker', 'p99 berth/docker');
const table = [header];
for (const row of rows) {
  const cells = [String(row.clients), row.step, ...sides.flatMap((side) => [format(row[side.name].p50), format(row[side.name].p99)])];
  if (sides.length === 2) {
    cells.push((row.berth.p50 / row.docker.p50).toFixed(2), (row.berth.p99 / row.docker.p99).toFixed(2));
  }
  table.push(cells);
}
const widths = header.map((_, column) => Math.max(...table.map((cells) => cells[column].length)));
for (const cells of table) console.log(cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd());
console.log(`(${cycles} cycles per client after ${warmup} warm-up; create/start/delete are the calls, cycle is the three together)`);
process.exitCode = failed ? 1 : 0;
