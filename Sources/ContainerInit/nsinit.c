// nsinit: pid 1 of every container. It keeps the namespaces alive and reaps
// orphans; nothing else. No libc: a static binary of a few KB whose resident
// set is a handful of pages (a glibc-static init costs ~700 KB per container).
//
// Signals: all blocked and taken with rt_sigtimedwait, so nothing from inside
// the container can stop it; only SIGKILL from outside (cgroup.kill) ends it,
// and with it the container.
#include <asm/unistd.h>
#include <linux/signal.h>
#include <linux/wait.h>

typedef unsigned long u64;

static long sys4(long n, long a, long b, long c, long d) {
    long r;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    r = x0;
#else
#error "nsinit: add this architecture's syscall convention"
#endif
    return r;
}

struct k_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    u64 mask;
};

#ifndef __WALL
#define __WALL 0x40000000
#endif

// `namespacefs-init --version` (the daemon runs it with argv[0] alone).
static void answer_version(long *sp) {
    static const char want[] = "--version", line[] = "namespacefs-init 0.1.0\n";
    const char *arg = sp[0] > 1 ? (const char *)sp[2] : 0;
    for (int i = 0; arg && i < (int)sizeof want; i++)
        if (arg[i] != want[i]) return;
    if (!arg) return;
    sys4(__NR_write, 1, (long)line, sizeof line - 1, 0);
    sys4(__NR_exit_group, 0, 0, 0, 0);
}

__attribute__((noreturn, used)) void nsinit_main(long *sp) {
    answer_version(sp);
    // SIGCHLD must not be ignored (inherited SIG_IGN would auto-reap and
    // never report); default disposition, but blocked, so it queues for us.
    struct k_sigaction dfl = {0};
    sys4(__NR_rt_sigaction, SIGCHLD, (long)&dfl, 0, sizeof(u64));
    u64 all = ~0ULL;
    sys4(__NR_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, sizeof(u64));
    sys4(__NR_chdir, (long)"/", 0, 0, 0);
    for (;;) {
        while (sys4(__NR_wait4, -1, 0, WNOHANG | __WALL, 0) > 0) {}
        // A child that died after the wait4 above left SIGCHLD pending.
        sys4(__NR_rt_sigtimedwait, (long)&all, 0, 0, sizeof(u64));
    }
}

#if defined(__x86_64__)
__asm__(".text\n.globl _start\n_start:\n  xor %ebp,%ebp\n  mov %rsp,%rdi\n  and $-16,%rsp\n  call nsinit_main\n  hlt\n");
#elif defined(__aarch64__)
__asm__(".text\n.globl _start\n_start:\n  mov x29, #0\n  mov x0, sp\n  bl nsinit_main\n  brk #0\n");
#endif
