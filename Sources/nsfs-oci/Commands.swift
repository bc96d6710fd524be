// nsfs-oci: the commands after create (start, state, kill, delete, ps, pause, resume, exec, features).
import ArgumentParser
import CNamespaceShim
import ContainerTree
import FoundationEssentials
import LinuxSystem
import OCISpec
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the process of a created container.")
    @Argument var id: String
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let rt = OCIRuntime.runtime
            let s = try rt.load(id)
            let fifo = rt.directory(of: id) + "/exec.fifo"
            guard exists(fifo) else { throw NsctlError("container \(id) is not in created state") }
            guard s.process != nil else { throw NsctlError("container \(id) is stopped") }
            // The process waits in open(O_WRONLY): this open completes it.
            let fd = open(fifo, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw NsctlError("open \(fifo): \(Errno.current)") }
            var b: UInt8 = 0
            _ = read(fd, &b, 1)
            close(fd)
            _ = unlink(fifo)
            // (A failed poststart is a warning: the process runs.)
            do throws(NsctlError) { try HookRunner.run(s.hooks?.poststart, stage: "poststart", state: s.spec(status: "running")) } catch {
                StandardError.line("nsfs-oci: warning: \(error)")
            }
        }
    }
}

/// The runtime spec's state of a container.
struct SpecState: Encodable {
    let ociVersion = "1.0.2"
    let id: String
    let status: String
    let pid: Int32
    let bundle: String
    let rootfs: String
    let created: String
    let owner = ""
    let annotations: [String: String]
}

extension ContainerState {
    /// What the spec's `state` says of it, in `status`.
    func spec(status: String) -> SpecState {
        SpecState(id: id, status: status, pid: status == "stopped" ? 0 : pid, bundle: bundle, rootfs: rootfs,
                  created: created, annotations: annotations)
    }
}

func status(of s: ContainerState) -> String {
    guard s.process != nil else { return "stopped" }
    if exists(OCIRuntime.runtime.directory(of: s.id) + "/exec.fifo") { return "created" }
    // Frozen (by its own freeze or an ancestor's), as the kernel says: no
    // request to the tree, which may have no daemon serving it for a while.
    if let cg = s.cgroup, (try? FileIO.readString(cg + "/cgroup.events"))?.split(separator: "\n").contains("frozen 1") == true {
        return "paused"
    }
    return "running"
}

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The state of a container (the runtime spec's JSON).")
    @Argument var id: String
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let s = try OCIRuntime.runtime.load(id)
            OCIRuntime.printJSON(s.spec(status: status(of: s)))
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal to the container's process (--all: to all of its processes).")
    @Flag(name: [.customShort("a"), .long], help: "Every process of the container.") var all = false
    @Argument var id: String
    @Argument var signal: String = "SIGTERM"
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let s = try OCIRuntime.runtime.load(id)
            guard let n = SignalName.number(of: signal) else { throw NsctlError("unknown signal \(signal)") }
            if all {
                do throws(Errno) { try FileIO.write(s.path + "/signal", String(n)) } catch {
                    throw NsctlError("signal \(signal) to \(s.path): \(error)")
                }
                return
            }
            guard let p = s.process else { throw NsctlError("container \(id) is not running") }
            do throws(Errno) { try p.signal(n) } catch { throw NsctlError("kill \(s.pid): \(error)") }
        }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a container: its directory of the tree (everything in it dies) and its record.")
    @Flag(name: [.customShort("f"), .long], help: "Also a container that still runs.") var force = false
    @Argument var id: String
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let rt = OCIRuntime.runtime
            // (runc's --force: a container already gone is no error.)
            if force, !exists(rt.directory(of: id) + "/state.json") { try Runtime.check(id: id); return }
            let s = try rt.load(id)
            if !force, status(of: s) != "stopped" { throw NsctlError("container \(id) is \(status(of: s)): stop it first, or --force") }
            if rmdir(s.path) != 0 && errno != ENOENT { throw NsctlError("rmdir \(s.path): \(Errno.current)") }
            do throws(NsctlError) { try HookRunner.run(s.hooks?.poststop, stage: "poststop", state: s.spec(status: "stopped")) } catch {
                StandardError.line("nsfs-oci: warning: \(error)")
            }
            _ = unlink(rt.directory(of: id) + "/exec.fifo")
            _ = unlink(rt.directory(of: id) + "/" + SeccompProgram.fileName)
            _ = unlink(rt.directory(of: id) + "/state.json")
            _ = rmdir(rt.directory(of: id))
        }
    }
}

struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The container's processes.")
    @Option(name: [.customShort("f"), .long], help: "table or json.") var format = "table"
    @Argument var id: String
    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let s = try OCIRuntime.runtime.load(id)
            let c = try ContainerDirectory(s.path)
            // The tree's init pins the namespaces: the engine's processes are the rest.
            let pids = c.processes().filter { $0 != c.status.initPid }
            if format == "json" { OCIRuntime.printJSON(pids) } else { print("PID"); pids.forEach { print($0) } }
        }
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Freeze the container.")
    @Argument var id: String
    func run() { OCIRuntime.run { () throws(NsctlError) in try freeze(id, "1") } }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Thaw the container.")
    @Argument var id: String
    func run() { OCIRuntime.run { () throws(NsctlError) in try freeze(id, "0") } }
}

func freeze(_ id: String, _ value: String) throws(NsctlError) {
    let s = try OCIRuntime.runtime.load(id)
    do throws(Errno) { try FileIO.write(s.path + "/freeze", value) } catch { throw NsctlError("\(s.path)/freeze: \(error)") }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run another process in a running container.")
    @Option(name: [.customShort("p"), .long], help: "The process, as config.json's `process` (JSON).") var process: String?
    @Flag(name: [.customShort("d"), .long], help: "Return once it runs.") var detach = false
    @Option(name: .customLong("pid-file")) var pidFile: String?
    @Flag(name: [.customShort("t"), .long], help: "A terminal: a pty whose master goes to --console-socket.") var tty = false
    @Option(name: .customLong("console-socket")) var consoleSocket: String?
    @Option(name: .customLong("cwd")) var cwd: String?
    @Option(name: [.customShort("e"), .long]) var env: [String] = []
    @Argument var id: String
    @Argument(parsing: .captureForPassthrough) var args: [String] = []

    func run() {
        OCIRuntime.run { () throws(NsctlError) in
            let s = try OCIRuntime.runtime.load(id)
            guard let main = s.process else { throw NsctlError("container \(id) is not running") }
            var p: OCIConfig.Process
            if let process {
                guard let bytes = try? FileIO.read(process) else { throw NsctlError("cannot read \(process)") }
                do { p = try JSONDecoder().decode(OCIConfig.Process.self, from: Data(bytes)) } catch {
                    throw NsctlError("\(process): not a process (\(error))")
                }
            } else {
                guard !args.isEmpty else { throw NsctlError("exec: nothing to run (--process FILE or ID CMD...)") }
                p = OCIConfig.Process(user: .init(uid: 0, gid: 0), args: args, env: env, cwd: cwd ?? "/")
            }
            if tty { p.terminal = true }
            if p.terminal == true, consoleSocket == nil { throw NsctlError("exec: a terminal needs --console-socket") }
            let console = try connectConsole(p.terminal == true ? consoleSocket : nil)
            defer { if console >= 0 { close(console) } }
            // The namespaces its first process joined by path (an engine's
            // network) are joined alike, as the host's root; the rest are
            // the container's.
            let c = try ContainerDirectory(s.path)
            let initProcess = try c.initProcess()
            var joins: [(fd: Int32, kind: NamespaceKind)] = []
            defer { joins.forEach { close($0.fd) } }
            for kind in Create.joinable.values where (try? main.namespaceID(kind)) != (try? initProcess.namespaceID(kind)) {
                let fd = open("/proc/\(main.pid)/ns/\(kind.name)", O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw NsctlError("the \(kind.name) namespace of \(main.pid): \(Errno.current)") }
                joins.append((fd, kind))
            }
            // Under the container's seccomp filter, as its first process.
            let seccomp = try SeccompProgram.load(from: OCIRuntime.runtime.directory(of: id))
            let (pid, pidfd) = try ProcessSpawn(process: p, seccomp: seccomp).start(in: c, gate: -1, console: console, source: initProcess,
                                                                                   joins: joins)
            if let pidFile { try write(String(pid), to: pidFile, create: true) }
            if detach { return }
            Glibc.exit(nsfs_wait_forwarding(pidfd, pid, -1))
        }
    }
}

struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "What this runtime supports (JSON).")
    struct Linux: Encodable {
        let namespaces = OCIConfig.namespaceTypes.sorted()
        let capabilities = OCIConfig.capabilityNumbers.sorted { $0.value < $1.value }.map(\.key)
        let seccomp = Seccomp()
    }
    struct Seccomp: Encodable {
        let enabled = true
        let actions = SeccompProfile.actionNames
        let operators = SeccompProfile.operatorNames
        let supportedFlags = SeccompProfile.flagNames
    }
    struct Out: Encodable {
        let ociVersionMin = "1.0.0"
        let ociVersionMax = "1.0.2"
        let hooks = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
        let mountOptions = ["bind", "rbind", "ro", "rprivate"]
        let linux = Linux()
        let annotations = ["org.namespacefs.tree": "containers are directories of a namespacefs mount"]
    }
    func run() { OCIRuntime.printJSON(Out()) }
}
