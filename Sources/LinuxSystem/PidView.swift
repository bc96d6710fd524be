#if canImport(Glibc)
import Glibc
#endif
import CNamespaceShim

/// Pids as one reader sees them. A FUSE request names its caller by thread
/// id in the daemon's pid namespace, valid until the reply; every pid the
/// filesystem shows is translated into the caller's own pid namespace by
/// the kernel (NS_GET_PID_IN_PIDNS), and one it cannot see is left out.
package struct PidView: Sendable {
    /// nil: the reader shares the daemon's pid namespace (no translation).
    let namespace: OwnedDescriptor?

    /// The view from the pid namespace behind `namespace` (an nsfs
    /// descriptor, taken when the caller was identified), or the daemon's.
    package init(namespace: OwnedDescriptor?) { self.namespace = namespace }

    /// `pid` (daemon's namespace) as the reader sees it, or nil.
    package func translate(_ pid: Int32) -> Int32? {
        guard let ns = namespace else { return pid }
        let r = nsfs_pid_in_pidns(ns.rawValue, pid)
        return r > 0 ? r : nil
    }
}
