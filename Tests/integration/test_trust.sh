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
    # a process of a live container, besides its init: it must live on too
    in_container "$MNT/a/x" sleep 3600 >/dev/null 2>&1 &
    wait_for 5 sh -c "[ \$(wc -l < '$MNT/a/x/procs') -ge 2 ]" || fail "no worker in a/x"
    # (on its way in, nsenter is a moment in a/x's cgroup with other
    # namespaces: a set, gone once it has entered them all)
    wait_for 5 sh -c "! ls '$MNT/a/x' | grep -q '^unnamed'" || fail "a set in a/x: $(ls "$MNT/a/x")"
    local worker; worker=$(grep -vx "$(init_pid "$MNT/a/x")" "$MNT/a/x/procs" | tail -1)
    local err every survivors victim dead
    for err in EMFILE ENOMEM EACCES; do
        for every in 2 3 5 9; do
            mkdir "$MNT/doomed" "$MNT/victim"
            survivors=$(inits_snapshot | grep -v -e '^/doomed ' -e '^/victim ')
            victim=$(init_pid "$MNT/victim")
            umount "$MNT"
            # It may fail to mount: that is allowed; losing a container is not.
            rm -f "$TEST_TMP/faults.count"
            NSFS_FAULT="errno=$err every=$every calls=open,read,pidfd,ioctl,poll" NSFS_FAULT_REPORT=$TEST_TMP/faults.count LD_PRELOAD=$shim \
                "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG,hold=0" 2>>"$TEST_TMP/faults.log" || true
            if is_mounted "$MNT"; then
                # the death watcher: an init killed from outside
                kill -9 "$victim"
                # rm -rf of one container, discovery of a set in another
                timeout 20 rm -rf "$MNT/doomed" 2>/dev/null || true
                # (c may not be shown: a container that could not be checked is kept, unseen)
                { in_container "$MNT/c" unshare --uts sleep 2 2>/dev/null || true; } &
                local setter=$!
                sleep 0.3
                ls -R "$MNT" >/dev/null 2>&1 || true
                wait "$setter" || true
                umount "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT"
            else
                kill -9 "$victim"
            fi
            wait_for 5 is_gone "$victim"
            "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/remount.log" ||
                fail "$err every $every: the mount after it: $(cat "$TEST_TMP/remount.log")"
            # (the faulty daemon has let go of the state lock: it has exited, its count written)
            [ "$(cat "$TEST_TMP/faults.count" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')" -gt 0 ] ||
                fail "$err every $every: no call was made to fail (the shim did not work)"
            assert_eq "$(inits_snapshot | grep -v -e '^/doomed ' -e '^/victim ')" "$survivors" "$err every $every: containers not asked to die"
            [ ! -e "$MNT/victim" ] || fail "$err every $every: a dead container is still listed"
            for dead in $(inits_snapshot | awk '{ print $2 }'); do
                is_running "$dead" || fail "$err every $every: init $dead of a listed container is not running"
            done
            rm -rf "$MNT/doomed"
            is_running "$worker" || fail "$err every $every: a process of the live container a/x was killed"
            check_consistency
        done
    done
}

# A state directory someone else could change is refused, in one line, and
# nothing is written into it (a symlink named lock used to truncate its target).
test_an_untrusted_state_directory_is_refused() {
    local st=$TEST_TMP/trust-st victim=$TEST_TMP/trust-victim out
    mkdir -p "$TEST_TMP/trust-m"
    MOUNTS+=("$TEST_TMP/trust-m")   # (unmounted at the end, should one be made)
    echo "root's" > "$victim"; chmod 600 "$victim"
    # made first by another user
    mkdir "$st"; chown nobody "$st"; ln -s "$victim" "$st/lock"
    out=$("$NSFS_BIN" "$TEST_TMP/trust-m" -o "state_dir=$st,cgroup=$TEST_ROOT_CGROUP/u1" 2>&1) && fail "mounted on a state directory owned by nobody"
    case $out in *"owned by uid"*"not root"*) ;; *) fail "unclear refusal: $out" ;; esac
    assert_eq "$(cat "$victim")" "root's" "the symlink's target"
    # root's, but writable by others
    chown root "$st"; chmod 777 "$st"
    out=$("$NSFS_BIN" "$TEST_TMP/trust-m" -o "state_dir=$st,cgroup=$TEST_ROOT_CGROUP/u1" 2>&1) && fail "mounted on a world-writable state directory"
    case $out in *"writable by group or others"*) ;; *) fail "unclear refusal: $out" ;; esac
    # a symlink to a good directory
    rm -f "$st/lock"; chmod 700 "$st"; ln -s "$st" "$TEST_TMP/trust-st-link"
    out=$("$NSFS_BIN" "$TEST_TMP/trust-m" -o "state_dir=$TEST_TMP/trust-st-link,cgroup=$TEST_ROOT_CGROUP/u1" 2>&1) && fail "mounted through a symlinked state directory"
    case $out in *"symbolic link"*) ;; *) fail "unclear refusal: $out" ;; esac
    is_mounted "$TEST_TMP/trust-m" && fail "something was mounted"
    [ ! -e "$st/records" ] || fail "a record file was written into a refused directory"
    [ ! -d "$CGROUP2$TEST_ROOT_CGROUP/u1" ] || fail "a refused mount left its cgroup"
}

# A record naming a cgroup outside the root (root/../victim) is reported and
# left alone: it used to be undone, killing and removing the victim.
test_a_forged_record_never_reaches_outside_the_root() {
    new_mount
    mkdir "$MNT/a"
    local id; id=$(awk '/^id:/ { print $2 }' "$MNT/a/status")
    local victim=$CGROUP2$TEST_ROOT_CGROUP/victim
    mkdir -p "$victim"
    sleep 600 & local sleeper=$!
    echo "$sleeper" > "$victim/cgroup.procs"
    umount "$MNT"
    set_record "$id" cgroup "$CG/../victim"
    set_record "$id" state creating
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/adopt.log"
    is_running "$sleeper" || fail "the victim's process was killed"
    [ -d "$victim" ] || fail "the victim cgroup was removed"
    grep -q "is not an ns-<id> path below" "$TEST_TMP/adopt.log" || fail "not reported: $(cat "$TEST_TMP/adopt.log")"
    kill "$sleeper"; wait "$sleeper" 2>/dev/null || true
    rmdir "$victim"
}

# The lock names the daemon that holds it (not the pid it had before it
# detached), and no lock file is left after the unmount.
test_locks_name_the_daemon_and_go_with_it() {
    new_mount
    local pid; pid=$(daemon_pid)
    assert_eq "$(awk '{ print $3; exit }' "$STATE/lock")" "$pid" "pid in the state lock"
    local cglock=/run/lock/namespacefs/cgroup${CG//\//%2F}
    assert_eq "$(awk '{ print $3; exit }' "$cglock")" "$pid" "pid in the cgroup lock"
    umount "$MNT"
    wait_for 5 is_gone "$pid"
    [ ! -e "$cglock" ] || fail "stale cgroup lock file left"
    [ ! -e "$STATE/lock" ] || fail "stale state lock file left"
}

# Two mounts, the second on a state directory of its own; the second's
# mount point given again with the first's state directory: the refusal
# names the daemon and the mount it serves, and --restart signals nobody
# (it used to hand the first mount over and unmount the second).
test_restart_never_reaches_another_mount() {
    new_mount
    local m1=$MNT s1=$STATE c1=$CG p1; p1=$(daemon_pid)
    mkdir "$m1/keep"
    new_mount
    local m2=$MNT out
    out=$("$NSFS_BIN" "$m2" -o "state_dir=$s1,cgroup=$c1" 2>&1) && fail "a second daemon on $s1 was started"
    case $out in *"daemon $p1"*"serves $m1"*) ;; *) fail "the refusal does not name the daemon and its mount: $out" ;; esac
    case $out in *--restart*) fail "the refusal sends the user to --restart: $out" ;; esac
    out=$("$NSFS_BIN" "$m2" --restart -o "state_dir=$s1,cgroup=$c1" 2>&1) && fail "--restart went ahead: $out"
    case $out in *"daemon $p1"*"serves $m1"*) ;; *) fail "unclear --restart refusal: $out" ;; esac
    sleep 0.5
    assert_eq "$(daemon_pid)" "$(MNT=$m2 daemon_pid)" "m2's daemon"
    is_running "$p1" || fail "the first mount's daemon was signalled"
    [ -d "$m1/keep" ] || fail "the first mount lost its container"
    ls "$m2" >/dev/null || fail "the second mount does not answer"
}

# Root in a container pushes a command into the admin's shell with TIOCSTI
# through nsctl exec (interactive shell driven by script(1)). The command
# must never run: the container gets a pty of its own, not the caller's.
test_nsctl_exec_never_lends_the_callers_terminal() {
    command -v script >/dev/null || fail "script(1) (util-linux) is missing"
    new_mount
    mkdir "$MNT/c"
    local dir=/run/nsfs-test-$$-sti
    mkdir -p "$dir"; chmod 755 "$dir"
    cat > "$dir/sti.py" <<'PY'
import fcntl, os, sys, termios
line = sys.argv[1] + "\n"
fds = [0, 1, 2]
try: fds.append(os.open("/dev/tty", os.O_RDWR))
except OSError: pass
for fd in fds:
    try:
        for ch in line: fcntl.ioctl(fd, termios.TIOCSTI, ch.encode())
    except OSError: pass
print("tried", flush=True)
PY
    chmod 644 "$dir/sti.py"
    local flag
    for flag in "" "-t"; do
        rm -f "$dir/PWNED"
        { echo "$NSCTL exec $flag $MNT/c -- python3 $dir/sti.py 'touch $dir/PWNED'; echo nsctl-status=\$?"; sleep 3; echo exit; } |
            script -qfc "bash --norc -i" /dev/null > "$TEST_TMP/sti.out" 2>&1
        grep -q "nsctl-status=0" "$TEST_TMP/sti.out" || fail "nsctl exec $flag did not run: $(tr -d '\r' < "$TEST_TMP/sti.out" | tail -3)"
        [ ! -e "$dir/PWNED" ] || fail "nsctl exec $flag: the container ran a command in the caller's shell"
    done
    # The pty is relayed: output, exit status, and the terminal's size.
    out=$(script -qc "stty cols 91 rows 37; $NSCTL exec -t $MNT/c -- sh -c 'stty size; tty; exit 5'; echo status=\$?" /dev/null < /dev/null | tr -d '\r')
    case $out in *"37 91"*"/dev/pts/"*"status=5"*) ;; *) fail "pty relay: $out" ;; esac
    rm -rf "$dir"
}

# A missing command: "not found", the shell's 127 (it said "Permission
# denied", exit 1, where a PATH directory was unreadable inside).
test_nsctl_exec_of_a_missing_command_is_127() {
    new_mount
    mkdir "$MNT/c"
    local rc=0 out
    out=$("$NSCTL" exec "$MNT/c" -- no-such-command-here 2>&1) || rc=$?
    assert_eq "$rc" 127 "exit status"
    case $out in *"not found"*) ;; *) fail "message: $out" ;; esac
    printf 'echo hi\n' > "$TEST_TMP/not-executable"; chmod 644 "$TEST_TMP/not-executable"
    rc=0; "$NSCTL" exec "$MNT/c" -- "$TEST_TMP/not-executable" 2>/dev/null || rc=$?
    assert_eq "$rc" 126 "exit status of a file that is not executable"
}

# A limit holds against mkdir from inside: each nested container's init is
# a process of every container above (moving a task is never refused by
# pids.max; 40 nested mkdirs used to end at pids.current 51 of 12).
test_pids_max_holds_against_nested_mkdir() {
    new_mount
    mkdir "$MNT/a"
    [ -e "$MNT/a/pids.max" ] || fail "no pids controller for containers on this host"
    echo 12 > "$MNT/a/pids.max"
    view_ready "$MNT/a"
    local made
    made=$(in_container "$MNT/a" sh -c '
        n=0; for i in $(seq 40); do
            if err=$(mkdir '"$MNT"'/n$i 2>&1); then n=$((n + 1)); else case $err in *"Resource temporarily unavailable"*) ;; *) echo "$err" >&2 ;; esac; fi
        done; echo $n')
    local current; current=$(cat "$MNT/a/pids.current")
    [ "$current" -le 12 ] || fail "pids.current $current over pids.max 12 after $made nested mkdirs"
    [ "$made" -ge 1 ] && [ "$made" -le 11 ] || fail "$made of 40 nested mkdirs succeeded under pids.max 12"
    assert_eq "$(find "$MNT/a" -mindepth 1 -maxdepth 1 -type d -name 'n[0-9]*' | wc -l)" "$made" "containers left"
    # and from the host, into a nested one: the same limit above it
    local rc=0; mkdir "$MNT/a/n1/deeper" 2>"$TEST_TMP/err" || rc=$?
    [ "$rc" != 0 ] && grep -q "Resource temporarily unavailable" "$TEST_TMP/err" || fail "mkdir below a full ancestor: rc $rc $(cat "$TEST_TMP/err")"
    [ ! -e "$MNT/a/n1/deeper" ] || fail "a refused mkdir left its container"
    # room again: it works
    echo 100 > "$MNT/a/pids.max"
    mkdir "$MNT/a/n1/deeper"
    check_consistency
}

# cgroup.max.descendants on a container's cgroup bounds its subtree: EAGAIN.
test_max_descendants_bounds_nested_mkdir() {
    new_mount
    mkdir "$MNT/a"
    local cg; cg=$(cgroup_dir_of "$(init_pid "$MNT/a")"); cg=${cg%/*}
    # (its own leaf is one descendant; each child container is two)
    echo 3 > "$cg/cgroup.max.descendants"
    mkdir "$MNT/a/one"
    local rc=0; mkdir "$MNT/a/two" 2>"$TEST_TMP/err" || rc=$?
    [ "$rc" != 0 ] && grep -q "Resource temporarily unavailable" "$TEST_TMP/err" || fail "rc $rc: $(cat "$TEST_TMP/err")"
    [ ! -e "$MNT/a/two" ] || fail "a refused mkdir left its container"
    check_consistency
}

# Container root unmounts its /proc: an empty directory, never the host's
# processes (it used to show all of them and their command lines), in a
# top-level container and a nested one, private and shared host files.
test_umount_of_proc_inside_uncovers_nothing() {
    local fs
    for fs in shared private; do
        new_mount "hostfs=$fs"
        mkdir -p "$MNT/a/b"
        local c out
        for c in a a/b; do
            out=$(in_container "$MNT/$c" sh -c 'umount -l /proc; echo umount=$?; ls /proc | wc -l; umount -l /proc 2>/dev/null; echo again=$?; ls /proc | wc -l')
            case $out in *"umount=0"*) ;; *) fail "$fs $c: its own /proc could not be unmounted: $out" ;; esac
            assert_eq "$(echo "$out" | sed -n 2p)" 0 "$fs $c: entries in /proc after umount -l /proc"
            assert_eq "$(echo "$out" | sed -n 4p)" 0 "$fs $c: entries in /proc after a second umount -l /proc"
        done
        # A fresh container still has a working /proc.
        mkdir "$MNT/fresh"
        assert_eq "$(in_container "$MNT/fresh" sh -c 'read -r x < /proc/self/stat; echo "${x%% *}"; echo $$' | sort -u | wc -l)" 1 "/proc/self in a fresh container"
        cleanup_test
    done
}

# Smaller ones (issue 22, item 10), each failed before.
test_small_refusals_say_the_right_thing() {
    new_mount
    mkdir -p "$MNT/f/g"
    # a name over 255 bytes is ENAMETOOLONG wherever it is looked up
    local long; long=$(printf 'n%.0s' $(seq 256))
    assert_errno "File name too long" stat "$MNT/$long"
    assert_errno "File name too long" rmdir "$MNT/$long"
    assert_errno "File name too long" mv "$MNT/$long" "$MNT/x"
    assert_errno "File name too long" chmod 755 "$MNT/$long"
    # invisible characters and look-alike set names are EINVAL
    local bad
    for bad in $'rlo\u202egpj' $'zw\u200bsp' $'\ufeffbom' $'unnamed\u0661'; do
        assert_errno "Invalid argument" mkdir "$MNT/$bad"
        assert_errno "Invalid argument" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/f" "$MNT/$bad"
    done
    [ -d "$MNT/f" ] || fail "f was lost"
    # a write refused through a descriptor another process opened: EACCES
    exec 7>"$MNT/f/hostname"
    local out; out=$(in_container "$MNT/f/g" sh -c '/bin/echo x >&7' 2>&1) && fail "the write went through"
    exec 7>&-
    case $out in *"Permission denied"*) ;; *) fail "write through an inherited descriptor: $out" ;; esac
    # nsctl names the freeze file that froze it: the ancestor's
    echo 1 > "$MNT/f/freeze"
    out=$(timeout 10 "$NSCTL" exec "$MNT/f/g" -- true 2>&1) && fail "entered a frozen container"
    case $out in *"echo 0 > $MNT/f/freeze"*) ;; *) fail "wrong freeze file named: $out" ;; esac
    echo 0 > "$MNT/f/freeze"
}

# A refused mount leaves no cgroup behind (v2, nor the v1 pids mirror).
test_a_refused_mount_leaves_no_cgroup() {
    mkdir -p "$TEST_TMP/refused"
    MOUNTS+=("$TEST_TMP/refused")
    local cg=$TEST_ROOT_CGROUP/refused
    "$NSFS_BIN" "$TEST_TMP/refused" -o "state_dir=/run/nsfs-test-$$-refused,cgroup=$cg,no_such_fuse_option" 2>/dev/null &&
        fail "mounted with a bad option"
    [ ! -d "$CGROUP2$cg" ] || fail "cgroup left: $CGROUP2$cg"
    [ -z "$PIDS_V1" ] || [ ! -d "$PIDS_V1$cg" ] || fail "pids cgroup left: $PIDS_V1$cg"
    [ ! -e "/run/lock/namespacefs/cgroup${cg//\//%2F}" ] || fail "lock file left"
}

# A container of one mount looking at another mount: an empty root, none of
# its names, ids or processes (it used to read the whole tree, read-only).
test_another_mounts_container_sees_an_empty_root() {
    new_mount
    local m1=$MNT
    mkdir -p "$m1/secret/inner"
    new_mount
    mkdir "$MNT/other"
    local out
    out=$(in_container "$MNT/other" ls -a "$m1")
    assert_eq "$(echo $out)" ". .." "another mount's root, from a container"
    out=$(in_container "$MNT/other" sh -c "cat $m1/secret/status $m1/status $m1/secret/procs; ls $m1/secret; readlink $m1/secret/ns/pid" 2>&1) || true
    case $out in *"id:"*|*"init:"*|*"pid:["*|*inner*) fail "another mount's container read: $out" ;; esac
    # nor a host process in a pid namespace of its own
    assert_eq "$(unshare --pid --fork ls "$m1" | wc -l)" 0 "the root from an unknown pid namespace"
    # the host itself still sees everything, and the second mount its own
    ls "$m1" | matches -x secret || fail "the host lost its view"
    assert_eq "$(in_container "$MNT/other" ls "$MNT" | grep -c '^other$')" 0 "other sees its own subtree as the root"
}

# A delegated user's containers have a root of their own: from inside her
# own child she cannot signal the container delegated to her, nor what
# root made in it (they used to share one host uid: kill -9 took it all).
test_a_delegated_user_cannot_kill_what_was_delegated_to_her() {
    new_mount
    local uid=$((61000 + $$ % 1000))
    mkdir "$MNT/d"
    mkdir "$MNT/d/rootmade"
    chown $uid:$uid "$MNT/d"
    local as="setpriv --reuid=$uid --regid=$uid --clear-groups"
    $as mkdir "$MNT/d/mine"
    local target
    for target in "$MNT/d" "$MNT/d/rootmade"; do
        local p; p=$(init_pid "$target")
        $as "$NSCTL" exec --ns user "$MNT/d/mine" -- sh -c "kill -9 $p" 2>/dev/null && fail "she signalled $target's init from her container"
        $as "$NSCTL" exec "$MNT/d/mine" -- sh -c "kill -9 $p" 2>/dev/null || true
        sleep 0.2
        is_running "$p" || fail "$target's init was killed by the delegated user"
    done
    [ -d "$MNT/d/rootmade" ] || fail "root's container below the delegation is gone"
    # records and the pool: her container's block is its own, given back
    $as rm -rf "$MNT/d/mine"
    check_consistency
}

# A delegated user's limit holds for what she starts with nsctl exec (her
# programs used to run outside the container's cgroup: uncounted, unseen).
test_a_delegated_users_limit_holds_for_what_she_runs() {
    new_mount
    local uid=$((62000 + $$ % 1000))
    mkdir "$MNT/d"
    chown $uid:$uid "$MNT/d"
    local as="setpriv --reuid=$uid --regid=$uid --clear-groups"
    $as mkdir "$MNT/d/mine"
    [ -e "$MNT/d/mine/pids.max" ] || fail "no pids controller for containers on this host"
    $as sh -c "echo 20 > '$MNT/d/mine/pids.max'"
    $as "$NSCTL" exec "$MNT/d/mine" -- sh -c 'for i in $(seq 60); do sleep 30 & done 2>/dev/null; sleep 1; echo started' >/dev/null 2>&1 &
    local job=$!
    sleep 1.5
    local current; current=$(cat "$MNT/d/mine/pids.current")
    [ "$current" -ge 10 ] && [ "$current" -le 20 ] || fail "pids.current $current under pids.max 20 (her processes not counted?)"
    local running; running=$(pgrep -c -x sleep -U $(uid_base_of "$MNT/d/mine") || true)
    [ "$running" -le 20 ] || fail "$running of her sleeps run under pids.max 20"
    [ "$(wc -l < "$MNT/d/mine/procs")" -ge 10 ] || fail "procs does not show her processes"
    rm -rf "$MNT/d/mine"
    wait $job 2>/dev/null || true
}
