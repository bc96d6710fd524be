import FoundationEssentials

/// The part of an OCI bundle's `config.json` (runtime-spec 1.x) that
/// nsfs-oci reads. Fields it does not know are ignored, as the spec asks;
/// those it knows but cannot honour are refused by nsfs-oci, by name.
package struct OCIConfig: Decodable, Sendable, Equatable {
    package var ociVersion: String
    package var root: Root?
    package var mounts: [Mount]?
    package var process: Process?
    package var hostname: String?
    package var hooks: Hooks?
    package var linux: Linux?
    package var annotations: [String: String]?

    package struct Root: Decodable, Sendable, Equatable {
        package var path: String
        package var readonly: Bool?
    }

    package struct Mount: Decodable, Sendable, Equatable {
        package var destination: String
        package var type: String?
        package var source: String?
        package var options: [String]?
    }

    package struct Process: Decodable, Sendable, Equatable {
        package var terminal: Bool?
        package var user: User
        package var args: [String]?
        package var env: [String]?
        package var cwd: String
        package var capabilities: Capabilities?
        package var rlimits: [Rlimit]?
        package var noNewPrivileges: Bool?
        package var oomScoreAdj: Int?

        /// A process of `args` as `user`, nothing else asked.
        package init(user: User, args: [String], env: [String], cwd: String) {
            self.user = user
            self.args = args
            self.env = env
            self.cwd = cwd
        }
    }

    package struct User: Decodable, Sendable, Equatable {
        package var uid: UInt32
        package var gid: UInt32
        package var umask: UInt32?
        package var additionalGids: [UInt32]?

        package init(uid: UInt32, gid: UInt32) {
            self.uid = uid
            self.gid = gid
        }
    }

    package struct Capabilities: Decodable, Sendable, Equatable {
        package var bounding: [String]?
        package var effective: [String]?
        package var inheritable: [String]?
        package var permitted: [String]?
        package var ambient: [String]?
    }

    package struct Rlimit: Decodable, Sendable, Equatable {
        package var type: String
        package var hard: UInt64
        package var soft: UInt64
    }

    package struct Hooks: Codable, Sendable, Equatable {
        package var prestart: [Hook]?
        package var createRuntime: [Hook]?
        package var createContainer: [Hook]?
        package var startContainer: [Hook]?
        package var poststart: [Hook]?
        package var poststop: [Hook]?
    }

    package struct Hook: Codable, Sendable, Equatable {
        package var path: String
        package var args: [String]?
        package var env: [String]?
        package var timeout: Int?
    }

    package struct Linux: Decodable, Sendable, Equatable {
        package var namespaces: [Namespace]?
        package var uidMappings: [IDMapping]?
        package var gidMappings: [IDMapping]?
        package var resources: Resources?
        package var cgroupsPath: String?
        package var maskedPaths: [String]?
        package var readonlyPaths: [String]?
        package var sysctl: [String: String]?
        package var seccomp: Seccomp?
        /// Device nodes to make in the container's /dev.
        package var devices: [Device]?
    }

    package struct Device: Decodable, Sendable, Equatable {
        package var path: String
        package var type: String
        package var major: Int64?
        package var minor: Int64?
    }

    package struct Namespace: Decodable, Sendable, Equatable {
        package var type: String
        package var path: String?
    }

    package struct IDMapping: Decodable, Sendable, Equatable {
        package var containerID: UInt32
        package var hostID: UInt32
        package var size: UInt32
    }

    package struct Resources: Decodable, Sendable, Equatable {
        package var pids: Pids?
        package var memory: Memory?
        package var cpu: CPU?
        package var devices: [DeviceRule]?
        /// Controllers the tree has no entry for: refused when they ask anything.
        package var blockIO: Present?
        package var hugepageLimits: Present?
        package var network: Present?
        package var rdma: Present?
        package var unified: Present?

        package struct Pids: Decodable, Sendable, Equatable { package var limit: Int64 }
        package struct Memory: Decodable, Sendable, Equatable {
            package var limit: Int64?
            package var reservation: Int64?
            package var swap: Int64?
            package var kernel: Int64?
            package var kernelTCP: Int64?
            package var swappiness: UInt64?
            package var disableOOMKiller: Bool?
        }
        package struct CPU: Decodable, Sendable, Equatable {
            package var shares: UInt64?
            package var quota: Int64?
            package var period: UInt64?
            package var realtimeRuntime: Int64?
            package var realtimePeriod: UInt64?
            package var cpus: String?
            package var mems: String?
            package var idle: Int64?
        }
        package struct DeviceRule: Decodable, Sendable, Equatable {
            package var allow: Bool
            package var type: String?
            package var major: Int64?
            package var minor: Int64?
            package var access: String?
        }
    }

    /// Any JSON value, remembered only as whether it asks for something
    /// (not null, not an empty object or list).
    package struct Present: Decodable, Sendable, Equatable {
        package let asksSomething: Bool

        package init(from decoder: any Decoder) throws {
            if let object = try? decoder.container(keyedBy: AnyKey.self) {
                asksSomething = object.allKeys.contains { !((try? object.decodeNil(forKey: $0)) ?? true) }
            } else if let list = try? decoder.unkeyedContainer() {
                asksSomething = !list.isAtEnd
            } else {
                asksSomething = !(try decoder.singleValueContainer().decodeNil())
            }
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// linux.seccomp: a filter the process runs under (compiled to BPF
    /// with libseccomp by nsfs-oci, see SeccompProfile).
    package struct Seccomp: Decodable, Sendable, Equatable {
        package var defaultAction: String
        package var defaultErrnoRet: UInt32?
        package var architectures: [String]?
        package var flags: [String]?
        package var listenerPath: String?
        package var syscalls: [Syscall]?

        package struct Syscall: Decodable, Sendable, Equatable {
            package var names: [String]
            package var action: String
            package var errnoRet: UInt32?
            package var args: [Argument]?
        }

        package struct Argument: Decodable, Sendable, Equatable {
            package var index: UInt32
            package var value: UInt64
            package var valueTwo: UInt64?
            package var op: String
        }
    }
}

/// The first problem found in a config, with where it is (`$.process.args`).
package struct OCIConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    package let path: String
    package let problem: String
    package init(_ path: String, _ problem: String) { self.path = path; self.problem = problem }
    package var description: String { "config.json: \(path): \(problem)" }
}

extension OCIConfig {
    /// The namespace types of the runtime spec.
    package static let namespaceTypes: Set<String> = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]

    /// Decoded and checked, or the first problem by its JSON path.
    package static func parse(_ bytes: [UInt8]) throws(OCIConfigError) -> OCIConfig {
        let config: OCIConfig
        do {
            config = try JSONDecoder().decode(OCIConfig.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw Self.describe(error)
        } catch {
            throw OCIConfigError("$", "not JSON: \(error)")
        }
        try config.validate()
        return config
    }

    static func jsonPath(_ keys: [any CodingKey]) -> String {
        keys.reduce("$") { p, k in k.intValue.map { "\(p)[\($0)]" } ?? "\(p).\(k.stringValue)" }
    }

    static func describe(_ error: DecodingError) -> OCIConfigError {
        switch error {
        case .keyNotFound(let key, let ctx):
            return OCIConfigError(jsonPath(ctx.codingPath + [key]), "missing")
        case .typeMismatch(let type, let ctx):
            return OCIConfigError(jsonPath(ctx.codingPath), "expected \(Self.name(of: type))")
        case .valueNotFound(let type, let ctx):
            return OCIConfigError(jsonPath(ctx.codingPath), "expected \(Self.name(of: type)), found null")
        case .dataCorrupted(let ctx):
            return OCIConfigError(jsonPath(ctx.codingPath), ctx.codingPath.isEmpty ? "not JSON" : "not valid here")
        @unknown default:
            return OCIConfigError("$", "unreadable")
        }
    }

    static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is UInt32.Type, is UInt64.Type, is Int.Type, is Int64.Type: "a number"
        default: type is any Collection.Type ? "a list" : "an object"
        }
    }

    /// What the spec requires beyond the types.
    func validate() throws(OCIConfigError) {
        guard ociVersion.hasPrefix("1.") else { throw OCIConfigError("$.ociVersion", "\(ociVersion) is not a 1.x version") }
        guard let root else { throw OCIConfigError("$.root", "missing") }
        if root.path.isEmpty { throw OCIConfigError("$.root.path", "empty") }
        if let process {
            guard let args = process.args, !args.isEmpty else { throw OCIConfigError("$.process.args", "missing or empty") }
            if args[0].isEmpty { throw OCIConfigError("$.process.args[0]", "empty") }
            if !process.cwd.hasPrefix("/") { throw OCIConfigError("$.process.cwd", "not absolute") }
            for (i, e) in (process.env ?? []).enumerated() where !e.contains("=") {
                throw OCIConfigError("$.process.env[\(i)]", "not NAME=VALUE")
            }
            for (i, r) in (process.rlimits ?? []).enumerated() {
                if OCIConfig.rlimitNumbers[r.type] == nil { throw OCIConfigError("$.process.rlimits[\(i)].type", "unknown: \(r.type)") }
                if r.soft > r.hard { throw OCIConfigError("$.process.rlimits[\(i)]", "soft above hard") }
            }
        }
        for (i, m) in (mounts ?? []).enumerated() where !m.destination.hasPrefix("/") {
            throw OCIConfigError("$.mounts[\(i)].destination", "not absolute")
        }
        var seen = Set<String>()
        for (i, n) in (linux?.namespaces ?? []).enumerated() {
            guard Self.namespaceTypes.contains(n.type) else { throw OCIConfigError("$.linux.namespaces[\(i)].type", "unknown: \(n.type)") }
            guard seen.insert(n.type).inserted else { throw OCIConfigError("$.linux.namespaces[\(i)].type", "\(n.type) twice") }
        }
        if let limit = linux?.resources?.pids?.limit, limit == 0 || limit < -1 {
            throw OCIConfigError("$.linux.resources.pids.limit", "\(limit) is no limit")
        }
    }

    /// RLIMIT_* by name (Linux, x86-64 and arm64 alike).
    package static let rlimitNumbers: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
        "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
        "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
        "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]
}

extension OCIConfig {
    /// CAP_* by name (linux/capability.h).
    package static let capabilityNumbers: [String: Int] = {
        let names = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
                     "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
                     "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
                     "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
                     "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
                     "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]
        return Dictionary(uniqueKeysWithValues: names.enumerated().map { ("CAP_" + $1, $0) })
    }()

    /// A set of capability names as a bit mask, or the first unknown name.
    package static func capabilityMask(_ names: [String]?, at path: String) throws(OCIConfigError) -> UInt64 {
        var mask: UInt64 = 0
        for (i, n) in (names ?? []).enumerated() {
            guard let bit = capabilityNumbers[n] else { throw OCIConfigError("\(path)[\(i)]", "unknown capability \(n)") }
            mask |= 1 << UInt64(bit)
        }
        return mask
    }
}

extension OCIConfig {
    /// The device nodes the tree's /dev has (char, major, minor): what a
    /// container sees, whatever the engine allows.
    package static let treeDevices: [(path: String, major: Int64, minor: Int64)] = [
        ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0), ("/dev/ptmx", 5, 2),
    ]
    /// devpts's own nodes (/dev/pts/N).
    static let ptsMajor: Int64 = 136

    /// The first resource or device the runtime cannot honour on any host:
    /// the tree gives pids.max, memory.max and cpu.max/cpu.weight (where the
    /// host's cgroup2 has those controllers: checked at create), and a
    /// /dev of its own with no device cgroup. Device rules are honoured
    /// when they deny everything but what that /dev has (and mknod, which
    /// a user namespace denies anyway) — see deniesDevices.
    package func unsupportedResource() -> OCIConfigError? {
        for (i, d) in (linux?.devices ?? []).enumerated()
        where !Self.treeDevices.contains(where: { $0.path == d.path && d.type == "c" && d.major == $0.major && d.minor == $0.minor }) {
            return OCIConfigError("$.linux.devices[\(i)]", "\(d.path) is not a node of the tree's /dev (null, zero, full, random, urandom, tty, ptmx, pts): device nodes are not supported")
        }
        guard let r = linux?.resources else { return nil }
        let path = "$.linux.resources"
        if let m = r.memory {
            for (name, set) in [("reservation", m.reservation != nil), ("swap", m.swap != nil), ("kernel", m.kernel != nil),
                                ("kernelTCP", m.kernelTCP != nil), ("swappiness", m.swappiness != nil),
                                ("disableOOMKiller", m.disableOOMKiller == true)] where set {
                return OCIConfigError("\(path).memory.\(name)", "not supported: the tree limits memory with memory.max alone")
            }
        }
        if let c = r.cpu {
            for (name, set) in [("realtimeRuntime", c.realtimeRuntime != nil), ("realtimePeriod", c.realtimePeriod != nil),
                                ("cpus", !(c.cpus ?? "").isEmpty), ("mems", !(c.mems ?? "").isEmpty), ("idle", (c.idle ?? 0) != 0)] where set {
                return OCIConfigError("\(path).cpu.\(name)", "not supported: the tree limits CPU with cpu.max and cpu.weight alone")
            }
            if let q = c.quota, q == 0 || q < -1 { return OCIConfigError("\(path).cpu.quota", "\(q) is no quota") }
            if let s = c.shares, s == 1 || s > 262_144 { return OCIConfigError("\(path).cpu.shares", "\(s) is outside 2...262144") }
        }
        for (name, part) in [("blockIO", r.blockIO), ("hugepageLimits", r.hugepageLimits), ("network", r.network),
                             ("rdma", r.rdma), ("unified", r.unified)] where part?.asksSomething == true {
            return OCIConfigError("\(path).\(name)", "not supported: the tree has no such limit")
        }
        return nil
    }

    /// Whether the device rules deny anything. There is no device cgroup:
    /// a deny is the kernel's own in a user namespace of the container's
    /// (mknod of a device refused, device nodes unusable on the mounts it
    /// owns; checked at create), the tree's /dev aside; a device bound in
    /// from the host must be one the rules allow (see allowsDevice). An
    /// allow grants no more than a rootless engine's does: a node the
    /// container cannot make.
    package var deniesDevices: Bool { linux?.resources?.devices?.contains { !$0.allow } == true }

    /// The rules' verdict on device `type` (c or b) `major`:`minor` for
    /// each letter of `access` (r, w, m): for each, the last rule that
    /// matches it decides, as in the device cgroup; none, allowed.
    package func allowsDevice(type: Character, major: Int64, minor: Int64, access: String = "rw") -> Bool {
        access.allSatisfy { letter in
            var allowed = true
            for rule in linux?.resources?.devices ?? [] {
                let t = rule.type ?? "a"
                guard t == "a" || t == String(type), (rule.access ?? "rwm").contains(letter) else { continue }
                if let m = rule.major, m >= 0, m != major { continue }
                if let m = rule.minor, m >= 0, m != minor { continue }
                allowed = rule.allow
            }
            return allowed
        }
    }

    /// cpu.weight from cgroup v1 shares, as runc converts them; nil for
    /// none asked: 0 (unset) and 1024, the kernel's default, which engines
    /// send for no limit (containerd always does) and which runc's formula
    /// would turn into a weight of 39, below the default 100.
    package static func cpuWeight(shares: UInt64) -> UInt64? {
        shares == 0 || shares == 1024 ? nil : 1 + ((shares - 2) * 9999) / 262_142
    }

    /// cpu.max from quota and period ("max" for no quota).
    package static func cpuMax(quota: Int64?, period: UInt64?) -> String? {
        guard quota != nil || period != nil else { return nil }
        let q = quota.map { $0 < 0 ? "max" : String($0) } ?? "max"
        return "\(q) \(period ?? 100_000)"
    }
}

extension OCIConfig {
    /// The host ids the engine asks the container's user namespace to map
    /// (`uidMappings`/`gidMappings` with a new user namespace), as the
    /// tree can give them: one range from id 0, the same for uids and gids,
    /// at most 65,536 ids (a container's block). nil: no mapping asked for
    /// (the tree gives the container its own, -o userns). Anything else is
    /// refused by its JSON path.
    package func askedIds() throws(OCIConfigError) -> (first: UInt32, count: UInt32)? {
        let uids = linux?.uidMappings ?? [], gids = linux?.gidMappings ?? []
        if uids.isEmpty && gids.isEmpty { return nil }
        guard linux?.namespaces?.contains(where: { $0.type == "user" && $0.path == nil }) == true else {
            throw OCIConfigError(uids.isEmpty ? "$.linux.gidMappings" : "$.linux.uidMappings",
                                 "a mapping needs a new user namespace in $.linux.namespaces")
        }
        for (list, path) in [(uids, "$.linux.uidMappings"), (gids, "$.linux.gidMappings")] {
            guard list.count == 1 else {
                throw OCIConfigError(path, list.isEmpty ? "missing (uids and gids are mapped together)"
                                                        : "\(list.count) ranges: the tree maps one range per container")
            }
            let m = list[0]
            guard m.containerID == 0 else { throw OCIConfigError(path + "[0].containerID", "\(m.containerID): the range must start at id 0") }
            guard m.size > 0, m.size <= 65_536 else { throw OCIConfigError(path + "[0].size", "\(m.size): 1 to 65536 ids") }
            guard UInt64(m.hostID) + UInt64(m.size) <= UInt64(UInt32.max) else {
                throw OCIConfigError(path + "[0].hostID", "\(m.hostID) + \(m.size) passes the last id")
            }
        }
        guard gids[0] == uids[0] else {
            throw OCIConfigError("$.linux.gidMappings[0]", "differs from $.linux.uidMappings[0]: the tree maps uids and gids from the same host ids")
        }
        return (uids[0].hostID, uids[0].size)
    }
}
