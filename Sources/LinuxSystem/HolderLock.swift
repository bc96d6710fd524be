#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a file, held for the life of the process (flock:
/// released by the kernel when the holder dies, never left stale), and a
/// line in the file that says who holds it.
package enum HolderLock {
    package enum Failure: Error, Sendable {
        /// Another process holds it; what it wrote about itself.
        case held(by: String)
        case failed(Errno)
    }

    /// Take the lock at `path` (created if missing) and write `holder` into
    /// it. Keep the returned descriptor open as long as the lock must hold.
    /// A holder has `patienceMilliseconds` to let go: a daemon whose mount
    /// was just unmounted exits within moments, and `umount; mount` must
    /// not fail because of it.
    package static func acquire(_ path: String, holder: String, patienceMilliseconds: Int = 2_000) throws(Failure) -> OwnedDescriptor {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(patienceMilliseconds) * 1_000_000
        while true {
            let lock = try acquireOnce(path, deadline: deadline)
            // The holder before us may have removed the file at its
            // unmount after we opened it: then we hold a lock nobody else
            // sees. Only a lock on the file the path names counts.
            var mine = stat(), named = stat()
            if fstat(lock.rawValue, &mine) == 0, stat(path, &named) == 0, mine.st_ino == named.st_ino, mine.st_dev == named.st_dev {
                do throws(Errno) {
                    try rewrite(lock, holder: holder)
                } catch { throw .failed(error) }
                return lock
            }
        }
    }

    /// Say who holds it now (the daemon's pid changes when it detaches).
    package static func rewrite(_ lock: OwnedDescriptor, holder: String) throws(Errno) {
        try lock.fd.truncate(to: 0)
        _ = try lock.fd.pwrite(Array((holder + "\n").utf8), at: 0)
    }

    /// Remove the lock file (at unmount, while holding it): none is left
    /// behind. A daemon waiting on it sees it was removed and takes anew.
    package static func remove(_ path: String, held lock: OwnedDescriptor) {
        var mine = stat(), named = stat()
        if fstat(lock.rawValue, &mine) == 0, stat(path, &named) == 0, mine.st_ino == named.st_ino { unlink(path) }
    }

    private static func acquireOnce(_ path: String, deadline: Int64) throws(Failure) -> OwnedDescriptor {
        let fd: FileDescriptor
        // O_NOFOLLOW: a symlink planted there never leads the truncation below elsewhere.
        do throws(Errno) { fd = try FileDescriptor.open(path, O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o644) } catch {
            throw .failed(error)
        }
        let lock = OwnedDescriptor(fd)
        while flock(fd.rawValue, LOCK_EX | LOCK_NB) != 0 {
            let e = Errno.current
            if e == .interrupted { continue }
            if e.rawValue == EWOULDBLOCK, SystemTime.monotonicNanoseconds() < deadline {
                usleep(10_000)
                continue
            }
            if e.rawValue == EWOULDBLOCK {
                let text = (try? fd.preadAll()).map { String(decoding: $0, as: UTF8.self) } ?? ""
                throw .held(by: text.split(separator: "\n").first.map(String.init) ?? "another process")
            }
            throw .failed(e)
        }
        return lock
    }

    /// A file name for a path (e.g. a cgroup), one to one: `%` and `/` escaped.
    package static func fileName(for path: String) -> String {
        var out = ""
        for ch in path {
            switch ch {
            case "%": out += "%25"
            case "/": out += "%2F"
            default: out.append(ch)
            }
        }
        return out
    }
}
