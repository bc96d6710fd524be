// nsctl: operate namespacefs containers.
import LinuxSystem
import ToolArguments
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

enum Nsctl {
    static let defaultMount = "/namespaces"

    static let spec = ToolSpec(
        name: "nsctl",
        abstract: "Operate namespacefs containers: run programs inside them, list their processes and their tree.",
        discussion: """
        Containers are the directories of a namespacefs mount (default \
        /namespaces): create one with mkdir, remove it with rmdir or \
        rm -rf, rename it with mv. nsctl works through the mount, so inside a \
        container it sees that container's subtree only.
        """,
        version: "nsctl 0.1.0",
        commands: [ExecRequest.spec, Listing.ps, Listing.tree, Listing.status, Listing.top])

    /// One line on stderr, exit 1 (or `status`).
    static func fail(_ message: String, status: Int32 = 1) -> Never {
        StandardError.line("nsctl: \(message)")
        Glibc.exit(status)
    }

    static func main() -> Never {
        let invocation: Invocation
        do { invocation = try spec.parse(Array(CommandLine.arguments.dropFirst())) } catch {
            fail(error.description, status: 64)
        }
        switch invocation {
        case .help(let command):
            print(spec.help(command), terminator: "")
        case .version:
            print(spec.version)
        case .completion:
            print(spec.bashCompletion(), terminator: "")
        case .run(let command, let args):
            switch command {
            case ExecRequest.spec.name: ExecRequest(args).run()
            case Listing.ps.name: Listing.runPs(args)
            case Listing.tree.name: Listing.runTree(args)
            case Listing.status.name: Listing.runStatus(args)
            default: Listing.runTop(args)
            }
        }
        Glibc.exit(0)
    }
}

Nsctl.main()
