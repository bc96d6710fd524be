import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The namespaces of a container, read once: the init never changes them,
/// so the cached answer is exact for the container's whole life.
package struct NamespaceIdentity: Sendable {
    package var inode: UInt64
    package var id: UInt64
}

extension Container {
    package func namespaceIdentities() -> [NamespaceKind: NamespaceIdentity] {
        if let cached = cachedNamespaces.withLock({ $0 }) { return cached }
        var out: [NamespaceKind: NamespaceIdentity] = [:]
        for k in NamespaceKind.allCases {
            guard let fd = ifReadable({ try initProcess.namespace(k) }) else { continue }
            out[k] = NamespaceIdentity(inode: ifReadable({ try NamespaceKind.inode(of: fd) }) ?? 0,
                                       id: ifReadable({ try NamespaceKind.id(of: fd) }) ?? 0)
        }
        cachedNamespaces.withLock { $0 = out }
        return out
    }
}

/// The lines of a container's `status` that only a rename changes, as one
/// reader's scope shows them.
struct StatusTemplate: Sendable {
    struct Key: Equatable { let scope: UInt64; let renames: UInt64 }
    let key: Key
    /// name, path, id.
    let head: [UInt8]
    let created: [UInt8]
    /// The cgroup and the user namespace's id maps.
    let cgroupAndIds: [UInt8]
    let namespaces: [UInt8]

    /// `parent`: the parent container's set (the daemon's for a top-level one).
    init(key: Key, name: String, path: [String], container c: Container, parent: SetKey?) {
        self.key = key
        head = Array("\(StatusKey.name.rawValue): \(name)\n\(StatusKey.path.rawValue): /\(path.joined(separator: "/"))\n\(StatusKey.id.rawValue): \(hex(c.id))\n\(StatusKey.kind.rawValue): container\n".utf8)
        created = Array("\(StatusKey.created.rawValue): \(SystemTime.rfc3339(nanoseconds: c.created))\n".utf8)
        let map = c.idBase.map { "0 \($0) \(c.idCount)" } ?? "0 0 4294967295"
        cgroupAndIds = Array("\(StatusKey.cgroup.rawValue): \(c.cgroupPath)\n\(StatusKey.uidMap.rawValue): \(map)\n\(StatusKey.gidMap.rawValue): \(map)\n".utf8)
        let own = c.setKey
        let owned = parent.map { own.differences(from: $0) } ?? NamespaceKind.allCases
        var ns = "\(StatusKey.owns.rawValue): \(owned.map(\.name).joined(separator: " "))\n"
        ns += "\(StatusKey.shares.rawValue): \(NamespaceKind.allCases.filter { !owned.contains($0) }.map(\.name).joined(separator: " "))\n"
        let ids = c.namespaceIdentities()
        for k in NamespaceKind.allCases {
            guard let n = ids[k] else { continue }
            ns += "\(StatusKey.namespace(k)): \(k.name):[\(n.inode)]\n\(StatusKey.namespaceID(k)): \(n.id)\n"
        }
        namespaces = Array(ns.utf8)
    }

    /// Room for the whole text with its variable lines.
    var capacity: Int { head.count + created.count + cgroupAndIds.count + namespaces.count + 64 }
}

/// Containers presented as files: the contents of `status`, `procs`,
/// `hostname` and `freeze`, and what writing them does. Nothing here knows
/// of FUSE; `nil` means the container is gone.
package struct ControlFiles: Sendable {
    let registry: Registry
    /// -o network: containers' addresses are shown with the gateway.
    let network: NetworkConfiguration?
    /// The daemon's own set: the parent of top-level containers.
    var daemonKey: SetKey? { registry.host.key }

    /// `scope`: the reader's container; the path is relative to its view.
    /// Everything but state, init and processes is taken from a template
    /// kept per container (it changes only by renames).
    package func status(_ serial: UInt64, view: PidView, scope: UInt64 = ContainerTree.rootSerial) -> [UInt8]? {
        if serial == ContainerTree.rootSerial { return rootStatus() }
        if let set = registry.read({ $0.sets[serial] }) { return setStatus(serial, set, view: view, scope: scope) }
        guard let (c, renames, removing) = registry.read({ s -> (Container, UInt64, Bool)? in
            s.containers[serial].map { ($0, s.renames, s.tree.node(serial)?.state == .removing) }
        }) else { return nil }
        let key = StatusTemplate.Key(scope: scope, renames: renames)
        let t: StatusTemplate
        if let cached = c.statusTemplate.withLock({ $0 }), cached.key == key {
            t = cached
        } else {
            guard let (name, path, parent) = registry.read({ s -> (String, [String], Container?)? in
                guard let r = s.records[serial] else { return nil }
                return (r.name, Array(s.tree.path(of: serial).dropFirst(s.tree.depth(of: scope))),
                        s.tree.node(serial)?.parent.flatMap { s.containers[$0] })
            }) else { return nil }
            t = StatusTemplate(key: key, name: name, path: path, container: c, parent: parent?.setKey ?? daemonKey)
            c.statusTemplate.withLock { $0 = t }
        }
        var out: [UInt8] = []
        out.reserveCapacity(t.capacity)
        out += t.head
        let state: ContainerState = removing ? .removing : c.isFrozen ? .frozen : .running
        out += "\(StatusKey.state.rawValue): \(state.rawValue)\n".utf8
        out += t.created
        out += "\(StatusKey.initPid.rawValue): ".utf8
        if let p = view.translate(c.initPid) { out += String(p).utf8 } else { out.append(UInt8(ascii: "-")) }
        out.append(UInt8(ascii: "\n"))
        out += t.cgroupAndIds
        out += "\(StatusKey.processes.rawValue): ".utf8
        // Its own: the members of its sets count there.
        out += String(registry.read { $0.ownProcesses[serial]?.count } ?? c.processCount()).utf8
        out.append(UInt8(ascii: "\n"))
        out += limitLines(c)
        out += accountingLines(c)
        if let gateway = network?.gatewayText, let a = registry.read({ $0.records[serial]?.address }) {
            out += "\(StatusKey.address.rawValue): \(a)\n\(StatusKey.gateway.rawValue): \(gateway)\n".utf8
        }
        out += t.namespaces
        return out
    }

    /// `pids.max: 512` and so on, a line per limit entry the container
    /// has, and the OOM kills where memory is controlled.
    func limitLines(_ c: Container) -> [UInt8] {
        var out: [UInt8] = []
        if c.pidsMirror != nil { c.placements.settle() }
        for (f, path) in c.limitFiles {
            guard var v = ifReadable({ try c.readFile(path) }) else { continue }
            if v.last == 10 { v.removeLast() }
            out += f.name.utf8
            out += ": ".utf8
            out += v
            out.append(10)
        }
        if let path = c.memoryEvents, let events = ifReadable({ try c.readFile(path) }) {
            out += "\(StatusKey.oomKills.rawValue): \(CgroupDirectory.parseStat(events, key: "oom_kill") ?? 0)\n".utf8
        }
        return out
    }

    /// The `root` entry: its image and a newline, or an empty line (the
    /// host's files); nil if the container is gone.
    package func root(_ serial: UInt64) -> [UInt8]? {
        registry.read { s in s.records[serial].map { Array(($0.root ?? "").utf8) + [10] } }
    }

    /// The container's id (what its log and layer are named by).
    package func id(of serial: UInt64) -> UInt64? { registry.read { $0.records[serial]?.id } }

    /// The `mounts` entry: a line per volume; nil if the container is gone.
    package func volumes(_ serial: UInt64) -> [UInt8]? {
        registry.read { s in s.records[serial].map { Array($0.volumes.map { $0.line + "\n" }.joined().utf8) } }
    }

    /// CPU time and memory of the container and below (see StatusKey).
    func accountingLines(_ c: Container) -> [UInt8] {
        var out = "\(StatusKey.cpuUsec.rawValue): \(c.cpuUsage ?? 0)\n"
        if let path = c.limitFile(.memoryCurrent), let v = ifReadable({ try c.readFile(path) }),
           let bytes = UInt64(String(decoding: v.filter { $0 != 10 }, as: UTF8.self)) {
            out += "\(StatusKey.memory.rawValue): \(bytes)\n\(StatusKey.memorySource.rawValue): cgroup\n"
        } else {
            out += "\(StatusKey.memory.rawValue): \(memoryEstimate(c))\n\(StatusKey.memorySource.rawValue): estimate\n"
        }
        return Array(out.utf8)
    }

    /// The sum of the resident sets of the container's processes and those
    /// below, made at most once a second (a walk of its cgroups and a read
    /// of /proc per process: it doubled the cost of a status read).
    func memoryEstimate(_ c: Container) -> UInt64 {
        let now = SystemTime.monotonicNanoseconds()
        if let e = c.memoryEstimate.withLock({ $0 }), now - e.at < 1_000_000_000 { return e.bytes }
        var pages: UInt64 = 0
        for pid in c.everyProcess() { pages += ifReadable({ try ProcStat.usage(pid: pid) })?.residentPages ?? 0 }
        let bytes = pages * Self.pageSize
        c.memoryEstimate.withLock { $0 = (now, bytes) }
        return bytes
    }

    static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    /// A limit entry: the kernel's file, read through; nil if the
    /// container is gone.
    package func limit(_ serial: UInt64, _ f: ControlFile) -> [UInt8]? {
        guard let c = registry.container(serial), let path = c.limitFile(f) else { return nil }
        return ifReadable({ try c.readFile(path) })
    }

    /// Written through as it is: the kernel's syntax, the kernel's errors
    /// (`max`, a number, EINVAL for anything else); nothing changes on error.
    package func setLimit(_ serial: UInt64, _ f: ControlFile, _ bytes: [UInt8]) throws(RuntimeError) {
        guard let c = runningContainer(serial), let path = c.limitFile(f) else {
            throw RuntimeError(.noEntry, "no such container")
        }
        // Every process below in its pids mirror first: one left out while
        // no limit counted it (an nsctl that died before it asked, a fork
        // loop outrunning the placements) would escape this one. Where they
        // fork faster than they move, frozen meanwhile.
        if f == .pidsMax, c.pidsMirror != nil {
            let below = registry.read { s in s.tree.subtreePostOrder(serial).compactMap { s.containers[$0] } }
            for d in below {
                guard let mirror = d.pidsMirror, !MirrorPlacements.sync(leaf: d.leaf, mirror: mirror, rounds: 2) else { continue }
                let frozen = d.freeze()
                MirrorPlacements.sync(leaf: d.leaf, mirror: mirror)
                d.thaw(frozen)
            }
        }
        do throws(Errno) { try FileIO.write(path, bytes: bytes) } catch {
            throw RuntimeError(rejected: error, "cannot write \(f.name)")
        }
    }

    /// A set's status: the same keys as a container's (`id`, `created`
    /// and `init` are "-": nobody made it here and no process of it is its
    /// init), `kind: set`, and which namespaces it owns and shares with its
    /// parent.
    func setStatus(_ serial: UInt64, _ set: FoundSet, view: PidView, scope: UInt64) -> [UInt8]? {
        guard let (path, c, name, removing) = registry.read({ s -> ([String], Container?, String, Bool)? in
            guard let node = s.tree.node(serial), set.isHosts || s.containers[set.container] != nil else { return nil }
            return (Array(s.tree.path(of: serial).dropFirst(s.tree.depth(of: scope))), s.containers[set.container],
                    node.name, node.state == .removing)
        }) else { return nil }
        // The host's sets are in whatever cgroups their processes are.
        let state: ContainerState = removing ? .removing : c?.isFrozen == true ? .frozen : .running
        let owned = set.owned
        var out = """
        \(StatusKey.name.rawValue): \(name)
        \(StatusKey.path.rawValue): /\(path.joined(separator: "/"))
        \(StatusKey.id.rawValue): -
        \(StatusKey.kind.rawValue): set
        \(StatusKey.state.rawValue): \(state.rawValue)
        \(StatusKey.created.rawValue): -
        \(StatusKey.initPid.rawValue): -
        \(StatusKey.cgroup.rawValue): \(c?.cgroupPath ?? "-")
        \(StatusKey.processes.rawValue): \(set.members.count)
        \(StatusKey.owns.rawValue): \(owned.map(\.name).joined(separator: " "))
        \(StatusKey.shares.rawValue): \(NamespaceKind.allCases.filter { !owned.contains($0) }.map(\.name).joined(separator: " "))

        """
        for k in NamespaceKind.allCases {
            out += "\(StatusKey.namespace(k)): \(k.name):[\(set.facts.key[k])]\n\(StatusKey.namespaceID(k)): \(set.facts.ids[k] ?? set.containerIDs[k] ?? 0)\n"
        }
        return Array(out.utf8)
    }

    /// The root stands for the daemon's own namespaces (the host).
    func rootStatus() -> [UInt8] {
        let n = registry.read { $0.tree.count }
        return Array("\(StatusKey.name.rawValue): /\n\(StatusKey.path.rawValue): /\n\(StatusKey.state.rawValue): running\n\(StatusKey.containers.rawValue): \(n)\n".utf8)
    }

    /// The container's own processes (its cgroup, not the ones below), as
    /// `view` sees them, sorted. The root lists none.
    package func procs(_ serial: UInt64, view: PidView) -> [UInt8]? {
        if serial == ContainerTree.rootSerial { return [] }
        let pids: [Int32]
        if let set = registry.read({ $0.sets[serial] }) {
            pids = set.members
        } else {
            guard let c = registry.container(serial) else { return nil }
            // As the last look found them (the members of its sets are
            // listed there); all of its cgroup's if it was never looked at.
            pids = registry.read { $0.ownProcesses[serial] } ?? c.processes()
        }
        var out: [UInt8] = []
        for pid in pids.compactMap({ view.translate($0) }).sorted() {
            out += String(pid).utf8
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The hostname, as the kernel holds it, and a newline.
    package func hostname(_ serial: UInt64) throws(RuntimeError) -> [UInt8] {
        try doing("cannot read the hostname") { () throws(Errno) -> [UInt8] in
            if serial == ContainerTree.rootSerial { return try UTSNamespace.ownHostname() + [10] }
            if let set = registry.read({ $0.sets[serial] }) {
                return try UTSNamespace.hostname(in: try Self.namespace(.uts, of: set)) + [10]
            }
            guard let c = registry.container(serial) else { throw Errno.noEntry }
            return try UTSNamespace.hostname(in: try c.utsNamespace()) + [10]
        }
    }

    /// Accepts 1–64 bytes without control characters (U+0000–U+001F,
    /// U+007F: they would garble terminals and the line-based files), one
    /// trailing newline ignored. Other bytes are kept exactly as written
    /// (the kernel holds bytes, not text) and read back the same.
    package func setHostname(_ serial: UInt64, _ bytes: [UInt8]) throws(RuntimeError) {
        if let set = registry.read({ $0.sets[serial] }) {
            // Only a set's own UTS namespace: else this would rename its
            // parent. Never the host's: they are not the tree's.
            guard !set.isHosts else { throw RuntimeError(.notPermitted, "the host's sets are not the tree's to change") }
            guard set.owned.contains(.uts) else { throw RuntimeError(.notPermitted, "the set shares its parent's UTS namespace") }
            let v = try Self.validHostname(bytes)
            try doing("cannot set the hostname") { () throws(Errno) in try UTSNamespace.setHostname(v, in: try Self.namespace(.uts, of: set)) }
            return
        }
        guard let c = runningContainer(serial) else { throw RuntimeError(.noEntry, "no such container") }
        let v = try Self.validHostname(bytes)
        try doing("cannot set the hostname") { () throws(Errno) in try UTSNamespace.setHostname(v, in: try c.utsNamespace()) }
    }

    /// `procs` written: `0` moves the writer's own process (all its
    /// threads) into the container — its leaf cgroup, and the v1 pids
    /// mirror where there is one — as writing `cgroup.procs` does on
    /// cgroupfs, but by the tree's rules (whoever may manage the container,
    /// see mayChange) rather than cgroupfs's (write access to the common
    /// ancestor, which a delegated user never has). It is how nsctl exec
    /// puts a delegated user's program where the container's limits count
    /// it. A privileged caller of the host's pid namespace may name any pid.
    package func enter(_ serial: UInt64, _ bytes: [UInt8], writer tid: Int32, hostPrivileged: Bool) throws(RuntimeError) {
        if registry.read({ $0.sets[serial] }) != nil {
            throw RuntimeError(.notPermitted, "a set shares its container's cgroup; name it (mv) to move processes into it")
        }
        guard let c = runningContainer(serial) else { throw RuntimeError(.noEntry, "no such container") }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        guard let n = Int32(text), n >= 0 else { throw RuntimeError(.invalid, "procs takes 0 (the writer itself) or a pid") }
        let pid: Int32
        if n == 0 {
            pid = try doing("cannot find the writer's process") { () throws(Errno) in try ProcStatus.threadGroup(of: tid) }
        } else {
            guard hostPrivileged else { throw RuntimeError(.accessDenied, "only 0 (the writer itself), or any pid for the host's root") }
            pid = n
        }
        try doing("cannot move process \(pid) into \(c.leaf.path)") { () throws(Errno) in
            // One already there (nsctl exec clones its command into it):
            // no move, which takes the kernel's threadgroup lock for nothing.
            if ifReadable({ try c.leaf.processes() })?.contains(pid) != true { try c.leaf.adopt(pid: pid) }
            guard let mirror = c.pidsMirror else { return }
            // Counted at once where a limit counts it; else soon, with what
            // it forks meanwhile (see MirrorPlacements).
            if CgroupV1.pidsLimited(from: mirror.path) {
                try mirror.adopt(pid: pid)
            } else {
                c.placements.syncLater(leaf: c.leaf, mirror: mirror)
            }
        }
    }

    static func validHostname(_ bytes: [UInt8]) throws(RuntimeError) -> [UInt8] {
        var v = bytes
        if v.last == UInt8(ascii: "\n") { v.removeLast() }
        guard !v.isEmpty, v.count <= UTSNamespace.maxHostnameBytes, !v.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
            throw RuntimeError(.invalid, "hostname must be 1-\(UTSNamespace.maxHostnameBytes) bytes without control characters")
        }
        return v
    }

    /// A namespace of a set, through one of its members that still has it.
    static func namespace(_ kind: NamespaceKind, of set: FoundSet) throws(Errno) -> OwnedDescriptor {
        guard let (_, ns) = member(of: set, having: kind) else { throw .noEntry }
        return ns
    }

    /// The first member (alive) that still has the set's namespace of `kind`.
    static func member(of set: FoundSet, having kind: NamespaceKind) -> (pid: Int32, namespace: OwnedDescriptor)? {
        for pid in set.members {
            guard let p = ifReadable({ try ProcessHandle.open(pid: pid) }), let ns = ifReadable({ try p.namespace(kind) }),
                  ifReadable({ try NamespaceKind.inode(of: ns) }) == set.facts.key[kind], p.isAlive else { continue }
            return (pid, ns)
        }
        return nil
    }

    /// A set's processes share their container's cgroup: `freeze` shows
    /// its state; writing it is refused (name the set: it then gets a
    /// cgroup of its own). What was asked of it or of a container above
    /// (their cgroup.freeze), as cgroupfs shows it: the kernel's `frozen`
    /// follows only once every process has stopped, so a read right after
    /// `echo 1 >` could say 0 (seen under load).
    package func freeze(_ serial: UInt64) -> [UInt8]? {
        // It and the containers above it, in one look at the registry.
        guard let chain = registry.read({ s -> [Container]? in
            var next = s.sets[serial]?.container ?? serial
            if next != ContainerTree.rootSerial && s.containers[next] == nil { return nil }
            var out: [Container] = []
            while let c = s.containers[next] {
                out.append(c)
                guard let p = s.tree.node(next)?.parent else { break }
                next = p
            }
            return out
        }) else { return nil }
        return chain.contains(where: \.isFreezeRequested) ? [UInt8(ascii: "1"), 10] : [UInt8(ascii: "0"), 10]
    }

    /// `signal` written: a name (`TERM`, `SIGTERM`, any case) or a number,
    /// for every process of the container and of the containers below but
    /// their inits (which would end the containers: that is rmdir's). The
    /// subtree is frozen meanwhile: none is missed while they fork. Nothing
    /// written (tar putting back the empty entry) sends nothing.
    package func signal(_ serial: UInt64, _ bytes: [UInt8]) throws(RuntimeError) {
        guard let c = runningContainer(serial) else { throw RuntimeError(.noEntry, "no such container") }
        var v = bytes
        if v.last == UInt8(ascii: "\n") { v.removeLast() }
        if v.isEmpty { return }
        let text = String(decoding: v, as: UTF8.self)
        guard let sig = SignalName.number(of: text) else {
            throw RuntimeError(rejected: .invalid, "signal takes a name (TERM, SIGTERM) or a number (1-\(SignalName.last))")
        }
        let inits = registry.read { s in Set(s.tree.subtreePostOrder(serial).compactMap { s.containers[$0]?.initPid }) }
        c.signalAll(sig, sparing: inits)
    }

    /// "1" freezes the subtree, "0" thaws it; anything else is EINVAL.
    package func setFrozen(_ serial: UInt64, _ bytes: [UInt8]) throws(RuntimeError) {
        if registry.read({ $0.sets[serial] }) != nil {
            throw RuntimeError(.notPermitted, "a set shares its container's cgroup; name it (mv) to freeze it alone")
        }
        guard let c = runningContainer(serial) else { throw RuntimeError(.noEntry, "no such container") }
        var v = bytes
        if v.last == UInt8(ascii: "\n") { v.removeLast() }
        let frozen: Bool
        switch v {
        case [UInt8(ascii: "1")]: frozen = true
        case [UInt8(ascii: "0")]: frozen = false
        default: throw RuntimeError(.invalid, "freeze takes 0 or 1")
        }
        try doing("cannot change cgroup.freeze") { () throws(Errno) in try c.cgroup.setFrozen(frozen) }
    }

    /// Writes go only to a container that is not being removed.
    func runningContainer(_ serial: UInt64) -> Container? {
        registry.read { s in s.tree.node(serial)?.state == .running ? s.containers[serial] : nil }
    }

    /// The init's pid (daemon's namespace), for the `ns/` links; for a set,
    /// its first member that still has the set's namespace of that kind.
    package func initPid(_ serial: UInt64, kind: NamespaceKind) -> Int32? {
        if let set = registry.read({ $0.sets[serial] }) { return Self.member(of: set, having: kind)?.pid }
        return registry.container(serial)?.initPid
    }
}
