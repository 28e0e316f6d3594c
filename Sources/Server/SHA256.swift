/// SHA-256 (FIPS 180-4), streaming: feed any number of `update` calls, then `finalize`.
///
/// Written against the standard library only so the server needs no crypto dependency for the
/// one digest the contract asks for (`export` reports the sha256 of the written file). Export
/// files run to hundreds of megabytes, so whole 64-byte blocks are compressed straight from the
/// caller's memory and only a partial block is ever copied; the value itself holds no heap
/// storage.
public struct SHA256: Sendable {
  private typealias State = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
  private typealias Block = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

  private static let initialState: State = (
    0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
  )

  private static let roundConstants: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
  ]

  private var state: State = SHA256.initialState
  /// The bytes of an incomplete block carried over between `update` calls.
  private var pending: Block = (0, 0, 0, 0, 0, 0, 0, 0)
  private var pendingCount = 0
  private var totalByteCount: UInt64 = 0

  public init() {}

  /// Hashes `bytes` after everything fed before.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard var input = bytes.baseAddress, !bytes.isEmpty else { return }
    var remaining = bytes.count
    totalByteCount &+= UInt64(remaining)

    if pendingCount > 0 {
      let taken = min(64 - pendingCount, remaining)
      let offset = pendingCount
      withUnsafeMutableBytes(of: &pending) {
        $0.baseAddress!.advanced(by: offset).copyMemory(from: input, byteCount: taken)
      }
      pendingCount += taken
      input += taken
      remaining -= taken
      guard pendingCount == 64 else { return }
      // A copy, so that compressing (which mutates `state`) does not overlap an access to `pending`.
      var block = pending
      withUnsafeBytes(of: &block) { compress($0.baseAddress!, blockCount: 1) }
      pendingCount = 0
    }

    let wholeBlocks = remaining / 64
    if wholeBlocks > 0 {
      compress(input, blockCount: wholeBlocks)
      input += wholeBlocks * 64
      remaining -= wholeBlocks * 64
    }
    if remaining > 0 {
      let count = remaining
      withUnsafeMutableBytes(of: &pending) { $0.baseAddress!.copyMemory(from: input, byteCount: count) }
      pendingCount = count
    }
  }

  /// Hashes `bytes` after everything fed before. Contiguous collections (arrays, slices, UTF-8 of
  /// native strings) are hashed in place; others are copied through a small stack buffer.
  public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
    let wasContiguous: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
    if wasContiguous != nil { return }
    let chunkSize = 4096
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunkSize) { chunk in
      var count = 0
      for byte in bytes {
        chunk[count] = byte
        count += 1
        if count == chunkSize {
          update(UnsafeRawBufferPointer(chunk))
          count = 0
        }
      }
      update(UnsafeRawBufferPointer(start: chunk.baseAddress, count: count))
    }
  }

  /// The 32-byte digest of everything fed so far. The hasher starts over afterwards, so it can be
  /// reused for a new message.
  public mutating func finalize() -> [UInt8] {
    let bitLength = totalByteCount &* 8
    // 0x80, zeros up to 56 mod 64, then the message length in bits as a big-endian UInt64.
    let paddingCount = (pendingCount < 56 ? 56 : 120) - pendingCount
    var tail = [UInt8](repeating: 0, count: paddingCount + 8)
    tail[0] = 0x80
    for index in 0..<8 {
      tail[paddingCount + index] = UInt8(truncatingIfNeeded: bitLength >> (56 - 8 * index))
    }
    update(tail)

    var digest = [UInt8]()
    digest.reserveCapacity(32)
    for word in [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7] {
      digest.append(UInt8(truncatingIfNeeded: word >> 24))
      digest.append(UInt8(truncatingIfNeeded: word >> 16))
      digest.append(UInt8(truncatingIfNeeded: word >> 8))
      digest.append(UInt8(truncatingIfNeeded: word))
    }
    self = SHA256()
    return digest
  }

  /// `bytes` as lowercase hexadecimal, two digits per byte.
  public static func hexDigest(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text = [UInt8]()
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
  }

  /// Runs the compression function over `blockCount` consecutive 64-byte blocks at `data`.
  private mutating func compress(_ data: UnsafeRawPointer, blockCount: Int) {
    SHA256.roundConstants.withUnsafeBufferPointer { constants in
      withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { schedule in
        compressBlocks(&state, data, blockCount, constants.baseAddress!, schedule.baseAddress!)
      }
    }
  }
}

/// The compression loop, a free function over plain pointers so that the working variables live in
/// registers (captured by closures they would be kept in memory).
@inline(never)
private func compressBlocks(
  _ state: inout (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32),
  _ data: UnsafeRawPointer, _ blockCount: Int, _ k: UnsafePointer<UInt32>, _ w: UnsafeMutablePointer<UInt32>
) {
  var (h0, h1, h2, h3, h4, h5, h6, h7) = state
  for blockIndex in 0..<blockCount {
    let block = data + blockIndex * 64
    for t in 0..<16 {
      w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self))
    }
    for t in 16..<64 {
      let w15 = w[t - 15]
      let w2 = w[t - 2]
      let s0 = rotateRight(w15, 7) ^ rotateRight(w15, 18) ^ (w15 &>> 3)
      let s1 = rotateRight(w2, 17) ^ rotateRight(w2, 19) ^ (w2 &>> 10)
      w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
    }

    var (a, b, c, d, e, f, g, h) = (h0, h1, h2, h3, h4, h5, h6, h7)
    // Eight rounds per pass with the roles of the working variables rotated in the arguments,
    // instead of shuffling eight values every round.
    var t = 0
    while t < 64 {
      round(a, b, c, &d, e, f, g, &h, k[t] &+ w[t])
      round(h, a, b, &c, d, e, f, &g, k[t + 1] &+ w[t + 1])
      round(g, h, a, &b, c, d, e, &f, k[t + 2] &+ w[t + 2])
      round(f, g, h, &a, b, c, d, &e, k[t + 3] &+ w[t + 3])
      round(e, f, g, &h, a, b, c, &d, k[t + 4] &+ w[t + 4])
      round(d, e, f, &g, h, a, b, &c, k[t + 5] &+ w[t + 5])
      round(c, d, e, &f, g, h, a, &b, k[t + 6] &+ w[t + 6])
      round(b, c, d, &e, f, g, h, &a, k[t + 7] &+ w[t + 7])
      t += 8
    }
    h0 &+= a
    h1 &+= b
    h2 &+= c
    h3 &+= d
    h4 &+= e
    h5 &+= f
    h6 &+= g
    h7 &+= h
  }
  state = (h0, h1, h2, h3, h4, h5, h6, h7)
}

/// One SHA-256 round. With the working variables named as in FIPS 180-4, a round computes the
/// new `a` and `e`; here they are written over `h` and `d`, whose old values are no longer needed,
/// and the caller renames the variables for the next round.
@inline(__always)
private func round(
  _ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
  _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ constantPlusWord: UInt32
) {
  let sigma1 = rotateRight(e, 6) ^ rotateRight(e, 11) ^ rotateRight(e, 25)
  // Ch and Maj in their equivalent forms with one operation fewer each.
  let choice = g ^ (e & (f ^ g))
  let temp1 = h &+ sigma1 &+ choice &+ constantPlusWord
  let sigma0 = rotateRight(a, 2) ^ rotateRight(a, 13) ^ rotateRight(a, 22)
  let majority = (a & b) | (c & (a | b))
  d &+= temp1
  h = temp1 &+ sigma0 &+ majority
}

@inline(__always)
private func rotateRight(_ value: UInt32, _ count: UInt32) -> UInt32 {
  (value &>> count) | (value &<< (32 &- count))
}
