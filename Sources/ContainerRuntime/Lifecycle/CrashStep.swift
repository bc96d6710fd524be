/// Where `-o crash_at=STEP` makes the daemon SIGKILL itself, to test that
/// every step of mkdir, rmdir and mv leaves all or nothing.
package enum CrashStep: String, CaseIterable, Sendable {
    case mkdirRecorded = "mkdir-recorded"
    case mkdirCgroup = "mkdir-cgroup"
    case mkdirSpawned = "mkdir-spawned"
    case mkdirDone = "mkdir-done"
    case rmdirKilled = "rmdir-killed"
    case mvRecorded = "mv-recorded"
    /// Naming a set: its container recorded, its processes not moved yet.
    case nameRecorded = "name-recorded"
    /// Naming a set: its processes moved, its parent not thawed yet.
    case nameMoved = "name-moved"
}
