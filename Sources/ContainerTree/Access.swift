/// Who may see and change what: the decision, as a pure function of the
/// tree and the facts the runtime found out about a caller.
public struct CallerFacts: Sendable, Equatable {
    /// The container the caller is in (the root for the host): it never
    /// sees outside it.
    public var scope: UInt64
    /// Its fsuid as the request carries it.
    public var uid: UInt32
    /// CAP_SYS_ADMIN in the daemon's own user namespace.
    public var privileged: Bool
    /// CAP_SYS_ADMIN in the user namespace of the container it is in (that
    /// container's own, not the host's): root of that container, who may
    /// change what is below it, never the container itself.
    public var containerRoot: Bool

    public init(scope: UInt64, uid: UInt32, privileged: Bool, containerRoot: Bool = false) {
        self.scope = scope
        self.uid = uid
        self.privileged = privileged
        self.containerRoot = containerRoot
    }
}

extension ContainerTree {
    /// Does `serial` exist for a caller in `scope`? Only its own container
    /// and what is below ("you never leave a container").
    public func isVisible(_ serial: UInt64, to scope: UInt64) -> Bool {
        guard visibleNode(serial) != nil else { return false }
        return scope == Self.rootSerial || isAncestor(scope, of: serial)
    }

    /// May the caller change things at or below `serial` (mkdir, rmdir and
    /// mv in it, its writable control files)? CAP_SYS_ADMIN in the daemon's
    /// user namespace, or a delegation: a container at or above `serial`,
    /// inside the caller's own container, chown'ed to the caller's uid.
    /// Owner 0 is the default, not a delegation: uid 0 without the
    /// capability (root of an unprivileged user namespace) gets nothing.
    public func mayModify(at serial: UInt64, _ caller: CallerFacts) -> Bool {
        guard isVisible(serial, to: caller.scope) else { return false }
        if caller.privileged { return true }
        // Root of a container's own user namespace: below it (mkdir in it
        // is "at" it; what is at it alone, its entries, see mayChange).
        if caller.containerRoot && caller.scope != Self.rootSerial { return true }
        guard caller.uid != 0 else { return false }
        var cur: UInt64? = serial
        while let s = cur, isAncestor(caller.scope, of: s) {
            if s != Self.rootSerial, nodes[s]?.owner.uid == caller.uid { return true }
            if s == caller.scope { break }
            cur = nodes[s]?.parent
        }
        return false
    }

    /// May the caller change the container `serial` itself: write its
    /// control entries (freeze, hostname, limits)? As in cgroupfs
    /// delegation, a container's own knobs belong to whoever manages its
    /// parent: not to the container (its root changes the containers below
    /// it), nor to the user it was delegated to (chown: the subtree below
    /// is theirs). The host's privileged callers may change anything they see.
    public func mayChange(_ serial: UInt64, _ caller: CallerFacts) -> Bool {
        if caller.privileged { return isVisible(serial, to: caller.scope) }
        guard serial != caller.scope, isVisible(serial, to: caller.scope),
              let parent = nodes[serial]?.parent else { return false }
        return mayModify(at: parent, caller)
    }

    /// May the caller write the limits of `serial`? As mayChange, and never
    /// from inside the container itself, privileged or not: it must not
    /// raise its own.
    public func mayChangeLimits(of serial: UInt64, _ caller: CallerFacts) -> Bool {
        serial != caller.scope && mayChange(serial, caller)
    }

    /// Who may write the entries of `serial` (what `stat` shows as their
    /// owner): the owner of its parent, by the rule of mayChange.
    public func entryOwner(of serial: UInt64) -> Owner? {
        guard let n = nodes[serial] else { return nil }
        return n.parent.flatMap { nodes[$0]?.owner } ?? n.owner
    }
}
