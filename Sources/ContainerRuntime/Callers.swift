import CNamespaceShim
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Who is asking: every FUSE request names its caller by thread id; the
/// caller's pid namespace says which container it is in ("you never leave a
/// container"), its user namespace and capabilities whether it is privileged.
extension ContainerManager {
    /// A caller, as far as permissions and views go.
    public struct Identity: Sendable {
        /// The container it is in (the root for the host).
        public let container: UInt64
        /// In the daemon's own user namespace (where capabilities count).
        public let inDaemonUserNamespace: Bool
        /// In the daemon's own pid namespace: its pids need no translation.
        public let inDaemonPidNamespace: Bool
    }

    /// Who `tid` is: one pidfd and two ioctls (plus a walk up the pid
    /// namespaces if the caller made its own). nil if the caller is gone.
    public func identify(caller tid: Int32) -> Identity? {
        var pidns: UInt64 = 0, userns: UInt64 = 0
        guard nsfs_thread_namespace_ids(tid, &pidns, &userns) == 0 else { return nil }
        guard let c = container(ofPidNamespace: pidns, tid: tid) else { return nil }
        return Identity(container: c, inDaemonUserNamespace: userns == daemonNamespaces.user,
                        inDaemonPidNamespace: pidns == daemonNamespaces.pid)
    }

    func container(ofPidNamespace pidns: UInt64, tid: Int32) -> UInt64? {
        if pidns == daemonNamespaces.pid { return ContainerTree.rootSerial }
        if let s = lock.withLock({ containerByPidNamespace[pidns] }) { return s }
        // A pid namespace of the caller's own making: walk up to a known one.
        var fd = nsfs_thread_pid_namespace(tid)
        while fd >= 0 {
            let parent = nsfs_ns_parent(fd)
            close(fd)
            fd = parent
            guard fd >= 0 else { break }
            var id: UInt64 = 0
            guard nsfs_ns_id(fd, &id) == 0 else { break }
            if id == daemonNamespaces.pid { close(fd); return ContainerTree.rootSerial }
            if let s = lock.withLock({ containerByPidNamespace[id] }) { close(fd); return s }
        }
        if fd >= 0 { close(fd) }
        return nil
    }

    /// CAP_SYS_ADMIN in the daemon's own user namespace (libcap alone would
    /// also say yes for root in an unprivileged user namespace).
    public func isPrivileged(caller tid: Int32, _ identity: Identity) -> Bool {
        identity.inDaemonUserNamespace && Capabilities.hasSysAdmin(pid: tid)
    }

    /// May a caller with `uid` (unprivileged) change the tree below `serial`?
    /// Only where a container at or above it, inside the caller's own
    /// container, was chown'ed to it.
    public func isDelegated(_ serial: UInt64, to uid: uid_t, within scope: UInt64) -> Bool {
        // Owner 0 is the default, not a delegation: uid 0 without the
        // capability (root of an unprivileged user namespace) gets nothing.
        guard uid != 0 else { return false }
        return lock.withLock {
            var cur: UInt64? = serial
            while let s = cur, tree.isAncestor(scope, of: s) {
                if let c = containers[s], c.record.ownerUID == uid { return true }
                if s == scope { break }
                cur = tree.node(s)?.parent
            }
            return false
        }
    }
}

/// The daemon's own pid and user namespaces (ids).
public struct DaemonNamespaces: Sendable {
    public let pid: UInt64
    public let user: UInt64

    static func current() -> DaemonNamespaces {
        var p: UInt64 = 0, u: UInt64 = 0
        _ = nsfs_thread_namespace_ids(getpid(), &p, &u)
        return DaemonNamespaces(pid: p, user: u)
    }
}
