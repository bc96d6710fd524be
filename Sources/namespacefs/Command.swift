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

    /// A file installed beside this program (the init, the holder).
    static func besideThisProgram(_ name: String) -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
        let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/sbin/namespacefs"
        let dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return dir + "/" + name
    }
}
