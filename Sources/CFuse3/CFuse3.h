// libfuse3's low-level API as Swift sees it. The version is pinned here, not
// with -Xcc flags, so every importer agrees on the struct layouts. What
// Swift cannot call of it is in CFuseLoop (C bodies, not in this header).
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>
