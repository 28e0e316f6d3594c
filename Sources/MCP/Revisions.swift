import JSON
import Service

/// The MCP revisions this server speaks: the stateless one (each request names it in `_meta`)
/// and the handshake ones (named once, by `initialize`).
public enum Revisions {
  /// The stateless revision: `server/discover`, the revision in every request's `_meta`,
  /// `resultType` in every result.
  public static let stateless = "2026-07-28"
  /// Revisions negotiated by `initialize`, newest first.
  public static let handshake = ["2025-11-25", "2025-06-18", "2025-03-26"]
  /// Every revision, newest first (`supportedVersions`, and `-32022`'s `supported`).
  public static let all = [stateless] + handshake

  /// The `_meta` member that carries a stateless request's revision.
  static let metaKey = "io.modelcontextprotocol/protocolVersion"
  /// The `_meta` member of a `server/discover` result that names the server.
  static let serverInfoKey = "io.modelcontextprotocol/serverInfo"

  /// How long a client may keep `server/discover` and `tools/list` answers: the tools change
  /// only with the binary or its flags.
  static let cacheMilliseconds = 300_000
}

extension ErrorCode {
  /// MCP: the request names a protocol revision this server does not speak.
  static let unsupportedProtocolVersion = ErrorCode(rawValue: -32022)
}

extension ServiceError {
  /// -32022 with `data: {"supported", "requested"}`.
  static func unsupportedRevision(_ requested: JSON) -> ServiceError {
    let data = JSON.object()
    let supported = JSON.array()
    for revision in Revisions.all { supported.append(.string(revision)) }
    data.set("supported", supported)
    data.set("requested", requested)
    let shown = requested.stringValue.map { "\"\($0)\"" } ?? requested.serializedString
    return ServiceError(
      code: .unsupportedProtocolVersion,
      message: "Unsupported protocol version \(shown); supported: \(Revisions.all.joined(separator: ", "))",
      data: data)
  }

  /// Whether MCP reports this error as a tool result with `isError` (a domain error the model
  /// can read and act on) rather than as a JSON-RPC error.
  var isToolError: Bool {
    code == .invalidParams || code == .storeUnavailable || (1000...1999).contains(code.rawValue)
  }
}
