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

/// The request as the handlers take it, with the kernel's id of it (the
/// loop noted it before libfuse called us, on this thread): one the kernel
/// sends again after a daemon died may have been done already.
@inline(__always)
private func request(_ req: fuse_req_t?, _ operation: StaticString) -> Request {
    Request(req!, operation, unique: filesystem(req).currentUnique)
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
        // Every listing with its entries' inodes (readdirplus), not only its
        // first page: `rm -rf` of a container of 2,000 sets looked each one
        // up (the entries past the first 25). Containers' entries go
        // without (see readdir), so `ls -l` and `find` look them up as
        // before.
        conn!.pointee.want &= ~UInt32(FUSE_CAP_READDIRPLUS_AUTO)
    }
    ops.lookup = { req, parent, name in _ = filesystem(req).lookup(request(req, "lookup"), parent, name!.nameBytes) }
    // Inode numbers are never reused (serials only grow), so there is no
    // per-inode state to release when the kernel forgets one.
    ops.forget = { req, _, _ in fuse_reply_none(req) }
    ops.forget_multi = { req, _, _ in fuse_reply_none(req) }
    ops.getattr = { req, ino, fi in _ = filesystem(req).getattr(request(req, "getattr"), ino, fi) }
    ops.setattr = { req, ino, attr, toSet, fi in _ = filesystem(req).setattr(request(req, "setattr"), ino, attr!, toSet, fi) }
    ops.readlink = { req, ino in _ = filesystem(req).readlink(request(req, "readlink"), ino) }
    ops.mkdir = { req, parent, name, mode in _ = filesystem(req).mkdir(request(req, "mkdir"), parent, name!.nameBytes, mode) }
    ops.unlink = { req, parent, name in _ = filesystem(req).unlink(request(req, "unlink"), parent, name!.nameBytes) }
    ops.rmdir = { req, parent, name in _ = filesystem(req).rmdir(request(req, "rmdir"), parent, name!.nameBytes) }
    ops.rename = { req, parent, name, newParent, newName, flags in
        _ = filesystem(req).rename(request(req, "rename"), parent, name!.nameBytes, newParent, newName!.nameBytes, flags)
    }
    // Only containers may be created, and only with mkdir: tar x, cp -r,
    // rsync and install get EPERM for every file they try to make.
    ops.mknod = { req, _, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.symlink = { req, _, parent, name in _ = filesystem(req).symlink(request(req, "symlink"), parent, name!.nameBytes) }
    ops.link = { req, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.create = { req, parent, name, _, fi in _ = filesystem(req).create(request(req, "create"), parent, name!.nameBytes, fi!) }
    ops.open = { req, ino, fi in _ = filesystem(req).open(request(req, "open"), ino, fi!) }
    ops.read = { req, ino, size, off, fi in _ = filesystem(req).read(request(req, "read"), ino, size, off, fi!) }
    ops.write = { req, ino, buf, size, off, fi in
        let data = buf!.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
        _ = filesystem(req).write(request(req, "write"), ino, data, off, fi!)
    }
    ops.release = { req, _, fi in _ = filesystem(req).release(request(req, "release"), fi!) }
    ops.opendir = { req, ino, fi in _ = filesystem(req).opendir(request(req, "opendir"), ino, fi!) }
    ops.readdir = { req, ino, size, off, fi in _ = filesystem(req).readdir(request(req, "readdir"), ino, size, off, fi!) }
    ops.readdirplus = { req, ino, size, off, fi in
        _ = filesystem(req).readdir(request(req, "readdirplus"), ino, size, off, fi!, plus: true)
    }
    ops.releasedir = { req, _, fi in _ = filesystem(req).releasedir(request(req, "releasedir"), fi!) }
    return ops
}
