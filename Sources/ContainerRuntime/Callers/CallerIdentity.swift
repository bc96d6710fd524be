import CNamespaceShim
import ContainerTree
import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Who is asking: every FUSE request names its caller by thread id; the
/// caller's pid namespace says which container it is in ("you never leave a
/// container"), its user namespace and capabilities whether it is privileged.
package final class Callers: Sendable {
    /// A caller, as far as permissions and views go.
    package struct Identity: Sendable {
        /// The calling thread (its pidfd: its user namespace and capabilities
        /// are asked of it, they may change).
        package let thread: ProcessHandle
        /// The container it is in (the root for the host).
        package let container: UInt64
        /// Its pid namespace, nil if it is the daemon's (no translation).
        package let pidNamespace: OwnedDescriptor?

        package var pidView: PidView { PidView(namespace: pidNamespace) }
    }

    let registry: Registry
    var daemonNamespaces: DaemonNamespaces { registry.host.namespaces }
    private let recent = Mutex<[Int32: Identity]>([:])
    /// Threads identified recently (find, ls -R and tar make thousands of
    /// requests from one thread). Bounded: cleared when full.
    static let capacity = 512

    init(registry: Registry) { self.registry = registry }

    /// Who `tid` is: one pidfd and two ioctls (plus a walk up the pid
    /// namespaces if the caller made its own), or one poll for a thread seen
    /// recently: a thread's pid namespace never changes, and while its pidfd
    /// does not report an exit its tid cannot name another thread. nil if
    /// the caller is gone. `isNew`: worth `remember`ing (after the reply).
    package func identify(caller tid: Int32) -> (identity: Identity, isNew: Bool)? {
        if let known = recent.withLock({ $0[tid] }) {
            if known.thread.isAlive { return (known, false) }
            _ = recent.withLock { $0.removeValue(forKey: tid) }
        }
        var pidns: UInt64 = 0
        var pidfd: Int32 = -1
        let fd = nsfs_thread_namespace(tid, NamespaceKind.pid.shimKind, &pidns, &pidfd)
        guard fd >= 0 else { return nil }
        let thread = ProcessHandle(pid: tid, pidfd: pidfd)
        let ns = OwnedDescriptor(FileDescriptor(rawValue: fd))
        if pidns == daemonNamespaces.pid {
            return (Identity(thread: thread, container: ContainerTree.rootSerial, pidNamespace: nil), true)
        }
        guard let c = container(ofPidNamespace: pidns, descriptor: ns) else { return nil }
        return (Identity(thread: thread, container: c, pidNamespace: ns), true)
    }

    package func remember(_ identity: Identity) {
        recent.withLock {
            if $0.count >= Self.capacity { $0.removeAll() }
            $0[identity.thread.pid] = identity
        }
    }

    /// The container whose pid namespace is `pidns` (open as `descriptor`)
    /// or, for one of the caller's own making, its nearest known ancestor.
    /// One below the daemon's that no container of this mount holds (a
    /// container of another mount, a host process in a pid namespace of its
    /// own) is an outsider: it sees an empty root, never other tenants'
    /// names, ids or processes.
    func container(ofPidNamespace pidns: UInt64, descriptor: OwnedDescriptor) -> UInt64? {
        if let s = registry.container(ofPidNamespace: pidns) { return s }
        var fd = nsfs_ns_parent(descriptor.rawValue)
        while fd >= 0 {
            var id: UInt64 = 0
            guard nsfs_ns_id(fd, &id) == 0 else { break }
            if id == daemonNamespaces.pid { close(fd); return ContainerTree.outsiderScope }
            if let s = registry.container(ofPidNamespace: id) { close(fd); return s }
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
    package func isPrivileged(_ caller: Identity) -> Bool {
        guard let userns = ifReadable({ try caller.thread.namespaceID(.user) }) else { return false }
        return userns == daemonNamespaces.user && Capabilities.hasSysAdmin(pid: caller.thread.pid)
    }

    /// CAP_SYS_ADMIN in the user namespace of the container it is in,
    /// that container's own (not the host's: see isPrivileged).
    package func isContainerRoot(_ caller: Identity) -> Bool {
        guard caller.container != ContainerTree.rootSerial,
              let own = registry.read({ $0.records[caller.container]?.userNamespace }), own != 0,
              let userns = ifReadable({ try caller.thread.namespaceID(.user) }) else { return false }
        return userns == own && Capabilities.hasSysAdmin(pid: caller.thread.pid)
    }

    /// The facts the access rules (ContainerTree.mayModify) decide on.
    package func facts(_ caller: Identity, uid: UInt32, gid: UInt32? = nil) -> CallerFacts {
        let privileged = isPrivileged(caller)
        return CallerFacts(scope: caller.container, uid: uid, gid: gid, privileged: privileged,
                           containerRoot: !privileged && isContainerRoot(caller))
    }
}

/// The daemon's own pid and user namespaces (ids).
package struct DaemonNamespaces: Sendable {
    package let pid: UInt64
    package let user: UInt64

    static func current() -> DaemonNamespaces {
        DaemonNamespaces(pid: id(.pid), user: id(.user))
    }

    static func id(_ kind: NamespaceKind) -> UInt64 {
        var id: UInt64 = 0
        let fd = nsfs_thread_namespace(getpid(), kind.shimKind, &id, nil)
        if fd >= 0 { close(fd) }
        return id
    }
}
