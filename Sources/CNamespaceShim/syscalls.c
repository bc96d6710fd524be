// Thin wrappers for syscalls and ioctls that Glibc's Swift module hides.
#define _GNU_SOURCE
#include "namespace_shim.h"
#include "shim_internal.h"

#include <errno.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// From linux/pidfd.h (6.11+) and linux/nsfs.h (NS_GET_ID): newer than the
// distribution's headers.
#define NSFS_PIDFS_IOCTL_MAGIC 0xFF
#define NSFS_NSIO 0xb7
#define NSFS_NS_GET_ID _IOR(NSFS_NSIO, 0xd, uint64_t)

static int result(long r) { return r < 0 ? -errno : (int)r; }

void nsfs_with_number(char *out, size_t size, const char *a, unsigned long n, const char *b) {
    char digits[24];
    int k = 0;
    do { digits[k++] = (char)('0' + n % 10); n /= 10; } while (n);
    size_t i = 0;
    for (; *a && i + 1 < size; a++) out[i++] = *a;
    while (k && i + 1 < size) out[i++] = digits[--k];
    for (; *b && i + 1 < size; b++) out[i++] = *b;
    out[i] = 0;
}

int nsfs_pidfd_open(pid_t pid, unsigned int flags) {
    return result(syscall(SYS_pidfd_open, pid, flags));
}

int nsfs_pidfd_pid(int pidfd) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = errno;
    close(fd);
    if (n < 0) return -err;
    buf[n] = 0;
    const char *p = strstr(buf, "\nPid:");
    if (!p) return -EINVAL;
    int pid = atoi(p + 5);
    return pid > 0 ? pid : -ESRCH;
}

const char *nsfs_signal_abbrev(int sig) { return sigabbrev_np(sig); }

int nsfs_pidfd_send_signal(int pidfd, int sig) {
    return result(syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

int nsfs_pidfd_reap(int pidfd) {
    siginfo_t info;
    info.si_pid = 0;
    for (;;) {
        int r = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG | __WALL);
        if (r == 0) return info.si_pid != 0 ? 1 : 0;
        if (errno != EINTR) return -errno;
    }
}

static const unsigned long pidfd_ns_ioctl[NSFS_NS_COUNT] = {
    [NSFS_NS_CGROUP] = _IO(NSFS_PIDFS_IOCTL_MAGIC, 1),
    [NSFS_NS_IPC] = _IO(NSFS_PIDFS_IOCTL_MAGIC, 2),
    [NSFS_NS_MNT] = _IO(NSFS_PIDFS_IOCTL_MAGIC, 3),
    [NSFS_NS_NET] = _IO(NSFS_PIDFS_IOCTL_MAGIC, 4),
    [NSFS_NS_PID] = _IO(NSFS_PIDFS_IOCTL_MAGIC, 5),
    [NSFS_NS_TIME] = _IO(NSFS_PIDFS_IOCTL_MAGIC, 7),
    [NSFS_NS_USER] = _IO(NSFS_PIDFS_IOCTL_MAGIC, 9),
    [NSFS_NS_UTS] = _IO(NSFS_PIDFS_IOCTL_MAGIC, 10),
};

int nsfs_pidfd_namespace(int pidfd, enum nsfs_ns_kind kind) {
    if ((unsigned)kind >= NSFS_NS_COUNT) return -EINVAL;
    return result(ioctl(pidfd, pidfd_ns_ioctl[kind], 0));
}

int nsfs_ns_id(int nsfd, uint64_t *id) {
    return result(ioctl(nsfd, NSFS_NS_GET_ID, id));
}

uint64_t nsfs_ns_clone_flag(enum nsfs_ns_kind kind) {
    switch (kind) {
    case NSFS_NS_CGROUP: return CLONE_NEWCGROUP;
    case NSFS_NS_IPC: return CLONE_NEWIPC;
    case NSFS_NS_MNT: return CLONE_NEWNS;
    case NSFS_NS_NET: return CLONE_NEWNET;
    case NSFS_NS_PID: return CLONE_NEWPID;
    case NSFS_NS_TIME: return CLONE_NEWTIME;
    case NSFS_NS_USER: return CLONE_NEWUSER;
    case NSFS_NS_UTS: return CLONE_NEWUTS;
    default: return 0;
    }
}

const char *nsfs_ns_name(enum nsfs_ns_kind kind) {
    static const char *const names[NSFS_NS_COUNT] = {
        "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
    return (unsigned)kind < NSFS_NS_COUNT ? names[kind] : "";
}

#define NSFS_NS_GET_PID_IN_PIDNS _IOR(NSFS_NSIO, 0x8, int)

int nsfs_pid_in_pidns(int pidns_fd, pid_t pid) {
    return result(ioctl(pidns_fd, NSFS_NS_GET_PID_IN_PIDNS, (unsigned long)pid));
}

int nsfs_thread_namespace(pid_t tid, enum nsfs_ns_kind kind, uint64_t *id, int *keep_pidfd) {
    // PIDFD_THREAD (6.9+) accepts any thread id; FUSE reports the caller's.
    int pidfd = (int)syscall(SYS_pidfd_open, tid, O_EXCL /* PIDFD_THREAD */);
    if (pidfd < 0) return -errno;
    int ns = ioctl(pidfd, pidfd_ns_ioctl[kind], 0);
    int err = errno;
    if (keep_pidfd && ns >= 0) *keep_pidfd = pidfd;
    else close(pidfd);
    if (ns < 0) return -err;
    if (ioctl(ns, NSFS_NS_GET_ID, id) < 0) {
        err = errno;
        close(ns);
        if (keep_pidfd) close(*keep_pidfd);
        return -err;
    }
    return ns;
}

// PIDFD_GET_INFO (6.13+): struct pidfd_info, extensible; its first 64 bytes
// (version 0) are mask, cgroupid, then ids.
struct nsfs_pidfd_info { uint64_t mask; uint64_t cgroupid; uint32_t rest[12]; };
#define NSFS_PIDFD_INFO_CGROUPID (1UL << 2)
#define NSFS_PIDFD_GET_INFO _IOWR(NSFS_PIDFS_IOCTL_MAGIC, 11, struct nsfs_pidfd_info)

int nsfs_pidfd_cgroup_id(int pidfd, uint64_t *id) {
    int32_t parent;
    return nsfs_pidfd_info(pidfd, id, &parent);
}

int nsfs_pidfd_info(int pidfd, uint64_t *cgroup_id, int32_t *parent) {
    struct nsfs_pidfd_info info;
    memset(&info, 0, sizeof info);
    info.mask = NSFS_PIDFD_INFO_CGROUPID;
    if (ioctl(pidfd, NSFS_PIDFD_GET_INFO, &info) < 0) return -errno;
    if (!(info.mask & NSFS_PIDFD_INFO_CGROUPID)) return -EOPNOTSUPP;
    *cgroup_id = info.cgroupid;
    *parent = (int32_t)info.rest[2];   // pid, tgid, ppid: always returned
    return 0;
}

int nsfs_epoll_create(void) { return result(epoll_create1(EPOLL_CLOEXEC)); }

int nsfs_epoll_add(int epfd, int fd, uint64_t tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return result(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev));
}

int nsfs_epoll_remove(int epfd, int fd) {
    struct epoll_event ev = {0};
    return result(epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev));
}

int nsfs_epoll_wait(int epfd, uint64_t *tags, int max, int timeout_ms) {
    struct epoll_event ev[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, ev, max, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) tags[i] = ev[i].data.u64;
    return n;
}

#define NSFS_NS_GET_PARENT _IO(NSFS_NSIO, 0x2)

int nsfs_ns_parent(int nsfd) { return result(ioctl(nsfd, NSFS_NS_GET_PARENT, 0)); }

int nsfs_process_ns_inodes(pid_t pid, uint64_t *inodes) {
    char path[32];
    snprintf(path, sizeof path, "/proc/%d/ns", (int)pid);
    int dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -errno;
    int err = 0;
    for (int k = 0; k < NSFS_NS_COUNT; k++) {
        // "net:[4026531833]": the digits between the brackets.
        char buf[64];
        ssize_t n = readlinkat(dir, nsfs_ns_name(k), buf, sizeof buf - 1);
        inodes[k] = 0;
        if (n < 0) {
            if (errno != ENOENT) { err = errno; break; }
            continue;  // a kind this kernel lacks
        }
        buf[n] = 0;
        char *open_bracket = strchr(buf, '[');
        if (!open_bracket) { err = EINVAL; break; }
        inodes[k] = strtoull(open_bracket + 1, NULL, 10);
    }
    close(dir);
    return err ? -err : 0;
}

int nsfs_pidfds_exited(const int *pidfds, int count, uint8_t *exited) {
    struct pollfd stack[256];
    struct pollfd *p = count <= 256 ? stack : malloc(sizeof *p * (size_t)count);
    if (!p) return -ENOMEM;
    for (int i = 0; i < count; i++) p[i] = (struct pollfd){.fd = pidfds[i], .events = POLLIN};
    int r;
    do { r = poll(p, (nfds_t)count, 0); } while (r < 0 && errno == EINTR);
    int err = r < 0 ? errno : 0;
    // An fd that cannot be polled never reports an exit: count it as exited.
    for (int i = 0; i < count && !err; i++) exited[i] = (p[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0;
    if (p != stack) free(p);
    return err ? -err : 0;
}

int nsfs_setns(int fd, int nstype) { return result(syscall(SYS_setns, fd, nstype)); }
int nsfs_memfd(const char *name) { return result(syscall(SYS_memfd_create, name, 1 /* MFD_CLOEXEC */)); }
int nsfs_o_path(void) { return O_PATH; }

int nsfs_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0) == 0 ? 0 : -errno;
}

int nsfs_forbid_tracing(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno;
}

// A small pool: a lend never waits for another's child, which may be
// waiting on this filesystem (a view's helper looks its source up through
// the mount) while the request thread lends for a volume.
enum { LOW_SLOTS = 8 };
static int low_slots[LOW_SLOTS];
static int low_busy[LOW_SLOTS];
static int low_spare = -1;   // /dev/null, put back into a returned slot
static pthread_mutex_t low_lock = PTHREAD_MUTEX_INITIALIZER;

int nsfs_reserve_low_slots(void) {
    if (low_spare >= 0) return 0;
    int fds[LOW_SLOTS + 1];
    for (int i = 0; i <= LOW_SLOTS; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            int e = errno;
            while (i-- > 0) close(fds[i]);
            return -e;
        }
    }
    for (int i = 0; i < LOW_SLOTS; i++) low_slots[i] = fds[i];
    low_spare = fds[LOW_SLOTS];
    return 0;
}

void nsfs_lend_low_slots(const int *fds, int n, int *slots) {
    for (int i = 0; i < n; i++) {
        slots[i] = fds[i];
        if (fds[i] < 0 || low_spare < 0) continue;
        int k = -1;
        pthread_mutex_lock(&low_lock);
        for (int j = 0; j < LOW_SLOTS && k < 0; j++)
            if (!low_busy[j]) { low_busy[j] = 1; k = j; }
        pthread_mutex_unlock(&low_lock);
        if (k < 0) continue;   // all lent: this one stays where it is
        if (dup3(fds[i], low_slots[k], O_CLOEXEC) >= 0) {
            slots[i] = low_slots[k];
        } else {
            pthread_mutex_lock(&low_lock);
            low_busy[k] = 0;
            pthread_mutex_unlock(&low_lock);
        }
    }
}

void nsfs_return_low_slots(const int *slots, int n) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < LOW_SLOTS && low_spare >= 0; k++) {
            if (slots[i] != low_slots[k]) continue;
            // (dup3 onto a slot replaces what it held, atomically: the slot stays ours)
            dup3(low_spare, low_slots[k], O_CLOEXEC);
            pthread_mutex_lock(&low_lock);
            low_busy[k] = 0;
            pthread_mutex_unlock(&low_lock);
        }
    }
}

// Closing from `last + 1` up with CLOSE_RANGE_UNSHARE makes the kernel copy
// a shared table only below that (Linux 5.9).
int nsfs_own_fds_upto(int last) {
    return syscall(SYS_close_range, (unsigned int)(last + 1), ~0U, CLOSE_RANGE_UNSHARE) == 0 ? 0 : errno;
}

// Close every descriptor but those in `keep` (sorted here), without
// malloc: it runs in children that share the daemon's memory.
int nsfs_close_all_but(int *keep, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) { int t = keep[j]; keep[j] = keep[j - 1]; keep[j - 1] = t; }
    int e = nsfs_own_fds_upto(keep[n - 1]);
    if (e) return e;
    unsigned int from = 0;
    for (int i = 0; i < n; i++) {
        if (keep[i] < 0) continue;
        if ((unsigned int)keep[i] > from) syscall(SYS_close_range, from, (unsigned int)keep[i] - 1, 0U);
        from = (unsigned int)keep[i] + 1;
    }
    syscall(SYS_close_range, from, ~0U, 0U);
    return 0;
}
