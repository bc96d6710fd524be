#!/usr/bin/env bash
# What finding sets costs (issue 13):
# 1. `ls` of a container with N processes of which none unshared, this build
#    against the build before sets existed (BASELINE_COMMIT, built here in a
#    scratch worktree; or BASELINE_BIN=dir of an existing build), both
#    mounted at once and listed in turn, round after round;
# 2. the first `ls` right after N processes each unshared their mount
#    namespace (N new sets found at once), the next one, and `rm -rf` of
#    that container (its sets killed one after another), three times; the
#    first `ls` beside the kernel's own cost of reading those processes'
#    namespaces (ns_floor.c: stat of /proc/PID/ns/* for each), measured
#    right after it (issue 26 item 8: ≤ 1.5× that).
#   [ONLY_FIRST_LS=1] Benchmarks/sets.sh [N=1000] [ROUNDS=2000]
#   (root; builds release first; ONLY_FIRST_LS: part 2 alone, no baseline)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-1000}
rounds=${2:-2000}
BASELINE_COMMIT=${BASELINE_COMMIT:-b00d140}
gcc -O2 -I Benchmarks -o "$WORK/list_probe" Benchmarks/list_probe.c
gcc -O2 -I Benchmarks -o "$WORK/ns_floor" Benchmarks/ns_floor.c
BASE=$WORK/base-mnt
sets_cleanup() {
    umount "$BASE" 2>/dev/null || true
    rm -rf "/run/nsfs-bench-$$-base"
    if [ -d "$WORK/base" ]; then git worktree remove --force "$WORK/base" 2>/dev/null || true; fi
    bench_cleanup
}
trap sets_cleanup EXIT
if [ -z "${BASELINE_BIN:-}" ] && [ -z "${ONLY_FIRST_LS:-}" ]; then
    echo "building the baseline ($BASELINE_COMMIT) in a scratch worktree..."
    git worktree add -q --detach "$WORK/base" "$BASELINE_COMMIT"
    (cd "$WORK/base" && swift build -c release >/dev/null 2>&1 && make CONFIG=release all >/dev/null)
    BASELINE_BIN=$(cd "$WORK/base" && swift build -c release --show-bin-path)
fi
bench_mount
if [ -z "${ONLY_FIRST_LS:-}" ]; then
    mkdir -p "$BASE"
    "$BASELINE_BIN/namespacefs" "$BASE" -o "state_dir=/run/nsfs-bench-$$-base,cgroup=$CG/base"
fi

init_of() { awk '/^init:/ { print $2 }' "$1/status"; }
cgroup_of() { echo "$CGROUP2$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")"; }
# start DIR SCRIPT: run `sh SCRIPT` in DIR's namespaces and cgroup
start() {
    local p; p=$(init_of "$1")
    sh -c 'echo $$ > "$1/cgroup.procs" && exec nsenter -t "$2" -a sh -c "$3"' - "$(cgroup_of "$p")" "$p" "$2" >/dev/null 2>&1 &
}
# wait until DIR's cgroup holds N + 1 processes that all run `sleep`
settled() {
    local cg; cg=$(cgroup_of "$(init_of "$1")")
    until [ "$(wc -l < "$cg/cgroup.procs")" -gt "$n" ] && \
          [ "$(for p in $(cat "$cg/cgroup.procs"); do cat "/proc/$p/comm" 2>/dev/null; done | grep -cx sleep)" -ge "$n" ]; do
        sleep 0.2
    done
}

echo "ls (stat + open + getdents + close), us; $(nproc) cores, kernel $(uname -r), $(date -u '+%F %H:%M')"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
if [ -z "${ONLY_FIRST_LS:-}" ]; then
mkdir "$MNT/c" "$BASE/c"
for dir in "$MNT/c" "$BASE/c"; do
    start "$dir" "i=0; while [ \$i -lt $n ]; do sleep 1000 & i=\$((i + 1)); done; wait"
    settled "$dir"
done
show() {   # probe output: this build's line, then the baseline's
    echo "$1" | sed "s|$MNT/c|    this build    |; s|$BASE/c|    $BASELINE_COMMIT (before)|"
    echo "    median ratio: $(ratio "$(echo "$1" | awk 'NR == 1 { print $5 }')" "$(echo "$1" | awk 'NR == 2 { print $5 }')")x"
}
echo "1. a container of $n processes, none unshared, listed in turn with the baseline's:"
echo "  the syscalls of ls from one process ($rounds rounds; no process is created between looks):"
show "$("$WORK/list_probe" "$rounds" "$MNT/c" "$BASE/c")"
echo "  /bin/ls spawned each time, as from a shell ($((rounds / 4)) rounds; each ls is a new process):"
show "$("$WORK/list_probe" -x $((rounds / 4)) "$MNT/c" "$BASE/c")"
rm -rf "$MNT/c" "$BASE/c"
fi

echo "2. the first ls after $n processes each unshared their mount namespace:"
for r in 1 2 3; do
    mkdir "$MNT/u$r"
    start "$MNT/u$r" "i=0; while [ \$i -lt $n ]; do unshare --mount sleep 1000 & i=\$((i + 1)); done; wait"
    settled "$MNT/u$r"
    first=$("$WORK/list_probe" 1 "$MNT/u$r")
    floor=$("$WORK/ns_floor" "$(cgroup_of "$(init_of "$MNT/u$r")")/cgroup.procs")
    again=$("$WORK/list_probe" 1 "$MNT/u$r")
    t=$(date +%s%N); rm -rf "$MNT/u$r"; t=$(( ($(date +%s%N) - t) / 1000000 ))
    echo "  round $r: $(echo "$first" | awk '{ printf "%s entries, first ls %.1f ms", $2, $5 / 1000 }'), $(echo "$again" | awk '{ printf "the next %.2f ms", $5 / 1000 }'), then rm -rf (one set after another) $t ms"
    echo "           the kernel reading the namespaces of its $(echo "$floor" | awk '{ print $1 }') processes: $(echo "$floor" | awk '{ printf "%.1f ms", $2 / 1000 }'); first ls $(ratio "$(echo "$first" | awk '{ print $5 }')" "$(echo "$floor" | awk '{ print $2 }')")x that (target <= 1.5x)"
done
