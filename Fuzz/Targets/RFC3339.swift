// libFuzzer target: RFC 3339 date-time parsing (since, until, import dates).
import Petitions

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRFC3339(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let text = String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
  if let time = RFC3339.parse(text) {
    // What is written reads back as the same instant.
    let written = RFC3339.format(time)
    precondition(RFC3339.parse(written) == time, "format/parse round trip differs")
  }
  _ = RFC3339.parseBound(text)
  return 0
}
