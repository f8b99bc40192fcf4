#!/usr/bin/env bash
# Builds, berth side by side with Docker's classic builder (DOCKER_BUILDKIT=0): a cold build
# (--no-cache) and a fully cached rebuild of a reference multi-stage Dockerfile: two
# independent stages with RUN steps (berth builds them at the same time, the classic builder
# one after the other), a COPY of ~2,000 files, a final stage copying from both. bench/run.sh
# starts both daemons on their own roots (and removes everything at the end); this script is
# its hook: it writes the context and times both builds with bench/compare.mjs.
#
#   bash bench/build.sh
#   BERTH_TRACE=1 BENCH_SIDES=berth bash bench/build.sh   where berth's time goes instead: the
#     median of each phase (berthd's POST /build and the CLI's side), cold and cached apart
# Environment: BENCH_RUNS=5, BENCH_WARMUP=1, BENCH_FILES=2000, and bench/run.sh's variables.
set -euo pipefail
cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

if [ -z "${BERTH_BUILD_BENCH_HOOK:-}" ]; then
  export BERTH_BUILD_BENCH_HOOK=1 BENCH_HOOK="$PWD/bench/build.sh"
  export BENCH_RUNS=${BENCH_RUNS:-5} BENCH_WARMUP=${BENCH_WARMUP:-1}
  exec bash bench/run.sh
fi

# From here on we run inside bench/run.sh, with BERTH_CLI and DOCKER_CLI set.
work=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
for i in $(seq -w "${BENCH_FILES:-2000}"); do echo "source file $i" > "$work/src/f$i.txt"; done
cat > "$work/Dockerfile" <<'DOCKERFILE'
FROM busybox AS deps
RUN mkdir -p /out && for i in $(seq 1 200); do echo "dep $i" > /out/dep$i; done
RUN sleep 1 && tar -cf /out/deps.tar -C /out .

FROM busybox AS sources
COPY src /src
RUN cat /src/*.txt | wc -l > /count
RUN sleep 1

FROM busybox
ENV APP=/app
WORKDIR /app
COPY --from=deps /out/deps.tar ./
COPY --from=sources /count ./
RUN tar -xf deps.tar && rm deps.tar
CMD ["cat", "/app/count"]
DOCKERFILE

export DOCKER_BUILDKIT=0
if [ "${BERTH_TRACE:-}" = 1 ] && [ -n "$BERTH_CLI" ]; then
  # berthd was started with BERTH_TRACE=1 too (bench/run.sh passes the environment on).
  socket=${BERTH_CLI##*unix://}
  log=${socket%/*}/berthd.log
  net=(); [ -n "${BENCH_NETWORK-none}" ] && net=(--network "${BENCH_NETWORK-none}")
  for kind in cold cached; do
    flags=(); [ "$kind" = cold ] && flags=(--no-cache)
    $BERTH_CLI build -q "${flags[@]}" "${net[@]}" "$work" >/dev/null 2>&1
    : > "$work/$kind-cli.log"
    start=$(wc -l < "$log")
    for _ in $(seq "$BENCH_RUNS"); do $BERTH_CLI build -q "${flags[@]}" "${net[@]}" "$work" >/dev/null 2>>"$work/$kind-cli.log"; done
    tail -n +"$((start + 1))" "$log" | grep 'op=POST_/build' > "$work/$kind-daemon.log" || true
    echo "== $kind build ($BENCH_RUNS runs)"
    node bench/breakdown.mjs "$work/$kind-daemon.log" "$work/$kind-cli.log"
  done
  exit
fi
node bench/compare.mjs --berth "$BERTH_CLI" --docker "$DOCKER_CLI" --cases build --context "$work" \
  --runs "$BENCH_RUNS" --warmup "$BENCH_WARMUP" --network "${BENCH_NETWORK-none}"
