import JSON

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Settings of the transport.
public struct EngineLimits: Sendable {
  public var maxMessageBytes: Int
  public var maxBatch: Int
  /// Requests parsed ahead of the worker; the reader waits when this many are queued.
  public var maxQueuedCalls: Int
  public init(maxMessageBytes: Int = 1_048_576, maxBatch: Int = 1000, maxQueuedCalls: Int = 16384) {
    self.maxMessageBytes = maxMessageBytes
    self.maxBatch = maxBatch
    self.maxQueuedCalls = maxQueuedCalls
  }
}

/// JSON-RPC 2.0 over a pair of file descriptors.
///
/// Data flows one way: a reader (the calling thread) splits input into frames, parses and
/// validates them, answers protocol errors itself and queues calls; one worker thread hands runs
/// of queued calls to the service, so that writes arriving together can be committed together.
/// `$/cancelRequest` is handled by the reader as soon as it is read, so it overtakes the queue
/// and reaches a running handler through its `CancellationToken`.
public final class Engine: @unchecked Sendable {
  private let limits: EngineLimits
  private let output: FrameOutput
  private let log: @Sendable (String) -> Void

  private let queueMonitor = Monitor()
  private var queue: [Call] = []
  private var inputEnded = false

  private let pendingMonitor = Monitor()
  /// Calls not yet answered, by serialized id, for `$/cancelRequest`.
  private var pending: [[UInt8]: [Call]] = [:]

  /// Frames produced on the worker thread, written together at the end of each run.
  private var queuedFrames: [UInt8] = []

  public init(limits: EngineLimits, output: FrameOutput, log: @escaping @Sendable (String) -> Void) {
    self.limits = limits
    self.output = output
    self.log = log
  }

  /// Serves until end of input or a stop signal, then answers everything read and returns.
  /// The service, set for the duration of `run`.
  private var service: RPCService!

  public func run(input: Int32, service: RPCService, stopSignal: Int32 = -1) {
    self.service = service
    nonisolated(unsafe) let service = service
    let worker = startThread { [self] in self.workerLoop(service: service) }
    readLoop(input: input, stopSignal: stopSignal)
    queueMonitor.withLock {
      inputEnded = true
      queueMonitor.broadcast()
    }
    pthread_join(worker, nil)
  }

  // MARK: Reading

  private func readLoop(input: Int32, stopSignal: Int32) {
    var decoder = FrameDecoder(maxMessageBytes: limits.maxMessageBytes)
    let chunkSize = 65536
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 1)
    defer { chunk.deallocate() }
    var descriptors = [pollfd(fd: input, events: Int16(POLLIN), revents: 0)]
    if stopSignal >= 0 { descriptors.append(pollfd(fd: stopSignal, events: Int16(POLLIN), revents: 0)) }

    reading: while true {
      let ready = poll(&descriptors, nfds_t(descriptors.count), -1)
      if ready < 0 {
        if errno == EINTR { continue }
        log("poll failed: errno \(errno)")
        break
      }
      if descriptors.count > 1 && descriptors[1].revents != 0 {
        // SIGTERM/SIGINT: stop reading, answer what was read.
        while let event = decoder.next() { handle(event) }
        dispatchReadBatch()
        return
      }
      let count = read(input, chunk.baseAddress, chunkSize)
      if count < 0 {
        if errno == EINTR || errno == EAGAIN { continue }
        log("read failed: errno \(errno)")
        break reading
      }
      if count == 0 { break reading }
      decoder.append(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
      while let event = decoder.next() {
        handle(event)
        // Hand on as we go, so a huge chunk does not pile up calls on the reader.
        if readBatch.count >= 1024 { dispatchReadBatch() }
      }
      dispatchReadBatch()
    }
    while let event = decoder.finish() { handle(event) }
    dispatchReadBatch()
  }

  private func handle(_ event: FrameEvent) {
    switch event {
    case .error(let error, let framing):
      switch error {
      case .tooLarge(let limit):
        reply(.invalidRequest("message is larger than \(limit) bytes"), id: nil, framing: framing)
      case .badHeader(let detail):
        reply(.invalidRequest("bad header: \(detail)"), id: nil, framing: framing)
      case .truncated:
        reply(.parseError("input ended in the middle of a message"), id: nil, framing: framing)
      }
    case .message(let body, let framing, let contentType):
      handleMessage(body, framing: framing, contentType: contentType)
    }
  }

  private func handleMessage(_ body: [UInt8], framing: Framing, contentType: String?) {
    let parsed = JSON.parse(body)
    if let contentType, !Self.isUTF8(contentType: contentType) {
      var id: JSON? = nil
      if case .success(let root) = parsed, let given = root["id"], !given.isObject, !given.isArray, !given.isBool {
        id = given
      }
      reply(.invalidRequest("only UTF-8 is accepted (Content-Type \(contentType))"), id: id, framing: framing)
      return
    }
    let root: JSON
    switch parsed {
    case .failure(let error):
      reply(.parseError(error.message), id: nil, framing: framing)
      return
    case .success(let value):
      root = value
    }
    switch MessageReader.read(root, maxBatch: limits.maxBatch) {
    case .rejected(let error, let id):
      reply(error, id: id, framing: framing)
    case .single(let incoming):
      accept(incoming, framing: framing, batch: nil, slot: 0)
    case .batch(let entries):
      let answered = entries.filter(Self.expectsAnswer)
      let batch = answered.isEmpty ? nil : BatchResponse(expecting: answered.count)
      var slot = 0
      for entry in entries {
        let expects = Self.expectsAnswer(entry)
        accept(entry, framing: framing, batch: batch, slot: slot)
        if expects { slot += 1 }
      }
    }
  }

  private static func expectsAnswer(_ incoming: Incoming) -> Bool {
    switch incoming {
    case .invalid: return true
    case .request(let request): return !request.isNotification
    }
  }

  /// A charset other than UTF-8 in Content-Type is refused; no charset means UTF-8.
  static func isUTF8(contentType: String) -> Bool {
    for parameter in contentType.split(separator: ";").dropFirst() {
      let pair = parameter.split(separator: "=", maxSplits: 1)
      guard pair.count == 2 else { continue }
      let name = pair[0].trimmingSpaces.lowercased()
      guard name == "charset" else { continue }
      var value = pair[1].trimmingSpaces.lowercased()
      if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
      return value == "utf-8" || value == "utf8"
    }
    return true
  }

  private func accept(_ incoming: Incoming, framing: Framing, batch: BatchResponse?, slot: Int) {
    let request: Request
    switch incoming {
    case .invalid(let error, let id):
      answerNow(ResponseBuilder.failure(id: id, error: error), framing: framing, batch: batch, slot: slot)
      return
    case .request(let valid):
      request = valid
    }

    if request.method == "$/cancelRequest" {
      cancel(request.params?["id"])
      if let id = request.id {
        answerNow(ResponseBuilder.success(id: id, result: .null), framing: framing, batch: batch, slot: slot)
      }
      return
    }
    if request.method.hasPrefix("$/") {
      // Unknown protocol extensions: notifications are ignored, requests are not found.
      if let id = request.id {
        let response = ResponseBuilder.failure(id: id, error: .methodNotFound(request.method))
        answerNow(response, framing: framing, batch: batch, slot: slot)
      }
      return
    }
    if request.hasPositionalParams {
      if let id = request.id {
        let error = ResponseError.invalidParams(path: "", "params must be given by name (an object)")
        answerNow(ResponseBuilder.failure(id: id, error: error), framing: framing, batch: batch, slot: slot)
      }
      return
    }

    let call = Call(request: request, framing: framing, batch: batch, batchSlot: slot, engine: self)
    service.prepare(call)
    if let id = request.id {
      let key = call.serializedID ?? id.serialized()
      pendingMonitor.withLock { pending[key, default: []].append(call) }
    }
    readBatch.append(call)
  }

  /// Calls read from one chunk of input and not yet handed on (reader thread only).
  private var readBatch: [Call] = []
  /// Whether a thread is running calls through the service (guarded by `queueMonitor`).
  private var isProcessing = false
  /// Runs of at most this many quick calls may be served on the reader thread itself.
  static let inlineLimit = 8

  /// Hands the calls read from one chunk of input on. When nothing else is queued or running and
  /// they are few and quick, the reader serves them itself: a client that sends one request at a
  /// time then pays no thread hand-off (waking a sleeping core costs tens of microseconds on a
  /// virtual machine). Otherwise they are queued for the worker, so that parsing the next chunk
  /// overlaps with committing this one.
  private func dispatchReadBatch() {
    guard !readBatch.isEmpty else { return }
    let calls = readBatch
    readBatch.removeAll(keepingCapacity: true)
    let runsInline =
      calls.count <= Self.inlineLimit && calls.allSatisfy { service.isQuick($0) }
      && queueMonitor.withLock {
        guard queue.isEmpty && !isProcessing else { return false }
        isProcessing = true
        return true
      }
    if runsInline {
      run(calls, service: service)
      queueMonitor.withLock {
        isProcessing = false
        queueMonitor.broadcast()
      }
      return
    }
    queueMonitor.withLock {
      for call in calls {
        while queue.count >= limits.maxQueuedCalls { queueMonitor.wait() }
        queue.append(call)
      }
      queueMonitor.broadcast()
    }
  }

  /// Answers from the reader thread (protocol errors and the like).
  private func answerNow(_ response: JSON, framing: Framing, batch: BatchResponse?, slot: Int) {
    if let batch {
      guard let whole = batch.fill(slot: slot, with: response) else { return }
      writeNow(whole, framing: framing)
    } else {
      writeNow(response, framing: framing)
    }
  }

  private func reply(_ error: ResponseError, id: JSON?, framing: Framing) {
    writeNow(ResponseBuilder.failure(id: id, error: error), framing: framing)
  }

  private func writeNow(_ message: JSON, framing: Framing) {
    var frame: [UInt8] = []
    framing.appendFrame(body: message.serialized(), to: &frame)
    output.write(frame)
  }

  private func cancel(_ id: JSON?) {
    guard let id, !id.isObject, !id.isArray else { return }
    let key = id.integerValue.map { Array(String($0).utf8) } ?? id.serialized()
    let calls = pendingMonitor.withLock { pending[key] ?? [] }
    for call in calls { call.cancellation.cancel() }
  }

  // MARK: Working

  private func workerLoop(service: RPCService) {
    while true {
      let calls: [Call]? = queueMonitor.withLock {
        while (queue.isEmpty || isProcessing) && !inputEnded { queueMonitor.wait() }
        if queue.isEmpty { return nil }
        let taken = queue
        queue.removeAll(keepingCapacity: true)
        isProcessing = true
        queueMonitor.broadcast()
        return taken
      }
      guard let calls else { return }
      run(calls, service: service)
      queueMonitor.withLock {
        isProcessing = false
        queueMonitor.broadcast()
      }
    }
  }

  /// Serves a run of calls (on whichever thread holds `isProcessing`) and writes their answers.
  private func run(_ calls: [Call], service: RPCService) {
    // Calls cancelled while they waited are answered without running.
    var runnable: [Call] = []
    runnable.reserveCapacity(calls.count)
    for call in calls {
      if call.isCancelled { call.fail(.requestCancelled) } else { runnable.append(call) }
    }
    if !runnable.isEmpty { service.process(runnable) }
    for call in runnable where !call.isAnswered {
      log("internal error: \(call.method) was not answered")
      call.fail(.internalError())
    }
    flushQueuedFrames()
  }

  /// Called on the worker thread when a call is answered.
  func finished(_ call: Call) {
    guard let key = call.serializedID else { return }
    pendingMonitor.withLock {
      guard var calls = pending[key] else { return }
      calls.removeAll { $0 === call }
      pending[key] = calls.isEmpty ? nil : calls
    }
  }

  func queueFrame(_ message: JSON, framing: Framing) {
    framing.appendFrame(body: message.serialized(), to: &queuedFrames)
  }

  /// Queues `{"jsonrpc":"2.0","id":ID,"result":RESULT}` written straight into the output.
  func queueSuccessFrame(serializedID: [UInt8], result: JSON, framing: Framing) {
    var body = Self.successPrefix
    body.append(contentsOf: serializedID)
    body.append(contentsOf: Self.resultMember)
    result.appendSerialized(to: &body)
    body.append(UInt8(ascii: "}"))
    framing.appendFrame(body: body, to: &queuedFrames)
  }

  /// Queues a success frame around a result that is already serialised.
  func queueSuccessFrame(serializedID: [UInt8], serializedResult: [UInt8], framing: Framing) {
    var body = Self.successPrefix
    body.append(contentsOf: serializedID)
    body.append(contentsOf: Self.resultMember)
    body.append(contentsOf: serializedResult)
    body.append(UInt8(ascii: "}"))
    framing.appendFrame(body: body, to: &queuedFrames)
  }

  private static let successPrefix = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
  private static let resultMember = Array(#","result":"#.utf8)

  func flushQueuedFrames() {
    guard !queuedFrames.isEmpty else { return }
    output.write(queuedFrames)
    queuedFrames.removeAll(keepingCapacity: queuedFrames.capacity <= 1 << 20)
  }
}

extension Substring {
  fileprivate var trimmingSpaces: String {
    String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
  }
}
