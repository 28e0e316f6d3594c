import Synchronization

/// A flag that a front sets when a call is cancelled and the service reads while it works.
///
/// The front sets it on the thread that reads the input, while the call may be served on the
/// other (`Pipeline`), so a cancel notification reaches a call that waits for a locked store or
/// streams an export at once.
public final class CancellationToken: Sendable {
  private let flag = Atomic<Bool>(false)

  public init() {}

  public var isCancelled: Bool { flag.load(ordering: .acquiring) }

  public func cancel() { flag.store(true, ordering: .releasing) }
}
