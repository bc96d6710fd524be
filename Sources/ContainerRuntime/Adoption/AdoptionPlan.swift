import ContainerTree
import LinuxSystem

/// What to do with each record and each cgroup at mount time, decided from
/// facts alone (no I/O here: the facts are gathered first, the plan is
/// carried out after, and the decision is unit-tested with made-up facts).
///
/// The cgroups under the root are the authority on which containers exist
/// and how they nest (only the kernel writes them); the store adds names,
/// ids and serials. For each `ns-<id>` cgroup, top-down:
/// - its record's init is adopted only if it is provably the recorded
///   process (`InitCheck.verified`);
/// - otherwise (record lost, or naming another process) an init found in
///   the cgroup itself — pid 1 of a pid namespace at the right depth — is
///   adopted, under the record's name or else the id;
/// - a recorded container whose init is gone is killed by its cgroup (ours)
///   and forgotten; an unrecorded cgroup without an init is removed if
///   empty, else reported and left alone: nothing unknown is ever signalled;
/// - any fact that could not be read (a listing, a check) leaves the record
///   and the cgroups it covers alone, and says so: nothing is deleted
///   because a read failed.
/// `creating` records (a crash inside mkdir) are undone first.
package struct AdoptionPlan<Handle: Sendable>: Sendable {
    /// One `ns-<id>` cgroup (or one whose listing failed).
    package struct Cgroup: Sendable {
        /// Relative to the cgroup2 mount.
        package var path: String
        /// The id its name carries (nil: not an `ns-<16 hex digits>` name).
        package var id: UInt64?
        /// Processes in it (not below)? nil if unreadable.
        package var populated: Bool?
        /// Its `ns-*` children, or why they could not be listed.
        package var children: Result<[Cgroup], Errno>

        package init(path: String, id: UInt64?, populated: Bool?, children: Result<[Cgroup], Errno>) {
            self.path = path
            self.id = id
            self.populated = populated
            self.children = children
        }
    }

    package enum InitCheck: Sendable {
        /// The recorded init, proven (pidfd, pid namespace id, cgroup).
        case verified(Handle)
        /// Not there, or another process: the record does not name a live init.
        case gone
        /// Could not tell (a read failed).
        case unknown(String)
    }

    /// An init found in a cgroup whose record failed: pid 1 of a pid
    /// namespace at the right depth.
    package struct FoundInit: Sendable {
        package var handle: Handle
        package var pid: Int32
        package var startTime: UInt64
        package var pidNamespace: UInt64
        package init(handle: Handle, pid: Int32, startTime: UInt64, pidNamespace: UInt64) {
            self.handle = handle
            self.pid = pid
            self.startTime = startTime
            self.pidNamespace = pidNamespace
        }

        /// What a look for an init in a cgroup found.
        package enum Search: Sendable {
            case found(FoundInit)
            /// Read in full: no init there.
            case none
            /// A read that could have found it failed (not ESRCH/ENOENT).
            case unknown(String)
        }
    }

    package enum Step: Sendable {
        /// The recorded init is live: enter it under `parent` (a serial).
        case adopt(ContainerRecord, Handle, parent: UInt64)
        /// Rebuilt from the cgroup: a new or corrected record.
        case rebuild(ContainerRecord, Handle, parent: UInt64, why: String)
        /// Kill the cgroup subtree, remove it, delete the records.
        case undo([ContainerRecord], why: String)
        /// Its cgroup is gone: delete the record.
        case forget(ContainerRecord)
        /// Remove an empty cgroup that no container owns.
        case removeCgroup(path: String)
        /// Leave a cgroup, and any record below it, as it is.
        case leaveAlone(path: String, why: String)
        /// Keep these records on disk without adopting them (a read failed).
        case keep([ContainerRecord], why: String)
    }

    package private(set) var steps: [Step] = []

    /// Did a read fail (records kept, cgroups left alone for it)?
    package private(set) var hasUnknowns = false

    /// - records: every readable record.
    /// - root: the scan of the cgroup root (its `ns-*` children).
    /// - cgroupRoot: the root, relative to the cgroup2 mount.
    /// - checkInit: is a record's init live and provably the same?
    /// - findInit: an init found in a cgroup, for a container at `depth`
    ///   (1: top level); nil if none.
    package init(records: [ContainerRecord], root: Result<[Cgroup], Errno>, cgroupRoot: String,
                checkInit: (ContainerRecord) -> InitCheck,
                findInit: (Cgroup, _ depth: Int) -> FoundInit.Search,
                now: Int64) {
        var tree = ContainerTree()
        var byCgroup: [String: ContainerRecord] = [:]
        var undone = Set<String>()
        for r in records {
            tree.reserveSerials(through: r.serial)
            if !ContainerRecord.cgroupIsSafe(r.cgroup, root: cgroupRoot) {
                // Never acted on: not killed, not removed, not deleted.
                steps.append(.keep([r], why: "its cgroup \"\(r.cgroup)\" is not an ns-<id> path below \(cgroupRoot); reported, left alone"))
            } else if r.creating {
                steps.append(.undo([r], why: "unfinished mkdir"))
                undone.insert(r.cgroup)
            } else {
                byCgroup[r.cgroup] = r
            }
        }
        let planner = withoutActuallyEscaping(checkInit) { checkInit in
            withoutActuallyEscaping(findInit) { findInit in
                var p = Planner(byCgroup: byCgroup, undone: undone, tree: tree, checkInit: checkInit, findInit: findInit, now: now)
                p.visit(root, path: cgroupRoot, parent: ContainerTree.rootSerial, parentID: nil)
                return (steps: p.steps, seen: p.seen, unreadable: p.unreadable, unknowns: p.unknowns)
            }
        }
        steps += planner.steps
        hasUnknowns = planner.unknowns > 0
        // Records whose cgroup was not seen: gone, unless it lies below a
        // directory that could not be read.
        for r in byCgroup.values.sorted(by: { $0.serial < $1.serial }) where !planner.seen.contains(r.id) {
            if planner.unreadable.contains(where: { r.cgroup.hasPrefix($0 + "/") }) {
                steps.append(.keep([r], why: "its cgroup could not be listed"))
            } else {
                steps.append(.forget(r))
            }
        }
    }

    private struct Planner {
        let byCgroup: [String: ContainerRecord]
        /// Cgroups of records undone above: a crash inside mkdir may leave
        /// an init there, which must not be adopted as a lost record's.
        let undone: Set<String>
        var tree: ContainerTree
        let checkInit: (ContainerRecord) -> InitCheck
        let findInit: (Cgroup, Int) -> FoundInit.Search
        let now: Int64
        var steps: [Step] = []
        var seen = Set<UInt64>()
        /// Directories whose listing failed.
        var unreadable: [String] = []
        /// Facts that could not be read.
        var unknowns = 0

        mutating func visit(_ listing: Result<[Cgroup], Errno>, path: String, parent: UInt64, parentID: UInt64?) {
            let children: [Cgroup]
            switch listing {
            case .failure(let e):
                unreadable.append(path)
                unknowns += 1
                steps.append(.leaveAlone(path: path, why: "cannot list it (\(e)); its records are kept"))
                return
            case .success(let c): children = c
            }
            for c in children.sorted(by: { $0.path < $1.path }) where !undone.contains(c.path) {
                let record = byCgroup[c.path]
                if let r = record { seen.insert(r.id) }
                let check = record.map(checkInit)
                if case .verified(let h)? = check, let r = record {
                    guard bestEffort({ try tree.insert(serial: r.serial, name: r.name, parent: parent,
                                            owner: ContainerTree.Owner(uid: r.ownerUID, gid: r.ownerGID)) }) else {
                        steps.append(.keep([r], why: "its name or serial is taken; not adopted"))
                        continue
                    }
                    steps.append(.adopt(r, h, parent: parent))
                    visit(c.children, path: c.path, parent: r.serial, parentID: r.id)
                    continue
                }
                if case .unknown(let why)? = check, let r = record {
                    unreadable.append(c.path)
                    unknowns += 1
                    steps.append(.keep([r], why: "cannot check its init (\(why))"))
                    continue
                }
                let search = c.id == nil ? .none : findInit(c, tree.depth(of: parent) + 1)
                if case .unknown(let why) = search {
                    // Not knowing whether an init is there is not knowing
                    // that it is gone: nothing below is touched.
                    unreadable.append(c.path)
                    unknowns += 1
                    if let r = record {
                        steps.append(.keep([r], why: "cannot look for its init (\(why))"))
                    } else {
                        steps.append(.leaveAlone(path: c.path, why: "cannot look for an init in it (\(why))"))
                    }
                    continue
                }
                if let id = c.id, case .found(let found) = search {
                    var name = record?.name ?? hex(id)
                    if tree.child(of: parent, named: name) != nil || EntryKind.reservedNames.contains(name) { name = hex(id) }
                    let serial = record?.serial ?? tree.allocateSerial()
                    let r = ContainerRecord(id: id, serial: serial, name: name, parent: parentID,
                                            created: record?.created ?? now, initPid: found.pid,
                                            initStartTime: found.startTime, pidNamespace: found.pidNamespace,
                                            cgroup: c.path, ownerUID: record?.ownerUID ?? 0, ownerGID: record?.ownerGID ?? 0)
                    guard bestEffort({ try tree.insert(serial: serial, name: name, parent: parent,
                                            owner: ContainerTree.Owner(uid: r.ownerUID, gid: r.ownerGID)) }) else {
                        steps.append(.leaveAlone(path: c.path, why: "its name or serial is taken"))
                        continue
                    }
                    steps.append(.rebuild(r, found.handle, parent: parent,
                                          why: record == nil ? "record lost" : "record names another process"))
                    visit(c.children, path: c.path, parent: serial, parentID: id)
                } else if let r = record {
                    // Its init is gone, and with it its pid namespace and
                    // every container below: kill what is left, forget all.
                    let below = recordsBelow(c.path)
                    for b in below { seen.insert(b.id) }
                    steps.append(.undo([r] + below, why: "init \(r.initPid) is gone"))
                } else if c.populated != false {
                    if c.populated == nil { unknowns += 1 }
                    steps.append(.leaveAlone(path: c.path, why: c.populated == nil
                        ? "cannot tell whether it holds processes" : "holds processes but no container init"))
                } else {
                    steps.append(.removeCgroup(path: c.path))
                }
            }
        }

        func recordsBelow(_ path: String) -> [ContainerRecord] {
            byCgroup.values.filter { $0.cgroup.hasPrefix(path + "/") }.sorted { $0.serial < $1.serial }
        }
    }
}
