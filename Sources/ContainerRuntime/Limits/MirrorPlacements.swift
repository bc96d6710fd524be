import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Processes on their way into their v1 pids mirror, off the path of the
/// request that made them: inits (mkdir) and what `nsctl exec` starts.
///
/// A move into a v1 cgroup takes the kernel's global threadgroup lock for
/// writing, and after an idle moment that waits out an RCU grace period:
/// 14 of the 17 ms of a `mkdir` typed at a shell, ~20 of the 25 of an
/// `nsctl exec` (back to back it is cheap: a grace period has just passed).
/// Where no limit counts them (none on the container's mirror or above),
/// the moves are left to a thread of its own: every process of the
/// container's leaf not yet in its mirror (`sync`: an init, which forks
/// nothing, or a command and what it forked before its move). Whatever
/// reads or writes a pids file, checks a limit, or removes a container
/// first waits for the moves under way (`settle`): nothing sees a count
/// without them.
package final class MirrorPlacements: Sendable {
    private struct State {
        /// Leaves (v2) to bring into their mirrors (v1).
        var queue: [(leaf: CgroupDirectory, mirror: CgroupDirectory)] = []
        /// A thread is draining the queue.
        var moving = false
    }
    private let state = Mutex(State())

    package init() {}

    /// Bring every process of `leaf` into `mirror` soon (a thread started
    /// if none runs).
    func syncLater(leaf: CgroupDirectory, mirror: CgroupDirectory) {
        let start = state.withLock { s -> Bool in
            s.queue.append((leaf, mirror))
            defer { s.moving = true }
            return !s.moving
        }
        if start { BackgroundThread.start(name: "nsfs-pids-move") { [self] in drain() } }
    }

    private func drain() {
        while let next = state.withLock({ s -> (leaf: CgroupDirectory, mirror: CgroupDirectory)? in
            if s.queue.isEmpty { s.moving = false; return nil }
            return s.queue.removeFirst()
        }) {
            Self.sync(leaf: next.leaf, mirror: next.mirror)
        }
    }

    /// Every process of `leaf` not in `mirror`, moved there, again until
    /// none is left out (a process forks into its own mirror once moved;
    /// what it forked before is caught by the next round). A process gone
    /// meanwhile is nothing to count. false: still some after `rounds`
    /// (they fork faster than they are moved: freeze them first, see
    /// ControlFiles.setLimit).
    @discardableResult
    static func sync(leaf: CgroupDirectory, mirror: CgroupDirectory, rounds: Int = 8) -> Bool {
        for _ in 0..<rounds {
            guard let inLeaf = ifReadable({ try leaf.processes() }), let placed = ifReadable({ try mirror.processes() }) else { return true }
            let missing = Set(inLeaf).subtracting(placed)
            if missing.isEmpty { return true }
            for pid in missing.sorted() {
                do throws(Errno) { try mirror.adopt(pid: pid) } catch where error.saysGone {} catch {
                    Log.line("cannot place process \(pid) in its pids cgroup \(mirror.path): \(error)")
                }
            }
        }
        return false
    }

    /// Are moves under way?
    var pending: Bool { state.withLock { $0.moving } }

    /// Wait until every move asked for so far is done.
    func settle() {
        while pending { usleep(200) }
    }
}
