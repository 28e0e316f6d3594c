import CCrypto

/// HMAC-SHA-256 (RFC 2104) under one key, for many messages: the SHA-256 states after the
/// key's inner and outer pads are computed once, so a message costs two short SHA-256
/// continuations from copies of them (plain structs: OpenSSL's low-level SHA-256, which uses
/// the processor's SHA instructions). OpenSSL's one-shot `HMAC` looks the algorithm up and
/// builds its contexts on every call: ~20,000 instructions each, 14% of a pipelined sign with
/// an opt-in (which hashes the person and the phone for the suppression list).
///
/// Immutable once made, so one instance may be used from any thread.
public final class HMACSHA256: Sendable {
  private let inner: SHA256_CTX
  private let outer: SHA256_CTX
  public let key: [UInt8]

  public init(key: [UInt8]) {
    self.key = key
    var block = key
    if block.count > 64 {
      let hash = SHA256()
      hash.update(block)
      block = hash.finalize()
    }
    block += [UInt8](repeating: 0, count: 64 - block.count)
    inner = Self.state(after: block.map { $0 ^ 0x36 })
    outer = Self.state(after: block.map { $0 ^ 0x5C })
  }

  private static func state(after pad: [UInt8]) -> SHA256_CTX {
    var context = SHA256_CTX()
    SHA256_Init(&context)
    pad.withUnsafeBytes { _ = SHA256_Update(&context, $0.baseAddress, $0.count) }
    return context
  }

  /// The 32-byte HMAC of `message`.
  public func authenticate(_ message: some Collection<UInt8>) -> [UInt8] {
    var context = inner
    let hashed: Bool? = message.withContiguousStorageIfAvailable {
      SHA256_Update(&context, $0.baseAddress, $0.count)
      return true
    }
    if hashed == nil { Array(message).withUnsafeBytes { _ = SHA256_Update(&context, $0.baseAddress, $0.count) } }
    var digest = [UInt8](repeating: 0, count: 32)
    SHA256_Final(&digest, &context)
    context = outer
    SHA256_Update(&context, digest, 32)
    SHA256_Final(&digest, &context)
    return digest
  }
}

extension Secrets {
  /// HMAC-SHA-256 of `message` under `key`. For many messages under one key, keep an
  /// `HMACSHA256` (the stores keep one for their secret).
  public static func hmacSHA256(key: [UInt8], message: some Collection<UInt8>) -> [UInt8] {
    HMACSHA256(key: key).authenticate(message)
  }
}
