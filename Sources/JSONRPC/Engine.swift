import JSON
import Logging
import Service

/// Settings of the JSON-RPC transport.
public struct EngineLimits: Sendable {
  public var maxMessageBytes: Int
  public var maxBatch: Int
  /// Bytes of requests read ahead of the service (see `Pipeline.Limits`).
  public var maxQueuedBytes: Int
  public init(maxMessageBytes: Int = 1_048_576, maxBatch: Int = 1000, maxQueuedBytes: Int = 1 << 18) {
    self.maxMessageBytes = maxMessageBytes
    self.maxBatch = maxBatch
    self.maxQueuedBytes = maxQueuedBytes
  }
}

/// JSON-RPC 2.0 over a pair of file descriptors: the front that turns framed messages into
/// `ServiceCall`s and their outcomes into responses.
///
/// A `Pipeline` reads the input and runs the service; this front splits the bytes into messages
/// (`FrameDecoder`), validates them (`MessageReader`), answers protocol errors itself, applies
/// `$/cancelRequest` as soon as it is read (also while the service is busy: the pipeline reads
/// waiting input whenever a call's cancellation is checked), and submits the rest as `Call`s.
public final class Engine: PipelineFront {
  private let limits: EngineLimits
  private let output: OutputWriter
  private let logger: Logger
  private var decoder: FrameDecoder
  private var pipeline: Pipeline!

  public init(limits: EngineLimits, output: OutputWriter, logger: Logger) {
    self.limits = limits
    self.output = output
    self.logger = logger
    self.decoder = FrameDecoder(maxMessageBytes: limits.maxMessageBytes)
  }

  /// Serves until end of input or a byte on `stopSignal`, then answers everything read and
  /// returns once the output is written.
  public func run(input: Int32, service: Service, stopSignal: Int32 = -1) {
    let pipeline = Pipeline(
      service: service, output: output, limits: Pipeline.Limits(maxQueuedBytes: limits.maxQueuedBytes),
      logger: logger)
    self.pipeline = pipeline
    pipeline.run(input: input, stopSignal: stopSignal, front: self)
    self.pipeline = nil
  }

  // MARK: PipelineFront

  public func receive(_ bytes: UnsafeRawBufferPointer, pipeline: Pipeline) {
    decoder.append(bytes)
    while let event = decoder.next() { handle(event) }
  }

  public func finishInput(pipeline: Pipeline) {
    // Stopped by a signal: the client may be in the middle of writing a message; its fragment
    // is not one to answer (every whole message was handled as it arrived).
    guard !pipeline.wasStopped else { return }
    while let event = decoder.finish() { handle(event) }
  }

  // MARK: Messages

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
      // Well-formed JSON with an integer beyond 64 bits (an id, say) is read with every number
      // as a double; the id is then echoed from its text.
      if error.message.hasPrefix("too big integer"), case .success(let value) = JSON.parse(body, integersAsReals: true)
      {
        root = value
        break
      }
      reply(.parseError(error.message), id: nil, framing: framing)
      return
    case .success(let value):
      root = value
    }
    switch MessageReader.read(root, maxBatch: limits.maxBatch) {
    case .rejected(let error, let id):
      reply(error, id: id, framing: framing)
    case .single(let incoming):
      let raw = RawID.mayDiffer(Self.id(of: incoming)) ? RawID.ofRequest(in: body) : nil
      accept(incoming, rawID: raw, framing: framing, batch: nil, slot: 0, bytes: body.count)
    case .batch(let entries):
      let answered = entries.filter(Self.expectsAnswer)
      let batch = answered.isEmpty ? nil : BatchResponse(expecting: answered.count)
      let raws = entries.contains { RawID.mayDiffer(Self.id(of: $0)) } ? RawID.ofBatch(in: body) : []
      var slot = 0
      let share = body.count / max(entries.count, 1) + 1
      for (index, entry) in entries.enumerated() {
        let expects = Self.expectsAnswer(entry)
        let raw = index < raws.count && RawID.mayDiffer(Self.id(of: entry)) ? raws[index] : nil
        accept(entry, rawID: raw, framing: framing, batch: batch, slot: slot, bytes: share)
        if expects { slot += 1 }
      }
    }
  }

  private static func id(of incoming: Incoming) -> JSON? {
    switch incoming {
    case .invalid(_, let id): return id
    case .request(let request): return request.id
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

  private func accept(
    _ incoming: Incoming, rawID: [UInt8]?, framing: Framing, batch: BatchResponse?, slot: Int, bytes: Int
  ) {
    var request: Request
    switch incoming {
    case .invalid(let error, let id):
      if let rawID {
        answerNow(body: Self.failureBody(serializedID: rawID, error: error), framing: framing, batch: batch, slot: slot)
      } else {
        answerNow(ResponseBuilder.failure(id: id, error: error), framing: framing, batch: batch, slot: slot)
      }
      return
    case .request(let valid):
      request = valid
      request.rawID = rawID
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
    // An unknown method is -32601 whatever its params (the service answers it, as any other).
    if request.hasPositionalParams && pipeline.service.isKnownMethod(request.method) {
      if let id = request.id {
        let error = ServiceError.invalidParams(path: "", "must be given by name (an object), not by position")
        answerNow(ResponseBuilder.failure(id: id, error: error), framing: framing, batch: batch, slot: slot)
      }
      return
    }

    let call = Call(
      request: request, framing: framing, batch: batch, batchSlot: slot, engine: self,
      cancellation: pipeline.makeCancellationToken())
    pipeline.submit(call, bytes: bytes)
  }

  /// Answers a protocol error or a `$/` request at once (a batch slot waits for its batch).
  private func answerNow(_ response: JSON, framing: Framing, batch: BatchResponse?, slot: Int) {
    answerNow(body: response.serialized(), framing: framing, batch: batch, slot: slot)
  }

  private func answerNow(body: [UInt8], framing: Framing, batch: BatchResponse?, slot: Int) {
    if let batch {
      guard let whole = batch.fill(slot: slot, with: body) else { return }
      write(batch: whole, framing: framing)
    } else {
      write(body: body, framing: framing, now: false)
    }
  }

  private func reply(_ error: ServiceError, id: JSON?, framing: Framing) {
    write(ResponseBuilder.failure(id: id, error: error), framing: framing, now: false)
  }

  private func cancel(_ id: JSON?) {
    guard let id, !id.isObject, !id.isArray else { return }
    let key = id.integerValue.map { Array(String($0).utf8) } ?? id.serialized()
    var found = false
    pipeline.forEachPendingCall { call in
      guard let call = call as? Call, !call.isAnswered, call.idKey == key else { return }
      call.cancellation.cancel()
      found = true
    }
    if found { pipeline.answerCancelledQueuedCalls() }
  }

  // MARK: Answers (used by `Call`)

  func isQuick(_ call: Call) -> Bool { pipeline?.service.isQuick(call) ?? true }

  func write(_ message: JSON, framing: Framing, now: Bool) {
    write(body: message.serialized(), framing: framing, now: now)
  }

  func write(body: [UInt8], framing: Framing, now: Bool) {
    output.append { framing.appendFrame(body: body, to: &$0) }
    if now { output.flush() }
  }

  /// A batch's responses as one JSON array, built in the output buffer.
  func write(batch responses: [[UInt8]], framing: Framing) {
    let length = responses.reduce(1) { $0 + $1.count + 1 }
    output.append { output in
      if framing == .contentLength { output.append(contentsOf: Array("Content-Length: \(length)\r\n\r\n".utf8)) }
      output.append(UInt8(ascii: "["))
      for (index, response) in responses.enumerated() {
        if index > 0 { output.append(UInt8(ascii: ",")) }
        output.append(contentsOf: response)
      }
      output.append(UInt8(ascii: "]"))
      if framing == .lineDelimited { output.append(UInt8(ascii: "\n")) }
    }
  }

  /// `{"jsonrpc":"2.0","id":ID,"error":ERROR}` as bytes.
  static func failureBody(serializedID: [UInt8], error: ResponseError) -> [UInt8] {
    var body = successPrefix
    body.append(contentsOf: serializedID)
    body.append(contentsOf: errorMember)
    error.makeJSON().appendSerialized(to: &body)
    body.append(UInt8(ascii: "}"))
    return body
  }

  /// `{"jsonrpc":"2.0","id":ID,"result":RESULT}` as bytes (a batch member's response).
  static func successBody(serializedID: [UInt8], result: (inout [UInt8]) -> Void) -> [UInt8] {
    var body = successPrefix
    body.append(contentsOf: serializedID)
    body.append(contentsOf: resultMember)
    result(&body)
    body.append(UInt8(ascii: "}"))
    return body
  }

  func flush() { output.flush() }

  /// Writes `{"jsonrpc":"2.0","id":ID,"result":RESULT}` straight into the output.
  func writeSuccess(serializedID: [UInt8], framing: Framing, result: (inout [UInt8]) -> Void) {
    if framing == .lineDelimited {
      // No body of its own: the line is built in the output buffer.
      output.append { line in
        line.append(contentsOf: Self.successPrefix)
        line.append(contentsOf: serializedID)
        line.append(contentsOf: Self.resultMember)
        result(&line)
        line.append(contentsOf: Self.lineEnd)
      }
      return
    }
    let body = Self.successBody(serializedID: serializedID, result: result)
    output.append { framing.appendFrame(body: body, to: &$0) }
  }

  private static let successPrefix = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
  private static let resultMember = Array(#","result":"#.utf8)
  private static let errorMember = Array(#","error":"#.utf8)
  private static let lineEnd = Array("}\n".utf8)
}

extension Substring {
  fileprivate var trimmingSpaces: String {
    String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
  }
}
