import LinuxSystem

/// The filesystem's own entries in every container directory. Their names
/// are reserved: no container may take them. The raw value is the entry's
/// inode slot (see `Inode`).
package enum ControlFile: Int, CaseIterable, Sendable {
    case status = 1, procs, hostname, freeze
    /// Limits: the container's cgroup files of the same name, read and
    /// written through (only where the host gives containers the controller).
    case pidsMax = 14, pidsCurrent, memoryMax, memoryHigh, memoryCurrent, cpuMax, cpuWeight
    /// Write-only: a signal for every process of the container and below
    /// but the inits (reads empty, as cgroupfs's cgroup.kill).
    case signal = 21
    /// The container's root filesystem: an image directory (empty: the
    /// host's files). Written by whoever manages the parent, as limits.
    case root = 22
    /// Host directories bind-mounted into it (`SOURCE TARGET [ro]` adds,
    /// `-TARGET` removes). Written by whoever manages the parent.
    case mounts = 23
    /// What its detached processes wrote (`nsctl exec -d`), a line each,
    /// stamped; appended to by whoever manages the parent (nsctl's relay).
    case log = 24
    /// Write-only, the host's root only: `NAME ids=FIRST:COUNT` makes a
    /// child container whose user namespace maps the host ids asked for
    /// (see MkdirRequest). Reads empty.
    case mkdir = 25

    package var name: String {
        switch self {
        case .status: "status"
        case .procs: "procs"
        case .hostname: "hostname"
        case .freeze: "freeze"
        case .pidsMax: "pids.max"
        case .pidsCurrent: "pids.current"
        case .memoryMax: "memory.max"
        case .memoryHigh: "memory.high"
        case .memoryCurrent: "memory.current"
        case .cpuMax: "cpu.max"
        case .cpuWeight: "cpu.weight"
        case .signal: "signal"
        case .root: "root"
        case .mounts: "mounts"
        case .log: "log"
        case .mkdir: "mkdir"
        }
    }

    /// The cgroup controller behind a limit entry; nil for the others.
    package var controller: CgroupController? {
        switch self {
        case .status, .procs, .hostname, .freeze, .signal, .root, .mounts, .log, .mkdir: nil
        case .pidsMax, .pidsCurrent: .pids
        case .memoryMax, .memoryHigh, .memoryCurrent: .memory
        case .cpuMax, .cpuWeight: .cpu
        }
    }

    package var isLimit: Bool { controller != nil }

    /// Written by whoever manages the parent, never by the container
    /// itself: its limits, its root and its volumes.
    package var isSetFromAbove: Bool { isLimit || self == .root || self == .mounts || self == .log }

    /// Its mount option for a default (`pids.max`: `-o pids_max=`).
    package var optionName: String { String(name.map { $0 == "." ? "_" : $0 }) }

    /// Entries a write changes (the current use is read-only, as in cgroupfs).
    package var isWritable: Bool {
        switch self {
        case .procs, .hostname, .freeze, .pidsMax, .memoryMax, .memoryHigh, .cpuMax, .cpuWeight, .signal, .root, .mounts, .log, .mkdir: true
        case .status, .pidsCurrent, .memoryCurrent: false
        }
    }

    /// Added after containers could be named so (see EntryKind.namesTakenLater):
    /// a container's only, not a set's nor the root's.
    package var isTakenLater: Bool {
        switch self {
        case .signal, .root, .mounts, .log, .mkdir: true
        default: false
        }
    }

    /// Written, never read (reads empty): mode 0200.
    package var isWriteOnly: Bool { self == .signal || self == .mkdir }

    /// The limit entries, in listing order.
    package static var limits: [ControlFile] { allCases.filter(\.isLimit) }
}

/// Names in a container's cgroup (see CgroupLayout in the runtime).
package enum ContainerCgroup {
    /// The leaf its own processes live in, beside its child containers'.
    package static let leaf = "leaf"
}

/// The cgroup controllers whose limits a container directory shows.
package enum CgroupController: String, CaseIterable, Sendable, Hashable {
    case pids, memory, cpu
}

/// What one inode is: a container directory, one of its control files, its
/// `ns/` directory or a handle inside it.
package enum EntryKind: Equatable, Hashable, Sendable {
    case container
    case control(ControlFile)
    case nsDirectory
    case namespace(NamespaceKind)

    package static let nsDirectoryName = "ns"

    package static var reservedNames: Set<String> {
        Set(ControlFile.allCases.map(\.name) + [nsDirectoryName])
    }

    /// Entries added after containers could be named so: a container of
    /// that name made before is adopted as it is, and its directory goes
    /// without the entry (the name is the container's).
    package static let namesTakenLater = Set(ControlFile.allCases.filter(\.isTakenLater).map(\.name))

    /// The entries the filesystem puts in every container directory.
    package static func controlEntry(named name: String) -> EntryKind? {
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
        case 5: self = .nsDirectory
        case 6..<(6 + UInt64(NamespaceKind.allCases.count)):
            self = .namespace(NamespaceKind(rawValue: Int(slot - 6))!)
        default:
            guard let c = ControlFile(rawValue: Int(slot)) else { return nil }
            self = .control(c)
        }
    }
}

/// Inode numbers: a container's serial number (never reused, kept across
/// restarts) times 32, plus the entry's slot, plus one so that the root
/// (serial 0) is FUSE's inode 1. Stable across renames by construction.
package struct Inode: Hashable, Sendable {
    package let serial: UInt64
    package let kind: EntryKind

    package static let slotsPerContainer: UInt64 = 32
    package static let root = Inode(serial: 0, kind: .container)

    package init(serial: UInt64, kind: EntryKind) {
        self.serial = serial
        self.kind = kind
    }

    package init?(number: UInt64) {
        guard number >= 1 else { return nil }
        let n = number - 1
        guard let kind = EntryKind(slot: n % Inode.slotsPerContainer) else { return nil }
        self.serial = n / Inode.slotsPerContainer
        self.kind = kind
    }

    package var number: UInt64 { serial * Inode.slotsPerContainer + kind.slot + 1 }
}
