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
///     origin: set                      (optional: "mkdir" (default) or "set": a set
///                                       named by mv; its init only pins the set's
///                                       namespaces and is not their pid 1)
///     view: parent                     (optional: "own" (default) or "parent": the set
///                                       shares its parent's pid or mount namespace, so
///                                       its processes keep their container's view)
///     thaw-parent: 1                   (optional: the parent's cgroup was frozen by an
///                                       mv in progress; the next mount thaws it)
///     moving: 1                        (optional: an mv that named a set had not moved
///                                       all its processes yet; the next mount does)
///     ids: 524288 65536                (optional: the host uids and gids its user
///                                       namespace maps to 0..65535 inside; absent: it
///                                       shares the host's user namespace. "own": a
///                                       nested container's block of its own; "asked":
///                                       a range the host's root asked for, COUNT up
///                                       to 65536, its files not idmapped)
///     userns: 4026532301               (optional: NS_GET_ID of its user namespace)
///     mode: 1777                       (optional, octal: its directory's permission
///                                       bits; 755 when absent)
///     root: /srv/images/debian         (optional: its root filesystem's image, as the
///                                       host sees it; its own layer is STORAGE/<id>)
///     address: 10.88.0.5/16            (optional: its eth0's, on the bridge of -o network)
///     volume: /srv/data /data ro       (optional, repeated: a host directory bind-mounted
///                                       into it, see Volume)
///     request: 5b0e… 8812              (optional: the FUSE connection and request id
///                                       of the mkdir or mv that wrote it last: a
///                                       request the kernel sends again after a daemon
///                                       crash is answered as done, see RequestTag)
///
/// mkdir writes a `creating` record (init fields 0) before it makes the
/// cgroup and the init, then overwrites the same slot with the `running`
/// one: a crash in between leaves a record that says exactly what to undo.
/// mv and chown overwrite the slot; rmdir zeroes it.
///
/// `STATE_DIR/namespacefs.conf` holds `namespacefs-state 1` and the cgroup
/// root the containers live under.
package struct ContainerRecord: Sendable, Equatable {
    package var id: UInt64
    package var serial: UInt64
    package var name: String
    package var parent: UInt64?
    package var created: Int64
    package var initPid: Int32
    package var initStartTime: UInt64
    package var pidNamespace: UInt64
    package var cgroup: String
    package var creating = false
    /// Owner (chown delegates the subtree); root by default.
    package var ownerUID: UInt32 = 0
    package var ownerGID: UInt32 = 0
    /// Named by mv from a set (not made by mkdir).
    package var fromSet = false
    /// Callers in its pid namespace see its view (false: their container's).
    package var ownView = true
    /// An mv froze the parent's cgroup and had not thawed it yet.
    package var thawParent = false
    /// An mv had not moved all of the set's processes yet.
    package var moving = false
    /// The first host id its user namespace maps (uid and gid 0 inside),
    /// `IdPool.blockSize` of them; nil: the host's user namespace.
    package var idBase: UInt32?
    /// How many (`IdPool.blockSize` but for a range asked for).
    package var idCount: UInt32 = IdPool.blockSize
    /// The ids were asked for by the host's root (an engine's mapping),
    /// not given by the tree: files keep their owners (no idmapped root).
    package var idsAsked = false
    /// A container below the top whose block was taken from the pool for it
    /// (one made by a delegated user: its root must not be its parent's).
    package var ownsIds = false
    /// Is `idBase` its own block, to give back to the pool with it?
    package var ownsIdBlock: Bool { idBase != nil && (parent == nil || ownsIds) }
    /// NS_GET_ID of its user namespace (0: not recorded).
    package var userNamespace: UInt64 = 0
    /// Its directory's permission bits.
    package var mode: UInt16 = ContainerTree.defaultMode
    /// The request that made or renamed it last.
    package var request: RequestTag?
    /// Its root filesystem's image (nil: the host's files).
    package var root: String?
    /// Its eth0's address on the bridge (-o network), `A.B.C.D/N`.
    package var address: String?
    /// Host directories bind-mounted into it, in the order they came.
    package var volumes: [Volume] = []

    package static let header = "namespacefs-container 1"

    package var text: String {
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
        origin: \(fromSet ? "set" : "mkdir")
        view: \(ownView ? "own" : "parent")
        \(thawParent ? "thaw-parent: 1\n" : "")\(moving ? "moving: 1\n" : "")\(idBase.map { "ids: \($0) \(idCount)\(ownsIds && parent != nil ? " own" : "")\(idsAsked ? " asked" : "")\n" } ?? "")\(userNamespace != 0 ? "userns: \(userNamespace)\n" : "")\(mode != ContainerTree.defaultMode ? "mode: \(String(mode, radix: 8))\n" : "")\(request.map { "request: \(hex($0.connection)) \($0.unique)\n" } ?? "")\(root.map { "root: \($0)\n" } ?? "")\(address.map { "address: \($0)\n" } ?? "")\(volumes.map { "volume: \($0.line)\n" }.joined())
        """
    }

    package enum ParseError: Error, Equatable { case empty, unknownVersion(String), missing(String), bad(String) }

    package static func parse(_ text: String) throws(ParseError) -> ContainerRecord {
        // Bytes, not Characters: a restart parses every record (10,000 here).
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        guard let first = lines.first else { throw .empty }
        guard first.elementsEqual(Self.header.utf8) else { throw .unknownVersion(String(decoding: first, as: UTF8.self)) }
        var f: [String: String] = [:]
        var volumes: [Volume] = []
        for l in lines.dropFirst() {
            guard let colon = l.firstIndex(of: UInt8(ascii: ":")) else { throw .bad(String(decoding: l, as: UTF8.self)) }
            var v = l[l.index(after: colon)...]
            if v.first == UInt8(ascii: " ") { v = v.dropFirst() }
            let key = String(decoding: l[..<colon], as: UTF8.self), value = String(decoding: v, as: UTF8.self)
            if key == "volume" {
                guard let volume = Volume.parse(line: value) else { throw .bad("volume") }
                volumes.append(volume)
            }
            f[key] = value
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
        var r = ContainerRecord(id: try num("id", radix: 16), serial: try num("serial"), name: name,
                                parent: parent, created: try num("created"), initPid: try num("init-pid"),
                                initStartTime: try num("init-start"), pidNamespace: try num("pidns"),
                                cgroup: try req("cgroup"), creating: try state(),
                                ownerUID: owner.0, ownerGID: owner.1)
        switch f["origin"] ?? "mkdir" {
        case "mkdir": break
        case "set": r.fromSet = true
        default: throw .bad("origin")
        }
        switch f["view"] ?? "own" {
        case "own": break
        case "parent": r.ownView = false
        default: throw .bad("view")
        }
        r.thawParent = f["thaw-parent"] == "1"
        r.moving = f["moving"] == "1"
        if let ids = f["ids"] {
            let parts = ids.split(separator: " ")
            let flags = Set(parts.dropFirst(2))
            guard parts.count >= 2, flags.count == parts.count - 2, flags.isSubset(of: ["own", "asked"]),
                  let b = UInt32(parts[0]), let n = UInt32(parts[1]), n > 0,
                  n == IdPool.blockSize || flags.contains("asked"), n <= IdPool.blockSize,
                  UInt64(b) + UInt64(n) <= UInt64(UInt32.max) else { throw .bad("ids") }
            r.idBase = b
            r.idCount = n
            r.ownsIds = flags.contains("own")
            r.idsAsked = flags.contains("asked")
        }
        if let m = f["mode"] {
            guard let v = UInt16(m, radix: 8), v <= 0o7777 else { throw .bad("mode") }
            r.mode = v
        }
        if let q = f["request"] {
            let parts = q.split(separator: " ")
            guard parts.count == 2, let c = UInt64(parts[0], radix: 16), let u = UInt64(parts[1]) else { throw .bad("request") }
            r.request = RequestTag(connection: c, unique: u)
        }
        if let root = f["root"] {
            guard root.hasPrefix("/") else { throw .bad("root") }
            r.root = root
        }
        r.volumes = volumes
        if let a = f["address"] {
            guard a.contains("/"), !a.contains(" ") else { throw .bad("address") }
            r.address = a
        }
        if let u = f["userns"] {
            guard let v = UInt64(u) else { throw .bad("userns") }
            r.userNamespace = v
        }
        return r
    }
}

/// A FUSE request, named for as long as its connection lives: the
/// connection's token (random, made when it was mounted) and the kernel's
/// id of the request (unique per connection; without the mark the kernel
/// adds when it sends a request again).
package struct RequestTag: Sendable, Equatable, Hashable {
    package let connection: UInt64
    package let unique: UInt64
    package init(connection: UInt64, unique: UInt64) {
        self.connection = connection
        self.unique = unique
    }
}

extension ContainerRecord {
    /// Is a cgroup path read from a record one this daemon could have
    /// written: the root, then one `ns-<16 hex digits>` per level, nothing
    /// else (no `.`, `..`, empty component, or other name)? Records live
    /// in a root-only directory, but are still never trusted to name a
    /// cgroup elsewhere: one that fails is reported and left alone.
    package static func cgroupIsSafe(_ cgroup: String, root: String) -> Bool {
        guard cgroup.hasPrefix(root + "/") else { return false }
        let rest = cgroup.dropFirst(root.count + 1).split(separator: "/", omittingEmptySubsequences: false)
        return !rest.isEmpty && rest.allSatisfy { part in
            part.count == 19 && part.hasPrefix("ns-")
                && part.dropFirst(3).allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
        }
    }
}

package func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

