#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A raw descriptor with typed operations. Not owning: see `OwnedDescriptor`.
package struct FileDescriptor: Hashable, Sendable {
    package let rawValue: Int32
    package init(rawValue: Int32) { self.rawValue = rawValue }

    package static let currentDirectory = FileDescriptor(rawValue: AT_FDCWD)

    /// The corresponding C function is `openat`.
    package static func open(_ path: String, _ flags: Int32, mode: mode_t = 0,
                            relativeTo dir: FileDescriptor = .currentDirectory) throws(Errno) -> FileDescriptor {
        let fd = try valueOrErrno { openat(dir.rawValue, path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    package func close() { _ = Glibc.close(rawValue) }

    /// Read until end of file (small pseudo-files: /proc, cgroupfs).
    /// `shortReadEnds`: a read shorter than asked is the end too — true of
    /// a namespacefs control file, whose daemon answers every read with all
    /// it has up to the size asked (direct I/O: the kernel splits one
    /// read(2) into requests of max_read and stops at the first short
    /// answer), so no second read, a round trip to the daemon, only to
    /// learn that; never of kernfs and seq_file, which answer a page at a time.
    package func readAll(capacity: Int = 4096, shortReadEnds: Bool = false) throws(Errno) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: capacity)
        while true {
            let n = try valueOrErrno { chunk.withUnsafeMutableBytes { Glibc.read(rawValue, $0.baseAddress, $0.count) } }
            out.append(contentsOf: chunk[0..<n])
            if n == 0 || (shortReadEnds && n < capacity) { return out }
        }
    }

    /// The whole content from offset 0 (re-generates a pseudo-file). Reads
    /// until a read returns nothing: a short read is no end, kernfs and
    /// seq_file files (cgroup.procs of 1,000 processes: 5 KB) return a page
    /// at a time. `sizeHint`: the expected size.
    package func preadAll(sizeHint: Int = 4096) throws(Errno) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(1, sizeHint))
        var total = 0
        while true {
            if total == out.count { out += [UInt8](repeating: 0, count: out.count) }
            let n = try valueOrErrno {
                out.withUnsafeMutableBytes { Glibc.pread(rawValue, $0.baseAddress! + total, $0.count - total, off_t(total)) }
            }
            if n == 0 { break }
            total += n
        }
        out.removeSubrange(total...)
        return out
    }

    @discardableResult
    package func write(_ bytes: some Collection<UInt8>) throws(Errno) -> Int {
        let a = Array(bytes)
        return try valueOrErrno { a.withUnsafeBytes { Glibc.write(rawValue, $0.baseAddress, $0.count) } }
    }

    /// Its inode number (fstat).
    package func inode() throws(Errno) -> UInt64 {
        var st = stat()
        _ = try valueOrErrno { fstat(rawValue, &st) }
        return UInt64(st.st_ino)
    }

    /// st_size.
    package func size() throws(Errno) -> Int {
        var st = stat()
        _ = try valueOrErrno { fstat(rawValue, &st) }
        return Int(st.st_size)
    }

    package func truncate(to length: Int) throws(Errno) {
        _ = try valueOrErrno { Glibc.ftruncate(rawValue, off_t(length)) }
    }

    /// One pwrite(2) of all of `bytes` at `offset` (a short count is returned, not retried).
    package func pwrite(_ bytes: some Collection<UInt8>, at offset: Int) throws(Errno) -> Int {
        let a = Array(bytes)
        return try valueOrErrno { a.withUnsafeBytes { Glibc.pwrite(rawValue, $0.baseAddress, $0.count, off_t(offset)) } }
    }
}

/// A descriptor closed when the last reference goes (pidfds, cgroup dirs).
package final class OwnedDescriptor: Sendable {
    package let fd: FileDescriptor
    package init(_ fd: FileDescriptor) { self.fd = fd }
    package var rawValue: Int32 { fd.rawValue }
    deinit { fd.close() }
}

/// Whole-file helpers for small files.
package enum FileIO {
    package static func read(_ path: String, relativeTo dir: FileDescriptor = .currentDirectory) throws(Errno) -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY, relativeTo: dir)
        defer { fd.close() }
        return try fd.readAll()
    }

    /// A namespacefs control file whole (see FileDescriptor.readAll).
    package static func readControlFile(_ path: String) throws(Errno) -> String {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        return String(decoding: try fd.readAll(capacity: 65536, shortReadEnds: true), as: UTF8.self)
    }

    package static func readString(_ path: String, relativeTo dir: FileDescriptor = .currentDirectory) throws(Errno) -> String {
        String(decoding: try read(path, relativeTo: dir), as: UTF8.self)
    }

    /// Write into an existing file (cgroupfs, procfs knobs).
    package static func write(_ path: String, _ text: String, relativeTo dir: FileDescriptor = .currentDirectory) throws(Errno) {
        let fd = try FileDescriptor.open(path, O_WRONLY, relativeTo: dir)
        defer { fd.close() }
        try fd.write(Array(text.utf8))
    }

    /// Write bytes as they are, in one write(2) (a cgroup limit: the kernel
    /// parses it and says EINVAL or not).
    package static func write(_ path: String, bytes: [UInt8]) throws(Errno) {
        let fd = try FileDescriptor.open(path, O_WRONLY)
        defer { fd.close() }
        _ = try fd.write(bytes)
    }

    /// Replace a file atomically: write a temporary sibling, rename it over.
    /// A crash of this process leaves the old or the new file, never a mix.
    /// No fsync (it cost 0.8 ms per container on ext4): what is written here
    /// describes processes that do not survive a power loss either.
    package static func replaceAtomically(_ path: String, with bytes: [UInt8]) throws(Errno) {
        let tmp = path + ".tmp"
        let fd = try FileDescriptor.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
        do throws(Errno) {
            var off = 0
            while off < bytes.count { off += try fd.write(bytes[off...]) }
        } catch {
            fd.close()
            unlink(tmp)
            throw error
        }
        fd.close()
        _ = try valueOrErrno { Glibc.rename(tmp, path) }
    }

    package static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(Errno) {
        _ = try valueOrErrno { mkdir(path, mode) }
    }

    /// mkdir -p
    package static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(Errno) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            do throws(Errno) { try makeDirectory(prefix, mode: mode) } catch where error == .exists {}
        }
    }

    package static func removeDirectory(_ path: String) throws(Errno) {
        _ = try valueOrErrno { rmdir(path) }
    }

    package static func remove(_ path: String) throws(Errno) {
        _ = try valueOrErrno { unlink(path) }
    }

    /// Entry names, without . and ..; `onlyDirectories`: by the type readdir
    /// reports (no stat per entry).
    package static func listDirectory(_ path: String, onlyDirectories: Bool = false) throws(Errno) -> [String] {
        guard let d = opendir(path) else { throw Errno.current }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            if onlyDirectories && e.pointee.d_type != UInt8(DT_DIR) { continue }
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// stat(2).
    package static func status(_ path: String) throws(Errno) -> stat {
        var st = stat()
        _ = try valueOrErrno { stat(path, &st) }
        return st
    }

    /// The path with every symlink, `.` and `..` resolved (nil, errno set,
    /// if a component is missing). The corresponding C function is `realpath`.
    package static func realPath(_ path: String) -> String? {
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard realpath(path, &resolved) != nil else { return nil }
        return resolved.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    package static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

}
