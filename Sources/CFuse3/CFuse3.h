// libfuse3's low-level API as Swift sees it. The version is pinned here, not
// with -Xcc flags, so every importer agrees on the struct layouts.
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>

// fuse_session_new is a macro from libfuse 3.17 on; sizeof(ops) must be ours.
static inline struct fuse_session *_Nullable cfuse3_session_new(
    struct fuse_args *_Nonnull args, const struct fuse_lowlevel_ops *_Nonnull ops,
    void *_Nullable userdata) {
    return fuse_session_new(args, ops, sizeof(*ops), userdata);
}

// FUSE_ARGS_INIT is a macro.
static inline struct fuse_args cfuse3_args_empty(void) {
    struct fuse_args a = FUSE_ARGS_INIT(0, NULL);
    return a;
}

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

static inline long cfuse3_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

// fuse_session_loop, except that after each request the thread keeps reading
// (non-blocking) for `spin_ns` before it sleeps in poll: a request that
// follows within that time (cat's read after its open) is picked up without
// a wakeup of this thread, the costliest part of a round trip in a VM.
// sched_yield, not a pause loop: a runnable thread on this CPU (the reader
// itself, on a busy machine) goes first. `after(ctx)` runs after each
// request has been answered: work its caller need not wait for.
static inline int cfuse3_session_loop_spinning(struct fuse_session *_Nonnull se, long spin_ns,
                                               void (*_Nonnull after)(void *_Nullable),
                                               void *_Nullable ctx) {
    int fd = fuse_session_fd(se);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    struct fuse_buf buf = { .mem = NULL };
    long idle_since = cfuse3_now_ns();
    int res = 0;
    while (!fuse_session_exited(se)) {
        res = fuse_session_receive_buf(se, &buf);
        if (res == -EAGAIN) {
            if (cfuse3_now_ns() - idle_since < spin_ns) { sched_yield(); continue; }
            struct pollfd p = { .fd = fd, .events = POLLIN };
            poll(&p, 1, -1);
            idle_since = cfuse3_now_ns();
            continue;
        }
        if (res == -EINTR) continue;
        if (res <= 0) break;
        fuse_session_process_buf(se, &buf);
        after(ctx);
        idle_since = cfuse3_now_ns();
    }
    free(buf.mem);
    fuse_session_reset(se);
    return res < 0 ? res : 0;
}
