#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The protocol's output: bytes appended on the serving thread and written to a file descriptor
/// by a writer thread, so a slow reader delays only the writer until `highWater` bytes wait;
/// then `flush` blocks, and with it the reading of more requests (back-pressure).
///
/// The two threads swap two buffers, so neither frees memory the other allocated.
public final class OutputWriter: @unchecked Sendable {
  /// Bytes buffered before `append` hands them to the writer on its own.
  public static let flushThreshold = 1 << 16
  /// Bytes waiting for the writer past which `flush` blocks.
  public let highWater: Int

  private let descriptor: Int32
  /// Bytes appended since the last flush (serving thread only).
  private var pending: [UInt8] = []
  private let monitor = ConditionLock()
  /// Handed to the writer, guarded by `monitor`.
  private var handed: [UInt8] = []
  private var isFinished = false
  private var isBroken = false
  private var thread: pthread_t?

  public init(descriptor: Int32, highWater: Int = 4 << 20) {
    self.descriptor = descriptor
    self.highWater = highWater
    pending.reserveCapacity(Self.flushThreshold * 2)
  }

  /// Claims standard output for protocol messages: keeps a private duplicate of fd 1 and points
  /// fd 1 at stderr, so a stray `print` can never corrupt the stream.
  public static func claimStandardOutput() -> OutputWriter {
    let frames = dup(STDOUT_FILENO)
    precondition(frames >= 0, "cannot duplicate stdout")
    _ = fcntl(frames, F_SETFD, FD_CLOEXEC)
    dup2(STDERR_FILENO, STDOUT_FILENO)
    return OutputWriter(descriptor: frames)
  }

  /// Appends whole messages; they are written at the next `flush` (or sooner when many wait).
  public func append(_ bytes: [UInt8]) {
    pending.append(contentsOf: bytes)
    if pending.count >= Self.flushThreshold { flush() }
  }

  /// Appends through a closure that writes into the buffer directly.
  public func append(_ body: (inout [UInt8]) -> Void) {
    body(&pending)
    if pending.count >= Self.flushThreshold { flush() }
  }

  /// Hands what was appended to the writer; blocks while more than `highWater` bytes wait.
  public func flush() {
    guard !pending.isEmpty else { return }
    if thread == nil { startWriter() }
    monitor.withLock {
      while handed.count >= highWater && !isBroken { monitor.wait() }
      if isBroken {
        pending.removeAll(keepingCapacity: true)
        return
      }
      if handed.isEmpty {
        swap(&handed, &pending)
      } else {
        handed.append(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
      }
      monitor.broadcast()
    }
  }

  /// Writes everything and stops the writer.
  public func finish() {
    flush()
    guard let thread else { return }
    monitor.withLock {
      isFinished = true
      monitor.broadcast()
    }
    pthread_join(thread, nil)
    self.thread = nil
  }

  private func startWriter() {
    thread = startThread { [self] in self.writeLoop() }
  }

  private func writeLoop() {
    var writing: [UInt8] = []
    while true {
      let done: Bool = monitor.withLock {
        while handed.isEmpty && !isFinished { monitor.wait() }
        if handed.isEmpty { return true }
        swap(&writing, &handed)
        monitor.broadcast()
        return false
      }
      if done { return }
      if !writeAll(writing) {
        monitor.withLock {
          isBroken = true
          monitor.broadcast()
        }
      }
      writing.removeAll(keepingCapacity: writing.capacity <= Self.flushThreshold * 4)
    }
  }

  /// When the reader has gone away (EPIPE), output is dropped; the server still finishes (and
  /// commits) what it read.
  private func writeAll(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
        if written < 0 {
          if errno == EINTR || errno == EAGAIN { continue }
          return false
        }
        offset += written
      }
      return true
    }
  }
}

/// A mutex with a condition variable: the one place two threads wait for each other (the
/// output). `Synchronization.Mutex` has no condition variable.
final class ConditionLock: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  init() {
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(condition, nil)
  }

  deinit {
    pthread_cond_destroy(condition)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    condition.deallocate()
  }

  func withLock<T>(_ body: () throws -> T) rethrows -> T {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body()
  }

  /// Waits for a broadcast; call with the lock held (inside `withLock`).
  func wait() { pthread_cond_wait(condition, mutex) }
  func broadcast() { pthread_cond_broadcast(condition) }
}

/// Starts an OS thread (outside Swift concurrency) running `body`; returns its handle.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
  final class Box: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
  }
  let context = Unmanaged.passRetained(Box(body)).toOpaque()
  var thread = pthread_t()
  let result = pthread_create(
    &thread, nil,
    { raw in
      let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
      box.body()
      return nil
    }, context)
  precondition(result == 0, "pthread_create failed")
  return thread
}
