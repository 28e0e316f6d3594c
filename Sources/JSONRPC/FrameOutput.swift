#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The protocol's output stream: whole frames, written under a lock so frames never interleave,
/// each write going straight to the file descriptor (no buffering left behind).
public final class FrameOutput: @unchecked Sendable {
  private let descriptor: Int32
  private let monitor = Monitor()
  private var isBroken = false

  public init(descriptor: Int32) {
    self.descriptor = descriptor
  }

  /// Claims standard output for protocol frames: keeps a private duplicate of fd 1 for frames
  /// and points fd 1 at stderr, so a stray `print` can never corrupt the stream.
  public static func claimStandardOutput() -> FrameOutput {
    let frames = dup(STDOUT_FILENO)
    precondition(frames >= 0, "cannot duplicate stdout")
    _ = fcntl(frames, F_SETFD, FD_CLOEXEC)
    dup2(STDERR_FILENO, STDOUT_FILENO)
    return FrameOutput(descriptor: frames)
  }

  /// Writes all of `bytes`. When the reader has gone away (EPIPE), output is dropped; the
  /// server still finishes (and commits) what it read.
  public func write(_ bytes: [UInt8]) {
    monitor.withLock {
      guard !isBroken else { return }
      bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
          let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
          if written < 0 {
            if errno == EINTR || errno == EAGAIN { continue }
            isBroken = true
            return
          }
          offset += written
        }
      }
    }
  }
}
