import LinuxSystem

/// The daemon's log: one line on standard error (the journal, under systemd).
package enum Log {
    package static func line(_ message: String) { StandardError.line("namespacefs: " + message) }
}
