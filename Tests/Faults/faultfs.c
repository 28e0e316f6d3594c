// faultfs: an LD_PRELOAD shim that makes a process's writes to chosen files fail, for fault
// tests through the real binary on any Linux machine (no root, no mount, no special file system).
//
//   cc -shared -fPIC -O2 -o faultfs.so Tests/Faults/faultfs.c -ldl
//   FAULTFS_PATTERN=/tmp/x/data/ FAULTFS_CONTROL=/tmp/x/control LD_PRELOAD=./faultfs.so petition-rpc ...
//
// Only descriptors whose path (as /proc/self/fd shows it) contains FAULTFS_PATTERN are
// affected. What happens to them is read from the FAULTFS_CONTROL file at every intercepted
// call, so a test switches faults on and off while the same process runs. The file holds
// whitespace-separated settings; an absent or empty file (or `off`) means no fault:
//
//   errno=ENOSPC|EIO|EROFS|EACCES|EDQUOT  the error returned (default ENOSPC)
//   ops=write,fsync,truncate              which calls fail (default write,fsync):
//                                         write = write/pwrite/pwrite64/writev/pwritev,
//                                         fsync = fsync/fdatasync/sync_file_range,
//                                         truncate = ftruncate/fallocate
//   after=N                               N bytes may still be written (counted from the
//                                         moment the control file's content last changed)
//                                         before writes fail: a disk that fills up (and
//                                         then stays full, small writes included)
//   match=TEXT                            only paths that also contain TEXT (e.g. -wal, .csv)
//   delay=MS                              every matching write first sleeps MS milliseconds
//                                         (with no errno= setting it only slows writes down)
//
// Every injected failure is appended as one line `op errno path` to FAULTFS_LOG if it is set,
// so a test can tell that its fault really fired.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_FSYNC = 2, OP_TRUNCATE = 4 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char last_control[512];
static long long written_since_change;
static int full;  // a disk that filled up stays full until the control file changes

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_sync_file_range)(int, off64_t, off64_t, unsigned int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_fallocate64)(int, int, off64_t, off64_t);

#define RESOLVE(name) \
  if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name)

static int errno_named(const char *name) {
  if (!strcmp(name, "EIO")) return EIO;
  if (!strcmp(name, "EROFS")) return EROFS;
  if (!strcmp(name, "EACCES")) return EACCES;
  if (!strcmp(name, "EDQUOT")) return EDQUOT;
  if (!strcmp(name, "EPERM")) return EPERM;
  return ENOSPC;
}

static const char *errno_name(int code) {
  switch (code) {
    case EIO: return "EIO";
    case EROFS: return "EROFS";
    case EACCES: return "EACCES";
    case EDQUOT: return "EDQUOT";
    case EPERM: return "EPERM";
    default: return "ENOSPC";
  }
}

// Reads the control file; 0 when it is absent or unreadable.
static size_t read_control(char *buffer, size_t size) {
  const char *path = getenv("FAULTFS_CONTROL");
  if (!path) return 0;
  int descriptor = open(path, O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return 0;
  ssize_t count = read(descriptor, buffer, size - 1);
  close(descriptor);
  if (count < 0) count = 0;
  buffer[count] = 0;
  return (size_t)count;
}

static void log_fault(const char *op, int code, const char *path) {
  const char *log = getenv("FAULTFS_LOG");
  if (!log) return;
  char line[4200];
  int length = snprintf(line, sizeof line, "%s %s %s\n", op, errno_name(code), path);
  if (length <= 0) return;
  if (length >= (int)sizeof line) length = sizeof line - 1;
  int descriptor = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (descriptor < 0) return;
  RESOLVE(write);
  real_write(descriptor, line, (size_t)length);
  close(descriptor);
}

// Decides the fate of one call: 0 to let it through, else the errno to fail it with.
// `bytes` is what a write would add (0 for fsync and truncate).
static int decide(int descriptor, int op, const char *op_name, size_t bytes) {
  const char *pattern = getenv("FAULTFS_PATTERN");
  if (!pattern || !*pattern) return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", descriptor);
  ssize_t length = readlink(link, path, sizeof path - 1);
  if (length <= 0) return 0;
  path[length] = 0;
  if (!strstr(path, pattern)) return 0;

  int saved = errno;
  char control[512];
  read_control(control, sizeof control);
  int code = 0, ops = OP_WRITE | OP_FSYNC, has_errno = 0, delay = 0;
  long long after = 0;
  char match[256] = "";
  int off = control[0] == 0;
  char copy[512];
  strcpy(copy, control);
  char *state = NULL;
  for (char *token = strtok_r(copy, " \t\r\n", &state); token; token = strtok_r(NULL, " \t\r\n", &state)) {
    if (!strcmp(token, "off")) off = 1;
    else if (!strncmp(token, "errno=", 6)) { code = errno_named(token + 6); has_errno = 1; }
    else if (!strncmp(token, "after=", 6)) after = atoll(token + 6);
    else if (!strncmp(token, "delay=", 6)) delay = atoi(token + 6);
    else if (!strncmp(token, "match=", 6)) snprintf(match, sizeof match, "%s", token + 6);
    else if (!strncmp(token, "ops=", 4)) {
      ops = 0;
      if (strstr(token, "write")) ops |= OP_WRITE;
      if (strstr(token, "fsync")) ops |= OP_FSYNC;
      if (strstr(token, "truncate")) ops |= OP_TRUNCATE;
    }
  }
  if (off || (match[0] && !strstr(path, match))) { errno = saved; return 0; }
  if (!has_errno && !delay) code = ENOSPC, has_errno = 1;

  int fail = 0;
  pthread_mutex_lock(&lock);
  if (strcmp(control, last_control) != 0) {
    snprintf(last_control, sizeof last_control, "%s", control);
    written_since_change = 0;
    full = 0;
  }
  if (has_errno && (ops & op)) {
    if (op == OP_WRITE && !full && written_since_change + (long long)bytes <= after) {
      written_since_change += (long long)bytes;
    } else if (op != OP_WRITE && written_since_change < after) {
      // A disk that still has room syncs fine.
    } else {
      fail = code;
      full = 1;
    }
  }
  pthread_mutex_unlock(&lock);
  if (delay && op == OP_WRITE) {
    struct timespec pause = {delay / 1000, (long)(delay % 1000) * 1000000L};
    nanosleep(&pause, NULL);
  }
  if (fail) log_fault(op_name, fail, path);
  errno = saved;
  return fail;
}

static size_t iov_bytes(const struct iovec *iov, int count) {
  size_t total = 0;
  for (int index = 0; index < count; index++) total += iov[index].iov_len;
  return total;
}

#define FAIL_IF(op, name, bytes, result)             \
  do {                                                \
    int code_ = decide(fd, op, name, bytes);          \
    if (code_) { errno = code_; return result; }      \
  } while (0)

ssize_t write(int fd, const void *buffer, size_t count) {
  RESOLVE(write);
  // The standard descriptors are never files under test; skipping them keeps the cost of
  // diagnostics and responses nil.
  if (fd > 2) FAIL_IF(OP_WRITE, "write", count, -1);
  return real_write(fd, buffer, count);
}

ssize_t pwrite(int fd, const void *buffer, size_t count, off_t offset) {
  RESOLVE(pwrite);
  FAIL_IF(OP_WRITE, "pwrite", count, -1);
  return real_pwrite(fd, buffer, count, offset);
}

ssize_t pwrite64(int fd, const void *buffer, size_t count, off64_t offset) {
  RESOLVE(pwrite64);
  FAIL_IF(OP_WRITE, "pwrite64", count, -1);
  return real_pwrite64(fd, buffer, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
  RESOLVE(writev);
  if (fd > 2) FAIL_IF(OP_WRITE, "writev", iov_bytes(iov, count), -1);
  return real_writev(fd, iov, count);
}

ssize_t pwritev(int fd, const struct iovec *iov, int count, off_t offset) {
  RESOLVE(pwritev);
  FAIL_IF(OP_WRITE, "pwritev", iov_bytes(iov, count), -1);
  return real_pwritev(fd, iov, count, offset);
}

int fsync(int fd) {
  RESOLVE(fsync);
  FAIL_IF(OP_FSYNC, "fsync", 0, -1);
  return real_fsync(fd);
}

int fdatasync(int fd) {
  RESOLVE(fdatasync);
  FAIL_IF(OP_FSYNC, "fdatasync", 0, -1);
  return real_fdatasync(fd);
}

int sync_file_range(int fd, off64_t offset, off64_t count, unsigned int flags) {
  RESOLVE(sync_file_range);
  FAIL_IF(OP_FSYNC, "sync_file_range", 0, -1);
  return real_sync_file_range(fd, offset, count, flags);
}

int ftruncate(int fd, off_t length) {
  RESOLVE(ftruncate);
  FAIL_IF(OP_TRUNCATE, "ftruncate", 0, -1);
  return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  RESOLVE(ftruncate64);
  FAIL_IF(OP_TRUNCATE, "ftruncate64", 0, -1);
  return real_ftruncate64(fd, length);
}

int fallocate(int fd, int mode, off_t offset, off_t length) {
  RESOLVE(fallocate);
  FAIL_IF(OP_TRUNCATE, "fallocate", 0, -1);
  return real_fallocate(fd, mode, offset, length);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t length) {
  RESOLVE(fallocate64);
  FAIL_IF(OP_TRUNCATE, "fallocate64", 0, -1);
  return real_fallocate64(fd, mode, offset, length);
}
