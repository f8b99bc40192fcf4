#!/usr/bin/env bash
# Where the time of `run --rm`, `exec` and CLI start goes, measured: berthd and the berth CLI
# run with BERTH_TRACE=1 (src/util/trace.ts), so that every API request, container exit and
# CLI command writes one trace line with its phases; after N iterations of each command,
# bench/breakdown.mjs prints the median of each phase per operation. Beside them, the floor:
# `node -e 0`, and the runtime's `exec` of `true` alone in the same container (no berthd, no
# conmon), run the way berthd runs it (crun through dist's launcher; BENCH_RUNTIME=runc for runc).
# bench/run.sh starts the daemon on its own roots and removes everything at the end; this
# script is its hook. docs/performance.md explains each phase.
#
#   bash bench/breakdown.sh
# Environment: BENCH_RUNS=20 (iterations per command), BENCH_DIST, BENCH_NETWORK (bench/run.sh's).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

if [ -z "${BERTH_BREAKDOWN_HOOK:-}" ]; then
  export BERTH_BREAKDOWN_HOOK=1 BENCH_HOOK="$PWD/bench/breakdown.sh" BENCH_SIDES=berth BERTH_TRACE=1
  exec bash bench/run.sh
fi

# From here on we run inside bench/run.sh, with BERTH_CLI (".../berth -H unix://SOCKET") set.
read -r -a cli <<<"$BERTH_CLI"
socket=$(sed -E 's|.*-H unix://([^ ]+).*|\1|' <<<"$BERTH_CLI")
side_root=$(dirname "$socket")
daemon_log=$side_root/berthd.log
runs=${BENCH_RUNS:-20}
network=${BENCH_NETWORK-none}
runtime=${BENCH_RUNTIME:-crun}
dist=${BENCH_DIST:-$PWD/dist}
runtime_cmd=(runc "--root=$side_root/exec/runtime/runc")
if [ "$runtime" = crun ]; then
  hide=()
  if [ ! -e /sys/fs/cgroup/cgroup.controllers ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then hide=(--hide-cgroup2); fi
  runtime_cmd=("$dist/berth-runtime-launcher" "${hide[@]}" /usr/bin/crun "--root=$side_root/exec/runtime/crun")
fi
net_args=()
[ -n "$network" ] && net_args=(--network "$network")
traces=$(mktemp -d)
trap 'rm -rf "$traces"' EXIT

"${cli[@]}" run -d --name berth-breakdown --runtime "$runtime" "${net_args[@]}" busybox sleep 3600 >/dev/null 2>&1
ctr=$("${cli[@]}" inspect -f '{{.Id}}' berth-breakdown 2>/dev/null)
# The same without a seccomp filter: what the runtime's compilation and loading of the filter costs an exec.
"${cli[@]}" run -d --name berth-breakdown-noseccomp --security-opt seccomp=unconfined --runtime "$runtime" "${net_args[@]}" busybox sleep 3600 >/dev/null 2>&1
ctr_unconfined=$("${cli[@]}" inspect -f '{{.Id}}' berth-breakdown-noseccomp 2>/dev/null)
: > "$traces/floor"
for _ in $(seq 2); do   # warm-up
  "${cli[@]}" run --rm "${net_args[@]}" busybox true 2>/dev/null
  "${cli[@]}" exec berth-breakdown true 2>/dev/null
done
# Only what the timed iterations write counts.
log_start=$(wc -l < "$daemon_log")
for _ in $(seq "$runs"); do
  "${cli[@]}" run --rm "${net_args[@]}" busybox true 2>>"$traces/cli"
  "${cli[@]}" exec berth-breakdown true 2>>"$traces/cli"
  "${cli[@]}" version 2>>"$traces/cli" >/dev/null
  node bench/time-once.mjs 'floor.node -e 0' node -e 0 >> "$traces/floor"
  node bench/time-once.mjs "floor.$runtime exec true" "${runtime_cmd[@]}" exec "$ctr" true >> "$traces/floor"
  node bench/time-once.mjs "floor.$runtime exec true, seccomp unconfined" "${runtime_cmd[@]}" exec "$ctr_unconfined" true >> "$traces/floor"
done
"${cli[@]}" rm -f berth-breakdown berth-breakdown-noseccomp >/dev/null 2>&1
tail -n +"$((log_start + 1))" "$daemon_log" > "$traces/daemon"
echo "breakdown: $runs iterations; medians in ms (a phase may contain others, e.g. record.save its fsyncs)"
node bench/breakdown.mjs "$traces/daemon" "$traces/cli" "$traces/floor"
