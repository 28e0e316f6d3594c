/// The text fields of an exported row.
public enum ExportTextField: Sendable {
  case signatureID, email, firstName, lastName, postalCode, country, phone, comment, source
}

/// An exported row read in place, so that a million-row export makes no string per field:
/// text comes as UTF-8 bytes valid only inside `withText`, and the view itself only inside the
/// store's callback. Fields an audience does not carry read as nil (text) or false (flags).
public protocol ExportRowView {
  var signedAt: Timestamp { get }
  var optInEmail: Bool { get }
  var optInPhone: Bool { get }
  var optInSms: Bool { get }
  /// Calls `body` with the field's UTF-8 bytes, or nil when the field is null.
  func withText<Result>(_ field: ExportTextField, _ body: (UnsafeBufferPointer<UInt8>?) -> Result) -> Result
}

extension ExportRow: ExportRowView {
  public func withText<Result>(_ field: ExportTextField, _ body: (UnsafeBufferPointer<UInt8>?) -> Result) -> Result {
    let text: String? =
      switch field {
      case .signatureID: signatureID
      case .email: email
      case .firstName: firstName
      case .lastName: lastName
      case .postalCode: postalCode
      case .country: country
      case .phone: phone
      case .comment: comment
      case .source: source
      }
    guard var text else { return body(nil) }
    return text.withUTF8 { body($0) }
  }

  /// A row that owns its values, copied out of a view.
  public init(_ view: some ExportRowView) {
    func text(_ field: ExportTextField) -> String? {
      view.withText(field) { bytes in bytes.map { String(decoding: $0, as: UTF8.self) } }
    }
    self.init(
      signatureID: text(.signatureID) ?? "", email: text(.email), firstName: text(.firstName) ?? "",
      lastName: text(.lastName) ?? "", postalCode: text(.postalCode) ?? "", country: text(.country) ?? "",
      phone: text(.phone), comment: text(.comment), optInEmail: view.optInEmail, optInPhone: view.optInPhone,
      optInSms: view.optInSms, source: text(.source), signedAt: view.signedAt)
  }
}
