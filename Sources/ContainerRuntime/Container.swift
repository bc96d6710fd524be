import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// One live container: its record, its init (held by pidfd) and its cgroup.
public final class Container: @unchecked Sendable {
    /// Mutated only under the manager's lock (rename).
    public internal(set) var record: ContainerRecord
    public let initProcess: ProcessHandle
    public let cgroup: CgroupDirectory
    let cachedNamespaces = LockedValue<[NamespaceKind: NamespaceIdentity]?>(nil)
    let statusTemplate = LockedValue<StatusTemplate?>(nil)
    /// Descriptors kept open for the container's life (its cgroup files,
    /// its UTS namespace): a read is then one pread, not open+read+close.
    let openFiles = LockedValue<[String: OwnedDescriptor]>([:])

    func descriptor(_ key: String, _ open: () throws(Errno) -> OwnedDescriptor) throws(Errno) -> OwnedDescriptor {
        if let d = openFiles.withLock({ $0[key] }) { return d }
        let d = try open()
        // Kept only within a budget shared by all containers: each already
        // holds a pidfd, and the open-file limit may be as low as 20,000.
        let keep = Self.cached.withLock { n -> Bool in
            guard n < Self.budget else { return false }
            n += 1
            return true
        }
        if keep { openFiles.withLock { $0[key] = d } }
        return d
    }

    static let budget = ResourceLimits.openFiles() / 4
    static let cached = LockedValue(0)

    deinit {
        let n = openFiles.withLock { $0.count }
        Self.cached.withLock { $0 -= n }
    }

    /// A cgroup file of this container, read whole from offset 0.
    func readCgroupFile(_ name: String) throws(Errno) -> [UInt8] {
        let d = try descriptor(name) { () throws(Errno) in
            OwnedDescriptor(try FileDescriptor.open(cgroup.path + "/" + name, O_RDONLY))
        }
        return try d.fd.preadAll()
    }

    var isFrozen: Bool {
        guard let e = try? readCgroupFile("cgroup.events") else { return false }
        return CgroupDirectory.parseEvents(e, key: "frozen")
    }

    /// How many own processes (lines of cgroup.procs).
    func processCount() -> Int {
        guard let b = try? readCgroupFile("cgroup.procs") else { return 0 }
        return b.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
    }

    /// Own processes, daemon's pid namespace.
    func processes() -> [Int32] {
        guard let b = try? readCgroupFile("cgroup.procs") else { return [] }
        return CgroupDirectory.parsePids(b)
    }

    func utsNamespace() throws(Errno) -> OwnedDescriptor {
        try descriptor("ns:uts") { () throws(Errno) in try initProcess.namespace(.uts) }
    }

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
    /// A rule of the tree said no (bad name, exists, not empty...), as
    /// opposed to the kernel failing: the caller's business, not the log's.
    public let isRefusal: Bool

    public init(_ errno: Errno, _ message: String) {
        self.errno = errno
        self.message = message
        isRefusal = false
    }

    public init(refused: TreeError, _ operation: String) {
        errno = refused.errno
        message = "\(operation) refused"
        isRefusal = true
    }

    public var description: String { "\(message): \(errno)" }
}
