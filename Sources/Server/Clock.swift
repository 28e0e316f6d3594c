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
///
/// The last time given is an `Atomic`, not a `Mutex`: reading the clock never waits, and the
/// atomic's operations compile into this module, where ThreadSanitizer sees them (a `Mutex`
/// locks inside the prebuilt Synchronization library, so TSan cannot tell that it orders the
/// accesses it guards and reports them as races).
public final class SystemClock: Clock {
  private let last = Atomic<Int64>(0)

  public init() {}

  public func now() -> Timestamp {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    let milliseconds = Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    var seen = last.load(ordering: .relaxed)
    while seen < milliseconds {
      let (exchanged, current) = last.compareExchange(
        expected: seen, desired: milliseconds, ordering: .relaxed)
      if exchanged { return Timestamp(millisecondsSinceEpoch: milliseconds) }
      seen = current
    }
    return Timestamp(millisecondsSinceEpoch: seen)
  }
}
