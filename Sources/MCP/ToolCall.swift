import JSON
import Service
import Synchronization

/// One `tools/call` being served: the `ServiceCall` the MCP front hands to the service. Its
/// outcome becomes a `CallToolResult` (a domain error: one with `isError`), its progress
/// `notifications/progress`; a call the client cancelled is not answered unless the cancel came
/// too late to stop it.
/// Sendable: what another thread touches (the cancel flag) is atomic.
final class ToolCall: ServiceCall, @unchecked Sendable {
  let id: JSON
  /// The id as compact JSON: the response's `id` text and the key for `notifications/cancelled`.
  let serializedID: [UInt8]
  let tool: Tool
  let params: JSON?
  let cancellation: CancellationToken
  var preparation: Any?
  /// Whether the request named the stateless revision (its result then carries `resultType`).
  let isStateless: Bool
  private let progressToken: JSON?
  /// The last `progress` sent: notifications are sent only when it grows.
  private var progressSent: Int = -1
  /// Set by `notifications/cancelled` (on the thread reading the input, while the call may be
  /// served on the other): the call stops and nothing is written for it.
  private let cancelledByClient = Atomic<Bool>(false)
  private var isCancelledByClient: Bool { cancelledByClient.load(ordering: .acquiring) }
  private var isAnswered = false
  private unowned let server: MCPServer

  init(
    id: JSON, serializedID: [UInt8], tool: Tool, arguments: JSON?, isStateless: Bool, progressToken: JSON?,
    cancellation: CancellationToken, server: MCPServer
  ) {
    self.id = id
    self.serializedID = serializedID
    self.tool = tool
    self.params = arguments
    self.isStateless = isStateless
    self.progressToken = progressToken
    self.cancellation = cancellation
    self.server = server
  }

  var method: String { tool.method }

  /// `params._meta.progressToken` was given.
  var wantsProgress: Bool { progressToken != nil }

  func cancelByClient() {
    cancelledByClient.store(true, ordering: .releasing)
    cancellation.cancel()
  }

  /// `notifications/progress` `{"progressToken", "progress", "total"?}`, only when `progress` grew,
  /// written at once.
  func progress(_ update: ProgressUpdate) {
    guard let progressToken, !isCancelledByClient, !isAnswered else { return }
    let done: Int
    let total: Int?
    switch update {
    case .begin(let count): (done, total) = (0, count)
    case .report(let count, let whole): (done, total) = (count, whole)
    case .end(let count, let whole): (done, total) = (count, whole)
    }
    guard done > progressSent else { return }
    progressSent = done
    let params = JSON.object()
    params.set("progressToken", progressToken)
    params.set("progress", done)
    if let total { params.set("total", total) }
    let notification = JSON.object()
    notification.set("jsonrpc", "2.0")
    notification.set("method", "notifications/progress")
    notification.set("params", params)
    server.write(notification, now: true)
  }

  func complete(_ outcome: ServiceOutcome) {
    precondition(!isAnswered, "a call is answered once")
    isAnswered = true
    server.finished(self)
    // MCP: a cancelled request that was stopped gets no response at all. One the cancel reached
    // too late (it ran, and its writes are committed) is answered: MCP lets a server answer a
    // request that completed before the cancel, and a client told nothing would take a written
    // signature for one that never happened.
    if isCancelledByClient {
      switch outcome {
      case .success, .serialized: break
      case .failure: return
      }
    }
    let now = !server.isQuick(self)
    defer { if now { server.flush() } }
    switch outcome {
    case .success(let result):
      writeSuccess { result.appendSerialized(to: &$0) }
    case .serialized(let bytes):
      writeSuccess { $0.append(contentsOf: bytes) }
    case .failure(var error) where error.isToolError:
      // A domain error is the tool's answer: the model reads the message and can act on it.
      if error.message.hasPrefix("Export path already exists") {
        // The method's hint (overwrite: true) is not an argument of export_file.
        error.message = "Export path already exists (export_file never replaces a file: choose another path)"
      }
      let content = JSON.object()
      content.set("type", "text")
      content.set("text", error.message)
      let list = JSON.array()
      list.append(content)
      let result = JSON.object()
      result.set("content", list)
      result.set("structuredContent", error.makeJSON())
      result.set("isError", true)
      server.writeResult(MCPServer.complete(result, isStateless: isStateless), id: id)
    case .failure(let error):
      server.writeError(error, id: id)
    }
  }

  /// `{"content": [{"type": "text", "text": RESULT as JSON text}], "structuredContent": RESULT}`,
  /// written around the result's serialisation without building a result object.
  private func writeSuccess(_ appendResult: (inout [UInt8]) -> Void) {
    var result: [UInt8] = []
    appendResult(&result)
    let isStateless = isStateless
    server.writeResult(serializedID: serializedID) { line in
      line.append(contentsOf: Self.contentPrefix)
      JSONWriter.appendString(result, to: &line)
      line.append(contentsOf: Self.structuredMember)
      line.append(contentsOf: result)
      if isStateless { line.append(contentsOf: Self.resultTypeMember) }
      line.append(UInt8(ascii: "}"))
    }
  }

  private static let contentPrefix = Array(#"{"content":[{"type":"text","text":"#.utf8)
  private static let structuredMember = Array(#"}],"structuredContent":"#.utf8)
  private static let resultTypeMember = Array(#","resultType":"complete""#.utf8)
}
