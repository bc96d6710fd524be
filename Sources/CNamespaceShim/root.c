// Giving a running container a root filesystem of its own (the `root`
// entry, -o root=): an overlay whose lower layer is the image and whose
// upper layer is the container's own directory in the storage, both seen
// through an idmapped mount (files host root owns are its root's), with a
// fresh /proc, a read-only /sys, a minimal /dev and a private /tmp under it;
// then pivot_root in the container's mount namespace.
//
// Why this shape:
// - The tree is built by a process of the host's user namespace (it mounts
//   overlay on idmapped layers, makes device nodes) in a private copy of the
//   host's mount namespace, so nothing of it shows on the host, and is moved
//   into the container's mount namespace as one piece.
// - That process lives in the container's pid, ipc and net namespaces (its
//   parent joined them first): the proc, mqueue and sysfs it mounts are the
//   container's.
// - pivot_root there moves the init's root (and that of any process rooted
//   at the old root) to the new tree; the old root, with the host's mounts
//   and the tree's own FUSE mount, is detached: nothing of the host is left
//   to uncover.
// - Only syscalls run in the children (they share the daemon's memory).
#define _GNU_SOURCE
#include "namespace_shim.h"
#include "shim_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
struct root_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

struct root_ctx {
    const struct nsfs_root_request *req;
    int step;
    int error;
    // An overlay image's layers below the first (which is M_LOWER).
    int more[NSFS_MAX_LAYERS];
};

static int root_fail(struct root_ctx *c, int step, int err) {
    c->step = step;
    c->error = err ? err : EIO;
    return 1;
}

// path = a + "/" + b, or ENAMETOOLONG.
static int join(char *out, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb + 1 > PATH_MAX) return ENAMETOOLONG;
    memcpy(out, a, la);
    out[la] = '/';
    memcpy(out + la + 1, b, lb + 1);
    return 0;
}

// mkdir -p of `rel` below the directory `dirfd` (the caller is the
// container's root: what it makes is root's inside).
static int make_dirs(int dirfd, const char *rel) {
    char path[PATH_MAX];
    size_t n = strlen(rel);
    if (n + 1 > sizeof path) return ENAMETOOLONG;
    memcpy(path, rel, n + 1);
    for (size_t i = 0;; i++) {
        if (path[i] != '/' && path[i] != 0) continue;
        char saved = path[i];
        path[i] = 0;
        if (i > 0 && path[i - 1] != '/' && mkdirat(dirfd, path, 0755) != 0 && errno != EEXIST) return errno;
        path[i] = saved;
        if (saved == 0) return 0;
    }
}


enum { CONFIG_SET_FLAG = 0, CONFIG_SET_STRING = 1, CONFIG_CMD_CREATE = 6 };

int nsfs_new_mount(const char *type, char *opts, unsigned attrs) {
    int fs = (int)syscall(SYS_fsopen, type, 1 /* FSOPEN_CLOEXEC */);
    if (fs < 0) return -errno;
    for (char *o = opts; o && *o;) {
        char *next = strchr(o, ',');
        if (next) *next++ = 0;
        char *value = strchr(o, '=');
        if (value) *value++ = 0;
        long r = value ? syscall(SYS_fsconfig, fs, CONFIG_SET_STRING, o, value, 0)
                       : syscall(SYS_fsconfig, fs, CONFIG_SET_FLAG, o, NULL, 0);
        if (r != 0) { int e = errno; close(fs); return -e; }
        o = next;
    }
    if (syscall(SYS_fsconfig, fs, CONFIG_CMD_CREATE, NULL, NULL, 0) != 0) { int e = errno; close(fs); return -e; }
    int m = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, attrs);
    int e = errno;
    close(fs);
    return m < 0 ? -e : m;
}

// "uid=U,gid=G" appended to `opts`.
static void append_owner(char *opts, size_t size, uid_t uid, gid_t gid) {
    size_t n = strlen(opts);
    nsfs_with_number(opts + n, size - n, ",uid=", uid, "");
    n = strlen(opts);
    nsfs_with_number(opts + n, size - n, ",gid=", gid, "");
}

// The OCI runtime spec's default devices, made (this process has the
// host's CAP_MKNOD) on a tmpfs of the host's user namespace (nodes on it
// work), owned by the container's root. The detached mount, or -errno.
static int make_dev(uid_t uid, gid_t gid) {
    char opts[96] = "mode=755,size=64k,nr_inodes=64";
    append_owner(opts, sizeof opts, uid, gid);
    int dev = nsfs_new_mount("tmpfs", opts, ATTR_NOSUID | ATTR_NOEXEC);
    if (dev < 0) return dev;
    static const struct { const char *name; unsigned major, minor; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) != 0
            || fchmodat(dev, nodes[i].name, 0666, 0) != 0
            || fchownat(dev, nodes[i].name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
            goto fail;
    }
    static const struct { const char *name, *target; } links[] = {
        {"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
        {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (symlinkat(links[i].target, dev, links[i].name) != 0
            || fchownat(dev, links[i].name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
            goto fail;
    static const char *dirs[] = {"pts", "shm", "mqueue"};
    for (size_t i = 0; i < 3; i++)
        if (mkdirat(dev, dirs[i], 0755) != 0 || fchownat(dev, dirs[i], uid, gid, 0) != 0) goto fail;
    return dev;
fail:;
    int e = errno;
    close(dev);
    return -e;
}

// A detached clone of the directory `path`, seen through the container's
// id mapping when it has one (files host root owns are its root's), or -errno.
static int layer_clone(const char *path, int userns_fd) {
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return -errno;
    if (userns_fd >= 0) {
        struct root_mount_attr idmap = {MOUNT_ATTR_IDMAP, 0, 0, (uint64_t)userns_fd};
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &idmap, sizeof idmap) != 0) {
            int e = errno;
            close(tree);
            return -e;
        }
    }
    return tree;
}

// What goes below the new root, made while this process has the host's
// capabilities: each a detached mount, attached later.
enum { M_LOWER, M_LAYER, M_PROC, M_SYS, M_DEV, M_PTS, M_SHM, M_MQUEUE, M_TMP, M_COUNT };
static const char *const places[M_COUNT] = {
    [M_PROC] = "proc", [M_SYS] = "sys", [M_DEV] = "dev", [M_PTS] = "dev/pts", [M_SHM] = "dev/shm",
    [M_MQUEUE] = "dev/mqueue", [M_TMP] = "tmp",
};
static const int place_steps[M_COUNT] = {
    NSFS_ROOT_STEP_LOWER, NSFS_ROOT_STEP_UPPER, NSFS_ROOT_STEP_PROC, NSFS_ROOT_STEP_SYS, NSFS_ROOT_STEP_DEV,
    NSFS_ROOT_STEP_DEV, NSFS_ROOT_STEP_DEV, NSFS_ROOT_STEP_DEV, NSFS_ROOT_STEP_TMP,
};

static int host_pieces(struct root_ctx *c, int m[M_COUNT]) {
    const struct nsfs_root_request *req = c->req;
    char path[PATH_MAX], opts[96];
    int e = join(path, req->storage, "layer");
    if (e) return -e;
    if (req->nlayers > NSFS_MAX_LAYERS) return -E2BIG;
    m[M_LOWER] = layer_clone(req->nlayers > 0 ? req->layers[0] : req->image, req->userns_fd);
    for (int i = 1; i < req->nlayers; i++)
        if ((c->more[i] = layer_clone(req->layers[i], req->userns_fd)) < 0) return c->more[i];
    m[M_LAYER] = layer_clone(path, req->userns_fd);
    // This process is in the container's pid, net and ipc namespaces:
    // the proc, sysfs and mqueue are the container's.
    m[M_PROC] = nsfs_new_mount("proc", NULL, ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC);
    m[M_SYS] = nsfs_new_mount("sysfs", NULL, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC);
    m[M_DEV] = make_dev(req->root_uid, req->root_gid);
    // tty is group 5 inside: the host's gid + 5.
    nsfs_with_number(opts, sizeof opts, "newinstance,ptmxmode=0666,mode=0620,gid=", req->root_gid + 5, "");
    m[M_PTS] = nsfs_new_mount("devpts", opts, ATTR_NOSUID | ATTR_NOEXEC);
    memcpy(opts, "mode=1777", sizeof "mode=1777");
    append_owner(opts, sizeof opts, req->root_uid, req->root_gid);
    m[M_SHM] = nsfs_new_mount("tmpfs", opts, ATTR_NOSUID | ATTR_NODEV);
    m[M_MQUEUE] = nsfs_new_mount("mqueue", NULL, ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC);
    memcpy(opts, "mode=1777", sizeof "mode=1777");
    append_owner(opts, sizeof opts, req->root_uid, req->root_gid);
    m[M_TMP] = nsfs_new_mount("tmpfs", opts, ATTR_NOSUID | ATTR_NODEV);
    for (int i = 0; i < M_COUNT; i++)
        if (m[i] < 0) return i;
    return -1;
}

// In the container's pid, ipc and net namespaces (its parent joined them).
static int build_child(void *p) {
    struct root_ctx *c = p;
    const struct nsfs_root_request *req = c->req;
    int m[M_COUNT];
    int failed = host_pieces(c, m);
    if (failed >= 0) return root_fail(c, place_steps[failed], -m[failed]);
    if (failed < -1) return root_fail(c, NSFS_ROOT_STEP_LAYERS, -failed);

    // The rest as the container's root, in a mount namespace of its user
    // namespace: the overlay writes to the upper layer as its root (through
    // the idmapped layer: the host's root on disk), and every directory
    // made is owned by root inside.
    int e = 0;
    if (req->userns_fd >= 0) {
        if (syscall(SYS_setns, req->userns_fd, CLONE_NEWUSER) != 0) return root_fail(c, NSFS_ROOT_STEP_USER, errno);
        if ((e = -nsfs_become_root())) return root_fail(c, NSFS_ROOT_STEP_USER, e);
    }
    if (syscall(SYS_unshare, CLONE_NEWNS) != 0) return root_fail(c, NSFS_ROOT_STEP_PRIVATE, errno);
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) return root_fail(c, NSFS_ROOT_STEP_PRIVATE, errno);
    // Scratch: a tmpfs over /proc (every host has that directory), here only.
    if (mount("nsfs-scratch", "/proc", "tmpfs", 0, "mode=700") != 0) return root_fail(c, NSFS_ROOT_STEP_PRIVATE, errno);
    if (mkdir("/proc/l", 0700) != 0 || mkdir("/proc/u", 0700) != 0 || mkdir("/proc/m", 0700) != 0)
        return root_fail(c, NSFS_ROOT_STEP_PRIVATE, errno);
    if (syscall(SYS_move_mount, m[M_LOWER], "", AT_FDCWD, "/proc/l", MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return root_fail(c, NSFS_ROOT_STEP_LOWER, errno);
    // An overlay image's other layers, under the first: /proc/l:/proc/l1:…
    char lowers[16 + NSFS_MAX_LAYERS * 16] = "/proc/l";
    for (int i = 1; i < req->nlayers; i++) {
        char dir[32];
        nsfs_with_number(dir, sizeof dir, "/proc/l", (unsigned long)i, "");
        if (mkdir(dir, 0700) != 0) return root_fail(c, NSFS_ROOT_STEP_PRIVATE, errno);
        if (syscall(SYS_move_mount, c->more[i], "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return root_fail(c, NSFS_ROOT_STEP_LOWER, errno);
        size_t n = strlen(lowers);
        lowers[n] = ':';
        memcpy(lowers + n + 1, dir, strlen(dir) + 1);
    }
    if (syscall(SYS_move_mount, m[M_LAYER], "", AT_FDCWD, "/proc/u", MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return root_fail(c, NSFS_ROOT_STEP_UPPER, errno);
    // In a user namespace the overlay keeps its own metadata in user.* xattrs.
    char ovl[sizeof lowers + 96];
    snprintf(ovl, sizeof ovl, "lowerdir=%s,upperdir=/proc/u/upper,workdir=/proc/u/work%s", lowers,
             req->userns_fd >= 0 ? ",userxattr" : "");
    if (mount("overlay", "/proc/m", "overlay", MS_NOSUID, ovl) != 0) return root_fail(c, NSFS_ROOT_STEP_OVERLAY, errno);

    // Mount points the image may lack, then everything in its place.
    int top = open("/proc/m", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (top < 0) return root_fail(c, NSFS_ROOT_STEP_DIRECTORIES, errno);
    const char *needed[] = {"proc", "sys", "dev", "tmp"};
    for (int i = 0; i < 4 && !e; i++) e = make_dirs(top, needed[i]);
    if (e) return root_fail(c, NSFS_ROOT_STEP_DIRECTORIES, e);
    for (int i = M_PROC; i < M_COUNT; i++)
        if (syscall(SYS_move_mount, m[i], "", top, places[i], MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return root_fail(c, place_steps[i], errno);
    // The view's directory last: a mount point below /tmp is made there.
    if (req->view[0] == '/' && req->view[1] && (e = make_dirs(top, req->view + 1)))
        return root_fail(c, NSFS_ROOT_STEP_DIRECTORIES, e);
    int tree = (int)syscall(SYS_open_tree, top, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
    if (tree < 0) return root_fail(c, NSFS_ROOT_STEP_PIVOT, errno);
    // Into the container's mount namespace: the tree over its root, then
    // pivot_root(".", ".") (the old root ends up on top, and is detached).
    if (syscall(SYS_setns, req->init_pidfd, CLONE_NEWNS) != 0) return root_fail(c, NSFS_ROOT_STEP_ENTER, errno);
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return root_fail(c, NSFS_ROOT_STEP_PIVOT, errno);
    if (fchdir(tree) != 0) return root_fail(c, NSFS_ROOT_STEP_PIVOT, errno);
    if (syscall(SYS_pivot_root, ".", ".") != 0) return root_fail(c, NSFS_ROOT_STEP_PIVOT, errno);
    if (umount2(".", MNT_DETACH) != 0) return root_fail(c, NSFS_ROOT_STEP_PIVOT, errno);
    return 0;
}

// A process of its own (the daemon is multi-threaded: setns(mnt) is refused
// to it), holding nothing of the daemon's but what it needs.
static int enter_child(void *p) {
    struct root_ctx *c = p;
    const struct nsfs_root_request *req = c->req;
    int keep[] = {req->init_pidfd, req->userns_fd};
    int e = nsfs_close_all_but(keep, 2);
    if (e) return root_fail(c, NSFS_ROOT_STEP_ENTER, e);
    // pid: for the child (its proc); ipc: its mqueue; net: its sysfs.
    if (syscall(SYS_setns, req->init_pidfd, CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET) != 0)
        return root_fail(c, NSFS_ROOT_STEP_ENTER, errno);
    long pid = nsfs_vfork_run(0, SIGCHLD, build_child, c);
    if (pid < 0) return root_fail(c, NSFS_ROOT_STEP_ENTER, (int)-pid);
    nsfs_reap(pid);
    return 0;
}

int nsfs_apply_root(const struct nsfs_root_request *req, int *step) {
    // The child shares our table, and keeps its two descriptors in low slots.
    struct nsfs_root_request lent = *req;
    int fds[] = {req->init_pidfd, req->userns_fd}, slots[2];
    nsfs_lend_low_slots(fds, 2, slots);
    lent.init_pidfd = slots[0];
    lent.userns_fd = slots[1];
    struct root_ctx ctx = {&lent, 0, 0};
    long pid = nsfs_vfork_run(CLONE_FILES, SIGCHLD, enter_child, &ctx);
    nsfs_return_low_slots(slots, 2);
    if (pid < 0) {
        *step = NSFS_ROOT_STEP_ENTER;
        return (int)pid;
    }
    nsfs_reap(pid);
    *step = ctx.step;
    return -ctx.error;
}

// rm -rf of `name` in the directory `parent`, never following a symlink.
static int remove_at(int parent, const char *name, int depth) {
    if (unlinkat(parent, name, 0) == 0) return 0;
    if (errno != EISDIR && errno != EPERM) return errno == ENOENT ? 0 : errno;
    if (depth > 256) return ELOOP;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno;
    DIR *d = fdopendir(fd);
    if (!d) { int e = errno; close(fd); return e; }
    int e = 0;
    struct dirent *ent;
    while (!e && (ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        e = remove_at(dirfd(d), ent->d_name, depth + 1);
    }
    closedir(d);
    if (!e && unlinkat(parent, name, AT_REMOVEDIR) != 0) e = errno;
    return e;
}

int nsfs_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return -errno;
    return -remove_at(AT_FDCWD, path, 0);
}

// --- volumes: a host directory bind-mounted into a running container ---

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct volume_open_how { uint64_t flags, mode, resolve; };
#define VOLUME_RESOLVE_NO_SYMLINKS 0x04

struct volume_ctx {
    int pidfd, userns_fd, readonly, remove;
    const char *source, *target;
    int step, error;
};

static int volume_fail(struct volume_ctx *c, int step, int err) {
    c->step = step;
    c->error = err ? err : EIO;
    return 1;
}

// The target inside, no symbolic link on the way (ELOOP): in the
// container's mount namespace, where "/" is its root.
static int open_target(const char *target, int is_dir) {
    struct volume_open_how how = {O_PATH | (is_dir ? O_DIRECTORY : 0) | O_CLOEXEC, 0, VOLUME_RESOLVE_NO_SYMLINKS};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, target, &how, sizeof how);
    return fd < 0 ? -errno : fd;
}

static int volume_child(void *p) {
    struct volume_ctx *c = p;
    int keep[] = {c->pidfd, c->userns_fd};
    int e = nsfs_close_all_but(keep, 2);
    if (e) return volume_fail(c, NSFS_VOLUME_STEP_ENTER, e);
    int tree = -1;
    int is_dir = 1;
    if (!c->remove) {
        // The source, as the host sees it, idmapped as the container's root.
        // (The tree's `mounts` takes directories only; nsfs-oci binds files
        // too: an engine's /etc/hosts.)
        struct volume_open_how how = {O_PATH | O_CLOEXEC, 0, VOLUME_RESOLVE_NO_SYMLINKS};
        int src = (int)syscall(SYS_openat2, AT_FDCWD, c->source, &how, sizeof how);
        if (src < 0) return volume_fail(c, NSFS_VOLUME_STEP_SOURCE, errno);
        struct stat st;
        if (fstat(src, &st) != 0) return volume_fail(c, NSFS_VOLUME_STEP_SOURCE, errno);
        is_dir = S_ISDIR(st.st_mode);
        tree = (int)syscall(SYS_open_tree, src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        close(src);
        if (tree < 0) return volume_fail(c, NSFS_VOLUME_STEP_SOURCE, errno);
        struct root_mount_attr attr = {c->readonly ? 1 /* MOUNT_ATTR_RDONLY */ : 0, 0, 0, 0};
        if (c->userns_fd >= 0) {
            attr.attr_set |= MOUNT_ATTR_IDMAP;
            attr.userns_fd = (uint64_t)c->userns_fd;
        }
        if (attr.attr_set && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
            return volume_fail(c, NSFS_VOLUME_STEP_SOURCE, errno);
    }
    if (syscall(SYS_setns, c->pidfd, CLONE_NEWNS) != 0) return volume_fail(c, NSFS_VOLUME_STEP_ENTER, errno);
    int target = open_target(c->target, is_dir);
    if (target == -ENOENT && !c->remove) {
        // A missing mount point is made, by the container's root (its
        // owner inside; "/" is its root here, a link cannot leave it).
        if (c->userns_fd >= 0) {
            if (syscall(SYS_setns, c->userns_fd, CLONE_NEWUSER) != 0) return volume_fail(c, NSFS_VOLUME_STEP_ENTER, errno);
            int e = -nsfs_become_root();
            if (e) return volume_fail(c, NSFS_VOLUME_STEP_ENTER, e);
        }
        int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int e = 0;
        if (root < 0) {
            e = errno;
        } else if (is_dir) {
            e = make_dirs(root, c->target + 1);
        } else {
            // A file: its directory, then the file (a link on the way: ELOOP).
            char dir[4096];
            const char *slash = strrchr(c->target, '/');
            size_t n = (size_t)(slash - c->target);
            if (n >= sizeof dir) {
                e = ENAMETOOLONG;
            } else {
                memcpy(dir, c->target, n);
                dir[n] = 0;
                if (n > 1) e = make_dirs(root, dir + 1);
                if (!e) {
                    struct volume_open_how create = {O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644, VOLUME_RESOLVE_NO_SYMLINKS};
                    int f = (int)syscall(SYS_openat2, root, c->target + 1, &create, sizeof create);
                    if (f < 0) e = errno; else close(f);
                }
            }
        }
        if (root >= 0) close(root);
        if (e) return volume_fail(c, NSFS_VOLUME_STEP_TARGET, e);
        target = open_target(c->target, is_dir);
    }
    if (target < 0) return volume_fail(c, NSFS_VOLUME_STEP_TARGET, -target);
    if (c->remove) {
        // Only a mount there is removed (EINVAL: none), from inside it.
        if (fchdir(target) != 0 || umount2(".", MNT_DETACH) != 0) return volume_fail(c, NSFS_VOLUME_STEP_MOUNT, errno);
        return 0;
    }
    if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | 0x00000040 /* MOVE_MOUNT_T_EMPTY_PATH */) != 0)
        return volume_fail(c, NSFS_VOLUME_STEP_MOUNT, errno);
    return 0;
}

int nsfs_volume(int init_pidfd, int userns_fd, const char *source, const char *target, int readonly, int remove,
                int *step) {
    struct volume_ctx ctx = {init_pidfd, userns_fd, readonly, remove, source, target, 0, 0};
    // The child shares our table, and keeps its two descriptors in low slots.
    int fds[] = {init_pidfd, userns_fd}, slots[2];
    nsfs_lend_low_slots(fds, 2, slots);
    ctx.pidfd = slots[0];
    ctx.userns_fd = slots[1];
    long pid = nsfs_vfork_run(CLONE_FILES, SIGCHLD, volume_child, &ctx);
    nsfs_return_low_slots(slots, 2);
    if (pid < 0) {
        *step = NSFS_VOLUME_STEP_ENTER;
        return (int)pid;
    }
    nsfs_reap(pid);
    *step = ctx.step;
    return -ctx.error;
}
