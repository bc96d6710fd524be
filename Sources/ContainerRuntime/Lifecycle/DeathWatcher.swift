import ContainerTree
import LinuxSystem

/// A container whose init died from outside (killed on the host, OOM...)
/// leaves the tree with its whole subtree, within moments: its pid
/// namespace is gone, and with it every container below. One thread waits
/// on every init's pidfd; the teardown runs on a worker, outside the lock.
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
        BackgroundThread.start(name: "nsfs-watcher") { [self] in
            while true {
                for tag in watcher.wait() {
                    if tag & Self.reapTag != 0 {
                        if let p = lateInits.withLock({ $0.removeValue(forKey: tag) }) {
                            watcher.remove(p.descriptor.fd)
                            p.reap()
                        }
                        continue
                    }
                    guard let c = registry.container(tag) else { continue }
                    // Level-triggered: stop watching before the teardown runs.
                    watcher.remove(c.initProcess.descriptor.fd)
                    deaths.submit { [self] in
                        let removed = initDied(tag)
                        if !removed.isEmpty { onRemoved(removed) }
                    }
                }
            }
        }
    }

    /// Tags with this bit are inits of removed containers, kept only to be
    /// reaped when they finally exit (no zombie left behind).
    static let reapTag: UInt64 = 1 << 63

    func reapLater(_ process: ProcessHandle) {
        let tag = Self.reapTag | UInt64(UInt32(bitPattern: process.pid))
        lateInits.withLock { $0[tag] = process }
        if !bestEffort({ try watcher.add(process.descriptor.fd, tag: tag) }) {
            lateInits.withLock { _ = $0.removeValue(forKey: tag) }
        }
    }

    func watch(_ c: Container) {
        bestEffort({ try watcher.add(c.initProcess.descriptor.fd, tag: c.serial) })
    }

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
                watcher.remove(c.initProcess.descriptor.fd)
                teardown.destroy(process: c.initProcess, cgroup: c.cgroup, reapLater: reapLater)
                store.delete(id: c.id)
            }
            registry.state.withLock { $0.forget(v.serial) }
            discovery.invalidate(v.serial)
            removals.append(Removal(parent: v.parent, serial: v.serial, name: v.name))
        }
        return removals
    }
}
