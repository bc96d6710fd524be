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

/// Hooks as the C side takes them: each executable opened here (an O_PATH
/// descriptor the container's side executes: the path is the runtime's),
/// argv and envp as C arrays; all released by `release`.
struct ContainerHooks {
    var hooks: [nsfs_oci_hook] = []
    var allocations: [UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>] = []
    var fds: [Int32] = []

    init(_ list: [OCIConfig.Hook], stage: String) throws(NsctlError) {
        for (i, h) in list.enumerated() {
            // (No CLOEXEC: a script's interpreter opens it as /dev/fd/N.)
            let fd = open(h.path, 0o10000000 /* O_PATH */)
            guard fd >= 0 else { release(); throw NsctlError("$.hooks.\(stage)[\(i)] (\(h.path)): \(Errno.current)") }
            fds.append(fd)
            let argv = Self.cArray(h.args ?? [h.path]), envp = Self.cArray(h.env ?? [])
            allocations += [argv, envp]
            hooks.append(nsfs_oci_hook(fd: fd, argv: argv, envp: envp, timeout_ms: Int32((h.timeout ?? 0) * 1000)))
        }
    }

    static func cArray(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let a = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { a[i] = strdup(s) }
        a[strings.count] = nil
        return a
    }

    func release() {
        for a in allocations {
            var i = 0
            while let s = a[i] { free(s); i += 1 }
            a.deallocate()
        }
        fds.forEach { close($0) }
    }
}

/// config.json's `process`, started inside a container of the tree with
/// this program's stdio (the engine's): through `nsfs_oci_spawn` (C: the
/// child runs no Swift).
struct ProcessSpawn {
    let process: OCIConfig.Process

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
        let createHooks = try ContainerHooks(first?.createHooks ?? [], stage: "createContainer")
        defer { createHooks.release() }
        let startHooks = try ContainerHooks(first?.startHooks ?? [], stage: "startContainer")
        defer { startHooks.release() }
        let hookState = strdup(first?.hookState ?? "")
        defer { free(hookState) }
        let joinFds = joins.map(\.fd), joinTypes = joins.map { Int32(truncatingIfNeeded: $0.kind.cloneFlag) }
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
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = (process.env ?? []).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var groups = (process.user.additionalGids ?? []).map { gid_t($0) }
        let masked: [UnsafePointer<CChar>?] = (first?.masked ?? []).map { UnsafePointer(strdup($0)) }
        let readonly: [UnsafePointer<CChar>?] = (first?.readonly ?? []).map { UnsafePointer(strdup($0)) }
        let tmpfsDest: [UnsafePointer<CChar>?] = (first?.tmpfs ?? []).map { UnsafePointer(strdup($0.destination)) }
        let tmpfsData: [UnsafePointer<CChar>?] = (first?.tmpfs ?? []).map { UnsafePointer(strdup($0.data)) }
        let tmpfsFlags: [UInt] = (first?.tmpfs ?? []).map(\.flags)
        defer { (tmpfsDest + tmpfsData).forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        // A sysctl of a namespace joined by path is the host's root's to write.
        let joined = Set(joins.map(\.kind))
        let (hostSysctl, ownSysctl) = (first?.sysctl ?? []).reduce(into: ([(String, String)](), [(String, String)]())) { out, s in
            if let k = Create.namespace(ofSysctl: s.0), joined.contains(k) { out.0.append(s) } else { out.1.append(s) }
        }
        func paths(_ l: [(String, String)]) -> [UnsafePointer<CChar>?] { l.map { UnsafePointer(strdup("/proc/sys/" + $0.0.replacing(".", with: "/"))) } }
        func values(_ l: [(String, String)]) -> [UnsafePointer<CChar>?] { l.map { UnsafePointer(strdup($0.1)) } }
        let sysctlPaths = paths(ownSysctl), sysctlValues = values(ownSysctl)
        let hostPaths = paths(hostSysctl), hostValues = values(hostSysctl)
        defer { (masked + readonly + sysctlPaths + sysctlValues + hostPaths + hostValues).forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        let cgroup = c.leafCgroupDescriptor()
        defer { cgroup.map { _ = close($0) } }
        let mirror = PidsMirror(c)
        var pid: Int32 = -1, pidfd: Int32 = -1
        let rc: Int32 = process.cwd.withCString { cwd in
            argv.withUnsafeBufferPointer { a in envp.withUnsafeBufferPointer { e in
                groups.withUnsafeMutableBufferPointer { g in rlimitTypes.withUnsafeBufferPointer { rt in
                    soft.withUnsafeBufferPointer { rs in hard.withUnsafeBufferPointer { rh in
                        var p = nsfs_oci_process(
                            argv: a.baseAddress!, envp: e.baseAddress!, cwd: cwd,
                            uid: process.user.uid, gid: process.user.gid,
                            ngroups: Int32(g.count), groups: g.baseAddress,
                            umask: process.user.umask.map { Int32($0) } ?? -1,
                            nrlimits: Int32(rt.count), rlimit_types: rt.baseAddress, rlimit_soft: rs.baseAddress, rlimit_hard: rh.baseAddress,
                            oom_score_adj_given: process.oomScoreAdj == nil ? 0 : 1, oom_score_adj: Int32(process.oomScoreAdj ?? 0),
                            no_new_privs: process.noNewPrivileges == true ? 1 : 0,
                            set_caps: caps == nil ? 0 : 1,
                            cap_bounding: masks.bounding, cap_effective: masks.effective, cap_permitted: masks.permitted,
                            cap_inheritable: masks.inheritable, cap_ambient: masks.ambient,
                            gate_fd: gate,
                            nmasked: Int32(masked.count), nreadonly: Int32(readonly.count), mount_cgroup: first?.cgroup == true ? 1 : 0,
                            masked: nil, readonly: nil, nsysctl: Int32(sysctlPaths.count), sysctl_paths: nil, sysctl_values: nil,
                            console_fd: console, ntmpfs: Int32(tmpfsDest.count), tmpfs_dest: nil, tmpfs_flags: nil, tmpfs_data: nil,
                            readonly_root: first?.readonlyRoot == true ? 1 : 0,
                            njoin: Int32(joinFds.count), join_fds: nil, join_types: nil,
                            nhost_sysctl: Int32(hostPaths.count), host_sysctl_paths: nil, host_sysctl_values: nil,
                            ncreate_hooks: Int32(createHooks.hooks.count), nstart_hooks: Int32(startHooks.hooks.count),
                            create_hooks: nil, start_hooks: nil, hook_state: hookState)
                        return masked.withUnsafeBufferPointer { mp in readonly.withUnsafeBufferPointer { rp in
                          sysctlPaths.withUnsafeBufferPointer { sp in sysctlValues.withUnsafeBufferPointer { sv in
                          tmpfsDest.withUnsafeBufferPointer { td in tmpfsData.withUnsafeBufferPointer { tdata in tmpfsFlags.withUnsafeBufferPointer { tf in
                            p.tmpfs_dest = td.baseAddress
                            p.tmpfs_data = tdata.baseAddress
                            p.tmpfs_flags = tf.baseAddress
                          return joinFds.withUnsafeBufferPointer { jf in joinTypes.withUnsafeBufferPointer { jt in
                          hostPaths.withUnsafeBufferPointer { hp in hostValues.withUnsafeBufferPointer { hv in
                            p.join_fds = jf.baseAddress
                            p.join_types = jt.baseAddress
                            p.host_sysctl_paths = hp.baseAddress
                            p.host_sysctl_values = hv.baseAddress
                          return createHooks.hooks.withUnsafeBufferPointer { ch in startHooks.hooks.withUnsafeBufferPointer { sh in
                            p.create_hooks = ch.baseAddress
                            p.start_hooks = sh.baseAddress
                            p.masked = mp.baseAddress
                            p.readonly = rp.baseAddress
                            p.sysctl_paths = sp.baseAddress
                            p.sysctl_values = sv.baseAddress
                        mirror?.enter()
                        defer { mirror?.leave() }
                            return nsfs_oci_spawn(initProcess.descriptor.rawValue, flags, cgroup ?? -1, &p, &pidfd, &pid)
                          } }
                          } }
                          } }
                          } } }
                          } }
                        } }
                    } }
                } }
            } }
        }
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
