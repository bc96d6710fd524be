import ArgumentParser
import CNamespaceShim
import ContainerTree
import FoundationEssentials
import LinuxSystem
import OCISpec
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

/// runc's commands, as engines call them. Global options (--root, --log,
/// --log-format, --debug, --systemd-cgroup, --tree) come before the command
/// and are read by main.
struct OCIRuntime: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nsfs-oci",
        abstract: "An OCI runtime whose containers are directories of a namespacefs tree.",
        discussion: """
        Each container an engine creates is /namespaces/ENGINE/ID: ENGINE is \
        the last part of --root when one is given (containerd's namespace), \
        else podman for podman's containers, else oci. \
        Global options, before the command: --root DIR, --tree DIR (the \
        namespacefs mount, default /namespaces or $NSFS_OCI_TREE), --log FILE, --log-format \
        text|json, --debug.
        """,
        version: "nsfs-oci 0.1.0 (runtime-spec 1.0.2)",
        subcommands: [Create.self, Start.self, State.self, Kill.self, Delete.self, Ps.self, Pause.self, Resume.self,
                      Exec.self, Features.self])

    nonisolated(unsafe) static var runtime = Runtime(root: "/run/nsfs-oci", tree: "/namespaces", rootGiven: false)
    nonisolated(unsafe) static var logFile: String?
    nonisolated(unsafe) static var logJSON = false

    /// One line on stderr (and in --log), exit 1.
    static func fail(_ message: String) -> Never {
        StandardError.line("nsfs-oci: \(message)")
        if let logFile {
            let line = logJSON
                ? "{\"level\":\"error\",\"msg\":\(quoted(message)),\"time\":\"\(rfc3339(SystemTime.realtimeNanoseconds()))\"}\n"
                : "nsfs-oci: \(message)\n"
            let fd = open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { _ = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }; close(fd) }
        }
        Glibc.exit(1)
    }

    static func run(_ body: () throws(NsctlError) -> Void) {
        do { try body() } catch { fail(error.description) }
    }

    static func quoted(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    static func printJSON<T: Encodable>(_ value: T) {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self))
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a container from a bundle; its process waits for start.")
    @Option(name: [.customShort("b"), .long], help: "The bundle's directory (config.json, the root filesystem).") var bundle: String?
    @Option(name: .customLong("pid-file"), help: "Write the container process's pid here.") var pidFile: String?
    @Option(name: .customLong("console-socket"), help: "A socket to receive the pty's master (process.terminal).") var consoleSocket: String?
    @Flag(name: .customLong("no-pivot"), help: "Accepted; the tree always pivots.") var noPivot = false
    @Flag(name: .customLong("no-new-keyring"), help: "Accepted; no session keyring is made.") var noNewKeyring = false
    @Option(name: .customLong("preserve-fds"), help: "Only 0.") var preserveFds: Int = 0
    @Argument var id: String

    func run() {
        OCIRuntime.run { () throws(NsctlError) in try create() }
    }

    func create() throws(NsctlError) {
        let rt = OCIRuntime.runtime
        try Runtime.check(id: id)
        let bundle = absolute(self.bundle ?? ".")
        let config: OCIConfig
        do throws(OCIConfigError) {
            guard let bytes = try? FileIO.read(bundle + "/config.json") else { throw OCIConfigError("$", "cannot read \(bundle)/config.json") }
            config = try OCIConfig.parse(bytes)
        } catch {
            throw NsctlError(error.description)
        }
        guard let process = config.process else { throw NsctlError("config.json: $.process: missing (nothing to run)") }
        try refuseWhatCannotBeHonoured(config)
        if preserveFds != 0 { throw NsctlError("--preserve-fds \(preserveFds): passing descriptors is not supported") }
        let rootfs = config.root!.path.hasPrefix("/") ? config.root!.path : bundle + "/" + config.root!.path
        // Our record first: its directory is the id's lock (EEXIST).
        makeDirectories(rt.root)
        guard mkdir(rt.directory(of: id), 0o700) == 0 else {
            throw NsctlError(errno == EEXIST ? "container \(id) exists" : "cannot make \(rt.directory(of: id)): \(Errno.current)")
        }
        var made: String?
        do throws(NsctlError) {
            guard FileIO.isDirectory(rt.tree) else { throw NsctlError("\(rt.tree): no namespacefs mount there (--tree)") }
            try ContainerDirectory.checkMount(rt.tree, shownAs: rt.tree)
            let engine = rt.engineDirectory(annotations: config.annotations ?? [:])
            if mkdir(engine, 0o755) != 0 && errno != EEXIST {
                throw NsctlError("mkdir \(engine): \(Errno.current)")
            }
            let path = engine + "/" + id
            guard mkdir(path, 0o755) == 0 else { throw NsctlError("mkdir \(path): \(Errno.current)") }
            made = path
            try write(rootfs, to: path + "/root")
            if let h = config.hostname { try write(h, to: path + "/hostname") }
            if let limit = config.linux?.resources?.pids?.limit, limit > 0 { try write(String(limit), to: path + "/pids.max") }
            let c = try ContainerDirectory(path)
            var first = try bind(config.mounts ?? [], into: c, rootfs: rootfs)
            first.readonlyRoot = config.root?.readonly == true
            first.masked = config.linux?.maskedPaths ?? []
            first.readonly = config.linux?.readonlyPaths ?? []
            first.sysctl = (config.linux?.sysctl ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            let fifo = rt.directory(of: id) + "/exec.fifo"
            guard mkfifo(fifo, 0o622) == 0 else { throw NsctlError("mkfifo \(fifo): \(Errno.current)") }
            _ = chmod(fifo, 0o622)
            let gate = open(fifo, 0o10000000 /* O_PATH */ | O_CLOEXEC)
            guard gate >= 0 else { throw NsctlError("open \(fifo): \(Errno.current)") }
            defer { close(gate) }
            let console = try connectConsole(process.terminal == true ? consoleSocket : nil)
            defer { if console >= 0 { close(console) } }
            var joins: [(fd: Int32, kind: NamespaceKind)] = []
            defer { joins.forEach { close($0.fd) } }
            for n in config.linux?.namespaces ?? [] {
                guard let path = n.path, let kind = Create.joinable[n.type] else { continue }
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw NsctlError("config.json: the \(n.type) namespace at \(path): \(Errno.current)") }
                joins.append((fd, kind))
            }
            let (pid, pidfd) = try ProcessSpawn(process: process).start(
                in: c, gate: gate, console: console, joins: joins, first: first)
            close(pidfd)
            let cgroup2 = (try? MountInfo.current()).flatMap { Cgroup2.mountPoint(in: $0) }
            let state = ContainerState(id: id, bundle: bundle, rootfs: rootfs, pid: pid,
                                       pidStart: ContainerState.startTime(of: pid) ?? 0,
                                       created: rfc3339(SystemTime.realtimeNanoseconds()), path: path,
                                       cgroup: cgroup2.flatMap { m in c.status.cgroup.map { m + $0 } },
                                       annotations: config.annotations ?? [:], hooks: config.hooks)
            try rt.save(state)
            // The container exists, its process waits: the runtime's hooks.
            let spec = state.spec(status: "created")
            try HookRunner.run(config.hooks?.prestart, stage: "prestart", state: spec)
            try HookRunner.run(config.hooks?.createRuntime, stage: "createRuntime", state: spec)
            if let pidFile { try write(String(pid), to: pidFile, create: true) }
        } catch {
            if let made { _ = rmdir(made) }
            _ = unlink(rt.directory(of: id) + "/exec.fifo")
            _ = unlink(rt.directory(of: id) + "/state.json")
            _ = rmdir(rt.directory(of: id))
            throw error
        }
    }

    /// The engine's mounts: the tree's root gives /proc, /sys, /dev and its
    /// pts, shm and mqueue already; binds (files too) are attached as
    /// volumes; cgroup2 at /sys/fs/cgroup and tmpfs elsewhere are the first
    /// process's to mount (returned). Anything else is refused, by its JSON path.
    func bind(_ mounts: [OCIConfig.Mount], into c: ContainerDirectory, rootfs: String) throws(NsctlError) -> FirstProcess {
        var first = FirstProcess()
        let provided: [String: Set<String>] = ["/proc": ["proc"], "/sys": ["sysfs"], "/dev": ["tmpfs"],
                                               "/dev/pts": ["devpts"], "/dev/mqueue": ["mqueue"], "/dev/shm": ["tmpfs", "bind"]]
        let initProcess = try c.initProcess()
        let ownUserns = try? ProcessHandle.open(pid: getpid()).namespaceID(.user)
        let userns: Int32 = (try? initProcess.namespaceID(.user)) == ownUserns
            ? -1 : open("/proc/\(initProcess.pid)/ns/user", O_RDONLY | O_CLOEXEC)
        defer { if userns >= 0 { close(userns) } }
        for (i, m) in mounts.enumerated() {
            let options = m.options ?? []
            let isBind = m.type == "bind" || options.contains("bind") || options.contains("rbind")
            if !isBind, let types = provided[m.destination], types.contains(m.type ?? "") { continue }
            if m.type == "cgroup" || m.type == "cgroup2" {
                guard m.destination == "/sys/fs/cgroup" else { throw NsctlError("config.json: $.mounts[\(i)]: cgroup only at /sys/fs/cgroup") }
                first.cgroup = true
                continue
            }
            if m.type == "tmpfs" && !isBind {
                // runc's tmpcopyup copies what the image has there into the
                // tmpfs: nothing to copy is the only case honoured yet.
                if options.contains("tmpcopyup"),
                   let inImage = try? FileIO.listDirectory(rootfs + m.destination), !inImage.isEmpty {
                    throw NsctlError("config.json: $.mounts[\(i)]: tmpcopyup of \(m.destination), which the image fills, is not supported yet")
                }
                let (flags, data) = MountFlags.split(options.filter { $0 != "tmpcopyup" })
                first.tmpfs.append((m.destination, flags, data))
                continue
            }
            guard isBind, let source = m.source, source.hasPrefix("/") else {
                throw NsctlError("config.json: $.mounts[\(i)]: a \(m.type ?? "untyped") mount at \(m.destination) is not supported (binds are)")
            }
            var step: Int32 = 0
            let rc = nsfs_volume(initProcess.descriptor.rawValue, userns, source, m.destination, options.contains("ro") ? 1 : 0, 0, &step)
            if rc < 0 { throw NsctlError("config.json: $.mounts[\(i)]: cannot bind \(source) at \(m.destination): \(Errno(-rc))") }
        }
        return first
    }

    /// The namespaces an engine may name by path (its network, a pod's
    /// ipc and uts): the process joins them instead of the container's.
    static let joinable: [String: NamespaceKind] = ["network": .net, "ipc": .ipc, "uts": .uts]

    /// Sysctls a container's own namespaces scope (net, ipc, uts): the
    /// only ones it may set.
    static func isNamespaced(sysctl key: String) -> Bool { namespace(ofSysctl: key) != nil }

    /// The namespace that scopes a sysctl, nil for the host's own.
    static func namespace(ofSysctl key: String) -> NamespaceKind? {
        let ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                   "kernel.shmmni", "kernel.shm_rmid_forced"]
        if key.hasPrefix("net.") { return .net }
        if key.hasPrefix("fs.mqueue.") || ipc.contains(key) { return .ipc }
        if key == "kernel.domainname" || key == "kernel.hostname" { return .uts }
        return nil
    }

    /// What the tree cannot do yet fails here, by name, never silently.
    func refuseWhatCannotBeHonoured(_ config: OCIConfig) throws(NsctlError) {
        for (stage, _) in config.hooks?.all ?? [] where stage == "createContainer" || stage == "startContainer" {
            throw NsctlError("config.json: $.hooks.\(stage): hooks run in the container's namespaces are not supported yet")
        }
        for (i, n) in (config.linux?.namespaces ?? []).enumerated() where n.path != nil && Create.joinable[n.type] == nil {
            throw NsctlError("config.json: $.linux.namespaces[\(i)].path: joining a \(n.type) namespace by path is not supported (network, ipc and uts are)")
        }
        if config.linux?.uidMappings?.isEmpty == false || config.linux?.gidMappings?.isEmpty == false {
            throw NsctlError("config.json: $.linux.uidMappings: the tree gives each container its own mapping (-o userns); a mapping of the engine's is not supported")
        }
        if config.linux?.seccomp != nil {
            throw NsctlError("config.json: $.linux.seccomp: seccomp is not supported yet (podman: --security-opt seccomp=unconfined)")
        }
        if config.process?.terminal == true, consoleSocket == nil {
            throw NsctlError("config.json: $.process.terminal: a terminal needs --console-socket")
        }
        for key in (config.linux?.sysctl ?? [:]).keys.sorted() where !Create.isNamespaced(sysctl: key) {
            throw NsctlError("config.json: $.linux.sysctl.\(key): not scoped by the container's namespaces (the host's own setting)")
        }
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the process of a created container.")
    @Argument var id: String
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let rt = OCIRuntime.runtime
            let s = try rt.load(id)
            let fifo = rt.directory(of: id) + "/exec.fifo"
            guard exists(fifo) else { throw NsctlError("container \(id) is not in created state") }
            guard s.process != nil else { throw NsctlError("container \(id) is stopped") }
            // The process waits in open(O_WRONLY): this open completes it.
            let fd = open(fifo, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw NsctlError("open \(fifo): \(Errno.current)") }
            var b: UInt8 = 0
            _ = read(fd, &b, 1)
            close(fd)
            _ = unlink(fifo)
            // (A failed poststart is a warning: the process runs.)
            do throws(NsctlError) { try HookRunner.run(s.hooks?.poststart, stage: "poststart", state: s.spec(status: "running")) } catch {
                StandardError.line("nsfs-oci: warning: \(error)")
            }
        }
    }
}

/// The runtime spec's state of a container.
struct SpecState: Encodable {
    let ociVersion = "1.0.2"
    let id: String
    let status: String
    let pid: Int32
    let bundle: String
    let rootfs: String
    let created: String
    let owner = ""
    let annotations: [String: String]
}

extension ContainerState {
    /// What the spec's `state` says of it, in `status`.
    func spec(status: String) -> SpecState {
        SpecState(id: id, status: status, pid: status == "stopped" ? 0 : pid, bundle: bundle, rootfs: rootfs,
                  created: created, annotations: annotations)
    }
}

func status(of s: ContainerState) -> String {
    guard s.process != nil else { return "stopped" }
    if exists(OCIRuntime.runtime.directory(of: s.id) + "/exec.fifo") { return "created" }
    // Frozen (by its own freeze or an ancestor's), as the kernel says: no
    // request to the tree, which may have no daemon serving it for a while.
    if let cg = s.cgroup, (try? FileIO.readString(cg + "/cgroup.events"))?.split(separator: "\n").contains("frozen 1") == true {
        return "paused"
    }
    return "running"
}

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The state of a container (the runtime spec's JSON).")
    @Argument var id: String
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let s = try OCIRuntime.runtime.load(id)
            OCIRuntime.printJSON(s.spec(status: status(of: s)))
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal to the container's process (--all: to all of its processes).")
    @Flag(name: [.customShort("a"), .long], help: "Every process of the container.") var all = false
    @Argument var id: String
    @Argument var signal: String = "SIGTERM"
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let s = try OCIRuntime.runtime.load(id)
            guard let n = SignalName.number(of: signal) else { throw NsctlError("unknown signal \(signal)") }
            if all {
                do throws(Errno) { try FileIO.write(s.path + "/signal", String(n)) } catch {
                    throw NsctlError("signal \(signal) to \(s.path): \(error)")
                }
                return
            }
            guard let p = s.process else { throw NsctlError("container \(id) is not running") }
            do throws(Errno) { try p.signal(n) } catch { throw NsctlError("kill \(s.pid): \(error)") }
        }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a container: its directory of the tree (everything in it dies) and its record.")
    @Flag(name: [.customShort("f"), .long], help: "Also a container that still runs.") var force = false
    @Argument var id: String
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let rt = OCIRuntime.runtime
            // (runc's --force: a container already gone is no error.)
            if force, !exists(rt.directory(of: id) + "/state.json") { try Runtime.check(id: id); return }
            let s = try rt.load(id)
            if !force, status(of: s) != "stopped" { throw NsctlError("container \(id) is \(status(of: s)): stop it first, or --force") }
            if rmdir(s.path) != 0 && errno != ENOENT { throw NsctlError("rmdir \(s.path): \(Errno.current)") }
            do throws(NsctlError) { try HookRunner.run(s.hooks?.poststop, stage: "poststop", state: s.spec(status: "stopped")) } catch {
                StandardError.line("nsfs-oci: warning: \(error)")
            }
            _ = unlink(rt.directory(of: id) + "/exec.fifo")
            _ = unlink(rt.directory(of: id) + "/state.json")
            _ = rmdir(rt.directory(of: id))
        }
    }
}

struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The container's processes.")
    @Option(name: [.customShort("f"), .long], help: "table or json.") var format = "table"
    @Argument var id: String
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let s = try OCIRuntime.runtime.load(id)
            let c = try ContainerDirectory(s.path)
            // The tree's init pins the namespaces: the engine's processes are the rest.
            let pids = c.processes().filter { $0 != c.status.initPid }
            if format == "json" { OCIRuntime.printJSON(pids) } else { print("PID"); pids.forEach { print($0) } }
        }
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Freeze the container.")
    @Argument var id: String
    func run() { OCIRuntime.run { () throws(NsctlError) in try freeze(id, "1") } }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Thaw the container.")
    @Argument var id: String
    func run() { OCIRuntime.run { () throws(NsctlError) in try freeze(id, "0") } }
}

func freeze(_ id: String, _ value: String) throws(NsctlError) {
    let s = try OCIRuntime.runtime.load(id)
    do throws(Errno) { try FileIO.write(s.path + "/freeze", value) } catch { throw NsctlError("\(s.path)/freeze: \(error)") }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run another process in a running container.")
    @Option(name: [.customShort("p"), .long], help: "The process, as config.json's `process` (JSON).") var process: String?
    @Flag(name: [.customShort("d"), .long], help: "Return once it runs.") var detach = false
    @Option(name: .customLong("pid-file")) var pidFile: String?
    @Flag(name: [.customShort("t"), .long], help: "A terminal: a pty whose master goes to --console-socket.") var tty = false
    @Option(name: .customLong("console-socket")) var consoleSocket: String?
    @Option(name: .customLong("cwd")) var cwd: String?
    @Option(name: [.customShort("e"), .long]) var env: [String] = []
    @Argument var id: String
    @Argument(parsing: .captureForPassthrough) var args: [String] = []

    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let s = try OCIRuntime.runtime.load(id)
            guard let main = s.process else { throw NsctlError("container \(id) is not running") }
            var p: OCIConfig.Process
            if let process {
                guard let bytes = try? FileIO.read(process) else { throw NsctlError("cannot read \(process)") }
                do { p = try JSONDecoder().decode(OCIConfig.Process.self, from: Data(bytes)) } catch {
                    throw NsctlError("\(process): not a process (\(error))")
                }
            } else {
                guard !args.isEmpty else { throw NsctlError("exec: nothing to run (--process FILE or ID CMD...)") }
                p = OCIConfig.Process(user: .init(uid: 0, gid: 0), args: args, env: env, cwd: cwd ?? "/")
            }
            if tty { p.terminal = true }
            if p.terminal == true, consoleSocket == nil { throw NsctlError("exec: a terminal needs --console-socket") }
            let console = try connectConsole(p.terminal == true ? consoleSocket : nil)
            defer { if console >= 0 { close(console) } }
            // The namespaces its first process joined by path (an engine's
            // network) are joined alike, as the host's root; the rest are
            // the container's.
            let c = try ContainerDirectory(s.path)
            let initProcess = try c.initProcess()
            var joins: [(fd: Int32, kind: NamespaceKind)] = []
            defer { joins.forEach { close($0.fd) } }
            for kind in Create.joinable.values where (try? main.namespaceID(kind)) != (try? initProcess.namespaceID(kind)) {
                let fd = open("/proc/\(main.pid)/ns/\(kind.name)", O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw NsctlError("the \(kind.name) namespace of \(main.pid): \(Errno.current)") }
                joins.append((fd, kind))
            }
            let (pid, pidfd) = try ProcessSpawn(process: p).start(in: c, gate: -1, console: console, source: initProcess, joins: joins)
            if let pidFile { try write(String(pid), to: pidFile, create: true) }
            if detach { return }
            Glibc.exit(nsfs_wait_forwarding(pidfd, pid, -1))
        }
    }
}

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "What this runtime supports (JSON).")
    struct Linux: Encodable {
        let namespaces = OCIConfig.namespaceTypes.keys.sorted()
        let capabilities = OCIConfig.capabilityNumbers.sorted { $0.value < $1.value }.map(\.key)
    }
    struct Out: Encodable {
        let ociVersionMin = "1.0.0"
        let ociVersionMax = "1.0.2"
        let hooks = ["prestart", "createRuntime", "poststart", "poststop"]
        let mountOptions = ["bind", "rbind", "ro", "rprivate"]
        let linux = Linux()
        let annotations = ["org.namespacefs.tree": "containers are directories of a namespacefs mount"]
    }
    func run() { OCIRuntime.printJSON(Out()) }
}

func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// A socket connected to the engine's console socket, or -1 for none.
func connectConsole(_ path: String?) throws(NsctlError) -> Int32 {
    guard let path else { return -1 }
    let fd = nsfs_connect_unix(path)
    guard fd >= 0 else { throw NsctlError("--console-socket \(path): \(Errno(-fd))") }
    return fd
}

/// mkdir -p, private to root (runc's --root is too).
func makeDirectories(_ path: String) {
    var p = ""
    for part in path.split(separator: "/") {
        p += "/" + part
        _ = mkdir(p, 0o700)
    }
}

func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buf = [UInt8](repeating: 0, count: 4096)
    guard buf.withUnsafeMutableBufferPointer({ getcwd(UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count) }) != nil
    else { return path }
    let cwd = String(decoding: buf.prefix(while: { $0 != 0 }), as: UTF8.self)
    return path == "." ? cwd : cwd + "/" + path
}

func write(_ text: String, to path: String, create: Bool = false) throws(NsctlError) {
    if create {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw NsctlError("\(path): \(Errno.current)") }
        close(fd)
    }
    do throws(Errno) { try FileIO.write(path, text) } catch { throw NsctlError("\(path): \(error)") }
}

/// mount(8)'s option words: those that are MS_* flags, and the rest (the
/// filesystem's own data).
enum MountFlags {
    static let flags: [String: UInt] = [
        "ro": 1, "nosuid": 2, "nodev": 4, "noexec": 8, "sync": 16, "dirsync": 128, "noatime": 1024,
        "nodiratime": 2048, "relatime": 1 << 21, "strictatime": 1 << 24,
    ]
    static let ignored: Set<String> = ["rw", "suid", "dev", "exec", "async", "atime", "diratime", "private", "rprivate"]

    static func split(_ options: [String]) -> (UInt, String) {
        var f: UInt = 0
        var data: [String] = []
        for o in options {
            if let bit = flags[o] { f |= bit } else if !ignored.contains(o) { data.append(o) }
        }
        return (f, data.joined(separator: ","))
    }
}
