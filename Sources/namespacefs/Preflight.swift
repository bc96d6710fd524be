import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// What the host must give before anything is made: root with
/// CAP_SYS_ADMIN, /dev/fuse, a cgroup2 mount. Each missing one is one line.
enum Preflight {
    static func check() -> (mounts: [MountEntry], cgroupMount: String) {
        guard geteuid() == 0, Capabilities.hasSysAdmin() else {
            Command.fail("must run as root with CAP_SYS_ADMIN (containers need namespaces and cgroups): run it with sudo")
        }
        // Children of the daemon run on its memory until they exec, some of
        // them in a container's pid and user namespaces, whose root could
        // otherwise trace them (and so the daemon): only the host's
        // CAP_SYS_PTRACE may.
        do throws(Errno) { try Tracing.forbid() } catch {
            Command.fail("cannot make the daemon untraceable (prctl PR_SET_DUMPABLE): \(error)")
        }
        let fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        guard fuse >= 0 else {
            Command.fail("cannot open /dev/fuse (\(Errno.current)): load the fuse module with 'modprobe fuse' and install fuse3")
        }
        close(fuse)
        let mounts: [MountEntry]
        do { mounts = try MountInfo.current() } catch { Command.fail("cannot read /proc/self/mountinfo: \(error)") }
        guard let cgroupMount = Cgroup2.mountPoint(in: mounts) else {
            Command.fail("no cgroup2 filesystem is mounted: mount one with 'mount -t cgroup2 none /sys/fs/cgroup'")
        }
        return (mounts, cgroupMount)
    }
}
