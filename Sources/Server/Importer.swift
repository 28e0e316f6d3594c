import CSV
import JSON
import Logging
import Petitions
import Service

/// The `import` method: signs every row of a CSV file into a petition, committing in groups as
/// the rows are read, so memory stays flat however large the file.
///
/// The file is read twice: a first pass checks that it is CSV (UTF-8, quotes closed) with an
/// email column and counts its rows, so a file that is not CSV gets 1008 with nothing written
/// and progress can say how many rows there are; the second pass signs the rows. Reading is
/// cheap next to the store's work (the first pass costs a few percent of the import).
struct Importer {
  let store: PetitionStore
  let clock: Clock
  let logger: Logger

  /// Rows signed per write group (one durable commit each). Cancellation is checked between
  /// groups, and progress reported after each.
  static let groupRows = 5000
  /// Valid rows handed to the store at once (`importMany`), inside a group.
  static let batchRows = 1000
  /// Rejected rows listed in `errors` (all are counted in `rejected`).
  static let maximumListedErrors = 1000

  struct Request {
    var petitionID: String
    var path: String
    var source: String?
    var zone: ZoneInfo
  }

  /// What has been done so far: the result, or `error.data` of a cancelled import.
  struct Tally {
    var imported = 0
    var duplicates = 0
    var rejected = 0
  }

  func run(_ call: ServiceCall) {
    let request: Request
    switch Self.read(call.params) {
    case .failure(let error): return call.fail(error)
    case .success(let value): request = value
    }
    do throws(StoreError) {
      let petition = try store.petition(id: request.petitionID)
      if petition.status == .closed { throw StoreError.petitionClosed(petition.id) }
    } catch {
      return call.fail(error.responseError)
    }

    // First pass: the file is CSV with an email column; how many rows it has.
    let total: Int
    switch scan(request.path, call: call) {
    case .failure(let error): return call.fail(error)
    case .success(let rows): total = rows
    }
    call.progress(.begin(total: total))
    let outcome = importRows(request, call: call, total: total)
    call.progress(.end(done: outcome.rowsRead, total: total))
    switch outcome.ending {
    case .some(let error): call.fail(error)
    case .none:
      let result = JSON.object()
      result.set("imported", outcome.tally.imported)
      result.set("duplicates", outcome.tally.duplicates)
      result.set("rejected", outcome.tally.rejected)
      result.set("errors", outcome.errors)
      do throws(StoreError) {
        result.set("count", try store.petition(id: request.petitionID).count)
      } catch {
        return call.fail(error.responseError)
      }
      call.succeed(result)
    }
  }

  static func read(_ params: JSON?) -> Result<Request, ResponseError> {
    let reader = Params(params)
    let petition = reader.string("petition", required: true, rule: Rules.petitionID)
    let path = reader.string("path", required: true) { raw in
      raw.isEmpty || raw.utf8.contains(0) ? .failure(RuleViolation("must be a file path")) : .success(raw)
    }
    let source = reader.string("source", rule: Rules.source)
    var zone = ZoneInfo.utc
    if let name = reader.string("timeZone") {
      if let loaded = ZoneInfo.load(named: name) {
        zone = loaded
      } else {
        reader.report("timeZone", "must be an IANA time zone name of the system's database, like America/New_York")
      }
    }
    if let token = reader.raw("progressToken"), !(token.isString || token.isInteger) {
      reader.report("progressToken", "must be a string or an integer")
    }
    if let error = reader.finish() { return .failure(error) }
    return .success(Request(petitionID: petition!, path: path!, source: source, zone: zone))
  }

  // MARK: Files

  /// 1008 with the line of the problem (null when the file cannot be opened).
  static func unreadable(_ message: String, line: Int?) -> ResponseError {
    let data = JSON.object()
    data.set("line", line)
    data.set("reason", message)
    let at = line.map { " (line \($0))" } ?? ""
    return ResponseError(
      code: .importFileUnreadable, message: "Import file cannot be read: \(message)\(at)", data: data)
  }

  /// Opens the file and reads its header; the reader is then at the first row.
  private func open(_ path: String) -> Result<(CSVReader, ImportLayout), ResponseError> {
    let source: CSVFileSource
    switch CSVFileSource.open(path: path) {
    case .failure(let error): return .failure(Self.unreadable(error.message, line: nil))
    case .success(let file): source = file
    }
    let reader = CSVReader(source: source)
    do throws(CSVError) {
      guard try reader.next() else {
        return .failure(Self.unreadable("the file is empty: it needs a header line naming the columns", line: 1))
      }
    } catch {
      return .failure(Self.unreadable(error.message, line: error.line))
    }
    let layout = ImportLayout(header: reader.strings)
    guard layout.index(of: .email) != nil else {
      return .failure(
        Self.unreadable("the header has no email column (email or Email Address)", line: reader.line))
    }
    return .success((reader, layout))
  }

  /// Reads the whole file once: CSV errors come out here, before anything is written.
  private func scan(_ path: String, call: ServiceCall) -> Result<Int, ResponseError> {
    let reader: CSVReader
    switch open(path) {
    case .failure(let error): return .failure(error)
    case .success(let opened): reader = opened.0
    }
    var rows = 0
    do throws(CSVError) {
      while try reader.next() {
        rows += 1
        if rows % 65_536 == 0 && call.isCancelled { return .failure(cancelled(Tally())) }
      }
    } catch {
      return .failure(Self.unreadable(error.message, line: error.line))
    }
    return .success(rows)
  }

  private func cancelled(_ tally: Tally) -> ResponseError {
    Self.adding(tally, to: .requestCancelled)
  }

  /// An error that ends an import after groups were committed says what they did
  /// (`imported`, `duplicates`, `rejected` in `error.data`): those rows stay.
  static func adding(_ tally: Tally, to error: ResponseError) -> ResponseError {
    var error = error
    let data = error.data ?? JSON.object()
    data.set("imported", tally.imported)
    data.set("duplicates", tally.duplicates)
    data.set("rejected", tally.rejected)
    error.data = data
    return error
  }

  private struct Outcome {
    var tally: Tally
    var errors: JSON
    var rowsRead: Int
    /// The error that ended the import early, if one did.
    var ending: ResponseError?
  }

  /// Second pass: the rows, signed in write groups.
  private func importRows(_ request: Request, call: ServiceCall, total: Int) -> Outcome {
    let errors = JSON.array()
    var outcome = Outcome(tally: Tally(), errors: errors, rowsRead: 0, ending: nil)
    let reader: CSVReader
    let layout: ImportLayout
    switch open(request.path) {
    case .failure(let error):
      outcome.ending = error
      return outcome
    case .success(let opened): (reader, layout) = opened
    }
    let rows = ImportRowReader(
      petitionID: request.petitionID, layout: layout, defaultSource: request.source, zone: request.zone)
    var listed = 0
    var isAtEnd = false

    while !isAtEnd {
      if call.isCancelled {
        outcome.ending = cancelled(outcome.tally)
        return outcome
      }
      // What this group did, counted in only when it is committed.
      var group = Tally()
      var groupRowsRead = 0
      var groupRejections: [ImportRowError] = []
      var failure: ResponseError? = nil
      let now = clock.now()
      do throws(StoreError) {
        try store.performWriteGroup(stopIf: { call.isCancelled }) {
          // Valid rows go to the store a batch at a time (one call on PostgreSQL); what was
          // read before the file turned unreadable is still imported.
          var batch: [ImportedSigning] = []
          batch.reserveCapacity(Self.batchRows)
          func importBatch() -> Bool {
            defer { batch.removeAll(keepingCapacity: true) }
            for result in store.importMany(batch, at: now) {
              switch result {
              case .success(.imported): group.imported += 1
              case .success(.duplicate): group.duplicates += 1
              case .failure(let error):
                failure = error.responseError
                return false
              }
            }
            return true
          }
          while groupRowsRead < Self.groupRows {
            do throws(CSVError) {
              guard try reader.next() else {
                isAtEnd = true
                break
              }
            } catch {
              // The file changed since the first pass.
              failure = Self.unreadable(error.message, line: error.line)
              break
            }
            groupRowsRead += 1
            switch rows.row(reader, now: now) {
            case .failure(let rejection):
              group.rejected += 1
              if listed + groupRejections.count < Self.maximumListedErrors { groupRejections.append(rejection) }
            case .success(let signing):
              batch.append(signing)
              if batch.count == Self.batchRows, !importBatch() { return }
            }
          }
          if !batch.isEmpty, !importBatch() { return }
        }
      } catch .interrupted {
        outcome.ending = cancelled(outcome.tally)
        return outcome
      } catch {
        outcome.ending = Self.adding(outcome.tally, to: error.responseError)
        return outcome
      }
      outcome.tally.imported += group.imported
      outcome.tally.duplicates += group.duplicates
      outcome.tally.rejected += group.rejected
      outcome.rowsRead += groupRowsRead
      for rejection in groupRejections {
        errors.append(Self.encode(rejection))
        listed += 1
      }
      if let failure {
        outcome.ending = Self.adding(outcome.tally, to: failure)
        return outcome
      }
      // Progress only grows (a last group that found the end of the file read nothing).
      if groupRowsRead > 0 { call.progress(.report(done: outcome.rowsRead, total: total)) }
    }
    return outcome
  }

  private static func encode(_ rejection: ImportRowError) -> JSON {
    let issues = JSON.array()
    for issue in rejection.issues {
      let entry = JSON.object()
      entry.set("path", issue.path)
      entry.set("message", issue.message)
      issues.append(entry)
    }
    let entry = JSON.object()
    entry.set("line", rejection.line)
    entry.set("errors", issues)
    return entry
  }
}
