#!/usr/bin/env bash
# p50/p99 latency of POST /containers/create + start + DELETE ?force=1 under 1, 10 and 100
# concurrent API clients, berth side by side with Docker (bench/api-latency.mjs). bench/run.sh
# starts both daemons on their own roots, in the bench's own network namespace, and removes
# everything at the end; this script is its hook.
#
#   bash bench/api-latency.sh
# Environment: BENCH_CLIENTS=1,10,100  BENCH_CYCLES=10 (per client)  BENCH_WARMUP=1, and
# bench/run.sh's variables (BENCH_SIDES, BENCH_DIST, BENCH_NETWORK).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

if [ -z "${BERTH_LATENCY_BENCH_HOOK:-}" ]; then
  export BERTH_LATENCY_BENCH_HOOK=1 BENCH_HOOK="$PWD/bench/api-latency.sh"
  export BENCH_WARMUP=${BENCH_WARMUP:-1}
  exec bash bench/run.sh
fi

# From here on we run inside bench/run.sh, with BERTH_CLI and DOCKER_CLI ("... -H unix://SOCKET") set.
source bench/lib.sh   # socket_of
network=${BENCH_NETWORK-none}
node bench/api-latency.mjs --berth "$(socket_of "${BERTH_CLI:-}")" --docker "$(socket_of "${DOCKER_CLI:-}")" \
  --clients "${BENCH_CLIENTS:-1,10,100}" --cycles "${BENCH_CYCLES:-10}" --warmup "$BENCH_WARMUP" --network "$network"
