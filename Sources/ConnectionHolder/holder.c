// namespacefs-holder: keeps a mount's FUSE connection alive while no daemon
// serves it. The kernel ends a FUSE connection when the last descriptor of
// its /dev/fuse file closes; this process holds one, so a daemon that dies
// (a crash, an upgrade) leaves the mount waiting for the next daemon instead
// of aborting it. It never reads a request: the next daemon asks the kernel
// to send again what the dead one had read (FUSE_NOTIFY_RESEND).
//
// C without the Swift runtime, like the init: it must outlive any daemon
// build, and wake only when something happens to the daemon or the
// connection — never per request (it does not poll /dev/fuse while a daemon
// serves).
//
//   namespacefs-holder MOUNTPOINT CONNECTION HOLD_MS
//     fd 3  the connection's /dev/fuse file
//     fd 4  a listening SOCK_SEQPACKET socket (STATE_DIR/holder.sock)
//
// Requests on the socket, one message each, answered on the same connection:
//   "take"       the descriptor (SCM_RIGHTS) and "ok", or "busy PID" while a
//                live daemon serves. The caller holds the state lock.
//   "serve PID"  PID serves from now on: its death starts the hold.
//   "end"        the mount ended on purpose: exit (closing the descriptor).
//   "who"        "serving PID" or "none".
//   "pid"        "pid PID": its own (the daemon starts another if it dies).
// With nobody serving for HOLD_MS, the connection is aborted
// (/sys/fs/fuse/connections/N/abort) and the holder exits, saying so in one
// line: the mount then answers ENOTCONN and the next mount recovers.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../CNamespaceShim/fd_passing.h"
#include "../CNamespaceShim/include/holder_protocol.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

enum { FUSE_FD = 3, LISTEN_FD = 4 };

static const char *mountpoint;
static const char *connection;

static void say(const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    // One write: lines of the daemon and the holder share a log.
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void reply(int c, const char *text, int fd) { nsfs_sendmsg_with_fd(c, text, strlen(text), fd); }

static int alive(int pidfd) {
    struct pollfd p = {pidfd, POLLIN, 0};
    return pidfd >= 0 && poll(&p, 1, 0) == 0;
}

static void abort_connection(void) {
    char path[128];
    snprintf(path, sizeof path, "/sys/fs/fuse/connections/%s/abort", connection);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, "1", 1);
        (void)w;
        close(fd);
    }
    // Without fusectl, closing our descriptor (the last one) aborts it.
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        static const char line[] = "namespacefs-holder 0.1.0\n";
        return write(1, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) ? 0 : 1;
    }
    if (argc != 4) {
        say("usage: namespacefs-holder MOUNTPOINT CONNECTION HOLD_MS (started by namespacefs)");
        return 2;
    }
    mountpoint = argv[1];
    connection = argv[2];
    long hold_ms = atol(argv[3]);
    if (fcntl(FUSE_FD, F_GETFD) < 0 || fcntl(LISTEN_FD, F_GETFD) < 0) {
        say("namespacefs-holder: started without its descriptors");
        return 2;
    }
    fcntl(FUSE_FD, F_SETFD, FD_CLOEXEC);
    fcntl(LISTEN_FD, F_SETFD, FD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);

    int serving = -1;      // pidfd of the serving daemon
    long serving_pid = 0;
    long since = now_ms(); // nobody serving since
    for (;;) {
        struct pollfd p[3] = {{LISTEN_FD, POLLIN, 0}, {serving, POLLIN, 0}, {FUSE_FD, 0, 0}};
        // While nobody serves, watch the connection for its end (POLLERR);
        // while a daemon serves, never: every request would wake us.
        int n = serving >= 0 ? 2 : 3;
        if (serving < 0) p[1].fd = -1;
        int timeout = -1;
        if (serving < 0) {
            long left = since + hold_ms - now_ms();
            if (left <= 0) {
                abort_connection();
                say("namespacefs-holder: no daemon served %s for %ld s: connection %s aborted (the next mount recovers every container)",
                    mountpoint, hold_ms / 1000, connection);
                return 1;
            }
            timeout = (int)left;
        }
        if (poll(p, (nfds_t)n, timeout) < 0) {
            if (errno == EINTR) continue;
            say("namespacefs-holder: poll: %s", strerror(errno));
            return 1;
        }
        if (serving >= 0 && (p[1].revents & POLLIN)) {
            close(serving);
            serving = -1;
            since = now_ms();
            say("namespacefs-holder: daemon %ld of %s is gone; holding the connection for the next one (up to %ld s)",
                serving_pid, mountpoint, hold_ms / 1000);
            continue;
        }
        if (serving < 0 && (p[2].revents & (POLLERR | POLLHUP))) {
            say("namespacefs-holder: the connection of %s ended", mountpoint);
            return 0;
        }
        if (!(p[0].revents & POLLIN)) continue;
        int c = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) continue;
        // A client that connects and says nothing must not stop the holder.
        struct timeval tv = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char msg[64];
        ssize_t len = recv(c, msg, sizeof msg - 1, 0);
        if (len <= 0) { close(c); continue; }
        msg[len] = 0;
        char text[64];
        if (serving >= 0 && !alive(serving)) {
            // Gone; the poll above says so on the next round, but a request
            // now must not see it as serving.
            close(serving);
            serving = -1;
            since = now_ms();
        }
        if (strcmp(msg, NSFS_HOLDER_TAKE) == 0) {
            if (serving >= 0) {
                snprintf(text, sizeof text, NSFS_HOLDER_BUSY " %ld", serving_pid);
                reply(c, text, -1);
            } else {
                reply(c, NSFS_HOLDER_OK, FUSE_FD);
            }
        } else if (strncmp(msg, NSFS_HOLDER_SERVE " ", sizeof NSFS_HOLDER_SERVE) == 0) {
            long pid = atol(msg + sizeof NSFS_HOLDER_SERVE);
            int fd = pid > 0 ? (int)syscall(SYS_pidfd_open, (pid_t)pid, 0) : -1;
            if (fd < 0) {
                reply(c, NSFS_HOLDER_ERROR, -1);
            } else {
                if (serving >= 0) close(serving);
                fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (serving_pid != 0 && serving_pid != pid)
                    say("namespacefs-holder: daemon %ld serves %s after %ld ms without one", pid, mountpoint, now_ms() - since);
                serving = fd;
                serving_pid = pid;
                reply(c, NSFS_HOLDER_OK, -1);
            }
        } else if (strcmp(msg, NSFS_HOLDER_END) == 0) {
            reply(c, NSFS_HOLDER_OK, -1);
            return 0;
        } else if (strcmp(msg, NSFS_HOLDER_PID) == 0) {
            snprintf(text, sizeof text, NSFS_HOLDER_PID " %d", (int)getpid());
            reply(c, text, -1);
        } else if (strcmp(msg, NSFS_HOLDER_WHO) == 0) {
            if (serving >= 0) snprintf(text, sizeof text, NSFS_HOLDER_SERVING " %ld", serving_pid);
            else snprintf(text, sizeof text, NSFS_HOLDER_NONE);
            reply(c, text, -1);
        } else {
            reply(c, NSFS_HOLDER_ERROR, -1);
        }
        close(c);
    }
}
