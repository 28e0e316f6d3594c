import Petitions
import Synchronization

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
public final class SystemClock: Clock {
  private let last = Mutex<Int64>(0)

  public init() {}

  public func now() -> Timestamp {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    let milliseconds = Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    return Timestamp(
      millisecondsSinceEpoch: last.withLock { last in
        last = max(last, milliseconds)
        return last
      })
  }
}
