#if canImport(Glibc)
import Glibc
#endif

/// Where cgroup2 is, and where this process sits in it.
package enum Cgroup2 {
    /// The cgroup2 mount point from mountinfo (never assumed: hybrid hosts
    /// have it at /sys/fs/cgroup/unified, pure ones at /sys/fs/cgroup).
    package static func mountPoint(in mounts: [MountEntry]) -> String? {
        mounts.first { $0.fsType == "cgroup2" && $0.root == "/" }?.mountPoint
            ?? mounts.first { $0.fsType == "cgroup2" }?.mountPoint
    }

    /// This process's cgroup2 path ("0::/path" in /proc/self/cgroup).
    package static func ownPath() throws(Errno) -> String {
        try parseOwnPath(FileIO.readString("/proc/self/cgroup"))
    }

    /// The cgroup2 path of another process.
    package static func path(of pid: Int32) throws(Errno) -> String {
        try parseOwnPath(FileIO.readString("/proc/\(pid)/cgroup"))
    }

    package static func parseOwnPath(_ text: String) throws(Errno) -> String {
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        throw .invalid   // not "gone": the process is there, its text is not what we expect
    }
}

/// cgroup v1 hierarchies (hybrid hosts bind some controllers there).
package enum CgroupV1 {
    /// The mount point of the v1 hierarchy that has `controller`.
    package static func mountPoint(of controller: String, in mounts: [MountEntry]) -> String? {
        mounts.first { $0.fsType == "cgroup" && $0.superOptions.split(separator: ",").contains(Substring(controller)) }?.mountPoint
    }

    /// Does the v1 pids cgroup `dir`, or one above it up to the hierarchy's
    /// root (which has no pids.max), have a limit? A pids.max that cannot
    /// be read counts as one (it says nothing: the careful answer).
    package static func pidsLimited(from dir: String) -> Bool {
        var d = dir
        while true {
            do throws(Errno) {
                let text = try FileIO.read(d + "/pids.max")
                if text != Array("max\n".utf8) { return true }
            } catch {
                return error != .noEntry
            }
            guard let slash = d.lastIndex(of: "/"), slash != d.startIndex else { return false }
            d = String(d[..<slash])
        }
    }

    /// A process's path in that hierarchy ("4:pids:/path" in /proc/PID/cgroup).
    package static func parsePath(_ text: String, controller: String) -> String? {
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if f.count == 3, f[1].split(separator: ",").contains(Substring(controller)) { return String(f[2]) }
        }
        return nil
    }
}

/// One cgroup2 directory, by absolute filesystem path.
package struct CgroupDirectory: Sendable, Hashable {
    package let path: String
    package init(path: String) { self.path = path }

    package func child(_ name: String) -> CgroupDirectory { CgroupDirectory(path: path + "/" + name) }

    package var exists: Bool { FileIO.isDirectory(path) }

    package func create() throws(Errno) { try FileIO.makeDirectory(path) }

    /// A directory descriptor, as CLONE_INTO_CGROUP wants it.
    package func open() throws(Errno) -> OwnedDescriptor {
        OwnedDescriptor(try FileDescriptor.open(path, O_RDONLY | O_DIRECTORY))
    }

    /// SIGKILL every process of this cgroup and below (cgroup.kill).
    package func kill() throws(Errno) { try FileIO.write(path + "/cgroup.kill", "1") }

    package func isPopulated() throws(Errno) -> Bool {
        let events = try FileIO.readString(path + "/cgroup.events")
        return events.split(separator: "\n").contains("populated 1")
    }

    package func remove() throws(Errno) { try FileIO.removeDirectory(path) }

    /// Frozen (cgroup.events): by its own cgroup.freeze or an ancestor's.
    /// A new cgroup below a frozen one reports it at once, while empty.
    package func isFrozen() throws(Errno) -> Bool {
        Self.parseEvents(try FileIO.read(path + "/cgroup.events"), key: "frozen")
    }

    /// `key 1` in a cgroup.events text.
    /// The value of `key` in a flat-keyed file (`usage_usec 1234`).
    package static func parseStat(_ bytes: [UInt8], key: String) -> UInt64? {
        let k = Array(key.utf8) + [UInt8(ascii: " ")]
        for line in bytes.split(separator: 10) where line.starts(with: k) {
            return UInt64(String(decoding: line.dropFirst(k.count), as: UTF8.self))
        }
        return nil
    }

    package static func parseEvents(_ bytes: [UInt8], key: String) -> Bool {
        // Hot (every status read): match the line's bytes, no strings.
        let line = Array("\(key) 1".utf8)
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 10) ?? bytes.count
            if bytes[start..<end].elementsEqual(line) { return true }
            start = end + 1
        }
        return false
    }

    /// One pid per line (cgroup.procs).
    package static func parsePids(_ bytes: [UInt8]) -> [Int32] {
        var out: [Int32] = []
        var v: Int32 = 0, digits = false
        for b in bytes {
            if b >= 48 && b <= 57 { v = v * 10 + Int32(b - 48); digits = true }
            else { if digits { out.append(v) }; v = 0; digits = false }
        }
        if digits { out.append(v) }
        return out
    }

    /// cgroup.freeze: true suspends every process below, false resumes.
    package func setFrozen(_ frozen: Bool) throws(Errno) {
        try FileIO.write(path + "/cgroup.freeze", frozen ? "1" : "0")
    }

    /// Its own cgroup.freeze value (not what its ancestors impose).
    package func isFreezeRequested() throws(Errno) -> Bool {
        try FileIO.read(path + "/cgroup.freeze").first == UInt8(ascii: "1")
    }

    /// Move process `pid` here. ESRCH (it exited meanwhile) is no error.
    package func adopt(pid: Int32) throws(Errno) {
        do throws(Errno) { try FileIO.write(path + "/cgroup.procs", String(pid)) } catch {
            if error != .noProcess { throw error }
        }
    }

    /// Pids in this cgroup itself (not below), in the daemon's pid namespace.
    package func processes() throws(Errno) -> [Int32] {
        Self.parsePids(try FileIO.read(path + "/cgroup.procs"))
    }

    /// Controllers its parent lets it use (cgroup.controllers).
    package func controllers() throws(Errno) -> [String] {
        try FileIO.readString(path + "/cgroup.controllers").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// Controllers it enables for its children (cgroup.subtree_control).
    package func subtreeControl() throws(Errno) -> [String] {
        try FileIO.readString(path + "/cgroup.subtree_control").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// Enable controllers for its children: refused (EBUSY) while it holds processes.
    package func enable(controllers: [String]) throws(Errno) {
        try FileIO.write(path + "/cgroup.subtree_control", controllers.map { "+" + $0 }.joined(separator: " "))
    }

    /// Child cgroups (cgroupfs reports each entry's type: no stat each).
    /// This cgroup and every cgroup below it, parents first (a listing
    /// that fails ends that branch).
    package func subtree() -> [CgroupDirectory] {
        [self] + ((try? children()) ?? []).flatMap { child($0).subtree() }
    }

    package func children() throws(Errno) -> [String] {
        try FileIO.listDirectory(path, onlyDirectories: true)
    }

    /// One stat: the cgroup id (its directory's inode number, as pidfd
    /// info reports a process's cgroup) and how many child cgroups it has
    /// (cgroupfs counts them in the directory's link count, 2 + children).
    package func identity() throws(Errno) -> (id: UInt64, children: Int) {
        let st = try FileIO.status(path)
        return (UInt64(st.st_ino), Int(st.st_nlink) - 2)
    }
}
