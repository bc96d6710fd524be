import ContainerTree
import CNamespaceShim
import LinuxSystem
import ToolArguments
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

/// What one `nsctl exec` asks, then carried out.
struct ExecRequest {
    var namespaces: String?
    var tty: Bool
    var detach: Bool
    var user: String?
    var path: String
    var command: [String]

    static let spec = CommandSpec(
        "exec",
        abstract: "Run a program inside a container.",
        discussion: """
        CMD runs in the container's namespaces (all of them, or only those \
        given with --ns), in its cgroup, and — when the pid namespace is \
        entered — as a process of its pid namespace. nsctl waits for it and \
        exits with its status (128+N when it was killed by signal N). \
        SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to nsctl are passed on. \
        In a container with a user namespace of its own, CMD runs as its \
        root (uid and gid 0 there, an unprivileged id on the host), or as \
        --user UID[:GID] of that namespace.

        Examples:
          nsctl exec /namespaces/web -- ip addr
          nsctl exec --ns net /namespaces/web -- ss -ltn
          nsctl exec --ns mnt /namespaces/web -- mount -t tmpfs none /mnt
          nsctl exec -t /namespaces/web -- bash
        """,
        options: [
            OptionSpec(long: "ns", value: "list",
                       help: "Only these namespaces, comma-separated: \(NamespaceKind.allCases.map(\.name).joined(separator: ", "))."),
            OptionSpec(long: "tty", short: "t", help: "Interactive: give CMD a terminal of its own (a fresh pty that nsctl relays; also when the caller's input is a terminal). CMD never gets the caller's terminal."),
            OptionSpec(long: "detach", short: "d", help: "Detached: start CMD in a session of its own, no terminal, stdin /dev/null, its output to the container's log; print its pid and return at once."),
            OptionSpec(long: "user", value: "uid[:gid]", help: "Run as this uid (and gid; default: the uid) of the container's user namespace (default 0, its root)."),
        ],
        arguments: [ArgumentSpec("path", help: "The container's directory, e.g. /namespaces/web.")],
        command: ArgumentSpec("cmd", help: "The program and its arguments, after --."))

    init(_ args: ParsedArguments) {
        namespaces = args.values["ns"]
        tty = args.flags.contains("tty")
        detach = args.flags.contains("detach")
        user = args.values["user"]
        path = args.arguments["path"]!
        command = args.command
    }

    /// --user: uid and gid inside the container's user namespace.
    func identity() throws(NsctlError) -> (uid: Int32, gid: Int32) {
        guard let user else { return (0, 0) }
        let parts = user.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let u = Int32(parts[0]), u >= 0,
              let g = parts.count == 2 ? Int32(parts[1]) : u, g >= 0 else {
            throw NsctlError("--user takes UID or UID:GID (numbers of the container's user namespace), not '\(user)'")
        }
        return (u, g)
    }

    func kinds() throws(NsctlError) -> [NamespaceKind] {
        guard let namespaces else { return Self.defaultKinds }
        var out: [NamespaceKind] = []
        for name in namespaces.split(separator: ",", omittingEmptySubsequences: false) {
            guard let k = NamespaceKind.allCases.first(where: { $0.name == name }) else {
                throw NsctlError("unknown namespace '\(name)' (one of: \(NamespaceKind.allCases.map(\.name).joined(separator: ", ")))")
            }
            out.append(k)
        }
        return out
    }

    func run() -> Never {
        do {
            Glibc.exit(try execute())
        } catch {
            Nsctl.fail(error.description)
        }
    }

    func execute() throws(NsctlError) -> Int32 {
        if detach && tty { throw NsctlError("-d and -t: a detached command has no terminal") }
        let kinds = try kinds()
        // Entering needs CAP_SYS_ADMIN over the container's namespaces: root,
        // or (without privileges) the owner of its user namespace, as a
        // delegated user is of the containers it made.
        let c = try ContainerDirectory(path)
        guard !c.isRoot else { throw NsctlError("\(path) is the top of the tree, not a container") }
        // A process cloned into a frozen cgroup stops at once: nsctl would
        // wait, uninterruptibly, until someone thawed it.
        if c.status.state == .frozen {
            throw NsctlError("\(path) is frozen: thaw it first (echo 0 > \(Self.frozenBy(c.path))/freeze)")
        }
        let initProcess = try c.status.isSet ? c.member() : c.initProcess()
        let (uid, gid) = try identity()
        var flags: Int32 = 0
        for k in kinds {
            // setns into one's own user namespace is EINVAL: a container
            // that shares the host's (-o userns=off) has nothing to enter.
            if k == .user, (try? initProcess.namespaceID(.user)) == (try? ProcessHandle.open(pid: getpid()).namespaceID(.user)) {
                continue
            }
            flags |= Int32(truncatingIfNeeded: k.cloneFlag)
        }
        let entersUser = flags & Int32(truncatingIfNeeded: NamespaceKind.user.cloneFlag) != 0
        if user != nil && !entersUser {
            throw NsctlError("--user: \(path) has no user namespace of its own to pick an id in")
        }
        // CMD is born in the container's cgroup, where its limits count it.
        // The host's root clones it there (and, where pids is on cgroup v1,
        // stands in the mirror for the clone and steps back out after).
        // Anyone else — a delegated user, a container's root — cannot move
        // a process there by cgroupfs's rules (write access to the common
        // ancestor): nsctl asks the tree to move itself there (`0 > procs`,
        // by the tree's rules) and stays, as the relay; CMD is its child.
        // Never silently outside: a limit that holds must hold for CMD too.
        let hostRoot = geteuid() == 0 && Capabilities.hasSysAdmin() && Self.inInitialUserNamespace()
        var cgroup: Int32?
        var pidsMirror: PidsMirror?
        // No limit to count CMD against: no moves of nsctl; the tree puts
        // CMD in the mirror once it runs (the container's `procs`).
        // (Written by a child that stays the host's root: nsctl itself
        // enters the container's user namespace.)
        var placeLater: (pid: Int32, fd: Int32)?
        if hostRoot {
            cgroup = c.leafCgroupDescriptor()
            pidsMirror = PidsMirror(c)
            if pidsMirror?.limited == false {
                var fd: Int32 = -1
                let writer = nsfs_deferred_write(Self.container(of: c).path + "/procs", &fd)
                if writer > 0 {
                    pidsMirror = nil
                    placeLater = (writer, fd)
                }
            }
        } else {
            try Self.moveSelf(into: c)
        }
        defer { cgroup.map { _ = close($0) } }
        // Detached: CMD's stdin is /dev/null, its stdout and stderr a pipe
        // to the relay (nsctl's own, for the while of the start, then back).
        // The relay first, while nsctl is still in none of C's cgroups.
        let output = detach ? try Detached(c) : nil
        pidsMirror?.enter()

        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var childPidfd: Int32 = -1, childPid: Int32 = -1, ptyMaster: Int32 = -1
        let rc = nsfs_exec_in(initProcess.descriptor.rawValue, flags, cgroup ?? -1, tty ? 1 : 0,
                              entersUser ? uid : -1, entersUser ? gid : -1, ContainerDirectory.processLimit(of: initProcess),
                              &argv, &childPidfd, &childPid, &ptyMaster)
        pidsMirror?.leave()
        if let (_, fd) = placeLater {
            if rc >= 0 { _ = String(childPid).withCString { Glibc.write(fd, $0, strlen($0)) } }
            close(fd)
        }
        // The writer reaped while CMD runs, or before nsctl returns (this
        // host's PID 1 reaps no orphan).
        func reapWriter() {
            guard let (writer, _) = placeLater else { return }
            var status: Int32 = 0
            while waitpid(writer, &status, 0) < 0 && errno == EINTR {}
        }
        output?.restore()
        output?.started(pid: rc < 0 ? nil : childPid)
        if rc < 0 {
            reapWriter()
            let e = Errno(-rc)
            // The shell's statuses: 127 not found, 126 found but not runnable.
            if e.rawValue == ENOENT {
                Nsctl.fail("\(command[0]): command not found in \(path)", status: 127)
            }
            if e.rawValue == EACCES || e.rawValue == ENOEXEC {
                Nsctl.fail("cannot run \(command[0]) in \(path): \(e)", status: 126)
            }
            if e.rawValue == EPERM && !Capabilities.hasSysAdmin() {
                throw NsctlError("cannot enter \(path): it takes root, or owning its user namespace (a container you made in a directory delegated to you)")
            }
            throw NsctlError("cannot enter \(path) (\(kinds.map(\.name).joined(separator: ","))): \(e)")
        }
        if output != nil {
            reapWriter()
            print(childPid)
            return 0
        }
        let status = nsfs_wait_forwarding(childPidfd, childPid, ptyMaster)
        reapWriter()
        return status
    }

    /// Every kind (one the container shares with the host is skipped).
    static let defaultKinds = NamespaceKind.allCases

    /// Is this process in the host's user namespace (the one mapping every id)?
    static func inInitialUserNamespace() -> Bool {
        let map = (try? FileIO.readString("/proc/self/uid_map")) ?? ""
        return map.split(whereSeparator: { $0 == " " || $0 == "\n" }) == ["0", "0", "4294967295"]
    }

    /// The container whose cgroup `c` is in: itself, or a set's container
    /// (the root for a host set).
    static func container(of c: ContainerDirectory) -> ContainerDirectory {
        var dir = c
        while dir.status.isSet {
            guard let slash = dir.path.lastIndex(of: "/"), slash != dir.path.startIndex,
                  let up = try? ContainerDirectory(String(dir.path[..<slash])) else { return dir }
            dir = up
            if up.isRoot { break }
        }
        return dir
    }

    /// Move nsctl into the cgroup of `c` (a set's: its container's) through
    /// the tree. A host set has none: nothing to move.
    static func moveSelf(into c: ContainerDirectory) throws(NsctlError) {
        let dir = container(of: c)
        if dir.isRoot || dir.status.isSet { return }
        do throws(Errno) { try FileIO.write(dir.path + "/procs", "0") } catch {
            throw NsctlError("cannot enter the cgroup of \(dir.path) (\(error)): nothing was started")
        }
    }

    /// Which container's `freeze` froze `path`: `freeze` shows the state
    /// (a frozen ancestor freezes everything below), so the topmost of the
    /// frozen containers from `path` up is the one whose write froze it.
    static func frozenBy(_ path: String) -> String {
        var p = path, top = path
        while let slash = p.lastIndex(of: "/"), slash != p.startIndex {
            p = String(p[..<slash])
            guard (try? FileIO.readString(p + "/freeze"))?.hasPrefix("1") == true else { break }
            top = p
        }
        return top
    }
}

/// `exec -d`: CMD's output goes to its container's `log` through
/// namespacefs-log-relay (installed beside nsctl), which outlives nsctl.
/// The relay starts first: a child nsctl makes after it joined the
/// container's pid namespace would be born in it (a process of the
/// container, which may not write its own log). It learns CMD's pid on
/// its descriptor 3.
struct Detached {
    let output: (read: Int32, write: Int32)
    let pidPipe: Int32
    let saved: (Int32, Int32, Int32)

    /// The relay started, and nsctl's 0, 1, 2 pointed at /dev/null and the
    /// pipe to it (CMD inherits them) until `restore`.
    init(_ c: ContainerDirectory) throws(NsctlError) {
        let log = c.path + "/" + ControlFile.log.name
        guard access(log, W_OK) == 0 else { throw NsctlError("\(log): cannot write the container's log (\(Errno.current))") }
        let out = try Self.pipe(), pid = try Self.pipe()
        output = out
        pidPipe = pid.write
        try Self.startRelay(log: log, stdin: out.read, pid: pid.read)
        close(out.read)
        close(pid.read)
        saved = (fcntl(0, F_DUPFD_CLOEXEC, 3), fcntl(1, F_DUPFD_CLOEXEC, 3), fcntl(2, F_DUPFD_CLOEXEC, 3))
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0, dup2(null, 0) == 0, dup2(out.write, 1) == 1, dup2(out.write, 2) == 2 else {
            throw NsctlError("cannot prepare CMD's output: \(Errno.current)")
        }
        close(null)
    }

    func restore() {
        _ = dup2(saved.0, 0)
        _ = dup2(saved.1, 1)
        _ = dup2(saved.2, 2)
        close(output.write)
    }

    /// CMD's pid to the relay (nothing if CMD did not start: the relay says "-").
    func started(pid: Int32?) {
        if let pid { _ = "\(pid)\n".withCString { write(pidPipe, $0, strlen($0)) } }
        close(pidPipe)
    }

    static func pipe() throws(NsctlError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0, fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0, fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0 else {
            throw NsctlError("cannot make a pipe: \(Errno.current)")
        }
        return (fds[0], fds[1])
    }

    /// In a session of its own; nsctl lets go of it.
    static func startRelay(log: String, stdin: Int32, pid: Int32) throws(NsctlError) {
        let relay = relayPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, pid, 3)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, 0x80 /* POSIX_SPAWN_SETSID (glibc), which Swift's Glibc hides */)
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup(relay), strdup(log), nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let e = posix_spawn(&child, relay, &actions, &attr, &argv, environ)
        guard e == 0 else { throw NsctlError("cannot start \(relay): \(Errno(e))") }
    }

    static var relayPath: String { ThisProgram.beside("namespacefs-log-relay") }
}

extension ContainerDirectory {
    /// The container at `path`, or exit with its one line.
    static func open(_ path: String) -> ContainerDirectory {
        do { return try ContainerDirectory(path) } catch { Nsctl.fail(error.description) }
    }
}
