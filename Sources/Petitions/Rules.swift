/// Why a value was refused. The message is short, meant for API users, and never repeats the
/// value itself (it may be personal data); the caller adds where the value was (a JSON Pointer).
public struct RuleViolation: Error, Equatable, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
}

/// The rules that turn raw input into domain values: validation and normalisation.
///
/// Every rule returns the value to store (for text: Unicode NFC, trimmed where the field is
/// trimmed) or a `RuleViolation`. Lengths are counted in Unicode code points after NFC, as
/// JSON Schema's maxLength counts them (schema/openrpc.json states the same limits): "é" is one
/// whether it arrived as U+00E9 or as "e" + U+0301, a flag is two. Counting grapheme clusters
/// instead would let one "character" carry any number of combining marks, so a 100-character
/// name could hold megabytes.
///
/// "Control characters" are Unicode general category Cc. Single-line fields also refuse the line
/// and paragraph separators U+2028 and U+2029; `body` and `comment` allow tab, line feed and
/// carriage return (and the Unicode separators) because they may hold several lines.
public enum Rules {
  /// Largest accepted `goal`: far above any real petition, and small enough for every store.
  static let maximumGoal = 1_000_000_000

  /// A petition id: `^[a-z0-9][a-z0-9-]{0,63}$`, taken exactly as given (no trimming, no case
  /// folding), because ids are keys that clients compare byte for byte.
  public static func petitionID(_ raw: String) -> Result<String, RuleViolation> {
    let bytes = raw.utf8
    guard let first = bytes.first, bytes.count <= 64,
      isLowerAlphanumeric(first),
      bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") })
    else {
      return .failure(RuleViolation("must be 1 to 64 characters a-z, 0-9 or '-', not starting with '-'"))
    }
    return .success(raw)
  }

  /// A petition title: trimmed, NFC, 1 to 200 characters, single line.
  public static func title(_ raw: String) -> Result<String, RuleViolation> {
    singleLine(raw, maximumLength: 200)
  }

  /// Who receives the petition: the same rules as `title`.
  public static func target(_ raw: String) -> Result<String, RuleViolation> {
    singleLine(raw, maximumLength: 200)
  }

  /// The letter sent to the target: NFC, 0 to 20000 characters, tab and line breaks allowed.
  /// Not trimmed: leading indentation and trailing newlines are the author's layout.
  public static func body(_ raw: String) -> Result<String, RuleViolation> {
    multiLine(raw, maximumLength: 20_000)
  }

  /// The number of signatures the petition aims for: 1 to `maximumGoal`.
  public static func goal(_ raw: Int) -> Result<Int, RuleViolation> {
    guard raw >= 1 && raw <= maximumGoal else {
      return .failure(RuleViolation("must be an integer from 1 to 1000000000"))
    }
    return .success(raw)
  }

  /// A signer's comment: NFC, 0 to 2000 characters, tab and line breaks allowed. Not trimmed,
  /// like `body`: it is the signer's text as written.
  public static func comment(_ raw: String) -> Result<String, RuleViolation> {
    multiLine(raw, maximumLength: 2000)
  }

  /// Where a signature came from (a campaign tag): trimmed, NFC, 1 to 64 characters, single line.
  public static func source(_ raw: String) -> Result<String, RuleViolation> {
    singleLine(raw, maximumLength: 64)
  }

  // MARK: Shared shapes

  /// Trimmed, NFC, 1 to `maximumLength` characters, no control characters or line separators.
  static func singleLine(_ raw: String, maximumLength: Int) -> Result<String, RuleViolation> {
    let text = Text.trimmed(Text.nfc(raw))
    if Text.containsSingleLineForbidden(text) {
      return .failure(RuleViolation("must not contain control characters or line breaks"))
    }
    // Cheap byte bound first: a character is at least one byte, so fewer bytes than the limit
    // means the character count cannot exceed it either.
    guard !text.isEmpty, text.utf8.count <= maximumLength || text.unicodeScalars.count <= maximumLength else {
      return .failure(RuleViolation("must be 1 to \(maximumLength) characters"))
    }
    return .success(text)
  }

  /// NFC, 0 to `maximumLength` characters, no control characters other than tab, LF and CR.
  static func multiLine(_ raw: String, maximumLength: Int) -> Result<String, RuleViolation> {
    let text = Text.nfc(raw)
    if Text.containsMultiLineForbidden(text) {
      return .failure(RuleViolation("must not contain control characters other than tab and line breaks"))
    }
    guard text.utf8.count <= maximumLength || text.unicodeScalars.count <= maximumLength else {
      return .failure(RuleViolation("must be at most \(maximumLength) characters"))
    }
    return .success(text)
  }

  private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
    Text.isASCIIDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
  }
}
