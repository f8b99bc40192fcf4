#!/usr/bin/env bash
# Networks, berth side by side with Docker: `run --rm` on the default bridge, on a user network
# and with a published port (bench/compare.mjs --cases network), then the throughput of a
# published port reached on 127.0.0.1 (bench/port-load.mjs against bench/port-server.js:
# requests per second over 8 kept-alive connections, new connections per second, MB/s of a
# 512 MiB download). dockerd runs with its bridge, iptables and docker-proxy (Docker's defaults),
# berthd with its DNAT; both inside the bench's own network namespace (bench/lib.sh), so the
# host's interfaces and rules are never touched.
#
#   bash bench/network.sh
# Environment: BENCH_RUNS=10, BENCH_WARMUP=2, BENCH_LOAD_SECONDS=5, and bench/run.sh's variables.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

if [ -z "${BERTH_NETWORK_BENCH_HOOK:-}" ]; then
  export BERTH_NETWORK_BENCH_HOOK=1 BENCH_HOOK="$PWD/bench/network.sh" BENCH_DOCKER_BRIDGE=1
  export BENCH_RUNS=${BENCH_RUNS:-10} BENCH_WARMUP=${BENCH_WARMUP:-2}
  exec bash bench/run.sh
fi

# From here on we run inside bench/run.sh, with BERTH_CLI and DOCKER_CLI set.
for cli in "$BERTH_CLI" "$DOCKER_CLI"; do
  [ -n "$cli" ] || continue
  $cli network create berth-bench-net >/dev/null
done
node bench/compare.mjs --berth "$BERTH_CLI" --docker "$DOCKER_CLI" --cases network --runs "$BENCH_RUNS" --warmup "$BENCH_WARMUP" || true

port=18080
for side in berth docker; do
  cli=$BERTH_CLI
  [ "$side" = docker ] && cli=$DOCKER_CLI
  [ -n "$cli" ] || continue
  # The host's node as the server (bench/port-server.js): no fork per request, unlike busybox httpd.
  $cli run -d --name berth-bench-web -p "127.0.0.1:$port:80" -v /usr:/usr:ro -v /lib:/lib:ro -v /lib64:/lib64:ro \
    -v "$PWD/bench:/bench:ro" busybox /usr/bin/node /bench/port-server.js >/dev/null
  echo "$side: $(node bench/port-load.mjs "$port" "${BENCH_LOAD_SECONDS:-5}")"
  $cli rm -f berth-bench-web >/dev/null
  port=$((port + 1))
done
