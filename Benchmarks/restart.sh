#!/usr/bin/env bash
# A daemon crash as users see it: a reader loops on the mount (open + read of
# a control file, stat of a container) while the daemon is SIGKILLed and
# started again KILLS times, as a supervisor would. Printed: the worst
# request latency, the time from SIGKILL to serving again, and the requests
# that failed — with the holder (the mount is taken over) and, side by side,
# without it (-o hold=0: the mount aborts, fusermount3 -u -z, a new mount:
# what every FUSE filesystem does).
#   Benchmarks/restart.sh [KILLS=10] [CONTAINERS=100]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kills=${1:-10} containers=${2:-100}
echo "SIGKILL + restart $kills times with $containers containers, $(nproc) cores, kernel $(uname -r)"

# The daemon: of the processes with its command line, the one holding /dev/fuse.
daemon_pid() {
    local p
    for p in $(pgrep -f -x "$BIN/namespacefs $MNT -o .*"); do
        # (grep -c reads it all: with -q, ls could die of SIGPIPE, and pipefail say no)
        if [ "$(ls -l "/proc/$p/fd" 2>/dev/null | grep -c ' -> /dev/fuse$')" != 0 ]; then echo "$p"; return 0; fi
    done
    return 1
}

# run MODE: one series of kills; MODE is "takeover" or "remount".
run() {
    local mode=$1
    NSFS_OPTIONS=$([ "$mode" = remount ] && echo hold=0 || true) bench_mount
    local i
    for i in $(seq "$containers"); do mkdir "$MNT/c$i"; done
    python3 - "$MNT" "$WORK/probe.$mode" "$WORK/stop" <<'EOF' &
import os, sys, time
mnt, out, stop = sys.argv[1:4]
log = []
while not os.path.exists(stop):
    t0 = time.monotonic()
    err = ""
    try:
        with open(mnt + "/c1/hostname") as f:
            f.read()
        os.stat(mnt + "/c2")
    except OSError as e:
        err = e.strerror
    log.append((t0, time.monotonic(), err))
with open(out, "w") as f:
    for a, b, e in log:
        f.write(f"{a:.6f} {b:.6f} {e}\n")
EOF
    local prober=$!
    rm -f "$WORK/stop" "$WORK/kills.$mode"
    local k p
    for k in $(seq "$kills"); do
        sleep 0.5
        p=$(daemon_pid)
        kill -9 "$p"
        while kill -0 "$p" 2>/dev/null && ! grep -q '^State:.Z' "/proc/$p/status" 2>/dev/null; do sleep 0.001; done
        # the moment it is dead: requests started from here wait for the next daemon
        python3 -c 'import time; print(f"{time.monotonic():.6f}")' >> "$WORK/kills.$mode"
        if [ "$mode" = remount ]; then fusermount3 -u -z "$MNT"; fi
        "$BIN/namespacefs" "$MNT" -o "state_dir=/run/nsfs-bench-$$,cgroup=$CG/nsfs${NSFS_OPTIONS:+,$NSFS_OPTIONS}" 2>/dev/null
    done
    sleep 0.5
    touch "$WORK/stop"
    wait "$prober"
    rm -rf "$MNT"/c*
    umount "$MNT"
    sleep 0.2
    python3 - "$mode" "$WORK/probe.$mode" "$WORK/kills.$mode" <<'EOF'
import sys
mode, probe, kills = sys.argv[1:4]
reqs = [l.split(" ", 2) for l in open(probe).read().splitlines()]
reqs = [(float(a), float(b), e) for a, b, e in reqs]
ks = [float(l) for l in open(kills).read().split()]
failed = [r for r in reqs if r[2]]
worst = max(b - a for a, b, e in reqs)
# serving again: the first request started after the daemon died that succeeded
gaps = []
for k in ks:
    after = [b for a, b, e in reqs if a >= k and not e]
    if after: gaps.append(min(after) - k)
gaps.sort()
errs = {}
for r in failed: errs[r[2]] = errs.get(r[2], 0) + 1
print(f"{mode:9s} {len(reqs):6d} requests, {len(failed):5d} failed {dict(errs) if errs else ''}")
print(f"{'':9s} worst request latency {worst * 1000:7.1f} ms; SIGKILL to serving again: median {gaps[len(gaps) // 2] * 1000:6.1f} ms, worst {gaps[-1] * 1000:6.1f} ms")
EOF
}
run takeover
run remount
