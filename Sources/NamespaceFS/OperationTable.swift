import CFuse3
#if canImport(Glibc)
import Glibc
#endif

/// The filesystem object behind a request (handed over as userdata: C
/// callbacks cannot capture context).
@inline(__always)
private func filesystem(_ req: fuse_req_t?) -> NamespaceFilesystem {
    Unmanaged<NamespaceFilesystem>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
}

/// The libfuse callback table. Built outside main-actor code: a closure
/// formed there traps when libfuse calls it from another thread.
nonisolated func makeOperationTable() -> fuse_lowlevel_ops {
    var ops = fuse_lowlevel_ops()
    ops.`init` = { _, conn in
        // Reads are direct: the kernel pins the reader's whole buffer up to
        // max_read, faulting in pages a small file never fills (cat's 128 KiB
        // buffer: 32 faults per read). Must match the mount option.
        conn!.pointee.max_read = FuseSession.maxRead
    }
    ops.lookup = { req, parent, name in filesystem(req).lookup(Request(raw: req!), parent, name!.nameBytes) }
    // Inode numbers are never reused (serials only grow), so there is no
    // per-inode state to release when the kernel forgets one.
    ops.forget = { req, _, _ in fuse_reply_none(req) }
    ops.forget_multi = { req, _, _ in fuse_reply_none(req) }
    ops.getattr = { req, ino, fi in filesystem(req).getattr(Request(raw: req!), ino, fi) }
    ops.setattr = { req, ino, attr, toSet, fi in filesystem(req).setattr(Request(raw: req!), ino, attr!, toSet, fi) }
    ops.readlink = { req, ino in filesystem(req).readlink(Request(raw: req!), ino) }
    ops.mkdir = { req, parent, name, _ in filesystem(req).mkdir(Request(raw: req!), parent, name!.nameBytes) }
    ops.unlink = { req, parent, name in filesystem(req).unlink(Request(raw: req!), parent, name!.nameBytes) }
    ops.rmdir = { req, parent, name in filesystem(req).rmdir(Request(raw: req!), parent, name!.nameBytes) }
    ops.rename = { req, parent, name, newParent, newName, flags in
        filesystem(req).rename(Request(raw: req!), parent, name!.nameBytes, newParent, newName!.nameBytes, flags)
    }
    // Only containers may be created, and only with mkdir.
    ops.mknod = { req, _, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.symlink = { req, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.link = { req, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.create = { req, _, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.open = { req, ino, fi in filesystem(req).open(Request(raw: req!), ino, fi!) }
    ops.read = { req, _, size, off, fi in filesystem(req).read(Request(raw: req!), size, off, fi!) }
    ops.write = { req, _, buf, size, off, fi in
        let data = buf!.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
        filesystem(req).write(Request(raw: req!), data, off, fi!)
    }
    ops.release = { req, _, fi in filesystem(req).release(Request(raw: req!), fi!) }
    ops.opendir = { req, ino, fi in filesystem(req).opendir(Request(raw: req!), ino, fi!) }
    ops.readdir = { req, _, size, off, fi in filesystem(req).readdir(Request(raw: req!), size, off, fi!) }
    ops.releasedir = { req, _, fi in filesystem(req).releasedir(Request(raw: req!), fi!) }
    return ops
}
