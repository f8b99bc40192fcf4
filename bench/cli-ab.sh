#!/usr/bin/env bash
# The berth CLI's own time, two or more ways against one berthd (bench/run.sh starts it, from
# dist/ or BENCH_DIST): `version`, `exec CTR true` and `run --rm busybox true`, interleaved, beside
# `node -e 0` with and without NODE_EXTRA_CA_CERTS (bench/cli-ab.mjs).
#
#   BENCH_B=/tmp/base/dist bash bench/cli-ab.sh
#
# compares this build's dist/berth (the launcher), this build's `node dist/berth.js`, and
# BENCH_B's CLI (its launcher if it has one). BENCH_CALLGRIND=1 adds instruction counts.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
if [ -z "${BERTH_CLI_AB_HOOK:-}" ]; then
  export BERTH_CLI_AB_HOOK=1 BENCH_HOOK="$PWD/bench/cli-ab.sh" BENCH_SIDES=berth
  exec bash bench/run.sh
fi

# From here on we run inside bench/run.sh, with BERTH_CLI set.
source bench/lib.sh
dist=${BENCH_DIST:-$PWD/dist}
clis=(--cli "launcher=$(berth_cli_of "$dist")" --cli "node-berth.js=node $dist/berth.js")
if [ -n "${BENCH_B:-}" ]; then clis+=(--cli "baseline=$(berth_cli_of "$BENCH_B")"); fi
extra=()
[ -n "${BENCH_CALLGRIND:-}" ] && extra=(--callgrind)
node bench/cli-ab.mjs --socket "$(socket_of "$BERTH_CLI")" "${clis[@]}" --runs "${BENCH_RUNS:-20}" \
  --warmup "${BENCH_WARMUP:-2}" --network "${BENCH_NETWORK-none}" "${extra[@]}"
