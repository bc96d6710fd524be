#!/usr/bin/env bash
# What set work costs its owner and others (issue 22, item 9), this build
# and, when BASELINE_BIN names another build's directory, that one after it
# in the same run:
# 1. rm -rf of a container whose N processes each unshared their mount
#    namespace (N sets): the wall time, one kill for each set, beside the
#    kernel's floor for the same (kill_each.c, and the walk on tmpfs);
# 2. a bystander's requests (stall_probe: cat of another container's
#    status, ls of the root, mkdir + rmdir elsewhere) while a container of
#    N/2 processes keeps unsharing and someone keeps running `ls -l` of the
#    root (each stat of that container is a new look at its processes),
#    next to the same on the idle tree, in one run.
#   Benchmarks/set-work.sh [N=2000] [SECONDS=3]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-2000}
secs=${2:-3}
gcc -O2 -o "$WORK/stall_probe" Benchmarks/stall_probe.c
gcc -O2 -o "$WORK/kill_each" Benchmarks/kill_each.c

init_of() { awk '/^init:/ { print $2 }' "$1/status"; }
cgroup_of() { echo "$CGROUP2$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")"; }
# start DIR SCRIPT: run `sh -c SCRIPT` in DIR's namespaces and cgroup, in the background
start() {
    local p; p=$(init_of "$1")
    sh -c 'echo $$ > "$1/cgroup.procs" && exec nsenter -t "$2" -a sh -c "$3"' - "$(cgroup_of "$p")" "$p" "$2" >/dev/null 2>&1 &
}

run() {   # BIN LABEL
    local bin=$1 label=$2 m=$WORK/mnt-$2
    mkdir -p "$m" "$CGROUP2$CG/probe-$label"
    "$bin/namespacefs" "$m" -o "state_dir=/run/nsfs-bench-$$-$label,cgroup=$CG/$label"
    echo "== $label ($bin)"
    mkdir "$m/u"
    start "$m/u" "i=0; while [ \$i -lt $n ]; do unshare --mount sleep 1000 & i=\$((i + 1)); done; wait"
    local cg; cg=$(cgroup_of "$(init_of "$m/u")")
    until [ "$(wc -l < "$cg/cgroup.procs")" -gt "$n" ]; do sleep 0.2; done
    sleep 1
    local sets; sets=$(ls "$m/u" | grep -c '^unnamed')
    local t; t=$(date +%s%N); rm -rf "$m/u"; t=$(( ($(date +%s%N) - t) / 1000000 ))
    # Beside it, the floor: the same N processes made again, killed one set
    # at a time by the kernel alone (stop, kill, wait for the exit: what
    # each set's rmdir must do before it returns), plus rm -rf of the same
    # shape on tmpfs (a directory per set: 4 files and the ns link).
    mkdir "$m/u"
    start "$m/u" "i=0; while [ \$i -lt $n ]; do unshare --mount sleep 1000 & i=\$((i + 1)); done; wait"
    cg=$(cgroup_of "$(init_of "$m/u")")
    until [ "$(wc -l < "$cg/cgroup.procs")" -gt "$n" ]; do sleep 0.2; done
    sleep 1
    local kills; kills=$(for p in $(cat "$cg/cgroup.procs"); do if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ]; then echo "$p"; fi; done | "$WORK/kill_each" | cut -d' ' -f1)
    rm -rf "$m/u"
    local shape=$WORK/shape-$label
    mkdir -p "$shape"; mount -t tmpfs none "$shape"
    for i in $(seq "$sets"); do mkdir "$shape/s$i"; : > "$shape/s$i/status"; : > "$shape/s$i/procs"; : > "$shape/s$i/hostname"; : > "$shape/s$i/freeze"; ln -s /proc/1/ns "$shape/s$i/ns"; done
    local walk; walk=$(date +%s%N); rm -rf "$shape"/*; walk=$(( ($(date +%s%N) - walk) / 1000000 ))
    umount "$shape"
    local floor=$((kills + walk))
    echo "1. rm -rf of a container with $sets sets: $t ms; the floor beside it: $kills ms (the kernel killing them one at a time) + $walk ms (rm -rf of the shape on tmpfs) = $floor ms: $(awk -v a="$t" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')x"
    echo "2. bystanders' requests, ms (count, median, worst):"
    mkdir -p "$m/c" "$m/d" "$m/loop"
    "$WORK/stall_probe" "$m" 0 $((secs * 1000)) "idle tree" "$CGROUP2$CG/probe-$label"
    # the busy container: N/2 processes (each look re-reads them all once
    # a second), one of which keeps unsharing; someone keeps stat'ing it
    start "$m/loop" "i=0; while [ \$i -lt $((n / 2)) ]; do sleep 1000 & i=\$((i + 1)); done; while :; do unshare --mount true; done"
    local lcg; lcg=$(cgroup_of "$(init_of "$m/loop")")
    until [ "$(wc -l < "$lcg/cgroup.procs")" -gt $((n / 2)) ]; do sleep 0.2; done
    ( end=$(( $(date +%s) + secs + 1 )); while [ "$(date +%s)" -lt $end ]; do ls -l "$m" >/dev/null 2>&1; done ) &
    local lister=$!
    "$WORK/stall_probe" "$m" 0 $((secs * 1000)) "a container looping unshare" "$CGROUP2$CG/probe-$label"
    wait $lister 2>/dev/null || true
    rm -rf "$m/loop" "$m/c" "$m/d"
    umount "$m"
    rm -rf "/run/nsfs-bench-$$-$label"
    rmdir "$CGROUP2$CG/probe-$label"
}

echo "set work, $(nproc) cores, kernel $(uname -r), $(date -u +%F)"
run "$BIN" this-build
[ -z "${BASELINE_BIN:-}" ] || run "$BASELINE_BIN" baseline
