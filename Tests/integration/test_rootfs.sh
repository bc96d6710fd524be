# A system of its own (issue 24): a root filesystem per container, an
# overlay on an image, idmapped; what a process inside sees.

# A tiny root from Debian's busybox-static, made once per run, and a
# storage directory per test.
image_dir() {
    local img=/run/nsfs-test-$$-image
    if [ ! -x "$img/bin/busybox" ]; then
        rm -rf "$img"
        mkdir -p "$img/bin" "$img/etc" "$img/root" "$img/proc" "$img/sys" "$img/dev" "$img/tmp"
        cp "$(command -v busybox)" "$img/bin/busybox"
        local a
        for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$img/bin/$a"; done
        echo 'root:x:0:0:root:/root:/bin/sh' > "$img/etc/passwd"
        echo 'root:x:0:' > "$img/etc/group"
        echo nsfs-test-image > "$img/etc/hostname"
    fi
    echo "$img"
}
storage_dir() { echo "/run/nsfs-test-$$-storage-$N"; }
# The storage of the mount new_mount makes next.
next_storage() { echo "/run/nsfs-test-$$-storage-$(( $(cat "$TEST_TMP/counter" 2>/dev/null || echo 0) + 1 ))"; }
# inside DIR CMD: CMD (a shell line) in the container, as its root.
inside() { in_container "$1" /bin/sh -c "$2" </dev/null; }

test_root_entry_gives_a_container_a_system_of_its_own() {
    local img; img=$(image_dir)
    new_mount "storage=$(next_storage)"
    local st; st=$(storage_dir)
    mkdir "$MNT/web"
    assert_eq "$(cat "$MNT/web/root")" "" "root before it is given"
    assert_eq "$(stat -c %a "$MNT/web/root")" 644 "root's mode"
    echo "$img" > "$MNT/web/root"
    assert_eq "$(cat "$MNT/web/root")" "$img" "root read back"
    # its files are the image's; the host's are out of reach
    local secret=/run/nsfs-test-$$-secret; echo host > "$secret"
    assert_eq "$(inside "$MNT/web" 'cat /etc/hostname')" nsfs-test-image "the image's /etc/hostname"
    inside "$MNT/web" "test ! -e $secret && test ! -e $NSFS_BIN" || fail "a host file is visible inside"
    # owned by root inside (the image is the host root's), and root may chown
    assert_eq "$(inside "$MNT/web" 'stat -c %u:%g /bin/busybox /etc')" "0:0
0:0" "owner of the image's files inside"
    inside "$MNT/web" 'echo changed > /root/f && chown 1000:1000 /root/f && echo x >> /etc/passwd' || fail "writing inside"
    assert_eq "$(inside "$MNT/web" 'stat -c %u:%g /root/f')" 1000:1000 "chown inside"
    # the image never changes; the change is the container's layer's
    [ ! -e "$img/root/f" ] || fail "the image changed"
    assert_eq "$(wc -l < "$img/etc/passwd")" 1 "the image's passwd"
    local id; id=$(awk '/^id:/ { print $2 }' "$MNT/web/status")
    assert_eq "$(stat -c %u:%g "$st/$id/layer/upper/root/f")" 1000:1000 "owner on disk (idmapped)"
    assert_eq "$(stat -c %a "$st" )" 700 "the storage's mode"
    # what a process sees: no host mount, a minimal /dev, /sys read-only
    local points; points=$(inside "$MNT/web" 'cat /proc/self/mountinfo' | awk '{ print $5 }' | sort | tr '\n' ' ')
    assert_eq "$points" "/ /dev /dev/mqueue /dev/pts /dev/shm /proc /sys /tmp $MNT " "mount points inside"
    assert_eq "$(inside "$MNT/web" 'ls /dev | tr "\n" " "')" "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero " "/dev"
    inside "$MNT/web" 'echo x > /dev/null && head -c 4 /dev/zero | wc -c | grep -qx 4' || fail "/dev/null, /dev/zero"
    inside "$MNT/web" 'touch /sys/x' 2>/dev/null && fail "/sys is writable"
    inside "$MNT/web" 'grep -q " /sys ro," /proc/self/mountinfo' || fail "/sys not read-only"
    # its /tmp is its own, and /proc hides nothing
    inside "$MNT/web" 'touch /tmp/mine' && [ ! -e /tmp/mine ] || fail "/tmp"
    assert_eq "$(inside "$MNT/web" 'umount -l /proc && ls -A /proc | wc -l')" 0 "what umount -l /proc uncovers"
    # the view of the tree, at the mount point's path, as before
    view_ready "$MNT/web"
    assert_eq "$(inside "$MNT/web" "awk '/^name:/ { print \$2 }' $MNT/status")" web "the view inside"
    rm -f "$secret"
}

test_root_is_refused_while_work_runs_and_for_bad_paths() {
    local img; img=$(image_dir)
    new_mount "storage=$(next_storage)"
    mkdir "$MNT/c"
    assert_errno "No such file or directory" bash -c "echo /nonexistent > $MNT/c/root"
    assert_errno "Not a directory" bash -c "echo $img/etc/passwd > $MNT/c/root"
    assert_errno "Invalid argument" bash -c "echo relative/path > $MNT/c/root"
    assert_errno "Invalid argument" bash -c "echo > $MNT/c/root"
    # the container itself never sets its own root (its parent's manager does)
    view_ready "$MNT/c"
    assert_errno "Permission denied" inside "$MNT/c" "echo $img > $MNT/root"
    assert_eq "$(cat "$MNT/c/root")" "" "root after the container's own try"
    # busy: a process besides its init, or a container below
    in_container "$MNT/c" sleep 600 </dev/null >/dev/null 2>&1 &
    wait_for 5 sh -c "[ \$(wc -w < $MNT/c/procs) -ge 2 ]" || fail "the sleeper did not start"
    assert_errno "Device or resource busy" bash -c "echo $img > $MNT/c/root"
    echo KILL > "$MNT/c/signal"
    wait_for 5 sh -c "[ \$(wc -w < $MNT/c/procs) = 1 ]" || fail "the sleeper is still there"
    mkdir "$MNT/c/below"
    assert_errno "Device or resource busy" bash -c "echo $img > $MNT/c/root"
    rmdir "$MNT/c/below"
    echo "$img" > "$MNT/c/root"
    assert_eq "$(cat "$MNT/c/root")" "$img" "root once idle"
    check_consistency
}

test_root_survives_mv_and_remount_and_goes_with_rm_rf() {
    local img; img=$(image_dir)
    new_mount "storage=$(next_storage)"
    local st; st=$(storage_dir)
    mkdir "$MNT/a"
    echo "$img" > "$MNT/a/root"
    inside "$MNT/a" 'echo kept > /root/note'
    local id; id=$(awk '/^id:/ { print $2 }' "$MNT/a/status")
    mv "$MNT/a" "$MNT/b"
    assert_eq "$(inside "$MNT/b" 'cat /root/note')" kept "after mv"
    remount
    assert_eq "$(cat "$MNT/b/root")" "$img" "root after a remount"
    assert_eq "$(inside "$MNT/b" 'cat /root/note')" kept "after a remount"
    [ -d "$st/$id/layer/upper" ] || fail "the layer is gone"
    rm -rf "$MNT/b"
    [ ! -e "$st/$id" ] || fail "rm -rf left the layer $st/$id"
}

test_mount_option_root_and_nested_containers() {
    local img; img=$(image_dir)
    # (hostfs=shared, as the other tests have it, would share the parent's
    # root writable with the nested container, as it does the host's)
    new_mount "root=$img,storage=$(next_storage),hostfs=private"
    mkdir "$MNT/sys1"
    assert_eq "$(cat "$MNT/sys1/root")" "$img" "root from -o root"
    assert_eq "$(inside "$MNT/sys1" 'cat /etc/hostname')" nsfs-test-image "mkdir alone gives a system"
    # a nested container sees its parent's files, read-only, until it has its own
    mkdir "$MNT/sys1/inner"
    assert_eq "$(cat "$MNT/sys1/inner/root")" "" "a nested container's root"
    assert_eq "$(inside "$MNT/sys1/inner" 'cat /etc/hostname')" nsfs-test-image "nested: the parent's files"
    inside "$MNT/sys1/inner" 'touch /x' 2>/dev/null && fail "nested: the parent's files are writable"
    echo "$img" > "$MNT/sys1/inner/root"
    inside "$MNT/sys1/inner" 'touch /x' || fail "nested with its own root: not writable"
    inside "$MNT/sys1" 'test ! -e /x' || fail "the nested container wrote its parent's root"
    rm -rf "$MNT/sys1"
    assert_eq "$(ls -A "$(storage_dir)" | wc -l)" 0 "layers left after rm -rf"
}

test_storage_directory_is_checked() {
    local bad=$TEST_TMP/storage-not-roots
    mkdir "$bad"; chown nobody "$bad"
    local out rc=0
    mkdir -p "$TEST_TMP/m-storage"
    out=$("$NSFS_BIN" "$TEST_TMP/m-storage" -o "state_dir=/run/nsfs-test-$$-st-storage,cgroup=$TEST_ROOT_CGROUP/st,storage=$bad" 2>&1) || rc=$?
    [ "$rc" != 0 ] || { umount "$TEST_TMP/m-storage"; fail "mounted with a storage directory nobody owns"; }
    grep -q "refusing the storage directory" <<<"$out" || fail "message: $out"
    out=$("$NSFS_BIN" "$TEST_TMP/m-storage" -o "storage=rel" 2>&1) && fail "a relative storage was taken"
    grep -q "storage must be an absolute path" <<<"$out" || fail "message: $out"
}

test_volumes_bind_host_directories_into_a_running_container() {
    local img; img=$(image_dir)
    new_mount "storage=$(next_storage)"
    mkdir "$MNT/web"
    echo "$img" > "$MNT/web/root"
    local vol=/run/nsfs-test-$$-vol; rm -rf "$vol"; mkdir -p "$vol/sub"
    echo data > "$vol/f"; chown 1000:1000 "$vol/f"
    inside "$MNT/web" 'mkdir -p /data /ro'
    echo "$vol /data" > "$MNT/web/mounts"
    echo "$vol/sub /ro ro" > "$MNT/web/mounts"
    assert_eq "$(cat "$MNT/web/mounts")" "$vol /data
$vol/sub /ro ro" "the volumes listed"
    # idmapped as the root: the host's ids inside, what root writes is root's on the host
    assert_eq "$(inside "$MNT/web" 'cat /data/f; stat -c %u /data/f')" "data
1000" "the volume inside"
    inside "$MNT/web" 'echo new > /data/made' || fail "writing the volume"
    assert_eq "$(stat -c %u:%g "$vol/made")" 0:0 "owner on the host of what root wrote"
    inside "$MNT/web" 'touch /ro/x' 2>/dev/null && fail "a read-only volume took a write"
    # a missing target is made (by root inside); refused: paths with .. or a
    # symbolic link, a target taken
    echo "$vol /made/here" > "$MNT/web/mounts"
    assert_eq "$(inside "$MNT/web" 'stat -c %u /made/here; cat /made/here/f')" "0
data" "a volume on a target made for it"
    echo "-/made/here" > "$MNT/web/mounts"
    assert_errno "Invalid argument" bash -c "echo '$vol/../x /data2' > $MNT/web/mounts"
    ln -s "$vol" "$vol-link"
    assert_errno "Too many levels of symbolic links" bash -c "echo '$vol-link /srv' > $MNT/web/mounts"
    inside "$MNT/web" 'ln -s /etc /lnk'
    assert_errno "Too many levels of symbolic links" bash -c "echo '$vol /lnk' > $MNT/web/mounts"
    assert_errno "File exists" bash -c "echo '$vol /data' > $MNT/web/mounts"
    assert_errno "Invalid argument" bash -c "echo 'just-one-word' > $MNT/web/mounts"
    # they survive a daemon restart; -TARGET removes one
    remount
    assert_eq "$(inside "$MNT/web" 'cat /data/made')" new "a volume after a remount"
    assert_eq "$(wc -l < "$MNT/web/mounts")" 2 "volumes listed after a remount"
    echo "-/data" > "$MNT/web/mounts"
    inside "$MNT/web" 'test ! -e /data/made' || fail "the volume is still mounted"
    assert_eq "$(cat "$MNT/web/mounts")" "$vol/sub /ro ro" "after -/data"
    assert_errno "No such file or directory" bash -c "echo '-/data' > $MNT/web/mounts"
    rm -rf "$MNT/web"
    [ -f "$vol/made" ] || fail "rm -rf removed a volume's files"
    rm -rf "$vol" "$vol-link"
}

# (The bridge a test made, none before it, goes with the test: claim_bridge.)
address_of() { awk '/^address:/ { sub("/.*", "", $2); print $2 }' "$1/status"; }

test_network_bridge_addresses_and_traffic() {
    local img; img=$(image_dir)
    new_mount "network=bridge,storage=$(next_storage)"
    mkdir "$MNT/a" "$MNT/b"
    mkdir "$MNT/a/inner"
    local a b inner; a=$(address_of "$MNT/a"); b=$(address_of "$MNT/b"); inner=$(address_of "$MNT/a/inner")
    [ -n "$a" ] && [ -n "$b" ] && [ -n "$inner" ] || fail "addresses: '$a' '$b' '$inner'"
    assert_eq "$(printf '%s\n' "$a" "$b" "$inner" | sort -u | wc -l)" 3 "three different addresses"
    assert_eq "$(awk '/^gateway:/ { print $2 }' "$MNT/a/status")" 10.88.0.1 "gateway"
    assert_eq "$(ip -4 -br addr show nsfs0 | awk '{ print $3 }')" 10.88.0.1/16 "the bridge's address"
    # eth0 inside, up, with the default route
    assert_eq "$(in_container "$MNT/a" ip -4 -br addr show eth0 2>/dev/null | awk '{ print $2 $3 }')" "UP$a/16" "eth0 inside"
    assert_eq "$(in_container "$MNT/a" ip route show default 2>/dev/null)" "default via 10.88.0.1 dev eth0 " "default route"
    # host -> container and container -> container: a real service in a
    # system of its own (busybox httpd)
    mkdir "$MNT/srv"
    local srv; srv=$(address_of "$MNT/srv")
    echo "$img" > "$MNT/srv/root"
    echo "$img" > "$MNT/b/root"
    inside "$MNT/srv" 'mkdir -p /srv/www && echo hello from srv > /srv/www/index.html && httpd -p 8080 -h /srv/www'
    wait_for 5 python3 -c "import urllib.request; urllib.request.urlopen('http://$srv:8080/', timeout=1)" || fail "the host cannot reach srv's httpd"
    assert_eq "$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://$srv:8080/index.html', timeout=3).read().decode().strip())")" "hello from srv" "host -> container"
    assert_eq "$(inside "$MNT/b" "wget -q -O - http://$srv:8080/index.html")" "hello from srv" "container -> container"
    # the address is the container's: across mv and a restart; released by rm -rf
    mv "$MNT/a" "$MNT/web"
    assert_eq "$(address_of "$MNT/web")" "$a" "address after mv"
    remount_with "network=bridge"
    assert_eq "$(address_of "$MNT/web")" "$a" "address after a remount"
    mkdir "$MNT/c"
    local c; c=$(address_of "$MNT/c")
    [ "$c" != "$a" ] && [ "$c" != "$b" ] && [ "$c" != "$inner" ] && [ "$c" != "$srv" ] || fail "an address given twice: $c"
    local veth; veth=$(ip -br link | awk '/^nv/ { print $1 }' | wc -l)
    rm -rf "$MNT/web"
    wait_for 5 sh -c "[ \$(ip -br link | awk '/^nv/' | wc -l) -lt $veth ]" || fail "rm -rf left its veth"
    umount "$MNT"
}

test_network_masquerade_table_is_the_daemons_own() {
    command -v nft >/dev/null || { [ "${CI:-}" != true ] || fail "nft is missing (scripts/test installs nftables)"; echo "    skipped: no nft"; return 0; }
    new_mount "network=bridge"
    local table; table=$(nft list tables | awk '$2 == "ip" && $3 ~ /^namespacefs/ { print $3 }' | grep -F "$(basename "$STATE" | tr -c 'A-Za-z0-9\n' _)")
    [ -n "$table" ] || fail "no masquerade table: $(nft list tables)"
    nft list table ip "$table" | matches "ip saddr 10.88.0.0/16 oifname != \"nsfs0\" masquerade" || fail "the rule: $(nft list table ip "$table")"
    # umount(2) returns before the daemon has read that its connection
    # ended (a FUSE unmount waits on no answer): the table goes as it exits
    local daemon; daemon=$(daemon_pid) || fail "no daemon"
    umount "$MNT"
    wait_for 5 is_gone "$daemon" || fail "the daemon outlived the unmount"
    if nft list tables | matches -w "$table"; then fail "the table outlived the daemon"; fi
}

netns_names() { ip netns list | awk '{ print $1 }'; }

test_netns_names_follow_the_tree() {
    new_mount "netns=names"
    mkdir -p "$MNT/web/job"
    netns_names | matches -x web || fail "web not in ip netns list: $(ip netns list)"
    netns_names | matches -x 'web\.job' || fail "web.job not in ip netns list"
    # the same namespace as the container's
    assert_eq "$(stat -L -c %i /run/netns/web.job)" "$(stat -L -c %i "$MNT/web/job/ns/net")" "the named namespace"
    ip netns exec web.job ip -br link show lo >/dev/null || fail "ip netns exec"
    # a veth moved in by name
    ip link add nsfs-t$$ type veth peer name nsfs-u$$
    ip link set nsfs-u$$ netns web
    in_container "$MNT/web" ip link show nsfs-u$$ >/dev/null || fail "ip link set DEV netns web"
    ip link del nsfs-t$$
    # someone else's name is left alone: the container gets NAME~ID8
    touch /run/netns/other
    mkdir "$MNT/other"
    local id8; id8=$(awk '/^id:/ { print substr($2, 1, 8) }' "$MNT/other/status")
    netns_names | matches -x "other~$id8" || fail "the collision: $(ip netns list)"
    [ -f /run/netns/other ] && [ ! -s /run/netns/other ] || fail "someone else's file was touched"
    rm -f /run/netns/other
    mv "$MNT/web" "$MNT/www"
    netns_names | matches -x 'www\.job' || fail "mv did not rename: $(ip netns list)"
    netns_names | matches '^web' && fail "old names left: $(ip netns list)"
    remount_with "netns=names"
    netns_names | matches -x www || fail "after a restart: $(ip netns list)"
    rm -rf "$MNT/other"
    netns_names | matches "^other" && fail "rm -rf left a name: $(ip netns list)"
    # a mount without the option takes the names an earlier one made away
    remount
    netns_names | matches "^www" && fail "names left by a mount without netns=names: $(ip netns list)"
    true
}

# A Debian minbase root from mmdebstrap (the mirror, ~30 s), cached between
# runs beside the default storage.
debian_image() {
    local cache=${NSFS_IMAGE_CACHE:-/var/lib/namespacefs-images}/debian-bookworm-minbase
    if [ ! -x "$cache/usr/bin/apt-get" ]; then
        command -v mmdebstrap >/dev/null || { echo "mmdebstrap is missing (scripts/test installs it)" >&2; return 1; }
        rm -rf "$cache.new"; mkdir -p "$(dirname "$cache")"
        mmdebstrap --variant=minbase --quiet bookworm "$cache.new" >&2 || { rm -rf "$cache.new"; return 1; }
        rm -rf "$cache"; mv "$cache.new" "$cache"
    fi
    echo "$cache"
}

test_a_debian_root_runs_a_service_and_takes_apt_style_ownership() {
    local img; img=$(debian_image) || fail "no Debian image (mmdebstrap failed)"
    new_mount "root=$img,network=bridge,storage=$(next_storage)"
    mkdir "$MNT/deb"
    assert_eq "$(inside "$MNT/deb" 'cat /etc/debian_version' | cut -d. -f1)" 12 "Debian inside"
    # what package scripts do: users, chown, dpkg and apt's own checks
    inside "$MNT/deb" 'useradd -m svc && su svc -s /bin/sh -c "touch /home/svc/f" && chown -R svc:svc /var/cache/apt' || fail "useradd, su, chown"
    assert_eq "$(inside "$MNT/deb" 'stat -c %U:%G /home/svc/f /var/cache/apt' | sort -u)" "svc:svc" "owners inside"
    inside "$MNT/deb" 'apt-get check >/dev/null && dpkg -s base-files | grep -qx "Status: install ok installed"' || fail "apt-get check, dpkg"
    local id; id=$(awk '/^id:/ { print $2 }' "$MNT/deb/status")
    assert_eq "$(stat -c %u "$(storage_dir)/$id/layer/upper/home/svc/f")" 1000 "svc's file on disk"
    [ ! -e "$img/home/svc" ] || fail "the image changed"
    # a service, reached from the host over the bridge
    local a; a=$(address_of "$MNT/deb")
    inside "$MNT/deb" "perl -MIO::Socket::INET -e '\$s = IO::Socket::INET->new(LocalPort => 8081, Listen => 5, ReuseAddr => 1) or die; while (\$c = \$s->accept) { <\$c>; print \$c qq(HTTP/1.0 200 OK\r\n\r\nhello from debian\n); close \$c }' >/dev/null 2>&1 &"
    wait_for 10 python3 -c "import urllib.request; urllib.request.urlopen('http://$a:8081/', timeout=1)" || fail "the service is not reachable"
    assert_eq "$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://$a:8081/', timeout=3).read().decode().strip())")" "hello from debian" "the service's answer"
    rm -rf "$MNT/deb"
    umount "$MNT"
}

# The README's restore command (see "Snapshots").
restore() { tar xf "$1" -C "$MNT" -P --touch --no-same-owner --no-same-permissions --exclude='unnamed*' "${@:2}"; }

test_tar_snapshot_restores_names_hostnames_limits_roots_and_volumes() {
    local img; img=$(image_dir)
    new_mount "storage=$(next_storage)"
    mkdir -p "$MNT/web/job" "$MNT/other"
    echo www > "$MNT/web/hostname"
    echo "$img" > "$MNT/web/job/root"
    local vol=/run/nsfs-test-$$-snapvol; rm -rf "$vol"; mkdir -p "$vol"; echo kept > "$vol/f"
    echo "$vol /data ro" > "$MNT/web/job/mounts"
    local limited=no
    if [ -e "$MNT/web/pids.max" ]; then echo 77 > "$MNT/web/pids.max"; limited=yes; fi
    # a set, which is processes: never restored
    in_container "$MNT/web" unshare --uts sleep 600 </dev/null >/dev/null 2>&1 &
    wait_for 5 sh -c "ls $MNT/web | grep -q '^unnamed'" || fail "no set to snapshot"
    local other_before; other_before=$(cat "$MNT/other/status")
    local old_init; old_init=$(init_pid "$MNT/web")
    tar cf "$TEST_TMP/web.tar" -C "$MNT" web || fail "tar cf"
    rm -rf "$MNT/web"
    restore "$TEST_TMP/web.tar" || fail "tar xf exited $?"
    [ -d "$MNT/web/job" ] || fail "job not restored"
    assert_ne "$(init_pid "$MNT/web")" "$old_init" "a fresh init"
    assert_eq "$(cat "$MNT/web/hostname")" www "hostname"
    [ "$limited" = no ] || assert_eq "$(cat "$MNT/web/pids.max")" 77 "pids.max"
    assert_eq "$(cat "$MNT/web/job/root")" "$img" "job's root"
    assert_eq "$(cat "$MNT/web/job/mounts")" "$vol /data ro" "job's volume"
    assert_eq "$(inside "$MNT/web/job" 'cat /data/f')" kept "the volume inside"
    ls "$MNT/web" | matches '^unnamed' && fail "a set came back"
    assert_eq "$(cat "$MNT/other/status")" "$other_before" "another container changed"
    # under another name; and over itself
    restore "$TEST_TMP/web.tar" --transform 's,^web,copy,' || fail "tar xf --transform exited $?"
    assert_eq "$(cat "$MNT/copy/hostname")" www "the copy's hostname"
    assert_eq "$(cat "$MNT/copy/job/root")" "$img" "the copy's job's root"
    restore "$TEST_TMP/web.tar" || fail "tar xf over itself exited $?"
    check_consistency
    rm -rf "$vol"
}
