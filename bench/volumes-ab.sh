#!/usr/bin/env bash
# Volumes, berth before and after a change: two berthds side by side (BENCH_BASE's build and
# this tree's dist/), each on its own roots, bridge and subnet, in the bench's own network
# namespace; `run --rm` with a named volume and with a VOLUME of 2,000 files copied up, the two
# daemons interleaved run by run (bench/volumes-ab.mjs), then each daemon's trace medians
# (BERTH_TRACE=1, bench/breakdown.mjs). Removes everything it made at the end.
#
#   cp -a dist /var/tmp/berth-base    # before the change, once
#   BENCH_BASE=/var/tmp/berth-base bash bench/volumes-ab.sh
# Environment: BENCH_RUNS=10, BENCH_FILES=2000, BENCH_CASES=vol,copyup (also: plain; first: the
# first run of an image, imported again under a new ID before each run, untimed).
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
repo=$PWD
source bench/lib.sh
base=${BENCH_BASE:?BENCH_BASE=DIR: the build to compare with (a copy of an earlier dist/)}
bench_own_netns "$repo/bench/volumes-ab.sh" "$@"
root=$(mktemp -d /var/tmp/berth-bench-ab.XXXXXX)
cgroup_parent="berthbenchab$$"
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  bench_teardown "$root" "$cgroup_parent" "${pids[@]}"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/make-busybox-rootfs.sh "$root/busybox.tar" >/dev/null
mkdir -p "$root/tree/data"
for i in $(seq -w "${BENCH_FILES:-2000}"); do echo "file $i" > "$root/tree/data/f$i"; done
cp "$root/busybox.tar" "$root/copyup.tar"
tar -rf "$root/copyup.tar" -C "$root/tree" data

clis=()
subnet=1
for side in base new; do
  dist=$base
  [ "$side" = new ] && dist=$repo/dist
  mkdir -p "$root/$side/data" "$root/$side/exec"
  BERTH_TRACE=1 node "$dist/berthd.js" --data-root "$root/$side/data" --exec-root "$root/$side/exec" \
    --pidfile "$root/$side/berthd.pid" -H "unix://$root/$side/berth.sock" --cgroup-parent "$cgroup_parent" \
    --bridge "bab$side" --bip "10.231.$subnet.1/24" > "$root/$side/berthd.log" 2>&1 < /dev/null &
  pids+=($!)
  subnet=$((subnet + 1))
  node bench/wait-ping.mjs "$root/$side/berth.sock" 60
  cli="$(berth_cli_of "$dist") -H unix://$root/$side/berth.sock"
  $cli import -c 'CMD ["sh"]' "$root/busybox.tar" busybox:latest >/dev/null
  $cli import -c 'VOLUME /data' -c 'CMD ["true"]' "$root/copyup.tar" berth-bench-copyup:latest >/dev/null
  clis+=("$cli")
done

echo "bench: $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
BENCH_COPYUP_TAR="$root/copyup.tar" node bench/volumes-ab.mjs "${BENCH_RUNS:-10}" "${BENCH_CASES:-vol,copyup}" "${clis[0]}" "${clis[1]}"
for side in base new; do
  echo "== $side: trace medians"
  node bench/breakdown.mjs "$root/$side/berthd.log"
done
