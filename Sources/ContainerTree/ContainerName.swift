import LinuxSystem

/// The rule for container names, applied alike to `mkdir` and `mv`.
///
/// A name is 1–255 bytes of valid UTF-8; it is not `.` or `..`, contains no
/// `/`, no control character (U+0000–U+001F, U+007F–U+009F, and the line
/// and paragraph separators U+2028, U+2029: they would break the
/// line-based `status` file and terminals), and does not start with `-` (the
/// name becomes the hostname and an argument to tools, where it would read
/// as an option), no invisible character (bidi controls, zero-width
/// characters), and is not `unnamed` followed by digits of another script.
/// Names of the filesystem's own entries are taken.
package enum ContainerName {
    package static let maxBytes = 255

    package static func validate(_ bytes: some Collection<UInt8>) -> Result<String, TreeError> {
        if bytes.count > maxBytes { return .failure(.nameTooLong) }
        if bytes.isEmpty { return .failure(.invalidName) }
        guard let name = String(validating: bytes, as: UTF8.self) else { return .failure(.invalidName) }
        if name == "." || name == ".." || bytes.first == UInt8(ascii: "-") { return .failure(.invalidName) }
        for b in bytes where b < 0x20 || b == 0x7f || b == UInt8(ascii: "/") {
            return .failure(.invalidName)
        }
        // C1 controls (NEL, U+0085, among them) and the Unicode line and
        // paragraph separators end a line for some readers (Python's
        // splitlines): a name must never split a `status` line.
        if name.unicodeScalars.contains(where: { (0x80...0x9f).contains($0.value) || $0.value == 0x2028 || $0.value == 0x2029 }) {
            return .failure(.invalidName)
        }
        // Invisible characters make two names that look alike, or one that
        // reads backwards in a listing (bidi overrides: "Trojan Source"):
        // bidi embeddings, overrides and isolates, zero-width characters.
        if name.unicodeScalars.contains(where: {
            (0x202a...0x202e).contains($0.value) || (0x2066...0x2069).contains($0.value)
                || (0x200b...0x200d).contains($0.value) || $0.value == 0xfeff || $0.value == 0x200e || $0.value == 0x200f
        }) {
            return .failure(.invalidName)
        }
        // `unnamed` with digits of another script looks like a set's name.
        if name.hasPrefix("unnamed") {
            let rest = name.unicodeScalars.dropFirst(7)
            if !rest.isEmpty && rest.allSatisfy({ $0.properties.numericType != nil })
                && !rest.allSatisfy({ $0.isASCII }) { return .failure(.invalidName) }   // (ASCII: a set's own name, EEXIST)
        }
        return .success(name)
    }

    package static func validate(_ name: String) -> Result<String, TreeError> {
        validate(Array(name.utf8))
    }

    /// The UTS hostname a container named `name` starts with: the name cut to
    /// the kernel's limit at a character boundary.
    package static func hostname(for name: String) -> String {
        var out = ""
        var size = 0
        for ch in name {
            let n = ch.utf8.count
            if size + n > UTSNamespace.maxHostnameBytes { break }
            out.append(ch)
            size += n
        }
        return out
    }
}
