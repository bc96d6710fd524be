import CNamespaceShim
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Starts containers' inits through the C shim (clone3 + exec in C).
package struct InitSpawner: Sendable {
    let initBinary: OwnedDescriptor
    let devNull: OwnedDescriptor
    package let initPath: String

    package init(initPath: String) throws(RuntimeError) {
        (initBinary, devNull) = try doing("cannot open the container init \(initPath)") { () throws(Errno) in
            (OwnedDescriptor(try FileDescriptor.open(initPath, nsfs_o_path())),
             OwnedDescriptor(try FileDescriptor.open("/dev/null", O_RDWR)))
        }
        self.initPath = initPath
    }

    static let stepNames: [Int32: String] = [
        Int32(NSFS_STEP_CLONE_HELPER.rawValue): "clone of the nesting helper",
        Int32(NSFS_STEP_SETNS_PARENT.rawValue): "entering the parent container",
        Int32(NSFS_STEP_CLONE_INIT.rawValue): "clone3 of the init",
        Int32(NSFS_STEP_UNSHARE_CGROUP.rawValue): "cgroup namespace",
        Int32(NSFS_STEP_MOUNT_PROPAGATION.rawValue): "mount propagation",
        Int32(NSFS_STEP_MOUNT_PROC.rawValue): "mounting /proc",
        Int32(NSFS_STEP_HOSTNAME.rawValue): "setting the hostname",
        Int32(NSFS_STEP_LOOPBACK.rawValue): "bringing up loopback",
        Int32(NSFS_STEP_FDS.rawValue): "descriptors",
        Int32(NSFS_STEP_EXEC.rawValue): "exec of the init",
        Int32(NSFS_STEP_SETNS_USER.rawValue): "entering its user namespace",
        Int32(NSFS_STEP_BECOME_ROOT.rawValue): "becoming root of its user namespace",
        Int32(NSFS_STEP_PRIVATE_FS.rawValue): "its read-only view of the host's filesystem",
    ]

    /// Start an init in `cgroup`, nested in `parent`'s pid and mnt namespaces
    /// when given. Returns once the init runs — or, into a frozen cgroup,
    /// once it exists (it finishes its setup when thawed).
    /// `userNamespace`: an nsfs descriptor of the user namespace it is
    /// born into (nsfs_make_userns) and becomes root of; nil: the daemon's.
    /// `processLimit`: RLIMIT_NPROC of the init (nil: the daemon's).
    /// `parentMountOnly`: made in the parent's mount namespace but with a
    /// pid namespace below the host's (a user namespace that is not a
    /// descendant of the parent's cannot own one nested in the parent's).
    package func spawn(cgroup: OwnedDescriptor, parent: ProcessHandle?, userNamespace: OwnedDescriptor?, hostname: String,
                      argv0: String, frozen: Bool, processLimit: UInt64? = nil,
                      parentMountOnly: Bool = false, privateFilesystem: Bool = false) throws(RuntimeError) -> ProcessHandle {
        try run(parent: parent, cgroup: cgroup, userNamespace: userNamespace, hostname: hostname, argv0: argv0, frozen: frozen,
                newNamespaces: nsfs_default_namespaces(), join: nil, processLimit: processLimit,
                parentNamespaces: parentMountOnly ? NamespaceKind.mnt.cloneFlag : 0,
                privateFilesystem: privateFilesystem, failure: "container init failed")
    }

    /// A new user namespace mapping `count` ids from `first` (ids of the
    /// parent's user namespace) to 0... inside: a child of the
    /// daemon's (parent nil) or of `parent`'s user namespace.
    /// `owner`: a host user who owns it (only a child of the daemon's),
    /// with that user's process limit (`ownerProcessLimit`, nil: none).
    package func makeUserNamespace(parent: ProcessHandle?, first: UInt32, count: UInt32 = IdPool.blockSize,
                                  owner: ContainerTree.Owner? = nil,
                                  ownerProcessLimit: UInt64? = nil) throws(RuntimeError) -> OwnedDescriptor {
        let map = "0 \(first) \(count)\n"
        let fd = nsfs_make_userns(parent?.descriptor.rawValue ?? -1, initBinary.rawValue,
                                  owner.map { Int32(bitPattern: $0.uid) } ?? -1, owner.map { Int32(bitPattern: $0.gid) } ?? -1,
                                  ownerProcessLimit ?? 0, map, map)
        guard fd >= 0 else { throw RuntimeError(Errno(-fd), "cannot make a user namespace") }
        return OwnedDescriptor(FileDescriptor(rawValue: fd))
    }

    /// Start an init that joins `kinds` of `member`'s namespaces (a set
    /// someone else made) in `cgroup` and only pins them: no namespace of
    /// its own, no setup. Into a frozen cgroup it returns once the init
    /// exists (it execs when thawed).
    package func join(_ member: ProcessHandle, kinds: [NamespaceKind], cgroup: OwnedDescriptor,
                     argv0: String, frozen: Bool) throws(RuntimeError) -> ProcessHandle {
        try run(parent: member, cgroup: cgroup, userNamespace: nil, hostname: "", argv0: argv0, frozen: frozen, newNamespaces: 0,
                join: kinds.reduce(UInt64(0)) { $0 | $1.cloneFlag }, processLimit: nil, parentNamespaces: 0,
                privateFilesystem: false, failure: "pinning the set failed")
    }

    private func run(parent: ProcessHandle?, cgroup: OwnedDescriptor, userNamespace: OwnedDescriptor?,
                     hostname: String, argv0: String, frozen: Bool,
                     newNamespaces: UInt64, join: UInt64?, processLimit: UInt64?, parentNamespaces: UInt64,
                     privateFilesystem: Bool, failure: String) throws(RuntimeError) -> ProcessHandle {
        var res = nsfs_spawn_result()
        let rc: Int32 = hostname.withCString { host in
            argv0.withCString { a0 in
                var req = nsfs_spawn_request(
                    parent_pidfd: parent?.descriptor.rawValue ?? -1,
                    cgroup_fd: cgroup.rawValue,
                    init_fd: initBinary.rawValue,
                    devnull_fd: devNull.rawValue,
                    hostname: host,
                    argv0: a0,
                    new_namespaces: newNamespaces,
                    join: join == nil ? 0 : 1, join_namespaces: join ?? 0,
                    parent_namespaces: parentNamespaces,
                    userns_fd: userNamespace?.rawValue ?? -1,
                    private_fs: privateFilesystem ? 1 : 0,
                    nproc: processLimit ?? 0,
                    no_wait: frozen ? 1 : 0)
                return nsfs_spawn_init(&req, &res)
            }
        }
        if rc != 0 {
            let step = Self.stepNames[res.step] ?? "spawn"
            throw RuntimeError(Errno(-rc), "\(failure) at \(step)")
        }
        if res.pidfd < 0 { return try Self.onlyProcess(of: cgroup) }
        return ProcessHandle(pid: res.pid, pidfd: res.pidfd)
    }

    /// The init of a spawn into a frozen cgroup: the one process there.
    static func onlyProcess(of cgroup: OwnedDescriptor) throws(RuntimeError) -> ProcessHandle {
        do throws(Errno) {
            let pids = CgroupDirectory.parsePids(try FileIO.read("cgroup.procs", relativeTo: cgroup.fd))
            guard pids.count == 1 else { throw Errno.noProcess }
            let p = try ProcessHandle.open(pid: pids[0])
            guard ifReadable({ try p.cgroupID() }) == ifReadable({ try cgroup.fd.inode() }) else { throw Errno.noProcess }
            return p
        } catch {
            throw RuntimeError(error, "cannot find the new init in its frozen cgroup")
        }
    }
}
