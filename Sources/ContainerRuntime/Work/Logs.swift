import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Containers' logs (the `log` entry): what their detached processes wrote
/// (`nsctl exec -d`), a line each, `TIME PID TEXT`. Kept in the state
/// directory, `logs/<id>`, so they survive a daemon crash and an unmount;
/// bounded by `-o log_size` (the oldest half goes when it is reached);
/// removed with the container.
package final class Logs: Sendable {
    let directory: String
    let limit: Int
    /// Appends and trims, one at a time.
    private let lock = Mutex<Void>(())

    init(stateDirectory: String, limit: Int) {
        directory = stateDirectory + "/logs"
        self.limit = limit
    }

    func path(_ id: UInt64) -> String { directory + "/" + hex(id) }

    /// Lines as the relay writes them (`PID<TAB>TEXT`), stamped with the
    /// time they arrived.
    package func append(_ id: UInt64, _ data: [UInt8]) throws(Errno) {
        let stamp = Array((SystemTime.rfc3339(nanoseconds: SystemTime.realtimeNanoseconds()) + " ").utf8)
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 64)
        for line in data.split(separator: 10, omittingEmptySubsequences: false) where !line.isEmpty {
            out += stamp
            if let tab = line.firstIndex(of: 9) {
                out += line[..<tab]
                out.append(32)
                out += line[line.index(after: tab)...]
            } else {
                out += Array("- ".utf8) + line
            }
            out.append(10)
        }
        try lock.withLock { _ throws(Errno) in
            try FileIO.makeDirectories(directory, mode: 0o700)
            let fd = try FileDescriptor.open(path(id), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode: 0o600)
            defer { fd.close() }
            _ = try fd.write(out)
            var st = stat()
            if fstat(fd.rawValue, &st) == 0, Int(st.st_size) > limit { try trim(id) }
        }
    }

    /// Keep the newest half, from a line's start.
    private func trim(_ id: UInt64) throws(Errno) {
        let bytes = try FileIO.read(path(id))
        var from = max(0, bytes.count - limit / 2)
        while from < bytes.count, from > 0, bytes[from - 1] != 10 { from += 1 }
        try FileIO.replaceAtomically(path(id), with: Array(bytes[from...]))
    }

    /// Its size now (0: none yet).
    package func size(_ id: UInt64) -> Int {
        var st = stat()
        return stat(path(id), &st) == 0 ? Int(st.st_size) : 0
    }

    /// `count` bytes from `offset`, as the file is now.
    package func read(_ id: UInt64, offset: Int, count: Int) -> [UInt8] {
        guard let fd = try? FileDescriptor.open(path(id), O_RDONLY | O_NOFOLLOW | O_CLOEXEC) else { return [] }
        defer { fd.close() }
        var buf = [UInt8](repeating: 0, count: count)
        let n = buf.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress, count, off_t(offset)) }
        return n > 0 ? Array(buf[0..<n]) : []
    }

    func remove(_ id: UInt64) { unlink(path(id)) }
}
