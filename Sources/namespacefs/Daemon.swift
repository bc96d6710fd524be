import ContainerRuntime
import FuseAdapter
import LinuxSystem
import MountOptions
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon once its mount is in place: it keeps the connection held by
/// something that outlives it, serves, and ends the mount (or hands it over).
final class Daemon: Sendable {
    let runtime: Runtime
    let filesystem: NamespaceFilesystem
    let session: FuseSession
    let connection: ConnectionRecord
    let mountPoint: String
    let stateDirectory: String
    let holdSeconds: Int
    let tookOver: Bool
    let stateLock: OwnedDescriptor
    let cgroupRoot: CgroupRoot
    /// Could a next daemon answer what this one read and did not
    /// (FUSE_NOTIFY_RESEND)? Else nothing holds the connection.
    let kernelResends: Bool
    /// Set once the mount ends on purpose: no holder is started after that.
    let ending = Mutex(false)
    /// (Not beside -o init=: that may be anywhere.)
    let holderBinary = ThisProgram.beside("namespacefs-holder")

    /// The exit status of a daemon that handed its mount over (systemd:
    /// RestartForceExitStatus= starts the next one).
    static let handoverExitStatus: Int32 = 75

    /// The connection: taken over (a generation more), or a new mount whose
    /// INIT is recorded at once, for the daemons after this one.
    init(runtime: Runtime, options: MountOptions, mountPoint: String, claim: Claim, cgroupRoot: CgroupRoot) {
        self.runtime = runtime
        self.mountPoint = mountPoint
        stateDirectory = options.stateDirectory
        holdSeconds = options.holdSeconds
        stateLock = claim.stateLock
        self.cgroupRoot = cgroupRoot
        let takeover = claim.takeover
        tookOver = takeover != nil
        var fuseOptions = ["fsname=namespacefs", "subtype=namespacefs"] + options.fuseOptions
        if options.allowOther ?? true { fuseOptions.append("allow_other") }
        let token = takeover?.record.token ?? UInt64.random(in: 1...UInt64.max)
        let generation = (takeover?.record.generation ?? 0) + 1
        filesystem = NamespaceFilesystem(runtime: runtime, connectionToken: token, generation: generation,
                                         dropWorkerReplies: options.dropWorkerReplies)
        do {
            session = try FuseSession(filesystem: filesystem, options: fuseOptions, debug: options.debug)
            if let takeover {
                try session.adopt(descriptor: takeover.descriptor)
                try session.replay(initRequest: takeover.record.initRequest)
                connection = ConnectionRecord(token: token, device: takeover.record.device, mountPoint: mountPoint,
                                              generation: generation, initRequest: takeover.record.initRequest)
            } else {
                try session.mount(at: mountPoint)
                let initRequest = try session.handshake()
                guard let device = (try? MountInfo.current())?.last(where: {
                    $0.mountPoint == mountPoint && $0.fsType == "fuse.namespacefs"
                })?.device else { Command.fail("the new mount on \(mountPoint) is not in the mount table") }
                connection = ConnectionRecord(token: token, device: device, mountPoint: mountPoint, generation: 1, initRequest: initRequest)
            }
        } catch {
            Command.fail("\(error)")
        }
        do throws(Errno) { try connection.save(in: stateDirectory) } catch {
            Log.line("cannot record the connection in \(stateDirectory) (\(error)): a next daemon cannot take it over")
        }
        kernelResends = FuseSession.kernelResends(initRequest: connection.initRequest)
        if tookOver {
            Log.line("took over \(mountPoint) (connection \(connection.connectionNumber), daemon \(generation) to serve it)")
        }
    }

    /// After detaching: the locks name the daemon by the pid it has now (the
    /// old one may be a container's process by the time anyone reads it);
    /// something that outlives this process holds the connection — the
    /// holder (started once per mount, told who serves now), and systemd's
    /// descriptor store where systemd runs us.
    func holdConnection() {
        let line = Claim.holderLine(mountPoint: mountPoint, stateDirectory: stateDirectory)
        try? HolderLock.rewrite(stateLock, holder: line)
        try? HolderLock.rewrite(cgroupRoot.lock, holder: line)
        if !kernelResends && holdSeconds > 0 {
            Log.line("this kernel does not send requests again (FUSE_NOTIFY_RESEND, Linux 6.9): nothing holds the mount across a crash")
        }
        // A holder of an earlier connection of this state directory (one
        // unmounted by hand while it held it) lets go of it: a new mount is served.
        if !tookOver { _ = ConnectionHolder.ask(.end, stateDirectory: stateDirectory) }
        if holdSeconds > 0, kernelResends {
            if !tookOver || ConnectionHolder.ask(.serve(pid: getpid()), stateDirectory: stateDirectory) != .ok { startHolder() }
            ConnectionHolder.keepAlive(stateDirectory: stateDirectory, serving: { [self] in !ending.withLock { $0 } },
                                       start: { [self] in startHolder() })
        }
        if kernelResends { SystemdNotify.send("FDSTORE=1\nFDNAME=fuse", descriptor: session.descriptor) }
    }

    func startHolder() {
        do throws(RuntimeError) {
            try ConnectionHolder.start(binary: holderBinary, fuse: session.descriptor, mountPoint: mountPoint,
                                       connection: connection.connectionNumber, holdSeconds: holdSeconds,
                                       stateDirectory: stateDirectory)
            guard case .ok = ConnectionHolder.ask(.serve(pid: getpid()), stateDirectory: stateDirectory) else {
                Log.line("the connection holder does not answer: a crash of this daemon will abort the mount")
                return
            }
        } catch {
            Log.line("\(error): a crash of this daemon will abort the mount")
        }
    }

    /// The mount ends on purpose: nothing may keep its connection, and no
    /// lock file is left behind (a daemon waiting on one sees it removed).
    func endConnection() {
        ending.withLock { $0 = true }
        HolderLock.remove(cgroupRoot.lockPath, held: cgroupRoot.lock)
        HolderLock.remove(stateDirectory + "/lock", held: stateLock)
        _ = ConnectionHolder.ask(.end, stateDirectory: stateDirectory)
        SystemdNotify.send("FDSTOREREMOVE=1\nFDNAME=fuse")
        ConnectionRecord.remove(from: stateDirectory)
        runtime.lifecycle.network?.stop()
    }

    /// Serve until unmounted or signalled (on its own thread: see main).
    func serve() -> Never {
        runtime.views.mounted(at: mountPoint)
        do { try runtime.lifecycle.startWatching { [filesystem] removals in filesystem.notifyRemoved(removals) } } catch {
            Log.line("cannot watch container inits: \(error)")
        }
        session.exitWhenUnmounted(device: connection.device, first: { [self] in endConnection() })
        runtime.views.attachAll()
        // What the daemon before this one had read and not answered comes
        // again, ahead of what waited meanwhile.
        if tookOver && kernelResends {
            do throws(Errno) { try session.requestResend() } catch { Log.line("FUSE_NOTIFY_RESEND failed: \(error)") }
        }
        SystemdNotify.send("READY=1\nMAINPID=\(getpid())")
        // The one thread that takes SIGTERM/SIGINT/SIGHUP (they end the
        // loop) and SIGUSR1 (the handover).
        TerminationSignals.unblock()
        switch session.run() {
        case .handover:
            // Requests on workers are answered first; any left, a next
            // daemon gets again. The mount, the holder and the containers stay.
            _ = filesystem.drainWorkers(milliseconds: 2_000)
            Log.line("handing \(mountPoint) over to the next daemon")
            exit(Self.handoverExitStatus)
        case let ending:
            // Unmount, leave the containers running.
            session.unmount(at: mountPoint)
            endConnection()
            exit(ending == .stopped ? 0 : 1)
        }
    }
}
