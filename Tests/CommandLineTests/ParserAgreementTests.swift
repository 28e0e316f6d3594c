import Testing

@testable import petition_rpc

/// The fast start-up parser (`Settings.parseSimple`) and swift-argument-parser's `PetitionRPC`
/// read one table of flags; these tests hold them to the same answers.
@Suite struct ParserAgreementTests {
  /// The full parser's settings for `arguments`, nil when it refuses them.
  private func fullParse(_ arguments: [String]) -> Settings? {
    (try? PetitionRPC.parse(arguments))?.settings
  }

  /// Every flag of the table is an option of the full parser, and the full parser has no other
  /// option with a value.
  @Test func bothParsersKnowTheSameFlags() {
    let help = PetitionRPC.helpMessage()
    let names = Set(
      help.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "[" || $0 == "]" })
        .filter { $0.hasPrefix("--") }
        .map { String($0.dropFirst(2).prefix { $0.isLetter || $0 == "-" }) })
    let table = Set(Settings.Flag.allCases.map(\.name))
    // `--mcp` is the one flag without a value.
    #expect(names.subtracting(["help", "version", Settings.mcpFlag]) == table)
  }

  /// Defaults are the same.
  @Test func sameDefaults() {
    #expect(Settings.parseSimple([]) == Settings())
    #expect(fullParse([]) == Settings())
  }

  /// Whenever the simple parser accepts a command line, the full parser gives the same settings;
  /// whenever the full parser refuses one, the simple parser leaves it to it.
  @Test(arguments: [
    ["--db", "x.sqlite3"], ["--db=x.sqlite3"], ["--db", ":memory:", "--max-batch", "7"],
    ["--max-message-bytes", "64"], ["--max-message-bytes", "63"], ["--max-batch", "0"], ["--max-batch=1"],
    ["--busy-timeout-ms", "0"], ["--busy-timeout-ms", "-1"], ["--busy-timeout-ms", "x"], ["--db", ""],
    ["--db"], ["--unknown", "1"], ["--max-batch", "2", "--max-batch", "3"], ["--help"], ["--version"],
    ["-h"], ["--db", "--max-batch"], ["--db", "a", "extra"],
    ["--mcp"], ["--mcp", "--db", "x"], ["--mcp", "--mcp-tools", "read,sign"], ["--mcp-tools", "read"],
    ["--mcp", "--mcp-tools", "bogus"], ["--mcp", "--mcp-tools="], ["--mcp", "--mcp-tools", "count,petition_get"],
  ])
  func parsersAgree(arguments: [String]) {
    let simple = Settings.parseSimple(arguments)
    let full = fullParse(arguments)
    if let simple { #expect(simple == full, "\(arguments)") }
    if full == nil { #expect(simple == nil, "\(arguments)") }
  }
}
