import ContainerTree
import LinuxSystem

extension ContainerManager {
    /// Rebuild the tree at mount time. The cgroups under the root are the
    /// authority on which containers exist and how they nest (only the
    /// kernel writes them); the store adds names, ids and serials.
    ///
    /// Walking the cgroups top-down, for each `ns-<id>` directory:
    /// - its record's init is adopted only if it is provably the recorded
    ///   process: pidfd first, then pid-namespace id (and a start time, if
    ///   recorded) and cgroup, then the pidfd still alive (so the facts read
    ///   belong to it);
    /// - otherwise (record lost, corrupt, or naming another process) an init
    ///   found in the cgroup itself — pid 1 of a pid namespace at the right
    ///   depth — is adopted, under the record's name or else the id;
    /// - a recorded container whose init is gone is killed by its cgroup
    ///   (ours) and forgotten; an unrecorded cgroup without an init is
    ///   removed if empty, else reported and left alone: nothing unknown is
    ///   ever signalled.
    /// `creating` records (a crash inside mkdir) are undone first.
    ///
    /// Returns one line per thing worth reporting.
    public func adopt() -> [String] {
        lock.withLock {
            var report: [String] = []
            let loaded = store.load()
            report += loaded.problems
            var byCgroup: [String: ContainerRecord] = [:]
            for r in loaded.records {
                tree.reserveSerials(through: r.serial)
                if r.creating || !r.cgroup.hasPrefix(configuration.cgroupRoot + "/") {
                    report.append("container \(r.name) (\(hex(r.id))): \(r.creating ? "unfinished mkdir" : "cgroup outside the root"); undoing")
                    undo(r)
                } else {
                    byCgroup[configuration.cgroupMount + r.cgroup] = r
                }
            }
            var seen = Set<UInt64>()
            adoptCgroups(below: rootCgroup, parent: ContainerTree.rootSerial, records: byCgroup, seen: &seen, report: &report)
            for r in byCgroup.values where !seen.contains(r.id) {
                report.append("container \(r.name) (\(hex(r.id))): its cgroup is gone; forgetting it")
                store.delete(id: r.id)
            }
            return report
        }
    }

    func adoptCgroups(below dir: CgroupDirectory, parent: UInt64, records: [String: ContainerRecord],
                      seen: inout Set<UInt64>, report: inout [String]) {
        guard let children = try? dir.children() else { return }
        for name in children.sorted() where name.hasPrefix(Self.cgroupPrefix) {
            let c = dir.child(name)
            let record = records[c.path]
            if let r = record { seen.insert(r.id) }
            // One stat per container: its cgroup id (checked against the
            // init's) and whether any child container is below (most have none).
            let facts = try? c.identity()
            let hasChildren = facts?.hasChildren ?? true
            if let r = record, let process = verifiedInit(r, cgroupID: facts?.id) {
                if insertAdopted(r, process: process, parent: parent, report: &report), hasChildren {
                    adoptCgroups(below: c, parent: r.serial, records: records, seen: &seen, report: &report)
                }
            } else if let serial = recover(c, record: record, parent: parent, report: &report) {
                if hasChildren { adoptCgroups(below: c, parent: serial, records: records, seen: &seen, report: &report) }
            } else if let r = record {
                report.append("container \(r.name) (\(hex(r.id))): init \(r.initPid) is gone; cleaning up")
                for (_, child) in records where child.cgroup.hasPrefix(r.cgroup + "/") { seen.insert(child.id); store.delete(id: child.id) }
                undo(r)
            } else if (try? c.isPopulated()) ?? true {
                report.append("cgroup \(c.path) holds processes but no container init; left alone")
            } else {
                report.append("removing empty cgroup \(c.path) that no container owns")
                removeCgroupTree(c)
            }
        }
    }

    func insertAdopted(_ r: ContainerRecord, process: ProcessHandle, parent: UInt64, report: inout [String]) -> Bool {
        let c = Container(record: r, initProcess: process,
                          cgroup: CgroupDirectory(path: configuration.cgroupMount + r.cgroup))
        do throws(TreeError) { try register(c, parent: parent) } catch {
            report.append("container \(r.name) (\(hex(r.id))): \(error); not adopted")
            return false
        }
        return true
    }

    /// Kill and remove what a record names (its cgroup subtree is ours), and
    /// forget the record.
    func undo(_ r: ContainerRecord) {
        if r.cgroup.hasPrefix(configuration.cgroupRoot + "/") {
            let dir = CgroupDirectory(path: configuration.cgroupMount + r.cgroup)
            if dir.exists { removeCgroupTree(dir) }
        }
        store.delete(id: r.id)
    }

    /// `cgroupID`: of the record's cgroup directory (nil: unknown).
    func verifiedInit(_ r: ContainerRecord, cgroupID: UInt64?) -> ProcessHandle? {
        guard let p = try? ProcessHandle.open(pid: r.initPid) else { return nil }
        // The pid namespace decides (see mkdir); a start time, where an older
        // daemon recorded one, must match too.
        guard let ns = try? p.namespaceID(.pid), ns == r.pidNamespace else { return nil }
        if r.initStartTime != 0 {
            guard let start = try? ProcStat.startTime(pid: r.initPid), start == r.initStartTime else { return nil }
        }
        // In its own cgroup: one ioctl where the kernel has PIDFD_GET_INFO;
        // else /proc/PID/cgroup.
        if let own = try? p.cgroupID() {
            guard cgroupID == own else { return nil }
        } else {
            guard (try? Cgroup2.path(of: r.initPid)) == r.cgroup else { return nil }
        }
        guard p.isAlive else { return nil }
        return p
    }

    /// A container whose record is missing or wrong: its cgroup holds an
    /// init (pid 1 of a pid namespace one level below the parent's).
    func recover(_ dir: CgroupDirectory, record: ContainerRecord?, parent: UInt64, report: inout [String]) -> UInt64? {
        let idText = String(dir.path.split(separator: "/").last!.dropFirst(Self.cgroupPrefix.count))
        guard let id = UInt64(idText, radix: 16), hex(id) == idText else { return nil }
        let relative = String(dir.path.dropFirst(configuration.cgroupMount.count))
        let level = tree.depth(of: parent) + 1
        for pid in (try? dir.processes()) ?? [] {
            guard let nspid = try? ProcStatus.namespacePids(pid: pid), nspid.count == level + 1, nspid.last == 1,
                  let p = try? ProcessHandle.open(pid: pid),
                  let start = try? ProcStat.startTime(pid: pid),
                  let pidns = try? p.namespaceID(.pid),
                  (try? Cgroup2.path(of: pid)) == relative,
                  p.isAlive else { continue }
            var name = record?.name ?? idText
            if tree.child(of: parent, named: name) != nil || EntryKind.reservedNames.contains(name) { name = idText }
            let r = ContainerRecord(id: id, serial: record?.serial ?? tree.allocateSerial(), name: name,
                                    parent: containers[parent]?.record.id,
                                    created: record?.created ?? Clock.realtimeNanoseconds(), initPid: pid,
                                    initStartTime: start, pidNamespace: pidns, cgroup: relative)
            guard (try? store.save(r)) != nil, insertAdopted(r, process: p, parent: parent, report: &report) else { return nil }
            report.append("container \(name) (\(idText)): \(record == nil ? "record lost" : "record names another process"); rebuilt from its cgroup (init \(pid))")
            return r.serial
        }
        return nil
    }

    /// Kill everything in a cgroup subtree and remove it, leaves first.
    func removeCgroupTree(_ dir: CgroupDirectory) {
        try? dir.kill()
        for name in (try? dir.children()) ?? [] { removeCgroupTree(dir.child(name)) }
        destroyKernelObjects(process: nil, cgroup: dir)
    }
}
