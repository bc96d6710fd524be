import CFuse3
import ContainerRuntime
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The request handlers, one per FUSE operation.
extension NamespaceFilesystem {
    func resolve(_ name: [UInt8], in parent: Inode) -> Inode? {
        guard let s = String(validating: name, as: UTF8.self) else { return nil }
        return manager.read { tree, _ in tree.lookup(s, in: parent) }
    }

    func generation(_ inode: Inode) -> UInt64 {
        inode.kind == .nsDirectory ? state.withLock { $0.nsGeneration[inode.serial] ?? 0 } : 0
    }

    /// Is `inode` in container `scope` (it or below)?
    func isVisible(_ inode: Inode, in scope: UInt64) -> Bool {
        scope == ContainerTree.rootSerial || manager.read { tree, _ in tree.isAncestor(scope, of: inode.serial) }
    }

    /// The request's caller, identified once, if `inode` exists for it:
    /// outside the caller's own container nothing does.
    func caller(_ req: Request, seeing inode: Inode) -> Caller? {
        let ctx = req.context
        guard let id = manager.identify(caller: ctx.pid), isVisible(inode, in: id.container) else { return nil }
        return Caller(uid: ctx.uid, identity: id)
    }

    /// May the caller change things at or below each of these containers?
    /// CAP_SYS_ADMIN in the daemon's user namespace (asked once), or a
    /// delegation (chown) at or above each, inside the caller's own container.
    func mayModify(_ caller: Caller, at serials: UInt64...) -> Bool {
        manager.isPrivileged(caller.identity)
            || serials.allSatisfy { manager.isDelegated($0, to: caller.uid, within: caller.scope) }
    }

    func reply(_ req: Request, _ error: RuntimeError) {
        // Refusals are the caller's business; anything the kernel refused is logged.
        if !error.isRefusal { log("\(error)") }
        req.reply(error: error.errno.rawValue)
    }

    func replyEntry(_ req: Request, _ inode: Inode, _ caller: Caller) {
        guard let attr = attributes(inode, caller) else { return req.reply(error: ENOENT) }
        req.reply(entry: inode.number, generation: generation(inode), attr: attr,
                  entryTimeout: entryTimeout, attrTimeout: attrTimeout(inode))
    }

    func replyAttr(_ req: Request, _ inode: Inode, _ caller: Caller, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
        let handleBytes = fi.flatMap { f in state.withLock { $0.files[f.pointee.fh]?.bytes ?? nil } }
        guard let attr = attributes(inode, caller, handleBytes: handleBytes) else { return req.reply(error: ENOENT) }
        req.reply(attr: attr, timeout: attrTimeout(inode))
    }

    func lookup(_ req: Request, _ parent: fuse_ino_t, _ name: [UInt8]) {
        guard let dir = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dir),
              let inode = resolve(name, in: dir) else {
            return req.reply(error: ENOENT)
        }
        replyEntry(req, inode, caller)
    }

    func getattr(_ req: Request, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>?) {
        guard let inode = Inode(number: UInt64(ino)), let caller = caller(req, seeing: inode) else {
            return req.reply(error: ENOENT)
        }
        replyAttr(req, inode, caller, fi)
    }

    func setattr(_ req: Request, _ ino: fuse_ino_t, _ attr: UnsafeMutablePointer<stat>, _ toSet: Int32,
                 _ fi: UnsafeMutablePointer<fuse_file_info>?) {
        guard let inode = Inode(number: UInt64(ino)), let caller = caller(req, seeing: inode) else {
            return req.reply(error: ENOENT)
        }
        if toSet & FUSE_SET_ATTR_MODE != 0 { return req.reply(error: EPERM) }
        if toSet & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) != 0 {
            // chown of a container directory delegates its subtree.
            guard inode.kind == .container, inode.serial != ContainerTree.rootSerial, inode.serial != caller.scope else {
                return req.reply(error: EPERM)
            }
            guard manager.isPrivileged(caller.identity) else { return req.reply(error: EPERM) }
            let uid: UInt32? = toSet & FUSE_SET_ATTR_UID != 0 ? UInt32(attr.pointee.st_uid) : nil
            let gid: UInt32? = toSet & FUSE_SET_ATTR_GID != 0 ? UInt32(attr.pointee.st_gid) : nil
            do { try manager.setOwner(inode.serial, uid: uid, gid: gid) } catch { return reply(req, error) }
            invalidateEntries(of: inode.serial)
        }
        if toSet & FUSE_SET_ATTR_SIZE != 0 {
            // Truncation is what `echo x > file` does first: accepted on the
            // writable control files, where a write replaces the value.
            guard case .control(let c) = inode.kind, c.isWritable, inode.serial != ContainerTree.rootSerial else {
                return req.reply(error: inode.kind == .container || inode.kind == .nsDirectory ? EISDIR : EACCES)
            }
            guard mayModify(caller, at: inode.serial) else { return req.reply(error: EACCES) }
        }
        replyAttr(req, inode, caller, fi)
    }

    func readlink(_ req: Request, _ ino: fuse_ino_t) {
        guard let inode = Inode(number: UInt64(ino)), case .namespace(let k) = inode.kind,
              let caller = caller(req, seeing: inode),
              let target = linkTarget(serial: inode.serial, kind: k, caller) else {
            return req.reply(error: ENOENT)
        }
        req.reply(link: target)
    }

    func mkdir(_ req: Request, _ parent: fuse_ino_t, _ name: [UInt8]) {
        guard let dir = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dir) else {
            return req.reply(error: ENOENT)
        }
        guard dir.kind == .container else { return req.reply(error: EPERM) }
        guard mayModify(caller, at: dir.serial) else { return req.reply(error: EACCES) }
        do {
            let serial = try manager.create(parent: dir.serial, name: name)
            replyEntry(req, Inode(serial: serial, kind: .container), caller)
        } catch {
            reply(req, error)
        }
    }

    /// Unlinking a control entry is accepted (rm -rf unlinks everything
    /// before it removes the directory) and changes nothing by itself.
    func unlink(_ req: Request, _ parent: fuse_ino_t, _ name: [UInt8]) {
        guard let dir = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dir),
              let inode = resolve(name, in: dir) else {
            return req.reply(error: ENOENT)
        }
        guard mayModify(caller, at: dir.serial) else { return req.reply(error: EACCES) }
        switch inode.kind {
        case .container: req.reply(error: EISDIR)
        case .nsDirectory: req.reply(error: EISDIR)
        case .control, .namespace: req.replyOK()
        }
    }

    func rmdir(_ req: Request, _ parent: fuse_ino_t, _ name: [UInt8]) {
        guard let dir = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dir),
              let inode = resolve(name, in: dir) else {
            return req.reply(error: ENOENT)
        }
        // Only containers strictly below the caller's own are reachable here:
        // its own container is the root of its view, with no parent it can name.
        guard mayModify(caller, at: dir.serial) else { return req.reply(error: EACCES) }
        switch inode.kind {
        case .control, .namespace:
            req.reply(error: ENOTDIR)
        case .nsDirectory:
            state.withLock { $0.nsGeneration[inode.serial, default: 0] += 1 }
            req.replyOK()
        case .container:
            do {
                try manager.remove(inode.serial)
                forgetSnapshots(serial: inode.serial)
                req.replyOK()
            } catch {
                reply(req, error)
            }
        }
    }

    func rename(_ req: Request, _ parent: fuse_ino_t, _ name: [UInt8], _ newParent: fuse_ino_t,
                _ newName: [UInt8], _ flags: UInt32) {
        guard let dir = Inode(number: UInt64(parent)), let caller = caller(req, seeing: dir),
              let inode = resolve(name, in: dir),
              let target = Inode(number: UInt64(newParent)), isVisible(target, in: caller.scope) else {
            return req.reply(error: ENOENT)
        }
        guard mayModify(caller, at: dir.serial, target.serial) else {
            return req.reply(error: EACCES)
        }
        if flags & 2 /* RENAME_EXCHANGE */ != 0 { return req.reply(error: EINVAL) }
        guard inode.kind == .container else { return req.reply(error: EPERM) }
        guard target.kind == .container else { return req.reply(error: target.kind == .nsDirectory ? EPERM : ENOTDIR) }
        do {
            try manager.rename(inode.serial, to: target.serial, name: newName)
            forgetSnapshots(serial: inode.serial)
            req.replyOK()
        } catch {
            reply(req, error)
        }
    }

    func open(_ req: Request, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let inode = Inode(number: UInt64(ino)), case .control(let c) = inode.kind,
              let caller = caller(req, seeing: inode) else {
            return req.reply(error: ENOENT)
        }
        let accessMode = fi.pointee.flags & O_ACCMODE
        let writing = accessMode != O_RDONLY
        if writing {
            guard c.isWritable, inode.serial != ContainerTree.rootSerial else { return req.reply(error: EACCES) }
            guard mayModify(caller, at: inode.serial) else { return req.reply(error: EACCES) }
        }
        let reading = accessMode != O_WRONLY
        // The caller's own snapshot if it just stat'ed the file (tar: the
        // size it saw is what it reads); else one is taken after the reply,
        // while the reader is on its way to its first read (this loop serves
        // no other request before it is in the handle).
        let kept = reading ? cachedSnapshot(inode, caller) : []
        let handle = newHandle { $0.files[$1] = OpenFile(inode: inode, bytes: kept, writable: writing) }
        req.reply(open: handle, directIO: true, flags: fi)
        if kept == nil {
            let bytes = generate(inode, caller)
            state.withLock { $0.files[handle]?.bytes = bytes }
        }
    }

    func read(_ req: Request, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let file = state.withLock({ $0.files[fi.pointee.fh] }) else { return req.reply(error: EBADF) }
        // No snapshot: the container was gone by the time it was taken.
        guard let bytes = file.bytes else { return req.reply(error: ENOENT) }
        let start = min(Int(offset), bytes.count)
        req.reply(bytes: bytes[start..<min(bytes.count, start + size)])
    }

    func write(_ req: Request, _ data: [UInt8], _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let file = state.withLock({ $0.files[fi.pointee.fh] }), file.writable,
              case .control(let c) = file.inode.kind else { return req.reply(error: EBADF) }
        guard offset == 0 else { return req.reply(error: EINVAL) }
        do {
            switch c {
            case .hostname: try manager.setHostname(file.inode.serial, data)
            case .freeze: try manager.setFrozen(file.inode.serial, data)
            default: return req.reply(error: EACCES)
            }
            forgetSnapshots(serial: file.inode.serial)
            req.reply(written: data.count)
        } catch {
            reply(req, error)
        }
    }

    func release(_ req: Request, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        _ = state.withLock { $0.files.removeValue(forKey: fi.pointee.fh) }
        req.replyOK()
    }

    func opendir(_ req: Request, _ ino: fuse_ino_t, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let inode = Inode(number: UInt64(ino)), caller(req, seeing: inode) != nil else {
            return req.reply(error: ENOENT)
        }
        let entries: [DirectoryEntry]? = manager.read { tree, _ in
            guard let node = tree.node(inode.serial) else { return nil }
            let parentSerial = node.parent ?? inode.serial
            switch inode.kind {
            case .container:
                return [DirectoryEntry(name: ".", inode: inode),
                        DirectoryEntry(name: "..", inode: Inode(serial: parentSerial, kind: .container))]
                    + tree.listing(of: inode.serial).map { DirectoryEntry(name: $0.name, inode: $0.inode) }
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
        guard let entries else { return req.reply(error: inode.kind == .container ? ENOENT : ENOTDIR) }
        let handle = newHandle { $0.directories[$1] = OpenDirectory(inode: inode, entries: entries) }
        req.reply(open: handle, directIO: false, flags: fi)
    }

    func readdir(_ req: Request, _ size: Int, _ offset: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        guard let dir = state.withLock({ $0.directories[fi.pointee.fh] }) else { return req.reply(error: EBADF) }
        // Checked on every read, not only at opendir: a descriptor opened on
        // the host lists nothing once its process has entered a container
        // (directory attributes are cached, so no getattr would stop it).
        guard caller(req, seeing: dir.inode) != nil else { return req.reply(error: ENOENT) }
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
            let n = fuse_add_direntry(req.raw, buf + used, size - used, e.name, &st, off_t(i + 1))
            if n > size - used { break }
            used += n
            i += 1
        }
        fuse_reply_buf(req.raw, buf, used)
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

    func releasedir(_ req: Request, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        _ = state.withLock { $0.directories.removeValue(forKey: fi.pointee.fh) }
        req.replyOK()
    }
}

