import CNamespaceShim
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Relative views: inside a container's mount namespace the container's own
/// directory is attached over the mount point, so `ls /namespaces` there
/// lists its children and `..` at the top stays there. A view is a bind of
/// the same superblock: cached entries are shared with the host, and the
/// per-request checks (caller's pid namespace) keep each caller inside.
///
/// Attaching needs a path lookup through the mount, which the FUSE loop
/// answers: a helper process does it (never a daemon thread: one stuck on
/// its own mount would keep a killed daemon's connection alive), started
/// from a worker thread once mkdir has replied (a lookup during mkdir would
/// wait on the directory lock mkdir holds). Until it is
/// attached, the container sees its copy of the full mount, where the
/// per-request checks answer ENOENT for everything outside it.
extension ContainerManager {
    /// Attach `serial`'s view (up to three tries: a rename may race the lookup).
    public func attachView(_ serial: UInt64) {
        guard let mountPoint, let viewQueue else { return }
        viewQueue.async { [self] in
            for _ in 0..<3 {
                guard let (c, path) = lock.withLock({ containers[serial].map { ($0, tree.path(of: serial)) } }) else { return }
                let source = mountPoint + "/" + path.joined(separator: "/")
                let rc = nsfs_attach_view(c.initProcess.descriptor.rawValue, source, mountPoint)
                if rc == 0 || !c.initProcess.isAlive { return }
            }
            log("cannot attach the view of container \(serial)")
        }
    }

    /// After a (re)mount: every container, parents first.
    public func attachAllViews() {
        let order = lock.withLock { tree.subtreePostOrder(ContainerTree.rootSerial).reversed().filter { $0 != ContainerTree.rootSerial } }
        for s in order { attachView(s) }
    }
}

/// One line on the daemon's standard error (the journal, under systemd).
public func log(_ message: String) { StandardError.line("namespacefs: " + message) }
