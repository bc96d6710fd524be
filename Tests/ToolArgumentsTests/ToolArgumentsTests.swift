import Testing
@testable import ToolArguments

struct ToolArgumentsTests {
    static let tool = ToolSpec(
        name: "t", abstract: "A tool.", discussion: "What it does.", version: "t 1",
        commands: [
            CommandSpec("exec", abstract: "Run.", options: [
                OptionSpec(long: "ns", value: "list", help: "Namespaces."),
                OptionSpec(long: "tty", short: "t", help: "A terminal."),
                OptionSpec(long: "detach", short: "d", help: "Detached."),
            ], arguments: [ArgumentSpec("path", help: "Where.")], command: ArgumentSpec("cmd", help: "What.")),
            CommandSpec("top", abstract: "Busiest.", options: [
                OptionSpec(long: "number", short: "n", value: "number", help: "Lines."),
                OptionSpec(long: "json", help: "JSON."),
            ], arguments: [ArgumentSpec("path", help: "Where.", default: "/namespaces")]),
        ])

    static func run(_ args: [String]) throws(UsageError) -> ParsedArguments {
        guard case .run(_, let parsed) = try tool.parse(args) else { throw UsageError("not a run") }
        return parsed
    }

    @Test func optionsInEverySpellingAndTheCommandAfterTheTerminator() throws {
        for args in [["exec", "--ns", "net,uts", "-td", "/n/c", "--", "ls", "-l", "--", "x"],
                     ["exec", "-t", "--ns=net,uts", "/n/c", "-d", "--", "ls", "-l", "--", "x"],
                     ["exec", "/n/c", "--detach", "--tty", "--ns", "net,uts", "--", "ls", "-l", "--", "x"]] {
            let p = try Self.run(args)
            #expect(p.values == ["ns": "net,uts"])
            #expect(p.flags == ["tty", "detach"])
            #expect(p.arguments == ["path": "/n/c"])
            #expect(p.command == ["ls", "-l", "--", "x"])
        }
        let p = try Self.run(["top", "-n5"])
        #expect(p.values["number"] == "5")
        #expect(p.arguments["path"] == "/namespaces")
        #expect(try Self.run(["top", "-n", "7", "--json", "/n/a"]).values["number"] == "7")
        #expect(try Self.run(["top", "/n/a"]).arguments["path"] == "/n/a")
    }

    @Test func helpAndVersionWhereverAsked() throws {
        #expect(try Self.tool.parse(["--help"]) == .help(nil))
        #expect(try Self.tool.parse(["help"]) == .help(nil))
        #expect(try Self.tool.parse(["help", "top"]) == .help("top"))
        #expect(try Self.tool.parse(["exec", "/n/c", "-h"]) == .help("exec"))
        #expect(try Self.tool.parse(["--version"]) == .version)
        // After the terminator, --help is the command's.
        #expect(try Self.run(["exec", "/n/c", "--", "ls", "--help"]).command == ["ls", "--help"])
    }

    @Test func everyMistakeIsOneLineThatNamesIt() {
        let cases: [([String], String)] = [
            ([], "missing subcommand"),
            (["frobnicate"], "unknown subcommand 'frobnicate'"),
            (["--bogus"], "unknown option '--bogus'"),
            (["exec", "--bogus", "/n/c", "--", "ls"], "unknown option '--bogus'"),
            (["exec", "-x", "/n/c", "--", "ls"], "unknown option '-x'"),
            (["exec", "/n/c"], "missing <cmd>"),
            (["exec", "/n/c", "ls"], "unexpected argument 'ls' (the command goes after '--')"),
            (["exec", "--", "ls"], "missing <path>"),
            (["exec", "/n/c", "--"], "missing <cmd> after '--'"),
            (["exec", "/n/c", "--ns"], "--ns needs a value"),
            (["exec", "--tty=1", "/n/c", "--", "ls"], "--tty takes no value"),
            (["top", "-n"], "-n needs a value"),
            (["top", "a", "b"], "unexpected argument 'b'"),
            (["top", "--", "ls"], "top takes no command"),
            (["help", "nope"], "unknown subcommand 'nope'"),
        ]
        for (args, message) in cases {
            #expect(throws: UsageError.self, "\(args)") { try Self.tool.parse(args) }
            do { _ = try Self.tool.parse(args) } catch {
                #expect(error.description.contains(message), "\(args): \(error.description)")
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test func bashCompletionIsMadeFromTheSameDescription() throws {
        #expect(try Self.tool.parse(["--generate-completion-script", "bash"]) == .completion)
        #expect(throws: UsageError.self) { try Self.tool.parse(["--generate-completion-script", "zsh"]) }
        let script = Self.tool.bashCompletion()
        #expect(script.contains("complete -F _t t"))
        #expect(script.contains("compgen -W \"exec top help --help --version\""))
        #expect(script.contains("opts=\"--ns --tty -t --detach -d --help\""))
        #expect(script.contains("case $prev in --number|-n)"))
    }

    @Test func helpIsMadeFromTheSameDescription() {
        let top = Self.tool.help(nil)
        #expect(top.contains("OVERVIEW: A tool."))
        #expect(top.contains("  exec") && top.contains("Run."))
        let exec = Self.tool.help("exec")
        #expect(exec.contains("USAGE: t exec [--ns <list>] [--tty] [--detach] <path> -- <cmd> ..."))
        #expect(exec.contains("-t, --tty"))
        #expect(exec.contains("<cmd>"))
        #expect(Self.tool.help("top").contains("[<path>]"))
        #expect(Self.tool.help("top").contains("(default: /namespaces)"))
        // Long help wraps within 80 columns.
        let long = ToolSpec.rows([("--x", String(repeating: "word ", count: 40))])
        #expect(long.count > 1 && long.allSatisfy { $0.count < 80 })
    }
}
