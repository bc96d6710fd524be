import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// How the mount command ends when it cannot go on: one line on stderr
/// saying what is missing and how to fix it, what it made undone first.
enum Command {
    /// What a refusal undoes before the exit (cgroups and lock files it made).
    nonisolated(unsafe) static var undoOnFailure: [() -> Void] = []

    static func fail(_ message: String, code: Int32 = 1) -> Never {
        StandardError.line("namespacefs: \(message)")
        for undo in undoOnFailure.reversed() { undo() }
        exit(code)
    }
}
