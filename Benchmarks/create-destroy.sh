#!/usr/bin/env bash
# mkdir/rmdir through namespacefs vs the direct kernel path, side by side.
#   Benchmarks/create-destroy.sh [N=200]     (root; builds release first)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
n=${1:-200}
make CONFIG=release all >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/nsfs-bench.XXXXXX)
cgroup2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
cg=/nsfs-bench-$$
cleanup() {
    umount "$work/mnt" 2>/dev/null || true
    if [ -d "$cgroup2$cg" ]; then
        echo 1 > "$cgroup2$cg/cgroup.kill"
        sleep 0.2
        find "$cgroup2$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    fi
    rm -rf "$work" "/run/nsfs-bench-$$"
}
trap cleanup EXIT
gcc -O2 -I Sources/CNamespaceShim/include -o "$work/create_destroy" Benchmarks/create_destroy.c \
    Sources/CNamespaceShim/spawn.c Sources/CNamespaceShim/syscalls.c
mkdir -p "$work/mnt" "$cgroup2$cg/direct"
"$bin/namespacefs" "$work/mnt" -o "state_dir=/run/nsfs-bench-$$,cgroup=$cg/nsfs"
echo "create/destroy of $n containers (7 namespaces each), $(nproc) cores, kernel $(uname -r)"
"$work/create_destroy" "$work/mnt" "$cgroup2$cg/direct" "$bin/namespacefs-init" "$n"
