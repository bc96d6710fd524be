import CFuse3
import LinuxSystem
import Synchronization
import ContainerRuntime
#if canImport(Glibc)
import Glibc
#endif

/// Proof that a request was answered: only `Request`'s consuming reply
/// methods (and `Workers.answer`, which hands the request on) make one. A
/// handler returns it, so one that forgets to reply does not compile, and
/// one that replies twice uses a consumed request, which does not compile
/// either.
struct Replied: ~Copyable {
    fileprivate init() {}
}

/// One FUSE request. Not copyable: each reply consumes it. One dropped
/// without a reply (a path the types could not see) answers EIO from its
/// deinit and logs a line, so no caller is ever left hanging.
/// Unchecked Sendable: it wraps libfuse's request pointer, which any thread
/// may answer, once.
struct Request: ~Copyable, @unchecked Sendable {
    let raw: fuse_req_t
    /// The operation, for the log line of a dropped request.
    let operation: StaticString
    /// The kernel's id of the request, with `resendMark` if the kernel sends
    /// it again: a daemon died after reading it, before answering it.
    let unique: UInt64

    init(_ raw: fuse_req_t, _ operation: StaticString, unique: UInt64) {
        self.raw = raw
        self.operation = operation
        self.unique = unique
    }

    /// Bit 63 (FUSE_UNIQUE_RESEND in the kernel).
    static let resendMark: UInt64 = 1 << 63

    /// Sent again: it may have been done already (see the mkdir, rmdir,
    /// unlink and rename handlers).
    var isResent: Bool { unique & Self.resendMark != 0 }

    deinit {
        Log.line("\(operation) request dropped without a reply; answered EIO")
        fuse_reply_err(raw, EIO)
    }

    struct Context { let uid: uid_t; let gid: gid_t; let pid: pid_t }

    var context: Context {
        let c = fuse_req_ctx(raw)!.pointee
        return Context(uid: c.uid, gid: c.gid, pid: c.pid)
    }

    /// Send a reply with `send` and end the request: the one place that
    /// turns a request into the proof of its reply.
    private consuming func answer(_ send: (fuse_req_t) -> Void) -> Replied {
        send(raw)
        discard self
        return Replied()
    }

    consuming func reply(error: Int32) -> Replied { answer { _ = fuse_reply_err($0, error) } }

    consuming func replyOK() -> Replied { reply(error: 0) }

    consuming func reply(entry ino: UInt64, generation: UInt64, attr: stat, entryTimeout: Double, attrTimeout: Double) -> Replied {
        var e = fuse_entry_param()
        e.ino = fuse_ino_t(ino)
        e.generation = generation
        e.attr = attr
        e.entry_timeout = entryTimeout
        e.attr_timeout = attrTimeout
        return answer { _ = fuse_reply_entry($0, &e) }
    }

    consuming func reply(create ino: UInt64, attr: stat, entryTimeout: Double, attrTimeout: Double, handle: UInt64,
                         flags: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        var e = fuse_entry_param()
        e.ino = fuse_ino_t(ino)
        e.attr = attr
        e.entry_timeout = entryTimeout
        e.attr_timeout = attrTimeout
        flags.pointee.fh = handle
        flags.pointee.direct_io = 1
        flags.pointee.keep_cache = 0
        return answer { _ = fuse_reply_create($0, &e, flags) }
    }

    consuming func reply(attr: stat, timeout: Double) -> Replied {
        var a = attr
        return answer { _ = fuse_reply_attr($0, &a, timeout) }
    }

    consuming func reply(link: String) -> Replied { answer { _ = fuse_reply_readlink($0, link) } }

    consuming func reply(open handle: UInt64, directIO: Bool, flags: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        flags.pointee.fh = handle
        flags.pointee.direct_io = directIO ? 1 : 0
        flags.pointee.keep_cache = 0
        return answer { _ = fuse_reply_open($0, flags) }
    }

    /// The same from another thread: libfuse's fuse_file_info lives only
    /// during the callback, so a copy of it is answered.
    consuming func reply(open handle: UInt64, directIO: Bool, info: fuse_file_info, keepCache: Bool = false) -> Replied {
        var copy = info
        copy.fh = handle
        copy.direct_io = directIO ? 1 : 0
        copy.keep_cache = keepCache ? 1 : 0
        return answer { req in _ = withUnsafePointer(to: &copy) { fuse_reply_open(req, $0) } }
    }

    consuming func reply(bytes: ArraySlice<UInt8>) -> Replied {
        answer { req in
            bytes.withUnsafeBytes { p in _ = fuse_reply_buf(req, p.baseAddress?.assumingMemoryBound(to: CChar.self), p.count) }
        }
    }

    /// A directory listing built in `buffer` with fuse_add_direntry.
    consuming func reply(directoryBuffer buffer: UnsafePointer<CChar>, count: Int) -> Replied {
        answer { _ = fuse_reply_buf($0, buffer, count) }
    }

    consuming func reply(written: Int) -> Replied { answer { _ = fuse_reply_write($0, written) } }
}

/// Requests whose work may block (a spawn, a kill of thousands of
/// processes, a wait on a frozen cgroup) are answered from worker threads:
/// the request loop goes on serving everyone else meanwhile.
final class Workers: Sendable {
    /// Real-time like the request thread: a bystander's mkdir must not wait
    /// for a CPU behind thousands of dying processes. The init it spawns
    /// does its setup real-time too and drops to normal right before it
    /// execs (spawn.c), so no container runs real-time.
    private let pool: WorkerPool
    /// Testing only: drop each request unanswered, as a path the types
    /// cannot see would (its deinit must answer EIO and log).
    let dropReplies: Bool

    /// `realTime: false`: work that must never make the request loop (or
    /// a real-time worker) wait for a CPU — a look at the processes of a
    /// busy container — runs at normal priority.
    init(dropReplies: Bool, name: String = "nsfs-worker", realTime: Bool = true) {
        self.dropReplies = dropReplies
        pool = realTime
            ? WorkerPool(name: name, maxThreads: 64) { _ = ThreadPriority.makeCurrentRealTime() }
            : WorkerPool(name: name, maxThreads: 16)
    }

    /// Work that answers no request (see NamespaceFilesystem.invalidateNames).
    func run(_ job: @escaping @Sendable () -> Void) { pool.submit(job) }

    /// Requests handed to workers and not answered yet.
    private let inFlight = InFlight()

    private final class InFlight: Sendable {
        let count = Mutex(0)
    }

    /// Hand `request` to a worker; `body` answers it there.
    func answer(_ request: consuming Request, _ body: @escaping @Sendable (consuming Request) -> Replied) -> Replied {
        let parked = Parked(request)
        inFlight.count.withLock { $0 += 1 }
        pool.submit { [dropReplies, inFlight] in
            defer { inFlight.count.withLock { $0 -= 1 } }
            guard let r = parked.take() else { return }
            if dropReplies { return }
            _ = body(r)
        }
        return Replied()
    }

    /// Wait until every request handed to a worker is answered, up to
    /// `milliseconds`; whether they all were.
    func drain(milliseconds: Int) -> Bool {
        for _ in 0..<max(1, milliseconds) {
            if inFlight.count.withLock({ $0 }) == 0 { return true }
            usleep(1000)
        }
        return inFlight.count.withLock { $0 } == 0
    }

    /// A request between threads (closures cannot capture a non-copyable value).
    private final class Parked: Sendable {
        private let slot: Mutex<Request?>
        init(_ r: consuming Request) { slot = Mutex(r) }
        func take() -> Request? { slot.withLock { $0.take() } }
    }
}

extension UnsafePointer<CChar> {
    /// A name from the kernel, as bytes (it may not be UTF-8).
    var nameBytes: [UInt8] {
        let n = strlen(self)
        return withMemoryRebound(to: UInt8.self, capacity: n) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }
}
