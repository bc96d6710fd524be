// namespacefs: mount the container tree.
//
// Every check that can fail runs before the mount, so a failure leaves
// nothing mounted and says in one line what is missing and how to fix it.
import ContainerRuntime
import LinuxSystem
import FuseAdapter
import MountOptions
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// The upgrade test builds this a second time with NSFS_SECOND_BUILD, to
// tell the two builds apart.
#if NSFS_SECOND_BUILD
let version = "0.1.0+second-build"
#else
let version = "0.1.0"
#endif

/// The exit status of a daemon that handed its mount over (systemd:
/// RestartForceExitStatus= starts the next one).
let handoverExitStatus: Int32 = 75

/// What a refusal undoes before the exit (the cgroups it made).
nonisolated(unsafe) var undoOnFailure: [() -> Void] = []

func fail(_ message: String, code: Int32 = 1) -> Never {
    StandardError.line("namespacefs: \(message)")
    for undo in undoOnFailure.reversed() { undo() }
    exit(code)
}

var options: MountOptions
switch MountOptions.parse(Array(CommandLine.arguments.dropFirst())) {
case .help: print(MountOptions.usage); exit(0)
case .version: print("namespacefs \(version)"); exit(0)
case .error(let e): fail("\(e) (namespacefs --help shows the usage)", code: 2)
case .run(let o): options = o
}

// Privileges.
guard geteuid() == 0, Capabilities.hasSysAdmin() else {
    fail("must run as root with CAP_SYS_ADMIN (containers need namespaces and cgroups): run it with sudo")
}

// Children of the daemon run on its memory until they exec, some of them in
// a container's pid and user namespaces, whose root could otherwise trace
// them (and so the daemon): only the host's CAP_SYS_PTRACE may.
do throws(Errno) { try Tracing.forbid() } catch { fail("cannot make the daemon untraceable (prctl PR_SET_DUMPABLE): \(error)") }

// /dev/fuse.
let fuseFD = open("/dev/fuse", O_RDWR | O_CLOEXEC)
guard fuseFD >= 0 else {
    fail("cannot open /dev/fuse (\(Errno.current)): load the fuse module with 'modprobe fuse' and install fuse3")
}
close(fuseFD)

// cgroup2.
let mounts: [MountEntry]
do { mounts = try MountInfo.current() } catch { fail("cannot read /proc/self/mountinfo: \(error)") }
guard let cgroupMount = Cgroup2.mountPoint(in: mounts) else {
    fail("no cgroup2 filesystem is mounted: mount one with 'mount -t cgroup2 none /sys/fs/cgroup'")
}

// The mount point. A namespacefs mount there may be one whose daemon died
// while its holder keeps the connection: any stat of it would wait for a
// daemon — this one. So its parent is resolved, and the mount table read.
func realPath(_ path: String) -> String? {
    var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard realpath(path, &resolved) != nil else { return nil }
    return resolved.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
func pathWithoutEntering(_ path: String) -> String? {
    var p = path
    while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
    guard let slash = p.lastIndex(of: "/") else { return realPath(".").map { ($0 == "/" ? "" : $0) + "/" + p } }
    let last = String(p[p.index(after: slash)...])
    guard !last.isEmpty, last != ".", last != ".." else { return realPath(p) }
    let parent = slash == p.startIndex ? "/" : String(p[..<slash])
    return realPath(parent).map { ($0 == "/" ? "" : $0) + "/" + last }
}
let ourMount = pathWithoutEntering(options.mountPoint).flatMap { path in
    mounts.last(where: { $0.mountPoint == path && $0.fsType == "fuse.namespacefs" })
}
let mountPoint: String
if let ourMount {
    mountPoint = ourMount.mountPoint
} else {
    guard let resolved = realPath(options.mountPoint) else {
        let e = Errno.current
        fail("mount point \(options.mountPoint) does not exist (\(e)): create it with 'mkdir -p \(options.mountPoint)'")
    }
    mountPoint = resolved
    guard FileIO.isDirectory(mountPoint) else {
        fail("mount point \(mountPoint) is not a directory: choose a directory")
    }
    if options.restart { fail("--restart: nothing is mounted on \(mountPoint); mount it without --restart") }
}

// The init binary (and the connection holder): installed beside this program.
func besideThisProgram(_ name: String) -> String {
    var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
    let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/sbin/namespacefs"
    let dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return dir + "/" + name
}
let initPath = options.initPath ?? besideThisProgram("namespacefs-init")
guard access(initPath, X_OK) == 0 else {
    fail("container init \(initPath) is missing: run 'make install', or pass -o init=PATH")
}

// One daemon per state directory: a second one would write the same record
// slots. The lock lives as long as the daemon (the descriptor survives the
// daemonizing fork), and names its holder.
let holderStateDirectory = options.stateDirectory
func holderLine() -> String { "namespacefs pid \(getpid()) mounted on \(mountPoint) (state \(holderStateDirectory))" }
let holder = holderLine()
func takeLock(_ path: String, _ what: String) -> OwnedDescriptor {
    do throws(HolderLock.Failure) { return try HolderLock.acquire(path, holder: holder) } catch {
        switch error {
        case .held(let other): fail("\(what) is in use by another daemon: \(other)")
        case .failed(let e): fail("cannot lock \(path) (\(e))")
        }
    }
}
// Both directories are the daemon's own: made by root, refused when anyone
// else could change them (a forged record, a symlinked lock file).
do throws(TrustedDirectory.Refusal) { try TrustedDirectory.ensure(options.stateDirectory, mode: 0o700) } catch {
    fail("refusing the state directory: \(error)")
}
let stateDirectory = options.stateDirectory
let holdSeconds = options.holdSeconds

// What to do with a mount point that is already ours, decided by
// TakeoverPlan from the facts gathered here: before the state lock (the
// lock would wait for its holder), then after it.
let mounted = ourMount.map { TakeoverPlan.Mount(device: $0.device, mountPoint: $0.mountPoint) }
let recorded = ConnectionRecord.load(from: stateDirectory).map { TakeoverPlan.Mount(device: $0.device, mountPoint: $0.mountPoint) }
let who = ourMount != nil || options.restart ? ConnectionHolder.ask(.who, stateDirectory: stateDirectory) : .none
var serverExiting = false
if case .serving(let pid) = who { serverExiting = ProcStat.isExiting(pid: pid) }
switch TakeoverPlan.beforeLock(mountPoint: mountPoint, stateDirectory: stateDirectory, mounted: mounted, recorded: recorded,
                               holder: who, serverExiting: serverExiting, restart: options.restart) {
case .proceed: break
case .refuse(let line): fail(line)
case .waitForExit(let pid, let otherwise):
    guard let dying = try? ProcessHandle.open(pid: pid), dying.waitForExit(timeoutMilliseconds: 5_000) else { fail(otherwise) }
case .handOver(let pid):
    // It stops reading requests, lets its workers answer theirs, exits,
    // and lets go of the locks.
    guard kill(pid, FuseSession.handoverSignal) == 0 else { fail("--restart: cannot signal daemon \(pid) (\(Errno.current))") }
    Log.line("asked daemon \(pid) to hand \(mountPoint) over")
}
let stateLock: OwnedDescriptor = {
    let path = stateDirectory + "/lock"
    do throws(HolderLock.Failure) {
        return try HolderLock.acquire(path, holder: holder, patienceMilliseconds: options.restart ? 10_000 : 2_000)
    } catch {
        switch error {
        case .held(let other):
            fail(TakeoverPlan.lockHeld(by: other, mountPoint: mountPoint, stateDirectory: stateDirectory, mounted: mounted, recorded: recorded))
        case .failed(let e): fail("cannot lock \(path) (\(e))")
        }
    }
}()

// Take over the mount, if there is one: its connection comes from
// systemd's descriptor store or from the holder; its INIT from the record.
struct Takeover {
    let descriptor: Int32
    let record: ConnectionRecord
}
var takeover: Takeover?
if let ourMount, let mounted {
    var fd = SystemdNotify.storedDescriptor(named: "fuse")
    let take = ConnectionHolder.ask(.take, stateDirectory: stateDirectory)
    if case .descriptor(let d) = take { if fd == nil { fd = d } else { close(d) } }
    let record = ConnectionRecord.load(from: stateDirectory)
    switch TakeoverPlan.afterLock(mountPoint: mountPoint, stateDirectory: stateDirectory, mounted: mounted,
                                  recorded: record.map { TakeoverPlan.Mount(device: $0.device, mountPoint: $0.mountPoint) },
                                  holderTake: take, haveDescriptor: fd != nil, restart: options.restart) {
    case .takeOver:
        takeover = Takeover(descriptor: fd!, record: record!)
    case .release(let reason, let thenRefuse):
        // Nobody can serve it: end it, and start afresh.
        fd.map { _ = close($0) }
        _ = ConnectionHolder.ask(.end, stateDirectory: stateDirectory)
        Log.line("\(reason): \(ourMount.mountPoint) is unmounted and mounted again")
        _ = umount2(ourMount.mountPoint, Int32(MNT_DETACH))
        ConnectionRecord.remove(from: stateDirectory)
        if let thenRefuse { fail(thenRefuse) }
    case .refuse(let line): fail(line)
    }
}

// Where containers live: what an earlier mount recorded, else below our own cgroup.
let store = StateStore(directory: stateDirectory)
// A delegated cgroup (systemd Delegate=yes): the daemon lives in a leaf of
// its own, so that the containers' cgroups are never beside a process.
var delegatedRoot: String?
if options.delegated {
    var own: String
    do { own = try Cgroup2.ownPath() } catch { fail("cannot read /proc/self/cgroup: \(error)") }
    if own.hasSuffix("/daemon") { own = String(own.dropLast("/daemon".count)) }
    let leaf = (own == "/" ? "" : own) + "/daemon"
    do {
        try FileIO.makeDirectories(cgroupMount + leaf)
        try FileIO.write(cgroupMount + leaf + "/cgroup.procs", "\(getpid())")
    } catch {
        fail("cannot move into the cgroup \(leaf) (\(error)): is the cgroup delegated (Delegate=yes)?")
    }
    delegatedRoot = (own == "/" ? "" : own) + "/containers"
}

let cgroupRoot: String
if let c = options.cgroupRoot {
    cgroupRoot = c
} else if let recorded = store.recordedCgroupRoot() {
    cgroupRoot = recorded
} else if let d = delegatedRoot {
    cgroupRoot = d
} else {
    let own: String
    do { own = try Cgroup2.ownPath() } catch { fail("cannot read /proc/self/cgroup: \(error)") }
    cgroupRoot = (own == "/" ? "" : own) + "/" + MountOptions.defaultCgroupName(stateDirectory: stateDirectory)
}

// One daemon per cgroup root: a second one would adopt, and kill, the
// first one's containers. Locked by name, beside the other daemons' locks.
let cgroupLocks = "/run/lock/namespacefs"
do throws(TrustedDirectory.Refusal) { try TrustedDirectory.ensure(cgroupLocks, mode: 0o755) } catch {
    fail("refusing the lock directory: \(error)")
}
let cgroupLockPath = cgroupLocks + "/cgroup" + HolderLock.fileName(for: cgroupRoot)
let cgroupLock = takeLock(cgroupLockPath, "the cgroup \(cgroupRoot)")
undoOnFailure.append { HolderLock.remove(cgroupLockPath, held: cgroupLock) }

// A mount refused from here on leaves no cgroup it made (v2, and the v1
// pids mirror): only those that did not exist before, and only if empty.
for dir in [cgroupMount + cgroupRoot] + (CgroupV1.mountPoint(of: "pids", in: mounts).map { [$0 + cgroupRoot] } ?? [])
    where !FileIO.isDirectory(dir) {
    undoOnFailure.append { _ = rmdir(dir) }
}
ResourceLimits.raiseOpenFiles()
let runtime: Runtime
do {
    var configuration = RuntimeConfiguration(cgroupMount: cgroupMount, cgroupRoot: cgroupRoot,
                                             stateDirectory: stateDirectory, initPath: initPath)
    configuration.crashAt = options.crashAt
    configuration.defaultLimits = options.defaultLimits
    configuration.userNamespaces = options.userNamespaces
    configuration.idPool = options.idPool
    configuration.processLimit = options.processLimit
    configuration.hostFilesystem = options.hostFilesystem ?? store.recordedHostFilesystem() ?? .private
    runtime = try Runtime(configuration: configuration)
} catch {
    fail("\(error)")
}
for line in runtime.lifecycle.adopt() { Log.line(line) }
if options.discoverHost { runtime.lifecycle.discoverHost() }

var fuseOptions = ["fsname=namespacefs", "subtype=namespacefs"] + options.fuseOptions
if options.allowOther ?? true { fuseOptions.append("allow_other") }

// The connection: taken over (a generation more), or a new mount whose
// INIT is recorded at once, for the daemons after this one.
let connection: ConnectionRecord
let token = takeover?.record.token ?? UInt64.random(in: 1...UInt64.max)
let generation = (takeover?.record.generation ?? 0) + 1
let filesystem = NamespaceFilesystem(runtime: runtime, connectionToken: token, generation: generation,
                                     dropWorkerReplies: options.dropWorkerReplies)
let session: FuseSession
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
        })?.device else { fail("the new mount on \(mountPoint) is not in the mount table") }
        connection = ConnectionRecord(token: token, device: device, mountPoint: mountPoint, generation: 1, initRequest: initRequest)
    }
} catch {
    fail("\(error)")
}
do throws(Errno) { try connection.save(in: stateDirectory) } catch {
    Log.line("cannot record the connection in \(stateDirectory) (\(error)): a next daemon cannot take it over")
}
let kernelResends = FuseSession.kernelResends(initRequest: connection.initRequest)
let tookOver = takeover != nil
if tookOver {
    Log.line("took over \(mountPoint) (connection \(connection.connectionNumber), daemon \(generation) to serve it)")
}
guard session.daemonize(foreground: options.foreground) else { fail("cannot detach from the terminal") }
// The locks name the daemon by the pid it has now (detaching changed it;
// the old one may be a container's process by the time anyone reads it).
try? HolderLock.rewrite(stateLock, holder: holderLine())
try? HolderLock.rewrite(cgroupLock, holder: holderLine())

// Something that outlives this process holds the connection: the holder
// (started once per mount, told who serves now), and systemd's descriptor
// store where systemd runs us. Without FUSE_NOTIFY_RESEND a next daemon
// could not answer what this one read, so nothing holds it.
// (Not beside -o init=: that may be anywhere.)
let holderBinary = besideThisProgram("namespacefs-holder")
func registerWithHolder() {
    // A holder of an earlier connection of this state directory (one
    // unmounted by hand while it held it) lets go of it: a new mount is served.
    if !tookOver { _ = ConnectionHolder.ask(.end, stateDirectory: stateDirectory) }
    guard holdSeconds > 0, kernelResends else { return }
    if tookOver, case .ok = ConnectionHolder.ask(.serve(pid: getpid()), stateDirectory: stateDirectory) { return }
    startHolder()
}
@Sendable func startHolder() {
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
if !kernelResends && holdSeconds > 0 {
    Log.line("this kernel does not send requests again (FUSE_NOTIFY_RESEND, Linux 6.9): nothing holds the mount across a crash")
}
registerWithHolder()
/// Set once the mount ends on purpose: no holder is started after that.
let ending = Mutex(false)
if holdSeconds > 0 && kernelResends {
    ConnectionHolder.keepAlive(stateDirectory: stateDirectory, serving: { !ending.withLock { $0 } }, start: startHolder)
}
if kernelResends { SystemdNotify.send("FDSTORE=1\nFDNAME=fuse", descriptor: session.descriptor) }
/// The mount ends on purpose: nothing may keep its connection.
@Sendable func endConnection() {
    ending.withLock { $0 = true }
    // No lock file left behind (a daemon waiting on one sees it removed).
    HolderLock.remove(cgroupLockPath, held: cgroupLock)
    HolderLock.remove(stateDirectory + "/lock", held: stateLock)
    _ = ConnectionHolder.ask(.end, stateDirectory: stateDirectory)
    SystemdNotify.send("FDSTOREREMOVE=1\nFDNAME=fuse")
    ConnectionRecord.remove(from: stateDirectory)
}
// Threads only from here on: daemonizing forks. And not on this thread:
// after the fork its cached thread id (which Mutex stores as the owner) is
// its parent's, so a contended lock taken here would trap. It only waits.
TerminationSignals.block()
BackgroundThread.start(name: "nsfs-requests") {
    runtime.views.mounted(at: mountPoint)
    do { try runtime.lifecycle.startWatching { removals in filesystem.notifyRemoved(removals) } } catch {
        Log.line("cannot watch container inits: \(error)")
    }
    session.exitWhenUnmounted(device: connection.device, first: endConnection)
    runtime.views.attachAll()
    // What the daemon before this one had read and not answered comes again,
    // ahead of what waited meanwhile.
    if tookOver && kernelResends {
        do throws(Errno) { try session.requestResend() } catch { Log.line("FUSE_NOTIFY_RESEND failed: \(error)") }
    }
    SystemdNotify.send("READY=1\nMAINPID=\(getpid())")
    // The one thread that takes SIGTERM/SIGINT/SIGHUP (they end the loop)
    // and SIGUSR1 (the handover).
    TerminationSignals.unblock()
    switch session.run() {
    case .handover:
        // Requests on workers are answered first; any left, a next daemon
        // gets again. The mount, the holder and the containers stay.
        _ = filesystem.drainWorkers(milliseconds: 2_000)
        Log.line("handing \(mountPoint) over to the next daemon")
        exit(handoverExitStatus)
    case let ending:
        // Unmount, leave the containers running.
        session.unmount(at: mountPoint)
        endConnection()
        exit(ending == .stopped ? 0 : 1)
    }
}
while true { pause() }
