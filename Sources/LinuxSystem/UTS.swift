#if canImport(Glibc)
import Glibc
#endif
import CNamespaceShim

/// Hostnames of other UTS namespaces. setns(CLONE_NEWUTS) changes only the
/// calling thread, so the thread joins the target namespace for one
/// gethostname/sethostname and returns to its own: a few syscalls, no
/// helper process.
public enum UTSNamespace {
    nonisolated(unsafe) static var own: Int32 = -1
    static let lock = Lock()
    static let utsFlag = Int32(NamespaceType.uts.cloneFlag)

    static func withNamespace<T>(_ ns: FileDescriptor, _ body: () throws(Errno) -> T) throws(Errno) -> T {
        try lock.withLock { () throws(Errno) -> T in
            if own < 0 { own = try FileDescriptor.open("/proc/thread-self/ns/uts", O_RDONLY).rawValue }
            _ = try valueOrNegatedErrno { nsfs_setns(ns.rawValue, utsFlag) }
            defer { _ = nsfs_setns(own, utsFlag) }
            return try body()
        }
    }

    public static func hostname(in ns: FileDescriptor) throws(Errno) -> String {
        try withNamespace(ns) { () throws(Errno) -> String in try ownHostname() }
    }

    /// The calling thread's own UTS hostname.
    public static func ownHostname() throws(Errno) -> String {
        var buf = [CChar](repeating: 0, count: 65)
        _ = try valueOrErrno { gethostname(&buf, buf.count) }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    public static func setHostname(_ name: [UInt8], in ns: FileDescriptor) throws(Errno) {
        try withNamespace(ns) { () throws(Errno) in
            _ = try name.withUnsafeBufferPointer { (p) throws(Errno) in
                try valueOrErrno { p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { sethostname($0, p.count) } }
            }
        }
    }
}
