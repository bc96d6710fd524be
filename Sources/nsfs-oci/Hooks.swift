import CNamespaceShim
import FoundationEssentials
import LinuxSystem
import OCISpec
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

/// The spec's hooks that run in the runtime's namespaces (the host's):
/// prestart and createRuntime once `create` has made the container,
/// poststart after `start`, poststop when `delete` has removed it. Each
/// gets the container's state on its stdin.
enum HookRunner {
    /// Run `hooks` (of stage `stage`, for the error); the first failure
    /// throws (a failed poststart or poststop is the caller's to forgive).
    static func run(_ hooks: [OCIConfig.Hook]?, stage: String, state: SpecState) throws(NsctlError) {
        guard let hooks, !hooks.isEmpty else { return }
        let input = OCIRuntime.json(state)
        for (i, h) in hooks.enumerated() {
            let argv: [UnsafeMutablePointer<CChar>?] = (h.args ?? [h.path]).map { strdup($0) } + [nil]
            let envp: [UnsafeMutablePointer<CChar>?] = (h.env ?? []).map { strdup($0) } + [nil]
            defer { (argv + envp).forEach { free($0) } }
            var status: Int32 = 0
            let rc = argv.withUnsafeBufferPointer { a in envp.withUnsafeBufferPointer { e in
                nsfs_run_hook(h.path, a.baseAddress!, e.baseAddress!, input, Int32((h.timeout ?? 0) * 1000), &status)
            } }
            let at = "$.hooks.\(stage)[\(i)] (\(h.path))"
            if rc == -ETIMEDOUT { throw NsctlError("\(at): killed after its timeout of \(h.timeout ?? 0) s") }
            if rc < 0 { throw NsctlError("\(at): cannot run it: \(Errno(-rc))") }
            if status & 0x7f != 0 { throw NsctlError("\(at): killed by signal \(status & 0x7f)") }
            if (status >> 8) & 0xff != 0 { throw NsctlError("\(at): exit status \((status >> 8) & 0xff)") }
        }
    }
}
