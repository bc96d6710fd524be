// nsfs-oci: the process an engine asks for (config.json's `process`),
// started inside a container of the tree. As nsctl exec's child (enter.c),
// but with the spec's environment, directory, ids, limits and capabilities,
// the caller's own stdio (the engine's pipes), and, for `create`, a gate:
// it waits before its exec until `start` opens the exec FIFO.
#define _GNU_SOURCE
#include "namespace_shim.h"
#include "fd_passing.h"
#include "shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void report_and_exit(int fd, int e, const char *what) {
    (void)!write(fd, &e, sizeof e);
    // The engine shows the runtime's stderr: one line, errno and step.
    dprintf(2, "nsfs-oci: %s: %s\n", what, strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

static int load_seccomp(const struct nsfs_oci_process *p) {
    struct sock_fprog prog = {(unsigned short)p->seccomp_len, (struct sock_filter *)p->seccomp_filter};
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) == 0 ? 0 : -errno;
}

static int set_caps(const struct nsfs_oci_process *p) {
    for (int c = 0; c <= 63; c++) {
        if (p->cap_bounding & (1ULL << c)) continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
    }
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    for (int i = 0; i < 2; i++) {
        d[i].effective = (uint32_t)(p->cap_effective >> (32 * i));
        d[i].permitted = (uint32_t)(p->cap_permitted >> (32 * i));
        d[i].inheritable = (uint32_t)(p->cap_inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &h, d) != 0) return -errno;
    for (int c = 0; c <= 63; c++) {
        if (!(p->cap_ambient & (1ULL << c))) continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0) return -errno;
    }
    return 0;
}

// The decimal text of v (no stdio in a forked child).
static int decimal(char *out, int v) {
    char tmp[16];
    int n = 0, neg = v < 0;
    unsigned u = neg ? (unsigned)(-(long)v) : (unsigned)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    int k = 0;
    if (neg) out[k++] = '-';
    while (n) out[k++] = tmp[--n];
    return k;
}

static void middle_exit(int fd, long value) {
    (void)!write(fd, &value, sizeof value);
    _exit(0);
}

// All of `text` (NULL: nothing) to fd, as far as the reader takes it.
static void write_text(int fd, const char *text) {
    size_t left = text ? strlen(text) : 0;
    while (left) {
        ssize_t n = write(fd, text, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        text += n;
        left -= (size_t)n;
    }
}

// Run hooks (in this process's namespaces: the container's), each with
// `state` on its stdin; 0, or a positive errno (the failing hook's exit
// status as EIO; ETIMEDOUT).
static int run_container_hooks(const struct nsfs_oci_hook *hooks, int n, const char *state) {
    for (int i = 0; i < n; i++) {
        int in[2];
        if (pipe2(in, O_CLOEXEC) != 0) return errno;
        pid_t pid = fork();
        if (pid < 0) { int e = errno; close(in[0]); close(in[1]); return e; }
        if (pid == 0) {
            dup2(in[0], 0);
            syscall(SYS_execveat, hooks[i].fd, "", hooks[i].argv, hooks[i].envp, AT_EMPTY_PATH);
            _exit(127);
        }
        close(in[0]);
        write_text(in[1], state);
        close(in[1]);
        int status = 0, waited = 0;
        for (int ms = 0; !waited; ms += 10) {
            pid_t r = waitpid(pid, &status, hooks[i].timeout_ms > 0 ? WNOHANG : 0);
            if (r == pid) { waited = 1; break; }
            if (r < 0 && errno != EINTR) return errno;
            if (hooks[i].timeout_ms > 0 && ms >= hooks[i].timeout_ms) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                return ETIMEDOUT;
            }
            if (r == 0) usleep(10000);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return EIO;
    }
    return 0;
}

int nsfs_oci_spawn(int pidfd, int nsflags, int cgroup_fd, const struct nsfs_oci_process *p,
                   int *child_pidfd, int *child_pid) {
    // A middle process joins the container's user and pid namespaces and
    // clones the child as this process's own (CLONE_PARENT): the caller
    // stays in its namespaces (it writes the engine's files as host root
    // after), and is the child's parent (exec waits for it; when the caller
    // exits, the engine's subreaper adopts it).
    int report[2], middle[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    if (pipe2(middle, O_CLOEXEC) != 0) {
        int e = errno;
        close(report[0]);
        close(report[1]);
        return -e;
    }
    pid_t mid = fork();
    if (mid < 0) {
        int e = errno;
        close(report[0]); close(report[1]); close(middle[0]); close(middle[1]);
        return -e;
    }
    if (mid == 0) {
        close(report[0]);
        close(middle[0]);
        // Limits first, while the host's root may still raise them: the
        // child inherits them (inside the container's user namespace it
        // could not raise a hard limit).
        for (int i = 0; i < p->nrlimits; i++) {
            struct rlimit r = {p->rlimit_soft[i], p->rlimit_hard[i]};
            if (setrlimit(p->rlimit_types[i], &r) != 0) middle_exit(middle[1], -errno);
        }
        if (p->oom_score_adj_given) {
            char v[16];
            int n = decimal(v, p->oom_score_adj);
            int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, v, (size_t)n) != n) middle_exit(middle[1], -errno);
            close(fd);
        }
        // The engine's namespaces first, as the host's root: the child
        // inherits them (and enters none of the container's of those types).
        for (int i = 0; i < p->njoin; i++)
            if (syscall(SYS_setns, p->join_fds[i], p->join_types[i]) != 0) middle_exit(middle[1], -errno);
        for (int i = 0; i < p->nhost_sysctl; i++) {
            int fd = open(p->host_sysctl_paths[i], O_WRONLY | O_CLOEXEC);
            size_t len = strlen(p->host_sysctl_values[i]);
            if (fd < 0 || write(fd, p->host_sysctl_values[i], len) != (ssize_t)len) middle_exit(middle[1], -errno);
            close(fd);
        }
        // (A child that mounts a proc of a joined pid namespace enters the
        // user namespace itself, after: see below.)
        if ((nsflags & CLONE_NEWUSER) && !p->mount_proc) {
            prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
            if (syscall(SYS_setns, pidfd, CLONE_NEWUSER) != 0) middle_exit(middle[1], -errno);
        }
        if ((nsflags & CLONE_NEWPID) && syscall(SYS_setns, pidfd, CLONE_NEWPID) != 0) middle_exit(middle[1], -errno);
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = CLONE_PARENT | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
        args.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0) middle_exit(middle[1], -errno);
        if (pid > 0) middle_exit(middle[1], pid);
        close(middle[1]);
        // A pid namespace joined by path (another container's): its proc,
        // made here as the host's root (the pid namespace belongs to that
        // container's user namespace, not to ours-to-be), detached, and put
        // over /proc once in the container's mount namespace.
        int proc = -1;
        if (p->mount_proc) {
            proc = nsfs_new_mount("proc", NULL, ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC);
            if (proc < 0) report_and_exit(report[1], -proc, "a proc of the joined pid namespace");
            if (nsflags & CLONE_NEWUSER) {
                prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
                if (syscall(SYS_setns, pidfd, CLONE_NEWUSER) != 0) report_and_exit(report[1], errno, "cannot enter the container");
            }
        }
        int rest = nsflags & ~(CLONE_NEWPID | CLONE_NEWUSER);
        if (rest && syscall(SYS_setns, pidfd, rest) != 0) report_and_exit(report[1], errno, "cannot enter the container");
        // Its root from here on (host root's ids are not mapped inside: what
        // it makes below an idmapped root would be EOVERFLOW); the spec's
        // ids come after the gate.
        if (nsflags & CLONE_NEWUSER) {
            int e = -nsfs_become_root();
            if (e) report_and_exit(report[1], e, "becoming the container's root");
        }
        if (proc >= 0) {
            if (syscall(SYS_move_mount, proc, "", AT_FDCWD, "/proc", MOVE_MOUNT_F_EMPTY_PATH) != 0)
                report_and_exit(report[1], errno, "a proc of the joined pid namespace at /proc");
            close(proc);
        }
        for (int i = 0; i < p->ntmpfs; i++) {
            // Its directory made first, by the container's root, as runc does.
            char dir[4096];
            size_t n = strlen(p->tmpfs_dest[i]);
            if (n >= sizeof dir) report_and_exit(report[1], ENAMETOOLONG, p->tmpfs_dest[i]);
            memcpy(dir, p->tmpfs_dest[i], n + 1);
            for (char *c = dir + 1; *c; c++) {
                if (*c != '/') continue;
                *c = 0;
                if (mkdir(dir, 0755) != 0 && errno != EEXIST) report_and_exit(report[1], errno, dir);
                *c = '/';
            }
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) report_and_exit(report[1], errno, dir);
            if (mount("tmpfs", dir, "tmpfs", p->tmpfs_flags[i], p->tmpfs_data[i]) != 0) report_and_exit(report[1], errno, dir);
        }
        // Its namespaces' sysctls (net.*, ipc's kernel.*): through its own
        // /proc, in its own namespaces, before /proc/sys turns read-only.
        for (int i = 0; i < p->nsysctl; i++) {
            int fd = open(p->sysctl_paths[i], O_WRONLY | O_CLOEXEC);
            size_t len = strlen(p->sysctl_values[i]);
            if (fd < 0 || write(fd, p->sysctl_values[i], len) != (ssize_t)len) report_and_exit(report[1], errno, p->sysctl_paths[i]);
            close(fd);
        }
        // What the spec hides and protects, in the container's mount
        // namespace (its root owns it): a missing path is nothing to hide.
        for (int i = 0; i < p->nmasked; i++) {
            struct stat st;
            if (stat(p->masked[i], &st) != 0) continue;
            int r = S_ISDIR(st.st_mode) ? mount("tmpfs", p->masked[i], "tmpfs", MS_RDONLY, "size=0")
                                        : mount("/dev/null", p->masked[i], NULL, MS_BIND, NULL);
            if (r != 0) report_and_exit(report[1], errno, p->masked[i]);
        }
        for (int i = 0; i < p->nreadonly; i++) {
            if (access(p->readonly[i], F_OK) != 0) continue;
            if (mount(p->readonly[i], p->readonly[i], NULL, MS_BIND | MS_REC, NULL) != 0 ||
                mount(NULL, p->readonly[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0)
                report_and_exit(report[1], errno, p->readonly[i]);
        }
        if (p->mount_cgroup &&
            mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            report_and_exit(report[1], errno, "cgroup2 at /sys/fs/cgroup");
        // root.readonly: the root itself, once every mount point on it is
        // made (what is mounted there stays as it is).
        if (p->readonly_root && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0)
            report_and_exit(report[1], errno, "a read-only root");
        // A session of its own, as runc's init: never the engine's terminal.
        if (setsid() < 0) report_and_exit(report[1], errno, "setsid");
        if (p->console_fd >= 0) {
            // A pty of the container's own devpts: the engine gets its master.
            int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
            if (master < 0) report_and_exit(report[1], errno, "/dev/ptmx");
            int unlock = 0;
            if (ioctl(master, TIOCSPTLCK, &unlock) != 0) report_and_exit(report[1], errno, "unlockpt");
            int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
            if (slave < 0) report_and_exit(report[1], errno, "the pty's slave");
            if (nsfs_sendmsg_with_fd(p->console_fd, "/dev/ptmx", 9, master) < 0) report_and_exit(report[1], errno, "the console socket");
            close(master);
            close(p->console_fd);
            if (ioctl(slave, TIOCSCTTY, 0) != 0) report_and_exit(report[1], errno, "TIOCSCTTY");
            for (int fd = 0; fd <= 2; fd++)
                if (dup2(slave, fd) < 0) report_and_exit(report[1], errno, "the pty as stdio");
            if (slave > 2) close(slave);
        }
        if (p->cwd && chdir(p->cwd) != 0) report_and_exit(report[1], errno, p->cwd);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (p->ncreate_hooks) {
            int e = run_container_hooks(p->create_hooks, p->ncreate_hooks, p->hook_state);
            if (e) report_and_exit(report[1], e, "a createContainer hook");
        }
        // Ready: the caller may return. What fails from here on reaches
        // the process's stderr (the engine's log) and its exit status.
        int zero = 0;
        (void)!write(report[1], &zero, sizeof zero);
        close(report[1]);
        if (p->gate_fd >= 0) {
            char path[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", p->gate_fd);
            int g;
            while ((g = open(path, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR) {}
            if (g < 0) report_and_exit(-1, errno, "waiting for start");
            (void)!write(g, "0", 1);
            close(g);
            close(p->gate_fd);
        }
        if (p->nstart_hooks) {
            int e = run_container_hooks(p->start_hooks, p->nstart_hooks, p->hook_state);
            if (e) report_and_exit(-1, e, "a startContainer hook");
        }
        if (p->umask >= 0) umask((mode_t)p->umask);
        // Without no_new_privs a filter takes CAP_SYS_ADMIN to load: now,
        // as root still (runc's order); with it, as late as can be.
        int e;
        if (p->seccomp_len && !p->no_new_privs && (e = load_seccomp(p))) report_and_exit(-1, -e, "seccomp");
        if (p->set_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) report_and_exit(-1, errno, "keepcaps");
        if (setgroups((size_t)p->ngroups, p->groups) != 0) report_and_exit(-1, errno, "setgroups");
        if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) != 0) report_and_exit(-1, errno, "setresgid");
        if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) != 0) report_and_exit(-1, errno, "setresuid");
        if (p->set_caps) {
            int r = set_caps(p);
            if (r < 0) report_and_exit(-1, -r, "capabilities");
        }
        if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) report_and_exit(-1, errno, "no_new_privs");
        if (p->seccomp_len && p->no_new_privs && (e = load_seccomp(p))) report_and_exit(-1, -e, "seccomp");
        environ = (char **)p->envp;
        execvp(p->argv[0], p->argv);
        report_and_exit(-1, errno, p->argv[0]);
    }
    close(report[1]);
    close(middle[1]);
    int status;
    while (waitpid(mid, &status, 0) < 0 && errno == EINTR) {}
    long got = 0;
    ssize_t m;
    while ((m = read(middle[0], &got, sizeof got)) < 0 && errno == EINTR) {}
    close(middle[0]);
    if (m != sizeof got || got <= 0) {
        close(report[0]);
        return m == sizeof got && got < 0 ? (int)got : -ECHILD;
    }
    pid_t pid = (pid_t)got;
    int err = 0;
    ssize_t n;
    while ((n = read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {}
    close(report[0]);
    if (n != sizeof err || err != 0) {
        waitpid(pid, &status, 0);
        return -(err ? err : ECHILD);
    }
    *child_pid = (int)pid;
    *child_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return *child_pidfd < 0 ? -errno : 0;
}

int nsfs_connect_unix(const char *path) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) return -ENAMETOOLONG;
    strcpy(a.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(s);
        return -e;
    }
    return s;
}

// posix_spawn of path with argv and envp, `input` on its stdin (stdout
// /dev/null with quiet), waited for up to timeout_ms (0: for ever; then
// SIGKILL and -ETIMEDOUT). 0 with *status (waitpid's), or -errno. Shared by
// nsfs_run (network.c: nft) and the OCI hooks.
int nsfs_spawn_with_input(const char *path, char *const *argv, char *const *envp, const char *input, int quiet,
                          int timeout_ms, int *status) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
    if (quiet) posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int e = posix_spawn(&pid, path, &actions, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[0]);
    if (e) { close(fds[1]); return -e; }
    // (A child that reads none of it gets EPIPE here: ignored.)
    void (*was)(int) = signal(SIGPIPE, SIG_IGN);
    write_text(fds[1], input);
    close(fds[1]);
    signal(SIGPIPE, was);
    if (timeout_ms > 0) {
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd >= 0) {
            struct pollfd p = {pidfd, POLLIN, 0};
            int r;
            while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {}
            if (r == 0) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
            close(pidfd);
            if (r == 0) {
                while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
                return -ETIMEDOUT;
            }
        }
    }
    while (waitpid(pid, status, 0) < 0) if (errno != EINTR) return -errno;
    return 0;
}

int nsfs_run_hook(const char *path, char *const *argv, char *const *envp, const char *input, int timeout_ms, int *status) {
    return nsfs_spawn_with_input(path, argv, envp, input, 0, timeout_ms, status);
}
