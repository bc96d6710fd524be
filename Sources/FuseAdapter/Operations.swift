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
    /// `looked`: the container's processes were looked at for this request already.
    func resolve(_ name: [UInt8], in parent: Inode, for caller: Caller, looked: Bool = false) -> Inode? {
        guard let s = String(validating: name, as: UTF8.self) else { return nil }
        // A name that may be a set's: look at the container's processes first.
        if !looked && EntryKind.controlEntry(named: s) == nil { discover(parent) }
        guard let inode = runtime.registry.read({ $0.tree.lookup(s, in: parent) }) else { return nil }
        if inode.kind != .container, isUnlinked(inode, by: caller) { return nil }
        return inode
    }

    /// The directory, the caller and the entry `name` in it, as that caller
    /// sees them; nil (ENOENT) if any of them does not exist for it.
    func entry(_ req: borrowing Request, _ parent: fuse_ino_t, _ name: [UInt8], looked: Bool = false) -> (dir: Inode, caller: Caller, inode: Inode)? {
        guard let dir = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dir),
              let inode = resolve(name, in: dir, for: caller, looked: looked) else { return nil }
        return (dir, caller, inode)
    }

    /// Bring the sets below `dir`'s container up to date (nothing for other
    /// inodes): what a lookup, a listing or a stat must see.
    func discover(_ dir: Inode) {
        guard dir.kind == .container else { return }
        let container = runtime.registry.read { $0.tree.owningContainer(of: dir.serial) }
        // Sets came or went: the st_nlink the kernel keeps for the
        // container and its sets is stale (after the reply: see upkeep).
        if runtime.discovery.refresh(container) { afterReply { [self] in invalidateAttributes(below: container) } }
    }

    func isSet(_ serial: UInt64) -> Bool {
        runtime.registry.read { $0.tree.node(serial)?.unnamed == true }
    }

    func isHostSet(_ serial: UInt64) -> Bool {
        runtime.registry.read { $0.sets[serial]?.isHosts == true }
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
        return runtime.registry.read { $0.tree.isVisible(inode.serial, to: scope) }
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

    /// May the caller change things at or below each of these containers?
    func mayModify(_ facts: CallerFacts, at serials: UInt64...) -> Bool {
        runtime.registry.read { s in serials.allSatisfy { s.tree.mayModify(at: $0, facts) } }
    }

    /// May the caller write this control entry? Limits follow their own
    /// rule (a container never changes its own, see mayChangeLimits).
    func mayWrite(_ facts: CallerFacts, _ inode: Inode) -> Bool {
        guard case .control(let c) = inode.kind, c.isLimit else {
            return runtime.registry.read { $0.tree.mayChange(inode.serial, facts) }
        }
        return runtime.registry.read { $0.tree.mayChangeLimits(of: inode.serial, facts) }
    }

    /// May the caller remove or rename `child` out of its directory
    /// (ContainerTree.mayRemove: the directory's mode, its sticky bit)?
    func mayRemove(_ facts: CallerFacts, _ child: UInt64) -> Bool {
        runtime.registry.read { $0.tree.mayRemove(child, facts) }
    }

    func reply(_ req: consuming Request, _ error: RuntimeError) -> Replied {
        // Refusals are the caller's business; anything the kernel refused is logged.
        if !error.isRefusal { Log.line("\(error)") }
        return req.reply(error: error.errno.rawValue)
    }

    func replyEntry(_ req: consuming Request, _ inode: Inode, _ caller: Caller) -> Replied {
        guard let attr = attributes(inode, caller) else { return req.reply(error: ENOENT) }
        // A set comes and goes with its processes, without a request the
        // kernel sees: never cached.
        let set = inode.kind == .container && isSet(inode.serial)
        return req.reply(entry: inode.number, generation: generation(inode), attr: attr,
                         entryTimeout: set ? 0 : entryTimeout, attrTimeout: set ? 0 : attrTimeout(inode))
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
        let container = runtime.registry.read { $0.tree.owningContainer(of: dir.serial) }
        if runtime.discovery.isCurrent(container) { return body(req) }
        return lookers.answer(req) { [self] r in
            discover(dir)
            return body(r)
        }
    }

    func lookup(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8]) -> Replied {
        // NAME_MAX is the filesystem's to check (the kernel does not).
        if name.count > ContainerName.maxBytes { return req.reply(error: ENAMETOOLONG) }
        let isControl = String(validating: name, as: UTF8.self).flatMap(EntryKind.controlEntry(named:)) != nil
        return withFreshSets(req, isControl ? nil : Inode(number: UInt64(parent))) { [self] req in
            guard let (_, caller, inode) = entry(req, parent, name, looked: true) else { return req.reply(error: ENOENT) }
            return replyEntry(req, inode, caller)
        }
    }

    func getattr(_ req: consuming Request, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Replied {
        guard let inode = Inode(number: UInt64(ino)) else { return req.reply(error: ENOENT) }
        // st_nlink counts the sets below; a set's own node may be gone.
        let handle = fi.map { $0.pointee.fh }
        return withFreshSets(req, inode) { [self] req in
            guard let caller = caller(req, seeing: inode) else { return req.reply(error: ENOENT) }
            return replyAttr(req, inode, caller, handle)
        }
    }

    func setattr(_ req: consuming Request, _ ino: fuse_ino_t, _ attr: UnsafeMutablePointer<stat>, _ toSet: Int32,
                 _ fi: UnsafeMutablePointer<fuse_file_info>?) -> Replied {
        guard let inode = Inode(number: UInt64(ino)), let caller = caller(req, seeing: inode) else {
            return req.reply(error: ENOENT)
        }
        if toSet & FUSE_SET_ATTR_MODE != 0 {
            // chmod of a container directory: its owner, or the privileged.
            guard inode.kind == .container, !isSet(inode.serial) else { return req.reply(error: EPERM) }
            let facts = facts(caller)
            guard runtime.registry.read({ $0.tree.mayChangeMode(inode.serial, facts) }) else { return req.reply(error: EPERM) }
            do { try runtime.lifecycle.setMode(inode.serial, UInt16(truncatingIfNeeded: attr.pointee.st_mode & 0o7777)) } catch {
                return reply(req, error)
            }
        }
        // Times are the creation time, not the filesystem's to change:
        // touch gets EPERM rather than a success that changes nothing.
        let times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME
        if toSet & times != 0 { return req.reply(error: EPERM) }
        if toSet & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) != 0 {
            // chown of a container directory delegates its subtree.
            guard inode.kind == .container, inode.serial != ContainerTree.rootSerial, inode.serial != caller.scope,
                  !isSet(inode.serial) else {
                return req.reply(error: EPERM)
            }
            guard runtime.callers.isPrivileged(caller.identity) else { return req.reply(error: EPERM) }
            let uid: UInt32? = toSet & FUSE_SET_ATTR_UID != 0 ? UInt32(attr.pointee.st_uid) : nil
            let gid: UInt32? = toSet & FUSE_SET_ATTR_GID != 0 ? UInt32(attr.pointee.st_gid) : nil
            do { try runtime.lifecycle.setOwner(inode.serial, uid: uid, gid: gid) } catch { return reply(req, error) }
            invalidateEntries(of: inode.serial)
        }
        if toSet & FUSE_SET_ATTR_SIZE != 0 {
            // Truncation is what `echo x > file` does first: accepted on the
            // writable control files, where a write replaces the value.
            guard case .control(let c) = inode.kind, c.isWritable, inode.serial != ContainerTree.rootSerial else {
                return req.reply(error: inode.kind == .container || inode.kind == .nsDirectory ? EISDIR : EACCES)
            }
            guard mayWrite(facts(caller), inode) else { return req.reply(error: EACCES) }
        }
        return replyAttr(req, inode, caller, fi.map { $0.pointee.fh })
    }

    func readlink(_ req: consuming Request, _ ino: fuse_ino_t) -> Replied {
        guard let inode = Inode(number: UInt64(ino)), case .namespace(let k) = inode.kind,
              let caller = caller(req, seeing: inode),
              let target = linkTarget(serial: inode.serial, kind: k, caller) else {
            return req.reply(error: ENOENT)
        }
        return req.reply(link: target)
    }

    /// Answered from a worker: the spawn takes a millisecond, and below a
    /// frozen container its parent's kernel objects may be slow to answer.
    /// The new container's directory gets `mode` (the kernel has applied the
    /// umask) and the caller's fsuid and fsgid as its owner.
    func mkdir(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8], _ mode: mode_t) -> Replied {
        guard let dir = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dir) else {
            return req.reply(error: ENOENT)
        }
        guard dir.kind == .container else { return req.reply(error: EPERM) }
        // Sent again after a daemon died: done already if the container of
        // that name is the one this request made (its record says so).
        let request = tag(req.unique)
        if req.isResent, let done = runtime.lifecycle.doneBy(request, parent: dir.serial, name: name) {
            return replyEntry(req, Inode(serial: done, kind: .container), caller)
        }
        let facts = facts(caller)
        guard mayModify(facts, at: dir.serial) else { return req.reply(error: EACCES) }
        return workers.answer(req) { [self] req in
            let serial: UInt64
            let owner = ContainerTree.Owner(uid: UInt32(caller.uid), gid: UInt32(caller.gid))
            let forUser = !facts.privileged && !facts.containerRoot
            do throws(RuntimeError) {
                serial = try runtime.lifecycle.create(parent: dir.serial, name: name, owner: owner,
                                                      mode: UInt16(truncatingIfNeeded: mode & 0o7777), forUser: forUser,
                                                      userProcessLimit: forUser ? ResourceLimits.processes(of: caller.tid) : nil,
                                                      request: request)
            } catch { return reply(req, error) }
            let replied = replyEntry(req, Inode(serial: serial, kind: .container), caller)
            // The view needs the new directory, which this mkdir held until now.
            runtime.views.attach(serial)
            return replied
        }
    }

    /// Unlinking a control entry is accepted (rm -rf unlinks everything
    /// before it removes the directory) and changes nothing but hiding the
    /// entry for a moment (see OpenState.unlinked).
    func unlink(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8]) -> Replied {
        guard let (dir, caller, inode) = entry(req, parent, name) else { return req.reply(error: req.isResent ? 0 : ENOENT) }
        guard mayModify(facts(caller), at: dir.serial) else { return req.reply(error: EACCES) }
        switch inode.kind {
        case .container, .nsDirectory: return req.reply(error: EISDIR)
        case .control, .namespace:
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
        // Sent again and gone: removed by this request before its daemon
        // died (or by another since: either way what the caller asked for).
        guard let (dir, caller, inode) = entry(req, parent, name) else { return req.reply(error: req.isResent ? 0 : ENOENT) }
        // Only containers strictly below the caller's own are reachable here:
        // its own container is the root of its view, with no parent it can name.
        let facts = facts(caller)
        guard mayModify(facts, at: dir.serial) else { return req.reply(error: EACCES) }
        // The sticky bit: only the child's or the directory's owner.
        if inode.kind == .container, !mayRemove(facts, inode.serial) { return req.reply(error: EPERM) }
        switch inode.kind {
        case .control, .namespace:
            return req.reply(error: ENOTDIR)
        case .nsDirectory:
            state.withLock { $0.nsGeneration[inode.serial, default: 0] += 1 }
            return req.replyOK()
        case .container where isSet(inode.serial):
            // A set's processes are its container's: killed from a worker
            // (the container is frozen meanwhile). The host's are not ours.
            guard !isHostSet(inode.serial) else { return req.reply(error: EPERM) }
            return workers.answer(req) { [self] req in
                do throws(RuntimeError) { try runtime.lifecycle.removeSet(inode.serial) } catch { return reply(req, error) }
                forgetSnapshots(serial: inode.serial)
                return req.replyOK()
            }
        case .container:
            let removal: Lifecycle.PendingRemoval
            do throws(RuntimeError) { removal = try runtime.lifecycle.beginRemove(inode.serial) } catch { return reply(req, error) }
            // Most containers die within a millisecond of cgroup.kill: that
            // is answered here, without waking a worker (a halted vCPU costs
            // 60-100 µs to wake). Anything slower goes on on a worker.
            if runtime.lifecycle.tryFinishRemove(removal, within: Self.quickRemoveMilliseconds) {
                forgetSnapshots(serial: inode.serial)
                return req.replyOK()
            }
            return workers.answer(req) { [self] req in
                do throws(RuntimeError) { try runtime.lifecycle.finishRemove(removal) } catch { return reply(req, error) }
                forgetSnapshots(serial: inode.serial)
                return req.replyOK()
            }
        }
    }

    func rename(_ req: consuming Request, _ parent: fuse_ino_t, _ name: [UInt8], _ newParent: fuse_ino_t,
                _ newName: [UInt8], _ flags: UInt32) -> Replied {
        let request = tag(req.unique)
        guard let (dir, caller, inode) = entry(req, parent, name),
              let target = Inode(number: UInt64(newParent)), isVisible(target, in: caller.scope) else {
            // Sent again: done already if the new name is what this request named.
            if req.isResent, let target = Inode(number: UInt64(newParent)),
               runtime.lifecycle.doneBy(request, parent: target.serial, name: newName) != nil {
                return req.replyOK()
            }
            return req.reply(error: ENOENT)
        }
        let facts = facts(caller)
        guard mayModify(facts, at: dir.serial, target.serial) else { return req.reply(error: EACCES) }
        if flags & 2 /* RENAME_EXCHANGE */ != 0 { return req.reply(error: EINVAL) }
        guard inode.kind == .container else { return req.reply(error: EPERM) }
        guard mayRemove(facts, inode.serial) else { return req.reply(error: EPERM) }
        guard target.kind == .container else { return req.reply(error: target.kind == .nsDirectory ? EPERM : ENOTDIR) }
        if isSet(inode.serial) {
            guard target.serial == dir.serial else { return req.reply(error: EPERM) }
            // The host's sets get a name, nothing else.
            if isHostSet(inode.serial) {
                do { try runtime.lifecycle.nameHostSet(inode.serial, name: newName) } catch { return reply(req, error) }
                forgetSnapshots(serial: inode.serial)
                return req.replyOK()
            }
            // Naming a set makes it a container: freeze, pin, move (a worker).
            return workers.answer(req) { [self] req in
                let ownView: Bool
                do throws(RuntimeError) { ownView = try runtime.lifecycle.nameSet(inode.serial, name: newName, request: request) } catch {
                    return reply(req, error)
                }
                forgetSnapshots(serial: inode.serial)
                let replied = req.replyOK()
                if ownView { runtime.views.attach(inode.serial) }
                return replied
            }
        }
        do { try runtime.lifecycle.rename(inode.serial, to: target.serial, name: newName, request: request) } catch { return reply(req, error) }
        forgetSnapshots(serial: inode.serial)
        return req.replyOK()
    }

    func open(_ req: consuming Request, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        assertOnLoopThread()
        guard let inode = Inode(number: UInt64(ino)), case .control(let c) = inode.kind,
              let caller = caller(req, seeing: inode) else {
            return req.reply(error: ENOENT)
        }
        let accessMode = fi.pointee.flags & O_ACCMODE
        let writing = accessMode != O_RDONLY
        if writing {
            guard c.isWritable, inode.serial != ContainerTree.rootSerial else { return req.reply(error: EACCES) }
            guard mayWrite(facts(caller), inode) else { return req.reply(error: EACCES) }
        }
        let reading = accessMode != O_WRONLY
        // The caller's own snapshot if it just stat'ed the file (tar: the
        // size it saw is what it reads); else one is taken after the reply,
        // while the reader is on its way to its first read: this loop thread
        // (asserted above) serves no other request before it is in the handle.
        let kept = reading ? cachedSnapshot(inode, caller) : []
        // status and procs show the container's processes and sets: one
        // whose processes need a new look gets it on a looker, with the
        // contents made before the answer (no one else waits); otherwise
        // nothing changed since the last look, and none is made again.
        let showsProcesses = kept == nil && (c == .procs || c == .status)
        if showsProcesses, !runtime.discovery.isCurrent(runtime.registry.read({ $0.tree.owningContainer(of: inode.serial) })) {
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
        // No snapshot: the container was gone by the time it was taken.
        guard let bytes = file.bytes else { return req.reply(error: ENOENT) }
        let start = min(Int(offset), bytes.count)
        return req.reply(bytes: bytes[start..<min(bytes.count, start + size)])
    }

    /// Each write is checked against its writer, not against whoever opened
    /// the file: a descriptor may be inherited or passed on.
    func write(_ req: consuming Request, _ ino: fuse_ino_t, _ data: [UInt8], _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Replied {
        guard let file = state.withLock({ $0.files[fi.pointee.fh] }) ?? inheritedFile(req, ino, fi.pointee.fh), file.writable,
              case .control(let c) = file.inode.kind else { return req.reply(error: EBADF) }
        // A writer that cannot see the file (a descriptor passed into a container
        // below it): refused, not "no such file" on a descriptor it holds.
        guard let writer = caller(req, seeing: file.inode) else { return req.reply(error: EACCES) }
        guard mayWrite(facts(writer), file.inode) else { return req.reply(error: EACCES) }
        // A value is one write at offset 0, as in sysfs: `dd bs=1` applies
        // its first byte and gets EINVAL for the next.
        guard offset == 0 else { return req.reply(error: EINVAL) }
        do {
            switch c {
            case .hostname: try runtime.files.setHostname(file.inode.serial, data)
            case .freeze: try runtime.files.setFrozen(file.inode.serial, data)
            case .procs:
                try runtime.files.enter(file.inode.serial, data, writer: writer.tid,
                                        hostPrivileged: writer.scope == ContainerTree.rootSerial && facts(writer).privileged)
            case let l where l.isWritable && l.isLimit: try runtime.files.setLimit(file.inode.serial, l, data)
            default: return req.reply(error: EACCES)
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
            let handle = newHandle { $0.directories[$1] = OpenDirectory(inode: inode, entries: entries) }
            return req.reply(open: handle, directIO: false, info: info)
        }
    }

    /// A directory's entries as `caller` sees them now; nil if it is gone
    /// or not a directory.
    func listing(_ inode: Inode, _ caller: Caller) -> [DirectoryEntry]? {
        if caller.identity.container == ContainerTree.outsiderScope {
            return [DirectoryEntry(name: ".", inode: inode), DirectoryEntry(name: "..", inode: inode)]
        }
        let entries: [DirectoryEntry]? = runtime.registry.read { s in
            guard let node = s.tree.visibleNode(inode.serial) else { return nil }
            let parentSerial = node.parent ?? inode.serial
            switch inode.kind {
            case .container:
                return [DirectoryEntry(name: ".", inode: inode),
                        DirectoryEntry(name: "..", inode: Inode(serial: parentSerial, kind: .container))]
                    + s.tree.listing(of: inode.serial).map { DirectoryEntry(name: $0.name, inode: $0.inode) }
            case .nsDirectory:
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
    /// 12 lookups fewer). Containers and sets come without (a lookup
    /// decides on them: sets are never cached), and a control file's size
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
        // Not zeroed: fuse_add_direntry writes every byte it reports.
        let buf = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        defer { buf.deallocate() }
        var used = 0
        var i = Int(offset)
        while i < entries.count {
            let e = entries[i]
            var st = stat()
            st.st_ino = ino_t(e.inode.number)
            st.st_mode = e.inode.kind.fileType
            let n: Int
            if plus {
                var p = fuse_entry_param()
                p.attr = st
                if e.inode.kind != .container, e.name != ".", e.name != "..",
                   let attr = attributes(e.inode, caller, handleBytes: []) {
                    p.ino = fuse_ino_t(e.inode.number)
                    p.generation = generation(e.inode)
                    p.attr = attr
                    p.entry_timeout = entryTimeout
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
        _ = state.withLock { $0.directories.removeValue(forKey: fi.pointee.fh) }
        return req.replyOK()
    }
}
