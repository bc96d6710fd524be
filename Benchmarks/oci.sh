#!/usr/bin/env bash
# podman driving nsfs-oci against podman driving runc (issue 27), in turn,
# each command after an idle pause (PAUSE_MS, default 50) and back to back
# (PAUSE_MS=0): `podman run --rm --rootfs IMAGE true` wall time, and
# `podman exec C true` on a running container.
#   [PAUSE_MS=50] Benchmarks/oci.sh [N=20]     (root; builds release first)
# The tree is this benchmark's own mount, bound at /namespaces in a mount
# namespace of its own (podman runs its cleanup without runtime flags).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-20}
pause=${PAUSE_MS:-50}
command -v podman >/dev/null && command -v runc >/dev/null || { echo "podman and runc are needed"; exit 1; }
img=$WORK/image
mkdir -p "$img/bin" "$img/etc" "$img/proc" "$img/sys" "$img/dev" "$img/tmp"
cp "$(command -v busybox)" "$img/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$img/bin/$a"; done
NSFS_OPTIONS=storage=$WORK/storage bench_mount
# /namespaces (mounted over in a namespace of its own) and nsfs-oci's
# default root (podman's cleanup runs the runtime without --root), removed
# after if this run made them.
made=()
for d in /namespaces /run/nsfs-oci; do [ -e "$d" ] || made+=("$d"); done
trap 'for d in "${made[@]}"; do rm -rf "$d/.seccomp-cache"; rmdir "$d" 2>/dev/null; done; bench_cleanup' EXIT
mkdir -p /namespaces
cat > "$WORK/times.py" <<'PY'
import subprocess, sys, time
runtime, n, pause, img = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000, sys.argv[4]
p = ["podman", "--runtime", runtime]
opts = ["--network", "none",
        "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--rootfs", img]
def pct(v, q): v = sorted(v); return v[min(len(v) - 1, int(len(v) * q))]
def timed(cmd):
    time.sleep(pause); t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL); return time.perf_counter() - t
run = [timed(p + ["run", "--rm"] + opts + ["/bin/true"]) for _ in range(n)]
subprocess.run(p + ["run", "-d", "--name", "nsfs-bench"] + opts + ["/bin/sleep", "600"], check=True, stdout=subprocess.DEVNULL)
try:
    ex = [timed(p + ["exec", "nsfs-bench", "/bin/true"]) for _ in range(n)]
finally:
    subprocess.run(p + ["rm", "-f", "-t", "0", "nsfs-bench"], stdout=subprocess.DEVNULL)
print(f"{runtime.split('/')[-1]:10s} run --rm true p50 {pct(run, .5)*1000:7.1f} ms p90 {pct(run, .9)*1000:7.1f} ms"
      f" | exec true p50 {pct(ex, .5)*1000:7.1f} ms p90 {pct(ex, .9)*1000:7.1f} ms")
PY
echo "podman run/exec, $n each, ${pause} ms idle before each, $(nproc) cores, kernel $(uname -r), $(date -u +%F)"
for round in 1 2; do
    for rt in "$BIN/nsfs-oci" "$(command -v runc)"; do
        unshare -m bash -c 'mount --bind "$1" /namespaces && python3 "$2" "$3" "$4" "$5" "$6"' - "$MNT" "$WORK/times.py" "$rt" "$n" "$pause" "$img"
    done
done
