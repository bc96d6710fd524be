#if canImport(Glibc)
import Glibc
#endif
import CNamespaceShim

/// A detached OS thread running a closure (no Foundation, no Dispatch).
public enum BackgroundThread {
    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    public static func start(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(tid)
    }
}

/// An epoll set of descriptors, each tagged with a 64-bit value.
public final class Epoll: @unchecked Sendable {
    let fd: Int32

    public init() throws(Errno) {
        fd = try valueOrNegatedErrno { nsfs_epoll_create() }
    }

    deinit { close(fd) }

    public func add(_ descriptor: FileDescriptor, tag: UInt64) throws(Errno) {
        _ = try valueOrNegatedErrno { nsfs_epoll_add(fd, descriptor.rawValue, tag) }
    }

    public func remove(_ descriptor: FileDescriptor) { _ = nsfs_epoll_remove(fd, descriptor.rawValue) }

    /// Tags of ready descriptors (waits up to `timeout` ms, -1 forever).
    public func wait(timeout: Int32 = -1) -> [UInt64] {
        var tags = [UInt64](repeating: 0, count: 64)
        let n = nsfs_epoll_wait(fd, &tags, 64, timeout)
        return n > 0 ? Array(tags[0..<Int(n)]) : []
    }
}

/// A FIFO of jobs run one at a time on one background thread.
public final class SerialQueue: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var jobs: [@Sendable () -> Void] = []

    public init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        BackgroundThread.start { [self] in
            while true {
                pthread_mutex_lock(&mutex)
                while jobs.isEmpty { pthread_cond_wait(&cond, &mutex) }
                let job = jobs.removeFirst()
                pthread_mutex_unlock(&mutex)
                job()
            }
        }
    }

    public func async(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }
}
