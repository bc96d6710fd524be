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
/// before are held by pidfd, so a look at an unchanged container costs one
/// read of cgroup.procs, and a changed one a poll over the pidfds plus
/// /proc reads for new processes only. A process that unshares without
/// forking, after it was seen, keeps its old set for up to a second
/// (`recheckNanoseconds`): then every process is read again.
public final class Discovery: Sendable {
    let registry: Registry
    private let scans = Mutex<[UInt64: Scan]>([:])
    static let recheckNanoseconds: Int64 = 1_000_000_000

    init(registry: Registry) { self.registry = registry }

    /// The daemon's own set (the host's, at the root).
    static let daemonKey = (try? ProcessNamespaces.inodes(pid: getpid())).map(SetKey.init(inodes:))

    /// A process read before, held by pidfd (within the shared descriptor
    /// budget; nil when over it: then it is read again each time).
    struct Seen: Sendable {
        let tracked: Tracked?
        let key: SetKey
        let at: Int64
    }

    final class Tracked: Sendable {
        let process: ProcessHandle
        init(_ p: ProcessHandle) { process = p }
        deinit { Container.openBudget.give(back: 1) }
    }

    struct Scan: Sendable {
        var procs: [UInt8]
        var at: Int64
        var seen: [Int32: Seen]
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
    struct Scope {
        let serial: UInt64
        /// Its own set, and its namespaces' ids.
        let key: SetKey
        let ids: [NamespaceKind: UInt64]
        /// The pid namespaces above its own (parent first).
        let pidAncestors: [UInt64]
        /// Is this process (held by pidfd, /proc already read) still one of it?
        let holds: (Int32, ProcessHandle) -> Bool
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

    public func discoverHost(cgroupRoot: String) {
        let ids = Dictionary(uniqueKeysWithValues: NamespaceKind.allCases.compactMap { k -> (NamespaceKind, UInt64)? in
            guard let p = try? ProcessHandle.open(pid: getpid()), let id = try? p.namespaceID(k) else { return nil }
            return (k, id)
        })
        let ancestors = (try? ProcessHandle.open(pid: getpid()))?.namespaceAncestors(.pid) ?? []
        hostDiscovery.withLock { $0 = HostScope(cgroupRoot: cgroupRoot, ids: ids, pidAncestors: ancestors) }
    }

    func scope(of serial: UInt64) -> (Scope, listing: () -> [UInt8]?)? {
        if serial == ContainerTree.rootSerial {
            guard let host = hostDiscovery.withLock({ $0 }), let key = Self.daemonKey else { return nil }
            let inside = host.cgroupRoot + "/"
            let scope = Scope(serial: serial, key: key, ids: host.ids, pidAncestors: host.pidAncestors) { pid, _ in
                guard let path = try? Cgroup2.path(of: pid) else { return false }
                return path != host.cgroupRoot && !path.hasPrefix(inside)
            }
            return (scope, { Self.hostPids() })
        }
        guard let c = registry.read({ $0.containers[serial] }), let cgroupID = c.cgroupID else { return nil }
        let scope = Scope(serial: serial, key: c.setKey, ids: c.namespaceIdentities().mapValues(\.id),
                          pidAncestors: c.pidAncestors) { _, p in (try? p.cgroupID()) == cgroupID }
        return (scope, { try? c.readCgroupFile("cgroup.procs") })
    }

    /// Every pid in /proc, as cgroup.procs would list them.
    static func hostPids() -> [UInt8]? {
        guard let names = try? FileIO.listDirectory("/proc", onlyDirectories: true) else { return nil }
        var out: [UInt8] = []
        for n in names where n.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            out += n.utf8
            out.append(10)
        }
        return out
    }

    /// Bring the sets below container `serial` (or the root's, with host
    /// discovery on) up to date in the tree.
    public func refresh(_ serial: UInt64) {
        guard registry.read({ !$0.setWork.contains(serial) }), let (scope, listing) = scope(of: serial),
              let procs = listing() else { return }
        let now = SystemTime.monotonicNanoseconds()
        let previous = scans.withLock { $0[serial] }
        if let previous, previous.procs == procs, now - previous.at < Self.recheckNanoseconds { return }
        let reuse = previous.map { p in now - p.at < Self.recheckNanoseconds ? p.seen : [:] } ?? [:]
        let survey = survey(scope, pids: CgroupDirectory.parsePids(procs), reusing: reuse, now: now)
        let stored = registry.state.withLock { s -> Bool in
            guard !s.setWork.contains(serial), serial == ContainerTree.rootSerial || s.containers[serial] != nil else { return false }
            Self.place(survey, of: scope, in: &s)
            return true
        }
        if stored { scans.withLock { $0[serial] = Scan(procs: procs, at: now, seen: survey.seen) } }
    }

    /// Forget what was seen in `serial` (it changed under discovery's feet:
    /// a set was named or killed, or the container is gone).
    func invalidate(_ serial: UInt64) {
        _ = scans.withLock { $0.removeValue(forKey: serial) }
    }

    /// Every process of container `c` read anew, none reused: for naming and
    /// killing a set, with the cgroup frozen.
    func exactSurvey(of c: Container) -> Survey? {
        guard let (scope, _) = scope(of: c.serial), let procs = try? c.cgroup.processes() else { return nil }
        return survey(scope, pids: procs, reusing: [:], now: SystemTime.monotonicNanoseconds())
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
        // Processes seen before: one poll says which are still the same.
        let candidates = pids.compactMap { pid in cached[pid].flatMap { s in s.tracked.map { (pid, s, $0.process) } } }
        let exited = ProcessHandle.exited(candidates.map(\.2))
        for (i, (pid, seen, _)) in candidates.enumerated() where !exited[i] { out.seen[pid] = seen }
        for pid in pids where out.seen[pid] == nil {
            if let s = see(pid, in: scope, now: now) { out.seen[pid] = s }
        }
        // Group by set; the scope's own set is no node.
        var groups: [SetKey: [Int32]] = [:]
        for (pid, s) in out.seen {
            if s.key == scope.key { out.own.append(pid) } else { groups[s.key, default: []].append(pid) }
        }
        let previous = registry.read { s in
            Dictionary(s.sets.values.filter { $0.container == scope.serial }.map { ($0.facts.key, $0.facts) },
                       uniquingKeysWith: { a, _ in a })
        }
        for key in groups.keys.sorted() {
            let members = groups[key]!.sorted()
            guard let facts = previous[key] ?? Self.facts(of: key, members: members, seen: out.seen, container: scope.key)
            else { continue }
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
        let members = out.members
        out.parents = SetForest.parents(of: out.sets, containerIDs: scope.ids) { s, t in
            Self.descends(members[s], from: Set(members[t]))
        }
        out.numbers = SetForest.numbers(of: out.sets, containerIDs: scope.ids)
        return out
    }

    /// Does any of `pids` have an ancestor (parent process, grandparent...)
    /// among `ancestors`? A few /proc reads per process, asked only for
    /// sets that both made a namespace of one kind.
    static func descends(_ pids: [Int32], from ancestors: Set<Int32>) -> Bool {
        for pid in pids {
            var cur = pid
            for _ in 0..<64 {
                guard let parent = try? ProcStat.parent(pid: cur), parent > 1 else { break }
                if ancestors.contains(parent) { return true }
                cur = parent
            }
        }
        return false
    }

    /// A process named by the listing, if it is still there: held by pidfd
    /// first, so that the /proc reads after are provably its own when the
    /// pidfd then shows it alive in the scope (for a container: in its cgroup).
    private func see(_ pid: Int32, in scope: Scope, now: Int64) -> Seen? {
        guard let p = try? ProcessHandle.open(pid: pid),
              let inodes = try? ProcessNamespaces.inodes(pid: pid),
              scope.holds(pid, p), p.isAlive || scope.serial != ContainerTree.rootSerial else { return nil }
        return Seen(tracked: Container.openBudget.take() ? Tracked(p) : nil, key: SetKey(inodes: inodes), at: now)
    }

    /// The ids of a new set's namespaces (those its container lacks), asked
    /// of one member that is still alive.
    static func facts(of key: SetKey, members: [Int32], seen: [Int32: Seen], container: SetKey) -> SetFacts? {
        for pid in members {
            guard let p = seen[pid]?.tracked?.process ?? (try? ProcessHandle.open(pid: pid)) else { continue }
            var ids: [NamespaceKind: UInt64] = [:]
            var ancestors: [NamespaceKind: [UInt64]] = [:]
            var complete = true
            for k in key.differences(from: container) {
                guard let ns = try? p.namespace(k), (try? NamespaceKind.inode(of: ns)) == key[k],
                      let id = try? NamespaceKind.id(of: ns) else { complete = false; break }
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
