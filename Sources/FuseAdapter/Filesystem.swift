import CFuse3
import CFuseLoop
import ContainerRuntime
import ContainerTree
import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The FUSE adapter: answers each low-level request from the runtime. The
/// only module that imports libfuse; handlers are short, named after their
/// operation, and reply exactly once (by type: see `Request`) with explicit
/// timeouts. Requests are read by one loop thread; the few whose work can
/// block are answered from `workers`.
package final class NamespaceFilesystem: Sendable {
    let runtime: Runtime
    let mountTime = SystemTime.realtimeNanoseconds()
    let workers: Workers
    /// Requests that need a new look at a container's processes first (see
    /// withFreshSets): answered here, so that nobody else's waits for it.
    let lookers: Workers

    /// Names and the attributes of directories and links change only
    /// through this daemon: by requests the kernel itself sees (mkdir,
    /// rmdir, rename, chown) or by a container's death, which the watcher
    /// announces (notify_delete). So the kernel may keep them; the hour only
    /// bounds the damage of a missed invalidation. Control file sizes change
    /// with every fork and differ per reader: never cached.
    let entryTimeout = 3600.0
    let directoryAttrTimeout = 3600.0
    /// See replyEntry.
    let setEntryTimeout = 1.0

    /// The session, for telling the kernel what changed (set when mounted).
    let session = Mutex<SessionPointer?>(nil)
    let state = Mutex(OpenState())
    /// Work that can wait until the current request is answered; the loop
    /// thread runs it before it reads the next request.
    let upkeep = Mutex<[@Sendable () -> Void]>([])
    /// The thread that reads requests (set when it starts serving).
    let loopThread = Mutex<UInt?>(nil)
    /// What the request loop shares with the handlers on its thread.
    let loop = LoopState()
    /// The connection's token (see RequestTag) and how many daemons served
    /// it before this one, counting it.
    let connectionToken: UInt64
    let generation: UInt64

    /// File handles carry the daemon generation that made them in their
    /// top bits: a handle the kernel got from a daemon before this one (an
    /// open descriptor across a restart) is never mistaken for one of ours.
    static let handleGenerationShift: UInt64 = 40

    struct OpenState: Sendable {
        var nextHandle: UInt64 = 1
        var files: [UInt64: OpenFile] = [:]
        var directories: [UInt64: OpenDirectory] = [:]
        /// Recent contents per (inode, caller pid): tar stats a file, then
        /// opens it, and needs the same bytes both times.
        var snapshots = ExpiringCache<SnapshotKey, [UInt8]>(lifetime: 1_000_000_000)
        /// Bumped when rm -rf "removes" a container's ns/ directory: the
        /// kernel marks a removed directory's inode dead; a new generation
        /// makes it take a fresh one on the next lookup.
        var nsGeneration: [UInt64: UInt64] = [:]
        /// Control entries "removed" by an unlink, per unlinking thread:
        /// hidden from that thread for a moment, as if gone, so that a tool
        /// that unlinks a name to create it anew (tar x, cp
        /// --remove-destination) gets its create refused instead of finding
        /// the name again forever. Everyone else still sees them, and they
        /// come back by themselves; rm -rf reaches its rmdir well before.
        var unlinked = ExpiringCache<SnapshotKey, Bool>(lifetime: NamespaceFilesystem.unlinkedLifetime)
        /// The kernel's readdir cache (FOPEN_CACHE_DIR), per directory
        /// inode: the listing it was last filled with, and the handles open
        /// on it with the cache (see OpenDirectory.cached).
        var readdirCache: [UInt64: Int] = [:]
        var cachedOpens: [UInt64: (listing: Int, count: Int)] = [:]
    }

    /// How long an unlinked control entry stays hidden.
    static let unlinkedLifetime: Int64 = 1_000_000_000

    struct SnapshotKey: Hashable, Sendable { let inode: UInt64; let pid: Int32 }

    struct OpenFile: Sendable {
        let inode: Inode
        /// What the opener reads; nil if its container was gone by then.
        var bytes: [UInt8]?
        let writable: Bool
        /// Made by create (tar x restoring a snapshot): see `restore`.
        var restoring = false
    }

    struct OpenDirectory: Sendable {
        let inode: Inode
        let entries: [DirectoryEntry]
        /// Read through the kernel's readdir cache: a fingerprint of
        /// `entries`, nil if read from here every time.
        var cached: Int? = nil
    }

    struct DirectoryEntry: Sendable {
        let name: String
        let inode: Inode
        /// S_IF* bits: a set's ns is a link (see ContainerTree.isNamespaceLink).
        let fileType: mode_t
        /// A set's directory (its entry goes out with readdirplus).
        let isSet: Bool

        init(name: String, inode: Inode, isLink: Bool = false, isSet: Bool = false) {
            self.name = name
            self.inode = inode
            fileType = isLink ? S_IFLNK : inode.kind.fileType
            self.isSet = isSet
        }
    }

    /// `connectionToken`, `generation`: see the properties.
    /// `dropWorkerReplies`: testing only (see Workers).
    package init(runtime: Runtime, connectionToken: UInt64, generation: UInt64, dropWorkerReplies: Bool = false) {
        self.runtime = runtime
        self.connectionToken = connectionToken
        self.generation = generation
        workers = Workers(dropReplies: dropWorkerReplies)
        lookers = Workers(dropReplies: false, name: "nsfs-looker", realTime: false)
        let first = generation << Self.handleGenerationShift | 1
        state.withLock { $0.nextHandle = first }
    }

    /// The request being handled on the loop thread (see Request.unique).
    var currentUnique: UInt64 { loop.pointer.pointee.unique }

    /// The name records keep of a request (without the resend mark).
    func tag(_ unique: UInt64) -> RequestTag {
        RequestTag(connection: connectionToken, unique: unique & ~Request.resendMark)
    }

    /// Was this handle made by a daemon before this one?
    func isInherited(_ handle: UInt64) -> Bool {
        Decide.isInherited(handle, generation: generation, shift: Self.handleGenerationShift)
    }

    /// Wait for the requests workers still answer (a handover), up to `milliseconds`.
    package func drainWorkers(milliseconds: Int) -> Bool {
        workers.drain(milliseconds: milliseconds) && lookers.drain(milliseconds: milliseconds)
    }

    // MARK: the loop thread

    /// Run after each request, on the loop thread.
    func runUpkeep() {
        let batch = upkeep.withLock { w -> [@Sendable () -> Void] in
            defer { w.removeAll(keepingCapacity: true) }
            return w
        }
        for body in batch { body() }
    }

    func afterReply(_ body: @escaping @Sendable () -> Void) { upkeep.withLock { $0.append(body) } }

    /// Handlers that rely on being the only one running (an open's snapshot
    /// is in its handle before the read that needs it is served) assert it.
    func assertOnLoopThread() {
        assert(loopThread.withLock { $0 } == BackgroundThread.currentID, "must run on the request loop thread")
    }

    // MARK: telling the kernel what changed without a request

    /// Tell the kernel that containers vanished without a request (their init
    /// died). Never call this from a request handler: the kernel takes the
    /// parent directory's lock, which a handler's caller may hold.
    package func notifyRemoved(_ removals: [Lifecycle.Removal]) {
        guard let se = session.withLock({ $0 })?.raw else { return }
        var parents = Set<UInt64>()
        for r in removals {
            let parent = Inode(serial: r.parent, kind: .container).number
            let child = Inode(serial: r.serial, kind: .container).number
            _ = fuse_lowlevel_notify_delete(se, fuse_ino_t(parent), fuse_ino_t(child), r.name, r.name.utf8.count)
            parents.insert(parent)
        }
        // Their st_nlink changed.
        for p in parents { _ = fuse_lowlevel_notify_inval_inode(se, fuse_ino_t(p), -1, 0) }
        for r in removals { forgetSnapshots(serial: r.serial) }
    }

    /// The kernel caches the attributes of ns/ and its links, which show the
    /// container's owner: drop them after a chown. Other inodes than the
    /// request's, without pages: safe from a handler.
    func invalidateEntries(of serial: UInt64) {
        guard let se = session.withLock({ $0 })?.raw else { return }
        var inodes = [Inode(serial: serial, kind: .nsDirectory)]
        inodes += NamespaceKind.allCases.map { Inode(serial: serial, kind: .namespace($0)) }
        for i in inodes { _ = fuse_lowlevel_notify_inval_inode(se, fuse_ino_t(i.number), -1, 0) }
    }

    /// Names a look took away (sets gone or moved): the kernel forgets them.
    /// Never on the request thread: the kernel takes the parent directory's
    /// lock, which a caller waiting for that thread (an unlink there) may hold.
    func invalidateNames(_ names: [(serial: UInt64, parent: UInt64, name: String)]) {
        guard !names.isEmpty, let se = session.withLock({ $0 })?.raw else { return }
        for n in names {
            _ = fuse_lowlevel_notify_inval_entry(se, fuse_ino_t(Inode(serial: n.parent, kind: .container).number), n.name, n.name.utf8.count)
        }
    }

    /// The attributes of a container and of its sets (their st_nlink).
    func invalidateAttributes(below container: UInt64, andOf more: [UInt64] = []) {
        guard let se = session.withLock({ $0 })?.raw else { return }
        let serials = [container] + decide { $0.sets(below: container) } + more
        for s in serials { _ = fuse_lowlevel_notify_inval_inode(se, fuse_ino_t(Inode(serial: s, kind: .container).number), -1, 0) }
    }

    // MARK: attributes

    /// Attributes of an inode, or nil when it no longer exists.
    func attributes(_ inode: Inode, _ caller: Caller, handleBytes: [UInt8]? = nil) -> stat? {
        let info = runtime.registry.withTree { t, _ -> (links: Int, created: Int64?, owner: ContainerTree.Owner, mode: UInt16, isLink: Bool)? in
            guard let n = t.visibleNode(inode.serial) else { return nil }
            // A writable entry belongs to whoever manages the parent (see
            // ContainerTree.mayChange); the rest, to the container's owner.
            var owner = n.owner
            if case .control(let c) = inode.kind, c.isWritable, let o = t.entryOwner(of: inode.serial) { owner = o }
            return (t.linkCount(of: inode), n.created, owner, n.mode, t.isNamespaceLink(inode))
        }
        guard let info else { return nil }
        var st = stat()
        st.st_ino = ino_t(inode.number)
        st.st_nlink = nlink_t(info.links)
        // The owner of a container directory owns its entries too (delegation).
        st.st_uid = uid_t(info.owner.uid)
        st.st_gid = gid_t(info.owner.gid)
        st.st_blksize = 4096
        let created = info.created ?? mountTime
        let t = timespec(tv_sec: Int(created / 1_000_000_000), tv_nsec: Int(created % 1_000_000_000))
        st.st_atim = t
        st.st_mtim = t
        st.st_ctim = t
        switch inode.kind {
        case .container:
            st.st_mode = inode.kind.fileType | mode_t(info.mode)
        case .nsDirectory where info.isLink:
            st.st_mode = S_IFLNK | 0o777
        case .nsDirectory:
            st.st_mode = inode.kind.fileType | 0o555
        case .namespace:
            // Size 0, as procfs's own namespace links: the target differs per
            // reader (pid in its namespace), the cached attributes may not.
            st.st_mode = inode.kind.fileType | 0o777
        case .control(let c):
            st.st_mode = inode.kind.fileType | (c.isWriteOnly ? 0o200 : c.isWritable && inode.serial != ContainerTree.rootSerial ? 0o644 : 0o444)
            if c == .log {
                // Read as it grows (tail -f): its size now, never a snapshot.
                guard let id = runtime.files.id(of: inode.serial) else { return nil }
                st.st_size = off_t(runtime.lifecycle.logs.size(id))
            } else {
                guard let bytes = handleBytes ?? snapshot(inode, caller) else { return nil }
                st.st_size = off_t(bytes.count)
            }
        }
        st.st_blocks = (st.st_size + 511) / 512
        return st
    }

    func attrTimeout(_ inode: Inode) -> Double {
        switch inode.kind {
        // st_nlink counts the sets below, which change without a request:
        // discovery invalidates it when a look finds a change.
        case .container, .nsDirectory, .namespace: directoryAttrTimeout
        case .control: 0
        }
    }

    // MARK: contents

    /// The bytes of a control file as `caller` sees them now (for a stat),
    /// reusing one taken for the same caller (thread) within the last second
    /// and kept for its next request: tar stats a file and then opens it.
    func snapshot(_ inode: Inode, _ caller: Caller) -> [UInt8]? {
        let now = SystemTime.monotonicNanoseconds()
        if let bytes = cachedSnapshot(inode, caller, now: now) { return bytes }
        guard let bytes = generate(inode, caller) else { return nil }
        state.withLock { $0.snapshots.store(bytes, for: SnapshotKey(inode: inode.number, pid: caller.tid), now: now) }
        return bytes
    }

    /// The bytes `snapshot` kept for this caller, if still fresh.
    func cachedSnapshot(_ inode: Inode, _ caller: Caller, now: Int64 = SystemTime.monotonicNanoseconds()) -> [UInt8]? {
        state.withLock { $0.snapshots.value(for: SnapshotKey(inode: inode.number, pid: caller.tid), now: now) }
    }

    func forgetSnapshots(serial: UInt64) {
        state.withLock { $0.snapshots.removeAll { Inode(number: $0.inode)?.serial == serial } }
    }

    /// Contents as the caller sees them: paths relative to its container,
    /// pids in its pid namespace (looked up only for files that show pids).
    /// `looked`: the container's processes are known current for this request.
    func generate(_ inode: Inode, _ caller: Caller, looked: Bool = false) -> [UInt8]? {
        guard case .control(let c) = inode.kind else { return nil }
        let s = inode.serial
        // Processes and sets as they are now.
        if !looked && (c == .procs || c == .status) { discover(Inode(serial: s, kind: .container)) }
        let files = runtime.files
        switch c {
        case .status: return files.status(s, view: caller.identity.pidView, scope: caller.scope)
        case .procs: return files.procs(s, view: caller.identity.pidView)
        case .hostname:
            do { return try files.hostname(s) } catch { Log.line("\(error)"); return nil }
        case .freeze: return files.freeze(s)
        case .signal, .mkdir: return []
        case .root: return files.root(s)
        case .mounts: return files.volumes(s)
        case .log: return []
        case let l: return files.limit(s, l)
        }
    }

    /// `/proc/PID/ns/TYPE` of the container's init, PID as the reader sees
    /// it (the link resolves in the reader's /proc); nil if it cannot.
    /// `kind` nil: a set's ns itself (`/proc/PID/ns`).
    func linkTarget(serial: UInt64, kind: NamespaceKind?, _ caller: Caller) -> String? {
        let target: Int32
        if serial == ContainerTree.rootSerial {
            target = getpid()
        } else {
            guard let pid = runtime.files.initPid(serial, kind: kind ?? .mnt) else { return nil }
            target = pid
        }
        guard let seen = caller.identity.pidView.translate(target) else { return nil }
        return kind.map { "/proc/\(seen)/ns/\($0.name)" } ?? "/proc/\(seen)/ns"
    }
}

/// The loop's shared state (cfuse3_loop_state), for the life of the
/// filesystem. Unchecked Sendable: only the loop thread writes and reads it.
final class LoopState: @unchecked Sendable {
    let pointer = UnsafeMutablePointer<cfuse3_loop_state>.allocate(capacity: 1)
    init() { pointer.initialize(to: cfuse3_loop_state()) }
    deinit { pointer.deallocate() }
}

/// libfuse's session pointer. Unchecked Sendable: it wraps a C pointer that
/// libfuse lets any thread use for notifications.
struct SessionPointer: @unchecked Sendable {
    let raw: OpaquePointer
}

/// A request's caller, identified once per request: the thread, its uid, and
/// which container it is in.
struct Caller: Sendable {
    let uid: uid_t
    let gid: gid_t
    let identity: Callers.Identity

    var tid: Int32 { identity.thread.pid }
    var scope: UInt64 { identity.container }
}

extension EntryKind {
    /// The S_IF* type bits of the entry.
    var fileType: mode_t {
        switch self {
        case .container, .nsDirectory: S_IFDIR
        case .namespace: S_IFLNK
        case .control: S_IFREG
        }
    }
}
