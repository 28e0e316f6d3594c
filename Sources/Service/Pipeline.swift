import Logging

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What a protocol front does with the bytes a `Pipeline` reads: split them into messages,
/// answer protocol errors itself (through `pipeline.output`), apply cancellations at once, and
/// `submit` the calls it makes for the service.
///
/// `receive` and `finishInput` are called by whichever thread holds the input at the time (one
/// at a time, handed over under a lock); the calls it submits are then served by that same
/// thread, and their `complete` may run while the other thread is in `receive`.
public protocol PipelineFront: AnyObject {
  /// Takes bytes read from the input (any cut: a message may span several reads).
  func receive(_ bytes: UnsafeRawBufferPointer, pipeline: Pipeline)
  /// The input ended (or a stop signal came, `pipeline.wasStopped`): handle what is left
  /// buffered.
  func finishInput(pipeline: Pipeline)
}

/// Serves one input stream through a `Service` with two threads that take turns, C-server style
/// within each turn: one thread holds the input, reads what is waiting (up to a byte budget) and
/// turns it into calls; when the store is free it takes the store, lets the other thread have the
/// input, and serves its calls as one run (one write group, one commit) while the other reads and
/// checks the next requests.
///
/// - Group commit: calls read together are processed together; calls that arrive while a run is
///   being served form the next run.
/// - Parsing and checking requests (half a sign's CPU) overlap the store's work and its commit,
///   and a call is made, served and freed by one thread: no memory is handed between threads
///   but the answer bytes (`OutputWriter` swaps whole buffers with its writer thread). Handing
///   every call to a worker thread, as version 1 did, spent a fifth of its time in malloc locks.
/// - A client that sends one request at a time pays no thread hop: the thread that reads the
///   request finds the store free and serves it itself.
/// - Bounded memory, in bytes: at most `maxQueuedBytes` of requests are read ahead of the run
///   being served, and at most `OutputWriter.highWater` bytes of answers wait for a slow reader;
///   past that, the pipeline stops reading (back-pressure) until the client catches up.
/// - Cancellation while a run is served: the other thread keeps reading the input, so a cancel
///   notification reaches the call's `CancellationToken` at once, also while it waits for a
///   locked store or streams an export.
public final class Pipeline: @unchecked Sendable {
  public struct Limits: Sendable {
    /// Bytes of requests read ahead of the service before it runs them. Two runs are in memory
    /// at once (one served, one being read): 256 KiB each keeps a million signs fed from a file
    /// under 48 MiB and still groups about a thousand signs per commit.
    public var maxQueuedBytes: Int
    public init(maxQueuedBytes: Int = 1 << 18) {
      self.maxQueuedBytes = maxQueuedBytes
    }
  }

  public let service: Service
  public let output: OutputWriter
  public let logger: Logger
  private let limits: Limits

  // The input's state: used by the thread that holds the input (`inputTaken`), handed over
  // under `turns`.
  private var queue: [ServiceCall] = []
  private var queuedBytes = 0
  private var input: Int32 = -1
  private var stopSignal: Int32 = -1
  private weak var front: PipelineFront?
  private var inputEnded = false
  private var stopRequested = false
  private var inputFinished = false
  private var helperStarted = false
  private let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)

  // Turn-taking, guarded by `turns`.
  private let turns = ConditionLock()
  private var inputTaken = false
  private var storeTaken = false
  /// The input's holder has calls to serve and polls `wakeup` for the store to be free.
  private var readerWaitsForStore = false
  /// The input is over: a thread that would take it next stops instead.
  private var isOver = false
  /// The run being served (for `forEachPendingCall`).
  private var serving: [ServiceCall] = []
  /// Written when the store is released while the input's holder waits for it.
  private var wakeup: (read: Int32, write: Int32) = (-1, -1)
  /// The second thread (written and read by the thread that called `run`, which starts it).
  private var helper: pthread_t?

  /// Whether serving ended on a stop signal rather than at the end of input: a message the
  /// client had only partly sent then is not a message (fronts drop it, not answer it).
  public var wasStopped: Bool { stopRequested }

  public init(service: Service, output: OutputWriter, limits: Limits = Limits(), logger: Logger) {
    self.service = service
    self.output = output
    self.limits = limits
    self.logger = logger
  }

  deinit { chunk.deallocate() }

  /// A token for a call of this pipeline: the thread that does not serve the call reads the
  /// input meanwhile, so a cancel notification sets it while the call runs.
  public func makeCancellationToken() -> CancellationToken {
    CancellationToken()
  }

  /// Queues a call for the next run; `bytes` is the size of its message (for the budget).
  /// `Service.prepare` runs now. Called by the front, from `receive`.
  public func submit(_ call: ServiceCall, bytes: Int) {
    service.prepare(call)
    if service.answerWithoutStore(call) { return }
    queue.append(call)
    queuedBytes += bytes
  }

  /// Calls read and not yet run, then those of the run being served (some may be completed
  /// already): where a front looks for the call a cancel notification names. Called by the
  /// front, from `receive`. Cancels are rare, so a scan costs less than keeping every call in a
  /// table.
  public func forEachPendingCall(_ body: (ServiceCall) -> Void) {
    for call in queue { body(call) }
    let running = turns.withLock { serving }
    for call in running { body(call) }
  }

  /// Answers, and takes out of the queue, the queued calls whose cancel flag is set: a call
  /// cancelled while it waits behind a long run (an import, a wait for a locked store) is
  /// answered -32800 at once, not when the run ahead of it ends. Called by the front, from
  /// `receive`, after a cancel notification: the queue belongs to the thread reading the input.
  public func answerCancelledQueuedCalls() {
    guard queue.contains(where: { $0.cancellation.isCancelled }) else { return }
    var kept: [ServiceCall] = []
    kept.reserveCapacity(queue.count)
    for call in queue {
      // The flag is read once per call (see `serve`).
      if call.cancellation.isCancelled {
        call.complete(.failure(service.cancelled(call)))
      } else {
        kept.append(call)
      }
    }
    queue = kept
    output.flushWithoutWaiting()
  }

  /// Serves until end of input or a byte on `stopSignal`; answers everything read, waits until
  /// the output is written, and returns.
  public func run(input: Int32, stopSignal: Int32 = -1, front: PipelineFront) {
    self.input = input
    self.stopSignal = stopSignal
    self.front = front
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else {
      logger.error("cannot make a pipe", metadata: ["errno": "\(errno)"])
      return
    }
    for end in ends {
      _ = fcntl(end, F_SETFD, FD_CLOEXEC)
      _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
    }
    wakeup = (ends[0], ends[1])
    takeTurns()
    if let helper { pthread_join(helper, nil) }
    helper = nil
    close(wakeup.read)
    close(wakeup.write)
    output.finish()
  }

  /// One thread's loop: hold the input until there is a run to serve and the store is free, then
  /// serve it; again, until the input is over.
  private func takeTurns() {
    var run: [ServiceCall] = []
    while true {
      let mayRead: Bool = turns.withLock {
        while inputTaken && !isOver { turns.wait() }
        if isOver { return false }
        inputTaken = true
        return true
      }
      guard mayRead else { return }
      readUntilStoreIsFree(into: &run)
      serve(&run)
    }
  }

  /// Reads while holding the input; returns holding the store, with the calls to serve in `run`
  /// (empty when the input is over and nothing was left), having let go of the input.
  private func readUntilStoreIsFree(into run: inout [ServiceCall]) {
    guard let front else { return }
    var descriptors = [
      pollfd(fd: input, events: Int16(POLLIN), revents: 0),
      pollfd(fd: stopSignal, events: Int16(POLLIN), revents: 0),
      pollfd(fd: wakeup.read, events: Int16(POLLIN), revents: 0),
    ]
    var drained = false
    while true {
      if inputEnded || stopRequested {
        if !inputFinished {
          inputFinished = true
          front.finishInput(pipeline: self)
        }
        takeStore(into: &run, wait: true, ending: true)
        return
      }
      if !queue.isEmpty && (drained || queuedBytes >= limits.maxQueuedBytes) {
        // Full: wait for the store without reading more.
        if takeStore(into: &run, wait: queuedBytes >= limits.maxQueuedBytes, ending: false) { return }
      }
      // Block only when nothing waits to be served (then answers of protocol errors go out now)
      // or the store is busy (then `wakeup` says when it is free).
      if queue.isEmpty { output.flush() }
      let hasCalls = !queue.isEmpty
      let storeBusy: Bool = turns.withLock {
        readerWaitsForStore = hasCalls && storeTaken
        return storeTaken
      }
      // The store is busy with another run (an import, an export, a wait for a lock): answers
      // this thread made meanwhile (protocol errors, -32601, params refused) are done, so they go
      // out now rather than with its own run.
      if hasCalls && storeBusy { output.flushWithoutWaiting() }
      descriptors[0].revents = 0
      descriptors[1].revents = 0
      descriptors[2].fd = hasCalls && storeBusy ? wakeup.read : -1
      descriptors[2].revents = 0
      // Calls to serve and the store free: only look at what is waiting.
      let ready = poll(&descriptors, 3, hasCalls && !storeBusy ? 0 : -1)
      if ready < 0 {
        if errno == EINTR { continue }
        logger.error("poll failed", metadata: ["errno": "\(errno)"])
        inputEnded = true
        continue
      }
      if ready == 0 {
        drained = true
        continue
      }
      if descriptors[1].revents != 0 {
        stopRequested = true
        continue
      }
      if descriptors[2].revents != 0 {
        var byte: UInt8 = 0
        while read(wakeup.read, &byte, 1) == 1 {}
        drained = true
      }
      if descriptors[0].revents != 0 {
        // A read that did not fill the chunk emptied the pipe: what is queued is everything
        // that was waiting, so it may run now (asking poll again would find nothing, at the
        // cost of a system call per request when a client sends one at a time).
        drained = readChunk(front: front)
      }
    }
  }

  /// Takes the store for the queued calls (moved into `run`) and lets go of the input, if the
  /// store is free or once it is (`wait`). `ending`: the input is over; the other thread stops.
  @discardableResult
  private func takeStore(into run: inout [ServiceCall], wait: Bool, ending: Bool) -> Bool {
    let taken: Bool = turns.withLock {
      while storeTaken && wait { turns.wait() }
      if storeTaken { return false }
      storeTaken = true
      readerWaitsForStore = false
      return true
    }
    guard taken else { return false }
    // The queue's buffer becomes the run's, and the run's (empty, with its capacity) the
    // queue's: no array is copied, allocated or freed per run. (Copying the queue and freeing
    // the copy, thousands of calls each run, made glibc consolidate its free lists on every
    // run: 5% of a pipelined sign's time.)
    swap(&queue, &run)
    queuedBytes = 0
    if !run.isEmpty && !helperStarted && !ending {
      // The second thread starts with the first run: a session of one request never needs it.
      helperStarted = true
      helper = startThread { [self] in self.takeTurns() }
    }
    turns.withLock {
      serving = run
      inputTaken = false
      if ending { isOver = true }
      turns.broadcast()
    }
    return true
  }

  /// Serves a run (calls cancelled while queued are answered without running), then lets go of
  /// the store and frees the run's calls on this thread, which made them.
  private func serve(_ run: inout [ServiceCall]) {
    // Each call's flag is read once here: the other thread may cancel a call at any moment, and
    // a call seen running must be processed, one seen cancelled answered (reading the flag twice
    // once dropped a call cancelled between the two reads: never answered).
    if let first = run.firstIndex(where: { $0.cancellation.isCancelled }) {
      var remaining = Array(run[..<first])
      run[first].complete(.failure(service.cancelled(run[first])))
      for call in run[(first + 1)...] {
        if call.cancellation.isCancelled {
          call.complete(.failure(service.cancelled(call)))
        } else {
          remaining.append(call)
        }
      }
      if !remaining.isEmpty { service.process(remaining) }
    } else if !run.isEmpty {
      service.process(run)
    }
    output.flush()
    turns.withLock {
      serving = []
      storeTaken = false
      if readerWaitsForStore {
        var byte: UInt8 = 1
        _ = write(wakeup.write, &byte, 1)
      }
      turns.broadcast()
    }
    run.removeAll(keepingCapacity: true)
  }

  /// Reads one chunk of input into the front; notes end of input.
  /// Returns whether the read emptied the input (it read less than a whole chunk).
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
}
