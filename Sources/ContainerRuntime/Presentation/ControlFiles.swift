import ContainerTree
import LinuxSystem

/// The namespaces of a container, read once: the init never changes them,
/// so the cached answer is exact for the container's whole life.
public struct NamespaceIdentity: Sendable {
    public var inode: UInt64
    public var id: UInt64
}

extension Container {
    public func namespaceIdentities() -> [NamespaceKind: NamespaceIdentity] {
        if let cached = cachedNamespaces.withLock({ $0 }) { return cached }
        var out: [NamespaceKind: NamespaceIdentity] = [:]
        for k in NamespaceKind.allCases {
            guard let fd = try? initProcess.namespace(k) else { continue }
            out[k] = NamespaceIdentity(inode: (try? NamespaceKind.inode(of: fd.fd)) ?? 0,
                                       id: (try? NamespaceKind.id(of: fd.fd)) ?? 0)
        }
        cachedNamespaces.withLock { $0 = out }
        return out
    }
}

/// The lines of a container's `status` that only a rename changes, as one
/// reader's scope shows them.
struct StatusTemplate: Sendable {
    struct Key: Equatable { let scope: UInt64; let renames: UInt64 }
    let key: Key
    /// name, path, id.
    let head: [UInt8]
    let created: [UInt8]
    let cgroup: [UInt8]
    let namespaces: [UInt8]

    init(key: Key, name: String, path: [String], container c: Container) {
        self.key = key
        head = Array("\(StatusKey.name.rawValue): \(name)\n\(StatusKey.path.rawValue): /\(path.joined(separator: "/"))\n\(StatusKey.id.rawValue): \(hex(c.id))\n".utf8)
        created = Array("\(StatusKey.created.rawValue): \(SystemTime.rfc3339(nanoseconds: c.created))\n".utf8)
        cgroup = Array("\(StatusKey.cgroup.rawValue): \(c.cgroupPath)\n".utf8)
        var ns = ""
        let ids = c.namespaceIdentities()
        for k in NamespaceKind.allCases {
            guard let n = ids[k] else { continue }
            ns += "\(StatusKey.namespace(k)): \(k.name):[\(n.inode)]\n\(StatusKey.namespaceID(k)): \(n.id)\n"
        }
        namespaces = Array(ns.utf8)
    }

    /// Room for the whole text with its variable lines.
    var capacity: Int { head.count + created.count + cgroup.count + namespaces.count + 64 }
}

/// Containers presented as files: the contents of `status`, `procs`,
/// `hostname` and `freeze`, and what writing them does. Nothing here knows
/// of FUSE; `nil` means the container is gone.
public struct ControlFiles: Sendable {
    let registry: Registry

    /// `scope`: the reader's container; the path is relative to its view.
    /// Everything but state, init and processes is taken from a template
    /// kept per container (it changes only by renames).
    public func status(_ serial: UInt64, view: PidView, scope: UInt64 = ContainerTree.rootSerial) -> [UInt8]? {
        if serial == ContainerTree.rootSerial { return rootStatus() }
        guard let (c, renames, removing) = registry.read({ s -> (Container, UInt64, Bool)? in
            s.containers[serial].map { ($0, s.renames, s.tree.node(serial)?.state == .removing) }
        }) else { return nil }
        let key = StatusTemplate.Key(scope: scope, renames: renames)
        let t: StatusTemplate
        if let cached = c.statusTemplate.withLock({ $0 }), cached.key == key {
            t = cached
        } else {
            guard let (name, path) = registry.read({ s -> (String, [String])? in
                guard let r = s.records[serial] else { return nil }
                return (r.name, Array(s.tree.path(of: serial).dropFirst(s.tree.depth(of: scope))))
            }) else { return nil }
            t = StatusTemplate(key: key, name: name, path: path, container: c)
            c.statusTemplate.withLock { $0 = t }
        }
        var out: [UInt8] = []
        out.reserveCapacity(t.capacity)
        out += t.head
        let state: ContainerState = removing ? .removing : c.isFrozen ? .frozen : .running
        out += "\(StatusKey.state.rawValue): \(state.rawValue)\n".utf8
        out += t.created
        out += "\(StatusKey.initPid.rawValue): ".utf8
        if let p = view.translate(c.initPid) { out += String(p).utf8 } else { out.append(UInt8(ascii: "-")) }
        out.append(UInt8(ascii: "\n"))
        out += t.cgroup
        out += "\(StatusKey.processes.rawValue): ".utf8
        out += String(c.processCount()).utf8
        out.append(UInt8(ascii: "\n"))
        out += t.namespaces
        return out
    }

    /// The root stands for the daemon's own namespaces (the host).
    func rootStatus() -> [UInt8] {
        let n = registry.read { $0.tree.count }
        return Array("\(StatusKey.name.rawValue): /\n\(StatusKey.path.rawValue): /\n\(StatusKey.state.rawValue): running\n\(StatusKey.containers.rawValue): \(n)\n".utf8)
    }

    /// The container's own processes (its cgroup, not the ones below), as
    /// `view` sees them, sorted. The root lists none.
    public func procs(_ serial: UInt64, view: PidView) -> [UInt8]? {
        if serial == ContainerTree.rootSerial { return [] }
        guard let c = registry.container(serial) else { return nil }
        var out: [UInt8] = []
        for pid in c.processes().compactMap({ view.translate($0) }).sorted() {
            out += String(pid).utf8
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The hostname, as the kernel holds it, and a newline.
    public func hostname(_ serial: UInt64) throws(RuntimeError) -> [UInt8] {
        do throws(Errno) {
            if serial == ContainerTree.rootSerial { return try UTSNamespace.ownHostname() + [10] }
            guard let c = registry.container(serial) else { throw Errno.noEntry }
            return try UTSNamespace.hostname(in: try c.utsNamespace().fd) + [10]
        } catch { throw RuntimeError(error, "cannot read the hostname") }
    }

    /// Accepts 1–64 bytes without control characters (U+0000–U+001F,
    /// U+007F: they would garble terminals and the line-based files), one
    /// trailing newline ignored. Other bytes are kept exactly as written
    /// (the kernel holds bytes, not text) and read back the same.
    public func setHostname(_ serial: UInt64, _ bytes: [UInt8]) throws(RuntimeError) {
        guard let c = runningContainer(serial) else { throw RuntimeError(.noEntry, "no such container") }
        var v = bytes
        if v.last == UInt8(ascii: "\n") { v.removeLast() }
        guard !v.isEmpty, v.count <= UTSNamespace.maxHostnameBytes, !v.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
            throw RuntimeError(.invalid, "hostname must be 1-\(UTSNamespace.maxHostnameBytes) bytes without control characters")
        }
        do throws(Errno) {
            try UTSNamespace.setHostname(v, in: try c.utsNamespace().fd)
        } catch { throw RuntimeError(error, "cannot set the hostname") }
    }

    public func freeze(_ serial: UInt64) -> [UInt8]? {
        if serial == ContainerTree.rootSerial { return Array("0\n".utf8) }
        guard let c = registry.container(serial) else { return nil }
        return c.isFrozen ? [UInt8(ascii: "1"), 10] : [UInt8(ascii: "0"), 10]
    }

    /// "1" freezes the subtree, "0" thaws it; anything else is EINVAL.
    public func setFrozen(_ serial: UInt64, _ bytes: [UInt8]) throws(RuntimeError) {
        guard let c = runningContainer(serial) else { throw RuntimeError(.noEntry, "no such container") }
        var v = bytes
        if v.last == UInt8(ascii: "\n") { v.removeLast() }
        let frozen: Bool
        switch v {
        case [UInt8(ascii: "1")]: frozen = true
        case [UInt8(ascii: "0")]: frozen = false
        default: throw RuntimeError(.invalid, "freeze takes 0 or 1")
        }
        do throws(Errno) { try c.cgroup.setFrozen(frozen) } catch { throw RuntimeError(error, "cannot change cgroup.freeze") }
    }

    /// Writes go only to a container that is not being removed.
    func runningContainer(_ serial: UInt64) -> Container? {
        registry.read { s in s.tree.node(serial)?.state == .running ? s.containers[serial] : nil }
    }

    /// The init's pid (daemon's namespace), for the `ns/` links.
    public func initPid(_ serial: UInt64) -> Int32? {
        registry.container(serial)?.initPid
    }
}
