#!/usr/bin/env bash
# Push and pull through a local registry, berth side by side with Docker. Starts Debian's
# dockerd, a berthd and Debian's docker-registry, each on its own folders under one temporary
# root; builds in dockerd an image of ~200 MB in 10 layers (busybox plus 9 layers of random
# data written by dd), pushes it to the registry and pulls it into berth, so that both
# engines hold the same image. Then, interleaved, for each run:
#   push: into an empty registry (restarted on a fresh folder before each push);
#   pull: after `rmi` of the image (so every layer but the busybox base is fetched again),
# timing the client command, and samples the daemons' peak RSS during each pull (VmHWM,
# reset through /proc/PID/clear_refs before the pull). Prints medians, ranges and ratios as
# bench/run.sh does, then stops everything and removes what it made, also after a failure.
#
# Docker compresses layers when it pushes them; berth uploads the compressed blobs it kept
# when it pulled or imported them. Both download, verify, decompress and unpack on pull.
#
# Environment:
#   BENCH_RUNS=5 BENCH_WARMUP=1      timed runs per operation, after the warm-up runs
#   BENCH_LAYER_MB=22                size of each random layer (9 of them)
#   BERTH_DIST=dist                  the berth build to run (dist/berth or dist/berth.js, dist/berthd.js)
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
repo=$PWD

runs=${BENCH_RUNS:-5}
warmup=${BENCH_WARMUP:-1}
layer_mb=${BENCH_LAYER_MB:-22}
dist=${BERTH_DIST:-$repo/dist}
[ -f "$dist/berthd.js" ] || { echo "bench: no $dist/berthd.js (npm run build, or BERTH_DIST=...)" >&2; exit 2; }
command -v docker-registry >/dev/null || { echo "bench: docker-registry is missing (scripts/setup.sh --test)" >&2; exit 2; }
command -v dockerd >/dev/null || { echo "bench: dockerd is missing (scripts/setup.sh --bench)" >&2; exit 2; }

source bench/lib.sh
# The registry, both daemons and their clients share a network namespace of their own.
bench_own_netns "$repo/bench/registry.sh" "$@"
root=$(mktemp -d /var/tmp/berth-bench-registry.XXXXXX)
daemon_pids=()
registry_pid=''
cgroup_parent="berthbench$$"

# Stops what this run started and removes its folder (bench/lib.sh).
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$registry_pid" ]; then
    kill -KILL "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  bench_teardown "$root" "$cgroup_parent" "${daemon_pids[@]}"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for_daemon() {
  local name=$1 socket=$2 log=$3
  if ! node bench/wait-ping.mjs "$socket" 60; then
    echo "bench: $name did not start; the end of $log:" >&2
    tail -n 40 "$log" >&2 || true
    exit 1
  fi
}

registry_port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
image="127.0.0.1:$registry_port/bench/big:latest"

# A registry on an empty folder, on the same port each time (the image name holds it).
restart_registry() {
  if [ -n "$registry_pid" ]; then
    kill -KILL "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  rm -rf "$root/registry/data"
  mkdir -p "$root/registry"
  cat > "$root/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $root/registry/data
http:
  addr: 127.0.0.1:$registry_port
EOF
  docker-registry serve "$root/registry/config.yml" > "$root/registry/log" 2>&1 < /dev/null &
  registry_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$registry_port/v2/" >/dev/null && return 0
    sleep 0.05
  done
  echo "bench: docker-registry did not start" >&2
  exit 1
}

mkdir -p "$root/docker/data" "$root/docker/exec" "$root/berth/data" "$root/berth/exec"
echo '{}' > "$root/docker/daemon.json"
dockerd --config-file "$root/docker/daemon.json" \
  --data-root "$root/docker/data" --exec-root "$root/docker/exec" \
  --pidfile "$root/docker/dockerd.pid" -H "unix://$root/docker/docker.sock" \
  --bridge=none --iptables=false --ip6tables=false --ip-masq=false --userland-proxy=false \
  > "$root/docker/dockerd.log" 2>&1 < /dev/null &
daemon_pids+=($!)
docker_pid=$!
node "$dist/berthd.js" \
  --data-root "$root/berth/data" --exec-root "$root/berth/exec" \
  --pidfile "$root/berth/berthd.pid" -H "unix://$root/berth/berth.sock" \
  --cgroup-parent "$cgroup_parent" \
  > "$root/berth/berthd.log" 2>&1 < /dev/null &
daemon_pids+=($!)
berth_pid=$!
docker_cli=(docker -H "unix://$root/docker/docker.sock")
read -r -a berth_cli <<<"$(berth_cli_of "$dist") -H unix://$root/berth/berth.sock"
wait_for_daemon dockerd "$root/docker/docker.sock" "$root/docker/dockerd.log"
wait_for_daemon berthd "$root/berth/berth.sock" "$root/berth/berthd.log"
restart_registry

echo "bench: building the image in dockerd (busybox + 9 layers of ${layer_mb} MB of random data)" >&2
bash scripts/make-busybox-rootfs.sh "$root/busybox-rootfs.tar" >/dev/null
"${docker_cli[@]}" import -c 'CMD ["sh"]' "$root/busybox-rootfs.tar" busybox:latest >/dev/null
# berth gets the same base layer, so that both keep it when they remove the image.
"${berth_cli[@]}" import -c 'CMD ["sh"]' "$root/busybox-rootfs.tar" busybox:latest >/dev/null
mkdir -p "$root/context"
{
  echo 'FROM busybox'
  for i in $(seq 1 9); do echo "RUN dd if=/dev/urandom of=/data$i bs=1M count=$layer_mb 2>/dev/null"; done
} > "$root/context/Dockerfile"
if ! DOCKER_BUILDKIT=0 "${docker_cli[@]}" build -q --network none -t "$image" "$root/context" > "$root/build.log" 2>&1; then
  tail -n 20 "$root/build.log" >&2
  exit 1
fi
"${docker_cli[@]}" push -q "$image" >/dev/null
"${berth_cli[@]}" pull -q "$image" >/dev/null
read -r size layers < <("${berth_cli[@]}" image inspect "$image" | node -e '
  let text = ""; process.stdin.on("data", (c) => { text += c; }).on("end", () => {
    const [image] = JSON.parse(text); console.log(image.Size, image.RootFS.Layers.length); });')

now_ns() { date +%s%N; }
# Runs a client command, prints its wall time in ms; a failure ends the bench.
timed() {
  local started ended
  started=$(now_ns)
  if ! "$@" > "$root/last.out" 2>&1; then
    echo "bench: failed: $*" >&2
    tail -n 20 "$root/last.out" >&2
    exit 1
  fi
  ended=$(now_ns)
  echo $(( (ended - started) / 1000000 ))
}
peak_rss_reset() { echo 5 > "/proc/$1/clear_refs"; }
peak_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

declare -A samples=()
record() { samples[$1]="${samples[$1]:-} $2"; }

for i in $(seq 1 $((warmup + runs))); do
  keep=false
  [ "$i" -gt "$warmup" ] && keep=true
  for side in docker berth; do
    if [ "$side" = docker ]; then cli=("${docker_cli[@]}"); pid=$docker_pid; else cli=("${berth_cli[@]}"); pid=$berth_pid; fi
    restart_registry
    ms=$(timed "${cli[@]}" push "$image")
    $keep && record "$side push" "$ms"
    "${cli[@]}" rmi "$image" >/dev/null
    peak_rss_reset "$pid"
    ms=$(timed "${cli[@]}" pull "$image")
    if $keep; then
      record "$side pull" "$ms"
      record "$side rss" "$(peak_rss_kb "$pid")"
    fi
  done
done

echo
echo "bench: $(nproc) cores; docker: $(dockerd --version | head -1); berth: $(node -p "require('./package.json').version")"
echo "image: $layers layers, $(( size / 1000000 )) MB unpacked; $runs runs each after $warmup warm-up, interleaved; wall time of the client command."
echo
# The table, rendered as bench/compare.mjs renders its own.
node - "${samples[berth push]}" "${samples[docker push]}" "${samples[berth pull]}" "${samples[docker pull]}" \
  "${samples[berth rss]}" "${samples[docker rss]}" "$layers" <<'EOF'
const [berthPush, dockerPush, berthPull, dockerPull, berthRss, dockerRss, layers] = process.argv.slice(2);
const numbers = (text) => text.trim().split(/\s+/).map(Number).sort((a, b) => a - b);
const median = (values) => (values.length % 2 ? values[(values.length - 1) / 2] : (values[values.length / 2 - 1] + values[values.length / 2]) / 2);
const time = (text) => { const v = numbers(text); return { median: median(v), cell: `${median(v).toFixed(0)} ms (${v[0]}–${v.at(-1)})` }; };
const rss = (text) => { const v = numbers(text).map((kb) => kb / 1024); return { median: median(v), cell: `${median(v).toFixed(0)} MB (max ${v.at(-1).toFixed(0)})` }; };
const rows = [
  [`push (${layers} layers)`, time(berthPush), time(dockerPush)],
  [`pull (${layers} layers)`, time(berthPull), time(dockerPull)],
  ['peak RSS during pull', rss(berthRss), rss(dockerRss)],
].map(([label, berth, docker]) => [label, berth.cell, docker.cell, `${(berth.median / docker.median).toFixed(2)}×`]);
const lines = [['operation', 'berth median (min–max)', 'docker median (min–max)', 'berth / docker'], ...rows];
const widths = lines[0].map((_, column) => Math.max(...lines.map((cells) => cells[column].length)));
const render = (cells) => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
console.log(render(lines[0]));
console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
for (const cells of lines.slice(1)) console.log(render(cells));
EOF
echo
echo "peak RSS: the daemon's VmHWM during the pull (dockerd may also run unpigz as a process of its own)."
