import ContainerTree
import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The kernel objects of one live container: its init (held by pidfd), its
/// cgroup, and what is read from them often, kept open or cached. What a
/// rename or chown changes (the name, the owner) lives in the registry.
package final class Container: Sendable {
    package let id: UInt64
    package let serial: UInt64
    package let initProcess: ProcessHandle
    /// The init's pid in the daemon's pid namespace.
    package var initPid: Int32 { initProcess.pid }
    package let pidNamespace: UInt64
    /// Its cgroup: no process of its own, its leaf and its child
    /// containers' cgroups below (see CgroupLayout).
    package let cgroup: CgroupDirectory
    /// Where its own processes are.
    package let leaf: CgroupDirectory
    /// Where they are counted too, where pids is on cgroup v1.
    let pidsMirror: CgroupDirectory?
    let placements: MirrorPlacements
    /// Its limit entries and the kernel files behind them, in listing
    /// order (only those this host has): found once, read on every `status`.
    let limitFiles: [(entry: ControlFile, path: String)]
    /// Its memory.events, where memory is controlled (OOM kills in `status`).
    let memoryEvents: String?
    /// Relative to the cgroup2 mount, as `status` shows it.
    package let cgroupPath: String
    package let created: Int64
    /// Callers in its pid namespace see its view (see ContainerRecord.ownView).
    package let ownView: Bool
    /// A set named by mv: its init only pins the namespaces.
    package let fromSet: Bool
    /// The host ids its user namespace maps from (nil: the host's namespace).
    package let idBase: UInt32?
    /// How many it maps (see ContainerRecord.idCount).
    package let idCount: UInt32

    let cachedNamespaces = Mutex<[NamespaceKind: NamespaceIdentity]?>(nil)
    private let cachedCgroupID = Mutex<UInt64?>(nil)
    let cachedPidAncestors = Mutex<[UInt64]?>(nil)
    let statusTemplate = Mutex<StatusTemplate?>(nil)
    /// The last memory estimate (the sum of its processes' resident sets)
    /// and when it was made: a status read walks them at most once a second.
    let memoryEstimate = Mutex<(at: Int64, bytes: UInt64)?>(nil)
    /// Descriptors kept open for the container's life (its cgroup files,
    /// its UTS namespace): a read is then one pread, not open+read+close.
    private let openFiles = Mutex<[String: OwnedDescriptor]>([:])

    init(record r: ContainerRecord, initProcess: ProcessHandle, layout: CgroupLayout, budget: DescriptorBudget) {
        self.budget = budget
        id = r.id
        serial = r.serial
        self.initProcess = initProcess
        pidNamespace = r.pidNamespace
        cgroup = CgroupDirectory(path: layout.cgroupMount + r.cgroup)
        leaf = CgroupLayout.leaf(of: cgroup)
        pidsMirror = layout.pidsMirror(of: cgroup)
        placements = layout.placements
        let cg = cgroup
        limitFiles = ControlFile.limits.compactMap { f in layout.file(f, of: cg).map { (f, $0) } }
        memoryEvents = layout.v2.contains(.memory) ? cgroup.path + "/memory.events" : nil
        cgroupPath = r.cgroup
        created = r.created
        ownView = r.ownView
        fromSet = r.fromSet
        idBase = r.idBase
        idCount = r.idCount
    }

    func descriptor(_ key: String, _ open: () throws(Errno) -> OwnedDescriptor) throws(Errno) -> OwnedDescriptor {
        if let d = openFiles.withLock({ $0[key] }) { return d }
        let d = try open()
        // Kept only within a budget shared by all containers: each already
        // holds a pidfd, and the open-file limit may be as low as 20,000.
        // Two readers that both missed keep one (and take budget once).
        return openFiles.withLock { files in
            if let kept = files[key] { return kept }
            if budget.take() { files[key] = d }
            return d
        }
    }

    /// The daemon's budget of such descriptors (see Host).
    let budget: DescriptorBudget

    deinit { budget.give(back: openFiles.withLock { $0.count }) }

    /// A cgroup file of this container, read whole from offset 0.
    func readCgroupFile(_ name: String) throws(Errno) -> [UInt8] {
        try readFile(cgroup.path + "/" + name)
    }

    /// The kernel file behind one of its limit entries, once every init
    /// on its way into the pids mirror is there (see MirrorPlacements).
    func limitFile(_ f: ControlFile) -> String? {
        if pidsMirror != nil && f.controller == .pids { placements.settle() }
        return limitFiles.first { $0.entry == f }?.path
    }

    /// A file of its cgroups (any hierarchy), by path, kept open.
    func readFile(_ path: String) throws(Errno) -> [UInt8] {
        let d = try descriptor(path) { () throws(Errno) in
            OwnedDescriptor(try FileDescriptor.open(path, O_RDONLY))
        }
        return try d.fd.preadAll()
    }

    /// Its own processes' cgroup's id (the leaf directory's inode, as pidfd
    /// info reports a process's cgroup), read once.
    var cgroupID: UInt64? {
        if let id = cachedCgroupID.withLock({ $0 }) { return id }
        guard let id = ifReadable({ try leaf.identity().id }) else { return nil }
        cachedCgroupID.withLock { $0 = id }
        return id
    }

    /// CPU time used by its processes and those below, in µs (cpu.stat's
    /// usage_usec: always there in cgroup2, no controller needed).
    var cpuUsage: UInt64? {
        guard let b = ifReadable({ try readCgroupFile("cpu.stat") }) else { return nil }
        return CgroupDirectory.parseStat(b, key: "usage_usec")
    }

    struct Freeze { let byUs: Bool }

    /// How long to wait for the cgroup to report `frozen`. A process
    /// blocked in a request to this filesystem (an `rm` inside the
    /// container) does not freeze until answered: then what needed the
    /// freeze goes on without that guarantee, after this wait.
    static let freezeWaitMilliseconds = 100

    /// Freeze its cgroup (unless someone already did) and wait a moment
    /// for it to report frozen: then nobody in it forks.
    func freeze() -> Freeze {
        if isFreezeRequested { return Freeze(byUs: false) }
        guard bestEffort({ try cgroup.setFrozen(true) }) else { return Freeze(byUs: false) }
        let deadline = SystemTime.monotonicNanoseconds() + Int64(Self.freezeWaitMilliseconds) * 1_000_000
        while !isFrozen, SystemTime.monotonicNanoseconds() < deadline { usleep(200) }
        return Freeze(byUs: true)
    }

    func thaw(_ f: Freeze) {
        if f.byUs { bestEffort({ try cgroup.setFrozen(false) }) }
    }

    /// Every process of its cgroup and the cgroups below (its sets', what
    /// its workload made), as the listings show them now.
    func everyProcess() -> [Int32] {
        cgroup.subtree().flatMap { dir in ifReadable({ try dir.processes() }) ?? [] }
    }

    /// Send `sig` to every process of its cgroups but `spared` (inits), the
    /// cgroup frozen meanwhile so that none is missed while they fork; by
    /// pidfd, and only to a process still in its cgroups (a pid may have
    /// been reused since the listing). Returns how many got it.
    @discardableResult
    func signalAll(_ sig: Int32, sparing spared: Set<Int32>) -> Int {
        let frozen = freeze()
        defer { thaw(frozen) }
        let cgroups = cgroup.subtree()
        let ids = Set(cgroups.compactMap { dir in ifReadable({ try dir.identity().id }) })
        var sent = 0
        for pid in cgroups.flatMap({ dir in ifReadable({ try dir.processes() }) ?? [] }) where !spared.contains(pid) {
            guard let p = ifReadable({ try ProcessHandle.open(pid: pid) }),
                  let cg = ifReadable({ try p.info().cgroupID }), ids.contains(cg) else { continue }
            if bestEffort({ try p.signal(sig) }) { sent += 1 }
        }
        return sent
    }

    /// Its cgroup.freeze: what was asked of it (not whether it is done).
    var isFreezeRequested: Bool {
        (ifReadable({ try readCgroupFile("cgroup.freeze") })?.first).map { $0 == UInt8(ascii: "1") } ?? false
    }

    var isFrozen: Bool {
        guard let e = ifReadable({ try readCgroupFile("cgroup.events") }) else { return false }
        return CgroupDirectory.parseEvents(e, key: "frozen")
    }

    /// How many own processes (lines of cgroup.procs).
    func processCount() -> Int {
        guard let b = ifReadable({ try readFile(leaf.path + "/cgroup.procs") }) else { return 0 }
        return b.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
    }

    /// Own processes, daemon's pid namespace.
    func processes() -> [Int32] {
        guard let b = ifReadable({ try readFile(leaf.path + "/cgroup.procs") }) else { return [] }
        return CgroupDirectory.parsePids(b)
    }

    func utsNamespace() throws(Errno) -> OwnedDescriptor {
        try descriptor("ns:uts") { () throws(Errno) in try initProcess.namespace(.uts) }
    }
}

/// How many descriptors all containers together may keep open.
final class DescriptorBudget: Sendable {
    private let used = Mutex(0)
    let limit: Int
    init(limit: Int) { self.limit = limit }

    func take() -> Bool {
        used.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func give(back n: Int) { used.withLock { $0 -= n } }
}
