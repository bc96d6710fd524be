/// Host uid/gid ranges for containers' user namespaces: blocks of 65,536
/// ids from a pool (`-o ids=BASE:COUNT`, in the spirit of /etc/subuid),
/// one per top-level container, disjoint, reused once its container is
/// gone. A nested container maps its parent's block (see Lifecycle.create).
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
            if !used.contains(b) {
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

    package mutating func release(_ blockBase: UInt32) {
        guard used.remove(blockBase) != nil, blockBase >= base else { return }
        let i = Int((blockBase - base) / Self.blockSize)
        if i < lowestFree { lowestFree = i }
    }
}
