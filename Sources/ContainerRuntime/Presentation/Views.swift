import CNamespaceShim
import ContainerTree
import LinuxSystem
import Synchronization

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
/// wait on the directory lock mkdir holds). Until it is attached, the
/// container sees its copy of the full mount, where the per-request checks
/// answer ENOENT for everything outside it.
package final class Views: Sendable {
    let registry: Registry
    /// Where the tree is mounted (set once mounted): views attach there.
    private let mountPoint = Mutex<String?>(nil)
    /// One at a time, in order: parents before children.
    private let queue = WorkerPool(name: "nsfs-views", maxThreads: 1)

    init(registry: Registry) { self.registry = registry }

    package func mounted(at path: String) { mountPoint.withLock { $0 = path } }

    /// Attach `serial`'s view (up to three tries: a rename may race the lookup).
    package func attach(_ serial: UInt64) {
        guard let mountPoint = mountPoint.withLock({ $0 }) else { return }
        queue.submit { [registry] in
            for _ in 0..<3 {
                // A named set without its own pid and mount namespaces keeps
                // its container's view (it may share that mount namespace).
                guard let (c, path) = registry.read({ s in s.containers[serial].map { ($0, s.tree.path(of: serial)) } }),
                      c.ownView else { return }
                let source = mountPoint + "/" + path.joined(separator: "/")
                let rc = nsfs_attach_view(c.initProcess.descriptor.rawValue, source, mountPoint)
                if rc == 0 || !c.initProcess.isAlive { return }
            }
            Log.line("cannot attach the view of container \(serial)")
        }
    }

    /// After a (re)mount: every container, parents first.
    package func attachAll() {
        let order = registry.read { s in
            s.tree.subtreePostOrder(ContainerTree.rootSerial).reversed().filter { $0 != ContainerTree.rootSerial }
        }
        for s in order { attach(s) }
    }
}
