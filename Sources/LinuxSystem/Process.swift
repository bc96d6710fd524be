#if canImport(Glibc)
import Glibc
#endif
import CNamespaceShim

/// A process held through a pidfd: signals and exit notification reach
/// exactly this process, never a later one that reused its pid.
package final class ProcessHandle: Sendable {
    package let pid: Int32
    package let descriptor: OwnedDescriptor

    package init(pid: Int32, pidfd: Int32) {
        self.pid = pid
        self.descriptor = OwnedDescriptor(FileDescriptor(rawValue: pidfd))
    }

    /// The corresponding C function is `pidfd_open`.
    package static func open(pid: Int32) throws(Errno) -> ProcessHandle {
        let fd = try valueOrNegatedErrno { nsfs_pidfd_open(pid, 0) }
        return ProcessHandle(pid: pid, pidfd: fd)
    }

    /// Not proven exited (a zombie counts as exited: its pidfd is readable,
    /// while signal 0 still succeeds). A pidfd that cannot be polled
    /// proves nothing: such a process counts as alive.
    package var isAlive: Bool { !waitForExit(timeoutMilliseconds: 0) }

    /// Wait until the process has exited (pidfd readable). False on timeout,
    /// and when poll itself fails (ENOMEM...): a failed call is never
    /// taken for an exit.
    package func waitForExit(timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&p, 1, timeoutMilliseconds)
            if r > 0 { return p.revents & Int16(POLLIN | POLLHUP) != 0 }
            if r == 0 { return false }
            if errno != EINTR { return false }
        }
    }

    /// Send `sig` to exactly this process (pidfd_send_signal).
    package func signal(_ sig: Int32) throws(Errno) {
        _ = try valueOrNegatedErrno { nsfs_pidfd_send_signal(descriptor.rawValue, sig) }
    }

    /// Collect the exit status if this process is our child and has exited.
    package func reap() { _ = nsfs_pidfd_reap(descriptor.rawValue) }

    /// An nsfs descriptor of one of this process's namespaces.
    package func namespace(_ kind: NamespaceKind) throws(Errno) -> OwnedDescriptor {
        let fd = try valueOrNegatedErrno { nsfs_pidfd_namespace(descriptor.rawValue, kind.shimKind) }
        return OwnedDescriptor(FileDescriptor(rawValue: fd))
    }

    /// Its cgroup's id (compare with `CgroupDirectory.identity().id`).
    package func cgroupID() throws(Errno) -> UInt64 {
        var id: UInt64 = 0
        _ = try valueOrNegatedErrno { nsfs_pidfd_cgroup_id(descriptor.rawValue, &id) }
        return id
    }

    /// Its cgroup's id and its parent's pid (daemon's namespace), in one ioctl.
    package func info() throws(Errno) -> (cgroupID: UInt64, parent: Int32) {
        var id: UInt64 = 0
        var parent: Int32 = 0
        _ = try valueOrNegatedErrno { nsfs_pidfd_info(descriptor.rawValue, &id, &parent) }
        return (id, parent)
    }

    /// The 64-bit id (NS_GET_ID) of one of this process's namespaces.
    package func namespaceID(_ kind: NamespaceKind) throws(Errno) -> UInt64 {
        let ns = try namespace(kind)
        return try NamespaceKind.id(of: ns)
    }
}

extension NamespaceKind {
    /// The 64-bit id of the namespace behind an nsfs descriptor.
    package static func id(of fd: FileDescriptor) throws(Errno) -> UInt64 {
        var id: UInt64 = 0
        _ = try valueOrNegatedErrno { nsfs_ns_id(fd.rawValue, &id) }
        return id
    }

    /// The same, for a descriptor the caller owns: kept open for the call
    /// (an owner's last use may otherwise close it before the fd is used).
    package static func id(of owner: OwnedDescriptor) throws(Errno) -> UInt64 {
        try withExtendedLifetime(owner) { () throws(Errno) in try id(of: owner.fd) }
    }

    package static func inode(of owner: OwnedDescriptor) throws(Errno) -> UInt64 {
        try withExtendedLifetime(owner) { () throws(Errno) in try inode(of: owner.fd) }
    }

    /// Inode number of the namespace (the `net:[4026532182]` identity).
    package static func inode(of fd: FileDescriptor) throws(Errno) -> UInt64 {
        var st = stat()
        _ = try valueOrErrno { fstat(fd.rawValue, &st) }
        return UInt64(st.st_ino)
    }
}

/// Facts read from /proc/PID/status.
package enum ProcStatus {
    /// The NSpid line: the pid in each pid namespace, outermost first.
    package static func namespacePids(pid: Int32) throws(Errno) -> [Int32] {
        try parseNamespacePids(FileIO.readString("/proc/\(pid)/status"))
    }

    /// The thread group (process) a thread belongs to: its Tgid line.
    package static func threadGroup(of tid: Int32) throws(Errno) -> Int32 {
        for line in try FileIO.readString("/proc/\(tid)/status").split(separator: "\n") where line.hasPrefix("Tgid:") {
            if let v = Int32(line.dropFirst(5).trimmingLeadingBlanks) { return v }
        }
        throw .invalid
    }

    package static func parseNamespacePids(_ status: String) throws(Errno) -> [Int32] {
        for line in status.split(separator: "\n") where line.hasPrefix("NSpid:") {
            return line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int32($0) }
        }
        throw .invalid
    }
}

/// A process's children: /proc/PID/task/*/children (each thread's).
package enum ProcChildren {
    package static func of(_ pid: Int32) -> [Int32] {
        guard let tids = try? FileIO.listDirectory("/proc/\(pid)/task", onlyDirectories: true) else { return [] }
        return tids.flatMap { tid in
            ((try? FileIO.readString("/proc/\(pid)/task/\(tid)/children")) ?? "").split(separator: " ").compactMap { Int32($0) }
        }
    }
}

/// Facts read from /proc/PID/stat.
package enum ProcStat {
    /// Start time in clock ticks since boot (field 22): with the pid, the
    /// identity of a process that survives pid reuse (as runc uses it).
    package static func startTime(pid: Int32) throws(Errno) -> UInt64 {
        try parseField(22, try read(pid: pid))
    }

    /// The parent's pid (field 4), in the daemon's pid namespace.
    package static func parent(pid: Int32) throws(Errno) -> Int32 {
        Int32(truncatingIfNeeded: try parseField(4, try read(pid: pid)))
    }

    /// What it used: CPU time (utime + stime, fields 14 and 15, in clock
    /// ticks) and its resident set (field 24, in pages).
    package static func usage(pid: Int32) throws(Errno) -> (ticks: UInt64, residentPages: UInt64) {
        let s = try read(pid: pid)
        return (try parseField(14, s) + parseField(15, s), try parseField(24, s))
    }

    /// Is the process gone or on its way out: a zombie, or in do_exit
    /// (PF_EXITING, 0x4 in the flags, field 9), its threads still ending?
    package static func isExiting(pid: Int32) -> Bool {
        guard let stat = try? read(pid: pid) else { return true }
        return isExiting(stat)
    }

    /// Pure parser of the above.
    package static func isExiting(_ stat: ArraySlice<UInt8>) -> Bool {
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.endIndex,
              let flags = try? parseField(9, stat) else { return false }
        return stat[close + 2] == UInt8(ascii: "Z") || flags & 0x4 != 0
    }

    static func read(pid: Int32) throws(Errno) -> ArraySlice<UInt8> {
        let fd = try FileDescriptor.open("/proc/\(pid)/stat", O_RDONLY)
        defer { fd.close() }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = try valueOrErrno { buf.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) } }
        return buf[0..<n]
    }

    package static func parseStartTime(_ stat: String) throws(Errno) -> UInt64 {
        try parseField(22, Array(stat.utf8)[...])
    }

    package static func parseStartTime(_ stat: ArraySlice<UInt8>) throws(Errno) -> UInt64 {
        try parseField(22, stat)
    }

    /// Pure parser: numeric field `index` (from 1), counted after the last
    /// ')' (comm may hold spaces and parentheses).
    package static func parseField(_ index: Int, _ stat: ArraySlice<UInt8>) throws(Errno) -> UInt64 {
        guard index >= 3, let close = stat.lastIndex(of: UInt8(ascii: ")")) else { throw .invalid }
        var field = 2, value: UInt64 = 0, digits = 0
        for b in stat[(close + 1)...] {
            if b == UInt8(ascii: " ") {
                if field == index { break }
                field += 1
                continue
            }
            if field == index {
                guard b >= 48 && b <= 57 else { throw .invalid }
                value = value * 10 + UInt64(b - 48)
                digits += 1
            }
        }
        guard field == index, digits > 0 else { throw .invalid }
        return value
    }
}

/// Resource limits of this process.
package enum ResourceLimits {
    /// The process limit (RLIMIT_NPROC, soft) of another process, from
    /// /proc/PID/limits; nil when unlimited or unreadable.
    package static func processes(of pid: Int32) -> UInt64? {
        guard let bytes = try? FileIO.read("/proc/\(pid)/limits") else { return nil }
        return parseProcesses(bytes)
    }

    /// The soft "Max processes" value of a /proc/PID/limits text (read as
    /// bytes: it runs at every `nsctl exec`).
    package static func parseProcesses(_ text: String) -> UInt64? { parseProcesses(Array(text.utf8)) }

    package static func parseProcesses(_ bytes: [UInt8]) -> UInt64? {
        let key = Array("Max processes".utf8)
        guard let line = bytes.split(separator: UInt8(ascii: "\n")).first(where: { $0.starts(with: key) }) else { return nil }
        return line.dropFirst(key.count).split(separator: UInt8(ascii: " ")).first
            .flatMap { UInt64(String(decoding: $0, as: UTF8.self)) }
    }

    /// The open-file limit in force (soft).
    package static func openFiles() -> Int {
        var l = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &l) == 0 else { return 1024 }
        return l.rlim_cur >= rlim_t(Int.max) ? Int.max / 2 : Int(l.rlim_cur)
    }

    /// Raise the open-file limit as far as allowed (root: to fs.nr_open):
    /// the daemon holds a pidfd and a few cgroup files per container, and
    /// 10,000 containers pass the usual 1,024 or 20,000 by far.
    package static func raiseOpenFiles() {
        var l = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &l) == 0 else { return }
        if let text = try? FileIO.readString("/proc/sys/fs/nr_open"),
           let max = rlim_t(text.split(separator: "\n").first ?? ""), max > l.rlim_max {
            var raised = rlimit(rlim_cur: max, rlim_max: max)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return }
        }
        l.rlim_cur = l.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &l)
    }
}

/// CPUs online.
package enum ProcessorCount {
    package static let online = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}

/// The daemon's helper processes (views, roots, volumes) are born sharing
/// its descriptor table and keep what they need in a few low slots,
/// reserved here first thing: they then copy a handful of slots, not a
/// pidfd per container (a table of 10,000 copied and closed at each).
package enum HelperSlots {
    package static func reserve() throws(Errno) {
        _ = try valueOrNegatedErrno { nsfs_reserve_low_slots() }
    }
}

/// The host's process creation, as one number.
package enum ProcessCreation {
    static let loadavg: OwnedDescriptor? = try? OwnedDescriptor(FileDescriptor.open("/proc/loadavg", O_RDONLY))

    /// The pid allocated last in the host's pid namespace (/proc/loadavg):
    /// every process or thread created anywhere, in any pid namespace,
    /// takes one there, so an unchanged value means nothing was created.
    package static func lastPid() -> Int64? {
        guard let fd = loadavg, let bytes = try? fd.fd.preadAll() else { return nil }
        guard let space = bytes.lastIndex(of: UInt8(ascii: " ")) else { return nil }
        var v: Int64 = 0
        for b in bytes[(space + 1)...] where b >= 48 && b <= 57 { v = v * 10 + Int64(b - 48) }
        return v
    }
}

/// The namespaces a process is in, by inode number.
package enum ProcessNamespaces {
    /// One inode number per kind, in `NamespaceKind.allCases` order (0 for a
    /// kind the kernel lacks). Unique among live namespaces: it tells two
    /// live processes' sets apart, not one namespace over time (use the
    /// 64-bit id for that).
    package static func inodes(pid: Int32) throws(Errno) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: NamespaceKind.allCases.count)
        let rc = out.withUnsafeMutableBufferPointer { nsfs_process_ns_inodes(pid, $0.baseAddress!) }
        if rc < 0 { throw Errno(-rc) }
        return out
    }
}

extension ProcessHandle {
    /// Which of `handles` have exited: one poll for all of them.
    /// Wait until every one of `handles` has exited (pidfds readable),
    /// woken by each exit, not by a clock. False on timeout.
    package static func waitAll(_ handles: [ProcessHandle], timeoutMilliseconds: Int) -> Bool {
        let deadline = SystemTime.monotonicNanoseconds() + Int64(timeoutMilliseconds) * 1_000_000
        var left = handles
        while !left.isEmpty {
            var fds = left.map { pollfd(fd: $0.descriptor.rawValue, events: Int16(POLLIN), revents: 0) }
            // Rounded up: a remainder under a millisecond rounded down was a
            // poll that never waited (a 1 ms quick wait never waited at all).
            let wait = Int32(max(0, (deadline - SystemTime.monotonicNanoseconds() + 999_999) / 1_000_000))
            let r = poll(&fds, nfds_t(fds.count), wait)
            if r < 0 && errno != EINTR { return false }
            if r == 0 { return false }
            left = left.indices.filter { fds[$0].revents & Int16(POLLIN | POLLHUP) == 0 }.map { left[$0] }
        }
        return true
    }

    package static func exited(_ handles: [ProcessHandle]) -> [Bool] {
        if handles.isEmpty { return [] }
        let fds = handles.map { $0.descriptor.rawValue }
        var out = [UInt8](repeating: 1, count: handles.count)
        _ = out.withUnsafeMutableBufferPointer { o in
            fds.withUnsafeBufferPointer { nsfs_pidfds_exited($0.baseAddress!, Int32($0.count), o.baseAddress!) }
        }
        return out.map { $0 != 0 }
    }

    /// The ids of the ancestors of its `kind` namespace (pid or user),
    /// parent first, up to the first one this process may not see.
    package func namespaceAncestors(_ kind: NamespaceKind, limit: Int = 33) -> [UInt64] {
        guard let ns = try? namespace(kind) else { return [] }
        var out: [UInt64] = []
        var fd = nsfs_ns_parent(ns.rawValue)
        while fd >= 0, out.count < limit {
            var id: UInt64 = 0
            guard nsfs_ns_id(fd, &id) == 0 else { break }
            out.append(id)
            let parent = nsfs_ns_parent(fd)
            close(fd)
            fd = parent
        }
        if fd >= 0 { close(fd) }
        return out
    }
}

/// Who may trace this process.
package enum Tracing {
    /// Only holders of CAP_SYS_PTRACE in the host's user namespace, for
    /// this process and every child that shares its memory until it execs.
    package static func forbid() throws(Errno) {
        let rc = nsfs_forbid_tracing()
        if rc < 0 { throw Errno(-rc) }
    }
}


extension Substring {
    /// Without its leading spaces and tabs.
    var trimmingLeadingBlanks: Substring { drop(while: { $0 == " " || $0 == "\t" }) }
}

/// Signals by name, as kill(1) takes them (glibc's names).
package enum SignalName {
    /// The highest signal number (SIGRTMAX on Linux).
    package static let last: Int32 = 64

    /// `TERM`, `SIGTERM`, `term` or `15`; nil for anything else.
    package static func number(of text: String) -> Int32? {
        if let n = Int32(text) { return n >= 1 && n <= last ? n : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        guard !name.isEmpty else { return nil }
        return (1...last).first { nsfs_signal_abbrev($0).map { String(cString: $0) } == name }
    }
}

/// This program's own executable.
package enum ThisProgram {
    /// A file installed beside it (the init, the holder, the log relay).
    package static func beside(_ name: String) -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
        let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/sbin/" + name
        return exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/" + name
    }
}
