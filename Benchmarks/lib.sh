# Shared by the benchmark scripts: build release, a scratch directory, a
# namespacefs mount with its own state and cgroup, and cleanup of all three.
# shellcheck shell=bash
cd "$(dirname "$0")/.."
. scripts/common.sh
make CONFIG=release all >/dev/null
BIN=$(swift build -c release --show-bin-path)
WORK=$(mktemp -d /tmp/nsfs-bench.XXXXXX)
CGROUP2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
CG=/nsfs-bench-$$
# The v1 hierarchy holding pids, where the host binds it there (the daemon
# mirrors containers' cgroups in it).
PIDS_V1=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup" && $(i + 3) ~ /(^|,)pids(,|$)/) { print $5; exit } break } }' /proc/self/mountinfo)
MNT=$WORK/mnt

bench_cleanup() {
    umount "$MNT" 2>/dev/null || true
    if [ -d "$CGROUP2$CG" ]; then
        echo 1 > "$CGROUP2$CG/cgroup.kill"
        local tries=0
        while [ $tries -lt 100 ] && ! find "$CGROUP2$CG" -depth -type d -exec rmdir {} + 2>/dev/null; do
            sleep 0.05; tries=$((tries + 1))
        done
    fi
    if [ -n "$PIDS_V1" ] && [ -d "$PIDS_V1$CG" ]; then
        find "$PIDS_V1$CG" -depth -type d -exec rmdir {} + 2>/dev/null || true
    fi
    rm -rf "$WORK" "/run/nsfs-bench-$$"
    rm -f /run/lock/namespacefs/cgroup*nsfs-bench-$$*
}
trap bench_cleanup EXIT

bench_mount() {
    mkdir -p "$MNT" "$CGROUP2$CG"
    # NSFS_OPTIONS: more -o options for the mount (to compare settings side by side)
    "$BIN/namespacefs" "$MNT" -o "state_dir=/run/nsfs-bench-$$,cgroup=$CG/nsfs${NSFS_OPTIONS:+,$NSFS_OPTIONS}"
}
