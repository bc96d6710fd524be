#!/usr/bin/env bash
# Every ratio of issue 26 (and nsfs-oci's against runc, issue 27) in one
# command: each benchmark after idle and back to back where both apply, its
# full output kept in OUT (default /tmp/nsfs-bench-all-DATE), then one table
# of ratio, yardstick and target (Benchmarks/summarize.py). With --write the
# table goes to docs/benchmarks-summary.md (dated), naming what regressed
# against the table that was there. SCALE_N (default 10000, the issue's
# figure; 2000 saves ~2 min) sizes the scale run.
#   Benchmarks/all.sh [--write]     (root; ~13 min)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/nsfs-bench-all-$(date -u +%Y%m%d-%H%M)}
mkdir -p "$out"
run() {   # run NAME [VAR=VALUE...] SCRIPT ARGS...
    local name=$1; shift
    echo "== $name" >&2
    env "$@" > "$out/$name.txt" 2>&1 || echo "   ($name failed: see $out/$name.txt)" >&2
}
run create-destroy-idle PAUSE_MS=50 Benchmarks/create-destroy.sh 100
run create-destroy-b2b Benchmarks/create-destroy.sh 100
run exec-idle PAUSE_MS=50 Benchmarks/exec.sh 20
run exec-b2b PAUSE_MS=0 Benchmarks/exec.sh 20
run tree-ops Benchmarks/tree-ops.sh 10 100 5
run control-files Benchmarks/control-files.sh 1000
run under-load Benchmarks/under-load.sh 1500
run sets ONLY_FIRST_LS=1 Benchmarks/sets.sh 1000
run scale Benchmarks/scale.sh "${SCALE_N:-10000}"
if command -v podman >/dev/null && command -v runc >/dev/null; then
    run oci-idle Benchmarks/oci.sh 10
    run oci-b2b PAUSE_MS=0 Benchmarks/oci.sh 10
fi
echo "(outputs in $out)" >&2
python3 Benchmarks/summarize.py "$out" ${1:+--write docs/benchmarks-summary.md}
