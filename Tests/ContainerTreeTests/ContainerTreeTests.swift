import Testing
@testable import ContainerTree
import LinuxSystem

@Suite struct NameRules {
    @Test(arguments: ["a", "web-1", "x.y", "Ünïcode", "with space", String(repeating: "n", count: 255), "unnamedx1", "ünnamed1"])
    func accepted(_ name: String) {
        #expect(ContainerName.validate(name) == .success(name))
    }

    @Test(arguments: ["", ".", "..", "a/b", "tab\there", "new\nline", "del\u{7f}", "-leading", "nul\u{0}",
                      "nel\u{85}", "c1\u{9f}", "line\u{2028}sep", "para\u{2029}sep",
                      "rlo\u{202e}gpj.exe", "lre\u{202a}x", "fsi\u{2068}x", "pdi\u{2069}", "zw\u{200b}sp", "zwj\u{200d}",
                      "\u{feff}bom", "unnamed\u{0661}\u{0662}", "unnamed\u{0967}", "unnamed\u{ff11}"])
    func rejected(_ name: String) {
        #expect(ContainerName.validate(name) == .failure(.invalidName))
    }

    @Test func tooLong() {
        #expect(ContainerName.validate(String(repeating: "n", count: 256)) == .failure(.nameTooLong))
        // 128 two-byte characters: 256 bytes.
        #expect(ContainerName.validate(String(repeating: "é", count: 128)) == .failure(.nameTooLong))
    }

    @Test func invalidUTF8() {
        #expect(ContainerName.validate([0x61, 0xff, 0x62]) == .failure(.invalidName))
        #expect(ContainerName.validate([0xc3]) == .failure(.invalidName))
    }

    @Test func hostnameIsCutAtCharacterBoundary() {
        #expect(ContainerName.hostname(for: "short") == "short")
        #expect(ContainerName.hostname(for: String(repeating: "a", count: 100)).utf8.count == 64)
        let h = ContainerName.hostname(for: "a" + String(repeating: "é", count: 40))
        #expect(h.utf8.count == 63)
    }
}

@Suite struct TreeRules {
    func make() throws -> (ContainerTree, a: UInt64, b: UInt64) {
        var t = ContainerTree()
        let a = t.allocateSerial()
        try t.insert(serial: a, name: "a", parent: ContainerTree.rootSerial)
        let b = t.allocateSerial()
        try t.insert(serial: b, name: "b", parent: a)
        return (t, a, b)
    }

    @Test func createChecks() throws {
        let (t, a, _) = try make()
        #expect(t.checkCreate(parent: 0, name: Array("a".utf8)) == .failure(.exists))
        #expect(t.checkCreate(parent: a, name: Array("b".utf8)) == .failure(.exists))
        for reserved in ["ns", "status", "procs", "hostname", "freeze"] {
            #expect(t.checkCreate(parent: a, name: Array(reserved.utf8)) == .failure(.exists))
        }
        #expect(t.checkCreate(parent: a, name: Array("c".utf8)) == .success("c"))
        #expect(t.checkCreate(parent: 999, name: Array("c".utf8)) == .failure(.notFound))
    }

    @Test func removeOnlyLeaves() throws {
        var (t, a, b) = try make()
        #expect(throws: TreeError.notEmpty) { try t.checkRemove(a).get() }
        #expect(throws: TreeError.isRoot) { try t.checkRemove(0).get() }
        try t.remove(b)
        try t.remove(a)
        #expect(t.count == 0)
        #expect(t.node(a) == nil)
    }

    @Test func renameRules() throws {
        var (t, a, b) = try make()
        let c = t.allocateSerial()
        try t.insert(serial: c, name: "c", parent: 0)
        #expect(t.checkRename(a, to: 0, name: Array("c".utf8)) == .failure(.exists))
        #expect(t.checkRename(a, to: 0, name: Array("status".utf8)) == .failure(.exists))
        #expect(t.checkRename(b, to: 0, name: Array("b".utf8)) == .failure(.crossParent))
        #expect(t.checkRename(a, to: b, name: Array("x".utf8)) == .failure(.intoOwnSubtree))
        #expect(t.checkRename(a, to: 0, name: Array("..".utf8)) == .failure(.invalidName))
        #expect(t.checkRename(0, to: 0, name: Array("x".utf8)) == .failure(.isRoot))
        #expect(t.checkRename(a, to: 0, name: Array("a".utf8)) == .success("a"))
        try t.rename(a, to: 0, name: Array("x".utf8))
        #expect(t.child(of: 0, named: "x") == a)
        #expect(t.child(of: 0, named: "a") == nil)
        #expect(t.path(of: b) == ["x", "b"])
    }

    @Test func inodeNumbersAreStableAndUnique() throws {
        var (t, a, b) = try make()
        let before = Inode(serial: b, kind: .container).number
        try t.rename(b, to: a, name: Array("renamed".utf8))
        #expect(t.lookup("renamed", in: Inode(serial: a, kind: .container))?.number == before)
        var seen = Set<UInt64>()
        for s in [0, a, b] {
            let dir = Inode(serial: s, kind: .container)
            #expect(seen.insert(dir.number).inserted)
            for (_, ino) in t.listing(of: s) where ino.kind != .container {
                #expect(seen.insert(ino.number).inserted)
                #expect(Inode(number: ino.number) == ino)
            }
            for k in NamespaceKind.allCases {
                let ino = Inode(serial: s, kind: .namespace(k))
                #expect(seen.insert(ino.number).inserted)
                #expect(Inode(number: ino.number) == ino)
            }
        }
        #expect(Inode.root.number == 1)
        #expect(Inode(number: 0) == nil)
    }

    @Test func linkCountsCountSubdirectories() throws {
        let (t, a, b) = try make()
        #expect(t.linkCount(of: Inode(serial: 0, kind: .container)) == 4)   // ., .., ns, a
        #expect(t.linkCount(of: Inode(serial: a, kind: .container)) == 4)
        #expect(t.linkCount(of: Inode(serial: b, kind: .container)) == 3)
        #expect(t.linkCount(of: Inode(serial: b, kind: .nsDirectory)) == 2)
        #expect(t.linkCount(of: Inode(serial: b, kind: .control(.status))) == 1)
    }

    @Test func subtreeOrderIsChildrenFirst() throws {
        var (t, a, b) = try make()
        let c = t.allocateSerial()
        try t.insert(serial: c, name: "c", parent: b)
        #expect(t.subtreePostOrder(a) == [c, b, a])
        #expect(t.isAncestor(a, of: c))
        #expect(!t.isAncestor(c, of: a))
        #expect(t.depth(of: c) == 3)
    }

    @Test func readoptionKeepsSerialsAhead() throws {
        var t = ContainerTree()
        try t.insert(serial: 41, name: "old", parent: 0)
        #expect(t.allocateSerial() == 42)
        #expect(throws: TreeError.exists) { try t.insert(serial: 41, name: "dup", parent: 0) }
    }

    @Test func lookupResolvesControlEntries() throws {
        let (t, a, _) = try make()
        let dir = Inode(serial: a, kind: .container)
        #expect(t.lookup("status", in: dir) == Inode(serial: a, kind: .control(.status)))
        #expect(t.lookup("ns", in: dir) == Inode(serial: a, kind: .nsDirectory))
        #expect(t.lookup("net", in: Inode(serial: a, kind: .nsDirectory)) == Inode(serial: a, kind: .namespace(.net)))
        #expect(t.lookup("bogus", in: Inode(serial: a, kind: .nsDirectory)) == nil)
        #expect(t.lookup("nothing", in: dir) == nil)
    }
}
