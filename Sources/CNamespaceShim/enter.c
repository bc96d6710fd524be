// nsctl exec: run a program inside a container. The fork, setns and exec
// are C (the child must not run Swift); so is the parent's wait, which
// forwards signals through the pidfd and relays a terminal.
//
// The container never gets the caller's terminal: with one it could push
// input into the caller's shell (TIOCSTI), which runs it as the caller
// once nsctl exits. The child is always in a session of its own; where the
// caller has a terminal (or -t), the child gets a fresh pty instead, and
// nsctl relays bytes, window size and signals, as lxc-attach, machinectl
// shell and podman exec -t do.
#define _GNU_SOURCE
#include "namespace_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

static void forwarded_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGQUIT);
}

// A pty pair for the child: the master stays here, the slave (opened
// through the master, TIOCGPTPEER: no path to look up) goes to the child.
// It starts with the caller's terminal settings and window size.
static int open_pty(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    if (grantpt(m) != 0 || unlockpt(m) != 0) { int e = errno; close(m); return -e; }
    int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sl < 0) { int e = errno; close(m); return -e; }
    struct termios t;
    for (int fd = 0; fd <= 2; fd++) {
        if (isatty(fd) && tcgetattr(fd, &t) == 0) { tcsetattr(sl, TCSANOW, &t); break; }
    }
    struct winsize ws;
    for (int fd = 0; fd <= 2; fd++) {
        if (ioctl(fd, TIOCGWINSZ, &ws) == 0) { ioctl(m, TIOCSWINSZ, &ws); break; }
    }
    *master = m;
    *slave = sl;
    return 0;
}

// execvp reports EACCES when some PATH directory cannot be searched, even
// if the command is nowhere: say ENOENT then (the shell's 127).
static int exec_errno(const char *name, int e) {
    if (e != EACCES || strchr(name, '/')) return e;
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    char buf[4096];
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n + strlen(name) + 2 < sizeof buf) {
            memcpy(buf, p, n);
            buf[n] = '/';
            strcpy(buf + n + 1, name);
            if (access(buf, F_OK) == 0) return EACCES;
        }
        if (!end) break;
        p = end + 1;
    }
    return ENOENT;
}

int nsfs_exec_in(int pidfd, int nsflags, int cgroup_fd, int use_tty, int as_uid, int as_gid, uint64_t nproc,
                 char *const *argv, int *child_pidfd, int *child_pid, int *pty_master) {
    *pty_master = -1;
    // From here on the forwarded signals queue for nsfs_wait_forwarding
    // (blocked first, then un-ignored: none can be lost or kill us).
    sigset_t fwd;
    forwarded_signals(&fwd);
    sigprocmask(SIG_BLOCK, &fwd, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    // Which of the child's 0, 1, 2 get the pty: those that are the
    // caller's terminal (and all three with -t).
    int on_pty = 0;
    for (int fd = 0; fd <= 2; fd++) if (use_tty || isatty(fd)) on_pty |= 1 << fd;
    if (!use_tty && !isatty(0) && !isatty(1) && !isatty(2)) on_pty = 0;
    int slave = -1;
    if (on_pty) {
        int r = open_pty(pty_master, &slave);
        if (r < 0) { close(report[0]); close(report[1]); return r; }
    }

    // The user namespace first, here in the (single-threaded) parent: its
    // capabilities are what lets the owner of a container's user namespace
    // (a delegated user, unprivileged on the host) join the rest. From then
    // on this process holds its host uid inside the container's namespace:
    // nobody there may trace it.
    int e0 = 0;
    if (nsflags & CLONE_NEWUSER) {
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (syscall(SYS_setns, pidfd, CLONE_NEWUSER) != 0) e0 = errno;
    }
    // Joining the pid namespace changes where our children are born, not
    // where we are: done here too.
    if (!e0 && (nsflags & CLONE_NEWPID) && syscall(SYS_setns, pidfd, CLONE_NEWPID) != 0) e0 = errno;
    if (e0) {
        close(report[0]);
        close(report[1]);
        if (slave >= 0) { close(slave); close(*pty_master); *pty_master = -1; }
        return -e0;
    }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
    args.pidfd = (uint64_t)(uintptr_t)child_pidfd;
    args.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
    args.exit_signal = SIGCHLD;
    // (Never retried outside the cgroup: the caller moved itself in first
    // where it may not clone into it; see nsctl's Exec.)
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        if (slave >= 0) { close(slave); close(*pty_master); *pty_master = -1; }
        return -e;
    }
    if (pid == 0) {
        close(report[0]);
        int e = 0;
        // (The user and pid namespaces are the parent's already; it is not
        // dumpable, nor is this copy of it until the exec.)
        int rest = nsflags & ~(CLONE_NEWPID | CLONE_NEWUSER);
        if (rest && syscall(SYS_setns, pidfd, rest) != 0) e = errno;
        // The container's process limit, where it is lower than ours (a
        // caller without privileges cannot raise its own).
        struct rlimit cur;
        if (!e && nproc && syscall(SYS_prlimit64, 0, RLIMIT_NPROC, NULL, &cur) == 0 && nproc < cur.rlim_max) {
            struct rlimit lim = {nproc, nproc};
            if (syscall(SYS_prlimit64, 0, RLIMIT_NPROC, &lim, NULL) != 0) e = errno;
        }
        if (!e && as_uid >= 0) {
            if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, as_gid, as_gid, as_gid) != 0 ||
                syscall(SYS_setresuid, as_uid, as_uid, as_uid) != 0)
                e = errno;
        }
        // A session of its own: the caller's terminal is never its
        // controlling terminal (TIOCSTI, and stealing it, need that or the
        // host's CAP_SYS_ADMIN). With a pty, the pty is: the child leads
        // its session in the pty's foreground, as a login shell does.
        if (!e && setsid() < 0) e = errno;
        if (!e && slave >= 0) {
            if (ioctl(slave, TIOCSCTTY, 0) != 0) e = errno;
            for (int fd = 0; fd <= 2 && !e; fd++)
                if ((on_pty & (1 << fd)) && dup2(slave, fd) < 0) e = errno;
        }
        // Dispositions are default (set above): forwarded signals reach CMD
        // as if sent to it directly, even if nsctl began with them ignored.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (!e) {
            execvp(argv[0], argv);
            e = exec_errno(argv[0], errno);
        }
        (void)!write(report[1], &e, sizeof e);
        _exit(e == ENOENT ? 127 : 126);
    }
    close(report[1]);
    if (slave >= 0) close(slave);
    *child_pid = (int)pid;
    int err = 0;
    ssize_t n;
    while ((n = read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {}
    close(report[0]);
    if (n == sizeof err && err != 0) {
        int status;
        waitpid((pid_t)pid, &status, 0);
        close(*child_pidfd);
        if (*pty_master >= 0) { close(*pty_master); *pty_master = -1; }
        return -err;
    }
    return 0;
}

int nsfs_deferred_write(const char *path, int *fd) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -errno;
    // Opened here, before the caller starts what it will name: on a FUSE
    // mount the lookup of `path` may look at the container's processes,
    // and one seen then is taken as it was (its unshare after, unseen)
    // for a second.
    int out = open(path, O_WRONLY | O_CLOEXEC);
    if (out < 0) { int e = errno; close(p[0]); close(p[1]); return -e; }
    pid_t pid = fork();
    if (pid < 0) { int e = errno; close(p[0]); close(p[1]); close(out); return -e; }
    if (pid == 0) {
        close(p[1]);
        char buf[64];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof buf && ((r = read(p[0], buf + n, sizeof buf - n)) > 0 || (r < 0 && errno == EINTR)))
            if (r > 0) n += (size_t)r;
        // One write(2), as the tree takes a value; nothing read, nothing written.
        _exit(n > 0 && write(out, buf, n) == (ssize_t)n ? 0 : 1);
    }
    close(p[0]);
    close(out);
    *fd = p[1];
    return pid;
}

// Write all of buf (a terminal or pipe may take it in parts).
static void write_all(int fd, const char *buf, ssize_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, (size_t)n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { struct pollfd p = {fd, POLLOUT, 0}; poll(&p, 1, 100); continue; }
            return;
        }
        buf += w;
        n -= w;
    }
}

int nsfs_wait_forwarding(int child_pidfd, int child_pid, int pty_master) {
    (void)child_pid;
    sigset_t fwd;
    forwarded_signals(&fwd);
    if (pty_master >= 0) sigaddset(&fwd, SIGWINCH);
    sigprocmask(SIG_BLOCK, &fwd, NULL);   // (the others already, since nsfs_exec_in)
    int sfd = signalfd(-1, &fwd, SFD_CLOEXEC);
    // The caller's terminal in raw mode while relaying: keys (^C, ^Z, ^D)
    // reach the pty, whose line discipline makes them signals for the
    // child's foreground job, inside the container.
    struct termios saved;
    int raw = pty_master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    int in = pty_master >= 0 ? STDIN_FILENO : -1;
    int result = -1, exited = 0;
    char buf[8192];
    while (!exited) {
        struct pollfd p[4] = {{child_pidfd, POLLIN, 0}, {sfd, POLLIN, 0}, {pty_master, POLLIN, 0}, {in, POLLIN, 0}};
        if (poll(p, 4, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGWINCH) {
                    struct winsize ws;
                    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
                        ioctl(pty_master, TIOCSWINSZ, &ws);   // the kernel sends SIGWINCH inside
                } else {
                    syscall(SYS_pidfd_send_signal, child_pidfd, (int)si.ssi_signo, NULL, 0);
                }
            }
        }
        if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(pty_master, buf, sizeof buf);
            if (n > 0) write_all(STDOUT_FILENO, buf, n);
            else if (n < 0 && errno != EINTR && errno != EAGAIN) pty_master = -pty_master - 2;   // EIO: no slave left
        }
        if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(in, buf, sizeof buf);
            if (n > 0) write_all(pty_master, buf, n);
            else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                // End of input: end of file for the child too (VEOF at the
                // start of a line), and stop reading it.
                if (pty_master >= 0) write_all(pty_master, "\x04", 1);
                in = -1;
            }
        }
        if (p[0].revents & POLLIN) {
            siginfo_t info;
            memset(&info, 0, sizeof info);
            if (waitid((idtype_t)3 /* P_PIDFD */, (id_t)child_pidfd, &info, WEXITED) == 0) {
                result = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
            }
            exited = 1;
        }
    }
    // What the child wrote before it exited is still in the pty: drain it
    // (its descendants may hold the slave open: never wait for them).
    if (pty_master >= 0) {
        fcntl(pty_master, F_SETFL, fcntl(pty_master, F_GETFL) | O_NONBLOCK);
        ssize_t n;
        while ((n = read(pty_master, buf, sizeof buf)) > 0) write_all(STDOUT_FILENO, buf, n);
    }
    if (raw) tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
    if (pty_master >= 0) close(pty_master);
    else if (pty_master < -1) close(-pty_master - 2);
    if (sfd >= 0) close(sfd);
    return result;
}
