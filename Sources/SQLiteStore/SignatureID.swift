/// Signature ids are "sig_" and the row id in base 36, zero-padded to a fixed width, so that
/// their byte order is the order of insertion (row ids only grow: the id of a deleted pending
/// signature is never given out again, see `SignatureIDFloor`).
enum SignatureID {
  static let prefix = "sig_"
  /// Eleven base-36 digits count 1.3e17 signatures, and keep the whole id at 15 bytes: Swift
  /// stores strings that short inline, so a million-row export makes no allocation for them.
  static let width = 11

  /// 36^11: row ids from here on get more digits (and would sort out of order; never reached).
  static let maximumRowID: Int64 = 131_621_703_842_267_136

  static func make(rowID: Int64) -> String {
    guard rowID >= 0 && rowID < maximumRowID else {
      let digits = String(rowID, radix: 36)
      return prefix + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
    // Written into a fixed buffer: exports make one of these per row.
    let alphabet: StaticString = "0123456789abcdefghijklmnopqrstuvwxyz"
    return String(unsafeUninitializedCapacity: 4 + width) { buffer in
      buffer[0] = UInt8(ascii: "s")
      buffer[1] = UInt8(ascii: "i")
      buffer[2] = UInt8(ascii: "g")
      buffer[3] = UInt8(ascii: "_")
      var rest = rowID
      for index in stride(from: 4 + width - 1, through: 4, by: -1) {
        buffer[index] = alphabet.utf8Start[Int(rest % 36)]
        rest /= 36
      }
      return 4 + width
    }
  }

  /// The smallest row id whose signature id sorts strictly after `id` (in byte order), nil if
  /// none does. Defined for any string, so a cursor that was tampered with or came from
  /// elsewhere still means "the rows after this position" and never fails.
  static func firstRowID(after id: String) -> Int64? {
    func sortsAfter(_ rowID: Int64) -> Bool {
      id.utf8.lexicographicallyPrecedes(make(rowID: rowID).utf8)
    }
    var low: Int64 = 1
    var high = maximumRowID - 1
    guard sortsAfter(high) else { return nil }
    // make(rowID:) is monotonic, so "sorts after id" holds from some row id on.
    while low < high {
      let middle = low + (high - low) / 2
      if sortsAfter(middle) { high = middle } else { low = middle + 1 }
    }
    return low
  }
}

extension SignatureID {
  /// The row id of a signature id this store made, nil for anything else.
  static func rowID(_ id: String) -> Int64? {
    guard id.utf8.count == prefix.utf8.count + width, id.hasPrefix(prefix) else { return nil }
    let digits = id.dropFirst(prefix.count)
    guard digits.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) }) else { return nil }
    return Int64(digits, radix: 36)
  }

  /// The row ids of these signature ids as a JSON array (for `json_each`); unknown ids left out.
  static func jsonArray(_ ids: [String]) -> String {
    "[" + ids.compactMap(rowID).map(String.init).joined(separator: ",") + "]"
  }
}
