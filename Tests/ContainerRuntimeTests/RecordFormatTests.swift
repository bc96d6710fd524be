import Testing
@testable import ContainerRuntime

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
