/// What the mount command does with a mount point that is already a
/// namespacefs mount, decided from facts alone (the I/O is the caller's:
/// the mount table, the connection record, the holder's answers, the state
/// lock), as AdoptionPlan does for containers; unit-tested with made-up facts.
///
/// Two decisions, on either side of the state lock:
/// - before it: refuse at once (a served mount; another mount's daemon),
///   wait for a dying daemon, or ask the serving one to hand over (--restart);
/// - after it (the mount is ours to serve now): take the connection over,
///   release a dead one and mount afresh, or refuse.
package enum TakeoverPlan {
    /// A mount, as the mount table or a connection record names it.
    package struct Mount: Equatable, Sendable {
        package var device: String
        package var mountPoint: String
        package init(device: String, mountPoint: String) {
            self.device = device
            self.mountPoint = mountPoint
        }
    }

    package enum BeforeLock: Equatable, Sendable {
        /// Nothing stands in the way: take the lock.
        case proceed
        /// The daemon that serves it is exiting (SIGKILLed a moment ago):
        /// wait for its exit, then go on; if it does not exit, refuse.
        case waitForExit(pid: Int32, otherwise: String)
        /// --restart: signal this daemon to hand the mount over.
        case handOver(pid: Int32)
        case refuse(String)
    }

    /// - mounted: the namespacefs mount on the mount point (nil: none).
    /// - recorded: the mount the state directory's connection record names.
    /// - holder: the holder's answer to "who".
    /// - serverExiting: whether the pid it names is on its way out.
    package static func beforeLock(mountPoint: String, stateDirectory: String, mounted: Mount?, recorded: Mount?,
                                  holder: ConnectionHolder.Answer, serverExiting: Bool, restart: Bool) -> BeforeLock {
        let servedHere = mounted != nil && recorded?.mountPoint == mountPoint
        // The state directory's daemon serves another mount point: this
        // mount is another state directory's; nothing here concerns it.
        if let mounted, let other = recorded, other.mountPoint != mountPoint || other.device != mounted.device,
           case .serving(let pid) = holder {
            return .refuse("\(mountPoint) is mounted by a daemon of another state directory; \(stateDirectory) is in use by daemon \(pid), "
                           + "which serves \(other.mountPoint): name the state directory of \(mountPoint) with -o state_dir=, or unmount it first")
        }
        if mounted != nil, !restart, case .serving(let pid) = holder {
            let served = servedMessage(mountPoint, by: "daemon \(pid)")
            return serverExiting ? .waitForExit(pid: pid, otherwise: served) : .refuse(served)
        }
        guard restart else { return .proceed }
        switch holder {
        case .serving(let pid) where pid > 0:
            guard servedHere else {
                return .refuse("--restart: \(stateDirectory) is in use by daemon \(pid), which serves \(recorded?.mountPoint ?? "another mount"), not \(mountPoint): nothing was signalled")
            }
            return .handOver(pid: pid)
        case .none: return .proceed
        case .unreachable:
            return .refuse("--restart: no connection holder for \(stateDirectory) (was \(mountPoint) mounted with -o hold=0, or with another state_dir?)")
        case let other: return .refuse("--restart: \(other)")
        }
    }

    /// The lock taken by someone else: which line says so.
    package static func lockHeld(by other: String, mountPoint: String, stateDirectory: String, mounted: Mount?, recorded: Mount?) -> String {
        if mounted != nil, recorded?.mountPoint == mountPoint { return servedMessage(mountPoint, by: other) }
        return "the state directory \(stateDirectory) is in use by another daemon: \(other); give this mount a state directory of its own (-o state_dir=DIR), or unmount that one first"
    }

    package enum AfterLock: Equatable, Sendable {
        /// Serve the mount through the descriptor held (the connection
        /// continues; its INIT is the record's).
        case takeOver
        /// Nobody can serve it: end it, unmount, mount afresh (`reason`
        /// logged); with --restart, refuse after that.
        case release(reason: String, thenRefuse: String?)
        case refuse(String)
    }

    /// After the lock, for a mount point that is a namespacefs mount.
    /// - holderTake: the holder's answer to "take".
    /// - haveDescriptor: a descriptor of the connection is in hand
    ///   (systemd's store, or the holder's answer).
    /// - recorded: the connection record, read again under the lock.
    package static func afterLock(mountPoint: String, stateDirectory: String, mounted: Mount, recorded: Mount?,
                                 holderTake: ConnectionHolder.Answer, haveDescriptor: Bool, restart: Bool) -> AfterLock {
        if case .busy(let pid) = holderTake { return .refuse(servedMessage(mountPoint, by: "daemon \(pid)")) }
        let noTakeover = restart ? "--restart: the connection of \(mountPoint) could not be taken over (see above)" : nil
        if haveDescriptor, let recorded, recorded == mounted { return .takeOver }
        if recorded?.device == mounted.device {
            // Ours, and nothing holds its connection: it is dead (ENOTCONN).
            return .release(reason: "the connection of \(mountPoint) is gone with its daemon", thenRefuse: noTakeover)
        }
        if haveDescriptor || recorded != nil {
            return .release(reason: "the mount on \(mountPoint) is not the one \(stateDirectory) recorded", thenRefuse: noTakeover)
        }
        return .refuse("\(mountPoint) is already mounted, by a daemon of another state directory: unmount it first with 'umount \(mountPoint)'")
    }

    static func servedMessage(_ mountPoint: String, by daemon: String) -> String {
        "\(mountPoint) is already mounted and served by \(daemon): to restart its daemon, run this with --restart"
    }
}
