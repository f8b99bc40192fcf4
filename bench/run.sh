#!/usr/bin/env bash
# `npm run bench`: berth side by side with Docker on this machine. Starts Debian's dockerd
# and a berthd, each on its own data root, exec root, pidfile and socket under one
# temporary folder, imports the same busybox root filesystem into both, times the same
# client commands against each (bench/compare.mjs), prints the table, and at the end
# stops both daemons and removes everything it made, also after a failure or Ctrl-C.
#
# Environment:
#   BENCH_RUNS=20 BENCH_WARMUP=2   timed runs per command, after the warm-up runs
#   BENCH_SIDES="berth docker"     which engines to run (one alone works too)
#   BENCH_NETWORK=none             --network for `run` on both sides: with none, both create
#                                  a network namespace with loopback alone (the bench
#                                  dockerd has no bridge); '' leaves each engine's default
#   BENCH_DOCKER_BRIDGE=1          dockerd with its default bridge, iptables and docker-proxy
#                                  (bench/network.sh), still inside the bench's own namespace
#   BENCH_DIST=DIR                 berth from DIR (e.g. scripts/dev-bundle.sh's) instead of dist/,
#                                  which is then not rebuilt
#   BENCH_HOOK=SCRIPT              run SCRIPT instead of bench/compare.mjs, with BERTH_CLI and
#                                  DOCKER_CLI (each side's CLI command, '' when skipped) set
#                                  (bench/stats.sh does so)
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
repo=$PWD

runs=${BENCH_RUNS:-20}
warmup=${BENCH_WARMUP:-2}
sides=${BENCH_SIDES:-berth docker}
network=${BENCH_NETWORK-none}
want_berth=false want_docker=false
for side in $sides; do
  case $side in
    berth) want_berth=true ;;
    docker) want_docker=true ;;
    *) echo "bench: unknown side in BENCH_SIDES: $side" >&2; exit 2 ;;
  esac
done

dist=${BENCH_DIST:-$repo/dist}
source bench/lib.sh
# Setup may need the network (apt-get): it runs before the bench enters its own namespace.
if [ -z "${BERTH_BENCH_NETNS:-}" ]; then
  if $want_berth && [ -z "${BENCH_DIST:-}" ]; then
    bash scripts/setup.sh --bench
  else
    bash scripts/setup.sh --bench --no-build
  fi
fi
bench_own_netns "$repo/bench/run.sh" "$@"
root=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
daemon_pids=()

# Stops what this run started and removes its folder (bench/lib.sh).
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  bench_teardown "$root" "$cgroup_parent" "${daemon_pids[@]}"
  exit "$status"
}
cgroup_parent="berthbench$$"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints the end of a daemon's log when it did not come up.
wait_for_daemon() {
  local name=$1 socket=$2 log=$3
  if ! node bench/wait-ping.mjs "$socket" 60; then
    echo "bench: $name did not start; the end of $log:" >&2
    tail -n 40 "$log" >&2 || true
    exit 1
  fi
}

rootfs=$root/busybox-rootfs.tar
bash scripts/make-busybox-rootfs.sh "$rootfs" >/dev/null

docker_cli=''
if $want_docker; then
  mkdir -p "$root/docker/data" "$root/docker/exec"
  # An empty config file so that the host's /etc/docker/daemon.json plays no part.
  echo '{}' > "$root/docker/daemon.json"
  # No bridge, no iptables rules, no masquerading, and the bench's own network namespace
  # (bench_own_netns): this dockerd leaves the host's networking alone. With no --containerd
  # it starts its own containerd under --exec-root.
  docker_network_flags=(--bridge=none --iptables=false --ip6tables=false --ip-masq=false --userland-proxy=false)
  if [ -n "${BENCH_DOCKER_BRIDGE:-}" ]; then docker_network_flags=(--ip6tables=false); fi
  dockerd --config-file "$root/docker/daemon.json" \
    --data-root "$root/docker/data" --exec-root "$root/docker/exec" \
    --pidfile "$root/docker/dockerd.pid" -H "unix://$root/docker/docker.sock" \
    "${docker_network_flags[@]}" \
    > "$root/docker/dockerd.log" 2>&1 < /dev/null &
  dockerd_pid=$!
  daemon_pids+=($dockerd_pid)
  docker_cli="docker -H unix://$root/docker/docker.sock"
  wait_for_daemon dockerd "$root/docker/docker.sock" "$root/docker/dockerd.log"
  $docker_cli import -c 'CMD ["sh"]' "$rootfs" busybox:latest >/dev/null
  # Were it missing, `run` would try to pull busybox from Docker Hub.
  $docker_cli image inspect busybox:latest >/dev/null
fi

berth_cli=''
if $want_berth; then
  mkdir -p "$root/berth/data" "$root/berth/exec"
  # As a program, as scripts/start.sh starts it: its #! line sets berthd's launch environment
  # (scripts/build.mjs). A build without the executable bit (scripts/dev-bundle.sh) runs under node.
  berthd=(node "$dist/berthd.js")
  [ -x "$dist/berthd.js" ] && berthd=("$dist/berthd.js")
  "${berthd[@]}" \
    --data-root "$root/berth/data" --exec-root "$root/berth/exec" \
    --pidfile "$root/berth/berthd.pid" -H "unix://$root/berth/berth.sock" \
    --cgroup-parent "$cgroup_parent" \
    > "$root/berth/berthd.log" 2>&1 < /dev/null &
  berthd_pid=$!
  daemon_pids+=($berthd_pid)
  berth_cli="$(berth_cli_of "$dist") -H unix://$root/berth/berth.sock"
  wait_for_daemon berthd "$root/berth/berth.sock" "$root/berth/berthd.log"
  $berth_cli import -c 'CMD ["sh"]' "$rootfs" busybox:latest >/dev/null
  # Were it missing, `run` would try to pull busybox from Docker Hub.
  $berth_cli image inspect busybox:latest >/dev/null
fi

echo "bench: $(nproc) cores; docker: $(dockerd --version 2>/dev/null | head -1 || echo none);" \
  "berth: $(node -p "require('./package.json').version")"
if [ -n "${BENCH_HOOK:-}" ]; then
  BERTH_CLI=$berth_cli DOCKER_CLI=$docker_cli BENCH_RUNS=$runs BENCH_WARMUP=$warmup bash "$BENCH_HOOK"
  exit
fi
BENCH_BERTHD_PID=${berthd_pid:-} BENCH_DOCKERD_PID=${dockerd_pid:-} \
  node bench/compare.mjs --berth "$berth_cli" --docker "$docker_cli" \
  --runs "$runs" --warmup "$warmup" --network "$network"
