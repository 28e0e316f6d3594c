import Petitions
import PostgresStore
import StoreConformance
import Testing

/// The shared store conformance suite, against a real PostgreSQL server: each case in a schema
/// of its own.
@Suite("Store conformance on PostgreSQL", postgresAvailable)
struct PostgresConformanceTests {
  @Test(arguments: StoreConformance.cases)
  func conformance(_ check: ConformanceCase) throws {
    guard TestDatabase.isAvailable else { return }
    try check.run { try TestDatabase.store(schema: TestDatabase.freshSchema("conf")) }
  }
}
