# Shared by scripts/setup and scripts/test: find Swift, install what the
# build and the tests need from Debian, only when missing.
# shellcheck shell=bash

if ! command -v swift >/dev/null && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi

# The Swift driver leaves an empty TemporaryDirectory.* in $TMPDIR each
# time it runs (swiftc -print-target-info): a test run left thousands in
# /tmp. Ours stay in the build tree of the directory swift runs in.
swift() { mkdir -p .build/tmp && TMPDIR="$PWD/.build/tmp" command swift "$@"; }

DEBIAN_PACKAGES=(libfuse3-dev fuse3 libcap-dev libseccomp-dev iproute2 util-linux procps tree python3 make gcc rsync tar coreutils busybox-static nftables mmdebstrap)
# Only for the tests: the engines that drive nsfs-oci (issue 27).
TEST_PACKAGES=(podman containerd)

# ensure_deps [test]: what the build (and, with `test`, the tests) needs.
ensure_deps() {
    command -v swift >/dev/null || { echo "swift not found: install Swift 6 (e.g. to /opt/swift)"; return 1; }
    local missing=() p wanted=("${DEBIAN_PACKAGES[@]}")
    [ "${1:-}" != test ] || wanted+=("${TEST_PACKAGES[@]}")
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    [ -c /dev/fuse ] || modprobe fuse 2>/dev/null || true
}
