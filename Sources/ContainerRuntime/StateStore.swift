import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// What the daemon must remember to rebuild the tree after an unmount or a
/// crash: one record per container, in a file of fixed 4 KiB slots,
/// `STATE_DIR/records`. Slot 0 holds the header `namespacefs-records 2`;
/// every other slot is free (zeros) or holds one record as text (below),
/// zero-padded. A record is written with one pwrite(2) of its whole,
/// page-aligned slot: a daemon crash cannot tear a single-page write, so a
/// slot holds the old record or the new one, never a mix (a machine crash
/// empties /run anyway). No file is created, renamed or removed per
/// container: on ext4 (this /run) each of those cost 20-200 µs, a pwrite
/// 1-2 µs; and a restart reads one file, not one per container.
/// No fsync: the containers it names do not survive a power loss either.
///
/// Record (version 1):
///
///     namespacefs-container 1
///     id: 3f9c2a7b1d04e851
///     serial: 7
///     name: web
///     parent: 9a1b2c3d4e5f6071        ("-" for a top-level container)
///     created: 1763821642123456789     (ns since the epoch)
///     init-pid: 4242                   (daemon's pid namespace)
///     init-start: 0                    (/proc/PID/stat field 22; 0: not recorded, the pidns decides)
///     pidns: 4026532190                (NS_GET_ID of the init's pid namespace)
///     cgroup: /namespacefs/ns-3f9c2a7b1d04e851   (relative to the cgroup2 mount)
///     state: running                   ("creating" until mkdir completed)
///     owner: 1000:1000                 (chown: delegates the subtree; optional, 0:0)
///
/// mkdir writes a `creating` record (init fields 0) before it makes the
/// cgroup and the init, then overwrites the same slot with the `running`
/// one: a crash in between leaves a record that says exactly what to undo.
/// mv and chown overwrite the slot; rmdir zeroes it.
///
/// Daemons before this format kept one file per record in
/// `STATE_DIR/containers/` (`<id>`, and `<id>.creating` during mkdir): such
/// a directory is read once and moved into slots.
///
/// `STATE_DIR/namespacefs.conf` holds `namespacefs-state 1` and the cgroup
/// root the containers live under.
public struct ContainerRecord: Sendable, Equatable {
    public var id: UInt64
    public var serial: UInt64
    public var name: String
    public var parent: UInt64?
    public var created: Int64
    public var initPid: Int32
    public var initStartTime: UInt64
    public var pidNamespace: UInt64
    public var cgroup: String
    public var creating = false
    /// Owner (chown delegates the subtree); root by default.
    public var ownerUID: UInt32 = 0
    public var ownerGID: UInt32 = 0

    public static let header = "namespacefs-container 1"

    public var text: String {
        """
        \(Self.header)
        id: \(hex(id))
        serial: \(serial)
        name: \(name)
        parent: \(parent.map(hex) ?? "-")
        created: \(created)
        init-pid: \(initPid)
        init-start: \(initStartTime)
        pidns: \(pidNamespace)
        cgroup: \(cgroup)
        state: \(creating ? "creating" : "running")
        owner: \(ownerUID):\(ownerGID)

        """
    }

    public enum ParseError: Error, Equatable { case empty, unknownVersion(String), missing(String), bad(String) }

    public static func parse(_ text: String) throws(ParseError) -> ContainerRecord {
        // Bytes, not Characters: a restart parses every record (10,000 here).
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        guard let first = lines.first else { throw .empty }
        guard first.elementsEqual(Self.header.utf8) else { throw .unknownVersion(String(decoding: first, as: UTF8.self)) }
        var f: [String: String] = [:]
        for l in lines.dropFirst() {
            guard let colon = l.firstIndex(of: UInt8(ascii: ":")) else { throw .bad(String(decoding: l, as: UTF8.self)) }
            var v = l[l.index(after: colon)...]
            if v.first == UInt8(ascii: " ") { v = v.dropFirst() }
            f[String(decoding: l[..<colon], as: UTF8.self)] = String(decoding: v, as: UTF8.self)
        }
        func req(_ k: String) throws(ParseError) -> String {
            guard let v = f[k] else { throw .missing(k) }
            return v
        }
        func num<T: FixedWidthInteger>(_ k: String, radix: Int = 10) throws(ParseError) -> T {
            guard let v = T(try req(k), radix: radix) else { throw .bad(k) }
            return v
        }
        func state() throws(ParseError) -> Bool {
            switch f["state"] ?? "running" {
            case "running": return false
            case "creating": return true
            default: throw .bad("state")
            }
        }
        var owner: (UInt32, UInt32) = (0, 0)
        if let o = f["owner"] {
            let parts = o.split(separator: ":")
            guard parts.count == 2, let u = UInt32(parts[0]), let g = UInt32(parts[1]) else { throw .bad("owner") }
            owner = (u, g)
        }
        let parentText = try req("parent")
        let parent: UInt64? = parentText == "-" ? nil : UInt64(parentText, radix: 16)
        if parentText != "-" && parent == nil { throw .bad("parent") }
        let name = try req("name")
        guard case .success = ContainerName.validate(name) else { throw .bad("name") }
        return ContainerRecord(id: try num("id", radix: 16), serial: try num("serial"), name: name,
                               parent: parent, created: try num("created"), initPid: try num("init-pid"),
                               initStartTime: try num("init-start"), pidNamespace: try num("pidns"),
                               cgroup: try req("cgroup"), creating: try state(),
                               ownerUID: owner.0, ownerGID: owner.1)
    }
}

public func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

public final class StateStore: @unchecked Sendable {
    public let directory: String
    var recordsPath: String { directory + "/records" }
    var legacyDirectory: String { directory + "/containers" }
    var configPath: String { directory + "/namespacefs.conf" }

    static let slotSize = 4096
    static let header = "namespacefs-records 2"
    /// Slots are added this many at a time (a sparse extension of the file).
    static let growth = 256

    private let lock = Lock()
    private var file: FileDescriptor?
    /// Slots in the file, header included.
    private var slotCount = 0
    private var slotOf: [UInt64: Int] = [:]
    private var free: [Int] = []

    public init(directory: String) { self.directory = directory }

    deinit { file?.close() }

    /// The directory and the records file (created with its header).
    public func prepare() throws(Errno) {
        try FileIO.makeDirectories(directory, mode: 0o700)
        let fd = try FileDescriptor.open(recordsPath, O_RDWR | O_CREAT, mode: 0o600)
        let size = try fd.size()
        if size == 0 {
            do throws(Errno) { try Self.writeSlot(fd, 0, Self.header + "\n") } catch { fd.close(); throw error }
        }
        lock.withLock {
            file = fd
            slotCount = max(1, (size + Self.slotSize - 1) / Self.slotSize)
        }
    }

    /// mkdir's first step: a `creating` record in a free slot.
    public func begin(_ r: ContainerRecord) throws(Errno) -> Pending {
        precondition(r.creating)
        try lock.withLock { () throws(Errno) in
            guard slotOf[r.id] == nil else { throw Errno.exists }
            let slot = try allocate()
            do throws(Errno) { try write(r, to: slot) } catch { free.append(slot); throw error }
            slotOf[r.id] = slot
        }
        return Pending(store: self, id: r.id)
    }

    /// A `creating` record on disk, until mkdir commits or abandons it.
    public final class Pending {
        let store: StateStore
        let id: UInt64

        init(store: StateStore, id: UInt64) {
            self.store = store
            self.id = id
        }

        /// mkdir's second step: the `running` record, over the same slot.
        public func commit(_ r: ContainerRecord) throws(Errno) {
            precondition(!r.creating && r.id == id)
            try store.save(r)
        }

        /// mkdir failed: no record.
        public func abandon() { store.delete(id: id) }
    }

    /// A changed record (rename, chown, re-adoption), over its slot.
    public func save(_ r: ContainerRecord) throws(Errno) {
        try lock.withLock { () throws(Errno) in
            let slot: Int
            if let s = slotOf[r.id] { slot = s } else { slot = try allocate() }
            do throws(Errno) { try write(r, to: slot) } catch {
                if slotOf[r.id] == nil { free.append(slot) }
                throw error
            }
            slotOf[r.id] = slot
        }
    }

    public func delete(id: UInt64) {
        lock.withLock {
            guard let slot = slotOf.removeValue(forKey: id), let file else { return }
            // A failed write leaves the record: the next adoption finds its
            // container gone and drops it.
            if (try? Self.writeSlot(file, slot, "")) != nil { free.append(slot) }
        }
    }

    /// How many records are stored.
    public var count: Int { lock.withLock { slotOf.count } }

    private func write(_ r: ContainerRecord, to slot: Int) throws(Errno) {
        guard let file else { throw Errno.badDescriptor }
        try Self.writeSlot(file, slot, r.text)
    }

    /// Under the lock: a free slot, growing the file when there is none.
    private func allocate() throws(Errno) -> Int {
        if let s = free.popLast() { return s }
        guard let file else { throw Errno.badDescriptor }
        let first = slotCount
        try file.truncate(to: (slotCount + Self.growth) * Self.slotSize)
        slotCount += Self.growth
        free = Array((first + 1..<slotCount).reversed())
        return first
    }

    /// One pwrite of a whole slot: `text`, zero-padded.
    static func writeSlot(_ fd: FileDescriptor, _ slot: Int, _ text: String) throws(Errno) {
        var page = [UInt8](repeating: 0, count: slotSize)
        let bytes = Array(text.utf8)
        guard bytes.count < slotSize else { throw Errno(ENAMETOOLONG) }
        page.replaceSubrange(0..<bytes.count, with: bytes)
        guard try fd.pwrite(page, at: slot * slotSize) == slotSize else { throw Errno.io }
    }

    public struct LoadResult: Sendable {
        public var records: [ContainerRecord] = []
        public var problems: [String] = []
    }

    /// Every readable record; unreadable ones are reported, never guessed
    /// at, and their slots freed (the containers are rebuilt from cgroups).
    public func load() -> LoadResult {
        var out = LoadResult()
        var legacy = loadLegacy(&out)
        lock.withLock {
            guard let file else { out.problems.append("\(recordsPath) is not open"); return }
            let bytes: [UInt8]
            do throws(Errno) { bytes = try file.preadAll(sizeHint: file.size() + 1) } catch {
                out.problems.append("cannot read \(recordsPath): \(error)")
                return
            }
            let header = bytes.prefix(Self.slotSize).prefix { $0 != 0 }
            guard String(decoding: header, as: UTF8.self) == Self.header + "\n" else {
                out.problems.append("\(recordsPath): unknown format (\(String(decoding: header.prefix(40), as: UTF8.self)))")
                return
            }
            slotCount = max(1, (bytes.count + Self.slotSize - 1) / Self.slotSize)
            slotOf = [:]
            free = []
            var corrupt: [Int] = []
            for slot in 1..<slotCount {
                let start = slot * Self.slotSize
                let page = bytes[start..<min(bytes.count, start + Self.slotSize)]
                let text = page.prefix { $0 != 0 }
                if text.isEmpty { free.append(slot); continue }
                do {
                    let r = try ContainerRecord.parse(String(decoding: text, as: UTF8.self))
                    if slotOf[r.id] != nil { throw ContainerRecord.ParseError.bad("duplicate id \(hex(r.id))") }
                    slotOf[r.id] = slot
                    out.records.append(r)
                } catch let e as ContainerRecord.ParseError {
                    out.problems.append("\(recordsPath) slot \(slot): unreadable record (\(e))")
                    corrupt.append(slot)
                } catch {
                    corrupt.append(slot)
                }
            }
            for slot in corrupt where (try? Self.writeSlot(file, slot, "")) != nil { free.append(slot) }
            free.reverse()
        }
        // Records of an older daemon move into slots (once).
        legacy.removeAll { r in out.records.contains { $0.id == r.id } }
        for r in legacy where (try? save(r)) != nil { out.records.append(r) }
        if FileIO.isDirectory(legacyDirectory), out.problems.allSatisfy({ !$0.hasPrefix(legacyDirectory) }) {
            for n in (try? FileIO.listDirectory(legacyDirectory)) ?? [] { try? FileIO.remove(legacyDirectory + "/" + n) }
            _ = rmdir(legacyDirectory)
        }
        return out
    }

    /// The one-file-per-record store of older daemons, if present.
    private func loadLegacy(_ out: inout LoadResult) -> [ContainerRecord] {
        guard let names = try? FileIO.listDirectory(legacyDirectory) else { return [] }
        var records: [ContainerRecord] = []
        let present = Set(names)
        for n in names.sorted() {
            let path = legacyDirectory + "/" + n
            if n.hasSuffix(".tmp") { continue }
            // mkdir finished writing `<id>` only if it parses; its `creating`
            // twin is then stale. If `<id>` is torn, the twin decides (undo).
            let base = n.hasSuffix(".creating") ? String(n.dropLast(".creating".count)) : n
            if n.hasSuffix(".creating"), present.contains(base),
               (try? ContainerRecord.parse(try FileIO.readString(legacyDirectory + "/" + base))) != nil { continue }
            if !n.hasSuffix(".creating"), present.contains(n + ".creating"),
               (try? ContainerRecord.parse(try FileIO.readString(path))) == nil { continue }
            do {
                let r = try ContainerRecord.parse(try FileIO.readString(path))
                if n != hex(r.id) && !(r.creating && n == hex(r.id) + ".creating") {
                    out.problems.append("\(path): id or state does not match the file name"); continue
                }
                records.append(r)
            } catch let e as ContainerRecord.ParseError {
                out.problems.append("\(path): unreadable record (\(e))")
            } catch {
                out.problems.append("\(path): \(error)")
            }
        }
        return records
    }

    /// The cgroup root recorded by an earlier mount, if any.
    public func recordedCgroupRoot() -> String? {
        guard let text = try? FileIO.readString(configPath) else { return nil }
        let lines = text.split(separator: "\n")
        guard lines.first == "namespacefs-state 1" else { return nil }
        for l in lines where l.hasPrefix("cgroup-root: ") { return String(l.dropFirst("cgroup-root: ".count)) }
        return nil
    }

    public func recordCgroupRoot(_ root: String) throws(Errno) {
        try FileIO.replaceAtomically(configPath, with: Array("namespacefs-state 1\ncgroup-root: \(root)\n".utf8))
    }
}
