#!/usr/bin/env bash
# Two berthd builds taking turns on one data root with 1,000 containers (bench/scale-ab.mjs):
# restore, inspect alone and under 200 concurrent clients, the list API, memory after GC.
# The way to measure a change to berthd's scale against its baseline on a shared machine:
# each round runs both, so load that comes and goes hits both alike.
#
#   BENCH_B=/tmp/base-dist bash bench/scale-ab.sh      # A = dist/ (rebuilt), B = the baseline
# Environment: BENCH_B (a dist folder: berthd.js and its chunks; empty = A alone),
# BENCH_TOTAL=1000 BENCH_RUNNING=50 BENCH_EXITED=150 BENCH_ROUNDS=5 BENCH_CLIENTS=200
# BENCH_REQUESTS=10 BENCH_PROFILE=DIR (CPU profiles of the last round's load).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

if [ -z "${BERTH_SCALE_AB_HOOK:-}" ]; then
  export BERTH_SCALE_AB_HOOK=1 BENCH_HOOK="$PWD/bench/scale-ab.sh" BENCH_SIDES=berth
  exec bash bench/run.sh
fi

source bench/lib.sh   # socket_of
node bench/scale-ab.mjs --socket "$(socket_of "$BERTH_CLI")" --a "${BENCH_DIST:-dist}" --b "${BENCH_B:-}" \
  --total "${BENCH_TOTAL:-1000}" --running "${BENCH_RUNNING:-50}" --exited "${BENCH_EXITED:-150}" \
  --rounds "${BENCH_ROUNDS:-5}" --clients "${BENCH_CLIENTS:-200}" --requests "${BENCH_REQUESTS:-10}" \
  --profile "${BENCH_PROFILE:-}" --network "${BENCH_NETWORK-none}"
