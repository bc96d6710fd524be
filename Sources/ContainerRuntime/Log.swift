import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's log: one line on standard error (the terminal; the journal
/// under systemd, which runs it with -f; the file of -o log= once detached),
/// or syslog once detached where /dev/log is there. Never nowhere.
package enum Log {
    private static let syslog = Atomic<Bool>(false)

    package static func line(_ message: String) {
        guard syslog.load(ordering: .relaxed) else { StandardError.line("namespacefs: " + message); return }
        message.withCString { text in withVaList([text]) { vsyslog(LOG_INFO, "%s", $0) } }
    }

    /// After detaching (standard error is /dev/null then): to `file`
    /// (appended, 0600, never through a symlink), or to syslog where
    /// /dev/log is a socket, else to `fallback`. Returns where, for one line.
    @discardableResult
    package static func detach(to file: String?, fallback: String) -> String {
        var st = stat()
        if file == nil, lstat("/dev/log", &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK {
            openlog("namespacefs", LOG_PID, LOG_DAEMON)
            syslog.store(true, ordering: .relaxed)
            return "syslog"
        }
        let path = file ?? fallback
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "nowhere (\(path): \(Errno.current))" }
        dup2(fd, 2)
        close(fd)
        return path
    }
}
