# The filesystem's own entries: ns/ handles, status, procs, hostname, freeze; tar.
# shellcheck shell=bash

test_handles_work_with_nsenter_and_setns() {
    new_mount
    mkdir -p "$MNT/a/b"
    local a; a=$(init_pid "$MNT/a")
    assert_eq "$(nsenter --net="$MNT/a/ns/net" ip -br link | awk '{ print $1 }')" lo "links in a's netns"
    nsenter --net="$MNT/a/ns/net" ip -br link | matches "UP" || fail "lo not up"
    assert_eq "$(nsenter --uts="$MNT/a/ns/uts" hostname)" a "hostname through the handle"
    assert_eq "$(nsenter --uts="$MNT/a/b/ns/uts" hostname)" b "nested handle"
    local k
    for k in cgroup ipc mnt net pid time user uts; do
        assert_eq "$(stat -L -c %i "$MNT/a/ns/$k")" "$(stat -L -c %i /proc/$a/ns/$k)" "ns/$k names a's namespace"
    done
    # open(2) + setns(2), as a program would do it
    python3 - "$MNT/a/ns/net" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
if libc.setns(fd, 0x40000000) != 0:   # CLONE_NEWNET
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
PY
    # the root stands for the daemon's namespaces
    assert_eq "$(stat -L -c %i "$MNT/ns/net")" "$(stat -L -c %i /proc/self/ns/net)" "root ns/net"
}

test_handles_resolve_in_the_readers_pid_namespace() {
    new_mount
    mkdir -p "$MNT/a/b/c"
    local a b c
    a=$(init_pid "$MNT/a"); b=$(init_pid "$MNT/a/b"); c=$(init_pid "$MNT/a/b/c")
    # From inside a (its mount namespace: its view, where b is /b; its pid
    # namespace and its /proc), b's and c's handles name b's and c's
    # namespaces, not some process that has the host's pid.
    wait_for 5 sh -c "nsenter -t $a -m test -d $MNT/b/c"
    assert_eq "$(nsenter -t "$a" -m -p stat -L -c %i "$MNT/b/ns/net")" "$(stat -L -c %i /proc/$b/ns/net)" "b's net from a"
    assert_eq "$(nsenter -t "$a" -m -p stat -L -c %i "$MNT/b/c/ns/uts")" "$(stat -L -c %i /proc/$c/ns/uts)" "c's uts from a"
    local inside; inside=$(awk '/^NSpid:/ { print $3 }' /proc/$b/status)
    assert_eq "$(nsenter -t "$a" -m -p readlink "$MNT/b/ns/net")" "/proc/$inside/ns/net" "link text from a"
    assert_eq "$(nsenter -t "$a" -m -p awk '/^init:/ { print $2 }' "$MNT/b/status")" "$inside" "init pid from a"
    # Its own handles, at the top of its view, name its own init: pid 1.
    assert_eq "$(nsenter -t "$a" -m -p readlink "$MNT/ns/net")" "/proc/1/ns/net" "a's own handle from a"
    nsenter -t "$a" -m -p sh -c "nsenter --uts=$MNT/b/ns/uts hostname" | matches -x b || fail "nsenter from inside a"
}

test_status_has_every_key() {
    new_mount
    mkdir -p "$MNT/a/b"
    local s; s=$(cat "$MNT/a/b/status")
    local key
    for key in name path id state created init cgroup processes; do
        grep -q "^$key: ." <<<"$s" || fail "status has no $key"
    done
    grep -qx "name: b" <<<"$s" && grep -qx "path: /a/b" <<<"$s" && grep -qx "state: running" <<<"$s" || fail "values: $s"
    grep -qE "^created: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$" <<<"$s" || fail "created is not RFC 3339"
    local b; b=$(init_pid "$MNT/a/b")
    for key in cgroup ipc mnt net pid time user uts; do
        grep -qxF "ns-$key: $(readlink /proc/$b/ns/$key)" <<<"$s" || fail "ns-$key identity"
        grep -qE "^ns-$key-id: [0-9]+$" <<<"$s" || fail "ns-$key-id"
    done
    # the container's cgroup; its own processes are in its leaf
    grep -qx "cgroup: $(awk -F: '$1 == "0" { print $3 }' /proc/$b/cgroup | sed 's|/leaf$||')" <<<"$s" || fail "cgroup path"
    # id survives a rename and a remount
    local id; id=$(awk '/^id:/ { print $2 }' "$MNT/a/status")
    mv "$MNT/a" "$MNT/z"
    remount
    assert_eq "$(awk '/^id:/ { print $2 }' "$MNT/z/status")" "$id" "id after rename + remount"
    # sizes are true: st_size == bytes read
    local f
    for f in status procs hostname freeze; do
        assert_eq "$(stat -c %s "$MNT/z/$f")" "$(wc -c < "$MNT/z/$f")" "size of $f"
    done
}

test_procs_lists_own_processes_in_the_readers_view() {
    new_mount
    mkdir -p "$MNT/a/b"
    in_container "$MNT/a" sleep 1000 &
    in_container "$MNT/a/b" sleep 1000 &
    local cga; cga=$(cgroup_dir_of "$(init_pid "$MNT/a")")
    wait_for 5 sh -c "[ \$(wc -l < $cga/cgroup.procs) -ge 2 ]"
    # own processes only (init, nsenter, sleep; not b's), host pids for a host reader
    assert_eq "$(cat "$MNT/a/procs")" "$(sort -n "$cga/cgroup.procs")" "procs of a"
    assert_eq "$(wc -l < "$MNT/a/procs")" 3 "a's own processes"
    # from inside a: a's pids in a's pid namespace (its init is 1); nsenter,
    # which stayed in the host's pid namespace, is invisible there
    local seen; seen=$(nsenter -t "$(init_pid "$MNT/a")" -m -p cat "$MNT/procs")
    assert_eq "$(wc -l <<<"$seen")" 2 "number of a's procs seen from a"
    assert_eq "$(head -1 <<<"$seen")" 1 "a's init seen from a"
    # from inside b: a's processes are invisible, so left out
    # from inside b (its pid namespace, the host's mount view): a's
    # processes are invisible, so left out
    assert_eq "$(nsenter -t "$(init_pid "$MNT/a/b")" -p cat "$MNT/a/procs" 2>/dev/null | wc -l)" 0 "a's procs seen from b"
    kill %1 %2 2>/dev/null || true
}

test_hostname_read_write_and_bad_values() {
    new_mount
    mkdir "$MNT/a"
    assert_eq "$(cat "$MNT/a/hostname")" a "initial hostname"
    echo web1 > "$MNT/a/hostname"
    assert_eq "$(cat "$MNT/a/hostname")" web1 "hostname after write"
    assert_eq "$(nsenter --uts="$MNT/a/ns/uts" hostname)" web1 "kernel hostname"
    # (bash: dash's echo words every write error as "I/O error")
    assert_errno "Invalid argument" bash -c "echo > $MNT/a/hostname"
    assert_errno "Invalid argument" bash -c "printf '%065d' 0 > $MNT/a/hostname"
    assert_errno "Invalid argument" python3 -c 'import os, sys; os.write(os.open(sys.argv[1], os.O_WRONLY), b"a\nb\n")' "$MNT/a/hostname"
    assert_eq "$(nsenter --uts="$MNT/a/ns/uts" hostname)" web1 "unchanged after bad writes"
    printf '%064d' 0 > "$MNT/a/hostname"
    assert_eq "$(cat "$MNT/a/hostname" | wc -c)" 65 "64-byte hostname"
    assert_errno "Permission denied" bash -c "echo x > $MNT/a/status"
    assert_errno "Permission denied" bash -c "echo x > $MNT/hostname"
}

test_freeze_and_thaw_the_subtree() {
    new_mount
    mkdir -p "$MNT/a/b"
    in_container "$MNT/a/b" sleep 1000 &
    local cgb; cgb=$(cgroup_dir_of "$(init_pid "$MNT/a/b")")
    wait_for 5 sh -c "[ \$(wc -l < $cgb/cgroup.procs) -ge 2 ]"
    echo 1 > "$MNT/a/freeze"
    assert_eq "$(cat "$MNT/a/freeze")" 1 "freeze reads 1"
    grep -qx "state: frozen" "$MNT/a/status" || fail "status not frozen"
    wait_for 5 grep -qx "frozen 1" "$cgb/cgroup.events" || fail "b not frozen"
    assert_errno "Invalid argument" bash -c "echo 2 > $MNT/a/freeze"
    assert_errno "Invalid argument" bash -c "echo yes > $MNT/a/freeze"
    assert_errno "Invalid argument" bash -c "echo > $MNT/a/freeze"
    assert_eq "$(cat "$MNT/a/freeze")" 1 "unchanged after bad writes"
    echo 0 > "$MNT/a/freeze"
    wait_for 5 grep -qx "frozen 0" "$cgb/cgroup.events" || fail "b not thawed"
    # rm -rf of a frozen container works
    echo 1 > "$MNT/a/freeze"
    rm -rf "$MNT/a"
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d | wc -l)" 0 "cgroups after rm -rf of a frozen tree"
    wait
}

test_tar_snapshot_while_processes_fork() {
    new_mount
    mkdir -p "$MNT/a/b/c" "$MNT/a/d"
    in_container "$MNT/a/b" sh -c 'while :; do (true &); done' 2>/dev/null &
    local loop=$!
    local cgb; cgb=$(cgroup_dir_of "$(init_pid "$MNT/a/b")")
    wait_for 5 sh -c "[ \$(wc -l < $cgb/cgroup.procs) -ge 3 ]"
    local i out
    for i in 1 2 3 4 5; do
        out=$(tar cf "$TEST_TMP/snap.tar" -C "$MNT" a 2>&1) || fail "tar exited non-zero: $out"
        [ -z "$out" ] || fail "tar warned: $out"
    done
    kill "$loop" 2>/dev/null || true
    mkdir "$TEST_TMP/x"
    tar xf "$TEST_TMP/snap.tar" -C "$TEST_TMP/x"
    grep -qx "name: b" "$TEST_TMP/x/a/b/status" || fail "status content incomplete"
    grep -q "^ns-uts-id: " "$TEST_TMP/x/a/b/status" || fail "status content truncated"
    assert_eq "$(cat "$TEST_TMP/x/a/b/hostname")" b "hostname in the archive"
    [ -s "$TEST_TMP/x/a/b/procs" ] || fail "procs empty in the archive"
    [ -L "$TEST_TMP/x/a/b/ns/net" ] || fail "ns/net is not a symlink in the archive"
    tar tf "$TEST_TMP/snap.tar" > "$TEST_TMP/list"
    grep -qx "a/b/c/" "$TEST_TMP/list" || fail "nested container missing"
}

test_control_entries_are_reserved_and_rm_rf_leaves_nothing() {
    new_mount
    mkdir "$MNT/a"
    local e
    for e in ns status procs hostname freeze; do assert_errno "File exists" mkdir "$MNT/a/$e"; done
    local init; init=$(init_pid "$MNT/a")
    # unlinking a control entry is accepted and only hides it for a moment,
    # from the thread that unlinked it: everyone else still sees it
    python3 - "$MNT/a" <<'PY'
import os, sys, time
a = sys.argv[1]
os.unlink(a + "/status")
assert not os.path.exists(a + "/status"), "status still there for its unlinker"
assert "status" not in os.listdir(a), "status still listed for its unlinker"
assert os.path.exists(a + "/procs"), "procs hidden by the unlink of status"
time.sleep(1.1)
assert os.path.exists(a + "/status"), "status did not come back"
PY
    rm -f "$MNT/a/procs"
    [ -f "$MNT/a/procs" ] || fail "procs hidden from another process by rm's unlink"
    rm -rf "$MNT/a/ns"
    wait_for 3 sh -c "[ -L $MNT/a/ns/net ] && ls $MNT/a/ns | grep -q uts" || fail "ns/ unusable after rm -rf of it"
    kill -0 "$init" || fail "unlinks killed the container"
    assert_errno "Operation not permitted" touch "$MNT/a/newfile"
    rm -rf "$MNT/a"
    [ ! -e "$MNT/a" ] || fail "a still there"
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d | wc -l)" 0 "cgroups left"
    assert_eq "$(record_count)" 0 "records left"
}
