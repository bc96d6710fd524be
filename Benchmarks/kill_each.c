// The kernel's floor for removing sets one by one, as `rm -rf` of a
// container does (each rmdir returns once that set's processes are dead):
// every pid on standard input (all read first), one at a time, stopped,
// killed through a pidfd and its exit awaited. Prints the total in ms and
// how many died.
//   kill_each < PIDS
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

int main(void) {
    int cap = 1024, count = 0, pid;
    int *pids = malloc(sizeof(int) * cap);
    while (scanf("%d", &pid) == 1) {
        if (count == cap) pids = realloc(pids, sizeof(int) * (cap *= 2));
        pids[count++] = pid;
    }
    int died = 0;
    double start = now_us();
    for (int i = 0; i < count; i++) {
        int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
        if (fd < 0) continue;
        syscall(SYS_pidfd_send_signal, fd, SIGSTOP, NULL, 0);
        syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5000) != 1) { fprintf(stderr, "kill_each: %d did not die\n", pids[i]); return 1; }
        close(fd);
        died++;
    }
    printf("%.0f %d\n", (now_us() - start) / 1000, died);
    return 0;
}
