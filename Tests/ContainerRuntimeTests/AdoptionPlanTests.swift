import ContainerTree
import LinuxSystem
import Testing
@testable import ContainerRuntime

/// The adoption decision from made-up facts: no root, no kernel.
@Suite struct AdoptionDecisions {
    typealias Plan = AdoptionPlan<Int32>
    let root = "/nsfs"

    func record(_ id: UInt64, serial: UInt64, name: String, parent: UInt64? = nil, cgroup: String,
                creating: Bool = false) -> ContainerRecord {
        ContainerRecord(id: id, serial: serial, name: name, parent: parent, created: 1, initPid: Int32(id),
                        initStartTime: 0, pidNamespace: 100 + id, cgroup: cgroup, creating: creating)
    }

    func cgroup(_ path: String, populated: Bool? = true, children: Result<[Plan.Cgroup], Errno> = .success([])) -> Plan.Cgroup {
        let name = path.split(separator: "/").last!
        return Plan.Cgroup(path: path, id: UInt64(name.dropFirst(3), radix: 16), populated: populated, children: children)
    }

    func plan(_ records: [ContainerRecord], _ root: Result<[Plan.Cgroup], Errno>,
              check: @escaping (ContainerRecord) -> Plan.InitCheck = { .verified($0.initPid) },
              find: @escaping (Plan.Cgroup, Int) -> Plan.FoundInit.Search = { _, _ in .none }) -> [String] {
        Plan(records: records, root: root, cgroupRoot: self.root, checkInit: check, findInit: find, now: 7).steps.map(describe)
    }

    func describe(_ s: Plan.Step) -> String {
        switch s {
        case .adopt(let r, let h, let parent): "adopt \(r.name) init \(h) under \(parent)"
        case .rebuild(let r, let h, let parent, let why): "rebuild \(r.name) init \(h) under \(parent): \(why)"
        case .undo(let rs, let why): "undo \(rs.map(\.name).joined(separator: ",")): \(why)"
        case .forget(let r): "forget \(r.name)"
        case .removeCgroup(let path): "remove \(path)"
        case .leaveAlone(let path, _): "leave \(path)"
        case .keep(let rs, _): "keep \(rs.map(\.name).joined(separator: ","))"
        }
    }

    let a = "/nsfs/ns-000000000000000a", b = "/nsfs/ns-000000000000000a/ns-000000000000000b"

    @Test func liveInitsAreAdoptedParentsFirst() {
        let steps = plan([record(0xb, serial: 2, name: "b", parent: 0xa, cgroup: b), record(0xa, serial: 1, name: "a", cgroup: a)],
                         .success([cgroup(a, children: .success([cgroup(b)]))]))
        #expect(steps == ["adopt a init 10 under 0", "adopt b init 11 under 1"])
    }

    @Test func aFailedListingOfTheRootKeepsEveryRecord() {
        let steps = plan([record(0xa, serial: 1, name: "a", cgroup: a), record(0xb, serial: 2, name: "b", parent: 0xa, cgroup: b)],
                         .failure(Errno(24 /* EMFILE */)))
        #expect(steps == ["leave /nsfs", "keep a", "keep b"])
        #expect(!steps.contains { $0.hasPrefix("forget") || $0.hasPrefix("undo") })
    }

    @Test func aFailedListingBelowKeepsTheRecordsThere() {
        let steps = plan([record(0xa, serial: 1, name: "a", cgroup: a), record(0xb, serial: 2, name: "b", parent: 0xa, cgroup: b)],
                         .success([cgroup(a, children: .failure(Errno.io))]))
        #expect(steps == ["adopt a init 10 under 0", "leave \(a)", "keep b"])
    }

    @Test func anInitThatCannotBeCheckedIsNeitherAdoptedNorKilled() {
        let steps = plan([record(0xa, serial: 1, name: "a", cgroup: a), record(0xb, serial: 2, name: "b", parent: 0xa, cgroup: b)],
                         .success([cgroup(a, children: .success([cgroup(b)]))]),
                         check: { $0.name == "a" ? .unknown("EMFILE") : .verified($0.initPid) })
        #expect(steps == ["keep a", "keep b"])
    }

    @Test func aGoneInitIsUndoneWithItsSubtree() {
        let steps = plan([record(0xa, serial: 1, name: "a", cgroup: a), record(0xb, serial: 2, name: "b", parent: 0xa, cgroup: b)],
                         .success([cgroup(a, children: .success([cgroup(b)]))]),
                         check: { _ in .gone })
        #expect(steps == ["undo a,b: init 10 is gone"])
    }

    @Test func aRecordNamingAnotherProcessIsRebuiltFromTheCgroup() {
        let steps = plan([record(0xa, serial: 1, name: "a", cgroup: a)], .success([cgroup(a)]),
                         check: { _ in .gone },
                         find: { c, depth in depth == 1 ? .found(.init(handle: 4242, pid: 4242, startTime: 9, pidNamespace: 77)) : .none })
        #expect(steps == ["rebuild a init 4242 under 0: record names another process"])
    }

    @Test func aLostRecordIsRebuiltUnderItsId() {
        let steps = plan([], .success([cgroup(a)]),
                         find: { _, _ in .found(.init(handle: 5, pid: 5, startTime: 1, pidNamespace: 2)) })
        #expect(steps == ["rebuild 000000000000000a init 5 under 0: record lost"])
    }

    @Test func unknownCgroupsAreRemovedOnlyWhenEmpty() {
        let c = "/nsfs/ns-000000000000000c", d = "/nsfs/ns-000000000000000d", e = "/nsfs/ns-000000000000000e"
        let steps = plan([], .success([cgroup(c, populated: false), cgroup(d, populated: true), cgroup(e, populated: nil)]))
        #expect(steps == ["remove \(c)", "leave \(d)", "leave \(e)"])
    }

    @Test func unfinishedMkdirsAreUndoneAndMissingCgroupsForgotten() {
        let steps = plan([record(0xa, serial: 1, name: "a", cgroup: a, creating: true),
                          record(0xc, serial: 3, name: "c", cgroup: "/nsfs/ns-000000000000000c")], .success([]))
        #expect(steps == ["undo a: unfinished mkdir", "forget c"])
    }

    @Test func theInitOfAnUnfinishedMkdirIsNotAdoptedAsALostRecords() {
        // A crash after the spawn, before the record said `running`: the
        // cgroup holds the init; it is undone, never also rebuilt.
        let steps = plan([record(0xa, serial: 1, name: "a", cgroup: a, creating: true)],
                         .success([cgroup(a)]),
                         find: { c, _ in .found(Plan.FoundInit(handle: 99, pid: 99, startTime: 1, pidNamespace: 5)) })
        #expect(steps == ["undo a: unfinished mkdir"])
    }

    @Test func aFailedLookForTheInitKeepsTheRecordAndEverythingBelow() {
        // The record names another process (or none could be checked), and
        // the look in its cgroup hit EMFILE: nothing is undone or removed.
        let steps = plan([record(0xa, serial: 1, name: "a", cgroup: a), record(0xb, serial: 2, name: "b", parent: 0xa, cgroup: b)],
                         .success([cgroup(a, children: .success([cgroup(b)]))]),
                         check: { _ in .gone },
                         find: { _, _ in .unknown("EMFILE") })
        #expect(steps == ["keep a", "keep b"])
    }

    @Test func anUnrecordedCgroupWhoseInitCannotBeLookedForIsLeftAlone() {
        let steps = plan([], .success([cgroup(a, populated: false)]), find: { _, _ in .unknown("ENOMEM") })
        #expect(steps == ["leave \(a)"])
    }

    @Test func aRecordNamingACgroupOutsideItsRootIsNeverActedOn() {
        // A forged record: its cgroup climbs out of the root to a victim.
        for forged in ["/nsfs/../victim", "/nsfs/ns-000000000000000a/../../victim", "/victim", "/nsfs//ns-000000000000000a",
                       "/nsfs/ns-000000000000000a/.", "/nsfs/ns-00000000000000zz", "/nsfs"] {
            let steps = plan([record(0xa, serial: 1, name: "a", cgroup: forged, creating: true)], .success([]))
            #expect(steps == ["keep a"], "\(forged)")
            #expect(!ContainerRecord.cgroupIsSafe(forged, root: root))
        }
        #expect(ContainerRecord.cgroupIsSafe(b, root: root))
    }
}
