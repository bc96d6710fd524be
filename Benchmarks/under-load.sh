#!/usr/bin/env bash
# Reads of a quiet container while another dies (issue 26 item 6): every
# millisecond, a whole read of the quiet container's `status` and, beside
# it, of its cgroup's cgroup.stat on cgroupfs (the kernel's own file: the
# yardstick), from 50 ms before `rm -rf` of a container of N processes
# until it returns — and the same for SECONDS on an idle tree first.
# Target: p99 of status ≤ 3× cgroupfs's p99 + 1 ms.
#   Benchmarks/under-load.sh [N=1500] [SECONDS=2.5]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-1500}
seconds=${2:-2.5}
gcc -O2 -I Benchmarks -o "$WORK/load_probe" Benchmarks/load_probe.c
bench_mount
mkdir "$MNT/quiet" "$MNT/big"
cgroup_of() { echo "$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$1/status")"; }
quiet_cg=$(cgroup_of "$MNT/quiet")
verdict() {   # probe output: status line, then cgroup.stat line
    echo "$1" | awk -v what="$2" '
        NR == 1 { s50 = $3; s99 = $4; smax = $5; n = $2 }
        NR == 2 { c50 = $3; c99 = $4; cmax = $5 }
        END {
            printf "  %-22s %5d reads each   status p50 %5d p99 %6d max %6d us | cgroup.stat p50 %4d p99 %5d max %6d us\n", what, n, s50, s99, smax, c50, c99, cmax
            limit = 3 * c99 + 1000
            printf "  %-22s p99 ratio %.1fx; status p99 %d us against 3 x %d + 1000 = %d us: %s\n", "", s99 / c99, s99, c99, limit, s99 <= limit ? "within" : "over"
        }'
}
echo "reads of a quiet container, every 1 ms ($seconds s idle; during rm -rf of $n processes); $(nproc) cores, kernel $(uname -r), $(date -u '+%F %H:%M')"
verdict "$("$WORK/load_probe" "$seconds" 1000 "$MNT/quiet/status" "$quiet_cg/cgroup.stat")" "idle tree"
"$BIN/nsctl" exec -d "$MNT/big" -- sh -c "i=0; while [ \$i -lt $n ]; do sleep 1000 & i=\$((i + 1)); done; wait" >/dev/null
until [ "$(cat "$MNT/big/pids.current" 2>/dev/null || echo 0)" -gt "$n" ]; do sleep 0.1; done
"$WORK/load_probe" 60 1000 "$MNT/quiet/status" "$quiet_cg/cgroup.stat" "$WORK/stop" > "$WORK/load.out" &
probe=$!
sleep 0.05
t=$(date +%s%N); rm -rf "$MNT/big"; t=$(( ($(date +%s%N) - t) / 1000000 ))
touch "$WORK/stop"
wait $probe
verdict "$(cat "$WORK/load.out")" "while rm -rf ($t ms)"
rmdir "$MNT/quiet"
