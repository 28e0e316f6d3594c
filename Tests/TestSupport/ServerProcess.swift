import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The real `petition-rpc` binary, spawned over real pipes, as integration scripts and editors
/// use it. Reads have timeouts so a hanging server fails a test instead of hanging it.
public final class ServerProcess {
  public let pid: pid_t
  private var input: Int32
  private let output: Int32
  public let stderrPath: String
  private static let spawnLock = NSLock()
  private var buffer: [UInt8] = []
  private var exitStatus: Int32?

  /// Where the binary is: $PETITION_RPC_BIN, else next to the test bundle (SwiftPM builds the
  /// executable into the same folder).
  public static var binaryPath: String {
    if let path = ProcessInfo.processInfo.environment["PETITION_RPC_BIN"], !path.isEmpty { return path }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var folder = bundle.deletingLastPathComponent()
    for _ in 0..<4 {
      let candidate = folder.appendingPathComponent("petition-rpc").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      folder = folder.deletingLastPathComponent()
    }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    return executable.appendingPathComponent("petition-rpc").path
  }

  /// Starts the server with `arguments` (e.g. `["--db", path]`).
  public init(
    arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil,
    binary: String = ServerProcess.binaryPath
  ) throws {
    let arguments = StoreUnderTest.rewrite(arguments, workingDirectory: workingDirectory)
    var toChild: [Int32] = [0, 0]
    var fromChild: [Int32] = [0, 0]
    // Close-on-exec: a server spawned concurrently by another test must not inherit this one's
    // pipe ends (it would hold our stdin open, and neither server would ever see end of input).
    // posix_spawn's dup2 onto 0 and 1 clears the flag for the child's own stdin and stdout.
    // Pipes are made and flagged, and children spawned, under one lock, so no spawn can happen
    // between a pipe() and its fcntl().
    Self.spawnLock.lock()
    defer { Self.spawnLock.unlock() }
    guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw ServerProcessError.spawnFailed(errno) }
    for descriptor in toChild + fromChild { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    stderrPath = NSTemporaryDirectory() + "petition-rpc-stderr-\(UUID().uuidString)"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
    posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    for descriptor in toChild + fromChild { posix_spawn_file_actions_addclose(&actions, descriptor) }

    var variables = ProcessInfo.processInfo.environment
    variables["PETITION_RPC_DB"] = nil
    for (name, value) in environment { variables[name] = value }
    // `env -C` starts the binary in another working directory without a chdir in this process.
    let command = workingDirectory.map { ["/usr/bin/env", "-C", $0, binary] } ?? [binary]
    let argv = (command + arguments).map { strdup($0) } + [nil]
    let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    var child = pid_t()
    let result = posix_spawn(&child, command[0], &actions, nil, argv, envp)
    close(toChild[0])
    close(fromChild[1])
    guard result == 0 else {
      close(toChild[1])
      close(fromChild[0])
      throw ServerProcessError.spawnFailed(result)
    }
    pid = child
    input = toChild[1]
    output = fromChild[0]
  }

  deinit {
    if exitStatus == nil {
      kill(pid, SIGKILL)
      var status: Int32 = 0
      waitpid(pid, &status, 0)
    }
    if input >= 0 { close(input) }
    close(output)
    unlink(stderrPath)
  }

  // MARK: Writing

  public func send(_ text: String) { send(Array(text.utf8)) }

  public func send(_ bytes: [UInt8]) {
    var offset = 0
    bytes.withUnsafeBytes { raw in
      while offset < raw.count {
        let written = write(input, raw.baseAddress! + offset, raw.count - offset)
        if written <= 0 { if errno == EINTR { continue }; return }
        offset += written
      }
    }
  }

  /// Sends one request as an NDJSON line.
  public func sendLine(_ object: Any) {
    send(try! JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]) + [UInt8(ascii: "\n")])
  }

  /// Sends one request with Content-Length framing.
  public func sendFramed(_ body: String) {
    send("Content-Length: \(body.utf8.count)\r\n\r\n" + body)
  }

  /// Writes `bytes` to the server's stdin from a background thread (the write blocks while the
  /// server does not read); `wait()` on the result waits until all is written.
  public func sendInBackground(_ bytes: [UInt8], times: Int = 1) -> BackgroundWrite {
    BackgroundWrite(descriptor: input, bytes: bytes, times: times)
  }

  /// The server's resident memory now (`VmRSS`) and at its peak (`VmHWM`), in bytes.
  public var memory: (resident: Int, peak: Int)? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    func kilobytes(_ name: String) -> Int? {
      guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
      return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    guard let resident = kilobytes("VmRSS"), let peak = kilobytes("VmHWM") else { return nil }
    return (resident * 1024, peak * 1024)
  }

  public func closeInput() {
    if input >= 0 { close(input) }
    input = -1
  }

  // MARK: Reading

  /// Waits up to `timeout` seconds for more output; false at end of output or timeout.
  private func fill(deadline: Double) -> Bool {
    var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
    let remaining = Int32(max(0, (deadline - Self.now()) * 1000))
    guard poll(&descriptor, 1, remaining) > 0 else { return false }
    var chunk = [UInt8](repeating: 0, count: 65536)
    let count = read(output, &chunk, chunk.count)
    guard count > 0 else { return false }
    buffer.append(contentsOf: chunk[0..<count])
    return true
  }

  static func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }

  /// The next line of output (without its line feed), or nil on timeout or end of output.
  public func readLine(timeout: Double = 20) -> String? {
    let deadline = Self.now() + timeout
    while true {
      if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        let line = Array(buffer[..<newline])
        buffer.removeSubrange(...newline)
        return String(decoding: line, as: UTF8.self)
      }
      guard fill(deadline: deadline) else { return nil }
    }
  }

  /// The next Content-Length frame: its header block and body, or nil on timeout.
  public func readFrame(timeout: Double = 20) -> (header: String, body: String)? {
    let deadline = Self.now() + timeout
    let separator = Array("\r\n\r\n".utf8)
    while true {
      if let end = firstIndex(of: separator) {
        let header = String(decoding: buffer[..<end], as: UTF8.self)
        let lengthText = header.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }?
          .split(separator: ":")[1].trimmingCharacters(in: .whitespaces)
        if let lengthText, let length = Int(lengthText), buffer.count >= end + 4 + length {
          let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
          buffer.removeSubrange(..<(end + 4 + length))
          return (header, body)
        }
      }
      guard fill(deadline: deadline) else { return nil }
    }
  }

  private func firstIndex(of pattern: [UInt8]) -> Int? {
    guard buffer.count >= pattern.count else { return nil }
    for index in 0...(buffer.count - pattern.count) where buffer[index] == pattern[0] {
      if Array(buffer[index..<(index + pattern.count)]) == pattern { return index }
    }
    return nil
  }

  /// The next NDJSON response parsed as JSON.
  public func readJSON(timeout: Double = 20) -> Any? {
    guard let line = readLine(timeout: timeout) else { return nil }
    return try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
  }

  /// The next NDJSON response as an object.
  public func readObject(timeout: Double = 20) -> [String: Any]? {
    readJSON(timeout: timeout) as? [String: Any]
  }

  /// Reads and drops output until `count` more lines have gone by (or the timeout passes);
  /// returns how many did. `onChunk` runs after each read (e.g. to sample memory).
  public func skipLines(_ count: Int, timeout: Double = 120, onChunk: () -> Void = {}) -> Int {
    let deadline = Self.now() + timeout
    var seen = 0
    while seen < count {
      if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        // Count whole lines in what is buffered, keeping a partial last line.
        let lines = buffer.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        _ = newline
        if seen + lines <= count {
          seen += lines
          let last = buffer.lastIndex(of: UInt8(ascii: "\n"))!
          buffer.removeSubrange(...last)
          if seen == count { return seen }
        } else {
          while seen < count, let next = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            buffer.removeSubrange(...next)
            seen += 1
          }
          return seen
        }
      }
      guard fill(deadline: deadline) else { return seen }
      onChunk()
    }
    return seen
  }

  /// Everything left on stdout until the server closes it (or the timeout passes).
  public func readToEnd(timeout: Double = 30) -> [UInt8] {
    let deadline = Self.now() + timeout
    while fill(deadline: deadline) {}
    defer { buffer.removeAll() }
    return buffer
  }

  // MARK: Requests

  private var nextID = 1

  /// Sends a request and returns its response (other messages, like notifications, are skipped).
  public func call(_ method: String, _ params: [String: Any]? = nil, timeout: Double = 30) -> [String: Any]? {
    let id = nextID
    nextID += 1
    var request: [String: Any] = ["jsonrpc": "2.0", "id": id, "method": method]
    if let params { request["params"] = params }
    sendLine(request)
    let deadline = Self.now() + timeout
    while Self.now() < deadline {
      guard let message = readObject(timeout: deadline - Self.now()) else { return nil }
      if (message["id"] as? Int) == id, message["method"] == nil { return message }
    }
    return nil
  }

  /// The result of a call that must succeed.
  public func result(_ method: String, _ params: [String: Any]? = nil) -> [String: Any]? {
    call(method, params)?["result"] as? [String: Any]
  }

  // MARK: Lifecycle

  public func signal(_ number: Int32) { kill(pid, number) }

  /// Waits for the process to exit; its exit code, or -signal when killed, or nil on timeout.
  @discardableResult
  public func waitForExit(timeout: Double = 30) -> Int32? {
    if let exitStatus { return exitStatus }
    let deadline = Self.now() + timeout
    var status: Int32 = 0
    while Self.now() < deadline {
      let result = waitpid(pid, &status, WNOHANG)
      if result == pid {
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : -(status & 0x7f)
        exitStatus = code
        return code
      }
      usleep(2000)
    }
    return nil
  }

  /// Kills the process at once (SIGKILL), as a crash or power cut would.
  public func killHard() {
    kill(pid, SIGKILL)
    waitForExit()
  }

  public var standardError: String {
    (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
  }
}

/// A write to a server's stdin running on its own thread.
public final class BackgroundWrite: @unchecked Sendable {
  private let done = NSCondition()
  private var finished = false

  init(descriptor: Int32, bytes: [UInt8], times: Int) {
    let thread = Thread { [self] in
      bytes.withUnsafeBytes { raw in
        for _ in 0..<times {
          var offset = 0
          while offset < raw.count {
            let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            if written <= 0 {
              if errno == EINTR { continue }
              return
            }
            offset += written
          }
        }
      }
      done.lock()
      finished = true
      done.broadcast()
      done.unlock()
    }
    thread.start()
  }

  /// Whether the writing thread is done.
  public var isFinished: Bool {
    done.lock()
    defer { done.unlock() }
    return finished
  }

  /// Waits up to `timeout` seconds; true when everything was written.
  @discardableResult
  public func wait(timeout: Double = 60) -> Bool {
    done.lock()
    defer { done.unlock() }
    let deadline = Date(timeIntervalSinceNow: timeout)
    while !finished { if !done.wait(until: deadline) { return finished } }
    return true
  }
}

public enum ServerProcessError: Error {
  case spawnFailed(Int32)
}

/// A temporary directory removed when the value is released.
public final class TemporaryDirectory {
  public let path: String

  public init() {
    var template = Array((NSTemporaryDirectory() + "petition-rpc-test-XXXXXX").utf8CString)
    let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    path = created.map { String(cString: $0) } ?? NSTemporaryDirectory()
  }

  public func file(_ name: String) -> String { path + "/" + name }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// Runs the binary to completion with `stdin` and returns (exit code, stdout, stderr).
public func runServer(
  _ arguments: [String], stdin: String = "", environment: [String: String] = [:], workingDirectory: String? = nil
) throws -> (status: Int32?, stdout: String, stderr: String) {
  let server = try ServerProcess(arguments: arguments, environment: environment, workingDirectory: workingDirectory)
  server.send(stdin)
  server.closeInput()
  let output = server.readToEnd()
  let status = server.waitForExit()
  return (status, String(decoding: output, as: UTF8.self), server.standardError)
}
