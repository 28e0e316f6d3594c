import JSON
import Petitions

enum ExportFormat: String, CaseIterable {
  case csv, ndjson, json
}

/// Writes export rows as CSV (RFC 4180, formula-guarded), NDJSON lines or JSON records.
/// The columns depend on the audience: `delivery` never carries email or phone.
final class RowEncoder {
  let audience: ExportAudience
  private var timestamps = RFC3339.Writer()

  init(audience: ExportAudience) {
    self.audience = audience
  }

  static let deliveryColumns = [
    "signatureId", "firstName", "lastName", "postalCode", "country", "comment", "signedAt",
  ]
  static let contactColumns = [
    "signatureId", "email", "firstName", "lastName", "postalCode", "country", "phone",
    "optInEmail", "optInPhone", "optInSms", "source", "signedAt",
  ]

  var columns: [String] {
    audience == .delivery ? Self.deliveryColumns : Self.contactColumns
  }

  private enum Cell {
    case text(String?)
    case flag(Bool)
    case time(Timestamp)
  }

  private func cells(_ row: ExportRow) -> [Cell] {
    switch audience {
    case .delivery:
      return [
        .text(row.signatureID), .text(row.firstName), .text(row.lastName), .text(row.postalCode),
        .text(row.country), .text(row.comment), .time(row.signedAt),
      ]
    case .contacts:
      return [
        .text(row.signatureID), .text(row.email), .text(row.firstName), .text(row.lastName),
        .text(row.postalCode), .text(row.country), .text(row.phone), .flag(row.optInEmail),
        .flag(row.optInPhone), .flag(row.optInSms), .text(row.source), .time(row.signedAt),
      ]
    }
  }

  // MARK: CSV

  func appendCSVHeader(to output: inout [UInt8]) {
    appendCSVLine(columns.map { Cell.text($0) }, to: &output)
  }

  /// One CSV line, written field by field from the row's bytes: no string, no intermediate
  /// array per row (1M-row exports).
  func appendCSV(_ row: some ExportRowView, to output: inout [UInt8]) {
    func text(_ field: ExportTextField) {
      row.withText(field) { bytes in
        if let bytes { Self.appendCSVField(bytes, to: &output) }
      }
      output.append(UInt8(ascii: ","))
    }
    func flag(_ value: Bool) {
      output.append(contentsOf: value ? Self.trueBytes : Self.falseBytes)
      output.append(UInt8(ascii: ","))
    }
    text(.signatureID)
    if audience == .contacts { text(.email) }
    text(.firstName)
    text(.lastName)
    text(.postalCode)
    text(.country)
    if audience == .contacts {
      text(.phone)
      flag(row.optInEmail)
      flag(row.optInPhone)
      flag(row.optInSms)
      text(.source)
    } else {
      text(.comment)
    }
    // A timestamp starts with a digit: no guard, no quotes.
    timestamps.append(row.signedAt, to: &output)
    output.append(UInt8(ascii: "\r"))
    output.append(UInt8(ascii: "\n"))
  }

  private func appendCSVLine(_ cells: [Cell], to output: inout [UInt8]) {
    for (index, cell) in cells.enumerated() {
      if index > 0 { output.append(UInt8(ascii: ",")) }
      switch cell {
      case .flag(let flag):
        output.append(contentsOf: flag ? Self.trueBytes : Self.falseBytes)
      case .text(nil):
        break
      case .text(let text?):
        Self.appendCSVField(text, to: &output)
      case .time(let time):
        RFC3339.append(time, to: &output)
      }
    }
    output.append(UInt8(ascii: "\r"))
    output.append(UInt8(ascii: "\n"))
  }

  private static let trueBytes = Array("true".utf8)
  private static let falseBytes = Array("false".utf8)

  /// One field: a leading `=`, `+`, `-`, `@`, tab or CR gets a `'` so a spreadsheet shows it
  /// as text instead of running it as a formula; a field with a comma, quote, CR or LF is
  /// quoted with its quotes doubled.
  static func appendCSVField(_ text: String, to output: inout [UInt8]) {
    var text = text
    text.withUTF8 { appendCSVField($0, to: &output) }
  }

  static func appendCSVField(_ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
    guard let first = bytes.first else { return }
    let needsGuard =
      first == UInt8(ascii: "=") || first == UInt8(ascii: "+") || first == UInt8(ascii: "-")
      || first == UInt8(ascii: "@") || first == UInt8(ascii: "\t") || first == UInt8(ascii: "\r")
    var needsQuotes = false
    for byte in bytes
    where byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\r")
      || byte == UInt8(ascii: "\n")
    {
      needsQuotes = true
      break
    }
    if needsQuotes { output.append(UInt8(ascii: "\"")) }
    if needsGuard { output.append(UInt8(ascii: "'")) }
    if needsQuotes {
      for byte in bytes {
        output.append(byte)
        if byte == UInt8(ascii: "\"") { output.append(byte) }
      }
      output.append(UInt8(ascii: "\""))
    } else {
      output.append(contentsOf: bytes)
    }
  }

  // MARK: JSON

  func record(_ row: ExportRow) -> JSON {
    let object = JSON.object()
    for (name, cell) in zip(columns, cells(row)) {
      switch cell {
      case .flag(let flag): object.set(name, flag)
      case .text(let text): object.set(name, text)
      case .time(let time): object.set(name, RFC3339.format(time))
      }
    }
    return object
  }

  func appendNDJSON(_ row: ExportRow, to output: inout [UInt8]) {
    record(row).appendSerialized(to: &output)
    output.append(UInt8(ascii: "\n"))
  }
}
