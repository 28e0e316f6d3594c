import CCrypto

/// Keyed hashes and random tokens, for what must not be stored in the clear: confirmation tokens
/// (kept only as SHA-256) and the suppression list (kept only as HMAC-SHA-256 under a secret
/// created with the store).
public enum Secrets {
  /// `count` bytes from the operating system's cryptographic generator (OpenSSL's RAND_bytes,
  /// seeded from getrandom).
  public static func randomBytes(_ count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    let ok = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
    precondition(ok == 1, "the system's random generator failed")
    return bytes
  }

  /// SHA-256 of a text's UTF-8 bytes, as lower-case hex.
  public static func sha256Hex(_ text: String) -> String {
    let hash = SHA256()
    hash.update(Array(text.utf8))
    return SHA256.hexDigest(hash.finalize())
  }

  /// URL-safe base64 without padding (RFC 4648 §5).
  public static func base64URL(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count * 4 + 2) / 3)
    var index = 0
    while index + 3 <= bytes.count {
      let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
      for shift in [18, 12, 6, 0] { out.append(alphabet[Int((n >> UInt32(shift)) & 63)]) }
      index += 3
    }
    let rest = bytes.count - index
    if rest == 1 {
      let n = UInt32(bytes[index]) << 16
      out.append(alphabet[Int((n >> 18) & 63)])
      out.append(alphabet[Int((n >> 12) & 63)])
    } else if rest == 2 {
      let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
      for shift in [18, 12, 6] { out.append(alphabet[Int((n >> UInt32(shift)) & 63)]) }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// A new confirmation token: 192 random bits, URL-safe, and the hash the store keeps.
  public static func newConfirmationToken() -> (token: String, hash: String) {
    let token = base64URL(randomBytes(24))
    return (token, sha256Hex(token))
  }
}
