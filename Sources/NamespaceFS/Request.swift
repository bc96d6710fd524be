import CFuse3
#if canImport(Glibc)
import Glibc
#endif

/// One FUSE request and its replies. Every handler ends in exactly one reply.
struct Request {
    let raw: fuse_req_t

    struct Context { let uid: uid_t; let gid: gid_t; let pid: pid_t }

    var context: Context {
        let c = fuse_req_ctx(raw)!.pointee
        return Context(uid: c.uid, gid: c.gid, pid: c.pid)
    }

    func reply(error: Int32) { fuse_reply_err(raw, error) }

    func replyOK() { fuse_reply_err(raw, 0) }

    func reply(entry ino: UInt64, generation: UInt64, attr: stat, entryTimeout: Double, attrTimeout: Double) {
        var e = fuse_entry_param()
        e.ino = fuse_ino_t(ino)
        e.generation = generation
        e.attr = attr
        e.entry_timeout = entryTimeout
        e.attr_timeout = attrTimeout
        fuse_reply_entry(raw, &e)
    }

    func reply(attr: stat, timeout: Double) {
        var a = attr
        fuse_reply_attr(raw, &a, timeout)
    }

    func reply(link: String) { fuse_reply_readlink(raw, link) }

    func reply(open handle: UInt64, directIO: Bool, flags: UnsafeMutablePointer<fuse_file_info>) {
        flags.pointee.fh = handle
        flags.pointee.direct_io = directIO ? 1 : 0
        flags.pointee.keep_cache = 0
        fuse_reply_open(raw, flags)
    }

    func reply(bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { p in _ = fuse_reply_buf(raw, p.baseAddress?.assumingMemoryBound(to: CChar.self), p.count) }
    }

    func reply(written: Int) { fuse_reply_write(raw, written) }

    func replyNone() { fuse_reply_none(raw) }
}

extension UnsafePointer<CChar> {
    /// A name from the kernel, as bytes (it may not be UTF-8).
    var nameBytes: [UInt8] {
        let n = strlen(self)
        return withMemoryRebound(to: UInt8.self, capacity: n) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }
}
