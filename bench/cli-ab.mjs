// Several builds (or ways of starting) of the berth CLI against one berthd, interleaved run by
// run: `version`, `exec CTR true`, `run --rm busybox true`, beside bare `node -e 0` started with
// this environment and with NODE_EXTRA_CA_CERTS unset. bench/cli-ab.sh starts the daemon.
//
//   node bench/cli-ab.mjs --socket S --cli 'new=dist/berth' --cli 'old=node /tmp/old/berth.js' [--runs 20]
//                         [--warmup 2] [--network none] [--callgrind]
// --callgrind: also the instructions of one `version` per CLI (valgrind, all processes summed).
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({
  options: {
    socket: { type: 'string' },
    cli: { type: 'string', multiple: true, default: [] },
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    network: { type: 'string', default: 'none' },
    callgrind: { type: 'boolean', default: false },
  },
});
const runs = Number(options.runs);
const warmup = Number(options.warmup);
const host = ['-H', `unix://${options.socket}`];
const clis = options.cli.map((spec) => {
  const eq = spec.indexOf('=');
  return { name: spec.slice(0, eq), argv: [...spec.slice(eq + 1).split(' ').filter(Boolean), ...host] };
});
const network = options.network ? ['--network', options.network] : [];
const withoutExtraCa = { ...process.env };
delete withoutExtraCa.NODE_EXTRA_CA_CERTS;

function timeOnce(argv, env = process.env) {
  const started = process.hrtime.bigint();
  const result = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')}: exit ${result.status ?? result.signal}: ${result.stderr.trim()}`);
  return ms;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const first = clis[0];
spawnSync(first.argv[0], [...first.argv.slice(1), 'run', '-d', '--name', 'berth-cli-ab', ...network, 'busybox', 'sleep', '3600'], { stdio: 'ignore' });
process.on('exit', () => spawnSync(first.argv[0], [...first.argv.slice(1), 'rm', '-f', 'berth-cli-ab'], { stdio: 'ignore' }));

const cases = [
  { label: 'version', args: ['version'] },
  { label: 'exec CTR true', args: ['exec', 'berth-cli-ab', 'true'] },
  { label: `run --rm ${network.join(' ')} busybox true`, args: ['run', '--rm', ...network, 'busybox', 'true'] },
];
const floors = [
  { label: 'node -e 0, this environment', argv: [process.execPath, '-e', '0'], env: process.env },
  { label: 'node -e 0, no NODE_EXTRA_CA_CERTS', argv: [process.execPath, '-e', '0'], env: withoutExtraCa },
];
const times = new Map();
const record = (key, ms) => times.set(key, [...(times.get(key) ?? []), ms]);
for (let i = 0; i < warmup + runs; i++) {
  for (const benchCase of cases) {
    for (const cli of clis) {
      const ms = timeOnce([...cli.argv, ...benchCase.args]);
      if (i >= warmup) record(`${benchCase.label}\t${cli.name}`, ms);
    }
  }
  for (const floor of floors) {
    const ms = timeOnce(floor.argv, floor.env);
    if (i >= warmup) record(`${floor.label}\t`, ms);
  }
}

console.log(`\n${runs} runs after ${warmup} warm-up, interleaved; wall ms, median (min-max); load ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim()}`);
console.log(`| command | ${clis.map((cli) => cli.name).join(' | ')} |`);
console.log(`|---|${clis.map(() => '---').join('|')}|`);
for (const benchCase of cases) {
  const cells = clis.map((cli) => {
    const values = times.get(`${benchCase.label}\t${cli.name}`);
    return `${median(values).toFixed(1)} (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)})`;
  });
  console.log(`| ${benchCase.label} | ${cells.join(' | ')} |`);
}
for (const floor of floors) {
  const values = times.get(`${floor.label}\t`);
  console.log(`| ${floor.label} | ${median(values).toFixed(1)} (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)}) |`);
}

if (options.callgrind) {
  const count = (argv, env = process.env) => {
    const result = spawnSync('valgrind', ['--tool=callgrind', '--trace-children=yes', '--callgrind-out-file=/dev/null', ...argv], { encoding: 'utf8', env });
    return [...result.stderr.matchAll(/Collected : (\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
  };
  console.log('\ninstructions of one run (valgrind callgrind, every process of it):');
  for (const cli of clis) console.log(`  ${cli.name} version: ${(count([...cli.argv, 'version']) / 1e6).toFixed(0)} M`);
  console.log(`  node -e 0, this environment: ${(count([process.execPath, '-e', '0']) / 1e6).toFixed(0)} M`);
  console.log(`  node -e 0, no NODE_EXTRA_CA_CERTS: ${(count([process.execPath, '-e', '0'], withoutExtraCa) / 1e6).toFixed(0)} M`);
}
