// What the shim's C files share and Swift never sees (outside include/).
#ifndef NSFS_SHIM_INTERNAL_H
#define NSFS_SHIM_INTERNAL_H
#include <errno.h>
#include <linux/sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#ifndef SYS_execveat
#define SYS_execveat 322
#endif
// The new mount API (Linux 5.2): views (view.c), /proc's cover (spawn.c).
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
#define OPEN_TREE_CLOEXEC 02000000 /* O_CLOEXEC */
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

#ifndef SYS_fsopen
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#endif
enum { ATTR_RDONLY = 1, ATTR_NOSUID = 2, ATTR_NODEV = 4, ATTR_NOEXEC = 8 };

// A new, detached mount of `type` with options "key=value,flag,..." (`opts`
// is cut up in place; NULL: none), or -errno (root.c; oci.c's proc of a
// joined pid namespace).
int nsfs_new_mount(const char *type, char *opts, unsigned attrs);

// posix_spawn with `input` on the child's stdin, waited for (oci.c).
int nsfs_spawn_with_input(const char *path, char *const *argv, char *const *envp, const char *input, int quiet,
                          int timeout_ms, int *status);

// clone3 whose child runs fn(arg) on the stack given in args (spawn.c).
long nsfs_clone3_run(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);

// fn(arg) in a child that shares our memory (CLONE_VM|CLONE_VFORK, plus
// `flags`) on a stack of its own, with every signal blocked meanwhile (no
// handler of the daemon may run on its memory in the child); returns once
// the child has exec'd or ended: its pid, or -errno. fn reports through arg.
long nsfs_vfork_run(uint64_t flags, int exit_signal, int (*fn)(void *), void *arg);

// Close every descriptor but the `n` in `keep` (sorted in place; -1 ignored),
// in a table of the caller's own: a child sharing its parent's (CLONE_FILES)
// gets a copy of only the slots up to the highest kept (not the daemon's
// thousands of pidfds, copied and closed again at every clone without it).
// 0 or an errno (then nothing was closed: a child still sharing the
// daemon's table must not go on). Raw syscalls: safe in a child on the
// daemon's memory.
int nsfs_close_all_but(int *keep, int n);

// A table of the caller's own holding only descriptors 0..last (the copy
// stops there: see nsfs_close_all_but); 0 or an errno.
int nsfs_own_fds_upto(int last);

// `fds[i]` (-1: none) duplicated into reserved low slots: a child cloned
// with CLONE_FILES meanwhile finds them in `slots[i]` and copies only the
// table's first few slots, not a pidfd per container. Where none is free
// (or none was reserved: a program other than the daemon), `slots[i]` is
// `fds[i]`. Every lend is followed by nsfs_return_low_slots(slots) once the
// child has exec'd or ended.
void nsfs_lend_low_slots(const int *fds, int n, int *slots);
void nsfs_return_low_slots(const int *slots, int n);

// out = a + decimal(n) + b, cut to `size` (no stdio: also for children on
// the daemon's memory, where only plain syscalls are safe).
void nsfs_with_number(char *out, size_t size, const char *a, unsigned long n, const char *b);

// Wait for a child of ours (any kind, __WALL) to end and reap it.
static inline void nsfs_reap(long pid) {
    int status;
    while (waitpid((pid_t)pid, &status, __WALL) < 0 && errno == EINTR) {}
}
#endif
