import Testing
@testable import LinuxSystem
@testable import ContainerRuntime

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
    }

    @Test func ownCgroup() throws {
        #expect(try Cgroup2.parseOwnPath("1:cpu:/\n0::/system.slice/x.service\n") == "/system.slice/x.service")
        #expect(throws: Errno.noEntry) { try Cgroup2.parseOwnPath("1:cpu:/\n") }
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

@Suite struct StateRecords {
    let sample = ContainerRecord(id: 0x3f9c2a7b1d04e851, serial: 7, name: "web 1", parent: 0x9a,
                                 created: 1_763_821_642_123_456_789, initPid: 4242, initStartTime: 1_234_567,
                                 pidNamespace: 4_026_532_190, cgroup: "/namespacefs/ns-3f9c2a7b1d04e851")

    @Test func roundTrip() throws {
        #expect(try ContainerRecord.parse(sample.text) == sample)
        var top = sample
        top.parent = nil
        #expect(try ContainerRecord.parse(top.text) == top)
    }

    @Test func corruptRecordsAreRefused() {
        #expect(throws: ContainerRecord.ParseError.empty) { try ContainerRecord.parse("") }
        #expect(throws: ContainerRecord.ParseError.unknownVersion("namespacefs-container 9")) {
            try ContainerRecord.parse("namespacefs-container 9\nid: 1\n")
        }
        let truncated = String(sample.text.prefix(60))
        #expect(throws: (any Error).self) { try ContainerRecord.parse(truncated) }
        var bad = sample
        bad.name = ".."
        let badName = bad.text
        #expect(throws: ContainerRecord.ParseError.bad("name")) { try ContainerRecord.parse(badName) }
    }
}
