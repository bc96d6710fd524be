import ContainerTree
import LinuxSystem
import Synchronization

/// The live containers: the pure tree plus, per node, its kernel objects
/// and record. The one piece of state every part shares, behind one Mutex
/// that is held only for memory work and single-page record writes —
/// never while a process is spawned, killed or waited for.
package final class Registry: Sendable {
    package struct State: Sendable {
        package internal(set) var tree = ContainerTree()
        /// Running and removing containers (a creating one has no entry yet).
        package internal(set) var containers: [UInt64: Container] = [:]
        /// By serial: what the store holds for each container.
        package internal(set) var records: [UInt64: ContainerRecord] = [:]
        /// pid namespace id → serial: which container a caller is in.
        var byPidNamespace: [UInt64: UInt64] = [:]
        /// Bumped by every rename: paths shown in `status` may have changed.
        package internal(set) var renames: UInt64 = 0
        /// The sets below containers (unnamed nodes), by serial.
        package internal(set) var sets: [UInt64: FoundSet] = [:]
        /// Names given with mv to the host's sets (-o discover=host): they
        /// last while the set lives, and move nothing.
        package internal(set) var hostSetNames: [[UInt64]: String] = [:]
        /// Each surveyed container's own processes (those in no set), sorted.
        package internal(set) var ownProcesses: [UInt64: [Int32]] = [:]
        /// Host id blocks for containers' user namespaces.
        var idPool = IdPool()

        /// Enter a running container (new or adopted). Callers in its pid
        /// namespace see its view, unless it shares that namespace with its
        /// parent (a named set that made no pid namespace of its own).
        mutating func register(_ c: Container, record: ContainerRecord) {
            containers[c.serial] = c
            records[c.serial] = record
            tree.setCreated(c.serial, c.created)
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

    /// What the daemon itself is (read once, see Host).
    package let host: Host

    package init(host: Host) { self.host = host }

    /// Run `body` with a consistent view of the state (the runtime's own).
    func read<T: Sendable>(_ body: (borrowing State) -> T) -> T {
        state.withLock { body($0) }
    }

    /// What the filesystem reads of the state: the tree (the pure model)
    /// and which of its sets are the host's. Nothing else leaves the runtime.
    package func withTree<T: Sendable>(_ body: (borrowing ContainerTree, _ isHostSet: (UInt64) -> Bool) -> T) -> T {
        state.withLock { s in body(s.tree, { s.sets[$0]?.isHosts == true }) }
    }

    package func container(_ serial: UInt64) -> Container? { state.withLock { $0.containers[serial] } }

    func container(ofPidNamespace id: UInt64) -> UInt64? { state.withLock { $0.byPidNamespace[id] } }
}

/// A set of namespaces found in a container's cgroup (an unnamed node).
package struct FoundSet: Sendable {
    /// The container whose cgroup holds its processes.
    package let container: UInt64
    package let facts: SetFacts
    /// Its processes (daemon's pid namespace), sorted.
    package let members: [Int32]
    /// The key of its parent in the tree (the container's, or a set's):
    /// which namespaces it owns and which it shares.
    package let parentKey: SetKey
    package let number: UInt64
    /// The container's namespace ids (the daemon's for the host's sets).
    package let containerIDs: [NamespaceKind: UInt64]

    /// The ids of its eight namespaces.
    package var allIDs: [UInt64] { NamespaceKind.allCases.map { facts.ids[$0] ?? containerIDs[$0] ?? 0 } }

    /// A set of the host's (found at the root with -o discover=host).
    package var isHosts: Bool { container == ContainerTree.rootSerial }

    package var owned: [NamespaceKind] { facts.key.differences(from: parentKey) }
}
