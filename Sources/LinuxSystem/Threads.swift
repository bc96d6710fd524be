#if canImport(Glibc)
import Glibc
#endif
import CNamespaceShim
import Synchronization

/// A detached OS thread running a closure (no Foundation, no Dispatch).
/// Background threads never take the termination signals: those must reach
/// the thread that serves requests (its wait is what they interrupt).
package enum BackgroundThread {
    private final class Box: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ b: @escaping @Sendable () -> Void) { self.name = name; body = b }
    }

    /// `name` (at most 15 bytes) is what `ps -L -o comm` shows for it.
    package static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            TerminationSignals.block()
            // A thread inherits its creator's scheduling: one started by a
            // real-time worker would be real-time, and pass it on to every
            // process it spawns. Each starts normal; pools raise their own.
            ThreadPriority.makeCurrentNormal()
            ThreadPriority.setCurrent(to: ThreadPriority.processDefault)
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            _ = nsfs_set_thread_name(b.name)
            b.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(tid)
    }

    /// An id of the calling thread, for asserting which thread runs something.
    package static var currentID: UInt { UInt(pthread_self()) }
}

/// The scheduling weight of one thread (Linux keeps nice per thread).
package enum ThreadPriority {
    /// The nice value the process started with (read on first use, by the
    /// first BackgroundThread, before any thread is raised).
    package static let processDefault: Int32 = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)

    /// Best effort: without CAP_SYS_NICE a thread cannot raise itself.
    package static func setCurrent(to nice: Int32) {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
    }

    /// SCHED_OTHER for the calling thread (a no-op when it already is).
    package static func makeCurrentNormal() {
        var p = sched_param(sched_priority: 0)
        var policy: Int32 = 0
        guard pthread_getschedparam(pthread_self(), &policy, &p) == 0, policy & 0xff != SCHED_OTHER else { return }
        p.sched_priority = 0
        _ = pthread_setschedparam(pthread_self(), SCHED_OTHER, &p)
    }

    /// Real-time (SCHED_FIFO, the lowest priority) for the calling thread.
    /// Threads it starts go back to normal (BackgroundThread); processes it
    /// spawns inherit it and must drop it themselves (spawn.c does, before
    /// exec). False if not allowed.
    package static func makeCurrentRealTime() -> Bool {
        var p = sched_param(sched_priority: 1)
        return pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0
    }
}

/// SIGINT, SIGTERM, SIGHUP and SIGQUIT, which end the daemon's request loop,
/// and SIGUSR1, which hands its mount over to a next daemon.
package enum TerminationSignals {
    static var set: sigset_t {
        var s = sigset_t()
        sigemptyset(&s)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1] { sigaddset(&s, sig) }
        return s
    }

    /// For the calling thread only.
    package static func block() {
        var s = set
        pthread_sigmask(SIG_BLOCK, &s, nil)
    }

    package static func unblock() {
        var s = set
        pthread_sigmask(SIG_UNBLOCK, &s, nil)
    }
}

/// An epoll set of descriptors, each tagged with a 64-bit value.
package final class Epoll: Sendable {
    let fd: Int32

    package init() throws(Errno) {
        fd = try valueOrNegatedErrno { nsfs_epoll_create() }
    }

    deinit { close(fd) }

    package func add(_ descriptor: FileDescriptor, tag: UInt64) throws(Errno) {
        _ = try valueOrNegatedErrno { nsfs_epoll_add(fd, descriptor.rawValue, tag) }
    }

    package func remove(_ descriptor: FileDescriptor) { _ = nsfs_epoll_remove(fd, descriptor.rawValue) }

    /// Tags of ready descriptors (waits up to `timeout` ms, -1 forever).
    package func wait(timeout: Int32 = -1) -> [UInt64] {
        var tags = [UInt64](repeating: 0, count: 64)
        let n = nsfs_epoll_wait(fd, &tags, 64, timeout)
        return n > 0 ? Array(tags[0..<Int(n)]) : []
    }
}

/// A counting semaphore (POSIX), the one blocking wait the pools need.
/// Unchecked: it wraps a `sem_t` that must stay at one address.
final class Semaphore: @unchecked Sendable {
    private let sem = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    init() { sem_init(sem, 0, 0) }
    deinit { sem_destroy(sem); sem.deallocate() }
    func signal() { sem_post(sem) }
    func wait() { while sem_wait(sem) != 0 && errno == EINTR {} }
}

/// Jobs run on background threads, started on demand up to `maxThreads`:
/// a job that blocks (a kill waiting for thousands of processes, a spawn
/// into a frozen cgroup) occupies one thread, never the others. With
/// `maxThreads` 1 it is a FIFO run in order.
package final class WorkerPool: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var head = 0
        var threads = 0
        var busy = 0
    }
    private let state = Mutex(State())
    private let wakeup = Semaphore()
    package let maxThreads: Int
    /// Its threads' name.
    package let name: String
    /// Run first on each new thread (its scheduling, say).
    private let threadSetup: @Sendable () -> Void

    package init(name: String, maxThreads: Int, threadSetup: @escaping @Sendable () -> Void = {}) {
        self.name = name
        self.maxThreads = maxThreads
        self.threadSetup = threadSetup
    }

    package func submit(_ job: @escaping @Sendable () -> Void) {
        let startThread = state.withLock { s -> Bool in
            s.jobs.append(job)
            // Every thread busy, or already promised to earlier jobs: one more.
            guard s.threads - s.busy < s.jobs.count - s.head, s.threads < maxThreads else { return false }
            s.threads += 1
            return true
        }
        if startThread { BackgroundThread.start(name: name) { [self] in work() } }
        wakeup.signal()
    }

    /// Run `parts` at once, the first on the calling thread, the others on
    /// this pool's threads; returns their results in order when all are done.
    package func inParallel<T: Sendable>(_ parts: [@Sendable () -> T]) -> [T] {
        guard parts.count > 1 else { return parts.map { $0() } }
        let results = Mutex<[Int: T]>([:])
        let done = Semaphore()
        for (i, part) in parts.enumerated().dropFirst() {
            submit {
                let r = part()
                results.withLock { $0[i] = r }
                done.signal()
            }
        }
        let first = parts[0]()
        for _ in 1..<parts.count { done.wait() }
        return [first] + (1..<parts.count).map { i in results.withLock { $0[i]! } }
    }

    private func work() {
        threadSetup()
        while true {
            wakeup.wait()
            let job = state.withLock { s -> @Sendable () -> Void in
                let j = s.jobs[s.head]
                s.head += 1
                if s.head > 64 && s.head * 2 > s.jobs.count { s.jobs.removeFirst(s.head); s.head = 0 }
                s.busy += 1
                return j
            }
            job()
            state.withLock { $0.busy -= 1 }
        }
    }
}
