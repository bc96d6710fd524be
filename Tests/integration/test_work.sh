# Running work in a container (issue 25): a graceful stop, signals.

# A directory a container's root may write and the host may read (its /tmp
# is its own).
shared_dir() {
    local d=/run/nsfs-test-$$-work-$1
    rm -rf "$d"; mkdir -m 1777 "$d"
    echo "$d"
}

# sh with a TERM trap that takes 0.3 s to write its file, then exits.
careful_worker() {
    in_container "$1" sh -c "trap 'sleep 0.3; echo finished > $2/file; exit 0' TERM; echo > $2/ready; while :; do sleep 0.05; done" \
        </dev/null >/dev/null 2>&1 &
    wait_for 5 test -e "$2/ready" || fail "the worker did not start"
}

test_stop_timeout_lets_a_process_finish_its_file() {
    new_mount "stop_timeout=5"
    mkdir -p "$MNT/db/inner"
    local d; d=$(shared_dir stop)
    careful_worker "$MNT/db" "$d"
    local pin; pin=$(init_pid "$MNT/db")
    local t; t=$(date +%s%N)
    rm -rf "$MNT/db"
    local ms=$(( ($(date +%s%N) - t) / 1000000 ))
    assert_eq "$(cat "$d/file" 2>/dev/null)" finished "the worker's file after rm -rf"
    [ "$ms" -ge 250 ] || fail "rm -rf took $ms ms: the worker had no time"
    [ "$ms" -lt 4000 ] || fail "rm -rf took $ms ms: it waited for the timeout, not for the worker"
    ! is_running "$pin" || fail "db's init survived"
    [ ! -e "$MNT/db" ] || fail "db is still there"
    assert_eq "$(find "$CGDIR" -mindepth 1 -type d | wc -l)" 0 "cgroups after rm -rf"
    echo "    rm -rf with a worker finishing its file: $ms ms"
    rm -rf "$d"
}

test_without_stop_timeout_rmdir_kills_at_once() {
    new_mount
    mkdir "$MNT/db"
    local d; d=$(shared_dir kill)
    careful_worker "$MNT/db" "$d"
    rmdir "$MNT/db"
    sleep 0.5
    [ ! -e "$d/file" ] || fail "the worker got SIGTERM: rmdir without stop_timeout must kill at once"
    rm -rf "$d"
}

test_stop_timeout_kills_what_ignores_sigterm() {
    new_mount "stop_timeout=1"
    mkdir "$MNT/db"
    local d; d=$(shared_dir stubborn)
    in_container "$MNT/db" sh -c "trap '' TERM; echo > $d/ready; while :; do sleep 0.05; done" </dev/null >/dev/null 2>&1 &
    wait_for 5 test -e "$d/ready" || fail "the worker did not start"
    local cg; cg=$(cgroup_dir_of "$(init_pid "$MNT/db")")
    mkdir "$MNT/other"
    local t; t=$(date +%s%N)
    rmdir "$MNT/db" &
    local rm=$!
    # nobody else waits meanwhile: the stop runs on a worker
    sleep 0.3
    local t2; t2=$(date +%s%N)
    grep -q '^state: running' "$MNT/other/status" || fail "other's status"
    local read_ms=$(( ($(date +%s%N) - t2) / 1000000 ))
    [ "$read_ms" -lt 200 ] || fail "a bystander's read took $read_ms ms during the stop"
    wait $rm || fail "rmdir failed"
    local ms=$(( ($(date +%s%N) - t) / 1000000 ))
    [ "$ms" -ge 900 ] || fail "rmdir took $ms ms: it did not wait for the stop timeout"
    [ "$ms" -lt 3000 ] || fail "rmdir took $ms ms"
    [ ! -d "$cg" ] || fail "db's cgroup is left"
    rm -rf "$d"
}

test_stop_timeout_is_checked() {
    for bad in stop_timeout=-1 stop_timeout=3601 stop_timeout=x; do
        local out; out=$("$NSFS_BIN" "$TEST_TMP/nowhere" -o "$bad" 2>&1) && fail "-o $bad was accepted"
        grep -q "stop_timeout takes seconds" <<<"$out" || fail "-o $bad: $out"
    done
}

# A worker in DIR that writes FILE when it gets TERM, then exits.
term_writer() {
    in_container "$1" sh -c "trap 'echo got > $2; exit 0' TERM; echo > $2.ready; while :; do sleep 0.05; done" </dev/null >/dev/null 2>&1 &
    wait_for 5 test -e "$2.ready" || fail "the worker in $1 did not start"
}

test_signal_reaches_every_process_below_but_the_inits() {
    new_mount
    mkdir -p "$MNT/app/inner"
    local d; d=$(shared_dir signal)
    term_writer "$MNT/app" "$d/app"
    term_writer "$MNT/app/inner" "$d/inner"
    local a i; a=$(init_pid "$MNT/app"); i=$(init_pid "$MNT/app/inner")
    echo TERM > "$MNT/app/signal"
    wait_for 5 test -e "$d/app" || fail "app's worker got no TERM"
    wait_for 5 test -e "$d/inner" || fail "inner's worker got no TERM"
    is_running "$a" && is_running "$i" || fail "an init got the signal"
    # the init takes TERM from the host without acting on it
    kill -TERM "$a"; sleep 0.2
    is_running "$a" || fail "kill -TERM of the init ended it"
    grep -qx 'state: running' "$MNT/app/inner/status" || fail "inner is not running"
    # KILL: every other process dies, the containers stay
    local cg; cg=$(cgroup_dir_of "$a")
    in_container "$MNT/app" sh -c 'sleep 1000 & sleep 1000 & exec sleep 1000' </dev/null >/dev/null 2>&1 &
    wait_for 5 sh -c "[ \$(wc -l < $cg/cgroup.procs) -ge 4 ]" || fail "the sleepers did not start"
    echo KILL > "$MNT/app/signal"
    wait_for 5 sh -c "[ \"\$(cat $cg/cgroup.procs)\" = $a ]" || fail "left after KILL: $(cat "$cg/cgroup.procs")"
    is_running "$i" || fail "inner's init got KILL"
    # numbers, names in any case, SIG prefixes; nothing written sends nothing
    in_container "$MNT/app" sh -c "trap 'echo usr1 >> $d/n' USR1; echo > $d/usr.ready; while :; do sleep 0.05; done" </dev/null >/dev/null 2>&1 &
    wait_for 5 test -e "$d/usr.ready" || fail "the USR1 worker did not start"
    echo sigusr1 > "$MNT/app/signal"
    wait_for 5 grep -q usr1 "$d/n" || fail "sigusr1 was not delivered"
    echo 10 > "$MNT/app/signal"
    wait_for 5 sh -c "[ \$(grep -c usr1 $d/n) = 2 ]" || fail "10 was not delivered"
    : > "$MNT/app/signal"
    assert_errno "Invalid argument" bash -c "echo BOGUS > $MNT/app/signal"
    assert_errno "Invalid argument" bash -c "echo 65 > $MNT/app/signal"
    assert_eq "$(stat -c %A "$MNT/app/signal")" "--w-------" "signal's mode"
    assert_eq "$(cat "$MNT/app/signal")" "" "signal reads empty"
    [ ! -e "$MNT/signal" ] || fail "the root has a signal entry"
    echo 1 > "$MNT/app/signal"   # HUP ends the USR1 worker (no trap)
    rm -rf "$MNT/app" "$d"
}

test_accounting_in_status_nsctl_and_json() {
    new_mount
    mkdir -p "$MNT/busy/inner" "$MNT/idle"
    in_container "$MNT/busy/inner" sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
    in_container "$MNT/idle" sleep 600 </dev/null >/dev/null 2>&1 &
    wait_for 5 sh -c "[ \$(wc -w < $MNT/busy/inner/procs) -ge 2 ]" || fail "the loop did not start"
    sleep 0.5
    local cpu; cpu=$(awk '/^cpu-usec:/ { print $2 }' "$MNT/busy/status")
    [ "${cpu:-0}" -gt 100000 ] || fail "busy's cpu-usec after 0.5 s of a loop below: '$cpu'"
    # memory: memory.current where the host gives the controller, else an estimate
    # (an estimate is made at most once a second: the one made when only
    # the init ran may be read for a second)
    wait_for 5 sh -c "[ \$(wc -w < $MNT/idle/procs) -ge 2 ]" || fail "the sleeper did not start"
    wait_for 3 sh -c "awk '/^memory:/ { exit !(\$2 > 0) }' $MNT/idle/status" || fail "idle's memory: $(grep '^memory' "$MNT/idle/status")"
    local src; src=$(awk '/^memory-source:/ { print $2 }' "$MNT/idle/status")
    case $src in cgroup|estimate) ;; *) fail "memory-source: '$src'" ;; esac
    # nsctl: ps, tree and status as JSON, top with the busy one first
    "$NSCTL" ps --json "$MNT" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert any(r["container"] == "/busy/inner" and r["cpu_usec"] > 0 and r["rss_bytes"] > 0 for r in rows), rows
' || fail "nsctl ps --json"
    "$NSCTL" tree --json "$MNT" | python3 -c '
import json, sys
t = json.load(sys.stdin)
busy = [c for c in t["children"] if c["name"] == "busy"][0]
# (read one after the other, while the loop runs: the parent may lag a little)
assert busy["cpu-usec"] > 0 and busy["children"][0]["cpu-usec"] > 0, busy
assert busy["children"][0]["path"] == "/busy/inner"
' || fail "nsctl tree --json"
    "$NSCTL" status --json "$MNT/idle" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["name"] == "idle" and isinstance(s["processes"], int) and s["processes"] >= 2 and isinstance(s["memory"], int), s
' || fail "nsctl status --json"
    # busy counts inner's loop too: the two share the top
    local first; first=$("$NSCTL" top -n 2 -i 0.3 "$MNT" | awk 'NR > 1 { print $4 }' | sort | tr '\n' ' ')
    assert_eq "$first" "/busy /busy/inner " "nsctl top's first two"
    "$NSCTL" tree "$MNT" | matches "inner .*cpu [0-9]" || fail "nsctl tree: $("$NSCTL" tree "$MNT")"
    echo KILL > "$MNT/busy/signal"
}

test_detached_work_and_its_log() {
    new_mount "log_size=64K"
    mkdir "$MNT/svc"
    local t0 pid ms
    t0=$(date +%s%N)
    pid=$("$NSCTL" exec -d "$MNT/svc" -- sh -c 'echo hello; echo oops >&2; cat; sid=$(cut -d" " -f6 /proc/self/stat); [ "$sid" = $$ ] && echo own-session; [ -t 0 ] || echo no-terminal; sleep 0.5; echo later')
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [[ $pid =~ ^[0-9]+$ ]] || fail "exec -d printed '$pid'"
    [ "$ms" -lt 400 ] || fail "exec -d took $ms ms: it waited"
    wait_for 5 grep -q " later$" "$MNT/svc/log" || fail "the log: $(cat "$MNT/svc/log")"
    local t='^[0-9-]+T[0-9:]+Z '
    grep -Eq "$t$pid hello$" "$MNT/svc/log" || fail "no stamped stdout line: $(cat "$MNT/svc/log")"
    grep -Eq "$t$pid oops$" "$MNT/svc/log" || fail "no stderr line"
    grep -Eq "$t$pid own-session$" "$MNT/svc/log" || fail "not in a session of its own"
    grep -Eq "$t$pid no-terminal$" "$MNT/svc/log" || fail "it had a terminal"
    assert_eq "$(stat -c %a "$MNT/svc/log")" 644 "the log's mode"
    # the container itself does not write its own log
    view_ready "$MNT/svc"
    assert_errno "Permission denied" in_container "$MNT/svc" sh -c "echo forged >> $MNT/log"
    grep -q forged "$MNT/svc/log" && fail "the container wrote its own log"
    # tail -f sees a new line within a second
    tail -n 0 -f "$MNT/svc/log" > "$TEST_TMP/tail.out" 2>/dev/null &
    local tailer=$!
    sleep 0.3
    "$NSCTL" exec -d "$MNT/svc" -- sh -c 'echo tailed' >/dev/null
    wait_for 2 grep -q " tailed$" "$TEST_TMP/tail.out" || fail "tail -f did not see the new line"
    kill $tailer
    # a writer keeps writing across a daemon crash and an unmount
    "$NSCTL" exec -d "$MNT/svc" -- sh -c 'i=0; while [ $i -lt 40 ]; do echo tick $i; i=$((i + 1)); sleep 0.1; done' >/dev/null
    wait_for 5 grep -q " tick 3$" "$MNT/svc/log" || fail "no tick"
    kill -9 "$(daemon_pid)"
    sleep 0.3
    "$NSFS_BIN" "$MNT" -o "state_dir=$STATE,cgroup=$CG,log_size=64K" || fail "the next daemon"
    grep -q " hello$" "$MNT/svc/log" || fail "the log lost its lines in the crash"
    wait_for 10 grep -q " tick 39$" "$MNT/svc/log" || fail "the ticks after the crash: $(tail -3 "$MNT/svc/log")"
    # (the next mount with the default log_size, 1 MiB)
    remount
    grep -q " tick 39$" "$MNT/svc/log" || fail "the log after an unmount"
    # a process that writes fast never waits for the log; the log stays bounded
    t0=$(date +%s%N)
    pid=$("$NSCTL" exec -d "$MNT/svc" -- sh -c 'yes flood-line-of-some-length | head -n 300000; echo flood-done')
    wait_for 20 sh -c "[ ! -d /proc/$pid ] || grep -q '^State:.Z' /proc/$pid/status" || fail "the flood did not end"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    # what the relay could not queue (1 MiB) is dropped and counted: either
    # the flood's last line came through, or a count of dropped lines did
    wait_for 10 grep -q " flood-done$\|lines dropped: the log could not keep up" "$MNT/svc/log" || fail "neither the last line nor a count: $(tail -2 "$MNT/svc/log"); relay: $(pgrep -af namespacefs-log-relay)"
    echo "    300,000 lines (8 MB) written in $ms ms; log $(stat -c %s "$MNT/svc/log") bytes, $(grep -c 'lines dropped' "$MNT/svc/log") drop counts kept"
    [ "$(stat -c %s "$MNT/svc/log")" -le $((1024 * 1024 + 4096)) ] || fail "the log grew past log_size: $(stat -c %s "$MNT/svc/log")"
    "$NSCTL" exec -d "$MNT/svc" -- echo after-the-flood >/dev/null
    wait_for 5 grep -q " after-the-flood$" "$MNT/svc/log" || fail "the log after the flood"
    # it goes with the container
    local id; id=$(awk '/^id:/ { print $2 }' "$MNT/svc/status")
    [ -f "$STATE/logs/$id" ] || fail "no log file in the state directory"
    rm -rf "$MNT/svc"
    [ ! -e "$STATE/logs/$id" ] || fail "rm -rf left the log"
}
