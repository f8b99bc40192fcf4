#!/usr/bin/env bash
# berth with 1,000 containers beside Docker with as many (bench/scale.mjs): ps and ps -a with
# the docker CLI, inspect latency alone and under 200 concurrent clients, berthd's memory per
# container, processes and fds, and its restart (restore) time. bench/run.sh starts both
# daemons on their own roots, in the bench's own network namespace, and removes everything at
# the end; this script is its hook. Of the containers, 50 run `sleep`, 150 exited, the rest
# are created only: this 2-core machine is shared, and a thousand running containers would
# measure the machine, not the daemons.
#
#   bash bench/scale.sh
# Environment: BENCH_TOTAL=1000 BENCH_RUNNING=50 BENCH_EXITED=150 BENCH_RUNS=10
# BENCH_CLIENTS=200 BENCH_REQUESTS=10 BENCH_LOAD_ROUNDS=5 (rounds of that load, taking turns), and bench/run.sh's (BENCH_SIDES, BENCH_DIST, BENCH_NETWORK).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

if [ -z "${BERTH_SCALE_BENCH_HOOK:-}" ]; then
  export BERTH_SCALE_BENCH_HOOK=1 BENCH_HOOK="$PWD/bench/scale.sh"
  exec bash bench/run.sh
fi

source bench/lib.sh   # socket_of
network=${BENCH_NETWORK-none}
node bench/scale.mjs --berth "$(socket_of "${BERTH_CLI:-}")" --docker "$(socket_of "${DOCKER_CLI:-}")" \
  --total "${BENCH_TOTAL:-1000}" --running "${BENCH_RUNNING:-50}" --exited "${BENCH_EXITED:-150}" \
  --runs "${BENCH_RUNS:-10}" --clients "${BENCH_CLIENTS:-200}" --requests "${BENCH_REQUESTS:-10}" --network "$network"
