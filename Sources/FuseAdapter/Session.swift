import CFuse3
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A libfuse session: mount, serve, unmount. Setup and teardown in strict
/// reverse order, as libfuse's examples do.
/// Unchecked Sendable: it owns libfuse's session and argument list (C
/// pointers); only the thread that made it uses it, but `exitWhenUnmounted`
/// hands a value of it to a thread.
public final class FuseSession: @unchecked Sendable {
    private var args = cfuse3_args_empty()
    private let session: OpaquePointer
    private let filesystem: Unmanaged<NamespaceFilesystem>
    private var operations = makeOperationTable()
    private var mounted = false

    /// Largest READ request, in bytes (see the init callback).
    static let maxRead: UInt32 = 4096

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `options`: FUSE `-o` options (allow_other, fsname=..., ...).
    public init(filesystem fs: NamespaceFilesystem, options: [String], debug: Bool) throws(Failure) {
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

    public func mount(at path: String) throws(Failure) {
        guard fuse_session_mount(session, path) == 0 else {
            throw Failure(description: "cannot mount on \(path) (see the message above)")
        }
        mounted = true
    }

    /// Detach from the terminal. Must run before any thread exists (it forks).
    public func daemonize(foreground: Bool) -> Bool { fuse_daemonize(foreground ? 1 : 0) == 0 }

    /// End the daemon once its mount is gone from its own mount table.
    /// Containers' mount namespaces hold copies (and views) of the mount,
    /// which keep the FUSE connection alive after the host's umount: exiting
    /// closes /dev/fuse, which aborts it everywhere, and the next daemon
    /// attaches fresh views.
    public func exitWhenUnmounted(_ mountPoint: String) {
        // Our mount's device, from the mount table: a stat of the mount point
        // would be a request to ourselves, before the loop runs.
        guard let device = (try? MountInfo.current())?.last(where: {
            $0.mountPoint == mountPoint && $0.fsType == "fuse.namespacefs"
        })?.device else { return }
        BackgroundThread.start(name: "nsfs-unmount") {
            let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            while true {
                guard let text = try? FileDescriptor(rawValue: fd).preadAll() else { return }
                let present = String(decoding: text, as: UTF8.self).split(separator: "\n").contains { line in
                    let f = line.split(separator: " ", maxSplits: 3)
                    return f.count > 2 && f[2] == device
                }
                if !present { exit(0) }
                var p = pollfd(fd: fd, events: Int16(POLLPRI | POLLERR), revents: 0)
                _ = poll(&p, 1, -1)
            }
        }
    }

    /// Serve requests on this thread until unmounted or signalled.
    public func run() -> Int32 {
        fuse_set_signal_handlers(session)
        defer { fuse_remove_signal_handlers(session) }
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
        return cfuse3_session_loop_spinning(session, 50_000, { ctx in
            Unmanaged<NamespaceFilesystem>.fromOpaque(ctx!).takeUnretainedValue().runUpkeep()
        }, filesystem.toOpaque())
    }

    public func unmount() {
        if mounted { fuse_session_unmount(session) }
        mounted = false
    }

    deinit {
        if mounted { fuse_session_unmount(session) }
        fuse_session_destroy(session)
        fuse_opt_free_args(&args)
        filesystem.release()
    }
}
