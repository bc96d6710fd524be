#if canImport(Glibc)
import Glibc
#endif

/// One line on standard error, written whole (no Foundation, no buffering):
/// the daemon's log, and the commands' one-line errors.
package enum StandardError {
    package static func line(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { p in _ = write(2, p.baseAddress, p.count) }
    }
}
