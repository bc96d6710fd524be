#!/usr/bin/env bash
# Scale: N containers in one directory. Memory per container (kernel and
# userland: init PSS + daemon growth), daemon RSS, `ls` of the N-entry
# directory (vs `ls` of the cgroup directory holding the same N cgroups),
# mkdir/rmdir with the N there against the kernel's floor in the same run
# (create_destroy.c, alternating), the time a restarted daemon takes to
# re-adopt them all, and `rm -rf` of the N against the same removals done
# directly (N made by clone3, then cgroup.kill + wait + rmdir each).
#   Benchmarks/scale.sh [N=10000]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-10000}

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }   # kB
used_kb() { echo $(( $(meminfo MemTotal) - $(meminfo MemAvailable) )); }
kernel_kb() { echo $(( $(meminfo Slab) + $(meminfo KernelStack) + $(meminfo PageTables) + $(meminfo Percpu) )); }
daemon_pid() { pgrep -f -x "$BIN/namespacefs $MNT -o state_dir=/run/nsfs-bench-$$,cgroup=$CG/nsfs" | head -1; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

gcc -O2 -I Sources/CNamespaceShim/include -o "$WORK/create_destroy" Benchmarks/create_destroy.c \
    Sources/CNamespaceShim/spawn.c Sources/CNamespaceShim/syscalls.c Sources/CNamespaceShim/userns.c
bench_mount
mkdir -p "$CGROUP2$CG/direct"
sync; echo 3 > /proc/sys/vm/drop_caches
used0=$(used_kb) kernel0=$(kernel_kb) rss0=$(rss_kb "$(daemon_pid)")
echo "$n containers in one directory, $(nproc) cores, kernel $(uname -r), open files limit $(ulimit -n)"

t0=$(date +%s%N)
i=0
while [ $i -lt "$n" ]; do
    batch=()
    for j in $(seq $((i + 1)) $((i + 500 < n ? i + 500 : n))); do batch+=("$MNT/c$j"); done
    if ! mkdir "${batch[@]}" 2>"$WORK/mkdir.err"; then
        made=$(find "$MNT" -mindepth 1 -maxdepth 1 -name 'c*' | wc -l)
        echo "mkdir stopped at $made containers: $(sort -u "$WORK/mkdir.err" | head -3)"
        n=$made
        break
    fi
    i=$((i + ${#batch[@]}))
done
create_ms=$(ms_since "$t0")
sleep 2   # views are attached after each mkdir replies
echo 3 > /proc/sys/vm/drop_caches
used1=$(used_kb) kernel1=$(kernel_kb) pid=$(daemon_pid) rss1=$(rss_kb "$(daemon_pid)")
pss=$(for p in $(cat "$CGROUP2$CG"/nsfs/ns-*/cgroup.procs); do awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup"; done | awk '{ s += $1 } END { print s }')
echo "created $n in $create_ms ms ($(( create_ms * 1000 / n )) us each)"
echo
printf '%-44s %10s\n' "memory" "per container"
printf '%-44s %8d kB\n' "all (MemTotal - MemAvailable)" $(( (used1 - used0) / n ))
printf '%-44s %8d kB\n' "kernel (slab, stacks, page tables, percpu)" $(( (kernel1 - kernel0) / n ))
printf '%-44s %8d kB\n' "init (PSS)" $(( pss / n ))
printf '%-44s %8d kB\n' "daemon growth (RSS)" $(( (rss1 - rss0) / n ))
printf '%-44s %8d kB\n' "userland (init + daemon)" $(( (pss + rss1 - rss0) / n ))
echo "daemon RSS: $rss0 kB empty, $rss1 kB with $n containers"
echo

lsrow() {   # median of 5 runs of `ls -f` (listing, no sort) and `ls -l`
    local label=$1 dir=$2 opt t s k
    for opt in -f -l; do
        t=()
        for k in 1 2 3 4 5; do s=$(date +%s%N); ls $opt "$dir" >/dev/null; t+=($(( $(date +%s%N) - s ))); done
        printf '%-44s %-4s %8.1f ms\n' "$label" "$opt" "$(printf '%s\n' "${t[@]}" | sort -n | awk 'NR == 3 { print $1 / 1e6 }')"
    done
}
lsrow "ls of the $n-entry directory (namespacefs)" "$MNT"
lsrow "ls of the $n cgroups (cgroupfs)" "$CGROUP2$CG/nsfs"
echo
echo "with the $n there: 100 more made and removed, each beside the kernel floor (back to back)"
NO_UNSHARE=1 "$WORK/create_destroy" "$MNT" "$CGROUP2$CG/direct" "$BIN/namespacefs-init" 100
echo

umount "$MNT"
while [ -n "$(daemon_pid)" ]; do sleep 0.05; done
t0=$(date +%s%N)
"$BIN/namespacefs" "$MNT" -o "state_dir=/run/nsfs-bench-$$,cgroup=$CG/nsfs"
mounted_ms=$(ms_since "$t0")
seen=$(ls "$MNT" | grep -c '^c')
echo "restart: mount ready (all $seen re-adopted) in $mounted_ms ms"

t0=$(date +%s%N)
rm -rf "$MNT"/c*
echo "rm -rf of $n containers: $(ms_since "$t0") ms"
ONLY_DIRECT_REMOVAL=1 "$WORK/create_destroy" "$MNT" "$CGROUP2$CG/direct" "$BIN/namespacefs-init" "$n"
