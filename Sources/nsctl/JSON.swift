/// Just enough JSON for nsctl's machine-readable output: objects, arrays,
/// strings and integers, written in order (no Foundation: nsctl starts fast).
enum JSON {
    case string(String)
    case number(UInt64)
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        switch self {
        case .string(let s): Self.quoted(s)
        case .number(let n): String(n)
        case .array(let a): "[" + a.map(\.text).joined(separator: ",") + "]"
        case .object(let o): "{" + o.map { Self.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
