// nsfs-oci create: a bundle becomes a container of the tree, its process waiting for start.
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
        // The engine's id mapping, as the tree can give it (or none).
        let asked = try refuseWhatCannotBeHonoured(config)
        let seccomp = try SeccompProgram(config, cache: rt.root + "/" + Runtime.seccompCache)
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
            // The engine's id mapping, asked of the tree (the host's root
            // only): the container's user namespace maps those host ids.
            if let ids = asked {
                do throws(Errno) { try FileIO.write(engine + "/mkdir", "\(id) ids=\(ids.first):\(ids.count)") } catch {
                    let last = UInt64(ids.first) + UInt64(ids.count) - 1
                    throw NsctlError(error == .busy ? "config.json: $.linux.uidMappings: host ids \(ids.first)-\(last) are another container's"
                                                    : "mkdir \(path) with host ids \(ids.first)-\(last): \(error)")
                }
            } else {
                guard mkdir(path, 0o755) == 0 else { throw NsctlError("mkdir \(path): \(Errno.current)") }
            }
            made = path
            try write(rootfs, to: path + "/root")
            if let h = config.hostname { try write(h, to: path + "/hostname") }
            if let limit = config.linux?.resources?.pids?.limit, limit > 0 { try write(String(limit), to: path + "/pids.max") }
            // A memory limit through the tree's entry, where the host's
            // cgroup2 has the controller; never silently dropped.
            if let limit = config.linux?.resources?.memory?.limit, limit > 0 {
                guard exists(path + "/memory.max") else {
                    throw NsctlError("config.json: $.linux.resources.memory.limit: this host's cgroup2 has no memory controller for the tree")
                }
                try write(String(limit), to: path + "/memory.max")
            }
            try limitCPU(config.linux?.resources?.cpu, of: path)
            let c = try ContainerDirectory(path)
            // No device cgroup (see OCIConfig.deniesDevices).
            if config.deniesDevices, !hasOwnUserNamespace(try c.initProcess()) {
                throw NsctlError("config.json: $.linux.resources.devices: denying devices needs the container in a user namespace of its own; this mount has -o userns=off and there is no device cgroup")
            }
            var first = try bind(config, into: c, rootfs: rootfs, idmapped: asked == nil)
            first.readonlyRoot = config.root?.readonly == true
            first.createHooks = config.hooks?.createContainer ?? []
            first.startHooks = config.hooks?.startContainer ?? []
            if !first.createHooks.isEmpty || !first.startHooks.isEmpty {
                first.hookState = OCIRuntime.json(SpecState(id: id, status: "created", pid: 0, bundle: bundle, rootfs: rootfs,
                                                            created: rfc3339(SystemTime.realtimeNanoseconds()),
                                                            annotations: config.annotations ?? [:]))
            }
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
            try seccomp?.save(in: rt.directory(of: id))
            let (pid, pidfd) = try ProcessSpawn(process: process, seccomp: seccomp).start(
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
            _ = unlink(rt.directory(of: id) + "/" + SeccompProgram.fileName)
            _ = unlink(rt.directory(of: id) + "/state.json")
            _ = rmdir(rt.directory(of: id))
            throw error
        }
    }

    /// The engine's mounts: the tree's root gives /proc, /sys, /dev and its
    /// pts, shm and mqueue already; binds (files too) are attached as
    /// volumes; cgroup2 at /sys/fs/cgroup and tmpfs elsewhere are the first
    /// process's to mount (returned). Anything else is refused, by its JSON path.
    /// `idmapped`: binds idmapped on the container's user namespace (the
    /// tree's own mapping); false with the engine's, whose files keep their
    /// owners (the engine made them for its mapping, as for runc).
    func bind(_ config: OCIConfig, into c: ContainerDirectory, rootfs: String, idmapped: Bool) throws(NsctlError) -> FirstProcess {
        let mounts = config.mounts ?? []
        var first = FirstProcess()
        let provided: [String: Set<String>] = ["/proc": ["proc"], "/sys": ["sysfs"], "/dev": ["tmpfs"],
                                               "/dev/pts": ["devpts"], "/dev/mqueue": ["mqueue"], "/dev/shm": ["tmpfs", "bind"]]
        let initProcess = try c.initProcess()
        let userns: Int32 = !idmapped || !hasOwnUserNamespace(initProcess) ? -1 : open("/proc/\(initProcess.pid)/ns/user", O_RDONLY | O_CLOEXEC)
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
            // A device bound in is reachable whatever the rules: only one they allow.
            var st = stat()
            if stat(source, &st) == 0, st.st_mode & S_IFMT == S_IFCHR || st.st_mode & S_IFMT == S_IFBLK,
               !config.allowsDevice(type: st.st_mode & S_IFMT == S_IFCHR ? "c" : "b",
                                    major: DeviceNumber.major(st.st_rdev), minor: DeviceNumber.minor(st.st_rdev)) {
                throw NsctlError("config.json: $.mounts[\(i)].source: \(source) is a device the rules deny; there is no device cgroup to deny it once bound")
            }
            var step: Int32 = 0
            let rc = nsfs_volume(initProcess.descriptor.rawValue, userns, source, m.destination, options.contains("ro") ? 1 : 0, 0, &step)
            if rc < 0 { throw NsctlError("config.json: $.mounts[\(i)]: cannot bind \(source) at \(m.destination): \(Errno(-rc))") }
        }
        return first
    }

    /// The namespaces an engine may name by path (its network; a pod's ipc,
    /// uts and cgroup; another container's pid, `--pid container:X`, with
    /// a proc of it over the container's /proc; a time namespace): the
    /// process joins them instead of the container's, which keeps its own
    /// (the tree shows the process as a set of it). Its mount and user
    /// namespaces are the tree's.
    static let joinable: [String: NamespaceKind] = ["network": .net, "ipc": .ipc, "uts": .uts,
                                                     "pid": .pid, "cgroup": .cgroup, "time": .time]

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

    /// cpu.max and cpu.weight through the tree's entries, where the host's
    /// cgroup2 has the cpu controller; never silently dropped.
    func limitCPU(_ cpu: OCIConfig.Resources.CPU?, of path: String) throws(NsctlError) {
        guard let cpu else { return }
        let settings = [(OCIConfig.cpuMax(quota: cpu.quota, period: cpu.period), "cpu.max", "quota"),
                        (cpu.shares.flatMap { OCIConfig.cpuWeight(shares: $0) }.map(String.init), "cpu.weight", "shares")]
        for case let (value?, entry, field) in settings {
            guard exists(path + "/" + entry) else {
                throw NsctlError("config.json: $.linux.resources.cpu.\(field): this host's cgroup2 has no cpu controller for the tree")
            }
            try write(value, to: path + "/" + entry)
        }
    }

    /// Is the container of `initProcess` in a user namespace other than ours?
    func hasOwnUserNamespace(_ initProcess: ProcessHandle) -> Bool {
        let ours = try? ProcessHandle.open(pid: getpid()).namespaceID(.user)
        return (try? initProcess.namespaceID(.user)) != ours
    }

    /// What the tree cannot do yet fails here, by name, never silently.
    /// Returns the host ids the engine's mapping asks for (nil: none).
    func refuseWhatCannotBeHonoured(_ config: OCIConfig) throws(NsctlError) -> (first: UInt32, count: UInt32)? {
        for (i, n) in (config.linux?.namespaces ?? []).enumerated() where n.path != nil && Create.joinable[n.type] == nil {
            throw NsctlError("config.json: $.linux.namespaces[\(i)].path: joining a \(n.type) namespace by path is not supported: the container's is the tree's (network, ipc, uts, pid, cgroup and time are joinable)")
        }
        let asked: (first: UInt32, count: UInt32)?
        do throws(OCIConfigError) { asked = try config.askedIds() } catch { throw NsctlError(error.description) }
        if let e = config.unsupportedResource() { throw NsctlError(e.description) }
        if config.process?.terminal == true, consoleSocket == nil {
            throw NsctlError("config.json: $.process.terminal: a terminal needs --console-socket")
        }
        for key in (config.linux?.sysctl ?? [:]).keys.sorted() where !Create.isNamespaced(sysctl: key) {
            throw NsctlError("config.json: $.linux.sysctl.\(key): not scoped by the container's namespaces (the host's own setting)")
        }
        return asked
    }
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
