// The process helper's "nsexec" request: one more process in a running container, for an exec
// without a terminal (docker exec, health probes), without conmon and without a runtime process.
//
// `crun exec` spends about half of its ~20 ms loading its nine shared libraries, and conmon's
// exec mode adds its own start, a double fork and a log file around it. What an exec needs is
// few system calls, done here by the helper's worker (already running, already forked):
//
//   worker (host):   read the container's compiled seccomp filter (crun's seccomp.bpf, made at
//                    create from the container's profile), open the container process's
//                    namespaces and the cgroup.procs of each of its v1 hierarchies, connect to
//                    berthd's exec I/O socket; not dumpable from here on; setns() into each
//                    namespace the container does not share with the host (mount last); fork
//   worker:          the child's host pid into each cgroup.procs, then let it go
//   child (in the container's pid namespace, cgroups and mounts):
//                    stdio, default signals, umask 022, chdir, no_new_privs,
//                    seccomp, bounding set, groups/gid/uid, capabilities, ambient set, execve
//
// the order crun's exec follows (its seccomp filter is loaded before the user changes, so it
// must allow setgroups, setuid and capset, as Docker's default profile does). A failure in the
// child before execve comes back on a close-on-exec pipe, in crun's words, so that berthd maps
// it to Docker's exit codes as it maps crun's; the pipe's end without a word means execve ran.
//
// The worker then stays the process's parent: it relays stdout and stderr to berthd's socket
// in Docker's stream frames ([stream, 0, 0, 0, length as 4 bytes big-endian] + bytes), and what
// berthd writes on that socket to the process's stdin (berthd's half-close ends stdin). When
// the process exits, what its pipes hold is sent and the socket is closed, as conmon ends a
// session at its process's exit even if a child of it keeps the pipes open.
//
// Fields: SOCKET TOKEN PID SECCOMP STREAMS UID GID GROUPS BOUNDING EFFECTIVE PERMITTED
//         INHERITABLE AMBIENT NO_NEW_PRIVS CWD NENV ENV... ARGV...
//   STREAMS: which of "o" (stdout), "e" (stderr), "i" (stdin) berthd attaches; the others are
//   /dev/null. GROUPS: comma-separated. The capability sets: hexadecimal masks. SECCOMP: the
//   filter's path, or empty for none. The OOM score is inherited, as with crun's exec (which
//   leaves the process spec's oomScoreAdj to the container's first process).
// Replies: "S <id> <n>\n<pid>\n" once the process runs, then "E <id> <exit status> 0 0\n"
// (128+signal if killed); a process that could not start: "E <id> -1 0 <n>\n<message>".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "process-helper.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif

enum {
  F_SOCKET, F_TOKEN, F_PID, F_SECCOMP, F_STREAMS, F_UID, F_GID, F_GROUPS, F_BOUNDING, F_EFFECTIVE,
  F_PERMITTED, F_INHERITABLE, F_AMBIENT, F_NO_NEW_PRIVS, F_CWD, F_ENV_COUNT, F_FIXED,
};

// Joined in this order; "mnt" last, since it changes what paths mean. A user namespace of the
// container's own is refused: berthd sends such containers through the runtime.
static const char *const NAMESPACES[] = {"ipc", "uts", "net", "pid", "cgroup", "time", "mnt"};
#define NAMESPACE_COUNT (sizeof NAMESPACES / sizeof NAMESPACES[0])
#define MAX_HIERARCHIES 32
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct nsexec {
  const char *id;
  char **fields, **env, **argv;
  pid_t target;
  struct sock_filter *filter;
  unsigned short filter_length;
  int namespaces[NAMESPACE_COUNT];
  int cgroups[MAX_HIERARCHIES], cgroup_count;
  int last_cap;
  int io;  // berthd's socket, or -1 once it is gone
};

static void close_quietly(int fd) {
  if (fd >= 0) close(fd);
}

static int read_file(const char *path, struct buffer *into) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char chunk[4096];
  ssize_t got;
  while ((got = read(fd, chunk, sizeof chunk)) > 0) append(into, chunk, (size_t)got);
  int error = got < 0 ? errno : 0;
  close(fd);
  errno = error;
  return error ? -1 : 0;
}

static int load_filter(struct nsexec *exec, const char *path) {
  if (!path[0]) return 0;
  struct buffer bytes = {0};
  if (read_file(path, &bytes) != 0) return -1;
  if (bytes.length == 0 || bytes.length % sizeof(struct sock_filter) != 0 || bytes.length / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    free(bytes.data);
    errno = EINVAL;
    return -1;
  }
  exec->filter = (struct sock_filter *)bytes.data;
  exec->filter_length = (unsigned short)(bytes.length / sizeof(struct sock_filter));
  return 0;
}

// The namespaces of the container's process that are not the helper's own.
static int open_namespaces(struct nsexec *exec, char *failed, size_t failed_size) {
  char path[64];
  struct stat theirs, ours;
  snprintf(path, sizeof path, "/proc/%d/ns/user", exec->target);
  if (stat(path, &theirs) != 0 || stat("/proc/self/ns/user", &ours) != 0) { snprintf(failed, failed_size, "%s", path); return -1; }
  if (theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev) { snprintf(failed, failed_size, "a user namespace"); errno = ENOTSUP; return -1; }
  for (size_t i = 0; i < NAMESPACE_COUNT; i++) {
    exec->namespaces[i] = -1;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", exec->target, NAMESPACES[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && strcmp(NAMESPACES[i], "mnt") != 0) continue;  // a kernel without it
    if (fd < 0) { snprintf(failed, failed_size, "%s", path); return -1; }
    char own[64];
    snprintf(own, sizeof own, "/proc/self/ns/%s", NAMESPACES[i]);
    if (fstat(fd, &theirs) == 0 && stat(own, &ours) == 0 && theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
      close(fd);
      continue;
    }
    exec->namespaces[i] = fd;
  }
  return 0;
}

// cgroup.procs of each v1 hierarchy the container's process is in ("N:controllers:path").
// The cgroup2 line is left alone: on this hybrid host crun manages no cgroup2 directory.
static int open_cgroups(struct nsexec *exec, char *failed, size_t failed_size) {
  char path[4096];
  snprintf(path, sizeof path, "/proc/%d/cgroup", exec->target);
  struct buffer text = {0};
  if (read_file(path, &text) != 0) { snprintf(failed, failed_size, "%s", path); return -1; }
  char *save = NULL;
  for (char *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *controllers = strchr(line, ':');
    char *cgroup = controllers ? strchr(controllers + 1, ':') : NULL;
    if (!cgroup) continue;
    *cgroup++ = '\0';
    controllers++;
    if (!controllers[0]) continue;
    if (strncmp(controllers, "name=", 5) == 0) controllers += 5;
    if (exec->cgroup_count == MAX_HIERARCHIES) break;
    snprintf(path, sizeof path, "/sys/fs/cgroup/%s%s/cgroup.procs", controllers, cgroup);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(failed, failed_size, "%s", path); free(text.data); return -1; }
    exec->cgroups[exec->cgroup_count++] = fd;
  }
  free(text.data);
  return 0;
}

// berthd's exec I/O socket; a path too long for sockaddr_un is reached through its directory.
static int connect_io(const char *path, const char *token) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  int directory = -1;
  if (strlen(path) < sizeof address.sun_path) {
    snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
  } else {
    const char *slash = strrchr(path, '/');
    char *parent = strndup(path, slash ? (size_t)(slash - path) : 0);
    directory = open(parent && parent[0] ? parent : "/", O_PATH | O_CLOEXEC);
    free(parent);
    snprintf(address.sun_path, sizeof address.sun_path, "/proc/self/fd/%d/%s", directory, slash ? slash + 1 : path);
  }
  int connected = connect(fd, (struct sockaddr *)&address, sizeof address);
  int error = errno;
  close_quietly(directory);
  if (connected != 0) { close(fd); errno = error; return -1; }
  char line[128];
  int length = snprintf(line, sizeof line, "%s\n", token);
  if (send(fd, line, (size_t)length, MSG_NOSIGNAL) != length) { close(fd); return -1; }
  return fd;
}

// ---- the child: everything between fork and execve --------------------------------------------

static int error_pipe = -1;

static void child_fail(const char *format, ...) {
  char message[1024];
  va_list arguments;
  va_start(arguments, format);
  int length = vsnprintf(message, sizeof message, format, arguments);
  va_end(arguments);
  if (length > (int)sizeof message - 1) length = (int)sizeof message - 1;
  if (write(error_pipe, message, (size_t)length) < 0) {}
  _exit(127);
}

static const char *env_value(char **env, const char *name) {
  size_t length = strlen(name);
  for (char **entry = env; *entry; entry++) {
    if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return *entry + length + 1;
  }
  return NULL;
}

// As crun finds it: a name with a slash as it is, else the first regular, executable file of
// that name along the process's PATH.
static const char *find_executable(const char *name, char **env, char *found, size_t found_size) {
  if (strchr(name, '/')) return name;
  const char *path = env_value(env, "PATH");
  if (!path) path = DEFAULT_PATH;
  while (*path) {
    const char *end = strchr(path, ':');
    size_t length = end ? (size_t)(end - path) : strlen(path);
    snprintf(found, found_size, "%.*s/%s", (int)length, length ? path : ".", name);
    struct stat info;
    if (stat(found, &info) == 0 && S_ISREG(info.st_mode) && access(found, X_OK) == 0) return found;
    path += length + (end ? 1 : 0);
  }
  return NULL;
}

static uint64_t mask_of(const char *hex) {
  return strtoull(hex, NULL, 16);
}

static void run_child(struct nsexec *exec, int go, int stdio[3]) {
  char **fields = exec->fields;
  char wait_for_cgroups;
  if (read(go, &wait_for_cgroups, 1) != 1) _exit(126);  // the worker failed: it reports why
  close(go);
  for (int fd = 0; fd < 3; fd++) {
    if (stdio[fd] != fd && dup2(stdio[fd], fd) < 0) child_fail("dup2: %s", strerror(errno));
  }
  for (int number = 1; number < NSIG; number++) signal(number, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  umask(022);
  const char *cwd = fields[F_CWD][0] ? fields[F_CWD] : "/";
  if (chdir(cwd) != 0) child_fail("chdir `%s`: %s", cwd, strerror(errno));
  if (strcmp(fields[F_NO_NEW_PRIVS], "1") == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail("set no_new_privs: %s", strerror(errno));
  if (exec->filter) {
    struct sock_fprog program = {.len = exec->filter_length, .filter = exec->filter};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &program) != 0 &&
        (errno != EINVAL || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0)) {
      child_fail("seccomp: %s", strerror(errno));
    }
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) child_fail("set keep capabilities: %s", strerror(errno));
  uint64_t bounding = mask_of(fields[F_BOUNDING]);
  for (int cap = 0; cap <= exec->last_cap; cap++) {
    if (!(bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) child_fail("drop capability %d: %s", cap, strerror(errno));
  }
  gid_t groups[256];
  size_t group_count = 0;
  for (char *group = fields[F_GROUPS]; *group && group_count < 256;) {
    groups[group_count++] = (gid_t)strtoul(group, &group, 10);
    if (*group == ',') group++;
  }
  uid_t uid = (uid_t)strtoul(fields[F_UID], NULL, 10);
  gid_t gid = (gid_t)strtoul(fields[F_GID], NULL, 10);
  if (setgroups(group_count, groups) != 0) child_fail("setgroups: %s", strerror(errno));
  if (setresgid(gid, gid, gid) != 0) child_fail("setresgid to %u: %s", gid, strerror(errno));
  if (setresuid(uid, uid, uid) != 0) child_fail("setresuid to %u: %s", uid, strerror(errno));
  uint64_t effective = mask_of(fields[F_EFFECTIVE]), permitted = mask_of(fields[F_PERMITTED]), inheritable = mask_of(fields[F_INHERITABLE]);
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {
    {.effective = (uint32_t)effective, .permitted = (uint32_t)permitted, .inheritable = (uint32_t)inheritable},
    {.effective = (uint32_t)(effective >> 32), .permitted = (uint32_t)(permitted >> 32), .inheritable = (uint32_t)(inheritable >> 32)},
  };
  if (syscall(SYS_capset, &header, data) != 0) child_fail("capset: %s", strerror(errno));
  uint64_t ambient = mask_of(fields[F_AMBIENT]);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) child_fail("clear ambient capabilities: %s", strerror(errno));
  for (int cap = 0; cap <= exec->last_cap; cap++) {
    if ((ambient & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) child_fail("raise ambient capability %d: %s", cap, strerror(errno));
  }
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  char found[4096];
  const char *path = find_executable(exec->argv[0], exec->env, found, sizeof found);
  if (!path) child_fail("executable file `%s` not found in $PATH: %s", exec->argv[0], strerror(ENOENT));
  execve(path, exec->argv, exec->env);
  if (errno == ENOENT) child_fail("executable file `%s` not found in $PATH: %s", exec->argv[0], strerror(ENOENT));
  if (errno == EACCES || errno == EPERM) child_fail("open executable: %s", strerror(errno));
  child_fail("exec `%s`: %s", exec->argv[0], strerror(errno));
}

// ---- the worker: the process's parent and its stdio's relay -----------------------------------

static void send_frame(struct nsexec *exec, unsigned char stream, const char *data, size_t length) {
  if (exec->io < 0 || length == 0) return;
  unsigned char header[8] = {stream, 0, 0, 0, (unsigned char)(length >> 24), (unsigned char)(length >> 16), (unsigned char)(length >> 8), (unsigned char)length};
  struct iovec parts[2] = {{header, sizeof header}, {(void *)data, length}};
  struct msghdr message = {.msg_iov = parts, .msg_iovlen = 2};
  while (parts[0].iov_len + parts[1].iov_len > 0) {
    ssize_t sent = sendmsg(exec->io, &message, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) {  // berthd dropped the session: the output goes nowhere from now on
      close(exec->io);
      exec->io = -1;
      return;
    }
    for (int i = 0; i < 2 && sent > 0; i++) {
      size_t taken = (size_t)sent < parts[i].iov_len ? (size_t)sent : parts[i].iov_len;
      parts[i].iov_base = (char *)parts[i].iov_base + taken;
      parts[i].iov_len -= taken;
      sent -= (ssize_t)taken;
    }
    if (parts[0].iov_len == 0) { message.msg_iov = &parts[1]; message.msg_iovlen = 1; }
  }
}

// Moves what the pipe holds now to berthd, at most `chunks` reads of 64 KiB (the pipe is
// non-blocking), so that a process that writes without end cannot keep the relay from its
// other work; closes the pipe at its end.
static void forward(struct nsexec *exec, int *pipe_fd, unsigned char stream, int chunks) {
  char chunk[65536];
  while (*pipe_fd >= 0 && chunks-- > 0) {
    ssize_t got = read(*pipe_fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) return;
    if (got <= 0) { close(*pipe_fd); *pipe_fd = -1; return; }
    send_frame(exec, stream, chunk, (size_t)got);
  }
}

static int wait_status(pid_t child) {
  int raw;
  while (waitpid(child, &raw, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

static void relay(struct nsexec *exec, pid_t child, int out, int err, int in) {
  int exited = (int)syscall(SYS_pidfd_open, child, 0);
  struct buffer pending = {0};
  size_t pending_at = 0;
  int reading_stdin = in >= 0 && exec->io >= 0;
  for (int fd = 0; fd < 3; fd++) {
    int which = fd == 0 ? out : fd == 1 ? err : in;
    if (which >= 0) fcntl(which, F_SETFL, fcntl(which, F_GETFL) | O_NONBLOCK);
  }
  while (exited >= 0) {
    int has_pending = pending.length > pending_at;
    struct pollfd fds[5] = {
      {out, POLLIN, 0}, {err, POLLIN, 0}, {exited, POLLIN, 0},
      {reading_stdin && !has_pending ? exec->io : -1, POLLIN, 0}, {has_pending ? in : -1, POLLOUT, 0},
    };
    if (poll(fds, 5, -1) < 0) { if (errno == EINTR) continue; break; }
    if (fds[0].revents) forward(exec, &out, 1, 4);
    if (fds[1].revents) forward(exec, &err, 2, 4);
    if (fds[3].revents) {
      char chunk[65536];
      ssize_t got = recv(exec->io, chunk, sizeof chunk, 0);
      if (got > 0) {
        pending.length = pending_at = 0;
        append(&pending, chunk, (size_t)got);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        reading_stdin = 0;  // berthd ended the client's stdin
      }
    }
    if (fds[4].revents) {
      ssize_t written = write(in, pending.data + pending_at, pending.length - pending_at);
      if (written > 0) pending_at += (size_t)written;
      else if (written < 0 && errno != EAGAIN && errno != EINTR) pending_at = pending.length, reading_stdin = 0;
    }
    if (exec->io < 0) reading_stdin = 0;  // the client is gone: so is its stdin
    if (in >= 0 && !reading_stdin && pending.length <= pending_at) { close(in); in = -1; }
    if (fds[2].revents) break;
  }
  int status = wait_status(child);
  // What the process wrote before it ended (a pipe holds 64 KiB unless grown): a child of it
  // that keeps the pipes open, and perhaps writes on, is not waited for.
  forward(exec, &out, 1, 16);
  forward(exec, &err, 2, 16);
  close_quietly(out);
  close_quietly(err);
  close_quietly(in);
  close_quietly(exited);
  if (exec->io >= 0) close(exec->io);
  free(pending.data);
  char header[96];
  snprintf(header, sizeof header, "E %s %d 0 0\n", exec->id, status);
  reply(header, NULL, 0, NULL, 0);
}

void serve_nsexec(const char *id, char **fields, int count) {
  struct nsexec exec = {.id = id, .fields = fields, .io = -1};
  int env_count = count > F_ENV_COUNT ? atoi(fields[F_ENV_COUNT]) : -1;
  if (env_count < 0 || count < F_FIXED + env_count + 1) { reply_error(id, "nsexec", EINVAL); return; }
  exec.env = calloc((size_t)env_count + 1, sizeof *exec.env);
  for (int i = 0; i < env_count; i++) exec.env[i] = fields[F_FIXED + i];
  exec.argv = fields + F_FIXED + env_count;  // NULL-terminated by the request parser
  exec.target = (pid_t)atoi(fields[F_PID]);
  const char *streams = fields[F_STREAMS];
  char failed[4200] = "";
  struct buffer last_cap = {0};
  exec.last_cap = read_file("/proc/sys/kernel/cap_last_cap", &last_cap) == 0 ? atoi(last_cap.data) : 40;
  free(last_cap.data);
  // Before any file of the container's is opened, so that none of its processes may ptrace
  // this one or open its /proc files (and through them this helper's binary) until execve.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int target = (int)syscall(SYS_pidfd_open, exec.target, 0);
  if (target < 0) { reply_error(id, "container process", errno); return; }
  if (load_filter(&exec, fields[F_SECCOMP]) != 0) { reply_error(id, "seccomp filter", errno); return; }
  if (open_namespaces(&exec, failed, sizeof failed) != 0 || open_cgroups(&exec, failed, sizeof failed) != 0) { reply_error(id, failed, errno); return; }
  // The namespaces are those of the process berthd named only if it is still alive now.
  struct pollfd alive = {target, POLLIN, 0};
  if (poll(&alive, 1, 0) != 0) { reply_error(id, "container process", ESRCH); return; }
  exec.io = connect_io(fields[F_SOCKET], fields[F_TOKEN]);
  if (exec.io < 0) { reply_error(id, "exec I/O socket", errno); return; }
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  int out[2] = {null, -1}, err[2] = {null, -1}, in[2] = {-1, null}, go[2], errors[2];
  if ((strchr(streams, 'o') && pipe2(out, O_CLOEXEC) != 0) || (strchr(streams, 'e') && pipe2(err, O_CLOEXEC) != 0) ||
      (strchr(streams, 'i') && pipe2(in, O_CLOEXEC) != 0) || pipe2(go, O_CLOEXEC) != 0 || pipe2(errors, O_CLOEXEC) != 0) {
    reply_error(id, "pipe", errno);
    return;
  }
  for (size_t i = 0; i < NAMESPACE_COUNT; i++) {
    if (exec.namespaces[i] >= 0 && setns(exec.namespaces[i], 0) != 0) { snprintf(failed, sizeof failed, "setns %s", NAMESPACES[i]); reply_error(id, failed, errno); return; }
  }
  pid_t child = fork();
  if (child < 0) { reply_error(id, "fork", errno); return; }
  if (child == 0) {
    close(go[1]);
    close(errors[0]);
    error_pipe = errors[1];
    int stdio[3] = {in[0] >= 0 ? in[0] : null, out[1] >= 0 ? out[1] : null, err[1] >= 0 ? err[1] : null};
    run_child(&exec, go[0], stdio);
  }
  close(go[0]);
  close(errors[1]);
  if (out[1] >= 0) close(out[1]);
  if (err[1] >= 0) close(err[1]);
  if (in[0] >= 0) close(in[0]);
  char pid_text[32];
  int pid_length = snprintf(pid_text, sizeof pid_text, "%d", child);
  for (int i = 0; i < exec.cgroup_count; i++) {
    if (write(exec.cgroups[i], pid_text, (size_t)pid_length) != pid_length) {
      int error = errno;
      kill(child, SIGKILL);
      wait_status(child);
      reply_error(id, "joining the container's cgroups", error);
      return;
    }
    close(exec.cgroups[i]);
  }
  if (write(go[1], "", 1) != 1) {}
  close(go[1]);
  struct buffer message = {0};
  char chunk[1024];
  ssize_t got;
  while ((got = read(errors[0], chunk, sizeof chunk)) != 0) {
    if (got < 0) { if (errno == EINTR) continue; break; }
    append(&message, chunk, (size_t)got);
  }
  close(errors[0]);
  if (message.length > 0) {
    wait_status(child);
    struct buffer none = {0};
    reply_end(id, -1, &none, &message);
    return;
  }
  char header[96], line[40];
  int line_length = snprintf(line, sizeof line, "%d\n", child);
  snprintf(header, sizeof header, "S %s %d\n", id, line_length);
  reply(header, line, (size_t)line_length, NULL, 0);
  relay(&exec, child, out[0] == null ? -1 : out[0], err[0] == null ? -1 : err[0], in[1] == null ? -1 : in[1]);
}
