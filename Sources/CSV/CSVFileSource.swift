#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file read with read(2), from a descriptor that it closes when it is released.
public final class CSVFileSource: CSVSource {
  private let descriptor: Int32

  /// Takes ownership of an open descriptor.
  public init(descriptor: Int32) {
    self.descriptor = descriptor
  }

  /// Opens the regular file at `path` for reading, or says why it cannot. Only regular files:
  /// a pipe or a device cannot be read twice, and may never end.
  public static func open(path: String) -> Result<CSVFileSource, CSVError> {
    let descriptor = openForReading(path)
    guard descriptor >= 0 else { return .failure(CSVError(line: 0, message: describe(errno))) }
    guard isRegularFile(descriptor) else {
      closeDescriptor(descriptor)
      return .failure(CSVError(line: 0, message: "not a regular file"))
    }
    return .success(CSVFileSource(descriptor: descriptor))
  }

  deinit { closeDescriptor(descriptor) }

  public func read(into buffer: UnsafeMutableBufferPointer<UInt8>) throws(CSVError) -> Int {
    while true {
      let count = readBytes(descriptor, buffer)
      if count >= 0 { return count }
      if errno == EINTR { continue }
      throw CSVError(line: 0, message: Self.describe(errno))
    }
  }

  static func describe(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
  }
}

// O_NONBLOCK: opening a FIFO does not wait for a writer (it is then refused as not regular).
private func openForReading(_ path: String) -> Int32 { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
private func closeDescriptor(_ descriptor: Int32) { _ = close(descriptor) }
private func readBytes(_ descriptor: Int32, _ buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
  read(descriptor, buffer.baseAddress, buffer.count)
}
private func isRegularFile(_ descriptor: Int32) -> Bool {
  var status = stat()
  return fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
}
