# User namespaces: each container's own, root inside is nobody outside,
# delegation to a container's root, ids that survive restarts.
# shellcheck shell=bash

uid_base_of() { awk '/^uid-map:/ { print $3 }' "$1/status"; }
host_uid_of() { awk '/^Uid:/ { print $3 }' "/proc/$1/status"; }
# The inode of the parent user namespace of the namespace handle $1.
userns_parent() {
    python3 - "$1" <<'PY'
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.fstat(fcntl.ioctl(fd, 0xb702)).st_ino)   # NS_GET_PARENT
PY
}

test_each_container_has_a_user_namespace_of_its_own() {
    new_mount
    mkdir -p "$MNT/a/b" "$MNT/c"
    local a b c
    a=$(uid_base_of "$MNT/a"); b=$(uid_base_of "$MNT/a/b"); c=$(uid_base_of "$MNT/c")
    [ -n "$a" ] && [ "$a" -gt 0 ] || fail "a's uid-map: $(grep map "$MNT/a/status")"
    grep -qx "uid-map: 0 $a 65536" "$MNT/a/status" && grep -qx "gid-map: 0 $a 65536" "$MNT/a/status" || fail "maps of a"
    # top-level containers: disjoint blocks; a nested one: its parent's ids
    [ $(( a > c ? a - c : c - a )) -ge 65536 ] || fail "a ($a) and c ($c) overlap"
    assert_eq "$b" "$a" "b maps a's ids"
    # the init runs as the range's first id on the host, root inside
    assert_eq "$(host_uid_of "$(init_pid "$MNT/a")")" "$a" "a's init on the host"
    assert_eq "$(cat /proc/$(init_pid "$MNT/a")/uid_map | awk '{ print $1, $2, $3 }')" "0 $a 65536" "the kernel's map"
    # its own user namespace, owning the others; b's is a child of a's
    [ "$(stat -L -c %i "$MNT/a/ns/user")" != "$(stat -L -c %i /proc/self/ns/user)" ] || fail "a shares the host's user namespace"
    grep -q "^owns: .*user" "$MNT/a/status" || fail "owns: $(grep owns "$MNT/a/status")"
    assert_eq "$(userns_parent "$MNT/a/b/ns/user")" "$(stat -L -c %i "$MNT/a/ns/user")" "b's user namespace's parent"
    assert_eq "$(userns_parent "$MNT/a/ns/user")" "$(stat -L -c %i /proc/self/ns/user)" "a's user namespace's parent"
    # nsctl exec: root inside by default, --user for another id
    assert_eq "$("$NSCTL" exec "$MNT/a" -- id -u)" 0 "uid inside"
    "$NSCTL" exec "$MNT/a" -- sleep 1000 &
    wait_for 5 sh -c "[ \$(wc -l < '$MNT/a/procs') -ge 2 ]"
    local p; p=$(tail -1 "$MNT/a/procs")
    # (listed from its clone on, it takes its ids a moment later, before exec)
    wait_for 5 sh -c "[ \"\$(awk '/^Uid:/ { print \$3 }' /proc/$p/status)\" = $a ]" || true
    assert_eq "$(host_uid_of "$p")" "$a" "an entered process on the host"
    assert_eq "$("$NSCTL" exec --user 1000:1001 "$MNT/a" -- sh -c 'echo $(id -u) $(id -g)')" "1000 1001" "--user inside"
    "$NSCTL" exec --user 1000 "$MNT/a" -- sleep 1000 &
    wait_for 5 sh -c "[ \$(wc -l < '$MNT/a/procs') -ge 3 ]"
    wait_for 5 sh -c "grep -qx 'Uid:.$((a + 1000)).*' /proc/\$(tail -1 '$MNT/a/procs')/status" ||
        fail "--user 1000 is not $((a + 1000)) on the host: $(grep Uid: /proc/"$(tail -1 "$MNT/a/procs")"/status)"
    assert_errno "takes UID" "$NSCTL" exec --user nobody "$MNT/a" -- true
    # a freed block is reused
    rm -rf "$MNT/c"
    mkdir "$MNT/e"
    assert_eq "$(uid_base_of "$MNT/e")" "$c" "e reuses c's block"
}

test_ids_and_user_namespaces_survive_restarts() {
    new_mount
    mkdir -p "$MNT/a/b" "$MNT/c"
    local a c ns
    a=$(uid_base_of "$MNT/a"); c=$(uid_base_of "$MNT/c"); ns=$(stat -L -c %i "$MNT/a/ns/user")
    remount
    assert_eq "$(uid_base_of "$MNT/a") $(uid_base_of "$MNT/a/b") $(uid_base_of "$MNT/c")" "$a $a $c" "blocks after a remount"
    assert_eq "$(stat -L -c %i "$MNT/a/ns/user")" "$ns" "a's user namespace after a remount"
    crash_and_remount
    assert_eq "$(uid_base_of "$MNT/a") $(uid_base_of "$MNT/c")" "$a $c" "blocks after a SIGKILL"
    # the blocks in use stay taken: a new container gets another
    mkdir "$MNT/d"
    local d; d=$(uid_base_of "$MNT/d")
    [ "$d" != "$a" ] && [ "$d" != "$c" ] || fail "d got a block in use: $d"
    # a record that lost its ids is rebuilt with them from the init
    local id; id=$(awk '/^id:/ { print $2 }' "$MNT/a/status")
    umount "$MNT"
    "$RECORDS" unset "$STATE" "$id" ids
    "$RECORDS" unset "$STATE" "$id" userns
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/adopt.log"
    assert_eq "$(uid_base_of "$MNT/a")" "$a" "a's block, read back from its init"
    # a record whose user namespace is not the init's: that init is not
    # trusted as the recorded one (rebuilt from its cgroup, nothing killed)
    local init; init=$(init_pid "$MNT/a")
    umount "$MNT"
    "$RECORDS" set "$STATE" "$id" userns 12345
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/adopt.log"
    grep -q "rebuilt" "$TEST_TMP/adopt.log" || fail "a was adopted despite another user namespace: $(cat "$TEST_TMP/adopt.log")"
    assert_eq "$(init_pid "$MNT/a")" "$init" "a's init, kept"
    assert_eq "$(uid_base_of "$MNT/a")" "$a" "a's block after the rebuild"
    mkdir "$MNT/f"
    [ "$(uid_base_of "$MNT/f")" != "$a" ] || fail "f got a's block"
    check_consistency
}

# An engine's mapping (nsfs-oci, an OCI bundle's uidMappings): the host's
# root writes "NAME ids=FIRST:COUNT" to a container's mkdir entry and gets a
# child whose user namespace maps those host ids, never ids in use.
test_the_hosts_root_asks_for_host_ids_through_mkdir() {
    new_mount
    mkdir -p "$MNT/a/b"
    assert_eq "$(stat -c %A "$MNT/a/mkdir")" "--w-------" "mkdir entry mode"
    echo "w ids=3000000:65536" > "$MNT/a/mkdir" || fail "mkdir entry"
    [ -d "$MNT/a/w" ] || fail "a/w not made"
    grep -qx "uid-map: 0 3000000 65536" "$MNT/a/w/status" || fail "map: $(grep uid-map "$MNT/a/w/status")"
    grep -qx "gid-map: 0 3000000 65536" "$MNT/a/w/status" || fail "gid map: $(grep gid-map "$MNT/a/w/status")"
    assert_eq "$(host_uid_of "$(init_pid "$MNT/a/w")")" 3000000 "w's init on the host"
    # a child of the host's user namespace (a's maps other ids)
    assert_eq "$(userns_parent "$MNT/a/w/ns/user")" "$(stat -L -c %i /proc/self/ns/user)" "w's user namespace's parent"
    assert_eq "$("$NSCTL" exec "$MNT/a/w" -- sh -c 'id -u; cat /proc/self/uid_map' | tr -s ' \n' ' ')" "0 0 3000000 65536 " "inside w"
    # fewer ids; what is made below maps the same
    echo "s ids=3100000:1000" > "$MNT/a/mkdir" || fail "mkdir entry, 1000 ids"
    mkdir "$MNT/a/s/n" || fail "mkdir below s"
    grep -qx "uid-map: 0 3100000 1000" "$MNT/a/s/n/status" || fail "n's map: $(grep uid-map "$MNT/a/s/n/status")"
    # ids in use are never given twice: w's, a's block
    assert_errno "Device or resource busy" bash -c "echo 'x ids=3000500:10' > '$MNT/a/mkdir'"
    assert_errno "Device or resource busy" bash -c "echo 'x ids=$(uid_base_of "$MNT/a"):1' > '$MNT/a/mkdir'"
    assert_errno "Invalid argument" bash -c "echo 'x ids=5000000:0' > '$MNT/a/mkdir'"
    assert_errno "Invalid argument" bash -c "echo 'x uids=5000000:10' > '$MNT/a/mkdir'"
    assert_errno "File exists" bash -c "echo 'w ids=5000000:10' > '$MNT/a/mkdir'"
    # never a container's root (host ids are not its to give), nor a user
    assert_errno "Permission denied" "$NSCTL" exec "$MNT/a" -- bash -c "echo 'y ids=5000000:10' > $MNT/b/mkdir"
    assert_errno "Permission denied" setpriv --reuid 1000 --regid 1000 --clear-groups bash -c "echo 'y ids=5000000:10' > '$MNT/a/mkdir'"
    [ ! -e "$MNT/a/x" ] && [ ! -e "$MNT/a/b/y" ] && [ ! -e "$MNT/a/y" ] || fail "a refused write made a container"
    # kept across a daemon's death, and still claimed
    crash_and_remount
    grep -qx "uid-map: 0 3000000 65536" "$MNT/a/w/status" || fail "map after a SIGKILL: $(grep uid-map "$MNT/a/w/status")"
    assert_errno "Device or resource busy" bash -c "echo 'x ids=3065535:1' > '$MNT/a/mkdir'"
    # free again once its container is gone
    rm -rf "$MNT/a/w" || fail "rm -rf a/w"
    echo "w2 ids=3000000:65536" > "$MNT/a/mkdir" || fail "w's ids, once w is gone"
    check_consistency
}

test_userns_off_shares_the_hosts() {
    new_mount userns=off
    mkdir "$MNT/a"
    assert_eq "$(stat -L -c %i "$MNT/a/ns/user")" "$(stat -L -c %i /proc/self/ns/user)" "a's user namespace"
    grep -qx "uid-map: 0 0 4294967295" "$MNT/a/status" || fail "map: $(grep uid-map "$MNT/a/status")"
    assert_eq "$(host_uid_of "$(init_pid "$MNT/a")")" 0 "a's init is the host's root"
    assert_errno "no user namespace of its own" "$NSCTL" exec --user 5 "$MNT/a" -- true
}

test_root_inside_is_nobody_outside() {
    new_mount
    mkdir -p "$MNT/a" "$MNT/sib"
    view_ready "$MNT/a"
    local sib; sib=$(init_pid "$MNT/sib")
    local sibcg; sibcg=$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$MNT/sib/status")
    local acg; acg=$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$MNT/a/status")
    # (its output, whatever its exit status: each attempt is expected to fail)
    inside() { "$NSCTL" exec "$MNT/a" -- sh -c "$1" 2>&1 || true; }
    # cgroup files outside its delegated leaf (owned by the host's root)
    case $(inside "echo 1 > $sibcg/cgroup.kill") in *"Permission denied"*) ;; *) fail "killing a sibling through cgroupfs" ;; esac
    is_running "$sib" || fail "the sibling died"
    echo "    stopped by: user namespace (cgroupfs files belong to the host's root)"
    case $(inside "echo \$\$ > $CGROUP2/cgroup.procs") in *"Permission denied"*) ;; *) fail "moving itself to the root cgroup" ;; esac
    case $(inside "echo \$\$ > $acg/cgroup.procs") in *"Permission denied"*) ;; *) fail "moving itself to its container's cgroup" ;; esac
    # ...while its own leaf is its to divide (as systemd inside would)
    "$NSCTL" exec "$MNT/a" -- sh -c "mkdir $acg/leaf/sub && echo \$\$ > $acg/leaf/sub/cgroup.procs" || fail "its leaf is not delegated"
    # the host's /proc uncovered under its own, then a host process's memory
    local out
    out=$(inside "unshare --mount sh -c 'umount -l /proc && cat /proc/1/comm >/dev/null && echo x > /proc/1/mem'")
    case $out in *"Permission denied"*|*"Operation not permitted"*) ;; *) fail "writing the host's pid 1 memory: $out" ;; esac
    echo "    stopped by: user namespace (ptrace access to the host's processes: $out)"
    out=$(inside "unshare --mount sh -c 'umount -l /proc && nsenter -t 1 -n -m -u -i true'")
    case $out in *"Permission denied"*|*"Operation not permitted"*) ;; *) fail "joining the host's namespaces: $out" ;; esac
    # host files
    case $(inside "cat /etc/shadow") in *"Permission denied"*) ;; *) fail "reading /etc/shadow" ;; esac
    echo original > "$TEST_TMP/rootfile"; chmod 644 "$TEST_TMP/rootfile"
    case $(inside "echo changed > $TEST_TMP/rootfile") in *"Permission denied"*) ;; *) fail "writing a root-owned host file" ;; esac
    assert_eq "$(cat "$TEST_TMP/rootfile")" original "the host file"
    # a kernel module, a host block device
    if [ -e /proc/modules ]; then
        out=$(inside "python3 -c 'import ctypes, os; l = ctypes.CDLL(None, use_errno=True); fd = os.open(\"/dev/null\", os.O_RDONLY); r = l.syscall(313, fd, b\"\", 0); print(os.strerror(ctypes.get_errno()) if r else \"loaded\")'")
        case $out in *"Operation not permitted"*) ;; *) fail "finit_module: $out" ;; esac
    else
        echo "    skipped: loading a module (this kernel has no module support: finit_module is ENOSYS for everyone)"
    fi
    local dev; dev=$(awk '$5 == "/" { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 2); exit } }' /proc/self/mountinfo)
    mkdir -p "$TEST_TMP/mp"
    out=$(inside "mount -o ro $dev $TEST_TMP/mp")
    case $out in *"ermission denied"*|*"not permitted"*) ;; *) fail "mounting $dev: $out" ;; esac
    is_mounted "$TEST_TMP/mp" && fail "the host's $dev got mounted"
    # a process outside, by pid (uncovered host /proc or not): not its to signal
    sleep 1000 & local host=$!
    out=$(inside "unshare --mount sh -c 'umount -l /proc; kill -9 $host'")
    is_running "$host" || fail "a host process was killed from inside"
    out=$(inside "python3 -c 'import ctypes, os; l = ctypes.CDLL(None, use_errno=True); r = l.ptrace(16, $host, 0, 0); print(os.strerror(ctypes.get_errno()) if r else \"attached\")'")
    case $out in *"No such process"*|*"not permitted"*) ;; *) fail "ptrace of a host process: $out" ;; esac
    echo "    stopped by: pid namespace (a host process has no pid inside: $out)"
    kill "$host"
    # the tree's handles it can reach are its own
    assert_eq "$("$NSCTL" exec "$MNT/a" -- stat -L -c %i "$MNT/ns/net")" "$(stat -L -c %i "$MNT/a/ns/net")" "ns/net at its view's root"
}

test_a_containers_root_manages_what_is_below_it() {
    new_mount
    mkdir -p "$MNT/a/b"
    view_ready "$MNT/a"
    local base; base=$(uid_base_of "$MNT/a")
    # root of a's user namespace: below a, as the host's root would
    "$NSCTL" exec "$MNT/a" -- mkdir "$MNT/x" || fail "mkdir below a"
    [ -d "$MNT/a/x" ] || fail "x is not a/x"
    assert_eq "$(userns_parent "$MNT/a/x/ns/user")" "$(stat -L -c %i "$MNT/a/ns/user")" "x's user namespace is a child of a's"
    assert_eq "$(uid_base_of "$MNT/a/x")" "$base" "x maps a's ids"
    assert_eq "$(host_uid_of "$(init_pid "$MNT/a/x")")" "$base" "x's init on the host"
    "$NSCTL" exec "$MNT/a" -- sh -c "echo renamed > $MNT/x/hostname" || fail "x's hostname from a"
    "$NSCTL" exec "$MNT/a" -- mv "$MNT/x" "$MNT/y" || fail "mv below a"
    "$NSCTL" exec "$MNT/a" -- rm -rf "$MNT/y" "$MNT/b" || fail "rm -rf below a"
    [ ! -e "$MNT/a/y" ] && [ ! -e "$MNT/a/b" ] || fail "still there"
    # never a itself
    assert_errno "Permission denied" "$NSCTL" exec "$MNT/a" -- sh -c "echo other > $MNT/hostname"
    assert_errno "Permission denied" "$NSCTL" exec "$MNT/a" -- sh -c "echo 1 > $MNT/freeze"
    assert_eq "$(cat "$MNT/a/hostname")" a "a's hostname"
    # a non-root id of a's namespace, root of another user namespace: nothing
    assert_errno "Permission denied" "$NSCTL" exec --user 1000 "$MNT/a" -- mkdir "$MNT/z"
    assert_errno "Permission denied" "$NSCTL" exec "$MNT/a" -- unshare --user --map-root-user mkdir "$MNT/z"
    [ ! -e "$MNT/a/z" ] || fail "z made"
    check_consistency
}

test_a_delegated_user_makes_enters_and_removes_without_privileges() {
    new_mount
    mkdir "$MNT/alice"
    chown 1000:1000 "$MNT/alice"
    local as1000="setpriv --reuid=1000 --regid=1000 --clear-groups" base
    base=$(uid_base_of "$MNT/alice")
    $as1000 mkdir "$MNT/alice/job" || fail "mkdir as the delegated user"
    assert_eq "$(stat -c %u "$MNT/alice/job")" 1000 "job is hers"
    # its processes run as ids of a range of its own — neither the host's
    # root nor the root of the container delegated to her
    local jobbase; jobbase=$(uid_base_of "$MNT/alice/job")
    assert_ne "$jobbase" "$base" "job's range against alice's"
    assert_ne "$jobbase" 0 "job's range against the host's root"
    assert_eq "$(host_uid_of "$(init_pid "$MNT/alice/job")")" "$jobbase" "job's init on the host"
    # she owns its user namespace: she enters it unprivileged, as its root
    assert_eq "$($as1000 "$NSCTL" exec "$MNT/alice/job" -- sh -c 'id -u; hostname')" "0
job" "inside job, as alice"
    $as1000 "$NSCTL" exec "$MNT/alice/job" -- sleep 1000 &
    wait_for 5 sh -c "[ \$(wc -l < '$MNT/alice/job/procs') -ge 1 ] && pgrep -u $jobbase -x sleep >/dev/null" || fail "the program is not running as $jobbase"
    # ...and nothing she was not given
    assert_errno "owning its user namespace" $as1000 "$NSCTL" exec "$MNT/alice" -- true
    assert_errno "Permission denied" $as1000 mkdir "$MNT/other"
    $as1000 rm -rf "$MNT/alice/job" || fail "rm -rf as the delegated user"
    [ ! -e "$MNT/alice/job" ] || fail "job is still there"
    # (nsctl, its relay, was in job's cgroup too: killed with it; the
    # sleep is a zombie for PID 1, which never reaps here)
    local p; for p in $(pgrep -u "$jobbase" -x sleep); do ! is_running "$p" || fail "its program lives on"; done
    check_consistency
}

test_the_hosts_files_are_read_only_and_tmp_is_private() {
    new_mount hostfs=private
    mkdir -p "$MNT/a/b"
    grep -qx "host-filesystem: private" "$STATE/namespacefs.conf" || fail "not remembered: $(cat "$STATE/namespacefs.conf")"
    local w=/run/nsfs-test-$$-world
    mkdir -p "$w"; chmod 1777 "$w"
    rm -f /tmp/nsfs-escape-$$
    inside() { "$NSCTL" exec "$1" -- sh -c "$2" 2>&1 || true; }
    # the issue's first attack: /tmp is the container's own
    inside "$MNT/a" "echo x > /tmp/nsfs-escape-$$ && cat /tmp/nsfs-escape-$$" | matches -x x || fail "a cannot use its /tmp"
    [ ! -e /tmp/nsfs-escape-$$ ] || fail "a's /tmp file landed on the host"
    echo "    stopped by: a private tmpfs on /tmp, /var/tmp, /dev/shm"
    # anywhere else on the host, even world-writable: read-only
    case $(inside "$MNT/a" "touch $w/file") in *"Read-only file system"*) ;; *) fail "writing a world-writable host directory" ;; esac
    [ ! -e "$w/file" ] || fail "the file landed on the host"
    echo "    stopped by: the host's mounts read-only, locked"
    # locked: neither made writable again nor unmounted to uncover the host's /tmp
    case $(inside "$MNT/a" "mount -o remount,rw /") in *"ermission denied"*|*"not permitted"*) ;; *) fail "remounting / read-write" ;; esac
    case $(inside "$MNT/a" "unshare --mount sh -c 'umount /tmp && touch /tmp/nsfs-escape-$$'") in *"not mounted"*|*"Invalid argument"*|*"not permitted"*) ;; *) fail "unmounting /tmp" ;; esac
    [ ! -e /tmp/nsfs-escape-$$ ] || fail "uncovered the host's /tmp"
    # a nested container has a /tmp of its own too; its own proc, user namespaces inside still work
    inside "$MNT/a/b" "ls -A /tmp" | matches . && fail "b sees a's /tmp"
    assert_eq "$(inside "$MNT/a" "unshare --user --map-root-user id -u")" 0 "a user namespace inside a"
    # shared, remembered across a remount
    rm -rf "$MNT/a"
    remount_with hostfs=shared
    mkdir "$MNT/s"
    inside "$MNT/s" "touch $w/file"
    [ -e "$w/file" ] || fail "hostfs=shared: no file on the host"
    rm -rf "$w"
}

test_a_delegated_users_containers_count_against_the_users_process_limit() {
    new_mount
    mkdir "$MNT/alice"
    # a uid of this test alone: the limit counts every task of the uid on the
    # host, zombies too, and PID 1 here never reaps what others orphaned
    local uid=2345
    chown $uid:$uid "$MNT/alice"
    # alice, limited to LIMIT processes, runs 6 herself, then makes a
    # container and tries to start 20 in it: her limit bounds them all together.
    run_as_alice() {
        local others; others=$(ps -e -L -o uid= | grep -cx " *$uid" || true)
        setpriv --reuid=$uid --regid=$uid --clear-groups bash -c "
            ulimit -u $((others + $1))
            for i in 1 2 3 4 5 6; do sleep 1000 >/dev/null 2>&1 & done
            mkdir $MNT/alice/$2
            $NSCTL exec $MNT/alice/$2 -- sh -c 'for i in \$(seq 20); do sleep 1000 & done 2>/dev/null; sleep 1' >/dev/null 2>&1
            kill \$(jobs -p); wait
        " 2>/dev/null || true
        # what she entered stays in her own cgroup: count its pid namespace
        local ns p count=0; ns=$(stat -L -c %i "$MNT/alice/$2/ns/pid") || { echo "no $2 (mkdir failed; $others tasks of uid $uid before)"; return; }
        for p in /proc/[0-9]*; do [ "$(stat -L -c %i "$p/ns/pid" 2>/dev/null)" = "$ns" ] && count=$((count + 1)); done
        echo "$count"
    }
    local n
    n=$(run_as_alice 200 roomy)
    [ "$n" -ge 21 ] 2>/dev/null || fail "with room for them, only $n processes in the container"
    # (roomy's processes count against her too, while they live: what she
    # entered is not in roomy's cgroup, so it may still be dying after rm)
    local roomy; roomy=$(stat -L -c %i "$MNT/alice/roomy/ns/pid")
    rm -rf "$MNT/alice/roomy"
    in_roomy() { local p c=0; for p in /proc/[0-9]*; do [ "$(stat -L -c %i "$p/ns/pid" 2>/dev/null)" = "$roomy" ] && c=$((c + 1)); done; echo $c; }
    local i=0; while [ "$(in_roomy)" != 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    n=$(run_as_alice 12 job)
    echo "    $n processes in alice's container (her limit 12, 6 of her own running; 200: all 21)"
    { [ "$n" -ge 1 ] && [ "$n" -le 5 ]; } 2>/dev/null || fail "$n processes in the container: her limit did not bound them"
    assert_eq "$(awk '/^Max processes/ { print $3 }' /proc/"$(init_pid "$MNT/alice/job")"/limits)" "$(awk '/^Max processes/ { print $3 }' /proc/self/limits)" \
        "the container's init keeps the daemon's own limit (the user's applies to the namespace)"
    rm -rf "$MNT/alice/job"
}
