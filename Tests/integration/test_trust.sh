# Trust (issue 22): nothing a user or a container writes is trusted; a
# failed read is never taken for a death. Each test failed on 1f49624.
# shellcheck shell=bash

# "path init" for every container, sorted: what must come back unchanged.
inits_snapshot() {
    local d
    find "$MNT" -mindepth 1 -type d ! -name ns ! -path '*/ns/*' | sort | while read -r d; do
        echo "${d#$MNT} $(init_pid "$d")"
    done
}

test_a_daemon_short_of_descriptors_kills_nothing() {
    new_mount
    local i
    for i in $(seq 150); do mkdir "$MNT/c$i"; done
    local before; before=$(inits_snapshot)
    umount "$MNT"
    # A hard limit of 40 (root cannot raise it past that here): adoption
    # cannot open what it needs for most containers. It used to take that
    # for their deaths and kill 90 of 150.
    ( ulimit -n 40; "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" ) 2>"$TEST_TMP/low.log" || true
    grep -q "init .* is gone" "$TEST_TMP/low.log" && fail "a container was taken for dead: $(grep -m1 gone "$TEST_TMP/low.log")"
    grep -q "kept as it is" "$TEST_TMP/low.log" || fail "no line says what was kept: $(head -2 "$TEST_TMP/low.log")"
    if is_mounted "$MNT"; then wait_for 5 umount "$MNT" 2>/dev/null || umount "$MNT"; fi
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG"
    assert_eq "$(inits_snapshot)" "$before" "containers after a low-descriptor daemon and a normal mount"
    check_consistency
}

# The daemon with every Nth read of a process's or cgroup's facts failing
# (Tests/faults/faultinject.c), through adoption, the death watcher,
# discovery of sets and rm -rf: only what was asked to die is gone.
test_injected_read_failures_lose_nothing() {
    local shim=$TEST_TMP/faultinject.so
    gcc -shared -fPIC -O1 -Wall -Werror -o "$shim" "$here/../faults/faultinject.c" -ldl
    new_mount
    mkdir -p "$MNT/a/x" "$MNT/b" "$MNT/c"
    local err every survivors victim dead
    for err in EMFILE ENOMEM EACCES; do
        for every in 2 3 5 9; do
            mkdir "$MNT/doomed" "$MNT/victim"
            survivors=$(inits_snapshot | grep -v -e '^/doomed ' -e '^/victim ')
            victim=$(init_pid "$MNT/victim")
            umount "$MNT"
            # It may fail to mount: that is allowed; losing a container is not.
            NSFS_FAULT="errno=$err every=$every calls=open,read,pidfd,ioctl,poll" LD_PRELOAD=$shim \
                "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG,hold=0" 2>>"$TEST_TMP/faults.log" || true
            if is_mounted "$MNT"; then
                # the death watcher: an init killed from outside
                kill -9 "$victim"
                # rm -rf of one container, discovery of a set in another
                timeout 20 rm -rf "$MNT/doomed" 2>/dev/null || true
                # (c may not be shown: a container that could not be checked is kept, unseen)
                { in_container "$MNT/c" unshare --uts sleep 2 2>/dev/null || true; } &
                sleep 0.3
                ls -R "$MNT" >/dev/null 2>&1 || true
                wait
                umount "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT"
            else
                kill -9 "$victim"
            fi
            wait_for 5 is_gone "$victim"
            "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/remount.log" ||
                fail "$err every $every: the mount after it: $(cat "$TEST_TMP/remount.log")"
            assert_eq "$(inits_snapshot | grep -v -e '^/doomed ' -e '^/victim ')" "$survivors" "$err every $every: containers not asked to die"
            [ ! -e "$MNT/victim" ] || fail "$err every $every: a dead container is still listed"
            for dead in $(inits_snapshot | awk '{ print $2 }'); do
                is_running "$dead" || fail "$err every $every: init $dead of a listed container is not running"
            done
            rm -rf "$MNT/doomed"
            check_consistency
        done
    done
}
