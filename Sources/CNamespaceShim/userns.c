// A container's user namespace, made before its init.
//
// Its id map must be written by a process with CAP_SETUID in the parent
// user namespace and living there (the kernel refuses a writer from any
// other namespace), while some process of the new namespace exists. So a
// placeholder is cloned into a new user namespace; the map is written; the
// namespace is kept by an open nsfs descriptor; the placeholder goes. The
// init is then born into the namespace (setns before its clone: see
// spawn.c), so that every namespace it creates is owned by it.
//
// Nested (a child of a container's user namespace): a helper joins the
// parent's user namespace and becomes its root (the kernel makes a user
// namespace only for a creator whose uid is mapped in the current one).
// As that uid the helper may open the placeholder's /proc files only if
// the placeholder is dumpable, which a child running on the daemon's
// memory is not: so the placeholder execs the (static, tiny) init binary
// first and waits there, as itself. Every path opened here is the daemon's
// own /proc (no mount namespace is joined): a container cannot steer them.
#define _GNU_SOURCE
#include "namespace_shim.h"
#include "shim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { STACK_SIZE = 64 * 1024 };

struct userns_ctx {
    int parent_pidfd;
    int init_fd;
    int owner_uid;        // -1: the daemon (root) owns the new namespace
    int owner_gid;
    uint64_t owner_nproc; // the owner's RLIMIT_NPROC (0: the daemon's)
    int ready[2];         // an owner's placeholder says it has unshared
    int child_error;
    const char *uid_map;
    const char *gid_map;
    pid_t daemon;         // the placeholder's parent, until it dies
    char *stack_top;      // two stacks: helper, placeholder
    int fd;               // result: nsfs fd of the namespace
    int error;
};

// The placeholder lives until the daemon, having kept its namespace, kills
// it, or until the daemon's thread that made it dies (then at once: held
// on, it would keep the state lock's waiters and /dev/fuse's abort waiting).
static int wait_to_be_killed(struct userns_ctx *ctx) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != ctx->daemon) return 0;
    for (;;) pause();
}

// Born sharing the daemon's descriptor table (a copy of it, a pidfd per
// container, would be made only to be closed), it takes an empty one of
// its own at once: it must hold nothing of the daemon's.
static int placeholder(void *p) {
    struct userns_ctx *ctx = p;
    if (nsfs_own_fds_upto(-1)) return 0;
    return wait_to_be_killed(ctx);
}

// A namespace owned by a host user (a delegated user's container): the
// placeholder becomes that user, then makes the namespace (its owner is
// its creator's uid), says so, and waits like the other.
static int placeholder_as_owner(void *p) {
    struct userns_ctx *ctx = p;
    // Born with a copy of the daemon's table (the daemon closes its own
    // ready[1] at once: EOF if this one dies before it writes).
    int keep = ctx->ready[1];
    if (nsfs_close_all_but(&keep, 1)) return 0;
    // The kernel caps the processes of a user namespace, all of them,
    // together with its owner's own, at its creator's process limit: the
    // owner's, so that what the namespace runs counts against it.
    struct rlimit lim = {ctx->owner_nproc, ctx->owner_nproc};
    if (ctx->owner_nproc && syscall(SYS_prlimit64, 0, RLIMIT_NPROC, &lim, NULL) != 0) ctx->child_error = errno;
    if (ctx->child_error ||
        syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, ctx->owner_gid, ctx->owner_gid, ctx->owner_gid) != 0 ||
        syscall(SYS_setresuid, ctx->owner_uid, ctx->owner_uid, ctx->owner_uid) != 0 ||
        syscall(SYS_unshare, CLONE_NEWUSER) != 0) {
        if (!ctx->child_error) ctx->child_error = errno;
    }
    char c = 1;
    (void)!write(ctx->ready[1], &c, 1);
    close(ctx->ready[1]);
    if (ctx->child_error) return 0;
    return wait_to_be_killed(ctx);
}

// "/proc/PID/leaf" without stdio: this also runs in children that share
// the daemon's memory, where only plain syscalls are safe.
static void proc_path(char *out, size_t size, long pid, const char *leaf) {
    nsfs_with_number(out, size, "/proc/", (unsigned long)pid, "/");
    size_t n = strlen(out);
    for (; *leaf && n + 1 < size; leaf++) out[n++] = *leaf;
    out[n] = 0;
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    size_t n = strlen(text);
    int e = write(fd, text, n) == (ssize_t)n ? 0 : (errno ? errno : EIO);
    close(fd);
    return e;
}

// Write the placeholder's id maps, keep its namespace (ctx->fd). With
// after_exec, the placeholder is exec'ing: the vfork returns before the
// exec marks the new memory dumpable, and until then its /proc files
// belong to the host's root (EACCES for the helper): wait, briefly.
static int map_and_keep(struct userns_ctx *ctx, long pid, int after_exec) {
    char path[64];
    proc_path(path, sizeof path, pid, "uid_map");
    int e;
    for (int tries = 0; (e = write_file(path, ctx->uid_map)) == EACCES && after_exec && tries < 2000; tries++) {
        struct timespec pause = {0, 50 * 1000};
        nanosleep(&pause, NULL);
    }
    if (e) return e;
    proc_path(path, sizeof path, pid, "gid_map");
    if ((e = write_file(path, ctx->gid_map))) return e;
    proc_path(path, sizeof path, pid, "ns/user");
    ctx->fd = open(path, O_RDONLY | O_CLOEXEC);
    return ctx->fd < 0 ? errno : 0;
}

// In the parent user namespace: clone the placeholder, map, keep, release.
static int make_here(struct userns_ctx *ctx, char *stack_top) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    int owned = ctx->owner_uid >= 0;
    args.flags = (owned ? 0 : CLONE_NEWUSER | CLONE_FILES) | CLONE_VM;
    args.exit_signal = SIGCHLD;
    args.stack = (uint64_t)(uintptr_t)(stack_top - STACK_SIZE);
    args.stack_size = STACK_SIZE;
    long pid = nsfs_clone3_run(&args, sizeof args, owned ? placeholder_as_owner : placeholder, ctx);
    // (ctx->ready[1] stays as it was: the child, on this memory, reads it)
    if (owned) close(ctx->ready[1]);
    if (pid < 0) return (int)-pid;
    int e = 0;
    if (owned) {
        char c;
        ssize_t n;
        while ((n = read(ctx->ready[0], &c, 1)) < 0 && errno == EINTR) {}
        e = n == 1 ? ctx->child_error : ESRCH;
    }
    if (!e) e = map_and_keep(ctx, pid, 0);
    kill((pid_t)pid, SIGKILL);
    nsfs_reap(pid);
    return e;
}

// The nested placeholder: a new user namespace, then exec of the init
// binary (an own, dumpable memory) with no descriptor but that binary.
static int exec_placeholder(void *p) {
    struct userns_ctx *ctx = p;
    int keep = ctx->init_fd;
    if (nsfs_close_all_but(&keep, 1)) return 127;
    char *const argv[] = {(char *)"nsinit-userns", NULL};
    char *const envp[] = {NULL};
    syscall(SYS_execveat, keep, "", argv, envp, AT_EMPTY_PATH);
    return 127;
}

static int helper(void *p) {
    struct userns_ctx *ctx = p;
    if (syscall(SYS_setns, ctx->parent_pidfd, CLONE_NEWUSER) != 0) {
        ctx->error = errno;
        return 0;
    }
    int e = nsfs_become_root();
    if (e) { ctx->error = -e; return 0; }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER | CLONE_VM | CLONE_VFORK | CLONE_FILES;   // (shares the table, keeps init_fd: see placeholder)
    args.exit_signal = SIGCHLD;
    args.stack = (uint64_t)(uintptr_t)(ctx->stack_top - 2 * STACK_SIZE);
    args.stack_size = STACK_SIZE;
    long pid = nsfs_clone3_run(&args, sizeof args, exec_placeholder, ctx);
    if (pid < 0) { ctx->error = (int)-pid; return 0; }
    e = map_and_keep(ctx, pid, 1);
    kill((pid_t)pid, SIGKILL);
    nsfs_reap(pid);
    ctx->error = e;
    return 0;
}

int nsfs_make_userns(int parent_pidfd, int init_fd, int owner_uid, int owner_gid, uint64_t owner_nproc,
                     const char *uid_map, const char *gid_map) {
    struct userns_ctx ctx = {parent_pidfd, init_fd, owner_uid, owner_gid, owner_nproc, {-1, -1}, 0,
                             uid_map, gid_map, getpid(), NULL, -1, 0};
    if (owner_uid >= 0 && parent_pidfd >= 0) return -EINVAL;
    char *stacks = mmap(NULL, 3 * STACK_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stacks == MAP_FAILED) return -errno;
    if (owner_uid >= 0 && pipe2(ctx.ready, O_CLOEXEC) != 0) {
        int e = errno;
        munmap(stacks, 3 * STACK_SIZE);
        return -e;
    }
    ctx.stack_top = stacks + 3 * STACK_SIZE;
    // No signal handler of the daemon may run in a child sharing its memory.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (parent_pidfd < 0) {
        ctx.error = make_here(&ctx, ctx.stack_top);
    } else {
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = CLONE_VM | CLONE_VFORK | CLONE_FILES;
        args.exit_signal = SIGCHLD;
        args.stack = (uint64_t)(uintptr_t)(ctx.stack_top - STACK_SIZE);
        args.stack_size = STACK_SIZE;
        long h = nsfs_clone3_run(&args, sizeof args, helper, &ctx);
        if (h < 0) {
            ctx.error = (int)-h;
        } else {
            nsfs_reap(h);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stacks, 3 * STACK_SIZE);
    if (ctx.ready[0] >= 0) close(ctx.ready[0]);   // (make_here closed ready[1])
    if (ctx.error) {
        if (ctx.fd >= 0) close(ctx.fd);
        return -ctx.error;
    }
    return ctx.fd;
}

int nsfs_become_root(void) {
    // Raw syscalls: glibc's set*id would signal every thread sharing our
    // memory (the daemon's, in a CLONE_VM child).
    if (syscall(SYS_setgroups, 0, NULL) != 0) return -errno;
    if (syscall(SYS_setresgid, 0, 0, 0) != 0) return -errno;
    if (syscall(SYS_setresuid, 0, 0, 0) != 0) return -errno;
    return 0;
}
