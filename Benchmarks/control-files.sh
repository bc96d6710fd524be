#!/usr/bin/env bash
# Median time to read each control file (fresh reader each time, so nothing
# is served from a cache), side by side with /proc/self/status.
#   Benchmarks/control-files.sh [N=300]     (root; builds release first)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
n=${1:-300}
make CONFIG=release all >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/nsfs-bench.XXXXXX)
cg=/nsfs-bench-$$
cleanup() {
    rm -rf "$work/mnt/c" 2>/dev/null || true
    umount "$work/mnt" 2>/dev/null || true
    rm -rf "$work" "/run/nsfs-bench-$$"
    rmdir "$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)$cg" 2>/dev/null || true
}
trap cleanup EXIT
gcc -O2 -pthread -o "$work/control_read" Benchmarks/control_read.c
mkdir -p "$work/mnt"
"$bin/namespacefs" "$work/mnt" -o "state_dir=/run/nsfs-bench-$$,cgroup=$cg"
mkdir "$work/mnt/c"
echo "read whole file, median of $n fresh reader threads, kernel $(uname -r)"
"$work/control_read" "$n" /proc/self/status "$work/mnt/c/status" "$work/mnt/c/procs" \
    "$work/mnt/c/hostname" "$work/mnt/c/freeze" "$work/mnt/c/ns/net"
