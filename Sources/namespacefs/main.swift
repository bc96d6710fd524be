// namespacefs: mount the container tree.
//
// Every check that can fail runs before the mount, so a failure leaves
// nothing mounted and says in one line what is missing and how to fix it.
import ContainerRuntime
import LinuxSystem
import FuseAdapter
import MountOptions
#if canImport(Glibc)
import Glibc
#endif

let version = "0.1.0"

func fail(_ message: String, code: Int32 = 1) -> Never {
    StandardError.line("namespacefs: \(message)")
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

// The mount point.
var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
guard realpath(options.mountPoint, &resolved) != nil else {
    let e = Errno.current
    if e.rawValue == ENOTCONN {
        fail("\(options.mountPoint) is the mount of a daemon that died: run 'fusermount3 -u -z \(options.mountPoint)' first")
    }
    fail("mount point \(options.mountPoint) does not exist (\(e)): create it with 'mkdir -p \(options.mountPoint)'")
}
let mountPoint = resolved.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
guard FileIO.isDirectory(mountPoint) else {
    fail("mount point \(mountPoint) is not a directory: choose a directory")
}
if mounts.contains(where: { $0.mountPoint == mountPoint && $0.fsType.hasPrefix("fuse") && $0.fsType.contains("namespacefs") }) {
    fail("\(mountPoint) is already mounted: unmount it first with 'umount \(mountPoint)'")
}

// The init binary.
func defaultInitPath() -> String {
    var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buf, Int(PATH_MAX))
    let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/sbin/namespacefs"
    let dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return dir + "/namespacefs-init"
}
let initPath = options.initPath ?? defaultInitPath()
guard access(initPath, X_OK) == 0 else {
    fail("container init \(initPath) is missing: run 'make install', or pass -o init=PATH")
}

// One daemon per state directory: a second one would write the same record
// slots. The lock lives as long as the daemon (the descriptor survives the
// daemonizing fork), and names its holder.
let holder = "namespacefs pid \(getpid()) mounted on \(mountPoint) (state \(options.stateDirectory))"
func takeLock(_ path: String, _ what: String) -> OwnedDescriptor {
    do throws(HolderLock.Failure) { return try HolderLock.acquire(path, holder: holder) } catch {
        switch error {
        case .held(let other): fail("\(what) is in use by another daemon: \(other)")
        case .failed(let e): fail("cannot lock \(path) (\(e))")
        }
    }
}
do throws(Errno) { try FileIO.makeDirectories(options.stateDirectory, mode: 0o700) } catch {
    fail("cannot create the state directory \(options.stateDirectory) (\(error))")
}
let stateLock = takeLock(options.stateDirectory + "/lock", "the state directory \(options.stateDirectory)")

// Where containers live: what an earlier mount recorded, else below our own cgroup.
let store = StateStore(directory: options.stateDirectory)
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
    cgroupRoot = (own == "/" ? "" : own) + "/" + MountOptions.defaultCgroupName(stateDirectory: options.stateDirectory)
}

// One daemon per cgroup root: a second one would adopt, and kill, the
// first one's containers. Locked by name, beside the other daemons' locks.
let cgroupLocks = "/run/lock/namespacefs"
do throws(Errno) { try FileIO.makeDirectories(cgroupLocks) } catch {
    fail("cannot create \(cgroupLocks) (\(error))")
}
let cgroupLock = takeLock(cgroupLocks + "/cgroup" + HolderLock.fileName(for: cgroupRoot), "the cgroup \(cgroupRoot)")

ResourceLimits.raiseOpenFiles()
let runtime: Runtime
do {
    var configuration = RuntimeConfiguration(cgroupMount: cgroupMount, cgroupRoot: cgroupRoot,
                                             stateDirectory: options.stateDirectory, initPath: initPath)
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

let filesystem = NamespaceFilesystem(runtime: runtime, dropWorkerReplies: options.dropWorkerReplies)
let session: FuseSession
do {
    session = try FuseSession(filesystem: filesystem, options: fuseOptions, debug: options.debug)
    try session.mount(at: mountPoint)
} catch {
    fail("\(error)")
}
guard session.daemonize(foreground: options.foreground) else { fail("cannot detach from the terminal") }
// Threads only from here on: daemonizing forks. And not on this thread:
// after the fork its cached thread id (which Mutex stores as the owner) is
// its parent's, so a contended lock taken here would trap. It only waits.
TerminationSignals.block()
BackgroundThread.start(name: "nsfs-requests") {
    runtime.views.mounted(at: mountPoint)
    do { try runtime.lifecycle.startWatching { removals in filesystem.notifyRemoved(removals) } } catch {
        Log.line("cannot watch container inits: \(error)")
    }
    session.exitWhenUnmounted(mountPoint)
    runtime.views.attachAll()
    // The one thread that takes SIGTERM/SIGINT/SIGHUP: they end the loop.
    TerminationSignals.unblock()
    let status = session.run()
    // Unmount, leave the containers running.
    session.unmount()
    exit(status == 0 ? 0 : 1)
}
while true { pause() }
