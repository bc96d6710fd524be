import CFuse3
import ContainerRuntime
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The request handlers, one per FUSE operation. Each consumes its request
/// and returns the proof of its reply.
extension NamespaceFilesystem {
    /// The caller, the directory and the entry `name` in it, each resolved
    /// once for the request, as that caller sees them: nil if the directory
    /// does not exist for it; `child` nil if the name does not. `looked`:
    /// the container's processes were looked at for this request already.
    func entry(_ req: borrowing Request, _ parent: fuse_ino_t, _ name: [UInt8],
               looked: Bool = false) -> (caller: Caller, dir: Decide.Node, child: Decide.Node?)? {
        guard let dirInode = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dirInode) else { return nil }
        let s = String(validating: name, as: UTF8.self)
        // A name that may be a set's: look at the container's processes first.
        if let s, !looked, mayNameASet(s, in: dirInode) { discover(dirInode) }
        let (dir, found) = runtime.registry.withTree { t, isHostSet in
            (Decide.Node.resolve(dirInode, in: t, isHostSet: isHostSet),
             s.flatMap { t.lookup($0, in: dirInode) }.flatMap { Decide.Node.resolve($0, in: t, isHostSet: isHostSet) })
        }
        guard let dir else { return nil }
        var child = found
        if let c = child, !c.isTreeNode, isUnlinked(c.inode, by: caller) { child = nil }
        return (caller, dir, child)
    }

    /// Can `name` in `dir` be a set's, which appears without a request?
    /// In a container, only `unnamed` and digits (mv of a set makes it a
    /// container); at the root, a host set keeps the name mv gave it. (Not
    /// for a child container's name: rm -rf of N containers looked at all
    /// the others' processes at each one, N² in all.)
    func mayNameASet(_ name: String, in dir: Inode) -> Bool {
        guard EntryKind.controlEntry(named: name) == nil else { return false }
        return SetForest.isSetName(name) || owningContainer(of: dir.serial) == ContainerTree.rootSerial
    }

    /// What `inode` is now, if it is anything.
    func node(_ inode: Inode) -> Decide.Node? {
        runtime.registry.withTree { t, isHostSet in Decide.Node.resolve(inode, in: t, isHostSet: isHostSet) }
    }

    /// Bring the sets below `dir`'s container up to date (nothing for other
    /// inodes): what a lookup, a listing or a stat must see.
    /// `onlyIfAlone`: false when that needs more than a look at the
    /// container's cgroup (see Discovery.refresh).
    @discardableResult
    func discover(_ dir: Inode, onlyIfAlone: Bool = false) -> Bool {
        guard dir.kind == .container else { return true }
        let container = owningContainer(of: dir.serial)
        let changed: Discovery.SetsChanged?
        switch runtime.discovery.refresh(container, onlyIfAlone: onlyIfAlone) {
        case .declined: return false
        case .done(let c): changed = c
        }
        // Sets came or went: the st_nlink the kernel keeps for the
        // container and its sets is stale (after the reply: see upkeep).
        if let changed {
            // A gone set's attributes too: a stat through its cached name
            // asks again, and hears ENOENT, before the next request.
            afterReply { [self] in invalidateAttributes(below: container, andOf: changed.gone.map(\.serial)) }
            if !changed.gone.isEmpty { lookers.run { [self] in invalidateNames(changed.gone) } }
        }
        return true
    }

    func owningContainer(of serial: UInt64) -> UInt64 {
        runtime.registry.withTree { t, _ in t.owningContainer(of: serial) }
    }

    /// A control entry this caller unlinked a moment ago (see OpenState.unlinked).
    func isUnlinked(_ inode: Inode, by caller: Caller) -> Bool {
        state.withLock {
            $0.unlinked.value(for: SnapshotKey(inode: inode.number, pid: caller.tid), now: SystemTime.monotonicNanoseconds()) != nil
        }
    }

    func generation(_ inode: Inode) -> UInt64 {
        inode.kind == .nsDirectory ? state.withLock { $0.nsGeneration[inode.serial] ?? 0 } : 0
    }

    /// Is `inode` in container `scope` (it or below)?
    func isVisible(_ inode: Inode, in scope: UInt64) -> Bool {
        // An outsider sees the top directory, empty (see Callers).
        if scope == ContainerTree.outsiderScope { return inode == Inode(serial: ContainerTree.rootSerial, kind: .container) }
        return runtime.registry.withTree { t, _ in t.isVisible(inode.serial, to: scope) }
    }

    /// The request's caller, identified once, if `inode` exists for it:
    /// outside the caller's own container nothing does.
    func caller(_ req: borrowing Request, seeing inode: Inode) -> Caller? {
        let ctx = req.context
        guard let (id, isNew) = runtime.callers.identify(caller: ctx.pid), isVisible(inode, in: id.container) else { return nil }
        // Remembering it (and closing the host's pid namespace descriptor)
        // can wait for the reply: the caller's next request comes after it.
        if isNew { afterReply { [runtime] in runtime.callers.remember(id) } }
        return Caller(uid: ctx.uid, gid: ctx.gid, identity: id)
    }

    /// What the access rules decide on (ContainerTree.mayModify and its
    /// kin): asked of the kernel once per request (its capabilities and
    /// user namespace may change between requests, not within one).
    func facts(_ caller: Caller) -> CallerFacts {
        runtime.callers.facts(caller.identity, uid: caller.uid, gid: caller.gid)
    }

    /// Decide with the tree as it is now (see Decisions).
    func decide<T: Sendable>(_ body: (borrowing ContainerTree) -> T) -> T {
        runtime.registry.withTree { t, _ in body(t) }
    }

    func reply(_ req: consuming Request, _ error: RuntimeError) -> Replied {
        // Refusals are the caller's business; anything the kernel refused is logged.
        if !error.isRefusal { Log.line("\(error)") }
        return req.reply(error: error.errno.rawValue)
    }

    func replyEntry(_ req: consuming Request, _ inode: Inode, _ caller: Caller) -> Replied {
        guard let attr = attributes(inode, caller) else { return req.reply(error: ENOENT) }
        // A set comes and goes with its processes, without a request the
        // kernel sees: its name is cached for a second at most (a path
        // through it is not a look at its container), and dropped when a
        // look finds it gone. `rm -rf` of a set looks it up 4 times in a
        // millisecond.
        let set = inode.kind == .container && node(inode)?.isSet == true
        return req.reply(entry: inode.number, generation: generation(inode), attr: attr,
                         entryTimeout: set ? setEntryTimeout : entryTimeout, attrTimeout: attrTimeout(inode))
    }

    func replyAttr(_ req: consuming Request, _ inode: Inode, _ caller: Caller, _ handle: UInt64?) -> Replied {
        let handleBytes = handle.flatMap { h in state.withLock { $0.files[h]?.bytes ?? nil } }
        guard let attr = attributes(inode, caller, handleBytes: handleBytes) else { return req.reply(error: ENOENT) }
        return req.reply(attr: attr, timeout: attrTimeout(inode))
    }

    /// Run `body` here, unless `dir`'s container needs a new look at its
    /// processes first (a survey: tens of milliseconds for a container
    /// whose processes keep unsharing): then on a looker thread, at normal
    /// priority, while this loop goes on serving everyone else. The caller
    /// still sees what is there now: the look comes before the answer.
    /// Either way `body` needs no look of its own.
    func withFreshSets(_ req: consuming Request, _ dir: Inode?, _ body: @escaping @Sendable (consuming Request) -> Replied) -> Replied {
        guard let dir, dir.kind == .container else { return body(req) }
        // (a container unchanged since its last look costs a few reads here)
        if discover(dir, onlyIfAlone: true) { return body(req) }
        return lookers.answer(req) { [self] r in
            discover(dir)
            return body(r)
        }
    }

    func lookup(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8]) -> Replied {
        if let e = Decide.lookup(nameLength: name.count) { return req.reply(error: e) }
        let dir = Inode(number: UInt64(parent))
        let mayBeSet = dir.flatMap { d in String(validating: name, as: UTF8.self).map { mayNameASet($0, in: d) } } ?? false
        return withFreshSets(req, mayBeSet ? dir : nil) { [self] req in
            guard let (caller, _, child) = entry(req, parent, name, looked: true), let child else { return req.reply(error: ENOENT) }
            return replyEntry(req, child.inode, caller)
        }
    }

    func getattr(_ req: consuming Request, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Replied {
        guard let inode = Inode(number: UInt64(ino)) else { return req.reply(error: ENOENT) }
        // No look at the container's processes: st_nlink counts the sets
        // the last look (a lookup or a listing) found, as cached by the
        // kernel until a look finds a change (see discover). A stat of every
        // container (find) made a look at each.
        guard let caller = caller(req, seeing: inode) else { return req.reply(error: ENOENT) }
        return replyAttr(req, inode, caller, fi.map { $0.pointee.fh })
    }

    func setattr(_ req: consuming Request, _ ino: fuse_ino_t, _ attr: UnsafeMutablePointer<stat>, _ toSet: Int32,
                 _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Replied {
        guard let inode = Inode(number: UInt64(ino)), let caller = caller(req, seeing: inode), let node = node(inode) else {
            return req.reply(error: ENOENT)
        }
        let times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME
        let change = Decide.AttributeChange(
            mode: toSet & FUSE_SET_ATTR_MODE != 0 ? UInt16(truncatingIfNeeded: attr.pointee.st_mode & 0o7777) : nil,
            uid: toSet & FUSE_SET_ATTR_UID != 0 ? UInt32(attr.pointee.st_uid) : nil,
            gid: toSet & FUSE_SET_ATTR_GID != 0 ? UInt32(attr.pointee.st_gid) : nil,
            times: toSet & times != 0, size: toSet & FUSE_SET_ATTR_SIZE != 0)
        let facts = facts(caller)
        for step in decide({ Decide.setattr(node, change, facts: facts, tree: $0) }) {
            switch step {
            case .refuse(let e): return req.reply(error: e)
            case .setMode(let mode):
                do { try runtime.lifecycle.setMode(inode.serial, mode) } catch { return reply(req, error) }
            case .setOwner(let uid, let gid):
                do { try runtime.lifecycle.setOwner(inode.serial, uid: uid, gid: gid) } catch { return reply(req, error) }
                invalidateEntries(of: inode.serial)
            }
        }
        return replyAttr(req, inode, caller, fi.map { $0.pointee.fh })
    }

    func readlink(_ req: consuming Request, _ ino: fuse_ino_t) -> Replied {
        guard let inode = Inode(number: UInt64(ino)), let caller = caller(req, seeing: inode) else { return req.reply(error: ENOENT) }
        let kind: NamespaceKind?
        switch inode.kind {
        case .namespace(let k): kind = k
        case .nsDirectory where decide({ $0.isNamespaceLink(inode) }): kind = nil
        default: return req.reply(error: EINVAL)
        }
        guard let target = linkTarget(serial: inode.serial, kind: kind, caller) else { return req.reply(error: ENOENT) }
        return req.reply(link: target)
    }

    /// Answered from a worker: the spawn takes a millisecond, and below a
    /// frozen container its parent's kernel objects may be slow to answer.
    /// The new container's directory gets `mode` (the kernel has applied the
    /// umask) and the caller's fsuid and fsgid as its owner.
    func mkdir(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8], _ mode: mode_t) -> Replied {
        guard let dirInode = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dirInode),
              let dir = node(dirInode) else {
            return req.reply(error: ENOENT)
        }
        let facts = facts(caller)
        let forUser = !facts.privileged && !facts.containerRoot
        let owner = ContainerTree.Owner(uid: UInt32(caller.uid), gid: UInt32(caller.gid))
        return makeChild(req, named: name, in: dir, facts: facts, reply: { [self] req, serial in
            replyEntry(req, Inode(serial: serial, kind: .container), caller)
        }) { [self] (request) throws(RuntimeError) in
            try runtime.lifecycle.create(parent: dir.serial, name: name, owner: owner,
                                         mode: UInt16(truncatingIfNeeded: mode & 0o7777), forUser: forUser,
                                         userProcessLimit: forUser ? ResourceLimits.processes(of: caller.tid) : nil,
                                         request: request)
        }
    }

    /// A line written to the `mkdir` entry of `parent` (the host's root
    /// only, see Decide.mayWrite): a child made as mkdir makes it, with the
    /// host ids it asks for (MkdirRequest), answered from a worker.
    func mkdir(_ req: consuming Request, askedBy writer: Caller, facts: CallerFacts, in parent: UInt64, _ data: [UInt8]) -> Replied {
        guard let asked = MkdirRequest.parse(data) else { return req.reply(error: EINVAL) }
        guard let dir = node(Inode(serial: parent, kind: .container)) else { return req.reply(error: ENOENT) }
        let (count, owner) = (data.count, ContainerTree.Owner(uid: UInt32(writer.uid), gid: UInt32(writer.gid)))
        return makeChild(req, named: asked.name, in: dir, facts: facts, reply: { req, _ in req.reply(written: count) }) {
            [self] (request) throws(RuntimeError) in
            try runtime.lifecycle.create(parent: parent, name: asked.name, owner: owner, askedIds: asked.ids, request: request)
        }
    }

    /// The birth of a child container named `name` in `dir`, for mkdir and
    /// for the `mkdir` entry: checked here, made from a worker (the spawn
    /// takes a millisecond), its view attached once the request is answered
    /// (the view needs the new directory, which the request held until then).
    /// A request sent again after a daemon died is done already if the
    /// container of that name is the one it made (its record says so).
    private func makeChild(_ req: consuming Request, named name: [UInt8], in dir: Decide.Node, facts: CallerFacts,
                           reply: @escaping @Sendable (consuming Request, UInt64) -> Replied,
                           create: @escaping @Sendable (RequestTag) throws(RuntimeError) -> UInt64) -> Replied {
        let request = tag(req.unique)
        let done = req.isResent ? runtime.lifecycle.doneBy(request, parent: dir.serial, name: name) : nil
        switch decide({ Decide.mkdir(name, in: dir, doneBy: done, facts: facts, tree: $0) }) {
        case .refuse(let e): return req.reply(error: e)
        case .done(let serial): return reply(req, serial)
        case .create: break
        }
        return workers.answer(req) { [self] req in
            let serial: UInt64
            do throws(RuntimeError) { serial = try create(request) } catch { return self.reply(req, error) }
            let replied = reply(req, serial)
            runtime.views.attach(serial)
            return replied
        }
    }

    /// Unlinking a control entry is accepted (rm -rf unlinks everything
    /// before it removes the directory) and changes nothing but hiding the
    /// entry for a moment (see OpenState.unlinked).
    func unlink(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8]) -> Replied {
        guard let (caller, dir, child) = entry(req, parent, name) else { return req.reply(error: req.isResent ? 0 : ENOENT) }
        let facts = facts(caller)
        switch decide({ Decide.unlink(child, in: dir, resent: req.isResent, facts: facts, tree: $0) }) {
        case .refuse(let e): return req.reply(error: e)
        case .hide(let inode):
            state.withLock {
                $0.unlinked.store(true, for: SnapshotKey(inode: inode.number, pid: caller.tid), now: SystemTime.monotonicNanoseconds())
            }
            return req.replyOK()
        }
    }

    /// How long rmdir may wait on the request thread before handing the
    /// rest of the kill to a worker.
    static let quickRemoveMilliseconds = 1

    /// Answered here when quick, else from a worker: killing a container of
    /// thousands of processes takes tens of milliseconds, a stuck one up to
    /// the timeout.
    func rmdir(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8]) -> Replied {
        guard let (caller, dir, child) = entry(req, parent, name) else { return req.reply(error: req.isResent ? 0 : ENOENT) }
        let facts = facts(caller)
        switch decide({ Decide.rmdir(child, in: dir, resent: req.isResent, facts: facts, tree: $0) }) {
        case .refuse(let e):
            return req.reply(error: e)
        case .renewNamespaceHandles(let serial):
            state.withLock { $0.nsGeneration[serial, default: 0] += 1 }
            return req.replyOK()
        case .removeSet(let serial):
            // Like a container's: answered here when its processes die
            // within the quick wait, else from a worker.
            let quick: SetWork.QuickRemoval
            do throws(RuntimeError) {
                quick = try runtime.sets.removeQuickly(serial, withinMilliseconds: Self.quickRemoveMilliseconds)
            } catch { return reply(req, error) }
            if case .removed = quick {
                forgetSnapshots(serial: serial)
                return req.replyOK()
            }
            return workers.answer(req) { [self] req in
                do throws(RuntimeError) {
                    if case .dying(let dying) = quick { try runtime.sets.complete(dying) } else { try runtime.sets.remove(serial) }
                } catch { return reply(req, error) }
                forgetSnapshots(serial: serial)
                return req.replyOK()
            }
        case .removeContainer(let serial):
            let removal: Lifecycle.PendingRemoval
            do throws(RuntimeError) { removal = try runtime.lifecycle.beginRemove(serial) } catch { return reply(req, error) }
            // Most containers die within a millisecond of cgroup.kill: that
            // is answered here, without waking a worker (a halted vCPU costs
            // 60-100 µs to wake). Anything slower goes on on a worker, and
            // so does a stop that asks first (-o stop_timeout).
            if !runtime.lifecycle.stopsGracefully,
               runtime.lifecycle.tryFinishRemove(removal, within: Self.quickRemoveMilliseconds) {
                forgetSnapshots(serial: serial)
                return req.replyOK()
            }
            return workers.answer(req) { [self] req in
                do throws(RuntimeError) { try runtime.lifecycle.finishRemove(removal) } catch { return reply(req, error) }
                forgetSnapshots(serial: serial)
                return req.replyOK()
            }
        }
    }

    func rename(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8], _ newParent: fuse_ino_t,
                _ newName: [UInt8], _ flags: UInt32) -> Replied {
        let request = tag(req.unique)
        let found = entry(req, parent, name)
        let targetInode = Inode(number: UInt64(newParent))
        let target = found.flatMap { f in targetInode.flatMap { isVisible($0, in: f.caller.scope) ? node($0) : nil } }
        // Sent again: done already if the new name is what this request named.
        let done = req.isResent && (found?.child == nil || target == nil) && targetInode.map {
            runtime.lifecycle.doneBy(request, parent: $0.serial, name: newName) != nil
        } == true
        guard let (caller, dir, child) = found else { return req.reply(error: done ? 0 : ENOENT) }
        let facts = facts(caller)
        let exchange = flags & 2 /* RENAME_EXCHANGE */ != 0
        switch decide({ Decide.rename(child, in: dir, to: target, exchange: exchange, doneBy: done, facts: facts, tree: $0) }) {
        case .refuse(let e):
            return req.reply(error: e)
        case .nameHostSet(let serial):
            do throws(RuntimeError) { try runtime.sets.nameHostSet(serial, as: newName) } catch { return reply(req, error) }
            forgetSnapshots(serial: serial)
            return req.replyOK()
        case .nameSet(let serial):
            // Naming a set makes it a container: freeze, pin, move (a worker).
            return workers.answer(req) { [self] req in
                let ownView: Bool
                do throws(RuntimeError) { ownView = try runtime.sets.name(serial, as: newName, request: request) } catch {
                    return reply(req, error)
                }
                forgetSnapshots(serial: serial)
                let replied = req.replyOK()
                if ownView { runtime.views.attach(serial) }
                return replied
            }
        case .rename(let serial, let to):
            do { try runtime.lifecycle.rename(serial, to: to, name: newName, request: request) } catch { return reply(req, error) }
            forgetSnapshots(serial: serial)
            return req.replyOK()
        }
    }

    func open(_ req: consuming Request, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        assertOnLoopThread()
        guard let inode = Inode(number: UInt64(ino)), case .control(let c) = inode.kind,
              let caller = caller(req, seeing: inode), let node = node(inode) else {
            return req.reply(error: ENOENT)
        }
        let accessMode = fi.pointee.flags & O_ACCMODE
        let writing = accessMode != O_RDONLY
        if writing {
            let facts = facts(caller)
            if let e = decide({ Decide.open(node, writing: true, facts: facts, tree: $0) }) { return req.reply(error: e) }
        }
        let reading = accessMode != O_WRONLY
        // The caller's own snapshot if it just stat'ed the file (tar: the
        // size it saw is what it reads); else one is taken after the reply,
        // while the reader is on its way to its first read: this loop thread
        // (asserted above) serves no other request before it is in the handle.
        let kept = reading ? cachedSnapshot(inode, caller) : []
        // status and procs show the container's processes and sets: one
        // whose processes need a new look gets it on a looker, with the
        // contents made before the answer (no one else waits), unless its
        // init is all it holds; otherwise nothing changed since the last
        // look, and none is made again.
        let showsProcesses = kept == nil && (c == .procs || c == .status)
        if showsProcesses, !discover(Inode(serial: inode.serial, kind: .container), onlyIfAlone: true) {
            let info = fi.pointee
            return lookers.answer(req) { [self] req in
                let bytes = generate(inode, caller)
                let handle = newHandle { $0.files[$1] = OpenFile(inode: inode, bytes: bytes, writable: writing) }
                return req.reply(open: handle, directIO: true, info: info)
            }
        }
        let handle = newHandle { $0.files[$1] = OpenFile(inode: inode, bytes: kept, writable: writing) }
        let replied = req.reply(open: handle, directIO: true, flags: fi)
        if kept == nil {
            let bytes = generate(inode, caller, looked: showsProcesses)
            state.withLock { $0.files[handle]?.bytes = bytes }
        }
        return replied
    }

    func read(_ req: consuming Request, _ ino: fuse_ino_t, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        assertOnLoopThread()
        guard let file = state.withLock({ $0.files[fi.pointee.fh] }) ?? inheritedFile(req, ino, fi.pointee.fh) else {
            return req.reply(error: EBADF)
        }
        // A log is read as it is now, at any offset (tail -f).
        if case .control(.log) = file.inode.kind {
            guard let id = runtime.files.id(of: file.inode.serial) else { return req.reply(error: ENOENT) }
            return req.reply(bytes: runtime.lifecycle.logs.read(id, offset: Int(offset), count: size)[...])
        }
        // No snapshot: the container was gone by the time it was taken.
        guard let bytes = file.bytes else { return req.reply(error: ENOENT) }
        let start = min(Int(offset), bytes.count)
        return req.reply(bytes: bytes[start..<min(bytes.count, start + size)])
    }

    // MARK: restoring a tar snapshot

    /// The control entry `name` of container `parent` (or a namespace handle
    /// of an `ns/` directory) as `tar x` makes it anew: it unlinked it (the
    /// entry hid for a moment) and creates it. The entry is there again,
    /// and what is written through this handle is restored (`restore`).
    func restoredEntry(_ req: borrowing Request, _ parent: fuse_ino_t, _ name: [UInt8]) -> (Caller, Inode)? {
        guard let dirInode = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dirInode),
              let s = String(validating: name, as: UTF8.self) else { return nil }
        let inode: Inode? = runtime.registry.withTree { t, _ in
            switch dirInode.kind {
            case .container: if case .control = EntryKind.controlEntry(named: s) { return t.lookup(s, in: dirInode) }
            case .nsDirectory: return t.lookup(s, in: dirInode)
            default: break
            }
            return nil
        }
        guard let inode else { return nil }
        let key = SnapshotKey(inode: inode.number, pid: caller.tid)
        state.withLock { $0.unlinked.removeAll { $0 == key } }
        return (caller, inode)
    }

    func create(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8], _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        guard let (caller, inode) = restoredEntry(req, parent, name) else { return req.reply(error: EPERM) }
        let facts = facts(caller)
        switch inode.kind {
        case .control(let c):
            guard decide({ Decide.mayRestore(c, of: inode.serial, facts: facts, tree: $0) }) else { return req.reply(error: EACCES) }
        default:
            return req.reply(error: EPERM)
        }
        guard let attr = attributes(inode, caller, handleBytes: []) else { return req.reply(error: ENOENT) }
        let handle = newHandle { $0.files[$1] = OpenFile(inode: inode, bytes: [], writable: true, restoring: true) }
        return req.reply(create: inode.number, attr: attr, entryTimeout: entryTimeout, attrTimeout: 0, handle: handle, flags: fi)
    }

    /// tar x of `ns/TYPE`: the handle is there already (its target is the
    /// init's, whatever the archive says).
    func symlink(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8]) -> Replied {
        guard let (caller, inode) = restoredEntry(req, parent, name), case .namespace = inode.kind else { return req.reply(error: EPERM) }
        return replyEntry(req, inode, caller)
    }

    /// A value written through a handle `create` made: what a snapshot
    /// restores (hostname, freeze, limits, root, volumes) is set; what only
    /// reports (status, procs' pids of processes gone, readings of use,
    /// signal) is taken and dropped.
    func restore(_ c: ControlFile, of serial: UInt64, _ data: [UInt8], writer: Caller, facts: CallerFacts) throws(RuntimeError) {
        switch c {
        // (a log is its processes' words: a new container's starts empty)
        case .status, .procs, .pidsCurrent, .memoryCurrent, .signal, .log, .mkdir: return
        case .mounts:
            let have = Set(String(decoding: runtime.files.volumes(serial) ?? [], as: UTF8.self).split(separator: "\n"))
            for line in data.split(separator: 10) where !have.contains(Substring(String(decoding: line, as: UTF8.self))) {
                try runtime.lifecycle.changeVolumes(serial, Array(line), writer: writer.tid)
            }
        case .root:
            // The same root again (a container restored over itself) is no change.
            guard runtime.files.root(serial) != data else { return }
            try runtime.lifecycle.setRoot(serial, data, writer: writer.tid)
            runtime.views.attach(serial)
        case .hostname: try runtime.files.setHostname(serial, data)
        case .freeze: try runtime.files.setFrozen(serial, data)
        default: try runtime.files.setLimit(serial, c, data)
        }
    }

    /// Each write is checked against its writer, not against whoever opened
    /// the file: a descriptor may be inherited or passed on.
    func write(_ req: consuming Request, _ ino: fuse_ino_t, _ data: [UInt8], _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        guard let file = state.withLock({ $0.files[fi.pointee.fh] }) ?? inheritedFile(req, ino, fi.pointee.fh), file.writable else {
            return req.reply(error: EBADF)
        }
        guard case .control(let c) = file.inode.kind else { return req.reply(error: EBADF) }
        let writer = caller(req, seeing: file.inode)
        let writerFacts = writer.map { self.facts($0) }
        if let e = decide({ file.restoring ? Decide.restoreWrite(c, of: file.inode.serial, offset: Int64(offset), writer: writerFacts, tree: $0)
                                           : Decide.write(c, of: file.inode.serial, offset: Int64(offset), writer: writerFacts, tree: $0) }) {
            return req.reply(error: e)
        }
        guard let writer, let writerFacts else { return req.reply(error: EACCES) }
        if file.restoring {
            do throws(RuntimeError) { try restore(c, of: file.inode.serial, data, writer: writer, facts: writerFacts) } catch {
                return reply(req, error)
            }
            forgetSnapshots(serial: file.inode.serial)
            return req.reply(written: data.count)
        }
        if c == .mkdir { return mkdir(req, askedBy: writer, facts: writerFacts, in: file.inode.serial, data) }
        do throws(RuntimeError) {
            switch c {
            case .hostname: try runtime.files.setHostname(file.inode.serial, data)
            case .freeze: try runtime.files.setFrozen(file.inode.serial, data)
            case .signal: try runtime.files.signal(file.inode.serial, data)
            case .root:
                try runtime.lifecycle.setRoot(file.inode.serial, data, writer: writer.tid)
                // Its view, anew in the new root.
                runtime.views.attach(file.inode.serial)
            case .mounts: try runtime.lifecycle.changeVolumes(file.inode.serial, data, writer: writer.tid)
            case .log:
                guard let id = runtime.files.id(of: file.inode.serial) else { throw RuntimeError(.noEntry, "log: no such container") }
                do throws(Errno) { try runtime.lifecycle.logs.append(id, data) } catch { throw RuntimeError(error, "log: cannot append") }
            case .procs:
                try runtime.files.enter(file.inode.serial, data, writer: writer.tid,
                                        hostPrivileged: writer.scope == ContainerTree.rootSerial && writerFacts.privileged)
            default: try runtime.files.setLimit(file.inode.serial, c, data)
            }
        } catch {
            return reply(req, error)
        }
        forgetSnapshots(serial: file.inode.serial)
        return req.reply(written: data.count)
    }

    func release(_ req: consuming Request, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        _ = state.withLock { $0.files.removeValue(forKey: fi.pointee.fh) }
        return req.replyOK()
    }

    func opendir(_ req: consuming Request, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        guard let inode = Inode(number: UInt64(ino)) else { return req.reply(error: ENOENT) }
        let info = fi.pointee
        return withFreshSets(req, inode) { [self] req in
            guard let caller = caller(req, seeing: inode) else { return req.reply(error: ENOENT) }
            guard let entries = listing(inode, caller) else { return req.reply(error: inode.kind == .container ? ENOENT : ENOTDIR) }
            var reply = info
            var keep = false
            let handle = newHandle { st, h in
                var dir = OpenDirectory(inode: inode, entries: entries)
                // Read through the kernel's cache (find and tar walked
                // every directory with readdir requests), only while every
                // handle reading through it lists the same (it is filled by
                // whichever reads first; views and rm's unlinks make
                // listings differ per reader); kept if it holds this very
                // listing, as made now (sets looked for first): a container
                // or set made since the last look is in the next one.
                let listing = Self.fingerprint(entries)
                if st.cachedOpens[inode.number].map({ $0.listing == listing }) ?? true {
                    dir.cached = listing
                    st.cachedOpens[inode.number, default: (listing, 0)].count += 1
                    keep = st.readdirCache[inode.number] == listing
                    reply.cache_readdir = 1
                }
                st.directories[h] = dir
            }
            return req.reply(open: handle, directIO: false, info: reply, keepCache: keep)
        }
    }

    /// Which entries a listing holds, in order (names and inodes).
    static func fingerprint(_ entries: [DirectoryEntry]) -> Int {
        var h = Hasher()
        for e in entries {
            h.combine(e.name)
            h.combine(e.inode.number)
        }
        return h.finalize()
    }

    /// A directory's entries as `caller` sees them now; nil if it is gone
    /// or not a directory.
    func listing(_ inode: Inode, _ caller: Caller) -> [DirectoryEntry]? {
        if caller.identity.container == ContainerTree.outsiderScope {
            return [DirectoryEntry(name: ".", inode: inode), DirectoryEntry(name: "..", inode: inode)]
        }
        let entries: [DirectoryEntry]? = decide { t in
            guard let node = t.visibleNode(inode.serial) else { return nil }
            let parentSerial = node.parent ?? inode.serial
            switch inode.kind {
            case .container:
                return [DirectoryEntry(name: ".", inode: inode),
                        DirectoryEntry(name: "..", inode: Inode(serial: parentSerial, kind: .container))]
                    + t.listing(of: inode.serial).map {
                        DirectoryEntry(name: $0.name, inode: $0.inode, isLink: t.isNamespaceLink($0.inode),
                                       isSet: $0.inode.kind == .container && t.node($0.inode.serial)?.unnamed == true)
                    }
            case .nsDirectory where !t.isNamespaceLink(inode):
                return [DirectoryEntry(name: ".", inode: inode),
                        DirectoryEntry(name: "..", inode: Inode(serial: inode.serial, kind: .container))]
                    + NamespaceKind.allCases.map {
                        DirectoryEntry(name: $0.name, inode: Inode(serial: inode.serial, kind: .namespace($0)))
                    }
            default:
                return nil
            }
        }
        guard var entries else { return nil }
        let now = SystemTime.monotonicNanoseconds()
        state.withLock { st in
            // (Mostly none is: no lookup per entry then.)
            guard st.unlinked.count > 0 else { return }
            entries.removeAll {
                $0.inode.kind != .container && $0.inode != inode
                    && st.unlinked.value(for: SnapshotKey(inode: $0.inode.number, pid: caller.tid), now: now) != nil
            }
        }
        return entries
    }

    // MARK: handles of an earlier daemon

    /// A file opened while an earlier daemon served the mount: its handle is
    /// the kernel's, its contents are gone with that daemon. Taken anew for
    /// this reader and kept under the same handle, so later reads at higher
    /// offsets see the same bytes. Writable as far as we know: the kernel
    /// itself refuses writes through a descriptor opened read-only.
    func inheritedFile(_ req: borrowing Request, _ ino: fuse_ino_t, _ handle: UInt64) -> OpenFile? {
        guard isInherited(handle), let inode = Inode(number: UInt64(ino)), case .control = inode.kind,
              let caller = caller(req, seeing: inode) else { return nil }
        let file = OpenFile(inode: inode, bytes: generate(inode, caller), writable: inode.serial != ContainerTree.rootSerial)
        state.withLock { $0.files[handle] = file }
        return file
    }

    /// A directory opened while an earlier daemon served the mount: listed
    /// anew (a listing in progress goes on from its offset).
    func inheritedDirectory(_ req: borrowing Request, _ ino: fuse_ino_t, _ handle: UInt64) -> OpenDirectory? {
        guard isInherited(handle), let inode = Inode(number: UInt64(ino)), let caller = caller(req, seeing: inode),
              let entries = listing(inode, caller) else { return nil }
        let dir = OpenDirectory(inode: inode, entries: entries)
        state.withLock { $0.directories[handle] = dir }
        return dir
    }

    /// readdir, and readdirplus (`plus`): the kernel asks for the latter
    /// first, and gets with each entry that costs nothing to describe — a
    /// control entry, `ns/`, a namespace handle — its inode, so that a
    /// following unlink or open needs no lookup of it (`rm -rf` of a set:
    /// 12 lookups fewer), and a set (its name is cached for a second, see
    /// replyEntry). Containers come without (their attributes stat their
    /// log file: a lookup decides on them), and a control file's size
    /// is given as 0 with its attributes expiring at once: the stat that
    /// follows asks, and gets the snapshot its read will see.
    func readdir(_ req: consuming Request, _ ino: fuse_ino_t, _ size: Int, _ offset: off_t,
                 _ fi: UnsafeMutablePointer<fuse_file_info>, plus: Bool = false) -> Replied {
        guard let dir = state.withLock({ $0.directories[fi.pointee.fh] }) ?? inheritedDirectory(req, ino, fi.pointee.fh) else {
            return req.reply(error: EBADF)
        }
        // Checked on every read, not only at opendir: a descriptor opened on
        // the host lists nothing once its process has entered a container
        // (directory attributes are cached, so no getattr would stop it).
        guard let caller = caller(req, seeing: dir.inode) else { return req.reply(error: ENOENT) }
        let entries = dir.entries
        // The kernel caches what it asks for from the start of a listing
        // opened with the cache (and only that).
        if offset == 0, let listing = dir.cached { state.withLock { $0.readdirCache[dir.inode.number] = listing } }
        // Not zeroed: fuse_add_direntry writes every byte it reports.
        let buf = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        defer { buf.deallocate() }
        var used = 0
        var i = Int(offset)
        while i < entries.count {
            let e = entries[i]
            var st = stat()
            st.st_ino = ino_t(e.inode.number)
            st.st_mode = e.fileType
            let n: Int
            if plus {
                var p = fuse_entry_param()
                p.attr = st
                // Not a child container's (its attributes stat its log
                // file); a set's, for as long as its name may be cached
                // (rm -rf then looks none up).
                if e.inode.kind != .container || e.isSet, e.name != ".", e.name != "..",
                   let attr = attributes(e.inode, caller, handleBytes: []) {
                    p.ino = fuse_ino_t(e.inode.number)
                    p.generation = generation(e.inode)
                    p.attr = attr
                    p.entry_timeout = e.isSet ? setEntryTimeout : entryTimeout
                    p.attr_timeout = attrTimeout(e.inode)
                }
                n = fuse_add_direntry_plus(req.raw, buf + used, size - used, e.name, &p, off_t(i + 1))
            } else {
                n = fuse_add_direntry(req.raw, buf + used, size - used, e.name, &st, off_t(i + 1))
            }
            if n > size - used { break }
            used += n
            i += 1
        }
        return req.reply(directoryBuffer: buf, count: used)
    }

    /// A new file handle, recorded by `store` in the open state.
    func newHandle(_ store: (inout OpenState, UInt64) -> Void) -> UInt64 {
        state.withLock { st in
            let h = st.nextHandle
            st.nextHandle += 1
            store(&st, h)
            return h
        }
    }

    func releasedir(_ req: consuming Request, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        state.withLock { st in
            guard let dir = st.directories.removeValue(forKey: fi.pointee.fh), dir.cached != nil else { return }
            let n = dir.inode.number
            st.cachedOpens[n]?.count -= 1
            if st.cachedOpens[n]?.count == 0 { st.cachedOpens[n] = nil }
        }
        return req.replyOK()
    }
}
