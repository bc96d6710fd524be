import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Ending a container's processes and removing its cgroup. Runs outside
/// every lock: with thousands of processes it takes tens of milliseconds,
/// with a stuck one up to the timeout.
struct Teardown: Sendable {
    /// How long to wait for a container's processes to die.
    let timeoutMilliseconds: Int
    /// Where the v1 mirrors are, removed after the cgroup2 ones.
    let layout: CgroupLayout

    /// cgroup.kill, then remove the cgroup — and any cgroups the workload
    /// made below it (systemd or docker inside do) — as soon as it is
    /// empty: that is "no process left". Not the init's exit: a dying init
    /// waits in the kernel for zombies whose parents are outside its pid
    /// namespace (setns + fork), however long those parents take to reap
    /// them. The init's pidfd and cgroup.events are watched together (the
    /// pidfd is the faster signal; cgroup.events notifications are
    /// rate-limited). An init that has not exited yet is handed to
    /// `reapLater`. False on timeout.
    @discardableResult
    /// `within`: a shorter wait than the timeout (a quick first try; the
    /// kill stays sent, so calling it again later goes on where it stopped).
    func destroy(process: ProcessHandle?, cgroup: CgroupDirectory, within: Int? = nil,
                 reapLater: (ProcessHandle) -> Void = { _ in }) -> Bool {
        let wait = within ?? timeoutMilliseconds
        let deadline = SystemTime.monotonicNanoseconds() + Int64(wait) * 1_000_000
        do throws(Errno) { try cgroup.kill() } catch {
            if error == .noEntry { return true }
        }
        // Usually the init is gone within a fraction of a millisecond, and
        // with it everything in its pid namespace: try that first.
        // Reaping it before rmdir matters: measured 0.2 ms faster per rmdir.
        var initExited = process?.waitForExit(timeoutMilliseconds: Int32(min(2, wait))) ?? false
        if initExited { process?.reap() }
        // Otherwise many processes are dying: the cgroup empties when the
        // last one exits, before the dying init has reaped them all. Try
        // rmdir every millisecond (a refused rmdir is cheap), woken early by
        // cgroup.events or the init's exit (events are rate-limited).
        var events: FileDescriptor?
        defer { events?.close() }
        while true {
            // Two rmdirs usually do it: the leaf, then the cgroup. EBUSY:
            // processes still dying, or cgroups the workload made below,
            // which go first (then at once again, if there were any).
            bestEffort({ try CgroupLayout.leaf(of: cgroup).remove() })
            do throws(Errno) { try cgroup.remove(); break } catch {
                if error == .noEntry { break }
                if error != .busy && error != .notEmpty { return false }
            }
            switch Self.removeChildren(of: cgroup) {
            case .success(let removed) where removed > 0: continue
            case .success: break
            case .failure(let e) where e == .busy || e == .notEmpty: break
            case .failure: return false
            }
            let left = Int((deadline - SystemTime.monotonicNanoseconds()) / 1_000_000)
            if left <= 0 { return false }
            if events == nil { events = ifReadable({ try FileDescriptor.open(cgroup.path + "/cgroup.events", O_RDONLY) }) }
            bestEffort({ _ = try events?.preadAll() })   // re-arm the change notification
            var fds = [pollfd(fd: events?.rawValue ?? -1, events: Int16(POLLPRI), revents: 0)]
            if let process, !initExited { fds.append(pollfd(fd: process.descriptor.rawValue, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), 1)
            if fds.count > 1 && fds[1].revents != 0 { initExited = true; process?.reap() }
        }
        if let process, !initExited {
            if process.isAlive { reapLater(process) } else { process.reap() }
        }
        if let mirror = layout.pidsMirror(of: cgroup) { Self.removeMirror(mirror) }
        return true
    }

    /// The v1 mirror of a removed cgroup: empty once the cgroup2 one is
    /// (every process of it was there too), so rmdir, leaves first.
    static func removeMirror(_ mirror: CgroupDirectory) {
        for attempt in 0..<100 {
            do throws(Errno) { try mirror.remove(); return } catch {
                if error == .noEntry { return }
                if error != .busy { break }
            }
            // Child cgroups (made by hand: the tree removes its own first),
            // or the last processes still leaving.
            _ = removeChildren(of: mirror)
            if attempt > 0 { usleep(1000) }
        }
        Log.line("cannot remove the pids cgroup \(mirror.path): processes left there")
    }

    /// rmdir of every cgroup below `dir`, leaves first; how many there were.
    /// A directory already gone counts as removed.
    static func removeChildren(of dir: CgroupDirectory) -> Result<Int, Errno> {
        let children: [String]
        do throws(Errno) { children = try dir.children() } catch {
            return error == .noEntry ? .success(0) : .failure(error)
        }
        for name in children {
            let child = dir.child(name)
            if case .failure(let e) = removeChildren(of: child) { return .failure(e) }
            do throws(Errno) { try child.remove() } catch {
                if error != .noEntry { return .failure(error) }
            }
        }
        return .success(children.count)
    }
}
