# The OCI runtime (issue 27): nsfs-oci, with runc's command line, makes
# every container an engine asks for a directory of the tree.
# shellcheck shell=bash

OCI=$(dirname "$NSFS_BIN")/nsfs-oci

# oci_bundle DIR ARGS-JSON [EXTRA-JSON]: a bundle whose root is the test image.
oci_bundle() {
    mkdir -p "$1"
    cat > "$1/config.json" <<JSON
{"ociVersion": "1.0.2", "root": {"path": "$(image_dir)"}, "hostname": "ocibox",
 "process": {"user": {"uid": 0, "gid": 0}, "args": $2, "cwd": "/", "env": ["PATH=/bin"],
             "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}]},
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}],
           "resources": {"pids": {"limit": 40}}}${3:+, $3}}
JSON
}

# as_subreaper SCRIPT: run bash -c SCRIPT as conmon runs a runtime: the
# container processes whose creator exits are ours to reap (this host's
# PID 1 reaps nobody).
as_subreaper() {
    python3 - "$1" <<'PY'
import ctypes, os, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)          # PR_SET_CHILD_SUBREAPER
script = subprocess.Popen(["bash", "-c", sys.argv[1]])
def reap_others():
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == script.pid:
            return
        os.waitpid(info.si_pid, 0)
while script.poll() is None:
    reap_others()
    time.sleep(0.01)
deadline = time.time() + 5                       # what the script left dies with its container
while time.time() < deadline:
    try:
        if os.waitpid(-1, os.WNOHANG) == (0, 0):
            time.sleep(0.05)
    except ChildProcessError:
        break
sys.exit(script.returncode)
PY
}

test_oci_lifecycle_through_the_tree() {
    new_mount "storage=$(next_storage)"
    local b=$TEST_TMP/bundle out=$TEST_TMP/out
    local hook; hook() { echo "[{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"cat > $TEST_TMP/$1\"]}]"; }
    oci_bundle "$b" '["/bin/sh", "-c", "echo hello from $(hostname) as $(id -u); ulimit -n; trap \"echo bye; exit 3\" TERM; while :; do sleep 0.05; done"]' \
        "\"hooks\": {\"createRuntime\": $(hook created), \"poststart\": $(hook started), \"poststop\": $(hook stopped)}"
    # every engine's default: all devices denied (honoured: the container has its own user namespace)
    sed -i 's/"resources": {"pids": {"limit": 40}}/"resources": {"pids": {"limit": 40}, "devices": [{"allow": false, "access": "rwm"}]}/' "$b/config.json"
    as_subreaper "
        set -e
        O='$OCI --tree $MNT --root /run/nsfs-test-$$-oci/lab'
        \$O create --bundle '$b' --pid-file '$TEST_TMP/pid' c1 > '$out' 2>&1
        # created: a directory of the tree (the engine's, from --root), the process waiting
        [ -d '$MNT/lab/c1' ] || { echo 'no directory in the tree'; exit 1; }
        \$O state c1 | matches '\"status\":\"created\"' || { echo 'not created'; exit 1; }
        [ ! -s '$out' ] || { echo 'ran before start'; exit 1; }
        grep -qx 'pids.max: 40' '$MNT/lab/c1/status' || { echo 'pids limit not set'; exit 1; }
        \$O start c1
        for i in \$(seq 50); do grep -q hello '$out' && break; sleep 0.05; done
        \$O state c1 | matches '\"status\":\"running\"' || { echo 'not running'; exit 1; }
        [ \"\$(\$O state c1 | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/')\" = \"\$(cat '$TEST_TMP/pid')\" ] || { echo 'state pid differs from the pid file'; exit 1; }
        # its processes are the tree's: nsctl ps, freeze (pause), ps
        pid=\$(cat '$TEST_TMP/pid')
        '$NSCTL' ps '$MNT/lab/c1' | matches -w \$pid || { echo 'nsctl ps does not show it'; '$NSCTL' ps '$MNT/lab/c1'; exit 1; }
        \$O pause c1; \$O state c1 | matches '\"status\":\"paused\"' || { echo 'not paused'; exit 1; }
        grep -qx 1 '$MNT/lab/c1/freeze' || { echo 'freeze not set'; exit 1; }
        \$O resume c1
        \$O ps --format json c1 | matches \"\$(cat '$TEST_TMP/pid')\" || { echo 'ps lacks the process'; exit 1; }
        # exec: another process, its exit status
        \$O exec c1 /bin/sh -c 'exit 7' && { echo 'exec status lost'; exit 1; } || [ \$? = 7 ] || { echo 'exec status not 7'; exit 1; }
        # delete refuses a running container; kill TERM is the process's to handle
        \$O delete c1 2>/dev/null && { echo 'deleted while running'; exit 1; }
        \$O kill c1 TERM
        for i in \$(seq 50); do \$O state c1 | matches stopped && break; sleep 0.05; done
        \$O state c1 | matches '\"status\":\"stopped\"' || { echo 'not stopped'; exit 1; }
        \$O delete c1
        [ ! -e '$MNT/lab/c1' ] || { echo 'directory left'; exit 1; }
        \$O state c1 2>/dev/null && { echo 'state after delete'; exit 1; }
        exit 0
    " || fail "lifecycle (see above)"
    grep -qx 'hello from ocibox as 0' "$out" || fail "process output: $(cat "$out")"
    grep -qx 1024 "$out" || fail "rlimit not applied: $(cat "$out")"
    grep -qx bye "$out" || fail "SIGTERM not handled by the process: $(cat "$out")"
    # the runtime's hooks ran, each given the state at its moment
    grep -q '"id":"c1".*"status":"created"' "$TEST_TMP/created" || fail "createRuntime hook: $(cat "$TEST_TMP/created")"
    grep -q '"status":"running"' "$TEST_TMP/started" || fail "poststart hook: $(cat "$TEST_TMP/started")"
    grep -q '"status":"stopped"' "$TEST_TMP/stopped" || fail "poststop hook: $(cat "$TEST_TMP/stopped")"
    rm -rf "/run/nsfs-test-$$-oci"
}

# --pid container:X, a pod's cgroup namespace, a time namespace: joined by
# path; the container keeps its own (the process is a set of it), and a pid
# namespace joined brings a proc of it over the container's /proc.
test_oci_joins_another_containers_pid_cgroup_and_time_namespaces() {
    new_mount "storage=$(next_storage)"
    local a=$TEST_TMP/join-a b=$TEST_TMP/join-b
    oci_bundle "$a" '["/bin/sh", "-c", "while :; do sleep 0.05; done"]'
    oci_bundle "$b" '["/bin/sh", "-c", "cat /proc/1/comm /proc/self/cgroup; sleep 600"]'
    cat > "$TEST_TMP/join.sh" <<'SH'
set -e
O="$OCI --tree $MNT --root /run/nsfs-test-$TEST_PID-oci/lab"
$O create --bundle "$A" --pid-file "$TEST_TMP/join-apid" ja >/dev/null 2>&1
$O start ja
ap=$(cat "$TEST_TMP/join-apid")
joins="{\"type\": \"pid\", \"path\": \"/proc/$ap/ns/pid\"}, {\"type\": \"cgroup\", \"path\": \"/proc/$ap/ns/cgroup\"}, {\"type\": \"time\", \"path\": \"/proc/$ap/ns/time\"}"
sed -i "s|{\"type\": \"pid\"}|$joins|" "$B/config.json"
grep -q '/ns/time' "$B/config.json" || { echo 'the bundle was not edited'; exit 1; }
$O create --bundle "$B" --pid-file "$TEST_TMP/join-bpid" jb > "$TEST_TMP/join-out" 2>&1 || { cat "$TEST_TMP/join-out"; exit 1; }
$O start jb
bp=$(cat "$TEST_TMP/join-bpid")
for k in pid cgroup time; do
    [ "$(readlink /proc/$bp/ns/$k)" = "$(readlink /proc/$ap/ns/$k)" ] || { echo "$k not joined"; exit 1; }
done
[ "$(readlink /proc/$bp/ns/mnt)" != "$(readlink /proc/$ap/ns/mnt)" ] || { echo "mnt shared, not asked"; exit 1; }
for i in $(seq 50); do [ "$(wc -l < "$TEST_TMP/join-out")" -ge 2 ] && break; sleep 0.05; done
# its /proc is the joined pid namespace's: pid 1 there is ja's init
init=$(awk '/^init:/ { print $2 }' "$MNT/lab/ja/status")
[ "$(head -1 "$TEST_TMP/join-out")" = "$(cat /proc/$init/comm)" ] || { echo "/proc/1 inside: $(cat "$TEST_TMP/join-out")"; exit 1; }
# in ja's cgroup namespace, jb's cgroup is outside its root: a path with ..
grep -q '^0::/\.\.' "$TEST_TMP/join-out" || { echo "cgroup inside: $(cat "$TEST_TMP/join-out")"; exit 1; }
# the tree: jb's process is a set of jb (it shares none of jb's pid, cgroup, time)
ls "$MNT/lab/jb" | matches '^unnamed' || { echo 'no set in jb'; ls "$MNT/lab/jb"; exit 1; }
$O delete --force jb
$O delete --force ja
SH
    as_subreaper "OCI='$OCI' MNT='$MNT' TEST_PID=$$ TEST_TMP='$TEST_TMP' A='$a' B='$b' bash '$TEST_TMP/join.sh'" || fail "joins (see above)"
    rm -rf "/run/nsfs-test-$$-oci"
}

test_oci_hooks_in_the_containers_namespaces() {
    new_mount "storage=$(next_storage)"
    local b=$TEST_TMP/bundle out=$TEST_TMP/out bb; bb=$(command -v busybox)
    # busybox-static: the hook's path is the runtime's, it runs inside (the
    # container's root has no libc for a dynamic one)
    oci_bundle "$b" '["/bin/cat", "/hook-create", "/hook-start"]' \
        "\"hooks\": {\"createContainer\": [{\"path\": \"$bb\", \"args\": [\"sh\", \"-c\", \"(cat; echo; hostname) > /hook-create\"]}],
                     \"startContainer\": [{\"path\": \"$bb\", \"args\": [\"sh\", \"-c\", \"echo started as \$(id -u) > /hook-start\"]}]}"
    as_subreaper "
        O='$OCI --tree $MNT --root /run/nsfs-test-$$-oci/lab'
        \$O create --bundle '$b' h1 > '$out' 2>&1 && \$O start h1 || exit 1
        for i in \$(seq 50); do \$O state h1 | matches stopped && break; sleep 0.05; done
        \$O delete h1
    " || fail "create, start, delete with hooks: $(cat "$out")"
    grep -q '"id":"h1"' "$out" || fail "createContainer hook got no state: $(cat "$out")"
    grep -qx ocibox "$out" || fail "createContainer hook not in the container's uts namespace: $(cat "$out")"
    grep -qx 'started as 0' "$out" || fail "startContainer hook: $(cat "$out")"
    rm -rf "/run/nsfs-test-$$-oci"
}

test_oci_rm_rf_is_delete_force() {
    new_mount "storage=$(next_storage)"
    local b=$TEST_TMP/bundle
    oci_bundle "$b" '["/bin/sleep", "600"]'
    as_subreaper "
        O='$OCI --tree $MNT --root /run/nsfs-test-$$-oci/lab'
        \$O create --bundle '$b' c2 && \$O start c2 || exit 1
        pid=\$(\$O state c2 | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/')
        rm -rf '$MNT/lab/c2'
        # (a zombie until this script's subreaper reaps it: dead is state Z or gone)
        alive() { s=\$(cat /proc/\$1/stat 2>/dev/null) || return 1; s=\${s##*) }; [ \${s%% *} != Z ]; }
        for i in \$(seq 50); do alive \$pid || break; sleep 0.05; done
        alive \$pid && { echo 'the process survived rm -rf'; exit 1; }
        \$O state c2 | matches '\"status\":\"stopped\"' || { echo 'the engine does not see it stopped'; exit 1; }
        \$O delete c2
    " || fail "rm -rf of an OCI container"
    rm -rf "/run/nsfs-test-$$-oci"
}

test_oci_refuses_what_it_cannot_honour_by_json_path() {
    new_mount "storage=$(next_storage)"
    local b=$TEST_TMP/bundle O="$OCI --tree $MNT --root /run/nsfs-test-$$-oci/lab"
    oci_bundle "$b" '[]'
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.process.args: missing or empty" "empty args"
    oci_bundle "$b" '["/bin/true"]' '"linux": {"namespaces": [{"type": "mount", "path": "/proc/1/ns/mnt"}]}'
    sed -i 's/"linux": {"namespaces": \[{"type": "pid"}, {"type": "mount"}, {"type": "network"}\],/"linux2": {/' "$b/config.json"
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.linux.namespaces[0].path: joining a mount namespace by path is not supported: the container's is the tree's (network, ipc, uts, pid, cgroup and time are joinable)" "a mount namespace by path"
    # a memory or CPU limit is the tree's memory.max or cpu.max, or refused
    # where cgroup2 has no such controller
    local controller field
    for controller in memory:limit:'"memory": {"limit": 67108864}' cpu:quota:'"cpu": {"quota": 50000, "period": 100000}'; do
        field=${controller#*:}; field=${field%%:*}
        oci_bundle "$b" '["/bin/true"]'
        sed -i "s/\"pids\": {\"limit\": 40}/\"pids\": {\"limit\": 40}, ${controller#*:*:}/" "$b/config.json"
        controller=${controller%%:*}
        if grep -qw "$controller" "$CGROUP2/cgroup.subtree_control"; then
            echo "    ($controller on cgroup2 here: the refusal is not reachable)"
        else
            assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.linux.resources.$controller.$field: this host's cgroup2 has no $controller controller for the tree" "a $controller limit without the controller"
        fi
    done
    # what the tree has no entry for at all, by name (podman -m sends swap;
    # --device a node the tree's /dev lacks)
    oci_bundle "$b" '["/bin/true"]'
    sed -i 's/"pids": {"limit": 40}/"pids": {"limit": 40}, "memory": {"limit": 67108864, "swap": 134217728}/' "$b/config.json"
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.linux.resources.memory.swap: not supported: the tree limits memory with memory.max alone" "swap"
    oci_bundle "$b" '["/bin/true"]'
    sed -i 's/"resources": {"pids": {"limit": 40}}/"devices": [{"path": "\/dev\/fuse", "type": "c", "major": 10, "minor": 229}], "resources": {"pids": {"limit": 40}}/' "$b/config.json"
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.linux.devices[0]: /dev/fuse is not a node of the tree's /dev (null, zero, full, random, urandom, tty, ptmx, pts): device nodes are not supported" "a device node"
    # a device bound in must be one the rules allow (bound, nothing could deny it)
    oci_bundle "$b" '["/bin/true"]' '"mounts": [{"destination": "/mnt/null", "type": "bind", "source": "/dev/null", "options": ["bind"]}]'
    sed -i 's/"resources": {"pids": {"limit": 40}}/"resources": {"pids": {"limit": 40}, "devices": [{"allow": false, "access": "rwm"}]}/' "$b/config.json"
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.mounts[0].source: /dev/null is a device the rules deny; there is no device cgroup to deny it once bound" "a denied device bound in"
    # a runtime hook that fails undoes the create
    oci_bundle "$b" '["/bin/true"]' '"hooks": {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]}'
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: \$.hooks.createRuntime[0] (/bin/sh): exit status 4" "a failing hook"
    oci_bundle "$b" '["/bin/true"]'
    sed -i 's/"uid": 0/"uid": "root"/' "$b/config.json"
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.process.user.uid: expected a number" "a string for a number"
    # an engine's mapping: one range, the same for uids and gids
    oci_bundle "$b" '["/bin/true"]'
    sed -i 's/"namespaces": \[{"type": "pid"}/"uidMappings": [{"containerID": 0, "hostID": 3400000, "size": 10}, {"containerID": 10, "hostID": 0, "size": 1}], "namespaces": [{"type": "user"}, {"type": "pid"}/' "$b/config.json"
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.linux.uidMappings: 2 ranges: the tree maps one range per container" "two ranges"
    # nothing was left behind by the refusals
    [ ! -e "$MNT/lab/bad" ] || fail "a refused create left a directory"
    [ ! -e "/run/nsfs-test-$$-oci/lab/bad" ] || fail "a refused create left a record"
    "$OCI" features | matches '"ociVersionMax"' || fail "features"
    # devices denied (every engine's default) need the container's own user
    # namespace: the kernel then refuses mknod and device nodes on its
    # mounts; without one (-o userns=off) there is no device cgroup to do it
    new_mount "userns=off,storage=$(next_storage)"
    O="$OCI --tree $MNT --root /run/nsfs-test-$$-oci/lab"
    oci_bundle "$b" '["/bin/true"]'
    sed -i 's/"resources": {"pids": {"limit": 40}}/"resources": {"pids": {"limit": 40}, "devices": [{"allow": false, "access": "rwm"}]}/' "$b/config.json"
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.linux.resources.devices: denying devices needs the container in a user namespace of its own; this mount has -o userns=off and there is no device cgroup" "devices denied without a user namespace"
    [ ! -e "$MNT/lab/bad" ] || fail "the refused create left a directory"
    # the engine's mapping is honoured even there: a user namespace of the
    # ids asked for; ids in use are refused
    oci_bundle "$b" '["/bin/sleep", "60"]'
    sed -i 's/"namespaces": \[{"type": "pid"}/"uidMappings": [{"containerID": 0, "hostID": 3400000, "size": 1000}], "gidMappings": [{"containerID": 0, "hostID": 3400000, "size": 1000}], "namespaces": [{"type": "user"}, {"type": "pid"}/' "$b/config.json"
    as_subreaper "
        set -e
        $O create --bundle '$b' mapped
        grep -qx 'uid-map: 0 3400000 1000' '$MNT/lab/mapped/status' || { echo \"map: \$(grep uid-map '$MNT/lab/mapped/status')\"; exit 1; }
        out=\$($O create --bundle '$b' bad 2>&1) && { echo 'ids in use given twice'; exit 1; }
        [ \"\$out\" = 'nsfs-oci: config.json: \$.linux.uidMappings: host ids 3400000-3400999 are another container'\\''s' ] || { echo \"ids in use: \$out\"; exit 1; }
        $O delete --force mapped
    " || fail "an engine's mapping with -o userns=off"
    [ ! -e "$MNT/lab/mapped" ] || fail "delete --force left the mapped container"
    rm -rf "/run/nsfs-test-$$-oci"
}

test_oci_seccomp_filter_holds_for_its_process_and_execs() {
    new_mount "storage=$(next_storage)"
    local b=$TEST_TMP/bundle-seccomp O="$OCI --tree $MNT --root /run/nsfs-test-$$-oci/lab"
    # everything allowed but mkdir (EPERM), and priority 5 (a condition on an argument: ENOSYS)
    oci_bundle "$b" '["/bin/sleep", "60"]'
    sed -i 's/"resources": {"pids": {"limit": 40}}/"resources": {"pids": {"limit": 40}}, "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"], "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_call"], "action": "SCMP_ACT_ERRNO"}, {"names": ["setpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": [{"index": 2, "value": 5, "op": "SCMP_CMP_EQ"}]}]}/' "$b/config.json"
    as_subreaper "
        set -e
        $O create --bundle '$b' filtered; $O start filtered
        out=\$($O exec filtered /bin/mkdir /tmp/x 2>&1) && { echo 'mkdir allowed'; exit 1; }
        echo \"\$out\" | matches 'Operation not permitted' || { echo \"mkdir: \$out\"; exit 1; }
        out=\$($O exec filtered /bin/sh -c 'renice -n 5 -p \$\$' 2>&1) && { echo 'priority 5 allowed'; exit 1; }
        echo \"\$out\" | matches 'not implemented' || { echo \"priority 5: \$out\"; exit 1; }
        $O exec filtered /bin/sh -c 'renice -n 6 -p \$\$' || { echo 'priority 6 refused'; exit 1; }
        $O exec filtered /bin/touch /tmp/y || { echo 'touch refused'; exit 1; }
        pid=\$($O state filtered | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/')
        grep -qx 'Seccomp:.2' /proc/\$pid/status || { echo 'the first process has no filter'; exit 1; }
        $O delete --force filtered
    " || fail "a seccomp profile through nsfs-oci"
    # what cannot be honoured, by its JSON path
    sed -i 's/"SCMP_CMP_EQ"/"SCMP_CMP_SOMETIMES"/' "$b/config.json"
    assert_eq "$($O create --bundle "$b" bad 2>&1)" "nsfs-oci: config.json: \$.linux.seccomp.syscalls[1].args[0].op: unknown: SCMP_CMP_SOMETIMES" "an unknown op"
    [ ! -e "$MNT/lab/bad" ] || fail "a refused create left a directory"
    rm -rf "/run/nsfs-test-$$-oci"
}

# in_podman_ns SCRIPT: bash -c SCRIPT in a mount namespace of its own where
# this test's tree is /namespaces (where nsfs-oci finds it: podman runs its
# cleanup without the runtime flags it was given).
in_podman_ns() {
    claim_dir /namespaces
    claim_dir /run/nsfs-oci   # (podman's cleanup runs nsfs-oci without --root)
    mkdir -p /namespaces
    unshare -m bash -c "mount --bind '$MNT' /namespaces && $1"
}

test_podman_drives_it_and_its_containers_are_directories() {
    command -v podman >/dev/null || { [ "${CI:-}" != true ] || fail "podman is missing (scripts/test installs it)"; echo "    skipped: no podman"; return 0; }
    new_mount "storage=$(next_storage)"
    local img; img=$(image_dir)
    # (This host withholds CAP_SYS_RESOURCE even from root: podman's default
    # limits are above its own, as runc finds too.)
    local P="podman --runtime $OCI" U="--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --rootfs $img"
    # (--storage: what a run that failed midway left in podman's storage)
    in_podman_ns "$P rm -f nsfs-t1 nsfs-t2 nsfs-t3; podman rm -f --storage nsfs-t1 nsfs-t2 nsfs-t3" >/dev/null 2>&1 || true
    # run --rm: the output, and nothing left in the tree
    assert_eq "$(in_podman_ns "$P run --rm $U /bin/echo hello from podman")" "hello from podman" "run --rm"
    wait_for 5 sh -c "[ -z \"\$(find '$MNT/podman' -mindepth 1 -maxdepth 1 -type d ! -name ns 2>/dev/null)\" ]" || fail "run --rm left a container"
    in_podman_ns "
        set -e
        id=\$($P run -d --name nsfs-t1 --pids-limit 12 $U /bin/sh -c 'echo started; trap \"echo got TERM; exit 0\" TERM; while :; do sleep 0.1; done')
        d=/namespaces/podman/\$id
        [ -d \$d ] || { echo 'not a directory of the tree'; exit 1; }
        # podman's default seccomp profile, on the process and on exec's
        $P exec nsfs-t1 /bin/grep -x 'Seccomp:.2' /proc/self/status >/dev/null || { echo 'exec without the seccomp filter'; exit 1; }
        grep -x 'Seccomp:.2' /proc/\$(podman inspect -f '{{.State.Pid}}' nsfs-t1)/status >/dev/null || { echo 'no seccomp filter'; exit 1; }
        $P ps --format '{{.Names}}' | matches -x nsfs-t1 || { echo 'podman ps'; exit 1; }
        [ \"\$(cat \$d/pids.max)\" = 12 ] || { echo 'pids limit'; exit 1; }
        '$NSCTL' ps \$d | matches -w sh || { echo 'nsctl ps'; exit 1; }
        [ \"\$($P exec nsfs-t1 /bin/hostname)\" = \"\${id:0:12}\" ] || { echo 'exec, hostname'; exit 1; }
        $P exec nsfs-t1 /bin/sh -c 'i=0; while [ \$i -lt 20 ]; do sleep 5 & i=\$((i+1)); done 2>&1; wait' 2>&1 | matches -i 'fork\|resource' || { echo 'the pids limit did not hold'; exit 1; }
        $P top nsfs-t1 | matches 'while' || { echo 'top'; exit 1; }
        # --pid container:X: its pid namespace joined by path, its processes in the joiner's /proc
        out=\$($P run --rm --pid container:nsfs-t1 $U /bin/ps 2>&1); echo \"\$out\" | matches 'while' || { echo \"--pid container: \$out\"; exit 1; }
        $P pause nsfs-t1 >/dev/null; [ \"\$(cat \$d/freeze)\" = 1 ] || { echo 'pause is freeze'; exit 1; }
        $P unpause nsfs-t1 >/dev/null; [ \"\$(cat \$d/freeze)\" = 0 ] || { echo 'unpause'; exit 1; }
        start=\$(date +%s)
        $P stop -t 10 nsfs-t1 >/dev/null
        [ \$(( \$(date +%s) - start )) -lt 5 ] || { echo 'SIGTERM not honoured (stop waited for SIGKILL)'; exit 1; }
        $P logs nsfs-t1 | matches -x 'got TERM' || { echo 'logs'; exit 1; }
        $P rm nsfs-t1 >/dev/null
        [ ! -e \$d ] || { echo 'rm left the directory'; exit 1; }
        # run -it: a pty of the container's own (script gives podman a
        # terminal; a process that exits at once may lose its output in
        # podman's attach, with runc too: it waits a moment). script's stdin
        # stays open until the end: at its EOF script writes an end-of-file
        # into the terminal, which podman may carry to the container's pty
        # to be echoed as ^@ (runc too, 1 run in 10 here)
        out=\$(sleep 3 | script -qec \"$P run -it --rm $U /bin/sh -c 'tty; [ -t 0 ] && echo stdin-is-a-tty; sleep 1'\" /dev/null | tr -d '\\r')
        echo \"\$out\" | matches -x '/dev/pts/0' || { echo \"run -it: \$out\"; exit 1; }
        echo \"\$out\" | matches -x 'stdin-is-a-tty' || { echo \"run -it stdin: \$out\"; exit 1; }
        # --read-only: the root, not the tmpfs podman mounts on it
        out=\$($P run --rm --read-only $U /bin/sh -c 'touch /x 2>&1; touch /tmp/y && echo tmp-writable')
        echo \"\$out\" | matches 'Read-only file system' && echo \"\$out\" | matches -x tmp-writable || { echo \"--read-only: \$out\"; exit 1; }
        # the engine's id mapping: the container's user namespace maps those host ids
        id=\$($P run -d --name nsfs-t3 --uidmap 0:3200000:65536 --gidmap 0:3200000:65536 $U /bin/sleep 600)
        grep -qx 'uid-map: 0 3200000 65536' /namespaces/podman/\$id/status || { echo 'the engine mapping is not the tree'\''s'; exit 1; }
        [ \"\$($P exec nsfs-t3 cat /proc/self/uid_map | tr -s ' ')\" = ' 0 3200000 65536' ] || { echo 'the engine mapping inside'; exit 1; }
        $P rm -f -t 0 nsfs-t3 >/dev/null
        $P run -d --name nsfs-t2 $U /bin/sleep 600 >/dev/null
        $P kill nsfs-t2 >/dev/null
        $P wait nsfs-t2 >/dev/null
        $P rm nsfs-t2 >/dev/null
    " || fail "podman run -d, exec, top, pause, stop, kill, rm (see above)"
    # (--storage: what a run that failed midway left in podman's storage)
    in_podman_ns "$P rm -f nsfs-t1 nsfs-t2 nsfs-t3; podman rm -f --storage nsfs-t1 nsfs-t2 nsfs-t3" >/dev/null 2>&1 || true
}

# An image of podman's own storage: its root is an overlay (podman's
# `merged`), which cannot be idmapped itself: its layers are. The daemon runs
# in podman's mount namespace here, as on a host (it must see the overlay).
test_podman_runs_an_image_from_its_storage() {
    command -v podman >/dev/null || { [ "${CI:-}" != true ] || fail "podman is missing (scripts/test installs it)"; echo "    skipped: no podman"; return 0; }
    local img; img=$(image_dir)
    local tag=localhost/nsfs-test-$$:1 state=/run/nsfs-test-$$-podimg
    local P="podman --runtime $OCI" U="--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
    tar -C "$img" -cf "$TEST_TMP/podimg.tar" . && podman import -q "$TEST_TMP/podimg.tar" "$tag" >/dev/null || { fail "podman import"; return 1; }
    claim_dir /namespaces
    claim_dir /run/nsfs-oci
    mkdir -p /namespaces
    local out
    out=$(unshare -m --propagation private bash -c "
        trap 'rm -rf /namespaces/* 2>/dev/null; umount /namespaces 2>/dev/null || fusermount3 -u -z /namespaces' EXIT
        '$NSFS_BIN' /namespaces -o 'state_dir=$state,cgroup=$TEST_ROOT_CGROUP/podimg' || exit 1
        $P run --rm $U $tag /bin/sh -c 'stat -c \"%u:%g %n\" /etc/passwd /bin; echo written > /etc/new && cat /etc/new'
    " 2>&1)
    podman rmi -f "$tag" >/dev/null 2>&1
    rm -rf "$state"
    # the image's files are its root's inside (idmapped layer by layer),
    # and it writes to its own layer
    assert_eq "$out" "0:0 /etc/passwd
0:0 /bin
written" "a podman image as the root"
}

test_podman_network_is_joined_by_path() {
    command -v podman >/dev/null || { [ "${CI:-}" != true ] || fail "podman is missing (scripts/test installs it)"; echo "    skipped: no podman"; return 0; }
    new_mount "storage=$(next_storage)"
    local img; img=$(image_dir)
    local P="podman --runtime $OCI" U="--security-opt seccomp=unconfined --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --rootfs $img"
    # podman's own network (netavark's bridge) makes tables of its own: ended
    # after, if they were not there before
    local tables; tables=$(nft list tables 2>/dev/null || true)
    in_podman_ns "$P rm -f nsfs-n1" >/dev/null 2>&1 || true
    in_podman_ns "
        set -e
        $P run --rm $U /bin/ip -4 -o addr show eth0 | matches 'inet ' || { echo 'no address on podman'\''s network'; exit 1; }
        id=\$($P run -d --name nsfs-n1 $U /bin/sleep 600)
        # exec joins the same network; the process that joined it is a set
        # of its container (its network is not the container's own)
        $P exec nsfs-n1 /bin/ip -4 -o addr show eth0 | matches 'inet ' || { echo 'exec outside the network'; exit 1; }
        ls /namespaces/podman/\$id | matches '^unnamed' || { echo 'the joined process is no set'; exit 1; }
        $P rm -f -t 0 nsfs-n1 >/dev/null
        [ ! -e /namespaces/podman/\$id ] || { echo 'rm left the directory'; exit 1; }
    " || fail "podman's network, joined by path (see above)"
    in_podman_ns "$P rm -f nsfs-n1" >/dev/null 2>&1 || true
    local t
    for t in nat filter; do
        grep -qx "table ip $t" <<<"$tables" || nft delete table ip "$t" 2>/dev/null || true
    done
}

test_containerd_drives_it_through_ctr() {
    command -v containerd >/dev/null && command -v ctr >/dev/null || {
        [ "${CI:-}" != true ] || fail "containerd is missing (scripts/test installs it)"; echo "    skipped: no containerd"; return 0; }
    new_mount "storage=$(next_storage)"
    local img; img=$(image_dir) d=/run/nsfs-test-$$-containerd
    mkdir -p "$d"
    cat > "$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
[grpc]
  address = "$d/sock"
[ttrpc]
  address = "$d/sock.ttrpc"
TOML
    # containerd (and the shims it starts) in a mount namespace where this
    # test's tree is /namespaces; ended by pid at the end.
    claim_dir /namespaces
    mkdir -p /namespaces
    unshare -m --propagation private bash -c "mount --bind '$MNT' /namespaces && exec containerd --config '$d/config.toml'" > "$d/log" 2>&1 &
    local ctrd=$!
    local C="ctr --address $d/sock" R="--runc-binary $OCI --rootfs $img"
    wait_for 10 $C version >/dev/null 2>&1 || { kill $ctrd; fail "containerd did not start: $(tail -3 "$d/log")"; return 1; }
    local rc=0
    (
        set -e
        trap 'echo "failed: $BASH_COMMAND"' ERR
        [ "$($C run --rm $R nsfs-c1 /bin/echo hello from containerd)" = "hello from containerd" ] || { echo "ctr run --rm"; exit 1; }
        $C run -d $R nsfs-c2 /bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
        wait_for 5 sh -c "$C task ls | grep -q 'nsfs-c2 .* RUNNING'" || { echo "task ls: $($C task ls)"; exit 1; }
        # the task is a directory of the tree, in containerd's namespace's directory
        [ -d "$MNT/default/nsfs-c2" ] || { echo "not in the tree"; exit 1; }
        $C task ps nsfs-c2 | matches "$($C task ls | awk '$1 == "nsfs-c2" { print $2 }')" || { echo "task ps"; exit 1; }
        $C task kill nsfs-c2
        wait_for 5 sh -c "$C task ls | grep -q 'nsfs-c2 .* STOPPED'" || { echo "kill (SIGTERM): $($C task ls)"; exit 1; }
        $C task delete nsfs-c2 >/dev/null
        $C container delete nsfs-c2
        [ ! -e "$MNT/default/nsfs-c2" ] || { echo "task delete left the directory"; exit 1; }
    ) || rc=$?
    # (what a failure left: gone either way before containerd is ended)
    { $C task kill -s KILL nsfs-c2; $C task delete nsfs-c2; $C container delete nsfs-c2; } >/dev/null 2>&1 || true
    kill $ctrd; wait $ctrd 2>/dev/null || true
    rm -rf "$d"
    [ $rc = 0 ] || fail "ctr run --rm, run -d, task ls/ps/kill/delete (see above)"
}

test_oci_container_outlives_a_daemon_sigkill() {
    new_mount "storage=$(next_storage)"
    local b=$TEST_TMP/bundle dpid
    oci_bundle "$b" '["/bin/sleep", "600"]'
    dpid=$(daemon_pid)
    as_subreaper "
        set -e
        O='$OCI --tree $MNT --root /run/nsfs-test-$$-oci/lab'
        \$O create --bundle '$b' c4; \$O start c4
        pid=\$(\$O state c4 | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/')
        kill -9 $dpid
        for i in \$(seq 100); do [ -e /proc/$dpid ] || break; sleep 0.05; done
        # the engine still finds it, running, with no daemon at all
        \$O state c4 | matches '\"status\":\"running\"' || { echo 'state without a daemon'; exit 1; }
        '$NSFS_BIN' '$MNT' -o 'state_dir=$STATE,cgroup=$CG'
        # and the tree shows it again, with its process
        grep -qw \$pid '$MNT/lab/c4/procs' || { echo 'the tree lost it'; exit 1; }
        \$O state c4 | matches '\"status\":\"running\"' || { echo 'state after the takeover'; exit 1; }
        \$O delete --force c4
        [ ! -e '$MNT/lab/c4' ] || { echo 'delete after the takeover'; exit 1; }
    " || fail "an OCI container across a daemon SIGKILL"
    rm -rf "/run/nsfs-test-$$-oci"
}
