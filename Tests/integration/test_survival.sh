# Nothing lost: restarts, crashes (also injected inside mkdir, rmdir, mv),
# the wrong process, corrupt stores, death from outside, hostile load.
# shellcheck shell=bash

test_daemon_sigkill_loses_nothing() {
    new_mount
    mkdir -p "$MNT/a/b/c" "$MNT/d"
    mv "$MNT/d" "$MNT/e"
    local before; before=$(tree_snapshot)
    crash_and_remount
    assert_eq "$(tree_snapshot)" "$before" "tree after kill -9 and remount"
    check_consistency
    # and it still works
    mkdir "$MNT/a/new" && rmdir "$MNT/a/new"
    check_consistency
}

# crash_case STEP SETUP OP CHECK: mount with crash_at=STEP, run OP (the daemon
# dies inside it), remount, and CHECK the outcome is all or nothing. With no
# holder (hold=0) the mount aborts, as without one: OP fails (test_takeover
# has the same crashes with a holder, where OP is answered after the restart).
crash_case() {
    local step=$1 setup=$2 op=$3
    new_mount
    eval "$setup"
    umount "$MNT"
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG,crash_at=$step,hold=0"
    eval "$op" 2>/dev/null && fail "$step: the operation survived the crash"
    fusermount3 -u -z "$MNT"
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/adopt.log"
    check_consistency || { cat "$TEST_TMP/adopt.log"; fail "$step: inconsistent"; }
}

test_crash_inside_mkdir_leaves_all_or_nothing() {
    local step
    for step in mkdir-recorded mkdir-cgroup mkdir-spawned; do
        crash_case $step 'mkdir "$MNT/a"' 'mkdir "$MNT/a/b"'
        [ ! -e "$MNT/a/b" ] || fail "$step: half-made container visible"
        assert_eq "$(record_count)" 1 "$step: records"
        cleanup_test
    done
    crash_case mkdir-done 'mkdir "$MNT/a"' 'mkdir "$MNT/a/b"'
    # the init ran and was recorded: the container is fully there
    [ -d "$MNT/a/b" ] && kill -0 "$(init_pid "$MNT/a/b")" || fail "mkdir-done: container not adopted"
}

test_crash_inside_rmdir_and_mv_leaves_all_or_nothing() {
    crash_case rmdir-killed 'mkdir -p "$MNT/a/b"' 'rmdir "$MNT/a/b"'
    [ ! -e "$MNT/a/b" ] || fail "rmdir-killed: killed container still listed"
    [ -d "$MNT/a" ] || fail "rmdir-killed: parent lost"
    cleanup_test
    crash_case mv-recorded 'mkdir -p "$MNT/a/b"' 'mv "$MNT/a" "$MNT/x"'
    # the new name was recorded before the crash: it is the one that counts
    [ -d "$MNT/x/b" ] && [ ! -e "$MNT/a" ] || fail "mv-recorded: $(ls "$MNT")"
}

test_store_naming_an_unrelated_process_adopts_and_kills_nothing() {
    new_mount
    mkdir "$MNT/a"
    local real; real=$(init_pid "$MNT/a")
    cat "$MNT/a/status" > "$TEST_TMP/a-status"
    umount "$MNT"
    sleep 1000 >/dev/null 2>&1 &
    local decoy=$!
    local id; id=$(awk '/^id:/ { print $2 }' "$TEST_TMP/a-status")
    # The record now points at a live process that is not the container's
    # init, with its true start time: only the namespace and cgroup checks
    # can tell.
    local start; start=$(awk '{ sub(/.*\) /, ""); print $20 }' /proc/$decoy/stat)
    set_record "$id" init-pid "$decoy"
    set_record "$id" init-start "$start"
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/adopt.log"
    kill -0 "$decoy" || fail "the unrelated process was killed"
    kill -0 "$real" || fail "the real init was killed"
    # The container is rebuilt from the init in its cgroup, keeping its name.
    [ -d "$MNT/a" ] || fail "container not rebuilt from its cgroup: $(ls "$MNT"); $(cat "$TEST_TMP/adopt.log")"
    assert_eq "$(init_pid "$MNT/a")" "$real" "rebuilt container's init"
    check_consistency
    kill "$decoy"
}

test_corrupt_store_is_reported_and_nothing_is_killed() {
    new_mount
    mkdir -p "$MNT/a/b" "$MNT/c" "$MNT/d"
    local inits; inits=$(for d in a a/b c d; do init_pid "$MNT/$d"; done)
    umount "$MNT"
    local recs files; recs=$(mktemp -d "$TEST_TMP/recs.XXXXXX")
    dump_records "$recs"
    files=($(ls "$recs"/* | grep -v '\.slot$'))
    printf 'x\n' > "$TEST_TMP/t0"                                   # garbage
    head -c 40 "${files[1]}" > "$TEST_TMP/t1"                      # truncated
    sed '1s/.*/namespacefs-container 99/' "${files[2]}" > "$TEST_TMP/t2"   # unknown version
    local i; for i in 0 1 2; do put_record "$(cat "${files[$i]}.slot")" "$TEST_TMP/t$i"; done
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/adopt.log"
    assert_eq "$(grep -c "unreadable record" "$TEST_TMP/adopt.log")" 3 "one line per corrupt record"
    local p
    for p in $inits; do kill -0 "$p" || fail "init $p was killed"; done
    assert_eq "$(find "$MNT" -name status ! -path "$MNT/status" | wc -l)" 4 "containers after rebuild"
    # the corrupt records were replaced by rebuilt ones
    check_consistency
}

test_death_from_outside_removes_the_subtree_within_a_second() {
    new_mount
    mkdir -p "$MNT/a/b/c" "$MNT/x"
    local a; a=$(init_pid "$MNT/a")
    kill -9 "$a"
    local t0; t0=$(date +%s%N)
    wait_for 1 sh -c "[ ! -e '$MNT/a' ]" || fail "a still listed after 1 s"
    echo "    gone after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    [ -d "$MNT/x" ] || fail "sibling lost"
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d -name 'ns-*' | wc -l)" 1 "cgroups left (x only)"
    check_consistency
    # the name is free again
    mkdir "$MNT/a"
}

# Not an unbounded fork bomb: without a pids controller on the cgroup2
# hierarchy (this host binds pids to v1) nothing caps a container, and a real
# bomb exhausts the host's pid_max (see README, "Limits"). What is checked: a
# container with a thousand processes and a fork loop dies whole within 1 s.
test_thousand_processes_and_a_fork_loop_die_within_a_second() {
    new_mount
    mkdir "$MNT/busy"
    local cg; cg=$(cgroup_dir_of "$(init_pid "$MNT/busy")")
    in_container "$MNT/busy" sh -c 'i=0; while [ $i -lt 1000 ]; do sleep 1000 & i=$((i + 1)); done; while :; do (true &); done' >/dev/null 2>&1 &
    wait_for 30 sh -c "[ \$(wc -l < $cg/cgroup.procs) -ge 1000 ]"
    echo "    $(wc -l < "$cg/cgroup.procs") processes at rm -rf"
    local t0; t0=$(date +%s%N)
    rm -rf "$MNT/busy"
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "    rm -rf took $ms ms"
    [ "$ms" -lt 1000 ] || fail "rm -rf took $ms ms"
    [ ! -d "$cg" ] || fail "cgroup left"
    check_consistency
}

test_eight_shells_of_random_operations() {
    new_mount
    local duration=${NSFS_STRESS_SECONDS:-60}
    local worker
    for worker in 1 2 3 4 5 6 7 8; do
        (
            set +e   # refusals (EEXIST, ENOENT, ENOTEMPTY...) are expected here
            RANDOM=$worker
            end=$(( $(date +%s) + duration ))
            names=(a b c)
            while [ "$(date +%s)" -lt $end ]; do
                p=$MNT/${names[RANDOM % 3]}; [ $((RANDOM % 2)) = 0 ] && p=$p/${names[RANDOM % 3]}
                q=$(dirname "$p")/${names[RANDOM % 3]}
                case $((RANDOM % 6)) in
                    0|1) mkdir "$p" ;;
                    2) mv -T "$p" "$q" ;;
                    3) rmdir "$p" ;;
                    4) rm -rf "$p" ;;
                    5) cat "$p/status" >/dev/null; ls -R "$MNT" >/dev/null ;;
                esac 2>/dev/null
            done
        ) &
    done
    wait
    is_mounted "$MNT" && ls "$MNT" >/dev/null || fail "the mount died"
    timeout 10 find "$MNT" >/dev/null || fail "the mount hangs"
    check_consistency
}
