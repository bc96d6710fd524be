import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

extension Lifecycle {
    /// Rebuild the tree from the state store and the cgroups (at mount
    /// time). Returns one line per thing worth reporting.
    package func adopt() -> [String] {
        let lines = Adoption(configuration: configuration, registry: registry, store: store, layout: layout,
                             teardown: teardown, rootCgroup: rootCgroup, buried: buried, network: network,
                             readers: discovery.readers).run()
        syncNetnsNames()
        return lines
    }
}

/// Rebuilding the tree at mount time: gather the facts (records, the cgroup
/// tree, each init), let `AdoptionPlan` decide, carry the plan out. Made
/// for one run; what it works on is the store, the cgroups and the
/// registry, which it fills.
struct Adoption {
    let configuration: RuntimeConfiguration
    let registry: Registry
    let store: StateStore
    let layout: CgroupLayout
    let teardown: Teardown
    let rootCgroup: CgroupDirectory
    static var cgroupPrefix: String { Lifecycle.cgroupPrefix }
    /// Releases what a container gone for good had of its own (Lifecycle.buried).
    let buried: (UInt64) -> Void
    let network: Network?
    /// The facts of 10,000 containers are a dozen syscalls each: read on
    /// every CPU (the survey's threads, idle at mount time).
    let readers: WorkerPool

    func run() -> [String] {
        var loaded = store.load()
        var report = loaded.problems
        // An mv that named a set died before it had moved every process of
        // the set, or before it thawed the container it froze: finish both.
        loaded.records = loaded.records.map { r in
            guard r.thawParent || r.moving, ContainerRecord.cgroupIsSafe(r.cgroup, root: configuration.cgroupRoot) else { return r }
            let (done, lines) = finishNaming(r)
            report += lines
            return done
        }
        // Serials of records not adopted now stay taken: they may be later;
        // so do their id blocks (released with the record).
        registry.state.withLock { s in
            for r in loaded.records {
                s.tree.reserveSerials(through: r.serial)
                if r.ownsIdBlock { s.idPool.reserve(r) }
            }
        }
        // Addresses stay their containers' (an address of another subnet,
        // from a mount with other options, is kept in the record, unused).
        if let network {
            for r in loaded.records {
                guard let text = r.address else { continue }
                guard let a = network.configuration.parseRecorded(text), network.pool.reserve(a, for: r.id) else {
                    report.append("container \(r.name) (\(hex(r.id))): its address \(text) is not one of \(network.configuration.subnet) or is taken; it keeps it, unmanaged")
                    continue
                }
            }
        }
        let mount = configuration.cgroupMount
        // A read that failed (ENOMEM, EINTR, EMFILE of a moment) keeps what
        // it covers: the facts are gathered again, a few times, before the
        // plan is carried out. What is still unknown then stays on disk,
        // untouched, for the next mount (one line each).
        var plan: AdoptionPlan<ProcessHandle>
        var attempt = 0
        repeat {
            if attempt > 0 { usleep(UInt32(100_000 * attempt)) }
            let root = scanTop()
            // (the plan checks a record's init only where its cgroup is)
            let found = Self.paths(in: root)
            let checked = checkInits(loaded.records.filter { found.contains($0.cgroup) })
            plan = AdoptionPlan<ProcessHandle>(
                records: loaded.records, root: root,
                cgroupRoot: configuration.cgroupRoot,
                checkInit: { r in checked[r.id] ?? Self.checkInit(r, cgroup: CgroupDirectory(path: mount + r.cgroup)) },
                findInit: { c, depth in Self.findInit(in: c.path, mount: mount, depth: depth) },
                now: SystemTime.realtimeNanoseconds())
            attempt += 1
        } while plan.hasUnknowns && attempt < 4
        for step in plan.steps { report += carryOut(step) }
        return report
    }

    /// Move what is left of a set named by an interrupted mv into its new
    /// cgroup (the processes with its init's namespaces, and their
    /// descendants in sets of their own), thaw the parent, and record that
    /// it is done. If the init is gone, the plan handles the record (undo).
    func finishNaming(_ r: ContainerRecord) -> (ContainerRecord, [String]) {
        let mount = configuration.cgroupMount
        let parent = CgroupDirectory(path: mount + r.cgroup.split(separator: "/").dropLast().map { "/" + $0 }.joined())
        let own = CgroupDirectory(path: mount + r.cgroup)
        var moved = 0
        if r.moving, let pin = ifReadable({ try ProcessHandle.open(pid: r.initPid) }),
           ifReadable({ try ProcStat.startTime(pid: r.initPid) }) == r.initStartTime, pin.isAlive,
           let key = ifReadable({ try ProcessNamespaces.inodes(pid: r.initPid) }) {
            var members = Set<Int32>()
            // The parent's processes: in its leaf (or, laid out by an older
            // daemon, in its cgroup itself).
            let pids = (ifReadable({ try CgroupLayout.leaf(of: parent).processes() }) ?? []) + (ifReadable({ try parent.processes() }) ?? [])
            for pid in pids where ifReadable({ try ProcessNamespaces.inodes(pid: pid) }) == key { members.insert(pid) }
            // Their descendants (a set made inside the named one).
            var grew = true
            while grew {
                grew = false
                for pid in pids where !members.contains(pid) {
                    if let up = ifReadable({ try ProcStat.parent(pid: pid) }), members.contains(up) { members.insert(pid); grew = true }
                }
            }
            let target = CgroupLayout.leaf(of: own).exists ? CgroupLayout.leaf(of: own) : own
            for pid in members where bestEffort({ try target.adopt(pid: pid) }) {
                bestEffort({ try layout.placeInMirror(pid, of: own) })
                moved += 1
            }
        }
        if r.thawParent { bestEffort({ try parent.setFrozen(false) }) }
        var done = r
        done.moving = false
        done.thawParent = false
        bestEffort({ try store.save(done) })
        return (done, ["container \(r.name) (\(hex(r.id))): its naming was interrupted; moved \(moved) process(es) of the set"
                       + (r.thawParent ? ", thawed its parent's cgroup" : "")])
    }

    /// The `ns-*` cgroups below `dir`, recursively; a listing that fails is
    /// recorded as such.
    static func scan(_ dir: CgroupDirectory, mount: String) -> Result<[AdoptionPlan<ProcessHandle>.Cgroup], Errno> {
        let names: [String]
        do throws(Errno) { names = try dir.children() } catch { return .failure(error) }
        return .success(names.filter { $0.hasPrefix(Self.cgroupPrefix) }.map { scan(dir, $0, mount: mount) })
    }

    static func scan(_ dir: CgroupDirectory, _ name: String, mount: String) -> AdoptionPlan<ProcessHandle>.Cgroup {
        let c = dir.child(name)
        let idText = String(name.dropFirst(Self.cgroupPrefix.count))
        let id = UInt64(idText, radix: 16).flatMap { hex($0) == idText ? $0 : nil }
        // A stat or two, not a listing: most have no child cgroup but
        // their leaf (a listing of cgroupfs costs several stats).
        let children = ifReadable({ try c.identity().children }) ?? 2
        let onlyLeaf = children == 1 && CgroupLayout.leaf(of: c).exists
        return AdoptionPlan.Cgroup(
            path: String(c.path.dropFirst(mount.count)), id: id,
            populated: ifReadable({ try c.isPopulated() }),
            children: children == 0 || onlyLeaf ? .success([]) : scan(c, mount: mount))
    }

    /// `scan(rootCgroup)`, the top-level cgroups shared among the CPUs.
    func scanTop() -> Result<[AdoptionPlan<ProcessHandle>.Cgroup], Errno> {
        let names: [String]
        do throws(Errno) { names = try rootCgroup.children().filter { $0.hasPrefix(Self.cgroupPrefix) } } catch { return .failure(error) }
        let (root, mount) = (rootCgroup, configuration.cgroupMount)
        return .success(inParts(names) { name in Self.scan(root, name, mount: mount) }.flatMap { $0 })
    }

    /// Every cgroup a scan found, by its path.
    static func paths(in scan: Result<[AdoptionPlan<ProcessHandle>.Cgroup], Errno>) -> Set<String> {
        guard case .success(let cgroups) = scan else { return [] }
        return cgroups.reduce(into: Set<String>()) { s, c in
            s.insert(c.path)
            s.formUnion(paths(in: c.children))
        }
    }

    /// Each record's init checked (Self.checkInit), shared among the CPUs.
    func checkInits(_ records: [ContainerRecord]) -> [UInt64: AdoptionPlan<ProcessHandle>.InitCheck] {
        let mount = configuration.cgroupMount
        let checks = inParts(records) { r in (r.id, Self.checkInit(r, cgroup: CgroupDirectory(path: mount + r.cgroup))) }
        return Dictionary(checks.flatMap { $0 }, uniquingKeysWith: { a, _ in a })
    }

    /// `transform` of each of `items`, in one part per CPU (few items: one).
    func inParts<T: Sendable, R: Sendable>(_ items: [T], _ transform: @escaping @Sendable (T) -> R) -> [[R]] {
        let parts = items.count < 256 ? 1 : readers.maxThreads + 1
        let chunk = max(1, (items.count + parts - 1) / parts)
        return readers.inParallel(stride(from: 0, to: items.count, by: chunk).map { start in
            let slice = items[start..<min(items.count, start + chunk)]
            return { slice.map(transform) }
        })
    }

    /// Is the record's init live and provably the recorded process? pidfd
    /// first, then pid-namespace id (and a start time, if recorded) and
    /// cgroup, then the pidfd still alive (so the facts read belong to it).
    /// `.gone` only on the kernel's own word: no such process (ESRCH,
    /// ENOENT), or facts read that name another one. A read that failed
    /// otherwise (EMFILE, ENOMEM, EACCES...) is `.unknown`: the container
    /// is kept and checked again later, never killed for it.
    static func checkInit(_ r: ContainerRecord, cgroup: CgroupDirectory) -> AdoptionPlan<ProcessHandle>.InitCheck {
        let p: ProcessHandle
        do throws(Errno) { p = try ProcessHandle.open(pid: r.initPid) } catch {
            return error == .noProcess || error == .invalid ? .gone : .unknown("pidfd_open: \(error)")
        }
        // A fact that must match: .gone if it names another process,
        // .unknown if it could not be read, nil if it matches.
        func mismatch<T: Equatable>(_ what: String, _ expected: T, _ read: () throws(Errno) -> T) -> AdoptionPlan<ProcessHandle>.InitCheck? {
            do throws(Errno) { return try read() == expected ? nil : .gone } catch {
                return error.saysGone ? .gone : .unknown("\(what): \(error)")
            }
        }
        // The pid namespace decides (see mkdir); a start time, where an older
        // daemon recorded one, must match too; and its user namespace, where
        // one was recorded.
        if let no = mismatch("its pid namespace", r.pidNamespace, { () throws(Errno) in try p.namespaceID(.pid) }) { return no }
        if r.userNamespace != 0,
           let no = mismatch("its user namespace", r.userNamespace, { () throws(Errno) in try p.namespaceID(.user) }) { return no }
        if r.initStartTime != 0,
           let no = mismatch("/proc/\(r.initPid)/stat", r.initStartTime, { () throws(Errno) in try ProcStat.startTime(pid: r.initPid) }) { return no }
        // In its own cgroup's leaf (or, laid out by an older daemon, in the
        // cgroup itself): one ioctl where the kernel has PIDFD_GET_INFO;
        // else /proc/PID/cgroup.
        let leaf = CgroupLayout.leaf(of: cgroup)
        do throws(Errno) {
            let own: UInt64
            do throws(Errno) { own = try p.cgroupID() } catch {
                if error.saysGone { return .gone }
                let path = try Cgroup2.path(of: r.initPid)
                guard path == r.cgroup + "/" + CgroupLayout.leafName || path == r.cgroup else { return .gone }
                return p.isAlive ? .verified(p) : .gone
            }
            let inLeaf: Bool
            do throws(Errno) { inLeaf = try leaf.identity().id == own } catch {
                // No leaf: laid out by an older daemon.
                guard error == .noEntry else { throw error }
                inLeaf = false
            }
            if !inLeaf {
                guard try cgroup.identity().id == own else { return .gone }
            }
        } catch {
            return error.saysGone ? .gone : .unknown("its cgroup: \(error)")
        }
        return p.isAlive ? .verified(p) : .gone
    }

    /// pid 1 of a pid namespace `depth` levels below the daemon's, in the
    /// leaf of the cgroup `path` (or, laid out by an older daemon, in the
    /// cgroup itself). `.unknown` when a read that could have found it
    /// failed (not with ESRCH/ENOENT): the cgroup is then left alone.
    static func findInit(in path: String, mount: String, depth: Int) -> AdoptionPlan<ProcessHandle>.FoundInit.Search {
        var failure: String?
        for dir in [path + "/" + CgroupLayout.leafName, path] {
            let pids: [Int32]
            do throws(Errno) { pids = try CgroupDirectory(path: mount + dir).processes() } catch {
                if !error.saysGone { failure = "\(dir)/cgroup.procs: \(error)" }
                continue
            }
            for pid in pids {
                do throws(Errno) {
                    let nspid = try ProcStatus.namespacePids(pid: pid)
                    guard nspid.count == depth + 1, nspid.last == 1 else { continue }
                    let p = try ProcessHandle.open(pid: pid)
                    let start = try ProcStat.startTime(pid: pid)
                    let pidns = try p.namespaceID(.pid)
                    guard try Cgroup2.path(of: pid) == dir, p.isAlive else { continue }
                    return .found(.init(handle: p, pid: pid, startTime: start, pidNamespace: pidns))
                } catch {
                    // A process that exited meanwhile is not the init; any
                    // other failure may have hidden it.
                    if !error.saysGone && error != .invalid { failure = "process \(pid): \(error)" }
                }
            }
        }
        return failure.map { .unknown($0) } ?? .none
    }

    /// A container's cgroup as this daemon lays it out (see CgroupLayout).
    /// One laid out by an older daemon — no leaf, processes in the cgroup
    /// itself — gets its leaf and they move there; a missing v1 mirror is
    /// made and the processes placed in it. Nothing is killed. Parents come
    /// first (the plan's order): controllers are enabled top-down. For a
    /// cgroup this daemon made, two stats.
    func settle(_ r: ContainerRecord) -> [String] {
        let cgroup = CgroupDirectory(path: configuration.cgroupMount + r.cgroup)
        let leaf = CgroupLayout.leaf(of: cgroup)
        let mirror = layout.pidsMirror(of: cgroup)
        let hadLeaf = leaf.exists, hadMirror = mirror?.exists ?? true
        if hadLeaf && hadMirror { return [] }
        var lines: [String] = []
        if !hadLeaf {
            bestEffort({ try leaf.create() })
            // A process forking while its siblings move: its child is born
            // where it was, and moved on the next pass.
            var moved = 0
            for _ in 0..<10 {
                let left = ifReadable({ try cgroup.processes() }) ?? []
                if left.isEmpty { break }
                for pid in left where bestEffort({ try leaf.adopt(pid: pid) }) { moved += 1 }
            }
            if moved > 0 { lines.append("container \(r.name) (\(hex(r.id))): moved \(moved) process(es) into its leaf cgroup") }
        }
        do throws(Errno) { try layout.furnish(cgroup) } catch {
            lines.append("container \(r.name) (\(hex(r.id))): cannot enable controllers in \(cgroup.path): \(error)")
        }
        if !hadMirror, let mirror {
            for pid in ifReadable({ try leaf.processes() }) ?? [] { bestEffort({ try mirror.adopt(pid: pid) }) }
        }
        return lines
    }

    func carryOut(_ step: AdoptionPlan<ProcessHandle>.Step) -> [String] {
        let mount = configuration.cgroupMount
        switch step {
        case .adopt(var r, let p, let parent):
            // A record without its user namespace (written by an older
            // daemon, or damaged): read back from the init, kept.
            if r.idBase == nil && r.userNamespace == 0 {
                recoverIds(&r, p)
                if r.userNamespace != 0 { bestEffort({ try store.save(r) }) }
            }
            return enter(r, p, parent: parent)
        case .rebuild(var r, let p, let parent, let why):
            recoverIds(&r, p)
            do throws(Errno) { try store.save(r) } catch {
                return ["container \(r.name) (\(hex(r.id))): cannot record it (\(error)); not adopted"]
            }
            return enter(r, p, parent: parent) + ["container \(r.name) (\(hex(r.id))): \(why); rebuilt from its cgroup (init \(r.initPid))"]
        case .undo(let records, let why):
            let top = records[0]
            if top.cgroup.hasPrefix(configuration.cgroupRoot + "/") {
                let dir = CgroupDirectory(path: mount + top.cgroup)
                if dir.exists { teardown.destroy(process: nil, cgroup: dir) }
            }
            for r in records {
                buried(r.id)
                store.delete(id: r.id)
            }
            releaseIds(records)
            return ["container \(top.name) (\(hex(top.id))): \(why); cleaning up"]
        case .forget(let r):
            buried(r.id)
            store.delete(id: r.id)
            releaseIds([r])
            return ["container \(r.name) (\(hex(r.id))): its cgroup is gone; forgetting it"]
        case .removeCgroup(let path):
            teardown.destroy(process: nil, cgroup: CgroupDirectory(path: mount + path))
            return ["removing empty cgroup \(mount + path) that no container owns"]
        case .leaveAlone(let path, let why):
            return ["cgroup \(mount + path): \(why); left alone"]
        case .keep(let records, let why):
            return records.map { "container \($0.name) (\(hex($0.id))): \(why); kept as it is (nothing killed), not shown until a mount can check it" }
        }
    }

    /// A record rebuilt from its init: the user namespace and id block the
    /// init has (its uid_map as the host reads it: "0 BASE 65536", or
    /// fewer for a range asked for).
    func recoverIds(_ r: inout ContainerRecord, _ p: ProcessHandle) {
        guard let u = ifReadable({ try p.namespaceID(.user) }), u != registry.host.namespaces.user else { return }
        r.userNamespace = u
        guard let map = ifReadable({ try FileIO.readString("/proc/\(r.initPid)/uid_map") }) else { return }
        let f = map.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard f.count == 3, f[0] == "0", let b = UInt32(f[1]), let n = UInt32(f[2]), n > 0, n <= IdPool.blockSize else { return }
        r.idBase = b
        r.idCount = n
        // A block other than its parent's is its own (a delegated user's).
        registry.state.withLock { s in
            if let parent = r.parent { r.ownsIds = s.records.values.first(where: { $0.id == parent })?.idBase != b }
            // Off the pool's grid: a range the host's root asked for.
            if !r.idsAsked && r.ownsIdBlock { r.idsAsked = !s.idPool.isBlock(b, count: n) }
            if r.ownsIdBlock { s.idPool.reserve(r) }
        }
    }

    func releaseIds(_ records: [ContainerRecord]) {
        registry.state.withLock { s in
            for r in records where r.ownsIdBlock { if let b = r.idBase { s.idPool.release(b) } }
        }
    }

    private func enter(_ r: ContainerRecord, _ p: ProcessHandle, parent: UInt64) -> [String] {
        let settled = settle(r)
        let c = Container.running(r, init: p, layout: layout, host: registry.host)
        return settled + registry.state.withLock { s -> [String] in
            // The plan checked the name against a tree built the same way.
            do throws(TreeError) {
                try s.tree.insert(serial: r.serial, name: r.name, parent: parent,
                                  owner: ContainerTree.Owner(uid: r.ownerUID, gid: r.ownerGID), mode: r.mode)
            } catch {
                return ["container \(r.name) (\(hex(r.id))): \(error); not adopted"]
            }
            s.register(c, record: r)
            return []
        }
    }
}
