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

    /// Bring the sets below container `serial` up to date in the tree.
    public func refresh(_ serial: UInt64) {
        guard serial != ContainerTree.rootSerial,
              let c = registry.read({ s in s.setWork.contains(serial) ? nil : s.containers[serial] }),
              let procs = try? c.readCgroupFile("cgroup.procs") else { return }
        let now = SystemTime.monotonicNanoseconds()
        let previous = scans.withLock { $0[serial] }
        if let previous, previous.procs == procs, now - previous.at < Self.recheckNanoseconds { return }
        let reuse = previous.map { p in now - p.at < Self.recheckNanoseconds ? p.seen : [:] } ?? [:]
        let survey = survey(c, pids: CgroupDirectory.parsePids(procs), reusing: reuse, now: now)
        let stored = registry.state.withLock { s -> Bool in
            guard !s.setWork.contains(serial), s.containers[serial] != nil else { return false }
            Self.place(survey, of: c, in: &s)
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
        guard let procs = try? c.cgroup.processes() else { return nil }
        return survey(c, pids: procs, reusing: [:], now: SystemTime.monotonicNanoseconds())
    }

    /// Enter a survey's sets in the tree, keeping the serials of sets seen before.
    static func place(_ survey: Survey, of c: Container, in s: inout Registry.State) {
        let containerKey = c.setKey
        var known: [SetKey: UInt64] = [:]
        for (serial, f) in s.sets where f.container == c.serial { known[f.facts.key] = serial }
        let layout = survey.sets.indices.map { i in
            ContainerTree.SetPlacement(name: SetForest.name(number: survey.numbers[i]),
                                       parent: survey.parents[i], serial: known[survey.sets[i].key])
        }
        let serials = s.tree.arrangeSets(in: c.serial, layout)
        s.ownProcesses[c.serial] = survey.own
        s.sets = s.sets.filter { $0.value.container != c.serial }
        for (i, serial) in serials.enumerated() {
            guard let serial else { continue }
            s.sets[serial] = FoundSet(container: c.serial, facts: survey.sets[i], members: survey.members[i],
                                      parentKey: survey.parents[i].map { survey.sets[$0].key } ?? containerKey,
                                      number: survey.numbers[i])
        }
    }

    private func survey(_ c: Container, pids: [Int32], reusing cached: [Int32: Seen], now: Int64) -> Survey {
        var out = Survey()
        // Processes seen before: one poll says which are still the same.
        let candidates = pids.compactMap { pid in cached[pid].flatMap { s in s.tracked.map { (pid, s, $0.process) } } }
        let exited = ProcessHandle.exited(candidates.map(\.2))
        for (i, (pid, seen, _)) in candidates.enumerated() where !exited[i] { out.seen[pid] = seen }
        if let cgroupID = c.cgroupID {
            for pid in pids where out.seen[pid] == nil {
                if let s = see(pid, inCgroup: cgroupID, now: now) { out.seen[pid] = s }
            }
        }
        // Group by set; the container's own set is no node.
        let containerKey = c.setKey
        var groups: [SetKey: [Int32]] = [:]
        for (pid, s) in out.seen {
            if s.key == containerKey { out.own.append(pid) } else { groups[s.key, default: []].append(pid) }
        }
        let previous = registry.read { s in
            Dictionary(s.sets.values.filter { $0.container == c.serial }.map { ($0.facts.key, $0.facts) },
                       uniquingKeysWith: { a, _ in a })
        }
        for key in groups.keys.sorted() {
            let members = groups[key]!.sorted()
            guard let facts = previous[key] ?? Self.facts(of: key, members: members, seen: out.seen, container: containerKey)
            else { continue }
            // Entered from outside (nsenter -a): every namespace the
            // container's but the pid namespace, which setns cannot change
            // for the caller itself and which is one of the container's
            // ancestors. As far in as a process can be: the container's own.
            if facts.ids.count == 1, let pidns = facts.ids[.pid], c.pidAncestors.contains(pidns) {
                out.own += members
                continue
            }
            out.sets.append(facts)
            out.members.append(members)
        }
        out.own.sort()
        let containerIDs = c.namespaceIdentities().mapValues(\.id)
        let members = out.members
        out.parents = SetForest.parents(of: out.sets, containerIDs: containerIDs) { s, t in
            Self.descends(members[s], from: Set(members[t]))
        }
        out.numbers = SetForest.numbers(of: out.sets, containerIDs: containerIDs)
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

    /// A process named by cgroup.procs, if it is still there: held by pidfd
    /// first, so that the /proc reads after are provably its own when the
    /// pidfd then shows it alive in the container's cgroup.
    private func see(_ pid: Int32, inCgroup cgroupID: UInt64, now: Int64) -> Seen? {
        guard let p = try? ProcessHandle.open(pid: pid),
              let inodes = try? ProcessNamespaces.inodes(pid: pid),
              let own = try? p.cgroupID(), own == cgroupID else { return nil }
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
