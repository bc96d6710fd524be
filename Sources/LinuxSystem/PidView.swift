#if canImport(Glibc)
import Glibc
#endif
import CNamespaceShim

/// Pids as one reader sees them. A FUSE request names its caller by thread
/// id in the daemon's pid namespace, valid until the reply; every pid the
/// filesystem shows is translated into the caller's own pid namespace by
/// the kernel (NS_GET_PID_IN_PIDNS), and one it cannot see is left out.
public struct PidView: ~Copyable {
    /// nil: the reader shares the daemon's pid namespace (no translation).
    let namespace: FileDescriptor?

    static let ownNamespaceInode: UInt64 = {
        var st = stat()
        return stat("/proc/self/ns/pid", &st) == 0 ? UInt64(st.st_ino) : 0
    }()

    /// The view of the process (thread) `tid` of the daemon's namespace.
    /// Through a pidfd (no /proc path walk: that cost 20 µs per new reader).
    public init(tid: Int32) {
        guard tid > 0 else { namespace = nil; return }
        // A reader that vanished sees nothing: an invalid descriptor
        // translates every pid to "not visible".
        let ns = nsfs_thread_pid_namespace(tid)
        guard ns >= 0 else { namespace = FileDescriptor(rawValue: -1); return }
        // The daemon's own namespace is alive, so its inode number cannot
        // have been recycled: an equal inode is the same namespace.
        var st = stat()
        if fstat(ns, &st) == 0 && UInt64(st.st_ino) == Self.ownNamespaceInode {
            close(ns)
            namespace = nil
            return
        }
        namespace = FileDescriptor(rawValue: ns)
    }

    public static var daemon: PidView { PidView(tid: 0) }

    public var isDaemonsOwn: Bool { namespace == nil }

    /// `pid` (daemon's namespace) as the reader sees it, or nil.
    public func translate(_ pid: Int32) -> Int32? {
        guard let ns = namespace else { return pid }
        guard ns.rawValue >= 0 else { return nil }
        let r = nsfs_pid_in_pidns(ns.rawValue, pid)
        return r > 0 ? r : nil
    }

    deinit { if let ns = namespace, ns.rawValue >= 0 { ns.close() } }
}
