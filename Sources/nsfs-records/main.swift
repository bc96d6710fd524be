// nsfs-records: inspect, edit and check a namespacefs state store with the
// daemon's own record code (Store/), so tests and operators never parse the
// format a second way.
//
//   nsfs-records count STATE_DIR
//   nsfs-records dump STATE_DIR OUT_DIR       OUT_DIR/<id> (text), OUT_DIR/<id>.slot
//   nsfs-records put STATE_DIR SLOT FILE      FILE's bytes, zero-padded, into SLOT (raw: may be garbage)
//   nsfs-records set STATE_DIR ID KEY VALUE   change one field of a record (e.g. init-pid)
//   nsfs-records check STATE_DIR CGROUP_DIR MOUNTPOINT
//       the store, the ns-* cgroups below CGROUP_DIR and the tree under
//       MOUNTPOINT name the same containers, each with a live init in its
//       own cgroup; prints each disagreement, exits 1 if there is any
import ContainerRuntime
import ContainerTree
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    StandardError.line("nsfs-records: \(message)")
    exit(2)
}

let args = Array(CommandLine.arguments.dropFirst())
if args == ["--version"] { print("nsfs-records 0.1.0"); exit(0) }
guard args.count >= 2 else { fail("usage: nsfs-records count|dump|put|set|unset|check STATE_DIR ...") }
let store = StateStore(directory: args[1])

/// (slot, text) of every non-empty slot.
func slots() -> [(slot: Int, text: ArraySlice<UInt8>)] {
    guard let bytes = try? FileIO.read(store.recordsPath) else { fail("cannot read \(store.recordsPath)") }
    return StateStore.occupiedSlots(bytes)
}

func records() -> [(slot: Int, record: ContainerRecord?, text: String)] {
    slots().map { s in
        let text = String(decoding: s.text, as: UTF8.self)
        return (s.slot, try? ContainerRecord.parse(text), text)
    }
}

func writeSlot(_ slot: Int, _ bytes: [UInt8]) {
    do throws(Errno) {
        let fd = try FileDescriptor.open(store.recordsPath, O_RDWR)
        defer { fd.close() }
        try StateStore.writeSlot(fd, slot, bytes)
    } catch { fail("cannot write slot \(slot): \(error)") }
}

switch args[0] {
case "count":
    print(slots().count)

case "dump" where args.count == 3:
    for (slot, record, text) in records() {
        let name = record.map { hex($0.id) } ?? "slot\(slot)"
        do throws(Errno) {
            try FileIO.replaceAtomically(args[2] + "/" + name, with: Array(text.utf8))
            try FileIO.replaceAtomically(args[2] + "/" + name + ".slot", with: Array("\(slot)\n".utf8))
        } catch { fail("cannot write to \(args[2]): \(error)") }
    }

case "put" where args.count == 4:
    guard let slot = Int(args[2]), slot > 0 else { fail("bad slot \(args[2])") }
    guard let bytes = try? FileIO.read(args[3]) else { fail("cannot read \(args[3])") }
    writeSlot(slot, bytes)

case "unset" where args.count == 4:
    // Drop an optional field (as an older daemon, or a damaged store, has it).
    guard let (slot, record, text) = records().first(where: { $0.record.map { hex($0.id) } == args[2] }),
          record != nil else { fail("no record with id \(args[2])") }
    let kept = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix(args[3] + ": ") }
    let edited = kept.joined(separator: "\n")
    guard (try? ContainerRecord.parse(edited)) != nil else { fail("the edited record would not parse") }
    writeSlot(slot, Array(edited.utf8))

case "set" where args.count == 5:
    guard let (slot, record, text) = records().first(where: { $0.record.map { hex($0.id) } == args[2] }),
          record != nil else { fail("no record with id \(args[2])") }
    var found = false
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
        guard line.hasPrefix(args[3] + ": ") else { return line }
        found = true
        return Substring(args[3] + ": " + args[4])
    }
    guard found else { fail("record \(args[2]) has no field \(args[3])") }
    let edited = lines.joined(separator: "\n")
    guard (try? ContainerRecord.parse(edited)) != nil else { fail("the edited record would not parse") }
    writeSlot(slot, Array(edited.utf8))

case "check" where args.count == 4:
    let cgroupDir = args[2], mount = args[3]
    guard let mounts = try? MountInfo.current(), let cgroupMount = Cgroup2.mountPoint(in: mounts) else {
        fail("no cgroup2 mount")
    }
    var problems: [String] = []
    var storeIDs: [UInt64] = []
    for (slot, record, _) in records() {
        guard let r = record else { problems.append("slot \(slot): unreadable record"); continue }
        storeIDs.append(r.id)
        if r.creating { problems.append("\(hex(r.id)): unfinished record") }
        if !FileIO.isDirectory(cgroupMount + r.cgroup) { problems.append("\(hex(r.id)): names missing cgroup \(r.cgroup)") }
        guard kill(r.initPid, 0) == 0 else { problems.append("\(hex(r.id)): names dead init \(r.initPid)"); continue }
        let actual = (try? Cgroup2.path(of: r.initPid)) ?? "?"
        let leaf = r.cgroup + "/" + ContainerCgroup.leaf
        if actual != leaf { problems.append("\(hex(r.id)): init \(r.initPid) is in \(actual), not \(leaf)") }
    }
    func cgroupIDs(_ dir: String) -> [UInt64] {
        ((try? FileIO.listDirectory(dir, onlyDirectories: true)) ?? []).flatMap { name -> [UInt64] in
            let below = cgroupIDs(dir + "/" + name)
            guard name.hasPrefix("ns-"), let id = UInt64(name.dropFirst(3), radix: 16) else { return below }
            return [id] + below
        }
    }
    func treeIDs(_ dir: String) -> [UInt64] {
        ((try? FileIO.listDirectory(dir, onlyDirectories: true)) ?? []).filter { !EntryKind.reservedNames.contains($0) }
            .flatMap { name -> [UInt64] in
                let path = dir + "/" + name
                let status = ContainerStatus(parsing: (try? FileIO.readString(path + "/status")) ?? "")
                return (status.id.map { [$0] } ?? []) + treeIDs(path)
            }
    }
    let (s, c, t) = (storeIDs.sorted(), cgroupIDs(cgroupDir).sorted(), treeIDs(mount).sorted())
    if s != c { problems.append("store [\(s.map(hex).joined(separator: " "))] vs cgroups [\(c.map(hex).joined(separator: " "))]") }
    if s != t { problems.append("store [\(s.map(hex).joined(separator: " "))] vs tree [\(t.map(hex).joined(separator: " "))]") }
    for p in problems { print("inconsistent: \(p)") }
    exit(problems.isEmpty ? 0 : 1)

default:
    fail("usage: nsfs-records count|dump|put|set|unset|check STATE_DIR ...")
}
