// Attaching a container's view: its own directory of the mount, over the
// mount point, inside its mount namespace.
#define _GNU_SOURCE
#include "namespace_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

// Child side: only syscalls, then _exit with an errno as the status.
// The lookup of `source` goes through the mount, so it must happen here, in
// a process of its own: a daemon thread waiting on its own filesystem would
// keep a killed daemon from ever closing /dev/fuse.
static int attach_child(int pidfd, const char *source, const char *mountpoint) {
    int tree_fd = (int)syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree_fd < 0) return errno;
    if (syscall(SYS_setns, pidfd, CLONE_NEWNS) != 0) return errno;
    // The copy of the full mount (or an older view, or a dead one left by a
    // previous daemon): detach them all. EINVAL: nothing mounted there now.
    for (int i = 0; i < 16 && umount2(mountpoint, MNT_DETACH) == 0; i++) {}
    if (syscall(SYS_move_mount, tree_fd, "", AT_FDCWD, mountpoint, MOVE_MOUNT_F_EMPTY_PATH) != 0) return errno;
    return 0;
}

int nsfs_attach_view(int pidfd, const char *source, const char *mountpoint) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    // A plain fork: the child needs a process of its own for setns(mnt), and
    // runs nothing but syscalls before _exit.
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(attach_child(pidfd, source, mountpoint));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) return -errno;
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -errno;
    }
    if (!WIFEXITED(status)) return -EIO;
    return -WEXITSTATUS(status);
}
