// Attaching a container's view: its own directory of the mount, over the
// mount point, inside its mount namespace.
#define _GNU_SOURCE
#include "namespace_shim.h"
#include "shim_internal.h"

#include <errno.h>
#include <linux/sched.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct attach_ctx { int pidfd; const char *source; const char *mountpoint; int error; };

// Child side (CLONE_VM|CLONE_VFORK|CLONE_FILES: it borrows the daemon's
// memory and descriptor table while the calling thread sleeps): only
// syscalls. It first takes a table of its own with nothing but the pidfd
// (lent a low slot: a copy of the rest would be made only to be closed) —
// above all not /dev/fuse: a child holding it would keep a killed daemon's
// connection alive while it waits on a lookup. The lookup of `source` goes
// through the mount, so it must happen here, in a process of its own,
// never on a daemon thread, for the same reason.
static int attach_child(void *p) {
    struct attach_ctx *c = p;
    int keep = c->pidfd;
    int e = nsfs_close_all_but(&keep, 1);
    if (e) { c->error = e; return 1; }
    int tree_fd = (int)syscall(SYS_open_tree, AT_FDCWD, c->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree_fd < 0) { c->error = errno; return 1; }
    if (syscall(SYS_setns, keep, CLONE_NEWNS) != 0) { c->error = errno; return 1; }
    // Already there (a daemon that took the mount over from another: the
    // same superblock, its views alive): left untouched.
    struct stat want, have;
    if (fstat(tree_fd, &want) == 0 && stat(c->mountpoint, &have) == 0 && want.st_dev == have.st_dev
        && want.st_ino == have.st_ino)
        return 0;
    // The copy of the full mount (or an older view, or a dead one left by a
    // previous daemon): detach them all. EINVAL: nothing mounted there now.
    for (int i = 0; i < 16 && umount2(c->mountpoint, MNT_DETACH) == 0; i++) {}
    if (syscall(SYS_move_mount, tree_fd, "", AT_FDCWD, c->mountpoint, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        c->error = errno;
        return 1;
    }
    return 0;
}

int nsfs_attach_view(int pidfd, const char *source, const char *mountpoint) {
    struct attach_ctx ctx = {-1, source, mountpoint, 0};
    nsfs_lend_low_slots(&pidfd, 1, &ctx.pidfd);
    long pid = nsfs_vfork_run(CLONE_FILES, SIGCHLD, attach_child, &ctx);
    nsfs_return_low_slots(&ctx.pidfd, 1);
    if (pid < 0) return (int)pid;
    nsfs_reap(pid);
    return -ctx.error;
}
