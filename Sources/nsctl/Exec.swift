import ArgumentParser
import ContainerTree
import CNamespaceShim
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program inside a container.",
        discussion: """
        CMD runs in the container's namespaces (all of them, or only those \
        given with --ns), in its cgroup, and — when the pid namespace is \
        entered — as a process of its pid namespace. nsctl waits for it and \
        exits with its status (128+N when it was killed by signal N). \
        SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to nsctl are passed on.

        Examples:
          nsctl exec /namespaces/web -- ip addr
          nsctl exec --ns net /namespaces/web -- ss -ltn
          nsctl exec --ns mnt /namespaces/web -- mount -t tmpfs none /mnt
          nsctl exec -t /namespaces/web -- bash
        """)

    @Option(name: .customLong("ns"), help: ArgumentHelp(
        "Only these namespaces, comma-separated: cgroup, ipc, mnt, net, pid, time, user, uts.",
        valueName: "list"))
    var namespaces: String?

    @Flag(name: .short, help: "Interactive: give CMD the terminal (its own process group, in the foreground).")
    var tty = false

    @Argument(help: ArgumentHelp("The container's directory, e.g. /namespaces/web.", valueName: "path"))
    var path: String

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The program and its arguments, after --.", valueName: "cmd"))
    var command: [String] = []

    static let defaultKinds: [NamespaceKind] = [.cgroup, .ipc, .mnt, .net, .pid, .time, .uts]

    func kinds() throws(NsctlError) -> [NamespaceKind] {
        guard let namespaces else { return Self.defaultKinds }
        var out: [NamespaceKind] = []
        for name in namespaces.split(separator: ",", omittingEmptySubsequences: false) {
            guard let k = NamespaceKind.allCases.first(where: { $0.name == name }) else {
                throw NsctlError("unknown namespace '\(name)' (one of: cgroup, ipc, mnt, net, pid, time, user, uts)")
            }
            out.append(k)
        }
        return out
    }

    func run() throws {
        do {
            Glibc.exit(try execute())
        } catch {
            Nsctl.fail(error.description)
        }
    }

    func execute() throws(NsctlError) -> Int32 {
        guard !command.isEmpty else { throw NsctlError("missing command: nsctl exec PATH -- CMD [ARGS...]") }
        let kinds = try kinds()
        let c = try ContainerDirectory(path)
        guard !c.isRoot else { throw NsctlError("\(path) is the top of the tree, not a container") }
        guard let pid = c.status.initPid else {
            throw NsctlError("\(path): its init is not visible from here")
        }
        // The pid is the init's as we see it; the pidfd pins that process,
        // and its pid-namespace id proves it is still the container's.
        let initProcess: ProcessHandle
        do { initProcess = try ProcessHandle.open(pid: pid) } catch {
            throw NsctlError("\(path): its init \(pid) is gone (\(error))")
        }
        guard let want = c.status.namespaceID(.pid), (try? initProcess.namespaceID(.pid)) == want else {
            throw NsctlError("\(path): pid \(pid) is no longer its init")
        }
        var flags: Int32 = 0
        for k in kinds { flags |= Int32(truncatingIfNeeded: k.cloneFlag) }
        let cgroup = cgroupDirectory(c)
        defer { cgroup.map { _ = close($0) } }

        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var childPidfd: Int32 = -1, childPid: Int32 = -1
        let rc = nsfs_exec_in(initProcess.descriptor.rawValue, flags, cgroup ?? -1, tty ? 1 : 0,
                              &argv, &childPidfd, &childPid)
        if rc < 0 {
            let e = Errno(-rc)
            if e.rawValue == ENOENT || e.rawValue == EACCES {
                throw NsctlError("cannot run \(command[0]) in \(path): \(e)")
            }
            throw NsctlError("cannot enter \(path) (\(kinds.map(\.name).joined(separator: ","))): \(e)")
        }
        return nsfs_wait_forwarding(childPidfd, childPid, tty ? 1 : 0)
    }

    /// The container's cgroup directory, through our own cgroup2 mount.
    func cgroupDirectory(_ c: ContainerDirectory) -> Int32? {
        guard let rel = c.status.cgroup, let mounts = try? MountInfo.current(),
              let mount = Cgroup2.mountPoint(in: mounts) else { return nil }
        let fd = open(mount + rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }
}
