#!/usr/bin/env bash
# Kill at scale: rm -rf of a container holding N processes vs cgroup.kill on
# a plain cgroup holding N processes + waiting for "populated 0".
#   Benchmarks/kill-scale.sh [N=1000] [RUNS=7]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-1000} runs=${2:-7}
gcc -O2 -o "$WORK/kill_scale" Benchmarks/kill_scale.c
bench_mount
mkdir -p "$CGROUP2$CG/base"
echo "kill $n processes, median of $runs, $(nproc) cores, kernel $(uname -r)"
CGROUP2=$CGROUP2 "$WORK/kill_scale" "$MNT" "$CGROUP2$CG/base" "$n" "$runs"
