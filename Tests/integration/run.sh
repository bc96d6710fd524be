#!/usr/bin/env bash
# Integration tests: real mounts, real containers, ordinary shell tools.
# Needs root and /dev/fuse; in CI (CI=true) their absence is a failure.
#   NSFS_BIN=path/to/namespacefs Tests/integration/run.sh [PATTERN]
set -u
here=$(cd "$(dirname "$0")" && pwd)

missing=""
[ "$(id -u)" = 0 ] || missing="root"
[ -c /dev/fuse ] || missing="$missing /dev/fuse"
command -v fusermount3 >/dev/null || missing="$missing fusermount3"
if [ -n "$missing" ]; then
    if [ "${CI:-}" = true ]; then
        echo "integration tests need: $missing (CI=true: this is a failure)"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "integration tests skipped, missing: $missing"
    exit 0
fi

# shellcheck source=lib.sh
. "$here/lib.sh"
trap cleanup_all EXIT
for f in "$here"/test_*.sh; do . "$f"; done

pattern=${1:-}
passed=0 failed=0 failures=()
for t in $(declare -F | awk '{ print $3 }' | grep '^test_' | sort); do
    [ -n "$pattern" ] && [[ $t != *$pattern* ]] && continue
    start=$(date +%s%N)
    # Each test in its own subshell: set -e stops it at the first failed
    # step, and its trap removes what it mounted whatever happened.
    ( set -eo pipefail; trap cleanup_test EXIT; "$t" )
    if [ $? = 0 ]; then
        passed=$((passed + 1)); result=ok
    else
        failed=$((failed + 1)); failures+=("$t"); result=FAILED
    fi
    printf '%-50s %s (%d ms)\n' "$t" "$result" $(( ($(date +%s%N) - start) / 1000000 ))
done
for t in "${failures[@]}"; do echo "failed: $t"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
