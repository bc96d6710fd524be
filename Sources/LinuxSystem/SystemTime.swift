#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock and monotonic time without Foundation.
package enum SystemTime {
    package static func realtimeNanoseconds() -> Int64 { now(CLOCK_REALTIME) }

    package static func monotonicNanoseconds() -> Int64 { now(CLOCK_MONOTONIC) }

    private static func now(_ clock: clockid_t) -> Int64 {
        var t = timespec()
        clock_gettime(clock, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    /// RFC 3339 in UTC with seconds, e.g. 2026-11-22T14:27:22Z.
    package static func rfc3339(nanoseconds: Int64) -> String {
        var secs = time_t(nanoseconds / 1_000_000_000)
        var tmv = tm()
        gmtime_r(&secs, &tmv)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2))Z"
    }
}
