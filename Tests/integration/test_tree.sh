# The tree: mkdir makes real containers, rmdir/rm -rf kill them, mv renames.
# shellcheck shell=bash

test_mkdir_creates_a_running_container() {
    new_mount
    mkdir "$MNT/a"
    local p; p=$(init_pid "$MNT/a")
    [ -n "$p" ] && kill -0 "$p" || fail "no running init"
    # pid 1 of a new pid namespace
    assert_eq "$(awk '/^NSpid:/ { print $NF }' /proc/$p/status)" 1 "pid in its own namespace"
    local ns
    for ns in mnt uts ipc net pid cgroup time; do
        assert_ne "$(readlink /proc/$p/ns/$ns)" "$(readlink /proc/$(daemon_pid)/ns/$ns)" "$ns namespace shared with the daemon"
    done
    # its own fresh cgroup below the mount's cgroup root
    local cg; cg=$(awk -F: '$1 == "0" { print $3 }' /proc/$p/cgroup)
    case $cg in "$CG"/ns-*) ;; *) fail "cgroup $cg not below $CG" ;; esac
    assert_eq "$(nsenter -t "$p" -u hostname)" a "hostname"
    nsenter -t "$p" -n ip -br link show lo | matches UP || fail "loopback not up"
    # a /proc for its own pid namespace, in its mount namespace
    assert_eq "$(nsenter -t "$p" -m stat -L -c %i /proc/1/ns/pid)" "$(stat -L -c %i /proc/$p/ns/pid)" "/proc inside"
    # tiny: no libc, no Swift
    local rss; rss=$(awk '/^VmRSS:/ { print $2 }' /proc/$p/status)
    [ "$rss" -le 100 ] || fail "init RSS ${rss} kB > 100 kB"
}

test_init_reaps_orphans() {
    new_mount
    mkdir "$MNT/a"
    local p; p=$(init_pid "$MNT/a")
    # The inner sh exits at once; its sleep becomes the init's child, then dies.
    nsenter -t "$p" -a sh -c 'sh -c "sleep 0.2 &"; sleep 0.6'
    sleep 0.2
    local zombies; zombies=$(ps -o stat= --ppid "$p" | grep -c Z || true)
    assert_eq "$zombies" 0 "zombies under the init"
}

test_nesting_is_real() {
    new_mount
    mkdir -p "$MNT/a/b/c"
    local a b c
    a=$(init_pid "$MNT/a"); b=$(init_pid "$MNT/a/b"); c=$(init_pid "$MNT/a/b/c")
    # c's init has a pid at each level: host, a, b, c
    assert_eq "$(awk '/^NSpid:/ { print NF - 1 }' /proc/$c/status)" 4 "pid namespace levels of c"
    # a's init sees b's and c's processes (in a's own /proc)
    assert_eq "$(nsenter -t "$a" -m -p ps -e -o comm= | grep -c namespacefs-ini)" 3 "inits visible from a"
    local cga cgb
    cga=$(awk -F: '$1 == "0" { print $3 }' /proc/$a/cgroup); cgb=$(awk -F: '$1 == "0" { print $3 }' /proc/$b/cgroup)
    # each in its container's leaf; b's container cgroup beside a's leaf
    case $cgb in "${cga%/leaf}"/ns-*/leaf) ;; *) fail "b's cgroup $cgb is not below a's $cga" ;; esac
    assert_eq "$(nsenter -t "$b" -u hostname)" b "hostname of b"
}

test_nesting_stops_cleanly_at_the_kernel_limit() {
    new_mount
    local path=$MNT depth=0
    while mkdir "$path/n" 2>"$TEST_TMP/err"; do
        path=$path/n; depth=$((depth + 1))
        [ $depth -le 40 ] || fail "no limit reached"
    done
    # The host is pid level 0; the kernel allows 32 nested levels.
    assert_eq "$depth" 32 "nesting depth reached"
    grep -q "No space left on device" "$TEST_TMP/err" || fail "unexpected error: $(cat "$TEST_TMP/err")"
    assert_eq "$(find "$CGDIR" -type d -name 'ns-*' | wc -l)" 32 "cgroups after the failed mkdir"
    assert_eq "$(record_count)" 32 "records after the failed mkdir"
    rm -rf "$MNT/n"
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d | wc -l)" 0 "cgroups after rm -rf"
}

test_rmdir_kills_and_removes_everything() {
    new_mount
    mkdir -p "$MNT/a/b"
    local b cgb pids
    b=$(init_pid "$MNT/a/b")
    cgb=$(cgroup_dir_of "$b")
    in_container "$MNT/a/b" sh -c 'sleep 1000 & sleep 1000 & exec sleep 1000' &
    wait_for 5 sh -c "[ \$(wc -l < $cgb/cgroup.procs) -ge 4 ]"
    pids=$(cat "$cgb/cgroup.procs")
    assert_errno "Directory not empty" rmdir "$MNT/a"
    kill -0 "$(init_pid "$MNT/a")" || fail "ENOTEMPTY killed something"
    rmdir "$MNT/a/b"
    # Returned only when none is left.
    local p
    # Returned only when none is left in the cgroup (rmdir of a populated
    # cgroup is refused by the kernel); the last ones may still be finishing
    # do_exit for a few microseconds after leaving it.
    all_dead() { local q; for q in $pids; do is_running "$q" && return 1; done; return 0; }
    wait_for 1 all_dead || fail "processes survived rmdir"
    [ ! -d "$cgb" ] || fail "cgroup left behind"
    [ ! -e "$MNT/a/b" ] || fail "directory still there"
    assert_eq "$(record_count)" 1 "records"
    wait
}

test_rm_rf_while_processes_fork() {
    new_mount
    mkdir -p "$MNT/a/b/c" "$MNT/a/d"
    local cgc; cgc=$(cgroup_dir_of "$(init_pid "$MNT/a/b/c")")
    in_container "$MNT/a/b/c" sh -c 'while :; do (sleep 0.01 &); done' 2>/dev/null &
    wait_for 5 sh -c "[ \$(wc -l < $cgc/cgroup.procs) -ge 3 ]"
    local rc=0
    rm -rf "$MNT/a" || rc=$?
    assert_eq "$rc" 0 "rm -rf exit status"
    [ ! -e "$MNT/a" ] || fail "a still listed"
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d | wc -l)" 0 "cgroups left"
    assert_eq "$(record_count)" 0 "records left"
    wait
}

test_mv_renames_without_touching() {
    new_mount
    mkdir -p "$MNT/a/b" "$MNT/c"
    local a ino netns
    a=$(init_pid "$MNT/a"); ino=$(stat -c %i "$MNT/a"); netns=$(readlink /proc/$a/ns/net)
    mv "$MNT/a" "$MNT/x"
    assert_eq "$(init_pid "$MNT/x")" "$a" "same init"
    assert_eq "$(stat -c %i "$MNT/x")" "$ino" "same inode"
    assert_eq "$(readlink /proc/$a/ns/net)" "$netns" "same namespaces"
    [ -d "$MNT/x/b" ] && [ ! -e "$MNT/a" ] || fail "rename not visible"
    grep -q "^path: /x/b$" "$MNT/x/b/status" || fail "path in status not updated"
    # onto an existing name: refused, both untouched
    assert_errno "File exists" mv -T "$MNT/c" "$MNT/x"
    assert_errno "File exists" mv -T "$MNT/c" "$MNT/x/b/../../x"
    # onto the filesystem's own entries (rename(2) directly: mv refuses
    # a directory onto a file itself, and so does the kernel, ENOTDIR)
    assert_errno "File exists" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/c" "$MNT/ns"
    assert_errno "Not a directory" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/c" "$MNT/status"
    assert_eq "$(init_pid "$MNT/x")" "$a" "target untouched"
    [ -d "$MNT/c" ] || fail "source lost"
    # to another parent: never EXDEV (mv would copy and delete); refused for now
    assert_errno "Operation not permitted" mv "$MNT/x/b" "$MNT/b"
    # (mv words EINVAL as "subdirectory of itself": ask rename(2) directly)
    assert_errno "Invalid argument" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$MNT/c" "$MNT/bad
name"
    [ -d "$MNT/x/b" ] && [ -d "$MNT/c" ] || fail "refused moves changed something"
}

test_bad_names_are_refused() {
    new_mount
    mkdir "$MNT/a"
    assert_errno "Invalid argument" mkdir "$MNT/new
line"
    assert_errno "Invalid argument" mkdir "$MNT/$(printf 'tab\there')"
    assert_errno "Invalid argument" mkdir -- "$MNT/-leading"
    assert_errno "Invalid argument" mkdir "$MNT/$(printf 'bad\377utf8')"
    assert_errno "File name too long" mkdir "$MNT/$(printf 'n%.0s' $(seq 256))"
    local e
    for e in ns status procs hostname freeze a; do assert_errno "File exists" mkdir "$MNT/$e"; done
    assert_errno "File exists" mkdir "$MNT/a/status"
    mkdir "$MNT/$(printf 'n%.0s' $(seq 255))"
    mkdir "$MNT/with space and ünïcode"
    assert_eq "$(find "$MNT" -mindepth 1 -maxdepth 1 -type d ! -name ns | wc -l)" 3 "containers"
    assert_eq "$(record_count)" 3 "records"
}

test_listing_links_inodes_and_times() {
    new_mount
    mkdir -p "$MNT/a/b/c" "$MNT/a/d" "$MNT/e"
    local d sub
    # st_nlink = 2 + subdirectories, everywhere
    while read -r d; do
        sub=$(find "$d" -mindepth 1 -maxdepth 1 -type d | wc -l)
        assert_eq "$(stat -c %h "$d")" $((2 + sub)) "st_nlink of $d"
    done < <(find "$MNT" -type d)
    # unique inode numbers
    assert_eq "$(find "$MNT" -printf '%i\n' | sort | uniq -d | wc -l)" 0 "duplicate inodes"
    # find sees every container at every depth (find relies on st_nlink)
    assert_eq "$(find "$MNT" -type d ! -name ns ! -path "$MNT" | wc -l)" 5 "containers found"
    tree "$MNT" >/dev/null
    ls -lR "$MNT" >/dev/null
    assert_eq "$(stat -c %U "$MNT/a/b")" root "owner"
    local now t; now=$(date +%s); t=$(stat -c %Y "$MNT/a/b")
    [ $((now - t)) -ge 0 ] && [ $((now - t)) -lt 60 ] || fail "mtime $t is not the creation time (now $now)"
    du -s "$MNT" >/dev/null
}

# Inits and the daemon's helpers are born sharing its descriptor table and
# take a copy of a few low slots: what a container's init ends up holding
# is /dev/null on 0-2 and nothing else, whichever way it was made (top
# level, nested, a delegated user's, whose user namespace's placeholder is
# made another way).
test_inits_hold_nothing_of_the_daemons() {
    new_mount
    mkdir -p "$MNT/a/b" "$MNT/alice"
    chown 1000:1000 "$MNT/alice"
    setpriv --reuid=1000 --regid=1000 --clear-groups mkdir "$MNT/alice/x" || fail "mkdir as a delegated user"
    local c p
    for c in a a/b alice/x; do
        p=$(init_pid "$MNT/$c")
        assert_eq "$(ls -l "/proc/$p/fd" | tail -n +2 | awk '{ print $(NF - 2), $NF }' | tr '\n' ' ')" \
            "0 /dev/null 1 /dev/null 2 /dev/null " "$c's init's descriptors"
    done
    rm -rf "$MNT/a" "$MNT/alice"
}
