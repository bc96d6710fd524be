// Kill at scale: `rm -rf` of a container holding N processes, against
// cgroup.kill on a plain cgroup holding N processes and waiting for
// "populated 0" (then rmdir), alternating one of each. Prints medians.
//   kill_scale MOUNTDIR CGROUPDIR N RUNS
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

static int write_file(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
    close(fd);
    return rc;
}

static int count_lines(const char *path) {
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0;
    if (fd < 0) return -1;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < r; i++) n += buf[i] == '\n';
    close(fd);
    return n;
}

// A helper joins cgroup `cg` (and the pid namespace behind pidfd, if any),
// forks n sleepers there and exits; waits until they are all in `cg`.
static int populate(const char *cg, int pidfd, int n) {
    pid_t h = fork();
    if (h == 0) {
        char procs[600], self[32];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", cg);
        snprintf(self, sizeof self, "%d", getpid());
        if (write_file(procs, self) != 0) _exit(1);
        if (pidfd >= 0 && setns(pidfd, CLONE_NEWPID) != 0) _exit(1);
        for (int i = 0; i < n; i++) {
            pid_t c = fork();
            if (c == 0) { for (;;) pause(); }
            if (c < 0) _exit(1);
        }
        _exit(0);
    }
    int st;
    waitpid(h, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    char procs[600];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", cg);
    while (count_lines(procs) < n) usleep(1000);
    return 0;
}

static int status_field(const char *dir, const char *key, char *out, size_t len) {
    char path[600], line[1024];
    snprintf(path, sizeof path, "%s/status", dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int found = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) {
            snprintf(out, len, "%s", line + strlen(key));
            out[strcspn(out, "\n")] = 0;
            found = 0;
        }
    fclose(f);
    return found;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s MOUNTDIR CGROUPDIR N RUNS\n", argv[0]); return 2; }
    const char *mnt = argv[1], *cgroot = argv[2];
    int n = atoi(argv[3]), runs = atoi(argv[4]);
    double *ours = calloc(runs, sizeof(double)), *base = calloc(runs, sizeof(double));
    for (int r = 0; r < runs; r++) {
        // namespacefs: mkdir, fill, rm -rf (the command, as a user runs it)
        char dir[600], initpid[32], cgrel[512], cg[1200];
        snprintf(dir, sizeof dir, "%s/k%d", mnt, r);
        if (mkdir(dir, 0755) != 0) { perror("mkdir"); return 1; }
        if (status_field(dir, "init: ", initpid, sizeof initpid) || status_field(dir, "cgroup: ", cgrel, sizeof cgrel)) {
            fprintf(stderr, "cannot read %s/status\n", dir);
            return 1;
        }
        // cgroup paths in status are relative to the cgroup2 mount: CGROUPDIR's mount prefix.
        const char *cgmnt = getenv("CGROUP2");
        snprintf(cg, sizeof cg, "%s%s", cgmnt ? cgmnt : "", cgrel);
        int pidfd = (int)syscall(SYS_pidfd_open, atoi(initpid), 0);
        if (pidfd < 0 || populate(cg, pidfd, n) != 0) { fprintf(stderr, "cannot fill %s\n", dir); return 1; }
        close(pidfd);
        char *rm[] = {"rm", "-rf", dir, NULL};
        pid_t p;
        double t0 = now_us();
        if (posix_spawnp(&p, "rm", NULL, NULL, rm, environ) != 0) return 1;
        int st;
        waitpid(p, &st, 0);
        ours[r] = now_us() - t0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "rm -rf failed\n"); return 1; }

        // baseline: a plain cgroup, cgroup.kill, wait for populated 0, rmdir
        char bcg[700], path[800];
        snprintf(bcg, sizeof bcg, "%s/b%d", cgroot, r);
        if (mkdir(bcg, 0755) != 0 || populate(bcg, -1, n) != 0) { fprintf(stderr, "cannot fill %s\n", bcg); return 1; }
        snprintf(path, sizeof path, "%s/cgroup.events", bcg);
        int ev = open(path, O_RDONLY | O_CLOEXEC);
        snprintf(path, sizeof path, "%s/cgroup.kill", bcg);
        t0 = now_us();
        write_file(path, "1");
        for (;;) {
            char buf[256];
            ssize_t k = pread(ev, buf, sizeof buf - 1, 0);
            buf[k > 0 ? k : 0] = 0;
            if (strstr(buf, "populated 0")) break;
            struct pollfd pf = {ev, POLLPRI, 0};
            poll(&pf, 1, 100);
        }
        rmdir(bcg);
        base[r] = now_us() - t0;
        close(ev);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
    double o = percentile(ours, runs, .5), b = percentile(base, runs, .5);
    printf("%-34s %12s\n", "kill N processes (ms, median)", "");
    printf("%-34s %12.1f\n", "rm -rf of a container (namespacefs)", o / 1000);
    printf("%-34s %12.1f\n", "cgroup.kill + populated 0 + rmdir", b / 1000);
    printf("%-34s %11.2fx\n", "ratio", o / b);
    return 0;
}
