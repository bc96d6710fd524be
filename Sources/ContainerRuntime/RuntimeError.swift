import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A refused or failed operation: the errno the caller sees and, for the
/// log, what happened.
package struct RuntimeError: Error, CustomStringConvertible, Sendable {
    package let errno: Errno
    package let message: String
    /// A rule of the tree said no (bad name, exists, not empty...), as
    /// opposed to the kernel failing: the caller's business, not the log's.
    package let isRefusal: Bool

    package init(_ errno: Errno, _ message: String) {
        self.errno = errno
        self.message = message
        isRefusal = false
    }

    /// The kernel refused what the caller asked (a limit it cannot parse):
    /// the caller's business, not the log's.
    package init(rejected errno: Errno, _ message: String) {
        self.errno = errno
        self.message = message
        isRefusal = true
    }

    package init(refused: TreeError, _ operation: String) {
        errno = refused.errno
        message = "\(operation) refused"
        isRefusal = true
    }

    package var description: String { "\(message): \(errno)" }
}

extension TreeError {
    /// The errno a user sees for each refusal.
    package var errno: Errno {
        switch self {
        case .invalidName: .invalid
        case .nameTooLong: Errno(ENAMETOOLONG)
        case .exists: .exists
        case .notFound: .noEntry
        case .notEmpty: .notEmpty
        case .isRoot: .busy
        case .crossParent: .notPermitted
        case .intoOwnSubtree: .invalid
        case .unnamedParent: .notPermitted
        }
    }
}

/// Run a call; its failure becomes a RuntimeError that says what was being
/// done (as crun's crun_make_error: one line per failing call, with errno),
/// instead of a catch-and-rewrap block at each call.
@inline(__always)
func doing<T>(_ what: @autoclosure () -> String, _ body: () throws(Errno) -> T) throws(RuntimeError) -> T {
    do throws(Errno) { return try body() } catch { throw RuntimeError(error, what()) }
}

// Why a failure is passed over, named at every call that does so (a bare
// `try?` says nothing of which it is); everything else surfaces (`doing`):

/// A fact that may be absent, or not readable now: nil, which the caller
/// takes as "not known here" — never as a death (see Errno.saysGone for
/// the one answer that is).
@inline(__always)
func ifReadable<T, E: Error>(_ body: () throws(E) -> T) -> T? {
    do { return try body() } catch { return nil }
}

/// Cleanup, or a step whose failure the caller copes with (it is told
/// whether it worked): nothing relied on breaks when it fails.
@discardableResult @inline(__always)
func bestEffort<E: Error>(_ body: () throws(E) -> Void) -> Bool {
    do { try body(); return true } catch { return false }
}
