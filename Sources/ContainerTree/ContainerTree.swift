/// The container tree as a pure value: names, parents, children, serials and
/// the rules for changing it. No I/O: the runtime decides whether a change
/// happened in the kernel, the tree only records it, so every rule here is
/// unit-testable without root.
public struct ContainerTree: Sendable {
    public struct Node: Sendable, Equatable {
        public let serial: UInt64
        public var name: String          // "" for the root
        public var parent: UInt64?       // nil for the root
        public var children: [String: UInt64] = [:]
    }

    public private(set) var nodes: [UInt64: Node]
    public private(set) var nextSerial: UInt64

    public static let rootSerial: UInt64 = 0

    public init() {
        nodes = [Self.rootSerial: Node(serial: Self.rootSerial, name: "", parent: nil)]
        nextSerial = 1
    }

    public var count: Int { nodes.count - 1 }

    public func node(_ serial: UInt64) -> Node? { nodes[serial] }

    public func child(of parent: UInt64, named name: String) -> UInt64? {
        nodes[parent]?.children[name]
    }

    /// Reserve a serial number for a container about to be created.
    public mutating func allocateSerial() -> UInt64 {
        defer { nextSerial += 1 }
        return nextSerial
    }

    /// Check that `name` can be created below `parent`; returns the valid name.
    public func checkCreate(parent: UInt64, name bytes: some Collection<UInt8>) -> Result<String, TreeError> {
        guard let p = nodes[parent] else { return .failure(.notFound) }
        switch ContainerName.validate(bytes) {
        case .failure(let e): return .failure(e)
        case .success(let name):
            if EntryKind.reservedNames.contains(name) || p.children[name] != nil { return .failure(.exists) }
            return .success(name)
        }
    }

    /// Serials up to `serial` are taken (by records not yet inserted).
    public mutating func reserveSerials(through serial: UInt64) {
        if serial >= nextSerial { nextSerial = serial + 1 }
    }

    /// Record a container (new, or re-adopted at startup with its old serial).
    public mutating func insert(serial: UInt64, name: String, parent: UInt64) throws(TreeError) {
        guard nodes[parent] != nil else { throw .notFound }
        guard nodes[serial] == nil, serial != Self.rootSerial else { throw .exists }
        if EntryKind.reservedNames.contains(name) || nodes[parent]!.children[name] != nil { throw .exists }
        nodes[serial] = Node(serial: serial, name: name, parent: parent)
        nodes[parent]!.children[name] = serial
        if serial >= nextSerial { nextSerial = serial + 1 }
    }

    /// May `serial` be removed? Only containers without child containers.
    public func checkRemove(_ serial: UInt64) -> Result<Void, TreeError> {
        if serial == Self.rootSerial { return .failure(.isRoot) }
        guard let n = nodes[serial] else { return .failure(.notFound) }
        return n.children.isEmpty ? .success(()) : .failure(.notEmpty)
    }

    public mutating func remove(_ serial: UInt64) throws(TreeError) {
        if case .failure(let e) = checkRemove(serial) { throw e }
        let n = nodes.removeValue(forKey: serial)!
        nodes[n.parent!]!.children.removeValue(forKey: n.name)
    }

    /// May `serial` be renamed to `name` below `newParent`?
    public func checkRename(_ serial: UInt64, to newParent: UInt64, name bytes: some Collection<UInt8>) -> Result<String, TreeError> {
        if serial == Self.rootSerial { return .failure(.isRoot) }
        guard let n = nodes[serial], let target = nodes[newParent] else { return .failure(.notFound) }
        if isAncestor(serial, of: newParent) { return .failure(.intoOwnSubtree) }
        let name: String
        switch ContainerName.validate(bytes) {
        case .failure(let e): return .failure(e)
        case .success(let v): name = v
        }
        if newParent == n.parent && name == n.name { return .success(name) }
        if EntryKind.reservedNames.contains(name) || target.children[name] != nil { return .failure(.exists) }
        if newParent != n.parent { return .failure(.crossParent) }
        return .success(name)
    }

    public mutating func rename(_ serial: UInt64, to newParent: UInt64, name: some Collection<UInt8>) throws(TreeError) {
        let valid: String
        switch checkRename(serial, to: newParent, name: name) {
        case .failure(let e): throw e
        case .success(let v): valid = v
        }
        let old = nodes[serial]!
        nodes[old.parent!]!.children.removeValue(forKey: old.name)
        nodes[newParent]!.children[valid] = serial
        nodes[serial]!.name = valid
        nodes[serial]!.parent = newParent
    }

    /// True when `a` is `b` or one of `b`'s ancestors.
    public func isAncestor(_ a: UInt64, of b: UInt64) -> Bool {
        var cur: UInt64? = b
        while let c = cur {
            if c == a { return true }
            cur = nodes[c]?.parent
        }
        return false
    }

    /// Names from the root down to `serial` (empty for the root).
    public func path(of serial: UInt64) -> [String] {
        var parts: [String] = []
        var cur = serial
        while let n = nodes[cur], let p = n.parent {
            parts.append(n.name)
            cur = p
        }
        return parts.reversed()
    }

    /// Number of ancestors between `serial` and the root (root: 0).
    public func depth(of serial: UInt64) -> Int { path(of: serial).count }

    /// `serial` and everything below it, children before parents: the order
    /// in which a subtree can be removed.
    public func subtreePostOrder(_ serial: UInt64) -> [UInt64] {
        var out: [UInt64] = []
        func visit(_ s: UInt64) {
            guard let n = nodes[s] else { return }
            for c in n.children.values.sorted() { visit(c) }
            out.append(s)
        }
        visit(serial)
        return out
    }

    /// The listing of a container directory: child containers by name, then
    /// the filesystem's own entries.
    public func listing(of serial: UInt64) -> [(name: String, inode: Inode)] {
        guard let n = nodes[serial] else { return [] }
        var out: [(name: String, inode: Inode)] = n.children.sorted { $0.key < $1.key }.map {
            ($0.key, Inode(serial: $0.value, kind: .container))
        }
        out.append((EntryKind.nsDirectoryName, Inode(serial: serial, kind: .nsDirectory)))
        for c in ControlFile.allCases { out.append((c.name, Inode(serial: serial, kind: .control(c)))) }
        return out
    }

    /// Resolve a name inside a directory inode.
    public func lookup(_ name: String, in dir: Inode) -> Inode? {
        guard nodes[dir.serial] != nil else { return nil }
        switch dir.kind {
        case .container:
            if let c = nodes[dir.serial]!.children[name] { return Inode(serial: c, kind: .container) }
            return EntryKind.controlEntry(named: name).map { Inode(serial: dir.serial, kind: $0) }
        case .nsDirectory:
            return NamespaceKind(name: name).map { Inode(serial: dir.serial, kind: .namespace($0)) }
        default:
            return nil
        }
    }

    /// st_nlink of a directory: 2 + its subdirectories (child containers and ns/).
    public func linkCount(of inode: Inode) -> Int {
        switch inode.kind {
        case .container: 3 + (nodes[inode.serial]?.children.count ?? 0)
        case .nsDirectory: 2
        default: 1
        }
    }
}
