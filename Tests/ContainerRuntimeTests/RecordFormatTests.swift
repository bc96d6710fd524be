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

    @Test func aRootFilesystemIsRecordedAndChecked() throws {
        var r = sample
        #expect(!r.text.contains("root:"))
        r.root = "/srv/images/debian"
        #expect(r.text.contains("root: /srv/images/debian\n"))
        #expect(try ContainerRecord.parse(r.text) == r)
        let bad = r.text.replacing("root: /srv/images/debian", with: "root: srv")
        #expect(throws: ContainerRecord.ParseError.bad("root")) { try ContainerRecord.parse(bad) }
    }

    @Test func storageDirectoriesTheOverlayCanName() {
        #expect(RootFilesystems.storageRefusal("/var/lib/namespacefs") == nil)
        #expect(RootFilesystems.storageRefusal("var/lib") != nil)
        #expect(RootFilesystems.storageRefusal("/") != nil)
        #expect(RootFilesystems.storageRefusal("/srv/a,b") != nil)
        #expect(RootFilesystems.storageRefusal("/srv/a:b") != nil)
        #expect(RootFilesystems.storageRefusal("/srv/../etc") != nil)
    }

    @Test func theRequestThatWroteARecordLast() throws {
        var r = sample
        #expect(!r.text.contains("request:"))
        r.request = RequestTag(connection: 0x5b0e1f, unique: 8812)
        #expect(r.text.contains("request: 00000000005b0e1f 8812\n"))
        #expect(try ContainerRecord.parse(r.text) == r)
        let bad = r.text.replacing("request: 00000000005b0e1f 8812", with: "request: 8812")
        #expect(throws: ContainerRecord.ParseError.bad("request")) { try ContainerRecord.parse(bad) }
    }

    @Test func aNamedSetRecordsItsOriginViewAndAFreezeToUndo() throws {
        var named = sample
        named.fromSet = true
        named.ownView = false
        named.thawParent = true
        #expect(try ContainerRecord.parse(named.text) == named)
        named.thawParent = false
        #expect(!named.text.contains("thaw-parent"))
        #expect(try ContainerRecord.parse(named.text) == named)
        // a record written before sets existed: made by mkdir, its own view
        let old = sample.text.split(separator: "\n").filter { !$0.hasPrefix("origin") && !$0.hasPrefix("view") }.joined(separator: "\n")
        let parsed = try ContainerRecord.parse(old)
        #expect(!parsed.fromSet && parsed.ownView && !parsed.thawParent)
        let bad = sample.text.split(separator: "\n").map { $0 == "origin: mkdir" ? "origin: fork" : String($0) }.joined(separator: "\n")
        #expect(throws: ContainerRecord.ParseError.bad("origin")) { try ContainerRecord.parse(bad) }
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
