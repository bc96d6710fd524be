/// Who may see and change what: the decision, as a pure function of the
/// tree and the facts the runtime found out about a caller.
package struct CallerFacts: Sendable, Equatable {
    /// The container the caller is in (the root for the host): it never
    /// sees outside it.
    package var scope: UInt64
    /// Its fsuid and fsgid as the request carries them.
    package var uid: UInt32
    package var gid: UInt32
    /// CAP_SYS_ADMIN in the daemon's own user namespace.
    package var privileged: Bool
    /// CAP_SYS_ADMIN in the user namespace of the container it is in (that
    /// container's own, not the host's): root of that container, who may
    /// change what is below it, never the container itself.
    package var containerRoot: Bool

    package init(scope: UInt64, uid: UInt32, gid: UInt32? = nil, privileged: Bool, containerRoot: Bool = false) {
        self.scope = scope
        self.uid = uid
        self.gid = gid ?? uid
        self.privileged = privileged
        self.containerRoot = containerRoot
    }
}

extension ContainerTree {
    /// Does `serial` exist for a caller in `scope`? Only its own container
    /// and what is below ("you never leave a container").
    package func isVisible(_ serial: UInt64, to scope: UInt64) -> Bool {
        guard scope != Self.outsiderScope else { return false }
        guard visibleNode(serial) != nil else { return false }
        return scope == Self.rootSerial || isAncestor(scope, of: serial)
    }

    /// May the caller create, remove and rename in the directory of
    /// `serial` (mkdir in it; rmdir and mv of its children, see mayRemove)?
    /// CAP_SYS_ADMIN in the daemon's user namespace; root of the caller's
    /// container (its own user namespace) below it; else the directory's
    /// mode, as for any POSIX directory: write and search permission for its
    /// owner, group (the caller's fsgid: supplementary groups are not
    /// consulted) or others. uid 0 without the capability (root whose
    /// privileges were dropped) gets nothing: the default owner is root.
    package func mayModify(at serial: UInt64, _ caller: CallerFacts) -> Bool {
        guard isVisible(serial, to: caller.scope), let n = nodes[serial] else { return false }
        if caller.privileged { return true }
        // Root of a container's own user namespace: below it (mkdir in it
        // is "at" it; what is at it alone, its entries, see mayChange).
        if caller.containerRoot && caller.scope != Self.rootSerial { return true }
        guard caller.uid != 0 else { return false }
        let bits: UInt16 = caller.uid == n.owner.uid ? n.mode >> 6 : caller.gid == n.owner.gid ? n.mode >> 3 : n.mode
        return bits & 0o3 == 0o3
    }

    /// rmdir or mv of `child` out of its directory: mayModify there and,
    /// where the directory has the sticky bit, owning the child or the
    /// directory (as /tmp). The privileged and a container's root below it
    /// are not held by the sticky bit.
    package func mayRemove(_ child: UInt64, _ caller: CallerFacts) -> Bool {
        guard let c = nodes[child], let p = c.parent, let dir = nodes[p], mayModify(at: p, caller) else { return false }
        if caller.privileged || (caller.containerRoot && caller.scope != Self.rootSerial) { return true }
        return dir.mode & 0o1000 == 0 || c.owner.uid == caller.uid || dir.owner.uid == caller.uid
    }

    /// chmod of `serial`: its owner, or the privileged (CAP_FOWNER's rule).
    package func mayChangeMode(_ serial: UInt64, _ caller: CallerFacts) -> Bool {
        guard serial != Self.rootSerial, isVisible(serial, to: caller.scope), let n = nodes[serial] else { return false }
        return caller.privileged || (caller.uid != 0 && n.owner.uid == caller.uid)
    }

    /// May the caller change the container `serial` itself: write its
    /// control entries (freeze, hostname, limits)? As in cgroupfs
    /// delegation, a container's own knobs belong to whoever manages its
    /// parent: not to the container (its root changes the containers below
    /// it), nor to the user it was delegated to (chown: the subtree below
    /// is theirs). The host's privileged callers may change anything they see.
    package func mayChange(_ serial: UInt64, _ caller: CallerFacts) -> Bool {
        if caller.privileged { return isVisible(serial, to: caller.scope) }
        guard serial != caller.scope, isVisible(serial, to: caller.scope),
              let parent = nodes[serial]?.parent, isVisible(parent, to: caller.scope) else { return false }
        if caller.containerRoot && caller.scope != Self.rootSerial { return true }
        // What stat shows: 0644, owned by the parent's owner.
        return caller.uid != 0 && nodes[parent]?.owner.uid == caller.uid
    }

    /// May the caller write the limits of `serial`? As mayChange, and never
    /// from inside the container itself, privileged or not: it must not
    /// raise its own.
    package func mayChangeLimits(of serial: UInt64, _ caller: CallerFacts) -> Bool {
        serial != caller.scope && mayChange(serial, caller)
    }

    /// Who may write the entries of `serial` (what `stat` shows as their
    /// owner): the owner of its parent, by the rule of mayChange.
    package func entryOwner(of serial: UInt64) -> Owner? {
        guard let n = nodes[serial] else { return nil }
        return n.parent.flatMap { nodes[$0]?.owner } ?? n.owner
    }
}
