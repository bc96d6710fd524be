// One message with a descriptor riding along (SCM_RIGHTS): shared by the
// shim and the connection holder, which is built on its own (no Swift).
#ifndef NSFS_FD_PASSING_H
#define NSFS_FD_PASSING_H
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

// Returns the bytes sent, or -errno. fd < 0: none rides along.
static inline long nsfs_sendmsg_with_fd(int sock, const void *data, size_t len, int fd) {
    struct iovec iov = {(void *)data, len};
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (fd >= 0) {
        memset(&u, 0, sizeof u);
        m.msg_control = u.buf;
        m.msg_controllen = sizeof u.buf;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd, sizeof(int));
    }
    ssize_t n;
    while ((n = sendmsg(sock, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
    return n < 0 ? -errno : (long)n;
}
#endif
