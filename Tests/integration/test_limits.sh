# Limits: the leaf-cgroup layout, pids/memory/cpu entries read and written
# through, defaults, the v1 pids mirror, a fork bomb, old layouts adopted.
# shellcheck shell=bash

# host_has CONTROLLER: the daemon gives containers this controller here:
# on cgroup2 when the cgroup2 root enables it for its children, or pids on
# a v1 hierarchy (hybrid hosts).
host_has() {
    grep -qw "$1" "$CGROUP2/cgroup.subtree_control" && return 0
    [ "$1" = pids ] && [ -n "$PIDS_V1" ]
}

# skip_without CONTROLLER: say what is skipped and why (not silent), and
# return 1 so the test can end there.
skip_without() {
    host_has "$1" && return 0
    if [ "$1" = pids ]; then
        echo "    skipped: this host has no pids controller, neither on cgroup2 nor on a v1 hierarchy"
    else
        echo "    skipped: the $1 controller is not enabled on this host's cgroup2 (here it is bound to a v1 hierarchy that other software on the machine manages; namespacefs leaves it alone)"
    fi
    return 1
}

# The kernel file behind a container's limit entry.
kernel_limit_file() {
    local dir=$1 name=$2 cg; cg=$(awk '/^cgroup:/ { print $2 }' "$dir/status")
    if [ "${name%%.*}" = pids ] && ! grep -qw pids "$CGROUP2/cgroup.subtree_control"; then
        echo "$PIDS_V1$cg/$name"
    else
        echo "$CGROUP2$cg/$name"
    fi
}

# write_errno FILE VALUE: the error one write(2) of VALUE (as it is, no
# newline added) gets, "ok" when it succeeds. (A shell's printf may split a
# value into several writes, each of which the kernel parses alone.)
write_errno() {
    python3 - "$1" "$2" <<'PY'
import os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
    os.write(fd, os.fsencode(sys.argv[2]))
    print("ok")
except OSError as e:
    print(e.strerror)
PY
}

test_layout_leaf_and_controllers() {
    new_mount
    mkdir -p "$MNT/a/b"
    local a b cga
    a=$(init_pid "$MNT/a"); b=$(init_pid "$MNT/a/b")
    cga=$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$MNT/a/status")
    # the container's cgroup holds no process: its own are in its leaf,
    # its child containers' cgroups beside it
    assert_eq "$(cat "$cga/cgroup.procs")" "" "processes in a's cgroup itself"
    assert_eq "$(cgroup_dir_of "$a")" "$cga/leaf" "a's init"
    case $(cgroup_dir_of "$b") in "$cga"/ns-*/leaf) ;; *) fail "b's init in $(cgroup_dir_of "$b")" ;; esac
    # the cgroup namespace is rooted at the leaf, as it was at the cgroup
    assert_eq "$("$NSCTL" exec "$MNT/a" -- grep '^0::' /proc/self/cgroup)" "0::/" "a's cgroup namespace root"
    # procs and status count the leaf's processes
    assert_eq "$(cat "$MNT/a/procs")" "$(cat "$cga/leaf/cgroup.procs")" "procs"
    grep -qx "processes: 1" "$MNT/a/status" || fail "processes: $(grep processes "$MNT/a/status")"
    # every controller the tree uses is enabled for a's children
    local c
    for c in pids memory cpu; do
        grep -qw "$c" "$CGROUP2/cgroup.subtree_control" || continue
        grep -qw "$c" "$cga/cgroup.subtree_control" || fail "$c not enabled below a"
    done
    check_consistency
}

test_limit_entries_read_and_write_through_with_the_kernels_errors() {
    skip_without pids || return 0
    new_mount
    mkdir -p "$MNT/a"
    local f; f=$(kernel_limit_file "$MNT/a" pids.max)
    [ -f "$f" ] || fail "no kernel file $f"
    assert_eq "$(cat "$MNT/a/pids.max")" max "default pids.max"
    grep -qx "pids.current: [0-9]*" "$MNT/a/status" || fail "status has no pids.current: $(cat "$MNT/a/status")"
    echo 50 > "$MNT/a/pids.max"
    assert_eq "$(cat "$MNT/a/pids.max")" 50 "pids.max after a write"
    assert_eq "$(cat "$f")" 50 "the kernel's pids.max"
    grep -qx "pids.max: 50" "$MNT/a/status" || fail "status shows no pids.max: 50"
    assert_eq "$(cat "$MNT/a/pids.current")" "$(cat "$(kernel_limit_file "$MNT/a" pids.current)")" "pids.current"
    assert_eq "$(stat -c %a "$MNT/a/pids.max") $(stat -c %a "$MNT/a/pids.current")" "644 444" "modes"
    # every writable limit entry the host has: hostile values are the
    # kernel's EINVAL and change nothing
    local e v before
    for e in pids.max memory.max memory.high cpu.max cpu.weight; do
        [ -e "$MNT/a/$e" ] || continue
        before=$(cat "$MNT/a/$e")
        for v in garbage -1 "1 2 3" "$(head -c 5000 /dev/zero | tr '\0' 9)" "max
max" "$(printf '1\001')" 99999999999999999999999999; do
            case $(write_errno "$MNT/a/$e" "$v") in
                "Invalid argument"|"Numerical result out of range"|"Argument list too long") ;;
                *) fail "$e <- '${v:0:20}': $(write_errno "$MNT/a/$e" "$v")" ;;
            esac
        done
        assert_eq "$(cat "$MNT/a/$e")" "$before" "$e unchanged by hostile values"
    done
    # the current use is read-only
    assert_eq "$(write_errno "$MNT/a/pids.current" 5)" "Permission denied" "write pids.current"
    # tar shows them, with their values
    tar -C "$MNT" -cf "$TEST_TMP/a.tar" a
    assert_eq "$(tar -xOf "$TEST_TMP/a.tar" a/pids.max)" 50 "pids.max in tar"
    # a set shares its container's cgroup: no limit entries of its own
    "$NSCTL" exec "$MNT/a" -- unshare --uts sleep 1000 &
    wait_for 5 sh -c "ls '$MNT/a' | grep -q '^unnamed'"
    local set; set=$(ls "$MNT/a" | grep '^unnamed' | head -1)
    [ ! -e "$MNT/a/$set/pids.max" ] || fail "a set has pids.max"
    [ ! -e "$MNT/pids.max" ] || fail "the root has pids.max"
}

test_a_container_cannot_raise_its_own_limits() {
    skip_without pids || return 0
    new_mount
    mkdir -p "$MNT/a/b"
    echo 20 > "$MNT/a/pids.max"
    view_ready "$MNT/a"
    # from inside a: its own limits are not its to change, its children's are
    assert_eq "$("$NSCTL" exec "$MNT/a" -- bash -c "echo 1000 > $MNT/pids.max" 2>&1 | grep -o 'Permission denied')" \
        "Permission denied" "a raising its own pids.max"
    assert_eq "$(cat "$MNT/a/pids.max")" 20 "a's pids.max"
    "$NSCTL" exec "$MNT/a" -- bash -c "echo 1000 > $MNT/b/pids.max" || fail "a cannot set b's pids.max"
    assert_eq "$(cat "$MNT/a/b/pids.max")" 1000 "b's pids.max"
    # ...and b above a's limit is bounded by a's anyway (the kernel's hierarchy)
    "$NSCTL" exec "$MNT/a/b" -- bash -c 'for i in $(seq 40); do sleep 100 & done 2>/dev/null; wait' &
    sleep 1
    local n; n=$(cat "$MNT/a/pids.current")
    [ "$n" -le 20 ] || fail "a has $n processes, above its limit 20"
    [ "$(cat "$MNT/a/b/pids.current")" -ge 15 ] || fail "b could not fork up to a's limit: $(cat "$MNT/a/b/pids.current")"
    # a delegated user: the subtree below is theirs, the delegated
    # container's own limits are not (cgroupfs delegation)
    chown 1000 "$MNT/a"
    local as1000="setpriv --reuid=1000 --regid=1000 --clear-groups"
    assert_eq "$($as1000 bash -c "echo 1000 > $MNT/a/pids.max" 2>&1 | grep -o 'Permission denied')" "Permission denied" "owner of a raising a's limit"
    $as1000 bash -c "echo 30 > $MNT/a/b/pids.max" || fail "owner of a cannot set b's limit"
    assert_eq "$(cat "$MNT/a/b/pids.max")" 30 "b's pids.max set by a's owner"
    assert_eq "$(stat -c %u "$MNT/a/pids.max") $(stat -c %u "$MNT/a/b/pids.max")" "0 1000" "owners of the limit files"
    # a stranger: nothing
    assert_eq "$(setpriv --reuid=1001 --regid=1001 --clear-groups bash -c "echo 5 > $MNT/a/b/pids.max" 2>&1 | grep -o 'Permission denied')" \
        "Permission denied" "another user"
}

test_default_limits_from_mount_options() {
    skip_without pids || return 0
    new_mount pids_max=64
    mkdir -p "$MNT/a/b"
    assert_eq "$(cat "$MNT/a/pids.max") $(cat "$MNT/a/b/pids.max")" "64 64" "defaults in a and a/b"
    # refusals: one line, no mount
    local out
    out=$("$NSFS_BIN" "$TEST_TMP/nomnt" -o "state_dir=/run/nsfs-test-$$-bad,cgroup=$TEST_ROOT_CGROUP/bad,pids_max=lots" 2>&1) && fail "pids_max=lots accepted"
    grep -q "pids_max takes max or a number" <<<"$out" || fail "message: $out"
    if ! host_has memory; then
        mkdir -p "$TEST_TMP/nomnt"
        out=$("$NSFS_BIN" "$TEST_TMP/nomnt" -o "state_dir=/run/nsfs-test-$$-bad,cgroup=$TEST_ROOT_CGROUP/bad,memory_max=1G" 2>&1) && fail "memory_max accepted without memory"
        grep -q "no memory controller" <<<"$out" || fail "message: $out"
        ! is_mounted "$TEST_TMP/nomnt" || fail "mounted anyway"
    fi
}

test_processes_are_placed_in_the_pids_mirror() {
    [ -n "$PIDS_V1" ] && ! grep -qw pids "$CGROUP2/cgroup.subtree_control" || {
        echo "    skipped: pids is on cgroup2 here, there is no v1 mirror"; return 0; }
    new_mount
    # The init of a container with no limit above moves into its mirror
    # off mkdir's path (after an idle moment the move waits out an RCU
    # grace period): counted as soon as anyone reads a count.
    sleep 0.1
    mkdir "$MNT/first"
    assert_eq "$(cat "$MNT/first/pids.current")" 1 "the init counted right after mkdir"
    rmdir "$MNT/first"
    mkdir -p "$MNT/a/b"
    local cga; cga=$(awk '/^cgroup:/ { print $2 }' "$MNT/a/status")
    local cgb; cgb=$(awk '/^cgroup:/ { print $2 }' "$MNT/a/b/status")
    assert_eq "$(cat "$PIDS_V1$cga/cgroup.procs")" "$(init_pid "$MNT/a")" "a's init in its v1 cgroup"
    assert_eq "$(cat "$PIDS_V1$cgb/cgroup.procs")" "$(init_pid "$MNT/a/b")" "b's init in its v1 cgroup"
    # nsctl exec: the command is born there; nsctl itself does not stay
    "$NSCTL" exec "$MNT/a" -- sleep 1000 &
    local nsctl=$!
    wait_for 5 sh -c "[ \$(wc -l < $PIDS_V1$cga/cgroup.procs) -ge 2 ]" || fail "the command is not in a's v1 cgroup"
    grep -qx "$nsctl" "$PIDS_V1$cga/cgroup.procs" && fail "nsctl stayed in a's v1 cgroup"
    # hierarchical: a's init, b's init, the sleep
    assert_eq "$(cat "$MNT/a/pids.current")" 3 "a's pids.current"
    # a named set's processes follow it
    "$NSCTL" exec "$MNT/a" -- unshare --mount sleep 1000 &
    wait_for 5 sh -c "ls '$MNT/a' | grep -q '^unnamed'"
    mv "$MNT/a/$(ls "$MNT/a" | grep '^unnamed' | head -1)" "$MNT/a/named"
    local cgn; cgn=$(awk '/^cgroup:/ { print $2 }' "$MNT/a/named/status")
    assert_eq "$(sort -n "$PIDS_V1$cgn/cgroup.procs")" "$(sort -n "$CGROUP2$cgn/leaf/cgroup.procs")" "the named set's processes in its v1 cgroup"
    rm -rf "$MNT/a"
    [ ! -e "$PIDS_V1$cga" ] || fail "a's v1 cgroup left behind"
    assert_eq "$(find "$PIDS_V1$CG" -mindepth 1 -type d | wc -l)" 0 "v1 cgroups left"
}

# Where no limit counts it, nsctl exec does not stand in the v1 mirror for
# the clone (each move waits out an RCU grace period after an idle moment):
# the tree places the command, and what it forked meanwhile, soon after;
# a limit written later sweeps every process below into its mirror first.
test_unlimited_exec_is_placed_later_and_a_later_limit_counts_it() {
    [ -n "$PIDS_V1" ] && ! grep -qw pids "$CGROUP2/cgroup.subtree_control" || {
        echo "    skipped: pids is on cgroup2 here, there is no v1 mirror"; return 0; }
    new_mount
    mkdir "$MNT/a"
    local cga; cga=$(awk '/^cgroup:/ { print $2 }' "$MNT/a/status")
    # forks at once: the two sleeps are children of a command not yet placed
    "$NSCTL" exec -d "$MNT/a" -- sh -c 'sleep 1000 & sleep 1000 & wait' >/dev/null
    wait_for 5 sh -c "[ \$(wc -l < $CGROUP2$cga/leaf/cgroup.procs) -ge 4 ]" || fail "the command did not start its sleeps"
    # the init, sh, two sleeps: a count waits for the placements under way
    assert_eq "$(cat "$MNT/a/pids.current")" 4 "a's pids.current"
    assert_eq "$(sort -n "$PIDS_V1$cga/cgroup.procs")" "$(sort -n "$CGROUP2$cga/leaf/cgroup.procs")" "a's processes in its v1 cgroup"
    # a process that reached the leaf outside the tree (as one whose nsctl
    # died before it asked): swept into the mirror by the next limit
    sleep 1000 &
    local stray=$!
    echo "$stray" > "$CGROUP2$cga/leaf/cgroup.procs"
    echo 5 > "$MNT/a/pids.max"
    grep -qx "$stray" "$PIDS_V1$cga/cgroup.procs" || fail "the stray process was not swept into a's mirror"
    assert_eq "$(cat "$MNT/a/pids.current")" 5 "a's pids.current with the stray"
    # at the limit now: nsctl stands in the mirror again, and is refused
    assert_errno "" "$NSCTL" exec "$MNT/a" -- true
    echo max > "$MNT/a/pids.max"
    "$NSCTL" exec "$MNT/a" -- true || fail "exec without a limit"
    kill "$stray" 2>/dev/null
    # a command that forks fast while the limit is written: every process
    # counted once it is (none left out of the mirror to escape it)
    mkdir "$MNT/b"
    local cgb; cgb=$(awk '/^cgroup:/ { print $2 }' "$MNT/b/status")
    "$NSCTL" exec -d "$MNT/b" -- sh -c 'i=0; while [ $i -lt 150 ]; do sleep 1000 & i=$((i+1)); done; wait' >/dev/null
    echo 1000 > "$MNT/b/pids.max"
    wait_for 10 sh -c "[ \$(wc -l < $CGROUP2$cgb/leaf/cgroup.procs) -ge 152 ]" || fail "the loop did not finish"
    assert_eq "$(cat "$MNT/b/pids.current")" 152 "b's pids.current: the init, sh, 150 sleeps"
    assert_eq "$(sort -n "$PIDS_V1$cgb/cgroup.procs")" "$(sort -n "$CGROUP2$cgb/leaf/cgroup.procs")" "b's processes in its v1 cgroup"
    rm -rf "$MNT/a" "$MNT/b"
}

test_fork_bomb_harms_no_one() {
    skip_without pids || return 0
    new_mount
    mkdir "$MNT/bomb"
    echo 512 > "$MNT/bomb/pids.max"
    "$NSCTL" exec "$MNT/bomb" -- bash -c ':(){ :|:& };:' >/dev/null 2>&1 &
    wait_for 10 sh -c "[ \$(cat '$MNT/bomb/pids.current') -ge 500 ]" || fail "the bomb did not reach its limit: $(cat "$MNT/bomb/pids.current")"
    # the host keeps forking while the bomb pushes against its limit
    local i
    for i in $(seq 200); do /bin/true || fail "the host could not fork ($i)"; done
    [ "$(cat "$MNT/bomb/pids.current")" -le 512 ] || fail "above the limit: $(cat "$MNT/bomb/pids.current")"
    local cg; cg=$(awk '/^cgroup:/ { print $2 }' "$MNT/bomb/status")
    local t0; t0=$(date +%s%N)
    rm -rf "$MNT/bomb"
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "    rm -rf of the bomb took $ms ms"
    [ "$ms" -le 1000 ] || fail "rm -rf took $ms ms"
    [ ! -e "$MNT/bomb" ] && [ ! -e "$CGROUP2$cg" ] || fail "the bomb is left"
    [ -z "$PIDS_V1" ] || [ ! -e "$PIDS_V1$cg" ] || fail "its v1 cgroup is left"
}

test_limits_survive_unmount_and_daemon_sigkill() {
    skip_without pids || return 0
    new_mount
    mkdir -p "$MNT/a/b"
    echo 77 > "$MNT/a/pids.max"
    echo 33 > "$MNT/a/b/pids.max"
    remount
    assert_eq "$(cat "$MNT/a/pids.max") $(cat "$MNT/a/b/pids.max")" "77 33" "after a remount"
    crash_and_remount
    assert_eq "$(cat "$MNT/a/pids.max") $(cat "$MNT/a/b/pids.max")" "77 33" "after a SIGKILL"
    # and what enters afterwards still counts
    "$NSCTL" exec "$MNT/a/b" -- sleep 1000 &
    wait_for 5 sh -c "[ \$(cat '$MNT/a/b/pids.current') -ge 2 ]" || fail "pids.current of b: $(cat "$MNT/a/b/pids.current")"
    check_consistency
}

test_an_old_layout_is_moved_to_leaves_and_nothing_is_killed() {
    new_mount
    mkdir -p "$MNT/a/b" "$MNT/c"
    "$NSCTL" exec "$MNT/a" -- sleep 1000 &
    wait_for 5 sh -c "[ \$(wc -l < '$MNT/a/procs') -ge 2 ]"
    local before; before=$(tree_snapshot)
    local procs_a; procs_a=$(cat "$MNT/a/procs")
    umount "$MNT"
    # As an older daemon left them: processes in the container's cgroup
    # itself, no leaf, no v1 mirror.
    local d
    for d in $(find "$CGDIR" -depth -type d -name leaf); do
        for p in $(cat "$d/cgroup.procs"); do echo "$p" > "$(dirname "$d")/cgroup.procs"; done
        echo "" > "$(dirname "$d")/cgroup.subtree_control" 2>/dev/null || true
        rmdir "$d"
    done
    if [ -n "$PIDS_V1" ] && [ -d "$PIDS_V1$CG" ]; then
        for d in $(find "$PIDS_V1$CG" -mindepth 1 -depth -type d); do
            for p in $(cat "$d/cgroup.procs"); do echo "$p" > "$PIDS_V1/cgroup.procs"; done
            rmdir "$d"
        done
    fi
    [ -z "$(find "$CGDIR" -name leaf)" ] || fail "the old layout was not made"
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/adopt.log"
    assert_eq "$(tree_snapshot)" "$before" "the same containers with the same inits"
    assert_eq "$(cat "$MNT/a/procs")" "$procs_a" "a's processes, none killed"
    grep -q "moved 2 process(es) into its leaf cgroup" "$TEST_TMP/adopt.log" || fail "log: $(cat "$TEST_TMP/adopt.log")"
    local cga; cga=$(awk '/^cgroup:/ { print $2 }' "$MNT/a/status")
    assert_eq "$(cat "$CGROUP2$cga/cgroup.procs")" "" "a's cgroup itself holds none"
    assert_eq "$(sort -n "$CGROUP2$cga/leaf/cgroup.procs")" "$procs_a" "a's leaf"
    if [ -n "$PIDS_V1" ]; then
        assert_eq "$(sort -n "$PIDS_V1$cga/cgroup.procs")" "$procs_a" "a's v1 mirror"
    fi
    check_consistency
    mkdir "$MNT/a/e" || fail "mkdir after the move"
}

test_memory_limit_kills_inside_only() {
    skip_without memory || return 0
    new_mount
    mkdir "$MNT/m"
    echo 64M > "$MNT/m/memory.max"
    assert_eq "$(cat "$MNT/m/memory.max")" 67108864 "memory.max"
    grep -qx "oom-kills: 0" "$MNT/m/status" || fail "status: $(grep oom "$MNT/m/status")"
    local rc=0
    "$NSCTL" exec "$MNT/m" -- python3 -c 'x = bytearray(512 * 2**20)' 2>/dev/null || rc=$?
    assert_eq "$rc" 137 "the allocation is killed"
    grep -qx "oom-kills: [1-9][0-9]*" "$MNT/m/status" || fail "status: $(grep oom "$MNT/m/status")"
    is_running "$(init_pid "$MNT/m")" || fail "m's init died"
}

test_cpu_limits_read_and_write() {
    skip_without cpu || return 0
    new_mount
    mkdir "$MNT/c"
    echo "50000 100000" > "$MNT/c/cpu.max"
    assert_eq "$(cat "$MNT/c/cpu.max")" "50000 100000" "cpu.max"
    echo 200 > "$MNT/c/cpu.weight"
    assert_eq "$(cat "$MNT/c/cpu.weight")" 200 "cpu.weight"
    assert_eq "$(write_errno "$MNT/c/cpu.weight" 0)" "Invalid argument" "cpu.weight 0"
}

test_the_process_limit_of_a_containers_root_is_a_second_stop() {
    # pids.max left at max: only the per-user limit of the container's root
    # (in its own user namespace, counted apart from every other) stops it.
    new_mount nproc=150
    mkdir "$MNT/bomb"
    assert_eq "$(awk '/^Max processes/ { print $3, $4 }' /proc/"$(init_pid "$MNT/bomb")"/limits)" "150 150" "the init's limit"
    "$NSCTL" exec "$MNT/bomb" -- bash -c ':(){ :|:& };:' >/dev/null 2>&1 &
    local n=0 last=-1 stable=0
    # until the count stops growing (the bomb is at its limit)
    while [ $stable -lt 10 ]; do
        n=$(wc -l < "$MNT/bomb/procs")
        if [ "$n" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
        last=$n; sleep 0.1
    done
    echo "    the bomb stopped at $n processes (nproc 150, pids.max $(cat "$MNT/bomb/pids.max" 2>/dev/null || echo -))"
    [ "$n" -ge 100 ] && [ "$n" -le 151 ] || fail "$n processes"
    local i
    for i in $(seq 100); do /bin/true || fail "the host could not fork ($i)"; done
    local t0; t0=$(date +%s%N)
    rm -rf "$MNT/bomb"
    echo "    rm -rf took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    [ ! -e "$MNT/bomb" ] || fail "the bomb is left"
}
