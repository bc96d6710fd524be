import LinuxSystem

/// The container tree as a pure value: names, parents, children, serials,
/// each node's lifecycle state and the rules for changing it. No I/O: the
/// runtime decides whether a change happened in the kernel, the tree only
/// records it, so every rule here is unit-testable without root.
///
/// Slow kernel work (spawning an init, killing thousands of processes) runs
/// outside the runtime's lock, between two short changes of the tree: a
/// name is `creating` from the check until the init runs, a container is
/// `removing` from the rmdir's check until its processes are gone. The
/// states are what keeps two requests for the same name or container from
/// interleaving badly while neither holds a lock.
package struct ContainerTree: Sendable {
    package enum State: Sendable, Equatable {
        /// mkdir in progress: the name is taken, nothing can be seen yet.
        case creating
        case running
        /// rmdir in progress: still listed, but no new child, no rename.
        case removing
    }

    package struct Node: Sendable, Equatable {
        package let serial: UInt64
        package var name: String          // "" for the root
        package var parent: UInt64?       // nil for the root
        package var state: State
        /// chown of a container delegates its subtree to the owner.
        package var owner = Owner.root
        /// Permission bits of its directory (mkdir's mode less the umask,
        /// chmod): who may create, remove and rename in it (see Access).
        package var mode: UInt16 = Self.defaultMode
        /// A set of namespaces that processes of a container made for
        /// themselves (found, not made by mkdir): named `unnamed<N>`, its
        /// processes in its container's cgroup (see SetForest).
        package var unnamed = false
        package var children = ChildIndex()
        /// When its container was made (ns since the epoch, what stat shows);
        /// nil until it runs, and for the root and sets (the mount's time).
        package var created: Int64?

        package static let defaultMode = ContainerTree.defaultMode
    }

    /// The mode of a container directory made without one (and the root's).
    package static let defaultMode: UInt16 = 0o755

    package struct Owner: Sendable, Equatable {
        package var uid: UInt32
        package var gid: UInt32
        package init(uid: UInt32, gid: UInt32) { self.uid = uid; self.gid = gid }
        package static let root = Owner(uid: 0, gid: 0)
    }

    package private(set) var nodes: [UInt64: Node]
    package private(set) var nextSerial: UInt64
    /// The controllers the host gives containers: their limit entries are
    /// listed in every container directory (not in sets: a set shares its
    /// container's cgroup; not at the root: the host's are not the tree's).
    package var controllers: Set<CgroupController> = []

    package static let rootSerial: UInt64 = 0
    /// The scope of a caller in a pid namespace that is neither the
    /// daemon's nor below one of its containers (a container of another
    /// mount, a process that unshared its pid namespace on the host): it
    /// sees an empty root, nothing of the tree.
    package static let outsiderScope: UInt64 = .max

    package init() {
        nodes = [Self.rootSerial: Node(serial: Self.rootSerial, name: "", parent: nil, state: .running)]
        nextSerial = 1
    }

    /// Containers in the tree (creating ones included).
    package var count: Int { nodes.count - 1 }

    package func node(_ serial: UInt64) -> Node? { nodes[serial] }

    /// A node that requests can see: running or being removed.
    package func visibleNode(_ serial: UInt64) -> Node? {
        guard let n = nodes[serial], n.state != .creating else { return nil }
        return n
    }

    package func child(of parent: UInt64, named name: String) -> UInt64? {
        nodes[parent]?.children[name]
    }

    /// Reserve a serial number for a container about to be created.
    package mutating func allocateSerial() -> UInt64 {
        defer { nextSerial += 1 }
        return nextSerial
    }

    /// Serials up to `serial` are taken (by records not yet inserted).
    package mutating func reserveSerials(through serial: UInt64) {
        if serial >= nextSerial { nextSerial = serial + 1 }
    }

    // MARK: mkdir

    /// Check that `name` can be created below `parent`; returns the valid name.
    package func checkCreate(parent: UInt64, name bytes: some Collection<UInt8>) -> Result<String, TreeError> {
        guard let p = nodes[parent], p.state == .running else { return .failure(.notFound) }
        // A container below a set would outlive it (the set ends with its
        // last process): name the set first.
        if p.unnamed { return .failure(.unnamedParent) }
        switch ContainerName.validate(bytes) {
        case .failure(let e): return .failure(e)
        case .success(let name):
            if isReserved(name) || p.children[name] != nil { return .failure(.exists) }
            return .success(name)
        }
    }

    /// mkdir's first step: take the name (state `creating`). Returns the
    /// new container's serial.
    package mutating func beginCreate(parent: UInt64, name bytes: some Collection<UInt8>, owner: Owner = .root,
                                     mode: UInt16 = defaultMode) -> Result<(serial: UInt64, name: String), TreeError> {
        switch checkCreate(parent: parent, name: bytes) {
        case .failure(let e): return .failure(e)
        case .success(let name):
            let serial = allocateSerial()
            add(Node(serial: serial, name: name, parent: parent, state: .creating, owner: owner, mode: mode & 0o7777))
            return .success((serial, name))
        }
    }

    /// mkdir's last step: the container runs. False if the name was taken
    /// back meanwhile (its parent died and the subtree was dropped).
    package mutating func finishCreate(_ serial: UInt64) -> Bool {
        guard nodes[serial]?.state == .creating else { return false }
        nodes[serial]!.state = .running
        return true
    }

    /// mkdir failed: free the name.
    package mutating func abandonCreate(_ serial: UInt64) {
        guard nodes[serial]?.state == .creating else { return }
        drop(serial)
    }

    /// Record a running container (re-adopted at startup with its old serial).
    package mutating func insert(serial: UInt64, name: String, parent: UInt64, owner: Owner = .root,
                                mode: UInt16 = defaultMode) throws(TreeError) {
        guard nodes[parent] != nil else { throw .notFound }
        guard nodes[serial] == nil, serial != Self.rootSerial else { throw .exists }
        if (EntryKind.reservedNames.contains(name) && !EntryKind.namesTakenLater.contains(name))
            || nodes[parent]!.children[name] != nil { throw .exists }
        add(Node(serial: serial, name: name, parent: parent, state: .running, owner: owner, mode: mode & 0o7777))
        if serial >= nextSerial { nextSerial = serial + 1 }
    }

    /// Names no mkdir or mv may take: the control entries' and `unnamed<N>`.
    package func isReserved(_ name: String) -> Bool {
        EntryKind.reservedNames.contains(name) || SetForest.isSetName(name)
    }

    private mutating func add(_ n: Node) {
        nodes[n.serial] = n
        nodes[n.parent!]!.children[n.name] = n.serial
    }

    private mutating func drop(_ serial: UInt64) {
        guard let n = nodes.removeValue(forKey: serial) else { return }
        if let p = n.parent, nodes[p]?.children[n.name] == serial { nodes[p]!.children.removeValue(forKey: n.name) }
    }

    // MARK: rmdir

    /// May `serial` be removed? Only running containers without child
    /// containers (one being created below counts). Sets below do not
    /// count: their processes are the container's, and die with it.
    package func checkRemove(_ serial: UInt64) -> Result<Void, TreeError> {
        if serial == Self.rootSerial { return .failure(.isRoot) }
        guard let n = nodes[serial], n.state != .creating else { return .failure(.notFound) }
        if n.state == .removing { return .failure(.notFound) }
        return n.children.values.allSatisfy({ nodes[$0]?.unnamed == true }) ? .success(()) : .failure(.notEmpty)
    }

    /// rmdir's first step: the container is `removing` until its processes
    /// are gone.
    package mutating func beginRemove(_ serial: UInt64) -> Result<Void, TreeError> {
        if case .failure(let e) = checkRemove(serial) { return .failure(e) }
        nodes[serial]!.state = .removing
        return .success(())
    }

    /// The kill failed (its processes did not die in time): back to running.
    package mutating func cancelRemove(_ serial: UInt64) {
        if nodes[serial]?.state == .removing { nodes[serial]!.state = .running }
    }

    /// rmdir's last step (and the death watcher's): gone from the tree,
    /// with the sets below it.
    package mutating func finishRemove(_ serial: UInt64) {
        guard let n = nodes[serial] else { return }
        let sets = n.children.values.filter { nodes[$0]?.unnamed == true }
        guard sets.count == n.children.count else { return }
        for s in sets { for d in subtreePostOrder(s) { drop(d) } }
        drop(serial)
    }

    /// A container died with everything below it (its pid namespace is
    /// gone): mark the whole subtree `removing`, including names being
    /// created, and return it children first.
    package mutating func beginRemoveSubtree(_ serial: UInt64) -> [UInt64] {
        guard serial != Self.rootSerial else { return [] }
        let all = subtreePostOrder(serial)
        for s in all { nodes[s]!.state = .removing }
        return all
    }

    /// Plain removal of a leaf (tests and adoption).
    package mutating func remove(_ serial: UInt64) throws(TreeError) {
        if case .failure(let e) = checkRemove(serial) { throw e }
        drop(serial)
    }

    // MARK: mv

    /// May `serial` be renamed to `name` below `newParent`?
    package func checkRename(_ serial: UInt64, to newParent: UInt64, name bytes: some Collection<UInt8>) -> Result<String, TreeError> {
        if serial == Self.rootSerial { return .failure(.isRoot) }
        guard let n = nodes[serial], n.state == .running,
              let target = nodes[newParent], target.state != .creating else { return .failure(.notFound) }
        if isAncestor(serial, of: newParent) { return .failure(.intoOwnSubtree) }
        let name: String
        switch ContainerName.validate(bytes) {
        case .failure(let e): return .failure(e)
        case .success(let v): name = v
        }
        if newParent == n.parent && name == n.name { return .success(name) }
        if isReserved(name) || target.children[name] != nil { return .failure(.exists) }
        if newParent != n.parent { return .failure(.crossParent) }
        // Naming a set makes it a container: its parent must be one too.
        if n.unnamed, nodes[newParent]?.unnamed == true { return .failure(.unnamedParent) }
        return .success(name)
    }

    package mutating func rename(_ serial: UInt64, to newParent: UInt64, name: some Collection<UInt8>) throws(TreeError) {
        let valid: String
        switch checkRename(serial, to: newParent, name: name) {
        case .failure(let e): throw e
        case .success(let v): valid = v
        }
        let old = nodes[serial]!
        nodes[old.parent!]!.children.removeValue(forKey: old.name)
        nodes[newParent]!.children[valid] = serial
        nodes[serial]!.name = valid
        nodes[serial]!.parent = newParent
        nodes[serial]!.unnamed = false
    }

    // MARK: sets

    /// Give a set a name that is not `unnamed<N>` while it stays a set (the
    /// host's sets: named, never moved).
    package mutating func renameSet(_ serial: UInt64, name bytes: some Collection<UInt8>) throws(TreeError) {
        guard let n = nodes[serial], n.unnamed, n.state == .running, let parent = n.parent else { throw .notFound }
        let name: String
        switch ContainerName.validate(bytes) {
        case .failure(let e): throw e
        case .success(let v): name = v
        }
        if name == n.name { return }
        if isReserved(name) || nodes[parent]!.children[name] != nil { throw .exists }
        nodes[parent]!.children.removeValue(forKey: n.name)
        nodes[parent]!.children[name] = serial
        nodes[serial]!.name = name
    }

    /// The container whose cgroup holds `serial`'s processes: itself, or for
    /// a set its nearest ancestor that is not one.
    package func owningContainer(of serial: UInt64) -> UInt64 {
        var cur = serial
        while let n = nodes[cur], n.unnamed, let p = n.parent { cur = p }
        return cur
    }

    /// The sets below container `serial` (not below its child containers),
    /// parents first.
    package func sets(below serial: UInt64) -> [UInt64] {
        var out: [UInt64] = []
        var queue = [serial]
        while let s = queue.popLast() {
            for c in (nodes[s]?.children.values ?? [:].values).sorted() where nodes[c]?.unnamed == true {
                out.append(c)
                queue.append(c)
            }
        }
        return out
    }

    /// One set of a layout: its name, its parent (an index into the layout,
    /// nil for the container) and its serial if it is already in the tree.
    package struct SetPlacement: Sendable, Equatable {
        package var name: String
        package var parent: Int?
        package var serial: UInt64?
        package init(name: String, parent: Int?, serial: UInt64?) {
            self.name = name
            self.parent = parent
            self.serial = serial
        }
    }

    /// Make the sets below `container` exactly `layout`: sets already there
    /// keep their serial (their inode numbers), new ones get one, the others
    /// leave. Returns each placement's serial, nil where it could not be
    /// placed (a name a container already had before names were reserved,
    /// or below a set that could not be). Sets being removed stay as they are.
    package mutating func arrangeSets(in container: UInt64, _ layout: [SetPlacement]) -> [UInt64?] {
        guard nodes[container] != nil, nodes[container]?.unnamed == false else { return layout.map { _ in nil } }
        let old = sets(below: container)
        let kept = Set(layout.compactMap(\.serial))
        // Detach every set; re-attach the layout's below.
        for s in old.reversed() {
            guard let n = nodes[s] else { continue }
            if n.state == .removing, !kept.contains(s) { continue }
            if let p = n.parent, nodes[p]?.children[n.name] == s { nodes[p]!.children.removeValue(forKey: n.name) }
            if !kept.contains(s) { nodes.removeValue(forKey: s) }
        }
        var placed = [UInt64?](repeating: nil, count: layout.count)
        var done = [Bool](repeating: false, count: layout.count)
        func place(_ i: Int, depth: Int) {
            if done[i] || depth > layout.count { return }
            done[i] = true
            let parentSerial: UInt64
            if let p = layout[i].parent {
                place(p, depth: depth + 1)
                guard let ps = placed[p] else { return }
                parentSerial = ps
            } else {
                parentSerial = container
            }
            guard nodes[parentSerial]?.children[layout[i].name] == nil else { return }
            let serial = layout[i].serial.flatMap { nodes[$0] != nil ? $0 : nil } ?? allocateSerial()
            var n = nodes[serial] ?? Node(serial: serial, name: layout[i].name, parent: parentSerial, state: .running)
            n.name = layout[i].name
            n.parent = parentSerial
            n.unnamed = true
            n.owner = nodes[container]!.owner
            n.children = n.children.filter { nodes[$0.value]?.unnamed == false }
            nodes[serial] = n
            nodes[parentSerial]!.children[n.name] = serial
            placed[i] = serial
        }
        for i in layout.indices { place(i, depth: 0) }
        return placed
    }

    /// chown.
    package mutating func setOwner(_ serial: UInt64, _ owner: Owner) {
        if nodes[serial] != nil { nodes[serial]!.owner = owner }
    }

    /// chmod.
    package mutating func setCreated(_ serial: UInt64, _ time: Int64) {
        nodes[serial]?.created = time
    }

    package mutating func setMode(_ serial: UInt64, _ mode: UInt16) {
        if nodes[serial] != nil { nodes[serial]!.mode = mode & 0o7777 }
    }

    // MARK: reading

    /// True when `a` is `b` or one of `b`'s ancestors.
    package func isAncestor(_ a: UInt64, of b: UInt64) -> Bool {
        var cur: UInt64? = b
        while let c = cur {
            if c == a { return true }
            cur = nodes[c]?.parent
        }
        return false
    }

    /// Names from the root down to `serial` (empty for the root).
    package func path(of serial: UInt64) -> [String] {
        var parts: [String] = []
        var cur = serial
        while let n = nodes[cur], let p = n.parent {
            parts.append(n.name)
            cur = p
        }
        return parts.reversed()
    }

    /// Number of ancestors between `serial` and the root (root: 0).
    package func depth(of serial: UInt64) -> Int { path(of: serial).count }

    /// `serial` and everything below it, children before parents: the order
    /// in which a subtree can be removed.
    package func subtreePostOrder(_ serial: UInt64) -> [UInt64] {
        var out: [UInt64] = []
        func visit(_ s: UInt64) {
            guard let n = nodes[s] else { return }
            for c in n.children.values.sorted() { visit(c) }
            out.append(s)
        }
        visit(serial)
        return out
    }

    /// Visible children of a container, by name.
    func visibleChildren(of serial: UInt64) -> [(name: String, serial: UInt64)] {
        guard let n = nodes[serial] else { return [] }
        return n.children.ordered.filter { nodes[$0.serial]?.state != .creating }
    }

    /// The listing of a container directory: child containers by name, then
    /// the filesystem's own entries.
    package func listing(of serial: UInt64) -> [(name: String, inode: Inode)] {
        guard visibleNode(serial) != nil else { return [] }
        // Its own entries first, then its children: tar archives (and
        // restores) a container's root and limits before what is below it.
        var out: [(name: String, inode: Inode)] = ControlFile.allCases.filter { hasEntry($0, serial) }.map {
            ($0.name, Inode(serial: serial, kind: .control($0)))
        }
        out.append((EntryKind.nsDirectoryName, Inode(serial: serial, kind: .nsDirectory)))
        out += visibleChildren(of: serial).map { ($0.name, Inode(serial: $0.serial, kind: .container)) }
        return out
    }

    /// Resolve a name inside a directory inode.
    package func lookup(_ name: String, in dir: Inode) -> Inode? {
        guard let node = visibleNode(dir.serial) else { return nil }
        switch dir.kind {
        case .container:
            if let c = node.children[name] {
                return nodes[c]?.state == .creating ? nil : Inode(serial: c, kind: .container)
            }
            guard let kind = EntryKind.controlEntry(named: name) else { return nil }
            if case .control(let c) = kind, !hasEntry(c, dir.serial) { return nil }
            return Inode(serial: dir.serial, kind: kind)
        case .nsDirectory:
            return NamespaceKind(name: name).map { Inode(serial: dir.serial, kind: .namespace($0)) }
        default:
            return nil
        }
    }

    /// Whether the directory of `serial` has the control entry `c`: limit
    /// entries only in containers, for the controllers the host has.
    package func hasEntry(_ c: ControlFile, _ serial: UInt64) -> Bool {
        if c.isTakenLater {
            // A container's, and not where a container took the name before.
            guard serial != Self.rootSerial, let n = nodes[serial], !n.unnamed else { return false }
            return n.children[c.name] == nil
        }
        guard let controller = c.controller else { return true }
        guard serial != Self.rootSerial, nodes[serial]?.unnamed == false else { return false }
        return controllers.contains(controller)
    }

    /// A set's `ns` is a link to a member's `/proc/PID/ns`, not a directory
    /// of handles: a set pins nothing (it is its processes), and `rm -rf`
    /// unlinks a link in one request where a directory of eight took 17.
    package func isNamespaceLink(_ inode: Inode) -> Bool {
        inode.kind == .nsDirectory && nodes[inode.serial]?.unnamed == true
    }

    /// st_nlink of a directory: 2 + its subdirectories (child containers and
    /// ns/, a set's ns being a link).
    package func linkCount(of inode: Inode) -> Int {
        switch inode.kind {
        case .container:
            (isNamespaceLink(Inode(serial: inode.serial, kind: .nsDirectory)) ? 2 : 3)
                + (nodes[inode.serial]?.children.values.count { nodes[$0]?.state != .creating } ?? 0)
        case .nsDirectory: isNamespaceLink(inode) ? 1 : 2
        default: 1
        }
    }
}
