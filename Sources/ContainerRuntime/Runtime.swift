import ContainerTree
import LinuxSystem

/// The runtime's parts, each with one job, sharing one registry:
/// - `lifecycle`: containers made, renamed, delegated, killed; the state
///   store; adoption after a restart; the death watcher;
/// - `sets`: unnamed sets killed, named (made containers), the host's found;
/// - `callers`: who a request comes from, and whether it is privileged;
/// - `files`: containers presented as control-file contents;
/// - `views`: each container's own view of the mount.
/// Nothing here knows of FUSE.
package final class Runtime: Sendable {
    package let registry: Registry
    package let lifecycle: Lifecycle
    package let sets: SetWork
    package let callers: Callers
    package let files: ControlFiles
    package let views: Views
    package var discovery: Discovery { lifecycle.discovery }

    package init(configuration: RuntimeConfiguration) throws(RuntimeError) {
        registry = Registry(host: Host.read())
        lifecycle = try Lifecycle(configuration: configuration, registry: registry)
        sets = SetWork(lifecycle, inProgress: lifecycle.setWorkInProgress)
        callers = Callers(registry: registry)
        files = ControlFiles(registry: registry, network: configuration.network)
        views = Views(registry: registry)
    }
}
