#!/usr/bin/env bash
# mkdir/rmdir through namespacefs vs the direct kernel path, side by side.
#   Benchmarks/create-destroy.sh [N=200]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-200}
gcc -O2 -I Sources/CNamespaceShim/include -o "$WORK/create_destroy" Benchmarks/create_destroy.c \
    Sources/CNamespaceShim/spawn.c Sources/CNamespaceShim/syscalls.c
bench_mount
mkdir -p "$CGROUP2$CG/direct"
echo "create/destroy of $n containers (7 namespaces each), $(nproc) cores, kernel $(uname -r)"
"$WORK/create_destroy" "$MNT" "$CGROUP2$CG/direct" "$BIN/namespacefs-init" "$n"
