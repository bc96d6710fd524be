import ContainerRuntime
import MountOptions
import Testing

@Suite struct MountOptionParsing {
    func run(_ argv: [String]) -> MountOptions? {
        if case .run(let o) = MountOptions.parse(argv) { return o }
        return nil
    }

    func error(_ argv: [String]) -> String? {
        if case .error(let e) = MountOptions.parse(argv) { return e }
        return nil
    }

    @Test func defaults() throws {
        let o = try #require(run(["/namespaces"]))
        #expect(o.mountPoint == "/namespaces")
        #expect(o.stateDirectory == "/run/namespacefs")
        #expect(o.cgroupRoot == nil && o.initPath == nil && o.crashAt == nil)
        #expect(!o.foreground && !o.debug && !o.delegated)
        #expect(o.fuseOptions.isEmpty && o.allowOther == nil)
    }

    @Test func fstabShapeWithSourceAndOptions() throws {
        // mount.fuse3 runs: namespacefs SOURCE MOUNTPOINT -o OPTS
        let o = try #require(run(["namespacefs", "/namespaces", "-o", "rw,defaults,state_dir=/s,cgroup=/c,noallow_other,ro"]))
        #expect(o.mountPoint == "/namespaces")
        #expect(o.stateDirectory == "/s" && o.cgroupRoot == "/c")
        #expect(o.allowOther == false)
        #expect(o.fuseOptions == ["ro"])   // rw and defaults mean nothing to FUSE
    }

    @Test func attachedOptionsAndFlags() throws {
        let o = try #require(run(["-ostate_dir=/x", "/m", "-d", "-o", "delegated,crash_at=mv-recorded,init=/bin/i"]))
        #expect(o.stateDirectory == "/x" && o.debug && o.foreground && o.delegated)
        #expect(o.crashAt == .mvRecorded && o.initPath == "/bin/i")
        #expect(!o.dropWorkerReplies)
        #expect(run(["/m", "-o", "drop_worker_replies"])?.dropWorkerReplies == true)
        #expect(!o.discoverHost)
        #expect(run(["/m", "-o", "discover=host"])?.discoverHost == true)
    }

    @Test func logFile() {
        #expect(run(["/m"])?.logFile == nil)
        #expect(run(["/m", "-o", "log=/var/log/nsfs.log"])?.logFile == "/var/log/nsfs.log")
    }

    @Test(arguments: [
        (["/m", "-o", "state_dir=relative"], "state_dir must be an absolute path"),
        (["/m", "-o", "cgroup=/a/../b"], "cgroup must be an absolute path"),
        (["/m", "-o", "crash_at=nowhere"], "crash_at takes one of: mkdir-recorded"),
        (["/m", "-o", "discover=everything"], "discover takes: host"),
        (["/m", "-o"], "-o needs an argument"),
        (["/m", "-o", "hold=-1"], "hold takes seconds"),
        (["/m", "-o", "hold=soon"], "hold takes seconds"),
        (["/m", "-o", "log=relative.log"], "log takes an absolute path"),
        (["/m", "--bogus"], "unknown option --bogus"),
        ([], "missing mount point"),
        (["a", "b", "c"], "too many arguments"),
    ])
    func refusals(_ argv: [String], _ expected: String) throws {
        let e = try #require(error(argv))
        #expect(e.hasPrefix(expected))
    }

    @Test func holdAndRestart() throws {
        let d = try #require(run(["/m"]))
        #expect(d.holdSeconds == 30 && !d.restart)
        let o = try #require(run(["--restart", "/m", "-o", "hold=0"]))
        #expect(o.holdSeconds == 0 && o.restart && o.mountPoint == "/m")
        #expect(o.fuseOptions.isEmpty)
    }

    @Test func helpAndVersion() {
        #expect(MountOptions.parse(["-h"]) == .help)
        #expect(MountOptions.parse(["/m", "--version"]) == .version)
        #expect(MountOptions.usage.contains(CrashStep.allCases.map(\.rawValue).joined(separator: ", ")))
    }

    @Test func defaultCgroupsDifferPerStateDirectory() {
        #expect(MountOptions.defaultCgroupName(stateDirectory: "/run/namespacefs") == "namespacefs")
        #expect(MountOptions.defaultCgroupName(stateDirectory: "/tmp/st2") == "namespacefs-tmp-st2")
        #expect(MountOptions.defaultCgroupName(stateDirectory: "/tmp/st2") != MountOptions.defaultCgroupName(stateDirectory: "/tmp/st3"))
    }
}

@Suite struct DefaultLimitOptions {
    @Test func kernelSyntaxIsKept() throws {
        guard case .run(let o) = MountOptions.parse(["/n", "-o", "pids_max=512,memory_max=1G,memory_high=max,cpu_max=50000:100000,cpu_weight=200"]) else {
            Issue.record("refused"); return
        }
        #expect(o.defaultLimits[.pidsMax] == "512" && o.defaultLimits[.memoryMax] == "1G")
        #expect(o.defaultLimits[.memoryHigh] == "max" && o.defaultLimits[.cpuMax] == "50000 100000")
        #expect(o.defaultLimits[.cpuWeight] == "200")
    }

    @Test(arguments: ["pids_max=lots", "pids_max=-1", "pids_max=", "memory_max=1X", "cpu_weight=0",
                      "cpu_weight=10001", "cpu_max=50000:", "cpu_max=a:b", "pids_current=5", "memory_current=1"])
    func refused(_ option: String) {
        guard case .error = MountOptions.parse(["/n", "-o", option]) else {
            Issue.record("\(option) accepted"); return
        }
    }
}

@Suite struct UserNamespaceOptions {
    @Test func onByDefaultWithThePoolAndNoProcessLimit() throws {
        guard case .run(let o) = MountOptions.parse(["/n"]) else { Issue.record("refused"); return }
        #expect(o.userNamespaces && o.idPool == IdPool() && o.processLimit == nil)
    }

    @Test func offPoolAndProcessLimit() throws {
        guard case .run(let o) = MountOptions.parse(["/n", "-o", "userns=off,ids=100000:131072,nproc=300"]) else {
            Issue.record("refused"); return
        }
        #expect(!o.userNamespaces && o.idPool == IdPool(base: 100_000, count: 131_072) && o.processLimit == 300)
    }

    @Test(arguments: ["userns=maybe", "ids=100000", "ids=0:65536", "ids=100000:10", "ids=4294900000:131072", "nproc=0", "nproc=x"])
    func refused(_ option: String) {
        guard case .error = MountOptions.parse(["/n", "-o", option]) else { Issue.record("\(option) accepted"); return }
    }
}

@Suite struct HostFilesystemOption {
    @Test func privateSharedOrRecorded() {
        guard case .run(let none) = MountOptions.parse(["/n"]),
              case .run(let shared) = MountOptions.parse(["/n", "-o", "hostfs=shared"]),
              case .run(let priv) = MountOptions.parse(["/n", "-o", "hostfs=private"]) else { Issue.record("refused"); return }
        #expect(none.hostFilesystem == nil && shared.hostFilesystem == .shared && priv.hostFilesystem == .private)
        guard case .error = MountOptions.parse(["/n", "-o", "hostfs=rw"]) else { Issue.record("hostfs=rw accepted"); return }
    }
}

@Suite struct StopTimeoutOption {
    @Test func killAtOnceUnlessAsked() {
        guard case .run(let none) = MountOptions.parse(["/n"]),
              case .run(let five) = MountOptions.parse(["/n", "-o", "stop_timeout=5"]),
              case .run(let most) = MountOptions.parse(["/n", "-o", "stop_timeout=3600"]) else { Issue.record("refused"); return }
        #expect(none.stopTimeoutSeconds == 0 && five.stopTimeoutSeconds == 5 && most.stopTimeoutSeconds == 3600)
    }

    @Test(arguments: ["stop_timeout=-1", "stop_timeout=3601", "stop_timeout=x", "stop_timeout="])
    func refused(_ option: String) {
        guard case .error(let line) = MountOptions.parse(["/n", "-o", option]) else { Issue.record("\(option) accepted"); return }
        #expect(line.contains("stop_timeout takes seconds"))
    }
}

@Suite struct SystemOptions {
    @Test func logSizeRootStorageNetworkAndNames() {
        guard case .run(let none) = MountOptions.parse(["/n"]),
              case .run(let set) = MountOptions.parse(["/n", "-o", "log_size=64K,root=/srv/img,storage=/srv/st,network=bridge:10.9.0.1/24,netns=names"])
        else { Issue.record("refused"); return }
        #expect(none.logSize == 1 << 20 && none.rootImage == nil && none.storageDirectory == nil && none.network == nil && !none.netnsNames)
        #expect(set.logSize == 64 << 10 && set.rootImage == "/srv/img" && set.storageDirectory == "/srv/st" && set.netnsNames)
        #expect(set.network?.gatewayText == "10.9.0.1" && set.network?.subnet == "10.9.0.0/24")
    }

    @Test(arguments: ["log_size=1K", "log_size=2G", "log_size=x", "root=rel", "storage=/a:b", "storage=rel",
                      "network=bridge:10.0.0.0/24", "network=bridge:10.0.0.1/31", "network=bridge:300.0.0.1/16", "network=wifi",
                      "netns=all"])
    func refused(_ option: String) {
        guard case .error = MountOptions.parse(["/n", "-o", option]) else { Issue.record("\(option) accepted"); return }
    }
}
