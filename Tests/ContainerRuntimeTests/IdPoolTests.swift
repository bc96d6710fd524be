import Testing
@testable import ContainerRuntime

@Suite struct IdPoolRules {
    @Test func blocksAreDisjointLowestFirstAndReused() throws {
        var pool = IdPool(base: 100_000, count: 4 * IdPool.blockSize)
        let first = pool.take(), second = pool.take()
        let a = try #require(first), b = try #require(second)
        #expect(a == 100_000 && b == 100_000 + IdPool.blockSize)
        pool.release(a)
        #expect(pool.take() == a)   // the lowest free again
        #expect(pool.take() != nil && pool.take() != nil)
        #expect(pool.take() == nil) // four blocks, all in use
        pool.release(b)
        #expect(pool.take() == b)
    }

    @Test func adoptedBlocksStayTaken() {
        var pool = IdPool(base: 100_000, count: 3 * IdPool.blockSize)
        pool.reserve(100_000 + IdPool.blockSize)
        pool.reserve(7)   // recorded under other pool options: kept, never handed out
        #expect(pool.take() == 100_000)
        #expect(pool.take() == 100_000 + 2 * IdPool.blockSize)
        #expect(pool.take() == nil)
        pool.release(7)
        #expect(pool.used.count == 3)
    }

    @Test func recordsKeepTheirIds() throws {
        var r = ContainerRecord(id: 1, serial: 2, name: "a", parent: nil, created: 3, initPid: 4, initStartTime: 0,
                                pidNamespace: 5, cgroup: "/x/ns-0000000000000001")
        r.idBase = 524_288
        r.userNamespace = 4_026_532_178
        #expect(try ContainerRecord.parse(r.text) == r)
        var old = r
        old.idBase = nil
        old.userNamespace = 0
        #expect(!old.text.contains("ids:") && !old.text.contains("userns:"))
        #expect(throws: ContainerRecord.ParseError.bad("ids")) {
            try ContainerRecord.parse(r.text.split(separator: "\n").map { $0.hasPrefix("ids:") ? "ids: 524288 10" : String($0) }
                .joined(separator: "\n"))
        }
    }
}
