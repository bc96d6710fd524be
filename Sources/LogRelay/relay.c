// namespacefs-log-relay LOG [PID]: carries what a detached process (nsctl
// exec -d) writes — its stdout and stderr, this program's stdin — into its
// container's `log` entry, a line at a time as `PID<TAB>TEXT` (the daemon
// stamps the time).
//
// The process never waits for the log for long: one thread reads stdin at
// once into a bounded queue; another appends to LOG. When the queue is full
// (a process that writes faster than the log takes, or a mount whose daemon
// is being replaced) lines are dropped and counted, and the count is logged
// when there is room again. A failed append (the mount gone: unmounted, or
// its connection aborted) is retried by opening LOG again, every half second,
// for as long as the process writes; at its end (EOF) what is queued is
// given 5 seconds more. Plain C, no Swift runtime: started with fork+exec by
// nsctl, it outlives nsctl. nsctl starts it before the process (after, it
// would be born in the container's pid namespace, which nsctl has joined
// for its children, and be a process of the container): without PID, the
// pid comes as one line on descriptor 3.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { QUEUE = 1 << 20, LINE = 4096, BATCH = 32 * 1024 };

static char queue[QUEUE];
static size_t queued, dropped;
static int ended;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static const char *log_path, *pid;
static char pid_line[24];

// One line (without its newline) into the queue, or counted as dropped.
static void enqueue(const char *text, size_t n) {
    char line[LINE + 32];
    int head = snprintf(line, sizeof line, "%s\t", pid);
    if (n > LINE) n = LINE;
    memcpy(line + head, text, n);
    line[head + n] = '\n';
    size_t len = (size_t)head + n + 1;
    pthread_mutex_lock(&lock);
    if (queued + len > QUEUE) {
        dropped++;
    } else {
        memcpy(queue + queued, line, len);
        queued += len;
        pthread_cond_signal(&more);
    }
    pthread_mutex_unlock(&lock);
}

static void *reader(void *unused) {
    (void)unused;
    char buf[65536], partial[LINE];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || have == LINE) {
                enqueue(partial, have);
                have = 0;
                if (buf[i] == '\n') continue;
            }
            partial[have++] = buf[i];
        }
    }
    if (have) enqueue(partial, have);
    pthread_mutex_lock(&lock);
    ended = 1;
    pthread_cond_signal(&more);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int open_log(void) {
    return open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
}

// Write all of buf, reopening LOG after a failure; 0, or -1 once `deadline`
// (monotonic seconds, 0: none) has passed.
static int append(int *fd, const char *buf, size_t n, time_t deadline) {
    while (n) {
        if (*fd < 0) *fd = open_log();
        ssize_t w = *fd >= 0 ? write(*fd, buf, n) : -1;
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (*fd >= 0) close(*fd);
        *fd = -1;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (deadline && now.tv_sec > deadline) return -1;
        usleep(500 * 1000);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        puts("namespacefs-log-relay 0.1.0");
        return 0;
    }
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: namespacefs-log-relay LOG [PID] (started by nsctl exec -d)\n");
        return 2;
    }
    log_path = argv[1];
    if (argc == 3) {
        pid = argv[2];
    } else {
        // Until nsctl knows it; nothing (CMD did not start): "-".
        ssize_t n, got = 0;
        while (got < (ssize_t)sizeof pid_line - 1 && (n = read(3, pid_line + got, sizeof pid_line - 1 - (size_t)got)) != 0) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            got += n;
        }
        while (got > 0 && (pid_line[got - 1] == '\n' || pid_line[got - 1] == ' ')) got--;
        pid_line[got] = 0;
        close(3);
        pid = got ? pid_line : "-";
    }
    pthread_t t;
    if (pthread_create(&t, NULL, reader, NULL) != 0) return 1;
    int fd = open_log();
    // The whole queue is taken at once (one copy, no moving what is left)
    // and appended in writes of whole lines up to BATCH.
    static char batch[QUEUE + 128];
    time_t deadline = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!queued && !dropped && !ended) pthread_cond_wait(&more, &lock);
        if (!queued && !dropped && ended) {
            pthread_mutex_unlock(&lock);
            break;
        }
        memcpy(batch, queue, queued);
        size_t n = queued;
        queued = 0;
        // Lines are dropped when the queue is full: after all it held.
        if (dropped) {
            n += (size_t)snprintf(batch + n, 128, "%s\t[namespacefs: %zu lines dropped: the log could not keep up]\n", pid, dropped);
            dropped = 0;
        }
        int done = ended;
        pthread_mutex_unlock(&lock);
        if (done && !deadline) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            deadline = now.tv_sec + 5;
        }
        int failed = 0;
        for (size_t at = 0; at < n && !failed;) {
            size_t take = n - at < BATCH ? n - at : BATCH;
            while (at + take < n && take > 1 && batch[at + take - 1] != '\n') take--;
            failed = append(&fd, batch + at, take, deadline) != 0;
            at += take;
        }
        if (failed) break;
    }
    return 0;
}
