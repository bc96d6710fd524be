import ContainerTree
import LinuxSystem

/// A container as nsctl sees it: through the mount, in the caller's own view
/// (inside a container, its subtree), so every pid is already the caller's.
struct ContainerDirectory {
    let path: String
    let status: ContainerStatus

    /// Reads PATH/status; fails with a readable line if PATH is no container.
    init(_ path: String) throws(NsctlError) {
        let p = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard FileIO.isDirectory(p) else { throw NsctlError("\(path): no such container") }
        let text: String
        do { text = try FileIO.readString(p + "/status") } catch {
            throw NsctlError("\(path) is not a container of a namespacefs mount (no status file)")
        }
        self.path = p
        status = ContainerStatus(parsing: text)
    }

    var name: String { status.name }
    var isRoot: Bool { status.isRoot }

    /// Child containers (directories other than the filesystem's own entries).
    func children() -> [ContainerDirectory] {
        let names = ((try? FileIO.listDirectory(path)) ?? []).filter { !EntryKind.reservedNames.contains($0) }.sorted()
        return names.compactMap { try? ContainerDirectory(path + "/" + $0) }
    }

    /// Own processes, as the caller sees them.
    func processes() -> [Int32] {
        CgroupDirectory.parsePids((try? FileIO.read(path + "/procs")) ?? [])
    }
}

struct NsctlError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
