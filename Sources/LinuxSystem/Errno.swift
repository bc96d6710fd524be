#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An errno value, typed. What every call in this module throws.
package struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    package let rawValue: Int32
    package init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current errno.
    package static var current: Errno { Errno(errno) }

    package var description: String { String(cString: strerror(rawValue)) }

    package static let notPermitted = Errno(EPERM)
    package static let noEntry = Errno(ENOENT)
    package static let interrupted = Errno(EINTR)
    package static let exists = Errno(EEXIST)
    package static let busy = Errno(EBUSY)
    package static let invalid = Errno(EINVAL)
    package static let noChild = Errno(ECHILD)
    package static let noProcess = Errno(ESRCH)
    package static let accessDenied = Errno(EACCES)
    package static let notEmpty = Errno(ENOTEMPTY)
    package static let tryAgain = Errno(EAGAIN)
    package static let noSpace = Errno(ENOSPC)
    package static let timedOut = Errno(ETIMEDOUT)
    package static let io = Errno(EIO)
    package static let badDescriptor = Errno(EBADF)

    /// The kernel's own answer that a process or file no longer exists
    /// (ESRCH, ENOENT). Only this is ever taken for a death: EMFILE, ENOMEM,
    /// EACCES, EINTR and the rest say that a read failed, not that
    /// anything is gone.
    package var saysGone: Bool { self == .noProcess || self == .noEntry }
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
