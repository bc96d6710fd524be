# The README's examples run as written (its blocks marked <!-- example -->):
# each `# ` line is run by bash, in order, and must succeed; other lines
# are output, shown to readers, not compared (ids, addresses and dates
# differ). Run in a mount namespace of their own where every default is
# this test's: /namespaces, /run/namespacefs, /run/lock/namespacefs,
# /var/lib/namespacefs, /srv and /run/netns are fresh, and the default
# cgroup (the daemon's own + /namespacefs) is below the test's cgroup.

readme_examples() {
    awk '
        /^<!-- example -->$/ { want = 1; next }
        want && /^```/ { inside = !inside; if (!inside) { want = 0; print "#END" } next }
        want && inside && /^# / { print substr($0, 3) }
    ' "$here/../../README.md"
}

test_readme_examples_run_as_written() {
    local readme=$here/../../README.md
    [ -f "$readme" ] || fail "no README at $readme"
    local blocks; blocks=$(readme_examples | grep -c '^#END$')
    [ "$blocks" -ge 3 ] || fail "only $blocks example blocks found"
    # the machine's own: left alone, and the network example skipped if they are there
    claim_bridge   # the network example's
    if command -v nft >/dev/null && nft list tables | matches -x 'table ip namespacefs'; then
        fail "the host's namespacefs nft table exists: the network example would take it (run on a machine without -o network)"
    fi
    local script=$TEST_TMP/readme.sh
    {
        echo 'set -eo pipefail'
        echo "export PATH=$(dirname "$NSFS_BIN"):\$PATH"
        echo 'mount --make-rprivate /'
        echo 'mkdir -p /run/namespacefs /run/lock/namespacefs /var/lib/namespacefs /srv /run/netns'
        echo 'for d in /namespaces /run/namespacefs /run/lock/namespacefs /var/lib/namespacefs /srv /run/netns; do mount -t tmpfs -o mode=755 nsfs-readme "$d"; done'
        echo 'chmod 700 /run/namespacefs /var/lib/namespacefs'
        echo 'namespacefs /namespaces'
        readme_examples | sed '/^#END$/d' | while IFS= read -r line; do
            printf 'echo %q\n%s\n' "+ $line" "$line"
        done
        echo 'umount /namespaces'
    } > "$script"
    # /namespaces must exist to be mounted over (made here, removed after, if it was not there)
    claim_dir /namespaces
    claim_dir /run/nsfs-oci   # (the engines example's runtime records)
    mkdir -p /namespaces
    # the daemon's default cgroup is its own + /namespacefs: below this test's
    mkdir -p "$CGROUP2$TEST_ROOT_CGROUP/readme"
    local rc=0
    sh -c 'echo $$ > "$1/cgroup.procs" && exec unshare -m bash "$2"' - "$CGROUP2$TEST_ROOT_CGROUP/readme" "$script" > "$TEST_TMP/readme.out" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        tail -15 "$TEST_TMP/readme.out" | sed 's/^/    | /'
        fail "a README example failed (exit $rc)"
    fi
    echo "    $blocks example blocks, $(grep -c '^+ ' "$TEST_TMP/readme.out") commands"
}
