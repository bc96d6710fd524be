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
            guard let t = NamespaceType(rawValue: k.rawValue), let fd = try? initProcess.namespace(t) else { continue }
            out[k] = NamespaceIdentity(inode: (try? NamespaceType.inode(of: fd.fd)) ?? 0,
                                       id: (try? NamespaceType.id(of: fd.fd)) ?? 0)
        }
        cachedNamespaces.withLock { $0 = out }
        return out
    }
}

/// The lines of a container's `status` that only a rename changes, as one
/// reader's scope shows them.
struct StatusTemplate {
    struct Key: Equatable { let scope: UInt64; let renames: UInt64 }
    let key: Key
    /// name, path, id.
    let head: [UInt8]
    let created: [UInt8]
    let cgroup: [UInt8]
    let namespaces: [UInt8]

    init(key: Key, record r: ContainerRecord, path: [String], namespaces ids: [NamespaceKind: NamespaceIdentity]) {
        self.key = key
        head = Array("name: \(r.name)\npath: /\(path.joined(separator: "/"))\nid: \(hex(r.id))\n".utf8)
        created = Array("created: \(Clock.rfc3339(nanoseconds: r.created))\n".utf8)
        cgroup = Array("cgroup: \(r.cgroup)\n".utf8)
        var ns = ""
        for k in NamespaceKind.allCases {
            guard let n = ids[k] else { continue }
            ns += "ns-\(k.name): \(k.name):[\(n.inode)]\nns-\(k.name)-id: \(n.id)\n"
        }
        namespaces = Array(ns.utf8)
    }

    /// Room for the whole text with its variable lines.
    var capacity: Int { head.count + created.count + cgroup.count + namespaces.count + 64 }
}

extension ContainerManager {
    /// Contents of the control files. `nil`: the container is gone.
    /// `scope`: the reader's container; the path is relative to its view.
    /// Everything but state, init and processes is taken from a template
    /// kept per container (it changes only by renames).
    public func statusText(_ serial: UInt64, view: PidView, scope: UInt64 = ContainerTree.rootSerial) -> [UInt8]? {
        guard let (c, renames) = lock.withLock({ containers[serial].map { ($0, renames) } }) else { return nil }
        let key = StatusTemplate.Key(scope: scope, renames: renames)
        let t: StatusTemplate
        if let cached = c.statusTemplate.withLock({ $0 }), cached.key == key {
            t = cached
        } else {
            guard let path = lock.withLock({ () -> [String]? in
                containers[serial] == nil ? nil : Array(tree.path(of: serial).dropFirst(tree.depth(of: scope)))
            }) else { return nil }
            t = StatusTemplate(key: key, record: c.record, path: path, namespaces: c.namespaceIdentities())
            c.statusTemplate.withLock { $0 = t }
        }
        let r = c.record
        var out: [UInt8] = []
        out.reserveCapacity(t.capacity)
        out += t.head
        out += c.isFrozen ? Array("state: frozen\n".utf8) : Array("state: running\n".utf8)
        out += t.created
        out += "init: ".utf8
        if let p = view.translate(r.initPid) { out += String(p).utf8 } else { out.append(UInt8(ascii: "-")) }
        out.append(UInt8(ascii: "\n"))
        out += t.cgroup
        out += "processes: ".utf8
        out += String(c.processCount()).utf8
        out.append(UInt8(ascii: "\n"))
        out += t.namespaces
        return out
    }

    /// The container's own processes (its cgroup, not the ones below), as
    /// `view` sees them, sorted.
    public func procsText(_ serial: UInt64, view: PidView) -> [UInt8]? {
        guard let c = container(serial) else { return nil }
        var out: [UInt8] = []
        for pid in c.processes().compactMap({ view.translate($0) }).sorted() {
            out += String(pid).utf8
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    public func hostname(_ serial: UInt64) throws(RuntimeError) -> String {
        guard let c = container(serial) else { throw RuntimeError(.noEntry, "no such container") }
        do throws(Errno) {
            return try UTSNamespace.hostname(in: try c.utsNamespace().fd)
        } catch { throw RuntimeError(error, "cannot read the hostname") }
    }

    /// Accepts 1–64 bytes, one trailing newline ignored.
    public func setHostname(_ serial: UInt64, _ bytes: [UInt8]) throws(RuntimeError) {
        guard let c = container(serial) else { throw RuntimeError(.noEntry, "no such container") }
        var v = bytes
        if v.last == UInt8(ascii: "\n") { v.removeLast() }
        guard !v.isEmpty, v.count <= 64, !v.contains(0), !v.contains(UInt8(ascii: "\n")) else {
            throw RuntimeError(.invalid, "hostname must be 1-64 bytes")
        }
        do throws(Errno) {
            try UTSNamespace.setHostname(v, in: try c.utsNamespace().fd)
        } catch { throw RuntimeError(error, "cannot set the hostname") }
    }

    /// chown: record the new owner (it delegates the subtree).
    public func setOwner(_ serial: UInt64, uid: UInt32?, gid: UInt32?) throws(RuntimeError) {
        try lock.withLock { () throws(RuntimeError) in
            guard let c = containers[serial] else { throw RuntimeError(.noEntry, "no such container") }
            var r = c.record
            if let uid { r.ownerUID = uid }
            if let gid { r.ownerGID = gid }
            do throws(Errno) { try store.save(r) } catch { throw RuntimeError(error, "cannot record the owner") }
            c.record = r
        }
    }

    public func freezeText(_ serial: UInt64) -> [UInt8]? {
        guard let c = container(serial) else { return nil }
        return c.isFrozen ? [UInt8(ascii: "1"), 10] : [UInt8(ascii: "0"), 10]
    }

    /// "1" freezes the subtree, "0" thaws it; anything else is EINVAL.
    public func setFrozen(_ serial: UInt64, _ bytes: [UInt8]) throws(RuntimeError) {
        guard let c = container(serial) else { throw RuntimeError(.noEntry, "no such container") }
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
}
