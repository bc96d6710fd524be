import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A container as the tools see it (nsctl, nsfs-oci): through the mount,
/// in the caller's own view (inside a container, its subtree), so every pid
/// is already the caller's.
package struct ContainerDirectory {
    package let path: String
    package let status: ContainerStatus
    /// The status file as read.
    package let statusText: String

    /// Reads PATH/status; fails with a readable line if PATH is no container
    /// of a real namespacefs mount.
    package init(_ path: String) throws(NsctlError) {
        let p = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let st: stat
        do throws(Errno) { st = try FileIO.status(p) } catch { throw NsctlError("\(path): no such container") }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw NsctlError("\(path): no such container") }
        try Self.checkMount(p, device: st.st_dev, shownAs: path)
        let text: String
        do { text = try FileIO.readControlFile(p + "/status") } catch {
            throw NsctlError("\(path) is not a container of a namespacefs mount (no status file)")
        }
        self.path = p
        statusText = text
        status = ContainerStatus(parsing: text)
    }

    /// Only a directory of a namespacefs mount served by root is a
    /// container: anyone can write a file named `status` elsewhere, and
    /// nsctl (often run as root) enters the process that file names. The
    /// mount is found by the directory's device in the mount table; a FUSE
    /// mount made by an unprivileged user (fusermount3) carries its
    /// `user_id`, which the user cannot set to 0.
    package static func checkMount(_ path: String, shownAs shown: String) throws(NsctlError) {
        let st: stat
        do throws(Errno) { st = try FileIO.status(path) } catch { throw NsctlError("\(shown): \(error)") }
        try checkMount(path, device: st.st_dev, shownAs: shown)
    }

    /// The same for a path already looked at (its st_dev).
    static func checkMount(_ path: String, device dev: dev_t, shownAs shown: String) throws(NsctlError) {
        guard let m = ClientMounts.mount(of: path, device: dev) else {
            throw NsctlError("\(shown) is not on a mounted filesystem nsctl can find")
        }
        guard m.fsType == "fuse.namespacefs", m.superOptions.split(separator: ",").contains("user_id=0") else {
            throw NsctlError("\(shown) is not a container of a namespacefs mount (it is on \(m.fsType) at \(m.mountPoint))")
        }
    }

    package var name: String { status.name }
    package var isRoot: Bool { status.isRoot }

    /// Child containers (directories other than the filesystem's own entries).
    package func children() -> [ContainerDirectory] {
        let names = ((try? FileIO.listDirectory(path)) ?? []).filter { !EntryKind.reservedNames.contains($0) }.sorted()
        return names.compactMap { try? ContainerDirectory(path + "/" + $0) }
    }

    /// Own processes, as the caller sees them.
    package func processes() -> [Int32] {
        CgroupDirectory.parsePids((try? FileIO.read(path + "/procs")) ?? [])
    }
}

/// One readable line for the user (the tool prefixes its name).
package struct NsctlError: Error, CustomStringConvertible {
    package let description: String
    package init(_ d: String) { description = d }
}

/// The mounts nsctl and nsfs-oci look at: the one a container's directory
/// is on, and the cgroup hierarchies. Each is asked of the kernel for that
/// mount alone where it can say (statmount); else the mount table is read,
/// once: they live for one command, and reading /proc/self/mountinfo was
/// ~0.2 ms of an `nsctl exec` (~5%).
package enum ClientMounts {
    package static let table: [MountEntry] = (try? MountInfo.current()) ?? []

    /// The mount `path` (whose st_dev is `device`) is on.
    static func mount(of path: String, device: dev_t) -> MountEntry? {
        if let (m, _) = MountInfo.mount(of: path) { return m }
        let name = MountInfo.deviceName(UInt64(device))
        return table.last { $0.device == name }
    }

    /// Where the cgroup2 hierarchy is mounted: /sys/fs/cgroup (or, on a
    /// hybrid host, /sys/fs/cgroup/unified) when the kernel confirms a
    /// cgroup2 mount's root is there; else as the table says.
    package static let cgroup2: String? = probe(["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]) { $0.fsType == "cgroup2" }
        ?? Cgroup2.mountPoint(in: table)

    /// Where the v1 hierarchy holding `pids` is mounted, if one does (none
    /// where this process is in none: a cgroup2-only host).
    package static let pidsV1: String? = probe(["/sys/fs/cgroup/pids"]) {
        $0.fsType == "cgroup" && $0.superOptions.split(separator: ",").contains("pids")
    } ?? ownPidsPath.flatMap { _ in CgroupV1.mountPoint(of: "pids", in: table) }

    /// This process's cgroup in that hierarchy (/proc/self/cgroup, read once).
    package static let ownPidsPath: String? = (try? FileIO.readString("/proc/self/cgroup"))
        .flatMap { CgroupV1.parsePath($0, controller: "pids") }

    /// The first of `places` that is the root of a mount of the whole
    /// hierarchy (root "/") that `matches`.
    static func probe(_ places: [String], _ matches: (MountEntry) -> Bool) -> String? {
        places.first { p in
            guard let (m, isRoot) = MountInfo.mount(of: p) else { return false }
            return isRoot == true && m.root == "/" && matches(m)
        }
    }
}
