// nsfs-oci: files and sockets the commands share.
import ArgumentParser
import CNamespaceShim
import ContainerTree
import FoundationEssentials
import LinuxSystem
import OCISpec
import TreeClient
#if canImport(Glibc)
import Glibc
#endif

func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// A socket connected to the engine's console socket, or -1 for none.
func connectConsole(_ path: String?) throws(NsctlError) -> Int32 {
    guard let path else { return -1 }
    let fd = nsfs_connect_unix(path)
    guard fd >= 0 else { throw NsctlError("--console-socket \(path): \(Errno(-fd))") }
    return fd
}

/// mkdir -p, private to root (runc's --root is too).
func makeDirectories(_ path: String) {
    var p = ""
    for part in path.split(separator: "/") {
        p += "/" + part
        _ = mkdir(p, 0o700)
    }
}

func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buf = [UInt8](repeating: 0, count: 4096)
    guard buf.withUnsafeMutableBufferPointer({ getcwd(UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), $0.count) }) != nil
    else { return path }
    let cwd = String(decoding: buf.prefix(while: { $0 != 0 }), as: UTF8.self)
    return path == "." ? cwd : cwd + "/" + path
}

func write(_ text: String, to path: String, create: Bool = false) throws(NsctlError) {
    if create {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw NsctlError("\(path): \(Errno.current)") }
        close(fd)
    }
    do throws(Errno) { try FileIO.write(path, text) } catch { throw NsctlError("\(path): \(error)") }
}
