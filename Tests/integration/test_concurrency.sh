# One slow container never stalls the tree; two requests for one container
# never interleave badly. No timing thresholds: each test checks what
# completed while the slow operation was still going.
# shellcheck shell=bash

# start_sleepers DIR N: N sleeping processes in the container (its cgroup).
start_sleepers() {
    local dir=$1 n=$2 cg; cg=$(cgroup_dir_of "$(init_pid "$dir")")
    in_container "$dir" sh -c "i=0; while [ \$i -lt $n ]; do sleep 1000 & i=\$((i + 1)); done; wait" >/dev/null 2>&1 &
    wait_for 60 sh -c "[ \$(wc -l < $cg/cgroup.procs) -ge $n ]"
}

# start_slow_exit DIR: a process in the container whose exit takes a while
# (it frees 3 GiB): the kill of the container lasts at least that long.
start_slow_exit() {
    local dir=$1 cg; cg=$(cgroup_dir_of "$(init_pid "$dir")")
    in_container "$dir" python3 -c 'import time; b = b"\1" * (3 << 30); print("ready", flush=True); time.sleep(1000)' > "$TEST_TMP/hog" 2>&1 &
    wait_for 60 grep -q ready "$TEST_TMP/hog"
}

# others_answer_while SLOWPID CGROUPDIR: repeat cat of another container's
# status, ls of the root and mkdir + rmdir of an unrelated container until
# SLOWPID exits; count the requests that completed while it still ran and
# its cgroup still existed (the kill still under way). Each request counts,
# not only whole rounds: a kill can end within the first round (mkdir alone
# takes tens of ms here). Expects $MNT/c, $MNT/d.
others_answer_while() {
    local slow=$1 cg=$2 during=0 done=0 op
    while kill -0 "$slow" 2>/dev/null; do
        for op in "cat $MNT/c/status" "ls $MNT" "mkdir $MNT/d/x" "rmdir $MNT/d/x"; do
            $op >/dev/null
            done=$((done + 1))
            if kill -0 "$slow" 2>/dev/null && [ -d "$cg" ]; then during=$((during + 1)); fi
        done
    done
    echo "    $during of $done requests completed while the kill ran"
    [ "$during" -ge 1 ] || fail "no request completed while the kill was running"
}

test_others_are_served_while_rm_rf_kills_thousands() {
    new_mount
    mkdir -p "$MNT/a/big" "$MNT/c" "$MNT/d"
    start_sleepers "$MNT/a/big" 2000
    start_slow_exit "$MNT/a/big"
    local cg; cg=$(cgroup_dir_of "$(init_pid "$MNT/a/big")")
    # a/big, not a top-level container: during an rmdir the kernel itself
    # locks the parent directory (here a), whatever the daemon does.
    rm -rf "$MNT/a/big" &
    local rm=$!
    wait_for 10 sh -c "[ \$(wc -l < $cg/cgroup.procs 2>/dev/null || echo 0) -lt 2000 ]"   # the kill began
    others_answer_while "$rm" "$cg"
    wait "$rm" || fail "rm -rf failed"
    [ ! -e "$MNT/a/big" ] || fail "big still listed"
    [ ! -d "$cg" ] || fail "big's cgroup left behind"
    check_consistency
}

test_others_are_served_while_a_frozen_container_is_removed() {
    new_mount
    mkdir -p "$MNT/a/big" "$MNT/c" "$MNT/d"
    start_sleepers "$MNT/a/big" 2000
    start_slow_exit "$MNT/a/big"
    local cg; cg=$(cgroup_dir_of "$(init_pid "$MNT/a/big")")
    echo 1 > "$MNT/a/big/freeze"
    wait_for 10 grep -qx "frozen 1" "$cg/cgroup.events"
    rmdir "$MNT/a/big" &
    local rm=$!
    wait_for 10 sh -c "[ \$(wc -l < $cg/cgroup.procs 2>/dev/null || echo 0) -lt 2000 ]"
    others_answer_while "$rm" "$cg"
    wait "$rm" || fail "rmdir of the frozen container failed"
    [ ! -d "$cg" ] || fail "cgroup left behind"
    check_consistency
}

test_mkdir_below_a_frozen_container_works() {
    new_mount
    mkdir "$MNT/d"
    echo 1 > "$MNT/d/freeze"
    # Used to hang every request until someone thawed d in cgroupfs.
    timeout 10 mkdir "$MNT/d/x" || fail "mkdir below a frozen container did not complete"
    ls "$MNT" >/dev/null
    grep -qx "state: frozen" "$MNT/d/x/status" || fail "x is not frozen: $(cat "$MNT/d/x/status")"
    local x; x=$(init_pid "$MNT/d/x")
    [ -n "$x" ] && [ "$x" != - ] || fail "x has no init"
    # Thawed, its init finishes its setup: its own hostname, its own /proc.
    echo 0 > "$MNT/d/freeze"
    wait_for 5 sh -c "[ \"\$(cat $MNT/d/x/hostname)\" = x ]" || fail "x's setup did not complete: hostname $(cat "$MNT/d/x/hostname")"
    grep -qx "state: running" "$MNT/d/x/status"
    # its cgroup namespace is rooted at its own cgroup (set up after the thaw)
    assert_eq "$(in_container "$MNT/d/x" grep "^0::" /proc/self/cgroup)" "0::/" "x's cgroup namespace root"
    # And frozen again, a nested one below it as well; rm -rf ends them all.
    echo 1 > "$MNT/d/freeze"
    timeout 10 mkdir -p "$MNT/d/x/y" || fail "nested mkdir below a frozen container"
    timeout 10 rm -rf "$MNT/d" || fail "rm -rf of the frozen tree"
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d | wc -l)" 0 "cgroups left"
    check_consistency
}

test_a_daemon_crash_below_a_frozen_container_does_not_hang_the_mount() {
    # no holder: nothing but the daemon may hold the connection
    new_mount hold=0
    mkdir "$MNT/d"
    echo 1 > "$MNT/d/freeze"
    timeout 10 mkdir "$MNT/d/x" || fail "mkdir below a frozen container did not complete"
    # x's init is born frozen, before it closes what it inherited: it must
    # not hold the daemon's /dev/fuse, or a dead daemon's mount would hang
    # instead of answering ENOTCONN.
    local x; x=$(init_pid "$MNT/d/x")
    local fds; fds=$(ls "/proc/$x/fd" | wc -l)
    [ "$fds" -le 4 ] || fail "x's init holds $fds descriptors: $(ls -l "/proc/$x/fd" | tail -n +2)"
    local daemon; daemon=$(daemon_pid)
    kill -9 "$daemon"
    # (a request made while the daemon was still dying is ended with
    # ECONNABORTED when its descriptor closes; one made after, ENOTCONN)
    local i=0; while is_running "$daemon" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    local out rc=0
    out=$(timeout 5 stat "$MNT/d" 2>&1) || rc=$?
    [ "$rc" != 124 ] || fail "the mount hangs after the daemon died"
    case $out in *"not connected"*|*"connection abort"*) ;; *) fail "expected ENOTCONN, got: $out" ;; esac
    # (not crash_and_remount: until it runs, x's init is a fork of the daemon
    # with the daemon's command line, and daemon_pid would find it)
    fusermount3 -u -z "$MNT"
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG"
    echo 0 > "$MNT/d/freeze"
    wait_for 5 sh -c "[ \"\$(cat $MNT/d/x/hostname)\" = x ]" || fail "x did not finish its setup after the thaw"
    check_consistency
}

test_rmdir_removes_cgroups_the_workload_made() {
    new_mount
    mkdir "$MNT/w" "$MNT/c"
    local cg; cg=$(cgroup_dir_of "$(init_pid "$MNT/w")")
    mkdir -p "$TEST_TMP/cgmnt"
    # As systemd or docker inside would: their own cgroups below the container's.
    "$NSCTL" exec "$MNT/w" -- sh -c "mount -t cgroup2 none $TEST_TMP/cgmnt && mkdir $TEST_TMP/cgmnt/w $TEST_TMP/cgmnt/w/deeper && echo \$\$ > $TEST_TMP/cgmnt/w/deeper/cgroup.procs && exec sleep 1000" &
    wait_for 5 grep -q . "$cg/w/deeper/cgroup.procs"
    local sleeper; sleeper=$(cat "$cg/w/deeper/cgroup.procs")
    timeout 15 rmdir "$MNT/w" || fail "rmdir refused or hung"
    [ ! -d "$cg" ] || fail "cgroup left behind: $(find "$cg")"
    ! is_running "$sleeper" || fail "the workload's process survived"
    cat "$MNT/c/status" >/dev/null
    check_consistency
}

test_races_on_one_container_lose_nothing() {
    new_mount
    local i ok
    for i in $(seq 20); do
        # Two mkdirs of one name: exactly one makes it.
        ok=0
        mkdir "$MNT/x$i" 2>/dev/null & local p1=$!
        mkdir "$MNT/x$i" 2>/dev/null & local p2=$!
        wait $p1 && ok=$((ok + 1)); wait $p2 && ok=$((ok + 1))
        assert_eq "$ok" 1 "mkdirs of x$i that succeeded"
        # A rename racing an rmdir: one of them wins, nothing half-done.
        mv -T "$MNT/x$i" "$MNT/y$i" 2>/dev/null & p1=$!
        rmdir "$MNT/x$i" 2>/dev/null & p2=$!
        wait $p1 || true; wait $p2 || true
        if [ -e "$MNT/y$i" ]; then rmdir "$MNT/y$i"; fi
        [ ! -e "$MNT/x$i" ] && [ ! -e "$MNT/y$i" ] || fail "x$i/y$i left after the race"
        # A hostname write racing rm -rf: rm -rf wins whatever the order.
        mkdir "$MNT/h$i"
        sh -c "echo name$i > $MNT/h$i/hostname" 2>/dev/null & p1=$!
        rm -rf "$MNT/h$i" || fail "rm -rf h$i failed"
        wait $p1 || true
        [ ! -e "$MNT/h$i" ] || fail "h$i left after the race"
    done
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d | wc -l)" 0 "cgroups left"
    assert_eq "$(record_count)" 0 "records left"
    check_consistency
}

test_containers_do_not_inherit_the_request_loops_priority() {
    new_mount
    mkdir -p "$MNT/a/b"
    local d; d=$(daemon_pid)
    # The request loop and the mkdir/rmdir workers run real-time (as root),
    # and only they: the views thread, started by a worker, is normal.
    local threads; threads=$(ps -L -o comm=,cls=,ni= -p "$d")
    assert_eq "$(echo "$threads" | awk '$1 == "nsfs-requests" { print $2 }')" FF "request thread" || echo "$threads"
    assert_eq "$(echo "$threads" | awk '$1 == "nsfs-worker" { print $2 }' | sort -u)" FF "worker threads"
    assert_eq "$(echo "$threads" | awk '$1 == "nsfs-views" { print $2, $3 }')" "TS 0" "views thread"
    assert_eq "$(echo "$threads" | awk '$1 == "nsfs-watcher" { print $2, $3 }')" "TS 0" "watcher thread"
    # Inits are spawned from those workers: their setup runs real-time, the
    # init itself normal, nice 0.
    assert_eq "$(ps -o cls=,ni= -p "$(init_pid "$MNT/a")" | xargs)" "TS 0" "a's init"
    assert_eq "$(ps -o cls=,ni= -p "$(init_pid "$MNT/a/b")" | xargs)" "TS 0" "b's init"
    assert_eq "$("$NSCTL" exec "$MNT/a/b" -- sh -c 'ps -o cls=,ni= -p $$' | xargs)" "TS 0" "a process entered into b"
}

test_a_request_dropped_unanswered_gets_eio_and_a_log_line() {
    new_mount
    mkdir "$MNT/keep"
    # enough processes that its kill outlasts rmdir's quick first try, so
    # that the rest goes to a worker
    start_sleepers "$MNT/keep" 300
    umount "$MNT"
    # In the foreground, its log on a file; workers drop mkdir and rmdir.
    "$NSFS_BIN" "$MNT" -f -o "state_dir=$STATE,cgroup=$CG,drop_worker_replies" 2>"$TEST_TMP/drop.log" &
    wait_for 5 is_mounted "$MNT"
    local rc=0 out
    out=$(timeout 10 mkdir "$MNT/x" 2>&1) || rc=$?
    [ "$rc" != 124 ] || fail "mkdir hung"
    case $out in *"Input/output error"*) ;; *) fail "mkdir: $out" ;; esac
    rc=0; out=$(timeout 10 rmdir "$MNT/keep" 2>&1) || rc=$?
    case $out in *"Input/output error"*) ;; *) fail "rmdir: $out" ;; esac
    grep -q "mkdir request dropped without a reply; answered EIO" "$TEST_TMP/drop.log" || fail "no log line: $(cat "$TEST_TMP/drop.log")"
    grep -q "rmdir request dropped without a reply; answered EIO" "$TEST_TMP/drop.log" || fail "no log line for rmdir"
    # nothing was done: keep is there, x is not
    [ -d "$MNT/keep" ] && [ ! -e "$MNT/x" ] || fail "a dropped request changed the tree"
    umount "$MNT"
    wait
    # mounted again as usual, for the cleanup to remove keep
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG"
}
