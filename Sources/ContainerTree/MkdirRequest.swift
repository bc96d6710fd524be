/// A line written to a container's `mkdir` entry by the host's root:
/// `NAME [ids=FIRST:COUNT]` — a child container named NAME, as mkdir
/// makes it, whose user namespace maps host ids FIRST… (COUNT of them,
/// at most 65,536) to 0… inside: an engine's mapping (an OCI bundle's
/// uidMappings), which a plain mkdir cannot carry. In the spirit of
/// sysfs's `new_device`: one write, one object, the errno of mkdir.
package struct MkdirRequest: Equatable, Sendable {
    package var name: [UInt8]
    package var ids: (first: UInt32, count: UInt32)?

    package static let maxIds: UInt32 = 65_536

    package init(name: [UInt8], ids: (first: UInt32, count: UInt32)? = nil) {
        self.name = name
        self.ids = ids
    }

    package static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.ids?.first == b.ids?.first && a.ids?.count == b.ids?.count
    }

    /// nil: not such a line (EINVAL). One trailing newline is allowed
    /// (echo); the name is checked as mkdir's is, later.
    package static func parse(_ bytes: [UInt8]) -> MkdirRequest? {
        var b = bytes[...]
        if b.last == 10 { b = b.dropLast() }
        let words = b.split(separator: 32, omittingEmptySubsequences: false)
        guard let first = words.first, !first.isEmpty, !first.contains(10), words.count <= 2 else { return nil }
        var r = MkdirRequest(name: Array(first))
        if words.count == 2 {
            let option = String(decoding: words[1], as: UTF8.self)
            guard option.hasPrefix("ids=") else { return nil }
            let parts = option.dropFirst(4).split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                  let f = UInt32(parts[0]), let n = UInt32(parts[1]), n > 0, n <= maxIds,
                  UInt64(f) + UInt64(n) <= UInt64(UInt32.max) else { return nil }
            r.ids = (f, n)
        }
        return r
    }
}
