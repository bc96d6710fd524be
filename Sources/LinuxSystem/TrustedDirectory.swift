#if canImport(Glibc)
import Glibc
#endif

/// A directory the daemon keeps its state or locks in, and may trust: made
/// by root if missing; refused if it, or any directory above it, could be
/// changed by anyone but root (owned by another user, writable by group or
/// others without the sticky bit, a symbolic link). Otherwise a user who
/// made `/tmp/st` first could point the daemon's files anywhere (a symlink
/// named `lock` truncates a root file) or forge the records it acts on.
package enum TrustedDirectory {
    /// Why a directory is refused, in words for the one line users see.
    package struct Refusal: Error, Sendable, CustomStringConvertible {
        package let path: String
        package let reason: String
        package var description: String { "\(path) is \(reason)" }
    }

    /// Make `path` (and missing parents, owned by root, `mode`), then check
    /// it and every directory above it.
    package static func ensure(_ path: String, mode: mode_t) throws(Refusal) {
        guard path.hasPrefix("/") else { throw Refusal(path: path, reason: "not an absolute path") }
        var prefix = ""
        let parts = path.split(separator: "/")
        for (i, part) in parts.enumerated() {
            prefix += "/" + part
            if mkdir(prefix, i == parts.count - 1 ? mode : 0o755) != 0 && errno != EEXIST {
                throw Refusal(path: prefix, reason: "not creatable (\(Errno.current))")
            }
        }
        try check(path)
    }

    /// The check alone: the directory itself root's, no symlink, not
    /// writable by group or others; each one above it root's and not
    /// writable by group or others unless sticky (then its entries that
    /// root owns cannot be renamed or removed by others: /tmp, /run/lock).
    package static func check(_ path: String) throws(Refusal) {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw Refusal(path: path, reason: "not readable (\(Errno.current))") }
        if (st.st_mode & S_IFMT) == S_IFLNK { throw Refusal(path: path, reason: "a symbolic link: give the directory itself") }
        if let why = verdict(st, sticky: false) { throw Refusal(path: path, reason: why) }
        // Above it: the real path (a symlink such as /var/run -> /run, made
        // by root, is fine: it is the directories it reaches that count).
        guard var dir = FileIO.realPath(path) else { throw Refusal(path: path, reason: "not resolvable (\(Errno.current))") }
        while dir != "/" {
            dir = dir.lastIndex(of: "/").map { $0 == dir.startIndex ? "/" : String(dir[..<$0]) } ?? "/"
            guard stat(dir, &st) == 0 else { throw Refusal(path: dir, reason: "not readable (\(Errno.current))") }
            if let why = verdict(st, sticky: true) { throw Refusal(path: dir, reason: why + " (a directory above \(path))") }
        }
    }

    /// Why a directory's owner or mode makes it untrusted, if they do.
    package static func verdict(_ st: stat, sticky allowSticky: Bool) -> String? {
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return "not a directory" }
        if st.st_uid != 0 { return "owned by uid \(st.st_uid), not root: remove it or choose another directory" }
        let writable = st.st_mode & (S_IWGRP | S_IWOTH) != 0
        let sticky = st.st_mode & S_ISVTX != 0
        if writable && !(allowSticky && sticky) {
            return "writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8))): chmod go-w it, or choose another directory"
        }
        return nil
    }
}
