// A command line of subcommands, options and arguments, read by hand, and
// the help made from the same description. nsctl's: a short-lived command
// whose start is most of `nsctl exec`'s cost, linked fully static, so it
// carries neither Foundation nor a parser that reflects over the binary
// (ArgumentParser's parse alone was ~1.6 ms of every start). Pure: no I/O.

/// An option: a flag (`value == nil`) or one that takes a value.
public struct OptionSpec: Sendable {
    public let long: String?
    public let short: Character?
    /// The value's name in help (`<list>`); nil for a flag.
    public let value: String?
    public let help: String

    public init(long: String? = nil, short: Character? = nil, value: String? = nil, help: String) {
        precondition(long != nil || short != nil)
        self.long = long
        self.short = short
        self.value = value
        self.help = help
    }

    /// The key its value is found under: its long name, else its short one.
    public var key: String { long ?? String(short!) }

    /// As help lists it: `-n, --number <number>`.
    var spelling: String {
        let names = [short.map { "-\($0)" }, long.map { "--\($0)" }].compactMap { $0 }.joined(separator: ", ")
        return value.map { "\(names) <\($0)>" } ?? names
    }

    /// As a usage line shows it: `--number <number>`.
    var usage: String {
        let name = long.map { "--\($0)" } ?? "-\(short!)"
        return value.map { "\(name) <\($0)>" } ?? name
    }
}

/// A positional argument; with a default it may be left out.
public struct ArgumentSpec: Sendable {
    public let name: String
    public let help: String
    public let defaultValue: String?

    public init(_ name: String, help: String, default defaultValue: String? = nil) {
        self.name = name
        self.help = help
        self.defaultValue = defaultValue
    }
}

public struct CommandSpec: Sendable {
    public let name: String
    public let abstract: String
    public let discussion: String
    public let options: [OptionSpec]
    public let arguments: [ArgumentSpec]
    /// `-- CMD [ARGS...]`: its name in help (`cmd`), nil if it takes none.
    public let command: ArgumentSpec?

    public init(_ name: String, abstract: String, discussion: String = "", options: [OptionSpec] = [],
                arguments: [ArgumentSpec] = [], command: ArgumentSpec? = nil) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.options = options
        self.arguments = arguments
        self.command = command
    }
}

/// What one command line asked of a subcommand.
public struct ParsedArguments: Sendable, Equatable {
    /// Options with a value, by key (the last one given wins).
    public var values: [String: String] = [:]
    /// Flags given, by key.
    public var flags: Set<String> = []
    /// Positional arguments, defaults filled in.
    public var arguments: [String: String] = [:]
    /// What follows `--` (for a command that takes one).
    public var command: [String] = []

    public init() {}
}

/// What the caller does with a command line.
public enum Invocation: Sendable, Equatable {
    case run(String, ParsedArguments)
    /// Help on stdout (`--help`, `-h`, `help [SUB]`): nil is the tool's own.
    case help(String?)
    case version
    /// `--generate-completion-script bash` (ArgumentParser's spelling,
    /// which `make install` uses): the script on stdout.
    case completion
}

/// One line for the user (without the tool's name), exit 64 (EX_USAGE).
public struct UsageError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

public struct ToolSpec: Sendable {
    public let name: String
    public let abstract: String
    public let discussion: String
    public let version: String
    public let commands: [CommandSpec]

    public init(name: String, abstract: String, discussion: String, version: String, commands: [CommandSpec]) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.version = version
        self.commands = commands
    }

    /// Read `args` (without the program's name).
    public func parse(_ args: [String]) throws(UsageError) -> Invocation {
        guard let first = args.first else { throw UsageError("missing subcommand (one of: \(names)); see '\(name) --help'") }
        switch first {
        case "-h", "--help": return .help(nil)
        case "--version": return .version
        case "--generate-completion-script":
            guard args.count == 2, args[1] == "bash" else { throw UsageError("--generate-completion-script takes bash (the only shell it knows)") }
            return .completion
        case "help":
            guard args.count > 1 else { return .help(nil) }
            guard commands.contains(where: { $0.name == args[1] }) else { throw unknownCommand(args[1]) }
            return .help(args[1])
        default: break
        }
        guard let command = commands.first(where: { $0.name == first }) else { throw unknownCommand(first) }
        return try parse(command, Array(args.dropFirst()))
    }

    var names: String { commands.map(\.name).joined(separator: ", ") }

    func unknownCommand(_ s: String) -> UsageError {
        UsageError(s.hasPrefix("-") ? "unknown option '\(s)'; see '\(name) --help'"
                                    : "unknown subcommand '\(s)' (one of: \(names))")
    }

    func parse(_ c: CommandSpec, _ args: [String]) throws(UsageError) -> Invocation {
        var parsed = ParsedArguments()
        var positionals: [String] = []
        let see = "see '\(name) \(c.name) --help'"
        func option(long: String) -> OptionSpec? { c.options.first { $0.long == long } }
        func option(short: Character) -> OptionSpec? { c.options.first { $0.short == short } }
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            if a == "--" {
                guard let command = c.command else { throw UsageError("\(c.name) takes no command after '--'; \(see)") }
                guard i < args.count else { throw UsageError("missing <\(command.name)> after '--'; \(see)") }
                parsed.command = Array(args[i...])
                i = args.count
                break
            }
            if a == "-h" || a == "--help" { return .help(c.name) }
            if a.hasPrefix("--") {
                let body = a.dropFirst(2)
                let (name, inline) = body.firstIndex(of: "=").map { (String(body[..<$0]), String(body[body.index(after: $0)...])) }
                    ?? (String(body), nil)
                guard let o = option(long: name) else { throw UsageError("unknown option '--\(name)'; \(see)") }
                if o.value == nil {
                    guard inline == nil else { throw UsageError("--\(name) takes no value; \(see)") }
                    parsed.flags.insert(o.key)
                } else if let inline {
                    parsed.values[o.key] = inline
                } else {
                    guard i < args.count else { throw UsageError("--\(name) needs a value (<\(o.value!)>); \(see)") }
                    parsed.values[o.key] = args[i]
                    i += 1
                }
                continue
            }
            if a.hasPrefix("-"), a.count > 1 {
                // Short options, bundled as getopt reads them: `-td`, `-n5`, `-n 5`.
                var rest = Substring(a.dropFirst())
                while let s = rest.first {
                    rest = rest.dropFirst()
                    guard let o = option(short: s) else { throw UsageError("unknown option '-\(s)'; \(see)") }
                    if o.value == nil {
                        parsed.flags.insert(o.key)
                        continue
                    }
                    if !rest.isEmpty {
                        parsed.values[o.key] = String(rest)
                    } else {
                        guard i < args.count else { throw UsageError("-\(s) needs a value (<\(o.value!)>); \(see)") }
                        parsed.values[o.key] = args[i]
                        i += 1
                    }
                    break
                }
                continue
            }
            positionals.append(a)
        }
        guard positionals.count <= c.arguments.count else {
            throw UsageError("unexpected argument '\(positionals[c.arguments.count])'"
                             + (c.command != nil ? " (the command goes after '--')" : "") + "; \(see)")
        }
        for (k, spec) in c.arguments.enumerated() {
            if k < positionals.count {
                parsed.arguments[spec.name] = positionals[k]
            } else if let d = spec.defaultValue {
                parsed.arguments[spec.name] = d
            } else {
                throw UsageError("missing <\(spec.name)>; \(see)")
            }
        }
        if let command = c.command, parsed.command.isEmpty {
            throw UsageError("missing <\(command.name)>: \(name) \(c.name) \(usageLine(c)); \(see)")
        }
        return .run(c.name, parsed)
    }

    // MARK: completion

    /// A bash completion function made from the same description:
    /// subcommands, then each one's options; directories for its
    /// arguments, commands after `--`.
    public func bashCompletion() -> String {
        let fn = "_" + name.map { $0.isLetter || $0.isNumber ? $0 : "_" }.map(String.init).joined()
        var cases: [String] = []
        for c in commands {
            let options = c.options.flatMap { o in [o.long.map { "--\($0)" }, o.short.map { "-\($0)" }].compactMap { $0 } } + ["--help"]
            let valued = c.options.filter { $0.value != nil }
                .flatMap { o in [o.long.map { "--\($0)" }, o.short.map { "-\($0)" }].compactMap { $0 } }
            // (after an option that takes a value: nothing to offer)
            let values = valued.isEmpty ? "" : """

                        case $prev in \(valued.joined(separator: "|"))) COMPREPLY=(); return 0 ;; esac
            """
            cases.append("""
                    \(c.name))\(values)
                        opts="\(options.joined(separator: " "))" ;;
            """)
        }
        return """
        # bash completion for \(name) (made by `\(name) --generate-completion-script bash`)
        \(fn)() {
            local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub= opts i
            for ((i = 1; i < COMP_CWORD; i++)); do
                if [[ ${COMP_WORDS[i]} == -- ]]; then
                    # the command to run, then its own arguments
                    if ((i == COMP_CWORD - 1)); then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
                    return 0
                fi
                [[ -z $sub && ${COMP_WORDS[i]} != -* ]] && sub=${COMP_WORDS[i]}
            done
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "\(commands.map(\.name).joined(separator: " ")) help --help --version" -- "$cur"))
                return 0
            fi
            case $sub in
        \(cases.joined(separator: "\n"))
                help) COMPREPLY=($(compgen -W "\(commands.map(\.name).joined(separator: " "))" -- "$cur")); return 0 ;;
                *) return 0 ;;
            esac
            if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); else COMPREPLY=($(compgen -d -- "$cur")); fi
        }
        complete -F \(fn) \(name)

        """
    }

    // MARK: help

    func usageLine(_ c: CommandSpec) -> String {
        var parts = c.options.map { "[\($0.usage)]" }
        parts += c.arguments.map { $0.defaultValue == nil ? "<\($0.name)>" : "[<\($0.name)>]" }
        if let command = c.command { parts.append("-- <\(command.name)> ...") }
        return parts.joined(separator: " ")
    }

    /// The help of one subcommand, or of the tool (nil).
    public func help(_ command: String?) -> String {
        var out: [String] = []
        guard let c = command.flatMap({ n in commands.first { $0.name == n } }) else {
            out += ["OVERVIEW: \(abstract)", ""]
            if !discussion.isEmpty { out += Self.wrap(discussion, indent: "") + [""] }
            out += ["USAGE: \(name) <subcommand>", "", "OPTIONS:"]
            out += Self.rows([("--version", "Show the version."), ("-h, --help", "Show help information.")])
            out += ["", "SUBCOMMANDS:"]
            out += Self.rows(commands.map { ($0.name, $0.abstract) })
            out += ["", "  See '\(name) help <subcommand>' for detailed help."]
            return out.joined(separator: "\n") + "\n"
        }
        out += ["OVERVIEW: \(c.abstract)", ""]
        if !c.discussion.isEmpty {
            for paragraph in c.discussion.split(separator: "\n\n", omittingEmptySubsequences: false) {
                // Lines that start indented (examples) stay as written.
                out += paragraph.hasPrefix(" ") || paragraph.contains("\n ")
                    ? paragraph.split(separator: "\n").map(String.init) : Self.wrap(String(paragraph), indent: "")
                out.append("")
            }
        }
        out += ["USAGE: \(name) \(c.name) \(usageLine(c))", ""]
        var arguments = c.arguments.map { a in ("<\(a.name)>", a.help + (a.defaultValue.map { " (default: \($0))" } ?? "")) }
        if let command = c.command { arguments.append(("<\(command.name)>", command.help)) }
        if !arguments.isEmpty { out += ["ARGUMENTS:"] + Self.rows(arguments) + [""] }
        out += ["OPTIONS:"] + Self.rows(c.options.map { ($0.spelling, $0.help) } + [("-h, --help", "Show help information.")])
        return out.joined(separator: "\n") + "\n"
    }

    /// Two columns: names, then help wrapped beside them.
    static func rows(_ rows: [(String, String)]) -> [String] {
        let width = min(26, (rows.map(\.0.count).max() ?? 0) + 4) + 2
        let indent = String(repeating: " ", count: width)
        return rows.flatMap { name, help -> [String] in
            let head = "  " + name
            let body = wrap(help, indent: indent)
            // The first line beside the name when it fits there.
            guard head.count + 2 <= width else { return [head] + body }
            return [head + String(repeating: " ", count: width - head.count) + body[0].dropFirst(width)] + body.dropFirst()
        }
    }

    /// Words wrapped at 79 columns, each line indented.
    static func wrap(_ text: String, indent: String) -> [String] {
        var lines: [String] = [], line = indent
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            if line.count > indent.count && line.count + 1 + word.count > 79 {
                lines.append(line)
                line = indent
            }
            line += (line.count > indent.count ? " " : "") + word
        }
        return lines + [line]
    }
}
