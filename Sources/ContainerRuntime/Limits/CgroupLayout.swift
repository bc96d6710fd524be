import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// How a container's cgroups are laid out, and where the controllers behind
/// its limit entries are on this host.
///
/// cgroup2 lets a cgroup enable controllers for its children only while it
/// holds no process itself ("no internal processes"). So a container's
/// cgroup `C` holds none: its own processes live in the leaf `C/leaf`, its
/// child containers' cgroups beside that leaf, and `C` enables for both
/// every controller the tree uses. The leaf is what the container's cgroup
/// namespace is rooted at (its processes see `0::/`, as before).
///
/// Where `pids` is bound to a cgroup v1 hierarchy instead (hybrid hosts),
/// each container also gets the cgroup of the same path there, `V1/C`, and
/// its processes are placed in it too: a fork bomb must not wait for the
/// host to be reconfigured. `memory` and `cpu` are used only on cgroup2: on
/// v1 they belong to whatever else manages the host.
package struct CgroupLayout: Sendable {
    package static let leafName = ContainerCgroup.leaf

    /// The cgroup2 mount point.
    package let cgroupMount: String
    /// Controllers enabled on cgroup2 for the containers.
    package let v2: Set<CgroupController>
    /// The mount point of the v1 hierarchy holding `pids`, when pids is
    /// not on cgroup2.
    package let pidsV1Mount: String?
    /// Inits moved into their v1 mirror off mkdir's path.
    package let placements = MirrorPlacements()

    package init(cgroupMount: String, v2: Set<CgroupController>, pidsV1Mount: String?) {
        self.cgroupMount = cgroupMount
        self.v2 = v2
        self.pidsV1Mount = v2.contains(.pids) ? nil : pidsV1Mount
    }

    /// The controllers whose limits containers show.
    package var controllers: Set<CgroupController> { pidsV1Mount == nil ? v2 : v2.union([.pids]) }

    /// `subtree_control` text enabling the tree's cgroup2 controllers.
    var enableText: String? {
        v2.isEmpty ? nil : CgroupController.allCases.filter(v2.contains).map { "+" + $0.rawValue }.joined(separator: " ")
    }

    /// The leaf of a container's cgroup.
    package static func leaf(of cgroup: CgroupDirectory) -> CgroupDirectory { cgroup.child(leafName) }

    /// The v1 pids cgroup mirroring the cgroup2 directory `cgroup`.
    package func pidsMirror(of cgroup: CgroupDirectory) -> CgroupDirectory? {
        guard let m = pidsV1Mount, cgroup.path.hasPrefix(cgroupMount) else { return nil }
        return CgroupDirectory(path: m + cgroup.path.dropFirst(cgroupMount.count))
    }

    /// The file behind a limit entry of the container whose cgroup is
    /// `cgroup`; nil where the host does not have its controller.
    package func file(_ f: ControlFile, of cgroup: CgroupDirectory) -> String? {
        guard let controller = f.controller else { return nil }
        if v2.contains(controller) { return cgroup.path + "/" + f.name }
        if controller == .pids, let mirror = pidsMirror(of: cgroup) { return mirror.path + "/" + f.name }
        return nil
    }

    /// Find the controllers for a tree whose cgroups are below `root`, and
    /// enable them on the way there: in `root` itself and in the cgroups
    /// between the cgroup2 mount and it that hold no process (never in the
    /// mount's own root: that is the host's configuration). Then make the
    /// v1 pids mirror of `root`.
    package static func prepare(root: CgroupDirectory, cgroupMount: String, mounts: [MountEntry]) -> CgroupLayout {
        let wanted = Set(CgroupController.allCases.map(\.rawValue))
        var dir = cgroupMount
        for part in root.path.dropFirst(cgroupMount.count).split(separator: "/") {
            dir += "/" + part
            let d = CgroupDirectory(path: dir)
            let available = (ifReadable({ try d.controllers() }) ?? []).filter(wanted.contains)
            let enabled = Set(ifReadable({ try d.subtreeControl() }) ?? [])
            let missing = available.filter { !enabled.contains($0) }
            if missing.isEmpty { continue }
            if dir != root.path, ifReadable({ try d.processes() })?.isEmpty != true { continue }
            bestEffort({ try d.enable(controllers: missing) })
        }
        let v2 = Set((ifReadable({ try root.subtreeControl() }) ?? []).compactMap(CgroupController.init(rawValue:)))
        var pidsV1 = v2.contains(.pids) ? nil : CgroupV1.mountPoint(of: "pids", in: mounts)
        if let m = pidsV1, !bestEffort({ try FileIO.makeDirectories(m + root.path.dropFirst(cgroupMount.count)) }) { pidsV1 = nil }
        return CgroupLayout(cgroupMount: cgroupMount, v2: v2, pidsV1Mount: pidsV1)
    }

    /// Make a container's cgroup ready for processes: it enables the tree's
    /// controllers for its children, its leaf exists, and so does its v1
    /// mirror. `cgroup` itself must exist and hold no process.
    func furnish(_ cgroup: CgroupDirectory) throws(Errno) {
        if let text = enableText { try FileIO.write(cgroup.path + "/cgroup.subtree_control", text) }
        do throws(Errno) { try Self.leaf(of: cgroup).create() } catch { if error != .exists { throw error } }
        if let mirror = pidsMirror(of: cgroup) {
            do throws(Errno) { try mirror.create() } catch { if error != .exists { throw error } }
        }
    }

    /// Hand a leaf to a container's root (host id `owner`), as cgroup2
    /// delegation does: the directory and the files that move processes
    /// and make controllers available below. Its processes can then make
    /// and use cgroups below it, and still not leave it: moving a process
    /// out needs write access to an ancestor's cgroup.procs.
    func delegate(_ leaf: CgroupDirectory, to owner: UInt32) throws(Errno) {
        for name in ["", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"] {
            guard chown(leaf.path + name, owner, owner) == 0 else { throw Errno(errno) }
        }
    }

    /// The first `pids.max` file, from `cgroup` up to `top`, that `adding`
    /// more processes would take over its limit (nil: none). Moving a
    /// process into a cgroup is never refused by pids.max — only fork is
    /// counted — and a container's init is cloned into its cgroup by the
    /// daemon (counted in the daemon's v1 cgroup, where pids is on v1) or
    /// moved there: so mkdir asks first, and again after (`adding` 0: is
    /// any over?), instead of letting nested mkdirs escape a limit.
    /// A file that cannot be read stops nothing (it says nothing).
    package func pidsLimitReached(from cgroup: CgroupDirectory, upTo top: CgroupDirectory, adding: Int) -> String? {
        pidsLimits(from: cgroup, upTo: top, adding: adding).reached
    }

    /// The same, and whether any of them has a limit at all (`limited`).
    func pidsLimits(from cgroup: CgroupDirectory, upTo top: CgroupDirectory, adding: Int) -> (reached: String?, limited: Bool) {
        guard v2.contains(.pids) || pidsV1Mount != nil else { return (nil, false) }
        var dir = cgroup
        var limited = false
        while true {
            let pidsDir = v2.contains(.pids) ? dir : pidsMirror(of: dir)
            if let d = pidsDir, let max = Self.number(d.path + "/pids.max") {   // ("max": no limit, nil)
                limited = true
                // Counted with every init on its way there.
                if !v2.contains(.pids) { placements.settle() }
                if let current = Self.number(d.path + "/pids.current"),
                   current + adding > max || (adding == 0 && current > max) {
                    return (d.path + "/pids.max", true)
                }
            }
            guard dir.path != top.path, dir.path.hasPrefix(top.path + "/"), let slash = dir.path.lastIndex(of: "/") else {
                return (nil, limited)
            }
            dir = CgroupDirectory(path: String(dir.path[..<slash]))
        }
    }

    static func number(_ path: String) -> Int? {
        ifReadable({ try FileIO.readString(path) }).flatMap { Int($0.split(separator: "\n").first ?? "") }
    }

    /// Put `pid` (the daemon's pid namespace) in the v1 mirror of `cgroup`.
    func placeInMirror(_ pid: Int32, of cgroup: CgroupDirectory) throws(Errno) {
        try pidsMirror(of: cgroup)?.adopt(pid: pid)
    }

    /// Put `process` (in the leaf of `cgroup`) in the v1 mirror of `cgroup`:
    /// now, or, where nothing would count it against a limit (`later`),
    /// soon with the rest of the leaf (see MirrorPlacements).
    func placeInMirror(_ process: ProcessHandle, of cgroup: CgroupDirectory, later: Bool) throws(Errno) {
        guard let mirror = pidsMirror(of: cgroup) else { return }
        if later { placements.syncLater(leaf: Self.leaf(of: cgroup), mirror: mirror) } else { try mirror.adopt(pid: process.pid) }
    }
}
