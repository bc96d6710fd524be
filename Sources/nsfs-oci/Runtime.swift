import ContainerTree
import FoundationEssentials
import LinuxSystem
import OCISpec
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

/// Where nsfs-oci keeps what it knows of each container (`--root`, as
/// runc's), and where in the tree the containers are: /namespaces/ENGINE/ID,
/// ENGINE the last part of `--root`.
struct Runtime {
    let root: String
    let tree: String
    /// --root was given (an engine's own, e.g. containerd's per namespace).
    let rootGiven: Bool

    /// The engine's directory in the tree: the last part of --root when the
    /// engine gives one (containerd: its namespace); else podman's, when the
    /// bundle says podman made it (podman runs its cleanup without its
    /// runtime flags: its containers must be found under the default root);
    /// else `oci`.
    func engineDirectory(annotations: [String: String]) -> String {
        let engine = rootGiven ? root.split(separator: "/").last.map(String.init) ?? "oci"
            : annotations["io.container.manager"] == "libpod" ? "podman" : "oci"
        return tree + "/" + engine
    }
    func directory(of id: String) -> String { root + "/" + id }

    /// Compiled seccomp filters, by profile (engines send the same one to
    /// every container: libseccomp compiles podman's in ~35 ms). The one
    /// name no container id may take.
    static let seccompCache = ".seccomp-cache"

    /// An id the engine chose: one path component of the tree.
    static func check(id: String) throws(NsctlError) {
        guard !id.isEmpty, id != ".", id != "..", id != Runtime.seccompCache, !id.contains("/"), id.utf8.count <= 255,
              !EntryKind.reservedNames.contains(id), !SetForest.isSetName(id) else {
            throw NsctlError("invalid container id '\(id)'")
        }
    }

    func load(_ id: String) throws(NsctlError) -> ContainerState {
        try Self.check(id: id)
        guard let bytes = try? FileIO.read(directory(of: id) + "/state.json") else {
            throw NsctlError("container \(id) does not exist")
        }
        do { return try JSONDecoder().decode(ContainerState.self, from: Data(bytes)) } catch {
            throw NsctlError("container \(id): unreadable state (\(directory(of: id))/state.json)")
        }
    }

    func save(_ s: ContainerState) throws(NsctlError) {
        guard let data = try? JSONEncoder().encode(s) else { throw NsctlError("cannot encode the state of \(s.id)") }
        let path = directory(of: s.id) + "/state.json"
        try write(String(decoding: data, as: UTF8.self), to: path + ".new", create: true)
        guard rename(path + ".new", path) == 0 else { throw NsctlError("cannot write \(path): \(Errno.current)") }
    }
}

/// One container, as nsfs-oci records it.
struct ContainerState: Codable {
    var id: String
    var bundle: String
    var rootfs: String
    var pid: Int32
    /// The process's start time (/proc/PID/stat, field 22): a pid reused
    /// since is never taken for it.
    var pidStart: UInt64
    var created: String
    /// Its directory in the tree.
    var path: String
    /// Its cgroup (cgroup2, absolute): what `state` reads, with or without
    /// a daemon serving the tree.
    var cgroup: String?
    var annotations: [String: String]
    /// config.json's hooks, for start (poststart) and delete (poststop).
    var hooks: OCIConfig.Hooks?

    /// Its process, if it still runs (nil: stopped).
    var process: ProcessHandle? {
        guard let p = try? ProcessHandle.open(pid: pid), p.isAlive, ContainerState.startTime(of: pid) == pidStart else { return nil }
        return p
    }

    static func startTime(of pid: Int32) -> UInt64? {
        guard let text = try? FileIO.readString("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}

/// A time as the runtime spec's state shows it (RFC 3339, UTC).
func rfc3339(_ nanoseconds: Int64) -> String {
    var t = time_t(nanoseconds / 1_000_000_000)
    var tm = tm()
    gmtime_r(&t, &tm)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    let ns = String(nanoseconds % 1_000_000_000)
    return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))."
        + String(repeating: "0", count: 9 - ns.count) + ns + "Z"
}
