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

        /// Enter a running container (new or adopted).
        mutating func register(_ c: Container, record: ContainerRecord) {
            containers[c.serial] = c
            records[c.serial] = record
            byPidNamespace[c.pidNamespace] = c.serial
        }

        /// Drop a dead container from the tree and the indexes.
        mutating func forget(_ serial: UInt64) {
            tree.finishRemove(serial)
            records.removeValue(forKey: serial)
            if let c = containers.removeValue(forKey: serial) { byPidNamespace.removeValue(forKey: c.pidNamespace) }
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
