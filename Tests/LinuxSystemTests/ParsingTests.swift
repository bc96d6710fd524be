import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import LinuxSystem

@Suite struct ProcParsing {
    @Test func mountinfo() {
        let text = """
        22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        50 22 0:50 / /mnt/with\\040space rw - fuse.namespacefs namespacefs rw
        """
        let m = MountInfo.parse(text)
        #expect(m.count == 3)
        #expect(Cgroup2.mountPoint(in: m) == "/sys/fs/cgroup/unified")
        #expect(m[2].mountPoint == "/mnt/with space")
        #expect(m[2].fsType == "fuse.namespacefs")
        #expect(Cgroup2.mountPoint(in: Array(m.prefix(1))) == nil)
        #expect(m[2].device == "0:50" && m[2].superOptions == "rw")
    }

    @Test func anOverlaysLayersTopFirst() {
        let podman = "rw,lowerdir=/s/l/A:/s/l/B,upperdir=/s/c/diff,workdir=/s/c/work,uuid=on"
        #expect(MountInfo.overlayLayers(podman) == ["/s/c/diff", "/s/l/A", "/s/l/B"])
        #expect(MountInfo.overlayLayers("ro,lowerdir=/a:/b") == ["/a", "/b"])
        // relative (mounted from the storage's directory), escaped, data-only: not for sure
        #expect(MountInfo.overlayLayers("rw,lowerdir=l/A:l/B,upperdir=../c/diff") == nil)
        #expect(MountInfo.overlayLayers("rw,lowerdir=/a\\:b") == nil)
        #expect(MountInfo.overlayLayers("rw,lowerdir=/a::/data") == nil)
        #expect(MountInfo.overlayLayers("rw,lowerdir+=/a,datadir+=/d") == nil)
        #expect(MountInfo.overlayLayers("rw,upperdir=/u") == nil)
    }

    @Test func deviceNumbersAsMountinfoWritesThem() {
        #expect(MountInfo.deviceName(0x0801) == "8:1")
        #expect(MountInfo.deviceName(50) == "0:50")
        // major 259, minor 65536 + 3 (large numbers split across the word)
        #expect(MountInfo.deviceName((259 & 0xfff) << 8 | 3 | (65536 & ~0xff) << 12) == "259:65539")
    }

    @Test func cgroupStatKeysAndProcStatFields() throws {
        let stat = Array("usage_usec 52314\nuser_usec 1\nusage_usec_x 9\n".utf8)
        #expect(CgroupDirectory.parseStat(stat, key: "usage_usec") == 52314)
        #expect(CgroupDirectory.parseStat(stat, key: "system_usec") == nil)
        // comm may hold spaces and parentheses; field 4 is the parent
        let line = Array("4242 (a (b) c) S 17 4242 4242 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 99123 0".utf8)
        #expect(try ProcStat.parseField(4, line[...]) == 17)
        #expect(try ProcStat.parseField(22, line[...]) == 99123)
    }

    @Test func aProcessOnItsWayOut() {
        // flags (field 9) 0x400140 running; with PF_EXITING (0x4) set; a zombie
        let running = Array("77 (name) S 1 77 77 0 -1 4194624 1 2 3 4".utf8)[...]
        let exiting = Array("77 (a) b) S 1 77 77 0 -1 4194628 1 2 3 4".utf8)[...]
        let zombie = Array("77 (name) Z 1 77 77 0 -1 4194624 1 2 3 4".utf8)[...]
        #expect(!ProcStat.isExiting(running))
        #expect(ProcStat.isExiting(exiting))
        #expect(ProcStat.isExiting(zombie))
        #expect(!ProcStat.isExiting(Array("garbage".utf8)[...]))
    }

    @Test func lockFileNamesAreOneToOne() {
        #expect(HolderLock.fileName(for: "/a/b") == "%2Fa%2Fb")
        #expect(HolderLock.fileName(for: "/a%2Fb") != HolderLock.fileName(for: "/a/b"))
    }

    @Test func ownCgroup() throws {
        #expect(try Cgroup2.parseOwnPath("1:cpu:/\n0::/system.slice/x.service\n") == "/system.slice/x.service")
        #expect(throws: Errno.invalid) { try Cgroup2.parseOwnPath("1:cpu:/\n") }   // not "gone": the process is there
    }

    @Test func startTimeSkipsTrickyCommand() throws {
        let stat = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10"
        #expect(try ProcStat.parseStartTime(stat) == 987654)
        #expect(throws: Errno.invalid) { try ProcStat.parseStartTime("garbage") }
    }

    @Test func rfc3339() {
        #expect(SystemTime.rfc3339(nanoseconds: 0) == "1970-01-01T00:00:00Z")
        #expect(SystemTime.rfc3339(nanoseconds: 1_763_821_642_500_000_000) == "2025-11-22T14:27:22Z")
    }
}

@Suite struct CgroupV1Parsing {
    @Test func pidsHierarchyAndPath() {
        let mounts = MountInfo.parse("""
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """)
        #expect(CgroupV1.mountPoint(of: "pids", in: mounts) == "/sys/fs/cgroup/pids")
        #expect(CgroupV1.mountPoint(of: "memory", in: mounts) == nil)
        let own = "12:pids:/nsfs/ns-1\n5:cpu,cpuacct:/x\n0::/unified/path\n"
        #expect(CgroupV1.parsePath(own, controller: "pids") == "/nsfs/ns-1")
        #expect(CgroupV1.parsePath(own, controller: "cpuacct") == "/x")
        #expect(CgroupV1.parsePath(own, controller: "memory") == nil)
    }
}

@Suite struct LimitsParsing {
    @Test func maxProcesses() {
        let text = """
        Limit                     Soft Limit           Hard Limit           Units
        Max cpu time              unlimited            unlimited            seconds
        Max processes             150                  300                  processes
        """
        #expect(ResourceLimits.parseProcesses(text) == 150)
        #expect(ResourceLimits.parseProcesses("Max processes             unlimited            unlimited            processes") == nil)
        #expect(ResourceLimits.parseProcesses("Max open files 10 10 files") == nil)
    }
}

@Suite struct SignalNames {
    @Test func namesNumbersAndPrefixes() {
        #expect(SignalName.number(of: "TERM") == SIGTERM)
        #expect(SignalName.number(of: "SIGTERM") == SIGTERM)
        #expect(SignalName.number(of: "term") == SIGTERM)
        #expect(SignalName.number(of: "sigusr1") == SIGUSR1)
        #expect(SignalName.number(of: "9") == SIGKILL)
        #expect(SignalName.number(of: "64") == 64)
    }

    @Test(arguments: ["", "0", "65", "-1", "BOGUS", "SIG", "TERM ", " 15"])
    func refused(_ text: String) {
        #expect(SignalName.number(of: text) == nil)
    }
}
