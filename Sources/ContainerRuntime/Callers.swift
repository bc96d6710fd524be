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
        /// The calling thread (its pidfd: its user namespace and capabilities
        /// are asked of it, they may change).
        public let thread: ProcessHandle
        /// The container it is in (the root for the host).
        public let container: UInt64
        /// Its pid namespace, nil if it is the daemon's (no translation).
        public let pidNamespace: OwnedDescriptor?

        public var pidView: PidView { PidView(namespace: pidNamespace) }
    }

    /// Who `tid` is: one pidfd and two ioctls (plus a walk up the pid
    /// namespaces if the caller made its own), or one poll for a thread seen
    /// recently. nil if the caller is gone. Its user namespace matters only
    /// for changes: see `isPrivileged`.
    public func identify(caller tid: Int32) -> Identity? {
        if let known = callers.identity(of: tid) { return known }
        var pidns: UInt64 = 0
        var pidfd: Int32 = -1
        let fd = nsfs_thread_namespace(tid, NSFS_NS_PID, &pidns, &pidfd)
        guard fd >= 0 else { return nil }
        let thread = ProcessHandle(pid: tid, pidfd: pidfd)
        let ns = OwnedDescriptor(FileDescriptor(rawValue: fd))
        let identity: Identity
        if pidns == daemonNamespaces.pid {
            identity = Identity(thread: thread, container: ContainerTree.rootSerial, pidNamespace: nil)
        } else {
            guard let c = container(ofPidNamespace: pidns, descriptor: ns) else { return nil }
            identity = Identity(thread: thread, container: c, pidNamespace: ns)
        }
        // Remembering (and closing the host's namespace descriptor) can wait
        // for the reply: the caller's next request comes after it anyway.
        afterReply.add { [callers] in
            callers.remember(tid, identity)
            withExtendedLifetime(ns) {}
        }
        return identity
    }

    /// The container whose pid namespace is `pidns` (open as `descriptor`)
    /// or, for one of the caller's own making, its nearest known ancestor.
    func container(ofPidNamespace pidns: UInt64, descriptor: OwnedDescriptor) -> UInt64? {
        if let s = lock.withLock({ containerByPidNamespace[pidns] }) { return s }
        var fd = nsfs_ns_parent(descriptor.rawValue)
        while fd >= 0 {
            var id: UInt64 = 0
            guard nsfs_ns_id(fd, &id) == 0 else { break }
            if id == daemonNamespaces.pid { close(fd); return ContainerTree.rootSerial }
            if let s = lock.withLock({ containerByPidNamespace[id] }) { close(fd); return s }
            let parent = nsfs_ns_parent(fd)
            close(fd)
            fd = parent
        }
        if fd >= 0 { close(fd) }
        return nil
    }

    /// CAP_SYS_ADMIN in the daemon's own user namespace (libcap alone would
    /// also say yes for root in an unprivileged user namespace). Asked anew
    /// each time, through the pidfd identification opened: a thread may
    /// enter another user namespace or drop capabilities at any time.
    public func isPrivileged(_ caller: Identity) -> Bool {
        guard let userns = try? caller.thread.namespaceID(.user) else { return false }
        return userns == daemonNamespaces.user && Capabilities.hasSysAdmin(pid: caller.thread.pid)
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
        DaemonNamespaces(pid: id(NSFS_NS_PID), user: id(NSFS_NS_USER))
    }

    static func id(_ kind: nsfs_ns_kind) -> UInt64 {
        var id: UInt64 = 0
        let fd = nsfs_thread_namespace(getpid(), kind, &id, nil)
        if fd >= 0 { close(fd) }
        return id
    }
}

/// Threads identified recently (find, ls -R and tar make thousands of
/// requests from one thread). A thread's pid namespace never changes, and
/// while its pidfd does not report an exit its tid cannot name another
/// thread: one poll replaces three syscalls. Bounded: cleared when full.
final class CallerCache: @unchecked Sendable {
    private let lock = Lock()
    private var entries: [Int32: ContainerManager.Identity] = [:]
    static let capacity = 512

    func identity(of tid: Int32) -> ContainerManager.Identity? {
        guard let e = lock.withLock({ entries[tid] }) else { return nil }
        if e.thread.isAlive { return e }
        _ = lock.withLock { entries.removeValue(forKey: tid) }
        return nil
    }

    func remember(_ tid: Int32, _ identity: ContainerManager.Identity) {
        lock.withLock {
            if entries.count >= Self.capacity { entries.removeAll() }
            entries[tid] = identity
        }
    }
}
