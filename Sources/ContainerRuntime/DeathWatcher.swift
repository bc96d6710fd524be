import ContainerTree
import LinuxSystem

/// A container whose init died from outside (killed on the host, OOM...)
/// leaves the tree with its whole subtree, within moments: its pid
/// namespace is gone, and with it every container below.
extension ContainerManager {
    /// Entries removed from the tree by the watcher, for the filesystem to
    /// tell the kernel (outside any request handler).
    public struct Removal: Sendable {
        public let parent: UInt64
        public let serial: UInt64
        public let name: String
    }

    /// Start the watcher thread. `onRemoved` runs on it, without the lock held.
    public func startWatching(onRemoved: @escaping @Sendable ([Removal]) -> Void) throws(Errno) {
        let epoll = try Epoll()
        viewQueue = SerialQueue()
        try lock.withLock { () throws(Errno) in
            watcher = epoll
            for (serial, c) in containers { try epoll.add(c.initProcess.descriptor.fd, tag: serial) }
        }
        BackgroundThread.start { [self] in
            while true {
                for serial in epoll.wait() {
                    if serial & Self.reapTag != 0 {
                        if let p = lateInits.withLock({ $0.removeValue(forKey: serial) }) {
                            epoll.remove(p.descriptor.fd)
                            p.reap()
                        }
                        continue
                    }
                    let removed = initDied(serial)
                    if !removed.isEmpty { onRemoved(removed) }
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
        if (try? watcher?.add(process.descriptor.fd, tag: tag)) == nil {
            lateInits.withLock { _ = $0.removeValue(forKey: tag) }
        }
    }

    func watch(_ c: Container, serial: UInt64) {
        try? watcher?.add(c.initProcess.descriptor.fd, tag: serial)
    }

    /// The init of `serial` exited: remove it and everything below it.
    func initDied(_ serial: UInt64) -> [Removal] {
        lock.withLock {
            // Gone already if a handler removed it (it held the lock meanwhile).
            guard let c = containers[serial], !c.initProcess.isAlive else { return [] }
            var removals: [Removal] = []
            for s in tree.subtreePostOrder(serial) {
                guard let victim = containers[s], let n = tree.node(s) else { continue }
                watcher?.remove(victim.initProcess.descriptor.fd)
                destroyKernelObjects(process: victim.initProcess, cgroup: victim.cgroup)
                removals.append(Removal(parent: n.parent!, serial: s, name: n.name))
                forget(s)
            }
            return removals
        }
    }
}
