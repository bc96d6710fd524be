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
