import Testing

@testable import petition_rpc

/// The start-up fast path reads only simple, valid command lines; everything else is left to
/// swift-argument-parser (help, version, errors with exit 64).
@Suite struct SettingsTests {
  /// Known options with valid values, spaced or with `=`, are read as the parser would.
  @Test func simpleCommandLines() {
    #expect(Settings.parseSimple([]) == Settings())
    #expect(
      Settings.parseSimple([
        "--db", "a.sqlite3", "--max-batch=5", "--busy-timeout-ms", "0", "--max-message-bytes", "64",
      ])
        == Settings(databasePath: "a.sqlite3", maxMessageBytes: 64, maxBatch: 5, busyTimeoutMilliseconds: 0))
  }

  /// Help, version, unknown flags, missing or invalid values all go to the full parser.
  @Test(arguments: [
    ["--help"], ["--version"], ["-h"], ["--db"], ["--db", ""], ["--max-batch", "0"], ["--max-batch", "x"],
    ["--busy-timeout-ms", "-1"], ["--max-message-bytes", "10"], ["--verbose"], ["stray"], ["--db", "--help"],
  ])
  func everythingElseGoesToTheParser(arguments: [String]) {
    #expect(Settings.parseSimple(arguments) == nil)
  }
}
