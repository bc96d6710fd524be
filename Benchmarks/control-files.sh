#!/usr/bin/env bash
# Median time to read each control file (a fresh reader thread each time, so
# nothing is served from a per-reader snapshot), side by side with
# /proc/self/status and, where Debian's lxcfs is installed, with another
# FUSE filesystem of the same kind mounted beside it (issue 26 item 5's
# yardstick: its /proc/uptime and /proc/meminfo).
#   Benchmarks/control-files.sh [N=1000]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-1000}
gcc -O2 -pthread -o "$WORK/control_read" Benchmarks/control_read.c
bench_mount
mkdir "$MNT/c"
lxcfs_files=()
if command -v lxcfs >/dev/null; then
    mkdir -p "$WORK/lxcfs"
    lxcfs "$WORK/lxcfs" >"$WORK/lxcfs.log" 2>&1 &
    lxcfs_pid=$!
    end_lxcfs() { fusermount3 -u "$WORK/lxcfs" 2>/dev/null || umount -l "$WORK/lxcfs" 2>/dev/null; kill "$lxcfs_pid" 2>/dev/null; wait "$lxcfs_pid" 2>/dev/null || true; }
    trap 'end_lxcfs; bench_cleanup' EXIT
    for _ in $(seq 100); do mountpoint -q "$WORK/lxcfs" && break; sleep 0.05; done
    mountpoint -q "$WORK/lxcfs" && lxcfs_files=("$WORK/lxcfs/proc/uptime" "$WORK/lxcfs/proc/meminfo")
else
    echo "(no lxcfs here: apt-get install lxcfs to read its files beside ours)"
fi
echo "read whole file, median of $n fresh reader threads per file and condition, $(nproc) cores, kernel $(uname -r), $(date -u '+%F %H:%M')"
"$WORK/control_read" "$n" /proc/self/status "$MNT/c/status" "$MNT/c/procs" \
    "$MNT/c/hostname" "$MNT/c/freeze" "$MNT/c/ns/net" "${lxcfs_files[@]}"
rm -rf "$MNT/c"
