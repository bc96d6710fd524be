#!/usr/bin/env bash
# Median time to read each control file (a fresh reader thread each time, so
# nothing is served from a per-reader snapshot), side by side with
# /proc/self/status.
#   Benchmarks/control-files.sh [N=1000]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-1000}
gcc -O2 -pthread -o "$WORK/control_read" Benchmarks/control_read.c
bench_mount
mkdir "$MNT/c"
echo "read whole file, median of $n fresh reader threads per file and condition, kernel $(uname -r)"
"$WORK/control_read" "$n" /proc/self/status "$MNT/c/status" "$MNT/c/procs" \
    "$MNT/c/hostname" "$MNT/c/freeze" "$MNT/c/ns/net"
rm -rf "$MNT/c"
