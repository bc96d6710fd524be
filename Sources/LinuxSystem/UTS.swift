#if canImport(Glibc)
import Glibc
#endif
import CNamespaceShim

/// Hostnames of other UTS namespaces. setns(CLONE_NEWUTS) changes only the
/// calling thread, so the thread joins the target namespace for one
/// gethostname/sethostname and returns to its own: a few syscalls, no
/// helper process, and no lock (each thread moves only itself).
package enum UTSNamespace {
    /// The kernel's limit (HOST_NAME_MAX), in bytes.
    package static let maxHostnameBytes = 64

    /// The daemon's own UTS namespace, where every thread returns.
    static let own: OwnedDescriptor? = try? OwnedDescriptor(FileDescriptor.open("/proc/self/ns/uts", O_RDONLY))
    static let utsFlag = Int32(NamespaceKind.uts.cloneFlag)

    static func withNamespace<T>(_ ns: FileDescriptor, _ body: () throws(Errno) -> T) throws(Errno) -> T {
        guard let own else { throw Errno.badDescriptor }
        _ = try valueOrNegatedErrno { nsfs_setns(ns.rawValue, utsFlag) }
        defer { _ = nsfs_setns(own.rawValue, utsFlag) }
        return try body()
    }

    /// The hostname as the kernel holds it: bytes, not necessarily UTF-8.
    package static func hostname(in ns: FileDescriptor) throws(Errno) -> [UInt8] {
        try withNamespace(ns) { () throws(Errno) -> [UInt8] in try ownHostname() }
    }

    /// The same, through a descriptor the caller owns (kept open for the call).
    package static func hostname(in owner: OwnedDescriptor) throws(Errno) -> [UInt8] {
        try withExtendedLifetime(owner) { () throws(Errno) in try hostname(in: owner.fd) }
    }

    package static func setHostname(_ name: [UInt8], in owner: OwnedDescriptor) throws(Errno) {
        try withExtendedLifetime(owner) { () throws(Errno) in try setHostname(name, in: owner.fd) }
    }

    /// The calling thread's own UTS hostname.
    package static func ownHostname() throws(Errno) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: maxHostnameBytes + 1)
        _ = try valueOrErrno { buf.withUnsafeMutableBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { gethostname($0, p.count) }
        } }
        return Array(buf.prefix { $0 != 0 })
    }

    package static func setHostname(_ name: [UInt8], in ns: FileDescriptor) throws(Errno) {
        try withNamespace(ns) { () throws(Errno) in
            _ = try name.withUnsafeBufferPointer { (p) throws(Errno) in
                try valueOrErrno { p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { sethostname($0, p.count) } }
            }
        }
    }
}
