@testable import OCISpec
import Testing

struct OCIConfigTests {
    static func parse(_ text: String) throws(OCIConfigError) -> OCIConfig { try OCIConfig.parse(Array(text.utf8)) }

    static let minimal = """
    {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
     "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/", "env": ["PATH=/bin"]},
     "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"}],
               "resources": {"pids": {"limit": 10}}},
     "someFutureField": {"ignored": true}}
    """

    @Test func aMinimalBundleDecodesAndUnknownFieldsAreIgnored() throws {
        let c = try Self.parse(Self.minimal)
        #expect(c.root?.path == "rootfs")
        #expect(c.process?.args == ["sh"])
        #expect(c.linux?.namespaces?[1].type == "network")
        #expect(c.linux?.namespaces?[1].path == "/run/netns/x")
        #expect(c.linux?.resources?.pids?.limit == 10)
    }

    @Test func problemsAreReportedByTheirJSONPath() {
        let cases: [(String, String)] = [
            (#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"user": {"uid": 0, "gid": 0}, "args": [], "cwd": "/"}}"#, "$.process.args"),
            (#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"user": {"uid": "root", "gid": 0}, "args": ["a"], "cwd": "/"}}"#, "$.process.user.uid"),
            (#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"user": {"uid": 0}, "args": ["a"], "cwd": "/"}}"#, "$.process.user.gid"),
            (#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"user": {"uid": 0, "gid": 0}, "args": ["a"], "cwd": "rel"}}"#, "$.process.cwd"),
            (#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "linux": {"namespaces": [{"type": "pid"}, {"type": "bogus"}]}}"#, "$.linux.namespaces[1].type"),
            (#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "mounts": [{"destination": "proc"}]}"#, "$.mounts[0].destination"),
            (#"{"ociVersion": "0.9", "root": {"path": "r"}}"#, "$.ociVersion"),
            (#"{"ociVersion": "1.0.2"}"#, "$.root"),
            (#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "process": {"user": {"uid": 0, "gid": 0}, "args": ["a"], "cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 2}]}}"#, "$.process.rlimits[0]"),
            ("{not json", "$"),
        ]
        for (text, path) in cases {
            #expect(throws: OCIConfigError.self) { try Self.parse(text) }
            do { _ = try Self.parse(text) } catch { #expect(error.path == path, "\(text)") }
        }
    }

    static func linux(_ linux: String) throws -> OCIConfig {
        try parse(#"{"ociVersion": "1.0.2", "root": {"path": "r"}, "linux": "# + linux + "}")
    }

    @Test func resourcesTheTreeCannotGiveAreRefusedByPath() throws {
        let refused: [(String, String)] = [
            (#"{"resources": {"memory": {"limit": 67108864, "swap": 134217728}}}"#, "$.linux.resources.memory.swap"),
            (#"{"resources": {"memory": {"disableOOMKiller": true}}}"#, "$.linux.resources.memory.disableOOMKiller"),
            (#"{"resources": {"cpu": {"cpus": "0-1"}}}"#, "$.linux.resources.cpu.cpus"),
            (#"{"resources": {"cpu": {"shares": 1}}}"#, "$.linux.resources.cpu.shares"),
            (#"{"resources": {"cpu": {"shares": 300000}}}"#, "$.linux.resources.cpu.shares"),
            (#"{"resources": {"blockIO": {"weight": 10}}}"#, "$.linux.resources.blockIO"),
            (#"{"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}}"#, "$.linux.resources.hugepageLimits"),
            (#"{"resources": {"unified": {"io.max": "8:0 rbps=1"}}}"#, "$.linux.resources.unified"),
            // podman --device /dev/fuse: a node the tree's /dev lacks, and its rule
            (#"{"devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]}"#, "$.linux.devices[0]"),
        ]
        for (text, path) in refused { #expect(try Self.linux(text).unsupportedResource()?.path == path, "\(text)") }
        // What engines send by default, and what the tree gives
        let honoured = [
            #"{"resources": {"devices": [{"allow": false, "access": "rwm"}], "pids": {"limit": 2048}}}"#,   // podman
            #"{"resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}, {"allow": true, "type": "c", "major": 136, "minor": -1, "access": "rwm"}, {"allow": true, "type": "b", "access": "m"}]}}"#,
            #"{"devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}], "resources": {"cpu": {"quota": 50000, "period": 100000, "shares": 1024}, "memory": {"limit": 1}, "blockIO": {}, "hugepageLimits": []}}"#,
        ]
        for text in honoured { #expect(try Self.linux(text).unsupportedResource() == nil, "\(text)") }
        #expect(try Self.linux(honoured[0]).deniesDevices)
        #expect(try !Self.linux(#"{"resources": {"pids": {"limit": 1}}}"#).deniesDevices)
    }

    @Test func deviceRulesDecideInOrderTheLastMatchWins() throws {
        let c = try Self.linux(#"{"resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}, {"allow": true, "type": "c", "major": 136, "minor": -1, "access": "rw"}, {"allow": false, "type": "c", "major": 136, "minor": 3, "access": "w"}]}}"#)
        #expect(c.allowsDevice(type: "c", major: 10, minor: 229))
        #expect(!c.allowsDevice(type: "b", major: 8, minor: 0))
        #expect(!c.allowsDevice(type: "c", major: 10, minor: 200))
        #expect(c.allowsDevice(type: "c", major: 136, minor: 1))
        #expect(!c.allowsDevice(type: "c", major: 136, minor: 3))      // w denied after
        #expect(c.allowsDevice(type: "c", major: 136, minor: 3, access: "r"))
        #expect(!c.allowsDevice(type: "c", major: 136, minor: 1, access: "m"))
        #expect(try Self.linux(#"{}"#).allowsDevice(type: "b", major: 8, minor: 0))
    }

    @Test func cpuLimitsBecomeCgroup2Values() {
        #expect(OCIConfig.cpuMax(quota: 50000, period: 100000) == "50000 100000")
        #expect(OCIConfig.cpuMax(quota: -1, period: 20000) == "max 20000")
        #expect(OCIConfig.cpuMax(quota: 25000, period: nil) == "25000 100000")
        #expect(OCIConfig.cpuMax(quota: nil, period: nil) == nil)
        // runc's conversion, the ends to the ends; the default (1024) and unset (0) ask nothing
        #expect(OCIConfig.cpuWeight(shares: 1024) == nil)
        #expect(OCIConfig.cpuWeight(shares: 0) == nil)
        #expect(OCIConfig.cpuWeight(shares: 512) == 20)
        #expect(OCIConfig.cpuWeight(shares: 2) == 1)
        #expect(OCIConfig.cpuWeight(shares: 262_144) == 10_000)
    }

    @Test func capabilityNamesBecomeTheKernelsBits() throws {
        #expect(try OCIConfig.capabilityMask(["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"], at: "$.c") == (1 << 0) | (1 << 5) | (1 << 21))
        #expect(throws: OCIConfigError("$.c[1]", "unknown capability CAP_NOPE")) { try OCIConfig.capabilityMask(["CAP_KILL", "CAP_NOPE"], at: "$.c") }
    }

    @Test func anEnginesMappingIsOneRangeFromZeroForUidsAndGidsAlike() throws {
        let user = #""namespaces": [{"type": "user"}, {"type": "pid"}]"#
        func map(_ uid: String, _ gid: String) -> String { "{\(user), \"uidMappings\": \(uid), \"gidMappings\": \(gid)}" }
        let one = #"[{"containerID": 0, "hostID": 3200000, "size": 65536}]"#
        let asked = try Self.linux(map(one, one)).askedIds()
        #expect(asked?.first == 3_200_000 && asked?.count == 65_536)
        #expect(try Self.linux(#"{"namespaces": [{"type": "user"}]}"#).askedIds() == nil)
        let refused: [(String, String)] = [
            (#"{"uidMappings": [{"containerID": 0, "hostID": 1, "size": 5}], "gidMappings": [{"containerID": 0, "hostID": 1, "size": 5}]}"#, "$.linux.uidMappings"),
            (map(one, "[]"), "$.linux.gidMappings"),
            (map(#"[{"containerID": 0, "hostID": 1, "size": 5}, {"containerID": 5, "hostID": 9, "size": 1}]"#, one), "$.linux.uidMappings"),
            (map(#"[{"containerID": 1, "hostID": 1, "size": 5}]"#, one), "$.linux.uidMappings[0].containerID"),
            (map(#"[{"containerID": 0, "hostID": 1, "size": 65537}]"#, one), "$.linux.uidMappings[0].size"),
            (map(one, #"[{"containerID": 0, "hostID": 4294967290, "size": 10}]"#), "$.linux.gidMappings[0].hostID"),
            (map(one, #"[{"containerID": 0, "hostID": 3300000, "size": 65536}]"#), "$.linux.gidMappings[0]"),
            // joining a user namespace by path is no new one to map
            (#"{"namespaces": [{"type": "user", "path": "/proc/1/ns/user"}], "uidMappings": [{"containerID": 0, "hostID": 1, "size": 5}]}"#, "$.linux.uidMappings"),
        ]
        for (text, path) in refused {
            #expect(throws: OCIConfigError.self) { try Self.linux(text).askedIds() }
            do { _ = try Self.linux(text).askedIds() } catch let error as OCIConfigError { #expect(error.path == path, "\(text)") } catch { Issue.record("\(error)") }
        }
    }

    @Test func aSeccompProfileBecomesLibseccompsTerms() throws {
        let c = try Self.linux(#"""
        {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
         "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
         "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                       "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                       "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}, {"index": 1, "value": 3, "op": "SCMP_CMP_GT"}]},
                      {"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                      {"names": ["kexec_load"], "action": "SCMP_ACT_KILL_PROCESS"}]}}
        """#)
        let p = try SeccompProfile(try #require(c.linux?.seccomp))
        #expect(p.defaultAction == 0x0005_0000 | 38)
        #expect(p.architectures == ["x86_64", "x32"] && p.flags == 4)
        typealias Rule = SeccompProfile.Rule
        typealias Condition = SeccompProfile.Condition
        #expect(p.rules == [
            Rule(syscall: "read", action: SeccompProfile.allow, conditions: []),
            Rule(syscall: "write", action: SeccompProfile.allow, conditions: []),
            // two conditions on one argument: either (a rule each)
            Rule(syscall: "personality", action: SeccompProfile.allow, conditions: [Condition(index: 0, op: 4, value: 0, valueTwo: 0)]),
            Rule(syscall: "personality", action: SeccompProfile.allow, conditions: [Condition(index: 0, op: 4, value: 8, valueTwo: 0)]),
            // on two arguments: both
            Rule(syscall: "clone", action: SeccompProfile.allow,
                 conditions: [Condition(index: 0, op: 7, value: 2_114_060_288, valueTwo: 0), Condition(index: 1, op: 6, value: 3, valueTwo: 0)]),
            // (reboot: the default action already: no rule)
            Rule(syscall: "kexec_load", action: 0x8000_0000, conditions: []),
        ])
        let refused: [(String, String)] = [
            (#"{"seccomp": {"defaultAction": "SCMP_ACT_MAYBE"}}"#, "$.linux.seccomp.defaultAction"),
            (#"{"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}}"#, "$.linux.seccomp.listenerPath"),
            (#"{"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["X86"]}}"#, "$.linux.seccomp.architectures[0]"),
            (#"{"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}}"#, "$.linux.seccomp.flags[0]"),
            (#"{"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}}"#, "$.linux.seccomp.syscalls[0].action"),
            (#"{"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}}"#, "$.linux.seccomp.syscalls[0].args[0].index"),
            (#"{"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}}"#, "$.linux.seccomp.syscalls[0].args[0].op"),
        ]
        for (text, path) in refused {
            let s = try #require(try Self.linux(text).linux?.seccomp)
            #expect(throws: OCIConfigError.self) { try SeccompProfile(s) }
            do { _ = try SeccompProfile(s) } catch { #expect(error.path == path, "\(text)") }
        }
    }
}
