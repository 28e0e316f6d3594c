import Crypto
import JSON
import Logging
import Petitions
import Service

#if canImport(Glibc)
  import Glibc
#endif

/// The methods of the contract, served over a `PetitionStore`.
///
/// Runs of requests that arrive together are served together: reads and writes are executed in
/// order inside one write group, which the store commits (and fsyncs) once, and only then are
/// their responses sent. Exports run on their own between groups.
public final class PetitionService: Service {
  private let store: PetitionStore
  private let clock: Clock
  private let logger: Logger
  /// Parsed on the first `rpc.discover`, not at start-up: parsing the embedded document was 44%
  /// of a cold start's instructions (callgrind: 14.6M of 33M), paid by every process that never
  /// asks for it. The service is driven from one thread, so a lazy property is enough.
  private lazy var discoveryDocument: JSON = OpenRPCDocument.json

  /// The contract's method names, read from the OpenRPC document the first time a front asks
  /// (only for params given by position: a rare path, so start-up does not parse the document).
  private static let methodNames: Set<String> = Set(
    OpenRPCDocument.json["methods"]?.elements.compactMap { $0["name"]?.stringValue } ?? [])

  public func isKnownMethod(_ method: String) -> Bool { Self.methodNames.contains(method) }

  public init(store: PetitionStore, clock: Clock = SystemClock(), logger: Logger) {
    self.store = store
    self.clock = clock
    self.logger = logger
  }

  public func process(_ calls: [ServiceCall]) {
    var group: [(call: ServiceCall, operation: Operation)] = []
    for call in calls {
      switch route(call) {
      case .answered:
        break
      case .grouped(let operation):
        group.append((call, operation))
      case .alone(let run):
        runGroup(group)
        group.removeAll()
        run()
      }
    }
    runGroup(group)
  }

  private enum Route {
    case answered
    case grouped(Operation)
    case alone(() -> Void)
  }

  /// Params are read on the reader thread, overlapping with the store work of earlier calls.
  /// Only pure functions run here.
  public func prepare(_ call: ServiceCall) {
    call.preparation = Self.readOperation(call)
  }

  /// An import cancelled before it read a row still says what it did: nothing (the contract's
  /// -32800 for an import carries `imported`, `duplicates`, `rejected`; it had no data when the
  /// cancel came before the import started, and the stores differed by timing).
  public func cancelled(_ call: ServiceCall) -> ServiceError {
    call.method == "import" ? Importer.adding(Importer.Tally(), to: .requestCancelled) : .requestCancelled
  }

  public func paramIssues(of call: ServiceCall) -> [ParamIssue] {
    let failure: ResponseError?
    switch call.method {
    // Their params are read when they run (pure, so also here).
    case "export": failure = Exporter.read(call.params).failure
    case "import": failure = Importer.read(call.params).failure
    default: failure = (call.preparation as? Result<Operation, ResponseError>)?.failure
    }
    return failure?.paramIssues ?? []
  }

  /// An unknown method, or params that `prepare` (or the export or import reader) refused:
  /// answered at once, with what the call would get when run.
  public func answerWithoutStore(_ call: ServiceCall) -> Bool {
    let failure: ResponseError?
    switch call.method {
    case "export": failure = Exporter.read(call.params).failure
    case "import": failure = Importer.read(call.params).failure
    case "rpc.discover": return false
    default:
      guard let prepared = call.preparation as? Result<Operation, ResponseError> else {
        // Not one of the grouped methods, nor export, import or rpc.discover: unknown.
        _ = route(call)
        return true
      }
      failure = prepared.failure
    }
    guard let failure else { return false }
    call.fail(failure)
    return true
  }

  /// Everything but `export` and `rpc.discover` (a large answer) is quick: one group of small
  /// reads and writes. The front writes the answers of other calls as soon as each is done.
  public func isQuick(_ call: ServiceCall) -> Bool {
    call.method != "export" && call.method != "import" && call.method != "rpc.discover"
  }

  private static func readOperation(_ call: ServiceCall) -> Result<Operation, ResponseError>? {
    switch call.method {
    case "petition.create": return OperationReader.createPetition(call.params)
    case "petition.get": return OperationReader.petitionID(call.params) { .getPetition(id: $0) }
    case "petition.list": return OperationReader.listPetitions(call.params)
    case "petition.close": return OperationReader.petitionID(call.params) { .closePetition(id: $0) }
    case "sign": return OperationReader.sign(call.params)
    case "count": return OperationReader.count(call.params)
    case "unsubscribe": return OperationReader.unsubscribe(call.params)
    default: return TrustOperations.readOperation(method: call.method, params: call.params)
    }
  }

  private func route(_ call: ServiceCall) -> Route {
    let prepared = call.preparation as? Result<Operation, ResponseError> ?? Self.readOperation(call)
    if let prepared {
      switch prepared {
      case .success(let operation): return .grouped(operation)
      case .failure(let error):
        call.fail(error)
        return .answered
      }
    }
    switch call.method {
    case "export":
      return .alone { [self] in Exporter(store: store, clock: clock, logger: logger).run(call) }
    case "import": return .alone { [self] in Importer(store: store, clock: clock, logger: logger).run(call) }
    case "rpc.discover":
      return .alone { [self] in
        if let params = call.params, params.count > 0 {
          call.fail(.invalidParams(params.keys.map { ParamIssue(path: "/" + $0, message: "is not a known field") }))
        } else {
          call.succeed(discoveryDocument)
        }
      }
    default:
      // An MCP client started without --mcp is told how to start the server.
      let isMCP = call.method == "initialize" || call.method == "server/discover"
      let hint = ServiceError(code: .methodNotFound, message: "start petition-rpc with --mcp")
      call.fail(isMCP ? hint : .methodNotFound(call.method))
      return .answered
    }
  }

  /// Executes a run of operations; writes among them are committed together, durably, before
  /// any of the run's outcomes is reported. Calls cancelled while the group waits for a store
  /// that another process holds locked are answered at once (nothing of them written) and the
  /// rest of the group waits again.
  /// Runs consecutive `sign` operations through `signMany`, answers in order.
  private func signTogether(_ operations: [Operation]) -> [Result<Answer, ServiceError>] {
    let signings: [Signing] = operations.compactMap { operation in
      if case .sign(let signing) = operation { return signing }
      return nil
    }
    return store.signMany(signings, at: clock.now(), newToken: Self.newConfirmationToken).map { outcome in
      switch outcome {
      case .success(let outcome): return .success(.serialized(ResultEncoder.serializedSignOutcome(outcome)))
      case .failure(let error): return .failure(error.responseError)
      }
    }
  }

  private func runGroup(_ group: [(call: ServiceCall, operation: Operation)]) {
    var group = group
    var conflicts = 0
    while !group.isEmpty {
      var results: [Result<Answer, ServiceError>] = []
      results.reserveCapacity(group.count)
      let execute = { [self] in
        // The petitions the group writes into are locked first, in one order (PostgreSQL: two
        // servers' groups into a and b in opposite orders deadlocked; the database then failed
        // one of them after a second).
        if group.count > 1 {
          let petitions = Set(group.compactMap { $0.operation.petitionWritten })
          if petitions.count > 1 { try? store.lockPetitions(petitions.sorted()) }
        }
        var index = 0
        while index < group.count {
          // Consecutive signs go to the store together (one round trip on PostgreSQL).
          var end = index
          while end < group.count, case .sign = group[end].operation, !group[end].call.cancellation.isCancelled {
            end += 1
          }
          if end - index > 1 {
            results.append(contentsOf: signTogether(group[index..<end].map(\.operation)))
            index = end
            continue
          }
          let (call, operation) = group[index]
          results.append(call.cancellation.isCancelled ? .failure(self.cancelled(call)) : self.execute(operation))
          index += 1
        }
      }
      if group.contains(where: { $0.operation.isWrite }) {
        do throws(StoreError) {
          // The pipeline's other thread reads the input meanwhile and sets the flags.
          let calls = group.map(\.call)
          try store.performWriteGroup(stopIf: { calls.contains { $0.isCancelled } }, execute)
        } catch .interrupted {
          var rest: [(call: ServiceCall, operation: Operation)] = []
          for entry in group {
            if entry.call.cancellation.isCancelled {
              entry.call.complete(.failure(cancelled(entry.call)))
            } else {
              rest.append(entry)
            }
          }
          group = rest
          continue
        } catch .conflicted(let reason) where group.count > 1 {
          // Another process's transaction and this group waited for each other (PostgreSQL: a
          // deadlock; the database failed this group, nothing written). A group locks the rows
          // of every person in it for its whole length, so other servers' groups of the same
          // people meet it again: its calls run one transaction each instead, each retried on
          // its own (six servers pipelining unsubscribes and signs of the same people failed
          // hundreds of calls when whole groups were retried).
          logger.info(
            "write group conflicted with another process; running its calls one by one",
            metadata: ["calls": "\(group.count)", "reason": "\(reason)"])
          usleep(UInt32.random(in: 1_000...20_000))
          for entry in group { runGroup([entry]) }
          return
        } catch .conflicted(let reason) where conflicts < Self.conflictRetries {
          // One call conflicted: run it again after a short, random pause, so the two
          // transactions do not meet again in step.
          conflicts += 1
          logger.info(
            "write conflicted with another process; running it again", metadata: ["reason": "\(reason)"])
          usleep(UInt32.random(in: 1_000...(20_000 * UInt32(conflicts))))
          continue
        } catch {
          logger.warning(
            "write group failed; nothing of it was written",
            metadata: ["calls": "\(group.count)", "reason": "\(error)"])
          // Nothing of the group was written: its writes fail, its reads are served again on
          // their own (a store locked by another writer can still be read).
          let failure = error.responseError
          results = group.map { call, operation in
            guard !operation.isWrite, !call.cancellation.isCancelled else { return .failure(failure) }
            return self.execute(operation)
          }
        }
      } else {
        execute()
      }
      for ((call, _), result) in zip(group, results) {
        switch result {
        case .success(.json(let value)): call.complete(.success(value))
        case .success(.serialized(let bytes)): call.complete(.serialized(bytes))
        case .failure(let error): call.complete(.failure(error))
        }
      }
      return
    }
  }

  /// How many times in a row a call that conflicted with another process (on its own, after
  /// its group did) is run again before it is answered -32000.
  static let conflictRetries = 5

  static func newConfirmationToken() -> ConfirmationToken {
    let made = Secrets.newConfirmationToken()
    return ConfirmationToken(token: made.token, hash: made.hash)
  }

  /// A result as JSON, or already serialised (a sign's result, the hottest answer).
  private enum Answer {
    case json(JSON)
    case serialized([UInt8])
  }

  private func execute(_ operation: Operation) -> Result<Answer, ResponseError> {
    do {
      switch operation {
      case .createPetition(let new):
        return .success(.json(ResultEncoder.petition(try store.createPetition(new, at: clock.now()))))
      case .getPetition(let id):
        return .success(.json(ResultEncoder.petition(try store.petition(id: id))))
      case .listPetitions(let status):
        let list = JSON.array()
        for petition in try store.petitions(status: status) { list.append(ResultEncoder.petition(petition)) }
        let result = JSON.object()
        result.set("petitions", list)
        return .success(.json(result))
      case .closePetition(let id):
        return .success(.json(ResultEncoder.petition(try store.closePetition(id: id, at: clock.now()))))
      case .sign(let signing):
        return .success(
          .serialized(
            ResultEncoder.serializedSignOutcome(
              try store.sign(signing, at: clock.now(), newToken: Self.newConfirmationToken))))
      case .count(let query):
        return .success(.serialized(ResultEncoder.serializedCount(try store.count(query))))
      case .unsubscribe(let unsubscription):
        try store.unsubscribe(unsubscription, at: clock.now())
        // The same answer whether or not the store knows the person.
        return .success(.json(ResultEncoder.channels(unsubscription.channels)))
      case .confirm, .consentHistory, .invalidate, .listInvalidations, .revalidate, .erase, .anonymisePetition:
        return .success(.json(try TrustOperations.execute(operation, store: store, clock: clock)))
      }
    } catch {
      return .failure(error.responseError)
    }
  }
}

extension Result {
  fileprivate var failure: Failure? {
    guard case .failure(let error) = self else { return nil }
    return error
  }
}
