import JSON

/// How far a long call (an export, an import) has come. The front turns it into its protocol's
/// notification (`$/progress`, `notifications/progress`) when the caller asked for progress.
public enum ProgressUpdate: Equatable, Sendable {
  case begin(total: Int?)
  case report(done: Int, total: Int?)
  /// Sent before the call completes.
  case end(done: Int, total: Int?)
}

/// How a call ended.
public enum ServiceOutcome {
  /// The result value.
  case success(JSON)
  /// The result already serialised as compact JSON (a fast path: the front may copy the bytes
  /// into its frame, or parse them when it needs a value).
  case serialized([UInt8])
  /// A domain or protocol error.
  case failure(ServiceError)
}

/// One call of a contract method, as a front hands it to a `Service`: a method name and params
/// in, one outcome out. It knows nothing of ids, framing or batches; those are the front's.
public protocol ServiceCall: AnyObject {
  /// The contract's method name, e.g. `"sign"` or `"petition.create"`.
  var method: String { get }
  /// The params object (in MCP: the tool's arguments); nil when none were given.
  var params: JSON? { get }
  /// Set when the caller cancels; long work checks it and stops.
  var cancellation: CancellationToken { get }
  /// What `Service.prepare` made of the call, kept for `Service.process`.
  var preparation: Any? { get set }
  /// Whether the caller asked for progress (JSON-RPC: `params.progressToken`; MCP:
  /// `_meta.progressToken`).
  var wantsProgress: Bool { get }
  /// Reports progress; ignored when `wantsProgress` is false.
  func progress(_ update: ProgressUpdate)
  /// Ends the call; called exactly once.
  func complete(_ outcome: ServiceOutcome)
}

extension ServiceCall {
  public var isCancelled: Bool { cancellation.isCancelled }
  public func succeed(_ result: JSON) { complete(.success(result)) }
  public func fail(_ error: ServiceError) { complete(.failure(error)) }
}

/// The methods of the contract behind any front.
///
/// A front calls `prepare` on each call as soon as it is read, then hands runs of calls that
/// arrived together to `process`, which completes every one of them before it returns. Calls in
/// one run may be committed together (group commit): their outcomes are reported only once they
/// are durable.
public protocol Service: AnyObject {
  /// Pure work on one call as it is read (checking params), with no access to the store; its
  /// product goes into `call.preparation`.
  func prepare(_ call: ServiceCall)
  /// Whether the call is served in well under a millisecond (no long export).
  func isQuick(_ call: ServiceCall) -> Bool
  /// Serves a run of calls, in order; completes each exactly once.
  func process(_ calls: [ServiceCall])
  /// The problems `prepare` found in a prepared call's params (none when they are valid).
  func paramIssues(of call: ServiceCall) -> [ParamIssue]
  /// Answers a prepared call now if it needs no store (its method is unknown or its params are
  /// refused), and says whether it did: the pipeline then does not queue it behind the run
  /// being served (a long import, a wait for a locked store).
  func answerWithoutStore(_ call: ServiceCall) -> Bool
  /// Whether the service has a method of this name (a front answers an unknown method -32601
  /// before it judges the params).
  func isKnownMethod(_ method: String) -> Bool
  /// The answer to a call cancelled before it ran (-32800, with whatever data the method's
  /// cancellations carry).
  func cancelled(_ call: ServiceCall) -> ServiceError
}

extension Service {
  public func prepare(_ call: ServiceCall) {}
  public func paramIssues(of call: ServiceCall) -> [ParamIssue] { [] }
  public func isQuick(_ call: ServiceCall) -> Bool { false }
  public func isKnownMethod(_ method: String) -> Bool { true }
  public func answerWithoutStore(_ call: ServiceCall) -> Bool { false }
  public func cancelled(_ call: ServiceCall) -> ServiceError { .requestCancelled }
}
