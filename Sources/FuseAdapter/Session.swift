import CFuse3
import CFuseLoop
import CNamespaceShim
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A libfuse session: mount, serve, unmount. Setup and teardown in strict
/// reverse order, as libfuse's examples do.
/// Unchecked Sendable: it owns libfuse's session and argument list (C
/// pointers); only the thread that made it uses it, but `exitWhenUnmounted`
/// hands a value of it to a thread.
package final class FuseSession: @unchecked Sendable {
    private var args = cfuse3_args_empty()
    private let session: OpaquePointer
    private let filesystem: Unmanaged<NamespaceFilesystem>
    private var operations = makeOperationTable()
    private var mounted = false
    /// Serving a connection another daemon mounted (libfuse does not know
    /// its mount point, so cannot unmount it).
    private var adopted = false

    /// Largest READ request, in bytes (see the init callback).
    static let maxRead: UInt32 = 4096

    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    /// `options`: FUSE `-o` options (allow_other, fsname=..., ...).
    package init(filesystem fs: NamespaceFilesystem, options: [String], debug: Bool) throws(Failure) {
        filesystem = Unmanaged.passRetained(fs)
        var argv = ["namespacefs", "-o", (options + ["max_read=\(Self.maxRead)"]).joined(separator: ",")]
        if debug { argv.append("-d") }
        for a in argv { fuse_opt_add_arg(&args, a) }
        guard let s = cfuse3_session_new(&args, &operations, filesystem.toOpaque()) else {
            fuse_opt_free_args(&args)
            filesystem.release()
            throw Failure(description: "invalid FUSE options: \(options.joined(separator: ","))")
        }
        session = s
        fs.session.withLock { $0 = SessionPointer(raw: s) }
    }

    package func mount(at path: String) throws(Failure) {
        guard fuse_session_mount(session, path) == 0 else {
            throw Failure(description: "cannot mount on \(path) (see the message above)")
        }
        mounted = true
    }

    /// Serve the connection behind `descriptor` (/dev/fuse of a mount that
    /// another daemon made) instead of mounting anew.
    package func adopt(descriptor: Int32) throws(Failure) {
        guard fuse_session_mount(session, "/dev/fd/\(descriptor)") == 0 else {
            throw Failure(description: "cannot serve the connection of descriptor \(descriptor)")
        }
        adopted = true
    }

    /// The connection's /dev/fuse descriptor.
    package var descriptor: Int32 { fuse_session_fd(session) }

    /// The largest INIT request we keep (the kernel's is 104 bytes today).
    static let initCapacity = 4096

    /// Read and answer the kernel's INIT on a new mount; its bytes, for
    /// the daemons that take the connection over.
    package func handshake() throws(Failure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.initCapacity)
        let n = bytes.withUnsafeMutableBufferPointer { cfuse3_handshake(session, $0.baseAddress!, $0.count) }
        guard n > 0 else { throw Failure(description: "the kernel's INIT failed (\(Errno(Int32(-n))))") }
        return Array(bytes[0..<Int(n)])
    }

    /// On an adopted connection: let libfuse answer requests as if it had
    /// seen the INIT (`bytes`: the one the first daemon got).
    package func replay(initRequest bytes: [UInt8]) throws(Failure) {
        let rc = bytes.withUnsafeBufferPointer { cfuse3_replay_init(session, $0.baseAddress!, $0.count) }
        guard rc == 0 else { throw Failure(description: "cannot take over the connection: its INIT does not replay (\(Errno(-rc)))") }
    }

    /// Does the kernel that sent this INIT re-send unanswered requests?
    package static func kernelResends(initRequest bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { cfuse3_init_has_resend($0.baseAddress!, $0.count) } != 0
    }

    /// Ask the kernel to send again every request a dead daemon had read
    /// and not answered (FUSE_NOTIFY_RESEND).
    package func requestResend() throws(Errno) {
        let rc = cfuse3_notify_resend(session)
        if rc != 0 { throw Errno(-rc) }
    }

    /// Detach from the terminal. Must run before any thread exists (it forks).
    package func daemonize(foreground: Bool) -> Bool { fuse_daemonize(foreground ? 1 : 0) == 0 }

    /// End the daemon once its mount is gone from its own mount table.
    /// Containers' mount namespaces hold copies (and views) of the mount,
    /// which keep the FUSE connection alive after the host's umount: exiting
    /// closes /dev/fuse, which aborts it everywhere, and the next daemon
    /// attaches fresh views.
    /// `device`: the mount's, from the mount table (a stat of the mount
    /// point would be a request to ourselves, before the loop runs).
    package func exitWhenUnmounted(device: String, first: @escaping @Sendable () -> Void) {
        BackgroundThread.start(name: "nsfs-unmount") {
            // A failed open or read (EMFILE, ENOMEM) says nothing about the
            // mount: look again shortly (giving up would leave a daemon
            // serving no mount, holding its locks).
            var fd: Int32 = -1
            while fd < 0 {
                fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
                if fd < 0 { usleep(100_000) }
            }
            while true {
                guard let text = try? FileDescriptor(rawValue: fd).preadAll() else { usleep(100_000); continue }
                let present = String(decoding: text, as: UTF8.self).split(separator: "\n").contains { line in
                    let f = line.split(separator: " ", maxSplits: 3)
                    return f.count > 2 && f[2] == device
                }
                if !present {
                    first()
                    exit(0)
                }
                var p = pollfd(fd: fd, events: Int16(POLLPRI | POLLERR), revents: 0)
                _ = poll(&p, 1, -1)
            }
        }
    }

    /// How serving ended.
    package enum Ending: Sendable {
        /// SIGTERM, SIGINT, SIGHUP: unmount.
        case stopped
        /// SIGUSR1: a next daemon takes the connection over; leave it mounted.
        case handover
        /// The connection ended (aborted, unmounted everywhere).
        case failed
    }

    /// The signal that hands the connection over to a next daemon.
    package static let handoverSignal = SIGUSR1

    /// Serve requests on this thread until unmounted or signalled.
    package func run() -> Ending {
        fuse_set_signal_handlers(session)
        defer { fuse_remove_signal_handlers(session) }
        // The handover ends the loop as libfuse's SIGTERM handler does.
        let exitSession: @convention(c) (OpaquePointer?) -> Void = fuse_session_exit
        _ = nsfs_on_signal(Self.handoverSignal, unsafeBitCast(exitSession, to: (@convention(c) (UnsafeMutableRawPointer?) -> Void).self),
                           UnsafeMutableRawPointer(session))
        let fs = filesystem.takeUnretainedValue()
        fs.loopThread.withLock { $0 = BackgroundThread.currentID }
        // Every reader on the host waits on this one thread: when a kill
        // makes thousands of dying processes runnable at once, it must not
        // queue behind them (measured at nice 0 on 2 CPUs: replies taking up
        // to 0.5 s to be written). The lowest real-time priority puts it
        // ahead of every normal task; it sleeps in poll whenever idle (after
        // a 50 µs spin: its sched_yield lets only real-time tasks run), and
        // the kernel caps real-time tasks at 95% of a CPU. Threads it starts
        // begin normal (BackgroundThread); it spawns no process. Where
        // real-time is not allowed, nice -10.
        if !ThreadPriority.makeCurrentRealTime() { ThreadPriority.setCurrent(to: -10) }
        // The 50 µs spin (see the C loop) stays: without it a read after a
        // pause took 164 µs instead of 92, back to back 67 instead of 45
        // (control-files.sh, real-time both ways); ls -lR and find showed
        // no difference beyond this VM's noise.
        let status = cfuse3_session_loop_spinning(session, 50_000, fs.loop.pointer, { ctx in
            Unmanaged<NamespaceFilesystem>.fromOpaque(ctx!).takeUnretainedValue().runUpkeep()
        }, filesystem.toOpaque())
        if nsfs_signal_seen() == Self.handoverSignal { return .handover }
        return status == 0 ? .stopped : .failed
    }

    package func unmount(at mountPoint: String) {
        if mounted { fuse_session_unmount(session) }
        // Lazily, as libfuse does for root.
        if adopted { _ = umount2(mountPoint, Int32(MNT_DETACH)) }
        mounted = false
        adopted = false
    }

    deinit {
        if mounted { fuse_session_unmount(session) }
        fuse_session_destroy(session)
        fuse_opt_free_args(&args)
        filesystem.release()
    }
}
