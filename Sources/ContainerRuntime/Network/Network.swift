import CNamespaceShim
import LinuxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// -o network=bridge[:CIDR]: a bridge on the host whose address is the
/// gateway, and the addresses of the subnet for containers.
package struct NetworkConfiguration: Equatable, Sendable {
    package static let bridgeName = "nsfs0"
    package static let defaultCIDR = "10.88.0.1/16"
    /// The bridge's address (host byte order).
    package let gateway: UInt32
    package let prefix: Int

    /// `bridge` or `bridge:A.B.C.D/N` (the bridge's address and the subnet's
    /// length, 8-30); nil if it is neither.
    package static func parse(_ value: String) -> NetworkConfiguration? {
        guard value == "bridge" || value.hasPrefix("bridge:") else { return nil }
        let cidr = value == "bridge" ? defaultCIDR : String(value.dropFirst("bridge:".count))
        let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), (8...30).contains(prefix), let a = parseAddress(parts[0]) else { return nil }
        let c = NetworkConfiguration(gateway: a, prefix: prefix)
        // The gateway is a host address of its subnet.
        guard a != c.network, a != c.broadcast else { return nil }
        return c
    }

    static func parseAddress<S: StringProtocol>(_ s: S) -> UInt32? {
        let octets = s.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var out: UInt32 = 0
        for o in octets {
            guard let v = UInt8(o), String(v) == o else { return nil }
            out = out << 8 | UInt32(v)
        }
        return out
    }

    static func format(_ a: UInt32) -> String { "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)" }

    var mask: UInt32 { prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix) }
    var network: UInt32 { gateway & mask }
    var broadcast: UInt32 { network | ~mask }
    /// The subnet as nft and ip write it.
    package var subnet: String { "\(Self.format(network))/\(prefix)" }
    package var gatewayText: String { Self.format(gateway) }

    /// The record's `address:` value.
    func text(_ a: UInt32) -> String { "\(Self.format(a))/\(prefix)" }

    /// An `address:` value of this subnet, or nil.
    func parseRecorded(_ text: String) -> UInt32? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, Int(parts[1]) == prefix, let a = Self.parseAddress(parts[0]), a & mask == network else { return nil }
        return a
    }
}

/// The addresses given to containers, by container id: one each, never
/// two containers the same one, the lowest free above the last given (a
/// freed address is not reused at once: neighbours' caches).
final class AddressPool: Sendable {
    let configuration: NetworkConfiguration
    /// Addresses by container, and by address (each mkdir asks whether one
    /// is taken: not a walk over every container's).
    private struct Given { var byID: [UInt64: UInt32] = [:]; var owner: [UInt32: UInt64] = [:]; var last: UInt32 }
    private let state: Mutex<Given>

    init(_ configuration: NetworkConfiguration) {
        self.configuration = configuration
        state = Mutex(Given(last: configuration.gateway))
    }

    func take(for id: UInt64) -> UInt32? {
        let c = configuration
        return state.withLock { s in
            var a = s.last
            for _ in 0..<(c.broadcast - c.network - 1) {
                a = a + 1 >= c.broadcast ? c.network + 1 : a + 1
                if a != c.gateway && s.owner[a] == nil {
                    s.byID[id] = a
                    s.owner[a] = id
                    s.last = a
                    return a
                }
            }
            return nil
        }
    }

    /// Recorded before (adoption); false if another container has it.
    func reserve(_ a: UInt32, for id: UInt64) -> Bool {
        state.withLock { s in
            if let other = s.owner[a], other != id { return false }
            s.byID[id] = a
            s.owner[a] = id
            return true
        }
    }

    func release(id: UInt64) {
        state.withLock { s in
            if let a = s.byID.removeValue(forKey: id) { s.owner.removeValue(forKey: a) }
        }
    }
}

/// The bridge, each container's veth pair and address, and (where `nft`
/// is) one table of the daemon's own that masquerades containers' traffic
/// to other networks.
package final class Network: Sendable {
    package let configuration: NetworkConfiguration
    let pool: AddressPool
    private let bridgeIndex = Mutex<Int32>(0)
    /// The nft table: `namespacefs` for the default state directory, else
    /// one per state directory (two mounts never remove each other's).
    let nftTable: String

    init(_ configuration: NetworkConfiguration, stateDirectory: String) {
        self.configuration = configuration
        pool = AddressPool(configuration)
        nftTable = stateDirectory == "/run/namespacefs" ? "namespacefs"
            : "namespacefs" + String(stateDirectory.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    /// The bridge (made or adopted) and the masquerade table. Lines for the log.
    package func start() throws(RuntimeError) -> [String] {
        let rc = NetworkConfiguration.bridgeName.withCString { nsfs_bridge_ensure($0, configuration.gateway, Int32(configuration.prefix)) }
        guard rc > 0 else { throw RuntimeError(Errno(-rc), "network: cannot make the bridge \(NetworkConfiguration.bridgeName) (\(configuration.gatewayText)/\(configuration.prefix))") }
        bridgeIndex.withLock { $0 = rc }
        var lines: [String] = []
        if let nft = Self.nft {
            let rules = """
            table ip \(nftTable)
            delete table ip \(nftTable)
            table ip \(nftTable) {
                chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    ip saddr \(configuration.subnet) oifname != "\(NetworkConfiguration.bridgeName)" masquerade
                }
            }

            """
            if let e = Self.run([nft, "-f", "-"], input: rules) { lines.append("network: nft did not take the masquerade table: \(e)") }
            if (try? FileIO.readString("/proc/sys/net/ipv4/ip_forward"))?.hasPrefix("0") == true {
                lines.append("network: net.ipv4.ip_forward is 0: containers reach the host and each other, not other networks")
            }
        } else {
            lines.append("network: no nft: containers' traffic to other networks is not masqueraded")
        }
        return lines
    }

    /// At unmount: the masquerade table goes (the bridge stays: running
    /// containers' veths are on it).
    package func stop() {
        guard let nft = Self.nft else { return }
        if let e = Self.run([nft, "delete", "table", "ip", nftTable]) { Log.line("network: cannot remove the nft table: \(e)") }
    }

    /// eth0 for a new container, its address taken for `id`; returns the
    /// record's `address:` value.
    func attach(_ process: ProcessHandle, id: UInt64, name: String) throws(RuntimeError) -> String {
        guard let a = pool.take(for: id) else {
            throw RuntimeError(Errno(ENOSPC), "network: no address left in \(configuration.subnet) for \(name)")
        }
        let netns: OwnedDescriptor
        do throws(Errno) { netns = try process.namespace(.net) } catch {
            pool.release(id: id)
            throw RuntimeError(error, "network: cannot open the net namespace of \(name)")
        }
        var step: Int32 = 0
        let index = bridgeIndex.withLock { $0 }
        let rc = Self.hostName(id).withCString { h in
            nsfs_veth_attach(process.descriptor.rawValue, netns.rawValue, h, index, a, Int32(configuration.prefix), configuration.gateway, &step)
        }
        guard rc == 0 else {
            pool.release(id: id)
            let what = switch UInt32(step) {
            case NSFS_NET_STEP_VETH.rawValue: "the veth pair \(Self.hostName(id))"
            case NSFS_NET_STEP_INSIDE.rawValue: "eth0 inside"
            default: "the default route inside"
            }
            throw RuntimeError(Errno(-rc), "network: \(name): \(what)")
        }
        return configuration.text(a)
    }

    /// The host end of a container's pair: `nv` and the id's first 12 hex digits.
    static func hostName(_ id: UInt64) -> String { "nv" + String(hex(id).prefix(12)) }

    static var nft: String? { ["/usr/sbin/nft", "/sbin/nft"].first { access($0, X_OK) == 0 } }

    /// nil when it exited 0; else what went wrong, in words.
    static func run(_ argv: [String], input: String? = nil) -> String? {
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var status: Int32 = 0
        let rc = cargs.withUnsafeMutableBufferPointer { b in
            if let input { return input.withCString { nsfs_run(b.baseAddress!, $0, &status) } }
            return nsfs_run(b.baseAddress!, nil, &status)
        }
        if rc != 0 { return "\(argv[0]): \(Errno(-rc))" }
        return status == 0 ? nil : "\(argv.joined(separator: " ")) exited with status \(status >> 8)"
    }
}
