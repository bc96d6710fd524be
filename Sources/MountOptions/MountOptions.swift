import ContainerRuntime
import ContainerTree

/// Command line of the mount program, in the shape mount.fuse3 and fstab
/// use: `namespacefs [SOURCE] MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]`.
package struct MountOptions: Equatable, Sendable {
    package var mountPoint = ""
    package var foreground = false
    package var debug = false
    package var stateDirectory = "/run/namespacefs"
    package var cgroupRoot: String?
    package var initPath: String?
    package var crashAt: CrashStep?
    /// Testing only: workers drop their requests unanswered.
    package var dropWorkerReplies = false
    package var delegated = false
    package var fuseOptions: [String] = []
    package var allowOther: Bool?
    /// -o discover=host: the host's sets of namespaces appear at the root.
    package var discoverHost = false
    /// -o pids_max=N and the like: limits every new container starts with.
    package var defaultLimits: [ControlFile: String] = [:]
    /// -o userns=off: containers share the host's user namespace.
    package var userNamespaces = true
    /// -o ids=BASE:COUNT: host ids for containers' user namespaces.
    package var idPool = IdPool()
    /// -o nproc=N: RLIMIT_NPROC of containers' processes.
    package var processLimit: UInt64?
    /// -o stop_timeout=SECONDS: rmdir sends SIGTERM first and waits this
    /// long before it kills (0: kill at once).
    package var stopTimeoutSeconds = 0
    /// -o hostfs=private|shared (nil: what the state directory recorded).
    package var hostFilesystem: HostFilesystem?
    /// -o hold=SECONDS: how long the connection holder keeps a mount whose
    /// daemon died waiting for the next one (0: no holder).
    package var holdSeconds = 30
    /// --restart: hand the mount over from the daemon serving it to this one.
    package var restart = false
    /// -o log=FILE: where a detached daemon's messages go (nil: syslog where
    /// /dev/log is there, else STATE_DIR/daemon.log).
    package var logFile: String?
    /// -o root=DIR: the root filesystem of every new top-level container.
    package var rootImage: String?
    /// -o log_size=BYTES: each container's log's bound.
    package var logSize = 1 << 20
    /// -o netns=names: containers' net namespaces in /run/netns.
    package var netnsNames = false
    /// -o network=bridge[:CIDR]: eth0 on a bridge for every container.
    package var network: NetworkConfiguration?
    /// -o storage=DIR: where containers' own layers live (nil: what the
    /// state directory recorded, else RootFilesystems.defaultStorage).
    package var storageDirectory: String?

    package static let usage = """
    usage: namespacefs [SOURCE] MOUNTPOINT [-f] [-d] [--restart] [-o OPTION[,OPTION...]]

    Mounts a tree in which every directory is a Linux container: mkdir
    creates one, rmdir kills it, mv renames it. Run again on a mount whose
    daemon died, it takes the mount over: same mount, nothing lost.

      -f                 stay in the foreground
      --restart          the mount is served: this program (a new build, say) takes
                         it over from the daemon serving it, which hands it over
                         and exits; users see a pause, never an error
      -d                 FUSE debug output (implies -f)
      -o state_dir=DIR   where the daemon remembers containers (default /run/namespacefs)
      -o cgroup=PATH     cgroup2 directory, relative to the cgroup2 mount, that holds
                         every container (default: what the state directory recorded,
                         else the daemon's cgroup + /namespacefs, or
                         /namespacefs-tmp-st for -o state_dir=/tmp/st)
      -o delegated       the daemon's cgroup is delegated to it (systemd Delegate=yes):
                         it moves into a leaf "daemon" of it, containers go below
                         "containers"
      -o discover=host   show the host's sets of namespaces (processes outside the
                         tree that unshared something) as unnamed<N> at the top
      -o userns=off      containers share the host's user namespace: their root is the
                         host's root (default on: each container has a user namespace
                         of its own; its root is an unprivileged id on the host)
      -o ids=BASE:COUNT  host uids/gids for containers' user namespaces, 65536 per
                         top-level container (default \(IdPool.defaultBase):\(IdPool.defaultCount))
      -o hostfs=private  what containers with a user namespace see of the host's files:
                         private (default) makes every host mount read-only for them,
                         with a tmpfs of their own on /tmp, /var/tmp and /dev/shm;
                         shared leaves the host's as they are. Remembered by the
                         state directory, like cgroup=
      -o nproc=N         the process limit (RLIMIT_NPROC) of every container's processes:
                         with user namespaces, its root's per-user count, a second
                         stop behind pids.max
      -o pids_max=N      limits every new container starts with (nested ones too), in
      -o memory_max=N    the kernel's syntax: a number or max (memory: K, M, G, T
      -o memory_high=N   suffixes; cpu_max=QUOTA:PERIOD in microseconds;
      -o cpu_max=Q[:P]   cpu_weight 1-10000). Only where the host gives containers
      -o cpu_weight=N    the controller: else the mount fails and says so
      -o stop_timeout=S  rmdir and rm -rf send SIGTERM to a container's processes first
                         and wait up to S seconds (0-3600) for them to exit before they
                         kill what is left (default 0: kill at once)
      -o hold=SECONDS    how long the mount waits for a next daemon after its daemon
                         died (default 30): requests wait meanwhile, then the
                         connection is aborted (ENOTCONN). 0: no wait, as a plain
                         FUSE mount
      -o root=DIR        every new top-level container gets DIR as its root filesystem
                         (read-only lower layer; its changes go to a layer of its own
                         in the storage): mkdir returns a running system. Per
                         container: echo DIR > C/root
      -o storage=DIR     where containers' own layers live (default: what the state
                         directory recorded, else \(RootFilesystems.defaultStorage)); made
                         by root, refused when others may change it. Remembered
      -o network=bridge[:A.B.C.D/N]  every container mkdir makes gets eth0 on the bridge
                         \(NetworkConfiguration.bridgeName) (made if missing, address A.B.C.D/N, default
                         \(NetworkConfiguration.defaultCIDR)) with an address of its own and a default
                         route; where nft is, a table of the daemon's masquerades the
                         subnet's traffic to other networks (removed at unmount)
      -o log_size=BYTES  each container's log (what nsctl exec -d runs writes) keeps at
                         most this much, the oldest half dropped (default 1M; K, M, G)
      -o netns=names     every container's net namespace in /run/netns, as ip netns
                         makes them: /web/job is web.job (ip netns exec web.job ...);
                         renamed by mv, removed by rm -rf
      -o init=PATH       the container init binary (default: namespacefs-init next
                         to this program)
      -o log=FILE        where the daemon's messages go once it detaches (default:
                         syslog where /dev/log is, else STATE_DIR/daemon.log;
                         -f: standard error)
      -o crash_at=STEP   testing only: SIGKILL the daemon at a step of mkdir, rmdir or mv
                         (\(CrashStep.allCases.map(\.rawValue).joined(separator: ", ")))
      -o drop_worker_replies  testing only: mkdir and rmdir drop their requests
                         unanswered (each must come back as EIO, logged)
      -o OPTION          other options go to FUSE (allow_other is on for root)
      -h, --help         this text
      -V, --version      the version
    """

    /// Options that mount(8) passes along but that mean nothing to FUSE.
    static let ignored: Set<String> = ["defaults", "auto", "noauto", "nofail", "_netdev", "user", "nouser", "users", "rw"]

    /// The cgroup (below the daemon's own) that holds the containers when
    /// neither `-o cgroup` nor the state directory says: one per state
    /// directory, so that two mounts never share one by default.
    package static func defaultCgroupName(stateDirectory: String) -> String {
        let standard = MountOptions().stateDirectory
        guard stateDirectory != standard else { return "namespacefs" }
        return "namespacefs" + stateDirectory.split(separator: "/").map { "-" + $0 }.joined()
    }

    /// A default limit in the kernel's syntax, or nil if it is not one.
    static func limitValue(_ f: ControlFile, _ v: String) -> String? {
        func number(_ s: Substring, suffixes: Bool) -> Bool {
            var digits = s
            if suffixes, let last = s.last, "KMGTPEkmgtpe".contains(last) { digits = s.dropLast() }
            return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
        }
        switch f {
        case .pidsMax: return v == "max" || number(Substring(v), suffixes: false) ? v : nil
        case .memoryMax, .memoryHigh: return v == "max" || number(Substring(v), suffixes: true) ? v : nil
        case .cpuWeight:
            guard let n = Int(v), (1...10_000).contains(n) else { return nil }
            return v
        case .cpuMax:
            let parts = v.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), parts[0] == "max" || number(parts[0], suffixes: false),
                  parts.count == 1 || number(parts[1], suffixes: false) else { return nil }
            return parts.joined(separator: " ")
        default: return nil
        }
    }

    package enum ParseResult: Equatable, Sendable { case run(MountOptions), help, version, error(String) }

    package static func parse(_ argv: [String]) -> ParseResult {
        var o = MountOptions()
        var positional: [String] = []
        var i = 0
        func takeOptions(_ list: String) -> String? {
            for opt in list.split(separator: ",").map(String.init) where !opt.isEmpty {
                if let eq = opt.firstIndex(of: "=") {
                    let key = String(opt[..<eq]), value = String(opt[opt.index(after: eq)...])
                    switch key {
                    case "state_dir":
                        guard value.hasPrefix("/") else { return "state_dir must be an absolute path" }
                        o.stateDirectory = value
                        continue
                    case "cgroup":
                        guard value.hasPrefix("/"), !value.split(separator: "/").contains("..") else {
                            return "cgroup must be an absolute path below the cgroup2 mount, e.g. /namespacefs"
                        }
                        o.cgroupRoot = value
                        continue
                    case "init":
                        o.initPath = value
                        continue
                    case "discover":
                        guard value == "host" else { return "discover takes: host" }
                        o.discoverHost = true
                        continue
                    case let k where ControlFile.limits.contains(where: { $0.optionName == k }):
                        let file = ControlFile.limits.first { $0.optionName == k }!
                        guard file.isWritable else { return "\(k) is a reading of use, not a limit: it takes no default" }
                        guard let v = Self.limitValue(file, value) else {
                            return "\(k) takes \(file == .cpuWeight ? "a number 1-10000" : file == .cpuMax ? "max or a quota in microseconds, optionally :PERIOD" : "max or a number")"
                        }
                        o.defaultLimits[file] = v
                        continue
                    case "hostfs":
                        guard let h = HostFilesystem(rawValue: value) else { return "hostfs takes private or shared" }
                        o.hostFilesystem = h
                        continue
                    case "nproc":
                        guard let n = UInt64(value), n > 0 else { return "nproc takes a number above 0" }
                        o.processLimit = n
                        continue
                    case "userns":
                        guard value == "on" || value == "off" else { return "userns takes on or off" }
                        o.userNamespaces = value == "on"
                        continue
                    case "ids":
                        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
                        guard parts.count == 2, let b = UInt32(parts[0]), let n = UInt32(parts[1]),
                              b > 0, n >= IdPool.blockSize, UInt64(b) + UInt64(n) <= UInt64(UInt32.max) else {
                            return "ids takes BASE:COUNT (host ids; COUNT at least \(IdPool.blockSize), BASE above 0)"
                        }
                        o.idPool = IdPool(base: b, count: n)
                        continue
                    case "log":
                        guard value.hasPrefix("/"), value.count > 1 else { return "log takes an absolute path" }
                        o.logFile = value
                        continue
                    case "root":
                        guard value.hasPrefix("/") else { return "root must be an absolute path" }
                        o.rootImage = value
                        continue
                    case "log_size":
                        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
                        let unit = value.last.flatMap { units[$0] } ?? 1
                        guard let n = Int(unit == 1 ? value : String(value.dropLast())), n > 0, n * unit >= 4096,
                              n * unit <= 1 << 30 else { return "log_size takes bytes (K, M, G suffixes), 4K to 1G" }
                        o.logSize = n * unit
                        continue
                    case "netns":
                        guard value == "names" else { return "netns takes: names" }
                        o.netnsNames = true
                        continue
                    case "network":
                        guard let n = NetworkConfiguration.parse(value) else {
                            return "network takes bridge or bridge:A.B.C.D/N (the bridge's address, N 8-30)"
                        }
                        o.network = n
                        continue
                    case "storage":
                        guard let refusal = RootFilesystems.storageRefusal(value) else { o.storageDirectory = value; continue }
                        return "storage \(refusal)"
                    case "stop_timeout":
                        guard let n = Int(value), n >= 0, n <= 3_600 else { return "stop_timeout takes seconds, 0 to 3600" }
                        o.stopTimeoutSeconds = n
                        continue
                    case "hold":
                        guard let n = Int(value), n >= 0, n <= 86_400 else { return "hold takes seconds, 0 to 86400" }
                        o.holdSeconds = n
                        continue
                    case "crash_at":
                        guard let step = CrashStep(rawValue: value) else {
                            return "crash_at takes one of: \(CrashStep.allCases.map(\.rawValue).joined(separator: ", "))"
                        }
                        o.crashAt = step
                        continue
                    default: break
                    }
                }
                if ignored.contains(opt) { continue }
                if opt == "delegated" { o.delegated = true; continue }
                if opt == "drop_worker_replies" { o.dropWorkerReplies = true; continue }
                if opt == "allow_other" { o.allowOther = true; continue }
                if opt == "noallow_other" { o.allowOther = false; continue }
                o.fuseOptions.append(opt)
            }
            return nil
        }
        while i < argv.count {
            let a = argv[i]
            switch a {
            case "-h", "--help": return .help
            case "-V", "--version": return .version
            case "-f": o.foreground = true
            case "--restart": o.restart = true
            case "-d", "-odebug": o.debug = true; o.foreground = true
            case "-o":
                i += 1
                guard i < argv.count else { return .error("-o needs an argument") }
                if let e = takeOptions(argv[i]) { return .error(e) }
            default:
                if a.hasPrefix("-o") {
                    if let e = takeOptions(String(a.dropFirst(2))) { return .error(e) }
                } else if a.hasPrefix("-") && a != "-" {
                    return .error("unknown option \(a)")
                } else {
                    positional.append(a)
                }
            }
            i += 1
        }
        switch positional.count {
        case 1: o.mountPoint = positional[0]
        case 2: o.mountPoint = positional[1]   // fstab: SOURCE MOUNTPOINT
        case 0: return .error("missing mount point")
        default: return .error("too many arguments: \(positional.joined(separator: " "))")
        }
        return .run(o)
    }
}
