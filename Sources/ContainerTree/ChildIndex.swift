/// A container's children by name, kept in name order too: listings are
/// sorted by name, and with 1,000 containers a sort per `opendir` (and per
/// `stat` of their parent, for st_nlink) was most of what the daemon did
/// for an `ls -l`. A mkdir or rmdir pays a binary search and an insert.
package struct ChildIndex: Sendable, Equatable {
    private var byName: [String: UInt64] = [:]
    /// Every child, in name order.
    package private(set) var ordered: [(name: String, serial: UInt64)] = []

    package init() {}

    package subscript(name: String) -> UInt64? {
        get { byName[name] }
        set {
            guard let newValue else { removeValue(forKey: name); return }
            if byName.updateValue(newValue, forKey: name) != nil {
                ordered[position(of: name)].serial = newValue
            } else {
                ordered.insert((name, newValue), at: position(of: name))
            }
        }
    }

    @discardableResult
    package mutating func removeValue(forKey name: String) -> UInt64? {
        guard let serial = byName.removeValue(forKey: name) else { return nil }
        ordered.remove(at: position(of: name))
        return serial
    }

    package var values: Dictionary<String, UInt64>.Values { byName.values }
    package var count: Int { byName.count }
    package var isEmpty: Bool { byName.isEmpty }

    /// The children `keep` says yes to, in the same order.
    package func filter(_ keep: ((key: String, value: UInt64)) -> Bool) -> ChildIndex {
        var out = ChildIndex()
        out.ordered = ordered.filter { keep(($0.name, $0.serial)) }
        out.byName = Dictionary(uniqueKeysWithValues: out.ordered.map { ($0.name, $0.serial) })
        return out
    }

    /// Where `name` is, or would go, in `ordered` (the first not below it).
    private func position(of name: String) -> Int {
        var low = 0, high = ordered.count
        while low < high {
            let mid = (low + high) / 2
            if ordered[mid].name < name { low = mid + 1 } else { high = mid }
        }
        return low
    }

    package static func == (a: ChildIndex, b: ChildIndex) -> Bool { a.byName == b.byName }
}
