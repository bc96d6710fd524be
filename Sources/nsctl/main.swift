// nsctl: operate namespacefs containers.
import ArgumentParser
import LinuxSystem
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

struct Nsctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nsctl",
        abstract: "Operate namespacefs containers: run programs inside them, list their processes and their tree.",
        discussion: """
        Containers are the directories of a namespacefs mount (default \
        /namespaces): create one with mkdir, remove it with rmdir or \
        rm -rf, rename it with mv. nsctl works through the mount, so inside a \
        container it sees that container's subtree only.
        """,
        version: "nsctl 0.1.0",
        subcommands: [Exec.self, Ps.self, Tree.self, Status.self, Top.self])

    static let defaultMount = "/namespaces"

    /// One line on stderr, exit 1 (or `status`).
    static func fail(_ message: String, status: Int32 = 1) -> Never {
        StandardError.line("nsctl: \(message)")
        Glibc.exit(status)
    }
}

// `nsctl exec` in its plain forms skips ArgumentParser (see ExecRequest.quick).
if CommandLine.arguments.count > 2, CommandLine.arguments[1] == "exec",
   let request = ExecRequest.quick(Array(CommandLine.arguments.dropFirst(2))) {
    request.run()
}
Nsctl.main()
