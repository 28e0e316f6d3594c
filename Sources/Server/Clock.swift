import Petitions

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where the time of a write comes from.
public protocol Clock: Sendable {
  func now() -> Timestamp
}

/// The system's real-time clock, never going backwards within the process, so that rows
/// ordered by signedAt keep the order in which they were written.
public final class SystemClock: Clock, @unchecked Sendable {
  private var last: Int64 = 0
  private var mutex = pthread_mutex_t()

  public init() {
    pthread_mutex_init(&mutex, nil)
  }

  public func now() -> Timestamp {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    let milliseconds = Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    pthread_mutex_lock(&mutex)
    defer { pthread_mutex_unlock(&mutex) }
    last = max(last, milliseconds)
    return Timestamp(millisecondsSinceEpoch: last)
  }
}
