import Testing
@testable import FuseAdapter

/// The mount command's decisions on a mount point that is already a
/// namespacefs mount, from made-up facts: no root, no kernel.
@Suite struct TakeoverDecisions {
    typealias Plan = TakeoverPlan
    let m1 = Plan.Mount(device: "0:51", mountPoint: "/m1")
    let m2 = Plan.Mount(device: "0:52", mountPoint: "/m2")

    func before(_ mountPoint: String, mounted: Plan.Mount?, recorded: Plan.Mount?, holder: ConnectionHolder.Answer,
                exiting: Bool = false, restart: Bool = false) -> Plan.BeforeLock {
        Plan.beforeLock(mountPoint: mountPoint, stateDirectory: "/run/st", mounted: mounted, recorded: recorded,
                        holder: holder, serverExiting: exiting, restart: restart)
    }

    @Test func nothingMountedProceeds() {
        #expect(before("/m1", mounted: nil, recorded: nil, holder: .none) == .proceed)
        #expect(before("/m1", mounted: nil, recorded: m1, holder: .serving(pid: 7)) == .proceed)   // the lock decides
    }

    @Test func aServedMountIsRefusedAndSaysRestart() {
        guard case .refuse(let line) = before("/m1", mounted: m1, recorded: m1, holder: .serving(pid: 7)) else { Issue.record("not refused"); return }
        #expect(line.contains("served by daemon 7") && line.contains("--restart"))
    }

    @Test func aDyingDaemonIsWaitedFor() {
        guard case .waitForExit(let pid, let otherwise) = before("/m1", mounted: m1, recorded: m1, holder: .serving(pid: 7), exiting: true) else {
            Issue.record("not waited for"); return
        }
        #expect(pid == 7 && otherwise.contains("--restart"))
    }

    @Test func restartHandsOverOnlyTheDaemonOfThisMount() {
        #expect(before("/m1", mounted: m1, recorded: m1, holder: .serving(pid: 7), restart: true) == .handOver(pid: 7))
        // The state directory serves /m1; the mount point given is /m2 (another state directory's).
        for restart in [false, true] {
            guard case .refuse(let line) = before("/m2", mounted: m2, recorded: m1, holder: .serving(pid: 7), restart: restart) else {
                Issue.record("restart \(restart): not refused"); continue
            }
            #expect(line.contains("daemon 7") && line.contains("serves /m1") && !line.contains("with --restart"))
        }
        // The same mount point, remounted (another device): not the recorded one.
        guard case .refuse = before("/m1", mounted: Plan.Mount(device: "0:60", mountPoint: "/m1"), recorded: m1,
                                    holder: .serving(pid: 7), restart: true) else { Issue.record("a remounted point handed over"); return }
    }

    @Test func restartWithoutHolderOrServerSaysWhy() {
        #expect(before("/m1", mounted: m1, recorded: m1, holder: .none, restart: true) == .proceed)
        guard case .refuse(let line) = before("/m1", mounted: m1, recorded: m1, holder: .unreachable, restart: true) else {
            Issue.record("not refused"); return
        }
        #expect(line.contains("no connection holder"))
    }

    @Test func aHeldLockNamesWhatItServes() {
        #expect(Plan.lockHeld(by: "namespacefs pid 7 mounted on /m1", mountPoint: "/m1", stateDirectory: "/run/st",
                              mounted: m1, recorded: m1).contains("--restart"))
        let other = Plan.lockHeld(by: "namespacefs pid 7 mounted on /m1", mountPoint: "/m2", stateDirectory: "/run/st",
                                  mounted: m2, recorded: m1)
        #expect(other.contains("mounted on /m1") && other.contains("-o state_dir") && !other.contains("--restart"))
    }

    func after(mounted: Plan.Mount, recorded: Plan.Mount?, take: ConnectionHolder.Answer = .none, fd: Bool,
               restart: Bool = false) -> Plan.AfterLock {
        Plan.afterLock(mountPoint: mounted.mountPoint, stateDirectory: "/run/st", mounted: mounted, recorded: recorded,
                       holderTake: take, haveDescriptor: fd, restart: restart)
    }

    @Test func theRecordedConnectionWithADescriptorIsTakenOver() {
        #expect(after(mounted: m1, recorded: m1, fd: true) == .takeOver)
        #expect(after(mounted: m1, recorded: m1, fd: true, restart: true) == .takeOver)
    }

    @Test func aConnectionNobodyHoldsIsReleased() {
        guard case .release(let reason, let refuse) = after(mounted: m1, recorded: m1, fd: false) else { Issue.record("not released"); return }
        #expect(reason.contains("gone with its daemon") && refuse == nil)
        guard case .release(_, let then) = after(mounted: m1, recorded: m1, fd: false, restart: true) else { Issue.record("not released"); return }
        #expect(then?.contains("could not be taken over") == true)
    }

    @Test func aMountTheRecordDoesNotNameIsReleasedOrRefused() {
        guard case .release(let reason, _) = after(mounted: m1, recorded: m2, fd: true) else { Issue.record("not released"); return }
        #expect(reason.contains("not the one"))
        guard case .refuse(let line) = after(mounted: m1, recorded: nil, fd: false) else { Issue.record("not refused"); return }
        #expect(line.contains("another state directory"))
    }

    @Test func aBusyHolderMeansServed() {
        guard case .refuse(let line) = after(mounted: m1, recorded: m1, take: .busy(pid: 9), fd: false) else { Issue.record("not refused"); return }
        #expect(line.contains("served by daemon 9"))
    }
}
