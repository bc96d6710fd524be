import CNamespaceShim
import ContainerTree
import LinuxSystem
import OCISpec
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

/// What only the container's first process does (create), in the
/// container's mount and other namespaces.
struct FirstProcess {
    var masked: [String] = []
    var readonly: [String] = []
    var cgroup = false
    var sysctl: [(String, String)] = []
    var tmpfs: [(destination: String, flags: UInt, data: String)] = []
    var readonlyRoot = false
    /// Hooks run in the container's namespaces, and the state they read.
    var createHooks: [OCIConfig.Hook] = []
    var startHooks: [OCIConfig.Hook] = []
    var hookState = ""
}

/// C memory for one spawn: every string and array the C side reads, at
/// addresses that stay put (the children read them after their fork), all
/// freed with the arena.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let p = strdup(s)!
        blocks.append(UnsafeMutableRawPointer(p))
        return p
    }

    /// The elements in malloc'd memory (at least one slot: never NULL).
    func array<T>(_ elements: [T]) -> UnsafeMutablePointer<T> {
        let p = malloc(MemoryLayout<T>.stride * max(elements.count, 1))!.bindMemory(to: T.self, capacity: max(elements.count, 1))
        p.initialize(from: elements, count: elements.count)
        blocks.append(UnsafeMutableRawPointer(p))
        return p
    }

    /// A NULL-terminated argv/envp.
    func argv(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        array(strings.map { Optional(string($0)) } + [nil])
    }

    /// A list of read-only strings.
    func strings(_ strings: [String]) -> UnsafeMutablePointer<UnsafePointer<CChar>?> {
        array(strings.map { Optional(UnsafePointer(string($0))) })
    }

    /// Hooks run in the container's namespaces: each executable opened here
    /// (an O_PATH descriptor the container's side executes: the path is the
    /// runtime's; no CLOEXEC: a script's interpreter opens it as /dev/fd/N),
    /// closed with the arena.
    func hooks(_ list: [OCIConfig.Hook], stage: String) throws(NsctlError) -> [nsfs_oci_hook] {
        var out: [nsfs_oci_hook] = []
        for (i, h) in list.enumerated() {
            let fd = open(h.path, 0o10000000 /* O_PATH */)
            guard fd >= 0 else { throw NsctlError("$.hooks.\(stage)[\(i)] (\(h.path)): \(Errno.current)") }
            descriptors.append(fd)
            out.append(nsfs_oci_hook(fd: fd, argv: argv(h.args ?? [h.path]), envp: argv(h.env ?? []),
                                     timeout_ms: Int32((h.timeout ?? 0) * 1000)))
        }
        return out
    }
    private var descriptors: [Int32] = []

    deinit {
        blocks.forEach { free($0) }
        descriptors.forEach { close($0) }
    }
}

/// config.json's `process`, started inside a container of the tree with
/// this program's stdio (the engine's): through `nsfs_oci_spawn` (C: the
/// child runs no Swift).
struct ProcessSpawn {
    let process: OCIConfig.Process
    /// The container's seccomp filter, loaded right before exec.
    var seccomp: SeccompProgram? = nil

    /// The child's pid and pidfd once it is inside (waiting at `gate`, an
    /// O_PATH descriptor of the exec FIFO, if given).
    /// `first`: the container's first process (create) also masks and
    /// protects paths and mounts cgroup2, in the container's mount namespace.
    /// `console`: a socket connected to the engine's console socket
    /// (process.terminal), or -1.
    /// `source`: whose namespaces it enters (default the container's init).
    /// `joins`: namespaces joined by descriptor instead, as the host's root
    /// (an engine's network named by path, at create and at each exec).
    func start(in c: ContainerDirectory, gate: Int32, console: Int32 = -1, source: ProcessHandle? = nil,
               joins: [(fd: Int32, kind: NamespaceKind)] = [],
               first: FirstProcess? = nil) throws(NsctlError) -> (pid: Int32, pidfd: Int32) {
        guard let args = process.args, !args.isEmpty else { throw NsctlError("config.json: $.process.args: missing or empty") }
        let initProcess: ProcessHandle
        if let source { initProcess = source } else { initProcess = try c.initProcess() }
        let own = try? ProcessHandle.open(pid: getpid())
        var flags: Int32 = 0
        for k in NamespaceKind.allCases where !joins.contains(where: { $0.kind == k }) {
            // (One it shares with us has nothing to enter: setns into one's
            // own user namespace is EINVAL.)
            if (try? initProcess.namespaceID(k)) == (try? own?.namespaceID(k)) { continue }
            flags |= Int32(truncatingIfNeeded: k.cloneFlag)
        }
        // A sysctl of a namespace joined by path is the host's root's to write.
        let joined = Set(joins.map(\.kind))
        let sysctls = first?.sysctl ?? []
        let hostSysctl = sysctls.filter { Create.namespace(ofSysctl: $0.0).map(joined.contains) == true }
        let ownSysctl = sysctls.filter { Create.namespace(ofSysctl: $0.0).map(joined.contains) != true }
        func paths(_ l: [(String, String)]) -> [String] { l.map { "/proc/sys/" + $0.0.replacing(".", with: "/") } }
        let caps = process.capabilities
        let masks = try Self.masks(caps)
        var rlimitTypes: [Int32] = [], soft: [UInt64] = [], hard: [UInt64] = []
        for (i, r) in (process.rlimits ?? []).enumerated() {
            guard let t = OCIConfig.rlimitNumbers[r.type] else { throw NsctlError("config.json: unknown rlimit \(r.type)") }
            // Above our own hard limit only with CAP_SYS_RESOURCE (which
            // some hosts withhold even from root): said before anything starts.
            var own = rlimit()
            if getrlimit(__rlimit_resource_t(UInt32(t)), &own) == 0, r.hard > UInt64(own.rlim_max), !Capabilities.has(24 /* CAP_SYS_RESOURCE */) {
                throw NsctlError("config.json: $.process.rlimits[\(i)]: \(r.type) hard \(r.hard) is above this host's \(own.rlim_max), and nsfs-oci lacks CAP_SYS_RESOURCE to raise it (podman: --ulimit)")
            }
            rlimitTypes.append(t)
            soft.append(r.soft)
            hard.append(r.hard)
        }
        // The container's process limit, where the spec sets none lower.
        let nproc = ContainerDirectory.processLimit(of: initProcess)
        if nproc > 0, !rlimitTypes.contains(OCIConfig.rlimitNumbers["RLIMIT_NPROC"]!) {
            rlimitTypes.append(OCIConfig.rlimitNumbers["RLIMIT_NPROC"]!); soft.append(nproc); hard.append(nproc)
        }
        let groups = (process.user.additionalGids ?? []).map { gid_t($0) }
        let tmpfs = first?.tmpfs ?? []
        let arena = CArena()
        let createHooks = try arena.hooks(first?.createHooks ?? [], stage: "createContainer")
        let startHooks = try arena.hooks(first?.startHooks ?? [], stage: "startContainer")
        var p = nsfs_oci_process(
            argv: arena.argv(args), envp: arena.argv(process.env ?? []), cwd: arena.string(process.cwd),
            uid: process.user.uid, gid: process.user.gid,
            ngroups: Int32(groups.count), groups: arena.array(groups),
            umask: process.user.umask.map { Int32($0) } ?? -1,
            nrlimits: Int32(rlimitTypes.count), rlimit_types: arena.array(rlimitTypes),
            rlimit_soft: arena.array(soft), rlimit_hard: arena.array(hard),
            oom_score_adj_given: process.oomScoreAdj == nil ? 0 : 1, oom_score_adj: Int32(process.oomScoreAdj ?? 0),
            no_new_privs: process.noNewPrivileges == true ? 1 : 0,
            set_caps: caps == nil ? 0 : 1,
            cap_bounding: masks.bounding, cap_effective: masks.effective, cap_permitted: masks.permitted,
            cap_inheritable: masks.inheritable, cap_ambient: masks.ambient,
            gate_fd: gate,
            nmasked: Int32(first?.masked.count ?? 0), nreadonly: Int32(first?.readonly.count ?? 0),
            mount_cgroup: first?.cgroup == true ? 1 : 0,
            masked: arena.strings(first?.masked ?? []), readonly: arena.strings(first?.readonly ?? []),
            nsysctl: Int32(ownSysctl.count), sysctl_paths: arena.strings(paths(ownSysctl)),
            sysctl_values: arena.strings(ownSysctl.map(\.1)),
            console_fd: console,
            ntmpfs: Int32(tmpfs.count), tmpfs_dest: arena.strings(tmpfs.map(\.destination)),
            tmpfs_flags: arena.array(tmpfs.map(\.flags)), tmpfs_data: arena.strings(tmpfs.map(\.data)),
            readonly_root: first?.readonlyRoot == true ? 1 : 0,
            njoin: Int32(joins.count), join_fds: arena.array(joins.map(\.fd)),
            join_types: arena.array(joins.map { Int32(truncatingIfNeeded: $0.kind.cloneFlag) }),
            nhost_sysctl: Int32(hostSysctl.count), host_sysctl_paths: arena.strings(paths(hostSysctl)),
            host_sysctl_values: arena.strings(hostSysctl.map(\.1)),
            ncreate_hooks: Int32(createHooks.count), nstart_hooks: Int32(startHooks.count),
            create_hooks: arena.array(createHooks), start_hooks: arena.array(startHooks),
            hook_state: arena.string(first?.hookState ?? ""),
            mount_proc: first != nil && joined.contains(.pid) ? 1 : 0,
            seccomp_filter: UnsafeRawPointer(arena.array(seccomp?.filter ?? [])),
            seccomp_len: Int32((seccomp?.filter.count ?? 0) / 8), seccomp_flags: seccomp?.flags ?? 0)
        let cgroup = c.leafCgroupDescriptor()
        defer { cgroup.map { _ = close($0) } }
        let mirror = PidsMirror(c)
        var pid: Int32 = -1, pidfd: Int32 = -1
        mirror?.enter()
        let rc = nsfs_oci_spawn(initProcess.descriptor.rawValue, flags, cgroup ?? -1, &p, &pidfd, &pid)
        mirror?.leave()
        withExtendedLifetime(arena) {}
        if rc < 0 {
            let e = Errno(-rc)
            if e.rawValue == ENOENT { throw NsctlError("\(args[0]): not found in the container (\(c.path))") }
            throw NsctlError("cannot start \(args[0]) in \(c.path): \(e)")
        }
        return (pid, pidfd)
    }

    static func masks(_ caps: OCIConfig.Capabilities?) throws(NsctlError) -> (bounding: UInt64, effective: UInt64, permitted: UInt64, inheritable: UInt64, ambient: UInt64) {
        do throws(OCIConfigError) {
            return (try OCIConfig.capabilityMask(caps?.bounding, at: "$.process.capabilities.bounding"),
                    try OCIConfig.capabilityMask(caps?.effective, at: "$.process.capabilities.effective"),
                    try OCIConfig.capabilityMask(caps?.permitted, at: "$.process.capabilities.permitted"),
                    try OCIConfig.capabilityMask(caps?.inheritable, at: "$.process.capabilities.inheritable"),
                    try OCIConfig.capabilityMask(caps?.ambient, at: "$.process.capabilities.ambient"))
        } catch {
            throw NsctlError(error.description)
        }
    }
}
