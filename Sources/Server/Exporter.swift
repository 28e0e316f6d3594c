import Crypto
import Files
import JSON
import Logging
import Petitions
import Service

/// The `export` method: one page inline, or the whole export written atomically to a file.
struct Exporter {
  let store: PetitionStore
  let clock: Clock
  let logger: Logger

  /// File exports write in chunks of this size, hashing as they go.
  static let chunkBytes = 1 << 18
  /// Cancellation is checked this often (in rows).
  static let cancellationStride = 512

  struct Request {
    var query: ExportQuery
    var format: ExportFormat
    var path: String?
    var overwrite: Bool
    var progressToken: JSON?
  }

  func run(_ call: ServiceCall) {
    let request: Request
    switch Self.read(call.params) {
    case .failure(let error): return call.fail(error)
    case .success(let value): request = value
    }
    do {
      _ = try store.petition(id: request.query.petitionID)
    } catch {
      return call.fail(error.responseError)
    }
    if let path = request.path {
      exportToFile(call, request, path: path)
    } else {
      exportPage(call, request)
    }
  }

  /// The export params (static and internal so that the params fuzz target can reach it).
  static func read(_ params: JSON?) -> Result<Request, ResponseError> {
    let reader = Params(params)
    let petition = reader.string("petition", required: true, rule: Rules.petitionID)
    let audience = reader.choice("audience", required: true, as: ExportAudience.self)
    let format = reader.choice("format", required: true, as: ExportFormat.self)
    let path = reader.string("path") { raw in
      raw.isEmpty || raw.utf8.contains(0) ? .failure(RuleViolation("must be a file path")) : .success(raw)
    }
    let overwrite = reader.bool("overwrite") ?? false
    let window = OperationReader.readWindow(reader)
    let cursorText = reader.string("cursor")
    let limit = reader.integer("limit", in: 1...10_000)
    var progressToken: JSON? = nil
    if let token = reader.raw("progressToken") {
      if token.isString || token.isInteger {
        progressToken = token.retained()
      } else {
        reader.report("progressToken", "must be a string or an integer")
      }
    }
    var after: ExportPosition? = nil
    if let cursorText {
      if let position = Cursor.decode(cursorText) {
        after = position
      } else {
        reader.report("cursor", "is not a cursor returned by export")
      }
    }
    if reader.has("path") {
      if reader.has("cursor") { reader.report("cursor", "applies to pages only, not to a file export") }
      if reader.has("limit") { reader.report("limit", "applies to pages only, not to a file export") }
    }
    if let error = reader.finish() { return .failure(error) }
    let query = ExportQuery(
      petitionID: petition!, audience: audience!, window: window, after: after,
      limit: path == nil ? (limit ?? 1000) : nil)
    return .success(
      Request(query: query, format: format!, path: path, overwrite: overwrite, progressToken: progressToken))
  }

  // MARK: Pages

  private func exportPage(_ call: ServiceCall, _ request: Request) {
    let limit = request.query.limit ?? 1000
    var query = request.query
    query.limit = limit + 1  // one more row tells whether there is a next page
    var rows: [ExportRow] = []
    rows.reserveCapacity(min(limit + 1, 1024))
    do {
      try store.exportRows(query) { row in
        rows.append(row)
        return true
      }
    } catch {
      return call.fail(error.responseError)
    }
    var nextCursor: String? = nil
    if rows.count > limit {
      rows.removeLast(rows.count - limit)
      nextCursor = Cursor.encode(
        ExportPosition(signedAt: rows[limit - 1].signedAt, signatureID: rows[limit - 1].signatureID))
    }
    // A page is read before it is written: with a progressToken it reports its rows as one step
    // (begin, then end with the page's rows), so a client that asked for progress on any export
    // (as MCP's export_page may) hears of it before the result.
    let progress = call.wantsProgress ? ProgressReporter(call: call) : nil
    progress?.begin(total: rows.count)
    progress?.end(done: rows.count, total: rows.count)
    let encoder = RowEncoder(audience: request.query.audience)
    let result = JSON.object()
    result.set("count", rows.count)
    result.set("nextCursor", nextCursor)
    switch request.format {
    case .json:
      let records = JSON.array()
      for row in rows { records.append(encoder.record(row)) }
      result.set("records", records)
    case .csv:
      var data: [UInt8] = []
      if request.query.after == nil { encoder.appendCSVHeader(to: &data) }
      for row in rows { encoder.appendCSV(row, to: &data) }
      result.set("data", String(decoding: data, as: UTF8.self))
    case .ndjson:
      var data: [UInt8] = []
      for row in rows { encoder.appendNDJSON(row, to: &data) }
      result.set("data", String(decoding: data, as: UTF8.self))
    }
    call.succeed(result)
  }

  // MARK: Files

  private func exportFailure(_ message: String) -> ResponseError {
    ResponseError(code: .exportPathUnavailable, message: message)
  }

  private func exportToFile(_ call: ServiceCall, _ request: Request, path: String) {
    if !request.overwrite && AtomicFile.exists(path) {
      return call.fail(exportFailure("Export path already exists (pass overwrite: true to replace it)"))
    }
    if !AtomicFile.isReplaceable(path) {
      return call.fail(exportFailure("Export path cannot be written: \(FileError.notARegularFile)"))
    }
    let file: AtomicFile
    do {
      file = try AtomicFile(path: path)
    } catch {
      return call.fail(exportFailure("Export path cannot be written: \(error)"))
    }
    var sink = FileSink(file: file)

    let progress = call.wantsProgress ? ProgressReporter(call: call) : nil
    var total = 0
    if let progress {
      do {
        total = try store.exportRowCount(request.query)
      } catch {
        file.abandon()
        return call.fail(error.responseError)
      }
      progress.begin(total: total)
    }
    let reportStride = max(10_000, total / 100)

    let encoder = RowEncoder(audience: request.query.audience)
    var done = 0
    var cancelled = false
    var writeError: FileError? = nil
    switch request.format {
    case .csv: encoder.appendCSVHeader(to: &sink.pending)
    case .json: sink.pending.append(UInt8(ascii: "["))
    case .ndjson: break
    }
    do throws(StoreError) {
      try store.exportRowViews(request.query) { row in
        switch request.format {
        case .csv: encoder.appendCSV(row, to: &sink.pending)
        case .ndjson: encoder.appendNDJSON(ExportRow(row), to: &sink.pending)
        case .json:
          if done > 0 { sink.pending.append(UInt8(ascii: ",")) }
          sink.pending.append(UInt8(ascii: "\n"))
          encoder.record(ExportRow(row)).appendSerialized(to: &sink.pending)
        }
        done += 1
        if sink.pending.count >= Self.chunkBytes {
          do throws(FileError) { try sink.drain() } catch {
            writeError = error
            return false
          }
        }
        if done % Self.cancellationStride == 0 && call.isCancelled {
          cancelled = true
          return false
        }
        if let progress, done % reportStride == 0 { progress.report(done: done, total: total) }
        return true
      }
    } catch {
      file.abandon()
      progress?.end(done: done, total: total)
      return call.fail(error.responseError)
    }
    if cancelled || call.isCancelled {
      file.abandon()
      progress?.end(done: done, total: total)
      return call.fail(.requestCancelled)
    }
    if request.format == .json { sink.pending.append(contentsOf: Array((done > 0 ? "\n]\n" : "]\n").utf8)) }
    do throws(FileError) {
      if let writeError { throw writeError }
      try sink.drain()
      // Publish atomically: a reader sees no file or the whole file.
      try file.publish(replacing: request.overwrite)
    } catch {
      file.abandon()
      progress?.end(done: done, total: total)
      let reason =
        error.isAlreadyExists
        ? "Export path already exists (pass overwrite: true to replace it)"
        : "Export path cannot be written: \(error)"
      return call.fail(exportFailure(reason))
    }
    progress?.end(done: done, total: total)

    let result = JSON.object()
    result.set("path", path)
    result.set("count", done)
    result.set("bytes", file.bytesWritten)
    result.set("sha256", SHA256.hexDigest(sink.hash.finalize()))
    call.succeed(result)
  }
}

/// Buffered writes to an export file, hashing every byte written.
private struct FileSink {
  let file: AtomicFile
  var pending: [UInt8] = []
  let hash = SHA256()

  init(file: AtomicFile) {
    self.file = file
    pending.reserveCapacity(Exporter.chunkBytes + 4096)
  }

  /// Writes what is pending.
  mutating func drain() throws(FileError) {
    guard !pending.isEmpty else { return }
    let result: Result<Void, FileError> = pending.withUnsafeBytes { buffer in
      do throws(FileError) {
        try file.write(buffer)
        hash.update(buffer)
        return .success(())
      } catch {
        return .failure(error)
      }
    }
    pending.removeAll(keepingCapacity: true)
    try result.get()
  }
}

/// Progress of a file export, for a call that asked for it.
private struct ProgressReporter {
  let call: ServiceCall

  func begin(total: Int) { call.progress(.begin(total: total)) }
  func report(done: Int, total: Int) { call.progress(.report(done: done, total: total)) }
  func end(done: Int, total: Int) { call.progress(.end(done: done, total: total)) }
}

/// Export cursors: opaque to clients, the position of the last row of a page.
enum Cursor {
  static func encode(_ position: ExportPosition) -> String {
    let text = "\(position.signedAt.millisecondsSinceEpoch)/\(position.signatureID)"
    let digits = Array("0123456789abcdef".utf8)
    var output: [UInt8] = []
    for byte in text.utf8 {
      output.append(digits[Int(byte >> 4)])
      output.append(digits[Int(byte & 15)])
    }
    return String(decoding: output, as: UTF8.self)
  }

  static func decode(_ cursor: String) -> ExportPosition? {
    let hex = Array(cursor.utf8)
    guard !hex.isEmpty, hex.count % 2 == 0, hex.count <= 512 else { return nil }
    var bytes: [UInt8] = []
    var index = 0
    while index < hex.count {
      guard let high = nibble(hex[index]), let low = nibble(hex[index + 1]) else { return nil }
      bytes.append(high << 4 | low)
      index += 2
    }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let slash = text.firstIndex(of: "/"), let milliseconds = Int64(text[..<slash]) else { return nil }
    let id = String(text[text.index(after: slash)...])
    guard !id.isEmpty else { return nil }
    return ExportPosition(signedAt: Timestamp(millisecondsSinceEpoch: milliseconds), signatureID: id)
  }

  private static func nibble(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    default: return nil
    }
  }
}
