import ContainerRuntime
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// What each request that changes the tree does, decided from the tree and
/// the caller's facts alone: no kernel, no FUSE, no lock (the errno matrix
/// is unit-tested in FuseAdapterTests). A handler gathers the facts (who
/// calls, what the names resolve to), asks here, and carries the answer out.
package enum Decide {
    /// What an inode is, resolved once per request.
    package enum Node: Equatable, Sendable {
        /// A container's directory; the root's is `ContainerTree.rootSerial`.
        case container(UInt64)
        /// An unnamed set of a container (its processes are the container's).
        case set(UInt64)
        /// One of the host's sets (-o discover=host): shown, never ours.
        case hostSet(UInt64)
        case nsDirectory(UInt64)
        /// A set's `ns`: a link to a member's /proc/PID/ns (see
        /// ContainerTree.isNamespaceLink).
        case nsLink(UInt64)
        case namespace(UInt64, NamespaceKind)
        case control(UInt64, ControlFile)

        /// The node of the tree it belongs to.
        package var serial: UInt64 {
            switch self {
            case .container(let s), .set(let s), .hostSet(let s), .nsDirectory(let s), .nsLink(let s): s
            case .namespace(let s, _): s
            case .control(let s, _): s
            }
        }

        /// A directory of the tree: a container or a set.
        package var isTreeNode: Bool {
            switch self {
            case .container, .set, .hostSet: true
            case .nsDirectory, .nsLink, .namespace, .control: false
            }
        }

        package var isSet: Bool {
            switch self {
            case .set, .hostSet: true
            default: false
            }
        }

        package var inode: Inode {
            switch self {
            case .container(let s), .set(let s), .hostSet(let s): Inode(serial: s, kind: .container)
            case .nsDirectory(let s), .nsLink(let s): Inode(serial: s, kind: .nsDirectory)
            case .namespace(let s, let k): Inode(serial: s, kind: .namespace(k))
            case .control(let s, let c): Inode(serial: s, kind: .control(c))
            }
        }

        /// What `inode` is now; nil if its node is gone.
        package static func resolve(_ inode: Inode, in tree: borrowing ContainerTree,
                                    isHostSet: (UInt64) -> Bool) -> Node? {
            guard let n = tree.visibleNode(inode.serial) else { return nil }
            switch inode.kind {
            case .container: return n.unnamed ? (isHostSet(inode.serial) ? .hostSet(inode.serial) : .set(inode.serial)) : .container(inode.serial)
            case .nsDirectory: return n.unnamed ? .nsLink(inode.serial) : .nsDirectory(inode.serial)
            case .namespace(let k): return .namespace(inode.serial, k)
            case .control(let c): return .control(inode.serial, c)
            }
        }
    }

    // MARK: names

    /// A lookup's name: NAME_MAX is the filesystem's to check (the kernel
    /// does not). nil: go on.
    package static func lookup(nameLength: Int) -> Int32? {
        nameLength > ContainerName.maxBytes ? ENAMETOOLONG : nil
    }

    // MARK: mkdir

    package enum Creation: Equatable {
        case refuse(Int32)
        /// Sent again after a daemon died, and done by it: answer with this container.
        case done(UInt64)
        case create
    }

    /// mkdir of `name` in `dir`; `doneBy`: the container of that name this
    /// same request made before its daemon died (only for a request sent
    /// again). The name is checked here and again by the transaction, under
    /// the registry's lock (another mkdir may take it meanwhile).
    package static func mkdir(_ name: [UInt8], in dir: Node, doneBy: UInt64?, facts: CallerFacts,
                              tree: borrowing ContainerTree) -> Creation {
        guard dir.isTreeNode else { return .refuse(EPERM) }
        if let doneBy { return .done(doneBy) }
        guard tree.mayModify(at: dir.serial, facts) else { return .refuse(EACCES) }
        if case .failure(let e) = tree.checkCreate(parent: dir.serial, name: name) { return .refuse(e.errno.rawValue) }
        return .create
    }

    // MARK: unlink

    package enum Unlinking: Equatable {
        case refuse(Int32)
        /// Accepted: `rm -rf` unlinks every entry before it removes the
        /// directory; the entry is hidden from this caller for a moment.
        case hide(Inode)
    }

    /// unlink of `child` (nil: no such name for the caller) in `dir`.
    package static func unlink(_ child: Node?, in dir: Node, resent: Bool, facts: CallerFacts,
                               tree: borrowing ContainerTree) -> Unlinking {
        if let e = refusal(removing: child, from: dir, resent: resent, facts: facts, tree: tree) { return .refuse(e) }
        switch child! {
        case .container, .set, .hostSet, .nsDirectory: return .refuse(EISDIR)
        case .control, .namespace, .nsLink: return .hide(child!.inode)
        }
    }

    /// unlink's and rmdir's first word: a name that is not there (sent
    /// again and gone: removed by this request before its daemon died, or
    /// by another since — either way what the caller asked for: 0), then
    /// the directory's permission. nil: go on, `child` is there.
    static func refusal(removing child: Node?, from dir: Node, resent: Bool, facts: CallerFacts,
                        tree: borrowing ContainerTree) -> Int32? {
        if child == nil { return resent ? 0 : ENOENT }
        return tree.mayModify(at: dir.serial, facts) ? nil : EACCES
    }

    // MARK: rmdir

    package enum Removal: Equatable {
        case refuse(Int32)
        /// `ns/`: nothing to remove; its handles are taken anew.
        case renewNamespaceHandles(UInt64)
        case removeSet(UInt64)
        case removeContainer(UInt64)
    }

    /// rmdir of `child` (nil: no such name for the caller) in `dir`. Only
    /// containers strictly below the caller's own are reachable: its own is
    /// the root of its view, with no parent it can name.
    package static func rmdir(_ child: Node?, in dir: Node, resent: Bool, facts: CallerFacts,
                              tree: borrowing ContainerTree) -> Removal {
        if let e = refusal(removing: child, from: dir, resent: resent, facts: facts, tree: tree) { return .refuse(e) }
        let child = child!
        // The sticky bit: only the child's or the directory's owner.
        if child.isTreeNode, !tree.mayRemove(child.serial, facts) { return .refuse(EPERM) }
        switch child {
        case .control, .namespace, .nsLink: return .refuse(ENOTDIR)
        case .nsDirectory(let s): return .renewNamespaceHandles(s)
        // The host's sets' processes are not ours to kill.
        case .hostSet: return .refuse(EPERM)
        case .set(let s): return .removeSet(s)
        case .container(let s): return .removeContainer(s)
        }
    }

    // MARK: rename

    package enum Renaming: Equatable {
        case refuse(Int32)
        /// A host set gets a name, nothing else.
        case nameHostSet(UInt64)
        /// A set becomes a container of that name.
        case nameSet(UInt64)
        case rename(UInt64, to: UInt64)
    }

    /// mv of `child` in `dir` to a name in `target` (nil: not there for the
    /// caller). `doneBy`: sent again, and the new name is what this request
    /// named before its daemon died.
    package static func rename(_ child: Node?, in dir: Node, to target: Node?, exchange: Bool, doneBy: Bool,
                               facts: CallerFacts, tree: borrowing ContainerTree) -> Renaming {
        guard let child, let target, tree.isVisible(target.serial, to: facts.scope) else {
            return .refuse(doneBy ? 0 : ENOENT)
        }
        guard tree.mayModify(at: dir.serial, facts), tree.mayModify(at: target.serial, facts) else { return .refuse(EACCES) }
        if exchange { return .refuse(EINVAL) }
        guard child.isTreeNode else { return .refuse(EPERM) }
        guard tree.mayRemove(child.serial, facts) else { return .refuse(EPERM) }
        guard target.isTreeNode else {
            if case .nsDirectory = target { return .refuse(EPERM) }
            return .refuse(ENOTDIR)
        }
        switch child {
        case .hostSet(let s): return target.serial == dir.serial ? .nameHostSet(s) : .refuse(EPERM)
        case .set(let s): return target.serial == dir.serial ? .nameSet(s) : .refuse(EPERM)
        default: return .rename(child.serial, to: target.serial)
        }
    }

    // MARK: setattr

    /// What a setattr asks for.
    package struct AttributeChange: Equatable {
        package var mode: UInt16?
        package var uid: UInt32?
        package var gid: UInt32?
        package var times = false
        package var size = false
    }

    package enum AttributeStep: Equatable {
        case setMode(UInt16)
        /// chown of a container directory delegates its subtree.
        case setOwner(uid: UInt32?, gid: UInt32?)
        case refuse(Int32)
    }

    /// setattr of `node`: the steps, in order, up to the first refusal;
    /// after them the attributes are answered.
    package static func setattr(_ node: Node, _ change: AttributeChange, facts: CallerFacts,
                                tree: borrowing ContainerTree) -> [AttributeStep] {
        var steps: [AttributeStep] = []
        if let mode = change.mode {
            // chmod of a container directory: its owner, or the privileged.
            guard case .container(let s) = node, tree.mayChangeMode(s, facts) else { return steps + [.refuse(EPERM)] }
            steps.append(.setMode(mode & 0o7777))
        }
        // Times are the creation time, not the filesystem's to change:
        // touch gets EPERM rather than a success that changes nothing.
        if change.times { return steps + [.refuse(EPERM)] }
        if change.uid != nil || change.gid != nil {
            guard case .container(let s) = node, s != ContainerTree.rootSerial, s != facts.scope, facts.privileged else {
                return steps + [.refuse(EPERM)]
            }
            steps.append(.setOwner(uid: change.uid, gid: change.gid))
        }
        if change.size {
            // Truncation is what `echo x > file` does first: accepted on the
            // writable control files, where a write replaces the value.
            guard case .control(let s, let c) = node, c.isWritable, s != ContainerTree.rootSerial else {
                if case .nsDirectory = node { return steps + [.refuse(EISDIR)] }
                return steps + [.refuse(node.isTreeNode ? EISDIR : EACCES)]
            }
            if !mayWrite(c, of: s, facts: facts, tree: tree) { return steps + [.refuse(EACCES)] }
        }
        return steps
    }

    // MARK: open and write

    /// May the caller write control entry `c` of `serial`? Limits follow
    /// their own rule (a container never changes its own).
    package static func mayWrite(_ c: ControlFile, of serial: UInt64, facts: CallerFacts, tree: borrowing ContainerTree) -> Bool {
        // Host ids are the host's root's to give: never a container's root's,
        // nor a delegated user's.
        if c == .mkdir { return facts.privileged && facts.scope == ContainerTree.rootSerial && tree.mayModify(at: serial, facts) }
        return c.isSetFromAbove ? tree.mayChangeLimits(of: serial, facts) : tree.mayChange(serial, facts)
    }

    /// open of `node` (only control entries are opened as files); nil: go on.
    package static func open(_ node: Node, writing: Bool, facts: CallerFacts, tree: borrowing ContainerTree) -> Int32? {
        guard case .control(let s, let c) = node else { return ENOENT }
        if writing {
            guard c.isWritable, s != ContainerTree.rootSerial else { return EACCES }
            guard mayWrite(c, of: s, facts: facts, tree: tree) else { return EACCES }
        }
        return nil
    }

    /// A write through a handle open for writing on control entry `c` of
    /// `serial`: checked against its writer (nil: one that cannot see the
    /// file, a descriptor passed into a container below it), not against
    /// whoever opened it. nil: go on.
    package static func write(_ c: ControlFile, of serial: UInt64, offset: Int64, writer: CallerFacts?,
                              tree: borrowing ContainerTree) -> Int32? {
        // Refused, not "no such file" on a descriptor it holds.
        guard let writer, mayWrite(c, of: serial, facts: writer, tree: tree) else { return EACCES }
        // A value is one write at offset 0, as in sysfs: `dd bs=1` applies
        // its first byte and gets EINVAL for the next. A log is appended to.
        guard offset == 0 || c == .log else { return EINVAL }
        return c.isWritable ? nil : EACCES
    }

    /// May the caller restore entry `c` of `serial` from a snapshot (tar x:
    /// create, then one write)? Who may write it; for an entry that only
    /// reports, or makes a child (`mkdir`: its write is dropped, the
    /// snapshot has the child), who may change the container.
    package static func mayRestore(_ c: ControlFile, of serial: UInt64, facts: CallerFacts, tree: borrowing ContainerTree) -> Bool {
        serial != ContainerTree.rootSerial
            && (c.isWritable && c != .mkdir ? mayWrite(c, of: serial, facts: facts, tree: tree) : tree.mayChange(serial, facts))
    }

    /// A write through a handle create made (see mayRestore). nil: go on.
    package static func restoreWrite(_ c: ControlFile, of serial: UInt64, offset: Int64, writer: CallerFacts?,
                                     tree: borrowing ContainerTree) -> Int32? {
        guard let writer, mayRestore(c, of: serial, facts: writer, tree: tree) else { return EACCES }
        return offset == 0 ? nil : EINVAL
    }

    // MARK: handles

    /// Handles carry the generation of the daemon that made them: one of
    /// an earlier daemon's (a takeover) is the kernel's, its contents gone.
    package static func isInherited(_ handle: UInt64, generation: UInt64, shift: UInt64) -> Bool {
        handle >> shift != generation
    }
}
