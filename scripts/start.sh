#!/usr/bin/env bash
# `npm start`: installs what is missing and builds (scripts/setup.sh), starts berthd in the
# background unless one already answers on its socket, imports a busybox image when there
# is none, runs a first container, and says how to go on from there.
#
# Environment: BERTH_SOCKET (default /run/berth/berth.sock), BERTHD_LOG (default
# /var/log/berthd.log), BERTHD_FLAGS (more flags for berthd, e.g. "--debug").
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."
repo=$PWD

default_socket=/run/berth/berth.sock
socket=${BERTH_SOCKET:-$default_socket}
pidfile=$(dirname -- "$socket")/berthd.pid
log=${BERTHD_LOG:-/var/log/berthd.log}

bash scripts/setup.sh

berth=("$repo/dist/berth")
# The CLI's default host is the default socket; any other socket is named with -H.
[ "$socket" = "$default_socket" ] || berth+=(-H "unix://$socket")

ping_berthd() {
  node -e '
    const req = require("node:http").get({ socketPath: process.argv[1], path: "/_ping", timeout: 1000 },
      (res) => { res.resume(); process.exit(res.statusCode === 200 ? 0 : 1); });
    req.on("timeout", () => req.destroy());
    req.on("error", () => process.exit(1));
  ' "$socket"
}

if ping_berthd; then
  echo "start: berthd is already running on $socket"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "start: berthd needs root (namespaces, mounts, cgroups); run npm start as root" >&2
    exit 1
  fi
  mkdir -p "$(dirname -- "$socket")" "$(dirname -- "$log")"
  echo "start: starting berthd (log: $log)"
  # setsid: berthd gets its own session, so it outlives this script and a Ctrl-C typed
  # into the terminal that ran it. Its working directory is / so it holds no repo folder.
  # Run as a program: its #! line sets its launch environment (scripts/build.mjs).
  # shellcheck disable=SC2086 # BERTHD_FLAGS is a list of flags
  (cd / && setsid -f "$repo/dist/berthd.js" -H "unix://$socket" --pidfile "$pidfile" \
     ${BERTHD_FLAGS:-} >>"$log" 2>&1 </dev/null)
  for _ in $(seq 300); do
    ping_berthd && break
    sleep 0.1
  done
  if ! ping_berthd; then
    echo "start: berthd did not answer on $socket within 30 s; the end of $log:" >&2
    tail -n 40 "$log" >&2 || true
    exit 1
  fi
fi

# These machines reach no public registry: the first image is made from Debian's
# busybox-static and imported.
if ! "${berth[@]}" image inspect busybox:latest >/dev/null 2>&1; then
  rootfs=$(mktemp /tmp/berth-busybox-rootfs.XXXXXX.tar)
  trap 'rm -f "$rootfs"' EXIT
  bash scripts/make-busybox-rootfs.sh "$rootfs" >/dev/null
  echo "start: importing busybox:latest"
  "${berth[@]}" import -c 'CMD ["sh"]' "$rootfs" busybox:latest
fi

echo "start: running a first container: berth run --rm busybox echo \"Hello from berth\""
"${berth[@]}" run --rm busybox echo "Hello from berth"

host_flag=''
[ "$socket" = "$default_socket" ] || host_flag=" -H unix://$socket"
cat <<EOF

berthd is running (pid $(cat "$pidfile" 2>/dev/null || echo '?'), log $log).

Use the berth CLI:
  alias berth="$repo/dist/berth$host_flag"      # or: npm link
  berth run -it --rm busybox sh
  berth ps -a

Or the docker CLI, against berthd:
  DOCKER_HOST=unix://$socket docker ps

Stop berthd:
  kill \$(cat $pidfile)
EOF
