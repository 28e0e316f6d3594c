import Crypto
import Testing

private func digest(_ text: String) -> String {
  let hasher = SHA256()
  hasher.update(Array(text.utf8))
  return SHA256.hexDigest(hasher.finalize())
}

/// The two multi-block messages of the FIPS 180-2 / NIST examples.
private let message448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
private let message896 =
  "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"

@Suite struct SHA256Tests {
  /// The empty message.
  @Test func empty() {
    #expect(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }

  /// "abc", one block.
  @Test func abc() {
    #expect(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  }

  /// The 448-bit message, whose padding spills into a second block.
  @Test func message448Bits() {
    #expect(digest(message448) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
  }

  /// The 896-bit message.
  @Test func message896Bits() {
    #expect(digest(message896) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
  }

  /// One million 'a', fed in one call.
  @Test func oneMillionA() {
    let hasher = SHA256()
    hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
    #expect(SHA256.hexDigest(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  /// Feeding the same bytes in odd-sized chunks, through both update overloads, changes nothing.
  @Test func oddSizedChunks() {
    let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
    let chunkSizes = [1, 3, 7, 63, 64, 65, 127, 1000, 4099]
    let hasher = SHA256()
    var offset = 0
    var turn = 0
    bytes.withUnsafeBytes { raw in
      while offset < bytes.count {
        let count = min(chunkSizes[turn % chunkSizes.count], bytes.count - offset)
        if turn % 2 == 0 {
          hasher.update(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count]))
        } else {
          hasher.update(bytes[offset..<offset + count])
        }
        offset += count
        turn += 1
      }
    }
    #expect(SHA256.hexDigest(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  /// Every message length around the block and padding boundaries hashes the same whole or
  /// split at every point.
  @Test func splitsAtEveryOffset() {
    let message = Array((message896 + message448).utf8)
    for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 121, 128, 168] {
      let prefix = Array(message[..<length])
      let whole = SHA256()
      whole.update(prefix)
      let expected = whole.finalize()
      for split in 0...length {
        let parts = SHA256()
        parts.update(prefix[..<split])
        parts.update(prefix[split...])
        #expect(parts.finalize() == expected, "length \(length) split \(split)")
      }
    }
  }

  /// A collection without contiguous storage is hashed through the copying path.
  @Test func nonContiguousCollection() {
    let hasher = SHA256()
    hasher.update((0..<1_000_000).lazy.map { _ in UInt8(ascii: "a") })
    #expect(SHA256.hexDigest(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  /// Empty updates are no-ops, and finalize starts the hasher over.
  @Test func emptyUpdatesAndReuse() {
    let hasher = SHA256()
    hasher.update(UnsafeRawBufferPointer(start: nil, count: 0))
    hasher.update([UInt8]())
    hasher.update(Array("abc".utf8))
    #expect(SHA256.hexDigest(hasher.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256.hexDigest(hasher.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }

  /// Hex digests are lowercase, two digits per byte.
  @Test func hexDigest() {
    #expect(SHA256.hexDigest([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    #expect(SHA256.hexDigest([]) == "")
  }
}

@Test func hmacSHA256MatchesRFC4231Case2() {
  let mac = Secrets.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
  #expect(SHA256.hexDigest(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
}

/// The prepared-key HMAC against RFC 4231's cases 1 (short key), 6 (a key longer than the
/// block, hashed first) and 7 (long key and long message), one prepared key used twice, and a
/// message that is not contiguous storage.
@Test func preparedHMACMatchesRFC4231() {
  let short = [UInt8](repeating: 0x0b, count: 20)
  let long = [UInt8](repeating: 0xaa, count: 131)
  let case6 = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
  let case7 = Array(
    ("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be "
      + "hashed before being used by the HMAC algorithm.").utf8)
  let prepared = HMACSHA256(key: short)
  for _ in 0..<2 {
    #expect(
      SHA256.hexDigest(prepared.authenticate(Array("Hi There".utf8)))
        == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    #expect(
      SHA256.hexDigest(Secrets.hmacSHA256(key: long, message: case6))
        == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    #expect(
      SHA256.hexDigest(HMACSHA256(key: long).authenticate(case7.lazy.map { $0 }))
        == "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")
  }
}

@Test func confirmationTokensAreURLSafeRandomAndHashed() {
  let first = Secrets.newConfirmationToken()
  let second = Secrets.newConfirmationToken()
  #expect(first.token != second.token)
  #expect(first.token.count == 32)  // 192 bits in base64url
  #expect(
    first.token.utf8.allSatisfy {
      $0 == 45 || $0 == 95 || ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122)
    })
  #expect(first.hash == Secrets.sha256Hex(first.token))
  #expect(Secrets.base64URL([0xfb, 0xff]) == "-_8")
}
