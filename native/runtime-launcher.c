// berth-runtime-launcher [--hide-cgroup2] RUNTIME [ARG...]
// berth-runtime-launcher --serve   (berthd's process helper: see serve() below)
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
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "process-helper.h"

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

// ---- --serve: berthd's process helper -------------------------------------------------------
//
// berthd is a ~100 MB Node process, and libuv starts every child with fork(): copying its page
// tables costs berthd's only thread 10-60 ms per process on this host, more than most of the
// programs it runs take themselves (a `umount` is a 1 ms system call; `crun delete` of a stopped
// container ~10 ms). So berthd starts this helper once and asks it instead; it is small, so its
// forks are cheap. Each request is served by a worker forked for it, so slow requests (a
// conmon --exec session that lasts as long as its process) never hold up others.
//
// Requests (stdin): "<id> <op> <length>\n" and <length> bytes of NUL-terminated fields.
//   run   CWD NENV ENV... ARGV...  runs ARGV (a new session, stdin /dev/null), returns its
//                                 exit status (128+signal if killed), stdout and stderr
//   sync1 / sync  CWD NENV ENV... ARGV...  as run, with a pipe on fd 3 (conmon's _OCI_SYNCPIPE):
//                                 each line written to it is sent as it comes ("S"), until the
//                                 first line (sync1) or its end (sync); stdout is /dev/null and
//                                 stderr what was written by then (conmon daemonizes: its
//                                 first process's end says nothing)
//   mount CWD SOURCE TARGET FSTYPE DATA   mount(2), relative paths in DATA from CWD
//   umount TARGET                 umount2(2); a busy mount is detached, one not mounted is fine
//   nsexec ...                    a process in a running container (native/ns-exec.c)
// Replies (stdout), one write each under an flock, so that workers never interleave:
//   "S <id> <length>\n<line>"                          a line from the sync pipe
//   "E <id> <status> <outlen> <errlen>\n<out><err>"    the end; status -1: unknown (sync modes)
// The helper exits when its stdin ends (berthd is gone); workers finish what they started.

void append(struct buffer *buffer, const char *data, size_t length) {
  if (buffer->length + length + 1 > buffer->capacity) {
    size_t capacity = buffer->capacity ? buffer->capacity : 4096;
    while (capacity < buffer->length + length + 1) capacity *= 2;
    char *grown = realloc(buffer->data, capacity);
    if (!grown) _exit(70);
    buffer->data = grown;
    buffer->capacity = capacity;
  }
  memcpy(buffer->data + buffer->length, data, length);
  buffer->length += length;
  buffer->data[buffer->length] = '\0';
}

static void write_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, data, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) _exit(0);  // berthd is gone: nobody to tell
    data += written;
    length -= (size_t)written;
  }
}

// Replies go to stdout (a socket from berthd: Node's stdio pipes are socketpairs). Workers take
// turns through an flock on a memfd the helper made, each worker on its own open file
// description of it (/proc/self/fd/N opened afresh): a lock belongs to an open file
// description, which fork shares, so the inherited one would exclude nobody.
static int lock_fd = -1;

void reply(const char *header, const char *first, size_t first_length, const char *second, size_t second_length) {
  struct buffer message = {0};
  append(&message, header, strlen(header));
  if (first_length) append(&message, first, first_length);
  if (second_length) append(&message, second, second_length);
  if (lock_fd >= 0) flock(lock_fd, LOCK_EX);
  write_all(1, message.data, message.length);
  if (lock_fd >= 0) flock(lock_fd, LOCK_UN);
  free(message.data);
}

void reply_end(const char *id, int status, const struct buffer *out, const struct buffer *err) {
  char header[128];
  snprintf(header, sizeof header, "E %s %d %zu %zu\n", id, status, out->length, err->length);
  reply(header, out->data, out->length, err->data, err->length);
}

void reply_error(const char *id, const char *what, int error) {
  struct buffer none = {0}, message = {0};
  append(&message, what, strlen(what));
  append(&message, ": ", 2);
  append(&message, strerror(error), strlen(strerror(error)));
  reply_end(id, error, &none, &message);
  free(message.data);
}

// Moves fd above the standard ones (and the sync pipe's 3), close-on-exec.
static int lift(int fd) {
  int lifted = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  close(fd);
  return lifted;
}

static void serve_spawn(const char *id, const char *op, char **fields, int count) {
  const char *cwd = fields[0];
  int env_count = atoi(fields[1]);
  if (count < 3 + env_count) { errno = EINVAL; reply_error(id, op, errno); return; }
  char **env = calloc((size_t)env_count + 1, sizeof *env);
  for (int i = 0; i < env_count; i++) env[i] = fields[2 + i];
  char **argv = fields + 2 + env_count;  // NULL-terminated by the parser
  int sync_mode = strcmp(op, "run") != 0;
  int out[2] = {-1, -1}, err[2], sync[2] = {-1, -1};
  if ((!sync_mode && pipe(out) != 0) || pipe(err) != 0 || (sync_mode && pipe(sync) != 0)) { reply_error(id, "pipe", errno); return; }
  for (int i = 0; i < 2; i++) {
    if (out[i] >= 0) out[i] = lift(out[i]);
    err[i] = lift(err[i]);
    if (sync[i] >= 0) sync[i] = lift(sync[i]);
  }
  pid_t child = fork();
  if (child < 0) { reply_error(id, "fork", errno); return; }
  if (child == 0) {
    setsid();
    signal(SIGPIPE, SIG_DFL);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(sync_mode ? null : out[1], 1);
    dup2(err[1], 2);
    if (sync_mode) dup2(sync[1], 3);
    if (cwd[0] && chdir(cwd) != 0) { dprintf(2, "chdir %s: %s\n", cwd, strerror(errno)); _exit(127); }
    execve(argv[0], argv, env);
    dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if (out[1] >= 0) close(out[1]);
  close(err[1]);
  if (sync[1] >= 0) close(sync[1]);
  struct buffer output = {0}, errors = {0}, lines = {0};
  int open_out = out[0] >= 0, open_err = 1, open_sync = sync[0] >= 0, done = 0, first_sent = 0;
  char chunk[8192];
  while (!done && (open_out || open_err || open_sync)) {
    struct pollfd fds[3] = {{open_out ? out[0] : -1, POLLIN, 0}, {open_err ? err[0] : -1, POLLIN, 0}, {open_sync ? sync[0] : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) { if (errno == EINTR) continue; break; }
    for (int i = 0; i < 3; i++) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        if (i == 0) open_out = 0; else if (i == 1) open_err = 0; else open_sync = 0;
        continue;
      }
      if (i == 0) append(&output, chunk, (size_t)got);
      else if (i == 1) append(&errors, chunk, (size_t)got);
      else {
        append(&lines, chunk, (size_t)got);
        char *newline;
        while (!done && (newline = memchr(lines.data, '\n', lines.length)) != NULL) {
          size_t line_length = (size_t)(newline - lines.data) + 1;
          char header[96];
          snprintf(header, sizeof header, "S %s %zu\n", id, line_length);
          reply(header, lines.data, line_length, NULL, 0);
          memmove(lines.data, lines.data + line_length, lines.length - line_length);
          lines.length -= line_length;
          if (strcmp(op, "sync1") == 0) done = first_sent = 1;
        }
      }
    }
    // In the sync modes the sync pipe decides the end; stderr may stay open in a daemonized shim.
    if (sync_mode && !open_sync) done = 1;
  }
  if (!first_sent && lines.length > 0) {  // a last line without its newline
    char header[96];
    snprintf(header, sizeof header, "S %s %zu\n", id, lines.length);
    reply(header, lines.data, lines.length, NULL, 0);
  }
  int status = -1, raw;
  if (!sync_mode) {
    while (waitpid(child, &raw, 0) < 0 && errno == EINTR) {}
    status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  } else {
    // What stderr holds by now (the shim's error, if any), without waiting for its end.
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    ssize_t got;
    while (open_err && (got = read(err[0], chunk, sizeof chunk)) > 0) append(&errors, chunk, (size_t)got);
    if (waitpid(child, &raw, WNOHANG) == child) {
      status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      child = 0;
    }
  }
  reply_end(id, status, &output, &errors);
  // The shim's first process ends once it has daemonized: reaped here, after the reply, rather
  // than left to init as a zombie.
  if (child > 0) while (waitpid(child, &raw, 0) < 0 && errno == EINTR) {}
}

// Set once the helper runs from its sealed copy (serve_sealed): only then is nsexec served.
static int sealed = 0;

static void serve_request(const char *id, const char *op, char **fields, int count) {
  struct buffer none = {0};
  if (strcmp(op, "umount") == 0 && count >= 1) {
    int status = umount2(fields[0], 0) == 0 ? 0 : errno;
    if (status == EBUSY) status = umount2(fields[0], MNT_DETACH) == 0 ? 0 : errno;
    // EINVAL: not a mount point; ENOENT: no such path. Either way nothing is mounted there.
    if (status == EINVAL || status == ENOENT) status = 0;
    if (status) reply_error(id, "umount", status); else reply_end(id, 0, &none, &none);
  } else if (strcmp(op, "mount") == 0 && count >= 5) {
    if (fields[0][0] && chdir(fields[0]) != 0) { reply_error(id, "chdir", errno); return; }
    if (mount(fields[1], fields[2], fields[3], 0, fields[4]) != 0) reply_error(id, "mount", errno);
    else reply_end(id, 0, &none, &none);
  } else if (strcmp(op, "nsexec") == 0) {
    if (sealed) serve_nsexec(id, fields, count); else reply_error(id, "nsexec without a sealed copy of the helper", EPERM);
  } else if ((strcmp(op, "run") == 0 || strcmp(op, "sync1") == 0 || strcmp(op, "sync") == 0) && count >= 3) {
    serve_spawn(id, op, fields, count);
  } else {
    reply_error(id, op, EINVAL);
  }
}

static int serve(void) {
  signal(SIGCHLD, SIG_IGN);  // workers are reaped by the kernel
  signal(SIGPIPE, SIG_IGN);
  int lock = memfd_create("berth-helper-lock", MFD_CLOEXEC);
  char lock_path[64];
  snprintf(lock_path, sizeof lock_path, "/proc/self/fd/%d", lock);
  lock_fd = lock >= 0 ? open(lock_path, O_RDWR | O_CLOEXEC) : -1;
  struct buffer input = {0};
  char chunk[16384];
  for (;;) {
    ssize_t got = read(0, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 0;
    append(&input, chunk, (size_t)got);
    for (;;) {
      char *newline = memchr(input.data, '\n', input.length);
      if (!newline) break;
      char id[64], op[16];
      size_t length;
      *newline = '\0';
      if (sscanf(input.data, "%63s %15s %zu", id, op, &length) != 3) return 65;
      size_t header = (size_t)(newline - input.data) + 1;
      if (input.length < header + length) { *newline = '\n'; break; }
      pid_t worker = fork();
      if (worker == 0) {
        signal(SIGCHLD, SIG_DFL);
        lock_fd = lock >= 0 ? open(lock_path, O_RDWR | O_CLOEXEC) : -1;  // this worker's own description
        int count = 0;
        for (size_t at = 0; at < length; at++) if (input.data[header + at] == '\0') count++;
        char **fields = calloc((size_t)count + 1, sizeof *fields);
        char *field = input.data + header;
        for (int i = 0; i < count; i++) { fields[i] = field; field += strlen(field) + 1; }
        serve_request(id, op, fields, count);
        _exit(0);
      }
      if (worker < 0) reply_error(id, "fork", errno);

      memmove(input.data, input.data + header + length, input.length - header - length);
      input.length -= header + length;
    }
  }
}

// The helper's nsexec children run as this binary inside containers until their execve: like
// crun, it runs from a sealed in-memory copy of itself, so that no container process can ever
// reach the file on disk through /proc/<pid>/exe (CVE-2019-5736).
#define SEALED_MARK "BERTH_HELPER_SEALED"

static int serve_sealed(char **argv) {
  if (getenv(SEALED_MARK)) {
    unsetenv(SEALED_MARK);
    sealed = 1;
    return serve();
  }
  int copy = sealed_copy("/proc/self/exe");
  if (copy >= 0 && setenv(SEALED_MARK, "1", 1) == 0) fexecve(copy, argv, environ);
  // No sealed copy: everything but nsexec is served (nsexec answers EPERM).
  unsetenv(SEALED_MARK);
  return serve();
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--serve") == 0) return serve_sealed(argv);
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
