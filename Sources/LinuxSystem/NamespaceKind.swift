import CNamespaceShim

/// The kinds of Linux namespaces, in the order the filesystem lists them
/// under `ns/`. One definition: the C shim's `enum nsfs_ns_kind` (names and
/// clone flags live beside it, in syscalls.c); this type only wraps it.
package struct NamespaceKind: Hashable, Sendable, CaseIterable, Comparable {
    package let rawValue: Int

    init(_ kind: nsfs_ns_kind) { rawValue = Int(kind.rawValue) }

    package init?(rawValue: Int) {
        guard rawValue >= 0, rawValue < Int(NSFS_NS_COUNT.rawValue) else { return nil }
        self.rawValue = rawValue
    }

    package static let cgroup = NamespaceKind(NSFS_NS_CGROUP)
    package static let ipc = NamespaceKind(NSFS_NS_IPC)
    package static let mnt = NamespaceKind(NSFS_NS_MNT)
    package static let net = NamespaceKind(NSFS_NS_NET)
    package static let pid = NamespaceKind(NSFS_NS_PID)
    package static let time = NamespaceKind(NSFS_NS_TIME)
    package static let user = NamespaceKind(NSFS_NS_USER)
    package static let uts = NamespaceKind(NSFS_NS_UTS)

    package static let allCases: [NamespaceKind] = (0..<Int(NSFS_NS_COUNT.rawValue)).map { NamespaceKind(rawValue: $0)! }

    package var shimKind: nsfs_ns_kind { nsfs_ns_kind(rawValue: UInt32(rawValue)) }

    /// The name in /proc/PID/ns (and under a container's `ns/`).
    package var name: String { String(cString: nsfs_ns_name(shimKind)) }

    /// CLONE_NEW* of this kind.
    package var cloneFlag: UInt64 { nsfs_ns_clone_flag(shimKind) }

    package init?(name: String) {
        guard let k = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }

    package static func < (a: NamespaceKind, b: NamespaceKind) -> Bool { a.rawValue < b.rawValue }
}
