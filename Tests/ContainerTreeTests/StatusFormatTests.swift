import Testing
@testable import ContainerTree
import LinuxSystem

/// The `status` file as nsctl reads it: keys looked up on demand.
@Suite struct StatusFormat {
    let text = """
        name: web
        path: /web
        id: 1f
        kind: container
        state: frozen
        init: 42
        shares: \nns-pid-id: 4096
        memory-source: estimate
        a line without a key
        """

    @Test func keysAreFoundWhereverTheyAre() {
        let s = ContainerStatus(parsing: text)
        #expect(s.name == "web")
        #expect(s.id == 0x1f)
        #expect(s.state == .frozen)
        #expect(s.initPid == 42)
        #expect(s.namespaceID(.pid) == 4096)
        #expect(s[.memorySource] == "estimate")
        #expect(!s.isRoot && !s.isSet)
    }

    @Test func aKeyIsWholeNotAPrefixAndEmptyValuesStayEmpty() {
        let s = ContainerStatus(parsing: text)
        #expect(s[.memory] == nil)          // only memory-source is there
        #expect(s.value(of: "ns-pid") == nil)
        #expect(s[.shares] == "")
        #expect(s[.cgroup] == nil)
        #expect(ContainerStatus(parsing: "name: /\npath: /\n").isRoot)
    }

    @Test func fieldsHoldEveryKeyAndTheLastLineWinsAsInALookup() {
        let s = ContainerStatus(parsing: "state: running\nname: a\nstate: frozen\n")
        #expect(s.fields == ["state": "frozen", "name": "a"])
        #expect(s.state == .frozen)
    }
}
