import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Inits on their way into their v1 pids mirror, off mkdir's path.
///
/// A move into a v1 cgroup takes the kernel's global threadgroup lock for
/// writing, and after an idle moment that waits out an RCU grace period:
/// 14 of the 17 ms of a `mkdir` typed at a shell (back to back it is cheap:
/// a grace period has just passed). An init forks nothing, so where no
/// container above has a limit (nothing to count it against) mkdir leaves
/// the move to a thread of its own. Whatever reads or writes a pids file,
/// checks a limit, or removes a container first waits for the moves under
/// way (`settle`): nothing sees a count without them.
package final class MirrorPlacements: Sendable {
    private struct State {
        var queue: [(process: ProcessHandle, mirror: CgroupDirectory)] = []
        /// A thread is draining the queue.
        var moving = false
    }
    private let state = Mutex(State())

    package init() {}

    /// Move `process` into `mirror` soon (a thread started if none runs).
    func placeLater(_ process: ProcessHandle, in mirror: CgroupDirectory) {
        let start = state.withLock { s -> Bool in
            s.queue.append((process, mirror))
            defer { s.moving = true }
            return !s.moving
        }
        if start { BackgroundThread.start(name: "nsfs-pids-move") { [self] in drain() } }
    }

    private func drain() {
        while let next = state.withLock({ s -> (process: ProcessHandle, mirror: CgroupDirectory)? in
            if s.queue.isEmpty { s.moving = false; return nil }
            return s.queue.removeFirst()
        }) {
            // Gone meanwhile (an rmdir settles first: only a death races):
            // nothing to count.
            guard next.process.isAlive else { continue }
            do throws(Errno) { try next.mirror.adopt(pid: next.process.pid) } catch where error.saysGone {} catch {
                Log.line("cannot place process \(next.process.pid) in its pids cgroup \(next.mirror.path): \(error)")
            }
        }
    }

    /// Are moves under way?
    var pending: Bool { state.withLock { $0.moving } }

    /// Wait until every move asked for so far is done.
    func settle() {
        while pending { usleep(200) }
    }
}
