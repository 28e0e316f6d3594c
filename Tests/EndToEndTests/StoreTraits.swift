import TestSupport
import Testing

extension Trait where Self == ConditionTrait {
  /// For a test that works on the SQLite file itself (its locks, its WAL, its mode bits, a
  /// file system failing under it): skipped when the end-to-end tests run on PostgreSQL, where
  /// the PostgreSQL suites test the same promise in that store's terms (a server stopped or
  /// restarted, a connection killed, rows without the erased person).
  static var sqliteFileOnly: Self {
    .enabled(if: !StoreUnderTest.isPostgres, "works on the SQLite store's file itself")
  }
}
