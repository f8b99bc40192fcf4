// berth-runtime-launcher [--hide-cgroup2] RUNTIME [ARG...]
//
// Runs crun, saving it work that costs more than the work itself on every call:
//
// - crun protects itself against a container overwriting its binary through /proc/self/exe
//   (CVE-2019-5736) by re-executing itself from a read-only bind mount of its own file (mount,
//   remount, umount, a second exec and library load) unless it already runs from a sealed
//   memfd. The launcher copies the runtime into a sealed memfd and executes that: the same
//   protection, without the second exec.
// - --hide-cgroup2: on a hybrid cgroup host (v1 controllers plus a cgroup2 mount at
//   /sys/fs/cgroup/unified) crun refuses to work as soon as any controller is attached to the
//   v2 side. The launcher enters a mount namespace of its own (a slave of the host's, so nothing
//   done there reaches the host) and covers the cgroup2 mount with an empty tmpfs, so that crun
//   sees a plain cgroup v1 host, where it applies limits through the v1 controllers as runc
//   does. crun still makes its directories under the covered path; they land in that tmpfs,
//   which goes with the namespace (detaching the cgroup2 mount instead would leave them in the
//   host's /sys/fs/cgroup tmpfs, hidden under the cgroup2 mount).
//
// The runtime replaces the launcher (no fork), so its pid, exit status and standard streams
// are the runtime's own.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNIFIED_MOUNT "/sys/fs/cgroup/unified"
// The seals runc and crun check for before they skip cloning themselves.
#define RUNTIME_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "berth-runtime-launcher: %s %s: %s\n", what, detail, strerror(errno));
  return 125;
}

static int hide_cgroup2(void) {
  if (unshare(CLONE_NEWNS) != 0) return fail("unshare", "CLONE_NEWNS");
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) return fail("making / a slave mount", "");
  struct stat unified;
  if (stat(UNIFIED_MOUNT, &unified) != 0) return 0;  // nothing to hide
  if (mount("berth-no-cgroup2", UNIFIED_MOUNT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=755") != 0)
    return fail("covering", UNIFIED_MOUNT);
  return 0;
}

// A sealed in-memory copy of the runtime's binary, or -1.
static int sealed_copy(const char *path) {
  int source = open(path, O_RDONLY | O_CLOEXEC);
  if (source < 0) return -1;
  struct stat info;
  int copy = -1;
  if (fstat(source, &info) == 0) copy = memfd_create("runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  off_t offset = 0;
  while (copy >= 0 && offset < info.st_size) {
    if (sendfile(copy, source, &offset, info.st_size - offset) <= 0) {
      close(copy);
      copy = -1;
    }
  }
  close(source);
  if (copy >= 0 && fcntl(copy, F_ADD_SEALS, RUNTIME_SEALS) != 0) {
    close(copy);
    copy = -1;
  }
  return copy;
}

int main(int argc, char **argv) {
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--hide-cgroup2") == 0) {
    int status = hide_cgroup2();
    if (status != 0) return status;
    first = 2;
  }
  if (argc <= first) {
    fprintf(stderr, "usage: %s [--hide-cgroup2] RUNTIME [ARG...]\n", argv[0]);
    return 125;
  }
  int copy = sealed_copy(argv[first]);
  if (copy >= 0) fexecve(copy, argv + first, environ);
  // Without memfd (or if fexecve failed) the runtime protects itself as it always does.
  execv(argv[first], argv + first);
  return fail("exec", argv[first]);
}
