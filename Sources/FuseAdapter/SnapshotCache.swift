/// Values that expire a fixed time after they were stored, with expiry in
/// insertion order: storing and pruning cost O(1) amortized, whatever the
/// number of distinct keys (a storm of new readers must not make every
/// request scan the cache). Times are passed in: the cache does no I/O.
struct ExpiringCache<Key: Hashable, Value> {
    let lifetime: Int64
    private var entries: [Key: (value: Value, stored: Int64)] = [:]
    /// Keys in the order they were stored; `head` is the oldest not yet
    /// examined. A key stored again appears twice: only its newest entry
    /// (matched by time) is removed.
    private var order: [(key: Key, stored: Int64)] = []
    private var head = 0

    init(lifetime: Int64) { self.lifetime = lifetime }

    var count: Int { entries.count }

    func value(for key: Key, now: Int64) -> Value? {
        guard let e = entries[key], now - e.stored < lifetime else { return nil }
        return e.value
    }

    mutating func store(_ value: Value, for key: Key, now: Int64) {
        prune(now: now)
        entries[key] = (value, now)
        order.append((key, now))
    }

    /// Drop every entry whose key matches.
    mutating func removeAll(where matches: (Key) -> Bool) {
        for k in entries.keys where matches(k) { entries.removeValue(forKey: k) }
    }

    private mutating func prune(now: Int64) {
        while head < order.count, now - order[head].stored >= lifetime {
            let (k, t) = order[head]
            if let e = entries[k], e.stored == t { entries.removeValue(forKey: k) }
            head += 1
        }
        if head > 64, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
extension ExpiringCache: Sendable where Key: Sendable, Value: Sendable {}
