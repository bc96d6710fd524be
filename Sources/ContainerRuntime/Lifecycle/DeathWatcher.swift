import ContainerTree
import LinuxSystem
import Synchronization

/// One thread waits on the pidfd of every container's init: an exit is a
/// death, and what it does is its owner's (`onDeath`, on a worker of
/// `deaths`, outside every lock). It also holds the inits of containers
/// already removed that have not exited yet, and reaps each when it does
/// (no zombie left behind). Its state is its own: what it watches.
final class DeathWatcher: Sendable {
    private let epoll: Epoll
    /// The inits watched for a death, by their container's serial.
    private let watched = Mutex<[UInt64: ProcessHandle]>([:])
    /// Inits of removed containers, to reap once they exit (tags with reapTag).
    private let lateInits = Mutex<[UInt64: ProcessHandle]>([:])
    /// Teardowns of containers whose init died, off the watcher's thread.
    let deaths = WorkerPool(name: "nsfs-deaths", maxThreads: 4)
    private static let reapTag: UInt64 = 1 << 63

    init() throws(Errno) { epoll = try Epoll() }

    func watch(_ process: ProcessHandle, serial: UInt64) {
        watched.withLock { $0[serial] = process }
        if !bestEffort({ try epoll.add(process.descriptor.fd, tag: serial) }) {
            _ = watched.withLock { $0.removeValue(forKey: serial) }
        }
    }

    func unwatch(_ serial: UInt64) {
        if let p = watched.withLock({ $0.removeValue(forKey: serial) }) { epoll.remove(p.descriptor.fd) }
    }

    func reapLater(_ process: ProcessHandle) {
        let tag = Self.reapTag | UInt64(UInt32(bitPattern: process.pid))
        lateInits.withLock { $0[tag] = process }
        if !bestEffort({ try epoll.add(process.descriptor.fd, tag: tag) }) {
            lateInits.withLock { _ = $0.removeValue(forKey: tag) }
        }
    }

    /// The watching thread. A death is reported once: the init is no
    /// longer watched when `onDeath` runs (level-triggered; watch it again
    /// if the death was not proven).
    func start(onDeath: @escaping @Sendable (UInt64) -> Void) {
        BackgroundThread.start(name: "nsfs-watcher") { [self] in
            while true {
                for tag in epoll.wait() {
                    if tag & Self.reapTag != 0 {
                        if let p = lateInits.withLock({ $0.removeValue(forKey: tag) }) {
                            epoll.remove(p.descriptor.fd)
                            p.reap()
                        }
                        continue
                    }
                    guard let p = watched.withLock({ $0.removeValue(forKey: tag) }) else { continue }
                    epoll.remove(p.descriptor.fd)
                    deaths.submit { onDeath(tag) }
                }
            }
        }
    }
}

/// A container whose init died from outside (killed on the host, OOM...)
/// leaves the tree with its whole subtree, within moments: its pid
/// namespace is gone, and with it every container below.
extension Lifecycle {
    /// Entries removed from the tree by the watcher, for the filesystem to
    /// tell the kernel (outside any request handler).
    package struct Removal: Sendable {
        package let parent: UInt64
        package let serial: UInt64
        package let name: String
    }

    /// Start the watcher thread. `onRemoved` runs on a worker, without locks.
    package func startWatching(onRemoved: @escaping @Sendable ([Removal]) -> Void) throws(Errno) {
        for c in registry.read({ Array($0.containers.values) }) { watch(c) }
        deathWatcher.start { [self] serial in
            let removed = initDied(serial)
            if !removed.isEmpty { onRemoved(removed) }
        }
    }

    func reapLater(_ process: ProcessHandle) { deathWatcher.reapLater(process) }

    func watch(_ c: Container) { deathWatcher.watch(c.initProcess, serial: c.serial) }

    /// The init of `serial` exited: remove it and everything below it.
    func initDied(_ serial: UInt64) -> [Removal] {
        // Mark the subtree (nothing new below it, no rename), then kill and
        // remove outside the lock, then drop it from the tree.
        var unproven: Container?
        let victims = registry.state.withLock { s -> [(serial: UInt64, parent: UInt64, name: String, c: Container?)] in
            guard let c = s.containers[serial] else { return [] }
            // Only an exit the pidfd proves is a death (a failed poll is not).
            guard !c.initProcess.isAlive else { unproven = c; return [] }
            return s.tree.beginRemoveSubtree(serial).compactMap { v in
                guard let n = s.tree.node(v) else { return nil }
                return (v, n.parent!, n.name, s.containers[v])
            }
        }
        if let c = unproven {
            Log.line("container \(hex(c.id)): its init looked dead, but its exit is not proven; watching it again")
            watch(c)
        }
        guard !victims.isEmpty else { return [] }
        var removals: [Removal] = []
        for v in victims {
            if let c = v.c {
                deathWatcher.unwatch(c.serial)
                teardown.destroy(process: c.initProcess, cgroup: c.cgroup, reapLater: reapLater)
                buried(c.id)
                store.delete(id: c.id)
            }
            registry.state.withLock { $0.forget(v.serial) }
            discovery.invalidate(v.serial)
            removals.append(Removal(parent: v.parent, serial: v.serial, name: v.name))
        }
        syncNetnsNames()
        return removals
    }
}
