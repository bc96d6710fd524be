import ContainerTree
import LinuxSystem
import Synchronization

/// The live containers: the pure tree plus, per node, its kernel objects
/// and record. The one piece of state every part shares, behind one Mutex
/// that is held only for memory work and single-page record writes —
/// never while a process is spawned, killed or waited for.
public final class Registry: Sendable {
    public struct State: Sendable {
        public internal(set) var tree = ContainerTree()
        /// Running and removing containers (a creating one has no entry yet).
        public internal(set) var containers: [UInt64: Container] = [:]
        /// By serial: what the store holds for each container.
        public internal(set) var records: [UInt64: ContainerRecord] = [:]
        /// pid namespace id → serial: which container a caller is in.
        var byPidNamespace: [UInt64: UInt64] = [:]
        /// Bumped by every rename: paths shown in `status` may have changed.
        public internal(set) var renames: UInt64 = 0
        /// The sets below containers (unnamed nodes), by serial.
        public internal(set) var sets: [UInt64: FoundSet] = [:]
        /// Names given with mv to the host's sets (-o discover=host): they
        /// last while the set lives, and move nothing.
        public internal(set) var hostSetNames: [[UInt64]: String] = [:]
        /// Each surveyed container's own processes (those in no set), sorted.
        public internal(set) var ownProcesses: [UInt64: [Int32]] = [:]
        /// Containers whose sets are being named or killed: discovery
        /// leaves their part of the tree alone meanwhile.
        var setWork: Set<UInt64> = []
        /// Host id blocks for containers' user namespaces.
        var idPool = IdPool()

        /// Enter a running container (new or adopted). Callers in its pid
        /// namespace see its view, unless it shares that namespace with its
        /// parent (a named set that made no pid namespace of its own).
        mutating func register(_ c: Container, record: ContainerRecord) {
            containers[c.serial] = c
            records[c.serial] = record
            if c.ownView { byPidNamespace[c.pidNamespace] = c.serial }
        }

        /// Drop a dead container from the tree and the indexes.
        mutating func forget(_ serial: UInt64) {
            tree.finishRemove(serial)
            // A top-level container's id block is free again (a nested one
            // maps its parent's).
            if let r = records.removeValue(forKey: serial), r.ownsIdBlock, let b = r.idBase { idPool.release(b) }
            if let c = containers.removeValue(forKey: serial), byPidNamespace[c.pidNamespace] == serial {
                byPidNamespace.removeValue(forKey: c.pidNamespace)
            }
            sets = sets.filter { $0.value.container != serial && tree.node($0.key) != nil }
            ownProcesses.removeValue(forKey: serial)
        }
    }

    let state = Mutex(State())

    public init() {}

    /// Run `body` with a consistent view of the tree.
    public func read<T: Sendable>(_ body: (borrowing State) -> T) -> T {
        state.withLock { body($0) }
    }

    public func container(_ serial: UInt64) -> Container? { state.withLock { $0.containers[serial] } }

    func container(ofPidNamespace id: UInt64) -> UInt64? { state.withLock { $0.byPidNamespace[id] } }
}

/// A set of namespaces found in a container's cgroup (an unnamed node).
public struct FoundSet: Sendable {
    /// The container whose cgroup holds its processes.
    public let container: UInt64
    public let facts: SetFacts
    /// Its processes (daemon's pid namespace), sorted.
    public let members: [Int32]
    /// The key of its parent in the tree (the container's, or a set's):
    /// which namespaces it owns and which it shares.
    public let parentKey: SetKey
    public let number: UInt64
    /// The container's namespace ids (the daemon's for the host's sets).
    public let containerIDs: [NamespaceKind: UInt64]

    /// The ids of its eight namespaces.
    public var allIDs: [UInt64] { NamespaceKind.allCases.map { facts.ids[$0] ?? containerIDs[$0] ?? 0 } }

    /// A set of the host's (found at the root with -o discover=host).
    public var isHosts: Bool { container == ContainerTree.rootSerial }

    public var owned: [NamespaceKind] { facts.key.differences(from: parentKey) }
}
