// libFuzzer target: FrameDecoder (NDJSON and Content-Length framing), fed in chunks.
import JSONRPC

/// Decodes `bytes` fed in chunks of the given sizes; every event, then those of finish().
private func decode(_ bytes: UnsafeRawBufferPointer, chunks: [Int], limit: Int) -> [FrameEvent] {
  var decoder = FrameDecoder(maxMessageBytes: limit)
  var events: [FrameEvent] = []
  var offset = 0
  var chunk = 0
  while offset < bytes.count {
    let size = min(bytes.count - offset, max(1, chunks.isEmpty ? bytes.count : chunks[chunk % chunks.count]))
    chunk += 1
    decoder.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)]))
    offset += size
    // Each call must make progress: more events than input bytes (plus slack) is a hang.
    var steps = 0
    while let event = decoder.next() {
      events.append(event)
      steps += 1
      precondition(steps <= bytes.count + 2, "FrameDecoder.next() does not make progress")
    }
    // Memory stays bounded by the message limit plus what one read brought.
    precondition(decoder.bufferedCount <= limit + FrameDecoder.maxHeaderBytes + size + 64, "buffer grows unbounded")
  }
  var steps = 0
  while let event = decoder.finish() {
    events.append(event)
    steps += 1
    precondition(steps <= bytes.count + 2, "FrameDecoder.finish() does not make progress")
  }
  return events
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  guard count >= 2 else { return 0 }
  let input = UnsafeRawBufferPointer(start: data, count: count)
  // First byte: the message limit; second: the chunk pattern seed.
  let limit = 64 + Int(input[0]) * 4
  let seed = Int(input[1])
  let bytes = UnsafeRawBufferPointer(rebasing: input[2...])
  let whole = decode(bytes, chunks: [], limit: limit)
  for event in whole {
    if case .message(let body, _, _) = event {
      precondition(body.count <= limit, "a message over the limit was delivered")
    }
  }
  // Chunked delivery (as pipes deliver) must find the same messages and errors.
  let chunked = decode(bytes, chunks: [1 + seed % 7, 1 + seed % 3, 1 + seed], limit: limit)
  precondition(whole == chunked, "chunked decoding differs from whole decoding")
  return 0
}
