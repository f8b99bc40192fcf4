// Times the same client commands against berth and Docker, side by side, and prints a
// table of medians and ratios. The daemons are started (and stopped) by bench/run.sh.
//
//   node bench/compare.mjs --berth 'dist/berth -H unix:///x.sock' \
//                     --docker 'docker -H unix:///y.sock' [--runs 20] [--warmup 2]
//                     [--network none]
// A side given as '' is skipped. Commands are split on spaces: keep paths free of them.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({
  options: {
    berth: { type: 'string', default: '' },
    docker: { type: 'string', default: '' },
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    network: { type: 'string', default: 'none' },
    // 'engine' (run, version, exec), 'volumes' (bench/volumes.sh prepares its image first),
    // 'network' (bench/network.sh) or 'build' (bench/build.sh writes the reference context given as --context)
    cases: { type: 'string', default: 'engine' },
    context: { type: 'string', default: '' },
  },
});
const runs = Number(options.runs);
const warmup = Number(options.warmup);

const sides = [
  { name: 'berth', cli: splitCommand(options.berth) },
  { name: 'docker', cli: splitCommand(options.docker) },
].filter((side) => side.cli.length > 0);

// Each case is the CLI's arguments, the same for both sides.
const networkArgs = options.network ? ['--network', options.network] : [];
const CASES = {
  engine: [
    { label: `run --rm ${networkArgs.join(' ')} busybox true`.replace(/\s+/g, ' '), args: ['run', '--rm', ...networkArgs, 'busybox', 'true'] },
    { label: 'version', args: ['version'] },
    { label: 'exec (running container) true', args: ['exec', 'berth-bench-exec', 'true'] },
    // The daemons' own parts: the same Go client against both.
    { label: 'exec true, the docker CLI against each daemon', args: ['exec', 'berth-bench-exec', 'true'], dockerClient: true },
    { label: 'ps, the docker CLI against each daemon', args: ['ps'], dockerClient: true, floor: true },
  ],
  // bench/network.sh: each side has its default bridge and a user network named berth-bench-net.
  network: [
    { label: 'run --rm busybox true (default bridge)', args: ['run', '--rm', 'busybox', 'true'] },
    { label: 'run --rm --network berth-bench-net busybox true', args: ['run', '--rm', '--network', 'berth-bench-net', 'busybox', 'true'] },
    { label: 'run --rm -p 80 busybox true (a published port)', args: ['run', '--rm', '-p', '80', 'busybox', 'true'] },
  ],
  volumes: [
    { label: `run --rm -v berth-bench-vol:/data ${networkArgs.join(' ')} busybox true`.replace(/\s+/g, ' '), args: ['run', '--rm', '-v', 'berth-bench-vol:/data', ...networkArgs, 'busybox', 'true'] },
    { label: 'run --rm, VOLUME /data of 2,000 files copied up', args: ['run', '--rm', ...networkArgs, 'berth-bench-copyup', 'true'] },
  ],
  build: [
    { label: 'build --no-cache (cold), reference multi-stage', args: ['build', '--no-cache', '-q', ...(options.network ? ['--network', options.network] : []), options.context] },
    { label: 'build (fully cached rebuild)', args: ['build', '-q', ...(options.network ? ['--network', options.network] : []), options.context] },
  ],
};
const cases = CASES[options.cases];
if (!cases) throw new Error(`unknown --cases ${options.cases}: ${Object.keys(CASES).join(', ')}`);

// Idle memory first, before any container exists: berthd against dockerd plus its containerd
// (bench/run.sh passes the daemons' pids), once both have been left alone for a while (bench/run.sh
// has just imported busybox into each); both give memory back when idle (berthd: daemon/memory.ts).
const QUIET_MS = 5000;
const daemonsRss = () => ({ berth: rssKb([Number(process.env.BENCH_BERTHD_PID)]), docker: rssKb(daemonTree(Number(process.env.BENCH_DOCKERD_PID))) });
let idleRss;
if (options.cases === 'engine') {
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  idleRss = daemonsRss();
}

// The exec case needs a running container on each side; it is removed at the end.
for (const side of options.cases === 'engine' ? sides : []) {
  const started = spawnSync(side.cli[0], [...side.cli.slice(1), 'run', '-d', '--name', 'berth-bench-exec', ...networkArgs, 'busybox', 'sleep', '3600'], { encoding: 'utf8' });
  if (started.status !== 0) console.error(`${side.name}: could not start the exec container: ${started.stderr.trim()}`);
}
process.on('exit', () => {
  for (const side of sides) spawnSync(side.cli[0], [...side.cli.slice(1), 'rm', '-f', 'berth-bench-exec'], { stdio: 'ignore' });
});

// The docker CLI's own floor: the same docker command against bench/floor-server.mjs, which
// answers every request from a copy of berthd's first answer to it, at once (no daemon work).
const floor = await startFloorServer(sides.find((side) => side.name === 'berth'));

/** The docker CLI aimed at a side's daemon (its -H). */
function dockerClientFor(side) {
  const host = side.cli.indexOf('-H');
  return ['docker', ...(host >= 0 ? side.cli.slice(host, host + 2) : [])];
}

function splitCommand(text) {
  return text.split(' ').filter((word) => word.length > 0);
}

/** Runs one command to completion; returns its wall time in ms, or the failure. */
function timeOnce(argv, env = process.env) {
  const started = process.hrtime.bigint();
  const result = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.error) return { ok: false, message: String(result.error.message) };
  if (result.status !== 0) {
    return { ok: false, message: `exit ${result.status ?? result.signal}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  }
  return { ok: true, ms };
}

function median(sorted) {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function formatMs(ms) {
  return ms === undefined ? 'failed' : `${ms.toFixed(1)} ms`;
}

const rows = [];
for (const benchCase of cases) {
  const timings = new Map(sides.map((side) => [side.name, []]));
  const failures = new Map();
  const floorTimes = [];
  // Interleaved, so that drift in the machine's load falls on both sides alike.
  for (let i = 0; i < warmup + runs; i++) {
    if (benchCase.floor && floor) {
      const outcome = timeOnce([...floor.client, ...benchCase.args]);
      if (outcome.ok && i >= warmup) floorTimes.push(outcome.ms);
    }
    for (const side of sides) {
      if (failures.has(side.name)) continue;
      const outcome = timeOnce([...(benchCase.dockerClient ? dockerClientFor(side) : side.cli), ...benchCase.args]);
      if (!outcome.ok) {
        failures.set(side.name, outcome.message);
        console.error(`${side.name} ${benchCase.label}: ${outcome.message}`);
        continue;
      }
      if (i >= warmup) timings.get(side.name).push(outcome.ms);
    }
  }
  const stats = {};
  for (const side of sides) {
    if (failures.has(side.name)) continue;
    const sorted = timings.get(side.name).sort((a, b) => a - b);
    stats[side.name] = { median: median(sorted), min: sorted[0], max: sorted[sorted.length - 1] };
  }
  rows.push({ label: benchCase.label, stats, floor: floorTimes.length > 0 ? median(floorTimes.sort((a, b) => a - b)) : undefined });
}

const header = ['command', ...sides.map((side) => `${side.name} median (min–max)`)];
const bothSides = sides.length === 2;
if (bothSides) header.push('berth / docker');
// The floor column: the docker CLI alone (a server answering from memory), and the best ratio
// berth could reach were berthd's own part zero.
const withFloor = rows.some((row) => row.floor !== undefined);
if (withFloor) header.push(bothSides ? 'docker CLI floor (floor / docker)' : 'docker CLI floor');
const lines = [header];
for (const row of rows) {
  const cells = [row.label];
  for (const side of sides) {
    const stat = row.stats[side.name];
    cells.push(stat ? `${formatMs(stat.median)} (${stat.min.toFixed(1)}–${stat.max.toFixed(1)})` : 'failed');
  }
  if (bothSides) {
    const berth = row.stats.berth;
    const docker = row.stats.docker;
    cells.push(berth && docker ? `${(berth.median / docker.median).toFixed(2)}×` : '–');
  }
  if (withFloor) {
    const docker = row.stats.docker;
    cells.push(row.floor === undefined ? '–' : `${formatMs(row.floor)}${docker ? ` (${(row.floor / docker.median).toFixed(2)}×)` : ''}`);
  }
  lines.push(cells);
}

const widths = header.map((_, column) => Math.max(...lines.map((cells) => cells[column].length)));
const render = (cells) => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
console.log(`\n${runs} runs each after ${warmup} warm-up runs, interleaved; wall time of the client command.\n`);
console.log(render(lines[0]));
console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
for (const cells of lines.slice(1)) console.log(render(cells));

// berth's CLI start against bare node's, interleaved the same way. Node parses the file that
// NODE_EXTRA_CA_CERTS names at every start (these machines set it to the system's CA bundle);
// dist/berth, the launcher, keeps it from doing so (native/cli-launcher.c). So `node -e 0` is
// timed both ways: in this environment (what a user's bare node costs here), and with the
// variable unset (node started as the launcher starts it: the CLI's own overhead).
const berthSide = sides.find((side) => side.name === 'berth');
if (berthSide && options.cases === 'engine') {
  const withoutExtraCa = { ...process.env };
  delete withoutExtraCa.NODE_EXTRA_CA_CERTS;
  const times = { version: [], node: [], nodeBare: [] };
  for (let i = 0; i < warmup + runs; i++) {
    const version = timeOnce([...berthSide.cli, 'version']);
    const node = timeOnce([process.execPath, '-e', '0']);
    const nodeBare = timeOnce([process.execPath, '-e', '0'], withoutExtraCa);
    if (i >= warmup && version.ok && node.ok && nodeBare.ok) {
      times.version.push(version.ms);
      times.node.push(node.ms);
      times.nodeBare.push(nodeBare.ms);
    }
  }
  const [versionMedian, nodeMedian, bareMedian] = [times.version, times.node, times.nodeBare].map((list) => median(list.sort((a, b) => a - b)));
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  console.log(`\nberth version ${formatMs(versionMedian)} (${berthSide.cli[0]}), against:`);
  console.log(`  node -e 0 in this environment${extra ? ` (NODE_EXTRA_CA_CERTS=${extra})` : ' (no NODE_EXTRA_CA_CERTS)'}: ${formatMs(nodeMedian)}: ${(versionMedian / nodeMedian).toFixed(2)}× (goal <= 1.1×)`);
  console.log(`  node -e 0 without NODE_EXTRA_CA_CERTS, started as dist/berth starts node (the CLI's own overhead): ${formatMs(bareMedian)}: ${(versionMedian / bareMedian).toFixed(2)}×`);
}

// The rest of issue 15's table, the docker CLI against each daemon: 20 `run -d` at once, and
// `ps -a` with 300 containers; then the idle memory measured at the start.
if (options.cases === 'engine' && bothSides) {
  const rounds = Math.min(runs, 5);
  const parallel = { berth: [], docker: [] };
  for (let i = 0; i <= rounds; i++) {
    for (const side of sides) {
      const client = dockerClientFor(side);
      const ms = await timeConcurrently(Array.from({ length: 20 }, () => [...client, 'run', '-d', '--label', 'berth-bench=parallel', ...networkArgs, 'busybox', 'sleep', '600']));
      removeLabelled(client, 'berth-bench=parallel');
      if (i > 0) parallel[side.name].push(ms);
    }
  }
  printRatio('20 parallel run -d, the docker CLI against each daemon', parallel, '<= 0.25');
  for (const side of sides) {
    const client = dockerClientFor(side);
    for (let made = 0; made < 300; made += 20) {
      await timeConcurrently(Array.from({ length: 20 }, () => [...client, 'create', '--label', 'berth-bench=many', ...networkArgs, 'busybox', 'true']));
    }
  }
  const listing = { berth: [], docker: [], floor: [] };
  for (let i = 0; i < warmup + runs; i++) {
    for (const [name, client] of [...sides.map((side) => [side.name, dockerClientFor(side)]), ...(floor ? [['floor', floor.client]] : [])]) {
      const outcome = timeOnce([...client, 'ps', '-a']);
      if (outcome.ok && i >= warmup) listing[name].push(outcome.ms);
    }
  }
  for (const side of sides) removeLabelled(dockerClientFor(side), 'berth-bench=many');
  printRatio('ps -a with 300 containers, the docker CLI against each daemon', listing, '<= 0.5');
  if (listing.floor.length > 0) {
    const floorMs = median(listing.floor.sort((a, b) => a - b));
    console.log(`  its docker CLI floor (a server answering berthd's list from memory): ${formatMs(floorMs)}: ${(floorMs / median(listing.docker)).toFixed(2)}× of docker's`);
  }
  // Again once both have done the same work (the exec case's container still runs; shims are not counted).
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  const afterWork = daemonsRss();
  const mb = (kb) => (kb / 1024).toFixed(1);
  for (const [when, rss] of [[`at start (${QUIET_MS / 1000} s after the import)`, idleRss], [`after the runs above (${QUIET_MS / 1000} s after the last)`, afterWork]]) {
    if (!rss?.berth.rss || !rss.docker.rss) continue;
    console.log(`idle RSS ${when}: berthd ${mb(rss.berth.rss)} MB (anon ${mb(rss.berth.anon)}, file ${mb(rss.berth.file)}), dockerd + containerd ${mb(rss.docker.rss)} MB (anon ${mb(rss.docker.anon)}, file ${mb(rss.docker.file)}): ${(rss.berth.rss / rss.docker.rss).toFixed(2)}× (goal < 0.5×; issue 15's table 0.3×)`);
  }
}

/**
 * bench/floor-server.mjs in front of berth's daemon, on a socket beside it; undefined without
 * a berth side. Stopped when the bench ends.
 */
async function startFloorServer(side) {
  const host = side?.cli[side.cli.indexOf('-H') + 1];
  if (!host?.startsWith('unix://')) return undefined;
  const upstream = host.slice('unix://'.length);
  const listen = `${upstream}.floor`;
  const server = spawn(process.execPath, [new URL('floor-server.mjs', import.meta.url).pathname, '--listen', listen, '--upstream', upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => server.kill());
  const ready = await new Promise((resolve) => {
    server.stdout.once('data', () => resolve(true));
    server.once('exit', () => resolve(false));
  });
  // The bench must not wait for it to end: it is killed at exit.
  server.stdout.destroy();
  server.unref();
  return ready ? { client: ['docker', '-H', `unix://${listen}`] } : undefined;
}

/** Runs the commands at once; resolves with the wall time until the last has exited. */
function timeConcurrently(commands) {
  const started = process.hrtime.bigint();
  return Promise.all(commands.map((argv) => new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
    child.on('exit', resolve);
    child.on('error', resolve);
  }))).then(() => Number(process.hrtime.bigint() - started) / 1e6);
}

function removeLabelled(client, label) {
  const ids = spawnSync(client[0], [...client.slice(1), 'ps', '-aq', '--filter', `label=${label}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) spawnSync(client[0], [...client.slice(1), 'rm', '-f', ...ids], { stdio: 'ignore' });
}

function printRatio(label, timings, goal) {
  const berth = median(timings.berth.sort((a, b) => a - b));
  const docker = median(timings.docker.sort((a, b) => a - b));
  console.log(`${label}: berth ${formatMs(berth)}, docker ${formatMs(docker)}: ${(berth / docker).toFixed(2)}× (goal ${goal})`);
}

/** A process and its descendants (dockerd starts containerd as its child). */
function daemonTree(pid) {
  if (!pid) return [];
  const children = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      children.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    }
  } catch { /* gone */ }
  return [pid, ...children.flatMap(daemonTree)];
}

/** The summed VmRSS of the processes (and its RssAnon and RssFile parts), in KB; 0 when one cannot be read. */
function rssKb(pids) {
  const total = { rss: 0, anon: 0, file: 0 };
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      for (const [key, field] of [['rss', 'VmRSS'], ['anon', 'RssAnon'], ['file', 'RssFile']]) total[key] += Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    } catch {
      return { rss: 0, anon: 0, file: 0 };
    }
  }
  return Number.isFinite(total.rss) ? total : { rss: 0, anon: 0, file: 0 };
}

const anyFailed = rows.some((row) => sides.some((side) => !row.stats[side.name]));
process.exitCode = anyFailed ? 1 : 0;
