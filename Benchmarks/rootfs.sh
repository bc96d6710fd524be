#!/usr/bin/env bash
# What a whole system costs (issue 24, item 9), side by side, each step
# after an idle pause (a command typed at a shell; PAUSE_MS, default 50):
#   - mkdir / rmdir on a plain mount (this project's own, no root, no network)
#   - mkdir / rmdir with -o root= (a busybox image) and -o network=bridge
#   - "run true": mkdir + nsctl exec C -- true + rmdir, with root and network,
#     against `podman run --rm --rootfs IMAGE true` (runc) and
#     `systemd-nspawn -D IMAGE true`, where they run here
#   [PAUSE_MS=50] Benchmarks/rootfs.sh [N=20]     (root; builds release first)
# (podman's netavark leaves its empty NETAVARK chains in the ip nat and ip
# filter tables: `nft delete table ip nat` and `ip filter` if nothing else
# uses them)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
n=${1:-20}
pause=${PAUSE_MS:-50}
img=$WORK/image
mkdir -p "$img/bin" "$img/etc" "$img/root" "$img/proc" "$img/sys" "$img/dev" "$img/tmp" "$img/usr"
echo "ID=busybox" > "$img/etc/os-release"   # what systemd-nspawn looks for
cp "$(command -v busybox)" "$img/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$img/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$img/etc/passwd"; echo 'root:x:0:' > "$img/etc/group"
had_bridge=no; ip link show nsfs0 >/dev/null 2>&1 && had_bridge=yes

# times.py MODE DIR N PAUSE_MS [NSCTL]: p50 and p90 in ms of each step, each after the pause.
cat > "$WORK/times.py" <<'PY'
import os, subprocess, sys, time
mode, d, n, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) / 1000
def pct(v, p): v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))]
out = {}
for i in range(n):
    c = f"{d}/b{i}"
    steps = []
    if mode == "mkdir":
        time.sleep(pause); t = time.perf_counter(); os.mkdir(c); steps.append(("mkdir", time.perf_counter() - t))
        time.sleep(pause); t = time.perf_counter(); os.rmdir(c); steps.append(("rmdir", time.perf_counter() - t))
    elif mode == "run":
        time.sleep(pause); t = time.perf_counter()
        os.mkdir(c); subprocess.run([sys.argv[5], "exec", c, "--", "true"], check=True); os.rmdir(c)
        steps.append(("mkdir + exec true + rmdir", time.perf_counter() - t))
    else:
        time.sleep(pause); t = time.perf_counter()
        r = subprocess.run(sys.argv[5:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0: print(f"  {mode}: does not run here: {r.stderr.decode().strip().splitlines()[-1]}"); sys.exit(0)
        steps.append((mode, time.perf_counter() - t))
    for k, v in steps: out.setdefault(k, []).append(v * 1000)
for k, v in out.items(): print(f"  {k:28} p50 {pct(v, .5):7.2f} ms  p90 {pct(v, .9):7.2f} ms")
PY

echo "a whole system: $n each, ${pause} ms idle before each step, $(nproc) cores, kernel $(uname -r), $(date -u +%F)"
echo "plain mount (no root, no network):"
bench_mount
python3 "$WORK/times.py" mkdir "$MNT" "$n" "$pause"
umount "$MNT"
echo "-o root=IMAGE,network=bridge:"
NSFS_OPTIONS="root=$img,network=bridge,storage=$WORK/storage${NSFS_OPTIONS:+,$NSFS_OPTIONS}" bench_mount
python3 "$WORK/times.py" mkdir "$MNT" "$n" "$pause"
python3 "$WORK/times.py" run "$MNT" "$n" "$pause" "$BIN/nsctl"
umount "$MNT"
if command -v podman >/dev/null && command -v runc >/dev/null; then
    echo "podman run --rm --rootfs IMAGE true (runc; its default network):"
    python3 "$WORK/times.py" podman - "$n" "$pause" podman --runtime "$(command -v runc)" run --rm \
        --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --rootfs "$img" true
else
    echo "podman/runc: not installed"
fi
if command -v systemd-nspawn >/dev/null; then
    echo "systemd-nspawn -D IMAGE true:"
    python3 "$WORK/times.py" nspawn - 3 "$pause" systemd-nspawn -q --register=no -D "$img" /bin/true
else
    echo "systemd-nspawn: not installed"
fi
[ "$had_bridge" = yes ] || ip link del nsfs0 2>/dev/null || true
