#!/usr/bin/env bash
# mkdir/rmdir through namespacefs vs the direct kernel path, side by side.
# The direct path makes a user namespace too (as namespacefs does by
# default); with NSFS_OPTIONS=userns=off it makes none (DIRECT_USERNS=0).
# PAUSE_MS=50 puts that much idle before each measured operation (a command
# typed at a shell); without it they run back to back.
#   [PAUSE_MS=50] Benchmarks/create-destroy.sh [N=200]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-200}
gcc -O2 -I Sources/CNamespaceShim/include -o "$WORK/create_destroy" Benchmarks/create_destroy.c \
    Sources/CNamespaceShim/spawn.c Sources/CNamespaceShim/syscalls.c Sources/CNamespaceShim/userns.c
case ${NSFS_OPTIONS:-} in *userns=off*) export DIRECT_USERNS=0 ;; esac
bench_mount
mkdir -p "$CGROUP2$CG/direct"
echo "create/destroy of $n containers (7 namespaces each), $(nproc) cores, kernel $(uname -r)${PAUSE_MS:+, after ${PAUSE_MS} ms idle each}"
"$WORK/create_destroy" "$MNT" "$CGROUP2$CG/direct" "$BIN/namespacefs-init" "$n"
