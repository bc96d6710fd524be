import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Entering a container from outside: its init (proven), its cgroup, its
/// process limit (nsctl exec, nsfs-oci).
extension ContainerDirectory {
    /// The init's process limit (RLIMIT_NPROC), which what enters takes
    /// too: 0 to leave ours (no limit, or unreadable).
    package static func processLimit(of p: ProcessHandle) -> UInt64 {
        ResourceLimits.processes(of: p.pid) ?? 0
    }

    /// The container's init, proven by its pid-namespace id.
    package func initProcess() throws(NsctlError) -> ProcessHandle {
        guard let pid = status.initPid else {
            throw NsctlError("\(path): its init is not visible from here")
        }
        // The pid is the init's as we see it; the pidfd pins that process,
        // and its pid-namespace id proves it is still the container's.
        let initProcess: ProcessHandle
        do { initProcess = try ProcessHandle.open(pid: pid) } catch {
            throw NsctlError("\(path): its init \(pid) is gone (\(error))")
        }
        let actual: UInt64
        do throws(Errno) { actual = try initProcess.namespaceID(.pid) } catch {
            if (error == .accessDenied || error == .notPermitted) && !Capabilities.hasSysAdmin() {
                throw NsctlError("cannot enter \(path): it takes root, or owning its user namespace (a container you made in a directory delegated to you)")
            }
            throw NsctlError("\(path): cannot read its init's pid namespace (\(error))")
        }
        guard let want = status.namespaceID(.pid), actual == want else {
            throw NsctlError("\(path): pid \(pid) is no longer its init")
        }
        return initProcess
    }

    /// A set has no init: enter through one of its processes, proven to
    /// have every namespace `status` names.
    package func member() throws(NsctlError) -> ProcessHandle {
        for pid in processes() {
            guard let p = try? ProcessHandle.open(pid: pid) else { continue }
            let same = NamespaceKind.allCases.allSatisfy { k in
                status.namespaceID(k).map { (try? p.namespaceID(k)) == $0 } ?? true
            }
            if same, p.isAlive { return p }
        }
        throw NsctlError("\(path): none of its processes is visible from here")
    }

    /// The container's leaf cgroup (where its own processes live), through
    /// our own cgroup2 mount.
    package func leafCgroupDescriptor() -> Int32? {
        guard let rel = status.cgroup, let mount = ClientMounts.cgroup2 else { return nil }
        let fd = open(mount + rel + "/" + ContainerCgroup.leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }
}

/// The container's cgroup in a v1 pids hierarchy (the daemon makes one
/// where pids is not on cgroup2), and the one nsctl came from.
package struct PidsMirror {
    let inside: String
    let outside: String

    package init?(_ c: ContainerDirectory) {
        guard let rel = c.status.cgroup, let mount = ClientMounts.pidsV1,
              FileIO.isDirectory(mount + rel),
              let own = ClientMounts.ownPidsPath
        else { return nil }
        inside = mount + rel
        outside = mount + own
    }

    /// Does a limit count what enters (one on the container's mirror or
    /// above it)? Where none does, nsctl need not stand in the mirror for
    /// the clone: a move into a v1 cgroup waits out an RCU grace period
    /// after an idle moment (~20 ms here), and the tree places what it
    /// started soon after (the container's `procs`, see MirrorPlacements).
    package var limited: Bool { CgroupV1.pidsLimited(from: inside) }

    package func enter() { try? FileIO.write(inside + "/cgroup.procs", "0") }
    package func leave() { try? FileIO.write(outside + "/cgroup.procs", "0") }
}

