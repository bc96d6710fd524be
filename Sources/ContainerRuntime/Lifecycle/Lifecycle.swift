import ContainerTree
import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a container with a user namespace sees of the host's files.
package enum HostFilesystem: String, Sendable {
    /// Every host mount read-only (locked so), and a tmpfs of its own on
    /// /tmp, /var/tmp and /dev/shm: nothing it writes reaches the host.
    case `private`
    /// The host's mounts as they are: it writes where any unprivileged
    /// user may (a world-writable /tmp).
    case shared
}

/// Where containers live and what starts them.
package struct RuntimeConfiguration: Sendable {
    /// cgroup2 mount point, e.g. /sys/fs/cgroup.
    package var cgroupMount: String
    /// The cgroup (relative to the mount) below which every container's lives.
    package var cgroupRoot: String
    package var stateDirectory: String
    package var initPath: String
    /// How long rmdir waits for a container's processes to die.
    package var killTimeoutMilliseconds = 10_000
    /// How long rmdir waits for them to exit after SIGTERM before it kills
    /// (-o stop_timeout=; 0: kill at once).
    package var stopTimeoutMilliseconds = 0
    /// Testing crash safety: SIGKILL the daemon at this step.
    package var crashAt: CrashStep?
    /// Limits every new container starts with (-o pids_max=...), by entry,
    /// in the kernel's syntax.
    package var defaultLimits: [ControlFile: String] = [:]
    /// Each container gets a user namespace of its own (-o userns=off: they
    /// share the host's, and their root is the host's root).
    package var userNamespaces = true
    /// Where their host ids come from (-o ids=BASE:COUNT).
    package var idPool = IdPool()
    /// What containers with a user namespace see of the host's files
    /// (-o hostfs=private|shared, remembered by the state directory).
    package var hostFilesystem = HostFilesystem.private
    /// RLIMIT_NPROC of every container's processes (-o nproc=N): with user
    /// namespaces, counted per container (its root's uid in its namespace).
    package var processLimit: UInt64?
    /// The root filesystem of every new top-level container (-o root=).
    package var rootImage: String?
    /// Where containers' own layers live (-o storage=).
    package var storageDirectory = RootFilesystems.defaultStorage
    /// -o network=bridge[:CIDR]: every container made by mkdir gets eth0
    /// on a bridge (nil: none).
    package var network: NetworkConfiguration?
    /// -o log_size=BYTES: each container's log's bound.
    package var logSize = 1 << 20
    /// -o netns=names: containers' net namespaces in /run/netns (ip netns).
    package var netnsNames = false
    /// Where the tree is mounted: a container with a root of its own gets
    /// the directory for its view there.
    package var mountPoint = "/namespaces"

    package init(cgroupMount: String, cgroupRoot: String, stateDirectory: String, initPath: String) {
        self.cgroupMount = cgroupMount
        self.cgroupRoot = cgroupRoot
        self.stateDirectory = stateDirectory
        self.initPath = initPath
    }
}

/// Containers made, renamed, delegated and killed: every change happens in
/// the kernel first, then in the store, then in the registry. The registry's
/// lock is taken twice around slow work (a spawn, a kill), never across it:
/// the tree's `creating` and `removing` states hold the place meanwhile.
package final class Lifecycle: Sendable {
    package let configuration: RuntimeConfiguration
    let registry: Registry
    let store: StateStore
    let spawner: InitSpawner
    package let rootCgroup: CgroupDirectory
    /// Where containers' processes and controllers are (see CgroupLayout).
    package let layout: CgroupLayout
    let teardown: Teardown
    /// Inits of live containers (tag: serial) and of removed ones still
    /// exiting (tag: reapTag | pid).
    /// Inits watched for a death; removed ones reaped when they exit.
    let deathWatcher: DeathWatcher
    /// Sets found in containers' cgroups (unnamed nodes).
    package let discovery: Discovery
    /// Containers whose sets SetWork is killing or naming.
    let setWorkInProgress = SetWorkInProgress()
    /// The bridge and containers' addresses (-o network).
    package let network: Network?
    /// Containers' net namespaces by name in /run/netns (-o netns=names).
    let netnsNames: NetnsNames?
    /// Containers' logs (the log entry).
    package let logs: Logs
    /// The daemon's own set: what a set's pinning init must join.
    var daemonKey: SetKey? { registry.host.key }

    package init(configuration: RuntimeConfiguration, registry: Registry) throws(RuntimeError) {
        self.configuration = configuration
        self.registry = registry
        discovery = Discovery(registry: registry, setWork: setWorkInProgress)
        network = configuration.network.map { Network($0, stateDirectory: configuration.stateDirectory) }
        logs = Logs(stateDirectory: configuration.stateDirectory, limit: configuration.logSize)
        // Also without the option when an earlier mount had it: its names go.
        netnsNames = configuration.netnsNames || NetnsNames.recorded(stateDirectory: configuration.stateDirectory)
            ? NetnsNames(stateDirectory: configuration.stateDirectory) : nil
        store = StateStore(directory: configuration.stateDirectory)
        spawner = try InitSpawner(initPath: configuration.initPath)
        let root = CgroupDirectory(path: configuration.cgroupMount + configuration.cgroupRoot)
        rootCgroup = root
        deathWatcher = try doing("cannot create an epoll set") { () throws(Errno) in try DeathWatcher() }
        let store = store   // (self is not whole yet)
        try doing("cannot create the state directory \(configuration.stateDirectory)") { () throws(Errno) in try store.prepare() }
        try doing("cannot create the cgroup \(root.path)") { () throws(Errno) in try FileIO.makeDirectories(root.path) }
        layout = CgroupLayout.prepare(root: root, cgroupMount: configuration.cgroupMount,
                                      mounts: ifReadable({ try MountInfo.current() }) ?? [])
        for (file, _) in configuration.defaultLimits where layout.file(file, of: root) == nil {
            throw RuntimeError(Errno(EOPNOTSUPP), "-o \(file.optionName): this host gives containers no \(file.controller!.rawValue) controller")
        }
        teardown = Teardown(timeoutMilliseconds: configuration.killTimeoutMilliseconds, layout: layout)
        let pool = configuration.idPool
        registry.state.withLock {
            $0.tree.controllers = layout.controllers
            $0.idPool = pool
        }
        try doing("cannot write to the state directory \(configuration.stateDirectory)") { () throws(Errno) in try store.recordConfiguration(cgroupRoot: configuration.cgroupRoot, hostFilesystem: configuration.hostFilesystem, storage: configuration.storageDirectory) }
    }

    static let cgroupPrefix = "ns-"

    func crashPoint(_ step: CrashStep) {
        if configuration.crashAt == step { kill(getpid(), SIGKILL) }
    }

    // MARK: mkdir

    /// Create and start a container named `name` below `parent`, owned by
    /// `owner`. Returns its serial once its init runs.
    /// `forUser`: made on behalf of a host user through a delegation (not
    /// privileged, not a container's root): its user namespace is that
    /// user's, a child of the host's mapping the parent's ids (the
    /// delegated range), so the user can enter it without privileges.
    /// `userProcessLimit`: that user's RLIMIT_NPROC (the caller's), which
    /// then bounds the container's processes and the user's own together.
    /// `askedIds`: host ids the host's root asks its user namespace to map
    /// from 0 (an engine's mapping, the `mkdir` entry), claimed in the pool
    /// (EBUSY where a container's ids are); its user namespace is then a
    /// child of the host's, whatever the mount's -o userns.
    package func create(parent: UInt64, name bytes: [UInt8], owner: ContainerTree.Owner = .root,
                       mode: UInt16 = ContainerTree.defaultMode, forUser: Bool = false,
                       userProcessLimit: UInt64? = nil, askedIds: (first: UInt32, count: UInt32)? = nil,
                       request: RequestTag? = nil) throws(RuntimeError) -> UInt64 {
        // 1. Take the name (and, for a new user namespace below the host's,
        // a block of host ids).
        let userNamespaces = configuration.userNamespaces
        let (serial, name, parentContainer, parentID, ids) = try registry.state.withLock {
            (s) throws(RuntimeError) -> (UInt64, String, Container?, UInt64?, IdChoice?) in
            var ids: IdChoice?
            if let askedIds {
                guard s.idPool.claim(askedIds.first, count: askedIds.count) else {
                    throw RuntimeError(.busy, "mkdir: host ids \(askedIds.first)-\(UInt64(askedIds.first) + UInt64(askedIds.count) - 1) are in use by another container")
                }
                ids = .asked(askedIds.first, askedIds.count, parentHasOwn: s.records[parent]?.idBase != nil)
            } else if userNamespaces {
                if forUser, s.records[parent]?.idBase != nil {
                    // A block of its own: its root is not its parent's (a
                    // delegated user could otherwise signal or trace the
                    // container delegated to her, and what root made in it).
                    guard let b = s.idPool.take() else {
                        throw RuntimeError(Errno(ENOSPC), "mkdir: every id range of the pool is in use")
                    }
                    ids = .delegated(b, owner)
                } else if let r = s.records[parent], let b = r.idBase {
                    ids = .parents(b, r.idCount, asked: r.idsAsked)
                } else {
                    guard let b = s.idPool.take() else {
                        throw RuntimeError(Errno(ENOSPC), "mkdir: every id range of the pool is in use")
                    }
                    ids = .taken(b)
                }
            }
            switch s.tree.beginCreate(parent: parent, name: bytes, owner: owner, mode: mode) {
            case .failure(let e):
                if let b = ids?.takenBlock { s.idPool.release(b) }
                throw RuntimeError(refused: e, "mkdir")
            case .success(let (serial, name)):
                return (serial, name, s.containers[parent], s.records[parent]?.id, ids)
            }
        }
        // 2. The kernel work, no lock held.
        let made: (Container, ContainerBirth)
        do throws(RuntimeError) {
            made = try makeContainer(serial: serial, name: name, parent: parentContainer, parentID: parentID,
                                     owner: owner, mode: mode, ids: ids, userProcessLimit: userProcessLimit, request: request)
        } catch {
            registry.state.withLock {
                $0.tree.abandonCreate(serial)
                if let b = ids?.takenBlock { $0.idPool.release(b) }
            }
            throw error
        }
        let (c, birth) = made
        let record = birth.record
        // 3. Enter it, unless its parent died meanwhile (then the subtree
        // was dropped, this name with it).
        let entered = registry.state.withLock { s -> Bool in
            guard s.tree.finishCreate(serial) else { return false }
            s.register(c, record: record)
            return true
        }
        guard entered else {
            birth.undo()
            registry.state.withLock {
                $0.tree.finishRemove(serial)
                if let b = ids?.takenBlock { $0.idPool.release(b) }
            }
            throw RuntimeError(.noEntry, "mkdir: the parent of \(name) died meanwhile")
        }
        watch(c)
        syncNetnsNames()
        return serial
    }

    /// Where a new container's user namespace takes its ids from.
    enum IdChoice {
        /// A block of the pool, taken for it: mapped from the host's ids.
        case taken(UInt32)
        /// Its parent's ids (a block, or a range asked for): mapped 1:1
        /// from the parent's namespace.
        case parents(UInt32, UInt32, asked: Bool)
        /// A block of the pool, taken for it, mapped from the host's ids,
        /// in a namespace the host user it was made for owns.
        case delegated(UInt32, ContainerTree.Owner)
        /// Host ids the host's root asked for, claimed in the pool, mapped
        /// from the host's. `parentHasOwn`: its parent has a user namespace
        /// of its own, of which this one is not a descendant.
        case asked(UInt32, UInt32, parentHasOwn: Bool)

        var hostBase: UInt32 {
            switch self { case .taken(let b), .parents(let b, _, _), .delegated(let b, _), .asked(let b, _, _): b }
        }

        var count: UInt32 {
            switch self {
            case .taken, .delegated: IdPool.blockSize
            case .parents(_, let n, _), .asked(_, let n, _): n
            }
        }

        /// The block taken from the pool for it (to give back on failure).
        var takenBlock: UInt32? {
            switch self {
            case .taken(let b), .delegated(let b, _), .asked(let b, _, _): b
            case .parents: nil
            }
        }

        var isAsked: Bool {
            switch self {
            case .asked, .parents(_, _, asked: true): true
            default: false
            }
        }

        /// Made in its parent's mount namespace only (a pid namespace below
        /// the host's): its user namespace is not a descendant of the parent's.
        var outsideParentsUserNamespace: Bool {
            switch self {
            case .delegated, .asked(_, _, parentHasOwn: true): true
            default: false
            }
        }
    }

    /// The record, the cgroup and the init of a new container (its birth:
    /// to undo it if it cannot take its place).
    private func makeContainer(serial: UInt64, name: String, parent: Container?, parentID: UInt64?,
                               owner: ContainerTree.Owner, mode: UInt16, ids: IdChoice?,
                               userProcessLimit: UInt64?, request: RequestTag?) throws(RuntimeError) -> (Container, ContainerBirth) {
        var record = ContainerRecord(
            id: 0, serial: serial, name: name, parent: parentID,
            created: SystemTime.realtimeNanoseconds(), initPid: 0, initStartTime: 0, pidNamespace: 0,
            cgroup: "", creating: true, ownerUID: owner.uid, ownerGID: owner.gid)
        record.idBase = ids?.hostBase
        record.idCount = ids?.count ?? IdPool.blockSize
        record.ownsIds = ids?.takenBlock != nil
        record.idsAsked = ids?.isAsked ?? false
        record.mode = mode & 0o7777
        record.request = request
        var birth = try ContainerBirth(record, below: parent?.cgroup ?? rootCgroup, by: self,
                                       doing: "mkdir \(name)", crash: .mkdirRecorded)
        crashPoint(.mkdirCgroup)
        let leaf = birth.leaf
        var userNamespace: UInt64 = 0
        try birth.start { (dir) throws(RuntimeError) -> ProcessHandle in
            var userns: OwnedDescriptor?
            if let ids {
                switch ids {
                case .taken(let b): userns = try spawner.makeUserNamespace(parent: nil, first: b)
                case .parents(_, let n, _): userns = try spawner.makeUserNamespace(parent: parent?.initProcess, first: 0, count: n)
                case .delegated(let b, let user):
                    userns = try spawner.makeUserNamespace(parent: nil, first: b, owner: user, ownerProcessLimit: userProcessLimit)
                case .asked(let b, let n, _): userns = try spawner.makeUserNamespace(parent: nil, first: b, count: n)
                }
                try doing("cannot prepare the user namespace of \(name)") { () throws(Errno) in
                    userNamespace = try NamespaceKind.id(of: userns!)
                    // Its root manages the cgroups below its leaf (systemd or
                    // docker inside), and nothing above.
                    try layout.delegate(leaf, to: ids.hostBase)
                }
            }
            // Below a frozen container the new cgroup is frozen too, and so
            // is a child cloned into it: the spawn must not wait for it.
            let frozen = ifReadable({ try leaf.isFrozen() }) ?? false
            let delegated = ids?.outsideParentsUserNamespace ?? false
            if delegated && frozen {
                throw RuntimeError(.busy, "mkdir: \(parent.map { hex($0.id) } ?? "the parent") is frozen; thaw it first")
            }
            return try spawner.spawn(cgroup: dir, parent: parent?.initProcess, userNamespace: userns,
                                     hostname: ContainerName.hostname(for: name), argv0: "nsinit", frozen: frozen,
                                     processLimit: configuration.processLimit, parentMountOnly: delegated,
                                     privateFilesystem: configuration.hostFilesystem == .private)
        }
        // Two mkdirs (or a fork) at once may both have passed the check.
        let (cgroup, root) = (birth.cgroup, rootCgroup)
        if let full = layout.pidsLimitReached(from: cgroup, upTo: root, adding: 0) {
            birth.undo()
            throw RuntimeError(.tryAgain, "mkdir \(name): \(full) is reached")
        }
        crashPoint(.mkdirSpawned)
        if parent == nil, let image = configuration.rootImage { try birth.giveRoot(image) }
        if let network { try birth.giveNetwork(network) }
        let c = try birth.commit { (r, process) throws(Errno) in
            r.userNamespace = userNamespace
            // The pid namespace id identifies the init for good (ids are
            // never reused, and a pid namespace dies with its init): no
            // start time needed (reading /proc/PID/stat cost 35 µs here).
            r.pidNamespace = try process.namespaceID(.pid)
        }
        crashPoint(.mkdirDone)
        return (c, birth)
    }

    /// A fresh cgroup below `parent`, never reused: a random id, retried on
    /// collision. The `creating` record comes first: a crash from here on
    /// leaves a record that names what to undo (`crash`: the testing crash
    /// step between the two).
    func recordWithCgroup(_ record: inout ContainerRecord, below parent: CgroupDirectory,
                          crash: CrashStep? = nil) throws(RuntimeError) -> (CgroupDirectory, StateStore.Pending) {
        while true {
            record.id = UInt64.random(in: 1...UInt64.max)
            let cgroup = parent.child(Self.cgroupPrefix + hex(record.id))
            record.cgroup = String(cgroup.path.dropFirst(configuration.cgroupMount.count))
            let pending: StateStore.Pending
            do throws(Errno) { pending = try store.begin(record) } catch {
                if error == .exists { continue }
                throw RuntimeError(error, "cannot record container \(record.name)")
            }
            if let crash { crashPoint(crash) }
            do throws(Errno) { try cgroup.create() } catch {
                pending.abandon()
                if error == .exists { continue }
                throw RuntimeError(error, "cannot create cgroup \(cgroup.path)")
            }
            do throws(RuntimeError) { try furnish(cgroup) } catch {
                teardown.destroy(process: nil, cgroup: cgroup)
                pending.abandon()
                throw error
            }
            return (cgroup, pending)
        }
    }

    /// A new container's cgroup: controllers for its children, its leaf,
    /// its v1 mirror, and the default limits.
    private func furnish(_ cgroup: CgroupDirectory) throws(RuntimeError) {
        try doing("cannot prepare cgroup \(cgroup.path)") { () throws(Errno) in try layout.furnish(cgroup) }
        for (file, value) in configuration.defaultLimits {
            guard let path = layout.file(file, of: cgroup) else { continue }
            try doing("cannot set the default \(file.name) \(value)") { () throws(Errno) in try FileIO.write(path, value) }
        }
    }

    // MARK: rmdir

    /// A container between rmdir's first step and its last.
    package struct PendingRemoval: Sendable {
        let serial: UInt64
        let container: Container
    }

    /// rmdir's first step: the container is `removing` (refused if it has
    /// child containers or is already going).
    package func beginRemove(_ serial: UInt64) throws(RuntimeError) -> PendingRemoval {
        let c = try registry.state.withLock { (s) throws(RuntimeError) -> Container in
            if case .failure(let e) = s.tree.beginRemove(serial) { throw RuntimeError(refused: e, "rmdir") }
            return s.containers[serial]!
        }
        deathWatcher.unwatch(c.serial)
        return PendingRemoval(serial: serial, container: c)
    }

    /// Kill it and wait at most `milliseconds` for its processes: true if
    /// they are gone and the container with them (the usual case for a
    /// container of a few processes, answered without a handoff); false if
    /// still going — finish with `finishRemove`.
    package func tryFinishRemove(_ r: PendingRemoval, within milliseconds: Int) -> Bool {
        guard teardown.destroy(process: r.container.initProcess, cgroup: r.container.cgroup,
                               within: milliseconds, reapLater: reapLater) else { return false }
        complete(r)
        return true
    }

    /// Kill it and return when no process of it is left and its cgroup and
    /// record are gone; on timeout it is running again (EBUSY). With
    /// -o stop_timeout, its processes are asked to stop first.
    package func finishRemove(_ r: PendingRemoval) throws(RuntimeError) {
        let c = r.container
        askToStop(c)
        guard teardown.destroy(process: c.initProcess, cgroup: c.cgroup, reapLater: reapLater) else {
            registry.state.withLock { $0.tree.cancelRemove(r.serial) }
            watch(c)
            throw RuntimeError(.busy, "processes of container \(hex(c.id)) did not die")
        }
        complete(r)
    }

    /// Does rmdir ask the processes to stop first (-o stop_timeout)? Then it
    /// is never answered on the request thread.
    package var stopsGracefully: Bool { configuration.stopTimeoutMilliseconds > 0 }

    /// -o stop_timeout: SIGTERM to every process of `c` but its init (which
    /// would end them all at once), with its cgroup frozen meanwhile so that
    /// none is missed while they fork; then wait until the init is all that
    /// is left, or the time is up. What is left, the caller kills.
    func askToStop(_ c: Container) {
        let timeout = configuration.stopTimeoutMilliseconds
        guard timeout > 0 else { return }
        guard c.signalAll(SIGTERM, sparing: [c.initPid]) > 0 else { return }
        let deadline = SystemTime.monotonicNanoseconds() + Int64(timeout) * 1_000_000
        while c.everyProcess().contains(where: { $0 != c.initPid }), SystemTime.monotonicNanoseconds() < deadline {
            usleep(5_000)
        }
    }

    /// Bring /run/netns up to the tree (-o netns=names; nothing otherwise).
    package func syncNetnsNames() {
        guard let netnsNames else { return }
        let wanted = !configuration.netnsNames ? [] : registry.read { s in
            s.containers.values.map { c in NetnsNames.Wanted(id: c.id, serial: c.serial, path: s.tree.path(of: c.serial), process: c.initProcess) }
        }
        netnsNames.sync(wanted)
    }

    /// What a container had of its own beyond its processes and cgroup,
    /// released once it is gone for good: its layer, its log, its address.
    func buried(_ id: UInt64) {
        roots.remove(id: id)
        logs.remove(id)
        network?.pool.release(id: id)
    }

    /// Containers' own root filesystems and their storage.
    var roots: RootFilesystems { RootFilesystems(storage: configuration.storageDirectory, view: configuration.mountPoint) }

    /// The `root` entry written: `serial` (a container that runs nothing
    /// but its init and has none below it) gets the image the writer
    /// named as its root filesystem, with a fresh layer of its own.
    package func setRoot(_ serial: UInt64, _ bytes: [UInt8], writer: Int32) throws(RuntimeError) {
        let image = try RootFilesystems.image(from: bytes, writer: writer)
        guard let (c, record, below) = registry.read({ s in
            s.containers[serial].flatMap { c in s.records[serial].map { (c, $0, s.tree.node(serial)?.children.count ?? 0) } }
        }) else { throw RuntimeError(.noEntry, "root: no such container") }
        guard below == 0 else { throw RuntimeError(.busy, "root: \(record.name) has containers or sets below it") }
        guard let procs = ifReadable({ try c.leaf.processes() }) else { throw RuntimeError(.busy, "root: cannot read the processes of \(record.name)") }
        guard procs == [c.initPid] else { throw RuntimeError(.busy, "root: \(record.name) runs processes besides its init") }
        try roots.give(image, to: c.initProcess, id: c.id, idBase: record.idBase, idmap: !record.idsAsked, name: record.name)
        // Its volumes were mounts of the old root: again in the new one.
        for v in record.volumes {
            do throws(RuntimeError) { try roots.volume(v, of: c.initProcess, idBase: record.idBase, idmap: !record.idsAsked, name: record.name) } catch {
                Log.line("\(error) (after its new root)")
            }
        }
        var r = record
        r.root = image
        do throws(Errno) { try store.save(r) } catch {
            Log.line("root: cannot record the root of \(r.name): \(error) (it has it until the daemon restarts)")
        }
        registry.state.withLock { $0.records[serial] = r }
    }

    /// The `mounts` entry written: a volume added to `serial` (its host
    /// directory as the writer names it, the host's too) or removed.
    package func changeVolumes(_ serial: UInt64, _ bytes: [UInt8], writer: Int32) throws(RuntimeError) {
        guard let change = Volume.parseChange(bytes) else {
            throw RuntimeError(rejected: .invalid, "mounts: takes 'SOURCE TARGET', 'SOURCE TARGET ro' or '-TARGET' (absolute paths, no spaces)")
        }
        guard let (c, record) = registry.read({ s in s.containers[serial].flatMap { c in s.records[serial].map { (c, $0) } } }) else {
            throw RuntimeError(.noEntry, "mounts: no such container")
        }
        var r = record
        switch change {
        case .add(var v):
            guard !record.volumes.contains(where: { $0.target == v.target }) else {
                throw RuntimeError(rejected: .exists, "mounts: \(v.target) is a volume of \(record.name) already")
            }
            v.source = try RootFilesystems.hostDirectory(v.source, writer: writer, entry: "mounts", canonical: true)
            try roots.volume(v, of: c.initProcess, idBase: record.idBase, idmap: !record.idsAsked, name: record.name)
            r.volumes.append(v)
            do throws(Errno) { try store.save(r) } catch {
                bestEffort({ () throws(RuntimeError) in try roots.volume(v, of: c.initProcess, idBase: record.idBase, idmap: !record.idsAsked, name: record.name, remove: true) })
                // A record is one 4 KiB slot.
                if error.rawValue == ENAMETOOLONG { throw RuntimeError(rejected: Errno(ENOSPC), "mounts: \(record.name) has as many volumes as its record holds") }
                throw RuntimeError(error, "mounts: cannot record the volume \(v.line) of \(record.name)")
            }
        case .remove(let target):
            guard let v = record.volumes.first(where: { $0.target == target }) else {
                throw RuntimeError(rejected: .noEntry, "mounts: \(target) is no volume of \(record.name)")
            }
            try roots.volume(v, of: c.initProcess, idBase: record.idBase, idmap: !record.idsAsked, name: record.name, remove: true)
            r.volumes.removeAll { $0.target == target }
            do throws(Errno) { try store.save(r) } catch {
                Log.line("mounts: cannot record that \(target) of \(record.name) is gone: \(error)")
            }
        }
        registry.state.withLock { $0.records[serial] = r }
    }

    /// Kill a container without child containers; returns when no process of
    /// it is left and its cgroup and record are gone.
    package func remove(_ serial: UInt64) throws(RuntimeError) {
        try finishRemove(try beginRemove(serial))
    }

    private func complete(_ r: PendingRemoval) {
        crashPoint(.rmdirKilled)
        buried(r.container.id)
        store.delete(id: r.container.id)
        registry.state.withLock { $0.forget(r.serial) }
        discovery.invalidate(r.serial)
        syncNetnsNames()
    }

    // MARK: requests sent again

    /// The container `name` in `parent` if `request` made it or renamed it
    /// to that name last: a request the kernel sends again, after a daemon
    /// died before answering it, that was done already.
    package func doneBy(_ request: RequestTag, parent: UInt64, name bytes: [UInt8]) -> UInt64? {
        registry.read { s in
            guard let name = String(validating: bytes, as: UTF8.self),
                  let inode = s.tree.lookup(name, in: Inode(serial: parent, kind: .container)),
                  inode.kind == .container, s.records[inode.serial]?.request == request else { return nil }
            return inode.serial
        }
    }

    // MARK: mv

    /// Rename within the same parent; no process, namespace or cgroup is touched.
    package func rename(_ serial: UInt64, to newParent: UInt64, name bytes: [UInt8], request: RequestTag? = nil) throws(RuntimeError) {
        try registry.state.withLock { (s) throws(RuntimeError) in
            let name: String
            switch s.tree.checkRename(serial, to: newParent, name: bytes) {
            case .failure(let e): throw RuntimeError(refused: e, "rename")
            case .success(let n): name = n
            }
            guard var r = s.records[serial] else { throw RuntimeError(.noEntry, "rename: no such container") }
            if r.name == name { return }
            r.name = name
            r.request = request
            try doing("cannot record the new name") { () throws(Errno) in try store.save(r) }
            crashPoint(.mvRecorded)
            s.records[serial] = r
            try! s.tree.rename(serial, to: newParent, name: Array(name.utf8))
            s.renames += 1
        }
        syncNetnsNames()
    }

    // MARK: chmod

    /// Record a new mode of a container's directory.
    package func setMode(_ serial: UInt64, _ mode: UInt16) throws(RuntimeError) {
        try registry.state.withLock { (s) throws(RuntimeError) in
            guard var r = s.records[serial], s.tree.node(serial)?.state == .running else {
                throw RuntimeError(.noEntry, "no such container")
            }
            r.mode = mode & 0o7777
            try doing("cannot record the mode") { () throws(Errno) in try store.save(r) }
            s.records[serial] = r
            s.tree.setMode(serial, r.mode)
        }
    }

    // MARK: chown

    /// Record a new owner (it delegates the subtree).
    package func setOwner(_ serial: UInt64, uid: UInt32?, gid: UInt32?) throws(RuntimeError) {
        try registry.state.withLock { (s) throws(RuntimeError) in
            guard var r = s.records[serial], s.tree.node(serial)?.state == .running else {
                throw RuntimeError(.noEntry, "no such container")
            }
            if let uid { r.ownerUID = uid }
            if let gid { r.ownerGID = gid }
            try doing("cannot record the owner") { () throws(Errno) in try store.save(r) }
            s.records[serial] = r
            s.tree.setOwner(serial, ContainerTree.Owner(uid: r.ownerUID, gid: r.ownerGID))
        }
    }
}
