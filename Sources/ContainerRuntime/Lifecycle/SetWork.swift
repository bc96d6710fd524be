import ContainerTree
import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The containers whose sets are being killed or named (one operation at a
/// time per container): discovery leaves them alone meanwhile. Taken under
/// the registry's lock (see SetWork.begin), asked under it by discovery:
/// never the other way round.
final class SetWorkInProgress: Sendable {
    private let containers = Mutex<Set<UInt64>>([])
    func contains(_ serial: UInt64) -> Bool { containers.withLock { $0.contains(serial) } }
    func insert(_ serial: UInt64) -> Bool { containers.withLock { $0.insert(serial).inserted } }
    func remove(_ serial: UInt64) { _ = containers.withLock { $0.remove(serial) } }
}

/// Killing and naming sets (unnamed nodes). Their processes share their
/// container's cgroup: killing stops and kills exactly its members; naming
/// freezes that cgroup first, so that nobody forks while the members are
/// read and moved to the new container's own. Never under the registry's
/// lock.
package final class SetWork: Sendable {
    let registry: Registry
    let discovery: Discovery
    let teardown: Teardown
    let spawner: InitSpawner
    let layout: CgroupLayout
    let store: StateStore
    let configuration: RuntimeConfiguration
    let rootCgroup: CgroupDirectory
    let inProgress: SetWorkInProgress
    /// For what a new container needs of it: its birth, its death watch.
    unowned let lifecycle: Lifecycle

    init(_ lifecycle: Lifecycle, inProgress: SetWorkInProgress) {
        registry = lifecycle.registry
        discovery = lifecycle.discovery
        teardown = lifecycle.teardown
        spawner = lifecycle.spawner
        layout = lifecycle.layout
        store = lifecycle.store
        configuration = lifecycle.configuration
        rootCgroup = lifecycle.rootCgroup
        self.inProgress = inProgress
        self.lifecycle = lifecycle
    }


    /// rmdir of a set: kill exactly its processes and those of the sets
    /// below it, also while they fork; the container's others live on.
    ///
    /// First without freezing the container (freezing wakes every one of
    /// its processes, twice: `rm -rf` of a container of 1,000 sets would
    /// freeze it 1,000 times): the members the last look knows are stopped
    /// and killed by signal. Else (no recent look, or a member that cannot
    /// be held) they are moved into a cgroup of their own and killed there;
    /// their children are born there, killed too; a child whose fork raced
    /// the move is in the next look. Only a set that forks faster than
    /// three looks is frozen with its container.
    package func remove(_ serial: UInt64) throws(RuntimeError) {
        let (c, key) = try beginSetWork(serial, operation: "rmdir") { (s) throws(RuntimeError) in
            if case .failure(let e) = s.tree.beginRemove(serial) { throw RuntimeError(refused: e, "rmdir") }
        }
        defer { endSetWork(c.serial) }
        if let dying = killKnownMembers(serial, key, in: c),
           finish(dying, withinMilliseconds: teardown.timeoutMilliseconds) { return }
        try removeByCgroup(serial, key, in: c)
    }

    /// A set whose members were killed by signal, their deaths not yet seen.
    /// It holds its container's set work (see beginSetWork) until `complete`.
    package struct DyingSet: Sendable {
        let serial: UInt64
        let key: SetKey
        let container: Container
        let held: [ProcessHandle]
    }

    /// The most members a set's rmdir kills on the request thread.
    static let quickMembers = 16

    package enum QuickRemoval: Sendable {
        case removed
        /// Killed, not yet all dead within the wait: `complete` on a worker.
        case dying(DyingSet)
        /// Nothing done: `remove` on a worker (the container is busy with
        /// another set, or its last look is too old to kill by signal).
        case slow
    }

    /// rmdir of a set on the request thread: the fast way of `remove` only,
    /// never waiting for another set operation, waiting for the deaths at
    /// most `milliseconds` (one process here dies in ~0.2 ms; a worker
    /// costs a woken vCPU, and `rm -rf` of 2,000 sets pays it 2,000 times).
    package func removeQuickly(_ serial: UInt64, withinMilliseconds milliseconds: Int) throws(RuntimeError) -> QuickRemoval {
        guard let (c, key) = try beginSetWork(serial, operation: "rmdir", wait: false, check: { (s) throws(RuntimeError) in
            if case .failure(let e) = s.tree.beginRemove(serial) { throw RuntimeError(refused: e, "rmdir") }
        }) else { return .slow }
        // Only what costs a few system calls: nothing to read anew (no
        // process made since the last look), a few members. The rest on a
        // worker, never making other containers' requests wait.
        guard let dying = killKnownMembers(serial, key, in: c, atMost: Self.quickMembers) else {
            registry.state.withLock { $0.tree.cancelRemove(serial) }
            endSetWork(c.serial)
            return .slow
        }
        if finish(dying, withinMilliseconds: milliseconds) {
            endSetWork(c.serial)
            return .removed
        }
        return .dying(dying)
    }

    /// The rest of a quick removal, on a worker: the deaths awaited, else
    /// the slow way.
    package func complete(_ dying: DyingSet) throws(RuntimeError) {
        defer { endSetWork(dying.container.serial) }
        if finish(dying, withinMilliseconds: teardown.timeoutMilliseconds) { return }
        try removeByCgroup(dying.serial, dying.key, in: dying.container)
    }

    /// Fast: the members the last look found (and newcomers since), each
    /// stopped before its children are read (a stopped process forks no
    /// more; a fork under way either lists its child or fails on the
    /// pending signal), every child likewise, then all killed through
    /// their pidfds, whose exits say when they are dead. No cgroup is
    /// made or moved into: a move takes the cgroup's writer lock (~120 µs
    /// a process here), and `rm -rf` of a container of 2,000 sets pays it
    /// 2,000 times. nil: no recent look, or a member that cannot be held.
    /// `atMost`: nil when there are more members (nothing done then).
    private func killKnownMembers(_ serial: UInt64, _ key: SetKey, in c: Container, atMost: Int? = nil) -> DyingSet? {
        let keys = setAndBelow(serial, key)
        let serials = registry.read { s in s.tree.subtreePostOrder(serial) }
        guard let known = discovery.members(of: keys, serials: serials, in: c, onlyIfNothingMade: atMost != nil),
              known.count <= atMost ?? .max else { return nil }
        var (held, complete) = Self.stopWithDescendants(known)
        for h in held {
            do throws(Errno) { try h.signal(SIGKILL) } catch where error.saysGone {} catch { complete = false }
        }
        return complete ? DyingSet(serial: serial, key: key, container: c, held: held) : nil
    }

    /// Whether every killed member died within the wait; the set is gone then.
    private func finish(_ dying: DyingSet, withinMilliseconds milliseconds: Int) -> Bool {
        guard ProcessHandle.waitAll(dying.held, timeoutMilliseconds: milliseconds) else {
            if milliseconds >= teardown.timeoutMilliseconds {
                Log.line("rmdir of a set in \(hex(dying.container.id)): its processes did not all die by signal; looking again")
            }
            return false
        }
        registry.state.withLock { s in
            s.tree.finishRemove(dying.serial)
            s.sets.removeValue(forKey: dying.serial)
        }
        discovery.forget(dying.held.map(\.pid), in: dying.container)
        return true
    }

    /// Slow: every process of the set and below moved into a cgroup of its
    /// own and killed there; their children are born there, killed too; a
    /// child whose fork raced the move is in the next look. Only a set that
    /// forks faster than three looks is frozen with its container.
    private func removeByCgroup(_ serial: UInt64, _ key: SetKey, in c: Container) throws(RuntimeError) {
        let keys = setAndBelow(serial, key)
        let grave = c.cgroup.child(Lifecycle.cgroupPrefix + hex(UInt64.random(in: 1...UInt64.max)))
        var made = false
        var victims = discovery.processes(of: keys, in: c, exact: false)
        do throws(Errno) {
            for _ in 0..<3 where !victims.isEmpty {
                if !made { try grave.create(); made = true }
                for pid in victims { try grave.adopt(pid: pid) }
                try grave.kill()
                victims = discovery.processes(of: keys, in: c, exact: false)
            }
            if !victims.isEmpty {
                let frozen = c.freeze()
                defer { c.thaw(frozen) }
                victims = discovery.processes(of: keys, in: c, exact: true)
                for _ in 0..<3 where !victims.isEmpty {
                    for pid in victims { try grave.adopt(pid: pid) }
                    try grave.kill()
                    victims = discovery.processes(of: keys, in: c, exact: true)
                }
            }
        } catch {
            Log.line("rmdir of a set in \(hex(c.id)): cannot move its processes: \(error)")
        }
        let killed = !made || teardown.destroy(process: nil, cgroup: grave)
        registry.state.withLock { s in
            if killed && victims.isEmpty {
                s.tree.finishRemove(serial)
                s.sets.removeValue(forKey: serial)
            } else {
                s.tree.cancelRemove(serial)
            }
        }
        discovery.markStale(c.serial)
        if !killed || !victims.isEmpty { throw RuntimeError(.busy, "processes of a set in container \(hex(c.id)) did not die") }
    }

    /// mv of a set to a name: it becomes a container like mkdir's — its
    /// namespaces pinned by an init of its own, its own cgroup below its
    /// container's with every process of it and of the sets below it
    /// moved there, a record in the store. Returns whether callers in it
    /// see its view (it has its own pid and mount namespaces).
    @discardableResult
    package func name(_ serial: UInt64, as bytes: [UInt8], request: RequestTag? = nil) throws(RuntimeError) -> Bool {
        var name = ""
        var parentID: UInt64?
        var parentIDs: (base: UInt32?, count: UInt32, asked: Bool) = (nil, IdPool.blockSize, false)
        var owner = ContainerTree.Owner.root
        let (c, key) = try beginSetWork(serial, operation: "rename") { (s) throws(RuntimeError) in
            guard let node = s.tree.node(serial), let parent = node.parent else { throw RuntimeError(.noEntry, "rename: no such set") }
            switch s.tree.checkRename(serial, to: parent, name: bytes) {
            case .failure(let e): throw RuntimeError(refused: e, "rename")
            case .success(let n): name = n
            }
            parentID = s.records[parent]?.id
            if let r = s.records[parent] { parentIDs = (r.idBase, r.idCount, r.idsAsked) }
            owner = node.owner
        }
        defer { endSetWork(c.serial) }
        // The new init is spawned before the container is frozen: one cloned
        // into a frozen cgroup stops before it closes the daemon's
        // descriptors (/dev/fuse among them: a daemon that died then would
        // leave the mount hanging). So not in a container someone froze.
        if ifReadable({ try c.cgroup.isFreezeRequested() }) == true || c.isFrozen {
            throw RuntimeError(.busy, "rename: \(hex(c.id)) is frozen; thaw it to name its set")
        }
        guard let member = Self.liveMember(of: key, in: c, registry: registry)
        else { throw RuntimeError(.noEntry, "rename: the set's processes are gone") }
        let containerKey = c.setKey
        let ownView = key[.pid] != containerKey[.pid] && key[.mnt] != containerKey[.mnt]
        var record = ContainerRecord(
            id: 0, serial: serial, name: name, parent: parentID,
            created: SystemTime.realtimeNanoseconds(), initPid: 0, initStartTime: 0, pidNamespace: 0,
            cgroup: "", creating: true, ownerUID: owner.uid, ownerGID: owner.gid)
        record.fromSet = true
        record.ownView = ownView
        record.request = request
        // Both undone by the next mount if the daemon dies before the end.
        record.thawParent = true
        record.moving = true
        var birth = try ContainerBirth(record, below: c.cgroup, by: lifecycle, doing: "rename: naming the set \(name)")
        let cgroup = birth.cgroup
        // The init joins the kinds in which the set differs from the daemon.
        let kinds = registry.host.key.map { key.differences(from: $0) } ?? NamespaceKind.allCases.filter { $0 != .user }
        try birth.start { (dir) throws(RuntimeError) -> ProcessHandle in
            try spawner.join(member, kinds: kinds, cgroup: dir, argv0: "nsinit", frozen: false)
        }
        let (hostUserNamespace, containerUser) = (registry.host.namespaces.user, containerKey[.user])
        let container = try birth.commit { (r, pin) throws(Errno) in
            r.pidNamespace = try pin.namespaceID(.pid)
            // In its container's user namespace (its ids), or one of its own.
            r.userNamespace = try pin.namespaceID(.user)
            if key[.user] == containerUser { (r.idBase, r.idCount, r.idsAsked) = parentIDs }
            if r.userNamespace == hostUserNamespace { r.userNamespace = 0 }
            // Not pid 1 of its pid namespace: the start time tells it apart.
            r.initStartTime = try ProcStat.startTime(pid: pin.pid)
        }
        record = birth.record
        lifecycle.crashPoint(.nameRecorded)
        // Its processes and those of the sets below it, read anew with the
        // container frozen: the new cgroup (again for a child whose fork was
        // in flight, see remove).
        let frozen = c.freeze()
        defer { c.thaw(frozen) }
        let keys = setAndBelow(serial, key)
        var moving = discovery.processes(of: keys, in: c, exact: true)
        for _ in 0..<3 where !moving.isEmpty {
            for pid in moving {
                do throws(Errno) {
                    try CgroupLayout.leaf(of: cgroup).adopt(pid: pid)
                    try layout.placeInMirror(pid, of: cgroup)
                } catch {
                    Log.line("rename: cannot move process \(pid) into \(cgroup.path): \(error)")
                }
            }
            moving = discovery.processes(of: keys, in: c, exact: true)
        }
        let renamed = registry.state.withLock { s -> Bool in
            guard s.tree.node(serial)?.unnamed == true,
                  bestEffort({ try s.tree.rename(serial, to: s.tree.node(serial)!.parent!, name: Array(name.utf8)) }) else { return false }
            s.sets = s.sets.filter { $0.value.container != c.serial }
            s.register(container, record: record)
            s.renames += 1
            return true
        }
        guard renamed else {
            // The set was dropped meanwhile (its container died).
            birth.undo()
            throw RuntimeError(.noEntry, "rename: the set's container is gone")
        }
        lifecycle.watch(container)
        lifecycle.syncNetnsNames()
        discovery.markStale(c.serial)
        lifecycle.crashPoint(.nameMoved)
        c.thaw(frozen)
        record.thawParent = false
        record.moving = false
        bestEffort({ try store.save(record) })
        registry.state.withLock { $0.records[serial] = record }
        return ownView
    }

    /// mv of one of the host's sets (-o discover=host): a name that lasts
    /// while it lives (and across restarts); its processes are not moved,
    /// nothing is pinned: the host's sets are not the tree's.
    package func nameHostSet(_ serial: UInt64, as bytes: [UInt8]) throws(RuntimeError) {
        let names = try registry.state.withLock { (s) throws(RuntimeError) -> [[UInt64]: String] in
            guard let set = s.sets[serial], set.isHosts else { throw RuntimeError(.noEntry, "rename: no such set") }
            do throws(TreeError) { try s.tree.renameSet(serial, name: bytes) } catch { throw RuntimeError(refused: error, "rename") }
            s.hostSetNames[set.allIDs] = s.tree.node(serial)!.name
            s.renames += 1
            return s.hostSetNames
        }
        try doing("cannot record the name") { () throws(Errno) in try store.saveHostSetNames(names) }
    }

    /// Start looking for the host's sets at the root (-o discover=host).
    package func discoverHost() {
        let names = store.hostSetNames()
        registry.state.withLock { $0.hostSetNames = names }
        discovery.discoverHost(cgroupRoot: configuration.cgroupRoot)
    }

    /// A process of the set `key` that is alive and still has its namespaces.
    static func liveMember(of key: SetKey, in c: Container, registry: Registry) -> ProcessHandle? {
        let pids = registry.read { s in s.sets.values.first { $0.container == c.serial && $0.facts.key == key }?.members } ?? []
        for pid in pids {
            guard let p = ifReadable({ try ProcessHandle.open(pid: pid) }), ifReadable({ try ProcessNamespaces.inodes(pid: pid) }).map(SetKey.init(inodes:)) == key,
                  p.isAlive else { continue }
            return p
        }
        return nil
    }

    /// The keys of set `serial` and of the sets below it, as the tree knows them.
    /// `pids` and all their descendants, each stopped (SIGSTOP) before its
    /// children are read, held by pidfd. `complete` is false when a process
    /// could not be held or stopped for a reason other than being gone.
    static func stopWithDescendants(_ pids: [Int32]) -> (held: [ProcessHandle], complete: Bool) {
        var held: [ProcessHandle] = []
        var complete = true
        var taken = Set<Int32>()
        var next = pids
        while !next.isEmpty {
            var stopped: [Int32] = []
            for pid in next where taken.insert(pid).inserted {
                do throws(Errno) {
                    let h = try ProcessHandle.open(pid: pid)
                    held.append(h)
                    try h.signal(SIGSTOP)
                    stopped.append(pid)
                } catch where error.saysGone {
                } catch {
                    complete = false
                }
            }
            next = stopped.flatMap { ProcChildren.of($0) }
        }
        return (held, complete)
    }

    func setAndBelow(_ serial: UInt64, _ key: SetKey) -> Set<SetKey> {
        registry.read { s in Set([key] + s.tree.subtreePostOrder(serial).compactMap { s.sets[$0]?.facts.key }) }
    }

    /// Take the set's container for a set operation (one at a time per
    /// container; a second waits), run `check` under the registry's lock.
    /// Returns the container and the set's key.
    private func beginSetWork(_ serial: UInt64, operation: String,
                              check: (inout Registry.State) throws(RuntimeError) -> Void) throws(RuntimeError) -> (Container, SetKey) {
        try beginSetWork(serial, operation: operation, wait: true, check: check)!
    }

    /// nil: another operation has the container and `wait` is false.
    private func beginSetWork(_ serial: UInt64, operation: String, wait: Bool,
                              check: (inout Registry.State) throws(RuntimeError) -> Void) throws(RuntimeError) -> (Container, SetKey)? {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(configuration.killTimeoutMilliseconds) * 1_000_000
        while true {
            let taken = try registry.state.withLock { (s) throws(RuntimeError) -> (Container, SetKey)? in
                guard let node = s.tree.node(serial), node.unnamed, let set = s.sets[serial],
                      let c = s.containers[set.container] else { throw RuntimeError(.noEntry, "\(operation): no such set") }
                if inProgress.contains(c.serial) { return nil }
                if node.parent != c.serial, operation == "rename" { throw RuntimeError(refused: .unnamedParent, operation) }
                try check(&s)
                _ = inProgress.insert(c.serial)
                return (c, set.facts.key)
            }
            if let taken { return taken }
            if !wait { return nil }
            if SystemTime.monotonicNanoseconds() > deadline { throw RuntimeError(.busy, "\(operation): the container is busy") }
            usleep(1000)
        }
    }

    private func endSetWork(_ container: UInt64) {
        inProgress.remove(container)
    }

}
