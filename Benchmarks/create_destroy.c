// Create/destroy latency: namespacefs (mkdir/rmdir through the mount) against
// the direct kernel path (cgroup mkdir + the same clone3 + exec of the same
// init; cgroup.kill + wait + cgroup rmdir), alternating one of each so both
// see the same machine state. Prints p50/p90 and the ratios.
//   create_destroy MOUNTDIR CGROUPDIR INIT N
#define _GNU_SOURCE
#include "namespace_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

// One run of `unshare ... true` (the same namespaces, /proc mounted, a
// process run and reaped): what a user gets from util-linux instead.
static double unshare_once(void) {
    char *argv[] = {"unshare", "--fork", "--pid", "--mount-proc", "--mount", "--uts", "--ipc", "--net",
                    "--cgroup", "--time", "true", NULL};
    pid_t p;
    double t0 = now_us();
    if (posix_spawnp(&p, "unshare", NULL, NULL, argv, environ) != 0) return -1;
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    return now_us() - t0;
}


struct direct { int pidfd; char cg[512]; };
// DIRECT_USERNS=0: the direct path without a user namespace (-o userns=off).
static int with_userns = 1;

static int direct_create(const char *root, int i, int init_fd, int devnull, struct direct *d) {
    snprintf(d->cg, sizeof d->cg, "%s/direct%d", root, i);
    if (mkdir(d->cg, 0755) != 0) return -errno;
    int cgfd = open(d->cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    // As namespacefs does by default: a user namespace of its own first,
    // mapping a block of host ids (above namespacefs's default pool).
    int userns = -1;
    if (with_userns) {
        char map[64];
        snprintf(map, sizeof map, "0 %u 65536\n", 0x70000000u + (unsigned)(i % 64) * 65536u);
        userns = nsfs_make_userns(-1, init_fd, -1, -1, 0, map, map);
        if (userns < 0) { close(cgfd); return userns; }
    }
    struct nsfs_spawn_request req = {.parent_pidfd = -1, .cgroup_fd = cgfd, .init_fd = init_fd, .devnull_fd = devnull,
                                     .hostname = "direct", .argv0 = "nsinit",
                                     .new_namespaces = nsfs_default_namespaces(), .userns_fd = userns};
    struct nsfs_spawn_result res;
    int rc = nsfs_spawn_init(&req, &res);
    close(cgfd);
    if (userns >= 0) close(userns);
    d->pidfd = res.pidfd;
    return rc;
}

static int direct_destroy(struct direct *d) {
    char path[600];
    snprintf(path, sizeof path, "%s/cgroup.kill", d->cg);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "1", 1) != 1) return -errno;
    close(fd);
    struct pollfd p = {d->pidfd, POLLIN, 0};
    poll(&p, 1, 10000);
    nsfs_pidfd_reap(d->pidfd);
    close(d->pidfd);
    while (rmdir(d->cg) != 0) {
        if (errno != EBUSY) return -errno;
        usleep(100);
    }
    return 0;
}

// PAUSE_MS=50: each measured operation comes after that long idle, as a
// command typed at a shell does (back to back, the CPUs never sleep).
static useconds_t pause_us;
static void idle(void) { if (pause_us) usleep(pause_us); }

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MOUNTDIR CGROUPDIR INIT N\n", argv[0]);
        return 2;
    }
    const char *mnt = argv[1], *cgroot = argv[2];
    const char *u = getenv("DIRECT_USERNS");
    with_userns = !(u && strcmp(u, "0") == 0);
    int n = atoi(argv[4]);
    const char *pm = getenv("PAUSE_MS");
    pause_us = pm ? (useconds_t)atoi(pm) * 1000 : 0;
    int init_fd = open(argv[3], O_PATH | O_CLOEXEC);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    // ONLY_DIRECT_REMOVAL=1: the floor of `rm -rf` of N containers — N made
    // the direct way (untimed), then each killed (cgroup.kill), awaited and
    // its cgroup removed, one after another, timed as a whole.
    const char *only = getenv("ONLY_DIRECT_REMOVAL");
    if (only && strcmp(only, "1") == 0) {
        struct direct *all = calloc(n, sizeof *all);
        for (int i = 0; i < n; i++)
            if (direct_create(cgroot, i, init_fd, devnull, &all[i]) != 0) { fprintf(stderr, "create %d failed\n", i); return 1; }
        double t0 = now_us();
        for (int i = 0; i < n; i++)
            if (direct_destroy(&all[i]) != 0) { fprintf(stderr, "destroy %d failed\n", i); return 1; }
        printf("direct removal of %d containers (cgroup.kill, exit awaited, rmdir, one by one): %.0f ms\n", n, (now_us() - t0) / 1000);
        return 0;
    }
    double *fc = calloc(n, sizeof(double)), *dc = calloc(n, sizeof(double));
    double *fd_ = calloc(n, sizeof(double)), *dd = calloc(n, sizeof(double));
    struct direct *ds = calloc(n, sizeof *ds);
    char path[600];
    for (int i = 0; i < n; i++) {
        idle();
        double t0 = now_us();
        int rc = direct_create(cgroot, i, init_fd, devnull, &ds[i]);
        double tc = now_us();
        snprintf(path, sizeof path, "%s/bench%d", mnt, i);
        idle();
        double t1 = now_us();
        int rc2 = mkdir(path, 0755);
        double t2 = now_us();
        if (rc != 0 || rc2 != 0) { fprintf(stderr, "create %d failed: %d %s\n", i, rc, strerror(errno)); return 1; }
        dc[i] = tc - t0;
        fc[i] = t2 - t1;
    }
    for (int i = 0; i < n; i++) {
        idle();
        double t0 = now_us();
        int rc = direct_destroy(&ds[i]);
        double td = now_us();
        snprintf(path, sizeof path, "%s/bench%d", mnt, i);
        idle();
        double t1 = now_us();
        int rc2 = rmdir(path);
        double t2 = now_us();
        if (rc != 0 || rc2 != 0) { fprintf(stderr, "destroy %d failed: %d %s\n", i, rc, strerror(errno)); return 1; }
        dd[i] = td - t0;
        fd_[i] = t2 - t1;
    }
    double fc50 = percentile(fc, n, .5), fc90 = percentile(fc, n, .9), dc50 = percentile(dc, n, .5), dc90 = percentile(dc, n, .9);
    double fd50 = percentile(fd_, n, .5), fd90 = percentile(fd_, n, .9), dd50 = percentile(dd, n, .5), dd90 = percentile(dd, n, .9);
    printf("%-8s %12s %12s %12s %12s %9s\n", "op (us)", "nsfs p50", "direct p50", "nsfs p90", "direct p90", "p50 ratio");
    printf("%-8s %12.0f %12.0f %12.0f %12.0f %8.2fx\n", "mkdir", fc50, dc50, fc90, dc90, fc50 / dc50);
    printf("%-8s %12.0f %12.0f %12.0f %12.0f %8.2fx\n", "rmdir", fd50, dd50, fd90, dd90, fd50 / dd50);
    const char *nu = getenv("NO_UNSHARE");
    if (nu && strcmp(nu, "1") == 0) return 0;
    double *us = calloc(n, sizeof(double));
    for (int i = 0; i < n; i++) {
        idle();
        if ((us[i] = unshare_once()) < 0) { fprintf(stderr, "unshare failed\n"); return 1; }
    }
    double u50 = percentile(us, n, .5), u90 = percentile(us, n, .9);
    printf("\nunshare --fork --pid --mount-proc --mount --uts --ipc --net --cgroup --time true:\n");
    printf("  p50 %.0f us, p90 %.0f us; namespacefs mkdir + rmdir p50 %.0f us = %.2fx of it\n",
           u50, u90, fc50 + fd50, (fc50 + fd50) / u50);
    return 0;
}
