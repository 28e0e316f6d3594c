import JSON
import Service
import Synchronization

/// One JSON-RPC request being served: the `ServiceCall` the JSON-RPC front hands to the service.
/// Its outcome becomes a response frame in the request's framing (or a slot of its batch); a
/// notification's outcome is dropped.
final class Call: ServiceCall {
  let request: Request
  let framing: Framing
  let cancellation: CancellationToken
  let batch: BatchResponse?
  let batchSlot: Int
  unowned let engine: Engine
  /// Set when the call is answered (by the thread serving it); read by the thread reading the
  /// input, for `$/cancelRequest`.
  private let answered = Atomic<Bool>(false)
  var isAnswered: Bool { answered.load(ordering: .acquiring) }
  var preparation: Any?

  /// The id as serialized JSON: the key for `$/cancelRequest` and the response's `id` text.
  let serializedID: [UInt8]?

  init(
    request: Request, framing: Framing, batch: BatchResponse?, batchSlot: Int, engine: Engine,
    cancellation: CancellationToken
  ) {
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
    self.cancellation = cancellation
  }

  var method: String { request.method }
  var params: JSON? { request.params }

  /// A `progressToken` member (string or integer) in params.
  var wantsProgress: Bool { progressToken != nil }

  private var progressToken: JSON? {
    guard let token = request.params?["progressToken"], token.isString || token.isInteger else { return nil }
    return token
  }

  /// `$/progress` `{"token", "value": {"kind", "done"?, "total"?}}`, written at once.
  func progress(_ update: ProgressUpdate) {
    guard let token = progressToken else { return }
    let value = JSON.object()
    switch update {
    case .begin(let total):
      value.set("kind", "begin")
      value.set("done", 0)
      if let total { value.set("total", total) }
    case .report(let done, let total):
      value.set("kind", "report")
      value.set("done", done)
      if let total { value.set("total", total) }
    case .end(let done, let total):
      value.set("kind", "end")
      value.set("done", done)
      if let total { value.set("total", total) }
    }
    let params = JSON.object()
    params.set("token", token)
    params.set("value", value)
    engine.write(ResponseBuilder.notification(method: "$/progress", params: params), framing: framing, now: true)
  }

  func complete(_ outcome: ServiceOutcome) {
    precondition(!answered.exchange(true, ordering: .acquiringAndReleasing), "a call is answered once")
    // Long calls and cancellations are written at once; the answers of a run of quick calls go
    // out together at the end of the run.
    var now = !engine.isQuick(self)
    defer { if now { engine.flush() } }
    guard let id = request.id, let serializedID else { return }
    switch outcome {
    case .success(let result):
      if batch == nil {
        // The common case, written directly: no response object is built around the result.
        engine.writeSuccess(serializedID: serializedID, framing: framing) { result.appendSerialized(to: &$0) }
      } else {
        answer(ResponseBuilder.success(id: id, result: result))
      }
    case .serialized(let bytes):
      if batch == nil {
        engine.writeSuccess(serializedID: serializedID, framing: framing) { $0.append(contentsOf: bytes) }
      } else if case .success(let value) = JSON.parse(bytes) {
        answer(ResponseBuilder.success(id: id, result: value))
      } else {
        answer(ResponseBuilder.failure(id: id, error: .internalError()))
      }
    case .failure(let error):
      if error.code == .requestCancelled { now = true }
      answer(ResponseBuilder.failure(id: id, error: error))
    }
  }

  private func answer(_ response: JSON) {
    if let batch {
      if let whole = batch.fill(slot: batchSlot, with: response) {
        engine.write(whole, framing: framing, now: false)
      }
    } else {
      engine.write(response, framing: framing, now: false)
    }
  }
}

/// Collects the responses of one batch; the whole array is sent when the last one is in.
final class BatchResponse {
  private var responses: [JSON?]
  private var missing: Int

  init(expecting count: Int) {
    responses = Array(repeating: nil, count: count)
    missing = count
  }

  /// Returns the batch's response array once every slot is filled.
  func fill(slot: Int, with response: JSON) -> JSON? {
    precondition(responses[slot] == nil)
    responses[slot] = response
    missing -= 1
    guard missing == 0 else { return nil }
    let array = JSON.array()
    for response in responses { array.append(response!) }
    return array
  }
}
