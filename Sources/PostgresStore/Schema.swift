/// The PostgreSQL schema, as an append-only list of migrations applied in one transaction under
/// an advisory lock (several processes starting at once migrate once).
///
/// - `signatures (petition, person_key)` is unique: one signature per person per petition is a
///   constraint, not a read-then-write race. Erasing or anonymising sets `person_key` to null,
///   so an erased signature no longer blocks signing again.
/// - Counts are kept exact inside every write's transaction in `counters` (per status) and
///   `group_counts` (confirmed, per day, postal code, country and source): new signatures are
///   tallied by the store in memory for the length of a write group and added in one statement
///   before its COMMIT (updating one counter row once per sign would leave a chain of row
///   versions the group's later signs walk); status changes and deletions are tallied by
///   triggers. Counter rows are sharded by `slot`: each connection claims a slot of its own with
///   a session advisory lock (`petition_rpc.slot`), so concurrent writers never queue on one hot
///   counter row; reads sum the slots. Write groups that sign into the same petition take
///   turns (a transaction advisory lock per petition), as SQLite's writers do: signing the same
///   people in different orders in parallel would deadlock on the unique index.
/// - Consent is a history of events; a person's consent now is their newest event per channel.
/// - Suppression entries are HMAC-SHA-256 (hex) under the secret in `store_secret`.
enum Schema {
  static let migrations: [(version: Int, sql: String)] = {
    let locking = written + [(9, lockingBeforeReadingStatus(written))]
    return locking + [(10, importEventsOncePerBatch(locking)), (11, emailSuppressedByEmailOnly)]
  }()

  /// Migration 11: a phone's suppression no longer blocks the email channel. Erasing someone
  /// suppresses their phone on every channel; an import of another person who shares the number
  /// then lost their explicit email opt-in. The email channel is now checked against the email's
  /// hash alone (the phone and sms channels against both).
  static let emailSuppressedByEmailOnly = """
    CREATE OR REPLACE FUNCTION is_suppressed(ch text, email_hash text, phone_hash text) RETURNS boolean
    LANGUAGE sql STABLE AS $$
      SELECT EXISTS (
        SELECT 1 FROM suppressions
        WHERE channel = ch AND hash IN (email_hash, CASE WHEN ch = 'email' THEN NULL ELSE phone_hash END))
    $$;
    """

  /// Migration 10: an import batch records a consent event once when two of its rows name the
  /// same event. A row without its own time records its consent at the time of the person's
  /// signature; the batch told its events apart by the row's own time (none: -1), so a
  /// duplicate row without a time and the earlier row with one, in the same batch, both
  /// recorded the same grant (the check against stored events cannot see events the same
  /// statement inserts). SQLite, row by row, recorded it once. Now the batch tells events apart
  /// by the time they are recorded at. The function is migration 9's with that one expression
  /// changed.
  static func importEventsOncePerBatch(_ migrations: [(version: Int, sql: String)]) -> String {
    let function = newestDefinition(of: "import_batch", in: migrations)
    let byOwnTime = "PARTITION BY r.person, e.channel, e.granted, coalesce(r.signed, -1), r.source,"
    let byRecordedTime = """
      PARTITION BY r.person, e.channel, e.granted,
                coalesce(r.signed, (SELECT s.signed_at FROM signatures AS s WHERE s.petition = pet.pk AND s.person_key = r.person)),
                r.source,
      """
    precondition(function.contains(byOwnTime), "migration 10: import_batch no longer partitions its events as expected")
    return function.replacing("CREATE FUNCTION", with: "CREATE OR REPLACE FUNCTION").replacing(
      byOwnTime, with: byRecordedTime)
  }

  /// Migration 9: a sign or an import takes its petition's lock before it reads whether the
  /// petition is open, and `petition.close` takes the same lock (PostgresStore.closePetition).
  /// They read the status first: a close answered between that read and the lock let signs
  /// already under way commit into the closed petition after its answer, so the count the close
  /// reported grew afterwards (an audit with 6 servers signing and a 7th closing: 1,538 more).
  /// Now a close waits for the groups signing into the petition to commit (its count includes
  /// them) and a sign that waited for the close reads `closed` (1003). The functions are the
  /// newest versions of migrations 1-8 with that one statement added before the read, so they
  /// are not written out twice.
  static func lockingBeforeReadingStatus(_ migrations: [(version: Int, sql: String)]) -> String {
    let reads = [
      (
        "sign_petition",
        "SELECT p.pk, p.status, p.confirmation INTO pet FROM petitions AS p WHERE p.id = petition_id;"
      ),
      ("import_signature", "SELECT p.pk, p.status INTO pet FROM petitions AS p WHERE p.id = petition_id;"),
      ("import_batch", "SELECT p.pk, p.status INTO pet FROM petitions AS p WHERE p.id = petition_id;"),
    ]
    let lock = "PERFORM pg_advisory_xact_lock(1886352498, p.pk::integer) FROM petitions AS p WHERE p.id = petition_id;"
    return reads.map { name, read in
      let function = newestDefinition(of: name, in: migrations)
      precondition(function.contains(read), "migration 9: \(name) no longer reads its petition as expected")
      return function.replacing("CREATE FUNCTION", with: "CREATE OR REPLACE FUNCTION")
        .replacing(read, with: lock + "\n        " + read)
    }.joined(separator: "\n\n")
  }

  /// The text of the newest `CREATE [OR REPLACE] FUNCTION name(` ... `END $$;` among `migrations`.
  static func newestDefinition(of name: String, in migrations: [(version: Int, sql: String)]) -> String {
    for migration in migrations.reversed() {
      for start in ["CREATE OR REPLACE FUNCTION \(name)(", "CREATE FUNCTION \(name)("] {
        guard let begin = migration.sql.firstRange(of: start),
          let end = migration.sql[begin.lowerBound...].firstRange(of: "END $$;")
        else { continue }
        return String(migration.sql[begin.lowerBound..<end.upperBound])
      }
    }
    preconditionFailure("no definition of \(name)")
  }

  private static let written: [(version: Int, sql: String)] = [
    (
      1,
      """
      CREATE TABLE petitions (
        pk bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        title text NOT NULL,
        target text NOT NULL,
        body text NOT NULL,
        goal bigint,
        status text NOT NULL CHECK (status IN ('open', 'closed')),
        confirmation text NOT NULL CHECK (confirmation IN ('none', 'email')),
        created_at bigint NOT NULL,
        closed_at bigint,
        goal_reached_at bigint,
        anonymised_at bigint
      );
      CREATE INDEX petitions_by_creation ON petitions (created_at, pk);

      CREATE TABLE signatures (
        id bigserial PRIMARY KEY,
        petition bigint NOT NULL REFERENCES petitions (pk),
        person_key text,
        email text,
        first_name text,
        last_name text,
        postal_code text NOT NULL,
        country text NOT NULL,
        phone text,
        comment text,
        source text,
        signed_at bigint NOT NULL,
        status text NOT NULL CHECK (status IN ('confirmed', 'pending', 'invalidated')),
        token_hash text UNIQUE,
        pending_opt_ins smallint NOT NULL DEFAULT 0,
        pending_notice text,
        UNIQUE (petition, person_key)
      );
      CREATE INDEX signatures_by_time ON signatures (petition, signed_at, id);
      CREATE INDEX signatures_by_person ON signatures (person_key) WHERE person_key IS NOT NULL;
      CREATE INDEX signatures_by_phone ON signatures (phone) WHERE phone IS NOT NULL;

      CREATE TABLE counters (
        petition bigint NOT NULL,
        slot integer NOT NULL,
        confirmed bigint NOT NULL DEFAULT 0,
        pending bigint NOT NULL DEFAULT 0,
        invalidated bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (petition, slot)
      );
      -- dimension: 0 day (key: day number since 1970-01-01), 1 postal code, 2 country, 3 source.
      CREATE TABLE group_counts (
        petition bigint NOT NULL,
        dimension smallint NOT NULL,
        key text NOT NULL,
        slot integer NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (petition, dimension, key, slot)
      );

      CREATE TABLE consent_events (
        id bigserial PRIMARY KEY,
        person_key text NOT NULL,
        channel text NOT NULL CHECK (channel IN ('email', 'phone', 'sms')),
        granted boolean NOT NULL,
        at bigint NOT NULL,
        petition text,
        source text,
        via text NOT NULL CHECK (via IN ('sign', 'confirm', 'import', 'unsubscribe')),
        number text,
        notice text
      );
      CREATE INDEX consent_by_person ON consent_events (person_key, channel, at, id);
      CREATE INDEX consent_by_petition ON consent_events (petition) WHERE petition IS NOT NULL;
      CREATE INDEX consent_by_number ON consent_events (number) WHERE number IS NOT NULL;

      -- hash: hex HMAC-SHA-256 of 'email:' || canonical email, or of 'phone:' || E.164 number.
      CREATE TABLE suppressions (hash text NOT NULL, channel text NOT NULL, PRIMARY KEY (hash, channel));
      CREATE TABLE store_secret (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        secret text NOT NULL
      );

      CREATE TABLE invalidations (
        id bigserial PRIMARY KEY,
        petition bigint NOT NULL REFERENCES petitions (pk),
        reason text NOT NULL,
        match text NOT NULL,
        invalidated integer NOT NULL,
        revalidated integer NOT NULL DEFAULT 0,
        at bigint NOT NULL
      );
      CREATE INDEX invalidations_by_petition ON invalidations (petition, id);
      CREATE TABLE invalidated_signatures (
        invalidation bigint NOT NULL REFERENCES invalidations (id),
        signature bigint NOT NULL REFERENCES signatures (id) ON DELETE CASCADE,
        prior_status text NOT NULL,
        revalidated boolean NOT NULL DEFAULT false,
        PRIMARY KEY (invalidation, signature)
      );
      CREATE INDEX invalidated_by_signature ON invalidated_signatures (signature);

      -- The slot this connection writes its counter rows in.
      CREATE FUNCTION counter_slot() RETURNS integer LANGUAGE sql STABLE AS $$
        SELECT coalesce(nullif(current_setting('petition_rpc.slot', true), ''), '0')::integer
      $$;

      CREATE FUNCTION day_number(ms bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
        SELECT (ms - ((ms % 86400000) + 86400000) % 86400000) / 86400000
      $$;

      CREATE FUNCTION count_change(
        p bigint, st text, at bigint, postal text, ctry text, src text, delta integer
      ) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        s integer := counter_slot();
      BEGIN
        INSERT INTO counters AS c (petition, slot, confirmed, pending, invalidated)
        VALUES (
          p, s, CASE WHEN st = 'confirmed' THEN delta ELSE 0 END,
          CASE WHEN st = 'pending' THEN delta ELSE 0 END, CASE WHEN st = 'invalidated' THEN delta ELSE 0 END)
        ON CONFLICT (petition, slot) DO UPDATE SET
          confirmed = c.confirmed + excluded.confirmed,
          pending = c.pending + excluded.pending,
          invalidated = c.invalidated + excluded.invalidated;
        IF st = 'confirmed' THEN
          INSERT INTO group_counts AS g (petition, dimension, key, slot, n)
          VALUES
            (p, 0, day_number(at)::text, s, delta), (p, 1, postal, s, delta), (p, 2, ctry, s, delta),
            (p, 3, coalesce(src, ''), s, delta)
          ON CONFLICT (petition, dimension, key, slot) DO UPDATE SET n = g.n + excluded.n;
        END IF;
      END $$;

      CREATE FUNCTION signatures_counted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN
          PERFORM count_change(OLD.petition, OLD.status, OLD.signed_at, OLD.postal_code, OLD.country, OLD.source, -1);
        END IF;
        IF TG_OP = 'UPDATE' OR TG_OP = 'INSERT' THEN
          PERFORM count_change(NEW.petition, NEW.status, NEW.signed_at, NEW.postal_code, NEW.country, NEW.source, 1);
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER signatures_counted_delete AFTER DELETE ON signatures
        FOR EACH ROW EXECUTE FUNCTION signatures_counted();
      CREATE TRIGGER signatures_counted_update AFTER UPDATE OF status ON signatures
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION signatures_counted();

      CREATE FUNCTION confirmed_count(p bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
        SELECT coalesce(sum(confirmed), 0)::bigint FROM counters WHERE petition = p
      $$;

      -- Sets goal_reached_at the first time the count reaches the goal; returns the count.
      -- `extra`: confirmed signatures of this transaction not yet added to the counters.
      CREATE FUNCTION note_goal(p bigint, at bigint, extra bigint DEFAULT 0) RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE
        total bigint := confirmed_count(p) + extra;
      BEGIN
        UPDATE petitions SET goal_reached_at = at
        WHERE pk = p AND goal IS NOT NULL AND goal_reached_at IS NULL AND goal <= total;
        RETURN total;
      END $$;

      -- Consent events for the channels in `bits` (1 email, 2 phone, 4 sms).
      CREATE FUNCTION record_consent(
        person text, bits integer, granted boolean, at bigint, petition_id text, src text, via text, phone text,
        notice text
      ) RETURNS void LANGUAGE sql AS $$
        INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via, number, notice)
        SELECT person, c.channel, granted, at, petition_id, src, via,
          CASE WHEN c.channel = 'email' THEN NULL ELSE phone END, notice
        FROM (VALUES (1, 'email'), (2, 'phone'), (4, 'sms')) AS c (bit, channel)
        WHERE bits & c.bit <> 0
        ORDER BY c.bit
      $$;

      -- Whether the channel is suppressed for the person's hash or the number's hash.
      CREATE FUNCTION is_suppressed(ch text, email_hash text, phone_hash text) RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT EXISTS (SELECT 1 FROM suppressions WHERE channel = ch AND hash IN (email_hash, phone_hash))
      $$;

      -- An explicit opt-in lifts the suppression of its channels (bits as in record_consent).
      CREATE FUNCTION lift_suppression(bits integer, email_hash text, phone_hash text) RETURNS void LANGUAGE sql AS $$
        DELETE FROM suppressions
        WHERE hash IN (email_hash, phone_hash) AND channel = ANY (
          ARRAY(SELECT c.channel FROM (VALUES (1, 'email'), (2, 'phone'), (4, 'sms')) AS c (bit, channel)
                WHERE bits & c.bit <> 0))
      $$;

      -- One sign, in one round trip. code: 0 new, 1 duplicate, 2 petition not found,
      -- 3 petition closed. `lift` are the suppression entries an opt-in now lifts (given only
      -- with opt-ins); `token_hash` is used for a new pending signature or a pending duplicate.
      CREATE FUNCTION sign_petition(
        petition_id text, person text, p_email text, p_first text, p_last text, p_postal text, p_country text,
        p_phone text, p_comment text, p_source text, at bigint, opt_ins integer, p_notice text, p_token_hash text,
        email_hash text, phone_hash text, extra bigint
      ) RETURNS TABLE (code integer, signature bigint, status text, total bigint, token_used boolean, petition_key bigint)
      LANGUAGE plpgsql AS $$
      DECLARE
        pet record;
        new_status text;
        new_id bigint;
        existing record;
      BEGIN
        SELECT p.pk, p.status, p.confirmation INTO pet FROM petitions AS p WHERE p.id = petition_id;
        IF NOT FOUND THEN
          RETURN QUERY SELECT 2, NULL::bigint, NULL::text, 0::bigint, false, NULL::bigint;
          RETURN;
        END IF;
        IF pet.status <> 'open' THEN
          RETURN QUERY SELECT 3, NULL::bigint, NULL::text, 0::bigint, false, pet.pk;
          RETURN;
        END IF;
        -- Signs into one petition are serialised per transaction (a write group): two groups
        -- signing the same people in different orders would otherwise wait on each other's
        -- uncommitted rows and deadlock. Re-taking a held lock costs nothing.
        PERFORM pg_advisory_xact_lock(1886352498, pet.pk::integer);
        new_status := CASE WHEN pet.confirmation = 'email' THEN 'pending' ELSE 'confirmed' END;
        INSERT INTO signatures AS s (
          petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
          signed_at, status, token_hash, pending_opt_ins, pending_notice)
        VALUES (
          pet.pk, person, p_email, p_first, p_last, p_postal, p_country, p_phone, p_comment, p_source, at,
          new_status, CASE WHEN new_status = 'pending' THEN p_token_hash END,
          CASE WHEN new_status = 'pending' THEN opt_ins ELSE 0 END,
          CASE WHEN new_status = 'pending' THEN p_notice END)
        ON CONFLICT (petition, person_key) DO NOTHING
        RETURNING s.id INTO new_id;
        IF new_id IS NOT NULL THEN
          IF new_status = 'confirmed' AND opt_ins <> 0 THEN
            PERFORM record_consent(person, opt_ins, true, at, petition_id, p_source, 'sign', p_phone, p_notice);
            PERFORM lift_suppression(opt_ins, email_hash, phone_hash);
          END IF;
          RETURN QUERY SELECT 0, new_id, new_status,
            CASE WHEN new_status = 'confirmed' THEN note_goal(pet.pk, at, extra + 1) ELSE confirmed_count(pet.pk) + extra END,
            new_status = 'pending', pet.pk;
          RETURN;
        END IF;
        SELECT s.id, s.status, s.phone, s.source INTO existing
        FROM signatures AS s WHERE s.petition = pet.pk AND s.person_key = person FOR UPDATE;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'a signature reported as existing was not found' USING ERRCODE = '40001';
        END IF;
        IF existing.status = 'pending' THEN
          UPDATE signatures SET token_hash = p_token_hash, pending_opt_ins = pending_opt_ins | opt_ins,
            pending_notice = coalesce(CASE WHEN opt_ins <> 0 THEN p_notice END, pending_notice)
          WHERE id = existing.id;
        ELSIF opt_ins <> 0 THEN
          PERFORM record_consent(person, opt_ins, true, at, petition_id, p_source, 'sign', p_phone, p_notice);
          PERFORM lift_suppression(opt_ins, email_hash, phone_hash);
        END IF;
        RETURN QUERY SELECT 1, existing.id, existing.status, confirmed_count(pet.pk) + extra, existing.status = 'pending',
          pet.pk;
      END $$;

      -- One imported row: confirmed at its own time. code: 0 imported, 1 duplicate, 2 petition
      -- not found, 3 petition closed. `grants`/`withholds` are channel bits; a grant on a
      -- suppressed channel is not recorded, nor an event already recorded (the same import run
      -- again), for a new row and a duplicate alike.
      CREATE FUNCTION import_signature(
        petition_id text, person text, p_email text, p_first text, p_last text, p_postal text, p_country text,
        p_phone text, p_comment text, p_source text, signed bigint, grants integer, withholds integer,
        email_hash text, phone_hash text, at bigint, extra bigint
      ) RETURNS TABLE (code integer, petition_key bigint) LANGUAGE plpgsql AS $$
      DECLARE
        pet record;
        new_id bigint;
        ch record;
        ev_number text;
      BEGIN
        SELECT p.pk, p.status INTO pet FROM petitions AS p WHERE p.id = petition_id;
        IF NOT FOUND THEN RETURN QUERY SELECT 2, NULL::bigint; RETURN; END IF;
        IF pet.status <> 'open' THEN RETURN QUERY SELECT 3, pet.pk; RETURN; END IF;
        PERFORM pg_advisory_xact_lock(1886352498, pet.pk::integer);
        INSERT INTO signatures AS s (
          petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
          signed_at, status)
        VALUES (
          pet.pk, person, p_email, p_first, p_last, p_postal, p_country, p_phone, p_comment, p_source, signed,
          'confirmed')
        ON CONFLICT (petition, person_key) DO NOTHING
        RETURNING s.id INTO new_id;
        FOR ch IN SELECT * FROM (VALUES (1, 'email'), (2, 'phone'), (4, 'sms')) AS c (bit, channel) ORDER BY 1 LOOP
          CONTINUE WHEN (grants | withholds) & ch.bit = 0;
          CONTINUE WHEN grants & ch.bit <> 0 AND is_suppressed(ch.channel, email_hash, phone_hash);
          ev_number := CASE WHEN ch.channel = 'email' THEN NULL ELSE p_phone END;
          CONTINUE WHEN EXISTS (
            SELECT 1 FROM consent_events AS e
            WHERE e.person_key = person AND e.channel = ch.channel AND e.at = signed
              AND e.granted = (grants & ch.bit <> 0) AND e.petition IS NOT DISTINCT FROM petition_id
              AND e.source IS NOT DISTINCT FROM p_source AND e.via = 'import'
              AND e.number IS NOT DISTINCT FROM ev_number AND e.notice IS NULL);
          PERFORM record_consent(
            person, ch.bit, grants & ch.bit <> 0, signed, petition_id, p_source, 'import', p_phone, NULL);
        END LOOP;
        IF new_id IS NULL THEN RETURN QUERY SELECT 1, pet.pk; RETURN; END IF;
        PERFORM note_goal(pet.pk, at, extra + 1);
        RETURN QUERY SELECT 0, pet.pk;
      END $$;
      """
    ),
    (
      2,
      """
      -- The signs of a write group into petitions that take signatures without confirmation,
      -- as a few set statements instead of one function call each (the per-call work, not the
      -- rows, was the cost). Rows go in in their order, so of a person signing twice in the
      -- batch the first sign is kept. Every sign with opt-ins records its consent events and
      -- lifts the suppression of those channels, for a new and a duplicate signature alike, as
      -- sign_petition does for such petitions. Answers, for the caller to match to its signs by
      -- (petition, person): kind 0, each new signature; kind 1, when some signs were not new,
      -- the signatures of every person of the batch; kind 2, each petition's confirmed count
      -- before the batch (in sign_id). No rows at all when a petition of the batch is no longer
      -- open: nothing is written and the caller signs one at a time.
      CREATE FUNCTION sign_batch(
        p_petitions bigint[], p_persons text[], p_emails text[], p_firsts text[], p_lasts text[],
        p_postals text[], p_countries text[], p_phones text[], p_comments text[], p_sources text[],
        p_at bigint, e_persons text[], e_channels text[], e_petition_ids text[], e_sources text[], e_numbers text[],
        e_notices text[], x_hashes text[], x_channels text[]
      ) RETURNS TABLE (kind integer, sign_id bigint, sign_petition bigint, sign_person text, sign_status text)
      LANGUAGE plpgsql AS $$
      DECLARE
        k bigint;
        inserted bigint;
      BEGIN
        -- In key order, so two batches never wait on each other's petitions in a cycle.
        FOR k IN SELECT DISTINCT u FROM unnest(p_petitions) AS u ORDER BY 1 LOOP
          PERFORM pg_advisory_xact_lock(1886352498, k::integer);
        END LOOP;
        IF EXISTS (
          SELECT 1 FROM petitions AS p
          WHERE p.pk = ANY (p_petitions) AND (p.status <> 'open' OR p.confirmation <> 'none'))
        THEN
          RETURN;
        END IF;
        RETURN QUERY
        SELECT 2, confirmed_count(d.u), d.u, NULL::text, NULL::text FROM (SELECT DISTINCT u FROM unnest(p_petitions) AS u) AS d;
        RETURN QUERY
        WITH added AS (
          INSERT INTO signatures AS s (
            petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
            signed_at, status)
          SELECT i.petition, i.person, i.email, i.first_name, i.last_name, i.postal_code, i.country, i.phone,
            i.comment, i.source, p_at, 'confirmed'
          FROM unnest(
            p_petitions, p_persons, p_emails, p_firsts, p_lasts, p_postals, p_countries, p_phones, p_comments,
            p_sources) WITH ORDINALITY
            AS i (petition, person, email, first_name, last_name, postal_code, country, phone, comment, source, place)
          ORDER BY i.place
          ON CONFLICT (petition, person_key) DO NOTHING
          RETURNING s.id, s.petition, s.person_key
        )
        SELECT 0, a.id, a.petition, a.person_key, 'confirmed'::text FROM added AS a;
        GET DIAGNOSTICS inserted = ROW_COUNT;
        IF inserted < cardinality(p_persons) THEN
          RETURN QUERY
          SELECT 1, s.id, s.petition, s.person_key, s.status
          FROM unnest(p_petitions, p_persons) AS i (petition, person)
          JOIN signatures AS s ON s.petition = i.petition AND s.person_key = i.person;
        END IF;
        -- The consent events of the signs with opt-ins, in their order (e_*: one per sign and
        -- channel), and the suppression entries those opt-ins lift (x_*: hash and channel).
        INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via, number, notice)
        SELECT e.person, e.channel, true, p_at, e.petition_id, e.source, 'sign', e.number, e.notice
        FROM unnest(e_persons, e_channels, e_petition_ids, e_sources, e_numbers, e_notices) WITH ORDINALITY
          AS e (person, channel, petition_id, source, number, notice, place)
        ORDER BY e.place;
        IF cardinality(x_hashes) > 0 THEN
          DELETE FROM suppressions AS x USING unnest(x_hashes, x_channels) AS u (hash, channel)
          WHERE x.hash = u.hash AND x.channel = u.channel;
        END IF;
      END $$;
      """
    ),
    (
      3,
      """
      -- Counts of confirmed signatures per hour, for windows: a window's whole hours are summed
      -- from here and only its two partial edge hours are counted from the rows, so a count
      -- with since/until costs the hours and groups asked for, never the petition's size.
      -- dimension: 0 all (key ''), 1 postal code, 2 country, 3 source (as in group_counts).
      -- Kept like group_counts: new signatures added by the store before COMMIT, status
      -- changes and deletions by count_change, in per-connection slots.
      CREATE TABLE hourly_counts (
        petition bigint NOT NULL,
        dimension smallint NOT NULL,
        hour bigint NOT NULL,
        key text NOT NULL,
        slot integer NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (petition, dimension, hour, key, slot)
      );

      CREATE FUNCTION hour_number(ms bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
        SELECT (ms - ((ms % 3600000) + 3600000) % 3600000) / 3600000
      $$;

      -- The hourly counts as the rows hold them: for the stores made before this table, and
      -- after copy-store's load (which inserts rows with the counting triggers off).
      CREATE FUNCTION hourly_counts_from_rows() RETURNS void LANGUAGE sql AS $$
        INSERT INTO hourly_counts (petition, dimension, hour, key, slot, n)
        SELECT petition, 0, hour_number(signed_at), '', 0, count(*) FROM signatures
        WHERE status = 'confirmed' GROUP BY 1, 3
        UNION ALL SELECT petition, 1, hour_number(signed_at), postal_code, 0, count(*) FROM signatures
        WHERE status = 'confirmed' GROUP BY 1, 3, 4
        UNION ALL SELECT petition, 2, hour_number(signed_at), country, 0, count(*) FROM signatures
        WHERE status = 'confirmed' GROUP BY 1, 3, 4
        UNION ALL SELECT petition, 3, hour_number(signed_at), coalesce(source, ''), 0, count(*) FROM signatures
        WHERE status = 'confirmed' GROUP BY 1, 3, 4
      $$;
      SELECT hourly_counts_from_rows();

      CREATE OR REPLACE FUNCTION count_change(
        p bigint, st text, at bigint, postal text, ctry text, src text, delta integer
      ) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        s integer := counter_slot();
        h bigint := hour_number(at);
      BEGIN
        INSERT INTO counters AS c (petition, slot, confirmed, pending, invalidated)
        VALUES (
          p, s, CASE WHEN st = 'confirmed' THEN delta ELSE 0 END,
          CASE WHEN st = 'pending' THEN delta ELSE 0 END, CASE WHEN st = 'invalidated' THEN delta ELSE 0 END)
        ON CONFLICT (petition, slot) DO UPDATE SET
          confirmed = c.confirmed + excluded.confirmed,
          pending = c.pending + excluded.pending,
          invalidated = c.invalidated + excluded.invalidated;
        IF st = 'confirmed' THEN
          INSERT INTO group_counts AS g (petition, dimension, key, slot, n)
          VALUES
            (p, 0, day_number(at)::text, s, delta), (p, 1, postal, s, delta), (p, 2, ctry, s, delta),
            (p, 3, coalesce(src, ''), s, delta)
          ON CONFLICT (petition, dimension, key, slot) DO UPDATE SET n = g.n + excluded.n;
          INSERT INTO hourly_counts AS o (petition, dimension, hour, key, slot, n)
          VALUES (p, 0, h, '', s, delta), (p, 1, h, postal, s, delta), (p, 2, h, ctry, s, delta),
            (p, 3, h, coalesce(src, ''), s, delta)
          ON CONFLICT (petition, dimension, hour, key, slot) DO UPDATE SET n = o.n + excluded.n;
        END IF;
      END $$;
      """
    ),
    (
      4,
      """
      -- The rows of an import group into one petition, as a few set statements instead of one
      -- import_signature call each (~130 us of the database's time a row, plus a round trip).
      -- Rows go in in their order (a person twice in the file: the first row is kept). Consent
      -- events (e_*: one per row and opt-in column given, by the row's 1-based place) are
      -- recorded as import_signature records them: at the row's time, a grant never on a
      -- suppressed channel, never an event already recorded (the same import run again) nor
      -- the same event twice in the batch. The goal is noted once for the batch (its rows share
      -- one time). Answers out_kind 0 with each new signature's person, or one row: 2 petition
      -- not found, 3 petition closed (nothing written).
      CREATE FUNCTION import_batch(
        petition_id text, at bigint, extra bigint,
        p_persons text[], p_emails text[], p_firsts text[], p_lasts text[], p_postals text[], p_countries text[],
        p_phones text[], p_comments text[], p_sources text[], p_signed bigint[],
        e_places bigint[], e_channels text[], e_granted boolean[], e_email_hashes text[], e_phone_hashes text[]
      ) RETURNS TABLE (out_kind integer, out_petition bigint, out_person text)
      LANGUAGE plpgsql AS $$
      DECLARE
        pet record;
        added bigint;
      BEGIN
        SELECT p.pk, p.status INTO pet FROM petitions AS p WHERE p.id = petition_id;
        IF NOT FOUND THEN RETURN QUERY SELECT 2, NULL::bigint, NULL::text; RETURN; END IF;
        IF pet.status <> 'open' THEN RETURN QUERY SELECT 3, pet.pk, NULL::text; RETURN; END IF;
        PERFORM pg_advisory_xact_lock(1886352498, pet.pk::integer);
        RETURN QUERY
        WITH added_rows AS (
          INSERT INTO signatures AS s (
            petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
            signed_at, status)
          SELECT pet.pk, r.person, r.email, r.first_name, r.last_name, r.postal_code, r.country, r.phone, r.comment,
            r.source, r.signed, 'confirmed'
          FROM unnest(
            p_persons, p_emails, p_firsts, p_lasts, p_postals, p_countries, p_phones, p_comments, p_sources, p_signed)
            WITH ORDINALITY
            AS r (person, email, first_name, last_name, postal_code, country, phone, comment, source, signed, place)
          ORDER BY r.place
          ON CONFLICT (petition, person_key) DO NOTHING
          RETURNING s.person_key
        )
        SELECT 0, pet.pk, a.person_key FROM added_rows AS a;
        GET DIAGNOSTICS added = ROW_COUNT;
        INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via, number)
        SELECT x.person, x.channel, x.granted, x.signed, petition_id, x.source, 'import', x.number
        FROM (
          SELECT r.person, e.channel, e.granted, r.signed, r.source, e.email_hash, e.phone_hash, e.n,
            CASE WHEN e.channel = 'email' THEN NULL ELSE r.phone END AS number,
            row_number() OVER (
              PARTITION BY r.person, e.channel, e.granted, r.signed, r.source,
                CASE WHEN e.channel = 'email' THEN NULL ELSE r.phone END
              ORDER BY e.n) AS copy
          FROM unnest(e_places, e_channels, e_granted, e_email_hashes, e_phone_hashes) WITH ORDINALITY
            AS e (place, channel, granted, email_hash, phone_hash, n)
          JOIN unnest(p_persons, p_sources, p_phones, p_signed) WITH ORDINALITY
            AS r (person, source, phone, signed, place) ON r.place = e.place
        ) AS x
        WHERE x.copy = 1
          AND NOT (x.granted AND EXISTS (
            SELECT 1 FROM suppressions AS u WHERE u.channel = x.channel AND u.hash IN (x.email_hash, x.phone_hash)))
          AND NOT EXISTS (
            SELECT 1 FROM consent_events AS c
            WHERE c.person_key = x.person AND c.channel = x.channel AND c.at = x.signed AND c.granted = x.granted
              AND c.petition IS NOT DISTINCT FROM petition_id AND c.source IS NOT DISTINCT FROM x.source
              AND c.via = 'import' AND c.number IS NOT DISTINCT FROM x.number AND c.notice IS NULL)
        ORDER BY x.n;
        IF added > 0 THEN PERFORM note_goal(pet.pk, at, extra + added); END IF;
      END $$;
      """
    ),
    (
      5,
      """
      -- Two fewer indexes to update for every new signature (of six): a person's signatures are
      -- found through the one-signature-per-person index with its columns turned round (person
      -- first; ON CONFLICT (petition, person_key) still finds it: the column set is the same),
      -- and the token index holds only signatures that wait for confirmation (every lookup is
      -- token_hash = value, which implies NOT NULL).
      CREATE UNIQUE INDEX IF NOT EXISTS signatures_one_per_person ON signatures (person_key, petition);
      ALTER TABLE signatures DROP CONSTRAINT IF EXISTS signatures_petition_person_key_key;
      DROP INDEX IF EXISTS signatures_by_person;
      ALTER TABLE signatures DROP CONSTRAINT IF EXISTS signatures_token_hash_key;
      CREATE UNIQUE INDEX IF NOT EXISTS signatures_by_token ON signatures (token_hash) WHERE token_hash IS NOT NULL;
      """
    ),
    (
      6,
      """
      -- One index fewer to update for every consent event a sign or an import records:
      -- anonymisation, the only reader of consent events by petition, finds them through the
      -- petition's signers and the person index (as the SQLite store does).
      DROP INDEX IF EXISTS consent_by_petition;
      """
    ),
    (
      7,
      """
      -- Imported rows without a time of their own (signed_at NULL): signed at the call's time,
      -- their consent recorded at their signature's time, the new one's or for a duplicate the
      -- existing one's, so that the same file imported again records nothing (dated "now", a
      -- re-run added an event each time, newer than any opt-out since).
      CREATE OR REPLACE FUNCTION import_signature(
        petition_id text, person text, p_email text, p_first text, p_last text, p_postal text, p_country text,
        p_phone text, p_comment text, p_source text, signed bigint, grants integer, withholds integer,
        email_hash text, phone_hash text, at bigint, extra bigint
      ) RETURNS TABLE (code integer, petition_key bigint) LANGUAGE plpgsql AS $$
      DECLARE
        pet record;
        new_id bigint;
        ch record;
        ev_number text;
        ev_at bigint;
      BEGIN
        SELECT p.pk, p.status INTO pet FROM petitions AS p WHERE p.id = petition_id;
        IF NOT FOUND THEN RETURN QUERY SELECT 2, NULL::bigint; RETURN; END IF;
        IF pet.status <> 'open' THEN RETURN QUERY SELECT 3, pet.pk; RETURN; END IF;
        PERFORM pg_advisory_xact_lock(1886352498, pet.pk::integer);
        INSERT INTO signatures AS s (
          petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
          signed_at, status)
        VALUES (
          pet.pk, person, p_email, p_first, p_last, p_postal, p_country, p_phone, p_comment, p_source,
          coalesce(signed, at), 'confirmed')
        ON CONFLICT (petition, person_key) DO NOTHING
        RETURNING s.id INTO new_id;
        ev_at := coalesce(signed, (SELECT s.signed_at FROM signatures AS s WHERE s.petition = pet.pk AND s.person_key = person));
        FOR ch IN SELECT * FROM (VALUES (1, 'email'), (2, 'phone'), (4, 'sms')) AS c (bit, channel) ORDER BY 1 LOOP
          CONTINUE WHEN (grants | withholds) & ch.bit = 0;
          CONTINUE WHEN grants & ch.bit <> 0 AND is_suppressed(ch.channel, email_hash, phone_hash);
          ev_number := CASE WHEN ch.channel = 'email' THEN NULL ELSE p_phone END;
          CONTINUE WHEN EXISTS (
            SELECT 1 FROM consent_events AS e
            WHERE e.person_key = person AND e.channel = ch.channel AND e.at = ev_at
              AND e.granted = (grants & ch.bit <> 0) AND e.petition IS NOT DISTINCT FROM petition_id
              AND e.source IS NOT DISTINCT FROM p_source AND e.via = 'import'
              AND e.number IS NOT DISTINCT FROM ev_number AND e.notice IS NULL);
          PERFORM record_consent(
            person, ch.bit, grants & ch.bit <> 0, ev_at, petition_id, p_source, 'import', p_phone, NULL);
        END LOOP;
        IF new_id IS NULL THEN RETURN QUERY SELECT 1, pet.pk; RETURN; END IF;
        PERFORM note_goal(pet.pk, at, extra + 1);
        RETURN QUERY SELECT 0, pet.pk;
      END $$;

      CREATE OR REPLACE FUNCTION import_batch(
        petition_id text, at bigint, extra bigint,
        p_persons text[], p_emails text[], p_firsts text[], p_lasts text[], p_postals text[], p_countries text[],
        p_phones text[], p_comments text[], p_sources text[], p_signed bigint[],
        e_places bigint[], e_channels text[], e_granted boolean[], e_email_hashes text[], e_phone_hashes text[]
      ) RETURNS TABLE (out_kind integer, out_petition bigint, out_person text)
      LANGUAGE plpgsql AS $$
      DECLARE
        pet record;
        added bigint;
      BEGIN
        SELECT p.pk, p.status INTO pet FROM petitions AS p WHERE p.id = petition_id;
        IF NOT FOUND THEN RETURN QUERY SELECT 2, NULL::bigint, NULL::text; RETURN; END IF;
        IF pet.status <> 'open' THEN RETURN QUERY SELECT 3, pet.pk, NULL::text; RETURN; END IF;
        PERFORM pg_advisory_xact_lock(1886352498, pet.pk::integer);
        RETURN QUERY
        WITH added_rows AS (
          INSERT INTO signatures AS s (
            petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
            signed_at, status)
          SELECT pet.pk, r.person, r.email, r.first_name, r.last_name, r.postal_code, r.country, r.phone, r.comment,
            r.source, coalesce(r.signed, at), 'confirmed'
          FROM unnest(
            p_persons, p_emails, p_firsts, p_lasts, p_postals, p_countries, p_phones, p_comments, p_sources, p_signed)
            WITH ORDINALITY
            AS r (person, email, first_name, last_name, postal_code, country, phone, comment, source, signed, place)
          ORDER BY r.place
          ON CONFLICT (petition, person_key) DO NOTHING
          RETURNING s.person_key
        )
        SELECT 0, pet.pk, a.person_key FROM added_rows AS a;
        GET DIAGNOSTICS added = ROW_COUNT;
        INSERT INTO consent_events (person_key, channel, granted, at, petition, source, via, number)
        SELECT x.person, x.channel, x.granted, x.signed, petition_id, x.source, 'import', x.number
        FROM (
          SELECT r.person, e.channel, e.granted,
            coalesce(r.signed, (SELECT s.signed_at FROM signatures AS s WHERE s.petition = pet.pk AND s.person_key = r.person))
              AS signed,
            r.source, e.email_hash, e.phone_hash, e.n,
            CASE WHEN e.channel = 'email' THEN NULL ELSE r.phone END AS number,
            row_number() OVER (
              PARTITION BY r.person, e.channel, e.granted, coalesce(r.signed, -1), r.source,
                CASE WHEN e.channel = 'email' THEN NULL ELSE r.phone END
              ORDER BY e.n) AS copy
          FROM unnest(e_places, e_channels, e_granted, e_email_hashes, e_phone_hashes) WITH ORDINALITY
            AS e (place, channel, granted, email_hash, phone_hash, n)
          JOIN unnest(p_persons, p_sources, p_phones, p_signed) WITH ORDINALITY
            AS r (person, source, phone, signed, place) ON r.place = e.place
        ) AS x
        WHERE x.copy = 1
          AND NOT (x.granted AND EXISTS (
            SELECT 1 FROM suppressions AS u WHERE u.channel = x.channel AND u.hash IN (x.email_hash, x.phone_hash)))
          AND NOT EXISTS (
            SELECT 1 FROM consent_events AS c
            WHERE c.person_key = x.person AND c.channel = x.channel AND c.at = x.signed AND c.granted = x.granted
              AND c.petition IS NOT DISTINCT FROM petition_id AND c.source IS NOT DISTINCT FROM x.source
              AND c.via = 'import' AND c.number IS NOT DISTINCT FROM x.number AND c.notice IS NULL)
        ORDER BY x.n;
        IF added > 0 THEN PERFORM note_goal(pet.pk, at, extra + added); END IF;
      END $$;
      """
    ),
    (
      8,
      """
      -- A pending signature's opt-ins each keep the consent wording (optIn.notice) shown with
      -- them: a later sign of the same person replaced the notice of every pending channel. When
      -- the channels' wordings differ, pending_notice holds them per channel:
      -- chr(1) || channel || chr(2) || notice, repeated (a notice has no control characters); a
      -- plain text is the wording of every pending channel. PendingNotices (Swift) reads and
      -- writes the same form.
      CREATE OR REPLACE FUNCTION pending_notice_for(ch text, stored text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
      DECLARE
        part text;
      BEGIN
        IF stored IS NULL OR left(stored, 1) <> chr(1) THEN RETURN stored; END IF;
        FOREACH part IN ARRAY string_to_array(substr(stored, 2), chr(1)) LOOP
          IF split_part(part, chr(2), 1) = ch THEN RETURN substr(part, length(ch) + 2); END IF;
        END LOOP;
        RETURN NULL;
      END $$;

      CREATE OR REPLACE FUNCTION merge_pending_notice(stored text, pending integer, adding integer, notice text)
      RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
      DECLARE
        names text[] := ARRAY['email', 'phone', 'sms'];
        channels text[] := ARRAY[]::text[];
        wordings text[] := ARRAY[]::text[];
        result text := '';
        i integer;
      BEGIN
        IF adding = 0 THEN RETURN stored; END IF;
        FOR i IN 1..3 LOOP
          IF (pending | adding) & (1 << (i - 1)) <> 0 THEN
            channels := channels || names[i];
            wordings := wordings || CASE WHEN adding & (1 << (i - 1)) <> 0 THEN notice
              ELSE pending_notice_for(names[i], stored) END;
          END IF;
        END LOOP;
        IF NOT EXISTS (SELECT 1 FROM unnest(wordings) AS w WHERE w IS DISTINCT FROM wordings[1]) THEN
          RETURN wordings[1];
        END IF;
        FOR i IN 1..array_length(wordings, 1) LOOP
          IF wordings[i] IS NOT NULL THEN result := result || chr(1) || channels[i] || chr(2) || wordings[i]; END IF;
        END LOOP;
        RETURN result;
      END $$;

      CREATE OR REPLACE FUNCTION sign_petition(
        petition_id text, person text, p_email text, p_first text, p_last text, p_postal text, p_country text,
        p_phone text, p_comment text, p_source text, at bigint, opt_ins integer, p_notice text, p_token_hash text,
        email_hash text, phone_hash text, extra bigint
      ) RETURNS TABLE (code integer, signature bigint, status text, total bigint, token_used boolean, petition_key bigint)
      LANGUAGE plpgsql AS $$
      DECLARE
        pet record;
        new_status text;
        new_id bigint;
        existing record;
      BEGIN
        SELECT p.pk, p.status, p.confirmation INTO pet FROM petitions AS p WHERE p.id = petition_id;
        IF NOT FOUND THEN
          RETURN QUERY SELECT 2, NULL::bigint, NULL::text, 0::bigint, false, NULL::bigint;
          RETURN;
        END IF;
        IF pet.status <> 'open' THEN
          RETURN QUERY SELECT 3, NULL::bigint, NULL::text, 0::bigint, false, pet.pk;
          RETURN;
        END IF;
        -- Signs into one petition are serialised per transaction (a write group): two groups
        -- signing the same people in different orders would otherwise wait on each other's
        -- uncommitted rows and deadlock. Re-taking a held lock costs nothing.
        PERFORM pg_advisory_xact_lock(1886352498, pet.pk::integer);
        new_status := CASE WHEN pet.confirmation = 'email' THEN 'pending' ELSE 'confirmed' END;
        INSERT INTO signatures AS s (
          petition, person_key, email, first_name, last_name, postal_code, country, phone, comment, source,
          signed_at, status, token_hash, pending_opt_ins, pending_notice)
        VALUES (
          pet.pk, person, p_email, p_first, p_last, p_postal, p_country, p_phone, p_comment, p_source, at,
          new_status, CASE WHEN new_status = 'pending' THEN p_token_hash END,
          CASE WHEN new_status = 'pending' THEN opt_ins ELSE 0 END,
          CASE WHEN new_status = 'pending' THEN p_notice END)
        ON CONFLICT (petition, person_key) DO NOTHING
        RETURNING s.id INTO new_id;
        IF new_id IS NOT NULL THEN
          IF new_status = 'confirmed' AND opt_ins <> 0 THEN
            PERFORM record_consent(person, opt_ins, true, at, petition_id, p_source, 'sign', p_phone, p_notice);
            PERFORM lift_suppression(opt_ins, email_hash, phone_hash);
          END IF;
          RETURN QUERY SELECT 0, new_id, new_status,
            CASE WHEN new_status = 'confirmed' THEN note_goal(pet.pk, at, extra + 1) ELSE confirmed_count(pet.pk) + extra END,
            new_status = 'pending', pet.pk;
          RETURN;
        END IF;
        SELECT s.id, s.status, s.phone, s.source INTO existing
        FROM signatures AS s WHERE s.petition = pet.pk AND s.person_key = person FOR UPDATE;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'a signature reported as existing was not found' USING ERRCODE = '40001';
        END IF;
        IF existing.status = 'pending' THEN
          UPDATE signatures SET token_hash = p_token_hash, pending_opt_ins = pending_opt_ins | opt_ins,
            pending_notice = merge_pending_notice(pending_notice, pending_opt_ins, opt_ins, p_notice)
          WHERE id = existing.id;
        ELSIF opt_ins <> 0 THEN
          PERFORM record_consent(person, opt_ins, true, at, petition_id, p_source, 'sign', p_phone, p_notice);
          PERFORM lift_suppression(opt_ins, email_hash, phone_hash);
        END IF;
        RETURN QUERY SELECT 1, existing.id, existing.status, confirmed_count(pet.pk) + extra, existing.status = 'pending',
          pet.pk;
      END $$;
      """
    ),
  ]
}
