import Synchronization

/// A flag that a front sets when a call is cancelled and the service reads while it works.
///
/// `isCancelled` first asks the front to look for news (`refresh`), so a single-threaded front
/// can read a cancel notification that is waiting on its input while the service is busy (e.g.
/// waiting for a store another process holds locked). The front rate-limits that look itself.
public final class CancellationToken: Sendable {
  private let flag = Atomic<Bool>(false)
  private let refresh: (@Sendable () -> Void)?
  private let readMore: (@Sendable () -> Bool)?

  /// `refresh`, when given, is called on every `isCancelled` read, on the reading thread;
  /// `readMore` by `readAhead`.
  public init(refresh: (@Sendable () -> Void)? = nil, readMore: (@Sendable () -> Bool)? = nil) {
    self.refresh = refresh
    self.readMore = readMore
  }

  /// While the service waits for a store that is working on its behalf (a PostgreSQL server
  /// running a batch), lets the front read and check one more piece of its input: the calls in
  /// it are queued for a later run. Returns whether anything was read (false: nothing waits, or
  /// the front's read-ahead budget is full).
  public func readAhead() -> Bool { readMore?() ?? false }

  public var isCancelled: Bool {
    if let refresh, !flag.load(ordering: .relaxed) { refresh() }
    return flag.load(ordering: .acquiring)
  }

  /// Whether `cancel()` was called, without asking the front for news.
  public var wasCancelled: Bool { flag.load(ordering: .acquiring) }

  public func cancel() { flag.store(true, ordering: .releasing) }
}
