import Crypto
import SQLite

/// The second migration: contract v2 (issue 9) and maintained count aggregates (issue 7).
/// A v1 store upgrades in place: its signatures become confirmed, its consent becomes one
/// granting event per person and channel (at the person's latest signature), and the
/// aggregates are built from its rows.
enum Version2 {
  static func migrate(_ connection: Connection) throws(SQLiteError) {
    try connection.execute(
      """
      CREATE TABLE signatures_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        petition INTEGER NOT NULL REFERENCES petitions (pk),
        person_key TEXT,
        email TEXT,
        first_name TEXT,
        last_name TEXT,
        postal_code TEXT NOT NULL,
        country TEXT NOT NULL,
        phone TEXT,
        comment TEXT,
        source TEXT,
        signed_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'pending', 'invalidated')),
        token_hash TEXT,
        pending_opt_ins INTEGER NOT NULL DEFAULT 0,
        pending_notice TEXT,
        email_ok INTEGER NOT NULL DEFAULT 0,
        phone_ok INTEGER NOT NULL DEFAULT 0,
        sms_ok INTEGER NOT NULL DEFAULT 0,
        UNIQUE (person_key, petition)
      ) STRICT;
      INSERT INTO signatures_v2 (
        id, petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
        signed_at, email_ok, phone_ok, sms_ok)
      SELECT id, petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
        signed_at, email_ok, phone_ok, sms_ok
      FROM signatures;
      DROP TABLE signatures;
      ALTER TABLE signatures_v2 RENAME TO signatures;
      CREATE INDEX signatures_by_time ON signatures (petition, signed_at);
      CREATE INDEX signatures_by_phone ON signatures (phone) WHERE phone IS NOT NULL;
      CREATE UNIQUE INDEX signatures_by_token ON signatures (token_hash) WHERE token_hash IS NOT NULL;

      ALTER TABLE petitions ADD COLUMN confirmation TEXT NOT NULL DEFAULT 'none'
        CHECK (confirmation IN ('none', 'email'));
      ALTER TABLE petitions ADD COLUMN goal_reached_at INTEGER;
      ALTER TABLE petitions ADD COLUMN anonymised_at INTEGER;
      ALTER TABLE petitions ADD COLUMN pending_count INTEGER NOT NULL DEFAULT 0 CHECK (pending_count >= 0);
      ALTER TABLE petitions ADD COLUMN invalidated_count INTEGER NOT NULL DEFAULT 0 CHECK (invalidated_count >= 0);

      CREATE TABLE tallies (
        petition INTEGER NOT NULL,
        dimension INTEGER NOT NULL,
        key ANY NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (petition, dimension, key)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE hourly_tallies (
        petition INTEGER NOT NULL,
        dimension INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        key ANY NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (petition, dimension, hour, key)
      ) STRICT, WITHOUT ROWID;
      INSERT INTO tallies
        SELECT petition, 0, (signed_at - (signed_at % 86400000 + 86400000) % 86400000) / 86400000 AS k, count(*)
        FROM signatures GROUP BY petition, k;
      INSERT INTO tallies SELECT petition, 1, postal_code, count(*) FROM signatures GROUP BY petition, postal_code;
      INSERT INTO tallies SELECT petition, 2, country, count(*) FROM signatures GROUP BY petition, country;
      INSERT INTO tallies
        SELECT petition, 3, coalesce(source, ''), count(*) FROM signatures GROUP BY petition, coalesce(source, '');
      INSERT INTO hourly_tallies
        SELECT petition, 0, (signed_at - (signed_at % 3600000 + 3600000) % 3600000) / 3600000 AS h, '', count(*)
        FROM signatures GROUP BY petition, h;
      INSERT INTO hourly_tallies
        SELECT petition, 1, (signed_at - (signed_at % 3600000 + 3600000) % 3600000) / 3600000 AS h, postal_code,
          count(*)
        FROM signatures GROUP BY petition, h, postal_code;
      INSERT INTO hourly_tallies
        SELECT petition, 2, (signed_at - (signed_at % 3600000 + 3600000) % 3600000) / 3600000 AS h, country, count(*)
        FROM signatures GROUP BY petition, h, country;
      INSERT INTO hourly_tallies
        SELECT petition, 3, (signed_at - (signed_at % 3600000 + 3600000) % 3600000) / 3600000 AS h,
          coalesce(source, '') AS k, count(*)
        FROM signatures GROUP BY petition, h, k;

      CREATE TABLE consent_events (
        id INTEGER PRIMARY KEY,
        person_key TEXT NOT NULL,
        channel TEXT NOT NULL CHECK (channel IN ('email', 'phone', 'sms')),
        granted INTEGER NOT NULL,
        at INTEGER NOT NULL,
        petition INTEGER,
        source TEXT,
        via TEXT NOT NULL CHECK (via IN ('sign', 'confirm', 'import', 'unsubscribe')),
        number TEXT,
        notice TEXT
      ) STRICT;
      CREATE INDEX consent_events_by_person ON consent_events (person_key, channel, at);
      CREATE INDEX consent_events_by_number ON consent_events (number) WHERE number IS NOT NULL;
      CREATE INDEX consent_events_by_petition ON consent_events (petition) WHERE petition IS NOT NULL;
      INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via, number)
        SELECT s.person_key, c.channel, 1, s.signed_at, s.petition, s.source, 'sign',
          CASE c.channel WHEN 'email' THEN NULL ELSE s.phone END
        FROM signatures AS s JOIN (SELECT 'email' AS channel UNION ALL SELECT 'phone' UNION ALL SELECT 'sms') AS c
        WHERE s.id = (
            SELECT s2.id FROM signatures AS s2 WHERE s2.person_key = s.person_key
            ORDER BY s2.signed_at DESC, s2.id DESC LIMIT 1)
          AND CASE c.channel WHEN 'email' THEN s.email_ok WHEN 'phone' THEN s.phone_ok ELSE s.sms_ok END = 1
        ORDER BY s.signed_at, s.id;

      CREATE TABLE suppressions (
        hash BLOB NOT NULL,
        channel TEXT NOT NULL,
        PRIMARY KEY (hash, channel)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE meta (
        name TEXT PRIMARY KEY NOT NULL,
        value ANY
      ) STRICT;

      CREATE TABLE invalidations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        petition INTEGER NOT NULL REFERENCES petitions (pk),
        reason TEXT NOT NULL,
        match TEXT NOT NULL,
        at INTEGER NOT NULL,
        invalidated INTEGER NOT NULL,
        revalidated INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX invalidations_by_petition ON invalidations (petition, id);
      CREATE TABLE invalidated_signatures (
        invalidation INTEGER NOT NULL,
        signature INTEGER NOT NULL,
        prior_status TEXT NOT NULL,
        revalidated INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (invalidation, signature)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX invalidated_signatures_by_signature ON invalidated_signatures (signature);
      """)
    // A goal reached in v1: when the goal-th signature (in signing order) came.
    let reached = try connection.prepare(
      "SELECT pk, goal FROM petitions WHERE goal IS NOT NULL AND goal > 0 AND signature_count >= goal")
    var goals: [(Int64, Int64)] = []
    while try reached.step() { goals.append((reached.int64(at: 0), reached.int64(at: 1))) }
    for (petition, goal) in goals {
      let update = try connection.prepare(
        """
        UPDATE petitions SET goal_reached_at = (
          SELECT signed_at FROM signatures WHERE petition = ?1 ORDER BY signed_at, id LIMIT 1 OFFSET ?2)
        WHERE pk = ?1
        """)
      try update.bind(petition, at: 1)
      try update.bind(goal - 1, at: 2)
      try update.execute()
    }
    // The suppression list's key: random, made with the store, never leaving it.
    let insert = try connection.prepare("INSERT INTO meta (name, value) VALUES ('suppression_key', ?1)")
    try insert.bind(blob: Secrets.randomBytes(32), at: 1)
    try insert.execute()
  }
}
