import Testing
@testable import FuseAdapter

@Suite struct ExpiringCacheTests {
    @Test func valuesExpireAfterTheirLifetime() {
        var c = ExpiringCache<Int, String>(lifetime: 10)
        c.store("a", for: 1, now: 0)
        #expect(c.value(for: 1, now: 9) == "a")
        #expect(c.value(for: 1, now: 10) == nil)
    }

    @Test func storingAgainRenewsOnlyThatKey() {
        var c = ExpiringCache<Int, String>(lifetime: 10)
        c.store("a", for: 1, now: 0)
        c.store("b", for: 2, now: 0)
        c.store("a2", for: 1, now: 8)
        // Pruning at 12 drops key 2 and the first entry of key 1, not its renewal.
        c.store("c", for: 3, now: 12)
        #expect(c.value(for: 1, now: 12) == "a2")
        #expect(c.value(for: 2, now: 12) == nil)
        #expect(c.count == 2)
    }

    @Test func aStormOfDistinctKeysStaysBounded() {
        var c = ExpiringCache<Int, Int>(lifetime: 100)
        for i in 0..<100_000 { c.store(i, for: i, now: Int64(i)) }
        // Only the last `lifetime` stores are alive; the rest were pruned.
        #expect(c.count <= 101)
        #expect(c.value(for: 99_999, now: 99_999) == 99_999)
        #expect(c.value(for: 0, now: 99_999) == nil)
    }

    @Test func removeAllMatching() {
        var c = ExpiringCache<Int, Int>(lifetime: 100)
        for i in 0..<10 { c.store(i, for: i, now: 0) }
        c.removeAll { $0 % 2 == 0 }
        #expect(c.count == 5)
        #expect(c.value(for: 2, now: 1) == nil)
        #expect(c.value(for: 3, now: 1) == 3)
    }
}
