import ContainerRuntime

/// Command line of the mount program, in the shape mount.fuse3 and fstab
/// use: `namespacefs [SOURCE] MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]`.
public struct MountOptions: Equatable, Sendable {
    public var mountPoint = ""
    public var foreground = false
    public var debug = false
    public var stateDirectory = "/run/namespacefs"
    public var cgroupRoot: String?
    public var initPath: String?
    public var crashAt: CrashStep?
    /// Testing only: workers drop their requests unanswered.
    public var dropWorkerReplies = false
    public var delegated = false
    public var fuseOptions: [String] = []
    public var allowOther: Bool?
    /// -o discover=host: the host's sets of namespaces appear at the root.
    public var discoverHost = false

    public static let usage = """
    usage: namespacefs [SOURCE] MOUNTPOINT [-f] [-d] [-o OPTION[,OPTION...]]

    Mounts a tree in which every directory is a Linux container: mkdir
    creates one, rmdir kills it, mv renames it.

      -f                 stay in the foreground
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
      -o init=PATH       the container init binary (default: namespacefs-init next
                         to this program)
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
    public static func defaultCgroupName(stateDirectory: String) -> String {
        let standard = MountOptions().stateDirectory
        guard stateDirectory != standard else { return "namespacefs" }
        return "namespacefs" + stateDirectory.split(separator: "/").map { "-" + $0 }.joined()
    }

    public enum ParseResult: Equatable, Sendable { case run(MountOptions), help, version, error(String) }

    public static func parse(_ argv: [String]) -> ParseResult {
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
