// swift-tools-version: 6.0
// namespacefs: Linux containers as directories.
//
// Layers, bottom up (each target one job):
//   CFuse3           libfuse3 as Swift sees it (system library)
//   CFuseLoop        C: the request loop, INIT replay, resend, libfuse's macros
//   CCap             libcap (capability checks)
//   CSeccomp         libseccomp (nsfs-oci compiles an engine's seccomp profile)
//   CNamespaceShim   C: clone3-to-exec, pidfd and nsfs calls Swift cannot make
//   LinuxSystem      typed Swift over syscalls: descriptors, errno, cgroup2, /proc
//   ContainerTree    the pure model: names, states, parents, inodes, access rules (no I/O)
//   ContainerRuntime containers for real, one folder per job: Lifecycle (spawn,
//                    kill, death watcher), Store (records), Adoption (after a
//                    restart), Callers (who asks), Presentation (control files, views)
//   FuseAdapter      the FUSE adapter: the only module that imports libfuse
//   namespacefs      the mount command
//   TreeClient       a container as the tools see it through the mount, and entering it
//   ToolArguments    a command line of subcommands read by hand, and its help (pure)
//   nsctl            operates: exec inside a container, ps, tree
//   OCISpec          an OCI bundle's config.json, decoded and checked (pure)
//   nsfs-oci         the OCI runtime engines call (runc's command line)
//   nsfs-records     inspects and checks a state store (the tests use it)
// The init itself (Sources/ContainerInit/nsinit.c) is a libc-free static C
// program built by the Makefile: it must not carry a Swift runtime.
import PackageDescription

let package = Package(
    name: "namespacefs",
    products: [
        .executable(name: "namespacefs", targets: ["namespacefs"]),
        .executable(name: "nsctl", targets: ["nsctl"]),
        .executable(name: "nsfs-records", targets: ["nsfs-records"]),
        .executable(name: "nsfs-oci", targets: ["nsfs-oci"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .target(name: "CFuseLoop", dependencies: ["CFuse3"]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .target(name: "CNamespaceShim"),
        .target(name: "LinuxSystem", dependencies: ["CNamespaceShim", "CCap"]),
        .target(name: "ContainerTree", dependencies: ["LinuxSystem"]),
        .target(name: "ContainerRuntime", dependencies: ["ContainerTree", "LinuxSystem", "CNamespaceShim"]),
        .target(name: "FuseAdapter", dependencies: ["CFuse3", "CFuseLoop", "CNamespaceShim", "ContainerTree", "ContainerRuntime", "LinuxSystem"]),
        .target(name: "MountOptions", dependencies: ["ContainerRuntime", "ContainerTree"]),
        .executableTarget(name: "namespacefs", dependencies: ["FuseAdapter", "ContainerRuntime", "LinuxSystem", "MountOptions"]),
        .target(name: "TreeClient", dependencies: ["LinuxSystem", "ContainerTree", "CNamespaceShim"]),
        .target(name: "ToolArguments"),
        // Linked fully static in release: its start is most of what
        // `nsctl exec` costs (no loader, no shared libraries to relocate).
        .executableTarget(name: "nsctl", dependencies: [
            "LinuxSystem", "ContainerTree", "CNamespaceShim", "TreeClient", "ToolArguments",
        ], linkerSettings: [.unsafeFlags(["-static-executable"], .when(configuration: .release))]),
        .target(name: "OCISpec"),
        .executableTarget(name: "nsfs-oci", dependencies: [
            "LinuxSystem", "ContainerTree", "CNamespaceShim", "TreeClient", "OCISpec", "CSeccomp",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "nsfs-records", dependencies: ["ContainerRuntime", "ContainerTree", "LinuxSystem"]),
        .testTarget(name: "ContainerTreeTests", dependencies: ["ContainerTree", "LinuxSystem"]),
        .testTarget(name: "LinuxSystemTests", dependencies: ["LinuxSystem"]),
        .testTarget(name: "ContainerRuntimeTests", dependencies: ["ContainerRuntime", "ContainerTree", "LinuxSystem"]),
        .testTarget(name: "FuseAdapterTests", dependencies: ["FuseAdapter", "ContainerTree", "LinuxSystem"]),
        .testTarget(name: "OCISpecTests", dependencies: ["OCISpec"]),
        .testTarget(name: "ToolArgumentsTests", dependencies: ["ToolArguments"]),
        .testTarget(name: "MountCommandTests", dependencies: ["MountOptions", "ContainerRuntime"]),
    ]
)
