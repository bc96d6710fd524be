// Containers' network (-o network=bridge): a bridge on the host, a veth
// pair per container (eth0 inside, the host end on the bridge), addresses
// and the default route, all by rtnetlink (no `ip` process per mkdir).
// The container's side is configured through a netlink socket opened in
// its net namespace by a helper that shares our descriptor table (a socket
// belongs to the namespace it was made in; setns(net) is refused to no
// thread, but a helper keeps the daemon's threads where they are).
#define _GNU_SOURCE
#include "namespace_shim.h"
#include "shim_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct nl_request {
    struct nlmsghdr h;
    char buf[1024];
};

static struct rtattr *put_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len) {
    struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len) memcpy(RTA_DATA(a), data, len);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

static void end_nest(struct nlmsghdr *h, struct rtattr *nest) {
    nest->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)nest);
}

// Send one request and wait for its acknowledgement: 0 or -errno.
static int talk(int sock, struct nlmsghdr *h) {
    static unsigned seq;
    h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    h->nlmsg_seq = ++seq;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(sock, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
    char reply[4096];
    for (;;) {
        ssize_t n = recv(sock, reply, sizeof reply, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (struct nlmsghdr *r = (struct nlmsghdr *)reply; NLMSG_OK(r, (unsigned)n); r = NLMSG_NEXT(r, n)) {
            if (r->nlmsg_seq != h->nlmsg_seq) continue;
            if (r->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(r))->error;
        }
    }
}

static int route_socket(void) {
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    return s < 0 ? -errno : s;
}

// A request of `type` whose fixed header (`header` bytes, zeroed) follows:
// returns that header.
static void *begin(struct nl_request *r, int type, int flags, size_t header) {
    memset(r, 0, sizeof *r);
    r->h.nlmsg_len = NLMSG_LENGTH(header);
    r->h.nlmsg_type = (unsigned short)type;
    r->h.nlmsg_flags = (unsigned short)flags;
    return NLMSG_DATA(&r->h);
}

static void link_request(struct nl_request *r, int type, int flags, int index) {
    struct ifinfomsg *ifi = begin(r, type, flags, sizeof(struct ifinfomsg));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
}

static int set_up(int sock, int index) {
    struct nl_request r;
    link_request(&r, RTM_NEWLINK, 0, index);
    struct ifinfomsg *ifi = NLMSG_DATA(&r.h);
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    return talk(sock, &r.h);
}

static int add_address(int sock, int index, uint32_t addr, int prefix) {
    struct nl_request r;
    struct ifaddrmsg *ifa = begin(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_index = (unsigned)index;
    uint32_t be = htonl(addr);
    put_attr(&r.h, IFA_LOCAL, &be, 4);
    put_attr(&r.h, IFA_ADDRESS, &be, 4);
    int e = talk(sock, &r.h);
    return e == -EEXIST ? 0 : e;
}

static int default_route(int sock, uint32_t gateway) {
    struct nl_request r;
    struct rtmsg *rt = begin(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rt);
    rt->rtm_family = AF_INET;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    uint32_t be = htonl(gateway);
    put_attr(&r.h, RTA_GATEWAY, &be, 4);
    int e = talk(sock, &r.h);
    return e == -EEXIST ? 0 : e;
}

int nsfs_bridge_ensure(const char *name, uint32_t address, int prefix) {
    int sock = route_socket();
    if (sock < 0) return sock;
    struct nl_request r;
    link_request(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    put_attr(&r.h, IFLA_IFNAME, name, strlen(name) + 1);
    struct rtattr *info = put_attr(&r.h, IFLA_LINKINFO, NULL, 0);
    put_attr(&r.h, IFLA_INFO_KIND, "bridge", 7);
    end_nest(&r.h, info);
    int e = talk(sock, &r.h);
    int index = e == 0 || e == -EEXIST ? (int)if_nametoindex(name) : e;
    if (index == 0) index = -errno;
    if (index > 0 && (e = add_address(sock, index, address, prefix)) == 0) e = set_up(sock, index);
    close(sock);
    if (index < 0) return index;
    return e < 0 ? e : index;
}

struct netns_socket_ctx { int pidfd; int sock; int error; };

// Shares our descriptor table (CLONE_FILES): the socket it makes in the
// container's net namespace is ours.
static int netns_socket_child(void *p) {
    struct netns_socket_ctx *c = p;
    if (syscall(SYS_setns, c->pidfd, CLONE_NEWNET) != 0) { c->error = errno; return 1; }
    c->sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (c->sock < 0) c->error = errno;
    return 0;
}

int nsfs_veth_attach(int init_pidfd, int netns_fd, const char *host_name, int bridge_index,
                     uint32_t address, int prefix, uint32_t gateway, int *step) {
    *step = NSFS_NET_STEP_VETH;
    int sock = route_socket();
    if (sock < 0) return sock;
    // The pair: host_name here (on the bridge), eth0 in the container's namespace.
    struct nl_request r;
    link_request(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
    put_attr(&r.h, IFLA_IFNAME, host_name, strlen(host_name) + 1);
    put_attr(&r.h, IFLA_MASTER, &bridge_index, 4);
    struct rtattr *info = put_attr(&r.h, IFLA_LINKINFO, NULL, 0);
    put_attr(&r.h, IFLA_INFO_KIND, "veth", 5);
    struct rtattr *data = put_attr(&r.h, IFLA_INFO_DATA, NULL, 0);
    struct rtattr *peer = put_attr(&r.h, VETH_INFO_PEER, NULL, 0);
    struct ifinfomsg peer_info = {.ifi_family = AF_UNSPEC};
    r.h.nlmsg_len += sizeof peer_info;
    memcpy(RTA_DATA(peer), &peer_info, sizeof peer_info);
    put_attr(&r.h, IFLA_IFNAME, "eth0", 5);
    put_attr(&r.h, IFLA_NET_NS_FD, &netns_fd, 4);
    end_nest(&r.h, peer);
    end_nest(&r.h, data);
    end_nest(&r.h, info);
    int e = talk(sock, &r.h);
    int index = e == 0 ? (int)if_nametoindex(host_name) : 0;
    if (e == 0 && index == 0) e = -errno;
    if (e == 0) e = set_up(sock, index);
    close(sock);
    if (e) return e;

    *step = NSFS_NET_STEP_INSIDE;
    struct netns_socket_ctx ctx = {init_pidfd, -1, 0};
    long pid = nsfs_vfork_run(CLONE_FILES, SIGCHLD, netns_socket_child, &ctx);
    if (pid < 0) return (int)pid;
    nsfs_reap(pid);
    if (ctx.error) return -ctx.error;
    // eth0's index there: asked by name through that namespace's socket.
    struct nl_request q;
    link_request(&q, RTM_GETLINK, 0, 0);
    put_attr(&q.h, IFLA_IFNAME, "eth0", 5);
    q.h.nlmsg_flags |= NLM_F_REQUEST;
    q.h.nlmsg_seq = 1;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int inside = -ENODEV;
    if (sendto(ctx.sock, &q.h, q.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        inside = -errno;
    } else {
        char reply[4096];
        ssize_t n = recv(ctx.sock, reply, sizeof reply, 0);
        struct nlmsghdr *h = (struct nlmsghdr *)reply;
        if (n < 0) inside = -errno;
        else if (NLMSG_OK(h, (unsigned)n) && h->nlmsg_type == RTM_NEWLINK) inside = ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
        else if (NLMSG_OK(h, (unsigned)n) && h->nlmsg_type == NLMSG_ERROR) inside = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
    e = inside < 0 ? inside : add_address(ctx.sock, inside, address, prefix);
    if (!e) e = set_up(ctx.sock, inside);
    if (!e) { *step = NSFS_NET_STEP_ROUTE; e = default_route(ctx.sock, gateway); }
    close(ctx.sock);
    return e;
}

int nsfs_run(char *const argv[], const char *input, int *status) {
    extern char **environ;
    return nsfs_spawn_with_input(argv[0], argv, environ, input, 1, 0, status);
}
