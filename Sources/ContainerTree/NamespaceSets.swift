import LinuxSystem

/// The namespaces one process is in, one inode number per kind
/// (`NamespaceKind.allCases` order). Inode numbers are unique among live
/// namespaces: equal keys of two live processes mean the same set.
package struct SetKey: Hashable, Sendable, Comparable {
    package var inodes: [UInt64]

    package init(inodes: [UInt64]) { self.inodes = inodes }

    package subscript(_ k: NamespaceKind) -> UInt64 { inodes[k.rawValue] }

    /// The kinds in which two sets have different namespaces.
    package func differences(from other: SetKey) -> [NamespaceKind] {
        NamespaceKind.allCases.filter { self[$0] != other[$0] }
    }

    package static func < (a: SetKey, b: SetKey) -> Bool { a.inodes.lexicographicallyPrecedes(b.inodes) }
}

/// What discovery learned about one set of a container: its key and, for
/// each kind in which it differs from the container, the namespace's 64-bit
/// id (never reused) and, for pid and user namespaces, the ids of its
/// ancestors (the kernel records those; parent first).
package struct SetFacts: Sendable, Equatable {
    package var key: SetKey
    package var ids: [NamespaceKind: UInt64]
    package var ancestors: [NamespaceKind: [UInt64]]

    package init(key: SetKey, ids: [NamespaceKind: UInt64], ancestors: [NamespaceKind: [UInt64]] = [:]) {
        self.key = key
        self.ids = ids
        self.ancestors = ancestors
    }
}

/// How the sets found in one container's cgroup nest, and what they are
/// called. Pure: unit-tested with made-up facts.
///
/// The nesting rule ("you never leave a container: you only enter additional
/// ones"): set S may be a child of set T when every namespace in which S
/// differs from T is one S could have made from T:
/// - pid and user: S's is a descendant of T's (the kernel records this);
/// - the others: S's is not the container's (S made one), and T's is the
///   container's — or T made one of that kind too; the kernel records no
///   order between two namespaces of one kind (ids come from per-CPU
///   batches), so then S nests in T only if S's processes descend from
///   T's (`related`). Two logins that each made a private /tmp are
///   siblings; `unshare --mount` run from a shell that already had one is
///   the shell's child.
/// Of the candidates, S's parent is the one it differs from in the fewest
/// kinds; with none, the container. So `unshare --mount` in C, then
/// `unshare --net` inside that, gives C/unnamedA/unnamedB, and an
/// `unshare --net` elsewhere in C a sibling C/unnamedC.
package enum SetForest {
    package static let namePrefix = "unnamed"

    /// The parent of each set: an index into `sets`, or nil for the
    /// container. `containerIDs`: the container's pid and user namespace
    /// ids. `processAncestors[s]`: the sets with a process that is a parent
    /// (grandparent...) of one of set s's — the process tree, asked only
    /// where both sets made a namespace of one kind.
    ///
    /// Not all pairs (1,000 sets are a million): a parent either has only
    /// namespaces of its own that the child shares (found by hashing the
    /// child's namespaces, one lookup per subset of its own kinds), or its
    /// pid or user namespace is an ancestor of the child's (found by id), or
    /// its processes are ancestors of the child's.
    package static func parents(of sets: [SetFacts], containerIDs: [NamespaceKind: UInt64] = [:],
                               processAncestors: [Set<Int>] = []) -> [Int?] {
        func ownKinds(_ s: SetFacts) -> [NamespaceKind] { NamespaceKind.allCases.filter { s.ids[$0] != nil } }
        func projection(_ s: SetFacts, _ kinds: [NamespaceKind]) -> [UInt64] {
            kinds.flatMap { [UInt64($0.rawValue), s.key[$0]] }
        }
        var byOwn: [[UInt64]: [Int]] = [:]
        var byID: [NamespaceKind: [UInt64: [Int]]] = [.pid: [:], .user: [:]]
        for (j, t) in sets.enumerated() {
            byOwn[projection(t, ownKinds(t)), default: []].append(j)
            for k in [NamespaceKind.pid, .user] { if let id = t.ids[k] { byID[k]![id, default: []].append(j) } }
        }
        func mayDescend(_ i: Int, from j: Int) -> Bool {
            let s = sets[i], t = sets[j]
            let differing = s.key.differences(from: t.key)
            if differing.isEmpty { return false }
            var askProcesses = false
            for k in differing {
                guard s.ids[k] != nil else { return false }   // S has the container's
                if k == .pid || k == .user {
                    // T's, or the container's if T has none of its own.
                    guard let theirs = t.ids[k] ?? containerIDs[k] else { continue }
                    guard (s.ancestors[k] ?? []).contains(theirs) else { return false }
                } else if t.ids[k] != nil {
                    askProcesses = true
                }
            }
            return !askProcesses || (i < processAncestors.count && processAncestors[i].contains(j))
        }
        return sets.indices.map { i -> Int? in
            let s = sets[i]
            var candidates = i < processAncestors.count ? processAncestors[i] : []
            let own = ownKinds(s)
            for mask in 1..<(1 << own.count) {
                let kinds = own.indices.filter { mask & (1 << $0) != 0 }.map { own[$0] }
                candidates.formUnion(byOwn[projection(s, kinds)] ?? [])
            }
            for k in [NamespaceKind.pid, .user] {
                for id in s.ancestors[k] ?? [] { candidates.formUnion(byID[k]![id] ?? []) }
            }
            candidates.remove(i)
            var best: (index: Int, distance: Int)?
            for j in candidates.sorted() where mayDescend(i, from: j) {
                let d = s.key.differences(from: sets[j].key).count
                if best == nil || d < best!.distance { best = (j, d) }
            }
            return best?.index
        }
    }

    /// Each set's number N (`unnamed<N>`): a hash (FNV-1a, 48 bits) of the
    /// 64-bit ids of its eight namespaces (`containerIDs` for those it shares
    /// with its container). A function of the set alone: stable for its life,
    /// when its parent is named or gone, and across restarts, without writing
    /// anything; unique but for a one-in-2^48 chance (then, in key order, the
    /// later takes a salted one). Not the id of one namespace it owns: a
    /// nested set shares its parent's, and ids are unordered across CPUs
    /// (per-CPU batches), so no single id is both its own and stable once
    /// its parent is gone.
    package static func numbers(of sets: [SetFacts], containerIDs: [NamespaceKind: UInt64]) -> [UInt64] {
        var taken = Set<UInt64>()
        var out = [UInt64](repeating: 0, count: sets.count)
        for i in sets.indices.sorted(by: { sets[$0].key < sets[$1].key }) {
            let ids = NamespaceKind.allCases.map { sets[i].ids[$0] ?? containerIDs[$0] ?? 0 }
            var n = hash(ids)
            while taken.contains(n) { n = hash(ids + [n]) }
            taken.insert(n)
            out[i] = n
        }
        return out
    }

    static func hash(_ values: [UInt64]) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for v in values {
            for shift in stride(from: 0, to: 64, by: 8) {
                h = (h ^ ((v >> UInt64(shift)) & 0xff)) &* 0x100000001b3
            }
        }
        return h & 0xffff_ffff_ffff
    }

    package static func name(number: UInt64) -> String { namePrefix + String(number) }

    /// `unnamed` followed by digits: reserved for sets, like the control
    /// entries' names (mkdir or mv to one is EEXIST).
    package static func isSetName(_ name: String) -> Bool {
        guard name.hasPrefix(namePrefix) else { return false }
        let digits = name.utf8.dropFirst(namePrefix.utf8.count)
        return !digits.isEmpty && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
