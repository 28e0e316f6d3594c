import Logging

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a protocol front does with the bytes a `Pipeline` reads: split them into messages,
/// answer protocol errors itself (through `pipeline.output`), apply cancellations at once, and
/// `submit` the calls it makes for the service.
public protocol PipelineFront: AnyObject {
  /// Takes bytes read from the input (any cut: a message may span several reads).
  func receive(_ bytes: UnsafeRawBufferPointer, pipeline: Pipeline)
  /// The input ended (or a stop signal came, `pipeline.wasStopped`): handle what is left
  /// buffered.
  func finishInput(pipeline: Pipeline)
}

/// Serves one input stream through a `Service` on the calling thread, C-server style: read what
/// is waiting (up to a byte budget), hand it to the service as one run (one write group, one
/// commit), write the answers, read again.
///
/// - Group commit: calls read together are processed together.
/// - Bounded memory, in bytes: at most `maxQueuedBytes` of requests are read ahead of the
///   service, and at most `OutputWriter.highWater` bytes of answers wait for a slow reader;
///   past that, the pipeline stops reading (back-pressure) until the client catches up.
/// - Cancellation while the service is busy: a call's `CancellationToken` (from
///   `makeCancellationToken`) makes the pipeline read its input without blocking whenever the
///   service looks at the token, so a cancel notification that arrives while the service waits
///   for a locked store or streams an export reaches it at once. Calls read meanwhile are queued
///   for the next run.
/// - One thread does the reading and the work, so requests, their JSON and their results are
///   allocated and freed on one thread; a second thread only writes answer bytes to the output.
public final class Pipeline {
  public struct Limits: Sendable {
    /// Bytes of requests read ahead of the service before it runs them.
    public var maxQueuedBytes: Int
    public init(maxQueuedBytes: Int = 1 << 20) {
      self.maxQueuedBytes = maxQueuedBytes
    }
  }

  public let service: Service
  public let output: OutputWriter
  public let logger: Logger
  private let limits: Limits

  private var queue: [ServiceCall] = []
  private var queuedBytes = 0
  /// The calls of the run the service is processing.
  private var running: [ServiceCall] = []

  private var input: Int32 = -1
  private var stopSignal: Int32 = -1
  private weak var front: PipelineFront?
  private var inputEnded = false
  private var stopRequested = false
  /// Whether serving ended on a stop signal rather than at the end of input: a message the
  /// client had only partly sent then is not a message (fronts drop it, not answer it).
  public var wasStopped: Bool { stopRequested }
  private var isPumping = false
  private let ownerThread: pthread_t
  private let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
  /// The hooks shared by every token this pipeline makes.
  private var refresh: (@Sendable () -> Void)!
  private var readMore: (@Sendable () -> Bool)!

  public init(service: Service, output: OutputWriter, limits: Limits = Limits(), logger: Logger) {
    self.service = service
    self.output = output
    self.limits = limits
    self.logger = logger
    self.ownerThread = pthread_self()
    nonisolated(unsafe) let unowned_self = Unmanaged.passUnretained(self)
    refresh = {
      let pipeline = unowned_self.takeUnretainedValue()
      guard pthread_equal(pthread_self(), pipeline.ownerThread) != 0 else { return }
      _ = pipeline.readWaitingInput(chunks: .max, budget: pipeline.limits.maxQueuedBytes)
    }
    readMore = {
      let pipeline = unowned_self.takeUnretainedValue()
      guard pthread_equal(pthread_self(), pipeline.ownerThread) != 0 else { return false }
      // A client that is not reading its answers gets no read-ahead: its requests would only
      // wait in memory beside the run's.
      guard !pipeline.output.isBehind else { return false }
      return pipeline.readWaitingInput(chunks: 1, budget: pipeline.limits.maxQueuedBytes / 2)
    }
  }

  deinit { chunk.deallocate() }

  /// A token whose `isCancelled` reads cancel notifications waiting on the input.
  /// Its `readAhead` reads one chunk of waiting input (one read, up to 64 KiB), unless answers
  /// are waiting for the client to read them.
  public func makeCancellationToken() -> CancellationToken {
    CancellationToken(refresh: refresh, readMore: readMore)
  }

  /// Queues a call for the next run; `bytes` is the size of its message (for the budget).
  /// `Service.prepare` runs now.
  public func submit(_ call: ServiceCall, bytes: Int) {
    service.prepare(call)
    queue.append(call)
    queuedBytes += bytes
  }

  /// Calls read and not yet run, then those of the running run (some may be completed already):
  /// where a front looks for the call a cancel notification names. Cancels are rare, so a scan
  /// costs less than keeping every call in a table.
  public func forEachPendingCall(_ body: (ServiceCall) -> Void) {
    for call in queue { body(call) }
    for call in running { body(call) }
  }

  /// Serves until end of input or a byte on `stopSignal`; answers everything read, waits until
  /// the output is written, and returns.
  public func run(input: Int32, stopSignal: Int32 = -1, front: PipelineFront) {
    self.input = input
    self.stopSignal = stopSignal
    self.front = front
    var descriptors = [pollfd(fd: input, events: Int16(POLLIN), revents: 0)]
    if stopSignal >= 0 { descriptors.append(pollfd(fd: stopSignal, events: Int16(POLLIN), revents: 0)) }

    while !inputEnded && !stopRequested {
      // Block only when nothing waits to be served.
      let timeout: Int32 = queue.isEmpty ? -1 : 0
      if timeout < 0 { output.flush() }
      let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
      if ready < 0 {
        if errno == EINTR { continue }
        logger.error("poll failed", metadata: ["errno": "\(errno)"])
        break
      }
      if descriptors.count > 1 && descriptors[1].revents != 0 {
        stopRequested = true
        break
      }
      if ready == 0 {
        processQueued()
        continue
      }
      // A read that did not fill the chunk emptied the pipe: what is queued is everything that
      // was waiting, so it runs now (asking poll again would find nothing, at the cost of a
      // system call per request when a client sends one at a time).
      let drained = readChunk(front: front)
      if queuedBytes >= limits.maxQueuedBytes || (drained && !queue.isEmpty) { processQueued() }
    }
    front.finishInput(pipeline: self)
    processQueued()
    output.finish()
  }

  /// Reads one chunk of input into the front; notes end of input.
  /// Returns whether the read emptied the input (it read less than a whole chunk).
  @discardableResult
  private func readChunk(front: PipelineFront) -> Bool {
    let count = read(input, chunk.baseAddress, chunk.count)
    if count < 0 {
      if errno == EINTR || errno == EAGAIN { return false }
      logger.error("read failed", metadata: ["errno": "\(errno)"])
      inputEnded = true
      return false
    }
    if count == 0 {
      inputEnded = true
      return false
    }
    front.receive(UnsafeRawBufferPointer(rebasing: chunk[0..<count]), pipeline: self)
    return count < chunk.count
  }

  /// While the service works: reads what is waiting on the input (at most `chunks` reads),
  /// without blocking and while fewer than `budget` bytes are queued, so that cancellations
  /// reach running calls and the next calls are checked while a store works. Returns whether
  /// anything was read.
  private func readWaitingInput(chunks: Int, budget: Int) -> Bool {
    guard !isPumping, !inputEnded, !stopRequested, let front, input >= 0 else { return false }
    isPumping = true
    defer { isPumping = false }
    var descriptors = [pollfd(fd: input, events: Int16(POLLIN), revents: 0)]
    if stopSignal >= 0 { descriptors.append(pollfd(fd: stopSignal, events: Int16(POLLIN), revents: 0)) }
    var reads = 0
    while reads < chunks && queuedBytes < budget && !inputEnded {
      let ready = poll(&descriptors, nfds_t(descriptors.count), 0)
      guard ready > 0 else { break }
      if descriptors.count > 1 && descriptors[1].revents != 0 {
        stopRequested = true
        break
      }
      readChunk(front: front)
      reads += 1
    }
    return reads > 0
  }

  /// Runs what is queued through the service. Calls cancelled while queued are answered without
  /// running.
  private func processQueued() {
    guard !queue.isEmpty else {
      output.flush()
      return
    }
    // The queue's buffer becomes the run's, and the run's (empty, with its capacity) the
    // queue's: no array is copied, allocated or freed per run. (Copying the shared queue and
    // freeing the copy, thousands of calls each run, made glibc consolidate its free lists on
    // every run: 5% of a pipelined sign's time.)
    swap(&queue, &running)
    queuedBytes = 0
    running.removeAll { call in
      guard call.cancellation.wasCancelled else { return false }
      call.complete(.failure(.requestCancelled))
      return true
    }
    if !running.isEmpty { service.process(running) }
    running.removeAll(keepingCapacity: true)
    output.flush()
  }
}
