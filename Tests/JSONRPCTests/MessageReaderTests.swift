import JSON
import Testing

@testable import JSONRPC

private func read(_ text: String) -> IncomingMessage {
  guard case .success(let root) = JSON.parse(text) else { fatalError("test input is not JSON") }
  return MessageReader.read(root, maxBatch: 3)
}

@Suite struct MessageReaderTests {
  /// A well-formed request keeps its id, method and named params.
  @Test func validRequest() {
    guard
      case .single(.request(let request)) = read(
        #"{"jsonrpc":"2.0","method":"count","params":{"petition":"a"},"id":7}"#)
    else { Issue.record("not a request"); return }
    #expect(request.method == "count")
    #expect(request.id?.integerValue == 7)
    #expect(request.params?["petition"]?.stringValue == "a")
  }

  /// No id member makes a notification; an explicit null id is a request.
  @Test func notificationsAndNullIDs() {
    guard case .single(.request(let notification)) = read(#"{"jsonrpc":"2.0","method":"x"}"#),
      case .single(.request(let nullID)) = read(#"{"jsonrpc":"2.0","method":"x","id":null}"#)
    else { Issue.record("not requests"); return }
    #expect(notification.isNotification)
    #expect(!nullID.isNotification)
  }

  /// A wrong version or a missing method is invalid, and the id is kept for the error.
  @Test func invalidRequestKeepsID() {
    guard case .single(.invalid(let error, let id)) = read(#"{"jsonrpc":"1.0","method":"x","id":"abc"}"#)
    else { Issue.record("not invalid"); return }
    #expect(error.code == .invalidRequest)
    #expect(id?.stringValue == "abc")
  }

  /// An id that is an object is invalid and answered with id null.
  @Test func objectIDIsInvalid() {
    guard case .single(.invalid(_, let id)) = read(#"{"jsonrpc":"2.0","method":"x","id":{}}"#)
    else { Issue.record("not invalid"); return }
    #expect(id == nil)
  }

  /// An empty batch and a batch over the limit are rejected whole.
  @Test func batchLimits() {
    guard case .rejected(let empty, _) = read("[]"), case .rejected(let large, _) = read("[1,2,3,4]")
    else { Issue.record("not rejected"); return }
    #expect(empty.code == .invalidRequest)
    #expect(large.code == .invalidRequest)
  }

  /// Positional params are flagged; an empty array counts as no params.
  @Test func positionalParams() {
    guard case .single(.request(let positional)) = read(#"{"jsonrpc":"2.0","method":"x","params":[1],"id":1}"#),
      case .single(.request(let empty)) = read(#"{"jsonrpc":"2.0","method":"x","params":[],"id":1}"#)
    else { Issue.record("not requests"); return }
    #expect(positional.hasPositionalParams)
    #expect(!empty.hasPositionalParams)
    #expect(empty.params == nil)
  }

  /// A Content-Type charset other than UTF-8 is refused; no charset means UTF-8.
  @Test func charsets() {
    #expect(Engine.isUTF8(contentType: "application/vscode-jsonrpc; charset=utf-8"))
    #expect(Engine.isUTF8(contentType: "application/json; charset=\"UTF8\""))
    #expect(Engine.isUTF8(contentType: "application/json"))
    #expect(!Engine.isUTF8(contentType: "application/json; charset=latin1"))
  }
}
