import JSON

/// What the engine hands to a service: the requests that arrived together, in order.
/// `process` runs on the engine's one worker thread; it must answer every call (notifications
/// are answered into the void) before returning.
public protocol RPCService: AnyObject {
  /// Called on the reader thread for each call as it is read, before it is queued: pure work
  /// (checking params) that then overlaps with the worker's store work. It must not touch state
  /// shared with `process`; it may leave its result in `call.preparation`.
  func prepare(_ call: Call)
  /// Whether the call is served in well under a millisecond (no long export): only such calls
  /// may be served on the reader thread, which cannot read `$/cancelRequest` meanwhile.
  func isQuick(_ call: Call) -> Bool
  func process(_ calls: [Call])
}

extension RPCService {
  public func prepare(_ call: Call) {}
  public func isQuick(_ call: Call) -> Bool { false }
}

/// One request being served. Answer it once with `respond(_:)` or `fail(_:)`.
public final class Call: @unchecked Sendable {
  public let request: Request
  public let framing: Framing
  /// Set by `$/cancelRequest`; long handlers check it and stop.
  public let cancellation: CancellationToken
  let batch: BatchResponse?
  let batchSlot: Int
  unowned let engine: Engine
  private(set) var isAnswered = false
  /// What `RPCService.prepare` made of the call; handed to `process` through the queue.
  public var preparation: Any?

  /// The id as serialized JSON: the key for `$/cancelRequest` and the response's `id` text.
  let serializedID: [UInt8]?

  init(request: Request, framing: Framing, batch: BatchResponse?, batchSlot: Int, engine: Engine) {
    self.request = request
    // Integer ids, the common kind, are written directly; others through jansson.
    if let id = request.id, let number = id.integerValue {
      self.serializedID = Array(String(number).utf8)
    } else {
      self.serializedID = request.id?.serialized()
    }
    self.framing = framing
    self.batch = batch
    self.batchSlot = batchSlot
    self.engine = engine
    self.cancellation = CancellationToken()
  }

  public var method: String { request.method }
  public var params: JSON? { request.params }
  public var isCancelled: Bool { cancellation.isCancelled }

  public func respond(_ result: JSON) {
    guard let id = request.id, let serializedID else { return finishNotification() }
    if batch == nil {
      // The common case, written directly: no response object is built around the result.
      precondition(!isAnswered, "a call is answered once")
      isAnswered = true
      engine.finished(self)
      engine.queueSuccessFrame(serializedID: serializedID, result: result, framing: framing)
      return
    }
    answer(ResponseBuilder.success(id: id, result: result))
  }

  /// Answers with a result that is already serialised JSON (the caller vouches for it).
  public func respond(serialized result: [UInt8]) {
    guard request.id != nil, let serializedID else { return finishNotification() }
    guard batch == nil else {
      guard case .success(let value) = JSON.parse(result) else { return fail(.internalError()) }
      return respond(value)
    }
    precondition(!isAnswered, "a call is answered once")
    isAnswered = true
    engine.finished(self)
    engine.queueSuccessFrame(serializedID: serializedID, serializedResult: result, framing: framing)
  }

  public func fail(_ error: ResponseError) {
    guard let id = request.id else { return finishNotification() }
    answer(ResponseBuilder.failure(id: id, error: error))
  }

  /// Sends a notification (e.g. `$/progress`) to the client now, in this call's framing,
  /// together with any responses given so far.
  public func notify(method: String, params: JSON) {
    engine.queueFrame(ResponseBuilder.notification(method: method, params: params), framing: framing)
    engine.flushQueuedFrames()
  }

  /// Writes out the responses given so far instead of waiting for the end of `process`.
  public func flushResponses() {
    engine.flushQueuedFrames()
  }

  private func finishNotification() {
    isAnswered = true
  }

  private func answer(_ response: JSON) {
    precondition(!isAnswered, "a call is answered once")
    isAnswered = true
    engine.finished(self)
    if let batch {
      if let whole = batch.fill(slot: batchSlot, with: response) {
        engine.queueFrame(whole, framing: framing)
      }
    } else {
      engine.queueFrame(response, framing: framing)
    }
  }
}

/// Collects the responses of one batch; the whole array is sent when the last one is in.
final class BatchResponse: @unchecked Sendable {
  private let monitor = Monitor()
  private var responses: [JSON?]
  private var missing: Int

  init(expecting count: Int) {
    responses = Array(repeating: nil, count: count)
    missing = count
  }

  /// Returns the batch's response array once every slot is filled.
  func fill(slot: Int, with response: JSON) -> JSON? {
    monitor.withLock {
      precondition(responses[slot] == nil)
      responses[slot] = response
      missing -= 1
      guard missing == 0 else { return nil }
      let array = JSON.array()
      for response in responses { array.append(response!) }
      return array
    }
  }
}
