// Timing helpers shared by the benchmark programs.
#ifndef NSFS_BENCH_H
#define NSFS_BENCH_H
#include <stdlib.h>
#include <time.h>

static inline double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// The p-quantile (0..1) of n samples; sorts them.
static inline double percentile(double *v, int n, double p) {
    qsort(v, n, sizeof *v, bench_cmp);
    return v[(int)(p * (n - 1))];
}
#endif
