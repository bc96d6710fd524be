import Testing
@testable import LinuxSystem

/// statmount's answer for one mount against the same mount's line in
/// /proc/self/mountinfo (tools ask the kernel first, the table after).
@Suite struct MountLookup {
    @Test(arguments: ["/", "/proc", "/sys"])
    func oneMountAskedAloneIsItsLineInTheTable(path: String) throws {
        guard let (m, isRoot) = MountInfo.mount(of: path) else {
            // A kernel before 6.15: the tools read the table, as before.
            #expect(try MountInfo.current().isEmpty == false)
            return
        }
        let line = try #require(try MountInfo.current().last { $0.mountPoint == path })
        #expect(m.fsType == line.fsType)
        #expect(m.root == line.root)
        #expect(m.mountPoint == line.mountPoint)
        #expect(isRoot == true)
        // mountinfo's superblock options begin with rw or ro; statmount's do not.
        let table = line.superOptions.split(separator: ",").filter { $0 != "rw" && $0 != "ro" }
        #expect(m.superOptions.split(separator: ",") == table)
    }

    @Test func aDirectoryInsideAMountIsNotItsRoot() throws {
        guard let (m, isRoot) = MountInfo.mount(of: "/proc/self") else { return }
        #expect(m.fsType == "proc")
        #expect(isRoot == false)
    }

    @Test func aPathThatIsNotThereHasNoMount() {
        #expect(MountInfo.mount(of: "/no/such/path/here") == nil)
    }
}
