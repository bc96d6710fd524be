#if canImport(Glibc)
import Glibc
#endif
import CNamespaceShim

/// A plain mutex (the tree is the daemon's one piece of shared state).
public final class Lock: @unchecked Sendable {
    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    public init() { pthread_mutex_init(m, nil) }
    deinit { pthread_mutex_destroy(m); m.deallocate() }

    @inline(__always)
    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}

/// Wall-clock and monotonic time without Foundation.
public enum Clock {
    public static func realtimeNanoseconds() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    public static func monotonicNanoseconds() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    /// RFC 3339 in UTC with seconds, e.g. 2026-11-22T14:27:22Z.
    public static func rfc3339(nanoseconds: Int64) -> String {
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

/// Random 64-bit values from the kernel (container ids).
public enum Random {
    public static func uint64() -> UInt64 {
        var v: UInt64 = 0
        while withUnsafeMutableBytes(of: &v, { nsfs_getrandom($0.baseAddress!, 8) }) != 8 {}
        return v
    }
}

/// A value behind its own lock.
public final class LockedValue<Value>: @unchecked Sendable {
    private let lock = Lock()
    private var value: Value
    public init(_ value: Value) { self.value = value }
    public func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}

/// Work that can wait until the current request has been answered (closing
/// a descriptor, filling a cache): whoever serves requests runs it after
/// each reply, before it reads the next request.
public final class AfterReply: @unchecked Sendable {
    private let lock = Lock()
    private var work: [() -> Void] = []

    public init() {}

    public func add(_ body: @escaping () -> Void) { lock.withLock { work.append(body) } }

    public func run() {
        let batch = lock.withLock { () -> [() -> Void] in
            defer { work.removeAll(keepingCapacity: true) }
            return work
        }
        for body in batch { body() }
    }
}
