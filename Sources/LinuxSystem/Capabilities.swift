import CCap
#if canImport(Glibc)
import Glibc
#endif

/// Capability checks through libcap.
package enum Capabilities {
    /// Does `pid` (0: this process) hold CAP_SYS_ADMIN in its effective set?
    /// Alone this is not enough for a caller: root in an unprivileged user
    /// namespace holds it there too; compare user namespaces as well.
    package static func hasSysAdmin(pid: pid_t = 0) -> Bool { has(CAP_SYS_ADMIN, pid: pid) }

    /// Does `pid` (0: this process) hold capability `cap` in its effective set?
    package static func has(_ cap: cap_value_t, pid: pid_t = 0) -> Bool {
        guard let caps = pid == 0 ? cap_get_proc() : cap_get_pid(pid) else { return false }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        var value = CAP_CLEAR
        guard cap_get_flag(caps, cap, CAP_EFFECTIVE, &value) == 0 else { return false }
        return value == CAP_SET
    }
}
