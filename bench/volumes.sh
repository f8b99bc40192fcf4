#!/usr/bin/env bash
# Volumes, berth side by side with Docker: `run --rm` with a named volume, and `run --rm` of an
# image whose VOLUME /data holds 2,000 files, so that every run creates an anonymous volume,
# copies the image's files up into it and removes it again. bench/run.sh starts both daemons
# on their own roots (and removes everything at the end); this script is its hook: it imports
# the copy-up image on each side and times both commands with bench/compare.mjs.
#
#   bash bench/volumes.sh
# Environment: BENCH_RUNS=10, BENCH_WARMUP=2, BENCH_FILES=2000, and bench/run.sh's variables.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

if [ -z "${BERTH_VOLUMES_BENCH_HOOK:-}" ]; then
  export BERTH_VOLUMES_BENCH_HOOK=1 BENCH_HOOK="$PWD/bench/volumes.sh"
  export BENCH_RUNS=${BENCH_RUNS:-10} BENCH_WARMUP=${BENCH_WARMUP:-2}
  exec bash bench/run.sh
fi

# From here on we run inside bench/run.sh, with BERTH_CLI and DOCKER_CLI set.
work=$(mktemp -d /var/tmp/berth-bench-volumes.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash scripts/make-busybox-rootfs.sh "$work/copyup.tar" >/dev/null
mkdir -p "$work/tree/data"
for i in $(seq -w "${BENCH_FILES:-2000}"); do echo "file $i" > "$work/tree/data/f$i"; done
tar -rf "$work/copyup.tar" -C "$work/tree" data
for cli in "$BERTH_CLI" "$DOCKER_CLI"; do
  [ -n "$cli" ] || continue
  $cli import -c 'VOLUME /data' -c 'CMD ["true"]' "$work/copyup.tar" berth-bench-copyup:latest >/dev/null
done

node bench/compare.mjs --berth "$BERTH_CLI" --docker "$DOCKER_CLI" --cases volumes \
  --runs "$BENCH_RUNS" --warmup "$BENCH_WARMUP" --network "${BENCH_NETWORK-none}"
