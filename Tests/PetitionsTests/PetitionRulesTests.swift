import Testing

@testable import Petitions

@Suite struct PetitionIDRuleTests {
  /// Lower-case letters, digits and inner hyphens make an id, returned unchanged.
  @Test func acceptsValidIDs() {
    #expect(Rules.petitionID("save-the-park") == .success("save-the-park"))
    #expect(Rules.petitionID("0") == .success("0"))
    #expect(Rules.petitionID("a-") == .success("a-"))
    #expect(Rules.petitionID(String(repeating: "a", count: 64)) == .success(String(repeating: "a", count: 64)))
  }

  /// Empty, too long, leading hyphen, upper case, spaces and non-ASCII ids are refused, never fixed.
  @Test func refusesInvalidIDs() {
    for raw in ["", "-park", "Park", " park", "park ", "park_1", "pärk", "a.b", String(repeating: "a", count: 65)] {
      #expect(isViolation(Rules.petitionID(raw)), "\(raw.debugDescription)")
    }
  }
}

@Suite struct TitleRuleTests {
  /// Titles are trimmed of whitespace, including line breaks and Unicode spaces.
  @Test func trims() {
    #expect(Rules.title("  Save the park \n") == .success("Save the park"))
    #expect(Rules.title("\u{3000}Parks\u{A0}") == .success("Parks"))
  }

  /// Decomposed input is stored in NFC.
  @Test func normalizesToNFC() {
    let title = try? Rules.title("Cafe\u{301}").get()
    #expect(title == "Caf\u{E9}")
    #expect(title?.unicodeScalars.count == 4)
  }

  /// 200 characters pass and 201 fail, counted in code points after NFC (as JSON Schema does).
  @Test func limitsLengthInCharacters() {
    #expect(isViolation(Rules.title("")))
    #expect(isViolation(Rules.title("   ")))
    #expect(!isViolation(Rules.title(String(repeating: "x", count: 200))))
    #expect(isViolation(Rules.title(String(repeating: "x", count: 201))))
    // 100 flags are 200 code points (800 bytes); 101 are too many.
    #expect(!isViolation(Rules.title(String(repeating: "\u{1F1FA}\u{1F1F8}", count: 100))))
    #expect(isViolation(Rules.title(String(repeating: "\u{1F1FA}\u{1F1F8}", count: 101))))
    // One letter with thousands of combining marks is not one character's worth.
    #expect(isViolation(Rules.title("T" + String(repeating: "\u{301}", count: 100_000))))
    // Decomposed "é" is two scalars but one character once normalised.
    #expect(!isViolation(Rules.title(String(repeating: "e\u{301}", count: 200))))
    #expect(violationMessage(Rules.title("")) == "must be 1 to 200 characters")
  }

  /// Control characters and line/paragraph separators inside a title are refused.
  @Test func refusesControlCharacters() {
    for raw in ["a\nb", "a\tb", "a\u{0}b", "a\u{7F}b", "a\u{85}b", "a\u{2028}b", "a\u{2029}b", "a\u{1B}[31mb"] {
      #expect(isViolation(Rules.title(raw)), "\(raw.debugDescription)")
    }
  }

  /// Target follows the title's rules.
  @Test func targetMatchesTitle() {
    #expect(Rules.target(" City Council ") == .success("City Council"))
    #expect(isViolation(Rules.target("")))
    #expect(isViolation(Rules.target("a\u{7}")))
    #expect(isViolation(Rules.target(String(repeating: "x", count: 201))))
  }
}

@Suite struct BodyRuleTests {
  /// The body keeps its layout: not trimmed, tabs and line breaks allowed.
  @Test func keepsLayout() {
    let body = "\tDear Council,\r\n\nPlease act.\n"
    #expect(Rules.body(body) == .success(body))
    #expect(Rules.body("") == .success(""))
    #expect(Rules.body("one\u{2028}two") == .success("one\u{2028}two"))
  }

  /// The body is stored in NFC.
  @Test func normalizesToNFC() {
    #expect(Rules.body("re\u{301}sume\u{301}") == .success("r\u{E9}sum\u{E9}"))
  }

  /// Other control characters are refused.
  @Test func refusesOtherControlCharacters() {
    for raw in ["a\u{0}", "a\u{8}", "a\u{7F}", "a\u{85}", "\u{1B}"] {
      #expect(isViolation(Rules.body(raw)), "\(raw.debugDescription)")
    }
  }

  /// At most 20000 characters, counted in code points: "\r\n" counts as two.
  @Test func limitsLength() {
    #expect(!isViolation(Rules.body(String(repeating: "x", count: 20_000))))
    #expect(isViolation(Rules.body(String(repeating: "x", count: 20_001))))
    #expect(!isViolation(Rules.body(String(repeating: "\r\n", count: 10_000))))
    #expect(isViolation(Rules.body(String(repeating: "\r\n", count: 10_001))))
  }
}

@Suite struct GoalRuleTests {
  /// Goals from 1 to a billion are accepted; zero, negatives and absurd values are not.
  @Test func range() {
    #expect(Rules.goal(1) == .success(1))
    #expect(Rules.goal(1_000_000_000) == .success(1_000_000_000))
    #expect(isViolation(Rules.goal(0)))
    #expect(isViolation(Rules.goal(-5)))
    #expect(isViolation(Rules.goal(1_000_000_001)))
    #expect(isViolation(Rules.goal(Int.max)))
  }
}

@Suite struct CommentRuleTests {
  /// Comments may span lines, keep their whitespace, and are stored in NFC.
  @Test func acceptsMultiLineText() {
    #expect(Rules.comment("") == .success(""))
    #expect(Rules.comment(" I live here.\n\tTruly. ") == .success(" I live here.\n\tTruly. "))
    #expect(Rules.comment("nai\u{308}ve") == .success("na\u{EF}ve"))
  }

  /// At most 2000 characters and no control characters besides tab and line breaks.
  @Test func limits() {
    #expect(!isViolation(Rules.comment(String(repeating: "\u{1F600}", count: 2000))))
    #expect(isViolation(Rules.comment(String(repeating: "x", count: 2001))))
    #expect(isViolation(Rules.comment("bell\u{7}")))
  }
}

@Suite struct SourceRuleTests {
  /// Sources are trimmed, NFC, 1 to 64 characters on one line.
  @Test func rules() {
    #expect(Rules.source(" newsletter-2026 ") == .success("newsletter-2026"))
    #expect(Rules.source("cafe\u{301}") == .success("caf\u{E9}"))
    #expect(isViolation(Rules.source("")))
    #expect(isViolation(Rules.source(" \t ")))
    #expect(!isViolation(Rules.source(String(repeating: "s", count: 64))))
    #expect(isViolation(Rules.source(String(repeating: "s", count: 65))))
    #expect(isViolation(Rules.source("a\nb")))
  }
}

@Suite struct TextTests {
  /// ASCII takes the fast path and comes back identical; Hangul jamo compose.
  @Test func nfc() {
    #expect(Text.nfc("plain ascii") == "plain ascii")
    #expect(Text.nfc("\u{1100}\u{1161}") == "\u{AC00}")
    #expect(Text.nfc("\u{212B}").unicodeScalars.map(\.value) == [0xC5])
  }

  /// Trimming removes whitespace at both ends only, and handles all-whitespace input.
  @Test func trimming() {
    #expect(Text.trimmed(" \t a b \r\n") == "a b")
    #expect(Text.trimmed(" \n ") == "")
    #expect(Text.trimmed("") == "")
    #expect(Text.trimmed("x") == "x")
  }
}
