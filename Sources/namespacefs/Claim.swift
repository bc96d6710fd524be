import ContainerRuntime
import FuseAdapter
import LinuxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The state directory and the mount point claimed for this daemon: the
/// state lock taken (one daemon per state directory: a second would write
/// the same record slots) and, for a mount point that is already ours, its
/// connection in hand — as TakeoverPlan decides from the facts gathered here.
struct Claim {
    /// Held as long as the daemon lives (the descriptor survives the
    /// daemonizing fork); the file names its holder.
    let stateLock: OwnedDescriptor
    let takeover: Takeover?

    /// A connection another daemon opened, to go on serving.
    struct Takeover {
        let descriptor: Int32
        let record: ConnectionRecord
    }

    /// What the lock files say of their holder: this daemon, by its pid now.
    static func holderLine(mountPoint: String, stateDirectory: String) -> String {
        "namespacefs pid \(getpid()) mounted on \(mountPoint) (state \(stateDirectory))"
    }

    static func make(_ mountPoint: MountPoint, stateDirectory: String, restart: Bool) -> Claim {
        let here = mountPoint.path
        // Before the state lock (which would wait for its holder).
        let mounted = mountPoint.existing.map { TakeoverPlan.Mount(device: $0.device, mountPoint: $0.mountPoint) }
        let recorded = ConnectionRecord.load(from: stateDirectory).map { TakeoverPlan.Mount(device: $0.device, mountPoint: $0.mountPoint) }
        let who = mounted != nil || restart ? ConnectionHolder.ask(.who, stateDirectory: stateDirectory) : .none
        var serverExiting = false
        if case .serving(let pid) = who { serverExiting = ProcStat.isExiting(pid: pid) }
        switch TakeoverPlan.beforeLock(mountPoint: here, stateDirectory: stateDirectory, mounted: mounted, recorded: recorded,
                                       holder: who, serverExiting: serverExiting, restart: restart) {
        case .proceed: break
        case .refuse(let line): Command.fail(line)
        case .waitForExit(let pid, let otherwise):
            guard let dying = try? ProcessHandle.open(pid: pid), dying.waitForExit(timeoutMilliseconds: 5_000) else {
                Command.fail(otherwise)
            }
        case .handOver(let pid):
            // It stops reading requests, lets its workers answer theirs,
            // exits, and lets go of the locks.
            guard kill(pid, FuseSession.handoverSignal) == 0 else { Command.fail("--restart: cannot signal daemon \(pid) (\(Errno.current))") }
            Log.line("asked daemon \(pid) to hand \(here) over")
        }
        let path = stateDirectory + "/lock"
        let lock: OwnedDescriptor
        do throws(HolderLock.Failure) {
            lock = try HolderLock.acquire(path, holder: holderLine(mountPoint: here, stateDirectory: stateDirectory),
                                          patienceMilliseconds: restart ? 10_000 : 2_000)
        } catch {
            switch error {
            case .held(let other):
                Command.fail(TakeoverPlan.lockHeld(by: other, mountPoint: here, stateDirectory: stateDirectory, mounted: mounted, recorded: recorded))
            case .failed(let e): Command.fail("cannot lock \(path) (\(e))")
            }
        }
        guard let existing = mountPoint.existing, let mounted else { return Claim(stateLock: lock, takeover: nil) }
        // After it: its connection comes from systemd's descriptor store or
        // from the holder; its INIT from the record.
        var fd = SystemdNotify.storedDescriptor(named: "fuse")
        let take = ConnectionHolder.ask(.take, stateDirectory: stateDirectory)
        if case .descriptor(let d) = take { if fd == nil { fd = d } else { close(d) } }
        let record = ConnectionRecord.load(from: stateDirectory)
        switch TakeoverPlan.afterLock(mountPoint: here, stateDirectory: stateDirectory, mounted: mounted,
                                      recorded: record.map { TakeoverPlan.Mount(device: $0.device, mountPoint: $0.mountPoint) },
                                      holderTake: take, haveDescriptor: fd != nil, restart: restart) {
        case .takeOver:
            return Claim(stateLock: lock, takeover: Takeover(descriptor: fd!, record: record!))
        case .release(let reason, let thenRefuse):
            // Nobody can serve it: end it, and start afresh.
            fd.map { _ = close($0) }
            _ = ConnectionHolder.ask(.end, stateDirectory: stateDirectory)
            Log.line("\(reason): \(existing.mountPoint) is unmounted and mounted again")
            _ = umount2(existing.mountPoint, Int32(MNT_DETACH))
            ConnectionRecord.remove(from: stateDirectory)
            if let thenRefuse { Command.fail(thenRefuse) }
            return Claim(stateLock: lock, takeover: nil)
        case .refuse(let line): Command.fail(line)
        }
    }
}
