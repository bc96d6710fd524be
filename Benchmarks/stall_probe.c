// The requests of bystanders while something slow happens elsewhere in the
// tree: repeats, until PID exits (or for MS milliseconds if PID is 0),
//   cat  MOUNT/c/status        (open + read + close of another container's file)
//   ls   MOUNT                 (opendir + getdents of the root)
//   mkdir MOUNT/d/x, rmdir MOUNT/d/x   (an unrelated container made and killed)
//   cat  /proc/self/status     (the baseline: a kernel file, no FUSE: what the
//                               machine's own scheduling costs a reader meanwhile)
//   mkdir + rmdir CGDIR/x      (a baseline for mkdir and rmdir: a bare cgroup,
//                               what the kernel's cgroup locks cost meanwhile)
//   posix_spawn /bin/true + wait   (a baseline for mkdir: a new process must
//                               get a CPU among the dying ones, as an init must)
// and prints, per operation, how many ran, the median and the worst, in ms.
//   stall_probe MOUNT PID MS LABEL CGDIR
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

enum { MAX = 100000, OPS = 7 };
static double samples[OPS][MAX];
static int counts[OPS];
static const char *names[OPS] = {"cat status", "ls root", "mkdir", "rmdir", "/proc (baseline)", "cgroup (baseline)", "spawn (baseline)"};

static void record(int op, double t0) {
    if (counts[op] < MAX) samples[op][counts[op]++] = (now_us() - t0) / 1000.0;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: stall_probe MOUNT PID MS LABEL CGDIR\n"); return 2; }
    const char *mnt = argv[1];
    pid_t pid = atoi(argv[2]);
    double end = now_us() + atof(argv[3]) * 1000.0;
    char status[4096], dir[4096], cg[4096];
    snprintf(cg, sizeof cg, "%s/x", argv[5]);
    snprintf(status, sizeof status, "%s/c/status", mnt);
    snprintf(dir, sizeof dir, "%s/d/x", mnt);
    char buf[4096];
    while (pid > 0 ? kill(pid, 0) == 0 : now_us() < end) {
        double t = now_us();
        int fd = open(status, O_RDONLY);
        if (fd >= 0) { while (read(fd, buf, sizeof buf) > 0) {} close(fd); }
        record(0, t);
        t = now_us();
        DIR *d = opendir(mnt);
        if (d) { while (readdir(d)) {} closedir(d); }
        record(1, t);
        t = now_us();
        if (mkdir(dir, 0755) != 0) { perror("mkdir"); return 1; }
        record(2, t);
        t = now_us();
        if (rmdir(dir) != 0) { perror("rmdir"); return 1; }
        record(3, t);
        t = now_us();
        fd = open("/proc/self/status", O_RDONLY);
        if (fd >= 0) { while (read(fd, buf, sizeof buf) > 0) {} close(fd); }
        record(4, t);
        t = now_us();
        if (mkdir(cg, 0755) != 0 || rmdir(cg) != 0) { perror("cgroup"); return 1; }
        record(5, t);
        t = now_us();
        pid_t child;
        char *argv_true[] = {"true", NULL};
        if (posix_spawn(&child, "/bin/true", NULL, NULL, argv_true, environ) == 0) waitpid(child, NULL, 0);
        record(6, t);
    }
    for (int op = 0; op < OPS; op++) {
        int n = counts[op];
        if (n == 0) { printf("%-34s %-16s %5s\n", argv[4], names[op], "0"); continue; }
        double worst = percentile(samples[op], n, 1.0), median = percentile(samples[op], n, 0.5);
        printf("%-34s %-16s %5d %9.2f %9.2f\n", argv[4], names[op], n, median, worst);
    }
    return 0;
}
