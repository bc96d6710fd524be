import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import LinuxSystem

/// A control file's read ends at a short answer; a pseudo-file's at EOF.
@Suite struct ReadToTheEnd {
    @Test func aShortReadEndsAControlFileButNotAPseudoFile() throws {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        _ = "0123456789".withCString { write(fds[1], $0, 10) }
        // The writer is still open: only the short read can end this one.
        let reader = FileDescriptor(rawValue: fds[0])
        #expect(try reader.readAll(capacity: 64, shortReadEnds: true) == Array("0123456789".utf8))
        _ = "abc".withCString { write(fds[1], $0, 3) }
        close(fds[1])
        // Short answers go on until end of file.
        #expect(try reader.readAll(capacity: 2) == Array("abc".utf8))
    }
}
