import Testing

@testable import Petitions

@Suite struct EmailRuleTests {
  /// A valid address is stored as given, after trimming, with its canonical form beside it.
  @Test func keepsAddressAsGiven() throws {
    let result = try Rules.email("  Jane.Doe+petitions@Example.COM \n").get()
    #expect(result.email == "Jane.Doe+petitions@Example.COM")
    #expect(result.canonical == "jane.doe@example.com")
  }

  /// A decomposed address is stored in NFC, so both spellings share one canonical form.
  @Test func normalizesToNFC() throws {
    let decomposed = try Rules.email("jose\u{301}@example.com").get()
    let composed = try Rules.email("jos\u{E9}@example.com").get()
    #expect(decomposed.email == "jos\u{E9}@example.com")
    #expect(decomposed.canonical == composed.canonical)
  }

  /// Addresses without exactly one '@', a local part, or a dotted domain are refused.
  @Test func refusesMalformedAddresses() {
    let malformed = [
      "", "   ", "jane", "jane@", "@example.com", "jane@example", "jane@@example.com", "a@b@example.com",
      "jane@.example.com", "jane@example.com.", "jane@example..com", "jane@.",
    ]
    for raw in malformed {
      #expect(isViolation(Rules.email(raw)), "\(raw.debugDescription)")
    }
  }

  /// Inner spaces (any kind) and control characters are refused.
  @Test func refusesSpacesAndControlCharacters() {
    for raw in [
      "jane doe@example.com", "jane@exa mple.com", "jane\u{A0}@example.com", "jane\u{0}@example.com",
      "jane\t@example.com", "jane@example.com\u{2028}x", "ja\u{7F}ne@example.com",
    ] {
      #expect(isViolation(Rules.email(raw)), "\(raw.debugDescription)")
    }
  }

  /// 254 UTF-8 bytes pass and 255 fail; multi-byte characters count by their bytes.
  @Test func limitsToTwoHundredFiftyFourBytes() {
    let domain = "@example.com"  // 12 bytes
    #expect(!isViolation(Rules.email(String(repeating: "a", count: 242) + domain)))
    #expect(isViolation(Rules.email(String(repeating: "a", count: 243) + domain)))
    // 121 two-byte characters: 242 bytes, plus the domain 254.
    #expect(!isViolation(Rules.email(String(repeating: "\u{E9}", count: 121) + domain)))
    #expect(isViolation(Rules.email(String(repeating: "\u{E9}", count: 121) + "a" + domain)))
  }

  /// Messages describe the rule and never echo the address.
  @Test func messagesDoNotLeakTheAddress() {
    for raw in ["secret person@example.com", "secret", "secret@example"] {
      let message = violationMessage(Rules.email(raw))
      #expect(message != nil)
      #expect(message?.contains("secret") == false)
    }
  }
}

@Suite struct CanonicalEmailTests {
  /// Canonical forms are lower-cased.
  @Test func lowerCases() {
    #expect(Rules.canonicalEmail("Jane.Doe@Example.COM") == "jane.doe@example.com")
  }

  /// The +tag of the local part is dropped, from the first '+'.
  @Test func dropsPlusTag() {
    #expect(Rules.canonicalEmail("jane+news@example.com") == "jane@example.com")
    #expect(Rules.canonicalEmail("jane+a+b@example.com") == "jane@example.com")
    #expect(Rules.canonicalEmail("jane+@example.com") == "jane@example.com")
  }

  /// A '+' that starts the local part is kept, so such addresses do not all collapse to one key.
  @Test func keepsLeadingPlus() {
    #expect(Rules.canonicalEmail("+tag@example.com") == "+tag@example.com")
  }

  /// Gmail ignores dots in the local part; other domains keep them.
  @Test func dropsGmailDots() {
    #expect(Rules.canonicalEmail("J.a.n.e@gmail.com") == "jane@gmail.com")
    #expect(Rules.canonicalEmail("j.ane+x@GMail.com") == "jane@gmail.com")
    #expect(Rules.canonicalEmail("j.ane@example.com") == "j.ane@example.com")
    #expect(Rules.canonicalEmail("j.ane@mail.gmail.com") == "j.ane@mail.gmail.com")
  }

  /// googlemail.com is read as gmail.com, with the same dot rule.
  @Test func foldsGooglemail() {
    #expect(Rules.canonicalEmail("Jane.Doe+x@googlemail.com") == "janedoe@gmail.com")
    #expect(Rules.canonicalEmail("janedoe@googlemail.com") == Rules.canonicalEmail("jane.doe@gmail.com"))
  }

  /// The dots of the domain itself are never dropped.
  @Test func keepsDomainDots() {
    #expect(Rules.canonicalEmail("a.b@sub.example.com") == "a.b@sub.example.com")
  }

  /// Rules.email returns the same canonical form as canonicalEmail.
  @Test func emailRuleUsesCanonicalForm() throws {
    #expect(try Rules.email(" J.Doe+x@GoogleMail.com ").get().canonical == "jdoe@gmail.com")
  }
}

@Suite struct PersonNameRuleTests {
  /// Names are trimmed and put in NFC; non-Latin scripts and apostrophes are welcome.
  @Test func acceptsNames() {
    #expect(Rules.personName("  Zoe\u{308} ") == .success("Zo\u{EB}"))
    #expect(Rules.personName("O'Brien-Smith") == .success("O'Brien-Smith"))
    #expect(Rules.personName("\u{5C71}\u{7530}") == .success("\u{5C71}\u{7530}"))
  }

  /// 1 to 100 characters after trimming.
  @Test func limitsLength() {
    #expect(isViolation(Rules.personName("")))
    #expect(isViolation(Rules.personName("  ")))
    #expect(!isViolation(Rules.personName(String(repeating: "n", count: 100))))
    #expect(isViolation(Rules.personName(String(repeating: "n", count: 101))))
  }

  /// Anything that looks like a URL is refused, in any case.
  @Test func refusesURLs() {
    for raw in ["http://spam.example", "Visit HTTPS://x.y", "www.spam.example", "WWW.Spam.Example", "ftp://x"] {
      #expect(violationMessage(Rules.personName(raw)) == "must not contain a URL", "\(raw)")
    }
    #expect(!isViolation(Rules.personName("Www")))
  }

  /// Control characters and line breaks are refused.
  @Test func refusesControlCharacters() {
    for raw in ["Ja\nne", "Ja\u{0}ne", "Jane\u{2029}Doe", "Ja\tne"] {
      #expect(isViolation(Rules.personName(raw)), "\(raw.debugDescription)")
    }
  }
}

@Suite struct CountryRuleTests {
  /// Assigned codes are accepted in any case and returned upper-cased.
  @Test func acceptsAssignedCodes() {
    #expect(Rules.country("US") == .success("US"))
    #expect(Rules.country("gb") == .success("GB"))
    #expect(Rules.country("De") == .success("DE"))
    #expect(Rules.country(" fr ") == .success("FR"))
    #expect(Rules.country("XK") == .success("XK"))
  }

  /// Unassigned or reserved codes, and anything not two ASCII letters, are refused.
  @Test func refusesOtherCodes() {
    for raw in ["", "U", "USA", "UK", "EU", "ZZ", "AA", "U1", "\u{FF35}\u{FF33}", "U S"] {
      #expect(isViolation(Rules.country(raw)), "\(raw.debugDescription)")
    }
  }

  /// The table holds the 249 official codes and XK.
  @Test func tableSize() {
    #expect(Countries.assigned.count == 250)
    #expect(Countries.assigned.allSatisfy { $0.utf8.count == 2 && $0 == $0.uppercased() })
  }
}

@Suite struct PostalCodeRuleTests {
  /// US ZIP codes in five-digit and ZIP+4 form, trimmed.
  @Test func acceptsUSZIPCodes() {
    #expect(Rules.postalCode("20500", country: "US") == .success("20500"))
    #expect(Rules.postalCode(" 20500-0003 ", country: "US") == .success("20500-0003"))
  }

  /// Anything else is not a US ZIP code.
  @Test func refusesBadUSZIPCodes() {
    for raw in [
      "", "2050", "205000", "20500-", "20500-003", "20500 0003", "2050O", "ABCDE", "20500-00034",
      "\u{0662}\u{0660}\u{0665}\u{0660}\u{0660}",
    ] {
      #expect(
        violationMessage(Rules.postalCode(raw, country: "US")) == "must be a US ZIP code (12345 or 12345-6789)",
        "\(raw.debugDescription)")
    }
  }

  /// International postcodes: letters, digits, spaces and hyphens, case kept as given.
  @Test func acceptsInternationalPostcodes() {
    #expect(Rules.postalCode("SW1A 1AA", country: "GB") == .success("SW1A 1AA"))
    #expect(Rules.postalCode("sw1a 1aa", country: "GB") == .success("SW1A 1AA"))
    #expect(Rules.postalCode("K1A 0B1", country: "CA") == .success("K1A 0B1"))
    #expect(Rules.postalCode("10115", country: "DE") == .success("10115"))
    #expect(Rules.postalCode(" 1010-001 ", country: "PT") == .success("1010-001"))
    #expect(Rules.postalCode("2050", country: "AU") == .success("2050"))
    #expect(!isViolation(Rules.postalCode(String(repeating: "9", count: 16), country: "IE")))
    // "1 to 16 letters, digits, spaces or hyphens": hyphens alone included, as the contract says.
    #expect(Rules.postalCode(" - ", country: "DE") == .success("-"))
    #expect(Rules.postalCode("--", country: "DE") == .success("--"))
  }

  /// International postcodes that are empty, too long, or hold other characters.
  @Test func refusesBadInternationalPostcodes() {
    for raw in ["", "   ", String(repeating: "9", count: 17), "75001\u{A0}X", "75\u{C9}01", "E1/6AN", "1_2"] {
      #expect(isViolation(Rules.postalCode(raw, country: "FR")), "\(raw.debugDescription)")
    }
  }
}

@Suite struct PhoneRuleTests {
  /// A US national number with the usual punctuation becomes +1 and its ten digits.
  @Test func normalizesUSNationalNumbers() {
    #expect(Rules.phone("(202) 555-0123", country: "US") == .success("+12025550123"))
    #expect(Rules.phone("202.555.0123", country: "US") == .success("+12025550123"))
    #expect(Rules.phone("2025550123", country: "US") == .success("+12025550123"))
  }

  /// A US number dialled with the leading 1 becomes +1 and its ten digits.
  @Test func acceptsUSNumberWithTrunkOne() {
    #expect(Rules.phone("1-202-555-0123", country: "US") == .success("+12025550123"))
    #expect(Rules.phone("1 (202) 555 0123", country: "US") == .success("+12025550123"))
  }

  /// International numbers are taken as E.164 after dropping separators, whatever the country.
  @Test func acceptsInternationalNumbers() {
    #expect(Rules.phone("+44 20 7946 0958", country: "GB") == .success("+442079460958"))
    #expect(Rules.phone("+44 20 7946 0958", country: "US") == .success("+442079460958"))
    #expect(Rules.phone("+1 (202) 555-0123", country: "US") == .success("+12025550123"))
    #expect(Rules.phone("+49\u{A0}30\u{A0}123456", country: "DE") == .success("+4930123456"))
    #expect(Rules.phone("+12345678", country: "FR") == .success("+12345678"))
    #expect(Rules.phone("+123456789012345", country: "FR") == .success("+123456789012345"))
  }

  /// National numbers outside the US, and wrong lengths, are refused.
  @Test func refusesWrongLengthsAndNationalNumbers() {
    #expect(isViolation(Rules.phone("2025550123", country: "GB")))
    #expect(isViolation(Rules.phone("020 7946 0958", country: "GB")))
    #expect(isViolation(Rules.phone("+1234567", country: "US")))
    #expect(isViolation(Rules.phone("+1234567890123456", country: "US")))
    #expect(isViolation(Rules.phone("555-0123", country: "US")))
    #expect(isViolation(Rules.phone("22025550123", country: "US")))
    #expect(isViolation(Rules.phone("120255501234", country: "US")))
    #expect(isViolation(Rules.phone(String(repeating: "1", count: 1000), country: "US")))
  }

  /// Letters, misplaced '+', extensions and other characters are refused, not dropped.
  @Test func refusesOtherCharacters() {
    for raw in [
      "", "+", "202-555-CALL", "202 555 0123 x12", "++12025550123", "+1202+5550123", "2025550123+",
      "202/555/0123", "\u{FF12}025550123", "202\n5550123",
    ] {
      #expect(isViolation(Rules.phone(raw, country: "US")), "\(raw.debugDescription)")
    }
  }
}

@Suite struct InvisibleEmailCharacterTests {
  /// Invisible format characters (a zero-width space) in an email are refused: two addresses
  /// that look the same must be one person.
  @Test func refusesFormatCharacters() {
    #expect(throws: RuleViolation.self) { try Rules.email("a@exa\u{200B}mple.org").get() }
    #expect(throws: RuleViolation.self) { try Rules.email("a\u{2060}b@example.org").get() }
  }
}

/// `Text.isASCII` reads eight bytes at a time: a non-ASCII byte is found wherever it sits
/// (in a word or in the tail), in native and in bridged or substring-made strings.
@Suite struct ASCIICheckTests {
  @Test func findsANonASCIIByteAtEveryOffset() {
    for length in 0..<40 {
      #expect(Text.isASCII(String(repeating: "a", count: length)))
      for position in 0..<length {
        var bytes = Array(repeating: UInt8(ascii: "a"), count: length)
        bytes[position] = 0xC3
        bytes.insert(0xA9, at: position + 1)
        #expect(!Text.isASCII(String(decoding: bytes, as: UTF8.self)), "length \(length), at \(position)")
      }
    }
    #expect(Text.isASCII("\u{7F}\u{0}tab\t"))
    #expect(!Text.isASCII(String("xx\u{2028}".dropFirst())))
  }
}

/// The per-channel wordings of a pending signature's opt-ins, in one column.
@Suite struct PendingNoticesTests {
  @Test func keepsEachChannelsWording() {
    // One wording for all: plain text, as before.
    let first = PendingNotices.merged(nil, pending: [], adding: [.email, .sms], notice: "v1")
    #expect(first == "v1")
    #expect(PendingNotices.notice(for: .sms, in: first) == "v1")
    // Another wording for one channel: kept per channel.
    let second = PendingNotices.merged(first, pending: [.email, .sms], adding: [.sms], notice: "v3")
    #expect(PendingNotices.notice(for: .email, in: second) == "v1")
    #expect(PendingNotices.notice(for: .sms, in: second) == "v3")
    #expect(PendingNotices.notice(for: .phone, in: second) == nil)
    let third = PendingNotices.merged(second, pending: [.email, .sms], adding: [.phone], notice: nil)
    #expect(PendingNotices.notice(for: .phone, in: third) == nil)
    #expect(PendingNotices.notice(for: .sms, in: third) == "v3")
    #expect(PendingNotices.groups([.email, .phone, .sms], in: third).map(\.notice) == ["v1", nil, "v3"])
    // Back to one wording: plain again; no opt-in given: unchanged.
    #expect(PendingNotices.merged(second, pending: [.email, .sms], adding: [.email, .sms], notice: "v4") == "v4")
    #expect(PendingNotices.merged(second, pending: [.email, .sms], adding: [], notice: "v9") == second)
  }
}
