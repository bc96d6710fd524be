import ContainerTree
import LinuxSystem
import Testing
@testable import FuseAdapter
#if canImport(Glibc)
import Glibc
#endif

/// The errno a user sees for each request that changes the tree, from the
/// pure model and made-up callers: no root, no mount (Decisions.swift).
@Suite struct ErrnoMatrix {
    typealias Node = Decide.Node
    let tree: ContainerTree
    let set: UInt64
    let hostSet: UInt64

    // root 0755 root
    //   a      0755 alice     a/inner 0755 alice, a/unnamed… (a set)
    //   tmp    1777 root      tmp/alice (alice), tmp/bob (bob)
    //   locked 0755 root
    //   unnamed… (one of the host's sets)
    static let a: UInt64 = 1, inner: UInt64 = 2, tmp: UInt64 = 3, tmpAlice: UInt64 = 4, tmpBob: UInt64 = 5, locked: UInt64 = 6
    static let alice = ContainerTree.Owner(uid: 1000, gid: 1000), bob = ContainerTree.Owner(uid: 2000, gid: 2000)

    init() throws {
        var t = ContainerTree()
        try t.insert(serial: Self.a, name: "a", parent: ContainerTree.rootSerial, owner: Self.alice)
        try t.insert(serial: Self.inner, name: "inner", parent: Self.a, owner: Self.alice)
        try t.insert(serial: Self.tmp, name: "tmp", parent: ContainerTree.rootSerial, mode: 0o1777)
        try t.insert(serial: Self.tmpAlice, name: "alice", parent: Self.tmp, owner: Self.alice)
        try t.insert(serial: Self.tmpBob, name: "bob", parent: Self.tmp, owner: Self.bob)
        try t.insert(serial: Self.locked, name: "locked", parent: ContainerTree.rootSerial)
        set = try #require(t.arrangeSets(in: Self.a, [.init(name: "unnamed7", parent: nil, serial: nil)]).first ?? nil)
        hostSet = try #require(t.arrangeSets(in: ContainerTree.rootSerial, [.init(name: "unnamed8", parent: nil, serial: nil)]).first ?? nil)
        tree = t
    }

    // Callers
    let hostRoot = CallerFacts(scope: ContainerTree.rootSerial, uid: 0, privileged: true)
    let aliceOnHost = CallerFacts(scope: ContainerTree.rootSerial, uid: 1000, privileged: false)
    let bobOnHost = CallerFacts(scope: ContainerTree.rootSerial, uid: 2000, privileged: false)
    /// uid 0 without CAP_SYS_ADMIN: nothing beyond others' bits.
    let droppedRoot = CallerFacts(scope: ContainerTree.rootSerial, uid: 0, privileged: false)
    /// Root of a's own user namespace, inside a.
    let rootInA = CallerFacts(scope: ErrnoMatrix.a, uid: 0, privileged: false, containerRoot: true)

    func node(_ inode: Inode) -> Node? { Decide.Node.resolve(inode, in: tree, isHostSet: { $0 == hostSet }) }
    func container(_ s: UInt64) -> Node { node(Inode(serial: s, kind: .container))! }
    var root: Node { container(ContainerTree.rootSerial) }

    @Test func nodesAreWhatTheTreeSays() {
        #expect(node(Inode(serial: set, kind: .container)) == .set(set))
        #expect(node(Inode(serial: hostSet, kind: .container)) == .hostSet(hostSet))
        #expect(node(Inode(serial: Self.a, kind: .container)) == .container(Self.a))
        #expect(node(Inode(serial: Self.a, kind: .control(.status))) == .control(Self.a, .status))
        #expect(node(Inode(serial: 99, kind: .container)) == nil)
        #expect(node(Inode(serial: set, kind: .nsDirectory)) == .nsLink(set))
        #expect(node(Inode(serial: Self.a, kind: .nsDirectory)) == .nsDirectory(Self.a))
        #expect(Node.set(set).isSet && Node.hostSet(hostSet).isSet && !Node.container(Self.a).isSet)
    }

    @Test func lookupOfANameOver255BytesIsENAMETOOLONG() {
        #expect(Decide.lookup(nameLength: 256) == ENAMETOOLONG)
        #expect(Decide.lookup(nameLength: 255) == nil)
    }

    @Test func rmdir() {
        func rmdir(_ child: Node?, in dir: Node, by f: CallerFacts, resent: Bool = false) -> Decide.Removal {
            Decide.rmdir(child, in: dir, resent: resent, facts: f, tree: tree)
        }
        let a = container(Self.a)
        let cases: [(Decide.Removal, Decide.Removal, String)] = [
            (rmdir(nil, in: root, by: hostRoot), .refuse(ENOENT), "no such name"),
            (rmdir(nil, in: root, by: hostRoot, resent: true), .refuse(0), "sent again, gone: done"),
            (rmdir(.control(Self.a, .status), in: a, by: hostRoot), .refuse(ENOTDIR), "a control entry"),
            (rmdir(.namespace(Self.a, .net), in: .nsDirectory(Self.a), by: hostRoot), .refuse(ENOTDIR), "a namespace handle"),
            (rmdir(.nsDirectory(Self.a), in: a, by: hostRoot), .renewNamespaceHandles(Self.a), "ns/"),
            (rmdir(.set(set), in: a, by: hostRoot), .removeSet(set), "a set"),
            (rmdir(.nsLink(set), in: .set(set), by: hostRoot), .refuse(ENOTDIR), "a set's ns: a link"),
            (rmdir(.hostSet(hostSet), in: root, by: hostRoot), .refuse(EPERM), "the host's set"),
            (rmdir(a, in: root, by: hostRoot), .removeContainer(Self.a), "privileged"),
            (rmdir(container(Self.locked), in: root, by: aliceOnHost), .refuse(EACCES), "root's 0755 directory"),
            (rmdir(a, in: root, by: droppedRoot), .refuse(EACCES), "uid 0 without the capability"),
            (rmdir(container(Self.tmpBob), in: container(Self.tmp), by: aliceOnHost), .refuse(EPERM), "sticky: bob's"),
            (rmdir(container(Self.tmpAlice), in: container(Self.tmp), by: aliceOnHost), .removeContainer(Self.tmpAlice), "sticky: her own"),
            (rmdir(container(Self.inner), in: a, by: aliceOnHost), .removeContainer(Self.inner), "her delegated subtree"),
            (rmdir(container(Self.inner), in: a, by: bobOnHost), .refuse(EACCES), "someone else's subtree"),
            (rmdir(container(Self.inner), in: a, by: rootInA), .removeContainer(Self.inner), "a's root, below a"),
        ]
        for (got, expected, what) in cases { #expect(got == expected, "\(what)") }
    }

    @Test func unlink() {
        func unlink(_ child: Node?, in dir: Node, by f: CallerFacts, resent: Bool = false) -> Decide.Unlinking {
            Decide.unlink(child, in: dir, resent: resent, facts: f, tree: tree)
        }
        let a = container(Self.a)
        #expect(unlink(.control(Self.a, .status), in: a, by: hostRoot) == .hide(Inode(serial: Self.a, kind: .control(.status))))
        #expect(unlink(.namespace(Self.a, .mnt), in: .nsDirectory(Self.a), by: hostRoot) == .hide(Inode(serial: Self.a, kind: .namespace(.mnt))))
        #expect(unlink(container(Self.inner), in: a, by: hostRoot) == .refuse(EISDIR))
        #expect(unlink(.nsDirectory(Self.a), in: a, by: hostRoot) == .refuse(EISDIR))
        #expect(unlink(.set(set), in: a, by: hostRoot) == .refuse(EISDIR))
        #expect(unlink(.nsLink(set), in: .set(set), by: hostRoot) == .hide(Inode(serial: set, kind: .nsDirectory)))
        #expect(unlink(nil, in: a, by: hostRoot) == .refuse(ENOENT))
        #expect(unlink(nil, in: a, by: hostRoot, resent: true) == .refuse(0))
        #expect(unlink(.control(Self.locked, .hostname), in: container(Self.locked), by: aliceOnHost) == .refuse(EACCES))
    }

    @Test func mkdir() {
        func mkdir(_ name: String = "new", in dir: Node, by f: CallerFacts, done: UInt64? = nil) -> Decide.Creation {
            Decide.mkdir(Array(name.utf8), in: dir, doneBy: done, facts: f, tree: tree)
        }
        #expect(mkdir(in: root, by: hostRoot) == .create)
        #expect(mkdir(in: root, by: aliceOnHost) == .refuse(EACCES))
        #expect(mkdir(in: container(Self.a), by: aliceOnHost) == .create)
        #expect(mkdir(in: container(Self.tmp), by: bobOnHost) == .create)
        #expect(mkdir(in: container(Self.a), by: rootInA) == .create)
        #expect(mkdir(in: .nsDirectory(Self.a), by: hostRoot) == .refuse(EPERM))
        #expect(mkdir(in: .control(Self.a, .status), by: hostRoot) == .refuse(EPERM))
        // Sent again after the daemon died: the container it made.
        #expect(mkdir(in: root, by: aliceOnHost, done: 42) == .done(42))
        // No container below a set: name the set first.
        #expect(mkdir(in: .set(set), by: hostRoot) == .refuse(EPERM))
        // The name: taken, reserved, invalid, too long; permission first.
        #expect(mkdir("a", in: root, by: hostRoot) == .refuse(EEXIST))
        #expect(mkdir("status", in: root, by: hostRoot) == .refuse(EEXIST))
        #expect(mkdir("unnamed12", in: root, by: hostRoot) == .refuse(EEXIST))
        #expect(mkdir("x/y", in: root, by: hostRoot) == .refuse(EINVAL))
        #expect(mkdir(String(repeating: "n", count: 256), in: root, by: hostRoot) == .refuse(ENAMETOOLONG))
        #expect(mkdir("a", in: root, by: aliceOnHost) == .refuse(EACCES))
    }

    @Test func rename() {
        func mv(_ child: Node?, in dir: Node, to target: Node?, by f: CallerFacts, exchange: Bool = false, done: Bool = false) -> Decide.Renaming {
            Decide.rename(child, in: dir, to: target, exchange: exchange, doneBy: done, facts: f, tree: tree)
        }
        let a = container(Self.a), tmp = container(Self.tmp)
        let cases: [(Decide.Renaming, Decide.Renaming, String)] = [
            (mv(container(Self.inner), in: a, to: a, by: hostRoot), .rename(Self.inner, to: Self.a), "a container"),
            (mv(container(Self.inner), in: a, to: a, by: hostRoot, exchange: true), .refuse(EINVAL), "RENAME_EXCHANGE"),
            (mv(.control(Self.a, .status), in: a, to: a, by: hostRoot), .refuse(EPERM), "a control entry"),
            (mv(container(Self.inner), in: a, to: .control(Self.a, .status), by: hostRoot), .refuse(ENOTDIR), "into a file"),
            (mv(container(Self.inner), in: a, to: .nsDirectory(Self.a), by: hostRoot), .refuse(EPERM), "into ns/"),
            (mv(.set(set), in: a, to: a, by: hostRoot), .nameSet(set), "naming a set"),
            (mv(.set(set), in: a, to: root, by: hostRoot), .refuse(EPERM), "a set to another parent"),
            (mv(.hostSet(hostSet), in: root, to: root, by: hostRoot), .nameHostSet(hostSet), "naming a host set"),
            (mv(container(Self.tmpBob), in: tmp, to: tmp, by: aliceOnHost), .refuse(EPERM), "sticky: bob's"),
            (mv(container(Self.tmpAlice), in: tmp, to: tmp, by: aliceOnHost), .rename(Self.tmpAlice, to: Self.tmp), "sticky: her own"),
            (mv(container(Self.locked), in: root, to: root, by: aliceOnHost), .refuse(EACCES), "root's directory"),
            (mv(nil, in: root, to: root, by: hostRoot), .refuse(ENOENT), "no such name"),
            (mv(a, in: root, to: nil, by: hostRoot), .refuse(ENOENT), "no such target"),
            (mv(nil, in: root, to: root, by: hostRoot, done: true), .refuse(0), "sent again, done"),
        ]
        for (got, expected, what) in cases { #expect(got == expected, "\(what)") }
    }

    @Test func chmodChownTouchAndTruncate() {
        typealias Change = Decide.AttributeChange
        func set(_ n: Node, _ c: Change, by f: CallerFacts) -> [Decide.AttributeStep] { Decide.setattr(n, c, facts: f, tree: tree) }
        let a = container(Self.a)
        // chmod: the owner or the privileged; never a set, never the root
        #expect(set(a, Change(mode: 0o1777), by: aliceOnHost) == [.setMode(0o1777)])
        #expect(set(a, Change(mode: 0o700), by: bobOnHost) == [.refuse(EPERM)])
        #expect(set(a, Change(mode: 0o700), by: droppedRoot) == [.refuse(EPERM)])
        #expect(set(.set(self.set), Change(mode: 0o700), by: hostRoot) == [.refuse(EPERM)])
        #expect(set(root, Change(mode: 0o700), by: hostRoot) == [.refuse(EPERM)])
        // times: the creation time, never changed; after a mode in the same call
        #expect(set(a, Change(times: true), by: hostRoot) == [.refuse(EPERM)])
        #expect(set(a, Change(mode: 0o750, times: true), by: hostRoot) == [.setMode(0o750), .refuse(EPERM)])
        // chown: the privileged only, never the root or the caller's own container
        #expect(set(a, Change(uid: 1000), by: hostRoot) == [.setOwner(uid: 1000, gid: nil)])
        #expect(set(a, Change(uid: 1000, gid: 7), by: aliceOnHost) == [.refuse(EPERM)])
        #expect(set(root, Change(uid: 1000), by: hostRoot) == [.refuse(EPERM)])
        #expect(set(a, Change(uid: 1000), by: CallerFacts(scope: Self.a, uid: 0, privileged: true)) == [.refuse(EPERM)])
        #expect(set(.set(self.set), Change(gid: 5), by: hostRoot) == [.refuse(EPERM)])
        // truncation (`echo x > file`): the writable entries, by who may write them
        #expect(set(.control(Self.a, .hostname), Change(size: true), by: hostRoot) == [])
        #expect(set(.control(Self.a, .status), Change(size: true), by: hostRoot) == [.refuse(EACCES)])
        #expect(set(.control(ContainerTree.rootSerial, .hostname), Change(size: true), by: hostRoot) == [.refuse(EACCES)])
        #expect(set(a, Change(size: true), by: hostRoot) == [.refuse(EISDIR)])
        #expect(set(.nsDirectory(Self.a), Change(size: true), by: hostRoot) == [.refuse(EISDIR)])
        // a container's own knobs are its parent's manager's: alice manages inner, not a
        #expect(set(.control(Self.inner, .hostname), Change(size: true), by: aliceOnHost) == [])
        #expect(set(.control(Self.a, .hostname), Change(size: true), by: aliceOnHost) == [.refuse(EACCES)])
    }

    @Test func openAndWrite() {
        func open(_ n: Node, by f: CallerFacts) -> Int32? { Decide.open(n, writing: true, facts: f, tree: tree) }
        #expect(Decide.open(.control(Self.a, .status), writing: false, facts: aliceOnHost, tree: tree) == nil)
        #expect(open(.control(Self.a, .status), by: hostRoot) == EACCES)
        #expect(open(.control(Self.a, .hostname), by: hostRoot) == nil)
        #expect(open(.control(ContainerTree.rootSerial, .hostname), by: hostRoot) == EACCES)
        #expect(open(.nsDirectory(Self.a), by: hostRoot) == ENOENT)
        // limits: never from inside the container itself
        #expect(open(.control(Self.inner, .pidsMax), by: rootInA) == nil)
        #expect(open(.control(Self.a, .pidsMax), by: rootInA) == EACCES)
        #expect(open(.control(Self.a, .hostname), by: rootInA) == EACCES)
        func write(_ c: ControlFile, of s: UInt64, at offset: Int64 = 0, by f: CallerFacts?) -> Int32? {
            Decide.write(c, of: s, offset: offset, writer: f, tree: tree)
        }
        #expect(write(.hostname, of: Self.a, by: hostRoot) == nil)
        #expect(write(.hostname, of: Self.a, at: 1, by: hostRoot) == EINVAL)
        // a writer that cannot see the file: refused, not "no such file"
        #expect(write(.hostname, of: Self.a, by: nil) == EACCES)
        #expect(write(.hostname, of: Self.a, by: aliceOnHost) == EACCES)
        #expect(write(.freeze, of: Self.inner, by: aliceOnHost) == nil)
        // signal: as freeze, the parent's manager's
        #expect(write(.signal, of: Self.inner, by: aliceOnHost) == nil)
        #expect(write(.signal, of: Self.a, by: aliceOnHost) == EACCES)
        #expect(write(.signal, of: Self.a, by: rootInA) == EACCES)
        #expect(write(.signal, of: Self.inner, by: rootInA) == nil)
        // root: as limits, never by the container itself
        #expect(open(.control(Self.a, .root), by: rootInA) == EACCES)
        #expect(open(.control(Self.inner, .root), by: rootInA) == nil)
        #expect(write(.root, of: Self.a, by: rootInA) == EACCES)
        #expect(write(.root, of: Self.a, by: hostRoot) == nil)
        #expect(write(.root, of: Self.a, at: 3, by: hostRoot) == EINVAL)
        // mkdir (host ids asked for): the host's root only — not a container's
        // root below it, not the owner of the container on the host
        #expect(write(.mkdir, of: Self.a, by: hostRoot) == nil)
        #expect(write(.mkdir, of: Self.inner, by: rootInA) == EACCES)
        #expect(write(.mkdir, of: Self.a, by: aliceOnHost) == EACCES)
        #expect(open(.control(Self.inner, .mkdir), by: rootInA) == EACCES)
        #expect(open(.control(ContainerTree.rootSerial, .mkdir), by: hostRoot) == EACCES)
        // restoring a snapshot (tar x): read-only entries are taken (and
        // dropped) from whoever may change the container; the rest as writes
        func restore(_ c: ControlFile, of s: UInt64, by f: CallerFacts?) -> Int32? {
            Decide.restoreWrite(c, of: s, offset: 0, writer: f, tree: tree)
        }
        #expect(restore(.status, of: Self.a, by: hostRoot) == nil)
        #expect(restore(.status, of: Self.a, by: aliceOnHost) == EACCES)
        #expect(restore(.status, of: ContainerTree.rootSerial, by: hostRoot) == EACCES)
        #expect(restore(.pidsMax, of: Self.a, by: rootInA) == EACCES)
        #expect(restore(.hostname, of: Self.inner, by: aliceOnHost) == nil)
        // mkdir's write is dropped: whoever may change the container restores it
        #expect(restore(.mkdir, of: Self.inner, by: aliceOnHost) == nil)
        #expect(restore(.mkdir, of: Self.inner, by: rootInA) == nil)
        #expect(Decide.restoreWrite(.hostname, of: Self.a, offset: 2, writer: hostRoot, tree: tree) == EINVAL)
    }

    @Test func handlesOfAnEarlierDaemonAreKnownByTheirGeneration() {
        let shift = NamespaceFilesystem.handleGenerationShift
        #expect(!Decide.isInherited(3 << shift | 17, generation: 3, shift: shift))
        #expect(Decide.isInherited(2 << shift | 17, generation: 3, shift: shift))
        #expect(Decide.isInherited(17, generation: 3, shift: shift))
    }
}
