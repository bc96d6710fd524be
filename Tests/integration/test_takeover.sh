# A daemon crash or upgrade that users never see: the holder keeps the FUSE
# connection, the next daemon takes it over, the kernel sends again what the
# dead one had read (FUSE_NOTIFY_RESEND).
# shellcheck shell=bash

# mount_again [OPTIONS]: run the mount command again on the same mount, as
# fstab, systemd or an admin would after a crash: it takes the mount over.
mount_again() { "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG${1:+,$1}"; }

# kill_daemon: SIGKILL the daemon serving MNT and wait until it is gone.
kill_daemon() {
    local pid; pid=$(daemon_pid) || true
    [ -n "$pid" ] || { fail "no daemon serves $MNT"; return 1; }
    kill -9 "$pid"
    wait_for 5 is_gone "$pid"
}

# assert_disconnected OUTPUT: an error of a connection that is gone.
assert_disconnected() {
    case $1 in *"not connected"*|*"connection abort"*) ;; *) fail "expected ENOTCONN or ECONNABORTED, got: $1" ;; esac
}

mount_id() { awk -v m="$MNT" '$5 == m { print $1 }' /proc/self/mountinfo | tail -1; }

test_a_killed_daemon_is_taken_over_and_nobody_notices() {
    new_mount
    mkdir -p "$MNT/a/b" "$MNT/c"
    view_ready "$MNT/a"
    local before; before=$(tree_snapshot)
    local mid; mid=$(mount_id)
    local p; p=$(init_pid "$MNT/a")
    local view; view=$(nsenter -t "$p" -m -p awk -v m="$MNT" '$5 == m { print $1 }' /proc/self/mountinfo | tail -1)
    # An open descriptor, half read; a working directory inside the mount.
    exec 7< "$MNT/a/status"
    assert_eq "$(head -c 10 <&7)" "name: a
pa" "the first bytes"
    rm -f "$TEST_TMP/go"
    (cd "$MNT/c" && while [ ! -e "$TEST_TMP/go" ]; do sleep 0.02; done && cat hostname > "$TEST_TMP/cwd") &
    local cwd_reader=$!
    kill_daemon
    # A request made with no daemon waits for the next one, never fails.
    (cat "$MNT/a/hostname" > "$TEST_TMP/during" 2>&1; echo "rc=$?" >> "$TEST_TMP/during") &
    local reader=$!
    sleep 0.3
    kill -0 "$reader" 2>/dev/null || fail "a request without a daemon ended at once: $(cat "$TEST_TMP/during")"
    mount_again
    wait "$reader"
    assert_eq "$(cat "$TEST_TMP/during")" "a
rc=0" "the request made while no daemon served"
    assert_eq "$(mount_id)" "$mid" "the mount (its id) after the takeover"
    assert_eq "$(nsenter -t "$p" -m -p awk -v m="$MNT" '$5 == m { print $1 }' /proc/self/mountinfo | tail -1)" "$view" \
        "a's view (its mount id) after the takeover"
    assert_eq "$(head -1 <&7)" "th: /a" "the rest of the descriptor opened before the crash"
    exec 7<&-
    touch "$TEST_TMP/go"
    wait "$cwd_reader" || fail "a working directory inside the mount broke"
    assert_eq "$(cat "$TEST_TMP/cwd")" "c" "read through a working directory kept across the crash"
    assert_eq "$(tree_snapshot)" "$before" "the tree"
    check_consistency
    mkdir "$MNT/a/b/new" && rmdir "$MNT/a/b/new"
    # and the next daemon is held the same way
    kill_daemon
    mount_again
    assert_eq "$(mount_id)" "$mid" "the mount after a second takeover"
    assert_eq "$(cat "$MNT/c/hostname")" c "served after a second takeover"
}

# takeover_case STEP SETUP OP CHECK: the daemon dies at STEP inside OP; the
# next one (mounted again) answers OP, which succeeds; CHECK holds and the
# store, cgroups and tree agree.
takeover_case() {
    local step=$1 setup=$2 op=$3 check=$4
    new_mount
    eval "$setup"
    umount "$MNT"
    mount_again "crash_at=$step"
    local daemon; daemon=$(daemon_pid)
    (eval "$op") > "$TEST_TMP/op.out" 2>&1 &
    local op_pid=$!
    wait_for 10 is_gone "$daemon" || fail "$step: the daemon did not crash"
    kill -0 "$op_pid" 2>/dev/null || fail "$step: the operation ended without a daemon: $(cat "$TEST_TMP/op.out")"
    mount_again 2>"$TEST_TMP/adopt.log"
    wait "$op_pid" || fail "$step: the operation failed: $(cat "$TEST_TMP/op.out"); $(cat "$TEST_TMP/adopt.log")"
    eval "$check" || fail "$step: $(ls -R "$MNT" | head -20)"
    check_consistency || fail "$step: inconsistent"
}

test_a_request_a_crash_interrupts_is_answered_once_by_the_next_daemon() {
    local step
    # mkdir: undone by adoption and made again, or recorded as this
    # request's and answered as done (never EEXIST to its own caller).
    for step in mkdir-recorded mkdir-cgroup mkdir-spawned mkdir-done; do
        takeover_case $step 'mkdir "$MNT/a"' 'mkdir "$MNT/a/b"' \
            '[ -d "$MNT/a/b" ] && kill -0 "$(init_pid "$MNT/a/b")" && [ "$(record_count)" = 2 ]'
        cleanup_test
    done
    takeover_case rmdir-killed 'mkdir -p "$MNT/a/b"' 'rmdir "$MNT/a/b"' \
        '[ ! -e "$MNT/a/b" ] && [ -d "$MNT/a" ] && [ "$(record_count)" = 1 ]'
    cleanup_test
    takeover_case mv-recorded 'mkdir -p "$MNT/a/b"' 'mv "$MNT/a" "$MNT/x"' \
        '[ -d "$MNT/x/b" ] && [ ! -e "$MNT/a" ]'
    cleanup_test
    # naming a set: its processes moved by the next daemon, the mv answered
    for step in name-recorded name-moved; do
        new_mount "crash_at=$step"
        mkdir "$MNT/vs"
        start_in "$MNT/vs" "$TEST_TMP/n$step" "exec unshare --mount --fork sh -c 'touch $TEST_TMP/n$step; exec sleep 1000'"
        local s; s=$(sets_in "$MNT/vs")
        local daemon; daemon=$(daemon_pid)
        (mv "$MNT/vs/$(basename "$s")" "$MNT/vs/priv") > "$TEST_TMP/op.out" 2>&1 &
        local op_pid=$!
        wait_for 10 is_gone "$daemon" || fail "$step: the daemon did not crash"
        mount_again 2>"$TEST_TMP/adopt.log"
        wait "$op_pid" || fail "$step: mv failed: $(cat "$TEST_TMP/op.out"); $(cat "$TEST_TMP/adopt.log")"
        [ -d "$MNT/vs/priv" ] || fail "$step: priv missing: $(ls "$MNT/vs")"
        assert_eq "$(cat "$MNT/vs/freeze")" 0 "$step: vs thawed"
        check_consistency || fail "$step: inconsistent"
        cleanup_test
    done
}

# Eight shells use the mount as people do while its daemon is SIGKILLed 20
# times and started again each time (the supervisor, as systemd would).
test_twenty_crashes_under_load_fail_no_request_and_lose_nothing() {
    new_mount
    local stop=$TEST_TMP/stop i
    rm -f "$stop"
    for i in 1 2 3 4 5 6 7 8; do
        (
            n=0
            while [ ! -e "$stop" ]; do
                n=$((n + 1)); d=$MNT/w$i-$n
                mkdir "$d" || echo "mkdir $d failed"
                cat "$d/status" > /dev/null || echo "cat $d/status failed"
                ls "$MNT" > /dev/null || echo "ls failed"
                mv "$d" "$d.m" || echo "mv $d failed"
                rm -rf "$d.m" || echo "rm -rf $d.m failed"
                [ ! -e "$d.m" ] || echo "$d.m left after rm -rf"
            done
            echo "rounds $n"
        ) > "$TEST_TMP/w$i.out" 2>&1 &
    done
    local k worst=0 t0 ms
    for k in $(seq 20); do
        sleep "0.$((RANDOM % 3 + 2))"
        kill_daemon
        t0=$(date +%s%N)
        local rc=0
        mount_again 2>>"$TEST_TMP/adopt.log" || rc=$?
        [ "$rc" = 0 ] || { fail "mount again failed (exit $rc, kill $k): $(grep -v 'took over' "$TEST_TMP/adopt.log")"; break; }
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ "$ms" -le "$worst" ] || worst=$ms
    done
    sleep 0.3
    touch "$stop"
    wait_for 30 sh -c "[ \$(cat $TEST_TMP/w*.out | grep -c '^rounds') = 8 ]" || fail "the shells did not finish"
    echo "    20 kills; from the daemon's death to the mount command's return (taken over) at worst $worst ms; rounds: $(awk '/^rounds/ { s += $2 } END { print s }' "$TEST_TMP"/w*.out)"
    local errors; errors=$(grep -hv '^rounds' "$TEST_TMP"/w*.out || true)
    [ -z "$errors" ] || fail "errors seen by the shells: $(echo "$errors" | sort | uniq -c | head -20)"
    assert_eq "$(ls "$MNT" | grep -v -x -E 'freeze|hostname|ns|procs|status' | grep -c . || true)" 0 "containers left"
    assert_eq "$(record_count)" 0 "records left"
    check_consistency
}

# new_mount_fg [OPTIONS]: new_mount, with the daemon in the foreground and
# its log (and its holder's) in $TEST_TMP/daemon.log.
new_mount_fg() {
    new_mount hold=0
    umount "$MNT"
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG${1:+,$1}" -f 2>"$TEST_TMP/daemon.log" &
    wait_for 10 is_mounted "$MNT" || fail "no mount"
}

test_a_mount_nobody_takes_over_is_aborted_after_its_hold() {
    new_mount_fg hold=1
    mkdir "$MNT/a"
    local holder; holder=$(holder_pid "$MNT")
    [ -n "$holder" ] || fail "no holder for $MNT"
    kill_daemon
    local t0; t0=$(date +%s%N)
    local out rc=0
    out=$(timeout 10 cat "$MNT/a/hostname" 2>&1) || rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "    a request without a daemon ended after $ms ms: $out"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "expected an error after the hold, got rc $rc: $out"
    assert_disconnected "$out"
    [ "$ms" -ge 300 ] && [ "$ms" -le 5000 ] || fail "ended after $ms ms with a hold of 1 s"
    wait_for 5 is_gone "$holder" || fail "the holder stayed"
    grep -q "namespacefs-holder: no daemon served $MNT for 1 s: connection [0-9]* aborted" "$TEST_TMP/daemon.log" \
        || fail "no line about the abort: $(cat "$TEST_TMP/daemon.log")"
    # the next mount recovers, without a fusermount first
    mount_again 2>"$TEST_TMP/adopt.log" || fail "mount again: $(cat "$TEST_TMP/adopt.log")"
    assert_eq "$(cat "$MNT/a/hostname")" a "a after the abort and the next mount"
    check_consistency
}

test_when_the_holder_dies_too_the_next_mount_recovers() {
    new_mount
    mkdir "$MNT/a"
    local token; token=$(grep '^token:' "$STATE/connection")
    # (the daemon first: while it lives, it starts another holder)
    local holder; holder=$(holder_pid "$MNT")
    kill_daemon
    kill -9 "$holder"
    local out rc=0
    out=$(timeout 5 stat "$MNT/a" 2>&1) || rc=$?
    [ "$rc" != 124 ] || fail "the mount hangs with neither daemon nor holder"
    assert_disconnected "$out"
    mount_again 2>"$TEST_TMP/adopt.log" || fail "mount again: $(cat "$TEST_TMP/adopt.log")"
    assert_ne "$(grep '^token:' "$STATE/connection")" "$token" "the connection (a new one)"
    assert_eq "$(cat "$MNT/a/hostname")" a "a after the next mount"
    check_consistency
}

test_a_holder_that_dies_is_replaced_while_the_daemon_serves() {
    new_mount
    mkdir "$MNT/a"
    local mid token; mid=$(mount_id); token=$(grep '^token:' "$STATE/connection")
    local first; first=$(holder_pid "$MNT")
    kill -9 "$first"
    wait_for 5 sh -c "p=\$(pgrep -f -x '$HOLDER $MNT [0-9]+ [0-9]+'); [ -n \"\$p\" ] && [ \"\$p\" != $first ]" \
        || fail "no new holder after the first was killed"
    # the daemon's crash now finds the mount held by the new one
    kill_daemon
    mount_again 2>"$TEST_TMP/adopt.log" || fail "mount again: $(cat "$TEST_TMP/adopt.log")"
    assert_eq "$(mount_id)" "$mid" "the mount"
    assert_eq "$(grep '^token:' "$STATE/connection")" "$token" "the connection"
    assert_eq "$(cat "$MNT/a/hostname")" a "a after the takeover"
}

test_the_holder_comes_from_beside_the_program_whatever_init_is_used() {
    mkdir -p "$TEST_TMP/elsewhere"
    cp "$(dirname "$NSFS_BIN")/namespacefs-init" "$TEST_TMP/elsewhere/init"
    new_mount "init=$TEST_TMP/elsewhere/init"
    [ -n "$(holder_pid "$MNT")" ] || fail "no holder with -o init=$TEST_TMP/elsewhere/init"
    mkdir "$MNT/a"
    assert_eq "$(cat "$MNT/a/hostname")" a "a container with that init"
}

test_a_served_mount_is_not_taken_without_restart() {
    new_mount
    mkdir "$MNT/a"
    local pid; pid=$(daemon_pid)
    assert_errno "run this with --restart" mount_again
    assert_eq "$(daemon_pid)" "$pid" "the serving daemon"
    assert_eq "$(cat "$MNT/a/hostname")" a "still served"
}

# The upgrade: a second build replaces the installed binary, --restart
# hands the mount over from the old daemon to the new one.
test_an_upgrade_keeps_the_mount_containers_and_descriptors() {
    if [ -z "${NSFS_UPGRADE_BIN:-}" ]; then
        [ "${CI:-}" = true ] && { fail "NSFS_UPGRADE_BIN (a second build) is not set"; return 1; }
        echo "    skipped: NSFS_UPGRADE_BIN (a second build, scripts/test makes it) is not set"
        return 0
    fi
    local sbin=$TEST_TMP/sbin
    mkdir -p "$sbin"
    local f
    for f in namespacefs namespacefs-init namespacefs-holder; do install -m 0755 "$(dirname "$NSFS_BIN")/$f" "$sbin/$f"; done
    local old; old=$("$sbin/namespacefs" --version)
    N=$(( $(cat "$TEST_TMP/counter" 2>/dev/null || echo 0) + 1 )); echo $N > "$TEST_TMP/counter"
    MNT=$TEST_TMP/mnt$N STATE=/run/nsfs-test-$$-$N CG=$TEST_ROOT_CGROUP/t$N
    CGDIR=$CGROUP2$CG
    mkdir -p "$MNT"
    "$sbin/namespacefs" "$MNT" -o "state_dir=$STATE,cgroup=$CG,hostfs=shared"
    MOUNTS+=("$MNT")
    mkdir -p "$MNT/a/b"
    view_ready "$MNT/a"
    local before mid; before=$(tree_snapshot); mid=$(mount_id)
    local pid; pid=$(pgrep -o -f -x "$sbin/namespacefs $MNT -o .*")
    exec 7< "$MNT/a/b/status"
    head -c 5 <&7 > /dev/null
    (while :; do cat "$MNT/a/hostname" || echo "FAILED"; done > "$TEST_TMP/reads" 2>&1) &
    local reader=$!
    # the new build replaces the installed one (install unlinks: the running
    # daemon keeps its own text), then takes the mount over
    install -m 0755 "$NSFS_UPGRADE_BIN" "$sbin/namespacefs"
    local new; new=$("$sbin/namespacefs" --version)
    assert_ne "$new" "$old" "the second build's version"
    "$sbin/namespacefs" --restart "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/restart.log" \
        || fail "--restart: $(cat "$TEST_TMP/restart.log")"
    wait_for 5 is_gone "$pid" || fail "the old daemon stayed"
    sleep 0.2
    kill "$reader"; wait "$reader" 2>/dev/null || true
    local newpid; newpid=$(pgrep -o -f -x "$sbin/namespacefs --restart $MNT -o .*")
    [ -n "$newpid" ] || fail "no new daemon"
    assert_eq "$(readlink "/proc/$newpid/exe")" "$sbin/namespacefs" "the new daemon's binary"
    assert_eq "$(grep -c FAILED "$TEST_TMP/reads")" 0 "reads that failed across the upgrade ($(grep -c . "$TEST_TMP/reads") reads)"
    assert_eq "$(mount_id)" "$mid" "the mount"
    assert_eq "$(tree_snapshot)" "$before" "the tree"
    assert_eq "$(head -1 <&7)" " b" "the rest of a descriptor opened before the upgrade"
    exec 7<&-
    check_consistency
    echo "    $old -> $new: $(grep -c . "$TEST_TMP/reads") reads during the upgrade, none failed"
}

# systemd: the daemon stores the connection in the unit's descriptor store
# (FDSTORE=1) and gets it back on its next start (LISTEN_FDS); here a small
# stand-in for systemd's side of that protocol does what systemd does.
test_systemds_descriptor_store_keeps_the_connection() {
    new_mount hold=0
    umount "$MNT"
    mkdir "$TEST_TMP/sd"
    python3 - "$NSFS_BIN" "$MNT" "state_dir=$STATE,cgroup=$CG,hold=0" "$TEST_TMP/sd" <<'EOF' > "$TEST_TMP/sd/out" 2>&1 &
import os, socket, subprocess, sys, time, array
nsfs, mnt, opts, d = sys.argv[1:5]
placeholder = os.open("/dev/null", os.O_RDONLY)  # fd 3: where a stored descriptor goes
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
path = d + "/notify"
sock.bind(path)
def start(stored):
    env = dict(os.environ, NOTIFY_SOCKET=path)
    fds = ()
    if stored is not None:
        os.dup2(stored, 3)
        env.update(LISTEN_FDS="1", LISTEN_FDNAMES="fuse")
        fds = (3,)
    # LISTEN_PID is the started process's own pid, as systemd sets it
    return subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"' if stored is not None else 'exec "$0" "$@"',
                             nsfs, mnt, "-o", opts, "-f"], env=env, pass_fds=fds, stderr=open(d + "/log", "a"))
def until_ready(p):
    stored = None
    while True:
        data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(4))
        for level, kind, raw in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                stored = array.array("i", raw[:4])[0]
        text = data.decode()
        print("notify:", " ".join(text.split("\n")), flush=True)
        if "READY=1" in text:
            return stored
p = start(None)
stored = until_ready(p)
print("stored", stored is not None, flush=True)
open(d + "/ready1", "w").close()
while not os.path.exists(d + "/kill"):
    time.sleep(0.02)
p.kill(); p.wait()
print("killed", flush=True)
p2 = start(stored)
os.close(stored)
until_ready(p2)
open(d + "/ready2", "w").close()
while not os.path.exists(d + "/stop"):
    time.sleep(0.02)
print("exit", p2.wait(), flush=True)
sock.setblocking(False)
while True:
    try:
        print("notify:", " ".join(sock.recv(4096).decode().split("\n")), flush=True)
    except BlockingIOError:
        break
EOF
    local fake=$!
    wait_for 10 test -e "$TEST_TMP/sd/ready1" || fail "not ready: $(cat "$TEST_TMP/sd/out" "$TEST_TMP/sd/log")"
    grep -q "stored True" "$TEST_TMP/sd/out" || fail "no descriptor stored: $(cat "$TEST_TMP/sd/out")"
    mkdir "$MNT/a"
    local mid; mid=$(mount_id)
    # no holder (hold=0): only the store keeps the connection
    [ -z "$(holder_pid "$MNT")" ] || fail "a holder with hold=0"
    (sleep 0.2; cat "$MNT/a/hostname" > "$TEST_TMP/sd/during" 2>&1) &
    local reader=$!
    touch "$TEST_TMP/sd/kill"
    wait_for 10 test -e "$TEST_TMP/sd/ready2" || fail "no second start: $(cat "$TEST_TMP/sd/out" "$TEST_TMP/sd/log")"
    wait "$reader"
    assert_eq "$(cat "$TEST_TMP/sd/during")" a "a read while systemd restarted the daemon"
    assert_eq "$(mount_id)" "$mid" "the mount after the restart from the store"
    grep -q "took over $MNT" "$TEST_TMP/sd/log" || fail "no takeover in the log: $(cat "$TEST_TMP/sd/log")"
    rm -rf "$MNT/a"
    umount "$MNT"
    touch "$TEST_TMP/sd/stop"
    wait "$fake"
    grep -q "FDSTOREREMOVE=1" "$TEST_TMP/sd/out" || fail "the store was not emptied at the unmount: $(cat "$TEST_TMP/sd/out")"
}
