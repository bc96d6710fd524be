# Views, permissions, entering, and escape attempts.
# shellcheck shell=bash

NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"

test_a_container_sees_its_own_subtree_as_the_root() {
    new_mount
    mkdir -p "$MNT/a/b/c" "$MNT/a/d" "$MNT/x/y"
    # the host looks everything up first: nothing it cached may leak inward
    ls -R "$MNT" >/dev/null; cat "$MNT/x/status" "$MNT/x/y/status" >/dev/null
    view_ready "$MNT/a"
    local inside
    inside=$("$NSCTL" exec "$MNT/a" -- ls "$MNT")
    # what the host lists in a: b, d and a's entries (limits where the host has them)
    assert_eq "$(echo $inside)" "$(echo $(ls "$MNT/a"))" "listing inside a"
    grep -qx b <<<"$inside" && grep -qx status <<<"$inside" && ! grep -qx x <<<"$inside" || fail "listing inside a: $inside"
    # /namespaces/b is /a/b
    assert_eq "$("$NSCTL" exec "$MNT/a" -- awk '/^id:/ { print $2 }' "$MNT/b/status")" \
        "$(awk '/^id:/ { print $2 }' "$MNT/a/b/status")" "b inside a is the host's a/b"
    assert_eq "$("$NSCTL" exec "$MNT/a" -- awk '/^path:/ { print $2 }' "$MNT/b/c/status")" /b/c "path seen from a"
    # the same through nsenter --all into a's init
    assert_eq "$(nsenter -t "$(init_pid "$MNT/a")" -a ls "$MNT/b")" "$(ls "$MNT/a/b")" "nsenter --all view"
    # outside: ENOENT, even though the host has it cached
    assert_errno "No such file or directory" "$NSCTL" exec "$MNT/a" -- ls "$MNT/x"
    assert_errno "No such file or directory" "$NSCTL" exec "$MNT/a" -- stat "$MNT/a"
    # below it: create, rename, kill as on the host
    "$NSCTL" exec "$MNT/a" -- mkdir "$MNT/b/new"
    "$NSCTL" exec "$MNT/a" -- mv "$MNT/b/new" "$MNT/b/renamed"
    [ -d "$MNT/a/b/renamed" ] || fail "mkdir + mv inside a not visible on the host"
    "$NSCTL" exec "$MNT/a" -- rm -rf "$MNT/d"
    [ ! -e "$MNT/a/d" ] || fail "rm -rf inside a did not remove a/d"
    # never its own container: the view's root is a mount point (and a's
    # root, an unprivileged id on the host, does not own it: in the sticky
    # test directory the kernel refuses that first)
    local e
    for e in "rmdir $MNT" "mv $MNT $MNT.moved"; do
        case $("$NSCTL" exec "$MNT/a" -- $e 2>&1) in
            *busy*|*"not permitted"*) ;;
            *) fail "$e inside a was not refused" ;;
        esac
    done
    [ -d "$MNT/a" ] || fail "a is gone"
    check_consistency
}

test_unprivileged_callers_can_read_but_not_change() {
    new_mount
    mkdir -p "$MNT/a/b"
    $NOBODY ls "$MNT/a" >/dev/null
    $NOBODY cat "$MNT/a/status" >/dev/null
    assert_errno "Permission denied" $NOBODY mkdir "$MNT/n"
    assert_errno "Permission denied" $NOBODY rmdir "$MNT/a/b"
    assert_errno "Permission denied" $NOBODY mv "$MNT/a" "$MNT/z"
    assert_errno "Permission denied" $NOBODY sh -c "echo x > $MNT/a/hostname"
    assert_errno "Permission denied" $NOBODY sh -c "echo 1 > $MNT/a/freeze"
    assert_errno "Operation not permitted" $NOBODY chown 65534 "$MNT/a"
    # root in an unprivileged user namespace has CAP_SYS_ADMIN there, not over us
    assert_errno "Permission denied" unshare -Ur mkdir "$MNT/n"
    assert_errno "Permission denied" unshare -Ur rmdir "$MNT/a/b"
    assert_errno "Operation not permitted" unshare -Ur chown 0 "$MNT/a"
    [ -d "$MNT/a/b" ] && [ ! -e "$MNT/n" ] && [ ! -e "$MNT/z" ] || fail "something changed"
    assert_eq "$(cat "$MNT/a/hostname")" a "hostname unchanged"
}

test_chown_delegates_a_subtree() {
    new_mount
    mkdir -p "$MNT/mine" "$MNT/other"
    stat "$MNT/mine/ns" "$MNT/mine/ns/net" >/dev/null   # their attributes are now cached by the kernel
    chown 65534:65534 "$MNT/mine"
    assert_eq "$(stat -c %u:%g "$MNT/mine")" 65534:65534 "owner"
    # its entries show the new owner at once (the cached attributes were dropped)
    assert_eq "$(stat -c %u:%g "$MNT/mine/ns" "$MNT/mine/ns/net" "$MNT/mine/status" | sort -u)" 65534:65534 "owner of the entries"
    $NOBODY mkdir "$MNT/mine/job" "$MNT/mine/job/step"
    $NOBODY mv "$MNT/mine/job" "$MNT/mine/work"
    echo 1 | $NOBODY tee "$MNT/mine/work/freeze" >/dev/null
    echo 0 | $NOBODY tee "$MNT/mine/work/freeze" >/dev/null
    $NOBODY rm -rf "$MNT/mine/work"
    [ ! -e "$MNT/mine/work" ] || fail "delegated rm -rf"
    # nowhere else, and not the delegated container itself
    assert_errno "Permission denied" $NOBODY mkdir "$MNT/other/x"
    assert_errno "Permission denied" $NOBODY rmdir "$MNT/mine"
    assert_errno "Permission denied" $NOBODY mv "$MNT/mine" "$MNT/m2"
    # its own entries are its parent's manager's (as in cgroupfs delegation)
    assert_errno "Permission denied" sh -c "echo 1 | $NOBODY tee $MNT/mine/freeze"
    assert_errno "Permission denied" sh -c "echo x | $NOBODY tee $MNT/mine/hostname"
    assert_eq "$(stat -c %u "$MNT/mine/freeze") $(stat -c %u "$MNT/mine/status")" "0 65534" "owners of mine's entries"
    # the delegation survives a remount
    remount
    assert_eq "$(stat -c %u "$MNT/mine")" 65534 "owner after remount"
    $NOBODY mkdir "$MNT/mine/again"
}

test_nsctl_exec_runs_inside_with_status_signals_and_errors() {
    new_mount
    mkdir -p "$MNT/a/b"
    local a; a=$(init_pid "$MNT/a")
    # all namespaces, its cgroup, a process of its pid namespace
    local rc=0
    "$NSCTL" exec "$MNT/a" -- sh -c 'exit 7' || rc=$?
    assert_eq "$rc" 7 "exit status"
    assert_eq "$("$NSCTL" exec "$MNT/a" -- hostname)" a "uts"
    assert_eq "$("$NSCTL" exec "$MNT/a" -- readlink /proc/self/ns/net)" "$(readlink /proc/$a/ns/net)" "net"
    assert_eq "$("$NSCTL" exec "$MNT/a" -- readlink /proc/self/ns/pid)" "$(readlink /proc/$a/ns/pid)" "pid namespace"
    assert_eq "$("$NSCTL" exec "$MNT/a" -- grep '^0::' /proc/self/cgroup)" "0::/" "cgroup (its own cgroup namespace root)"
    local cga; cga=$(awk '/^cgroup:/ { print $2 }' "$MNT/a/status")
    "$NSCTL" exec "$MNT/a" -- sleep 5 &
    wait_for 5 sh -c "[ \$(wc -l < $CGROUP2$cga/leaf/cgroup.procs) -ge 2 ]" || fail "not in a's cgroup"
    wait
    # a subset: net only (hostname stays the host's)
    assert_eq "$("$NSCTL" exec --ns net "$MNT/a" -- hostname)" "$(hostname)" "uts not entered"
    assert_eq "$("$NSCTL" exec --ns net "$MNT/a" -- readlink /proc/self/ns/net)" "$(readlink /proc/$a/ns/net)" "net entered"
    # signals are passed on
    local sig rc
    for sig in TERM INT HUP; do
        "$NSCTL" exec "$MNT/a" -- sleep 30 & local p=$!
        sleep 0.3
        kill -$sig $p
        rc=0; wait $p || rc=$?
        assert_eq $rc $((128 + $(kill -l $sig))) "status after SIG$sig"
    done
    # a terminal that works, through a pty
    rc=0
    out=$(printf 'echo in-$(hostname)\nexit 4\n' | script -qec "$NSCTL exec -t $MNT/a -- sh -i" /dev/null | tr -d '\r') || rc=$?
    assert_eq $rc 4 "status through the pty"
    grep -q "in-a" <<<"$out" || fail "interactive shell output: $out"
    # (its own pty: the caller's terminal is never the container's; the
    # relay may echo script's end-of-input before the output, hence the marker)
    assert_eq "$(script -qec "$NSCTL exec -t $MNT/a -- sh -c 'echo fg \$(ps -o pgid=,tpgid= -p \$\$)'" /dev/null | tr -d '\r' | grep -o 'fg .*' | awk '{ print ($2 == $3) }')" 1 \
        "the child owns its terminal's foreground"
    # errors: one line, non-zero
    local e
    for e in "nope:$MNT/nope -- true" "bad-ns:--ns bogus $MNT/a -- true" "no-cmd:$MNT/a" "bad-cmd:$MNT/a -- /no/such/program"; do
        rc=0; out=$("$NSCTL" exec ${e#*:} 2>&1) || rc=$?
        [ $rc != 0 ] || fail "${e%%:*}: exit 0"
        assert_eq "$(printf '%s\n' "$out" | wc -l)" 1 "${e%%:*}: lines of error"
        case $out in nsctl:*) ;; *) fail "${e%%:*}: $out" ;; esac
    done
}

test_nsctl_ps_and_tree_in_the_readers_view() {
    new_mount
    mkdir -p "$MNT/a/b" "$MNT/x"
    in_container "$MNT/a/b" sleep 100 >/dev/null 2>&1 &
    wait_for 5 sh -c "grep -q . $MNT/a/b/procs && [ \$(wc -l < $MNT/a/b/procs) -ge 2 ]"
    local ps; ps=$("$NSCTL" ps "$MNT")
    grep -q " /a/b .*sleep" <<<"$ps" || fail "ps: $ps"
    grep -q " /x " <<<"$ps" || fail "ps lacks x: $ps"
    local tree; tree=$("$NSCTL" tree "$MNT")
    grep -q "a  running  1 process" <<<"$tree" && grep -q "b  running" <<<"$tree" && grep -q "x  running" <<<"$tree" || fail "tree: $tree"
    # inside a: its own subtree, its own pids
    view_ready "$MNT/a"
    ps=$("$NSCTL" exec "$MNT/a" -- "$NSCTL" ps "$MNT")
    grep -q " /b .*sleep" <<<"$ps" || fail "ps inside a: $ps"
    grep -q "x" <<<"$(awk '{ print $2 }' <<<"$ps")" && fail "ps inside a shows x: $ps"
    tree=$("$NSCTL" exec "$MNT/a" -- "$NSCTL" tree "$MNT")
    assert_eq "$(head -1 <<<"$tree" | awk '{ print $1 }')" a "tree inside a starts at a"
    grep -q "x" <<<"$tree" && fail "tree inside a shows x: $tree"
    return 0
}

# --- escape attempts: each must fail; the comment names the defence ---

test_escape_dotdot_past_the_root() {
    echo "    stopped by: the view is a mount of a's own directory (.. leaves the mount)"
    new_mount
    mkdir -p "$MNT/a" "$MNT/x"
    view_ready "$MNT/a"
    # Defence: the view is a mount of a's own directory; ".." at a mount's
    # root leaves the mount (to its parent directory), never to a's parent.
    local m; m=$(basename "$MNT")
    "$NSCTL" exec "$MNT/a" -- sh -c "cd $MNT/../$m/.. && ls $m/x" 2>/dev/null && fail "reached x through .."
    assert_eq "$("$NSCTL" exec "$MNT/a" -- awk '/^name:/ { print $2 }' "$MNT/../$m/status")" a "top after .."
}

test_escape_through_proc_root_of_an_outside_process() {
    echo "    stopped by: pid namespace (no outside process in a's /proc) and views"
    new_mount
    mkdir -p "$MNT/a" "$MNT/x"
    view_ready "$MNT/a"
    # Defence: pid namespace (no outside process is in a's /proc) and views
    # (every /proc/PID/root it can see is a's own mount namespace).
    local found
    found=$("$NSCTL" exec "$MNT/a" -- sh -c "for p in /proc/[0-9]*; do [ -e \$p/root$MNT/x ] && echo \$p; done; true")
    assert_eq "$found" "" "processes whose root reaches x"
    local h; h=$(init_pid "$MNT/x")
    "$NSCTL" exec "$MNT/a" -- sh -c "grep -q 'NSpid:.*$h' /proc/*/status 2>/dev/null" && fail "x's init visible in a's /proc"
    return 0
}

test_escape_with_a_descriptor_opened_before_entering() {
    echo "    stopped by: the per-request check of the caller's pid namespace (ENOENT outside a)"
    new_mount
    mkdir -p "$MNT/a" "$MNT/x"
    local a; a=$(init_pid "$MNT/a")
    # Defence: every request is checked against the caller's pid namespace:
    # outside a's subtree nothing exists for it (ENOENT), whatever path or
    # descriptor it comes through.
    # The syscall's number on this architecture, from the C headers.
    local getdents64; getdents64=$(printf '#include <sys/syscall.h>\nSYS_getdents64\n' | gcc -E -P - | tail -1)
    python3 - "$MNT" "$a" "$getdents64" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
mnt, init, SYS_getdents64 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
top = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)          # the host's view
os.fstat(top)                    # its attributes cached: no getattr will stop the reads below
pidfd = os.pidfd_open(init)
CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS = 0x20000000, 0x00020000, 0x04000000
if libc.setns(pidfd, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS) != 0:
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
def getdents(fd):                                         # the raw syscall: no fstat first
    buf = ctypes.create_string_buffer(4096)
    n = libc.syscall(SYS_getdents64, fd, buf, 4096)
    if n < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return [] if n == 0 else ["entries"]
pid = os.fork()                                           # now a process of a
if pid == 0:
    failures = []
    # A listing escapes if it shows any name (glibc's readdir reports the
    # ENOENT of getdents as the end of the directory: an empty listing).
    for what, fn in [("list x", lambda: os.listdir(os.open("x", os.O_RDONLY, dir_fd=top))),
                     ("read x/status", lambda: os.open("x/status", os.O_RDONLY, dir_fd=top)),
                     ("mkdir x/evil", lambda: os.mkdir("x/evil", dir_fd=top)),
                     ("rmdir x", lambda: os.rmdir("x", dir_fd=top)),
                     ("rename a", lambda: os.rename("a", "free", src_dir_fd=top, dst_dir_fd=top)),
                     ("list the top", lambda: os.listdir(top)),
                     ("getdents the top", lambda: getdents(top))]:
        try:
            got = fn()
            if not (isinstance(got, list) and not got):
                failures.append(what)
        except OSError:
            pass
    os._exit(1 if failures else 0) if not failures else (print("escaped:", failures), os._exit(1))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
PY
    [ -d "$MNT/x" ] && [ -d "$MNT/a" ] && [ ! -e "$MNT/x/evil" ] || fail "the tree changed"
}

test_escape_signals_to_a_siblings_processes() {
    echo "    stopped by: pid namespace (kill -9 -1 reaches only a's processes)"
    new_mount
    mkdir -p "$MNT/a" "$MNT/x"
    in_container "$MNT/x" sleep 100 >/dev/null 2>&1 &
    local cgx; cgx=$(cgroup_dir_of "$(init_pid "$MNT/x")")
    wait_for 5 sh -c "[ \$(wc -l < $cgx/cgroup.procs) -ge 2 ]"
    local before; before=$(cat "$cgx/cgroup.procs")
    # a has a process of its own, which the same kill must reach
    in_container "$MNT/a" sleep 100 >/dev/null 2>&1 &
    local cga; cga=$(cgroup_dir_of "$(init_pid "$MNT/a")")
    wait_for 5 sh -c "[ \$(wc -l < $cga/cgroup.procs) -ge 3 ]"
    local victim; victim=$(nsenter -t "$(init_pid "$MNT/a")" -p -m pgrep -x sleep)
    [ -n "$victim" ] || fail "no sleeper in a"
    # Defence: pid namespace. "kill -9 -1" reaches every process a can see.
    "$NSCTL" exec "$MNT/a" -- sh -c 'kill -9 -1' || true
    wait_for 2 sh -c "! nsenter -t $(init_pid "$MNT/a") -p -m pgrep -x sleep >/dev/null" || fail "kill -9 -1 missed a's own sleeper"
    local p
    for p in $before; do is_running "$p" || fail "x's process $p died"; done
    kill -0 "$(init_pid "$MNT/a")" || fail "a's init died"
}

test_escape_to_an_ancestors_handles() {
    echo "    stopped by: views (no entry for a) and pid namespace (a's init has no pid in b)"
    new_mount
    mkdir -p "$MNT/a/b"
    view_ready "$MNT/a/b"
    local a b; a=$(init_pid "$MNT/a"); b=$(init_pid "$MNT/a/b")
    # Defence: views (b's tree has no entry for a) and pid namespaces (a's
    # init has no pid in b's /proc): no handle b can name is a's.
    local inodes; inodes=$(nsenter -t "$b" -a sh -c "find $MNT -path '*/ns/*' -exec stat -L -c %i {} + 2>/dev/null; stat -L -c %i /proc/*/ns/* 2>/dev/null" | sort -u)
    local k
    for k in pid net uts mnt ipc; do
        grep -qx "$(stat -L -c %i /proc/$a/ns/$k)" <<<"$inodes" && fail "b can name a's $k namespace"
    done
    assert_eq "$(nsenter -t "$b" -a readlink "$MNT/ns/pid")" /proc/1/ns/pid "b's own handle at its top"
}

test_views_come_back_after_a_restart_and_a_crash() {
    new_mount
    mkdir -p "$MNT/a/b"
    view_ready "$MNT/a/b"
    remount
    # the old view belonged to the old daemon's connection: re-attached
    view_ready "$MNT/a"
    view_ready "$MNT/a/b"
    assert_eq "$("$NSCTL" exec "$MNT/a" -- ls "$MNT" | head -1)" b "a's view after remount"
    crash_and_remount
    view_ready "$MNT/a/b"
    assert_eq "$("$NSCTL" exec "$MNT/a/b" -- awk '/^path:/ { print $2 }' "$MNT/status")" / "b's view after a crash"
}

test_modes_owners_and_the_sticky_bit_as_on_a_posix_directory() {
    new_mount
    local u1001="setpriv --reuid=1001 --regid=1001 --clear-groups"
    (umask 027; mkdir "$MNT/p")
    assert_eq "$(stat -c '%a %u:%g' "$MNT/p")" "750 0:0" "mkdir's mode less the umask, the creator as owner"
    chmod 1777 "$MNT/p"
    assert_eq "$(stat -c %a "$MNT/p")" 1777 "after chmod"
    # anyone may create in it; the new container is its creator's
    (umask 022; $NOBODY mkdir "$MNT/p/n1")
    assert_eq "$(stat -c '%a %u:%g' "$MNT/p/n1")" "755 65534:65534" "nobody's container"
    $u1001 mkdir "$MNT/p/u1"
    # the sticky bit: only the child's or the directory's owner removes or renames it
    assert_errno "Operation not permitted" $u1001 rmdir "$MNT/p/n1"
    assert_errno "Operation not permitted" $u1001 mv "$MNT/p/n1" "$MNT/p/x"
    $NOBODY mv "$MNT/p/n1" "$MNT/p/n2"
    $NOBODY mkdir "$MNT/p/n2/inner"
    assert_errno "Permission denied" $u1001 mkdir "$MNT/p/n2/x"
    # chmod: the owner's (or root's); nobody else's
    assert_errno "Operation not permitted" $u1001 chmod 777 "$MNT/p/n2"
    $NOBODY chmod 700 "$MNT/p/n2"
    assert_eq "$(stat -c %a "$MNT/p/n2")" 700 "chmod by the owner"
    assert_errno "Operation not permitted" chmod 600 "$MNT/p/n2/status"
    # a container's writable entries are its parent's owner's, as stat says
    assert_eq "$(stat -c '%a %u' "$MNT/p/n2/freeze" "$MNT/p/n2/status" | tr '\n' ' ')" "644 0 444 65534 " "entries' modes and owners"
    assert_errno "Permission denied" sh -c "echo 1 | $NOBODY tee $MNT/p/n2/freeze"
    echo 1 | $NOBODY tee "$MNT/p/n2/inner/freeze" >/dev/null || fail "nobody cannot freeze its own child"
    echo 0 | $NOBODY tee "$MNT/p/n2/inner/freeze" >/dev/null
    # modes and owners survive a remount and a crash
    remount
    assert_eq "$(stat -c '%a %u' "$MNT/p" "$MNT/p/n2" | tr '\n' ' ')" "1777 0 700 65534 " "after a remount"
    crash_and_remount
    assert_eq "$(stat -c '%a %u' "$MNT/p" "$MNT/p/n2" | tr '\n' ' ')" "1777 0 700 65534 " "after a crash"
    $NOBODY rm -rf "$MNT/p/n2"
    rmdir "$MNT/p/u1"
    check_consistency
}
