// libFuzzer target: the CSV import reader, and the mapping of its records to import rows.
//
// The first input byte picks a chunk size; the rest is read twice, whole and in chunks of that
// size, and both readings must give the same records (fields, lines) and the same error: a
// record cut by a buffer boundary is the reader's hardest case. Every record of the whole
// reading also goes through the import's row reader, with the first record as the header and
// a zone database file parsed from the same bytes (both must only answer, never trap).
import CSV
import Petitions
@testable import Server

private struct Reading: Equatable {
  var records: [[String]] = []
  var lines: [Int] = []
  var error: CSVError?
}

private func read(_ bytes: [UInt8], chunkBytes: Int, maximumRecordBytes: Int) -> Reading {
  let reader = CSVReader(
    source: CSVBytesSource(bytes, chunkBytes: chunkBytes), chunkBytes: max(4, min(chunkBytes, 1 << 16)),
    maximumRecordBytes: maximumRecordBytes)
  var reading = Reading()
  do {
    while try reader.next() {
      reading.records.append(reader.strings)
      reading.lines.append(reader.line)
    }
  } catch {
    reading.error = error
  }
  return reading
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  guard count > 0 else { return 0 }
  let chunkBytes = Int(data[0] % 16) + 1
  let bytes = Array(UnsafeBufferPointer(start: data + 1, count: count - 1))
  // A small record limit, so that the limit is reached often.
  let limit = 256
  let whole = read(bytes, chunkBytes: .max, maximumRecordBytes: limit)
  let chunked = read(bytes, chunkBytes: chunkBytes, maximumRecordBytes: limit)
  precondition(whole == chunked, "reading in chunks of \(chunkBytes) bytes differs from reading whole")

  // Import rows: the first record names the columns.
  let reader = CSVReader(source: CSVBytesSource(bytes), maximumRecordBytes: limit)
  if (try? reader.next()) == true {
    let layout = ImportLayout(header: reader.strings)
    let rows = ImportRowReader(
      petitionID: "p", layout: layout, defaultSource: nil, zone: ZoneInfo.parse(bytes) ?? .utc)
    while (try? reader.next()) == true {
      _ = rows.row(reader, now: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000))
    }
  }
  return 0
}
