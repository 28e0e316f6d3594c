// libFuzzer target: JSON parsing (libjansson) and JSON-RPC 2.0 request validation.
import JSON
import JSONRPC

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequests(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: data, count: count)
  guard case .success(let root) = JSON.parse(bytes) else { return 0 }
  func touch(_ incoming: Incoming) {
    switch incoming {
    case .request(let request):
      precondition(!request.method.isEmpty || true)
      if let params = request.params { precondition(params.isObject, "params passed that are not an object") }
      if let id = request.id { _ = id.serialized() }
    case .invalid(_, let id):
      if let id { _ = id.serialized() }
    }
  }
  switch MessageReader.read(root, maxBatch: 8) {
  case .single(let incoming): touch(incoming)
  case .batch(let entries):
    precondition(!entries.isEmpty && entries.count <= 8, "batch size not enforced")
    entries.forEach(touch)
  case .rejected(_, let id):
    if let id { _ = id.serialized() }
  }
  return 0
}
