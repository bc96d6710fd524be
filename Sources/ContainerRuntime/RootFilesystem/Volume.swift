import LinuxSystem

/// A host directory bind-mounted into a container (the `mounts` entry):
/// `SOURCE TARGET` or `SOURCE TARGET ro`, one per line, as it reads and as
/// its record keeps it. Paths are absolute, without spaces.
package struct Volume: Equatable, Sendable {
    package var source: String
    package var target: String
    package var readOnly = false

    package var line: String { "\(source) \(target)\(readOnly ? " ro" : "")" }

    /// What a write of `mounts` asks.
    package enum Change: Equatable, Sendable {
        case add(Volume)
        /// `-TARGET`
        case remove(String)
    }

    /// One line: `SOURCE TARGET [ro]` adds, `-TARGET` removes (one
    /// trailing newline ignored); nil if it is neither.
    package static func parseChange(_ bytes: [UInt8]) -> Change? {
        var b = bytes
        if b.last == 10 { b.removeLast() }
        guard let text = String(validating: b, as: UTF8.self), !text.contains("\n") else { return nil }
        if text.hasPrefix("-") {
            let target = String(text.dropFirst())
            return isPath(target) ? .remove(target) : nil
        }
        return parse(line: text).map(Change.add)
    }

    /// A record's or a listing's line.
    package static func parse(line: String) -> Volume? {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || (parts.count == 3 && parts[2] == "ro"), isPath(parts[0]), isPath(parts[1]) else { return nil }
        return Volume(source: parts[0], target: parts[1], readOnly: parts.count == 3)
    }

    /// Absolute, not `/` itself, no empty, `.` or `..` component, no space
    /// or control character.
    static func isPath(_ p: String) -> Bool {
        guard p.hasPrefix("/"), p.utf8.count <= 1024, !p.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == " " }) else { return false }
        let parts = p.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        return p != "/" && !parts.contains(where: { $0 == "." || $0 == ".." || $0.isEmpty })
    }
}
