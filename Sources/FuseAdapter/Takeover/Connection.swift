import CNamespaceShim
import ContainerRuntime
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// What a daemon needs to serve a FUSE connection that another daemon
/// opened: `STATE_DIR/connection`, written once the kernel's INIT has been
/// answered, rewritten (generation + 1) by each daemon that takes it over.
///
///     namespacefs-connection 1
///     token: 5b0e1f...            (random, per mount: names its requests in records)
///     device: 0:63                (the mount's device; N of /sys/fs/fuse/connections/N)
///     mount-point: /namespaces
///     generation: 3               (daemons that served it so far)
///     init: 2800000001a...        (hex: the INIT request the kernel sent)
package struct ConnectionRecord: Equatable, Sendable {
    package var token: UInt64
    package var device: String
    package var mountPoint: String
    package var generation: UInt64
    package var initRequest: [UInt8]

    package static let header = "namespacefs-connection 1"

    package init(token: UInt64, device: String, mountPoint: String, generation: UInt64, initRequest: [UInt8]) {
        self.token = token
        self.device = device
        self.mountPoint = mountPoint
        self.generation = generation
        self.initRequest = initRequest
    }

    /// N of /sys/fs/fuse/connections/N: the device's minor number.
    package var connectionNumber: String { String(device.split(separator: ":").last ?? "") }

    package var text: String {
        let initHex = initRequest.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
        return """
        \(Self.header)
        token: \(hex(token))
        device: \(device)
        mount-point: \(mountPoint)
        generation: \(generation)
        init: \(initHex)

        """
    }

    package static func parse(_ text: String) -> ConnectionRecord? {
        let lines = text.split(separator: "\n")
        guard lines.first == Substring(header) else { return nil }
        var f: [Substring: Substring] = [:]
        for l in lines.dropFirst() {
            guard let colon = l.firstIndex(of: ":"), l[l.index(after: colon)...].first == " " else { return nil }
            f[l[..<colon]] = l[l.index(colon, offsetBy: 2)...]
        }
        guard let t = f["token"].flatMap({ UInt64($0, radix: 16) }), let d = f["device"], !d.isEmpty,
              let m = f["mount-point"], m.hasPrefix("/"), let g = f["generation"].flatMap({ UInt64($0) }),
              let h = f["init"], h.count % 2 == 0, h.count >= 80 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(h.count / 2)
        var i = h.startIndex
        while i < h.endIndex {
            let j = h.index(i, offsetBy: 2)
            guard let b = UInt8(h[i..<j], radix: 16) else { return nil }
            bytes.append(b)
            i = j
        }
        return ConnectionRecord(token: t, device: String(d), mountPoint: String(m), generation: g, initRequest: bytes)
    }

    package static func path(in stateDirectory: String) -> String { stateDirectory + "/connection" }

    package static func load(from stateDirectory: String) -> ConnectionRecord? {
        guard let bytes = try? FileIO.read(path(in: stateDirectory)) else { return nil }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Written whole: a daemon killed meanwhile leaves the old record or the new one.
    package func save(in stateDirectory: String) throws(Errno) {
        try FileIO.replaceAtomically(Self.path(in: stateDirectory), with: Array(text.utf8))
    }

    package static func remove(from stateDirectory: String) { unlink(path(in: stateDirectory)) }
}

/// The connection holder (namespacefs-holder, see its source): a process
/// that keeps the mount's /dev/fuse open between daemons.
package enum ConnectionHolder {
    package static func socketPath(in stateDirectory: String) -> String { stateDirectory + "/holder.sock" }

    package enum Answer: Equatable, Sendable {
        /// The connection's descriptor.
        case descriptor(Int32)
        case ok
        /// A live daemon serves it.
        case busy(pid: Int32)
        case serving(pid: Int32)
        /// The holder's own pid.
        case pid(Int32)
        case none
        /// No holder answers (none was started, or it is gone).
        case unreachable
        case failed(String)
    }

    /// What the holder is asked (holder_protocol.h: both sides' words).
    package enum Request: Equatable, Sendable {
        /// Its descriptor, unless a live daemon serves.
        case take
        /// This daemon serves from now on.
        case serve(pid: Int32)
        /// The mount ended on purpose.
        case end
        /// Who serves.
        case who
        /// Its own pid.
        case pid

        var text: String {
            switch self {
            case .take: NSFS_HOLDER_TAKE
            case .serve(let pid): NSFS_HOLDER_SERVE + " \(pid)"
            case .end: NSFS_HOLDER_END
            case .who: NSFS_HOLDER_WHO
            case .pid: NSFS_HOLDER_PID
            }
        }
    }

    /// Ask the holder of this state directory one thing.
    package static func ask(_ request: Request, stateDirectory: String) -> Answer {
        let message = request.text
        let s = nsfs_seqpacket_connect(socketPath(in: stateDirectory))
        guard s >= 0 else { return .unreachable }
        defer { close(s) }
        _ = nsfs_set_receive_timeout(s, 5000)
        let sent = message.withCString { nsfs_send_with_fd(s, $0, strlen($0), -1) }
        guard sent >= 0 else { return .unreachable }
        var buf = [UInt8](repeating: 0, count: 64)
        var fd: Int32 = -1
        let n = buf.withUnsafeMutableBytes { nsfs_receive_with_fd(s, $0.baseAddress!, $0.count, &fd) }
        guard n > 0 else { return n == 0 ? .unreachable : .failed("no answer from the connection holder (\(Errno(Int32(-n))))") }
        let text = String(decoding: buf[0..<Int(n)], as: UTF8.self)
        if fd >= 0 { return .descriptor(fd) }
        let words = text.split(separator: " ")
        switch words.first.map(String.init) {
        case NSFS_HOLDER_OK: return .ok
        case NSFS_HOLDER_BUSY: return .busy(pid: Int32(words.last ?? "") ?? 0)
        case NSFS_HOLDER_SERVING: return .serving(pid: Int32(words.last ?? "") ?? 0)
        case NSFS_HOLDER_PID: return .pid(Int32(words.last ?? "") ?? 0)
        case NSFS_HOLDER_NONE: return .none
        default: return .failed("the connection holder answered \(text)")
        }
    }

    /// Start a holder for `fuse` (the daemon's /dev/fuse descriptor):
    /// listening at the state directory's socket, aborting the connection
    /// after `hold` seconds with nobody serving.
    package static func start(binary: String, fuse: Int32, mountPoint: String, connection: String,
                             holdSeconds: Int, stateDirectory: String) throws(RuntimeError) {
        let listening = nsfs_seqpacket_listen(socketPath(in: stateDirectory))
        guard listening >= 0 else {
            throw RuntimeError(Errno(-listening), "cannot listen on \(socketPath(in: stateDirectory))")
        }
        defer { close(listening) }
        let args = [binary, mountPoint, connection, String(holdSeconds * 1000)]
        var cargs = args.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        let pid = nsfs_spawn_holder(binary, &cargs, fuse, listening)
        guard pid > 0 else { throw RuntimeError(Errno(-pid), "cannot start the connection holder \(binary)") }
    }
}

extension ConnectionHolder {
    /// While `serving()`, start a holder again (`start`) whenever this
    /// state directory's holder dies: a crash of the daemon afterwards
    /// still finds its mount held. Only both dying together aborts it.
    package static func keepAlive(stateDirectory: String, serving: @escaping @Sendable () -> Bool,
                                 start: @escaping @Sendable () -> Void) {
        BackgroundThread.start(name: "nsfs-holder") {
            while serving() {
                guard case .pid(let pid) = ask(.pid, stateDirectory: stateDirectory), pid > 0,
                      let holder = try? ProcessHandle.open(pid: pid) else { return }
                // A failed poll proves no death: look again, start nothing.
                guard holder.waitForExit(timeoutMilliseconds: -1) else { usleep(100_000); continue }
                guard serving() else { return }
                Log.line("the connection holder (pid \(pid)) died; starting another")
                start()
            }
        }
    }
}

/// systemd's notification socket ($NOTIFY_SOCKET; nothing without it).
package enum SystemdNotify {
    @discardableResult
    package static func send(_ text: String, descriptor: Int32 = -1) -> Bool { nsfs_sd_notify(text, descriptor) == 0 }

    /// The descriptor systemd kept for us under `name` (FDSTORE=1,
    /// FDNAME=name) and passed back on this start: LISTEN_FDS descriptors
    /// begin at 3, named in LISTEN_FDNAMES, and are ours only if LISTEN_PID
    /// is our pid.
    package static func storedDescriptor(named name: String) -> Int32? {
        guard let pid = getenv("LISTEN_PID").map({ String(cString: $0) }), Int32(pid) == getpid(),
              let count = getenv("LISTEN_FDS").flatMap({ Int(String(cString: $0)) }), count > 0 else { return nil }
        let names = getenv("LISTEN_FDNAMES").map { String(cString: $0).split(separator: ":", omittingEmptySubsequences: false) } ?? []
        for i in 0..<count where i < names.count && names[i] == Substring(name) {
            let fd = Int32(3 + i)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            return fd
        }
        return nil
    }
}
