#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The protocol's output: whole messages appended by the pipeline's threads (answers by the one
/// serving a run, protocol errors by the one reading), written to a file descriptor.
///
/// When the output is a pipe with room for what is pending (and nothing else is being written),
/// `flush` writes at once on the calling thread: no thread hop for a client that sends one
/// request at a time. Otherwise the bytes go to a writer thread, so a slow reader delays only
/// the writer until `highWater` bytes wait; then `flush` blocks, and with it the reading of more
/// requests (back-pressure). The two threads swap buffers rather than free each other's memory.
public final class OutputWriter: @unchecked Sendable {
  /// Bytes buffered before `append` hands them to the writer on its own.
  public static let flushThreshold = 1 << 16
  /// Bytes waiting for the writer past which `flush` blocks.
  public let highWater: Int

  private let descriptor: Int32
  /// Bytes appended since the last flush (guarded by `monitor`).
  private var pending: [UInt8] = []
  private let monitor = ConditionLock()
  /// Handed to the writer, guarded by `monitor`.
  private var handed: [UInt8] = []
  private var isFinished = false
  private var isBroken = false
  private var thread: pthread_t?
  /// Whether the writer thread is in a `write` (guarded by `monitor`).
  private var isWriting = false
  /// The pipe's capacity when the output is a pipe; nil otherwise.
  private let pipeCapacity: Int?
  /// At least the bytes in the pipe not read yet (guarded by `monitor`): what FIONREAD said last
  /// plus everything written since. Only this process writes to the pipe and the client's reads
  /// only lower the true figure, so while this bound leaves room, a write fits without asking
  /// the kernel (a system call per answer saved when a client sends one request at a time).
  private var unreadBound = Int.max / 4
  /// A file or a character device (`/dev/null`, a terminal): writes do not wait for a reader.
  private let isFileOrDevice: Bool

  public init(descriptor: Int32, highWater: Int = 4 << 20) {
    self.descriptor = descriptor
    self.highWater = highWater
    // F_GETPIPE_SZ (Linux; hidden behind _GNU_SOURCE in the C headers).
    let capacity = fcntl(descriptor, 1032)
    pipeCapacity = capacity > 0 ? Int(capacity) : nil
    var status = stat()
    let kind = fstat(descriptor, &status) == 0 ? status.st_mode & S_IFMT : 0
    isFileOrDevice = kind == S_IFREG || kind == S_IFCHR
    pending.reserveCapacity(Self.flushThreshold * 2)
  }

  /// Whether `count` bytes surely fit in the pipe now, so writing them cannot block.
  ///
  /// A Linux pipe is a ring of page-sized slots, not a byte count: a write that does not fit in
  /// the room left in the newest page starts a new one, and a page the reader is part way through
  /// still takes a slot. Of two neighbouring pages that two writes left, the pair holds more than
  /// a page of bytes, so the unread bytes take at most `2 * unread / page + 2` slots and this write
  /// at most `count / page + 2`. Trusting `capacity - unread` instead blocked the serving thread
  /// in `write` while a client that reads only after sending everything waited for it: a deadlock.
  private func fitsInPipe(_ count: Int) -> Bool {
    guard let pipeCapacity else { return isFileOrDevice }
    if 2 * unreadBound + count + 5 * Self.pageSize <= pipeCapacity { return true }
    var unread: Int32 = 0
    guard ioctl(descriptor, UInt(FIONREAD), &unread) == 0 else { return false }
    unreadBound = Int(unread)
    return 2 * Int(unread) + count + 5 * Self.pageSize <= pipeCapacity
  }

  private static let pageSize = max(4096, sysconf(Int32(_SC_PAGESIZE)))

  /// Claims standard output for protocol messages: keeps a private duplicate of fd 1 and points
  /// fd 1 at stderr, so a stray `print` can never corrupt the stream.
  public static func claimStandardOutput() -> OutputWriter {
    let frames = dup(STDOUT_FILENO)
    precondition(frames >= 0, "cannot duplicate stdout")
    _ = fcntl(frames, F_SETFD, FD_CLOEXEC)
    dup2(STDERR_FILENO, STDOUT_FILENO)
    return OutputWriter(descriptor: frames)
  }

  /// Whether answers wait for a client that reads slower than they are made (more than
  /// `flushThreshold` bytes handed to the writer and not written yet). Reading requests ahead
  /// then only fills memory: the pipeline holds back.
  public var isBehind: Bool {
    monitor.withLock { handed.count >= Self.flushThreshold }
  }

  /// Appends whole messages; they are written at the next `flush` (or sooner when many wait).
  public func append(_ bytes: [UInt8]) {
    let full: Bool = monitor.withLock {
      pending.append(contentsOf: bytes)
      return pending.count >= Self.flushThreshold
    }
    if full { flush() }
  }

  /// Appends through a closure that writes into the buffer directly (under the output's lock:
  /// the closure only serialises).
  public func append(_ body: (inout [UInt8]) -> Void) {
    let full: Bool = monitor.withLock {
      body(&pending)
      return pending.count >= Self.flushThreshold
    }
    if full { flush() }
  }

  /// Hands what was appended to the writer; blocks while more than `highWater` bytes wait.
  public func flush() {
    let wroteDirectly: Bool = monitor.withLock {
      guard !pending.isEmpty else { return true }
      guard handed.isEmpty && !isWriting && !isBroken && fitsInPipe(pending.count) else { return false }
      if !writeAll(pending) { isBroken = true }
      unreadBound += pending.count
      pending.removeAll(keepingCapacity: true)
      return true
    }
    if wroteDirectly { return }
    startWriterOnce()
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

  /// `flush`, unless the writer already holds `highWater` bytes for a client that does not read:
  /// then the answers wait for the next flush. For the thread reading the input, which must not
  /// block on output while another request is served (it has to see cancel notifications).
  public func flushWithoutWaiting() {
    let hasRoom: Bool = monitor.withLock { !pending.isEmpty && (isBroken || handed.count < highWater) }
    if hasRoom { flush() }
  }

  /// Writes everything and stops the writer.
  /// Called once no other thread appends any more.
  public func finish() {
    flush()
    guard let thread = monitor.withLock({ self.thread }) else { return }
    monitor.withLock {
      isFinished = true
      monitor.broadcast()
    }
    pthread_join(thread, nil)
    monitor.withLock { self.thread = nil }
  }

  private func startWriterOnce() {
    monitor.withLock {
      guard thread == nil else { return }
      thread = startThread { [self] in self.writeLoop() }
    }
  }

  private func writeLoop() {
    var writing: [UInt8] = []
    while true {
      let done: Bool = monitor.withLock {
        while handed.isEmpty && !isFinished { monitor.wait() }
        if handed.isEmpty { return true }
        swap(&writing, &handed)
        isWriting = true
        monitor.broadcast()
        return false
      }
      if done { return }
      let written = writeAll(writing)
      monitor.withLock {
        if !written { isBroken = true }
        unreadBound += writing.count
        isWriting = false
        monitor.broadcast()
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

/// A value that two threads share, behind a pthread mutex. (Not `Synchronization.Mutex`: its
/// lock is inside the prebuilt standard library, where ThreadSanitizer cannot see it order the
/// accesses it guards, so every use is reported as a race.)
public final class Locked<Value>: @unchecked Sendable {
  private let lock = ConditionLock()
  private var value: Value

  public init(_ value: Value) { self.value = value }

  public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
    try lock.withLock { try body(&value) }
  }
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
