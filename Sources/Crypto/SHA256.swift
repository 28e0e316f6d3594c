import CCrypto

/// SHA-256 (FIPS 180-4), streaming: feed any number of `update` calls, then `finalize`.
///
/// Backed by OpenSSL's libcrypto, which uses the processor's SHA instructions where it has
/// them: export files run to hundreds of megabytes, and a portable implementation made hashing
/// a sixth of a large export's time. Each instance owns one `EVP_MD_CTX`, freed in `deinit`.
public final class SHA256 {
  private let context: OpaquePointer

  public init() {
    guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
    self.context = context
    reset()
  }

  deinit {
    EVP_MD_CTX_free(context)
  }

  private func reset() {
    guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else { fatalError("SHA-256 is not available") }
  }

  /// Hashes `bytes` after everything fed before.
  public func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
    EVP_DigestUpdate(context, base, bytes.count)
  }

  /// Hashes `bytes` after everything fed before.
  public func update<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
    let hashed: Bool? = bytes.withContiguousStorageIfAvailable {
      update(UnsafeRawBufferPointer($0))
      return true
    }
    if hashed == nil {
      let copy = Array(bytes)
      copy.withUnsafeBytes { update($0) }
    }
  }

  /// The 32-byte digest of everything fed so far; the hasher then starts over.
  public func finalize() -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    EVP_DigestFinal_ex(context, &digest, &length)
    reset()
    return Array(digest.prefix(Int(length)))
  }

  /// Lower-case hexadecimal of `bytes`.
  public static func hexDigest(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
  }
}
