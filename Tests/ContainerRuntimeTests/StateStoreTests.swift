import Testing
@testable import ContainerRuntime
@testable import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The store's crash states, on a scratch directory (no root needed).
@Suite final class StateStoreCrashStates {
    let store: StateStore
    let dir: String

    deinit {
        for n in (try? FileIO.listDirectory(dir)) ?? [] { try? FileIO.remove(dir + "/" + n) }
        _ = rmdir(dir)
    }

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

    /// What a restarted daemon reads.
    func reload() throws -> StateStore.LoadResult {
        let s = StateStore(directory: dir)
        try s.prepare()
        return s.load()
    }

    /// Raw bytes into slot `slot` of the records file (as an editor would).
    func overwrite(slot: Int, _ text: String) throws {
        let fd = try FileDescriptor.open(dir + "/records", O_RDWR)
        defer { fd.close() }
        var page = [UInt8](repeating: 0, count: StateStore.slotSize)
        page.replaceSubrange(0..<text.utf8.count, with: Array(text.utf8))
        _ = try fd.pwrite(page, at: slot * StateStore.slotSize)
    }

    @Test func namesOfTheHostsSetsSurviveARestartAndBadLinesAreSkipped() throws {
        let names: [[UInt64]: String] = [[1, 2, 3, 4, 5, 6, 7, 8]: "hostnet", [9, 2, 3, 4, 5, 6, 7, 8]: "with space"]
        try store.saveHostSetNames(names)
        #expect(StateStore(directory: dir).hostSetNames() == names)
        try FileIO.replaceAtomically(dir + "/host-set-names", with: Array("1,2 short\n1,2,3,4,5,6,7,8 ..\n".utf8))
        #expect(StateStore(directory: dir).hostSetNames().isEmpty)
    }

    @Test func completedMkdirLeavesOneRunningRecord() throws {
        try store.begin(record(1, creating: true)).commit(record(1, creating: false))
        let loaded = try reload()
        #expect(loaded.records == [record(1, creating: false)])
        #expect(loaded.problems.isEmpty)
    }

    @Test func crashInsideMkdirLeavesTheCreatingRecord() throws {
        _ = try store.begin(record(10, creating: true))   // the daemon dies before commit
        #expect(try reload().records == [record(10, creating: true)])
    }

    @Test func abandonedMkdirAndRmdirLeaveNothing() throws {
        try store.begin(record(11, creating: true)).abandon()
        try store.begin(record(12, creating: true)).commit(record(12, creating: false))
        store.delete(id: 12)
        #expect(try reload().records.isEmpty)
        #expect(store.count == 0)
    }

    @Test func freedSlotsAreReusedAndTheFileGrowsWhenFull() throws {
        let n = StateStore.growth + 10
        for i in 0..<n { try store.begin(record(UInt64(100 + i), creating: true)).commit(record(UInt64(100 + i), creating: false)) }
        let size = try FileDescriptor.open(dir + "/records", O_RDONLY).size()
        for i in 0..<10 { store.delete(id: UInt64(100 + i)) }
        for i in 0..<10 { try store.begin(record(UInt64(900 + i), creating: true)).commit(record(UInt64(900 + i), creating: false)) }
        #expect(try FileDescriptor.open(dir + "/records", O_RDONLY).size() == size)
        #expect(try reload().records.count == n)
    }

    @Test func corruptSlotsAreReportedNotGuessedAndFreed() throws {
        for i in 1...4 { try store.begin(record(UInt64(i), creating: true)).commit(record(UInt64(i), creating: false)) }
        try overwrite(slot: 1, "garbage")
        try overwrite(slot: 2, "namespacefs-container 2\nid: 5\n")
        try overwrite(slot: 3, String(record(3, creating: false).text.prefix(40)))
        let s = StateStore(directory: dir)
        try s.prepare()
        let loaded = s.load()
        #expect(loaded.records == [record(4, creating: false)])
        #expect(loaded.problems.count == 3)
        #expect(try reload().problems.isEmpty)   // their slots were freed
    }

    @Test func changesOverwriteInPlace() throws {
        try store.begin(record(8, creating: true)).commit(record(8, creating: false))
        var r = record(8, creating: false)
        r.name = "renamed"
        r.ownerUID = 1000
        try store.save(r)
        #expect(try reload().records == [r])
    }

    @Test func newRecordsNeverOverwrite() throws {
        _ = try store.begin(record(9, creating: true))
        #expect(throws: Errno.exists) { _ = try store.begin(record(9, creating: true)) }
    }

    @Test func aRecordAtTheNestingLimitFitsOneSlot() {
        // 255-byte name, cgroup 33 levels deep (pid namespaces nest 32).
        var r = record(12, creating: false)
        r.name = String(repeating: "n", count: 255)
        r.cgroup = String(repeating: "/ns-0123456789abcdef", count: 33)
        #expect(r.text.utf8.count < StateStore.slotSize)
    }
}
