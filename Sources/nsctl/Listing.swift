import ContainerTree
import LinuxSystem
import ToolArguments
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

/// ps, tree, status and top: what the mount shows, for people or as JSON.
enum Listing {
    static let pathOrTop = ArgumentSpec("path", help: "A container's directory, or the top of the mount.", default: Nsctl.defaultMount)

    static let ps = CommandSpec(
        "ps",
        abstract: "List the processes of a container and of every container below it.",
        discussion: """
        One line per process: its pid (as you see it), the container path \
        (relative to your view of the tree), its CPU time, its resident \
        memory and its command. Inside a container, the mount shows only \
        that container's subtree.
        """,
        options: [OptionSpec(long: "json", help: "One JSON array of {pid, container, cpu_usec, rss_bytes, command}.")],
        arguments: [pathOrTop])

    static func runPs(_ args: ParsedArguments) {
        let top = ContainerDirectory.open(args.arguments["path"]!)
        var rows: [(pid: Int32, container: String, cpu: UInt64, rss: UInt64, command: String)] = []
        func visit(_ c: ContainerDirectory) {
            for pid in c.processes() {
                let comm = (try? FileIO.readString("/proc/\(pid)/comm"))?.split(separator: "\n").first.map(String.init) ?? "?"
                let use = try? ProcStat.usage(pid: pid)
                rows.append((pid, c.status[.path] ?? "/", (use?.ticks ?? 0) * Accounting.microsecondsPerTick,
                             (use?.residentPages ?? 0) * Accounting.pageSize, comm))
            }
            c.children().forEach(visit)
        }
        visit(top)
        if args.flags.contains("json") {
            print(JSON.array(rows.map { r in
                .object([("pid", .number(UInt64(r.pid))), ("container", .string(r.container)), ("cpu_usec", .number(r.cpu)),
                         ("rss_bytes", .number(r.rss)), ("command", .string(r.command))])
            }).text)
            return
        }
        print("\(pad("PID", 8)) \(pad("CONTAINER", 24)) \(pad("CPU", 9)) \(pad("RSS", 9)) COMMAND")
        for r in rows {
            print("\(pad(String(r.pid), 8)) \(pad(r.container, 24)) \(pad(Accounting.seconds(r.cpu), 9)) \(pad(Accounting.size(r.rss), 9)) \(r.command)")
        }
    }

    static let tree = CommandSpec(
        "tree",
        abstract: "Print the container tree with each container's state, processes, CPU time and memory.",
        options: [OptionSpec(long: "json", help: "One JSON object per container, its children nested.")],
        arguments: [ArgumentSpec("path", help: "Where to start: a container's directory or the top of the mount.", default: Nsctl.defaultMount)])

    static func runTree(_ args: ParsedArguments) {
        let path = args.arguments["path"]!
        let top = ContainerDirectory.open(path)
        if args.flags.contains("json") {
            func node(_ c: ContainerDirectory) -> JSON {
                .object(Accounting.fields(c.status, full: false) + [("children", .array(c.children().map(node)))])
            }
            print(node(top).text)
            return
        }
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

    static func summary(_ c: ContainerDirectory) -> String {
        let n = c.status.processes ?? 0
        var s = "\(c.status.state?.rawValue ?? "?")  \(n) process\(n == 1 ? "" : "es")"
        if let cpu = c.status.cpuMicroseconds { s += "  cpu \(Accounting.seconds(cpu))" }
        if let m = c.status.memoryBytes { s += "  mem \(Accounting.size(m))\(c.status[.memorySource] == "estimate" ? "~" : "")" }
        return s
    }

    static let status = CommandSpec(
        "status",
        abstract: "Print a container's status (its status file), or with --json as one JSON object.",
        options: [OptionSpec(long: "json", help: "One JSON object: every key of the status file, numbers as numbers.")],
        arguments: [ArgumentSpec("path", help: "A container's directory.")])

    static func runStatus(_ args: ParsedArguments) {
        let c = ContainerDirectory.open(args.arguments["path"]!)
        if args.flags.contains("json") {
            print(JSON.object(Accounting.fields(c.status, full: true)).text)
        } else {
            print(c.statusText, terminator: "")
        }
    }

    static let top = CommandSpec(
        "top",
        abstract: "The busiest containers: CPU use over an interval, memory and processes, busiest first.",
        options: [OptionSpec(long: "number", short: "n", value: "number", help: "How many lines (default: 10)."),
                  OptionSpec(long: "interval", short: "i", value: "interval", help: "Seconds between the two looks (0.1-60; default: 1).")],
        arguments: [ArgumentSpec("path", help: "Where to look: a container's directory or the top of the mount.", default: Nsctl.defaultMount)])

    static func runTop(_ args: ParsedArguments) {
        guard let number = Int(args.values["number"] ?? "10"), number > 0 else {
            Nsctl.fail("--number takes a count above 0", status: 64)
        }
        guard let interval = Double(args.values["interval"] ?? "1"), (0.1...60).contains(interval) else {
            Nsctl.fail("--interval takes 0.1 to 60 seconds", status: 64)
        }
        let top = ContainerDirectory.open(args.arguments["path"]!)
        func all(_ c: ContainerDirectory) -> [ContainerDirectory] { [c] + c.children().flatMap(all) }
        let before = Dictionary(all(top).filter { !$0.isRoot }.map { ($0.path, $0.status.cpuMicroseconds ?? 0) }, uniquingKeysWith: { a, _ in a })
        usleep(UInt32(interval * 1_000_000))
        let after = all(top).filter { !$0.isRoot }
        let rows = after.map { c -> (ContainerDirectory, Double) in
            let used = Double((c.status.cpuMicroseconds ?? 0) &- (before[c.path] ?? c.status.cpuMicroseconds ?? 0))
            return (c, max(0, used) / (interval * 10_000))
        }.sorted { $0.1 > $1.1 }.prefix(number)
        print("\(pad("CPU%", 7)) \(pad("MEMORY", 10)) \(pad("PROCS", 6)) CONTAINER (cpu and memory include the containers below)")
        for (c, pct) in rows {
            let mem = c.status.memoryBytes.map { Accounting.size($0) + (c.status[.memorySource] == "estimate" ? "~" : "") } ?? "-"
            print("\(pad(String(format1(pct)), 7)) \(pad(mem, 10)) \(pad(String(c.status.processes ?? 0), 6)) \(c.status[.path] ?? c.path)")
        }
    }

    static func format1(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }
}

/// Units for people, and the status keys as JSON.
enum Accounting {
    static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    static let microsecondsPerTick = 1_000_000 / UInt64(sysconf(Int32(_SC_CLK_TCK)))

    static func seconds(_ us: UInt64) -> String { "\(us / 1_000_000).\(String(us % 1_000_000 / 10_000 + 100).dropFirst())s" }

    static func size(_ bytes: UInt64) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var v = Double(bytes), i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(bytes)B" : "\(Double(Int(v * 10)) / 10)\(units[i])"
    }

    /// Keys whose values are counts (numbers in JSON; "max" and the like stay strings).
    static let numeric: Set<String> = [StatusKey.initPid, .processes, .containers, .oomKills, .cpuUsec, .memory].map(\.rawValue)
        .reduce(into: Set(NamespaceKind.allCases.map(StatusKey.namespaceID))) { $0.insert($1) }
        .union(ControlFile.limits.map(\.name))

    /// `full`: every key; else those a tree shows.
    static func fields(_ s: ContainerStatus, full: Bool) -> [(String, JSON)] {
        let shown = full ? s.fields.keys.sorted()
            : [StatusKey.name, .path, .id, .state, .processes, .cpuUsec, .memory, .memorySource].map(\.rawValue).filter { s.fields[$0] != nil }
        return shown.map { k in
            let v = s.fields[k]!
            if numeric.contains(k), let n = UInt64(v) { return (k, .number(n)) }
            return (k, .string(v))
        }
    }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}
