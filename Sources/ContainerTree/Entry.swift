import LinuxSystem

/// The filesystem's own entries in every container directory. Their names
/// are reserved: no container may take them.
public enum ControlFile: Int, CaseIterable, Sendable {
    case status = 1, procs, hostname, freeze

    public var name: String {
        switch self {
        case .status: "status"
        case .procs: "procs"
        case .hostname: "hostname"
        case .freeze: "freeze"
        }
    }

    public var isWritable: Bool { self == .hostname || self == .freeze }
}

/// What one inode is: a container directory, one of its control files, its
/// `ns/` directory or a handle inside it.
public enum EntryKind: Equatable, Hashable, Sendable {
    case container
    case control(ControlFile)
    case nsDirectory
    case namespace(NamespaceKind)

    public static let nsDirectoryName = "ns"

    public static var reservedNames: Set<String> {
        Set(ControlFile.allCases.map(\.name) + [nsDirectoryName])
    }

    /// The entries the filesystem puts in every container directory.
    public static func controlEntry(named name: String) -> EntryKind? {
        if name == nsDirectoryName { return .nsDirectory }
        if let c = ControlFile.allCases.first(where: { $0.name == name }) { return .control(c) }
        return nil
    }

    var slot: UInt64 {
        switch self {
        case .container: 0
        case .control(let c): UInt64(c.rawValue)
        case .nsDirectory: 5
        case .namespace(let k): 6 + UInt64(k.rawValue)
        }
    }

    init?(slot: UInt64) {
        switch slot {
        case 0: self = .container
        case 1...4: self = .control(ControlFile(rawValue: Int(slot))!)
        case 5: self = .nsDirectory
        case 6..<(6 + UInt64(NamespaceKind.allCases.count)):
            self = .namespace(NamespaceKind(rawValue: Int(slot - 6))!)
        default: return nil
        }
    }
}

/// Inode numbers: a container's serial number (never reused, kept across
/// restarts) times 16, plus the entry's slot, plus one so that the root
/// (serial 0) is FUSE's inode 1. Stable across renames by construction.
public struct Inode: Hashable, Sendable {
    public let serial: UInt64
    public let kind: EntryKind

    public static let slotsPerContainer: UInt64 = 16
    public static let root = Inode(serial: 0, kind: .container)

    public init(serial: UInt64, kind: EntryKind) {
        self.serial = serial
        self.kind = kind
    }

    public init?(number: UInt64) {
        guard number >= 1 else { return nil }
        let n = number - 1
        guard let kind = EntryKind(slot: n % Inode.slotsPerContainer) else { return nil }
        self.serial = n / Inode.slotsPerContainer
        self.kind = kind
    }

    public var number: UInt64 { serial * Inode.slotsPerContainer + kind.slot + 1 }
}
