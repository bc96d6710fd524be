// What keeps a mount's FUSE connection across daemons: starting the holder,
// passing the /dev/fuse descriptor over a unix socket (SCM_RIGHTS), and
// systemd's notification socket (READY, FDSTORE). sockaddr_un and cmsg are
// macros and unions that Swift cannot spell.
#define _GNU_SOURCE
#include "namespace_shim.h"
#include "shim_internal.h"
#include "fd_passing.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static int unix_address(const char *path, struct sockaddr_un *a, socklen_t *len) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof a->sun_path) return -ENAMETOOLONG;
    memcpy(a->sun_path, path, n);
    // systemd's "@name": an abstract address (leading NUL, no terminator).
    if (path[0] == '@') a->sun_path[0] = 0;
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
    return 0;
}

// A unix socket of `type` bound and listening at `path`, or connected to it.
static int unix_socket(const char *path, int type, int listening) {
    struct sockaddr_un a;
    socklen_t len;
    int rc = unix_address(path, &a, &len);
    if (rc < 0) return rc;
    int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    if (listening) unlink(path);
    for (;;) {
        if (listening ? bind(s, (struct sockaddr *)&a, len) == 0 && listen(s, 16) == 0
                      : connect(s, (struct sockaddr *)&a, len) == 0)
            return s;
        if (errno != EINTR || listening) break;
    }
    int e = errno;
    close(s);
    return -e;
}

int nsfs_seqpacket_listen(const char *path) { return unix_socket(path, SOCK_SEQPACKET, 1); }

int nsfs_seqpacket_connect(const char *path) { return unix_socket(path, SOCK_SEQPACKET, 0); }

long nsfs_send_with_fd(int sock, const void *data, size_t len, int fd) {
    return nsfs_sendmsg_with_fd(sock, data, len, fd);
}

long nsfs_receive_with_fd(int sock, void *buf, size_t cap, int *fd) {
    struct iovec iov = {buf, cap};
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    *fd = -1;
    ssize_t n;
    while ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
    if (n < 0) return -errno;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(h), sizeof(int));
    return n;
}

int nsfs_set_receive_timeout(int sock, int milliseconds) {
    struct timeval tv = {milliseconds / 1000, (milliseconds % 1000) * 1000};
    return setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 ? 0 : -errno;
}

int nsfs_sd_notify(const char *text, int fd) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) return 0;
    int s = unix_socket(path, SOCK_DGRAM, 0);
    if (s < 0) return s;
    long rc = nsfs_sendmsg_with_fd(s, text, strlen(text), fd);
    close(s);
    return rc < 0 ? (int)rc : 0;
}

struct holder_ctx { const char *path; char *const *argv; int fuse_fd; int listen_fd; int error; };

// CLONE_VM|CLONE_VFORK child: only syscalls until exec.
static int holder_child(void *p) {
    struct holder_ctx *c = p;
    // To 3 and 4 through descriptors above both (either may be 3 or 4 now).
    int f = fcntl(c->fuse_fd, F_DUPFD, 10), l = fcntl(c->listen_fd, F_DUPFD, 10);
    if (f < 0 || l < 0 || dup2(f, 3) < 0 || dup2(l, 4) < 0) { c->error = errno; return 1; }
    syscall(SYS_close_range, 5U, ~0U, 0U);
    // Its own session: a terminal's ^C for a foreground daemon is not its.
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(c->path, c->argv, environ);
    c->error = errno;
    return 127;
}

int nsfs_spawn_holder(const char *path, char *const *argv, int fuse_fd, int listen_fd) {
    struct holder_ctx ctx = {path, argv, fuse_fd, listen_fd, 0};
    // A sibling of the daemon, not its child (CLONE_PARENT, which takes no
    // exit signal of its own): whoever reaps the daemon (systemd, a shell)
    // reaps it too, and a daemon's death orphans nothing.
    long pid = nsfs_vfork_run(CLONE_PARENT, 0, holder_child, &ctx);
    if (pid < 0) return (int)pid;
    return ctx.error ? -ctx.error : (int)pid;
}

// The handover signal: noted, and fn(ctx) called (libfuse's
// fuse_session_exit: it only sets a flag, as libfuse's own handlers do).
static volatile sig_atomic_t signal_seen;
static void (*signal_fn)(void *);
static void *signal_ctx;

static void on_signal(int sig) {
    signal_seen = sig;
    if (signal_fn) signal_fn(signal_ctx);
}

int nsfs_on_signal(int sig, void (*fn)(void *), void *ctx) {
    signal_fn = fn;
    signal_ctx = ctx;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL) == 0 ? 0 : -errno;
}

int nsfs_signal_seen(void) { return signal_seen; }
