// Fault injection for the daemon, test-only (LD_PRELOAD): every Nth call
// that reads the kernel's facts about processes and cgroups fails with the
// chosen errno, as a host short of descriptors or memory would make it fail.
// What the test then checks: no container that was not asked to die is lost,
// no process of a live container is killed.
//
//   NSFS_FAULT="errno=EMFILE every=7 calls=open,read,pidfd,ioctl,poll"
//
// Only calls on /proc and cgroup files (paths starting with one of
// NSFS_FAULT_PATHS, ':'-separated; default /proc/ and /sys/fs/cgroup/) and
// on descriptors opened from them fail; pidfd_open, pidfd ioctls and poll
// always may. /dev/fuse and the state directory are never touched: the
// faults are the kernel's answers about processes, not the daemon's own
// files. LD_PRELOAD is removed from the environment at once, so that
// nothing the daemon starts (holder, view helpers) inherits it.
// NSFS_FAULT_REPORT=FILE: each process appends how many calls it failed,
// at its exit, so that a test knows faults were injected at all.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { CALL_OPEN = 1, CALL_READ = 2, CALL_PIDFD = 4, CALL_IOCTL = 8, CALL_POLL = 16 };
enum { MAX_TRACKED = 1 << 16 };

static int fault_errno = EMFILE;
static long every;
static int calls;
static char prefixes[512] = "/proc/:/sys/fs/cgroup/";
static atomic_long counter;
static atomic_long failed;
static char report[512];
static atomic_uchar tracked[MAX_TRACKED];

__attribute__((constructor)) static void setup(void) {
    const char *spec = getenv("NSFS_FAULT");
    const char *paths = getenv("NSFS_FAULT_PATHS");
    unsetenv("LD_PRELOAD");
    const char *r = getenv("NSFS_FAULT_REPORT");
    if (r) { strncpy(report, r, sizeof report - 1); unsetenv("NSFS_FAULT_REPORT"); }
    if (paths) { strncpy(prefixes, paths, sizeof prefixes - 1); }
    if (!spec) return;
    char buf[256];
    strncpy(buf, spec, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (!strncmp(tok, "errno=", 6)) {
            const char *e = tok + 6;
            fault_errno = !strcmp(e, "ENOMEM") ? ENOMEM : !strcmp(e, "EACCES") ? EACCES
                        : !strcmp(e, "EINTR") ? EINTR : !strcmp(e, "EIO") ? EIO : EMFILE;
        } else if (!strncmp(tok, "every=", 6)) {
            every = atol(tok + 6);
        } else if (!strncmp(tok, "calls=", 6)) {
            calls = (strstr(tok, "open") ? CALL_OPEN : 0) | (strstr(tok, "read") ? CALL_READ : 0)
                  | (strstr(tok, "pidfd") ? CALL_PIDFD : 0) | (strstr(tok, "ioctl") ? CALL_IOCTL : 0)
                  | (strstr(tok, "poll") ? CALL_POLL : 0);
        }
    }
}

__attribute__((destructor)) static void tell(void) {
    if (!report[0]) return;
    char line[64];
    int n = snprintf(line, sizeof line, "%ld\n", atomic_load(&failed));
    int fd = (int)syscall(SYS_openat, AT_FDCWD, report, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) { (void)!write(fd, line, (size_t)n); syscall(SYS_close, fd); }
}

static int watched(const char *path) {
    if (!path) return 0;
    char list[512];
    strcpy(list, prefixes);
    for (char *save = NULL, *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save))
        if (!strncmp(path, p, strlen(p))) return 1;
    return 0;
}

// Fail this call? (errno set when so.)
static int fault(int kind) {
    if (every <= 0 || !(calls & kind)) return 0;
    if (atomic_fetch_add(&counter, 1) % every != every - 1) return 0;
    atomic_fetch_add(&failed, 1);
    errno = fault_errno;
    return 1;
}

static void track(int fd, const char *path) {
    if (fd >= 0 && fd < MAX_TRACKED) atomic_store(&tracked[fd], (unsigned char)watched(path));
}

static int is_tracked(int fd) { return fd >= 0 && fd < MAX_TRACKED && atomic_load(&tracked[fd]); }

#define REAL(name) static __typeof__(&name) real_##name; if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

int open(const char *path, int flags, ...) {
    REAL(open);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    if (watched(path) && fault(CALL_OPEN)) return -1;
    int fd = real_open(path, flags, mode);
    track(fd, path);
    return fd;
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dir, const char *path, int flags, ...) {
    REAL(openat);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    if (watched(path) && fault(CALL_OPEN)) return -1;
    int fd = real_openat(dir, path, flags, mode);
    track(fd, path);
    return fd;
}
int openat64(int dir, const char *path, int flags, ...) __attribute__((alias("openat")));

ssize_t read(int fd, void *buf, size_t n) {
    REAL(read);
    if (is_tracked(fd) && fault(CALL_READ)) return -1;
    return real_read(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
    REAL(pread);
    if (is_tracked(fd) && fault(CALL_READ)) return -1;
    return real_pread(fd, buf, n, off);
}
ssize_t pread64(int fd, void *buf, size_t n, off_t off) __attribute__((alias("pread")));

int close(int fd) {
    REAL(close);
    if (fd >= 0 && fd < MAX_TRACKED) atomic_store(&tracked[fd], 0);
    return real_close(fd);
}

// pidfd ioctls (PIDFS_IOCTL_MAGIC 0xFF): a namespace descriptor, PIDFD_GET_INFO.
int ioctl(int fd, unsigned long request, ...) {
    REAL(ioctl);
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (_IOC_TYPE(request) == 0xFF && fault(CALL_IOCTL)) return -1;
    return real_ioctl(fd, request, arg);
}

int poll(struct pollfd *fds, nfds_t n, int timeout) {
    REAL(poll);
    if (n == 1 && timeout == 0 && fault(CALL_POLL)) return -1;
    return real_poll(fds, n, timeout);
}

long syscall(long number, ...) {
    REAL(syscall);
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_pidfd_open && fault(CALL_PIDFD)) return -1;
    return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
