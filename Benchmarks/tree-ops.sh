#!/usr/bin/env bash
# ls -l, find, ls -lR and tar over a tree of containers, side by side with
# the same shape on cgroupfs (its own files per directory) and on tmpfs (the
# same entries per directory: 4 files, ns/ with 8 links). Median of RUNS,
# the three trees measured in turn run by run (ls -l: 5 x RUNS).
#   Benchmarks/tree-ops.sh [TOP=10] [CHILDREN=100] [RUNS=7]   (root)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
top=${1:-10} children=${2:-100} runs=${3:-7}
bench_mount
cgtree=$CGROUP2$CG/shape
tmp=$WORK/tmpfs
mkdir -p "$cgtree" "$tmp"
mount -t tmpfs none "$tmp"
trap 'umount "$tmp" 2>/dev/null; rm -rf "$MNT"/t* 2>/dev/null; find "$cgtree" -depth -type d -exec rmdir {} + 2>/dev/null; bench_cleanup' EXIT

shape_tmpfs() {   # a directory shaped like a container directory
    mkdir -p "$1/ns"
    printf 'name: x\n' > "$1/status"; : > "$1/procs"; echo x > "$1/hostname"; echo 0 > "$1/freeze"
    local k; for k in cgroup ipc mnt net pid time user uts; do ln -s /proc/1/ns/$k "$1/ns/$k"; done
}
t0=$(date +%s%N)
for i in $(seq "$top"); do
    mkdir "$MNT/t$i" "$cgtree/t$i"; shape_tmpfs "$tmp/t$i"
    for j in $(seq "$children"); do
        mkdir "$MNT/t$i/c$j" "$cgtree/t$i/c$j"; shape_tmpfs "$tmp/t$i/c$j"
    done
done
n=$((top * (children + 1)))
echo "$n containers built in $(( ($(date +%s%N) - t0) / 1000000 )) ms (all three trees)"

one_ms() {   # one_ms CMD...: wall time of one run, ns
    [ "${COLD:-0}" = 0 ] || { sync; echo 2 > /proc/sys/vm/drop_caches; }
    local s; s=$(date +%s%N); "$@" >/dev/null 2>&1; echo $(( $(date +%s%N) - s ))
}

median() {   # median of the numbers on stdin (ns), in ms (3 decimals)
    sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] / 1e6 }'
}

row() {   # row LABEL CMD-with-DIR-placeholder [RUNS]: the three trees in turn, run by run
    local label=$1 cmd=$2 n=${3:-$runs} i a=() b=() c=()
    for i in $(seq "$n"); do
        a+=("$(one_ms sh -c "${cmd//DIR/$MNT}")")
        b+=("$(one_ms sh -c "${cmd//DIR/$cgtree}")")
        c+=("$(one_ms sh -c "${cmd//DIR/$tmp}")")
    done
    a=$(printf '%s\n' "${a[@]}" | median); b=$(printf '%s\n' "${b[@]}" | median); c=$(printf '%s\n' "${c[@]}" | median)
    printf '%-22s %10s %10s %10s %9s %9s\n' "$label" "$a" "$b" "$c" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }')" \
        "$(awk -v a="$a" -v c="$c" 'BEGIN { printf "%.2fx", a / c }')"
}

for mode in hot cold; do
    if [ $mode = hot ]; then COLD=0; else COLD=1; fi
    echo
    echo "$mode: $([ $mode = hot ] && echo 'back to back, kernel caches warm' || echo 'each run after dropping dentries and inodes (echo 2 > drop_caches)')"
    printf '%-22s %10s %10s %10s %9s %9s\n' "op (ms, median)" namespacefs cgroupfs tmpfs "vs cgfs" "vs tmpfs"
    # A few ms each, most of it the shell and ls starting: five times the runs.
    row "ls -l (100 entries)" "ls -l DIR/t1" $((runs * 5))
    row "find (whole tree)" "find DIR"
    row "ls -lR (whole tree)" "ls -lR DIR"
    # Through a pipe: GNU tar reads no file when the archive is /dev/null.
    row "tar cf (whole tree)" "tar cf - -C DIR . | cat >/dev/null"
done
