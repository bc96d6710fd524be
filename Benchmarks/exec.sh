#!/usr/bin/env bash
# nsctl exec against nsenter (issue 26, item 3): the whole process, startup
# included, in turn, each after an idle pause (PAUSE_MS, default 50) and
# back to back (PAUSE_MS=0): `nsctl exec C -- true` vs `nsenter -a -t INIT true`.
#   [PAUSE_MS=50] Benchmarks/exec.sh [N=30]     (root; builds release first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-30}
pause=${PAUSE_MS:-50}
bench_mount
mkdir "$MNT/c"
init=$(awk '/^init:/ { print $2 }' "$MNT/c/status")
python3 - "$BIN/nsctl" "$MNT/c" "$init" "$n" "$pause" <<'PY'
import subprocess, sys, time
nsctl, c, init, n, pause = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) / 1000
cmds = {"nsctl exec C -- true": [nsctl, "exec", c, "--", "true"], "nsenter -a -t INIT true": ["nsenter", "-a", "-t", init, "true"]}
times = {k: [] for k in cmds}
for _ in range(n):
    for k, cmd in cmds.items():
        time.sleep(pause); t = time.perf_counter(); subprocess.run(cmd, check=True); times[k].append(time.perf_counter() - t)
def p(v, q): v = sorted(v); return v[min(len(v) - 1, int(len(v) * q))] * 1000
a, b = times["nsctl exec C -- true"], times["nsenter -a -t INIT true"]
for k, v in times.items(): print(f"{k:26s} p50 {p(v, .5):6.2f} ms  p90 {p(v, .9):6.2f} ms")
print(f"ratio p50 {p(a, .5) / p(b, .5):.2f}x (target <= 1.3x)")
PY
rmdir "$MNT/c"
