import JSON
import Service

/// A request or notification that passed the JSON-RPC 2.0 checks.
public struct Request: @unchecked Sendable {
  /// The id exactly as sent; nil for a notification (no `id` member at all).
  public var id: JSON?
  public var method: String
  /// The params object; nil when absent, `null` or `[]`.
  public var params: JSON?
  /// Set when params were given by position: the request is answered with -32602.
  public var hasPositionalParams: Bool
  /// The id's text as sent, when jansson would write it otherwise (see `RawID`).
  public var rawID: [UInt8]? = nil

  public var isNotification: Bool { id == nil }
}

/// One element of an incoming message, after validation.
public enum Incoming: @unchecked Sendable {
  case request(Request)
  /// Not a valid request; answered with this error and the id when it could be read.
  case invalid(ResponseError, id: JSON?)
}

/// What one incoming JSON text is.
public enum IncomingMessage: @unchecked Sendable {
  case single(Incoming)
  case batch([Incoming])
  /// Answered with one error and no batch (empty batch, batch too large, not an object/array).
  case rejected(ResponseError, id: JSON?)
}

public enum MessageReader {
  /// Classifies a parsed JSON text as a request, a batch or an invalid message.
  public static func read(_ root: JSON, maxBatch: Int) -> IncomingMessage {
    switch root.kind {
    case .object:
      return .single(readRequest(root))
    case .array:
      let count = root.count
      if count == 0 { return .rejected(.invalidRequest("empty batch"), id: nil) }
      if count > maxBatch {
        return .rejected(.invalidRequest("batch of \(count) requests is over the limit of \(maxBatch)"), id: nil)
      }
      return .batch(root.elements.map(readRequest))
    default:
      return .rejected(.invalidRequest("a request must be an object or a batch array"), id: nil)
    }
  }

  /// Checks one request object. An invalid request whose id can be read gets that id back.
  public static func readRequest(_ object: JSON) -> Incoming {
    guard object.isObject else {
      return .invalid(.invalidRequest("a request must be an object"), id: nil)
    }
    let id = object["id"]
    var validID: JSON? = nil
    if let id {
      switch id.kind {
      case .string, .integer, .real, .null:
        validID = id
      default:
        return .invalid(.invalidRequest("id must be a string, a number or null"), id: nil)
      }
    }
    guard let version = object["jsonrpc"], version.stringValue == "2.0" else {
      return .invalid(.invalidRequest("jsonrpc must be exactly \"2.0\""), id: validID ?? .null)
    }
    guard let methodValue = object["method"], let method = methodValue.stringValue else {
      return .invalid(.invalidRequest("method must be a string"), id: validID ?? .null)
    }
    // Only when there are more members than the known ones present are the names read.
    let knownCount = 2 + (id == nil ? 0 : 1) + (object["params"] == nil ? 0 : 1)
    if object.count > knownCount {
      for key in object.keys where !["jsonrpc", "method", "params", "id"].contains(key) {
        return .invalid(.invalidRequest("unexpected member \"\(key)\""), id: validID ?? .null)
      }
    }
    var params: JSON? = nil
    var positional = false
    if let given = object["params"] {
      switch given.kind {
      case .object:
        params = given
      case .null:
        params = nil
      case .array:
        positional = given.count > 0
      default:
        return .invalid(.invalidRequest("params must be an object or an array"), id: validID ?? .null)
      }
    }
    return .request(Request(id: validID, method: method, params: params, hasPositionalParams: positional))
  }
}

/// Builds response and notification objects.
public enum ResponseBuilder {
  public static func success(id: JSON, result: JSON) -> JSON {
    let response = JSON.object()
    response.set("jsonrpc", "2.0")
    response.set("id", id)
    response.set("result", result)
    return response
  }

  public static func failure(id: JSON?, error: ResponseError) -> JSON {
    let response = JSON.object()
    response.set("jsonrpc", "2.0")
    response.set("id", id ?? .null)
    response.set("error", error.makeJSON())
    return response
  }

  public static func notification(method: String, params: JSON) -> JSON {
    let message = JSON.object()
    message.set("jsonrpc", "2.0")
    message.set("method", method)
    message.set("params", params)
    return message
  }
}
