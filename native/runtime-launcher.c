// berth-runtime-launcher RUNTIME [ARG...]
//
// Runs an OCI runtime (crun) in a mount namespace of its own in which the cgroup2 mount of a
// hybrid cgroup host (/sys/fs/cgroup/unified) is detached, so that the runtime sees a plain
// cgroup v1 host: crun refuses a hybrid host that has any controller on its v2 side. Changes in
// that namespace never reach the host (it is a slave of the host's mounts). The runtime is
// exec'd in place, so its pid, exit status and standard streams stay its own.
//
// The shell equivalent (`unshare --mount --propagation slave sh -c 'umount -l ...; exec "$@"'`)
// costs three process executions per runtime call; this costs one.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define UNIFIED_MOUNT "/sys/fs/cgroup/unified"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s RUNTIME [ARG...]\n", argv[0]);
    return 125;
  }
  if (unshare(CLONE_NEWNS) != 0) {
    fprintf(stderr, "berth-runtime-launcher: unshare(CLONE_NEWNS): %s\n", strerror(errno));
    return 125;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
    fprintf(stderr, "berth-runtime-launcher: making / a slave mount: %s\n", strerror(errno));
    return 125;
  }
  // Not mounted there (EINVAL) or no such path (ENOENT): nothing to hide.
  if (umount2(UNIFIED_MOUNT, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    fprintf(stderr, "berth-runtime-launcher: detaching %s: %s\n", UNIFIED_MOUNT, strerror(errno));
    return 125;
  }
  execv(argv[1], argv + 1);
  fprintf(stderr, "berth-runtime-launcher: exec %s: %s\n", argv[1], strerror(errno));
  return 127;
}
