import ContainerTree
import LinuxSystem

extension ContainerManager {
    /// Rebuild the tree from the store at mount time. A recorded container is
    /// adopted only if its init is provably the recorded process (pidfd, then
    /// start time and pid-namespace id, then the pidfd still alive: the facts
    /// read belong to the process held). Everything else recorded is cleaned
    /// up by cgroup (ours), never by pid; cgroups under the root that no
    /// adopted container owns (a crash inside mkdir) are removed the same way.
    /// Returns one line per thing worth reporting.
    public func adopt() -> [String] {
        lock.withLock {
            var report: [String] = []
            let loaded = store.load()
            report += loaded.problems
            var pending = loaded.records
            var adoptedSerialByID: [UInt64: UInt64] = [:]
            var dead: [ContainerRecord] = []

            // Parents before children: repeat until no record can be placed.
            var progress = true
            while progress && !pending.isEmpty {
                progress = false
                var rest: [ContainerRecord] = []
                for r in pending {
                    let parentSerial: UInt64?
                    if let p = r.parent { parentSerial = adoptedSerialByID[p] } else { parentSerial = ContainerTree.rootSerial }
                    guard let parentSerial else {
                        if r.parent.map({ id in dead.contains { $0.id == id } }) ?? false {
                            dead.append(r)
                            progress = true
                        } else {
                            rest.append(r)
                        }
                        continue
                    }
                    progress = true
                    guard let process = verifiedInit(r) else {
                        report.append("container \(r.name) (\(hex(r.id))): init \(r.initPid) is gone; cleaning up")
                        dead.append(r)
                        continue
                    }
                    let expected = CgroupDirectory(path: configuration.cgroupMount + r.cgroup)
                    do {
                        try tree.insert(serial: r.serial, name: r.name, parent: parentSerial)
                    } catch {
                        report.append("container \(r.name) (\(hex(r.id))): \(error); not adopted")
                        continue
                    }
                    containers[r.serial] = Container(record: r, initProcess: process, cgroup: expected)
                    adoptedSerialByID[r.id] = r.serial
                }
                pending = rest
            }
            for r in pending {
                report.append("container \(r.name) (\(hex(r.id))): parent \(r.parent.map(hex) ?? "-") unknown; cleaning up")
                dead.append(r)
            }
            for r in dead { store.delete(id: r.id) }

            // Remove every cgroup below the root that no adopted container owns.
            let owned = Set(containers.values.map(\.cgroup.path))
            removeUnowned(below: rootCgroup, owned: owned, report: &report)
            return report
        }
    }

    func verifiedInit(_ r: ContainerRecord) -> ProcessHandle? {
        guard r.cgroup.hasPrefix(configuration.cgroupRoot + "/") else { return nil }
        guard let p = try? ProcessHandle.open(pid: r.initPid) else { return nil }
        guard let start = try? ProcStat.startTime(pid: r.initPid), start == r.initStartTime else { return nil }
        guard let ns = try? p.namespaceID(.pid), ns == r.pidNamespace else { return nil }
        guard p.isAlive else { return nil }
        return p
    }

    func removeUnowned(below dir: CgroupDirectory, owned: Set<String>, report: inout [String]) {
        guard let children = try? dir.children() else { return }
        for name in children where name.hasPrefix(Self.cgroupPrefix) {
            let c = dir.child(name)
            if owned.contains(c.path) {
                removeUnowned(below: c, owned: owned, report: &report)
            } else {
                report.append("removing cgroup \(c.path) that no container owns")
                removeCgroupTree(c)
            }
        }
    }

    /// Kill everything in a cgroup subtree and remove it, leaves first.
    func removeCgroupTree(_ dir: CgroupDirectory) {
        try? dir.kill()
        for name in (try? dir.children()) ?? [] { removeCgroupTree(dir.child(name)) }
        destroyKernelObjects(process: nil, cgroup: dir)
    }
}
