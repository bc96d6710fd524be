// The C side of namespacefs: everything Swift cannot or must not do.
//
// - Glibc's Swift module hides setns, unshare, CLONE_*, pidfd syscalls and the
//   nsfs/pidfs ioctls: thin wrappers live here.
// - Between clone and execve only C runs: the daemon is multi-threaded and a
//   forked copy of the Swift runtime may hold any lock. nsfs_spawn_init does
//   the whole child side in C.
//
// Convention (as the kernel's): functions return >= 0 on success and -errno
// on failure, so Swift receives an errno value, never "-1, look at errno".
#ifndef NAMESPACE_SHIM_H
#define NAMESPACE_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "holder_protocol.h"

#if !defined(__clang__)   // nullability annotations are clang's (Swift reads them)
#define _Nonnull
#define _Nullable
#endif

#ifdef __cplusplus
extern "C" {
#endif

// Namespace kinds, in the order the filesystem lists them under ns/.
enum nsfs_ns_kind {
    NSFS_NS_CGROUP = 0,
    NSFS_NS_IPC,
    NSFS_NS_MNT,
    NSFS_NS_NET,
    NSFS_NS_PID,
    NSFS_NS_TIME,
    NSFS_NS_USER,
    NSFS_NS_UTS,
    NSFS_NS_COUNT
};

// Which step of the child's setup failed (for the error message).
enum nsfs_spawn_step {
    NSFS_STEP_NONE = 0,
    NSFS_STEP_CLONE_HELPER,
    NSFS_STEP_SETNS_PARENT,
    NSFS_STEP_CLONE_INIT,
    NSFS_STEP_UNSHARE_CGROUP,
    NSFS_STEP_MOUNT_PROPAGATION,
    NSFS_STEP_MOUNT_PROC,
    NSFS_STEP_HOSTNAME,
    NSFS_STEP_LOOPBACK,
    NSFS_STEP_FDS,
    NSFS_STEP_EXEC,
    NSFS_STEP_SETNS_USER,
    NSFS_STEP_BECOME_ROOT,
    NSFS_STEP_PRIVATE_FS,
};

struct nsfs_spawn_request {
    int parent_pidfd;     // -1: new namespaces are children of the daemon's;
                          // else children of this init's pid and mnt namespaces
    int cgroup_fd;        // directory fd of the (empty, fresh) target cgroup
    int init_fd;          // O_PATH fd of the init binary (run with execveat)
    int devnull_fd;       // becomes the init's stdin/stdout/stderr
    const char *_Nonnull hostname;  // at most HOST_NAME_MAX (64) bytes, NUL-terminated
    const char *_Nonnull argv0;     // the init's argv[0], as ps shows it
    uint64_t new_namespaces;        // CLONE_NEW* flags (cgroup is unshared in the child)
    int join;             // 1: no new namespace; the init joins the namespaces
                          // join_namespaces (CLONE_NEW*) of parent_pidfd's
                          // process and skips every setup step (it only pins
                          // a set of namespaces someone else made)
    uint64_t join_namespaces;
    uint64_t parent_namespaces; // with parent_pidfd (not join): which of the
                          // parent's namespaces the init is made in (0: its pid
                          // and mnt; CLONE_NEWNS alone: a pid namespace below
                          // the host's, for a user namespace that is not a
                          // descendant of the parent's: the kernel nests pid
                          // namespaces only along user namespaces)
    int userns_fd;        // -1: the daemon's user namespace; else the init is
                          // born into this one (nsfs_make_userns), which then
                          // owns its other namespaces, and runs as its root
                          // (uid and gid 0 inside, no supplementary groups)
    int private_fs;       // with userns_fd: the host's mounts read-only and, on
                          // /tmp, /var/tmp and /dev/shm, fresh tmpfs of its own,
                          // set up in a mount namespace of the host's user
                          // namespace and copied: locked for the container
    uint64_t nproc;       // 0: inherit; else RLIMIT_NPROC (soft and hard) of the
                          // init, which every process entering takes too
    int no_wait;          // the cgroup is frozen: a child cloned into it stops at
                          // once, so do not wait for its exec (fork-like clone;
                          // its setup completes, unreported, when it is thawed).
                          // Nested only; the result then has pid 0 and pidfd -1:
                          // the init is the one process of its new cgroup
};

struct nsfs_spawn_result {
    int pid;     // the init, in the daemon's pid namespace
    int pidfd;   // owned by the caller
    int error;   // errno of the failed step, 0 on success
    int step;    // enum nsfs_spawn_step
};

// Create a container's init: clone3 into the cgroup with fresh namespaces,
// set hostname, loopback, /proc, then exec the init. Returns when the init
// has exec'd (or failed): the container is complete on return. With
// no_wait, returns once the init exists (its namespaces do).
int nsfs_spawn_init(const struct nsfs_spawn_request *_Nonnull req,
                    struct nsfs_spawn_result *_Nonnull res);

// A new user namespace, child of the daemon's (parent_pidfd -1) or of the
// user namespace of the process behind parent_pidfd, with these id maps
// (as /proc/PID/uid_map takes them, in the parent namespace's ids).
// init_fd: O_PATH fd of the init binary (a nested namespace's placeholder
// runs it). owner_uid/gid >= 0 (only with parent_pidfd -1): the namespace
// is that host user's (made by a process with those ids), who may then
// enter it without privileges; owner_nproc (0: the daemon's) is the
// process limit the kernel then applies to the namespace's processes and
// the owner's together. Returns an nsfs fd of it (the caller closes), or
// -errno.
int nsfs_make_userns(int parent_pidfd, int init_fd, int owner_uid, int owner_gid, uint64_t owner_nproc,
                     const char *_Nonnull uid_map, const char *_Nonnull gid_map);
// In a process that joined a user namespace: become its root (uid and gid
// 0 there, no supplementary groups). Raw syscalls: safe in a CLONE_VM child.
int nsfs_become_root(void);
// Forbid ptrace and /proc/PID/mem of this process (and of every child that
// shares its memory) to anyone without CAP_SYS_PTRACE in the host's user
// namespace. The daemon's children run on its memory until they exec,
// some of them in a container's pid and user namespaces.
int nsfs_forbid_tracing(void);
// CLONE_NEW* flags for every namespace kind a container gets by default.
uint64_t nsfs_default_namespaces(void);

int nsfs_pidfd_open(pid_t pid, unsigned int flags);
int nsfs_pidfd_send_signal(int pidfd, int sig);

// glibc's name of signal `sig` without "SIG" ("TERM"), NULL for one it has
// no name for (the real-time ones). sigabbrev_np is hidden from Swift.
const char *_Nullable nsfs_signal_abbrev(int sig);
// The pid behind a pidfd, in the caller's pid namespace (from fdinfo).
int nsfs_pidfd_pid(int pidfd);
// Reap the process behind pidfd if it is our child and has exited: 1 reaped,
// 0 still running, -ECHILD not our child.
int nsfs_pidfd_reap(int pidfd);
// nsfs fd of the given namespace of the process behind pidfd (pidfs ioctl).
int nsfs_pidfd_namespace(int pidfd, enum nsfs_ns_kind kind);
// The 64-bit namespace id (NS_GET_ID) of an nsfs fd.
int nsfs_ns_id(int nsfd, uint64_t *_Nonnull id);
// CLONE_NEW* value of a kind, and its name in /proc/PID/ns.
uint64_t nsfs_ns_clone_flag(enum nsfs_ns_kind kind);
const char *_Nonnull nsfs_ns_name(enum nsfs_ns_kind kind);

// The pid, in the namespace behind pidns_fd, of the process that has `pid`
// in the caller's namespace (NS_GET_PID_IN_PIDNS); -ESRCH if not visible.
int nsfs_pid_in_pidns(int pidns_fd, pid_t pid);
// An nsfs fd of the namespace `kind` of thread `tid` (daemon's pid
// namespace), its 64-bit id in *id: who a FUSE caller is. -errno if the
// thread is gone. With keep_pidfd, the thread's pidfd is left open there.
int nsfs_thread_namespace(pid_t tid, enum nsfs_ns_kind kind, uint64_t *_Nonnull id, int *_Nullable keep_pidfd);
// The id of the cgroup v2 of the process behind pidfd (PIDFD_GET_INFO,
// 6.13+; the inode number of the cgroup's directory). -errno if unknown.
int nsfs_pidfd_cgroup_id(int pidfd, uint64_t *_Nonnull id);
// The same ioctl: the cgroup id and the parent's pid (caller's namespace).
int nsfs_pidfd_info(int pidfd, uint64_t *_Nonnull cgroup_id, int32_t *_Nonnull parent);

// The mount `path` is on (statx + statmount): its type as mountinfo names
// it ("fuse.namespacefs"), its superblock's options, its root and mount
// point (cut to the capacities given); whether path is that mount's root
// (-1: unknown). -ENOSYS where the kernel cannot say all of it (before
// 6.15): read /proc/self/mountinfo instead.
int nsfs_mount_of(const char *_Nonnull path, int *_Nonnull is_mount_root, char *_Nonnull type, size_t type_cap,
                  char *_Nonnull options, size_t options_cap, char *_Nonnull root, size_t root_cap,
                  char *_Nonnull point, size_t point_cap);

// epoll, which Glibc's Swift module does not export: descriptors tagged
// with a 64-bit value; wait returns the tags of ready ones.
int nsfs_epoll_create(void);
int nsfs_epoll_add(int epfd, int fd, uint64_t tag);
int nsfs_epoll_remove(int epfd, int fd);
int nsfs_epoll_wait(int epfd, uint64_t *_Nonnull tags, int max, int timeout_ms);

// The id of the parent of the pid namespace with id `child`, given an nsfs
// fd of it; walks NS_GET_PARENT. Returns an fd of the parent (caller closes).
int nsfs_ns_parent(int nsfd);

// In a helper process: take a detached copy (OPEN_TREE_CLONE) of the
// directory `source` (a path through the mount, in the daemon's mount
// namespace), join the mount namespace of the process behind pidfd, detach
// whatever is mounted at `mountpoint` there and attach the copy. 0 or -errno.
int nsfs_attach_view(int pidfd, const char *_Nonnull source, const char *_Nonnull mountpoint);

// Reserve the low descriptor slots that children born sharing the daemon's
// table keep what they need in (see nsfs_lend_low_slots): called first
// thing, while the table is nearly empty. 0 or -errno.
int nsfs_reserve_low_slots(void);

// A root filesystem for a running container (root.c): the directory
// `image` (the host's path) as the read-only lower layer of an overlay whose
// upper layer is `storage`/layer/upper (work: layer/work), both idmapped on
// userns_fd (-1: none), with a fresh /proc, a read-only
// /sys, a minimal /dev, a tmpfs /tmp and the directory `view` (the tree's
// mount point) under it, made the root of the mount namespace of the
// process behind init_pidfd (pivot_root; the old root is detached).
// root_uid/gid: the host ids of the container's root. 0 or -errno, and
// *step says which step failed.
struct nsfs_root_request {
    int init_pidfd;
    int userns_fd;
    uint32_t root_uid;
    uint32_t root_gid;
    const char *_Nonnull image;
    const char *_Nonnull storage;
    const char *_Nonnull view;
    // An image that is an overlay mount (an engine's, podman's `merged`),
    // which cannot be idmapped itself: its layers, top first (its upper
    // dir, then its lower dirs), each idmapped and stacked under the
    // container's own layer instead of `image`. nlayers 0: `image` itself.
    const char *_Nullable const *_Nullable layers;
    int nlayers;
};
// At most this many layers of an overlay image.
#define NSFS_MAX_LAYERS 128
enum nsfs_root_step {
    NSFS_ROOT_STEP_NONE = 0,
    NSFS_ROOT_STEP_ENTER,
    NSFS_ROOT_STEP_PRIVATE,
    NSFS_ROOT_STEP_USER,
    NSFS_ROOT_STEP_LAYERS,
    NSFS_ROOT_STEP_LOWER,
    NSFS_ROOT_STEP_UPPER,
    NSFS_ROOT_STEP_OVERLAY,
    NSFS_ROOT_STEP_DIRECTORIES,
    NSFS_ROOT_STEP_PROC,
    NSFS_ROOT_STEP_SYS,
    NSFS_ROOT_STEP_DEV,
    NSFS_ROOT_STEP_TMP,
    NSFS_ROOT_STEP_PIVOT,
};
int nsfs_apply_root(const struct nsfs_root_request *_Nonnull req, int *_Nonnull step);
// A volume (root.c): the host's directory `source` bind-mounted (idmapped
// on userns_fd unless -1; read-only if asked) over the directory `target`
// in the mount namespace of the process behind init_pidfd; with `remove`,
// the mount at `target` detached instead (source unused). Neither path
// may pass a symbolic link (ELOOP). 0 or -errno, and *step.
enum nsfs_volume_step {
    NSFS_VOLUME_STEP_NONE = 0,
    NSFS_VOLUME_STEP_SOURCE,
    NSFS_VOLUME_STEP_ENTER,
    NSFS_VOLUME_STEP_TARGET,
    NSFS_VOLUME_STEP_MOUNT,
};
int nsfs_volume(int init_pidfd, int userns_fd, const char *_Nonnull source, const char *_Nonnull target,
                int readonly, int remove, int *_Nonnull step);

// Containers' network (network.c). A bridge `name` (made if missing) with
// address/prefix (host byte order), up: its index, or -errno.
int nsfs_bridge_ensure(const char *_Nonnull name, uint32_t address, int prefix);
// A veth pair: host_name on the bridge, up; eth0 in the net namespace
// netns_fd (the init's behind init_pidfd), up, with address/prefix and a
// default route via gateway. 0 or -errno, and *step.
enum nsfs_net_step { NSFS_NET_STEP_VETH = 1, NSFS_NET_STEP_INSIDE, NSFS_NET_STEP_ROUTE };
int nsfs_veth_attach(int init_pidfd, int netns_fd, const char *_Nonnull host_name, int bridge_index,
                     uint32_t address, int prefix, uint32_t gateway, int *_Nonnull step);
// Run argv (argv[0] a path) with `input` on its stdin, its stdout to
// /dev/null; *status as waitpid gives it. 0 or -errno.
int nsfs_run(char *_Nullable const argv[_Nonnull], const char *_Nullable input, int *_Nonnull status);

// rm -rf of `path`, never following a symbolic link. 0 or -errno
// (-ENOENT: nothing there).
int nsfs_remove_tree(const char *_Nonnull path);

// A write the caller must make after it has entered a container (whose
// user namespace takes its host privileges): a child that stays as the
// caller is now, with `path` opened for writing at once, writes what it
// reads from *fd (the pipe's write end, close-on-exec) until EOF, and
// exits: 0 if written.
// Its pid (the caller reaps it), or -errno. (nsctl: CMD's pid to the
// container's `procs`, as the host's root.)
int nsfs_deferred_write(const char *_Nonnull path, int *_Nonnull fd);

// nsctl exec: start argv in the namespaces `nsflags` (CLONE_NEW*) of the
// process behind pidfd, in the cgroup cgroup_fd (-1: stay), in its own
// process group if use_tty. 0 with *child_pidfd/*child_pid set, or -errno
// (of setns, clone3, or the exec in the child).
// With CLONE_NEWUSER in nsflags the child becomes uid/gid as_uid/as_gid of
// that user namespace (0: its root) before it runs CMD; as_uid -1: no change.
// nproc: 0, or RLIMIT_NPROC (soft and hard) for the child (its container's).
// The child runs in a session of its own and never gets the caller's
// terminal: with use_tty (-t), or where the caller's 0, 1 or 2 is a
// terminal, those get a fresh pty's slave and *pty_master its master
// (else -1), for nsfs_wait_forwarding to relay.
int nsfs_exec_in(int pidfd, int nsflags, int cgroup_fd, int use_tty, int as_uid, int as_gid, uint64_t nproc,
                 char *_Nullable const *_Nonnull argv, int *_Nonnull child_pidfd, int *_Nonnull child_pid,
                 int *_Nonnull pty_master);
// An OCI hook run in the container's namespaces (createContainer,
// startContainer): its executable as the runtime sees it (an O_PATH
// descriptor, without CLOEXEC: a script's interpreter opens /dev/fd/N).
struct nsfs_oci_hook {
    int fd;
    char *_Nullable const *_Nonnull argv;
    char *_Nullable const *_Nonnull envp;
    int timeout_ms;                  // 0: none
};

// An OCI process (nsfs-oci): what config.json's `process` asks for.
struct nsfs_oci_process {
    char *_Nullable const *_Nonnull argv;
    char *_Nullable const *_Nonnull envp;
    const char *_Nullable cwd;
    unsigned uid, gid;
    int ngroups;
    const gid_t *_Nullable groups;
    int umask;                       // -1: unchanged
    int nrlimits;
    const int *_Nullable rlimit_types;
    const uint64_t *_Nullable rlimit_soft;
    const uint64_t *_Nullable rlimit_hard;
    int oom_score_adj_given, oom_score_adj;
    int no_new_privs;
    int set_caps;
    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
    int gate_fd;                     // an O_PATH descriptor of the exec FIFO, or -1
    // The container's first process only (create): its mount namespace's
    // masked and read-only paths, and cgroup2 at /sys/fs/cgroup.
    int nmasked, nreadonly, mount_cgroup;
    const char *_Nullable const *_Nullable masked;
    const char *_Nullable const *_Nullable readonly;
    // ... and the sysctls its namespaces scope (paths below /proc/sys).
    int nsysctl;
    const char *_Nullable const *_Nullable sysctl_paths;
    const char *_Nullable const *_Nullable sysctl_values;
    // process.terminal: a socket connected to the engine's console socket,
    // which gets the master of a pty made inside (its slave is 0, 1, 2 and
    // the controlling terminal); -1: the caller's stdio.
    int console_fd;
    // The container's first process only: tmpfs mounts the engine asks for
    // (destination, MS_* flags, data), made below its root.
    int ntmpfs;
    const char *_Nullable const *_Nullable tmpfs_dest;
    const unsigned long *_Nullable tmpfs_flags;
    const char *_Nullable const *_Nullable tmpfs_data;
    int readonly_root;               // root.readonly: its / remounted read-only
    // Namespaces joined by path (linux.namespaces[].path: an engine's
    // network, a pod's): descriptors and CLONE_NEW* types, joined before
    // the container's user namespace (they belong to the host's); those
    // types are not in nsflags.
    int njoin;
    const int *_Nullable join_fds;
    const int *_Nullable join_types;
    // Sysctls of those joined namespaces: written as the host's root, once
    // joined (sysctl_paths: the container's own).
    int nhost_sysctl;
    const char *_Nullable const *_Nullable host_sysctl_paths;
    const char *_Nullable const *_Nullable host_sysctl_values;
    // Hooks in the container's namespaces, the state on their stdin:
    // createContainer before the process is ready, startContainer after
    // start, before its exec.
    int ncreate_hooks, nstart_hooks;
    const struct nsfs_oci_hook *_Nullable create_hooks;
    const struct nsfs_oci_hook *_Nullable start_hooks;
    const char *_Nullable hook_state;
    // The container's first process, in a pid namespace joined by path: a
    // proc of that pid namespace over the container's /proc.
    int mount_proc;
    // linux.seccomp: a BPF program (struct sock_filter[seccomp_len]) loaded
    // with seccomp(2) right before exec (before the ids and capabilities
    // change when no_new_privs is off: loading it then takes privilege);
    // seccomp_len 0: none.
    const void *_Nullable seccomp_filter;
    int seccomp_len;
    unsigned seccomp_flags;
};
// An OCI hook: path run with argv and envp, `input` (the state) on its
// stdin, killed after timeout_ms (0: none; then -ETIMEDOUT). 0 with
// *status (waitpid's) set, or -errno.
int nsfs_run_hook(const char *_Nonnull path, char *_Nullable const *_Nonnull argv, char *_Nullable const *_Nonnull envp,
                  const char *_Nonnull input, int timeout_ms, int *_Nonnull status);
// A socket connected to the Unix socket at path, or -errno.
int nsfs_connect_unix(const char *_Nonnull path);
// Start p inside the container of the process behind pidfd (its
// namespaces in nsflags), in cgroup_fd (-1: stay), with the caller's stdio.
// Returns 0 once the child is inside (with a gate: waiting at it), with
// *child_pidfd/*child_pid set; -errno if it could not get there.
int nsfs_oci_spawn(int pidfd, int nsflags, int cgroup_fd, const struct nsfs_oci_process *_Nonnull p,
                   int *_Nonnull child_pidfd, int *_Nonnull child_pid);
// Wait for the child, forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT to it; with
// a pty, relay bytes both ways (the caller's terminal raw meanwhile) and
// the window size. Returns its exit status, 128+N if killed by signal N.
int nsfs_wait_forwarding(int child_pidfd, int child_pid, int pty_master);

int nsfs_setns(int fd, int nstype);
// A memfd (close-on-exec), or -errno.
int nsfs_memfd(const char *_Nonnull name);

// The inode numbers of the namespaces of process `pid` (daemon's /proc), in
// enum nsfs_ns_kind order: what tells two live processes' sets apart (an
// inode number is unique among live namespaces). 0 for a kind the kernel
// lacks. One open and eight readlinkat: 6.5 µs here, against 27 µs for
// eight NS_GET_ID.
int nsfs_process_ns_inodes(pid_t pid, uint64_t *_Nonnull inodes);
// One poll over many pidfds: exited[i] = 1 if the process has exited.
int nsfs_pidfds_exited(const int *_Nonnull pidfds, int count, uint8_t *_Nonnull exited);

// Name the calling thread (ps -L -o comm; 15 bytes kept). prctl is variadic.
int nsfs_set_thread_name(const char *_Nonnull name);

// The connection holder and its socket (handover.c). All return -errno.
// A SOCK_SEQPACKET socket listening at `path` (a stale file there is
// replaced), or connected to it.
int nsfs_seqpacket_listen(const char *_Nonnull path);
int nsfs_seqpacket_connect(const char *_Nonnull path);
// One message, with a descriptor (fd >= 0) riding along as SCM_RIGHTS.
long nsfs_send_with_fd(int sock, const void *_Nonnull data, size_t len, int fd);
// One message; *fd is the descriptor that came with it (close-on-exec), or -1.
long nsfs_receive_with_fd(int sock, void *_Nonnull buf, size_t cap, int *_Nonnull fd);
int nsfs_set_receive_timeout(int sock, int milliseconds);
// One datagram to $NOTIFY_SOCKET (systemd's sd_notify), with fd if >= 0
// (FDSTORE=1). 0 without the variable: nobody listens.
int nsfs_sd_notify(const char *_Nonnull text, int fd);
// Start the holder `path` with `argv`, fuse_fd as its fd 3 and listen_fd
// as its fd 4, nothing else; a sibling of the caller (CLONE_PARENT) in a
// session of its own. Returns its pid once it has exec'd.
int nsfs_spawn_holder(const char *_Nonnull path, char *_Nullable const *_Nonnull argv, int fuse_fd, int listen_fd);

// On signal `sig`: remember it, and call fn(ctx) from the handler (it must
// be async-signal-safe). nsfs_signal_seen: the last such signal, or 0.
int nsfs_on_signal(int sig, void (*_Nonnull fn)(void *_Nullable), void *_Nullable ctx);
int nsfs_signal_seen(void);

// Internal to the shim: clone3 whose child runs fn(arg) on the stack given
// in args (CLONE_VM-safe), then exits with fn's result.
struct clone_args;
long nsfs_clone3_run(struct clone_args *_Nonnull args, size_t size,
                     int (*_Nonnull fn)(void *_Nullable), void *_Nullable arg);
int nsfs_o_path(void);

#ifdef __cplusplus
}
#endif
#endif
