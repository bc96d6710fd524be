import LinuxSystem
import Testing
@testable import ContainerTree

/// The nesting rule and the names of sets, with made-up namespaces: a
/// container C and sets that differ from it in some kinds.
@Suite struct SetNesting {
    /// C's namespaces: inode 100 + kind, id 1000 + kind.
    static let containerKey = SetKey(inodes: NamespaceKind.allCases.map { 100 + UInt64($0.rawValue) })
    static let containerIDs = Dictionary(uniqueKeysWithValues: NamespaceKind.allCases.map { ($0, 1000 + UInt64($0.rawValue)) })

    /// A set with its own namespaces `own` (kind → a number used as inode
    /// and id), the container's for the rest.
    static func set(_ own: [NamespaceKind: UInt64], ancestors: [NamespaceKind: [UInt64]] = [:]) -> SetFacts {
        var inodes = containerKey.inodes
        for (k, v) in own { inodes[k.rawValue] = v }
        return SetFacts(key: SetKey(inodes: inodes), ids: own, ancestors: ancestors)
    }

    @Test func aSetMadeInsideAnotherIsItsChildAndOneMadeElsewhereASibling() {
        // unshare --mount in C (A); unshare --net inside A (B); unshare --net elsewhere (D)
        let a = Self.set([.mnt: 50_001])
        let b = Self.set([.mnt: 50_001, .net: 7])        // ids unordered across CPUs: 7 < 50_001
        let d = Self.set([.net: 90_000])
        let parents = SetForest.parents(of: [a, b, d], containerIDs: Self.containerIDs)
        #expect(parents == [nil, 0, nil])
    }

    @Test func twoSetsThatEachMadeOneKindAreSiblingsUnlessTheirProcessesSayOtherwise() {
        // two logins, each with a private /tmp: nothing relates them
        let one = Self.set([.mnt: 10])
        let two = Self.set([.mnt: 20])
        #expect(SetForest.parents(of: [one, two]) == [nil, nil])
        // `unshare --mount` from a shell of `one`: its processes descend from one's
        let related = SetForest.parents(of: [one, two], processAncestors: [[], [0]])
        #expect(related == [nil, 0])
    }

    @Test func pidAndUserNamespacesFollowTheKernelsAncestry() {
        // P: its own pid namespace (child of C's); Q: made inside P (P's pid + a uts)
        let p = Self.set([.pid: 70], ancestors: [.pid: [1004]])
        let q = Self.set([.pid: 70, .uts: 71], ancestors: [.pid: [1004]])
        // R: a pid namespace of its own, whose parent is P's
        let r = Self.set([.pid: 72], ancestors: [.pid: [70, 1004]])
        // X: joined the host's pid namespace (nsenter from outside): not C's descendant
        let x = Self.set([.pid: 4, .mnt: 73], ancestors: [.pid: []])
        let parents = SetForest.parents(of: [p, q, r, x], containerIDs: Self.containerIDs)
        #expect(parents[0] == nil)
        #expect(parents[1] == 0)
        #expect(parents[2] == 0)
        #expect(parents[3] == nil)
    }

    @Test func aSetThatKeptTheContainersNamespaceCannotBeBelowOneThatMadeIt() {
        let a = Self.set([.mnt: 1])
        let b = Self.set([.net: 2])
        // b differs from a in mnt (b has C's) and net (a has C's): neither nests
        #expect(SetForest.parents(of: [a, b]) == [nil, nil])
    }

    @Test func theFewestDifferencesWin() {
        let a = Self.set([.mnt: 1])
        let ab = Self.set([.mnt: 1, .net: 2])
        let abc = Self.set([.mnt: 1, .net: 2, .uts: 3])
        #expect(SetForest.parents(of: [abc, ab, a]) == [1, 2, nil])
    }

    @Test func aThousandSetsAreArrangedWithoutComparingEveryPair() {
        // 1,000 logins with a private /tmp each, and one set nested in each
        var sets: [SetFacts] = []
        for i in 0..<1000 { sets.append(Self.set([.mnt: 10_000 + UInt64(i)])) }
        for i in 0..<1000 { sets.append(Self.set([.mnt: 10_000 + UInt64(i), .net: 20_000 + UInt64(i)])) }
        let parents = SetForest.parents(of: sets, containerIDs: Self.containerIDs)
        #expect(parents[..<1000].allSatisfy { $0 == nil })
        #expect(parents[1000...].enumerated().allSatisfy { $0.element == $0.offset })
    }

    @Test func numbersDependOnTheSetAloneAndDiffer() {
        let a = Self.set([.mnt: 1])
        let b = Self.set([.mnt: 1, .net: 2])
        let both = SetForest.numbers(of: [a, b], containerIDs: Self.containerIDs)
        #expect(both[0] != both[1])
        // the same set gets the same number whatever else is there (stable
        // when its parent is named or gone, and after a restart)
        #expect(SetForest.numbers(of: [b], containerIDs: Self.containerIDs) == [both[1]])
        #expect(SetForest.numbers(of: [b, a], containerIDs: Self.containerIDs) == [both[1], both[0]])
        #expect(both.allSatisfy { $0 < 1 << 48 })
    }

    @Test func setNamesAreUnnamedAndDigits() {
        #expect(SetForest.isSetName("unnamed1"))
        #expect(SetForest.isSetName("unnamed281474976710655"))
        #expect(!SetForest.isSetName("unnamed"))
        #expect(!SetForest.isSetName("unnamed1x"))
        #expect(!SetForest.isSetName("Unnamed1"))
        #expect(SetForest.name(number: 42) == "unnamed42")
    }
}

@Suite struct SetsInTheTree {
    func tree() throws -> (ContainerTree, c: UInt64) { try treeWithOneContainer("c") }

    @Test func setNamesAreReservedForMkdirAndMv() throws {
        var (t, c) = try tree()
        #expect(refusal(t.checkCreate(parent: c, name: Array("unnamed5".utf8)).map { _ in () }) == .exists)
        try t.insert(serial: 2, name: "x", parent: c)
        #expect(refusal(t.checkRename(2, to: c, name: Array("unnamed5".utf8)).map { _ in () }) == .exists)
        #expect((try? t.checkCreate(parent: c, name: Array("unnamed".utf8)).get()) == "unnamed")
    }

    @Test func arrangingKeepsSerialsAndNestsAndDrops() throws {
        var (t, c) = try tree()
        let first = t.arrangeSets(in: c, [
            .init(name: "unnamed1", parent: nil, serial: nil),
            .init(name: "unnamed2", parent: 0, serial: nil),
        ])
        let a = try #require(first[0]), b = try #require(first[1])
        #expect(t.path(of: b) == ["c", "unnamed1", "unnamed2"])
        #expect(t.node(a)?.unnamed == true)
        #expect(t.linkCount(of: Inode(serial: c, kind: .container)) == 4)
        // A's processes exit: B moves up, keeping its serial (its inode)
        let second = t.arrangeSets(in: c, [.init(name: "unnamed2", parent: nil, serial: b)])
        #expect(second == [b])
        #expect(t.node(a) == nil)
        #expect(t.path(of: b) == ["c", "unnamed2"])
        // none left
        _ = t.arrangeSets(in: c, [])
        #expect(t.node(b) == nil)
        #expect(t.sets(below: c).isEmpty)
    }

    @Test func noContainerBelowASetAndANestedSetIsNamedAfterItsParent() throws {
        var (t, c) = try tree()
        let s = t.arrangeSets(in: c, [.init(name: "unnamed1", parent: nil, serial: nil),
                                      .init(name: "unnamed2", parent: 0, serial: nil)])
        let a = try #require(s[0]), b = try #require(s[1])
        #expect(refusal(t.checkCreate(parent: a, name: Array("x".utf8)).map { _ in () }) == .unnamedParent)
        #expect(refusal(t.checkRename(b, to: a, name: Array("bee".utf8)).map { _ in () }) == .unnamedParent)
        #expect(refusal(t.checkRename(b, to: c, name: Array("bee".utf8)).map { _ in () }) == .crossParent)
        try t.rename(a, to: c, name: Array("named".utf8))
        #expect(t.node(a)?.unnamed == false)
        #expect(t.owningContainer(of: b) == a)
    }

    @Test func setsDoNotKeepTheirContainerFromBeingRemoved() throws {
        var (t, c) = try tree()
        _ = t.arrangeSets(in: c, [.init(name: "unnamed1", parent: nil, serial: nil)])
        #expect(refusal(t.checkRemove(c)) == nil)
        t.finishRemove(c)
        #expect(t.node(c) == nil)
        #expect(t.count == 0)
    }

    @Test func aNameAContainerTookBeforeNamesWereReservedWins() throws {
        var (t, c) = try tree()
        try t.insert(serial: 2, name: "unnamed9", parent: c)   // adopted from an old store
        let s = t.arrangeSets(in: c, [.init(name: "unnamed9", parent: nil, serial: nil)])
        #expect(s == [nil])
        #expect(t.child(of: c, named: "unnamed9") == 2)
    }
}
