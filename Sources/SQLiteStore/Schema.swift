import SQLite

/// The store's schema, as an append-only list of migrations.
///
/// - `petitions.pk` is an integer key so that signatures and their indexes refer to a petition
///   with a small integer rather than repeating its text id.
/// - `petitions.signature_count` is kept exact by every sign, inside its write transaction, so
///   the total of `count` is one row read.
/// - `signatures.id` is the row id (an alias of rowid); the public signature id is derived from
///   it. `(petition, signed_at)` indexes also carry the rowid, so export order and keyset
///   pagination are index walks.
/// - Consent belongs to the person (canonical email), per channel, and its current state is
///   kept on every one of their signatures (`email_ok`, `phone_ok`, `sms_ok`), all updated
///   together through the `(person_key, petition)` index. Keeping it on the signature makes a
///   contacts export one index walk, with no lookup per row (measured: a join to a separate
///   people table doubled the export's query time). Since version 2 that state is the newest
///   remaining event of `consent_events`, recomputed whenever an event is added or deleted. An
///   unsubscribe for someone the store does not know stores nothing about them but the keyed
///   hash of the suppression list.
///
/// Version 2 (contract v2, issue 9) adds:
/// - `signatures.status` (`confirmed`, `pending`, `invalidated`); `person_key`, `email` and the
///   names nullable, NULL once erased, so an erased signature no longer blocks its person
///   (UNIQUE allows many NULLs); `token_hash`, the SHA-256 of the pending signature's token (the
///   token itself is never stored); `pending_opt_ins` and `pending_notice`, the opt-ins a
///   pending signature will record when confirmed. The table is rebuilt (SQLite cannot drop a
///   NOT NULL) with AUTOINCREMENT, since anonymisation deletes pending signatures and a row id,
///   hence a signature id, must never be given out twice. Since the fifth migration the table
///   is without AUTOINCREMENT and `meta.signature_id_floor` keeps that promise (see
///   `SignatureIDFloor`).
/// - Counters on the petition (`signature_count` confirmed, `pending_count`,
///   `invalidated_count`), `confirmation`, `goal_reached_at`, `anonymised_at`.
/// - Maintained aggregates of confirmed signatures, kept exact in every write transaction (see
///   `Tallies`): `tallies` per (petition, dimension, key) and `hourly_tallies` per (petition,
///   dimension, hour, key), so a count or a grouping reads aggregates, never the petition's rows.
/// - `consent_events`, the history of consent; the cached consent on the signatures stays (it
///   is the newest remaining event per person and channel, recomputed when events go). Found
///   by person (and by phone number for erasure); since the fourth migration not by petition.
/// - `suppressions`: keyed hashes (HMAC-SHA-256 under `meta.suppression_key`) of canonical
///   emails and phones, per channel.
/// - `invalidations` and `invalidated_signatures` (each signature with its prior status).
enum Schema {
  static let migrator: Migrator = {
    var migrator = Migrator()
    migrator.registerMigration(
      "v1-petitions-signatures",
      sql: """
        CREATE TABLE petitions (
          pk INTEGER PRIMARY KEY,
          id TEXT NOT NULL UNIQUE,
          title TEXT NOT NULL,
          target TEXT NOT NULL,
          body TEXT NOT NULL,
          goal INTEGER,
          status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
          created_at INTEGER NOT NULL,
          closed_at INTEGER,
          signature_count INTEGER NOT NULL DEFAULT 0 CHECK (signature_count >= 0)
        ) STRICT;
        CREATE INDEX petitions_by_creation ON petitions (created_at, id);

        CREATE TABLE signatures (
          id INTEGER PRIMARY KEY,
          petition INTEGER NOT NULL REFERENCES petitions (pk),
          person_key TEXT NOT NULL,
          email TEXT NOT NULL,
          first_name TEXT NOT NULL,
          last_name TEXT NOT NULL,
          postal_code TEXT NOT NULL,
          country TEXT NOT NULL,
          phone TEXT,
          comment TEXT,
          source TEXT,
          signed_at INTEGER NOT NULL,
          email_ok INTEGER NOT NULL DEFAULT 0,
          phone_ok INTEGER NOT NULL DEFAULT 0,
          sms_ok INTEGER NOT NULL DEFAULT 0,
          UNIQUE (person_key, petition)
        ) STRICT;
        CREATE INDEX signatures_by_time ON signatures (petition, signed_at);
        CREATE INDEX signatures_by_phone ON signatures (phone) WHERE phone IS NOT NULL;
        """)
    migrator.registerMigration("v2-trust", Version2.migrate)
    migrator.registerMigration("v2-checks-without-lookup-tables", CheckConstraints.migrate)
    // One index fewer to write for every sign that records consent (a page of the ~14 a
    // one-at-a-time sign writes to the WAL): anonymisation, its only reader, finds a petition's
    // consent events through the petition's signers instead (see `anonymisePetition`).
    migrator.registerMigration(
      "v2-consent-events-without-petition-index", sql: "DROP INDEX IF EXISTS consent_events_by_petition")
    migrator.registerMigration("v2-signatures-without-autoincrement", SignatureIDFloor.migrate)
    // Every signature so far is in the aggregates; newer ones start the tail (see TallyTail).
    migrator.registerMigration(
      "v2-tally-tail",
      sql: """
        INSERT INTO meta (name, value) SELECT 'tally_watermark', coalesce(max(id), 0) FROM signatures WHERE true
        ON CONFLICT (name) DO UPDATE SET value = excluded.value
        """)
    return migrator
  }()
}
