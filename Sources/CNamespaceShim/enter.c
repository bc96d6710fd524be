// nsctl exec: run a program inside a container. The fork, setns and exec
// are C (the child must not run Swift); so is the parent's wait, which
// forwards signals through the pidfd and hands the terminal over.
#define _GNU_SOURCE
#include "namespace_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
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

int nsfs_exec_in(int pidfd, int nsflags, int cgroup_fd, int use_tty, int as_uid, int as_gid, uint64_t nproc,
                 char *const *argv, int *child_pidfd, int *child_pid) {
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
        return -e0;
    }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
    args.pidfd = (uint64_t)(uintptr_t)child_pidfd;
    args.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && errno == EACCES && cgroup_fd >= 0) {
        // Not allowed to move a process into the container's cgroup (an
        // unprivileged owner of its user namespace): it stays in ours.
        args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
        args.cgroup = 0;
        pid = syscall(SYS_clone3, &args, sizeof args);
    }
    if (pid < 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
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
        if (!e && use_tty) {
            // Its own process group, in the terminal's foreground before it
            // runs: an interactive shell that starts in the background
            // stops itself (SIGTTIN) before the parent could hand it over.
            setpgid(0, 0);
            if (isatty(STDIN_FILENO)) {
                signal(SIGTTOU, SIG_IGN);
                tcsetpgrp(STDIN_FILENO, getpid());
                signal(SIGTTOU, SIG_DFL);
            }
        }
        // Dispositions are default (set above): forwarded signals reach CMD
        // as if sent to it directly, even if nsctl began with them ignored.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (!e) {
            execvp(argv[0], argv);
            e = errno;
        }
        (void)!write(report[1], &e, sizeof e);
        _exit(e == ENOENT ? 127 : 126);
    }
    close(report[1]);
    *child_pid = (int)pid;
    int err = 0;
    ssize_t n;
    while ((n = read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {}
    close(report[0]);
    if (n == sizeof err && err != 0) {
        int status;
        waitpid((pid_t)pid, &status, 0);
        close(*child_pidfd);
        return -err;
    }
    return 0;
}

int nsfs_wait_forwarding(int child_pidfd, int child_pid, int use_tty) {
    int tty = -1;
    if (use_tty && isatty(STDIN_FILENO)) {
        tty = STDIN_FILENO;
        // Give the child the terminal's foreground, as a shell does for a job.
        signal(SIGTTOU, SIG_IGN);
        setpgid(child_pid, child_pid);
        tcsetpgrp(tty, child_pid);
    }
    sigset_t fwd;
    forwarded_signals(&fwd);
    sigprocmask(SIG_BLOCK, &fwd, NULL);   // (already, since nsfs_exec_in)
    int sfd = signalfd(-1, &fwd, SFD_CLOEXEC);
    int result = -1;
    for (;;) {
        struct pollfd p[2] = {{child_pidfd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == sizeof si)
                syscall(SYS_pidfd_send_signal, child_pidfd, (int)si.ssi_signo, NULL, 0);
        }
        if (p[0].revents & POLLIN) {
            siginfo_t info;
            memset(&info, 0, sizeof info);
            if (waitid((idtype_t)3 /* P_PIDFD */, (id_t)child_pidfd, &info, WEXITED) == 0) {
                result = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
            }
            break;
        }
    }
    if (tty >= 0) tcsetpgrp(tty, getpgrp());
    if (sfd >= 0) close(sfd);
    return result;
}
