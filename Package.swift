// swift-tools-version: 6.0
// namespacefs: Linux containers as directories.
//
// Layers, bottom up (each target one job):
//   CFuse3           libfuse3 as Swift sees it (system library)
//   CCap             libcap (capability checks)
//   CNamespaceShim   C: clone3-to-exec, pidfd and nsfs calls Swift cannot make
//   LinuxSystem      typed Swift over syscalls: descriptors, errno, cgroup2, /proc
//   ContainerTree    the pure model: names, parents, inode numbers, rules (no I/O)
//   ContainerRuntime containers for real: cgroups, inits, kill, the state store
//   NamespaceFS      the FUSE adapter: the only module that imports libfuse
//   namespacefs      the mount command
//   nsctl            operates: exec inside a container, ps, tree
// The init itself (Sources/ContainerInit/nsinit.c) is a libc-free static C
// program built by the Makefile: it must not carry a Swift runtime.
import PackageDescription

let package = Package(
    name: "namespacefs",
    products: [
        .executable(name: "namespacefs", targets: ["namespacefs"]),
        .executable(name: "nsctl", targets: ["nsctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        .target(name: "CNamespaceShim"),
        .target(name: "LinuxSystem", dependencies: ["CNamespaceShim", "CCap"]),
        .target(name: "ContainerTree"),
        .target(name: "ContainerRuntime", dependencies: ["ContainerTree", "LinuxSystem", "CNamespaceShim"]),
        .target(name: "NamespaceFS", dependencies: ["CFuse3", "ContainerTree", "ContainerRuntime", "LinuxSystem"]),
        .executableTarget(name: "namespacefs", dependencies: ["NamespaceFS", "ContainerRuntime", "LinuxSystem"]),
        .executableTarget(name: "nsctl", dependencies: [
            "LinuxSystem", "ContainerTree", "CNamespaceShim",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ContainerTreeTests", dependencies: ["ContainerTree"]),
        .testTarget(name: "LinuxSystemTests", dependencies: ["LinuxSystem", "ContainerRuntime"]),
        .testTarget(name: "NamespaceFSTests", dependencies: ["NamespaceFS"]),
    ]
)
