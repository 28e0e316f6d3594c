import CSV
import Petitions

/// A column of an import file that the contract knows.
enum ImportColumn: String, CaseIterable {
  case email, firstName, lastName, postalCode, country, phone, comment, source, signedAt
  case optInEmail, optInPhone, optInSms

  /// Our name first, then what other tools' exports call it (the contract's list).
  var names: [String] {
    switch self {
    case .email: return ["email", "Email Address"]
    case .firstName: return ["firstName", "given_name"]
    case .lastName: return ["lastName", "family_name"]
    case .postalCode: return ["postalCode", "zip", "zip_code", "postcode"]
    case .country: return ["country", "country_code", "can2_country"]
    case .phone: return ["phone", "phone_number", "mobile", "mobile_number", "can2_phone", "can2_sms_phone"]
    case .comment: return ["comment", "comments", "message"]
    case .source: return ["source", "source_code", "referrer", "utm_source"]
    case .signedAt: return ["signedAt", "created_at", "created_date", "action_date", "timestamp"]
    case .optInEmail: return ["optInEmail", "email_opt_in"]
    case .optInPhone: return ["optInPhone", "phone_opt_in"]
    case .optInSms: return ["optInSms", "sms_opt_in", "mobile_opt_in"]
    }
  }

  /// The JSON Pointer of a row error about this column.
  var path: String { "/" + rawValue }

  /// A header name folded for comparison: lower-cased (ASCII), without spaces, `-` and `_`.
  static func folded(_ name: String) -> String {
    var bytes: [UInt8] = []
    for byte in name.utf8 {
      switch byte {
      case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "\t"): continue
      case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes.append(byte | 0x20)
      default: bytes.append(byte)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  private static let byFoldedName: [String: ImportColumn] = {
    var table: [String: ImportColumn] = [:]
    for column in allCases {
      for name in column.names { table[folded(name)] = column }
    }
    return table
  }()

  static func named(_ header: String) -> ImportColumn? { byFoldedName[folded(header)] }
}

/// Where each known column is in a file: found from its header line.
struct ImportLayout {
  /// Field index of each column, by `ImportColumn`'s order; nil when the file lacks it.
  private var indices: [Int?] = Array(repeating: nil, count: ImportColumn.allCases.count)

  /// Reads a header record. When a column appears twice, the first one counts (our own name
  /// before an alias only when it comes first: a file says what it means by its order).
  init(header: [String]) {
    for (index, name) in header.enumerated() {
      guard let column = ImportColumn.named(name) else { continue }
      let slot = Self.slot(column)
      if indices[slot] == nil { indices[slot] = index }
    }
  }

  func index(of column: ImportColumn) -> Int? { indices[Self.slot(column)] }

  private static func slot(_ column: ImportColumn) -> Int {
    ImportColumn.allCases.firstIndex(of: column)!
  }
}

/// One row's problems, as `errors` of the import result lists them.
struct ImportRowError: Error {
  struct Issue: Equatable {
    var path: String
    var message: String
  }
  var line: Int
  var issues: [Issue]
}

/// Turns the records of an import file into `ImportedSigning`s by the rules of `sign`.
struct ImportRowReader {
  let petitionID: String
  let layout: ImportLayout
  /// The request's `source`, for rows without one.
  let defaultSource: String?
  let zone: ZoneInfo

  private let emailIndex: Int?
  private let firstNameIndex: Int?
  private let lastNameIndex: Int?
  private let postalCodeIndex: Int?
  private let countryIndex: Int?
  private let phoneIndex: Int?
  private let commentIndex: Int?
  private let sourceIndex: Int?
  private let signedAtIndex: Int?
  private let optInIndices: [(Channel, ImportColumn, Int)]

  init(petitionID: String, layout: ImportLayout, defaultSource: String?, zone: ZoneInfo) {
    self.petitionID = petitionID
    self.layout = layout
    self.defaultSource = defaultSource
    self.zone = zone
    emailIndex = layout.index(of: .email)
    firstNameIndex = layout.index(of: .firstName)
    lastNameIndex = layout.index(of: .lastName)
    postalCodeIndex = layout.index(of: .postalCode)
    countryIndex = layout.index(of: .country)
    phoneIndex = layout.index(of: .phone)
    commentIndex = layout.index(of: .comment)
    sourceIndex = layout.index(of: .source)
    signedAtIndex = layout.index(of: .signedAt)
    var optIns: [(Channel, ImportColumn, Int)] = []
    for (channel, column) in [(Channel.email, ImportColumn.optInEmail), (.phone, .optInPhone), (.sms, .optInSms)] {
      if let index = layout.index(of: column) { optIns.append((channel, column, index)) }
    }
    optInIndices = optIns
  }

  /// The row the reader is on, or its problems (one per column, in column order).
  func row(_ record: CSVReader, now: Timestamp) -> Result<ImportedSigning, ImportRowError> {
    var issues: [ImportRowError.Issue] = []
    func text(_ index: Int?) -> String? {
      guard let index, index < record.fieldCount else { return nil }
      let field = record.field(index)
      return field.isEmpty ? nil : record.string(index)
    }
    func check<Value>(_ column: ImportColumn, _ result: Result<Value, RuleViolation>) -> Value? {
      switch result {
      case .success(let value): return value
      case .failure(let violation):
        issues.append(.init(path: column.path, message: violation.message))
        return nil
      }
    }

    var email: (email: String, canonical: String)? = nil
    if let raw = text(emailIndex) {
      email = check(.email, Rules.email(raw))
    } else {
      issues.append(.init(path: ImportColumn.email.path, message: "is required"))
    }
    let firstName = optionalName(text(firstNameIndex)).flatMap { check(.firstName, Rules.personName($0)) }
    let lastName = optionalName(text(lastNameIndex)).flatMap { check(.lastName, Rules.personName($0)) }

    var country: String? = "US"
    if let raw = text(countryIndex), !ImportText.trimmed(raw).isEmpty {
      country = check(.country, Rules.country(raw))
    }
    // A bad country makes the postal code and phone rules unknowable: with one, only what no
    // country accepts is reported.
    var postalCode: String? = nil
    if let raw = text(postalCodeIndex) {
      if let country {
        postalCode = check(.postalCode, Rules.postalCode(raw, country: country))
      } else if let violation = Rules.postalCodeInNoCountry(raw) {
        issues.append(.init(path: ImportColumn.postalCode.path, message: violation.message))
      }
    } else {
      issues.append(.init(path: ImportColumn.postalCode.path, message: "is required"))
    }
    var phone: String? = nil
    var phoneIsBad = false
    if let raw = text(phoneIndex), !ImportText.trimmed(raw).isEmpty {
      if let country {
        phone = check(.phone, Rules.phone(raw, country: country))
        phoneIsBad = phone == nil
      } else if let violation = Rules.phoneInNoCountry(raw) {
        issues.append(.init(path: ImportColumn.phone.path, message: violation.message))
        phoneIsBad = true
      }
    }
    let comment = text(commentIndex).flatMap { check(.comment, Rules.comment($0)) }
    var source = defaultSource
    if let raw = text(sourceIndex), !ImportText.trimmed(raw).isEmpty {
      source = check(.source, Rules.source(raw))
    }
    var signedAt = now
    var hasOwnTime = false
    if let raw = text(signedAtIndex), !ImportText.trimmed(raw).isEmpty {
      if let time = ImportTime.parse(ImportText.trimmed(raw), zone: zone) {
        // A signature from the future would also date its consent there: an opt-in that no
        // unsubscribe made before that date could ever override.
        if time.millisecondsSinceEpoch > now.millisecondsSinceEpoch {
          issues.append(.init(path: ImportColumn.signedAt.path, message: "must not be in the future"))
        }
        signedAt = time
        hasOwnTime = true
      } else {
        issues.append(
          .init(
            path: ImportColumn.signedAt.path,
            message: "must be an RFC 3339 date-time, YYYY-MM-DD HH:MM:SS or YYYY-MM-DD"))
      }
    }
    var optIns: [Channel: Bool] = [:]
    for (channel, column, index) in optInIndices {
      guard let raw = text(index) else { continue }
      switch Self.optInValue(raw) {
      case .some(.some(let value)):
        if value && channel != .email && phone == nil && !phoneIsBad {
          issues.append(.init(path: column.path, message: "needs a phone"))
        } else {
          optIns[channel] = value
        }
      case .some(.none): continue
      case .none: issues.append(.init(path: column.path, message: "must be true/false, yes/no or 1/0"))
      }
    }

    guard issues.isEmpty, let email, let postalCode, let country else {
      return .failure(ImportRowError(line: record.line, issues: issues))
    }
    let signer = Signer(
      email: email.email, canonicalEmail: email.canonical, firstName: firstName ?? "", lastName: lastName ?? "",
      postalCode: postalCode, country: country, phone: phone)
    return .success(
      ImportedSigning(
        petitionID: petitionID, signer: signer, comment: comment, source: source, signedAt: signedAt,
        hasOwnTime: hasOwnTime, optIns: optIns))
  }

  /// nil for an empty name (names may be empty in an import), else the raw text to check.
  private func optionalName(_ raw: String?) -> String? {
    guard let raw, !ImportText.trimmed(raw).isEmpty else { return nil }
    return raw
  }

  /// `.some(value)` for true/false, yes/no, 1/0 (any case), `.some(nil)` for blank (not given),
  /// nil for anything else.
  static func optInValue(_ raw: String) -> Bool?? {
    let value = String(
      decoding: ImportText.trimmed(raw).utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    switch value {
    case "": return .some(nil)
    case "true", "yes", "1": return .some(true)
    case "false", "no", "0": return .some(false)
    default: return nil
    }
  }
}

/// Dates of import files: RFC 3339, or a local `YYYY-MM-DD HH:MM:SS` (fraction allowed, `T`
/// separator too) or `YYYY-MM-DD` (midnight) read in the request's time zone.
enum ImportTime {
  static func parse(_ text: String, zone: ZoneInfo) -> Timestamp? {
    if let instant = RFC3339.parse(text) { return instant }
    let bytes = Array(text.utf8)
    func number(_ start: Int, _ count: Int) -> Int64? {
      guard start + count <= bytes.count else { return nil }
      var value: Int64 = 0
      for byte in bytes[start..<(start + count)] {
        guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int64(byte - UInt8(ascii: "0"))
      }
      return value
    }
    guard bytes.count >= 10, let year = number(0, 4), bytes[4] == UInt8(ascii: "-"), let month = number(5, 2),
      bytes[7] == UInt8(ascii: "-"), let day = number(8, 2), (1...12).contains(month),
      (1...daysIn(month: month, year: year)).contains(day)
    else { return nil }
    var hour: Int64 = 0
    var minute: Int64 = 0
    var second: Int64 = 0
    var milliseconds: Int64 = 0
    if bytes.count > 10 {
      guard bytes.count >= 19, bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T"),
        let h = number(11, 2), bytes[13] == UInt8(ascii: ":"), let m = number(14, 2),
        bytes[16] == UInt8(ascii: ":"), let s = number(17, 2), h < 24, m < 60, s < 60
      else { return nil }
      (hour, minute, second) = (h, m, s)
      if bytes.count > 19 {
        guard bytes[19] == UInt8(ascii: "."), bytes.count > 20 else { return nil }
        var digits = 0
        for byte in bytes[20...] {
          guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
          if digits < 3 { milliseconds = milliseconds * 10 + Int64(byte - UInt8(ascii: "0")) }
          digits += 1
        }
        for _ in digits..<max(digits, 3) { milliseconds *= 10 }
      }
    }
    let local = days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    return Timestamp(millisecondsSinceEpoch: zone.instant(ofLocal: local) * 1000 + milliseconds)
  }

  /// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
  static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  private static func daysIn(month: Int64, year: Int64) -> Int64 {
    switch month {
    case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }
}

/// Trimming as the rules do it (`Character.isWhitespace`), for blank checks before a rule runs.
enum ImportText {
  static func trimmed(_ text: String) -> String {
    let bytes = text.utf8
    if bytes.allSatisfy({ $0 < 0x80 }) {
      let isSpace = { (byte: UInt8) in byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) }
      guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return "" }
      let last = bytes.lastIndex(where: { !isSpace($0) })!
      if first == bytes.startIndex && bytes.index(after: last) == bytes.endIndex { return text }
      return String(text[first...last])
    }
    guard let first = text.firstIndex(where: { !$0.isWhitespace }) else { return "" }
    let last = text.lastIndex(where: { !$0.isWhitespace })!
    return String(text[first...last])
  }
}
