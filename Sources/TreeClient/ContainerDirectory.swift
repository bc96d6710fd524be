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
        try Self.checkMount(device: st.st_dev, shownAs: path)
        let text: String
        do { text = try FileIO.readString(p + "/status") } catch {
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
        try checkMount(device: st.st_dev, shownAs: shown)
    }

    /// The same for a file already looked at (its st_dev).
    package static func checkMount(device dev: dev_t, shownAs shown: String) throws(NsctlError) {
        let device = MountInfo.deviceName(UInt64(dev))
        guard let m = ClientMounts.table.last(where: { $0.device == device }) else {
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

/// The mount table, read once: nsctl and nsfs-oci live for one command, and
/// it was read and parsed three times per `nsctl exec` (a tenth of its work).
package enum ClientMounts {
    package static let table: [MountEntry] = (try? MountInfo.current()) ?? []
}
