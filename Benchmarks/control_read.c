// Time to read a file whole (open + read to EOF + close), each sample from a
// fresh thread (a new reader: namespacefs keeps a per-reader snapshot, which
// must not serve the sample). Prints the median for each file and its ratio
// to the first file (the baseline). Each file gets N/10 untimed reads first.
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

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s N FILE...\n", argv[0]); return 2; }
    int n = atoi(argv[1]);
    double *shared = calloc(n, sizeof(double));
    double base = 0;
    printf("%-40s %12s %8s\n", "file", "median (us)", "ratio");
    for (int f = 2; f < argc; f++) {
        // Untimed warm-up reads first (dentries, the daemon's caches, CPU
        // frequency), the same for every file and for the baseline.
        for (int i = 0; i < n / 10; i++) {
            struct sample smp = {argv[f], 0, 0};
            pthread_t t;
            pthread_create(&t, NULL, one_read, &smp);
            pthread_join(t, NULL);
        }
        for (int i = 0; i < n; i++) {
            struct sample smp = {argv[f], 0, 0};
            pthread_t t;
            pthread_create(&t, NULL, one_read, &smp);
            pthread_join(t, NULL);
            if (!smp.ok) { fprintf(stderr, "cannot read %s\n", argv[f]); return 1; }
            shared[i] = smp.us;
        }
        double med = percentile(shared, n, .5);
        if (f == 2) base = med;
        printf("%-40s %12.1f %7.2fx\n", argv[f], med, med / base);
    }
    return 0;
}
