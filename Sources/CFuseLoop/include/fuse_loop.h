// The request loop and the connection's first request, in C: what libfuse
// 3.14 does not offer (a spinning loop that notes each request's id, the
// INIT replayed for a daemon that takes a connection over, FUSE_NOTIFY_RESEND),
// and libfuse's macros Swift cannot call. Bodies in fuse_loop.c: a module
// header declares.
#ifndef NSFS_FUSE_LOOP_H
#define NSFS_FUSE_LOOP_H
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdint.h>

// fuse_session_new is a macro from libfuse 3.17 on; sizeof(ops) must be ours.
struct fuse_session *_Nullable cfuse3_session_new(struct fuse_args *_Nonnull args,
                                                  const struct fuse_lowlevel_ops *_Nonnull ops,
                                                  void *_Nullable userdata);

// FUSE_ARGS_INIT is a macro.
struct fuse_args cfuse3_args_empty(void);

// What the loop shares with the request handlers, which run on its thread:
// the id of the request being handled (libfuse 3.14 does not show a handler
// its request's unique id; the kernel sets bit 63 on one it sends again).
struct cfuse3_loop_state {
    uint64_t unique;
};

// fuse_session_loop, except that after each request the thread keeps reading
// (non-blocking) for `spin_ns` before it sleeps in poll: a request that
// follows within that time (cat's read after its open) is picked up without
// a wakeup of this thread, the costliest part of a round trip in a VM.
// sched_yield, not a pause loop: a runnable thread on this CPU (the reader
// itself, on a busy machine) goes first. `after(ctx)` runs after each
// request has been answered: work its caller need not wait for.
int cfuse3_session_loop_spinning(struct fuse_session *_Nonnull se, long spin_ns,
                                 struct cfuse3_loop_state *_Nonnull st,
                                 void (*_Nonnull after)(void *_Nullable), void *_Nullable ctx);

// The first request of a new connection, read (blocking) and answered
// here: the kernel's INIT. Its bytes go to `copy` (up to `cap`), for the
// daemons that take the connection over later. Returns their length, or
// -errno.
long cfuse3_handshake(struct fuse_session *_Nonnull se, uint8_t *_Nonnull copy, size_t cap);

// A session that starts on a connection another daemon opened: libfuse
// answers nothing but INIT until it has seen one, so it is handed the INIT
// the kernel sent that daemon. Its reply goes to a request id no request
// has (the kernel answers ENOENT, which libfuse takes for an interrupted
// request and ignores): the kernel keeps what it agreed with the first one.
int cfuse3_replay_init(struct fuse_session *_Nonnull se, const uint8_t *_Nonnull bytes, size_t len);

// FUSE_NOTIFY_RESEND (kernel 6.9+, which libfuse 3.14 does not know): the
// kernel puts every request a daemon had read but not answered back in the
// queue, their ids marked with bit 63.
int cfuse3_notify_resend(struct fuse_session *_Nonnull se);

// Does the kernel that sent this INIT know FUSE_NOTIFY_RESEND (FUSE_HAS_RESEND)?
int cfuse3_init_has_resend(const uint8_t *_Nonnull bytes, size_t len);

#endif
