// berth-copy-tree [--background] [--max-entries N] [--max-bytes N] SRC DST
//
// The copy-up of a new volume (src/volumes/copy-up.ts): copies the contents of the directory SRC
// into the existing, empty directory DST, as `cp -a SRC/. DST` does and as Docker's copy-up
// (continuity's CopyDir) does: owners, modes (setuid/setgid/sticky too), nanosecond times,
// symlinks (never followed), hard links, extended attributes, device nodes, fifos and sockets;
// DST itself takes SRC's owner, mode, times and xattrs.
//
// Why not cp: a copy-up of a few thousand small files is one inode creation per file, and cp -a
// spends ~13 system calls on each (stats of both sides, reflink and copy_file_range attempts,
// fadvise, xattr probes on both sides). This walks each directory once through dirfds and does
// for a regular file: fstatat, open, open(O_CREAT|O_EXCL), read+write (copy_file_range beyond a
// page), flistxattr, futimens, close x2; fchown only when the owner is not the one the file is
// created with, fchmod only when the owner change cleared setuid/setgid bits.
//
// --background: at a lower CPU and I/O priority (a volume seed made for later runs,
// src/volumes/seeds.ts, yields to the runs of now; not the idle class: a run may wait for it). --max-entries/--max-bytes: give up with
// exit status 3 as soon as the tree holds more entries or bytes of regular files than that.
//
// Exit status 0: DST holds the copy; 1: an error, said on stderr; 3: over a limit (DST then
// holds part of it).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SMALL_FILE 65536
#define XATTR_LIST_MAX_BYTES 65536
#define XATTR_VALUE_MAX_BYTES 65536

static char rel[PATH_MAX];  // the path being copied, relative to SRC and DST (for messages and hard links)
static size_t rel_len;
static int dst_root = -1;
static uid_t creator_uid;
static gid_t creator_gid;
static char buffer[SMALL_FILE];
static unsigned long long max_entries = ~0ULL, max_bytes = ~0ULL, entries_seen, bytes_seen;
#define OVER_LIMIT 3

static int fail(const char *what) {
  fprintf(stderr, "berth-copy-tree: %s %s: %s\n", what, rel_len ? rel : ".", strerror(errno));
  return -1;
}

// ---- hard links: (dev, ino) of a source with more than one link -> the first copy's path ----
struct link_entry { dev_t dev; ino_t ino; char *path; };
static struct link_entry *links;
static size_t links_cap, links_used;

static size_t link_slot(dev_t dev, ino_t ino) {
  uint64_t hash = ((uint64_t)dev * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)ino * 0xC2B2AE3D27D4EB4FULL);
  size_t slot = (size_t)(hash % links_cap);
  while (links[slot].path && !(links[slot].dev == dev && links[slot].ino == ino)) slot = (slot + 1) % links_cap;
  return slot;
}

static const char *link_find(dev_t dev, ino_t ino) {
  return links_cap ? links[link_slot(dev, ino)].path : NULL;
}

static int link_add(dev_t dev, ino_t ino) {
  if ((links_used + 1) * 2 > links_cap) {
    struct link_entry *old = links;
    size_t old_cap = links_cap;
    links_cap = links_cap ? links_cap * 2 : 256;
    links = calloc(links_cap, sizeof *links);
    if (!links) return fail("allocating");
    for (size_t i = 0; i < old_cap; i++) if (old[i].path) links[link_slot(old[i].dev, old[i].ino)] = old[i];
    free(old);
  }
  size_t slot = link_slot(dev, ino);
  links[slot] = (struct link_entry){ dev, ino, strdup(rel) };
  if (!links[slot].path) return fail("allocating");
  links_used++;
  return 0;
}

// ---- extended attributes ----
// fd >= 0: the file's own descriptor; otherwise the entry `name` in directory `dirfd`, reached
// through /proc/self/fd without following it (symlinks, device nodes, fifos cannot be opened
// for this).
static int copy_xattrs(int src_fd, int src_dir, int dst_fd, int dst_dir, const char *name) {
  static char names[XATTR_LIST_MAX_BYTES], value[XATTR_VALUE_MAX_BYTES];
  char src_path[64 + NAME_MAX], dst_path[64 + NAME_MAX];
  ssize_t size;
  if (src_fd >= 0) {
    size = flistxattr(src_fd, names, sizeof names);
  } else {
    snprintf(src_path, sizeof src_path, "/proc/self/fd/%d/%s", src_dir, name);
    snprintf(dst_path, sizeof dst_path, "/proc/self/fd/%d/%s", dst_dir, name);
    size = llistxattr(src_path, names, sizeof names);
  }
  if (size < 0) return (errno == ENOTSUP) ? 0 : fail("listing the xattrs of");
  for (char *key = names; key < names + size; key += strlen(key) + 1) {
    ssize_t length = src_fd >= 0 ? fgetxattr(src_fd, key, value, sizeof value) : lgetxattr(src_path, key, value, sizeof value);
    if (length < 0) {
      if (errno == ENODATA) continue;
      return fail("reading an xattr of");
    }
    int set = dst_fd >= 0 ? fsetxattr(dst_fd, key, value, (size_t)length, 0) : lsetxattr(dst_path, key, value, (size_t)length, 0);
    // As cp -a: an attribute the destination cannot hold (another file system, a security
    // module's label) is not an error.
    if (set < 0 && errno != ENOTSUP && errno != EPERM) return fail("writing an xattr of");
  }
  return 0;
}

// ---- owner and mode ----
// The owner a new entry gets without fchown: the creator's uid, and the parent's gid when the
// parent directory is setgid.
static int needs_chown(const struct stat *source, const struct stat *parent) {
  gid_t created_gid = (parent->st_mode & S_ISGID) ? parent->st_gid : creator_gid;
  return source->st_uid != creator_uid || source->st_gid != created_gid;
}

static int copy_data(int from, int to, off_t size) {
  if (size <= SMALL_FILE) {
    off_t done = 0;
    while (done < size) {
      ssize_t got = read(from, buffer + done, (size_t)(size - done));
      if (got < 0) { if (errno == EINTR) continue; return fail("reading"); }
      if (got == 0) break;
      done += got;
    }
    for (off_t written = 0; written < done;) {
      ssize_t put = write(to, buffer + written, (size_t)(done - written));
      if (put < 0) { if (errno == EINTR) continue; return fail("writing"); }
      written += put;
    }
    return 0;
  }
  for (;;) {
    ssize_t copied = copy_file_range(from, NULL, to, NULL, 1 << 30, 0);
    if (copied == 0) return 0;
    if (copied > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) return fail("copying");
    break;
  }
  for (;;) {
    ssize_t got = read(from, buffer, sizeof buffer);
    if (got < 0) { if (errno == EINTR) continue; return fail("reading"); }
    if (got == 0) return 0;
    for (ssize_t written = 0; written < got;) {
      ssize_t put = write(to, buffer + written, (size_t)(got - written));
      if (put < 0) { if (errno == EINTR) continue; return fail("writing"); }
      written += put;
    }
  }
}

static int copy_regular(int src_dir, int dst_dir, const char *name, const struct stat *st, const struct stat *dst_parent) {
  int from = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (from < 0) return fail("opening");
  int to = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
  if (to < 0) { close(from); return fail("creating"); }
  int status = copy_data(from, to, st->st_size);
  if (status == 0 && needs_chown(st, dst_parent)) {
    if (fchown(to, st->st_uid, st->st_gid) < 0) status = fail("changing the owner of");
    // chown clears setuid and setgid.
    else if ((st->st_mode & (S_ISUID | S_ISGID)) && fchmod(to, st->st_mode & 07777) < 0) status = fail("changing the mode of");
  }
  if (status == 0) status = copy_xattrs(from, -1, to, -1, name);
  struct timespec times[2] = { st->st_atim, st->st_mtim };
  if (status == 0 && futimens(to, times) < 0) status = fail("setting the times of");
  close(from);
  if (close(to) < 0 && status == 0) status = fail("closing");
  return status;
}

// Symlinks, device nodes, fifos and sockets: made by name, their attributes set by name.
static int copy_special(int src_dir, int dst_dir, const char *name, const struct stat *st, const struct stat *dst_parent) {
  if (S_ISLNK(st->st_mode)) {
    char target[PATH_MAX];
    ssize_t length = readlinkat(src_dir, name, target, sizeof target - 1);
    if (length < 0) return fail("reading the link");
    target[length] = '\0';
    if (symlinkat(target, dst_dir, name) < 0) return fail("making the link");
  } else if (mknodat(dst_dir, name, st->st_mode & (S_IFMT | 07777), st->st_rdev) < 0) {
    return fail("making the node");
  }
  if (needs_chown(st, dst_parent) && fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) return fail("changing the owner of");
  // Never through a symlink, should one have taken the node's name meanwhile.
  if (!S_ISLNK(st->st_mode) && fchmodat(dst_dir, name, st->st_mode & 07777, AT_SYMLINK_NOFOLLOW) < 0) return fail("changing the mode of");
  if (copy_xattrs(-1, src_dir, -1, dst_dir, name) < 0) return -1;
  struct timespec times[2] = { st->st_atim, st->st_mtim };
  if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) < 0) return fail("setting the times of");
  return 0;
}

struct entry { ino_t ino; char *name; };

static int by_inode(const void *a, const void *b) {
  ino_t x = ((const struct entry *)a)->ino, y = ((const struct entry *)b)->ino;
  return x < y ? -1 : x > y;
}

static int push(const char *name) {
  size_t length = strlen(name);
  if (rel_len + length + 2 > sizeof rel) { errno = ENAMETOOLONG; return fail("copying"); }
  if (rel_len) rel[rel_len++] = '/';
  memcpy(rel + rel_len, name, length + 1);
  rel_len += length;
  return 0;
}

static void pop(size_t length) {
  rel_len = length;
  rel[rel_len] = '\0';
}

static int copy_directory(int src, int dst, const struct stat *src_st, const struct stat *dst_st);

static int copy_entry(int src, int dst, const char *name, const struct stat *dst_st) {
  struct stat st;
  if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return fail("reading");
  if (++entries_seen > max_entries || (S_ISREG(st.st_mode) && (bytes_seen += (unsigned long long)st.st_size) > max_bytes)) return -OVER_LIMIT;
  if (S_ISDIR(st.st_mode)) {
    if (mkdirat(dst, name, 0700) < 0) return fail("making the directory");
    int from = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (from < 0) return fail("opening");
    int to = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (to < 0) { close(from); return fail("opening"); }
    // Owner and mode first: the entries made inside take the directory's setgid group as on the source.
    struct stat made = { .st_uid = creator_uid, .st_gid = (dst_st->st_mode & S_ISGID) ? dst_st->st_gid : creator_gid };
    int status = 0;
    if (made.st_uid != st.st_uid || made.st_gid != st.st_gid) {
      if (fchown(to, st.st_uid, st.st_gid) < 0) status = fail("changing the owner of");
    }
    if (status == 0 && fchmod(to, st.st_mode & 07777) < 0) status = fail("changing the mode of");
    if (status == 0) status = copy_directory(from, to, &st, &st);
    close(from);
    close(to);
    return status;
  }
  if (st.st_nlink > 1) {
    const char *first = link_find(st.st_dev, st.st_ino);
    if (first) return linkat(dst_root, first, dst, name, 0) < 0 ? fail("linking") : 0;
  }
  int status = S_ISREG(st.st_mode) ? copy_regular(src, dst, name, &st, dst_st) : copy_special(src, dst, name, &st, dst_st);
  if (status == 0 && st.st_nlink > 1) status = link_add(st.st_dev, st.st_ino);
  return status;
}

// Copies the entries of `src` into `dst` (whose owner and mode are already set; `dst_st` is
// what they are), then its xattrs and times. Entries in inode order, as cp reads them.
static int copy_directory(int src, int dst, const struct stat *src_st, const struct stat *dst_st) {
  int listing = dup(src);
  if (listing < 0) return fail("opening");
  DIR *dir = fdopendir(listing);
  if (!dir) { close(listing); return fail("opening"); }
  struct entry *entries = NULL;
  size_t count = 0, cap = 0;
  int status = 0;
  struct dirent *item;
  errno = 0;
  while ((item = readdir(dir))) {
    if (strcmp(item->d_name, ".") == 0 || strcmp(item->d_name, "..") == 0) continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 64;
      struct entry *grown = realloc(entries, cap * sizeof *entries);
      if (!grown) { status = fail("allocating"); break; }
      entries = grown;
    }
    entries[count].ino = item->d_ino;
    entries[count].name = strdup(item->d_name);
    if (!entries[count].name) { status = fail("allocating"); break; }
    count++;
    errno = 0;
  }
  if (status == 0 && errno != 0) status = fail("reading the directory");
  closedir(dir);
  qsort(entries, count, sizeof *entries, by_inode);
  size_t length = rel_len;
  for (size_t i = 0; i < count && status == 0; i++) {
    status = push(entries[i].name);
    if (status == 0) status = copy_entry(src, dst, entries[i].name, dst_st);
    pop(length);
  }
  for (size_t i = 0; i < count; i++) free(entries[i].name);
  free(entries);
  if (status == 0) status = copy_xattrs(src, -1, dst, -1, NULL);
  struct timespec times[2] = { src_st->st_atim, src_st->st_mtim };
  if (status == 0 && futimens(dst, times) < 0) status = fail("setting the times of");
  return status;
}

static int usage(void) {
  fprintf(stderr, "usage: berth-copy-tree [--background] [--max-entries N] [--max-bytes N] SRC DST (DST an existing directory)\n");
  return 2;
}

int main(int argc, char **argv) {
  // Dies with berthd: a copy cut short is swept by the next berthd, which must not find it still writing.
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) return 1;
  int arg = 1;
  for (; arg < argc && strncmp(argv[arg], "--", 2) == 0; arg++) {
    if (strcmp(argv[arg], "--background") == 0) {
      // ioprio_set(IOPRIO_WHO_PROCESS, self, best effort (2) << 13 | lowest level 7): glibc has no wrapper.
      if (setpriority(PRIO_PROCESS, 0, 10) < 0 || syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 7) < 0) { fail("lowering the priority"); return 1; }
    } else if (strcmp(argv[arg], "--max-entries") == 0 && arg + 1 < argc) {
      max_entries = strtoull(argv[++arg], NULL, 10);
    } else if (strcmp(argv[arg], "--max-bytes") == 0 && arg + 1 < argc) {
      max_bytes = strtoull(argv[++arg], NULL, 10);
    } else {
      return usage();
    }
  }
  if (argc - arg != 2) return usage();
  argv += arg - 1;
  umask(0);
  creator_uid = geteuid();
  creator_gid = getegid();
  int src = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (src < 0) { fail(argv[1]); return 1; }
  dst_root = open(argv[2], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dst_root < 0) { fail(argv[2]); return 1; }
  struct stat src_st, dst_st;
  if (fstat(src, &src_st) < 0 || fstat(dst_root, &dst_st) < 0) { fail("reading"); return 1; }
  if ((dst_st.st_uid != src_st.st_uid || dst_st.st_gid != src_st.st_gid) && fchown(dst_root, src_st.st_uid, src_st.st_gid) < 0) { fail("changing the owner of"); return 1; }
  if (fchmod(dst_root, src_st.st_mode & 07777) < 0) { fail("changing the mode of"); return 1; }
  int status = copy_directory(src, dst_root, &src_st, &src_st);
  return status == 0 ? 0 : status == -OVER_LIMIT ? OVER_LIMIT : 1;
}
