import OCISpec
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

    @Test func capabilityNamesBecomeTheKernelsBits() throws {
        #expect(try OCIConfig.capabilityMask(["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"], at: "$.c") == (1 << 0) | (1 << 5) | (1 << 21))
        #expect(throws: OCIConfigError("$.c[1]", "unknown capability CAP_NOPE")) { try OCIConfig.capabilityMask(["CAP_KILL", "CAP_NOPE"], at: "$.c") }
    }
}
