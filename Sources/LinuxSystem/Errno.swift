#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An errno value, typed. What every call in this module throws.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current errno.
    public static var current: Errno { Errno(errno) }

    public var description: String { String(cString: strerror(rawValue)) }

    public static let notPermitted = Errno(EPERM)
    public static let noEntry = Errno(ENOENT)
    public static let interrupted = Errno(EINTR)
    public static let exists = Errno(EEXIST)
    public static let busy = Errno(EBUSY)
    public static let invalid = Errno(EINVAL)
    public static let noChild = Errno(ECHILD)
    public static let noProcess = Errno(ESRCH)
    public static let accessDenied = Errno(EACCES)
    public static let notEmpty = Errno(ENOTEMPTY)
    public static let tryAgain = Errno(EAGAIN)
    public static let noSpace = Errno(ENOSPC)
    public static let timedOut = Errno(ETIMEDOUT)
    public static let io = Errno(EIO)
    public static let badDescriptor = Errno(EBADF)

    /// The kernel's own answer that a process or file no longer exists
    /// (ESRCH, ENOENT). Only this is ever taken for a death: EMFILE, ENOMEM,
    /// EACCES, EINTR and the rest say that a read failed, not that
    /// anything is gone.
    public var saysGone: Bool { self == .noProcess || self == .noEntry }
}

/// Run a libc call that returns -1 and sets errno; retry on EINTR.
@inline(__always)
func valueOrErrno<T: FixedWidthInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Errno.current
        if e != .interrupted { throw e }
    }
}

/// Run a shim call that returns a value >= 0 or -errno; retry on EINTR.
@inline(__always)
func valueOrNegatedErrno<T: SignedInteger & FixedWidthInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let r = body()
        if r >= 0 { return r }
        let e = Errno(Int32(truncatingIfNeeded: 0 - r))
        if e != Errno.interrupted { throw e }
    }
}
