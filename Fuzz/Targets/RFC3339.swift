// libFuzzer target: RFC 3339 date-time parsing (since, until, import dates).
import Petitions

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRFC3339(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let text = String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
  if let time = RFC3339.parse(text) {
    // What is written reads back as the same instant, for the instants RFC 3339 can write in
    // UTC (years 0000-9999). An offset or a leap second at either end reaches past them
    // (found by this target: "9999-12-31T23:59:60.999Z" is year 10000); `format` then writes
    // a 5-digit or negative year, by design, which `parse` does not read.
    let written = RFC3339.format(time)
    let writable: ClosedRange<Int64> = -62_167_219_200_000...253_402_300_799_999
    if writable.contains(time.millisecondsSinceEpoch) {
      precondition(RFC3339.parse(written) == time, "format/parse round trip differs")
    }
  }
  _ = RFC3339.parseBound(text)
  return 0
}
