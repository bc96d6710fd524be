import LinuxSystem

/// The `status` file's format, written by the daemon and read by `nsctl`:
/// one definition of its keys, and a typed parser.
///
/// `key: value` lines; a container's has every key below but `containers`
/// (and `address`/`gateway` only on a network), the root's (the host) has
/// name, path, state and containers.
package enum StatusKey: String, CaseIterable, Sendable {
    case name, path, id, state, created
    case initPid = "init"
    case cgroup, processes
    /// Root only: how many containers the tree holds.
    case containers
    /// "container" (made by mkdir, or a set named by mv) or "set" (unnamed).
    case kind
    /// The namespace kinds it has of its own, and those it shares with its
    /// parent (space-separated names).
    case owns, shares
    /// Processes the kernel's OOM killer ended in it (memory.events), where
    /// memory is controlled. Each limit entry it has is a key too
    /// (`pids.max: 512`).
    case oomKills = "oom-kills"
    /// Its user namespace's id maps as the host reads /proc/PID/uid_map
    /// and gid_map: `0 524288 65536` (inside, outside, count); the host's
    /// own for a container that shares its user namespace.
    case uidMap = "uid-map", gidMap = "gid-map"
    /// Accounting, of its processes and those below (as its cgroup counts):
    /// CPU time in µs (cpu.stat's usage_usec, in every cgroup2 directory),
    /// memory in bytes (memory.current where the host gives containers the
    /// controller, `memory-source: cgroup`; else the sum of its processes'
    /// resident sets, `memory-source: estimate`).
    case cpuUsec = "cpu-usec", memory, memorySource = "memory-source"
    /// Its eth0's address (`10.88.0.5/16`) and the bridge's, its default
    /// route (-o network only).
    case address, gateway

    /// `ns-net: net:[4026532182]`, the identity as /proc shows it.
    package static func namespace(_ k: NamespaceKind) -> String { "ns-\(k.name)" }
    /// `ns-net-id: 4098`, the 64-bit NS_GET_ID.
    package static func namespaceID(_ k: NamespaceKind) -> String { "ns-\(k.name)-id" }
}

/// What `state:` says.
package enum ContainerState: String, Sendable {
    case running, frozen, removing
}

/// A parsed `status` file.
package struct ContainerStatus: Sendable, Equatable {
    /// The file as read: a key is looked up when asked for (nsctl exec
    /// asks for a handful of its ~30 lines; a dictionary of them all was
    /// a tenth of its own work).
    private let text: [UInt8]

    /// Lines without a colon are ignored; a value starts after ": ".
    /// Over bytes, not Characters: grapheme breaking was most of the cost.
    package init(parsing text: String) { self.text = Array(text.utf8) }

    /// The value of the line whose key is `key` (the last, as in `fields`).
    package func value(of key: String) -> String? {
        let k = Array(key.utf8)
        var found: ArraySlice<UInt8>?
        forEachLine { key, value in if key.elementsEqual(k) { found = value } }
        return found.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every key and its value (a later line with the same key wins).
    package var fields: [String: String] {
        var out: [String: String] = [:]
        forEachLine { out[String(decoding: $0, as: UTF8.self)] = String(decoding: $1, as: UTF8.self) }
        return out
    }

    /// Each `key: value` line, in order, as bytes of the text.
    private func forEachLine(_ body: (_ key: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>) -> Void) {
        for line in text.split(separator: UInt8(ascii: "\n")) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            body(line[..<colon], line[line.index(after: colon)...].drop(while: { $0 == UInt8(ascii: " ") }))
        }
    }

    package subscript(_ key: StatusKey) -> String? { value(of: key.rawValue) }

    package var name: String { self[.name] ?? "" }
    /// The root (the host) has no id.
    package var isRoot: Bool { self[.id] == nil }
    /// An unnamed set (found, not made).
    package var isSet: Bool { self[.kind] == "set" }
    package var id: UInt64? { self[.id].flatMap { UInt64($0, radix: 16) } }
    package var state: ContainerState? { self[.state].flatMap(ContainerState.init(rawValue:)) }
    /// The init's pid as the reader sees it; nil if it cannot ("-").
    package var initPid: Int32? { self[.initPid].flatMap { Int32($0) } }
    package var cgroup: String? { self[.cgroup] }
    package var processes: Int? { self[.processes].flatMap { Int($0) } }
    package var cpuMicroseconds: UInt64? { self[.cpuUsec].flatMap { UInt64($0) } }
    package var memoryBytes: UInt64? { self[.memory].flatMap { UInt64($0) } }
    package func namespaceID(_ k: NamespaceKind) -> UInt64? { value(of: StatusKey.namespaceID(k)).flatMap { UInt64($0) } }
}
