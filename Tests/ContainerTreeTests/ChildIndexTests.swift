import Testing
@testable import ContainerTree

/// Children by name and in name order, whatever order they come and go in.
@Suite struct ChildIndexOrder {
    @Test func insertsReplacesAndRemovesKeepNameOrder() {
        var c = ChildIndex()
        for (i, name) in ["web", "db", "a10", "a2", "zz", "b"].enumerated() { c[name] = UInt64(i + 1) }
        #expect(c.ordered.map(\.name) == ["a10", "a2", "b", "db", "web", "zz"])
        c["db"] = 42
        #expect(c["db"] == 42 && c.ordered.first { $0.name == "db" }?.serial == 42)
        #expect(c.removeValue(forKey: "a2") == 4)
        #expect(c.removeValue(forKey: "nope") == nil)
        c["web"] = nil
        #expect(c.ordered.map(\.name) == ["a10", "b", "db", "zz"])
        #expect(c.count == 4 && Set(c.values) == [3, 6, 42, 5])
    }

    @Test func aFilterKeepsOrderAndLookups() {
        var c = ChildIndex()
        for i in (0..<50).reversed() { c["n\(i)"] = UInt64(i) }
        let even = c.filter { $0.value % 2 == 0 }
        #expect(even.ordered.map(\.serial) == even.ordered.sorted { $0.name < $1.name }.map(\.serial))
        #expect(even.count == 25 && even["n4"] == 4 && even["n5"] == nil)
        #expect(even != c)
        #expect(c.filter { _ in true } == c)
    }

    @Test func aTreeListsItsChildrenSortedAndCountsThemForNlink() throws {
        var t = ContainerTree()
        for (i, name) in ["m", "c", "x", "a"].enumerated() { try t.insert(serial: UInt64(i + 1), name: name, parent: 0) }
        let names = t.listing(of: 0).filter { $0.inode.kind == .container }.map(\.name)
        #expect(names == ["a", "c", "m", "x"])
        #expect(t.linkCount(of: Inode(serial: 0, kind: .container)) == 3 + 4)
    }
}
