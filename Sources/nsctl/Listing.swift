import ArgumentParser
import LinuxSystem

struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the processes of a container and of every container below it.",
        discussion: """
        One line per process: its pid (as you see it), the container path \
        (relative to your view of the tree) and its command. Inside a \
        container, the mount shows only that container's subtree.
        """)

    @Argument(help: ArgumentHelp("A container's directory, or the top of the mount.", valueName: "path"))
    var path: String = Nsctl.defaultMount

    func run() throws {
        let top: ContainerDirectory
        do { top = try ContainerDirectory(path) } catch { Nsctl.fail(error.description) }
        print("\(pad("PID", 8)) \(pad("CONTAINER", 30)) COMMAND")
        func visit(_ c: ContainerDirectory) {
            for pid in c.processes() {
                let comm = (try? FileIO.readString("/proc/\(pid)/comm"))?.split(separator: "\n").first.map(String.init) ?? "?"
                print("\(pad(String(pid), 8)) \(pad(c.status[.path] ?? "/", 30)) \(comm)")
            }
            c.children().forEach(visit)
        }
        visit(top)
    }
}

struct Tree: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the container tree with each container's state and process count.")

    @Argument(help: ArgumentHelp("Where to start: a container's directory or the top of the mount.", valueName: "path"))
    var path: String = Nsctl.defaultMount

    func run() throws {
        let top: ContainerDirectory
        do { top = try ContainerDirectory(path) } catch { Nsctl.fail(error.description) }
        print(top.isRoot ? path : "\(top.name)  \(summary(top))")
        func visit(_ c: ContainerDirectory, _ prefix: String) {
            let kids = c.children()
            for (i, k) in kids.enumerated() {
                let last = i == kids.count - 1
                print(prefix + (last ? "└── " : "├── ") + k.name + "  " + summary(k))
                visit(k, prefix + (last ? "    " : "│   "))
            }
        }
        visit(top, "")
    }

    func summary(_ c: ContainerDirectory) -> String {
        let n = c.status.processes ?? 0
        return "\(c.status.state?.rawValue ?? "?")  \(n) process\(n == 1 ? "" : "es")"
    }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}
