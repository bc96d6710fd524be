// Time `ls DIR` on several directories in turn, round after round: side by
// side, so every directory meets the same machine. Prints median, p90 and
// mean per directory, in microseconds. Two ways:
//   list_probe ROUNDS DIR...        the syscalls of ls (stat, open,
//                                   getdents, close) from this process
//   list_probe -x ROUNDS DIR...     /bin/ls itself, spawned and waited for
//                                   (a new process each time, as from a shell)
#define _GNU_SOURCE
#include "bench.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static double spawn_ls(const char *dir) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"ls", (char *)dir, NULL};
    double t = now_us();
    pid_t pid;
    if (posix_spawn(&pid, "/bin/ls", &fa, NULL, argv, environ) != 0) { perror("posix_spawn"); exit(1); }
    int status;
    waitpid(pid, &status, 0);
    double d = now_us() - t;
    posix_spawn_file_actions_destroy(&fa);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "ls %s failed\n", dir); exit(1); }
    return d;
}

static double list_once(const char *dir, int *entries) {
    char buf[65536];
    struct stat st;
    double t = now_us();
    if (stat(dir, &st) != 0) { perror(dir); exit(1); }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) { perror(dir); exit(1); }
    int n = 0;
    long got;
    while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < got; n++) off += ((struct dirent64 *)(buf + off))->d_reclen;
    }
    close(fd);
    *entries = n;
    return now_us() - t;
}

int main(int argc, char **argv) {
    int spawn = argc > 1 && argv[1][0] == '-' && argv[1][1] == 'x';
    if (spawn) { argv++; argc--; }
    if (argc < 3) { fprintf(stderr, "usage: list_probe [-x] ROUNDS DIR...\n"); return 2; }
    int rounds = atoi(argv[1]), dirs = argc - 2;
    double *t = malloc(sizeof *t * rounds * dirs);
    int entries[64] = {0};
    for (int r = 0; r < rounds; r++)
        for (int d = 0; d < dirs; d++)
            t[d * rounds + r] = spawn ? spawn_ls(argv[2 + d]) : list_once(argv[2 + d], &entries[d]);
    for (int d = 0; d < dirs; d++) {
        double *v = t + d * rounds, sum = 0;
        for (int r = 0; r < rounds; r++) sum += v[r];
        double median = percentile(v, rounds, 0.5), p90 = percentile(v, rounds, 0.9);
        printf("%s\t%d entries\tmedian %.1f\tp90 %.1f\tmean %.1f\n", argv[2 + d], entries[d], median, p90, sum / rounds);
    }
    return 0;
}
