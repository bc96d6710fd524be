import CNamespaceShim

/// One line of /proc/self/mountinfo.
package struct MountEntry: Sendable, Equatable {
    package let mountPoint: String
    package let root: String
    package let fsType: String
    package let source: String
    /// major:minor of the filesystem.
    package var device: String = ""
    /// The superblock's options (after the source), e.g. FUSE's user_id=0.
    package var superOptions: String = ""
}

package enum MountInfo {
    /// Parse mountinfo text (pure: unit-testable).
    package static func parse(_ text: String) -> [MountEntry] {
        parse(bytes: Array(text.utf8))
    }

    /// The same over the file's bytes: split as bytes, not as Characters
    /// (grapheme breaking made this a tenth of every `nsctl exec`), and only
    /// the fields kept become Strings.
    package static func parse(bytes: [UInt8]) -> [MountEntry] {
        bytes.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let f = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard let dash = f.firstIndex(where: { $0.count == 1 && $0.first == UInt8(ascii: "-") }), dash >= 6,
                  f.count > dash + 2 else { return nil }
            return MountEntry(mountPoint: unescape(f[4]), root: unescape(f[3]),
                              fsType: String(decoding: f[dash + 1], as: UTF8.self), source: unescape(f[dash + 2]),
                              device: String(decoding: f[2], as: UTF8.self),
                              superOptions: f.count > dash + 3 ? String(decoding: f[dash + 3], as: UTF8.self) : "")
        }
    }

    /// Octal escapes (\040 for space) as the kernel writes them.
    static func unescape(_ s: ArraySlice<UInt8>) -> String {
        guard s.contains(UInt8(ascii: "\\")) else { return String(decoding: s, as: UTF8.self) }
        var out: [UInt8] = []
        let b = Array(s)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count,
               let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `major:minor` of a device number, as mountinfo writes it (glibc's
    /// major()/minor() are macros Swift cannot see).
    package static func deviceName(_ dev: UInt64) -> String {
        "\(DeviceNumber.major(UInt(dev))):\(DeviceNumber.minor(UInt(dev)))"
    }

    /// An overlay's layers from its superblock options, top first: its
    /// upper dir (if any), then its lower dirs. nil when they cannot be
    /// told for sure: a relative or escaped path, data-only layers ("::").
    package static func overlayLayers(_ superOptions: String) -> [String]? {
        var upper: String?, lowers: [String]?
        for o in superOptions.split(separator: ",") {
            if o.hasPrefix("upperdir=") { upper = String(o.dropFirst(9)) }
            if o.hasPrefix("lowerdir=") { lowers = o.dropFirst(9).split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
            if o.hasPrefix("lowerdir+=") || o.hasPrefix("datadir+=") { return nil }
        }
        guard let lowers else { return nil }
        let layers = (upper.map { [$0] } ?? []) + lowers
        guard layers.allSatisfy({ $0.hasPrefix("/") && !$0.contains("\\") }) else { return nil }
        return layers
    }

    /// The mount `path` is on, asked of the kernel for that mount alone
    /// (statmount), and whether `path` is its root (nil: unknown). nil
    /// where the kernel cannot say (before Linux 6.15): read the table.
    /// Its `device` and `source` are left empty.
    package static func mount(of path: String) -> (entry: MountEntry, isMountRoot: Bool?)? {
        let cap = 4096
        var type = [CChar](repeating: 0, count: 512), options = [CChar](repeating: 0, count: cap)
        var root = [CChar](repeating: 0, count: cap), point = [CChar](repeating: 0, count: cap)
        var isRoot: Int32 = -1
        guard nsfs_mount_of(path, &isRoot, &type, type.count, &options, options.count, &root, root.count, &point, point.count) == 0 else {
            return nil
        }
        func text(_ c: [CChar]) -> String { String(decoding: c.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        let entry = MountEntry(mountPoint: text(point), root: text(root), fsType: text(type), source: "", superOptions: text(options))
        return (entry, isRoot < 0 ? nil : isRoot == 1)
    }

    package static func current() throws(Errno) -> [MountEntry] {
        parse(bytes: try FileIO.read("/proc/self/mountinfo"))
    }
}
