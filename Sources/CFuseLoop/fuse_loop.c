// Bodies of fuse_loop.h (see there for what each does and why).
#define _GNU_SOURCE
#include "fuse_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// fuse_session_new is a macro from libfuse 3.17 on; sizeof(ops) must be ours.
struct fuse_session *_Nullable cfuse3_session_new(
    struct fuse_args *_Nonnull args, const struct fuse_lowlevel_ops *_Nonnull ops,
    void *_Nullable userdata) {
    return fuse_session_new(args, ops, sizeof(*ops), userdata);
}

// FUSE_ARGS_INIT is a macro.
struct fuse_args cfuse3_args_empty(void) {
    struct fuse_args a = FUSE_ARGS_INIT(0, NULL);
    return a;
}


static long cfuse3_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

// The kernel's header of every request (linux/fuse.h, struct fuse_in_header).
struct cfuse3_in_header {
    uint32_t len, opcode;
    uint64_t unique, nodeid;
    uint32_t uid, gid, pid;
    uint16_t total_extlen, padding;
};
enum { CFUSE3_OPCODE_INIT = 26 };

// Requests are in memory, never in a pipe: without a write_buf operation
// libfuse does not splice.
static void cfuse3_note_request(struct cfuse3_loop_state *_Nonnull st, const struct fuse_buf *_Nonnull buf) {
    st->unique = 0;
    if (!(buf->flags & FUSE_BUF_IS_FD) && buf->size >= sizeof(struct cfuse3_in_header))
        st->unique = ((const struct cfuse3_in_header *)buf->mem)->unique;
}

// fuse_session_loop, except that after each request the thread keeps reading
// (non-blocking) for `spin_ns` before it sleeps in poll: a request that
// follows within that time (cat's read after its open) is picked up without
// a wakeup of this thread, the costliest part of a round trip in a VM.
// sched_yield, not a pause loop: a runnable thread on this CPU (the reader
// itself, on a busy machine) goes first. `after(ctx)` runs after each
// request has been answered: work its caller need not wait for.
int cfuse3_session_loop_spinning(struct fuse_session *_Nonnull se, long spin_ns,
                                               struct cfuse3_loop_state *_Nonnull st,
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
        cfuse3_note_request(st, &buf);
        fuse_session_process_buf(se, &buf);
        st->unique = 0;
        after(ctx);
        idle_since = cfuse3_now_ns();
    }
    free(buf.mem);
    fuse_session_reset(se);
    return res < 0 ? res : 0;
}

// The first request of a new connection, read (blocking) and answered
// here: the kernel's INIT. Its bytes go to `copy` (up to `cap`), for the
// daemons that take the connection over later. Returns their length, or
// -errno.
long cfuse3_handshake(struct fuse_session *_Nonnull se, uint8_t *_Nonnull copy, size_t cap) {
    struct fuse_buf buf = { .mem = NULL };
    int res;
    do { res = fuse_session_receive_buf(se, &buf); } while (res == -EINTR);
    if (res <= 0) { free(buf.mem); return res < 0 ? res : -ENODEV; }
    long n = -EPROTO;
    if (!(buf.flags & FUSE_BUF_IS_FD) && buf.size >= sizeof(struct cfuse3_in_header) && buf.size <= cap
        && ((const struct cfuse3_in_header *)buf.mem)->opcode == CFUSE3_OPCODE_INIT) {
        memcpy(copy, buf.mem, buf.size);
        n = (long)buf.size;
    }
    fuse_session_process_buf(se, &buf);
    free(buf.mem);
    return n;
}

// A session that starts on a connection another daemon opened: libfuse
// answers nothing but INIT until it has seen one, so it is handed the INIT
// the kernel sent that daemon. Its reply goes to a request id no request
// has (the kernel answers ENOENT, which libfuse takes for an interrupted
// request and ignores): the kernel keeps what it agreed with the first one.
int cfuse3_replay_init(struct fuse_session *_Nonnull se, const uint8_t *_Nonnull bytes, size_t len) {
    if (len < sizeof(struct cfuse3_in_header)) return -EINVAL;
    uint8_t *copy = (uint8_t *)malloc(len);
    if (!copy) return -ENOMEM;
    memcpy(copy, bytes, len);
    struct cfuse3_in_header *h = (struct cfuse3_in_header *)copy;
    if (h->opcode != CFUSE3_OPCODE_INIT || h->len != len) { free(copy); return -EINVAL; }
    h->unique = 1ULL << 62;  // the kernel's ids count up by 2 from 2
    struct fuse_buf buf = { .size = len, .mem = copy };
    fuse_session_process_buf(se, &buf);
    free(copy);
    return fuse_session_exited(se) ? -EPROTO : 0;
}

// FUSE_NOTIFY_RESEND (kernel 6.9+, which libfuse 3.14 does not know): the
// kernel puts every request a daemon had read but not answered back in the
// queue, their ids marked with bit 63.
int cfuse3_notify_resend(struct fuse_session *_Nonnull se) {
    struct { uint32_t len; int32_t error; uint64_t unique; } out = { sizeof out, 7 /* FUSE_NOTIFY_RESEND */, 0 };
    ssize_t n;
    do { n = write(fuse_session_fd(se), &out, sizeof out); } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof out ? 0 : -errno;
}

// Does the kernel that sent this INIT know FUSE_NOTIFY_RESEND (FUSE_HAS_RESEND)?
int cfuse3_init_has_resend(const uint8_t *_Nonnull bytes, size_t len) {
    // fuse_in_header, then fuse_init_in: major, minor, max_readahead, flags, flags2.
    if (len < sizeof(struct cfuse3_in_header) + 20) return 0;
    uint32_t flags, flags2;
    memcpy(&flags, bytes + sizeof(struct cfuse3_in_header) + 12, 4);
    memcpy(&flags2, bytes + sizeof(struct cfuse3_in_header) + 16, 4);
    return (flags & (1u << 30)) /* FUSE_INIT_EXT */ && (flags2 & (1u << (39 - 32))) /* FUSE_HAS_RESEND */;
}
