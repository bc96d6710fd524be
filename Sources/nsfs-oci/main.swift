// nsfs-oci: the OCI runtime engines call (podman, containerd), runc's
// command line; every container it makes is a directory of the tree.
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// runc's global options come before the command.
nonisolated(unsafe) var args = Array(CommandLine.arguments.dropFirst())
nonisolated(unsafe) var i = 0
var root: String?
var tree = getenv("NSFS_OCI_TREE").map { String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) } ?? "/namespaces"
func value(_ name: String) -> String? {
    let a = args[i]
    if a.hasPrefix(name + "=") { args.remove(at: i); return String(a.dropFirst(name.count + 1)) }
    guard a == name else { return nil }
    guard i + 1 < args.count else { OCIRuntime.fail("\(name) needs a value") }
    let v = args[i + 1]
    args.removeSubrange(i...(i + 1))
    return v
}
while i < args.count, args[i].hasPrefix("-"), args[i] != "--help", args[i] != "-h", args[i] != "--version", args[i] != "-v" {
    if let v = value("--root") { root = v; continue }
    if let v = value("--tree") { tree = v; continue }
    if let v = value("--log") { OCIRuntime.logFile = v; continue }
    if let v = value("--log-format") { OCIRuntime.logJSON = v == "json"; continue }
    if let v = value("--criu") { _ = v; continue }   // no checkpoint here: nothing to find
    if let v = value("--rootless") {
        if v == "true" { OCIRuntime.fail("--rootless true: nsfs-oci runs as root (the tree delegates to users itself)") }
        continue
    }
    if args[i] == "--debug" { args.remove(at: i); continue }
    if args[i] == "--systemd-cgroup" {
        OCIRuntime.fail("--systemd-cgroup: containers' cgroups are the tree's (cgroupfs), not systemd's")
    }
    OCIRuntime.fail("unknown global option \(args[i])")
}
if let root { OCIRuntime.runtime = Runtime(root: root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root, tree: tree, rootGiven: true) }
else { OCIRuntime.runtime = Runtime(root: "/run/nsfs-oci", tree: tree, rootGiven: false) }
OCIRuntime.main(args)
