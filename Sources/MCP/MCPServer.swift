import JSON
import JSONRPC
import Logging
import Service

/// The Model Context Protocol over stdio: a front on the same `Service` as JSON-RPC mode, which
/// shows the contract's methods as tools.
///
/// It speaks both eras of MCP. A request whose `params._meta` names the stateless revision
/// (2026-07-28) is served statelessly (its result carries `resultType`); any other is served as
/// the handshake revisions (2025-03-26 to 2025-11-25) define, after `initialize`. The era is
/// decided per request, so a client that probes `server/discover` and falls back to `initialize`
/// is served either way.
///
/// Tool calls go through a `Pipeline` like JSON-RPC calls: calls read together are committed
/// together, `notifications/cancelled` reaches a running call through its cancellation token
/// (and the cancelled request is never answered), and progress becomes `notifications/progress`.
public final class MCPServer: PipelineFront {
  /// Settings of the transport and of what the server says about itself.
  public struct Configuration: Sendable {
    /// The server's version, in `serverInfo`.
    public var serverVersion: String
    /// Largest accepted line, in bytes; a longer one gets -32600 and is skipped.
    public var maxMessageBytes: Int
    /// Bytes of requests read ahead of the service (see `Pipeline.Limits`).
    public var maxQueuedBytes: Int

    public init(serverVersion: String, maxMessageBytes: Int = 1_048_576, maxQueuedBytes: Int = 1 << 18) {
      self.serverVersion = serverVersion
      self.maxMessageBytes = maxMessageBytes
      self.maxQueuedBytes = maxQueuedBytes
    }
  }

  public static let serverName = "petition-rpc"

  /// What the server tells the model about itself (`instructions`).
  public static let instructions = """
    petition-rpc keeps online petitions and their signatures. Typical use: petition_create, then sign \
    (one signature per person and petition; signing again is a harmless duplicate), count to follow \
    progress, export_page to read signatures page by page (follow nextCursor), export_file to write a \
    whole export to a file on the server's machine. The delivery audience (for the petition's target) \
    never contains emails or phones; the contacts audience is for outreach to people who opted in. A \
    failed call returns isError with structuredContent {code, message, data}: 1001 petition not found, \
    1002 already exists, 1003 closed, 1004 export path exists, -32602 invalid arguments (data.errors \
    lists each with a JSON Pointer), -32000 store unavailable (retryable).
    """

  private let configuration: Configuration
  /// The tools offered, made on first use (`initialize` and `server/discover` do not need them,
  /// so a client's first answer does not wait for the schemas to be made).
  private let makeTools: () -> [Tool]
  private var offered: (byName: [String: Tool], listing: JSON)?
  private let output: OutputWriter
  private let logger: Logger
  private var splitter: LineSplitter
  private var pipeline: Pipeline!
  /// Tool calls not yet answered, by serialized id, for `notifications/cancelled`: added by the
  /// thread reading the input, removed by the one serving the call.
  private let pending = Locked<[[UInt8]: [ToolCall]]>([:])

  /// A server listing the tools `makeTools` gives (in that order), made when first needed.
  public init(
    tools makeTools: @escaping () -> [Tool], configuration: Configuration, output: OutputWriter, logger: Logger
  ) {
    self.configuration = configuration
    self.makeTools = makeTools
    self.output = output
    self.logger = logger
    self.splitter = LineSplitter(maxLineBytes: configuration.maxMessageBytes)
  }

  /// Serves until end of input or a byte on `stopSignal`, then answers everything read and
  /// returns once the output is written.
  public func run(input: Int32, service: Service, stopSignal: Int32 = -1) {
    let pipeline = Pipeline(
      service: service, output: output, limits: Pipeline.Limits(maxQueuedBytes: configuration.maxQueuedBytes),
      logger: logger)
    self.pipeline = pipeline
    pipeline.run(input: input, stopSignal: stopSignal, front: self)
    self.pipeline = nil
  }

  // MARK: PipelineFront

  public func receive(_ bytes: UnsafeRawBufferPointer, pipeline: Pipeline) {
    splitter.append(bytes)
    while let event = splitter.next() { handle(event) }
  }

  public func finishInput(pipeline: Pipeline) {
    // Stopped by a signal: a line the client was still writing is not a message.
    guard !pipeline.wasStopped else { return }
    while let event = splitter.finish() { handle(event) }
  }

  // MARK: Messages

  private func handle(_ event: LineSplitter.Event) {
    switch event {
    case .tooLong:
      writeError(.invalidRequest("message is larger than \(configuration.maxMessageBytes) bytes"), id: nil)
    case .line(let line):
      handleMessage(line)
    }
  }

  private func handleMessage(_ line: [UInt8]) {
    let root: JSON
    switch JSON.parse(line) {
    case .failure(let error):
      writeError(.parseError(error.message), id: nil)
      return
    case .success(let value):
      root = value
    }
    if root.isArray {
      writeError(.invalidRequest("MCP does not use batches: send one message per line"), id: nil)
      return
    }
    // A response from the client (the server sends no requests, so there is nothing to match).
    if root.isObject, root["method"] == nil, root["id"] != nil, root["result"] != nil || root["error"] != nil {
      return
    }
    switch MessageReader.readRequest(root) {
    case .invalid(let error, let id):
      writeError(error, id: id)
    case .request(let request):
      if request.isNotification {
        handleNotification(request)
      } else {
        handleRequest(request, bytes: line.count)
      }
    }
  }

  private func handleNotification(_ notification: Request) {
    switch notification.method {
    case "notifications/cancelled":
      guard let id = notification.params?["requestId"], id.isString || id.isInteger else { return }
      let key = Self.key(of: id)
      // Under the lock: a call answered meanwhile is out of the table, or sees the flag.
      pending.withLock { calls in
        for call in calls[key] ?? [] { call.cancelByClient() }
      }
    default:
      // notifications/initialized and anything else a client may tell: nothing to do.
      break
    }
  }

  private func handleRequest(_ request: Request, bytes: Int) {
    let id = request.id!
    if request.hasPositionalParams {
      writeError(.invalidParams(path: "", "must be an object"), id: id)
      return
    }
    // The era of this request: the stateless revision names itself in `_meta`.
    var isStateless = false
    if let revision = request.params?["_meta"]?[Revisions.metaKey] {
      if let named = revision.stringValue, Revisions.handshake.contains(named) {
        // A revision that -32022 lists as supported is served (as the handshake revisions are),
        // so a client that retries with one from the list is not refused again.
      } else if revision.stringValue == Revisions.stateless {
        isStateless = true
      } else {
        writeError(.unsupportedRevision(revision), id: id)
        return
      }
    }
    switch request.method {
    case "initialize":
      writeResult(makeInitializeResult(request.params), id: id)
    case "server/discover":
      writeResult(makeDiscoverResult(), id: id)
    case "ping":
      writeResult(Self.complete(JSON.object(), isStateless: isStateless), id: id)
    case "tools/list":
      if let cursor = request.params?["cursor"], !cursor.isNull {
        writeError(.invalidParams(path: "/cursor", "is not a cursor of this server (the list has one page)"), id: id)
        return
      }
      let result = JSON.object()
      result.set("tools", tools.listing)
      if isStateless { Self.addCacheHints(to: result) }
      writeResult(Self.complete(result, isStateless: isStateless), id: id)
    case "tools/call":
      callTool(request, id: id, isStateless: isStateless, bytes: bytes)
    default:
      writeError(.methodNotFound(request.method), id: id)
    }
  }

  private func callTool(_ request: Request, id: JSON, isStateless: Bool, bytes: Int) {
    guard let name = request.params?["name"]?.stringValue else {
      writeError(.invalidParams(path: "/name", "must be the name of a tool"), id: id)
      return
    }
    guard let tool = tools.byName[name] else {
      writeError(
        ServiceError(
          code: .invalidParams, message: "Unknown tool: \(name)",
          data: Self.issues("/name", "is not a tool of this server")),
        id: id)
      return
    }
    var arguments = request.params?["arguments"]
    if let given = arguments, given.isNull { arguments = nil }
    if let arguments, !arguments.isObject {
      writeError(.invalidParams(path: "/arguments", "must be an object"), id: id)
      return
    }
    let progressToken = request.params?["_meta"]?["progressToken"].flatMap { $0.isString || $0.isInteger ? $0 : nil }
    let call = ToolCall(
      id: id, serializedID: Self.key(of: id), tool: tool, arguments: arguments, isStateless: isStateless,
      progressToken: progressToken, cancellation: pipeline.makeCancellationToken(), server: self)
    // Names the tool does not take (or lacks) are refused here: the two export tools accept
    // fewer fields than the method. The service checks the values.
    var issues: [ParamIssue] = []
    for key in arguments?.keys ?? [] where !tool.argumentNames.contains(key) {
      issues.append(ParamIssue(path: "/" + Self.escapePointer(key), message: "is not an argument of \(tool.name)"))
    }
    for key in tool.requiredArguments where arguments?[key] == nil || arguments?[key]?.isNull == true {
      issues.append(ParamIssue(path: "/" + Self.escapePointer(key), message: "is required"))
    }
    if !issues.isEmpty {
      call.complete(.failure(.invalidParams(checkedAlso(issues, tool: tool, arguments: arguments))))
      return
    }
    pending.withLock { $0[call.serializedID, default: []].append(call) }
    pipeline.submit(call, bytes: bytes)
  }

  /// The front's issues (arguments the tool does not take or lacks) with those the service finds
  /// in the arguments it does take, so one answer lists every problem, as JSON-RPC mode's does:
  /// the service's in its order (the front's message where both name a member), then the rest.
  private func checkedAlso(_ issues: [ParamIssue], tool: Tool, arguments: JSON?) -> [ParamIssue] {
    let taken = JSON.object()
    for key in arguments?.keys ?? [] where tool.argumentNames.contains(key) { taken.set(key, arguments![key]!) }
    let probe = ToolCall(
      id: .null, serializedID: [], tool: tool, arguments: taken, isStateless: false, progressToken: nil,
      cancellation: CancellationToken(), server: self)
    pipeline.service.prepare(probe)
    var merged: [ParamIssue] = []
    for found in pipeline.service.paramIssues(of: probe) {
      merged.append(issues.first { $0.path == found.path } ?? found)
    }
    for issue in issues where !merged.contains(where: { $0.path == issue.path }) { merged.append(issue) }
    return merged
  }

  /// The tools by name and the `tools` array of `tools/list`, made once.
  private var tools: (byName: [String: Tool], listing: JSON) {
    if let offered { return offered }
    let list = makeTools()
    let listing = JSON.array()
    for tool in list { listing.append(tool.makeJSON()) }
    let made = (Dictionary(list.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }), listing)
    offered = made
    return made
  }

  // MARK: Results

  private func makeInitializeResult(_ params: JSON?) -> JSON {
    let requested = params?["protocolVersion"]?.stringValue
    let revision = requested.flatMap { Revisions.handshake.contains($0) ? $0 : nil } ?? Revisions.handshake[0]
    let result = JSON.object()
    result.set("protocolVersion", revision)
    result.set("capabilities", Self.capabilities)
    result.set("serverInfo", serverInfo)
    result.set("instructions", Self.instructions)
    return result
  }

  private func makeDiscoverResult() -> JSON {
    let result = JSON.object()
    result.set("supportedVersions", ToolCatalog.stringArray(Revisions.all))
    result.set("capabilities", Self.capabilities)
    result.set("instructions", Self.instructions)
    Self.addCacheHints(to: result)
    result.set("resultType", "complete")
    let meta = JSON.object()
    meta.set(Revisions.serverInfoKey, serverInfo)
    result.set("_meta", meta)
    return result
  }

  private var serverInfo: JSON {
    let info = JSON.object()
    info.set("name", Self.serverName)
    info.set("version", configuration.serverVersion)
    return info
  }

  private static var capabilities: JSON {
    let tools = JSON.object()
    tools.set("listChanged", false)
    let capabilities = JSON.object()
    capabilities.set("tools", tools)
    return capabilities
  }

  private static func addCacheHints(to result: JSON) {
    result.set("ttlMs", Revisions.cacheMilliseconds)
    // The listing depends on this process's flags: not to be shared beyond this client.
    result.set("cacheScope", "private")
  }

  /// Adds `resultType: "complete"` to a result of the stateless revision.
  static func complete(_ result: JSON, isStateless: Bool) -> JSON {
    if isStateless { result.set("resultType", "complete") }
    return result
  }

  static func issues(_ path: String, _ message: String) -> JSON {
    ServiceError.invalidParams(path: path, message).data ?? JSON.object()
  }

  /// The JSON Pointer escaping of one member name.
  static func escapePointer(_ name: String) -> String {
    var escaped = ""
    for character in name {
      switch character {
      case "~": escaped += "~0"
      case "/": escaped += "~1"
      default: escaped.append(character)
      }
    }
    return escaped
  }

  /// The key of a request id: integers written directly (as `ToolCall.serializedID`), others as
  /// compact JSON.
  static func key(of id: JSON) -> [UInt8] {
    id.integerValue.map { Array(String($0).utf8) } ?? id.serialized()
  }

  // MARK: Writing (also used by `ToolCall`)

  func writeResult(_ result: JSON, id: JSON) {
    write(ResponseBuilder.success(id: id, result: result), now: false)
  }

  func writeError(_ error: ServiceError, id: JSON?) {
    write(ResponseBuilder.failure(id: id, error: error), now: false)
  }

  func write(_ message: JSON, now: Bool) {
    output.append { line in
      message.appendSerialized(to: &line)
      line.append(UInt8(ascii: "\n"))
    }
    if now { output.flush() }
  }

  /// Writes `{"jsonrpc":"2.0","id":ID,"result":` + body + `}` and a newline.
  func writeResult(serializedID: [UInt8], body: (inout [UInt8]) -> Void) {
    output.append { line in
      line.append(contentsOf: Self.successPrefix)
      line.append(contentsOf: serializedID)
      line.append(contentsOf: Self.resultMember)
      body(&line)
      line.append(contentsOf: Self.lineEnd)
    }
  }

  func flush() { output.flush() }

  func isQuick(_ call: ToolCall) -> Bool { pipeline?.service.isQuick(call) ?? true }

  /// A call was answered (or dropped): it can no longer be cancelled.
  func finished(_ call: ToolCall) {
    pending.withLock { pending in
      guard var calls = pending[call.serializedID] else { return }
      calls.removeAll { $0 === call }
      pending[call.serializedID] = calls.isEmpty ? nil : calls
    }
  }

  private static let successPrefix = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
  private static let resultMember = Array(#","result":"#.utf8)
  private static let lineEnd = Array("}\n".utf8)
}
