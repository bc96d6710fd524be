# Boot-time mounting: fstab through mount.fuse3, the systemd unit, SIGTERM.
# shellcheck shell=bash

# The binaries where mount(8)'s sanitized PATH finds them, without touching
# the host: a private mount namespace with our build bound over /usr/local/sbin.
with_installed_binaries() {
    mkdir -p "$TEST_TMP/sbin"
    cp "$NSFS_BIN" "$(dirname "$NSFS_BIN")/namespacefs-init" "$TEST_TMP/sbin/"
    unshare -m sh -c 'mount --bind "$0" /usr/local/sbin && exec "$@"' "$TEST_TMP/sbin" "$@"
}

test_fstab_line_mounts_through_mount_fuse3() {
    local m=$TEST_TMP/fstab-mnt state=/run/nsfs-test-$$-fstab cg=$TEST_ROOT_CGROUP/fstab
    mkdir -p "$m"
    sed "s|/namespaces|$m|; s|defaults|defaults,state_dir=$state,cgroup=$cg|" "$(dirname "$0")/../../Examples/fstab" \
        | grep -v '^#' > "$TEST_TMP/fstab.txt"
    with_installed_binaries sh -c "
        mount -T $TEST_TMP/fstab.txt $m || exit 1
        grep -q ' $m .*fuse.namespacefs' /proc/self/mountinfo || { echo 'not mounted'; exit 1; }
        mkdir $m/web && grep -qx 'name: web' $m/web/status || { echo 'no container'; exit 1; }
        rmdir $m/web && umount $m"
}

test_systemd_unit_verifies() {
    command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (apt-get install systemd)"
    local unit; unit="$(cd "$(dirname "$0")/../.." && pwd)/Examples/namespacefs.service"
    local out
    out=$(with_installed_binaries systemd-analyze verify "$unit" 2>&1) || fail "verify failed: $out"
    case $out in *namespacefs.service*) fail "verify complained: $out" ;; esac
    grep -qx "Delegate=yes" "$unit" && grep -qx "KillMode=process" "$unit" || fail "unit must delegate and kill only the daemon"
}

test_delegated_mode_keeps_the_daemon_in_a_leaf() {
    # As systemd would start it: in a cgroup of its own, delegated.
    local unitcg=$CGROUP2$TEST_ROOT_CGROUP/unit m=$TEST_TMP/deleg state=/run/nsfs-test-$$-deleg
    mkdir -p "$unitcg" "$m"
    sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" "$3" -o "state_dir=$4,delegated"' - "$unitcg" "$NSFS_BIN" "$m" "$state"
    local pid; pid=$(pgrep -f -x "$NSFS_BIN $m -o state_dir=$state,delegated")
    assert_eq "$(awk -F: '$1 == "0" { print $3 }' /proc/$pid/cgroup)" "$TEST_ROOT_CGROUP/unit/daemon" "daemon's cgroup"
    mkdir "$m/c"
    case $(awk '/^cgroup:/ { print $2 }' "$m/c/status") in
        "$TEST_ROOT_CGROUP/unit/containers/ns-"*) ;;
        *) fail "container not in the unit's containers cgroup: $(awk '/^cgroup:/' "$m/c/status")" ;;
    esac
    # a service stop (SIGTERM to the daemon only, KillMode=process) leaves it running
    local init; init=$(init_pid "$m/c")
    kill -TERM "$pid"
    wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
    is_mounted "$m" && fail "SIGTERM left the mount behind"
    kill -0 "$init" || fail "stopping the daemon killed a container"
    # the next start adopts it
    sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" "$3" -o "state_dir=$4,delegated"' - "$unitcg" "$NSFS_BIN" "$m" "$state"
    assert_eq "$(init_pid "$m/c")" "$init" "container after restart"
    rmdir "$m/c"
    umount "$m"
}

test_every_program_answers_version_and_install_puts_each_where_it_belongs() {
    local bin; bin=$(dirname "$NSFS_BIN")
    local p out
    for p in namespacefs nsctl namespacefs-init namespacefs-holder nsfs-records namespacefs-log-relay nsfs-oci; do
        out=$("$bin/$p" --version) || fail "$p --version failed"
        [[ $out == "$p "[0-9]* ]] || fail "$p --version said: $out"
    done
    local dest=$TEST_TMP/dest config
    config=$(basename "$(dirname "$NSFS_BIN")")
    make -s -C "$here/../.." CONFIG="$config" install DESTDIR="$dest" >/dev/null || fail "make install"
    [ -x "$dest/usr/local/bin/nsctl" ] || fail "nsctl is not in /usr/local/bin"
    [ -x "$dest/usr/local/bin/namespacefs-log-relay" ] || fail "the log relay is not beside nsctl"
    [ -x "$dest/usr/local/sbin/namespacefs" ] || fail "namespacefs is not in /usr/local/sbin"
    [ -x "$dest/usr/local/sbin/nsfs-oci" ] || fail "nsfs-oci is not in /usr/local/sbin"
    for p in namespacefs nsctl; do
        man -l "$dest/usr/local/share/man/man8/$p.8" 2>/dev/null | matches "^NAME" || fail "$p(8) does not render"
    done
    grep -q "_nsctl" "$dest/usr/local/share/bash-completion/completions/nsctl" || fail "no bash completion for nsctl"
    bash -n "$dest/usr/local/share/bash-completion/completions/nsctl" || fail "the completion script is not bash"
}
