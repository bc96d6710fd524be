import Testing
@testable import FuseAdapter

@Suite struct ConnectionRecords {
    // The kernel's INIT as this host's 6.18 sends it: a 40-byte header
    // (len 104, opcode 26), then major 7, minor 45, max_readahead, flags
    // (FUSE_INIT_EXT set) and flags2 (FUSE_HAS_RESEND, bit 39, set).
    static func initRequest(flags2: UInt32) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 104)
        func put(_ v: UInt32, at i: Int) { for k in 0..<4 { b[i + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) } }
        put(104, at: 0)
        put(26, at: 4)
        put(7, at: 40)
        put(45, at: 44)
        put(0x20000, at: 48)
        put(1 << 30, at: 52)
        put(flags2, at: 56)
        return b
    }

    let sample = ConnectionRecord(token: 0x5b0e_1f00_aa11_2233, device: "0:63", mountPoint: "/namespaces",
                                  generation: 3, initRequest: initRequest(flags2: 1 << 7))

    @Test func roundTrip() {
        #expect(ConnectionRecord.parse(sample.text) == sample)
        #expect(sample.connectionNumber == "63")
    }

    @Test func damagedRecordsAreRefused() {
        #expect(ConnectionRecord.parse("") == nil)
        #expect(ConnectionRecord.parse(sample.text.replacing("namespacefs-connection 1", with: "namespacefs-connection 9")) == nil)
        #expect(ConnectionRecord.parse(sample.text.replacing("mount-point: /namespaces", with: "mount-point: rel")) == nil)
        // an INIT cut short, or not hex
        let initLine = sample.text.split(separator: "\n").first { $0.hasPrefix("init: ") }!
        #expect(ConnectionRecord.parse(sample.text.replacing(initLine, with: initLine.dropLast())) == nil)
        #expect(ConnectionRecord.parse(sample.text.replacing(initLine, with: "init: zz" + initLine.dropFirst(8))) == nil)
        #expect(ConnectionRecord.parse(sample.text.replacing(initLine, with: "init: 6800")) == nil)
    }

    @Test func resendSupportIsReadFromTheKernelsInit() {
        #expect(FuseSession.kernelResends(initRequest: Self.initRequest(flags2: 1 << 7)))
        #expect(!FuseSession.kernelResends(initRequest: Self.initRequest(flags2: 0)))
        #expect(!FuseSession.kernelResends(initRequest: Array(Self.initRequest(flags2: 1 << 7).prefix(50))))
    }
}
