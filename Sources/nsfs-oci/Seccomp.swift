// An engine's seccomp profile, compiled by libseccomp to the BPF program
// the container's processes load before exec (the exec'd ones too: kept
// beside the container's state).
import CNamespaceShim
import CSeccomp
import LinuxSystem
import OCISpec
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

enum SeccompFilter {
    /// The profile's program from `directory` (a file named by a hash of the
    /// profile, holding the profile itself, compared whole, then the
    /// program), else compiled and kept there. A cache that root does not
    /// own alone is not read.
    static func cached(_ profile: SeccompProfile, in directory: String) throws(NsctlError) -> [UInt8] {
        let key = Array(String(describing: profile).utf8)
        let path = directory + "/" + String(fnv1a(key), radix: 16)
        let trusted = (try? TrustedDirectory.ensure(directory, mode: 0o700)) != nil
        if trusted, let bytes = try? FileIO.read(path), bytes.count > key.count, bytes[key.count] == 0,
           bytes[..<key.count].elementsEqual(key), (bytes.count - key.count - 1) % 8 == 0 {
            return Array(bytes[(key.count + 1)...])
        }
        let filter = try compile(profile)
        if trusted { _ = try? FileIO.replaceAtomically(path, with: key + [0] + filter) }
        return filter
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    /// The profile as a BPF program (struct sock_filter[], 8 bytes each).
    static func compile(_ profile: SeccompProfile) throws(NsctlError) -> [UInt8] {
        guard let ctx = seccomp_init(profile.defaultAction) else { throw NsctlError("seccomp: cannot start a filter (libseccomp)") }
        defer { seccomp_release(ctx) }
        func check(_ rc: Int32, _ what: @autoclosure () -> String) throws(NsctlError) {
            if rc < 0 { throw NsctlError("config.json: $.linux.seccomp: \(what()): \(Errno(-rc))") }
        }
        for a in profile.architectures {
            let arch = seccomp_arch_resolve_name(a)
            guard arch != 0 else { throw NsctlError("config.json: $.linux.seccomp.architectures: \(a) unknown to libseccomp") }
            let rc = seccomp_arch_add(ctx, arch)
            if rc != -EEXIST { try check(rc, "architecture \(a)") }
        }
        for r in profile.rules {
            // A name this kernel or architecture lacks is skipped, as runc does.
            let nr = seccomp_syscall_resolve_name(r.syscall)
            if nr == __NR_SCMP_ERROR { continue }
            let args = r.conditions.map {
                scmp_arg_cmp(arg: $0.index, op: scmp_compare(rawValue: $0.op), datum_a: $0.value, datum_b: $0.valueTwo)
            }
            let rc = args.withUnsafeBufferPointer {
                seccomp_rule_add_array(ctx, r.action, nr, UInt32(args.count), $0.baseAddress)
            }
            try check(rc, "the rule for \(r.syscall)")
        }
        let fd = nsfs_memfd("nsfs-seccomp")
        guard fd >= 0 else { throw NsctlError("seccomp: memfd_create: \(Errno(-fd))") }
        defer { close(fd) }
        try check(seccomp_export_bpf(ctx, fd), "exporting the filter")
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0, size % 8 == 0 else { throw NsctlError("seccomp: libseccomp made a program of \(size) bytes") }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(size), 0) }
        guard n == size else { throw NsctlError("seccomp: reading the filter back: \(Errno.current)") }
        return bytes
    }
}

/// A compiled filter and its seccomp(2) flags, as the container's
/// processes load it; kept in the container's state directory (exec reads
/// it there: the bundle is the engine's, and libseccomp need not run again).
struct SeccompProgram: Equatable {
    var filter: [UInt8]
    var flags: UInt32

    static let fileName = "seccomp.bpf"

    /// Compiled from the bundle's profile (or found compiled in `cache`, a
    /// directory of root's); nil when it has none.
    init?(_ config: OCIConfig, cache: String) throws(NsctlError) {
        guard let s = config.linux?.seccomp else { return nil }
        let profile: SeccompProfile
        do throws(OCIConfigError) { profile = try SeccompProfile(s) } catch { throw NsctlError(error.description) }
        filter = try SeccompFilter.cached(profile, in: cache)
        flags = profile.flags
    }

    init(filter: [UInt8], flags: UInt32) {
        self.filter = filter
        self.flags = flags
    }

    /// The flags (4 bytes, little-endian), then the program.
    func save(in directory: String) throws(NsctlError) {
        let bytes = withUnsafeBytes(of: flags.littleEndian, Array.init) + filter
        do throws(Errno) { try FileIO.replaceAtomically(directory + "/" + Self.fileName, with: bytes) } catch {
            throw NsctlError("\(directory)/\(Self.fileName): \(error)")
        }
    }

    /// The container's, if it has one.
    static func load(from directory: String) throws(NsctlError) -> SeccompProgram? {
        let path = directory + "/" + fileName
        guard let bytes = try? FileIO.read(path) else {
            if access(path, F_OK) != 0 && errno == ENOENT { return nil }
            throw NsctlError("\(path): \(Errno.current)")
        }
        guard bytes.count > 4, (bytes.count - 4) % 8 == 0 else { throw NsctlError("\(path): not a filter") }
        let flags = bytes[..<4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return SeccompProgram(filter: Array(bytes[4...]), flags: flags)
    }
}
