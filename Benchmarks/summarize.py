#!/usr/bin/env python3
"""Issue 26's ratios, each beside its yardstick and target, from the outputs
Benchmarks/all.sh keeps in one directory (one file per benchmark run).
Prints a Markdown table; with --write FILE, writes it there (dated) after
naming every ratio that regressed against the table FILE held before.
  summarize.py DIR [--write docs/benchmarks-summary.md]"""
import re, sys, os, datetime

def read(d, name):
    p = os.path.join(d, name)
    return open(p).read() if os.path.exists(p) else ""

def num(pattern, text, group=1):
    m = re.search(pattern, text, re.M)
    return float(m.group(group)) if m else None

rows = []   # (item, measure, ours, yardstick, ratio, target); a negative target: "at least"
def row(item, measure, ours, yard, target, unit, invert=False):
    if ours is None or yard is None or yard == 0:
        rows.append((item, measure, "-", "-", None, target)); return
    ratio = yard / ours if invert else ours / yard
    rows.append((item, measure, f"{ours:g} {unit}", f"{yard:g} {unit}", ratio, -target if invert and target else target))

def create_destroy(text, when):
    for op in ("mkdir", "rmdir"):
        m = re.search(rf"^{op}\s+(\d+)\s+(\d+)", text, re.M)
        t = {"mkdir": 1.5 if when == "after idle" else 1.2, "rmdir": None if when == "after idle" else 1.3}[op]
        row("2", f"{op} p50, {when} (vs clone3 floor)", float(m.group(1)) if m else None, float(m.group(2)) if m else None, t, "µs")
    mk = num(r"^mkdir\s+(\d+)", text)
    un = num(r"true:\s*\n\s*p50 (\d+) us", text)
    row("2", f"mkdir p50, {when} (vs the unshare command)", mk, un, 1.0 if when == "after idle" else None, "µs")

def exec_(text, when):
    row("3", f"nsctl exec C -- true p50, {when} (vs nsenter -a)", num(r"^nsctl exec C -- true\s+p50\s+([\d.]+)", text),
        num(r"^nsenter -a -t INIT true\s+p50\s+([\d.]+)", text), 1.3, "ms")

def tree(text):
    # The targets are for hot caches; the cold rows (dentries and inodes
    # dropped before each run: the first walk after a while) have none.
    hot = text.split("\nhot:")[1].split("\ncold:")[0] if "\nhot:" in text else ""
    cold = text.split("\ncold:")[1] if "\ncold:" in text else ""
    for when, part in (("hot", hot), ("cold", cold)):
        for label, col, target, yard in (("find (whole tree)", 2, 2.0, "cgroupfs"), ("tar cf (whole tree)", 3, 3.0, "tmpfs"),
                                         ("ls -l (100 entries)", 2, 1.0, "cgroupfs"), ("ls -lR (whole tree)", 2, None, "cgroupfs")):
            m = re.search(rf"^{re.escape(label)}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", part, re.M)
            row("4", f"{label.split(' (')[0]}, {when} (vs {yard})", float(m.group(1)) if m else None,
                float(m.group(col)) if m else None, target if when == "hot" else None, "ms")

def control(text):
    for when, col in (("after a pause", 1), ("back to back", 3)):
        s = re.search(r"/c/status\s+([\d.]+)\s+\S+\s+([\d.]+)", text)
        u = re.search(r"/lxcfs/proc/uptime\s+([\d.]+)\s+\S+\s+([\d.]+)", text)
        g = 1 if col == 1 else 2
        # how many times faster than lxcfs: ours must be at least 3x
        row("5", f"status read, {when} (times faster than lxcfs /proc/uptime)", float(s.group(g)) if s else None,
            float(u.group(g)) if u else None, 3.0, "µs", invert=True)

def load(text):
    m = re.search(r"while rm -rf.*?status p50\s+\d+ p99\s+(\d+).*?cgroup.stat p50\s+\d+ p99\s+(\d+)", text)
    if m:
        s99, c99 = float(m.group(1)), float(m.group(2))
        rows.append(("6", "status p99 while 1,500 die (vs 3 x cgroup.stat p99 + 1 ms)", f"{s99:g} µs", f"{3 * c99 + 1000:g} µs",
                     s99 / (3 * c99 + 1000), 1.0))
    else:
        rows.append(("6", "status p99 while 1,500 die", "-", "-", None, 1.0))

def scale(text):
    n = num(r"^created (\d+) in", text)
    readopt = num(r"re-adopted\) in (\d+) ms", text)
    rows.append(("7", f"re-adopting {int(n) if n else '?'} containers (vs 1 s)", f"{readopt:g} ms" if readopt else "-", "1000 ms",
                 readopt / 1000 if readopt else None, 1.0))
    count = int(n) if n else '?'
    for op, target in (("mkdir", 1.5), ("rmdir", None)):
        m = re.search(rf"^{op}\s+(\d+)\s+(\d+)", text, re.M)
        row("7", f"{op} p50 with {count} there (vs clone3 floor, same run)", float(m.group(1)) if m else None,
            float(m.group(2)) if m else None, target, "µs")
    row("7", f"rm -rf of {count} containers (vs cgroup.kill + wait + rmdir of as many)",
        num(r"^rm -rf of \d+ containers: (\d+) ms", text), num(r"^direct removal of \d+ containers.*: (\d+) ms", text), 2.0, "ms")

def sets(text):
    r = sorted(float(x) for x in re.findall(r"first ls ([\d.]+)x that", text))
    if r:
        rows.append(("8", "first ls after 1,000 unshares (vs the kernel's reads; median of rounds)",
                     f"{len(r)} rounds: {', '.join(f'{x:.2f}×' for x in r)}", "ns_floor.c", r[len(r) // 2], 1.5))
    else:
        rows.append(("8", "first ls after 1,000 unshares", "-", "-", None, 1.5))

def oci(text, when):
    # oci.sh prints a round per line pair: the mean of the rounds' p50s
    def med(v): return round(sum(v) / len(v), 1) if v else None
    ours = re.findall(r"^nsfs-oci\s+run --rm true p50\s+([\d.]+) ms.*?exec true p50\s+([\d.]+)", text, re.M)
    runc = re.findall(r"^runc\s+run --rm true p50\s+([\d.]+) ms.*?exec true p50\s+([\d.]+)", text, re.M)
    for k, what in ((0, "podman run --rm true"), (1, "podman exec true")):
        row("27", f"{what}, {when} (vs runc)", med([float(m[k]) for m in ours]), med([float(m[k]) for m in runc]), 1.0, "ms")

def main():
    d = sys.argv[1]
    create_destroy(read(d, "create-destroy-idle.txt"), "after idle")
    create_destroy(read(d, "create-destroy-b2b.txt"), "back to back")
    exec_(read(d, "exec-idle.txt"), "after idle")
    exec_(read(d, "exec-b2b.txt"), "back to back")
    tree(read(d, "tree-ops.txt"))
    control(read(d, "control-files.txt"))
    load(read(d, "under-load.txt"))
    scale(read(d, "scale.txt"))
    sets(read(d, "sets.txt"))
    oci(read(d, "oci-idle.txt"), "after idle")
    oci(read(d, "oci-b2b.txt"), "back to back")
    stamp = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    out = [f"Measured {stamp} by `Benchmarks/all.sh` ({os.cpu_count()} cores, kernel {os.uname().release}).", "",
           "| item | measure | ours | yardstick | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for item, measure, ours, yard, ratio, target in rows:
        r = f"{ratio:.2f}×" if ratio is not None else "-"
        t = "-" if target is None else f"≥ {-target:g}×" if target < 0 else f"≤ {target:g}×"
        met = "-" if ratio is None or target is None else ("yes" if (ratio >= -target if target < 0 else ratio <= target) else "no")
        out.append(f"| {item} | {measure} | {ours} | {yard} | {r} | {t} | {met} |")
    table = "\n".join(out) + "\n"
    print(table)
    if "--write" in sys.argv:
        path = sys.argv[sys.argv.index("--write") + 1]
        before = open(path).read() if os.path.exists(path) else ""
        regressed = []
        for item, measure, _, _, ratio, _ in rows:
            m = re.search(rf"^\| {re.escape(item)} \| {re.escape(measure)} \|[^|]*\|[^|]*\| ([\d.]+)×", before, re.M)
            worse = ratio is not None and m and (ratio < float(m.group(1)) / 1.1 if "faster" in measure else ratio > float(m.group(1)) * 1.1)
            if worse:
                regressed.append(f"- {measure}: {float(m.group(1)):.2f}× → {ratio:.2f}×")
        note = ("Regressed since the table before (by more than 10%):\n" + "\n".join(regressed) + "\n") if regressed \
            else "Nothing regressed by more than 10% since the table before.\n" if before else ""
        open(path, "w").write("# Issue 26's ratios, side by side with their yardsticks\n\n" + table + "\n" + note)
        print(note)

main()
