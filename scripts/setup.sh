#!/usr/bin/env bash
# Brings this machine to the point where berth builds and runs: installs the Debian
# packages berthd drives (OCI runtimes, conmon, ip/iptables, busybox for the base image),
# the npm dependencies, and builds dist/. Idempotent and quick when nothing is missing:
# every step first checks whether it has anything to do.
#
#   scripts/setup.sh [--test] [--bench] [--no-build]
#     --test    also what the tests need: tmux, docker-registry, openssl, python3-docker,
#               docker-compose, docker (CLI and dockerd)
#     --bench   also Debian's docker engine (dockerd), the peer the benchmarks run against
#   The same extras can be asked for with BERTH_SETUP_EXTRAS="test bench".
#
# Runs as root, with or without a terminal (CI=true, no stdin).
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

want_test=false want_bench=false want_build=true
extras=${BERTH_SETUP_EXTRAS:-}
for extra in ${extras//,/ }; do
  case $extra in
    test) want_test=true ;;
    bench) want_bench=true ;;
    *) echo "setup: unknown extra in BERTH_SETUP_EXTRAS: $extra" >&2; exit 2 ;;
  esac
done
for arg in "$@"; do
  case $arg in
    --test) want_test=true ;;
    --bench) want_bench=true ;;
    --no-build) want_build=false ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*" >&2; }

# --- Debian packages ---------------------------------------------------------------
# runc (default runtime) and crun (--runtime crun); conmon: the per-container shim;
# iptables + iproute2: bridge networks and published ports; busybox-static: the base
# image's root filesystem; tini: --init; attr: xattrs (overlay whiteouts, tests);
# xz-utils + bzip2 + zstd: compressed tar contexts, imports and layers; python3: the
# stdin relay to conmon's SEQPACKET attach socket (which Node cannot open); gcc + libc6-dev:
# the build compiles native/runtime-launcher.c, which lets crun run on a hybrid cgroup host
# at the cost of one process instead of three per runtime call, and native/copy-tree.c (the
# volumes' copy-up and seeds).
packages=(runc crun conmon iptables iproute2 busybox-static tini attr xz-utils bzip2 zstd python3 gcc libc6-dev)
if $want_test; then
  # tmux: interactive (-it) tests drive a real terminal; docker-registry: pull/push tests;
  # openssl: the keys and certificates of the registry-auth and remote-api (TLS) tests;
  # curl: a client the TLS tests expect to be refused.
  # python3-docker: docker-py's view of the API (test/integration/docker-py.test.ts, run with
  # /usr/bin/python3); docker-compose: multi-container apps against berthd.
  packages+=(tmux docker-registry openssl curl python3-docker docker-compose)
  # The compatibility tests use the real docker CLI (these machines may already have one),
  # and the image-archive tests exchange images with Debian's dockerd.
  command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 || packages+=(docker.io)
fi
if $want_bench; then
  command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 || packages+=(docker.io)
fi

missing=()
installed=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${packages[@]}" 2>/dev/null || true)
for pkg in "${packages[@]}"; do
  grep -qxF "installed $pkg" <<<"$installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]} (run this script as root to install them)"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not start services (docker, docker-registry) on the host: the
  # benchmarks and tests start their own instances on their own sockets and ports.
  made_policy=false
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    made_policy=true
  fi
  restore_policy() { if $made_policy; then rm -f /usr/sbin/policy-rc.d; fi; }
  trap restore_policy EXIT
  apt_log=$(mktemp /tmp/berth-setup-apt.XXXXXX)
  # needrestart (when present) would ask about services after the install.
  if ! { apt-get update -qq && NEEDRESTART_SUSPEND=1 \
           apt-get install -y -qq --no-install-recommends "${missing[@]}"; } </dev/null >"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    say "apt-get failed (whole log: $apt_log)"
    exit 1
  fi
  rm -f "$apt_log"
  restore_policy
  trap - EXIT
fi

# --- npm dependencies ----------------------------------------------------------------
# npm writes node_modules/.package-lock.json on every install: older than the lockfile
# means the lockfile changed since.
if [ -f package-lock.json ]; then
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund </dev/null
  fi
elif [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
  say "npm install"
  npm install --no-audit --no-fund </dev/null
  touch node_modules
fi

# --- build -----------------------------------------------------------------------------
if $want_build; then
  stamp=dist/.build-stamp
  needs_build=false
  if [ ! -f "$stamp" ] || [ ! -f dist/berth ] || [ ! -f dist/berth.js ] || [ ! -f dist/berthd.js ]; then
    needs_build=true
  elif [ -n "$(find src test api native scripts/build.mjs scripts/cli-entry.cjs scripts/gen-validators.mjs tsconfig.json package.json package-lock.json \
                 -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    needs_build=true
  fi
  if $needs_build; then
    say "npm run build"
    mkdir -p dist
    # The stamp takes the time the build started, so an edit made during the build
    # still counts as newer next time.
    next_stamp=$(mktemp dist/.build-stamp.XXXXXX)
    if ! npm run --silent build </dev/null; then
      rm -f "$next_stamp"
      say "build failed"
      exit 1
    fi
    mv -f "$next_stamp" "$stamp"
  fi
fi
