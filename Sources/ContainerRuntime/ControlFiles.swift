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

extension ContainerManager {
    /// Contents of the control files. `nil`: the container is gone.
    /// `scope`: the reader's container; the path is relative to its view.
    public func statusText(_ serial: UInt64, view: borrowing PidView, scope: UInt64 = ContainerTree.rootSerial) -> String? {
        guard let (c, path) = lock.withLock({ containers[serial].map {
            ($0, Array(tree.path(of: serial).dropFirst(tree.depth(of: scope))))
        } }) else { return nil }
        let r = c.record
        let frozen = c.isFrozen
        let procs = c.processes().count
        var s = """
        name: \(r.name)
        path: /\(path.joined(separator: "/"))
        id: \(hex(r.id))
        state: \(frozen ? "frozen" : "running")
        created: \(Clock.rfc3339(nanoseconds: r.created))
        init: \(view.translate(r.initPid).map { String($0) } ?? "-")
        cgroup: \(r.cgroup)
        processes: \(procs)

        """
        let ids = c.namespaceIdentities()
        for k in NamespaceKind.allCases {
            guard let n = ids[k] else { continue }
            s += "ns-\(k.name): \(k.name):[\(n.inode)]\nns-\(k.name)-id: \(n.id)\n"
        }
        return s
    }

    /// The container's own processes (its cgroup, not the ones below), as
    /// `view` sees them, sorted.
    public func procsText(_ serial: UInt64, view: borrowing PidView) -> String? {
        guard let c = container(serial) else { return nil }
        let pids = c.processes()
        return pids.compactMap { view.translate($0) }.sorted().map { "\($0)\n" }.joined()
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

    public func freezeText(_ serial: UInt64) -> String? {
        guard let c = container(serial) else { return nil }
        return c.isFrozen ? "1\n" : "0\n"
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
