@testable import Petitions

/// Whether `result` is a violation, whatever its message.
func isViolation<Value>(_ result: Result<Value, RuleViolation>) -> Bool {
  if case .failure = result { return true }
  return false
}

/// The message of a violation, or nil for a success.
func violationMessage<Value>(_ result: Result<Value, RuleViolation>) -> String? {
  if case .failure(let violation) = result { return violation.message }
  return nil
}
