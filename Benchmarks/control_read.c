// Time to read a file whole (open + read to EOF + close), each sample from a
// fresh thread (a new reader: namespacefs keeps a per-reader snapshot, which
// must not serve the sample). Prints the median for each file and its ratio
// to the first file (the baseline), in two conditions (see measure).
//   control_read N FILE...
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"


struct sample { const char *path; double us; int ok; };

static void *one_read(void *p) {
    struct sample *s = p;
    char buf[65536];
    double t0 = now_us();
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    while (read(fd, buf, sizeof buf) > 0) {}
    close(fd);
    s->us = now_us() - t0;
    s->ok = 1;
    return NULL;
}

static int sample(const char *path, double *us) {
    struct sample smp = {path, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, one_read, &smp);
    pthread_join(t, NULL);
    *us = smp.us;
    return smp.ok;
}

// Two conditions, each file sampled in turn (round robin: whatever else the
// machine does meanwhile, a kernel worker tearing down a network namespace,
// falls on every file alike):
//  - "after a pause": 300 us of sleep before each read, so namespacefs's
//    request loop has stopped polling and sleeps (a cat from a shell: its
//    fork and exec take longer than that); its wake-up is part of the read;
//  - "back to back": reads in a row (a tool reading many files).
static void measure(int n, int files, char **paths, int pause_us, double *us) {
    for (int i = 0; i < n; i++)
        for (int f = 0; f < files; f++) {
            if (pause_us) usleep(pause_us);
            if (!sample(paths[f], &us[(size_t)f * n + i])) {
                fprintf(stderr, "cannot read %s\n", paths[f]);
                exit(1);
            }
        }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s N FILE...\n", argv[0]); return 2; }
    int n = atoi(argv[1]), files = argc - 2;
    char **paths = argv + 2;
    double *paused = calloc((size_t)n * files, sizeof(double));
    double *inrow = calloc((size_t)n * files, sizeof(double));
    double ignored;
    // Untimed warm-up reads first (dentries, the daemon's caches, CPU
    // frequency), the same for every file and for the baseline.
    for (int f = 0; f < files; f++)
        for (int i = 0; i < n / 10; i++) sample(paths[f], &ignored);
    measure(n, files, paths, 300, paused);
    measure(n, files, paths, 0, inrow);
    printf("%-40s %14s %14s\n", "median (us) / ratio", "after a pause", "back to back");
    double base_p = 0, base_r = 0;
    for (int f = 0; f < files; f++) {
        double p = percentile(&paused[(size_t)f * n], n, .5), r = percentile(&inrow[(size_t)f * n], n, .5);
        if (f == 0) { base_p = p; base_r = r; }
        printf("%-40s %7.1f %5.2fx %7.1f %5.2fx\n", paths[f], p, p / base_p, r, r / base_r);
    }
    return 0;
}
