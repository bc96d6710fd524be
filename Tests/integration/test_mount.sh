# Mounting: success, unmounting, and every refusal in one clear line.
# shellcheck shell=bash

test_mount_returns_ready_and_unmounts_cleanly() {
    new_mount
    assert_true is_mounted "$MNT"
    # The mount answers right away: no retry loop here.
    assert_eq "$(stat -c %i "$MNT")" 1 "root inode"
    assert_eq "$(fstype_of "$MNT")" fuse.namespacefs "fs type"
    local pid; pid=$(daemon_pid)
    [ -n "$pid" ] || fail "no daemon process"
    umount "$MNT"
    assert_true wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
    is_mounted "$MNT" && fail "still mounted"
    return 0
}

test_mount_foreground_stays_until_unmounted() {
    mkdir -p "$TEST_TMP/fg"
    "$NSFS_BIN" "$TEST_TMP/fg" -f -o state_dir=/run/nsfs-test-$$-fg,cgroup=$TEST_ROOT_CGROUP/fg &
    local pid=$!
    assert_true wait_for 5 is_mounted "$TEST_TMP/fg"
    kill -0 $pid || fail "foreground daemon exited"
    umount "$TEST_TMP/fg"
    local rc=0
    wait $pid || rc=$?
    assert_eq "$rc" 0 "foreground exit status"
}

test_mount_fstab_style_source_argument_and_options() {
    mkdir -p "$TEST_TMP/fstab"
    # mount.fuse3 runs: namespacefs SOURCE MOUNTPOINT -o OPTIONS
    # (the options of Examples/fstab's line, as mount.fuse3 passes them)
    local opts; opts=$(awk '$1 == "namespacefs" { print $4 }' "$here/../../Examples/fstab")
    "$NSFS_BIN" namespacefs "$TEST_TMP/fstab" -o "rw,$opts,state_dir=/run/nsfs-test-$$-fstab,cgroup=$TEST_ROOT_CGROUP/fstab"
    assert_true is_mounted "$TEST_TMP/fstab"
    awk -v m="$TEST_TMP/fstab" '$5 == m { print $6 }' /proc/self/mountinfo | matches "nosuid,nodev" || fail "not nosuid,nodev: $opts"
    grep -q "$TEST_TMP/fstab .*allow_other" /proc/self/mountinfo || grep " $TEST_TMP/fstab " /proc/self/mountinfo | matches allow_other \
        || fail "allow_other not on by default for root"
    umount "$TEST_TMP/fstab"
}

# refusal: expected-substring command... : non-zero exit, exactly one line, nothing mounted.
refusal() {
    local want=$1; shift
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    [ $rc != 0 ] || fail "succeeded: $*"
    assert_eq "$(printf '%s\n' "$out" | wc -l)" 1 "lines of output for: $*"
    case $out in *"$want"*) ;; *) fail "expected '$want', got: $out" ;; esac
}

test_mount_refusals_say_what_is_missing() {
    local o="-o state_dir=/run/nsfs-test-$$-bad,cgroup=$TEST_ROOT_CGROUP/bad"
    refusal "does not exist" "$NSFS_BIN" "$TEST_TMP/nonexistent" $o
    touch "$TEST_TMP/file"
    refusal "is not a directory" "$NSFS_BIN" "$TEST_TMP/file" $o
    refusal "missing mount point" "$NSFS_BIN"
    refusal "unknown option" "$NSFS_BIN" --bogus "$TEST_TMP"
    mkdir -p "$TEST_TMP/bad"
    refusal "must run as root" setpriv --reuid=65534 --regid=65534 --clear-groups "$NSFS_BIN" "$TEST_TMP/bad" $o
    refusal "/dev/fuse" unshare -m sh -c "mount -t tmpfs none /dev && exec $NSFS_BIN $TEST_TMP/bad $o"
    refusal "no cgroup2" unshare -m sh -c "umount -l $CGROUP2 && exec $NSFS_BIN $TEST_TMP/bad $o"
    is_mounted "$TEST_TMP/bad" && fail "something got mounted"
    new_mount
    refusal "already mounted" "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG"
    assert_eq "$(grep -c " $MNT " /proc/self/mountinfo)" 1 "mounts at the mount point"
}

test_remount_keeps_containers_running() {
    new_mount
    mkdir "$MNT/a" "$MNT/a/b"
    local a b ino
    a=$(init_pid "$MNT/a"); b=$(init_pid "$MNT/a/b"); ino=$(stat -c %i "$MNT/a/b")
    mv "$MNT/a" "$MNT/renamed"
    remount
    kill -0 "$a" && kill -0 "$b" || fail "unmount killed a container"
    assert_eq "$(init_pid "$MNT/renamed")" "$a" "init of renamed after remount"
    assert_eq "$(init_pid "$MNT/renamed/b")" "$b" "init of b after remount"
    assert_eq "$(stat -c %i "$MNT/renamed/b")" "$ino" "inode after remount"
    [ ! -e "$MNT/a" ] || fail "old name came back"
    assert_eq "$(record_count)" 2 "records"
}

# The installed binaries need nothing of the toolchain that built them (the
# mount at boot must not depend on /opt/swift staying where it was): the
# release build mounts, makes a container and enters it with the
# toolchain's directory hidden.
test_release_binaries_run_without_the_toolchain() {
    if [ -z "${NSFS_RELEASE_BIN:-}" ]; then
        [ "${CI:-}" != true ] || fail "NSFS_RELEASE_BIN is not set (scripts/test sets it)"
        echo "    skipped: NSFS_RELEASE_BIN not set"; return 0
    fi
    local toolchain; toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
    [ -d "$toolchain" ] || fail "no toolchain directory to hide"
    # (nsctl is linked fully static: ldd says "not a dynamic executable", exit 1)
    local libs b; libs=$(for b in namespacefs nsctl nsfs-oci; do ldd "$NSFS_RELEASE_BIN/$b" 2>&1 || true; done)
    case $libs in *"$toolchain"*) fail "linked against $toolchain: $(echo "$libs" | grep -m2 "$toolchain")" ;; esac
    local m=$TEST_TMP/static st=/run/nsfs-test-$$-static cg=$TEST_ROOT_CGROUP/static
    mkdir -p "$m"
    local out
    out=$(unshare -m sh -c '
        mount -t tmpfs none "$1" || exit 9
        [ ! -e "$1/bin/swift" ] || exit 8
        "$2/namespacefs" "$3" -o "state_dir=$4,cgroup=$5" || exit 7
        mkdir "$3/c" && "$2/nsctl" exec "$3/c" -- hostname && "$2/nsctl" --version && "$2/nsfs-oci" --version
        rc=$?
        rm -rf "$3/c"; umount "$3"
        exit $rc' - "$toolchain" "$NSFS_RELEASE_BIN" "$m" "$st" "$cg" 2>&1) || fail "with $toolchain hidden: $out"
    assert_eq "$(echo "$out" | head -1)" c "the container's hostname, through the release nsctl"
    case $(echo "$out" | sed -n 2p) in "nsctl "*) ;; *) fail "nsctl --version: $out" ;; esac
    case $(echo "$out" | sed -n 3p) in "nsfs-oci "*) ;; *) fail "nsfs-oci --version: $out" ;; esac
    rm -rf "$st"
}

# A detached daemon's messages go somewhere (they went to /dev/null): to
# -o log=FILE, else to syslog where /dev/log is, else STATE_DIR/daemon.log.
test_a_detached_daemon_logs_somewhere() {
    new_mount "log=$TEST_TMP/daemon.log"
    mkdir "$MNT/a"
    local old; old=$(daemon_pid)
    # a handover is logged by the daemon that hands over, detached long ago
    "$NSFS_BIN" "$MNT" --restart -o "state_dir=$STATE,cgroup=$CG" 2>/dev/null
    wait_for 5 is_gone "$old"
    grep -q "handing $MNT over to the next daemon" "$TEST_TMP/daemon.log" || fail "-o log: $(cat "$TEST_TMP/daemon.log" 2>&1)"
    [ "$(stat -c %a "$TEST_TMP/daemon.log")" = 600 ] || fail "the log file is readable by others"
    if [ -S /dev/log ]; then echo "    (a syslog daemon listens here: the default goes to it)"; return 0; fi
    # no log= for the daemon the restart started: the state directory's file
    local now; now=$(daemon_pid)
    "$NSFS_BIN" "$MNT" --restart -o "state_dir=$STATE,cgroup=$CG" 2>/dev/null
    wait_for 5 is_gone "$now"
    grep -q "handing $MNT over to the next daemon" "$STATE/daemon.log" || fail "default: $(cat "$STATE/daemon.log" 2>&1)"
    [ -d "$MNT/a" ] || fail "a lost across the handovers"
}
