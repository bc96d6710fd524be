#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a file, held for the life of the process (flock:
/// released by the kernel when the holder dies, never left stale), and a
/// line in the file that says who holds it.
public enum HolderLock {
    public enum Failure: Error, Sendable {
        /// Another process holds it; what it wrote about itself.
        case held(by: String)
        case failed(Errno)
    }

    /// Take the lock at `path` (created if missing) and write `holder` into
    /// it. Keep the returned descriptor open as long as the lock must hold.
    /// A holder has `patienceMilliseconds` to let go: a daemon whose mount
    /// was just unmounted exits within moments, and `umount; mount` must
    /// not fail because of it.
    public static func acquire(_ path: String, holder: String, patienceMilliseconds: Int = 2_000) throws(Failure) -> OwnedDescriptor {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(patienceMilliseconds) * 1_000_000
        let fd: FileDescriptor
        do throws(Errno) { fd = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o644) } catch {
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
        do throws(Errno) {
            try fd.truncate(to: 0)
            _ = try fd.pwrite(Array((holder + "\n").utf8), at: 0)
        } catch { throw .failed(error) }
        return lock
    }

    /// A file name for a path (e.g. a cgroup), one to one: `%` and `/` escaped.
    public static func fileName(for path: String) -> String {
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
