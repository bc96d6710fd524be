# Running work in a container (issue 25): a graceful stop.

# A directory a container's root may write and the host may read (its /tmp
# is its own).
shared_dir() {
    local d=/run/nsfs-test-$$-work-$1
    rm -rf "$d"; mkdir -m 1777 "$d"
    echo "$d"
}

# sh with a TERM trap that takes 0.3 s to write its file, then exits.
careful_worker() {
    in_container "$1" sh -c "trap 'sleep 0.3; echo finished > $2/file; exit 0' TERM; echo > $2/ready; while :; do sleep 0.05; done" \
        </dev/null >/dev/null 2>&1 &
    wait_for 5 test -e "$2/ready" || fail "the worker did not start"
}

test_stop_timeout_lets_a_process_finish_its_file() {
    new_mount "stop_timeout=5"
    mkdir -p "$MNT/db/inner"
    local d; d=$(shared_dir stop)
    careful_worker "$MNT/db" "$d"
    local pin; pin=$(init_pid "$MNT/db")
    local t; t=$(date +%s%N)
    rm -rf "$MNT/db"
    local ms=$(( ($(date +%s%N) - t) / 1000000 ))
    assert_eq "$(cat "$d/file" 2>/dev/null)" finished "the worker's file after rm -rf"
    [ "$ms" -ge 250 ] || fail "rm -rf took $ms ms: the worker had no time"
    [ "$ms" -lt 4000 ] || fail "rm -rf took $ms ms: it waited for the timeout, not for the worker"
    ! is_running "$pin" || fail "db's init survived"
    [ ! -e "$MNT/db" ] || fail "db is still there"
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d | wc -l)" 0 "cgroups after rm -rf"
    echo "    rm -rf with a worker finishing its file: $ms ms"
    rm -rf "$d"
}

test_without_stop_timeout_rmdir_kills_at_once() {
    new_mount
    mkdir "$MNT/db"
    local d; d=$(shared_dir kill)
    careful_worker "$MNT/db" "$d"
    rmdir "$MNT/db"
    sleep 0.5
    [ ! -e "$d/file" ] || fail "the worker got SIGTERM: rmdir without stop_timeout must kill at once"
    rm -rf "$d"
}

test_stop_timeout_kills_what_ignores_sigterm() {
    new_mount "stop_timeout=1"
    mkdir "$MNT/db"
    local d; d=$(shared_dir stubborn)
    in_container "$MNT/db" sh -c "trap '' TERM; echo > $d/ready; while :; do sleep 0.05; done" </dev/null >/dev/null 2>&1 &
    wait_for 5 test -e "$d/ready" || fail "the worker did not start"
    local cg; cg=$(cgroup_dir_of "$(init_pid "$MNT/db")")
    mkdir "$MNT/other"
    local t; t=$(date +%s%N)
    rmdir "$MNT/db" &
    local rm=$!
    # nobody else waits meanwhile: the stop runs on a worker
    sleep 0.3
    local t2; t2=$(date +%s%N)
    grep -q '^state: running' "$MNT/other/status" || fail "other's status"
    local read_ms=$(( ($(date +%s%N) - t2) / 1000000 ))
    [ "$read_ms" -lt 200 ] || fail "a bystander's read took $read_ms ms during the stop"
    wait $rm || fail "rmdir failed"
    local ms=$(( ($(date +%s%N) - t) / 1000000 ))
    [ "$ms" -ge 900 ] || fail "rmdir took $ms ms: it did not wait for the stop timeout"
    [ "$ms" -lt 3000 ] || fail "rmdir took $ms ms"
    [ ! -d "$cg" ] || fail "db's cgroup is left"
    rm -rf "$d"
}

test_stop_timeout_is_checked() {
    for bad in stop_timeout=-1 stop_timeout=3601 stop_timeout=x; do
        local out; out=$("$NSFS_BIN" "$TEST_TMP/nowhere" -o "$bad" 2>&1) && fail "-o $bad was accepted"
        grep -q "stop_timeout takes seconds" <<<"$out" || fail "-o $bad: $out"
    done
}
