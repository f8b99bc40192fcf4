#!/usr/bin/env bash
# `stats --no-stream` over many running containers, berth side by side with Docker. bench/run.sh
# starts both daemons on their own roots (and removes everything at the end); this script is
# its hook: it starts BENCH_CONTAINERS containers (`sleep`, --network none) on each side, times
# `stats --no-stream` with each engine's own CLI (interleaved, after warm-up runs), checks that
# every container has its row, prints medians and the berth/docker ratio, and removes the
# containers it started.
#
#   bash bench/stats.sh
# Environment: BENCH_CONTAINERS=20, BENCH_RUNS=5, BENCH_WARMUP=1, and bench/run.sh's variables
# (BENCH_SIDES, BENCH_DIST to run berth from a scripts/dev-bundle.sh folder).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

if [ -z "${BERTH_STATS_BENCH_HOOK:-}" ]; then
  export BERTH_STATS_BENCH_HOOK=1 BENCH_HOOK="$PWD/bench/stats.sh"
  export BENCH_RUNS=${BENCH_RUNS:-5} BENCH_WARMUP=${BENCH_WARMUP:-1}
  exec bash bench/run.sh
fi

# From here on we run inside bench/run.sh, with BERTH_CLI and DOCKER_CLI set.
count=${BENCH_CONTAINERS:-20}
label=berth-bench-stats
sides=()
[ -n "${BERTH_CLI:-}" ] && sides+=(berth)
[ -n "${DOCKER_CLI:-}" ] && sides+=(docker)

cli_of() {
  case $1 in
    berth) echo "$BERTH_CLI" ;;
    docker) echo "$DOCKER_CLI" ;;
  esac
}

# berthd leaves containers running when it stops: remove ours before bench/run.sh stops it.
remove_containers() {
  local side ids
  for side in "${sides[@]}"; do
    ids=$($(cli_of "$side") ps -aq --filter "label=$label" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$ids" ] || $(cli_of "$side") rm -f $ids >/dev/null 2>&1 || true
  done
}
trap remove_containers EXIT

for side in "${sides[@]}"; do
  started=$(date +%s.%N)
  for _ in $(seq "$count"); do
    $(cli_of "$side") run -d --network none --label "$label=1" busybox sleep 3600 >/dev/null
  done
  echo "bench: $side: $count containers started in $(awk -v from="$started" -v to="$(date +%s.%N)" 'BEGIN { printf "%.1f", to - from }') s"
done

BENCH_COUNT=$count node --input-type=module - <<'EOF'
import { spawnSync } from 'node:child_process';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
const count = Number(process.env.BENCH_COUNT);
const sides = [
  { name: 'berth', cli: (process.env.BERTH_CLI ?? '').split(' ').filter(Boolean) },
  { name: 'docker', cli: (process.env.DOCKER_CLI ?? '').split(' ').filter(Boolean) },
].filter((side) => side.cli.length > 0);
const args = ['stats', '--no-stream'];

const timings = new Map(sides.map((side) => [side.name, []]));
for (let i = 0; i < warmup + runs; i++) {
  for (const side of sides) {
    const started = process.hrtime.bigint();
    const result = spawnSync(side.cli[0], [...side.cli.slice(1), ...args], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const rows = result.stdout.split('\n').filter(Boolean);
    if (result.status !== 0 || rows.length !== count + 1 || rows.slice(1).some((row) => / -- /.test(row))) {
      console.error(`${side.name} stats --no-stream: exit ${result.status}, ${rows.length - 1} rows:\n${result.stdout}${result.stderr}`);
      process.exit(1);
    }
    if (i >= warmup) timings.get(side.name).push(ms);
  }
}

const median = (sorted) => (sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2);
const stats = Object.fromEntries(sides.map((side) => {
  const sorted = timings.get(side.name).sort((a, b) => a - b);
  return [side.name, { median: median(sorted), min: sorted[0], max: sorted.at(-1) }];
}));
const header = ['command', ...sides.map((side) => `${side.name} median (min–max)`)];
const cells = [`stats --no-stream (${count} running)`, ...sides.map((side) => {
  const s = stats[side.name];
  return `${s.median.toFixed(1)} ms (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
})];
if (stats.berth && stats.docker) {
  header.push('berth / docker');
  cells.push(`${(stats.berth.median / stats.docker.median).toFixed(2)}×`);
}
const widths = header.map((title, column) => Math.max(title.length, cells[column].length));
const line = (row) => `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
console.log(`\n${runs} runs each after ${warmup} warm-up runs, interleaved; wall time of the client command.\n`);
console.log(line(header));
console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
console.log(line(cells));
EOF
