# Sets of namespaces that processes of a container made for themselves
# (issue 13): discovered as unnamed<N> nodes, named by mv, killed by rm -rf.
# shellcheck shell=bash

# The set directories below DIR (one level), sorted.
sets_in() { find "$1" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/unnamed[0-9]+' | sort; }
# ns_inode PID KIND: the inode of a process's namespace.
ns_inode() { stat -L -c %i "/proc/$1/ns/$2"; }
# Start `nsctl exec DIR -- CMD...` in the background once it runs: waits for
# the marker file the command's shell writes after its unshare.
# start_in DIR MARKER SCRIPT: sh -c SCRIPT inside DIR; SCRIPT touches MARKER.
start_in() {
    local dir=$1 marker=$2 script=$3
    rm -f "$marker"
    "$NSCTL" exec "$dir" -- sh -c "$script" </dev/null >/dev/null 2>&1 &
    wait_for 10 test -e "$marker"
}

test_a_set_made_in_a_container_is_its_unnamed_child_at_the_next_ls() {
    new_mount
    mkdir "$MNT/vs"
    local m=$TEST_TMP/unshared
    # The marker is written after the unshare: the very next ls must show the
    # set, with no waiting (nothing polls /proc in the background).
    start_in "$MNT/vs" "$m" "exec unshare --mount --fork sh -c 'touch $m; exec sleep 600'"
    local sets; sets=$(sets_in "$MNT/vs")
    assert_eq "$(echo "$sets" | wc -l)" 1 "one set after one unshare"
    case ${sets##*/} in unnamed[0-9]*) ;; *) fail "name ${sets##*/} is not unnamed<N>" ;; esac
    local set=$sets members; members=$(cat "$set/procs")
    assert_eq "$(echo "$members" | wc -l)" 2 "unshare and its sleep"
    local sleeper; sleeper=$(echo "$members" | tail -1)
    assert_eq "$(ns_inode "$sleeper" mnt)" "$(awk -F'[][]' '/^ns-mnt:/ { print $2 }' "$set/status")" "status names the set's mnt"
    # vs's own procs no longer lists them
    for p in $members; do ! grep -qx "$p" "$MNT/vs/procs" || fail "vs/procs lists set member $p"; done
    # a second process entering the set is a member, not a new node
    "$NSCTL" exec "$set" -- sleep 600 </dev/null >/dev/null 2>&1 &
    wait_for 5 sh -c "[ \$(wc -l < '$set/procs') = 3 ]" || fail "entering the set did not add a member"
    assert_eq "$(sets_in "$MNT/vs" | wc -l)" 1 "still one set"
    assert_eq "$(awk '/^processes:/ { print $2 }' "$set/status")" 3 "processes in status"
    # it leaves with its last process
    for p in $(cat "$set/procs"); do kill -9 "$p"; done
    wait_for 5 sh -c "[ -z \"\$(find '$MNT/vs' -maxdepth 1 -name 'unnamed*')\" ]" || fail "set still listed after its processes died"
    [ ! -e "$set" ] || fail "the set's directory is still there"
    check_consistency
}

test_a_quiet_container_still_shows_what_changed_at_the_next_ls() {
    new_mount
    mkdir "$MNT/q"
    local cg; cg=$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$MNT/q/status")
    "$NSCTL" exec "$MNT/q" -- sleep 600 </dev/null >/dev/null 2>&1 &
    wait_for 5 sh -c "[ \$(wc -l < '$cg/leaf/cgroup.procs') = 2 ]" || fail "the sleeper did not join q"
    # Looked at, then left alone past the second after which a look reads
    # every process again: a container that has not run is current
    # without one (its CPU time and its cgroup's listing unchanged).
    [ -z "$(sets_in "$MNT/q")" ] || fail "a set before any unshare"
    sleep 1.2
    [ -z "$(sets_in "$MNT/q")" ] || fail "a set after a quiet second"
    # A process of the host with a namespace of its own, moved in from
    # outside (q's CPU time does not change): seen within a second, when a
    # look reads q's cgroup listing again (as before a quiet second).
    unshare --uts sleep 600 &
    local mover=$!
    wait_for 5 sh -c "[ \"\$(readlink /proc/$mover/ns/uts)\" != \"\$(readlink /proc/self/ns/uts)\" ]" || fail "no unshare"
    echo "$mover" > "$cg/leaf/cgroup.procs"
    wait_for 3 sh -c "[ \$(find '$MNT/q' -maxdepth 1 -name 'unnamed*' | wc -l) = 1 ]" || fail "the process moved in is no set"
    kill -9 "$mover"
    wait_for 5 sh -c "[ -z \"\$(find '$MNT/q' -maxdepth 1 -name 'unnamed*')\" ]" || fail "its set outlived it"
    # Quiet again, then a process of q unshares (q runs): the next ls.
    sleep 1.2
    [ -z "$(sets_in "$MNT/q")" ] || fail "a set left"
    local m=$TEST_TMP/unshared
    start_in "$MNT/q" "$m" "exec unshare --ipc --fork sh -c 'touch $m; exec sleep 600'"
    assert_eq "$(sets_in "$MNT/q" | wc -l)" 1 "the unshare inside is a set at the next ls"
    check_consistency
}

test_sets_nest_as_they_were_made() {
    new_mount
    mkdir "$MNT/c"
    start_in "$MNT/c" "$TEST_TMP/a" "exec unshare --mount --fork sh -c 'touch $TEST_TMP/a; exec sleep 600'"
    local a; a=$(sets_in "$MNT/c")
    # unshare --net inside A: C/A/B
    start_in "$a" "$TEST_TMP/b" "exec unshare --net --fork sh -c 'touch $TEST_TMP/b; exec sleep 600'"
    # unshare --net elsewhere in C: a sibling of A
    start_in "$MNT/c" "$TEST_TMP/d" "exec unshare --net --fork sh -c 'touch $TEST_TMP/d; exec sleep 600'"
    local top; top=$(sets_in "$MNT/c")
    assert_eq "$(echo "$top" | wc -l)" 2 "two sets directly below c"
    assert_eq "$(sets_in "$a" | wc -l)" 1 "one set below A"
    local b; b=$(sets_in "$a")
    assert_eq "$(awk '/^owns:/ { $1 = ""; print }' "$b/status" | xargs)" net "B owns its net namespace only"
    assert_eq "$(awk '/^owns:/ { $1 = ""; print }' "$a/status" | xargs)" mnt "A owns its mount namespace"
    local d; d=$(echo "$top" | grep -vx "$a")
    assert_eq "$(awk '/^owns:/ { $1 = ""; print }' "$d/status" | xargs)" net "the sibling owns net"
    # pid namespaces: the kernel's ancestry decides. `unshare --pid --fork
    # --mount-proc` is two sets: unshare itself (a new mount namespace; the
    # pid namespace is only its children's) and, below it, its child.
    start_in "$MNT/c" "$TEST_TMP/p" "exec unshare --pid --fork --mount-proc sh -c 'touch $TEST_TMP/p; exec sleep 600'"
    local u; u=$(sets_in "$MNT/c" | grep -vx "$a" | grep -vx "$d")
    assert_eq "$(awk '/^owns:/ { $1 = ""; print }' "$u/status" | xargs)" mnt "unshare's own set"
    local p; p=$(sets_in "$u")
    assert_eq "$(awk '/^owns:/ { $1 = ""; print }' "$p/status" | xargs)" pid "its child's set owns the pid namespace"
    start_in "$p" "$TEST_TMP/q" "exec unshare --uts --fork sh -c 'touch $TEST_TMP/q; exec sleep 600'"
    assert_eq "$(sets_in "$p" | wc -l)" 1 "a set made in a pid-namespace set is its child"
    assert_eq "$(awk '/^owns:/ { $1 = ""; print }' "$(sets_in "$p")/status" | xargs)" uts "owns uts"
    # what nsctl, find and tar show
    grep -q "${b##*/}" <<<"$("$NSCTL" tree "$MNT")" || fail "nsctl tree does not show ${b##*/}"
    grep -q "/c/${a##*/}/${b##*/} " <<<"$("$NSCTL" ps "$MNT")" || fail "nsctl ps does not show B's processes"
    grep -q . <<<"$(find "$MNT" -name "${b##*/}")" || fail "find does not see B"
    tar -C "$MNT" -cf "$TEST_TMP/c.tar" c 2>/dev/null || true
    grep -q "c/${a##*/}/${b##*/}/status" <<<"$(tar -tf "$TEST_TMP/c.tar")" || fail "tar has no B/status"
    # st_nlink: 2 + ns/ + each child directory (a set's ns is a link)
    assert_eq "$(stat -c %h "$MNT/c")" $((3 + 3)) "st_nlink of c with three sets directly below"
    assert_eq "$(stat -c %h "$a")" 3 "st_nlink of A with one set"
    check_consistency
}

test_set_names_are_reserved_and_stable_across_restarts() {
    new_mount
    mkdir "$MNT/vs" "$MNT/vs/x"
    assert_errno "File exists" mkdir "$MNT/vs/unnamed12"
    # (GNU mv words EEXIST for a name that is not there as "cannot overwrite")
    assert_errno "File exists" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/vs/x" "$MNT/vs/unnamed7"
    assert_errno "File exists" mkdir "$MNT/unnamed1"
    mkdir "$MNT/vs/unnamed"      # no digits: an ordinary name
    mkdir "$MNT/vs/unnamed1x"
    start_in "$MNT/vs" "$TEST_TMP/s" "exec unshare --ipc --fork sh -c 'touch $TEST_TMP/s; exec sleep 600'"
    local before; before=$(sets_in "$MNT/vs")
    assert_errno "File exists" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/vs/x" "$before"
    assert_errno "Operation not permitted" mkdir "$before/child"
    crash_and_remount
    assert_eq "$(sets_in "$MNT/vs")" "$before" "the same name after a daemon SIGKILL and a new mount"
    remount
    assert_eq "$(sets_in "$MNT/vs")" "$before" "the same name after umount and mount"
    check_consistency
}

test_a_sets_control_entries() {
    new_mount
    mkdir "$MNT/vs"
    start_in "$MNT/vs" "$TEST_TMP/m" "exec unshare --mount --fork sh -c 'touch $TEST_TMP/m; exec sleep 600'"
    start_in "$MNT/vs" "$TEST_TMP/u" "exec unshare --uts --fork sh -c 'hostname inner; touch $TEST_TMP/u; exec sleep 600'"
    local m u
    for s in $(sets_in "$MNT/vs"); do
        if grep -qx 'owns: uts' "$s/status"; then u=$s; else m=$s; fi
    done
    [ -n "$m" ] && [ -n "$u" ] || fail "two sets expected"
    grep -qx 'kind: set' "$m/status" || fail "kind: set"
    grep -qx 'shares: cgroup ipc net pid time user uts' "$m/status" || fail "shares line: $(grep shares "$m/status")"
    grep -qx "cgroup: $(awk '/^cgroup:/ { print $2 }' "$MNT/vs/status")" "$m/status" || fail "a set is in its container's cgroup"
    # ns/* resolve, in the reader's pid namespace, to a member's namespaces
    local member; member=$(tail -1 "$m/procs")
    assert_eq "$(stat -L -c %i "$m/ns/mnt")" "$(ns_inode "$member" mnt)" "ns/mnt is the set's"
    assert_eq "$(stat -L -c %i "$m/ns/net")" "$(stat -L -c %i "$MNT/vs/ns/net")" "ns/net is shared with vs"
    nsenter --mount="$m/ns/mnt" true || fail "nsenter cannot use ns/mnt"
    # a set's ns is one link, to a member's /proc/PID/ns: it pins nothing
    [ -L "$m/ns" ] || fail "a set's ns is not a link: $(ls -ld "$m/ns")"
    local linked; linked=$(readlink "$m/ns" | sed -n 's,^/proc/\([0-9]*\)/ns$,\1,p')
    [ -n "$linked" ] && grep -qx "$linked" "$m/procs" || fail "ns -> $(readlink "$m/ns"), not a member's"
    # hostname: writable only where the set owns its UTS namespace
    assert_eq "$(cat "$u/hostname")" inner "the set's own hostname"
    echo renamed > "$u/hostname"
    assert_eq "$(nsenter -t "$(tail -1 "$u/procs")" -u hostname)" renamed "written into the set's UTS namespace"
    assert_errno "Operation not permitted" bash -c "echo nope > '$m/hostname'"
    assert_eq "$(cat "$MNT/vs/hostname")" vs "vs's hostname untouched"
    # freeze: its container's state; writing it needs a name
    assert_eq "$(cat "$m/freeze")" 0 "not frozen"
    assert_errno "Operation not permitted" bash -c "echo 1 > '$m/freeze'"
    echo 1 > "$MNT/vs/freeze"
    wait_for 5 grep -qx 1 "$m/freeze" || fail "not frozen with its container"
    grep -qx 'state: frozen' "$m/status" || fail "state: frozen"
    echo 0 > "$MNT/vs/freeze"
    # in a container's pid namespace the pids are that namespace's
    local inside; inside=$("$NSCTL" exec "$MNT/vs" -- cat "$MNT/${m##*/}/procs" | tail -1)
    assert_eq "$inside" "$(awk '/^NSpid:/ { print $3 }' "/proc/$member/status")" "procs inside vs"
    check_consistency
}

test_mv_names_a_set_and_it_becomes_a_container() {
    new_mount
    mkdir -p "$MNT/vs" "$MNT/other"
    # a set whose processes fork all the time while it is named
    start_in "$MNT/vs" "$TEST_TMP/f" "exec unshare --mount --fork sh -c 'touch $TEST_TMP/f; while :; do sleep 0.001 & wait; done'"
    start_in "$MNT/vs" "$TEST_TMP/n" "exec unshare --net --fork sh -c 'touch $TEST_TMP/n; exec sleep 600'"
    local s; s=$(grep -lx 'owns: mnt' $(sets_in "$MNT/vs" | sed 's|$|/status|') | xargs dirname)
    local mnt; mnt=$(awk -F'[][]' '/^ns-mnt:/ { print $2 }' "$s/status")
    local ino; ino=$(stat -c %i "$s")
    assert_errno "Operation not permitted" mv "$s" "$MNT/other/priv"
    # not in a container someone froze (its init would be born frozen)
    echo 1 > "$MNT/vs/freeze"
    assert_errno "busy" mv "$s" "$MNT/vs/priv"
    echo 0 > "$MNT/vs/freeze"
    wait_for 5 grep -qx 0 "$MNT/vs/freeze"
    mv "$s" "$MNT/vs/priv"
    grep -qx 'kind: container' "$MNT/vs/priv/status" || fail "kind: container"
    assert_eq "$(stat -c %i "$MNT/vs/priv")" "$ino" "the inode number stays"
    assert_eq "$(awk -F'[][]' '/^ns-mnt:/ { print $2 }' "$MNT/vs/priv/status")" "$mnt" "the same mount namespace"
    local cg; cg=$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$MNT/vs/priv/status")
    local vscg; vscg=$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$MNT/vs/status")
    [ "$(dirname "$cg")" = "$vscg" ] || fail "priv's cgroup $cg is not below vs's"
    # every process of the set moved, none left in vs's cgroup, even while forking
    sleep 0.2
    for p in $(cat "$vscg/leaf/cgroup.procs"); do
        [ "$(ns_inode "$p" mnt 2>/dev/null)" != "$mnt" ] || fail "process $p of the set is still in vs's cgroup"
    done
    [ "$(wc -l < "$cg/leaf/cgroup.procs")" -ge 3 ] || fail "priv's cgroup has $(wc -l < "$cg/leaf/cgroup.procs") processes"
    # its namespaces are pinned: they outlive its processes
    local pin; pin=$(init_pid "$MNT/vs/priv")
    for p in $(cat "$cg/leaf/cgroup.procs"); do [ "$p" = "$pin" ] || kill -9 "$p" 2>/dev/null || true; done
    sleep 0.3
    [ -d "$MNT/vs/priv" ] || fail "priv vanished with its processes"
    assert_eq "$(stat -L -c %i "$MNT/vs/priv/ns/mnt")" "$mnt" "the mount namespace lives on"
    # recorded: survives a daemon SIGKILL and a new mount
    crash_and_remount
    [ -d "$MNT/vs/priv" ] || fail "priv lost by a daemon crash"
    assert_eq "$(init_pid "$MNT/vs/priv")" "$pin" "the same init"
    check_consistency
    rm -rf "$MNT/vs/priv"
    [ ! -d "$cg" ] || fail "priv's cgroup left behind"
    # dead: gone, or for a moment exiting or a zombie (its parent, vs's
    # init, reaps it): the cgroup empties as its tasks leave it, in do_exit
    ! is_running "$pin" || fail "priv's init survived rm -rf"
    [ -d "$MNT/vs" ] || fail "vs went with priv"
    check_consistency
}

test_mv_of_a_nested_set_needs_its_parent_named_first() {
    new_mount
    mkdir "$MNT/c"
    start_in "$MNT/c" "$TEST_TMP/a" "exec unshare --mount --fork sh -c 'touch $TEST_TMP/a; exec sleep 600'"
    local a; a=$(sets_in "$MNT/c")
    start_in "$a" "$TEST_TMP/b" "exec unshare --net --fork sh -c 'touch $TEST_TMP/b; exec sleep 600'"
    local b; b=$(sets_in "$a")
    assert_errno "Operation not permitted" mv "$b" "$a/bee"
    assert_errno "Operation not permitted" mv "$b" "$MNT/c/bee"
    mv "$a" "$MNT/c/a"
    # B followed its parent into the new container's cgroup: still its child
    assert_eq "$(sets_in "$MNT/c/a" | wc -l)" 1 "B below the named a"
    mv "$(sets_in "$MNT/c/a")" "$MNT/c/a/b"
    grep -qx 'owns: net' "$MNT/c/a/b/status" || fail "b owns net: $(grep owns "$MNT/c/a/b/status")"
    check_consistency
}

test_rm_rf_of_a_set_kills_exactly_it_and_what_is_below() {
    new_mount
    mkdir "$MNT/vs"
    local keep; keep=$(init_pid "$MNT/vs")
    "$NSCTL" exec "$MNT/vs" -- sleep 600 </dev/null >/dev/null 2>&1 &
    start_in "$MNT/vs" "$TEST_TMP/o" "exec unshare --uts --fork sh -c 'touch $TEST_TMP/o; exec sleep 600'"
    local other; other=$(sets_in "$MNT/vs")
    start_in "$MNT/vs" "$TEST_TMP/k" "exec unshare --mount --fork sh -c 'touch $TEST_TMP/k; while :; do sleep 0.001 & wait; done'"
    local victim; victim=$(sets_in "$MNT/vs" | grep -vx "$other")
    start_in "$victim" "$TEST_TMP/kb" "exec unshare --net --fork sh -c 'touch $TEST_TMP/kb; while :; do sleep 0.001 & wait; done'"
    local mnt; mnt=$(awk -F'[][]' '/^ns-mnt:/ { print $2 }' "$victim/status")
    local own_before; own_before=$(cat "$MNT/vs/procs")
    local other_before; other_before=$(cat "$other/procs")
    rm -rf "$victim"
    [ ! -e "$victim" ] || fail "the set is still listed"
    local vscg; vscg=$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$MNT/vs/status")
    for p in $(cat "$vscg/leaf/cgroup.procs"); do
        [ "$(ns_inode "$p" mnt 2>/dev/null)" != "$mnt" ] || fail "process $p of the killed set lives on"
    done
    assert_eq "$(cat "$MNT/vs/procs")" "$own_before" "vs's own processes live on"
    assert_eq "$(cat "$other/procs")" "$other_before" "the other set lives on"
    kill -0 "$keep" || fail "vs's init died"
    # no cgroup left below vs
    assert_eq "$(find "$vscg" -mindepth 1 -type d ! -path "$vscg/leaf" | wc -l)" 0 "cgroups left below vs"
    # the whole container, sets and all
    rm -rf "$MNT/vs"
    [ ! -d "$vscg" ] || fail "vs's cgroup left"
    check_consistency
}

test_inside_a_container_its_sets_are_its_children() {
    new_mount
    mkdir "$MNT/vs"
    view_ready "$MNT/vs"
    start_in "$MNT/vs" "$TEST_TMP/s" "exec unshare --mount --fork sh -c 'touch $TEST_TMP/s; exec sleep 600'"
    local s; s=$(sets_in "$MNT/vs")
    local name=${s##*/}
    grep -qx "$name" <<<"$("$NSCTL" exec "$MNT/vs" -- ls "$MNT")" || fail "vs does not see its set"
    # a member of the set sees vs's view: it never left vs
    grep -qx "$name" <<<"$("$NSCTL" exec "$s" -- ls "$MNT")" || fail "the set's member does not see vs's view"
    assert_eq "$("$NSCTL" exec "$s" -- awk '/^path:/ { print $2 }' "$MNT/status")" / "the member's root is vs"
    # and manages it like vs's other children
    start_in "$MNT/vs" "$TEST_TMP/t" "exec unshare --ipc --fork sh -c 'touch $TEST_TMP/t; exec sleep 600'"
    local t; t=$(sets_in "$MNT/vs" | grep -vx "$s")
    "$NSCTL" exec "$MNT/vs" -- mv "$MNT/${t##*/}" "$MNT/named"
    [ -d "$MNT/vs/named" ] || fail "mv inside vs did not name the set"
    "$NSCTL" exec "$MNT/vs" -- rm -rf "$MNT/$name"
    [ ! -e "$s" ] || fail "rm -rf inside vs did not kill the set"
    # the named set shares vs's mount namespace: after a new mount, vs's
    # view is attached there again, never the named set's
    remount
    view_ready "$MNT/vs"
    sleep 0.5
    assert_eq "$("$NSCTL" exec "$MNT/vs" -- awk '/^path:/ { print $2 }' "$MNT/status")" / "vs's view after a remount"
    grep -qx named <<<"$("$NSCTL" exec "$MNT/vs" -- ls "$MNT")" || fail "vs's view lost its child"
    check_consistency
}

# The idea's own example (seed 004): a login into vs that unshares its mount
# namespace for a private /tmp becomes vs/unnamed<N>; it is named, survives
# a daemon crash, and is killed alone.
test_the_seeds_login_with_a_private_tmp() {
    new_mount
    mkdir "$MNT/vs"
    local m=$TEST_TMP/login
    # (the marker is written through the working directory: /tmp is covered)
    start_in "$MNT/vs" "$m" "cd $TEST_TMP && exec unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs /tmp && echo mine > /tmp/private && touch ./login && exec sleep 600'"
    [ ! -e /tmp/private ] || fail "the private /tmp leaked to the host"
    local s; s=$(sets_in "$MNT/vs")
    assert_eq "$(echo "$s" | wc -l)" 1 "the login is one set"
    local login; login=$(cat "$s/procs")
    assert_eq "$(nsenter -t "$login" -m cat /tmp/private)" mine "the login's /tmp"
    mv "$s" "$MNT/vs/privhome"
    crash_and_remount
    [ -d "$MNT/vs/privhome" ] || fail "privhome lost by the crash"
    grep -qx "$login" "$MNT/vs/privhome/procs" || fail "the login is not privhome's: $(cat "$MNT/vs/privhome/procs")"
    local vsinit; vsinit=$(init_pid "$MNT/vs")
    rm -rf "$MNT/vs/privhome"
    wait_for 2 sh -c "! kill -0 $login 2>/dev/null" || fail "the login survived"
    kill -0 "$vsinit" || fail "vs died with privhome"
    rm -rf "$MNT/vs"
    check_consistency
}

test_the_hosts_sets_appear_at_the_root_with_discover_host() {
    new_mount
    rm -f "$TEST_TMP/h"
    unshare --net --fork sh -c "touch $TEST_TMP/h; exec sleep 600" &
    local unshare=$!
    wait_for 5 test -e "$TEST_TMP/h"
    local sleeper; sleeper=$(pgrep -P "$unshare")
    # off by default
    assert_eq "$(sets_in "$MNT" | wc -l)" 0 "no host set without -o discover=host"
    umount "$MNT"
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG,discover=host"
    local s; s=$(grep -lx "$sleeper" $(sets_in "$MNT" | sed 's|$|/procs|') | xargs dirname)
    [ -n "$s" ] || fail "the host's unshare --net is not at the root"
    grep -qx 'owns: net' "$s/status" || fail "owns: $(grep owns "$s/status")"
    assert_eq "$(stat -L -c %i "$s/ns/net")" "$(ns_inode "$sleeper" net)" "ns/net is its own"
    local cgroup_before; cgroup_before=$(cat "/proc/$sleeper/cgroup")
    # not the tree's to kill or change
    assert_errno "Operation not permitted" rmdir "$s"
    rm -rf "$s" 2>/dev/null || true
    kill -0 "$sleeper" || fail "rm -rf killed a host process"
    assert_errno "Operation not permitted" bash -c "echo x > '$s/hostname'"
    assert_errno "Operation not permitted" bash -c "echo 1 > '$s/freeze'"
    # mv names it, moves nothing; the name lasts while it lives, restarts too
    mv "$s" "$MNT/hostnet"
    grep -qx "$sleeper" "$MNT/hostnet/procs" || fail "hostnet lost its process"
    assert_eq "$(cat "/proc/$sleeper/cgroup")" "$cgroup_before" "its cgroup is unchanged"
    remount_with "discover=host"
    [ -d "$MNT/hostnet" ] || fail "the name did not survive a new mount"
    kill "$unshare" "$sleeper"
    wait_for 5 sh -c "[ ! -e '$MNT/hostnet' ]" || fail "hostnet outlived its processes"
    check_consistency
}

# A daemon killed in the middle of naming a set: the next mount finishes it
# (the set's processes moved, its container thawed), never loses a process.
crash_while_naming() {
    local step=$1
    new_mount "crash_at=$step,hold=0"
    mkdir "$MNT/vs"
    start_in "$MNT/vs" "$TEST_TMP/n" "exec unshare --mount --fork sh -c 'touch $TEST_TMP/n; while :; do sleep 0.001 & wait; done'"
    local s; s=$(sets_in "$MNT/vs")
    local mnt; mnt=$(awk -F'[][]' '/^ns-mnt:/ { print $2 }' "$s/status")
    local vscg; vscg=$CGROUP2$(awk '/^cgroup:/ { print $2 }' "$MNT/vs/status")
    ! mv "$s" "$MNT/vs/priv" 2>"$TEST_TMP/mv.err" || fail "mv survived crash_at=$step"
    crash_and_remount
    grep -q "naming was interrupted" "$TEST_TMP/adopt.log" || fail "no line about the interrupted naming: $(cat "$TEST_TMP/adopt.log") (mv said: $(cat "$TEST_TMP/mv.err"))"
    [ -d "$MNT/vs/priv" ] || fail "priv missing after the crash at $step"
    assert_eq "$(cat "$MNT/vs/freeze")" 0 "vs thawed"
    assert_eq "$(sets_in "$MNT/vs" | wc -l)" 0 "nothing of the set left in vs"
    for p in $(cat "$vscg/leaf/cgroup.procs"); do
        [ "$(ns_inode "$p" mnt 2>/dev/null)" != "$mnt" ] || fail "process $p of the set is still in vs's cgroup"
    done
    [ "$(wc -l < "$MNT/vs/priv/procs")" -ge 2 ] || fail "priv has $(wc -l < "$MNT/vs/priv/procs") processes"
    rm -rf "$TEST_TMP/dump"; mkdir "$TEST_TMP/dump"; dump_records "$TEST_TMP/dump"
    local id; id=$(awk '/^id:/ { print $2 }' "$MNT/vs/priv/status")
    grep -q '^origin: set' "$TEST_TMP/dump/$id" || fail "no record of priv"
    ! grep -q '^moving\|^thaw-parent' "$TEST_TMP/dump/$id" || fail "priv's record still says in progress"
    check_consistency
}

test_a_crash_after_the_named_set_is_recorded_is_finished_at_the_next_mount() { crash_while_naming name-recorded; }
test_a_crash_after_the_named_sets_processes_moved_is_finished_at_the_next_mount() { crash_while_naming name-moved; }
