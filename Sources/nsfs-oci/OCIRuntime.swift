// nsfs-oci: the root command, and how it fails (one line, and --log).
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

/// runc's commands, as engines call them. Global options (--root, --log,
/// --log-format, --debug, --systemd-cgroup, --tree) come before the command
/// and are read by main.
struct OCIRuntime: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nsfs-oci",
        abstract: "An OCI runtime whose containers are directories of a namespacefs tree.",
        discussion: """
        Each container an engine creates is /namespaces/ENGINE/ID: ENGINE is \
        the last part of --root when one is given (containerd's namespace), \
        else podman for podman's containers, else oci. \
        Global options, before the command: --root DIR, --tree DIR (the \
        namespacefs mount, default /namespaces or $NSFS_OCI_TREE), --log FILE, --log-format \
        text|json, --debug.
        """,
        version: "nsfs-oci 0.1.0 (runtime-spec 1.0.2)",
        subcommands: [Create.self, Start.self, State.self, Kill.self, Delete.self, Ps.self, Pause.self, Resume.self,
                      Exec.self, Features.self])

    nonisolated(unsafe) static var runtime = Runtime(root: "/run/nsfs-oci", tree: "/namespaces", rootGiven: false)
    nonisolated(unsafe) static var logFile: String?
    nonisolated(unsafe) static var logJSON = false

    /// One line on stderr (and in --log), exit 1.
    static func fail(_ message: String) -> Never {
        StandardError.line("nsfs-oci: \(message)")
        if let logFile {
            let line = logJSON
                ? "{\"level\":\"error\",\"msg\":\(quoted(message)),\"time\":\"\(rfc3339(SystemTime.realtimeNanoseconds()))\"}\n"
                : "nsfs-oci: \(message)\n"
            let fd = open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { _ = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }; close(fd) }
        }
        Glibc.exit(1)
    }

    static func run(_ body: () throws(NsctlError) -> Void) {
        do { try body() } catch { fail(error.description) }
    }

    static func quoted(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self)
    }

    static func printJSON<T: Encodable>(_ value: T) { print(json(value)) }
}
