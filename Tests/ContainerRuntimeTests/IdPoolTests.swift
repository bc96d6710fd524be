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

@Suite struct AskedIdRanges {
    @Test func aRangeIsClaimedOnlyWhereNoContainersIdsAre() {
        var pool = IdPool(base: 100_000, count: 4 * IdPool.blockSize)
        let first = pool.take()
        #expect(first == 100_000)
        // overlaps the block in use, at either end
        let c1 = pool.claim(100_000 + IdPool.blockSize - 1, count: 10)
        #expect(!c1)
        let c2 = pool.claim(99_990, count: 11)
        #expect(!c2)
        let c3 = pool.claim(99_990, count: 10)
        #expect(c3)
        let again = pool.claim(99_995, count: 1)
        #expect(!again)   // claimed already
        // off the grid, across the second and third blocks: both skipped
        let c4 = pool.claim(100_000 + IdPool.blockSize + 5, count: IdPool.blockSize)
        #expect(c4)
        let t5 = pool.take()
        #expect(t5 == 100_000 + 3 * IdPool.blockSize)
        let t6 = pool.take()
        #expect(t6 == nil)
        // released: the blocks it covered are handed out again
        pool.release(100_000 + IdPool.blockSize + 5)
        let t7 = pool.take()
        #expect(t7 == 100_000 + IdPool.blockSize)
        let empty = pool.claim(0, count: 0), pastTheEnd = pool.claim(UInt32.max - 1, count: 5)
        #expect(!empty && !pastTheEnd)
    }

    @Test func recordsKeepAnAskedRange() throws {
        var r = ContainerRecord(id: 1, serial: 2, name: "a", parent: 9, created: 3, initPid: 4, initStartTime: 0,
                                pidNamespace: 5, cgroup: "/x/ns-0000000000000001")
        r.idBase = 200_000
        r.idCount = 1_000
        r.ownsIds = true
        r.idsAsked = true
        #expect(r.text.contains("ids: 200000 1000 own asked\n"))
        #expect(try ContainerRecord.parse(r.text) == r)
        var pool = IdPool()
        pool.reserve(r)
        let c9 = pool.claim(200_500, count: 1)
        #expect(!c9)
        #expect(!pool.isBlock(200_000, count: 1_000) && pool.isBlock(IdPool.defaultBase, count: IdPool.blockSize))
    }
}
