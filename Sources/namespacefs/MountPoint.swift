import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The mount point as given, resolved. A namespacefs mount there may be one
/// whose daemon died while its holder keeps the connection: any stat of it
/// would wait for a daemon — this one. So its parent is resolved, and the
/// mount table read.
struct MountPoint {
    /// The absolute path.
    let path: String
    /// The namespacefs mount already on it, if any.
    let existing: MountEntry?

    static func resolve(_ given: String, mounts: [MountEntry], restart: Bool) -> MountPoint {
        let existing = pathWithoutEntering(given).flatMap { path in
            mounts.last(where: { $0.mountPoint == path && $0.fsType == "fuse.namespacefs" })
        }
        if let existing { return MountPoint(path: existing.mountPoint, existing: existing) }
        guard let resolved = FileIO.realPath(given) else {
            let e = Errno.current
            Command.fail("mount point \(given) does not exist (\(e)): create it with 'mkdir -p \(given)'")
        }
        guard FileIO.isDirectory(resolved) else { Command.fail("mount point \(resolved) is not a directory: choose a directory") }
        if restart { Command.fail("--restart: nothing is mounted on \(resolved); mount it without --restart") }
        return MountPoint(path: resolved, existing: nil)
    }

    /// The path with its parent resolved, its last component not entered.
    static func pathWithoutEntering(_ path: String) -> String? {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return FileIO.realPath(".").map { ($0 == "/" ? "" : $0) + "/" + p } }
        let last = String(p[p.index(after: slash)...])
        guard !last.isEmpty, last != ".", last != ".." else { return FileIO.realPath(p) }
        let parent = slash == p.startIndex ? "/" : String(p[..<slash])
        return FileIO.realPath(parent).map { ($0 == "/" ? "" : $0) + "/" + last }
    }
}
