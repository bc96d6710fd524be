import CNamespaceShim
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Root filesystems of containers' own (the `root` entry, `-o root=`): an
/// image directory, never changed, as the lower layer of an overlay whose
/// upper layer is the container's own, `STORAGE/<id>/layer/upper`. Both are
/// seen through an idmapped mount on the container's user namespace: files
/// the host's root owns are its root's, and what its root writes is the
/// host root's on disk. The work is the shim's (root.c); here are the
/// storage and the checks.
package struct RootFilesystems: Sendable {
    package static let defaultStorage = "/var/lib/namespacefs"
    /// Longest image path taken (a record is one 4 KiB slot).
    static let maximumPathBytes = 1024

    /// -o storage=DIR that cannot be used, in words; nil if it can (the
    /// overlay's options are separated by `,` and `:`).
    package static func storageRefusal(_ path: String) -> String? {
        guard path.hasPrefix("/"), path.count > 1 else { return "must be an absolute path" }
        guard !path.contains(where: { ",:\\\n".contains($0) }) else { return "must not contain , : \\ or a newline" }
        guard !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else { return "must not contain . or .." }
        return nil
    }

    let storage: String
    /// The tree's mount point: the view's directory in every new root.
    let view: String

    /// `STORAGE/<id>`: one container's own layer.
    func directory(of id: UInt64) -> String { storage + "/" + hex(id) }

    /// The image a writer of `root` named (one line, an absolute path),
    /// as the host sees it.
    static func image(from bytes: [UInt8], writer: Int32) throws(RuntimeError) -> String {
        var b = bytes
        if b.last == 10 { b.removeLast() }
        guard !b.isEmpty else { throw RuntimeError(rejected: .invalid, "root: a container's root cannot be given back (empty write)") }
        guard let path = String(validating: b, as: UTF8.self) else { throw RuntimeError(rejected: .invalid, "root: not UTF-8") }
        return try hostDirectory(path, writer: writer, entry: "root")
    }

    /// `path` (absolute, at most `maximumPathBytes`) resolved as the host
    /// sees it: a directory, which the writer (`/proc/WRITER/root`) must
    /// see as the same one (EXDEV otherwise: a directory only the writer
    /// sees, inside a root of its own, is not taken). `canonical`: no
    /// symbolic link, `.` or `..` on the way (ELOOP, EINVAL).
    static func hostDirectory(_ path: String, writer: Int32, entry: String, canonical: Bool = false) throws(RuntimeError) -> String {
        guard path.hasPrefix("/"), path.utf8.count <= maximumPathBytes, !path.utf8.contains(0), !path.utf8.contains(10) else {
            throw RuntimeError(rejected: .invalid, "\(entry): takes an absolute path of at most \(maximumPathBytes) bytes")
        }
        if canonical && path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) {
            throw RuntimeError(rejected: .invalid, "\(entry): \(path) has . or .. in it")
        }
        guard let resolved = realpath(path, nil) else { throw RuntimeError(rejected: Errno(errno), "\(entry): \(path)") }
        let real = String(cString: resolved)
        free(resolved)
        if canonical && real != (path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path) {
            throw RuntimeError(rejected: Errno(ELOOP), "\(entry): \(path) passes a symbolic link (it is \(real))")
        }
        var host = stat(), seen = stat()
        guard stat(real, &host) == 0 else { throw RuntimeError(rejected: Errno(errno), "\(entry): \(real)") }
        guard host.st_mode & S_IFMT == S_IFDIR else { throw RuntimeError(rejected: Errno(ENOTDIR), "\(entry): \(real)") }
        guard stat("/proc/\(writer)/root" + path, &seen) == 0, seen.st_dev == host.st_dev, seen.st_ino == host.st_ino else {
            throw RuntimeError(rejected: Errno(EXDEV), "\(entry): \(path) is not the same directory for the writer and the host")
        }
        return real
    }

    /// Give the container whose init is `process` the root `image`, with a
    /// fresh layer of its own (`idBase`: its root's host id; nil: the
    /// host's user namespace, no id mapping). `idmap` false: files keep
    /// their owners (ids the host's root asked for: the engine's files).
    func give(_ image: String, to process: ProcessHandle, id: UInt64, idBase: UInt32?, idmap: Bool, name: String) throws(RuntimeError) {
        if image == storage || image.hasPrefix(storage + "/") || storage.hasPrefix(image + "/") {
            throw RuntimeError(Errno(EINVAL), "root: \(image) overlaps the storage \(storage)")
        }
        do throws(TrustedDirectory.Refusal) { try TrustedDirectory.ensure(storage, mode: 0o700) } catch {
            throw RuntimeError(Errno(EACCES), "root: refusing the storage directory: \(error)")
        }
        let dir = directory(of: id)
        remove(id: id)
        do throws(Errno) {
            for (path, mode) in [(dir, 0o700), (dir + "/layer", 0o700), (dir + "/layer/upper", 0o755), (dir + "/layer/work", 0o700)] {
                try FileIO.makeDirectory(path, mode: mode_t(mode))
            }
        } catch {
            remove(id: id)
            throw RuntimeError(error, "root: cannot make the layer of \(name) in \(storage)")
        }
        var userns: OwnedDescriptor?
        var layers: [String] = []
        if idBase != nil && idmap {
            do throws(Errno) { userns = try process.namespace(.user) } catch {
                remove(id: id)
                throw RuntimeError(error, "root: cannot open the user namespace of \(name)")
            }
            // An overlay (an engine's image, podman's `merged`) cannot be
            // idmapped itself: its layers are, one by one.
            if let m = (ifReadable({ try MountInfo.current() }) ?? []).last(where: { $0.mountPoint == image }), m.fsType == "overlay" {
                guard m.root == "/", let l = MountInfo.overlayLayers(m.superOptions), l.count <= Int(NSFS_MAX_LAYERS) else {
                    remove(id: id)
                    throw RuntimeError(Errno(EINVAL), "root: \(image) is an overlay whose layers its options do not name plainly (at most \(NSFS_MAX_LAYERS), absolute)")
                }
                layers = l
            }
        }
        var step: Int32 = 0
        let cLayers = layers.map { UnsafePointer(strdup($0)) }
        defer { cLayers.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        let rc = image.withCString { i in
            dir.withCString { d in
                view.withCString { v in
                    cLayers.withUnsafeBufferPointer { l in
                        var req = nsfs_root_request(init_pidfd: process.descriptor.rawValue, userns_fd: userns?.rawValue ?? -1,
                                                    root_uid: idBase ?? 0, root_gid: idBase ?? 0, image: i, storage: d, view: v,
                                                    layers: l.baseAddress, nlayers: Int32(l.count))
                        return nsfs_apply_root(&req, &step)
                    }
                }
            }
        }
        guard rc == 0 else {
            remove(id: id)
            throw RuntimeError(Errno(-rc), "root: cannot give \(name) the root \(image): \(Self.stepName(step))")
        }
    }

    /// Bind-mount a volume's host directory into the running container
    /// (idmapped on its user namespace when it has one, `idBase`, and
    /// `idmap`), or (`remove`) detach the one at its target.
    func volume(_ v: Volume, of process: ProcessHandle, idBase: UInt32?, idmap: Bool, name: String, remove: Bool = false) throws(RuntimeError) {
        var userns: OwnedDescriptor?
        if idBase != nil && idmap && !remove {
            do throws(Errno) { userns = try process.namespace(.user) } catch {
                throw RuntimeError(error, "mounts: cannot open the user namespace of \(name)")
            }
        }
        var step: Int32 = 0
        let rc = v.source.withCString { s in
            v.target.withCString { t in
                nsfs_volume(process.descriptor.rawValue, userns?.rawValue ?? -1, s, t, v.readOnly ? 1 : 0, remove ? 1 : 0, &step)
            }
        }
        guard rc == 0 else {
            let what = switch UInt32(step) {
            case NSFS_VOLUME_STEP_SOURCE.rawValue: "the source \(v.source)"
            case NSFS_VOLUME_STEP_TARGET.rawValue: "the target \(v.target) in \(name)"
            case NSFS_VOLUME_STEP_MOUNT.rawValue: remove ? "unmounting \(v.target)" : "mounting it"
            default: "entering \(name)"
            }
            // The caller's business: a path inside that is missing or passes a link.
            let theirs = [ENOENT, ENOTDIR, ELOOP, EINVAL].contains(-rc)
            let message = "mounts: \(remove ? "-" + v.target : v.line): \(what)"
            throw theirs ? RuntimeError(rejected: Errno(-rc), message) : RuntimeError(Errno(-rc), message)
        }
    }

    /// A container's own layer, gone with it (nothing if it has none).
    func remove(id: UInt64) {
        let rc = nsfs_remove_tree(directory(of: id))
        if rc != 0 && rc != -ENOENT { Log.line("cannot remove \(directory(of: id)): \(Errno(-rc))") }
    }

    static func stepName(_ step: Int32) -> String {
        switch UInt32(step) {
        case NSFS_ROOT_STEP_ENTER.rawValue: "entering its namespaces"
        case NSFS_ROOT_STEP_PRIVATE.rawValue: "a private mount namespace"
        case NSFS_ROOT_STEP_USER.rawValue: "becoming its root"
        case NSFS_ROOT_STEP_LAYERS.rawValue: "the layers' paths"
        case NSFS_ROOT_STEP_LOWER.rawValue: "the image as an idmapped layer"
        case NSFS_ROOT_STEP_UPPER.rawValue: "its own layer as an idmapped layer"
        case NSFS_ROOT_STEP_OVERLAY.rawValue: "mounting the overlay"
        case NSFS_ROOT_STEP_DIRECTORIES.rawValue: "making mount points"
        case NSFS_ROOT_STEP_PROC.rawValue: "mounting /proc"
        case NSFS_ROOT_STEP_SYS.rawValue: "mounting /sys"
        case NSFS_ROOT_STEP_DEV.rawValue: "making /dev"
        case NSFS_ROOT_STEP_TMP.rawValue: "mounting /tmp"
        case NSFS_ROOT_STEP_PIVOT.rawValue: "pivot_root"
        default: "step \(step)"
        }
    }
}
