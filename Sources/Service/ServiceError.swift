import JSON

/// An error code, in JSON-RPC's numbering: the specification's, the server-defined range, and the
/// application's (1001 and up). Every front maps it to its own error shape.
public struct ErrorCode: RawRepresentable, Hashable, Sendable {
  public var rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  public static let parseError = ErrorCode(rawValue: -32700)
  public static let invalidRequest = ErrorCode(rawValue: -32600)
  public static let methodNotFound = ErrorCode(rawValue: -32601)
  public static let invalidParams = ErrorCode(rawValue: -32602)
  public static let internalError = ErrorCode(rawValue: -32603)
  /// The store is unavailable (locked past its timeout, disk full, read-only); nothing was written.
  public static let storeUnavailable = ErrorCode(rawValue: -32000)
  /// The call was cancelled (`$/cancelRequest`, `notifications/cancelled`); nothing was written.
  public static let requestCancelled = ErrorCode(rawValue: -32800)
}

/// One problem with a call's params, located by a JSON Pointer into params.
public struct ParamIssue: Equatable, Sendable {
  public var path: String
  public var message: String
  public init(path: String, message: String) {
    self.path = path
    self.message = message
  }
}

/// Why a call failed: a code, a message for people, and optional data for programs.
public struct ServiceError: Error, @unchecked Sendable {
  public var code: ErrorCode
  public var message: String
  public var data: JSON?

  public init(code: ErrorCode, message: String, data: JSON? = nil) {
    self.code = code
    self.message = message
    self.data = data
  }

  public static func parseError(_ detail: String) -> ServiceError {
    ServiceError(code: .parseError, message: "Parse error: \(detail)")
  }
  public static func invalidRequest(_ detail: String) -> ServiceError {
    ServiceError(code: .invalidRequest, message: "Invalid Request: \(detail)")
  }
  public static func methodNotFound(_ method: String) -> ServiceError {
    ServiceError(code: .methodNotFound, message: "Method not found: \(method)")
  }
  /// Invalid params with `data.errors`, a list of `{"path", "message"}`.
  public static func invalidParams(_ issues: [ParamIssue]) -> ServiceError {
    let list = JSON.array()
    for issue in issues {
      let entry = JSON.object()
      entry.set("path", issue.path)
      entry.set("message", issue.message)
      list.append(entry)
    }
    let data = JSON.object()
    data.set("errors", list)
    let summary = issues.first.map { "\($0.path.isEmpty ? "params" : $0.path) \($0.message)" } ?? "invalid"
    return ServiceError(code: .invalidParams, message: "Invalid params: \(summary)", data: data)
  }
  /// The `{"path", "message"}` entries of an invalid-params error's `data.errors`.
  public var paramIssues: [ParamIssue] {
    guard code == .invalidParams else { return [] }
    return (data?["errors"]?.elements ?? []).compactMap { entry in
      guard let path = entry["path"]?.stringValue, let message = entry["message"]?.stringValue else { return nil }
      return ParamIssue(path: path, message: message)
    }
  }
  public static func invalidParams(path: String, _ message: String) -> ServiceError {
    invalidParams([ParamIssue(path: path, message: message)])
  }
  public static func internalError() -> ServiceError {
    ServiceError(code: .internalError, message: "Internal error")
  }
  /// The store cannot be used now; `data.retryable` tells clients that trying again may work.
  public static func storeUnavailable(_ detail: String) -> ServiceError {
    let data = JSON.object()
    data.set("retryable", true)
    return ServiceError(code: .storeUnavailable, message: "Store unavailable: \(detail)", data: data)
  }
  public static var requestCancelled: ServiceError {
    ServiceError(code: .requestCancelled, message: "Request cancelled")
  }

  /// The error as a JSON object `{"code", "message", "data"?}` (JSON-RPC's `error` member, MCP's
  /// `structuredContent` of a failed tool call).
  public func makeJSON() -> JSON {
    let object = JSON.object()
    object.set("code", code.rawValue)
    object.set("message", message)
    if let data { object.set("data", data) }
    return object
  }
}

/// The name the JSON-RPC front and older code use for `ServiceError`.
public typealias ResponseError = ServiceError
