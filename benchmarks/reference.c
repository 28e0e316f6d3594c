/*
 * reference.c: the "limit of this machine" for petition-rpc's benchmarks.
 *
 * A deliberately minimal server speaking the subset of petition-rpc's wire protocol that the
 * benchmarks use (NDJSON framing only; JSON-RPC 2.0 requests, notifications and batches):
 *
 *   petition.create {id, title, target, body?, goal?}        -> Petition
 *   sign   {petition, signer:{email, firstName, lastName, postalCode, country?, phone?},
 *           optIn?:{email?, phone?, sms?}, source?, comment?} -> {signatureId, petition, duplicate, count}
 *   count  {petition}                                        -> {petition, total, goal}
 *   export {petition, audience:"contacts", format:"csv", path, overwrite?}
 *                                                            -> {path, count, bytes, sha256}
 *
 * It does the durable work honestly, the way a careful C programmer would:
 *   - SQLite in WAL mode with synchronous=FULL: a write is on disk before it is answered;
 *   - dedup on the canonical email (lower-cased, +tag dropped, gmail dots dropped) through a
 *     UNIQUE(petition, email_key) constraint;
 *   - a per-petition counter column updated in the same transaction as the insert, so `count`
 *     is one primary-key lookup;
 *   - group commit: all complete lines already waiting on stdin (up to 1000 requests) run in one
 *     BEGIN IMMEDIATE..COMMIT, each request inside its own SAVEPOINT, then all responses are
 *     written and flushed;
 *   - prepared statements, parsing and serialising with jansson;
 *   - streaming export: rows are stepped from an index on (petition, signed_at) into a 256 KiB
 *     buffer, CSV-quoted (RFC 4180 + formula guard), hashed with SHA-256 (OpenSSL's libcrypto,
 *     as the server uses; the sha256 in the result is real), written to a temporary file
 *     (O_EXCL, 0600), fsynced, renamed, and the directory fsynced.
 *
 * What it leaves out (so it is a lower bound, not a competitor): LSP framing, full field
 * validation (NFC, lengths, ZIP/E.164 rules), person-level consent and unsubscribe (opt-ins are
 * per signature), cancellation, progress, paging, since/until, groupBy, other formats.
 *
 * Build: cc -O2 benchmarks/reference.c -ljansson -lsqlite3 -o benchmarks/bin/reference
 * Usage: reference --db PATH
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#define MAX_GROUP 1000            /* requests per transaction */
#define MAX_MESSAGE (1 << 20)     /* bytes per line */
#define READ_AHEAD (4 << 20)      /* gather at most this many bytes before running a group */

/* ------------------------------------------------------------------------------------------ */
/* SHA-256 from OpenSSL's libcrypto (CPU SHA extensions where present), as the server uses.  */

#include <openssl/evp.h>

typedef struct {
  EVP_MD_CTX *md;
} sha256_ctx;

static void sha256_init(sha256_ctx *c) {
  c->md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
}

static void sha256_update(sha256_ctx *c, const uint8_t *p, size_t len) { EVP_DigestUpdate(c->md, p, len); }

static void sha256_hex(sha256_ctx *c, char out[65]) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(c->md, digest, &n);
  EVP_MD_CTX_free(c->md);
  c->md = NULL;
  for (unsigned int i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", digest[i]);
  out[2 * n] = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Store.                                                                                      */

static sqlite3 *db;
static sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_sp, *st_sp_release, *st_sp_rollback;
static sqlite3_stmt *st_pet_ins, *st_pet_get, *st_pet_inc, *st_sig_ins, *st_sig_find, *st_sig_optin;
static sqlite3_stmt *st_export;

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS petitions("
    " id TEXT PRIMARY KEY, title TEXT NOT NULL, target TEXT NOT NULL, body TEXT NOT NULL,"
    " goal INTEGER, status TEXT NOT NULL, created_at TEXT NOT NULL, closed_at TEXT,"
    " count INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS signatures("
    " seq INTEGER PRIMARY KEY, petition TEXT NOT NULL, email_key TEXT NOT NULL,"
    " email TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL,"
    " postal_code TEXT NOT NULL, country TEXT NOT NULL, phone TEXT,"
    " opt_email INTEGER NOT NULL, opt_phone INTEGER NOT NULL, opt_sms INTEGER NOT NULL,"
    " source TEXT, comment TEXT, signed_at TEXT NOT NULL,"
    " UNIQUE(petition, email_key));"
    "CREATE INDEX IF NOT EXISTS signatures_order ON signatures(petition, signed_at);";

static void die(const char *what) {
  fprintf(stderr, "reference: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
  exit(1);
}

static sqlite3_stmt *prep(const char *sql) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) die(sql);
  return s;
}

static int run(sqlite3_stmt *s) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void open_store(const char *path) {
  umask(077); /* the store's files (and -wal, -shm) are 0600 */
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    die("open");
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) != SQLITE_OK) die("pragma");
  if (sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) die("schema");
  st_begin = prep("BEGIN IMMEDIATE");
  st_commit = prep("COMMIT");
  st_rollback = prep("ROLLBACK");
  st_sp = prep("SAVEPOINT r");
  st_sp_release = prep("RELEASE r");
  st_sp_rollback = prep("ROLLBACK TO r");
  st_pet_ins = prep("INSERT INTO petitions(id,title,target,body,goal,status,created_at,closed_at,count)"
                    " VALUES(?1,?2,?3,?4,?5,'open',?6,NULL,0)");
  st_pet_get = prep("SELECT id,title,target,body,goal,status,created_at,closed_at,count FROM petitions WHERE id=?1");
  st_pet_inc = prep("UPDATE petitions SET count=count+1 WHERE id=?1");
  st_sig_ins = prep("INSERT INTO signatures(petition,email_key,email,first_name,last_name,postal_code,country,"
                    "phone,opt_email,opt_phone,opt_sms,source,comment,signed_at)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"
                    " ON CONFLICT(petition,email_key) DO NOTHING");
  st_sig_find = prep("SELECT seq FROM signatures WHERE petition=?1 AND email_key=?2");
  st_sig_optin = prep("UPDATE signatures SET opt_email=opt_email OR ?2, opt_phone=opt_phone OR ?3,"
                      " opt_sms=opt_sms OR ?4 WHERE seq=?1");
  st_export = prep("SELECT seq,email,first_name,last_name,postal_code,country,phone,opt_email,opt_phone,"
                   "opt_sms,source,signed_at FROM signatures"
                   " WHERE petition=?1 AND (opt_email OR opt_phone OR opt_sms)"
                   " ORDER BY signed_at, seq");
}

static void now_rfc3339(char out[32]) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Signature ids are the row's sequence number, fixed-width hex, so they sort like the rows. */
static void format_sid(sqlite3_int64 seq, char out[24]) { snprintf(out, 24, "sig_%012llx", (long long)seq); }

/* The canonical email: lower-cased, +tag dropped, gmail dots dropped. */
static void canonical_email(const char *email, char *out, size_t cap) {
  const char *at = strrchr(email, '@');
  size_t n = 0;
  const char *domain = at + 1;
  int gmail = !strcasecmp(domain, "gmail.com") || !strcasecmp(domain, "googlemail.com");
  for (const char *p = email; p < at && n + 1 < cap; p++) {
    if (*p == '+') break;
    if (gmail && *p == '.') continue;
    out[n++] = (char)tolower((unsigned char)*p);
  }
  const char *d = gmail ? "@gmail.com" : at;
  for (const char *p = d; *p && n + 1 < cap; p++) out[n++] = (char)tolower((unsigned char)*p);
  out[n] = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON-RPC.                                                                                   */

typedef struct {
  int code;
  const char *message;
  const char *path; /* for -32602 */
} failure;

static json_t *error_response(json_t *id, int code, const char *message, const char *path) {
  json_t *err = json_pack("{s:i,s:s}", "code", code, "message", message);
  if (path) {
    json_t *e = json_pack("{s:s,s:s}", "path", path, "message", message);
    json_object_set_new(err, "data", json_pack("{s:[o]}", "errors", e));
  }
  return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", err);
}

#define FAIL(c, m, p) do { f->code = (c); f->message = (m); f->path = (p); return NULL; } while (0)

static const char *get_str(json_t *obj, const char *key, int required, const char *path, failure *f) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required) { f->code = -32602; f->message = "required"; f->path = path; }
    return NULL;
  }
  if (!json_is_string(v) || json_string_length(v) == 0) {
    f->code = -32602; f->message = "must be a non-empty string"; f->path = path;
    return NULL;
  }
  return json_string_value(v);
}

static int only_keys(json_t *obj, const char *const *keys, failure *f) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    int ok = 0;
    for (const char *const *p = keys; *p; p++)
      if (!strcmp(k, *p)) { ok = 1; break; }
    if (!ok) { f->code = -32602; f->message = "unknown field"; f->path = "/"; return 0; }
  }
  return 1;
}

static json_t *petition_json(sqlite3_stmt *s) {
  json_t *p = json_object();
  json_object_set_new(p, "id", json_string((const char *)sqlite3_column_text(s, 0)));
  json_object_set_new(p, "title", json_string((const char *)sqlite3_column_text(s, 1)));
  json_object_set_new(p, "target", json_string((const char *)sqlite3_column_text(s, 2)));
  json_object_set_new(p, "body", json_string((const char *)sqlite3_column_text(s, 3)));
  json_object_set_new(p, "goal", sqlite3_column_type(s, 4) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(s, 4)));
  json_object_set_new(p, "status", json_string((const char *)sqlite3_column_text(s, 5)));
  json_object_set_new(p, "createdAt", json_string((const char *)sqlite3_column_text(s, 6)));
  json_object_set_new(p, "closedAt", sqlite3_column_type(s, 7) == SQLITE_NULL ? json_null() : json_string((const char *)sqlite3_column_text(s, 7)));
  json_object_set_new(p, "count", json_integer(sqlite3_column_int64(s, 8)));
  return p;
}

static json_t *m_create(json_t *params, failure *f) {
  static const char *const keys[] = {"id", "title", "target", "body", "goal", NULL};
  if (!only_keys(params, keys, f)) return NULL;
  const char *id = get_str(params, "id", 1, "/id", f);
  if (!id) return NULL;
  const char *title = get_str(params, "title", 1, "/title", f);
  if (!title) return NULL;
  const char *target = get_str(params, "target", 1, "/target", f);
  if (!target) return NULL;
  json_t *body = json_object_get(params, "body"), *goal = json_object_get(params, "goal");
  if (body && !json_is_string(body)) FAIL(-32602, "must be a string", "/body");
  if (goal && !json_is_null(goal) && !json_is_integer(goal)) FAIL(-32602, "must be an integer", "/goal");
  for (const char *p = id; *p; p++)
    if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || (*p == '-' && p != id))) FAIL(-32602, "invalid id", "/id");
  char now[32];
  now_rfc3339(now);
  sqlite3_bind_text(st_pet_ins, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st_pet_ins, 2, title, -1, SQLITE_STATIC);
  sqlite3_bind_text(st_pet_ins, 3, target, -1, SQLITE_STATIC);
  sqlite3_bind_text(st_pet_ins, 4, body ? json_string_value(body) : "", -1, SQLITE_STATIC);
  if (goal && json_is_integer(goal)) sqlite3_bind_int64(st_pet_ins, 5, json_integer_value(goal));
  else sqlite3_bind_null(st_pet_ins, 5);
  sqlite3_bind_text(st_pet_ins, 6, now, -1, SQLITE_STATIC);
  int rc = run(st_pet_ins);
  sqlite3_clear_bindings(st_pet_ins);
  if ((rc & 0xff) == SQLITE_CONSTRAINT) FAIL(1002, "petition already exists", NULL);
  if (rc != SQLITE_OK) FAIL(-32000, "store unavailable", NULL);
  sqlite3_bind_text(st_pet_get, 1, id, -1, SQLITE_STATIC);
  json_t *p = NULL;
  if (sqlite3_step(st_pet_get) == SQLITE_ROW) p = petition_json(st_pet_get);
  sqlite3_reset(st_pet_get);
  if (!p) FAIL(-32603, "internal error", NULL);
  return p;
}

static json_t *m_sign(json_t *params, failure *f) {
  static const char *const keys[] = {"petition", "signer", "optIn", "source", "comment", NULL};
  static const char *const signer_keys[] = {"email", "firstName", "lastName", "postalCode", "country", "phone", NULL};
  if (!only_keys(params, keys, f)) return NULL;
  const char *pid = get_str(params, "petition", 1, "/petition", f);
  if (!pid) return NULL;
  json_t *signer = json_object_get(params, "signer");
  if (!json_is_object(signer)) FAIL(-32602, "must be an object", "/signer");
  if (!only_keys(signer, signer_keys, f)) return NULL;
  const char *email = get_str(signer, "email", 1, "/signer/email", f);
  if (!email) return NULL;
  const char *first = get_str(signer, "firstName", 1, "/signer/firstName", f);
  if (!first) return NULL;
  const char *last = get_str(signer, "lastName", 1, "/signer/lastName", f);
  if (!last) return NULL;
  const char *postal = get_str(signer, "postalCode", 1, "/signer/postalCode", f);
  if (!postal) return NULL;
  f->code = 0;
  const char *country = get_str(signer, "country", 0, "/signer/country", f);
  const char *phone = get_str(signer, "phone", 0, "/signer/phone", f);
  const char *source = get_str(params, "source", 0, "/source", f);
  json_t *comment = json_object_get(params, "comment");
  if (f->code) return NULL;
  if (comment && !json_is_null(comment) && !json_is_string(comment)) FAIL(-32602, "must be a string", "/comment");
  const char *at = strrchr(email, '@');
  if (!at || at == email || !strchr(at, '.') || strlen(email) > 254) FAIL(-32602, "invalid email", "/signer/email");
  int oe = 0, op = 0, os = 0;
  json_t *opt = json_object_get(params, "optIn");
  if (opt) {
    if (!json_is_object(opt)) FAIL(-32602, "must be an object", "/optIn");
    json_t *v;
    if ((v = json_object_get(opt, "email"))) { if (!json_is_boolean(v)) FAIL(-32602, "must be a boolean", "/optIn/email"); oe = json_is_true(v); }
    if ((v = json_object_get(opt, "phone"))) { if (!json_is_boolean(v)) FAIL(-32602, "must be a boolean", "/optIn/phone"); op = json_is_true(v); }
    if ((v = json_object_get(opt, "sms"))) { if (!json_is_boolean(v)) FAIL(-32602, "must be a boolean", "/optIn/sms"); os = json_is_true(v); }
    if (op && !phone) FAIL(-32602, "requires signer.phone", "/optIn/phone");
    if (os && !phone) FAIL(-32602, "requires signer.phone", "/optIn/sms");
  }
  char key[512], ctry[3] = "US", e164[40];
  canonical_email(email, key, sizeof key);
  if (country) {
    if (strlen(country) != 2) FAIL(-32602, "invalid country", "/signer/country");
    ctry[0] = (char)toupper((unsigned char)country[0]);
    ctry[1] = (char)toupper((unsigned char)country[1]);
  }
  if (phone) { /* keep + and digits; a 10-digit US number gets +1 */
    size_t n = 0;
    char digits[32];
    for (const char *p = phone; *p && n < 31; p++)
      if (isdigit((unsigned char)*p)) digits[n++] = *p;
    digits[n] = 0;
    if (n == 10 && phone[0] != '+' && !strcmp(ctry, "US")) snprintf(e164, sizeof e164, "+1%s", digits);
    else if (n >= 8 && n <= 15) snprintf(e164, sizeof e164, "+%s", digits);
    else FAIL(-32602, "invalid phone", "/signer/phone");
  }

  /* The petition: exists and open. */
  sqlite3_bind_text(st_pet_get, 1, pid, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st_pet_get);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st_pet_get);
    if (rc == SQLITE_DONE) FAIL(1001, "petition not found", NULL);
    FAIL(-32000, "store unavailable", NULL);
  }
  int closed = !strcmp((const char *)sqlite3_column_text(st_pet_get, 5), "closed");
  sqlite3_int64 count = sqlite3_column_int64(st_pet_get, 8);
  sqlite3_reset(st_pet_get);
  if (closed) FAIL(1003, "petition is closed", NULL);

  char now[32], sid[24];
  now_rfc3339(now);
  sqlite3_stmt *s = st_sig_ins;
  sqlite3_bind_text(s, 1, pid, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, email, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, first, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, last, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, postal, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, ctry, -1, SQLITE_STATIC);
  if (phone) sqlite3_bind_text(s, 8, e164, -1, SQLITE_STATIC); else sqlite3_bind_null(s, 8);
  sqlite3_bind_int(s, 9, oe);
  sqlite3_bind_int(s, 10, op);
  sqlite3_bind_int(s, 11, os);
  if (source) sqlite3_bind_text(s, 12, source, -1, SQLITE_STATIC); else sqlite3_bind_null(s, 12);
  if (comment && json_is_string(comment)) sqlite3_bind_text(s, 13, json_string_value(comment), -1, SQLITE_STATIC);
  else sqlite3_bind_null(s, 13);
  sqlite3_bind_text(s, 14, now, -1, SQLITE_STATIC);
  rc = run(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_OK) FAIL(-32000, "store unavailable", NULL);
  int duplicate = sqlite3_changes(db) == 0;
  sqlite3_int64 seq;
  if (!duplicate) {
    seq = sqlite3_last_insert_rowid(db);
    sqlite3_bind_text(st_pet_inc, 1, pid, -1, SQLITE_STATIC);
    rc = run(st_pet_inc);
    if (rc != SQLITE_OK) FAIL(-32000, "store unavailable", NULL);
    count++;
  } else {
    sqlite3_bind_text(st_sig_find, 1, pid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st_sig_find, 2, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st_sig_find);
    seq = rc == SQLITE_ROW ? sqlite3_column_int64(st_sig_find, 0) : 0;
    sqlite3_reset(st_sig_find);
    if (rc != SQLITE_ROW) FAIL(-32000, "store unavailable", NULL);
    if (oe || op || os) {
      sqlite3_bind_int64(st_sig_optin, 1, seq);
      sqlite3_bind_int(st_sig_optin, 2, oe);
      sqlite3_bind_int(st_sig_optin, 3, op);
      sqlite3_bind_int(st_sig_optin, 4, os);
      if (run(st_sig_optin) != SQLITE_OK) FAIL(-32000, "store unavailable", NULL);
    }
  }
  format_sid(seq, sid);
  return json_pack("{s:s,s:s,s:b,s:I}", "signatureId", sid, "petition", pid, "duplicate", duplicate,
                   "count", (json_int_t)count);
}

static json_t *m_count(json_t *params, failure *f) {
  static const char *const keys[] = {"petition", NULL};
  if (!only_keys(params, keys, f)) return NULL;
  const char *pid = get_str(params, "petition", 1, "/petition", f);
  if (!pid) return NULL;
  sqlite3_bind_text(st_pet_get, 1, pid, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st_pet_get);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st_pet_get);
    if (rc == SQLITE_DONE) FAIL(1001, "petition not found", NULL);
    FAIL(-32000, "store unavailable", NULL);
  }
  json_t *goal = sqlite3_column_type(st_pet_get, 4) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st_pet_get, 4));
  json_t *r = json_pack("{s:s,s:I,s:o}", "petition", pid, "total", (json_int_t)sqlite3_column_int64(st_pet_get, 8), "goal", goal);
  sqlite3_reset(st_pet_get);
  return r;
}

/* Streaming CSV writer: a buffer that is hashed and written when full. */
typedef struct {
  int fd;
  char buf[256 * 1024];
  size_t n;
  uint64_t bytes;
  sha256_ctx sha;
  int failed;
} out_t;

static void out_flush(out_t *o) {
  size_t off = 0;
  sha256_update(&o->sha, (const uint8_t *)o->buf, o->n);
  while (off < o->n) {
    ssize_t w = write(o->fd, o->buf + off, o->n - off);
    if (w < 0) { if (errno == EINTR) continue; o->failed = 1; break; }
    off += (size_t)w;
  }
  o->bytes += o->n;
  o->n = 0;
}

static inline void out_put(out_t *o, const char *p, size_t len) {
  if (o->n + len > sizeof o->buf) out_flush(o);
  if (len > sizeof o->buf) { /* never for these rows, but stay correct */
    sha256_update(&o->sha, (const uint8_t *)p, len);
    for (size_t off = 0; off < len;) {
      ssize_t w = write(o->fd, p + off, len - off);
      if (w < 0) { if (errno == EINTR) continue; o->failed = 1; return; }
      off += (size_t)w;
    }
    o->bytes += len;
    return;
  }
  memcpy(o->buf + o->n, p, len);
  o->n += len;
}

/* One CSV cell: formula guard, then RFC 4180 quoting when needed. */
static void out_cell(out_t *o, const char *s, size_t len, int last) {
  int guard = len && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r');
  int quote = 0;
  for (size_t i = 0; i < len; i++)
    if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') { quote = 1; break; }
  if (!quote) {
    if (guard) out_put(o, "'", 1);
    out_put(o, s, len);
  } else {
    out_put(o, "\"", 1);
    if (guard) out_put(o, "'", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
      if (s[i] == '"') { out_put(o, s + start, i - start + 1); out_put(o, "\"", 1); start = i + 1; }
    out_put(o, s + start, len - start);
    out_put(o, "\"", 1);
  }
  out_put(o, last ? "\r\n" : ",", last ? 2 : 1);
}

static out_t export_out;

static json_t *m_export(json_t *params, failure *f) {
  static const char *const keys[] = {"petition", "audience", "format", "path", "overwrite", NULL};
  if (!only_keys(params, keys, f)) return NULL;
  const char *pid = get_str(params, "petition", 1, "/petition", f);
  if (!pid) return NULL;
  const char *audience = get_str(params, "audience", 1, "/audience", f);
  if (!audience) return NULL;
  const char *format = get_str(params, "format", 1, "/format", f);
  if (!format) return NULL;
  const char *path = get_str(params, "path", 1, "/path", f);
  if (!path) return NULL;
  if (strcmp(audience, "contacts")) FAIL(-32602, "only contacts in the reference", "/audience");
  if (strcmp(format, "csv")) FAIL(-32602, "only csv in the reference", "/format");
  int overwrite = json_is_true(json_object_get(params, "overwrite"));
  struct stat stt;
  if (!overwrite && lstat(path, &stt) == 0) FAIL(1004, "export path already exists", NULL);

  sqlite3_bind_text(st_pet_get, 1, pid, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st_pet_get);
  sqlite3_reset(st_pet_get);
  if (rc == SQLITE_DONE) FAIL(1001, "petition not found", NULL);
  if (rc != SQLITE_ROW) FAIL(-32000, "store unavailable", NULL);

  size_t plen = strlen(path);
  char *tmp = malloc(plen + 32);
  snprintf(tmp, plen + 32, "%s.tmp-%ld", path, (long)getpid());
  out_t *o = &export_out;
  o->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (o->fd < 0) { free(tmp); FAIL(1004, "export path cannot be written", NULL); }
  o->n = 0; o->bytes = 0; o->failed = 0;
  sha256_init(&o->sha);
  static const char header[] =
      "signatureId,email,firstName,lastName,postalCode,country,phone,optInEmail,optInPhone,optInSms,source,signedAt\r\n";
  out_put(o, header, sizeof header - 1);

  sqlite3_int64 rows = 0;
  sqlite3_stmt *s = st_export;
  sqlite3_bind_text(s, 1, pid, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    char sid[24];
    format_sid(sqlite3_column_int64(s, 0), sid);
    out_cell(o, sid, strlen(sid), 0);
    for (int c = 1; c <= 6; c++) /* email, first, last, postal, country, phone */
      out_cell(o, (const char *)sqlite3_column_text(s, c), (size_t)sqlite3_column_bytes(s, c), 0);
    for (int c = 7; c <= 9; c++) {
      int b = sqlite3_column_int(s, c);
      out_cell(o, b ? "true" : "false", b ? 4 : 5, 0);
    }
    out_cell(o, (const char *)sqlite3_column_text(s, 10), (size_t)sqlite3_column_bytes(s, 10), 0);
    out_cell(o, (const char *)sqlite3_column_text(s, 11), (size_t)sqlite3_column_bytes(s, 11), 1);
    rows++;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  out_flush(o);
  int ok = rc == SQLITE_DONE && !o->failed && fsync(o->fd) == 0;
  ok = close(o->fd) == 0 && ok;
  if (ok) ok = rename(tmp, path) == 0;
  if (ok) { /* make the rename durable */
    char *dcopy = strdup(path);
    int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    free(dcopy);
  } else {
    unlink(tmp);
  }
  free(tmp);
  if (!ok) FAIL(rc == SQLITE_DONE ? 1004 : -32000, rc == SQLITE_DONE ? "export path cannot be written" : "store unavailable", NULL);
  char hex[65];
  sha256_hex(&o->sha, hex);
  return json_pack("{s:s,s:I,s:I,s:s}", "path", path, "count", (json_int_t)rows, "bytes", (json_int_t)o->bytes, "sha256", hex);
}

/* One request object (already known to be an element of a line or a batch) -> response or NULL. */
static json_t *handle(json_t *req) {
  if (!json_is_object(req)) return error_response(NULL, -32600, "invalid request", NULL);
  json_t *id = json_object_get(req, "id");
  json_t *method = json_object_get(req, "method");
  json_t *version = json_object_get(req, "jsonrpc");
  json_t *params = json_object_get(req, "params");
  if (id && !(json_is_string(id) || json_is_number(id) || json_is_null(id)))
    return error_response(NULL, -32600, "invalid request", NULL);
  if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") || !json_is_string(method))
    return error_response(id, -32600, "invalid request", NULL);
  json_t *empty = NULL;
  if (!params || json_is_null(params) || (json_is_array(params) && json_array_size(params) == 0))
    params = empty = json_object();
  if (!json_is_object(params)) {
    json_decref(empty);
    return id ? error_response(id, -32602, "params must be an object", "") : NULL;
  }
  const char *m = json_string_value(method);
  json_t *(*fn)(json_t *, failure *) = NULL;
  int write = 0;
  if (!strcmp(m, "sign")) { fn = m_sign; write = 1; }
  else if (!strcmp(m, "count")) fn = m_count;
  else if (!strcmp(m, "petition.create")) { fn = m_create; write = 1; }
  else if (!strcmp(m, "export")) fn = m_export;
  if (!fn) {
    json_decref(empty);
    return id ? error_response(id, -32601, "method not found", NULL) : NULL; /* notifications: ignored */
  }
  failure f = {0, NULL, NULL};
  if (write) run(st_sp);
  json_t *result = fn(params, &f);
  if (write) {
    if (!result) run(st_sp_rollback);
    run(st_sp_release);
  }
  json_decref(empty);
  if (!id) { json_decref(result); return NULL; }
  if (!result) return error_response(id, f.code, f.message, f.path);
  return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

/* ------------------------------------------------------------------------------------------ */
/* Group commit over NDJSON on stdin/stdout.                                                   */

static char *out;
static size_t out_len, out_cap;

static void emit(json_t *resp) {
  if (!resp) return;
  for (;;) {
    size_t n = json_dumpb(resp, out + out_len, out_cap - out_len, JSON_COMPACT);
    if (n + 1 <= out_cap - out_len) { out_len += n; out[out_len++] = '\n'; break; }
    out_cap = (out_cap + n + 1) * 2;
    out = realloc(out, out_cap);
  }
}

static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(1, p, n);
    if (w < 0) { if (errno == EINTR) continue; exit(0); }
    p += w; n -= (size_t)w;
  }
}

/* A failed COMMIT: nothing was written, so every answer of the group becomes -32000. */
static json_t *unavailable(json_t *resp) {
  if (json_is_array(resp)) {
    size_t i; json_t *v;
    json_array_foreach(resp, i, v) json_array_set_new(resp, i, unavailable(json_incref(v)));
    return resp;
  }
  if (json_object_get(resp, "result")) {
    json_t *e = error_response(json_object_get(resp, "id"), -32000, "store unavailable", NULL);
    json_decref(resp);
    return e;
  }
  return resp;
}

int main(int argc, char **argv) {
  const char *path = getenv("PETITION_RPC_DB");
  if (!path) path = "petitions.sqlite3";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) path = argv[++i];
    else if (!strncmp(argv[i], "--db=", 5)) path = argv[i] + 5;
    else if (!strcmp(argv[i], "--help")) { puts("usage: reference [--db PATH]"); return 0; }
    else { fprintf(stderr, "usage: reference [--db PATH]\n"); return 64; }
  }
  signal(SIGPIPE, SIG_IGN);
  open_store(path);
  json_object_seed(0);

  size_t cap = 1 << 20, len = 0, start = 0;
  char *buf = malloc(cap);
  out_cap = 1 << 20;
  out = malloc(out_cap);
  int eof = 0, skipping = 0;
  json_t **resps = malloc(sizeof(json_t *) * MAX_GROUP);

  while (!eof) {
    /* Block for some input, then take whatever else is already waiting, up to READ_AHEAD. */
    int first = 1;
    for (;;) {
      if (len == cap) { cap *= 2; buf = realloc(buf, cap); }
      if (!first) {
        struct pollfd pfd = {0, POLLIN, 0};
        if (len - start >= READ_AHEAD || poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLIN | POLLHUP))) break;
      }
      ssize_t r = read(0, buf + len, cap - len);
      if (r < 0) { if (errno == EINTR) continue; eof = 1; break; }
      if (r == 0) { eof = 1; break; }
      len += (size_t)r;
      first = 0;
    }
    if (eof && len > start && buf[len - 1] != '\n') { /* a last line without \n */
      if (len == cap) { cap += 1; buf = realloc(buf, cap); }
      buf[len++] = '\n';
    }

    /* Run all complete lines in groups of at most MAX_GROUP requests. */
    for (;;) {
      char *nl = memchr(buf + start, '\n', len - start);
      if (!nl) break;
      size_t requests = 0, nresp = 0;
      int began = 0;
      while (nl && requests < MAX_GROUP) {
        char *line = buf + start;
        size_t n = (size_t)(nl - line);
        start += n + 1;
        if (n && line[n - 1] == '\r') n--;
        if (skipping) { skipping = 0; goto next; }
        size_t k = 0;
        while (k < n && isspace((unsigned char)line[k])) k++;
        if (k == n) goto next;
        if (n > MAX_MESSAGE) { resps[nresp++] = error_response(NULL, -32600, "message too large", NULL); requests++; goto next; }
        if (!began) {
          if (run(st_begin) != SQLITE_OK) die("begin");
          began = 1;
        }
        json_error_t jerr;
        json_t *msg = json_loadb(line, n, 0, &jerr);
        json_t *resp;
        if (!msg) resp = error_response(NULL, -32700, "parse error", NULL), requests++;
        else if (json_is_array(msg)) {
          size_t sz = json_array_size(msg);
          if (sz == 0 || sz > 1000) resp = error_response(NULL, -32600, sz ? "batch too large" : "empty batch", NULL), requests++;
          else {
            resp = json_array();
            size_t i; json_t *v;
            json_array_foreach(msg, i, v) {
              json_t *r = handle(v);
              if (r) json_array_append_new(resp, r);
            }
            if (json_array_size(resp) == 0) { json_decref(resp); resp = NULL; }
            requests += sz;
          }
        } else resp = handle(msg), requests++;
        json_decref(msg);
        if (resp) resps[nresp++] = resp;
        if (nresp == MAX_GROUP) break;
      next:
        nl = memchr(buf + start, '\n', len - start);
      }
      int committed = 1;
      if (began && run(st_commit) != SQLITE_OK) { run(st_rollback); committed = 0; }
      for (size_t i = 0; i < nresp; i++) {
        json_t *r = committed ? resps[i] : unavailable(resps[i]);
        emit(r);
        json_decref(r);
      }
      if (out_len) { write_all(out, out_len); out_len = 0; }
    }
    /* Keep the incomplete tail; drop an over-long line without holding it whole. */
    memmove(buf, buf + start, len - start);
    len -= start;
    start = 0;
    if (len > MAX_MESSAGE + 2) {
      json_t *e = error_response(NULL, -32600, "message too large", NULL);
      emit(e); json_decref(e);
      write_all(out, out_len); out_len = 0;
      len = 0;
      skipping = 1;
    }
  }
  sqlite3_close_v2(db);
  return 0;
}
