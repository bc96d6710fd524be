#!/usr/bin/env bash
# A fork bomb in a container with pids.max (issue 15), RUNS times:
# - `rm -rf` of the bombed container (the target: everything gone within
#   1 s), beside `rm -rf` of a container holding the same number of quiet
#   sleepers (the same kill without the bomb);
# - the host's forks meanwhile: 100 `/bin/true` while the bomb pushes
#   against its limit, beside 100 on an idle host.
#   Benchmarks/forkbomb.sh [RUNS=10] [PIDS_MAX=512]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
runs=${1:-10}
limit=${2:-512}
bench_mount
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
hundred_forks() { local t0; t0=$(date +%s%N); for _ in $(seq 100); do /bin/true; done; ms_since "$t0"; }
wait_current() { until [ "$(cat "$1/pids.current")" -ge "$2" ]; do sleep 0.05; done; }
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %d ms, worst %d ms (%s)", v[int((NR + 1) / 2)], v[NR], NR " runs" }'; }

echo "fork bomb with pids.max $limit; $(nproc) cores, kernel $(uname -r)"
: > "$WORK/bomb" ; : > "$WORK/quiet" ; : > "$WORK/forks" ; : > "$WORK/idle"
for r in $(seq "$runs"); do
    hundred_forks >> "$WORK/idle"
    mkdir "$MNT/bomb"
    echo "$limit" > "$MNT/bomb/pids.max"
    "$BIN/nsctl" exec "$MNT/bomb" -- bash -c ':(){ :|:& };:' >/dev/null 2>&1 &
    wait_current "$MNT/bomb" $((limit - 8))
    hundred_forks >> "$WORK/forks"
    t0=$(date +%s%N); rm -rf "$MNT/bomb"; ms_since "$t0" >> "$WORK/bomb"
    wait
    mkdir "$MNT/quiet"
    "$BIN/nsctl" exec "$MNT/quiet" -- bash -c "for i in \$(seq $((limit - 2))); do sleep 1000 & done; wait" >/dev/null 2>&1 &
    wait_current "$MNT/quiet" $((limit - 1))
    t0=$(date +%s%N); rm -rf "$MNT/quiet"; ms_since "$t0" >> "$WORK/quiet"
    wait
    echo "  run $r: rm -rf bomb $(tail -1 "$WORK/bomb") ms, quiet $(tail -1 "$WORK/quiet") ms; 100 host forks $(tail -1 "$WORK/forks") ms during, $(tail -1 "$WORK/idle") ms idle"
done
echo "rm -rf of the bombed container:     $(stats < "$WORK/bomb")"
echo "rm -rf of $limit quiet sleepers:       $(stats < "$WORK/quiet")"
echo "100 host forks during the bomb:     $(stats < "$WORK/forks")"
echo "100 host forks, idle:               $(stats < "$WORK/idle")"
