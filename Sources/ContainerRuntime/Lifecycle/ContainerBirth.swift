import ContainerTree
import LinuxSystem

/// One container coming to be: the transaction behind mkdir and behind the
/// naming of a set. A `creating` record first, then a fresh cgroup, then an
/// init in it (placed in its pids mirror), then the record `running`. A step
/// that fails undoes every step before it, here and nowhere else (`undo`);
/// a crash between two steps leaves a record that names what the next
/// mount undoes (Adoption). Adoption's rebuild makes nothing: it ends the
/// same way (`Container.running`), from a record and an init
/// that already exist.
struct ContainerBirth {
    private let lifecycle: Lifecycle
    private(set) var record: ContainerRecord
    let cgroup: CgroupDirectory
    private let pending: StateStore.Pending
    private(set) var process: ProcessHandle?
    /// A container above has a pids limit: the init is counted before
    /// mkdir answers.
    private let limited: Bool

    /// Where its processes go.
    var leaf: CgroupDirectory { CgroupLayout.leaf(of: cgroup) }

    /// The record and the cgroup below `parent`: refused (EAGAIN, as fork
    /// is) where a container above is at its pids.max, since the init will
    /// be one more process of each. `crash`: the testing crash step between
    /// the record and the cgroup.
    init(_ record: ContainerRecord, below parent: CgroupDirectory, by lifecycle: Lifecycle,
         doing what: String, crash: CrashStep? = nil) throws(RuntimeError) {
        let limits = lifecycle.layout.pidsLimits(from: parent, upTo: lifecycle.rootCgroup, adding: 1)
        if let full = limits.reached { throw RuntimeError(.tryAgain, "\(what): \(full) is reached") }
        limited = limits.limited
        var r = record
        (cgroup, pending) = try lifecycle.recordWithCgroup(&r, below: parent, crash: crash)
        self.record = r
        self.lifecycle = lifecycle
    }

    /// A step of the birth: if it fails, all made so far is undone.
    func step<T>(_ body: () throws(RuntimeError) -> T) throws(RuntimeError) -> T {
        do throws(RuntimeError) { return try body() } catch {
            undo()
            throw error
        }
    }

    /// A system call of the birth, `what` naming it in the error.
    func step<T>(_ what: @autoclosure () -> String, _ body: () throws(Errno) -> T) throws(RuntimeError) -> T {
        do throws(Errno) { return try body() } catch {
            undo()
            throw RuntimeError(error, what())
        }
    }

    /// The init, started by `start` in the leaf (an open descriptor of it,
    /// for clone3's CLONE_INTO_CGROUP), then placed in its pids mirror
    /// (the init never forks: where no limit above counts it, soon after).
    mutating func start(_ start: (OwnedDescriptor) throws(RuntimeError) -> ProcessHandle) throws(RuntimeError) {
        let leaf = self.leaf
        let dir = try step("cannot open cgroup \(leaf.path)") { () throws(Errno) in try leaf.open() }
        let p = try step { () throws(RuntimeError) in try start(dir) }
        process = p
        let (cgroup, layout, name, later) = (self.cgroup, lifecycle.layout, record.name, !limited)
        try step("cannot place the init of \(name) in its pids cgroup") { () throws(Errno) in
            try layout.placeInMirror(p, of: cgroup, later: later)
        }
    }

    /// The init's mount namespace gets `image` as its root, with a layer
    /// of its own in the storage (removed by `undo`).
    mutating func giveRoot(_ image: String) throws(RuntimeError) {
        guard let process else { preconditionFailure("a root before the init") }
        let (r, roots) = (record, lifecycle.roots)
        try step { () throws(RuntimeError) in try roots.give(image, to: process, id: r.id, idBase: r.idBase, idmap: !r.idsAsked, name: r.name) }
        record.root = image
    }

    /// eth0 on the bridge, with an address of its own (released by `undo`).
    mutating func giveNetwork(_ network: Network) throws(RuntimeError) {
        guard let process else { preconditionFailure("a network before the init") }
        let r = record
        record.address = try step { () throws(RuntimeError) in try network.attach(process, id: r.id, name: r.name) }
    }

    /// The record `running`, once `finish` has added what it reads of the
    /// init; the container it describes.
    mutating func commit(_ finish: (inout ContainerRecord, ProcessHandle) throws(Errno) -> Void) throws(RuntimeError) -> Container {
        guard let process else { preconditionFailure("commit before start") }
        var r = record
        r.initPid = process.pid
        let pending = self.pending
        try step("cannot record container \(r.name)") { () throws(Errno) in
            try finish(&r, process)
            r.creating = false
            try pending.commit(r)
        }
        record = r
        return Container.running(r, init: process, layout: lifecycle.layout, host: lifecycle.registry.host)
    }

    /// Everything this birth made, undone: the init killed (reaped later if
    /// slow), the cgroup removed, the record deleted. Also after `commit`,
    /// when the container cannot take its place in the tree.
    func undo() {
        lifecycle.teardown.destroy(process: process, cgroup: cgroup, reapLater: lifecycle.reapLater)
        lifecycle.buried(record.id)
        pending.abandon()
    }
}

extension Container {
    /// A running container, as the registry holds it: its record and init
    /// (a birth's end, and adoption's).
    static func running(_ record: ContainerRecord, init process: ProcessHandle, layout: CgroupLayout, host: Host) -> Container {
        Container(record: record, initProcess: process, layout: layout, budget: host.openBudget)
    }
}
