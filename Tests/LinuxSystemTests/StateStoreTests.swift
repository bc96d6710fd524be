import Testing
@testable import ContainerRuntime
@testable import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The store's crash states, on a scratch directory (no root needed).
@Suite struct StateStoreCrashStates {
    let store: StateStore
    let dir: String

    init() throws {
        var template = Array("/tmp/nsfs-store-test.XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        dir = String(cString: p!)
        store = StateStore(directory: dir)
        try store.prepare()
    }

    func record(_ id: UInt64, creating: Bool) -> ContainerRecord {
        ContainerRecord(id: id, serial: 3, name: "web", parent: nil, created: 1, initPid: creating ? 0 : 42,
                        initStartTime: creating ? 0 : 7, pidNamespace: creating ? 0 : 9,
                        cgroup: "/ns/ns-\(hex(id))", creating: creating)
    }

    func write(_ name: String, _ text: String) throws {
        try FileIO.create(dir + "/containers/" + name, with: Array(text.utf8))
    }

    @Test func completedMkdirLeavesOneRecord() throws {
        try store.create(record(1, creating: true))
        try store.create(record(1, creating: false))
        let loaded = store.load()
        #expect(loaded.records == [record(1, creating: false)])
        #expect(loaded.problems.isEmpty)
        #expect(try FileIO.listDirectory(dir + "/containers") == [hex(1)])
    }

    @Test func tornFinalRecordFallsBackToCreating() throws {
        try store.create(record(2, creating: true))
        try write(hex(2), String(record(2, creating: false).text.prefix(30)))
        let loaded = store.load()
        #expect(loaded.records == [record(2, creating: true)])
        #expect(loaded.problems.isEmpty)
    }

    @Test func staleCreatingTwinIsDropped() throws {
        try store.create(record(3, creating: false))
        try write(hex(3) + ".creating", record(3, creating: true).text)
        #expect(store.load().records == [record(3, creating: false)])
        #expect(try FileIO.listDirectory(dir + "/containers") == [hex(3)])
    }

    @Test func corruptRecordsAreReportedNotGuessed() throws {
        try write(hex(4), "")
        try write(hex(5), "namespacefs-container 2\nid: 5\n")
        try write(hex(6), record(7, creating: false).text)   // id does not match the name
        let loaded = store.load()
        #expect(loaded.records.isEmpty)
        #expect(loaded.problems.count == 3)
    }

    @Test func changesReplaceAtomically() throws {
        try store.create(record(8, creating: false))
        var r = record(8, creating: false)
        r.name = "renamed"
        r.ownerUID = 1000
        try store.save(r)
        #expect(store.load().records == [r])
        #expect(try FileIO.listDirectory(dir + "/containers") == [hex(8)])
    }

    @Test func newRecordsNeverOverwrite() throws {
        try store.create(record(9, creating: true))
        #expect(throws: Errno.exists) { try store.create(record(9, creating: true)) }
    }
}
