// Spawning a container's init from the multi-threaded daemon.
//
// Why C, and why this shape (see swift-subprocess's process_shims.c):
// - The child of clone3 runs in a copy (or, here, a share) of a process whose
//   other threads may hold malloc or Swift runtime locks: only async-signal-
//   safe syscalls may run there, and no Swift.
// - CLONE_VM|CLONE_VFORK (posix_spawn's trick) avoids copying the daemon's
//   page tables: the child borrows the memory until execve, the calling
//   thread sleeps until then, and errors come back through shared memory.
// - A nested container must be created from inside its parent's pid and mnt
//   namespaces. setns(mnt) is refused to a multi-threaded process, so a helper
//   (CLONE_VM|CLONE_VFORK|CLONE_FILES, a process of its own) joins them. The
//   kernel creates a new pid namespace only from a process whose *active* pid
//   namespace is the parent one (copy_pid_ns), which setns does not change, so
//   the helper clones an inner process (born in the parent's pid namespace)
//   that clones the init. The inner process exits at once: the init is
//   reparented to the parent container's init, which reaps it like any
//   orphan. CLONE_FILES on both hops puts the pidfd in the daemon's table.
#define _GNU_SOURCE
#include "namespace_shim.h"
#include "shim_internal.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// clone3 whose child runs fn(arg) on the stack given in args, then exits
// with fn's result. With CLONE_VM the child cannot return through the
// caller's frames, so the switch is in assembly.
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl nsfs_clone3_run\n"
    ".type nsfs_clone3_run,@function\n"
    "nsfs_clone3_run:\n"
    "    mov %rdx, %r8\n"          // fn: r8/r9 survive the syscall
    "    mov %rcx, %r9\n"          // arg
    "    mov $435, %eax\n"
    "    syscall\n"
    "    test %rax, %rax\n"
    "    jz 1f\n"
    "    ret\n"
    "1:  xor %ebp, %ebp\n"
    "    mov %r9, %rdi\n"
    "    call *%r8\n"
    "    mov %eax, %edi\n"
    "    mov $60, %eax\n"          // exit (this thread only)
    "    syscall\n"
    "    hlt\n"
    ".size nsfs_clone3_run, .-nsfs_clone3_run\n");
#define NSFS_HAVE_VM_CLONE 1
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl nsfs_clone3_run\n"
    ".type nsfs_clone3_run,%function\n"
    "nsfs_clone3_run:\n"
    "    mov x9, x2\n"
    "    mov x10, x3\n"
    "    mov x8, #435\n"
    "    svc #0\n"
    "    cbz x0, 1f\n"
    "    ret\n"
    "1:  mov x0, x10\n"
    "    blr x9\n"
    "    mov x8, #93\n"
    "    svc #0\n"
    "    brk #0\n"
    ".size nsfs_clone3_run, .-nsfs_clone3_run\n");
#define NSFS_HAVE_VM_CLONE 1
#else
#define NSFS_HAVE_VM_CLONE 0
// Elsewhere: the same contract with fork semantics (no shared memory, so
// the child's results must travel another way; callers here only use it
// with CLONE_VM on the architectures above).
long nsfs_clone3_run(struct clone_args *args, size_t size, int (*fn)(void *), void *arg) {
    args->flags &= ~(uint64_t)CLONE_VM;
    args->stack = 0;
    args->stack_size = 0;
    long pid = syscall(SYS_clone3, args, size);
    if (pid == 0) _exit(fn(arg));
    return pid < 0 ? -errno : pid;
}
#endif

enum { CHILD_STACK_SIZE = 64 * 1024 };

long nsfs_vfork_run(uint64_t flags, int exit_signal, int (*fn)(void *), void *arg) {
    char *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_VM | CLONE_VFORK | flags;
    args.exit_signal = (uint64_t)exit_signal;
    args.stack = (uint64_t)(uintptr_t)stack;
    args.stack_size = CHILD_STACK_SIZE;
    long pid = nsfs_clone3_run(&args, sizeof args, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, CHILD_STACK_SIZE);
    return pid;
}

struct spawn_ctx {
    const struct nsfs_spawn_request *req;
    struct nsfs_spawn_result *res;
    char *init_stack_top;
};

static int fail(struct nsfs_spawn_result *res, int step, int err) {
    res->step = step;
    res->error = err ? err : EIO;
    return 127;
}

// Runs as the init-to-be: pid 1 of its pid namespace, already in the cgroup.
static int init_child(void *p) {
    struct spawn_ctx *ctx = p;
    const struct nsfs_spawn_request *req = ctx->req;
    struct nsfs_spawn_result *res = ctx->res;

    // A table of its own before anything else: it was born sharing the
    // daemon's (see init_clone_flags); only the two it keeps are below.
    int e = nsfs_own_fds_upto(req->devnull_fd > req->init_fd ? req->devnull_fd : req->init_fd);
    if (e) return fail(res, NSFS_STEP_FDS, e);
    if (req->join) goto descriptors;
    // Root the cgroup namespace at the container's own cgroup: clone3's
    // CLONE_NEWCGROUP would root it at the caller's cgroup instead.
    if (syscall(SYS_unshare, CLONE_NEWCGROUP) != 0)
        return fail(res, NSFS_STEP_UNSHARE_CGROUP, errno);
    // Mounts made inside must never propagate back to the host (systemd
    // hosts have a shared /); host mounts still propagate in.
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
        return fail(res, NSFS_STEP_MOUNT_PROPAGATION, errno);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return fail(res, NSFS_STEP_MOUNT_PROC, errno);
    if (sethostname(req->hostname, strnlen(req->hostname, HOST_NAME_MAX)) != 0)
        return fail(res, NSFS_STEP_HOSTNAME, errno);

    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail(res, NSFS_STEP_LOOPBACK, errno);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return fail(res, NSFS_STEP_LOOPBACK, errno);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) return fail(res, NSFS_STEP_LOOPBACK, errno);
    close(s);

descriptors:
    // Descriptors: 0-2 are /dev/null, 3 is the init binary (close-on-exec,
    // which execveat of an ELF file allows), nothing else survives.
    for (int fd = 0; fd < 3; fd++)
        if (dup2(req->devnull_fd, fd) < 0) return fail(res, NSFS_STEP_FDS, errno);
    if (req->init_fd != 3 && dup3(req->init_fd, 3, O_CLOEXEC) < 0)
        return fail(res, NSFS_STEP_FDS, errno);
    if (req->init_fd == 3 && fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
        return fail(res, NSFS_STEP_FDS, errno);
    syscall(SYS_close_range, 4U, ~0U, 0U);

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    // Spawned from a real-time worker, the setup ran real-time (it must not
    // wait behind dying processes); the container itself runs normal.
    struct sched_param normal = {0};
    if (sched_getscheduler(0) != SCHED_OTHER && sched_setscheduler(0, SCHED_OTHER, &normal) != 0)
        return fail(res, NSFS_STEP_EXEC, errno);

    // In a user namespace of its own (or joining one): its root, which the
    // host sees as an unprivileged id of the container's range. Until now
    // it was the host's root with capabilities only in that namespace.
    // The process limit of the container's root (counted per user, in its
    // user namespace): a second stop for a fork bomb after pids.max.
    if (req->nproc) {
        struct rlimit lim = {req->nproc, req->nproc};
        if (syscall(SYS_prlimit64, 0, RLIMIT_NPROC, &lim, NULL) != 0) return fail(res, NSFS_STEP_EXEC, errno);
    }
    if ((req->join ? (req->join_namespaces & CLONE_NEWUSER) != 0 : req->userns_fd >= 0)) {
        int e = nsfs_become_root();
        if (e) return fail(res, NSFS_STEP_BECOME_ROOT, -e);
    }

    char *const argv[] = {(char *)req->argv0, NULL};
    char *const envp[] = {NULL};
    syscall(SYS_execveat, 3, "", argv, envp, AT_EMPTY_PATH);
    return fail(res, NSFS_STEP_EXEC, errno);
}

static uint64_t init_clone_flags(const struct nsfs_spawn_request *req) {
    uint64_t f = CLONE_PIDFD | CLONE_INTO_CGROUP;
    if (!req->join) f |= req->new_namespaces & ~(uint64_t)CLONE_NEWCGROUP;
#if NSFS_HAVE_VM_CLONE
    // A child born frozen would keep a vfork parent waiting until thawed.
    // CLONE_FILES: a copy of the daemon's table (a pidfd per container)
    // would be made only to be closed again; init_child copies two slots.
    if (!req->no_wait) f |= CLONE_VM | CLONE_VFORK | CLONE_FILES;
#endif
    return f;
}

// Clones the init from the calling process; fills res->pid / res->pidfd.
static int clone_init(struct spawn_ctx *ctx, uint64_t extra_flags) {
    const struct nsfs_spawn_request *req = ctx->req;
    struct nsfs_spawn_result *res = ctx->res;
    int pidfd = -1;
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = init_clone_flags(req) | extra_flags;
    args.pidfd = (uint64_t)(uintptr_t)&pidfd;
    args.cgroup = (uint64_t)req->cgroup_fd;
    // With CLONE_PARENT clone3 takes no exit signal: the child gets the
    // caller's own (the helper's SIGCHLD), and its parent is the caller's.
    args.exit_signal = (args.flags & CLONE_PARENT) ? 0 : SIGCHLD;
    long pid;
#if NSFS_HAVE_VM_CLONE
    if (!req->no_wait) {
        args.stack = (uint64_t)(uintptr_t)(ctx->init_stack_top - CHILD_STACK_SIZE);
        args.stack_size = CHILD_STACK_SIZE;
        pid = nsfs_clone3_run(&args, sizeof args, init_child, ctx);
        if (pid < 0) return fail(res, NSFS_STEP_CLONE_INIT, (int)-pid);
        res->pid = (int)pid;
        res->pidfd = pidfd;
        return 0;
    }
#endif
    // Fork-like: the child has its own copy of memory (its errors stay there).
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) return fail(res, NSFS_STEP_CLONE_INIT, errno);
    if (pid == 0) _exit(init_child(ctx));
    res->pid = (int)pid;
    res->pidfd = pidfd;
    return 0;
}


// Runs in the parent container's pid namespace: clones the init there.
static int inner_child(void *p) {
    struct spawn_ctx *ctx = p;
    const struct nsfs_spawn_request *req = ctx->req;
    if (req->no_wait) {
        // An init cloned into a frozen cgroup stops at once, before its
        // own close_range: it must not be born holding the daemon's
        // descriptors (/dev/fuse: a daemon that dies then would leave the
        // mount hanging, not ENOTCONN). So this process takes a private
        // table with only what the init needs, and the init's pidfd,
        // which would land there, is not reported: the daemon finds the
        // init in its new cgroup, which holds nothing else.
        int keep[] = {req->cgroup_fd, req->init_fd, req->devnull_fd};
        int e = nsfs_close_all_but(keep, 3);
        if (e) return fail(ctx->res, NSFS_STEP_FDS, e);
        clone_init(p, 0);
        if (ctx->res->error == 0) { ctx->res->pidfd = -1; ctx->res->pid = 0; }
        return 0;
    }
    clone_init(p, 0);
    return 0;
}

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
struct nsfs_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

// A private copy of the current mount namespace in which the host's
// mounts are read-only and /tmp, /var/tmp, /dev/shm are fresh tmpfs.
static int own_mount_namespace(void);

static int private_filesystem(void) {
    int e = own_mount_namespace();
    if (e) return e;
    struct nsfs_mount_attr ro = {MOUNT_ATTR_RDONLY, 0, 0, 0};
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) != 0) return errno;
    // Except the kernel's own: the container mounts a proc (and maybe a
    // sysfs) of its own, which the kernel allows only where an existing
    // one is at least as writable; their files keep their own permissions.
    struct nsfs_mount_attr rw = {0, MOUNT_ATTR_RDONLY, 0, 0};
    // A /sys read-only for good (EPERM: a parent container's own root
    // has one) stays so: its children see it read-only too.
    const char *kernels[] = {"/proc", "/sys"};
    for (int i = 0; i < 2; i++)
        if (syscall(SYS_mount_setattr, AT_FDCWD, kernels[i], AT_RECURSIVE, &rw, sizeof rw) != 0 && errno != ENOENT
            && !(i == 1 && errno == EPERM))
            return errno;
    const char *scratch[] = {"/tmp", "/var/tmp", "/dev/shm"};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        if (stat(scratch[i], &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (mount("tmpfs", scratch[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) return errno;
    }
    return 0;
}

// A copy of the current mount namespace, for mounts the container's must
// inherit locked (nothing here propagates back).
static int own_mount_namespace(void) {
    if (syscall(SYS_unshare, CLONE_NEWNS) != 0) return errno;
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) return errno;
    return 0;
}

// The container's /proc with nothing of the host's under it. The container
// mounts a proc of its own (the kernel allows that only while another proc
// mount is fully visible in its mount namespace); unmounted, the one below
// showed every host process. So, here, in a copy the container's mount
// namespace inherits locked (none of these can be unmounted there):
//   /proc              the host's proc, covered by
//   /proc (tmpfs T)    mode 000, owned by the host's root (which the
//                      container's root is not: no DAC override), holding
//                      h/, where a copy of that proc is attached, fully
//                      visible (nothing mounted on it), out of reach.
// `umount -l /proc` inside shows T: Permission denied, nothing listed.
static int cover_proc(void) {
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return errno;
    int e = 0;
    if (mount("nsfs-proc-cover", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=4,mode=000") != 0) e = errno;
    if (!e && mkdir("/proc/h", 0) != 0) e = errno;
    if (!e && syscall(SYS_move_mount, tree, "", AT_FDCWD, "/proc/h", MOVE_MOUNT_F_EMPTY_PATH) != 0) e = errno;
    close(tree);
    return e;
}

// Runs as the helper of a nested spawn: joins the parent container's pid and
// mnt namespaces, then starts the inner process that clones the init.
static int helper_child(void *p) {
    struct spawn_ctx *ctx = p;
    // A time namespace is joined only by a process whose memory is its own
    // (timens_install: EUSERS otherwise): the inner process of a join is a
    // real fork that joins it, and reports through shared memory (res).
    uint64_t nested = ctx->req->parent_namespaces ? ctx->req->parent_namespaces : (uint64_t)(CLONE_NEWPID | CLONE_NEWNS);
    uint64_t join = ctx->req->join ? ctx->req->join_namespaces : ctx->req->parent_pidfd >= 0 ? nested : 0;
    uint64_t later = ctx->req->join ? join & (uint64_t)CLONE_NEWTIME : 0;
    if ((join & ~later) && syscall(SYS_setns, ctx->req->parent_pidfd, (int)(join & ~later)) != 0)
        return fail(ctx->res, NSFS_STEP_SETNS_PARENT, errno);
    // The filesystem the container will see, made while the helper still
    // has the host's capabilities: the init's mount namespace is a copy of
    // this one owned by the container's user namespace, so every mount here
    // is locked there (none can be unmounted to uncover what is below, nor
    // made writable again).
    if (!ctx->req->join && ctx->req->userns_fd >= 0) {
        int e = ctx->req->private_fs ? private_filesystem() : own_mount_namespace();
        if (!e) e = cover_proc();
        if (e) return fail(ctx->res, NSFS_STEP_PRIVATE_FS, e);
    }
    // Into the container's own user namespace last: joining the parent's
    // pid and mount namespaces needs the host's capabilities, which the
    // helper keeps only until this setns.
    if (!ctx->req->join && ctx->req->userns_fd >= 0) {
        if (syscall(SYS_setns, ctx->req->userns_fd, CLONE_NEWUSER) != 0)
            return fail(ctx->res, NSFS_STEP_SETNS_USER, errno);
        // An init that joins no parent's pid namespace needs no hop into
        // it; it is cloned as the daemon's child (CLONE_PARENT), which
        // reaps it.
        if (ctx->req->parent_pidfd < 0 || !(nested & CLONE_NEWPID)) {
            clone_init(ctx, CLONE_PARENT);
            return 0;
        }
    }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    long inner;
    if (ctx->req->join) {
        args.flags = CLONE_FILES | CLONE_VFORK;
        inner = syscall(SYS_clone3, &args, sizeof args);
        if (inner == 0) {
            if (later && syscall(SYS_setns, ctx->req->parent_pidfd, (int)later) != 0)
                _exit(fail(ctx->res, NSFS_STEP_SETNS_PARENT, errno));
            _exit(inner_child(ctx));
        }
        if (inner < 0) return fail(ctx->res, NSFS_STEP_CLONE_HELPER, errno);
        nsfs_reap(inner);
        return 0;
    }
#if NSFS_HAVE_VM_CLONE
    args.flags = CLONE_VM | CLONE_VFORK | CLONE_FILES;
    args.stack = (uint64_t)(uintptr_t)(ctx->init_stack_top - 2 * CHILD_STACK_SIZE);
    args.stack_size = CHILD_STACK_SIZE;
    inner = nsfs_clone3_run(&args, sizeof args, inner_child, ctx);
    if (inner < 0) return fail(ctx->res, NSFS_STEP_CLONE_HELPER, (int)-inner);
#else
    args.flags = CLONE_FILES | CLONE_VFORK;
    inner = syscall(SYS_clone3, &args, sizeof args);
    if (inner == 0) _exit(inner_child(ctx));
    if (inner < 0) return fail(ctx->res, NSFS_STEP_CLONE_HELPER, errno);
#endif
    nsfs_reap(inner);
    return 0;
}

int nsfs_spawn_init(const struct nsfs_spawn_request *req, struct nsfs_spawn_result *res) {
    memset(res, 0, sizeof *res);
    res->pid = -1;
    res->pidfd = -1;

    // Stacks: helper, inner, init (only the used ones are touched).
    char *stacks = mmap(NULL, 3 * CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stacks == MAP_FAILED) return -errno;
    struct spawn_ctx ctx = {req, res, stacks + 3 * CHILD_STACK_SIZE};

    // No signal handler of the daemon may run in a child that shares its memory.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);

    // A join's inner process is a real fork: its results come back here.
    struct nsfs_spawn_result *shared = NULL;
    if (req->join) {
        shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED) {
            munmap(stacks, 3 * CHILD_STACK_SIZE);
            return -errno;
        }
        *shared = *res;
        ctx.res = shared;
    }

    if (req->parent_pidfd < 0 && req->userns_fd < 0) {
        clone_init(&ctx, 0);
    } else {
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.exit_signal = SIGCHLD;
#if NSFS_HAVE_VM_CLONE
        args.flags = CLONE_VM | CLONE_VFORK | CLONE_FILES;
        args.stack = (uint64_t)(uintptr_t)stacks;
        args.stack_size = CHILD_STACK_SIZE;
        long helper = nsfs_clone3_run(&args, sizeof args, helper_child, &ctx);
        if (helper < 0) {
            fail(res, NSFS_STEP_CLONE_HELPER, (int)-helper);
        } else {
            nsfs_reap(helper);
        }
#else
        // Without a VM-sharing clone the helper reports over shared memory.
        struct nsfs_spawn_result *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED) {
            fail(res, NSFS_STEP_CLONE_HELPER, errno);
        } else {
            *shared = *res;
            ctx.res = shared;
            args.flags = CLONE_FILES | CLONE_VFORK;
            long helper = syscall(SYS_clone3, &args, sizeof args);
            if (helper == 0) _exit(helper_child(&ctx));
            if (helper < 0) fail(shared, NSFS_STEP_CLONE_HELPER, errno);
            else nsfs_reap(helper);
            *res = *shared;
            munmap(shared, sizeof *shared);
        }
#endif
    }

    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stacks, 3 * CHILD_STACK_SIZE);
    if (shared) {
        *res = *shared;
        munmap(shared, sizeof *shared);
    }

    // A nested init's clone3 returned its pid in the parent container's pid
    // namespace; the daemon's view of it comes from the pidfd (harmless
    // when it is the daemon's own).
    if (res->error == 0 && req->parent_pidfd >= 0 && res->pidfd >= 0) {
        int pid = nsfs_pidfd_pid(res->pidfd);
        if (pid > 0) res->pid = pid;
        else fail(res, NSFS_STEP_CLONE_INIT, -pid);
    }
    if (res->error != 0 && res->pidfd >= 0 && req->parent_pidfd >= 0) {
        // Not our child: the parent container's init reaps it once killed.
        nsfs_pidfd_send_signal(res->pidfd, SIGKILL);
        close(res->pidfd);
        res->pid = -1;
        res->pidfd = -1;
    }
    if (res->error != 0 && res->pid > 0) {
        // The init's setup failed after clone: it has exited; reap it.
        nsfs_reap(res->pid);
        if (res->pidfd >= 0) close(res->pidfd);
        res->pid = -1;
        res->pidfd = -1;
    }
    return res->error ? -res->error : 0;
}

uint64_t nsfs_default_namespaces(void) {
    return CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID |
           CLONE_NEWCGROUP | CLONE_NEWTIME;
}
