import ContainerTree
import LinuxSystem

/// What the daemon must remember to rebuild the tree after an unmount or a
/// crash: one small text file per container, replaced atomically (temporary
/// file + rename), so a crash leaves either the old or the new record.
/// No fsync: the containers it names do not survive a power loss either, and
/// a daemon crash loses nothing that reached the page cache.
///
/// Format (version 1), `STATE_DIR/containers/<id>`:
///
///     namespacefs-container 1
///     id: 3f9c2a7b1d04e851
///     serial: 7
///     name: web
///     parent: 9a1b2c3d4e5f6071        ("-" for a top-level container)
///     created: 1763821642123456789     (ns since the epoch)
///     init-pid: 4242                   (daemon's pid namespace)
///     init-start: 1234567              (/proc/PID/stat field 22)
///     pidns: 4026532190                (NS_GET_ID of the init's pid namespace)
///     cgroup: /namespacefs/ns-3f9c2a7b1d04e851   (relative to the cgroup2 mount)
///     state: running                   ("creating" until mkdir completed)
///     owner: 1000:1000                 (chown: delegates the subtree; optional, 0:0)
///
/// mkdir writes a `creating` record (init fields 0, file `<id>.creating`)
/// before it makes the cgroup and the init, then the `running` one (`<id>`)
/// and removes the first: a crash in between leaves a record that says
/// exactly what to undo. Both are new files written in place (O_EXCL, no
/// temporary + rename: that cost 0.2 ms each on ext4). A torn `creating`
/// record means the crash came before its cgroup existed; a torn `<id>`
/// still has its `creating` record beside it, and is undone by it. Changes
/// to a record (mv, chown) replace it atomically (temporary + rename).
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
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first else { throw .empty }
        guard first == Self.header else { throw .unknownVersion(String(first)) }
        var f: [String: String] = [:]
        for l in lines.dropFirst() {
            guard let colon = l.firstIndex(of: ":") else { throw .bad(String(l)) }
            let v = l[l.index(after: colon)...]
            f[String(l[..<colon])] = String(v.hasPrefix(" ") ? v.dropFirst() : v)
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

public struct StateStore: Sendable {
    public let directory: String
    var containersDirectory: String { directory + "/containers" }
    var configPath: String { directory + "/namespacefs.conf" }

    public init(directory: String) { self.directory = directory }

    public func prepare() throws(Errno) {
        try FileIO.makeDirectories(containersDirectory, mode: 0o700)
    }

    func path(_ id: UInt64, creating: Bool) -> String {
        containersDirectory + "/" + hex(id) + (creating ? ".creating" : "")
    }

    /// A new record (mkdir's two steps): written in place.
    public func create(_ r: ContainerRecord) throws(Errno) {
        try FileIO.create(path(r.id, creating: r.creating), with: Array(r.text.utf8))
        if !r.creating { try? FileIO.remove(path(r.id, creating: true)) }
    }

    /// A changed record (rename, chown, re-adoption): replaced atomically.
    public func save(_ r: ContainerRecord) throws(Errno) {
        try FileIO.replaceAtomically(path(r.id, creating: r.creating), with: Array(r.text.utf8))
        if !r.creating { try? FileIO.remove(path(r.id, creating: true)) }
    }

    public func delete(id: UInt64) {
        try? FileIO.remove(path(id, creating: false))
        try? FileIO.remove(path(id, creating: true))
    }

    public struct LoadResult: Sendable {
        public var records: [ContainerRecord] = []
        public var problems: [String] = []
    }

    /// Every readable record; unreadable ones are reported, never guessed at.
    public func load() -> LoadResult {
        var out = LoadResult()
        let names: [String]
        do throws(Errno) { names = try FileIO.listDirectory(containersDirectory) } catch {
            if error != .noEntry { out.problems.append("cannot read \(containersDirectory): \(error)") }
            return out
        }
        let present = Set(names)
        for n in names.sorted() {
            let path = containersDirectory + "/" + n
            if n.hasSuffix(".tmp") { try? FileIO.remove(path); continue }
            // mkdir finished writing `<id>` only if it parses; its `creating`
            // twin is then stale. If `<id>` is torn, the twin decides (undo).
            if n.hasSuffix(".creating"), present.contains(String(n.dropLast(".creating".count))),
               (try? ContainerRecord.parse(try FileIO.readString(containersDirectory + "/" + String(n.dropLast(".creating".count))))) != nil {
                try? FileIO.remove(path)
                continue
            }
            if !n.hasSuffix(".creating"), present.contains(n + ".creating"),
               (try? ContainerRecord.parse(try FileIO.readString(path))) == nil {
                try? FileIO.remove(path)
                continue
            }
            do {
                let r = try ContainerRecord.parse(try FileIO.readString(path))
                if hex(r.id) + (r.creating ? ".creating" : "") != n {
                    out.problems.append("\(path): id or state does not match the file name"); continue
                }
                out.records.append(r)
            } catch let e as ContainerRecord.ParseError {
                out.problems.append("\(path): unreadable record (\(e))")
            } catch {
                out.problems.append("\(path): \(error)")
            }
        }
        return out
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
