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
    ops.lookup = { req, parent, name in _ = filesystem(req).lookup(Request(req!, "lookup"), parent, name!.nameBytes) }
    // Inode numbers are never reused (serials only grow), so there is no
    // per-inode state to release when the kernel forgets one.
    ops.forget = { req, _, _ in fuse_reply_none(req) }
    ops.forget_multi = { req, _, _ in fuse_reply_none(req) }
    ops.getattr = { req, ino, fi in _ = filesystem(req).getattr(Request(req!, "getattr"), ino, fi) }
    ops.setattr = { req, ino, attr, toSet, fi in _ = filesystem(req).setattr(Request(req!, "setattr"), ino, attr!, toSet, fi) }
    ops.readlink = { req, ino in _ = filesystem(req).readlink(Request(req!, "readlink"), ino) }
    // The requests that change the tree carry their id: one the kernel sends
    // again after a daemon died may have been done already.
    ops.mkdir = { req, parent, name, mode in
        let fs = filesystem(req)
        _ = fs.mkdir(Request(req!, "mkdir", unique: fs.currentUnique), parent, name!.nameBytes, mode)
    }
    ops.unlink = { req, parent, name in
        let fs = filesystem(req)
        _ = fs.unlink(Request(req!, "unlink", unique: fs.currentUnique), parent, name!.nameBytes)
    }
    ops.rmdir = { req, parent, name in
        let fs = filesystem(req)
        _ = fs.rmdir(Request(req!, "rmdir", unique: fs.currentUnique), parent, name!.nameBytes)
    }
    ops.rename = { req, parent, name, newParent, newName, flags in
        let fs = filesystem(req)
        _ = fs.rename(Request(req!, "rename", unique: fs.currentUnique), parent, name!.nameBytes, newParent, newName!.nameBytes, flags)
    }
    // Only containers may be created, and only with mkdir: tar x, cp -r,
    // rsync and install get EPERM for every file they try to make.
    ops.mknod = { req, _, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.symlink = { req, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.link = { req, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.create = { req, _, _, _, _ in fuse_reply_err(req, EPERM) }
    ops.open = { req, ino, fi in _ = filesystem(req).open(Request(req!, "open"), ino, fi!) }
    ops.read = { req, ino, size, off, fi in _ = filesystem(req).read(Request(req!, "read"), ino, size, off, fi!) }
    ops.write = { req, ino, buf, size, off, fi in
        let data = buf!.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
        _ = filesystem(req).write(Request(req!, "write"), ino, data, off, fi!)
    }
    ops.release = { req, _, fi in _ = filesystem(req).release(Request(req!, "release"), fi!) }
    ops.opendir = { req, ino, fi in _ = filesystem(req).opendir(Request(req!, "opendir"), ino, fi!) }
    ops.readdir = { req, ino, size, off, fi in _ = filesystem(req).readdir(Request(req!, "readdir"), ino, size, off, fi!) }
    ops.releasedir = { req, _, fi in _ = filesystem(req).releasedir(Request(req!, "releasedir"), fi!) }
    return ops
}
