#!/usr/bin/env bash
# bench/sandbox.mjs in network and mount namespaces of its own: a sysfs of that network namespace
# (berthd reads /sys/class/net), bridges and rules that go with the namespace. Nothing of the host's.
#   bash bench/sandbox.sh [RUNS] [-p] DIST [DIST...]      e.g. bash bench/sandbox.sh 20 /tmp/base-dist dist
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
if [ -z "${BERTH_SANDBOX_BENCH_NS:-}" ]; then
  BERTH_SANDBOX_BENCH_NS=1 exec unshare --net --mount --propagation private -- bash "$0" "$@"
fi
mount -t sysfs sysfs /sys
ip link set lo up
runs=20
if [[ ${1:-} =~ ^[0-9]+$ ]]; then runs=$1; shift; fi
dists=()
for arg in "$@"; do
  if [ "$arg" = -p ]; then dists+=("$arg"); else dists+=("$(realpath "$arg")"); fi
done
node bench/sandbox.mjs "$runs" "${dists[@]}"
