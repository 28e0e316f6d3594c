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

  /// The response's `id` text: the id as it was sent.
  let serializedID: [UInt8]?
  /// The id as jansson writes it: what a `$/cancelRequest` naming it is compared with (`1e3`
  /// and `1000.0` name one request).
  let idKey: [UInt8]?

  init(
    request: Request, framing: Framing, batch: BatchResponse?, batchSlot: Int, engine: Engine,
    cancellation: CancellationToken
  ) {
    self.request = request
    // Integer ids, the common kind, are written directly; others through jansson.
    if let id = request.id, let number = id.integerValue {
      self.idKey = Array(String(number).utf8)
    } else {
      self.idKey = request.id?.serialized()
    }
    self.serializedID = request.rawID ?? idKey
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
    guard request.id != nil, let serializedID else { return }
    switch outcome {
    case .success(let result):
      if let batch {
        fill(batch, Engine.successBody(serializedID: serializedID) { result.appendSerialized(to: &$0) })
      } else {
        // The common case, written directly: no response object is built around the result.
        engine.writeSuccess(serializedID: serializedID, framing: framing) { result.appendSerialized(to: &$0) }
      }
    case .serialized(let bytes):
      if let batch {
        fill(batch, Engine.successBody(serializedID: serializedID) { $0.append(contentsOf: bytes) })
      } else {
        engine.writeSuccess(serializedID: serializedID, framing: framing) { $0.append(contentsOf: bytes) }
      }
    case .failure(let error):
      if error.code == .requestCancelled { now = true }
      let response = Engine.failureBody(serializedID: serializedID, error: error)
      if let batch {
        fill(batch, response)
      } else {
        engine.write(body: response, framing: framing, now: false)
      }
    }
  }

  private func fill(_ batch: BatchResponse, _ response: [UInt8]) {
    if let whole = batch.fill(slot: batchSlot, with: response) {
      engine.write(batch: whole, framing: framing)
    }
  }
}

/// Collects the responses of one batch, each kept as its serialized bytes (not as a JSON tree,
/// which for a page of records takes several times the text's memory, and was held so until the
/// batch's last member was done: a slow reader sending batches of page exports took the server
/// to gigabytes). The whole array is sent when the last one is in. Filled by the thread serving
/// the batch's calls and by the one reading (protocol errors, cancelled calls still queued):
/// behind `Locked` (a pthread lock ThreadSanitizer sees, unlike the standard library's Mutex).
final class BatchResponse: Sendable {
  private struct Slots {
    var responses: [[UInt8]?]
    var missing: Int
  }
  private let slots: Locked<Slots>

  init(expecting count: Int) {
    slots = Locked(Slots(responses: Array(repeating: nil, count: count), missing: count))
  }

  /// Returns the batch's responses (serialized, in order) once every slot is filled; the
  /// caller writes them as one array straight into the output (no joined copy).
  func fill(slot: Int, with response: [UInt8]) -> [[UInt8]]? {
    slots.withLock { slots -> [[UInt8]]? in
      precondition(slots.responses[slot] == nil)
      slots.responses[slot] = response
      slots.missing -= 1
      guard slots.missing == 0 else { return nil }
      let whole = slots.responses.map { $0! }
      slots.responses = []
      return whole
    }
  }
}
