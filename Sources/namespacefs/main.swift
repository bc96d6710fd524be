// namespacefs: mount the container tree.
//
// Every check that can fail runs before the mount, so a failure leaves
// nothing mounted and says in one line what is missing and how to fix it
// (Command.fail), undoing what it made. The steps, each in its own file:
// Preflight (root, /dev/fuse, cgroup2), MountPoint, Claim (the state lock;
// a mount that is already ours, as TakeoverPlan decides), CgroupRoot (where
// containers live, locked), the runtime and adoption, then Daemon (the
// connection, the holder, serving).
import ContainerRuntime
import LinuxSystem
import MountOptions
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

let options: MountOptions
switch MountOptions.parse(Array(CommandLine.arguments.dropFirst())) {
case .help: print(MountOptions.usage); exit(0)
case .version: print("namespacefs \(version)"); exit(0)
case .error(let e): Command.fail("\(e) (namespacefs --help shows the usage)", code: 2)
case .run(let o): options = o
}

// Before anything else opens a descriptor: the low slots stay low. (Without
// /dev/null, Preflight names what is missing; helpers then copy the table.)
try? HelperSlots.reserve()

let (mounts, cgroupMount) = Preflight.check()
let mountPoint = MountPoint.resolve(options.mountPoint, mounts: mounts, restart: options.restart)

// The init binary: installed beside this program.
let initPath = options.initPath ?? ThisProgram.beside("namespacefs-init")
guard access(initPath, X_OK) == 0 else {
    Command.fail("container init \(initPath) is missing: run 'make install', or pass -o init=PATH")
}

// The state directory is the daemon's own: made by root, refused when
// anyone else could change it (a forged record, a symlinked lock file).
do throws(TrustedDirectory.Refusal) { try TrustedDirectory.ensure(options.stateDirectory, mode: 0o700) } catch {
    Command.fail("refusing the state directory: \(error)")
}
let claim = Claim.make(mountPoint, stateDirectory: options.stateDirectory, restart: options.restart)
let store = StateStore(directory: options.stateDirectory)
// So is the storage of containers' own layers: checked now when a root is
// given at every mkdir or the storage is named, else at its first use.
let storage = options.storageDirectory ?? store.recordedStorage() ?? RootFilesystems.defaultStorage
if options.rootImage != nil || options.storageDirectory != nil {
    do throws(TrustedDirectory.Refusal) { try TrustedDirectory.ensure(storage, mode: 0o700) } catch {
        Command.fail("refusing the storage directory: \(error)")
    }
}
let cgroupRoot = CgroupRoot.claim(options, store: store, cgroupMount: cgroupMount, mounts: mounts, mountPoint: mountPoint.path)

ResourceLimits.raiseOpenFiles()
let runtime: Runtime
do {
    var configuration = RuntimeConfiguration(cgroupMount: cgroupMount, cgroupRoot: cgroupRoot.path,
                                             stateDirectory: options.stateDirectory, initPath: initPath)
    configuration.crashAt = options.crashAt
    configuration.defaultLimits = options.defaultLimits
    configuration.userNamespaces = options.userNamespaces
    configuration.idPool = options.idPool
    configuration.processLimit = options.processLimit
    configuration.stopTimeoutMilliseconds = options.stopTimeoutSeconds * 1000
    configuration.rootImage = options.rootImage
    configuration.network = options.network
    configuration.netnsNames = options.netnsNames
    configuration.logSize = options.logSize
    configuration.storageDirectory = storage
    configuration.mountPoint = mountPoint.path
    configuration.hostFilesystem = options.hostFilesystem ?? store.recordedHostFilesystem() ?? .private
    runtime = try Runtime(configuration: configuration)
} catch {
    Command.fail("\(error)")
}
if let network = runtime.lifecycle.network {
    do throws(RuntimeError) { for line in try network.start() { Log.line(line) } } catch { Command.fail("\(error)") }
}
for line in runtime.lifecycle.adopt() { Log.line(line) }
if options.discoverHost { runtime.sets.discoverHost() }

let daemon = Daemon(runtime: runtime, options: options, mountPoint: mountPoint.path, claim: claim, cgroupRoot: cgroupRoot)
guard daemon.session.daemonize(foreground: options.foreground) else { Command.fail("cannot detach from the terminal") }
if !options.foreground { Log.detach(to: options.logFile, fallback: options.stateDirectory + "/daemon.log") }
daemon.holdConnection()
// Threads only from here on: daemonizing forks. And not on this thread:
// after the fork its cached thread id (which Mutex stores as the owner) is
// its parent's, so a contended lock taken here would trap. It only waits.
TerminationSignals.block()
BackgroundThread.start(name: "nsfs-requests") { daemon.serve() }
while true { pause() }
