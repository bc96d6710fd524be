# Found by trying it as a careless user and as an attacker would (issue 17):
# each test fails without its fix.
# shellcheck shell=bash

test_tar_x_into_the_mount_ends() {
    new_mount
    mkdir -p "$MNT/bk" "$MNT/e"
    tar cf "$TEST_TMP/bk.tar" -C "$MNT" bk
    rm -rf "$MNT/bk"
    local rc=0
    # Used to loop forever: unlink of a control entry "succeeded" and the
    # name was still there for the next open(O_CREAT|O_EXCL).
    timeout 30 tar xf "$TEST_TMP/bk.tar" -C "$MNT/e" 2>"$TEST_TMP/tar.err" || rc=$?
    [ "$rc" != 124 ] || fail "tar x did not end"
    # Plain tar x restores the entries (see "Snapshots") but not their
    # times, owners and modes, which are the filesystem's: it says so and
    # fails (README's options make it exit 0, test_tar_snapshot_...).
    [ "$rc" != 0 ] || fail "tar x reported success for times and modes it could not set"
    grep -q "bk/status: Cannot utime: Operation not permitted" "$TEST_TMP/tar.err" || fail "no clear error: $(head -3 "$TEST_TMP/tar.err")"
    [ -d "$MNT/e/bk" ] || fail "the container tar could make was not made"
    # the same for cp -r, rsync -a and install: each ends, with an error
    # (once the entries tar unlinked are back: hidden, they are not copied)
    sleep 1.1
    local tool
    for tool in "cp -r $MNT/e/bk $MNT/e/cp" "rsync -a $MNT/e/bk/ $MNT/e/rs/" "install -D $TEST_TMP/bk.tar $MNT/e/inst/file"; do
        rc=0
        timeout 30 $tool >/dev/null 2>&1 || rc=$?
        [ "$rc" != 124 ] || fail "did not end: $tool"
        [ "$rc" != 127 ] || fail "not installed: $tool"
        [ "$rc" != 0 ] || fail "reported success: $tool"
    done
    # An unlinked entry comes back by itself; rm -rf still works.
    sleep 1.1
    grep -q "^name: bk" "$MNT/e/bk/status"
    rm -rf "$MNT/e"
    [ ! -e "$MNT/e" ] || fail "rm -rf did not remove e"
    check_consistency
}

test_nsctl_trusts_only_a_real_mount() {
    new_mount
    mkdir "$MNT/e"
    # A forged container: a status file naming the forger's own process.
    mkdir -p "$TEST_TMP/fake"
    sed "s/^init: .*/init: $$/" "$MNT/e/status" > "$TEST_TMP/fake/status"
    assert_errno "not a container of a namespacefs mount" "$NSCTL" exec "$TEST_TMP/fake" -- id
    assert_errno "not a container of a namespacefs mount" "$NSCTL" tree "$TEST_TMP/fake"
    "$NSCTL" exec "$MNT/e" -- true
}

test_one_daemon_per_state_directory_and_cgroup_root() {
    new_mount
    mkdir "$MNT/victim"
    local first_mnt=$MNT first_state=$STATE first_cg=$CG
    mkdir -p "$TEST_TMP/second"
    MOUNTS+=("$TEST_TMP/second")   # unmounted at cleanup, should it mount
    assert_errno "is in use by another daemon: namespacefs pid" \
        "$NSFS_BIN" "$TEST_TMP/second" -o "state_dir=$first_state,cgroup=$first_cg-other"
    assert_errno "the cgroup $first_cg is in use by another daemon" \
        "$NSFS_BIN" "$TEST_TMP/second" -o "state_dir=/run/nsfs-test-$$-second,cgroup=$first_cg"
    is_mounted "$TEST_TMP/second" && fail "a second daemon mounted"
    # The lock never stands in the way of umount + mount at once: the old
    # daemon is given a moment to exit.
    local i; for i in 1 2 3; do remount || fail "mount right after umount refused"; done
    [ -d "$MNT/victim" ] || fail "victim lost across remounts"
    # Defaults: two state directories never share a cgroup root.
    mkdir -p "$TEST_TMP/d1" "$TEST_TMP/d2"
    "$NSFS_BIN" "$TEST_TMP/d1" -o "state_dir=/run/nsfs-test-$$-d1"
    MOUNTS+=("$TEST_TMP/d1")
    "$NSFS_BIN" "$TEST_TMP/d2" -o "state_dir=/run/nsfs-test-$$-d2"
    MOUNTS+=("$TEST_TMP/d2")
    mkdir "$TEST_TMP/d1/x" "$TEST_TMP/d2/y"
    local cg1 cg2
    cg1=$(awk '/^cgroup:/ { print $2 }' "$TEST_TMP/d1/x/status"); cg2=$(awk '/^cgroup:/ { print $2 }' "$TEST_TMP/d2/y/status")
    assert_ne "${cg1%/*}" "${cg2%/*}" "default cgroup roots"
    rm -rf "$TEST_TMP/d1"/* "$TEST_TMP/d2"/*
    [ -d "$MNT/victim" ] || fail "the first mount lost its container"
    umount "$TEST_TMP/d1"; umount "$TEST_TMP/d2"
    rmdir "$CGROUP2${cg1%/*}" "$CGROUP2${cg2%/*}"
    if [ -n "$PIDS_V1" ]; then rmdir "$PIDS_V1${cg1%/*}" "$PIDS_V1${cg2%/*}"; fi
    check_consistency
}

test_writes_are_checked_against_the_writer() {
    new_mount
    mkdir "$MNT/e" "$MNT/a"
    chmod 1777 "$TEST_TMP"
    # A descriptor opened by root, inherited by nobody.
    local rc=0
    $NOBODY sh -c 'echo evil >&3' 3>"$MNT/e/hostname" 2>/dev/null || rc=$?
    assert_ne "$rc" 0 "nobody's write through root's descriptor"
    assert_eq "$(cat "$MNT/e/hostname")" e "hostname after nobody's write"
    # A descriptor of e/freeze handed to a process inside sibling a.
    rc=0
    in_container "$MNT/a" sh -c 'echo 1 >&3' 3>"$MNT/e/freeze" 2>/dev/null || rc=$?
    assert_ne "$rc" 0 "a's write to e/freeze"
    assert_eq "$(cat "$MNT/e/freeze")" 0 "e frozen by a sibling"
}

test_nsctl_exec_into_a_frozen_container_fails_at_once() {
    new_mount
    mkdir "$MNT/f"
    echo 1 > "$MNT/f/freeze"
    local rc=0 out
    out=$(timeout 10 "$NSCTL" exec "$MNT/f" -- true 2>&1) || rc=$?
    [ "$rc" != 124 ] || fail "nsctl exec waited on the frozen container"
    assert_eq "$rc" 1 "exit status"
    case $out in *"is frozen"*) ;; *) fail "unclear error: $out" ;; esac
    echo 0 > "$MNT/f/freeze"
    "$NSCTL" exec "$MNT/f" -- true
}

test_exact_bytes_and_unambiguous_lines() {
    new_mount
    mkdir "$MNT/e"
    # Invalid UTF-8 reads back byte for byte.
    printf '\377\376' > "$MNT/e/hostname"
    assert_eq "$(od -An -tx1 "$MNT/e/hostname" | tr -d ' \n')" "fffe0a" "hostname bytes"
    # Control bytes are refused, nothing changed.
    assert_errno "Invalid argument" bash -c "printf 'a\\033b' > $MNT/e/hostname"
    assert_eq "$(od -An -tx1 "$MNT/e/hostname" | tr -d ' \n')" "fffe0a" "hostname after a refused write"
    # One write at offset 0: dd bs=1 sets the first byte, then EINVAL.
    local rc=0
    printf 'xyz' | dd of="$MNT/e/hostname" bs=1 2>/dev/null || rc=$?
    assert_ne "$rc" 0 "dd bs=1 exit status"
    assert_eq "$(cat "$MNT/e/hostname")" x "hostname after dd bs=1"
    # Names that would split a status line for some readers are refused.
    local sep
    for sep in '\u2028' '\u2029' '\u0085'; do
        assert_errno "Invalid argument" mkdir "$MNT/a$(printf "$sep")b"
        assert_errno "Invalid argument" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/e" "$MNT/y$(printf "$sep")x"
    done
    [ -d "$MNT/e" ] || fail "e renamed"
}

test_small_contract_gaps() {
    new_mount
    mkdir -p "$MNT/e/ok"
    # touch: an error, not a success that changes nothing
    # (for a file touch reports its failed open for writing: EACCES)
    assert_errno "Permission denied" touch "$MNT/e/status"
    assert_errno "Operation not permitted" touch -d 2001-01-01 "$MNT/e"
    assert_errno "Operation not permitted" touch -d 2001-01-01 "$MNT/e/hostname"
    # --ns user,uts: the user namespace first (the kernel needs its capabilities for the rest)
    assert_eq "$("$NSCTL" exec --ns user,uts "$MNT/e" -- hostname)" e "nsctl exec --ns user,uts"
    # unprivileged: a permission error, said as such
    assert_errno "it takes root, or owning its user namespace" $NOBODY "$NSCTL" exec "$MNT/e" -- true
    # a directory onto a control file: the kernel's ENOTDIR (rename(2); mv
    # itself refuses first), nothing changed
    assert_errno "Not a directory" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/e/ok" "$MNT/e/status"
    [ -d "$MNT/e/ok" ] || fail "ok moved"
}
