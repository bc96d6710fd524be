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

    /// The view of the process (thread) `tid` of the daemon's namespace.
    /// `sharesDaemonNamespace`: already known (the caller was identified),
    /// so no lookup at all; else through a pidfd (a /proc path walk cost
    /// 20 µs per new reader).
    public init(tid: Int32, sharesDaemonNamespace: Bool) {
        if sharesDaemonNamespace { namespace = nil; return }
        // A reader that vanished sees nothing: an invalid descriptor
        // translates every pid to "not visible".
        let ns = nsfs_thread_pid_namespace(tid)
        namespace = FileDescriptor(rawValue: ns >= 0 ? ns : -1)
    }

    /// `pid` (daemon's namespace) as the reader sees it, or nil.
    public func translate(_ pid: Int32) -> Int32? {
        guard let ns = namespace else { return pid }
        guard ns.rawValue >= 0 else { return nil }
        let r = nsfs_pid_in_pidns(ns.rawValue, pid)
        return r > 0 ? r : nil
    }

    deinit { if let ns = namespace, ns.rawValue >= 0 { ns.close() } }
}
