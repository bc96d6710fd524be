# Helpers for the integration tests: each test gets its own mount point,
# state directory and cgroup root, and leaves none of them behind.
# shellcheck shell=bash

NSFS_BIN=${NSFS_BIN:?NSFS_BIN must point at the namespacefs binary}
NSCTL=$(dirname "$NSFS_BIN")/nsctl
# mountinfo: the filesystem type is the field after the " - " separator.
fstype_of() { awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1); exit } }' /proc/self/mountinfo; }
CGROUP2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
TEST_ROOT_CGROUP=/nsfs-test-$$
# The v1 hierarchy holding pids, where the host binds it there (the daemon
# mirrors containers' cgroups in it); empty elsewhere.
PIDS_V1=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup" && $(i + 3) ~ /(^|,)pids(,|$)/) { print $5; exit } break } }' /proc/self/mountinfo)
TEST_TMP=$(mktemp -d /tmp/nsfs-test.XXXXXX)
# Unprivileged callers must reach the mount points, and a container's root
# (an unprivileged id on the host) writes the tests' markers here: like /tmp.
chmod 1777 "$TEST_TMP"
MOUNTS=()
N=0

# new_mount [extra -o options]: mount a fresh namespacefs; sets MNT, STATE, CG, CGDIR.
# Containers share the host's filesystem (-o hostfs=shared, then remembered
# by the state directory) unless the options say otherwise: the tests'
# mount points and markers are below /tmp, which a private one hides.
new_mount() {
    N=$(( $(cat "$TEST_TMP/counter" 2>/dev/null || echo 0) + 1 ))
    echo $N > "$TEST_TMP/counter"
    MNT=$TEST_TMP/mnt$N
    STATE=/run/nsfs-test-$$-$N
    CG=$TEST_ROOT_CGROUP/t$N
    CGDIR=$CGROUP2$CG
    mkdir -p "$MNT"
    local extra=${1:+,$1}
    case ${1:-} in *hostfs=*) ;; *) extra="$extra,hostfs=shared" ;; esac
    case ${1:-} in *network=*) claim_bridge ;; esac
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG$extra" || { echo "mount failed"; return 1; }
    MOUNTS+=("$MNT")
}

# remount: unmount and mount again with the same state and cgroup.
remount() {
    # Right after a mount the daemon's view helpers may still be walking it
    # (umount: target is busy): give them a moment.
    wait_for 5 umount "$MNT" 2>/dev/null || umount "$MNT" || return 1
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" || return 1
}

# remount_with OPTIONS: the same, with extra -o options.
remount_with() {
    wait_for 5 umount "$MNT" 2>/dev/null || umount "$MNT" || return 1
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG,$1" || return 1
}

# The daemon serving MNT: the one its connection holder names, else (no
# holder: -o hold=0) the process with the daemon's command line that holds
# /dev/fuse. Not the oldest with that command line: its children that have
# not exec'd (view helpers, inits being set up) have it too, and pids wrap.
daemon_pid() {
    local p
    p=$(python3 - "$STATE/holder.sock" 2>/dev/null <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
s.send(b"who")
w = s.recv(64).decode().split()
if w[0] == "serving": print(w[1])
EOF
    ) || true
    if [ -n "$p" ]; then echo "$p"; return 0; fi
    for p in $(pgrep -f -x "$NSFS_BIN $MNT -o state_dir=$STATE,cgroup=$CG.*"); do
        # (grep -c reads it all: with -q, ls could die of SIGPIPE, and pipefail say no)
        if [ "$(ls -l "/proc/$p/fd" 2>/dev/null | grep -c ' -> /dev/fuse$')" != 0 ]; then echo "$p"; return 0; fi
    done
    return 1
}
# matches GREP-ARGS: grep -q for a pipeline's end. grep -q leaves at the
# first match, and a writer with more to say then dies of SIGPIPE, which
# pipefail turns into a failure: read it all.
matches() { grep "$@" >/dev/null; }
export -f matches  # the scripts tests hand to bash -c use it too
# is_gone PID: exited (a zombie counts: PID 1 here never reaps).
is_gone() { ! kill -0 "$1" 2>/dev/null || matches '^State:.Z' "/proc/$1/status" 2>/dev/null; }

is_mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

init_pid() { awk '/^init:/ { print $2 }' "$1/status"; }

# Does pid run? Dead are: gone, zombies (waiting for their parent's wait()),
# and tasks already in do_exit (PF_EXITING, 0x4 in stat's flags): a killed
# pid-namespace init stays there until every zombie of its namespace is
# reaped, by parents that may live outside it.
is_running() {
    local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    set -- $stat
    [ "$1" != Z ] && [ "$1" != X ] && [ $(( $7 & 4 )) = 0 ]
}

# The cgroup directory of a process, as a path on the host.
cgroup_dir_of() { echo "$CGROUP2$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")"; }

# view_ready DIR: the container's own view is attached in its mount namespace
# (asynchronously, right after mkdir).
view_ready() {
    local p; p=$(init_pid "$1")
    wait_for 5 sh -c "nsenter -t $p -m awk '/^id:/ { print \$2 }' $MNT/status | grep -qx $(awk '/^id:/ { print $2 }' "$1/status")"
}

# in_container DIR cmd...: run cmd in all of the container's namespaces and
# in its cgroup (what nsenter alone does not do).
in_container() {
    local dir=$1; shift
    local p; p=$(init_pid "$dir")
    sh -c 'echo $$ > "$1/cgroup.procs" && shift 2 && exec nsenter -t "$0" -a "$@"' "$p" "$(cgroup_dir_of "$p")" -- "$@"
}

# What one test made: its mounts (containers removed through them first).
cleanup_test() {
    local rc=$? m errexit=
    # Also called between the cases of one test: errexit must come back on
    # (off, every later failure of the test would pass unseen).
    case $- in *e*) errexit=1 ;; esac
    set +e
    # background jobs of the test (sleepers, fork loops outside containers)
    kill $(jobs -p) 2>/dev/null
    for m in "${MOUNTS[@]}"; do
        if is_mounted "$m"; then
            rm -rf "${m:?}"/* 2>/dev/null
            umount "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null
        fi
        # a holder whose daemon a test killed (it would wait out its hold)
        end_holder "$m"
    done
    MOUNTS=()
    # the bridge a -o network mount made (none before the test), failed or not
    [ "$BRIDGE_CLAIMED" != ours ] || ip link del nsfs0 2>/dev/null
    BRIDGE_CLAIMED=
    # (an engine's own cleanup may still be emptying one: up to 2 s)
    for m in "${CLAIMED_DIRS[@]}"; do
        # (nsfs-oci's compiled seccomp filters go with its root)
        local i; for i in $(seq 40); do rm -rf "$m/.seccomp-cache"; [ -d "$m" ] && ! rmdir "$m" 2>/dev/null || break; sleep 0.05; done
    done
    CLAIMED_DIRS=()
    [ -z "$errexit" ] || set -e
    return $rc
}

# claim_dir DIR: this test may make DIR (/namespaces to mount over,
# nsfs-oci's default root /run/nsfs-oci); one that was not there before,
# cleanup_test removes once empty, failed or not.
CLAIMED_DIRS=()
claim_dir() { [ -e "$1" ] || CLAIMED_DIRS+=("$1"); }

# claim_bridge: this test may make the bridge nsfs0 (-o network, called by
# new_mount); if it was not there before, cleanup_test removes it. One a
# test found there is the machine's: left alone.
BRIDGE_CLAIMED=
claim_bridge() {
    [ -z "$BRIDGE_CLAIMED" ] || return 0
    if ip link show nsfs0 >/dev/null 2>&1; then BRIDGE_CLAIMED=theirs; else BRIDGE_CLAIMED=ours; fi
}

# end_holder MOUNTPOINT: end the connection holder of that mount, if any
# (by its command line, which names the mount point).
HOLDER=$(dirname "$NSFS_BIN")/namespacefs-holder
holder_pid() { pgrep -f -x "$HOLDER $1 [0-9]+ [0-9]+" | head -1; }
end_holder() { local p; p=$(holder_pid "$1"); [ -z "$p" ] || kill "$p" 2>/dev/null; }

# What the whole run made: any process left in our cgroups, the cgroups, state.
cleanup_all() {
    local m
    for m in "$TEST_TMP"/mnt*; do
        is_mounted "$m" && { umount "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null; }
        end_holder "$m"
    done
    if [ -d "$CGROUP2$TEST_ROOT_CGROUP" ]; then
        echo 1 > "$CGROUP2$TEST_ROOT_CGROUP/cgroup.kill" 2>/dev/null
        local tries=0
        while [ $tries -lt 100 ] && ! find "$CGROUP2$TEST_ROOT_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null; do
            sleep 0.05; tries=$((tries + 1))
        done
    fi
    if [ -n "$PIDS_V1" ] && [ -d "$PIDS_V1$TEST_ROOT_CGROUP" ]; then
        find "$PIDS_V1$TEST_ROOT_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null
    fi
    rm -rf /run/nsfs-test-$$-* "$TEST_TMP"
    # the daemons' cgroup-root locks (kept by design: flock files are not removed)
    rm -f /run/lock/namespacefs/cgroup*nsfs-test-$$*
}

# --- assertions: each prints what failed and returns 1 ---
fail() { echo "    FAIL: $*"; return 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"; }
assert_ne() { [ "$1" != "$2" ] || fail "${3:-values equal}: both '$1'"; }
assert_true() { "$@" || fail "command failed: $*"; }
# assert_errno "Expected message" cmd...: the command fails and stderr names the errno.
assert_errno() {
    local want=$1; shift
    local out
    if out=$("$@" 2>&1); then fail "expected '$want' from: $*"; return 1; fi
    case $out in *"$want"*) return 0 ;; esac
    fail "expected '$want' from: $*; got: $out"
}
# wait_for SECONDS cmd...: poll until the command succeeds.
wait_for() {
    local deadline=$(( $(date +%s%N) + ${1%.*} * 1000000000 )); shift
    until "$@"; do
        [ "$(date +%s%N)" -lt $deadline ] || return 1
        sleep 0.02
    done
}

# The state store's records, through the daemon's own record code.
RECORDS=$(dirname "$NSFS_BIN")/nsfs-records
record_count() { "$RECORDS" count "$STATE"; }
dump_records() { "$RECORDS" dump "$STATE" "$1"; }
put_record() { "$RECORDS" put "$STATE" "$1" "$2"; }
set_record() { "$RECORDS" set "$STATE" "$@"; }

# check_consistency: the tree in the mount, the cgroups under the mount's
# cgroup root and the state store agree, and every container has a live init
# in its own cgroup. Prints each disagreement; returns 1 if there is any.
check_consistency() {
    "$RECORDS" check "$STATE" "$CGDIR" "$MNT" | sed 's/^/    /'
    return "${PIPESTATUS[0]}"
}

# The container tree as "path id init" lines, for comparing before/after.
tree_snapshot() {
    local d
    find "$MNT" -mindepth 1 -type d ! -name ns ! -path '*/ns/*' | sort | while read -r d; do
        echo "${d#$MNT} $(awk '/^id:/ { print $2 }' "$d/status") $(init_pid "$d")"
    done
}

# crash_daemon: SIGKILL the daemon, clear the dead mount, mount again.
crash_and_remount() {
    # (the daemon may have killed itself already: -o crash_at)
    local pid; pid=$(daemon_pid || true)
    if [ -n "$pid" ]; then
        kill -9 "$pid"
        wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
    fi
    fusermount3 -u -z "$MNT"
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG" 2>"$TEST_TMP/adopt.log"
}
