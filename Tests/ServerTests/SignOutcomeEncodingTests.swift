import JSON
import Petitions
import Testing

@testable import Server

/// The sign result written directly (the hot path) is the same JSON as the one built through
/// jansson, for every status, with and without a token, and falls back for unusual strings.
@Suite struct SignOutcomeEncodingTests {
  static let outcomes: [SignOutcome] = [
    SignOutcome(signatureID: "sig_0000000000001", petitionID: "p1", isDuplicate: false, status: .confirmed, count: 1),
    SignOutcome(
      signatureID: "sig_zz", petitionID: "end-the-program", isDuplicate: true, status: .confirmed, count: 12345),
    SignOutcome(
      signatureID: "sig_2", petitionID: "p1", isDuplicate: false, status: .pending, count: 0,
      confirmToken: "Ab-_0123456789abcdefghijklmnopqrstuv"),
    SignOutcome(
      signatureID: "sig_2", petitionID: "p1", isDuplicate: true, status: .pending, count: 7,
      confirmToken: "Zz09_-AAAAAAAAAAAAAAAAAAAAAA"),
    SignOutcome(signatureID: "sig_3", petitionID: "p1", isDuplicate: true, status: .invalidated, count: 0),
    // Not plain: written through jansson (escaped).
    SignOutcome(
      signatureID: "sig \"q\"", petitionID: "p1", isDuplicate: false, status: .pending, count: 0, confirmToken: "a/b"),
  ]

  @Test(arguments: outcomes)
  func fastPathEqualsJansson(outcome: SignOutcome) throws {
    let fast = ResultEncoder.serializedSignOutcome(outcome)
    guard case .success(let parsed) = JSON.parse(fast) else {
      Issue.record("not JSON: \(String(decoding: fast, as: UTF8.self))")
      return
    }
    #expect(parsed.isEqual(to: ResultEncoder.signOutcome(outcome)), "\(String(decoding: fast, as: UTF8.self))")
    #expect(parsed.keys.contains("confirmToken") == (outcome.confirmToken != nil))
    #expect(parsed.keys.first == "signatureId")
  }
}
