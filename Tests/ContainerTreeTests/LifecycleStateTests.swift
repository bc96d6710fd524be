import Testing
@testable import ContainerTree

/// The states that keep two requests for one name or container from
/// interleaving while the runtime works outside its lock.
/// The refusal of a check, nil if it passed.
func refusal(_ r: Result<Void, TreeError>) -> TreeError? {
    if case .failure(let e) = r { return e }
    return nil
}

/// A tree with one running container, `name`, serial 1, below the root.
func treeWithOneContainer(_ name: String) throws -> (ContainerTree, UInt64) {
    var t = ContainerTree()
    try t.insert(serial: 1, name: name, parent: 0)
    return (t, 1)
}

@Suite struct LifecycleStates {
    func tree() throws -> (ContainerTree, a: UInt64) { try treeWithOneContainer("a") }

    @Test func aNameBeingCreatedIsTakenButNotVisible() throws {
        var (t, a) = try tree()
        let (x, name) = try t.beginCreate(parent: a, name: Array("x".utf8)).get()
        #expect(name == "x")
        // A second mkdir of the same name while the first spawns: EEXIST.
        let second = t.beginCreate(parent: a, name: Array("x".utf8)).map(\.serial)
        #expect(second == .failure(.exists))
        // Not listed, not found, not counted in st_nlink, not visible.
        #expect(t.lookup("x", in: Inode(serial: a, kind: .container)) == nil)
        #expect(!t.listing(of: a).contains { $0.name == "x" })
        #expect(t.linkCount(of: Inode(serial: a, kind: .container)) == 3)
        #expect(!t.isVisible(x, to: 0))
        // Its parent cannot be removed meanwhile.
        #expect(refusal(t.checkRemove(a)) == .notEmpty)
        let finished = t.finishCreate(x)
        #expect(finished)
        #expect(t.lookup("x", in: Inode(serial: a, kind: .container)) == Inode(serial: x, kind: .container))
    }

    @Test func anAbandonedCreateFreesTheName() throws {
        var (t, a) = try tree()
        let (x, _) = try t.beginCreate(parent: a, name: Array("x".utf8)).get()
        t.abandonCreate(x)
        #expect(t.node(x) == nil)
        #expect(t.checkCreate(parent: a, name: Array("x".utf8)) == .success("x"))
    }

    @Test func aContainerBeingRemovedTakesNoChildrenAndNoRename() throws {
        var (t, a) = try tree()
        #expect(refusal(t.beginRemove(a)) == nil)
        #expect(t.node(a)?.state == .removing)
        // Still there for readers until the kill is done.
        #expect(t.lookup("a", in: .root) == Inode(serial: a, kind: .container))
        #expect(t.checkCreate(parent: a, name: Array("x".utf8)) == .failure(.notFound))
        #expect(t.checkRename(a, to: 0, name: Array("b".utf8)) == .failure(.notFound))
        // A second rmdir racing the first: already going.
        let second = t.beginRemove(a)
        #expect(refusal(second) == .notFound)
        t.finishRemove(a)
        #expect(t.node(a) == nil)
        #expect(t.checkCreate(parent: 0, name: Array("a".utf8)) == .success("a"))
    }

    @Test func aFailedKillPutsTheContainerBack() throws {
        var (t, a) = try tree()
        _ = t.beginRemove(a)
        t.cancelRemove(a)
        #expect(t.node(a)?.state == .running)
        #expect(t.checkRename(a, to: 0, name: Array("b".utf8)) == .success("b"))
    }

    @Test func aDyingSubtreeTakesItsCreatingChildWithIt() throws {
        var (t, a) = try tree()
        try t.insert(serial: 2, name: "b", parent: a)
        let (x, _) = try t.beginCreate(parent: 2, name: Array("x".utf8)).get()
        let order = t.beginRemoveSubtree(a)
        #expect(order == [x, 2, a])
        for s in order { t.finishRemove(s) }
        #expect(t.count == 0)
        // The mkdir that was spawning finds its name gone.
        let finished = t.finishCreate(x)
        #expect(!finished)
    }
}

@Suite struct AccessRules {
    /// / ─ a (owned by 1000) ─ b ; / ─ c
    func tree() throws -> ContainerTree {
        var t = ContainerTree()
        try t.insert(serial: 1, name: "a", parent: 0, owner: .init(uid: 1000, gid: 1000))
        try t.insert(serial: 2, name: "b", parent: 1)
        try t.insert(serial: 3, name: "c", parent: 0)
        return t
    }

    @Test func visibilityIsTheCallersSubtree() throws {
        let t = try tree()
        #expect([0, 1, 2, 3].allSatisfy { t.isVisible($0, to: 0) })
        #expect(t.isVisible(1, to: 1) && t.isVisible(2, to: 1))
        #expect(!t.isVisible(0, to: 1) && !t.isVisible(3, to: 1))
        #expect(!t.isVisible(99, to: 0))
    }

    @Test func privilegedCallersChangeWhatTheySee() throws {
        let t = try tree()
        let host = CallerFacts(scope: 0, uid: 0, privileged: true)
        #expect(t.mayModify(at: 0, host) && t.mayModify(at: 3, host))
        let inside = CallerFacts(scope: 1, uid: 0, privileged: true)
        #expect(t.mayModify(at: 2, inside))
        #expect(!t.mayModify(at: 3, inside))   // outside its container
    }

    @Test func delegationIsTheChownedDirectorysNotItsSubtrees() throws {
        var t = try tree()
        let alice = CallerFacts(scope: 0, uid: 1000, privileged: false)
        // a is hers: she creates, removes and renames in it...
        #expect(t.mayModify(at: 1, alice) && t.mayRemove(2, alice))
        // ...but b, made there by root (755, root's), is not: as on a POSIX
        // directory (what she makes below a is hers, owned by her).
        #expect(!t.mayModify(at: 2, alice))
        t.setOwner(2, .init(uid: 1000, gid: 1000))
        #expect(t.mayModify(at: 2, alice))
        #expect(!t.mayModify(at: 0, alice) && !t.mayModify(at: 3, alice))
        let bob = CallerFacts(scope: 0, uid: 1001, privileged: false)
        #expect(!t.mayModify(at: 1, bob) && !t.mayModify(at: 2, bob))
    }

    @Test func uidZeroWithoutTheCapabilityGetsNothing() throws {
        let t = try tree()
        // Root of an unprivileged user namespace: uid 0, not privileged.
        let fakeRoot = CallerFacts(scope: 0, uid: 0, privileged: false)
        #expect(![0, 1, 2, 3].contains { t.mayModify(at: $0, fakeRoot) })
    }
}
