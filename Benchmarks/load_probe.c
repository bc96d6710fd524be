// Reads of a quiet container while something else happens: every INTERVAL
// µs for SECONDS (or until the file STOP exists, if given), a whole read
// (open, read to EOF, close) of FILE_A, then of FILE_B (a kernel file
// beside it: the yardstick), each timed. Prints for each: samples, p50,
// p99, max (µs).
//   load_probe SECONDS INTERVAL_US FILE_A FILE_B [STOP]
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

static double read_whole(const char *path) {
    char buf[65536];
    double t0 = now_us();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    while (read(fd, buf, sizeof buf) > 0) {}
    close(fd);
    return now_us() - t0;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) { fprintf(stderr, "usage: load_probe SECONDS INTERVAL_US FILE_A FILE_B [STOP]\n"); return 2; }
    double seconds = atof(argv[1]);
    int interval = atoi(argv[2]);
    int cap = (int)(seconds * 1e6 / interval) + 16;
    double *a = calloc((size_t)cap, sizeof *a), *b = calloc((size_t)cap, sizeof *b);
    int n = 0;
    double end = now_us() + seconds * 1e6;
    while (now_us() < end && n < cap && (argc < 6 || access(argv[5], F_OK) != 0)) {
        double x = read_whole(argv[3]), y = read_whole(argv[4]);
        if (x < 0 || y < 0) { fprintf(stderr, "a read failed\n"); return 1; }
        a[n] = x;
        b[n] = y;
        n++;
        usleep((useconds_t)interval);
    }
    for (int f = 0; f < 2; f++) {
        double *v = f ? b : a;
        double max = 0;
        for (int i = 0; i < n; i++) if (v[i] > max) max = v[i];
        printf("%s\t%d\t%.0f\t%.0f\t%.0f\n", argv[3 + f], n, percentile(v, n, .5), percentile(v, n, .99), max);
    }
    return 0;
}
