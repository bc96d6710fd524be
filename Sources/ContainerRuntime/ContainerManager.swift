import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Where containers live and what starts them.
public struct RuntimeConfiguration: Sendable {
    /// cgroup2 mount point, e.g. /sys/fs/cgroup.
    public var cgroupMount: String
    /// The cgroup (relative to the mount) below which every container's lives.
    public var cgroupRoot: String
    public var stateDirectory: String
    public var initPath: String

    public init(cgroupMount: String, cgroupRoot: String, stateDirectory: String, initPath: String) {
        self.cgroupMount = cgroupMount
        self.cgroupRoot = cgroupRoot
        self.stateDirectory = stateDirectory
        self.initPath = initPath
    }
}

/// The tree of live containers: the pure `ContainerTree` plus, per node, the
/// kernel objects behind it. Every change happens in the kernel first, then
/// in the store, then in the tree, all under one lock.
public final class ContainerManager: @unchecked Sendable {
    public let configuration: RuntimeConfiguration
    let lock = Lock()
    var tree = ContainerTree()
    var containers: [UInt64: Container] = [:]
    let store: StateStore
    let spawner: InitSpawner
    public let rootCgroup: CgroupDirectory

    /// How long rmdir waits for a container's processes to die.
    public var killTimeoutMilliseconds = 10_000

    public init(configuration: RuntimeConfiguration) throws(RuntimeError) {
        self.configuration = configuration
        store = StateStore(directory: configuration.stateDirectory)
        spawner = try InitSpawner(initPath: configuration.initPath)
        rootCgroup = CgroupDirectory(path: configuration.cgroupMount + configuration.cgroupRoot)
        do throws(Errno) { try store.prepare() } catch {
            throw RuntimeError(error, "cannot create the state directory \(configuration.stateDirectory)")
        }
        do throws(Errno) { try FileIO.makeDirectories(rootCgroup.path) } catch {
            throw RuntimeError(error, "cannot create the cgroup \(rootCgroup.path)")
        }
        do throws(Errno) { try store.recordCgroupRoot(configuration.cgroupRoot) } catch {
            throw RuntimeError(error, "cannot write to the state directory \(configuration.stateDirectory)")
        }
    }

    // MARK: reading

    /// Run `body` with a consistent view of the tree.
    public func read<T>(_ body: (ContainerTree, [UInt64: Container]) throws -> T) rethrows -> T {
        try lock.withLock { () throws -> T in try body(tree, containers) }
    }

    public func container(_ serial: UInt64) -> Container? { lock.withLock { containers[serial] } }

    // MARK: mkdir

    /// Create and start a container named `name` below `parent`.
    public func create(parent: UInt64, name bytes: [UInt8]) throws(RuntimeError) -> UInt64 {
        try lock.withLock { () throws(RuntimeError) -> UInt64 in
            let name: String
            switch tree.checkCreate(parent: parent, name: bytes) {
            case .failure(let e): throw RuntimeError(e.errno, "mkdir refused")
            case .success(let n): name = n
            }
            let parentContainer = containers[parent]
            let parentCgroup = parentContainer?.cgroup ?? rootCgroup

            // A fresh cgroup, never reused: a random id, retried on collision.
            var id: UInt64 = 0
            var cgroup = parentCgroup
            while true {
                id = Random.uint64()
                cgroup = parentCgroup.child(Self.cgroupPrefix + hex(id))
                do throws(Errno) { try cgroup.create(); break } catch {
                    if error == .exists { continue }
                    throw RuntimeError(error, "cannot create cgroup \(cgroup.path)")
                }
            }
            let process: ProcessHandle
            do throws(RuntimeError) {
                let dir: OwnedDescriptor
                do throws(Errno) { dir = try cgroup.open() } catch { throw RuntimeError(error, "cannot open cgroup \(cgroup.path)") }
                process = try spawner.spawn(cgroup: dir, parent: parentContainer?.initProcess,
                                            hostname: ContainerName.hostname(for: name), argv0: "nsinit")
            } catch {
                try? cgroup.remove()
                throw error
            }
            let serial = tree.allocateSerial()
            let record: ContainerRecord
            do throws(Errno) {
                record = ContainerRecord(
                    id: id, serial: serial, name: name, parent: parentContainer?.record.id,
                    created: Clock.realtimeNanoseconds(), initPid: process.pid,
                    initStartTime: try ProcStat.startTime(pid: process.pid),
                    pidNamespace: try process.namespaceID(.pid),
                    cgroup: String(cgroup.path.dropFirst(configuration.cgroupMount.count)))
                try store.save(record)
            } catch {
                destroyKernelObjects(process: process, cgroup: cgroup)
                throw RuntimeError(error, "cannot record container \(name)")
            }
            let c = Container(record: record, initProcess: process, cgroup: cgroup)
            try! tree.insert(serial: serial, name: name, parent: parent)
            containers[serial] = c
            return serial
        }
    }

    static let cgroupPrefix = "ns-"

    // MARK: rmdir

    /// Kill a container without child containers; returns when no process of
    /// it is left and its cgroup and record are gone.
    public func remove(_ serial: UInt64) throws(RuntimeError) {
        try lock.withLock { () throws(RuntimeError) in
            if case .failure(let e) = tree.checkRemove(serial) { throw RuntimeError(e.errno, "rmdir refused") }
            let c = containers[serial]!
            if !destroyKernelObjects(process: c.initProcess, cgroup: c.cgroup) {
                throw RuntimeError(.busy, "processes of \(c.record.name) did not die")
            }
            store.delete(id: c.record.id)
            try! tree.remove(serial)
            containers.removeValue(forKey: serial)
        }
    }

    /// cgroup.kill, wait for the init (its pidfd: faster than cgroup.events),
    /// then for the cgroup to empty, then remove it. False on timeout.
    @discardableResult
    func destroyKernelObjects(process: ProcessHandle?, cgroup: CgroupDirectory) -> Bool {
        let deadline = Clock.monotonicNanoseconds() + Int64(killTimeoutMilliseconds) * 1_000_000
        func left() -> Int { max(0, Int((deadline - Clock.monotonicNanoseconds()) / 1_000_000)) }
        do throws(Errno) { try cgroup.kill() } catch {
            if error == .noEntry { return true }
        }
        if let process {
            _ = process.waitForExit(timeoutMilliseconds: Int32(left()))
            process.reap()
        }
        while true {
            do throws(Errno) {
                try cgroup.remove()
                return true
            } catch {
                if error == .noEntry { return true }
                if error != .busy || left() == 0 { return false }
            }
            _ = try? cgroup.waitUntilEmpty(timeoutMilliseconds: left())
        }
    }

    // MARK: mv

    /// Rename within the same parent; no process, namespace or cgroup is touched.
    public func rename(_ serial: UInt64, to newParent: UInt64, name bytes: [UInt8]) throws(RuntimeError) {
        try lock.withLock { () throws(RuntimeError) in
            let name: String
            switch tree.checkRename(serial, to: newParent, name: bytes) {
            case .failure(let e): throw RuntimeError(e.errno, "rename refused")
            case .success(let n): name = n
            }
            let c = containers[serial]!
            if c.record.name == name { return }
            var r = c.record
            r.name = name
            do throws(Errno) { try store.save(r) } catch { throw RuntimeError(error, "cannot record the new name") }
            c.record = r
            try! tree.rename(serial, to: newParent, name: Array(name.utf8))
        }
    }
}

extension TreeError {
    /// The errno a user sees for each refusal.
    public var errno: Errno {
        switch self {
        case .invalidName: .invalid
        case .nameTooLong: Errno(ENAMETOOLONG)
        case .exists: .exists
        case .notFound: .noEntry
        case .notEmpty: .notEmpty
        case .notAContainer: Errno(ENOTDIR)
        case .isRoot: .busy
        case .crossParent: .notPermitted
        case .intoOwnSubtree: .invalid
        }
    }
}
