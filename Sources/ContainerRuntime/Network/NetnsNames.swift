import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// -o netns=names: every container's net namespace bound at
/// `/run/netns/NAME`, where `ip netns` (and `lsns`, `ip link set DEV netns
/// NAME`) look. NAME is its path without the leading `/`, each `/` a `.`
/// (`/web/job` is `web.job`). On a collision (two paths give one name, or
/// the name is someone else's file there) the container made first keeps
/// it and the other gets `NAME~ID8` (its id's first 8 hex digits).
/// Renamed with `mv`, removed with the container, rebuilt after a restart.
package final class NetnsNames: Sendable {
    static let directory = "/run/netns"
    /// The names bound now, by container id: only these are ever removed.
    /// Kept in the state directory (`netns-names`, `ID NAME` lines): a next
    /// daemon unbinds those of containers gone meanwhile.
    private let bound: Mutex<[UInt64: String]>
    private let file: String
    /// One reconciliation at a time; true once the names loaded from the
    /// state directory were checked against the kernel (then the map is
    /// trusted: a mkdir does not stat every container's name).
    private let busy = Mutex<Bool>(false)

    package init(stateDirectory: String) {
        let file = stateDirectory + "/netns-names"
        self.file = file
        var loaded: [UInt64: String] = [:]
        for line in (ifReadable({ try FileIO.readString(file) }) ?? "").split(separator: "\n") {
            guard let space = line.firstIndex(of: " "), let id = UInt64(line[..<space], radix: 16) else { continue }
            let n = String(line[line.index(after: space)...])
            if !n.isEmpty, !n.contains("/"), n != ".", n != ".." { loaded[id] = n }
        }
        bound = Mutex(loaded)
    }

    /// Did a mount of this state directory name namespaces?
    package static func recorded(stateDirectory: String) -> Bool { access(stateDirectory + "/netns-names", F_OK) == 0 }

    /// `NAME~ID8`: the name of a container whose name was taken.
    static func alternative(_ n: String, _ id: UInt64) -> String { String(n.prefix(190)) + "~" + String(hex(id).prefix(8)) }

    /// What a container at `path` is called.
    static func name(path: [String]) -> String { path.joined(separator: ".") }

    struct Wanted {
        let id: UInt64
        let serial: UInt64
        let path: [String]
        let process: ProcessHandle
    }

    /// Bind what is missing, move what was renamed, unbind what is gone.
    func sync(_ wanted: [Wanted]) {
        busy.withLock { checked in
            // (a mount without the option, once the names it found are gone)
            if checked && wanted.isEmpty && bound.withLock({ $0.isEmpty }) { return }
            var names: [UInt64: String] = [:]
            var taken: Set<String> = []
            for w in wanted.sorted(by: { $0.serial < $1.serial }) {
                var n = Self.name(path: w.path)
                if n.utf8.count > 200 || taken.contains(n) { n = Self.alternative(n, w.id) }
                taken.insert(n)
                names[w.id] = n
            }
            let before = bound.withLock { $0 }
            // What a container has now is its name, or that name's
            // alternative if someone else's file took it.
            func keeps(_ id: UInt64, _ had: String?) -> Bool {
                guard let had, let n = names[id] else { return false }
                return had == n || had == Self.alternative(n, id)
            }
            // Unbind first: a name may pass from one container to another.
            for (id, n) in before where !keeps(id, n) { unbind(n) }
            var now: [UInt64: String] = [:]
            for w in wanted {
                guard let n = names[w.id] else { continue }
                if let had = before[w.id], keeps(w.id, had), checked || isBound(had, to: w.process) { now[w.id] = had; continue }
                switch bind(n, to: w.process) {
                case .bound: now[w.id] = n
                case .someoneElses:
                    let other = Self.alternative(n, w.id)
                    if bind(other, to: w.process) == .bound { now[w.id] = other }
                case .failed: break
                }
            }
            bound.withLock { $0 = now }
            checked = true
            if now.isEmpty && wanted.isEmpty {
                unlink(file)
                return
            }
            guard now != before else { return }
            let text = now.sorted { $0.key < $1.key }.map { "\(hex($0.key)) \($0.value)\n" }.joined()
            if !bestEffort({ () throws(Errno) in try FileIO.replaceAtomically(file, with: Array(text.utf8)) }) {
                Log.line("netns: cannot record the names in \(file)")
            }
        }
    }

    private func path(_ n: String) -> String { Self.directory + "/" + n }

    private func isBound(_ n: String, to p: ProcessHandle) -> Bool {
        guard let ns = ifReadable({ try p.namespace(.net) }) else { return false }
        var a = stat(), b = stat()
        return stat(path(n), &a) == 0 && fstat(ns.rawValue, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev
    }

    enum Bound { case bound, someoneElses, failed }

    /// Someone else's file of that name is left alone.
    private func bind(_ n: String, to p: ProcessHandle) -> Bound {
        if isBound(n, to: p) { return .bound }
        do throws(Errno) {
            try FileIO.makeDirectories(Self.directory)
            let fd = open(path(n), O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o444)
            if fd < 0 && errno == EEXIST { return .someoneElses }
            if fd < 0 { throw Errno.current }
            close(fd)
            let ns = try p.namespace(.net)
            if mount("/proc/self/fd/\(ns.rawValue)", path(n), nil, UInt(MS_BIND), nil) != 0 {
                let e = Errno.current
                unlink(path(n))
                throw e
            }
            return .bound
        } catch {
            Log.line("netns: cannot name a net namespace \(path(n)): \(error)")
            return .failed
        }
    }

    private func unbind(_ n: String) {
        if umount2(path(n), Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
            Log.line("netns: cannot unmount \(path(n)): \(Errno.current)")
            return
        }
        unlink(path(n))
    }
}
