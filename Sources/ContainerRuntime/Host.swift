import CNamespaceShim
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Facts about the process the daemon runs as, read once when the runtime
/// is made — after the open-file limit is raised, before any thread enters
/// anything — and handed to whoever needs them: never a static whose value
/// would depend on when, and on which thread, it was first touched.
package struct Host: Sendable {
    /// The daemon's own pid and user namespaces (ids).
    package let namespaces: DaemonNamespaces
    /// The daemon's own set of namespaces (the host's, at the root).
    package let key: SetKey?
    /// Descriptors kept open for containers' files and for processes
    /// discovery holds: a quarter of the open-file limit.
    let openBudget: DescriptorBudget

    package static func read() -> Host {
        Host(namespaces: DaemonNamespaces.current(),
             key: ifReadable({ try SetKey(inodes: ProcessNamespaces.inodes(pid: getpid())) }),
             openBudget: DescriptorBudget(limit: ResourceLimits.openFiles() / 4))
    }
}
