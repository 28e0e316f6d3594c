/// The rules for a signer's fields: email and its canonical form, names, country, postal code
/// and phone.
extension Rules {
  /// Longest accepted email address in UTF-8 bytes (the SMTP path limit minus the angle brackets).
  static let maximumEmailBytes = 254

  /// A signer's email address, and its canonical form (see `canonicalEmail(_:)`).
  ///
  /// The address is trimmed and put in NFC, and is then stored exactly so. It must be at most 254
  /// UTF-8 bytes, hold no whitespace or control characters, and have the shape `local@domain`:
  /// exactly one `@`, a non-empty local part, and a domain of at least two non-empty labels
  /// separated by dots. Nothing more is checked on purpose: real addresses (internationalised
  /// ones included) vary far more than any stricter grammar admits, and delivery is the only
  /// proof of an address anyway.
  public static func email(_ raw: String) -> Result<(email: String, canonical: String), RuleViolation> {
    let email = Text.trimmed(Text.nfc(raw))
    guard !email.isEmpty else { return .failure(RuleViolation("must be an email address (local@domain)")) }
    guard email.utf8.count <= maximumEmailBytes else {
      return .failure(RuleViolation("must be at most \(maximumEmailBytes) bytes (UTF-8)"))
    }
    let hasSpaceOrControl =
      Text.isASCII(email)
      ? Text.containsASCIISpaceOrControl(email)
      : email.unicodeScalars.contains(where: {
        // Format characters (zero-width spaces and joiners, bidi marks) are invisible: two
        // addresses that look the same must be the same person.
        $0.properties.isWhitespace || Text.isSingleLineForbidden($0) || $0.properties.generalCategory == .format
      })
    if hasSpaceOrControl {
      return .failure(RuleViolation("must not contain spaces, invisible or control characters"))
    }
    // '@' and '.' are ASCII, so they never occur inside a multi-byte UTF-8 sequence: one scan
    // of the bytes finds the shape exactly, without splitting anything.
    var atCount = 0
    var localLength = 0
    var domainDots = 0
    var previousWasDotOrAt = false
    var domainHasEmptyLabel = false
    for byte in email.utf8 {
      if byte == UInt8(ascii: "@") {
        atCount += 1
        previousWasDotOrAt = true
      } else if atCount == 0 {
        localLength += 1
      } else if byte == UInt8(ascii: ".") {
        if previousWasDotOrAt { domainHasEmptyLabel = true }
        domainDots += 1
        previousWasDotOrAt = true
      } else {
        previousWasDotOrAt = false
      }
    }
    guard atCount == 1, localLength > 0 else {
      return .failure(RuleViolation("must be an email address (local@domain)"))
    }
    // Labels: none empty (no leading, trailing or doubled dot), at least two.
    guard domainDots >= 1, !domainHasEmptyLabel, !previousWasDotOrAt else {
      return .failure(RuleViolation("must have a domain with a dot, like example.com"))
    }
    return .success((email: email, canonical: canonicalEmail(email)))
  }

  /// The dedup key of a valid (trimmed, NFC) email address: two addresses belong to the same
  /// person when their canonical forms are equal.
  ///
  /// The address is lower-cased; the local part loses its `+tag` (everything from the first
  /// `+`); for `gmail.com` and `googlemail.com` the dots of the local part are dropped and the
  /// domain reads `gmail.com`, because Gmail delivers all of these to one mailbox.
  ///
  /// A `+` that starts the local part is not a tag separator (there is no mailbox before it), and
  /// a Gmail local part made only of dots keeps them: otherwise unrelated addresses would all
  /// collapse to an empty local part.
  public static func canonicalEmail(_ email: String) -> String {
    // Lower-casing can decompose (U+0130 becomes "i" + U+0307), so normalise again; ASCII only
    // needs its letters lowered.
    var lowered: [UInt8]
    if Text.isASCII(email) {
      lowered = Array(email.utf8)
      for index in lowered.indices where lowered[index] >= UInt8(ascii: "A") && lowered[index] <= UInt8(ascii: "Z") {
        lowered[index] |= 0x20
      }
    } else {
      lowered = Array(Text.nfc(email.lowercased()).utf8)
    }
    guard let at = lowered.lastIndex(of: UInt8(ascii: "@")) else {
      return String(decoding: lowered, as: UTF8.self)
    }
    var localEnd = at
    if let plus = lowered[..<at].firstIndex(of: UInt8(ascii: "+")), plus != 0 { localEnd = plus }
    let domain = lowered[(at + 1)...]
    guard domain.elementsEqual("gmail.com".utf8) || domain.elementsEqual("googlemail.com".utf8) else {
      // The common case: the local part (without its tag), "@" and the domain, in one buffer.
      if localEnd != at { lowered.removeSubrange(localEnd..<at) }
      return String(decoding: lowered, as: UTF8.self)
    }
    var canonical = lowered[..<localEnd].filter { $0 != UInt8(ascii: ".") }
    if canonical.isEmpty { canonical = Array(lowered[..<localEnd]) }
    canonical += "@gmail.com".utf8
    return String(decoding: canonical, as: UTF8.self)
  }

  /// A first or last name: trimmed, NFC, 1 to 100 characters, single line, and no URL (nothing
  /// containing `://` or `www.`, in any case), which keeps link spam out of delivered lists.
  public static func personName(_ raw: String) -> Result<String, RuleViolation> {
    switch singleLine(raw, maximumLength: 100) {
    case .failure(let violation): return .failure(violation)
    case .success(let name):
      if containsURL(name) {
        return .failure(RuleViolation("must not contain a URL"))
      }
      return .success(name)
    }
  }

  /// An ISO 3166-1 alpha-2 country code, returned upper-cased. Lower-case input and surrounding
  /// whitespace are accepted; codes that are not assigned (e.g. `UK`, `ZZ`) are refused, with
  /// the single exception of `XK` (Kosovo, user-assigned but in general use).
  /// The default `US` for a missing country is the caller's business.
  public static func country(_ raw: String) -> Result<String, RuleViolation> {
    let code = Text.trimmed(raw)
    let bytes = code.utf8
    guard bytes.count == 2, bytes.allSatisfy(Text.isASCIILetter) else {
      return .failure(RuleViolation("must be an ISO 3166-1 alpha-2 country code, like US"))
    }
    // Two ASCII letters: upper-cased by their bytes, without the Unicode case mapping.
    let upper = String(decoding: bytes.map { $0 & ~0x20 }, as: UTF8.self)
    guard Countries.isAssigned(upper) else {
      return .failure(RuleViolation("must be an ISO 3166-1 alpha-2 country code, like US"))
    }
    return .success(upper)
  }

  /// A postal code for `country` (an upper-case alpha-2 code), trimmed.
  ///
  /// For `US` a ZIP code: `12345` or `12345-6789`. Elsewhere 1 to 16 ASCII letters, digits,
  /// spaces or hyphens (after trimming), upper-cased, so that one place is one
  /// group however it was typed.
  public static func postalCode(_ raw: String, country: String) -> Result<String, RuleViolation> {
    let code = Text.trimmed(raw)
    let bytes = Array(code.utf8)
    if isUS(country) {
      let isZIP = bytes.count == 5 && bytes.allSatisfy(Text.isASCIIDigit)
      let isZIPPlus4 =
        bytes.count == 10 && bytes[5] == UInt8(ascii: "-")
        && bytes[..<5].allSatisfy(Text.isASCIIDigit) && bytes[6...].allSatisfy(Text.isASCIIDigit)
      guard isZIP || isZIPPlus4 else {
        return .failure(RuleViolation("must be a US ZIP code (12345 or 12345-6789)"))
      }
      return .success(code)
    }
    let isAllowed = { (byte: UInt8) in
      Text.isASCIILetter(byte) || Text.isASCIIDigit(byte) || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-")
    }
    // The contract's rule as written: a code of hyphens alone is odd but allowed (the schema's
    // pattern and the docs say the same).
    guard (1...16).contains(bytes.count), bytes.allSatisfy(isAllowed) else {
      return .failure(RuleViolation("must be 1 to 16 letters, digits, spaces or hyphens"))
    }
    // Upper-cased (ASCII only, as the rule allows): "sw1a 1aa" and "SW1A 1AA" are one place for
    // count's groupBy postalCode and in the delivery list.
    return .success(code.uppercased())
  }

  /// A phone number, returned in E.164 (`+` and 8 to 15 digits).
  ///
  /// Spaces (any Unicode space separator, e.g. a no-break space from a copied number), dots,
  /// dashes and parentheses are dropped first. Then `+` followed by 8 to 15 digits is taken as
  /// is. For `country` `US` a national number is accepted too: 10 digits become `+1` and those
  /// digits, and `1` followed by 10 digits (the way the number is dialled within the US) becomes
  /// `+1` and the 10 digits. Anything else, including other characters, is refused.
  public static func phone(_ raw: String, country: String) -> Result<String, RuleViolation> {
    var digits: [UInt8] = []
    var hasPlus = false
    for scalar in Text.trimmed(raw).unicodeScalars {
      switch scalar {
      case "0"..."9":
        // More digits than E.164 allows can never become valid; stop early on long junk.
        if digits.count > 15 { return .failure(phoneViolation(country: country)) }
        digits.append(UInt8(scalar.value))
      case "+" where !hasPlus && digits.isEmpty:
        hasPlus = true
      case ".", "-", "(", ")":
        continue
      default:
        if scalar.properties.generalCategory == .spaceSeparator { continue }
        return .failure(phoneViolation(country: country))
      }
    }
    let number = String(decoding: digits, as: UTF8.self)
    if hasPlus {
      guard (8...15).contains(digits.count) else { return .failure(phoneViolation(country: country)) }
      return .success("+" + number)
    }
    if isUS(country) {
      if digits.count == 10 { return .success("+1" + number) }
      if digits.count == 11 && digits[0] == UInt8(ascii: "1") { return .success("+" + number) }
    }
    return .failure(phoneViolation(country: country))
  }

  /// What is wrong with a postal code whatever the country, for a signer whose country is
  /// itself invalid: a code that no country's rule accepts is reported with the country's error
  /// (the US ZIP is one shape of the general rule, so the general rule decides).
  public static func postalCodeInNoCountry(_ raw: String) -> RuleViolation? {
    if case .failure(let violation) = postalCode(raw, country: "") { return violation }
    return nil
  }

  /// What is wrong with a phone whatever the country (the US rule accepts every E.164 number
  /// and national numbers too, so a number it refuses no country accepts).
  public static func phoneInNoCountry(_ raw: String) -> RuleViolation? {
    if case .failure = phone(raw, country: "US") { return phoneViolation(country: "") }
    return nil
  }

  private static func phoneViolation(country: String) -> RuleViolation {
    if isUS(country) {
      return RuleViolation("must be a phone number in E.164 form (+ and 8 to 15 digits) or a 10-digit US number")
    }
    return RuleViolation("must be a phone number in E.164 form (+ and 8 to 15 digits)")
  }

  private static func isUS(_ country: String) -> Bool {
    country.utf8.elementsEqual("US".utf8) || country.utf8.elementsEqual("us".utf8)
  }

  /// Whether `text` holds `://` or `www.` (any case), compared on bytes: both are ASCII, and
  /// ASCII bytes never occur inside a multi-byte UTF-8 sequence.
  static func containsURL(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard bytes.count >= 3 else { return false }
    for index in 0..<(bytes.count - 2) {
      if bytes[index] == UInt8(ascii: ":") && bytes[index + 1] == UInt8(ascii: "/")
        && bytes[index + 2] == UInt8(ascii: "/")
      {
        return true
      }
      if index + 3 < bytes.count, bytes[index + 3] == UInt8(ascii: "."),
        bytes[index] | 0x20 == UInt8(ascii: "w"), bytes[index + 1] | 0x20 == UInt8(ascii: "w"),
        bytes[index + 2] | 0x20 == UInt8(ascii: "w")
      {
        return true
      }
    }
    return false
  }
}
