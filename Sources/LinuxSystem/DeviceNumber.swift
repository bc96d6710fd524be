/// dev_t's halves, as glibc's major()/minor() macros split them (Swift
/// sees no macro).
package enum DeviceNumber {
    package static func major(_ dev: UInt) -> Int64 { Int64(((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt(0xfff))) }
    package static func minor(_ dev: UInt) -> Int64 { Int64((dev & 0xff) | ((dev >> 12) & ~UInt(0xff))) }
}
