import ContainerRuntime
import LinuxSystem
import MountOptions
#if canImport(Glibc)
import Glibc
#endif

/// Where containers live: what the options say, else what an earlier mount
/// recorded, else below the daemon's own cgroup — locked for this daemon
/// (a second one would adopt, and kill, the first one's containers).
struct CgroupRoot: Sendable {
    /// Relative to the cgroup2 mount.
    let path: String
    let lock: OwnedDescriptor
    let lockPath: String

    static let lockDirectory = "/run/lock/namespacefs"

    static func claim(_ options: MountOptions, store: StateStore, cgroupMount: String, mounts: [MountEntry],
                      mountPoint: String) -> CgroupRoot {
        // A delegated cgroup (systemd Delegate=yes): the daemon lives in a
        // leaf of its own, so that the containers' cgroups are never beside
        // a process.
        var delegatedRoot: String?
        if options.delegated {
            var own: String
            do { own = try Cgroup2.ownPath() } catch { Command.fail("cannot read /proc/self/cgroup: \(error)") }
            if own.hasSuffix("/daemon") { own = String(own.dropLast("/daemon".count)) }
            let leaf = (own == "/" ? "" : own) + "/daemon"
            do {
                try FileIO.makeDirectories(cgroupMount + leaf)
                try FileIO.write(cgroupMount + leaf + "/cgroup.procs", "\(getpid())")
            } catch {
                Command.fail("cannot move into the cgroup \(leaf) (\(error)): is the cgroup delegated (Delegate=yes)?")
            }
            delegatedRoot = (own == "/" ? "" : own) + "/containers"
        }
        let path: String
        if let c = options.cgroupRoot {
            path = c
        } else if let recorded = store.recordedCgroupRoot() {
            path = recorded
        } else if let d = delegatedRoot {
            path = d
        } else {
            let own: String
            do { own = try Cgroup2.ownPath() } catch { Command.fail("cannot read /proc/self/cgroup: \(error)") }
            path = (own == "/" ? "" : own) + "/" + MountOptions.defaultCgroupName(stateDirectory: options.stateDirectory)
        }
        // Locked by name, beside the other daemons' locks, in a directory
        // the daemon makes and checks as it does the state directory.
        do throws(TrustedDirectory.Refusal) { try TrustedDirectory.ensure(lockDirectory, mode: 0o755) } catch {
            Command.fail("refusing the lock directory: \(error)")
        }
        let lockPath = lockDirectory + "/cgroup" + HolderLock.fileName(for: path)
        let lock: OwnedDescriptor
        do throws(HolderLock.Failure) {
            lock = try HolderLock.acquire(lockPath, holder: Claim.holderLine(mountPoint: mountPoint, stateDirectory: options.stateDirectory))
        } catch {
            switch error {
            case .held(let other): Command.fail("the cgroup \(path) is in use by another daemon: \(other)")
            case .failed(let e): Command.fail("cannot lock \(lockPath) (\(e))")
            }
        }
        Command.undoOnFailure.append { HolderLock.remove(lockPath, held: lock) }
        // A mount refused from here on leaves no cgroup it made (v2, and the
        // v1 pids mirror): only those that did not exist before, and only if empty.
        for dir in [cgroupMount + path] + (CgroupV1.mountPoint(of: "pids", in: mounts).map { [$0 + path] } ?? [])
            where !FileIO.isDirectory(dir) {
            Command.undoOnFailure.append { _ = rmdir(dir) }
        }
        return CgroupRoot(path: path, lock: lock, lockPath: lockPath)
    }
}
