import Testing
@testable import ContainerTree
import LinuxSystem

/// Limit entries: which directories have them, and who may write them.
@Suite struct LimitRules {
    /// root → a (owned by 1000) → b, and a set below a.
    func tree(controllers: Set<CgroupController> = [.pids]) throws -> (ContainerTree, a: UInt64, b: UInt64, set: UInt64) {
        var t = ContainerTree()
        t.controllers = controllers
        try t.insert(serial: 1, name: "a", parent: 0, owner: .init(uid: 1000, gid: 1000))
        try t.insert(serial: 2, name: "b", parent: 1)
        let set = try #require(t.arrangeSets(in: 1, [.init(name: "unnamed77", parent: nil, serial: nil)]).first ?? nil)
        return (t, 1, 2, set)
    }

    @Test func aSetsNamespacesAreOneLinkNotADirectory() throws {
        let (t, a, _, set) = try tree()
        #expect(t.isNamespaceLink(Inode(serial: set, kind: .nsDirectory)))
        #expect(!t.isNamespaceLink(Inode(serial: a, kind: .nsDirectory)))
        #expect(!t.isNamespaceLink(Inode(serial: 0, kind: .nsDirectory)))
        // st_nlink: ., .., no ns/ directory, no child
        #expect(t.linkCount(of: Inode(serial: set, kind: .container)) == 2)
        #expect(t.linkCount(of: Inode(serial: set, kind: .nsDirectory)) == 1)
        #expect(t.linkCount(of: Inode(serial: a, kind: .container)) == 5)   // ., .., ns, b, the set
    }

    @Test func onlyContainersHaveThemAndOnlyForTheHostsControllers() throws {
        let (t, a, _, set) = try tree()
        let names = t.listing(of: a).map(\.name)
        #expect(names.contains("pids.max") && names.contains("pids.current"))
        #expect(!names.contains("memory.max") && !names.contains("cpu.max"))
        #expect(t.lookup("pids.max", in: Inode(serial: a, kind: .container)) == Inode(serial: a, kind: .control(.pidsMax)))
        #expect(t.lookup("memory.max", in: Inode(serial: a, kind: .container)) == nil)
        // a set shares its container's cgroup; the root is the host's
        #expect(t.lookup("pids.max", in: Inode(serial: set, kind: .container)) == nil)
        #expect(!t.listing(of: 0).contains { $0.name == "pids.max" })
        let (all, _, _, _) = try tree(controllers: Set(CgroupController.allCases))
        #expect(ControlFile.limits.allSatisfy { f in all.listing(of: a).contains { $0.name == f.name } })
    }

    @Test func namesAreReservedEvenWithoutTheController() throws {
        var (t, a, _, _) = try tree(controllers: [])
        #expect(throws: TreeError.exists) { try t.insert(serial: 9, name: "memory.max", parent: a) }
    }

    @Test func inodeSlotsRoundTrip() {
        for f in ControlFile.allCases {
            let ino = Inode(serial: 12, kind: .control(f))
            #expect(Inode(number: ino.number) == ino)
        }
        #expect(Set(ControlFile.allCases.map { Inode(serial: 12, kind: .control($0)).number }).count == ControlFile.allCases.count)
        #expect(ControlFile.pidsMax.optionName == "pids_max" && ControlFile.cpuWeight.optionName == "cpu_weight")
    }

    @Test func aContainerNeverWritesItsOwnLimits() throws {
        let (t, a, b, _) = try tree()
        let insideA = CallerFacts(scope: a, uid: 0, privileged: true)
        #expect(!t.mayChangeLimits(of: a, insideA))
        #expect(t.mayChangeLimits(of: b, insideA))
        let insideB = CallerFacts(scope: b, uid: 0, privileged: true)
        #expect(!t.mayChangeLimits(of: b, insideB) && !t.mayChangeLimits(of: a, insideB))
        let host = CallerFacts(scope: 0, uid: 0, privileged: true)
        #expect(t.mayChangeLimits(of: a, host) && t.mayChangeLimits(of: b, host))
    }

    @Test func delegationGivesTheLimitsBelowNotTheDelegatedContainers() throws {
        let (t, a, b, _) = try tree()
        let alice = CallerFacts(scope: 0, uid: 1000, privileged: false)
        #expect(!t.mayChangeLimits(of: a, alice))
        #expect(t.mayChangeLimits(of: b, alice))
        let bob = CallerFacts(scope: 0, uid: 1001, privileged: false)
        #expect(!t.mayChangeLimits(of: b, bob))
        let fakeRoot = CallerFacts(scope: 0, uid: 0, privileged: false)
        #expect(!t.mayChangeLimits(of: b, fakeRoot))
    }
}

/// Who may change a container itself (its freeze, hostname, limits) and
/// what is below it: its root (of its own user namespace) and delegations.
@Suite struct ContainerRootRules {
    /// AccessRules' tree (/ ─ a (owned by 1000) ─ b ; / ─ c) and d below b (4).
    func tree() throws -> ContainerTree {
        var t = try AccessRules().tree()
        try t.insert(serial: 4, name: "d", parent: 2)
        return t
    }

    @Test func aContainersRootManagesBelowNeverItself() throws {
        let t = try tree()
        let rootOfB = CallerFacts(scope: 2, uid: 589_824, privileged: false, containerRoot: true)
        #expect(t.mayModify(at: 2, rootOfB) && t.mayModify(at: 4, rootOfB))   // mkdir in b, below
        #expect(!t.mayChange(2, rootOfB))                                    // b's own entries
        #expect(t.mayChange(4, rootOfB) && t.mayChangeLimits(of: 4, rootOfB))
        #expect(!t.mayModify(at: 1, rootOfB) && !t.mayChange(1, rootOfB))     // outside its view
        // a non-root id of b's namespace, or root of another namespace inside b
        let userInB = CallerFacts(scope: 2, uid: 590_824, privileged: false, containerRoot: false)
        #expect(!t.mayModify(at: 2, userInB) && !t.mayChange(4, userInB))
    }

    @Test func aDelegatedContainersOwnEntriesAreItsParentsManagers() throws {
        let t = try tree()
        let alice = CallerFacts(scope: 0, uid: 1000, privileged: false)
        #expect(t.mayModify(at: 1, alice))      // below a: hers
        #expect(!t.mayChange(1, alice))         // a's freeze and hostname: root's
        #expect(t.mayChange(2, alice))          // b's: hers
        #expect(t.entryOwner(of: 1) == .root && t.entryOwner(of: 2) == .init(uid: 1000, gid: 1000))
        let host = CallerFacts(scope: 0, uid: 0, privileged: true)
        #expect(t.mayChange(1, host) && t.mayChange(4, host))
    }
}

/// Modes and the sticky bit, as on a POSIX directory.
@Suite struct ModeRules {
    /// / ─ p (root, 1777) ─ n (1000, 755), u (1001, 755)
    func tree() throws -> ContainerTree {
        var t = ContainerTree()
        try t.insert(serial: 1, name: "p", parent: 0, mode: 0o1777)
        try t.insert(serial: 2, name: "n", parent: 1, owner: .init(uid: 1000, gid: 1000))
        try t.insert(serial: 3, name: "u", parent: 1, owner: .init(uid: 1001, gid: 1001))
        return t
    }

    @Test func writeAndSearchBitsDecide() throws {
        var t = try tree()
        let alice = CallerFacts(scope: 0, uid: 1000, privileged: false)
        #expect(t.mayModify(at: 1, alice) && t.mayModify(at: 2, alice) && !t.mayModify(at: 3, alice))
        #expect(!t.mayModify(at: 0, alice))              // the root: 755, root's
        t.setMode(3, 0o775)
        let group = CallerFacts(scope: 0, uid: 2000, gid: 1001, privileged: false)
        #expect(t.mayModify(at: 3, group) && !t.mayModify(at: 2, group))
        t.setMode(3, 0o705)                              // others: r-x, no write
        #expect(!t.mayModify(at: 3, CallerFacts(scope: 0, uid: 3000, privileged: false)))
        #expect(!t.mayModify(at: 1, CallerFacts(scope: 0, uid: 0, privileged: false)))   // dropped root
    }

    @Test func theStickyBitKeepsOthersChildren() throws {
        let t = try tree()
        let alice = CallerFacts(scope: 0, uid: 1000, privileged: false)
        #expect(t.mayRemove(2, alice) && !t.mayRemove(3, alice))
        #expect(t.mayRemove(3, CallerFacts(scope: 0, uid: 0, privileged: true)))
        #expect(t.mayChangeMode(2, alice) && !t.mayChangeMode(3, alice) && !t.mayChangeMode(0, alice))
    }
}

/// Entries added after containers could take their names: signal, root, mounts, log, mkdir.
@Suite struct EntriesAddedLater {
    @Test(arguments: [ControlFile.signal, .root, .mounts, .log, .mkdir])
    func containersHaveItRootAndSetsDoNot(_ entry: ControlFile) throws {
        var t = ContainerTree()
        try t.insert(serial: 1, name: "a", parent: ContainerTree.rootSerial)
        let set = try #require(t.arrangeSets(in: 1, [.init(name: "unnamed5", parent: nil, serial: nil)]).first ?? nil)
        #expect(t.hasEntry(entry, 1))
        #expect(!t.hasEntry(entry, ContainerTree.rootSerial))
        #expect(!t.hasEntry(entry, set))
        #expect(t.lookup(entry.name, in: Inode(serial: 1, kind: .container)) == Inode(serial: 1, kind: .control(entry)))
        // a name new containers may not take
        guard case .failure(.exists) = t.checkCreate(parent: 1, name: Array(entry.name.utf8)) else { Issue.record("\(entry.name) could be made"); return }
    }

    @Test(arguments: [ControlFile.signal, .root, .mounts, .log, .mkdir])
    func aContainerNamedSoBeforeIsAdoptedAndKeepsTheName(_ entry: ControlFile) throws {
        var t = ContainerTree()
        try t.insert(serial: 1, name: "a", parent: ContainerTree.rootSerial)
        try t.insert(serial: 2, name: entry.name, parent: 1)
        #expect(!t.hasEntry(entry, 1))
        #expect(t.lookup(entry.name, in: Inode(serial: 1, kind: .container)) == Inode(serial: 2, kind: .container))
        #expect(t.listing(of: 1).filter { $0.name == entry.name }.count == 1)
        // the other entries' names stay refused
        #expect(throws: TreeError.exists) { try t.insert(serial: 3, name: "status", parent: 1) }
    }
}

/// The line the host's root writes to a container's `mkdir` entry.
@Suite struct MkdirRequestLines {
    @Test func aNameAndTheIdsAskedFor() {
        #expect(MkdirRequest.parse(Array("web\n".utf8)) == MkdirRequest(name: Array("web".utf8)))
        #expect(MkdirRequest.parse(Array("web ids=200000:65536".utf8)) == MkdirRequest(name: Array("web".utf8), ids: (200_000, 65_536)))
        #expect(MkdirRequest.parse(Array("a ids=0:1\n".utf8)) == MkdirRequest(name: Array("a".utf8), ids: (0, 1)))
    }

    @Test(arguments: ["", "\n", " web", "web ", "web ids=", "web ids=1", "web ids=1:0", "web ids=1:65537", "web ids=-1:5",
                      "web ids=4294967295:2", "web uids=1:2", "web ids=1:2 more", "we\nb", "web ids=+1:2", "web ids=1:2\n\n"])
    func anythingElseIsRefused(_ line: String) {
        #expect(MkdirRequest.parse(Array(line.utf8)) == nil)
    }
}
