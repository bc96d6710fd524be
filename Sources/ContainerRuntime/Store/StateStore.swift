import ContainerTree
import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The records file (format: ContainerRecord.swift). One implementation,
/// used by the daemon, by `nsfs-records` (inspection, the tests'
/// consistency checker and the tests that damage records).
package final class StateStore: Sendable {
    package let directory: String
    package var recordsPath: String { directory + "/records" }
    var configPath: String { directory + "/namespacefs.conf" }

    package static let slotSize = 4096
    static let header = "namespacefs-records 2"
    /// Slots are added this many at a time (a sparse extension of the file).
    static let growth = 256

    private struct Slots {
        var file: OwnedDescriptor?
        /// Slots in the file, header included.
        var count = 0
        var slotOf: [UInt64: Int] = [:]
        var free: [Int] = []
    }
    private let slots = Mutex(Slots())

    package init(directory: String) { self.directory = directory }

    /// The directory and the records file (created with its header).
    package func prepare() throws(Errno) {
        try FileIO.makeDirectories(directory, mode: 0o700)
        let fd = OwnedDescriptor(try FileDescriptor.open(recordsPath, O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600))
        let size = try fd.fd.size()
        if size == 0 { try Self.writeSlot(fd.fd, 0, Self.header + "\n") }
        slots.withLock {
            $0.file = fd
            $0.count = max(1, (size + Self.slotSize - 1) / Self.slotSize)
        }
    }

    /// mkdir's first step: a `creating` record in a free slot.
    package func begin(_ r: ContainerRecord) throws(Errno) -> Pending {
        precondition(r.creating)
        try slots.withLock { (s) throws(Errno) in
            guard s.slotOf[r.id] == nil else { throw Errno.exists }
            let slot = try Self.allocate(&s)
            do throws(Errno) { try Self.write(r, to: slot, in: s) } catch { s.free.append(slot); throw error }
            s.slotOf[r.id] = slot
        }
        return Pending(store: self, id: r.id)
    }

    /// A `creating` record on disk, until mkdir commits or abandons it.
    package struct Pending: Sendable {
        let store: StateStore
        let id: UInt64

        /// mkdir's second step: the `running` record, over the same slot.
        package func commit(_ r: ContainerRecord) throws(Errno) {
            precondition(!r.creating && r.id == id)
            try store.save(r)
        }

        /// mkdir failed: no record.
        package func abandon() { store.delete(id: id) }
    }

    /// A changed record (rename, chown, re-adoption), over its slot.
    package func save(_ r: ContainerRecord) throws(Errno) {
        try slots.withLock { (s) throws(Errno) in
            let slot: Int
            if let existing = s.slotOf[r.id] { slot = existing } else { slot = try Self.allocate(&s) }
            do throws(Errno) { try Self.write(r, to: slot, in: s) } catch {
                if s.slotOf[r.id] == nil { s.free.append(slot) }
                throw error
            }
            s.slotOf[r.id] = slot
        }
    }

    package func delete(id: UInt64) {
        slots.withLock { s in
            guard let slot = s.slotOf.removeValue(forKey: id), let file = s.file else { return }
            // A failed write leaves the record: the next adoption finds its
            // container gone and drops it.
            if bestEffort({ try Self.writeSlot(file.fd, slot, "") }) { s.free.append(slot) }
        }
    }

    /// How many records are stored.
    package var count: Int { slots.withLock { $0.slotOf.count } }

    private static func write(_ r: ContainerRecord, to slot: Int, in s: borrowing Slots) throws(Errno) {
        guard let file = s.file else { throw Errno.badDescriptor }
        try writeSlot(file.fd, slot, r.text)
    }

    /// A free slot, growing the file when there is none.
    private static func allocate(_ s: inout Slots) throws(Errno) -> Int {
        if let free = s.free.popLast() { return free }
        guard let file = s.file else { throw Errno.badDescriptor }
        let first = s.count
        try file.fd.truncate(to: (s.count + growth) * slotSize)
        s.count += growth
        s.free = Array((first + 1..<s.count).reversed())
        return first
    }

    /// One pwrite of a whole slot: `text`, zero-padded.
    package static func writeSlot(_ fd: FileDescriptor, _ slot: Int, _ text: String) throws(Errno) {
        try writeSlot(fd, slot, Array(text.utf8))
    }

    package static func writeSlot(_ fd: FileDescriptor, _ slot: Int, _ bytes: [UInt8]) throws(Errno) {
        var page = [UInt8](repeating: 0, count: slotSize)
        guard bytes.count < slotSize else { throw Errno(ENAMETOOLONG) }
        page.replaceSubrange(0..<bytes.count, with: bytes)
        guard try fd.pwrite(page, at: slot * slotSize) == slotSize else { throw Errno.io }
    }

    /// The non-empty slots of a records file's bytes: (slot, text).
    package static func occupiedSlots(_ bytes: [UInt8]) -> [(slot: Int, text: ArraySlice<UInt8>)] {
        var out: [(slot: Int, text: ArraySlice<UInt8>)] = []
        let n = (bytes.count + slotSize - 1) / slotSize
        for slot in 1..<max(1, n) {
            let start = slot * slotSize
            let text = bytes[start..<min(bytes.count, start + slotSize)].prefix { $0 != 0 }
            if !text.isEmpty { out.append((slot, text)) }
        }
        return out
    }

    package struct LoadResult: Sendable {
        package var records: [ContainerRecord] = []
        package var problems: [String] = []
    }

    /// Every readable record; unreadable ones are reported, never guessed
    /// at, and their slots freed (the containers are rebuilt from cgroups).
    package func load() -> LoadResult {
        slots.withLock { s in
            var out = LoadResult()
            guard let file = s.file else { out.problems.append("\(recordsPath) is not open"); return out }
            let bytes: [UInt8]
            do throws(Errno) { bytes = try file.fd.preadAll(sizeHint: file.fd.size() + 1) } catch {
                out.problems.append("cannot read \(recordsPath): \(error)")
                return out
            }
            let header = bytes.prefix(Self.slotSize).prefix { $0 != 0 }
            guard String(decoding: header, as: UTF8.self) == Self.header + "\n" else {
                out.problems.append("\(recordsPath): unknown format (\(String(decoding: header.prefix(40), as: UTF8.self)))")
                return out
            }
            s.count = max(1, (bytes.count + Self.slotSize - 1) / Self.slotSize)
            s.slotOf = [:]
            let occupied = Self.occupiedSlots(bytes)
            let taken = Set(occupied.map(\.slot))
            s.free = (1..<s.count).filter { !taken.contains($0) }
            var corrupt: [Int] = []
            for (slot, text) in occupied {
                do throws(ContainerRecord.ParseError) {
                    let r = try ContainerRecord.parse(String(decoding: text, as: UTF8.self))
                    if s.slotOf[r.id] != nil { throw .bad("duplicate id \(hex(r.id))") }
                    s.slotOf[r.id] = slot
                    out.records.append(r)
                } catch {
                    out.problems.append("\(recordsPath) slot \(slot): unreadable record (\(error))")
                    corrupt.append(slot)
                }
            }
            for slot in corrupt where bestEffort({ try Self.writeSlot(file.fd, slot, "") }) { s.free.append(slot) }
            s.free.reverse()
            return out
        }
    }

    /// The cgroup root recorded by an earlier mount, if any.
    var hostSetNamesPath: String { directory + "/host-set-names" }

    /// Names given with mv to the host's sets (-o discover=host), by the
    /// ids of the set's eight namespaces: `ID,ID,...,ID NAME` per line.
    /// Ids are never reused: a line of a set that is gone names nothing.
    package func hostSetNames() -> [[UInt64]: String] {
        guard let text = ifReadable({ try FileIO.readString(hostSetNamesPath) }) else { return [:] }
        var out: [[UInt64]: String] = [:]
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let ids = line[..<space].split(separator: ",").compactMap { UInt64($0) }
            let name = String(line[line.index(after: space)...])
            guard ids.count == NamespaceKind.allCases.count, case .success = ContainerName.validate(name) else { continue }
            out[ids] = name
        }
        return out
    }

    package func saveHostSetNames(_ names: [[UInt64]: String]) throws(Errno) {
        let text = names.map { "\($0.key.map(String.init).joined(separator: ",")) \($0.value)\n" }.sorted().joined()
        try FileIO.replaceAtomically(hostSetNamesPath, with: Array(text.utf8))
    }

    package func recordedCgroupRoot() -> String? { recorded("cgroup-root") }

    /// -o hostfs as the state directory remembers it.
    package func recordedHostFilesystem() -> HostFilesystem? { recorded("host-filesystem").flatMap(HostFilesystem.init(rawValue:)) }

    /// -o storage as the state directory remembers it.
    package func recordedStorage() -> String? { recorded("storage") }

    /// A `key: value` line of namespacefs.conf.
    func recorded(_ key: String) -> String? {
        guard let text = ifReadable({ try FileIO.readString(configPath) }) else { return nil }
        let lines = text.split(separator: "\n")
        guard lines.first == "namespacefs-state 1" else { return nil }
        for l in lines where l.hasPrefix(key + ": ") { return String(l.dropFirst(key.count + 2)) }
        return nil
    }

    /// What the next mount of this state directory starts from, unless told otherwise.
    package func recordConfiguration(cgroupRoot: String, hostFilesystem: HostFilesystem, storage: String) throws(Errno) {
        try FileIO.replaceAtomically(configPath, with: Array(
            "namespacefs-state 1\ncgroup-root: \(cgroupRoot)\nhost-filesystem: \(hostFilesystem.rawValue)\nstorage: \(storage)\n".utf8))
    }
}
