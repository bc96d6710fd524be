#!/usr/bin/env bash
# Nothing stalls: the requests of bystanders (cat of another container's
# status, ls of the root, mkdir + rmdir of an unrelated container) while
# something slow happens elsewhere in the tree, next to the same on an idle
# tree, in one run. The slow things: rm -rf of a container of N processes
# (plus one whose exit frees 3 GiB, so the kill lasts), the removal of such
# a container frozen, a loop of mkdir/rmdir (inits spawned, views attached),
# and the death of a subtree's init (the watcher removes it). Then the two
# operations that used to hang the whole mount, timed on their own
# (SKIP_HANGS=1 skips them, to run this against an older build).
# Baselines in the same rounds: a /proc read, a bare cgroup mkdir + rmdir,
# a posix_spawn of /bin/true.
#   Benchmarks/stalls.sh [N=2000]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-2000}
gcc -O2 -o "$WORK/stall_probe" Benchmarks/stall_probe.c
bench_mount
mkdir -p "$MNT/c" "$MNT/d" "$MNT/a" "$MNT/s" "$CGROUP2$CG/probe"

cgroup_of() { echo "$CGROUP2$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")"; }
init_of() { awk '/^init:/ { print $2 }' "$1/status"; }
# fill DIR: N sleepers and a process that frees 3 GiB when it dies
cat > "$WORK/fill.sh" <<'SH'
i=0; while [ $i -lt "$1" ]; do sleep 1000 & i=$((i + 1)); done
exec python3 -c 'import sys, time; b = b"\1" * (3 << 30); open(sys.argv[1], "w").close(); time.sleep(1000)' "$2"
SH
fill() {
    local p; p=$(init_of "$1")
    local cg; cg=$(cgroup_of "$p")
    rm -f "$WORK/ready"
    sh -c 'echo $$ > "$1/cgroup.procs" && exec nsenter -t "$2" -a sh "$3" "$4" "$5"' \
        - "$cg" "$p" "$WORK/fill.sh" "$n" "$WORK/ready" >/dev/null 2>&1 &
    until [ -e "$WORK/ready" ] && [ "$(wc -l < "$cg/cgroup.procs")" -gt "$n" ]; do sleep 0.1; done
}

echo "bystanders' requests, ms: count, median, worst ($n processes; $(nproc) cores, kernel $(uname -r))"
printf '%-34s %-16s %5s %9s %9s\n' "while" "request" "count" "median" "worst"
"$WORK/stall_probe" "$MNT" 0 1000 "idle tree" "$CGROUP2$CG/probe"

mkdir "$MNT/a/big"; fill "$MNT/a/big"
rm -rf "$MNT/a/big" & "$WORK/stall_probe" "$MNT" $! 0 "rm -rf a/big ($n processes)" "$CGROUP2$CG/probe"; wait

mkdir "$MNT/a/big"; fill "$MNT/a/big"; echo 1 > "$MNT/a/big/freeze"
rmdir "$MNT/a/big" & "$WORK/stall_probe" "$MNT" $! 0 "rmdir a/big, frozen" "$CGROUP2$CG/probe"; wait

( for i in $(seq 200); do mkdir "$MNT/s/x$i"; done; for i in $(seq 200); do rmdir "$MNT/s/x$i"; done ) &
"$WORK/stall_probe" "$MNT" $! 0 "200 mkdir (spawn + view), 200 rmdir" "$CGROUP2$CG/probe"; wait

mkdir -p "$MNT/a/p/q/r"; fill "$MNT/a/p/q/r"
kill -9 "$(init_of "$MNT/a/p")"
( while [ -e "$MNT/a/p" ]; do sleep 0.001; done ) & "$WORK/stall_probe" "$MNT" $! 0 "init of a/p killed (watcher)" "$CGROUP2$CG/probe"; wait

echo
echo "what used to hang the whole mount:"
if [ "${SKIP_HANGS:-0}" = 1 ]; then echo "  (skipped: SKIP_HANGS=1, for builds where they hang)"; exit 0; fi
echo 1 > "$MNT/d/freeze"
t=$(date +%s%N); mkdir "$MNT/d/frozenchild"; echo "  mkdir below a frozen container: $(( ($(date +%s%N) - t) / 1000 )) us"
echo 0 > "$MNT/d/freeze"
mkdir "$MNT/w"
mkdir -p "$WORK/cgmnt"
"$BIN/nsctl" exec "$MNT/w" -- sh -c "mount -t cgroup2 none $WORK/cgmnt && mkdir -p $WORK/cgmnt/w/deeper && echo \$\$ > $WORK/cgmnt/w/deeper/cgroup.procs && exec sleep 1000" &
sleep 0.5
t=$(date +%s%N); rmdir "$MNT/w"; echo "  rmdir of a container whose workload made cgroups: $(( ($(date +%s%N) - t) / 1000 )) us"
wait
rm -rf "$MNT"/*/ 2>/dev/null || true
