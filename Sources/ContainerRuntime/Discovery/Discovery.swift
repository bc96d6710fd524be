import ContainerTree
import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Sets of namespaces that processes of a container made for themselves
/// (`unshare`, a login with a private /tmp), found when someone looks — a
/// lookup, a listing, a stat of the container — never by polling /proc.
///
/// A container's processes are its cgroup's (not its child containers'). A
/// process's set is its eight namespaces' inode numbers; processes seen
/// before are held by pidfd. A look at a container that cannot have changed
/// (see `Scan.isCurrent`) reads nothing; otherwise cgroup.procs is read
/// (120 ns per process) and, if it changed, the pidfds polled and only new
/// processes read in /proc (30-60 µs each the first time: spread over the
/// CPUs). A process that unshares without forking, after it was seen, keeps
/// its old set for up to a second (`recheckNanoseconds`): then every
/// process is read again.
package final class Discovery: Sendable {
    let registry: Registry
    private let scans = Mutex<[UInt64: Scan]>([:])
    static let recheckNanoseconds: Int64 = 1_000_000_000

    /// Containers whose sets are being killed or named: left alone meanwhile.
    let setWork: SetWorkInProgress

    init(registry: Registry, setWork: SetWorkInProgress) {
        self.registry = registry
        self.setWork = setWork
    }


    /// A process read before, held by pidfd (within the shared descriptor
    /// budget; nil when over it: then it is read again each time).
    struct Seen: Sendable {
        let tracked: Tracked?
        let key: SetKey
        let at: Int64
        /// Its parent process (daemon's pid namespace): the process tree.
        let parent: Int32
    }

    final class Tracked: Sendable {
        let process: ProcessHandle
        let budget: DescriptorBudget
        init(_ p: ProcessHandle, budget: DescriptorBudget) { process = p; self.budget = budget }
        deinit { budget.give(back: 1) }
    }

    struct Scan: Sendable {
        var procs: [UInt8]
        var at: Int64
        var seen: [Int32: Seen]
        /// The host's last pid when the processes were listed.
        var lastPid: Int64?
        /// The CPU time the container's processes had used then.
        var cpuUsage: UInt64?
        /// ... and at the last full look (every process read anew), taken
        /// before its listing.
        var usageAtLook: UInt64?
        /// The held pidfds: one becomes ready when its process exits.
        var exits: Epoll?

        /// Nothing can have changed since the listing: none of the processes
        /// it holds has exited, and either no process was created anywhere
        /// on the host or none of the container's ran (forking, unsharing,
        /// exiting all take CPU time in the container: an `ls` from a shell
        /// creates a process, but not there). And it is recent: a process
        /// moved into the cgroup from outside, or one that unshared without
        /// forking, is seen at the next full look, within a second.
        func isCurrent(now: Int64, lastPid current: Int64?, usage: () -> UInt64?) -> Bool {
            guard now - at < Discovery.recheckNanoseconds, let exits, exits.wait(timeout: 0).isEmpty else { return false }
            if let lastPid, current == lastPid { return true }
            if let cpuUsage, usage() == cpuUsage { return true }
            return false
        }

        /// What was seen, if recent enough to reuse.
        func reusable(now: Int64) -> [Int32: Seen] { now - at < Discovery.recheckNanoseconds ? seen : [:] }
    }

    /// What one look at a container found.
    struct Survey {
        var seen: [Int32: Seen] = [:]
        var sets: [SetFacts] = []
        var members: [[Int32]] = []
        var parents: [Int?] = []
        var numbers: [UInt64] = []
        /// The container's own processes (in no set).
        var own: [Int32] = []
    }

    /// Where sets are looked for: a container's cgroup, or the host (every
    /// process outside the tree, with `-o discover=host`).
    struct Scope: Sendable {
        let serial: UInt64
        /// Its own set, and its namespaces' ids.
        let key: SetKey
        let ids: [NamespaceKind: UInt64]
        /// The pid namespaces above its own (parent first).
        let pidAncestors: [UInt64]
        /// Is this process (held by pidfd, /proc already read) still one of
        /// it? Its parent's pid if so.
        let holds: @Sendable (Int32, ProcessHandle) -> Int32?
        /// The container's init: held already, its namespaces are `key`.
        var initProcess: ProcessHandle? = nil
    }

    /// Look for sets at the root too (the host's: -o discover=host).
    let hostDiscovery = Mutex<HostScope?>(nil)

    /// The host as a scope: its processes are those whose cgroup is not
    /// below the tree's.
    struct HostScope: Sendable {
        let cgroupRoot: String
        let ids: [NamespaceKind: UInt64]
        let pidAncestors: [UInt64]
    }

    package func discoverHost(cgroupRoot: String) {
        let ids = Dictionary(uniqueKeysWithValues: NamespaceKind.allCases.compactMap { k -> (NamespaceKind, UInt64)? in
            guard let p = ifReadable({ try ProcessHandle.open(pid: getpid()) }), let id = ifReadable({ try p.namespaceID(k) }) else { return nil }
            return (k, id)
        })
        let ancestors = ifReadable({ try ProcessHandle.open(pid: getpid()) })?.namespaceAncestors(.pid) ?? []
        hostDiscovery.withLock { $0 = HostScope(cgroupRoot: cgroupRoot, ids: ids, pidAncestors: ancestors) }
    }

    /// Is there anything to look at for `serial`? Not the root unless the
    /// host's sets are shown (-o discover=host): without this, every
    /// lookup and listing at the root read /proc/loadavg and went to a
    /// looker thread to find nothing.
    func hasScope(_ serial: UInt64) -> Bool {
        serial != ContainerTree.rootSerial || hostDiscovery.withLock { $0 != nil }
    }

    func scope(of serial: UInt64) -> (Scope, listing: () -> [UInt8]?)? {
        if serial == ContainerTree.rootSerial {
            guard let host = hostDiscovery.withLock({ $0 }), let key = registry.host.key else { return nil }
            let inside = host.cgroupRoot + "/"
            let scope = Scope(serial: serial, key: key, ids: host.ids, pidAncestors: host.pidAncestors) { pid, p in
                guard let path = ifReadable({ try Cgroup2.path(of: pid) }), path != host.cgroupRoot, !path.hasPrefix(inside),
                      let info = ifReadable({ try p.info() }) else { return nil }
                return info.parent
            }
            return (scope, { Self.hostPids() })
        }
        guard let c = registry.read({ $0.containers[serial] }), let cgroupID = c.cgroupID else { return nil }
        var scope = Scope(serial: serial, key: c.setKey, ids: c.namespaceIdentities().mapValues(\.id),
                          pidAncestors: c.pidAncestors) { _, p in
            guard let info = ifReadable({ try p.info() }), info.cgroupID == cgroupID else { return nil }
            return info.parent
        }
        scope.initProcess = c.initProcess
        return (scope, { ifReadable({ try c.readFile(c.leaf.path + "/cgroup.procs") }) })
    }

    /// Every pid in /proc, as cgroup.procs would list them.
    static func hostPids() -> [UInt8]? {
        guard let names = ifReadable({ try FileIO.listDirectory("/proc", onlyDirectories: true) }) else { return nil }
        var out: [UInt8] = []
        for n in names where n.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            out += n.utf8
            out.append(10)
        }
        return out
    }

    /// No process of the container has run since the last full look (its
    /// CPU time is the same: unsharing, forking, exiting all take some) and
    /// its cgroup lists the same processes (none moved in from outside):
    /// nothing can have changed, however long ago that look was. Renews
    /// it: a container that sleeps is never read again process by process
    /// (find over 1,000 of them did 1,000 looks a second, each on a looker
    /// thread).
    func isQuiet(_ serial: UInt64, since previous: Scan, now: Int64, usage: () -> UInt64?) -> Bool {
        guard serial != ContainerTree.rootSerial, !previous.procs.isEmpty, let atLook = previous.usageAtLook,
              let exits = previous.exits, exits.wait(timeout: 0).isEmpty,
              usage() == atLook, let (_, listing) = scope(of: serial), listing() == previous.procs else { return false }
        let lastPid = ProcessCreation.lastPid()
        scans.withLock { s in
            guard s[serial]?.usageAtLook == atLook else { return }
            s[serial]?.at = now
            s[serial]?.lastPid = lastPid
            s[serial]?.cpuUsage = atLook
        }
        return true
    }

    /// What a look changed: the sets it took away (gone, or renamed by a
    /// new place), with the parent and name they had.
    package struct SetsChanged: Sendable {
        package var gone: [(serial: UInt64, parent: UInt64, name: String)]
    }

    /// What `refresh` did.
    package enum Refresh: Sendable {
        /// Up to date; what changed, if anything.
        case done(SetsChanged?)
        /// Left for a thread that may take its time (`onlyIfAlone`, and the
        /// container has processes besides its init).
        case declined
    }

    /// Bring the sets below container `serial` (or the root's, with host
    /// discovery on) up to date in the tree; nil when nothing changed.
    @discardableResult
    package func refresh(_ serial: UInt64) -> SetsChanged? {
        if case .done(let changed) = refresh(serial, onlyIfAlone: false) { return changed }
        return nil
    }

    /// `onlyIfAlone`: only when no process but the container's init is in
    /// its cgroup (one read of cgroup.procs, no process read: the init's
    /// namespaces are the container's), cheap enough for the request
    /// thread; the first look at a container made and left alone (`rm -rf`
    /// of thousands, a first `find`) then takes no hop to a looker thread.
    package func refresh(_ serial: UInt64, onlyIfAlone: Bool) -> Refresh {
        guard !setWork.contains(serial), hasScope(serial) else { return .done(nil) }
        let now = SystemTime.monotonicNanoseconds()
        let previous = scans.withLock { $0[serial] }
        let container = registry.container(serial)
        // Each read at most once: this runs on requests' path.
        let lastPid = ProcessCreation.lastPid()
        var usage: UInt64??
        func cpuUsage() -> UInt64? {
            if usage == nil { usage = .some(container?.cpuUsage) }
            return usage!
        }
        if let previous, previous.isCurrent(now: now, lastPid: lastPid, usage: cpuUsage) { return .done(nil) }
        if let previous, isQuiet(serial, since: previous, now: now, usage: cpuUsage) { return .done(nil) }
        // Before the listing: whatever runs after it shows at the next look.
        let usageAtLook = cpuUsage()
        guard let (scope, listing) = scope(of: serial), let procs = listing() else { return .done(nil) }
        if let previous, previous.procs == procs, now - previous.at < Self.recheckNanoseconds {
            let measured = cpuUsage()
            scans.withLock { s in
                s[serial]?.lastPid = lastPid
                s[serial]?.cpuUsage = measured
            }
            return .done(nil)
        }
        let pids = CgroupDirectory.parsePids(procs)
        if onlyIfAlone, pids.count != 1 || pids.first != scope.initProcess?.pid { return .declined }
        let reused = previous?.reusable(now: now) ?? [:]
        let survey = survey(scope, pids: pids, reusing: reused, now: now)
        let changed = registry.state.withLock { s -> SetsChanged?? in
            guard !setWork.contains(serial), serial == ContainerTree.rootSerial || s.containers[serial] != nil else { return nil }
            func places() -> [SetPlace] {
                s.tree.sets(below: serial).map { SetPlace(serial: $0, parent: s.tree.node($0)?.parent, name: s.tree.node($0)?.name) }
            }
            let before = places()
            Self.place(survey, of: scope, in: &s)
            let after = places()
            if before == after { return .some(nil) }
            let kept = Set(after)
            return SetsChanged(gone: before.filter { !kept.contains($0) }.compactMap { p in
                p.parent.flatMap { parent in p.name.map { (p.serial, parent, $0) } }
            })
        }
        guard let changed else { return .done(nil) }
        // Exits of the processes it holds wake this epoll (pidfds close,
        // and leave it, with their Seen).
        let exits = ifReadable({ try Epoll() })
        if let exits {
            for seen in survey.seen.values { if let t = seen.tracked { bestEffort({ try exits.add(t.process.descriptor.fd, tag: 0) }) } }
        }
        let measured = cpuUsage()
        scans.withLock {
            $0[serial] = Scan(procs: procs, at: now, seen: survey.seen, lastPid: lastPid, cpuUsage: measured,
                              usageAtLook: reused.isEmpty ? usageAtLook : previous?.usageAtLook, exits: exits)
        }
        return .done(changed)
    }

    private struct SetPlace: Hashable {
        let serial: UInt64
        let parent: UInt64?
        let name: String?
    }

    /// Forget what was seen in `serial` (it changed under discovery's feet:
    /// a set was named or killed, or the container is gone).
    func invalidate(_ serial: UInt64) {
        _ = scans.withLock { $0.removeValue(forKey: serial) }
    }

    /// The processes of the sets `keys` (a set and those below it) in a
    /// fresh listing of `c`'s, and of sets made since from inside them
    /// (unknown to the tree, with an ancestor among them in the process
    /// tree). `exact`: every process read anew (the cgroup frozen); else
    /// those seen in the last second, still alive, as seen. Cheaper than a
    /// survey: no arranging, for each pass of a kill.
    func processes(of keys: Set<SetKey>, in c: Container, exact: Bool) -> [Int32] {
        guard let (scope, _) = scope(of: c.serial), let pids = ifReadable({ try c.leaf.processes() }) else { return [] }
        let now = SystemTime.monotonicNanoseconds()
        let reuse = exact ? [:] : scans.withLock { $0[c.serial] }?.reusable(now: now) ?? [:]
        let seen = self.seen(pids, in: scope, reusing: reuse, now: now)
        let known = registry.read { s in Set(s.sets.values.filter { $0.container == c.serial }.map(\.facts.key)) }
        var victims = Set(seen.filter { keys.contains($0.value.key) }.map(\.key))
        for (pid, s) in seen where !victims.contains(pid) && s.key != scope.key && !known.contains(s.key) {
            var cur = s.parent
            for _ in 0..<64 {
                if victims.contains(cur) { victims.insert(pid); break }
                guard let up = seen[cur] else { break }
                cur = up.parent
            }
        }
        return victims.sorted()
    }

    /// The processes the last look found in the sets `serials` (with the
    /// namespaces `keys`) of `c`, and
    /// the pids in `c`'s leaf that look did not know (newcomers: read now,
    /// and added when in one of `keys`): a set's removal without a look at
    /// every process of the container (`rm -rf` of a container of 2,000
    /// sets did 2,000 of them: 46 s). `nil`: nothing recent to go by, or
    /// (`onlyIfNothingMade`) a process made since, whose reading is no
    /// work for the request thread.
    func members(of keys: Set<SetKey>, serials: [UInt64], in c: Container, onlyIfNothingMade: Bool = false) -> [Int32]? {
        let now = SystemTime.monotonicNanoseconds()
        guard let scan = scans.withLock({ $0[c.serial] }), now - scan.at < Self.recheckNanoseconds else { return nil }
        // No process made on the host since that look (the last pid is the
        // same): no newcomer, no pid reused; the listing need not be read.
        let nothingMade = scan.lastPid != nil && ProcessCreation.lastPid() == scan.lastPid
        if onlyIfNothingMade && !nothingMade { return nil }
        let pids: [Int32]
        if nothingMade {
            pids = []
        } else {
            guard let listed = ifReadable({ try c.leaf.processes() }) else { return nil }
            pids = listed
        }
        let inLeaf = nothingMade ? nil : Set(pids)
        let recorded = registry.read { s in serials.flatMap { s.sets[$0]?.members ?? [] } }
            .filter { inLeaf?.contains($0) ?? (scan.seen[$0] != nil) }
        // Still the process that was seen (its pidfd says so), else read
        // again: a pid reused meanwhile is never taken for a member.
        let held = recorded.compactMap { pid in scan.seen[pid]?.tracked.map { (pid, $0.process) } }
        let exited = ProcessHandle.exited(held.map(\.1))
        var out = Set(held.indices.filter { !exited[$0] }.map { held[$0].0 })
        // (Nothing made: no pid reused, no newcomer; an untracked member
        // that exited meanwhile is a pid a move answers with ESRCH.)
        if nothingMade { out.formUnion(recorded.filter { scan.seen[$0]?.tracked == nil }); return out.sorted() }
        guard let (scope, _) = scope(of: c.serial) else { return nil }
        let reread = recorded.filter { scan.seen[$0]?.tracked == nil } + pids.filter { scan.seen[$0] == nil }
        for (pid, seen) in see(reread, in: scope, now: now) where keys.contains(seen.key) { out.insert(pid) }
        return out.sorted()
    }

    /// `victims` of `c` were killed (a set removed): drop them from what
    /// was seen, and take the listing as it is now, instead of a new look
    /// at every process (which the next request would make).
    func forget(_ victims: [Int32], in c: Container) {
        let lastPid = ProcessCreation.lastPid()
        let usage = c.cpuUsage
        scans.withLock { s in
            guard s[c.serial] != nil else { return }
            // In place: the table of thousands is not copied.
            for pid in victims {
                if let t = s[c.serial]!.seen.removeValue(forKey: pid)?.tracked { s[c.serial]!.exits?.remove(t.process.descriptor.fd) }
            }
            // Current as far as the next request goes (see Scan.isCurrent:
            // nothing made since, nothing else exited); the listing is read
            // again at the next full look, within a second.
            s[c.serial]!.procs = []
            s[c.serial]!.lastPid = lastPid
            s[c.serial]!.cpuUsage = usage
        }
    }

    /// `serial`'s processes moved: list them again at the next look, but
    /// keep what was learned of each process (1,000 sets in one container
    /// are 1,000 moves for an rm -rf).
    func markStale(_ serial: UInt64) {
        scans.withLock { s in
            s[serial]?.procs = []
            s[serial]?.lastPid = nil
            s[serial]?.cpuUsage = nil
        }
    }

    /// Enter a survey's sets in the tree, keeping the serials of sets seen
    /// before (and, at the root, the names given with mv).
    static func place(_ survey: Survey, of scope: Scope, in s: inout Registry.State) {
        var known: [SetKey: UInt64] = [:]
        for (serial, f) in s.sets where f.container == scope.serial { known[f.facts.key] = serial }
        let ids = survey.sets.map { f in NamespaceKind.allCases.map { f.ids[$0] ?? scope.ids[$0] ?? 0 } }
        let layout = survey.sets.indices.map { i in
            ContainerTree.SetPlacement(name: s.hostSetNames[ids[i]] ?? SetForest.name(number: survey.numbers[i]),
                                       parent: survey.parents[i], serial: known[survey.sets[i].key])
        }
        let serials = s.tree.arrangeSets(in: scope.serial, layout)
        s.ownProcesses[scope.serial] = survey.own
        s.sets = s.sets.filter { $0.value.container != scope.serial }
        for (i, serial) in serials.enumerated() {
            guard let serial else { continue }
            s.sets[serial] = FoundSet(container: scope.serial, facts: survey.sets[i], members: survey.members[i],
                                      parentKey: survey.parents[i].map { survey.sets[$0].key } ?? scope.key,
                                      number: survey.numbers[i], containerIDs: scope.ids)
        }
        if scope.serial == ContainerTree.rootSerial {
            // A name given to a host set lasts while the set lives.
            let live = Set(ids)
            s.hostSetNames = s.hostSetNames.filter { live.contains($0.key) }
        }
    }

    private func survey(_ scope: Scope, pids: [Int32], reusing cached: [Int32: Seen], now: Int64) -> Survey {
        var out = Survey()
        out.seen = seen(pids, in: scope, reusing: cached, now: now)
        // Group by set; the scope's own set is no node.
        var groups: [SetKey: [Int32]] = [:]
        for (pid, s) in out.seen {
            if s.key == scope.key { out.own.append(pid) } else { groups[s.key, default: []].append(pid) }
        }
        let previous = registry.read { s in
            Dictionary(s.sets.values.filter { $0.container == scope.serial }.map { ($0.facts.key, $0.facts) },
                       uniquingKeysWith: { a, _ in a })
        }
        let keys = groups.keys.sorted()
        let learned = learn(keys.filter { previous[$0] == nil }, groups: groups, seen: out.seen, container: scope.key)
        for key in keys {
            let members = groups[key]!.sorted()
            guard let facts = previous[key] ?? learned[key] else { continue }
            // Entered from outside (nsenter -a): every namespace the
            // container's but the pid namespace, which setns cannot change
            // for the caller itself and which is one of the container's
            // ancestors. As far in as a process can be: the container's own.
            if facts.ids.count == 1, let pidns = facts.ids[.pid], scope.pidAncestors.contains(pidns) {
                out.own += members
                continue
            }
            out.sets.append(facts)
            out.members.append(members)
        }
        out.own.sort()
        out.parents = SetForest.parents(of: out.sets, containerIDs: scope.ids,
                                        processAncestors: Self.processAncestors(out.members, seen: out.seen))
        out.numbers = SetForest.numbers(of: out.sets, containerIDs: scope.ids)
        return out
    }

    /// Each of `pids`: as seen before if its pidfd says it is the same
    /// process (one poll for all), else read now.
    private func seen(_ pids: [Int32], in scope: Scope, reusing cached: [Int32: Seen], now: Int64) -> [Int32: Seen] {
        var out: [Int32: Seen] = [:]
        let candidates = pids.compactMap { pid in cached[pid].flatMap { s in s.tracked.map { (pid, s, $0.process) } } }
        let exited = ProcessHandle.exited(candidates.map(\.2))
        for (i, (pid, s, _)) in candidates.enumerated() where !exited[i] { out[pid] = s }
        for (pid, s) in see(pids.filter { out[$0] == nil }, in: scope, now: now) { out[pid] = s }
        return out
    }

    /// For each set, the sets with a process that is a parent (grandparent,
    /// ...) of one of its processes, within the scope's processes: the
    /// process tree, from the parents PIDFD_GET_INFO reported.
    static func processAncestors(_ members: [[Int32]], seen: [Int32: Seen]) -> [Set<Int>] {
        var setOf: [Int32: Int] = [:]
        for (i, m) in members.enumerated() { for pid in m { setOf[pid] = i } }
        return members.enumerated().map { i, pids in
            var out = Set<Int>()
            for pid in pids {
                var cur = seen[pid]?.parent ?? 0
                for _ in 0..<64 {
                    guard cur > 1, let up = seen[cur] else { break }
                    if let j = setOf[cur], j != i { out.insert(j) }
                    cur = up.parent
                }
            }
            return out
        }
    }

    /// Reading a process the first time costs 30-45 µs (measured in C):
    /// the kernel makes its /proc/PID/ns entries. Many at once (the first
    /// look after 1,000 processes each unshared) are shared among the CPUs.
    let readers = WorkerPool(name: "nsfs-survey", maxThreads: max(0, ProcessorCount.online - 1))
    static let parallelFrom = 64

    private func see(_ pids: [Int32], in scope: Scope, now: Int64) -> [(Int32, Seen)] {
        let parts = pids.count < Self.parallelFrom ? 1 : min(readers.maxThreads + 1, pids.count / (Self.parallelFrom / 2))
        guard parts > 1 else { return pids.compactMap { pid in see(pid, in: scope, now: now).map { (pid, $0) } } }
        let chunk = (pids.count + parts - 1) / parts
        let jobs: [@Sendable () -> [(Int32, Seen)]] = stride(from: 0, to: pids.count, by: chunk).map { start in
            let slice = Array(pids[start..<min(pids.count, start + chunk)])
            return { [self] in slice.compactMap { pid in see(pid, in: scope, now: now).map { (pid, $0) } } }
        }
        return readers.inParallel(jobs).flatMap { $0 }
    }

    /// A process named by the listing, if it is still there: held by pidfd
    /// first, so that the /proc reads after are provably its own when the
    /// pidfd then shows it alive in the scope (for a container: in its cgroup).
    private func see(_ pid: Int32, in scope: Scope, now: Int64) -> Seen? {
        if let p = scope.initProcess, p.pid == pid {
            guard let parent = scope.holds(pid, p) else { return nil }
            return Seen(tracked: registry.host.openBudget.take() ? Tracked(p, budget: registry.host.openBudget) : nil,
                        key: scope.key, at: now, parent: parent)
        }
        guard let p = ifReadable({ try ProcessHandle.open(pid: pid) }),
              let inodes = ifReadable({ try ProcessNamespaces.inodes(pid: pid) }),
              let parent = scope.holds(pid, p), p.isAlive || scope.serial != ContainerTree.rootSerial else { return nil }
        return Seen(tracked: registry.host.openBudget.take() ? Tracked(p, budget: registry.host.openBudget) : nil, key: SetKey(inodes: inodes), at: now, parent: parent)
    }

    /// The facts of new sets: four syscalls each, spread over the CPUs
    /// when there are many (the first look after 1,000 unshares).
    private func learn(_ keys: [SetKey], groups: [SetKey: [Int32]], seen: [Int32: Seen],
                       container: SetKey) -> [SetKey: SetFacts] {
        let parts = keys.count < Self.parallelFrom ? 1 : min(readers.maxThreads + 1, keys.count / (Self.parallelFrom / 2))
        let chunk = max(1, (keys.count + parts - 1) / parts)
        let jobs: [@Sendable () -> [(SetKey, SetFacts)]] = stride(from: 0, to: keys.count, by: chunk).map { start in
            let slice = Array(keys[start..<min(keys.count, start + chunk)])
            return {
                slice.compactMap { key in
                    Self.facts(of: key, members: groups[key]!.sorted(), seen: seen, container: container).map { (key, $0) }
                }
            }
        }
        return Dictionary(readers.inParallel(jobs).flatMap { $0 }, uniquingKeysWith: { a, _ in a })
    }

    /// The ids of a new set's namespaces (those its container lacks), asked
    /// of one member that is still alive.
    static func facts(of key: SetKey, members: [Int32], seen: [Int32: Seen], container: SetKey) -> SetFacts? {
        for pid in members {
            guard let p = seen[pid]?.tracked?.process ?? ifReadable({ try ProcessHandle.open(pid: pid) }) else { continue }
            var ids: [NamespaceKind: UInt64] = [:]
            var ancestors: [NamespaceKind: [UInt64]] = [:]
            var complete = true
            for k in key.differences(from: container) {
                guard let ns = ifReadable({ try p.namespace(k) }), ifReadable({ try NamespaceKind.inode(of: ns) }) == key[k],
                      let id = ifReadable({ try NamespaceKind.id(of: ns) }) else { complete = false; break }
                ids[k] = id
                if k == .pid || k == .user { ancestors[k] = p.namespaceAncestors(k) }
            }
            if complete { return SetFacts(key: key, ids: ids, ancestors: ancestors) }
        }
        return nil
    }
}

extension Container {
    /// The ids of the pid namespaces above the container's (parent first).
    var pidAncestors: [UInt64] {
        if let known = cachedPidAncestors.withLock({ $0 }) { return known }
        let found = initProcess.namespaceAncestors(.pid)
        cachedPidAncestors.withLock { $0 = found }
        return found
    }

    /// The container's own set (its init's namespaces, by inode).
    var setKey: SetKey {
        let ids = namespaceIdentities()
        return SetKey(inodes: NamespaceKind.allCases.map { ids[$0]?.inode ?? 0 })
    }
}
