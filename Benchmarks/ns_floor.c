// The kernel's own cost of what the first look at a container's sets must
// read: the namespaces (8 kinds) of each of its processes, by stat of
// /proc/PID/ns/KIND (the inode is the namespace's identity), once, from
// the list in a cgroup.procs file. Prints: processes, microseconds.
//   ns_floor CGROUP.PROCS
#include <stdio.h>
#include <sys/stat.h>

#include "bench.h"

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: ns_floor CGROUP.PROCS\n"); return 2; }
    static const char *kinds[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
    static int pids[1 << 16];
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror(argv[1]); return 1; }
    int n = 0;
    while (n < (int)(sizeof pids / sizeof pids[0]) && fscanf(f, "%d", &pids[n]) == 1) n++;
    fclose(f);
    unsigned long sum = 0;
    double t0 = now_us();
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 8; k++) {
            char path[64];
            struct stat st;
            snprintf(path, sizeof path, "/proc/%d/ns/%s", pids[i], kinds[k]);
            if (stat(path, &st) == 0) sum += st.st_ino;
        }
    double us = now_us() - t0;
    printf("%d %.0f\n", n, us + (sum == 1 ? 1 : 0));   // (sum: the reads are not optimised away)
    return 0;
}
