# Shared by the bench scripts (sourced).

# bench_own_netns SCRIPT [ARG...]: re-runs the bench script in a network namespace of its own
# (loopback alone, up), unless it already runs in one. dockerd with --bridge=none deletes any
# interface named docker0, and the host's must never be touched; every daemon, registry and
# client of the bench lives in that namespace, which goes with its last process. Only the
# network namespace is new: mounts, cgroups and files are the host's, as bench_teardown expects.
bench_own_netns() {
  if [ -z "${BERTH_BENCH_NETNS:-}" ]; then
    BERTH_BENCH_NETNS=1 exec unshare --net -- bash "$@"
  fi
  ip link set lo up
}

# bench_teardown ROOT CGROUP_PARENT [DAEMON_PID...]: stops the daemons by pid (SIGTERM, so
# they unmount and stop their own shims; SIGKILL after 20 s), then any process still running
# from inside ROOT, unmounts what is left under ROOT, removes ROOT and the cgroup parent
# (the containers' cgroups went with them).
bench_teardown() {
  local root=$1 cgroup_parent=$2 pid mount_point proc_dir cmdline dir
  shift 2
  for pid in "$@"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for proc_dir in /proc/[0-9]*; do
    pid=${proc_dir#/proc/}
    [ "$pid" != $$ ] || continue
    cmdline=$(tr '\0' ' ' 2>/dev/null < "$proc_dir/cmdline") || continue
    if [[ $cmdline == *"$root/"* ]]; then
      echo "bench: stopping leftover process $pid: $cmdline" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  while IFS= read -r mount_point; do
    umount "$mount_point" 2>/dev/null || umount -l "$mount_point" 2>/dev/null || true
  done < <(awk -v root="$root" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  rm -rf "$root"
  for dir in /sys/fs/cgroup/*/"$cgroup_parent" /sys/fs/cgroup/"$cgroup_parent"; do
    [ -d "$dir" ] && rmdir "$dir" 2>/dev/null
  done
  return 0
}

# socket_of CLI: the socket path of a bench CLI command line ("... -H unix://SOCKET"), or
# nothing for an empty one (a side not benched).
socket_of() {
  local cli=$1
  [ -n "$cli" ] || return 0
  sed -E 's|.*-H unix://([^ ]+).*|\1|' <<<"$cli"
}

# berth_cli_of DIST: the berth CLI a user runs from that build: DIST/berth (the launcher,
# native/cli-launcher.c), or `node DIST/berth.js` for a build without one (scripts/dev-bundle.sh,
# or a dist from before the launcher existed).
berth_cli_of() {
  local dist=$1
  if [ -x "$dist/berth" ]; then echo "$dist/berth"; else echo "node $dist/berth.js"; fi
}
