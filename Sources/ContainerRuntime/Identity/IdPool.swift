/// Host uid/gid ranges for containers' user namespaces: blocks of 65,536
/// ids from a pool (`-o ids=BASE:COUNT`, in the spirit of /etc/subuid),
/// one per top-level container, disjoint, reused once its container is
/// gone. A nested container maps its parent's block (see Lifecycle.create).
/// A range the host's root asks for (an engine's mapping, `mkdir` entry)
/// is claimed only where no container's ids are: never shared.
/// Pure: the registry holds one, behind its lock.
package struct IdPool: Sendable, Equatable {
    package static let blockSize: UInt32 = 65_536
    /// systemd's range for container users (0x80000–0x6FFFFFFF): clear of
    /// system users, of regular users, and of /etc/subuid's usual 100000+.
    package static let defaultBase: UInt32 = 0x80000
    package static let defaultCount: UInt32 = 0x7000_0000 - 0x80000

    package let base: UInt32
    package let count: UInt32
    /// Bases of the blocks in use (by live containers or kept records),
    /// including any outside the pool (recorded under other pool options).
    package private(set) var used: Set<UInt32> = []
    /// Ranges in use that are not blocks of the pool's grid (asked for by
    /// the host's root): base → count.
    package private(set) var claimed: [UInt32: UInt32] = [:]
    /// Every block below this index is in use.
    private var lowestFree = 0

    package init(base: UInt32 = defaultBase, count: UInt32 = defaultCount) {
        self.base = base
        self.count = count
    }

    package var blocks: Int { Int(count / Self.blockSize) }

    /// The lowest free block's base, now in use; nil when all are taken.
    package mutating func take() -> UInt32? {
        var i = lowestFree
        while i < blocks {
            let b = base + UInt32(i) * Self.blockSize
            if !used.contains(b) && !overlapsClaimed(b, Self.blockSize) {
                used.insert(b)
                lowestFree = i + 1
                return b
            }
            i += 1
        }
        lowestFree = blocks
        return nil
    }

    /// A block a record names (adoption): in use from now on.
    package mutating func reserve(_ blockBase: UInt32) { used.insert(blockBase) }

    /// `count` ids from `first` (host ids), asked for: in use from now on,
    /// unless some of them are in use already (false).
    package mutating func claim(_ first: UInt32, count: UInt32) -> Bool {
        guard count > 0, UInt64(first) + UInt64(count) <= UInt64(UInt32.max) else { return false }
        if overlapsClaimed(first, count) { return false }
        for b in used where Self.overlap(b, Self.blockSize, first, count) { return false }
        claimed[first] = count
        return true
    }

    /// The ids a record names as its own (adoption), block or range asked
    /// for: in use from now on.
    package mutating func reserve(_ r: ContainerRecord) {
        guard let b = r.idBase else { return }
        if r.idsAsked { claimed[b] = r.idCount } else { reserve(b) }
    }

    /// Is this range one of the pool's blocks?
    package func isBlock(_ first: UInt32, count: UInt32) -> Bool {
        count == Self.blockSize && first >= base && (first - base) % Self.blockSize == 0 && first - base < self.count
    }

    private func overlapsClaimed(_ first: UInt32, _ count: UInt32) -> Bool {
        claimed.contains { Self.overlap($0.key, $0.value, first, count) }
    }

    private static func overlap(_ a: UInt32, _ n: UInt32, _ b: UInt32, _ m: UInt32) -> Bool {
        UInt64(a) < UInt64(b) + UInt64(m) && UInt64(b) < UInt64(a) + UInt64(n)
    }

    /// A block or a claimed range, free again.
    package mutating func release(_ blockBase: UInt32) {
        if claimed.removeValue(forKey: blockBase) != nil {
            lowestFree = 0   // the grid's blocks it overlapped are free again
            return
        }
        guard used.remove(blockBase) != nil, blockBase >= base else { return }
        let i = Int((blockBase - base) / Self.blockSize)
        if i < lowestFree { lowestFree = i }
    }
}
