// bench/volumes-ab.sh's timing loop: each case runs on the base and the new berth in turn (the
// order alternating), and prints both medians and their ratio.
//   node bench/volumes-ab.mjs RUNS CASES BASE_CLI NEW_CLI
import { spawnSync } from 'node:child_process';

const [runs, cases, baseCli, newCli] = [Number(process.argv[2]), process.argv[3].split(','), process.argv[4].split(' '), process.argv[5].split(' ')];
const ARGS = {
  plain: ['run', '--rm', '--network', 'none', 'busybox', 'true'],
  vol: ['run', '--rm', '--network', 'none', '-v', 'berth-bench-vol:/data', 'busybox', 'true'],
  copyup: ['run', '--rm', '--network', 'none', 'berth-bench-copyup', 'true'],
  // The first run of an image (a new image ID each time, so no volume seed of it exists yet).
  first: ['run', '--rm', '--network', 'none', 'berth-bench-first', 'true'],
};

/** Before each `first` run, untimed: the copy-up image imported again under a new ID. */
function importFresh(cli, run) {
  const args = ['import', '-c', 'VOLUME /data', '-c', 'CMD ["true"]', '-c', `ENV BENCH_FIRST=${run}`, process.env.BENCH_COPYUP_TAR, 'berth-bench-first'];
  const result = spawnSync(cli[0], [...cli.slice(1), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`import: ${result.stderr}`);
}

function time(cli, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(cli[0], [...cli.slice(1), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')}: ${result.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

for (const name of cases) {
  const args = ARGS[name];
  if (!args) throw new Error(`unknown case ${name}: ${Object.keys(ARGS).join(', ')}`);
  const times = { base: [], new: [] };
  // Run 0 warms both up and is not counted.
  for (let run = 0; run <= runs; run++) {
    const order = run % 2 ? [['new', newCli], ['base', baseCli]] : [['base', baseCli], ['new', newCli]];
    for (const [side, cli] of order) {
      if (name === 'first') importFresh(cli, run);
      const ms = time(cli, args);
      if (run > 0) times[side].push(ms);
    }
  }
  const [before, after] = [median(times.base), median(times.new)];
  console.log(`${name}: base ${before.toFixed(1)} ms, new ${after.toFixed(1)} ms, new/base ${(after / before).toFixed(2)}`);
  console.log(`  base ${times.base.map(Math.round).join(' ')}\n  new  ${times.new.map(Math.round).join(' ')}`);
}
