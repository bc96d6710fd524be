/// linux.seccomp, checked and turned into libseccomp's terms (actions and
/// comparisons as the numbers of seccomp.h), pure: nsfs-oci hands it to
/// libseccomp, which compiles the BPF the process loads before exec.
package struct SeccompProfile: Sendable, Equatable {
    /// SCMP_ACT_* values (seccomp.h; its function-like macros are not Swift's).
    package static let allow: UInt32 = 0x7fff_0000
    static let errnoBase: UInt32 = 0x0005_0000
    static let traceBase: UInt32 = 0x7ff0_0000

    package struct Rule: Sendable, Equatable {
        package var syscall: String
        package var action: UInt32
        /// (argument index, SCMP_CMP_* op, value, second value), all to hold.
        package var conditions: [Condition]
    }

    package struct Condition: Sendable, Equatable {
        package var index: UInt32
        package var op: UInt32
        package var value: UInt64
        package var valueTwo: UInt64
    }

    package var defaultAction: UInt32
    /// libseccomp's names ("x86_64", "x86", "x32", "aarch64", …).
    package var architectures: [String]
    /// SECCOMP_FILTER_FLAG_* for seccomp(2).
    package var flags: UInt32
    package var rules: [Rule]

    /// SCMP_CMP_* by the spec's names (enum scmp_compare).
    static let ops: [String: UInt32] = [
        "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
    ]
    /// SECCOMP_FILTER_FLAG_* (linux/seccomp.h); TSYNC changes nothing for
    /// a process of one thread.
    static let filterFlags: [String: UInt32] = [
        "SECCOMP_FILTER_FLAG_TSYNC": 0, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    ]

    /// What `features` lists.
    package static var operatorNames: [String] { ops.keys.sorted() }
    package static var flagNames: [String] { filterFlags.keys.sorted() }
    package static let actionNames = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                      "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"]

    /// An action by name, with its errno (SCMP_ACT_ERRNO: EPERM when none given).
    static func action(_ name: String, errno: UInt32?, at path: String) throws(OCIConfigError) -> UInt32 {
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_ERRNO": return errnoBase | ((errno ?? 1) & 0xffff)
        case "SCMP_ACT_TRACE": return traceBase | ((errno ?? 1) & 0xffff)
        case "SCMP_ACT_ALLOW": return allow
        case "SCMP_ACT_LOG": return 0x7ffc_0000
        case "SCMP_ACT_NOTIFY": throw OCIConfigError(path, "SCMP_ACT_NOTIFY needs a seccomp agent: not supported")
        default: throw OCIConfigError(path, "unknown action \(name)")
        }
    }

    /// The profile, or the first thing in it that cannot be honoured.
    package init(_ s: OCIConfig.Seccomp) throws(OCIConfigError) {
        defaultAction = try Self.action(s.defaultAction, errno: s.defaultErrnoRet, at: "$.linux.seccomp.defaultAction")
        if s.listenerPath != nil { throw OCIConfigError("$.linux.seccomp.listenerPath", "a seccomp agent is not supported") }
        architectures = []
        for (i, a) in (s.architectures ?? []).enumerated() {
            guard a.hasPrefix("SCMP_ARCH_"), a.count > 10 else { throw OCIConfigError("$.linux.seccomp.architectures[\(i)]", "unknown: \(a)") }
            architectures.append(a.dropFirst(10).lowercased())
        }
        flags = 0
        for (i, f) in (s.flags ?? []).enumerated() {
            guard let bit = Self.filterFlags[f] else { throw OCIConfigError("$.linux.seccomp.flags[\(i)]", "unknown: \(f)") }
            flags |= bit
        }
        rules = []
        for (i, r) in (s.syscalls ?? []).enumerated() {
            let path = "$.linux.seccomp.syscalls[\(i)]"
            let action = try Self.action(r.action, errno: r.errnoRet, at: path + ".action")
            var conditions: [Condition] = []
            for (j, a) in (r.args ?? []).enumerated() {
                guard let op = Self.ops[a.op] else { throw OCIConfigError("\(path).args[\(j)].op", "unknown: \(a.op)") }
                guard a.index < 6 else { throw OCIConfigError("\(path).args[\(j)].index", "\(a.index): a system call has 6 arguments") }
                conditions.append(Condition(index: a.index, op: op, value: a.value, valueTwo: a.valueTwo ?? 0))
            }
            // What the default does anyway needs no rule (libseccomp refuses one).
            if action == defaultAction { continue }
            for name in r.names {
                // Conditions on one argument twice are alternatives (as runc
                // reads them): a rule each. Otherwise all of them hold.
                if Set(conditions.map(\.index)).count < conditions.count {
                    rules += conditions.map { Rule(syscall: name, action: action, conditions: [$0]) }
                } else {
                    rules.append(Rule(syscall: name, action: action, conditions: conditions))
                }
            }
        }
    }
}
