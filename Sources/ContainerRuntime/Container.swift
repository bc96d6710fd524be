import ContainerTree
import LinuxSystem

/// One live container: its record, its init (held by pidfd) and its cgroup.
public final class Container: @unchecked Sendable {
    /// Mutated only under the manager's lock (rename).
    public internal(set) var record: ContainerRecord
    public let initProcess: ProcessHandle
    public let cgroup: CgroupDirectory
    let cachedNamespaces = LockedValue<[NamespaceKind: NamespaceIdentity]?>(nil)

    init(record: ContainerRecord, initProcess: ProcessHandle, cgroup: CgroupDirectory) {
        self.record = record
        self.initProcess = initProcess
        self.cgroup = cgroup
    }
}

/// A refused or failed operation: the errno the caller sees and, for the
/// log, what happened.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public let errno: Errno
    public let message: String
    public init(_ errno: Errno, _ message: String) {
        self.errno = errno
        self.message = message
    }
    public var description: String { "\(message): \(errno)" }

    /// A rule of the tree said no (bad name, exists, not empty...), as
    /// opposed to the kernel failing.
    public var isRefusal: Bool { message.hasSuffix("refused") }
}
