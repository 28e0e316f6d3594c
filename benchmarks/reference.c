/*
 * reference.c: the "limit of this machine" for petition-rpc's benchmarks.
 *
 * A deliberately small C server speaking the subset of petition-rpc's wire protocol that the
 * benchmarks use (NDJSON framing only; JSON-RPC 2.0 requests, notifications and batches), with
 * the same answers as the server for these methods:
 *
 *   petition.create {id, title, target, body?, goal?}        -> Petition
 *   sign   {petition, signer:{email, firstName, lastName, postalCode, country?, phone?},
 *           optIn?:{email?, phone?, sms?, notice?}, source?, comment?}
 *                                                            -> {signatureId, petition, duplicate, count}
 *   count  {petition, groupBy?: day|country|source|postalCode, since?, until?}
 *                                                            -> {petition, total, goal, groups?}
 *   export {petition, audience:"contacts", format:"csv", path, overwrite?}
 *                                                            -> {path, count, bytes, sha256}
 *
 * It does the durable work the contract asks for, as fast as two threads taking turns can (the
 * server's own design: one reads and parses the next group while the other serves the last):
 *   - SQLite in WAL mode with synchronous=FULL: a write is on disk before it is answered;
 *   - every request is validated before anything is written (the contract's signer rules: email
 *     shape and canonical form, names, country, US ZIP / postal code, E.164 phone, lengths; NFC
 *     is approximated by accepting non-ASCII text as given, the server's ASCII fast path), so a
 *     request that fails never touches the store and no SAVEPOINT per request is needed;
 *   - dedup on the canonical email (lower-cased, +tag dropped, gmail dots dropped) through a
 *     UNIQUE(petition, person_key) index: INSERT .. ON CONFLICT DO NOTHING, then one index lookup
 *     for a duplicate;
 *   - group commit: every complete line already waiting on stdin (up to 1000 requests) runs in
 *     ONE transaction (BEGIN IMMEDIATE at the first write of the group, COMMIT = fsync), then all
 *     answers of the group are written at once. A group of reads only takes no write lock. The
 *     lines that arrive while a group is served are parsed meanwhile by the other thread, into
 *     its own arena, and form the next group (see take_turns);
 *   - the petition's counter is kept in memory for the length of the transaction and written
 *     once per group, so `count` is one primary-key lookup;
 *   - maintained aggregates (unless --no-aggregates): per petition, counts by day, country,
 *     source, postal code and minute, kept in a table in the same transaction (deltas gathered in
 *     memory during the group, one upsert per distinct key at its end), so `count` with groupBy
 *     reads only its groups and a since/until window sums minutes plus the rows of its two edge
 *     minutes (an index range);
 *   - prepared statements; jansson parses every message; results are serialised by jansson,
 *     except `sign`'s and `count`'s, which are formatted directly (as the server does for sign);
 *   - streaming export: rows are stepped from an index on (petition, signed_at) into a 256 KiB
 *     buffer, CSV-quoted (RFC 4180 + formula guard), hashed with SHA-256 (OpenSSL's libcrypto,
 *     as the server uses; the sha256 in the result is real), written to a temporary file
 *     (O_EXCL, 0600), fsynced, renamed, and the directory fsynced.
 *
 * What it leaves out (so it is a lower bound, not a competitor): LSP framing, full NFC,
 * person-level consent and unsubscribe (opt-ins are per signature), confirmation, cancellation,
 * progress, paging, other audiences and formats, petition.close/get/list. A COMMIT that fails
 * ends the process (exit 1) before any answer of its group is written.
 *
 * Build: cc -O2 -pthread benchmarks/reference.c $(pkg-config --cflags --libs jansson sqlite3 libcrypto)
 * Usage: reference [--db PATH] [--no-aggregates]
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
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
#define READ_AHEAD (1 << 20)      /* gather at most this many bytes before running a group */

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
static int use_aggregates = 1;
static sqlite3_stmt *st_begin, *st_commit, *st_rollback;
static sqlite3_stmt *st_pet_ins, *st_pet_get, *st_pet_key, *st_pet_setcount;
static sqlite3_stmt *st_sig_ins, *st_sig_find, *st_sig_optin, *st_agg_add, *st_agg_groups, *st_agg_minutes;
static sqlite3_stmt *st_win_count, *st_export;

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS petitions("
    " pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, target TEXT NOT NULL,"
    " body TEXT NOT NULL, goal INTEGER, status TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " closed_at INTEGER, signature_count INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS signatures("
    " id INTEGER PRIMARY KEY, petition INTEGER NOT NULL, person_key TEXT NOT NULL,"
    " email TEXT NOT NULL, first_name TEXT NOT NULL, last_name TEXT NOT NULL,"
    " postal_code TEXT NOT NULL, country TEXT NOT NULL, phone TEXT, comment TEXT, source TEXT,"
    " signed_at INTEGER NOT NULL, email_ok INTEGER NOT NULL, phone_ok INTEGER NOT NULL,"
    " sms_ok INTEGER NOT NULL, UNIQUE(petition, person_key));"
    "CREATE INDEX IF NOT EXISTS signatures_by_time ON signatures(petition, signed_at);"
    /* dim: 0 day (YYYY-MM-DD), 1 country, 2 source ('' for none), 3 postal code,
       4 minute (minutes since 1970, 10 digits zero-padded so text order is time order). */
    "CREATE TABLE IF NOT EXISTS aggregates("
    " petition INTEGER NOT NULL, dim INTEGER NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY(petition, dim, key)) WITHOUT ROWID;";

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
  st_pet_ins = prep("INSERT INTO petitions(id,title,target,body,goal,status,created_at,closed_at,signature_count)"
                    " VALUES(?1,?2,?3,?4,?5,'open',?6,NULL,0) ON CONFLICT(id) DO NOTHING");
  st_pet_get = prep("SELECT id,title,target,body,goal,status,created_at,closed_at,signature_count,pk"
                    " FROM petitions WHERE id=?1");
  st_pet_key = prep("SELECT pk,signature_count,status='closed',goal FROM petitions WHERE id=?1");
  st_pet_setcount = prep("UPDATE petitions SET signature_count=?2 WHERE pk=?1");
  st_sig_ins = prep("INSERT INTO signatures(petition,person_key,email,first_name,last_name,postal_code,country,"
                    "phone,comment,source,signed_at,email_ok,phone_ok,sms_ok)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"
                    " ON CONFLICT(petition,person_key) DO NOTHING");
  st_sig_find = prep("SELECT id FROM signatures WHERE petition=?1 AND person_key=?2");
  st_sig_optin = prep("UPDATE signatures SET email_ok=email_ok OR ?2, phone_ok=phone_ok OR ?3,"
                      " sms_ok=sms_ok OR ?4 WHERE id=?1");
  st_agg_add = prep("INSERT INTO aggregates(petition,dim,key,n) VALUES(?1,?2,?3,?4)"
                    " ON CONFLICT(petition,dim,key) DO UPDATE SET n=n+excluded.n");
  st_agg_groups = prep("SELECT key,n FROM aggregates WHERE petition=?1 AND dim=?2 AND n>0 ORDER BY key");
  st_agg_minutes = prep("SELECT coalesce(sum(n),0) FROM aggregates WHERE petition=?1 AND dim=4 AND key>=?2 AND key<?3");
  st_win_count = prep("SELECT count(*) FROM signatures WHERE petition=?1 AND signed_at>=?2 AND signed_at<?3");
  st_export = prep("SELECT id,email,first_name,last_name,postal_code,country,phone,email_ok,phone_ok,"
                   "sms_ok,source,signed_at FROM signatures"
                   " WHERE petition=?1 AND (email_ok OR phone_ok OR sms_ok)"
                   " ORDER BY signed_at, id");
}

/* ------------------------------------------------------------------------------------------ */
/* Time: milliseconds since 1970, written as RFC 3339 UTC with milliseconds.                   */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static void format_day(int64_t ms, char out[11]) {
  time_t secs = (time_t)floor_div(ms, 86400000) * 86400;
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(out, 11, "%Y-%m-%d", &tm);
}

static void format_ms(int64_t ms, char out[32]) {
  time_t secs = (time_t)floor_div(ms, 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", (int)(ms - (int64_t)secs * 1000));
}

static int digits(const char *p, int n, int *v) {
  *v = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return 0;
    *v = *v * 10 + (p[i] - '0');
  }
  return 1;
}

/* An RFC 3339 date-time as a bound in milliseconds (a finer fraction rounds up). */
static int parse_rfc3339(const char *s, int64_t *out) {
  size_t len = strlen(s);
  int y, mo, d, h, mi, se;
  if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
      !digits(s + 8, 2, &d) || !(s[10] == 'T' || s[10] == 't' || s[10] == ' ') || !digits(s + 11, 2, &h) ||
      s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
    return 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return 0;
  const char *p = s + 19;
  int64_t ms = 0;
  if (*p == '.') {
    p++;
    int nd = 0, rest = 0;
    while (*p >= '0' && *p <= '9') {
      if (nd < 3) ms = ms * 10 + (*p - '0');
      else if (*p != '0') rest = 1;
      nd++, p++;
    }
    if (!nd) return 0;
    for (int k = nd; k < 3; k++) ms *= 10;
    ms += rest;
  }
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z') p++;
  else if (*p == '+' || *p == '-') {
    int oh, om;
    if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59) return 0;
    offset = (int64_t)(oh * 60 + om) * 60000 * (*p == '-' ? -1 : 1);
    p += 6;
  } else return 0;
  if (*p) return 0;
  struct tm tm = {0};
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi;
  tm.tm_sec = se > 59 ? 59 : se;
  *out = (int64_t)timegm(&tm) * 1000 + ms - offset;
  return 1;
}

/* Signature ids as the server makes them: "sig_" and the row id in 11 base-36 digits. */
static void format_sid(sqlite3_int64 seq, char out[16]) {
  static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  memcpy(out, "sig_", 4);
  for (int i = 14; i >= 4; i--) { out[i] = alphabet[seq % 36]; seq /= 36; }
  out[15] = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The write group: petitions touched (their counters) and aggregate deltas, flushed at commit. */

typedef struct {
  sqlite3_int64 pk, count, goal;
  int closed, has_goal, dirty;
  char id[65];
} pet_t;

#define PCACHE 32
static pet_t pcache[PCACHE];
static int npcache, in_txn;

typedef struct {
  sqlite3_int64 pk, delta;
  int dim, used;
  unsigned char klen;
  char key[256];
} agg_t;

#define AGG_CAP 8192 /* at most 1000 signs x 5 keys per group */
static agg_t *aggs;
static int *agg_used, nagg;

static uint64_t hash_key(sqlite3_int64 pk, int dim, const char *k, size_t n) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)pk * 31 ^ (uint64_t)dim;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
  return h;
}

static int flush_aggregates(void) {
  for (int i = 0; i < nagg; i++) {
    agg_t *a = &aggs[agg_used[i]];
    sqlite3_bind_int64(st_agg_add, 1, a->pk);
    sqlite3_bind_int(st_agg_add, 2, a->dim);
    sqlite3_bind_text(st_agg_add, 3, a->key, a->klen, SQLITE_STATIC);
    sqlite3_bind_int64(st_agg_add, 4, a->delta);
    if (run(st_agg_add) != SQLITE_OK) return 0;
    a->used = 0;
  }
  nagg = 0;
  return 1;
}

static int agg_add(sqlite3_int64 pk, int dim, const char *k, size_t n) {
  if (n > 255) n = 255; /* keys are validated shorter than this; stay safe */
  if (nagg >= AGG_CAP / 2 && !flush_aggregates()) return 0;
  uint64_t h = hash_key(pk, dim, k, n);
  for (size_t i = h & (AGG_CAP - 1);; i = (i + 1) & (AGG_CAP - 1)) {
    agg_t *a = &aggs[i];
    if (!a->used) {
      a->used = 1, a->pk = pk, a->dim = dim, a->klen = (unsigned char)n, a->delta = 1;
      memcpy(a->key, k, n);
      agg_used[nagg++] = (int)i;
      return 1;
    }
    if (a->pk == pk && a->dim == dim && a->klen == n && !memcmp(a->key, k, n)) { a->delta++; return 1; }
  }
}

/* Counters and aggregates into the store (still inside the transaction). */
static int flush_pending(void) {
  for (int i = 0; i < npcache; i++) {
    pet_t *p = &pcache[i];
    if (!p->dirty) continue;
    sqlite3_bind_int64(st_pet_setcount, 1, p->pk);
    sqlite3_bind_int64(st_pet_setcount, 2, p->count);
    if (run(st_pet_setcount) != SQLITE_OK) return 0;
    p->dirty = 0;
  }
  return flush_aggregates();
}

static void begin_group(void) {
  if (in_txn) return;
  if (run(st_begin) != SQLITE_OK) die("begin");
  in_txn = 1;
}

static void commit_group(void) {
  if (!in_txn) return;
  if (!flush_pending() || run(st_commit) != SQLITE_OK) die("commit (no answer of the group was written)");
  in_txn = 0;
  npcache = 0;
}

static void write_all(const char *p, size_t n);
void flush_out(void);

/* A read is answered as soon as it is done: the writes before it in its group are committed
 * and answered first (so the read never shows uncommitted data and never waits for later
 * writes). */
static void answer_pending_writes(void) {
  if (!in_txn) return;
  commit_group();
  flush_out();
}

/* The petition row by id, from the group's cache (inside a transaction) or the store. 1 found,
 * 0 not found, -1 store error. */
static int petition_lookup(const char *id, pet_t **out) {
  for (int i = 0; i < npcache; i++)
    if (!strcmp(pcache[i].id, id)) { *out = &pcache[i]; return 1; }
  if (strlen(id) > 64) return 0;
  static pet_t scratch;
  pet_t *p = &scratch;
  if (in_txn) {
    if (npcache == PCACHE && !flush_pending()) return -1;
    if (npcache == PCACHE) npcache = 0;
    p = &pcache[npcache];
  }
  sqlite3_bind_text(st_pet_key, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st_pet_key);
  if (rc != SQLITE_ROW) { sqlite3_reset(st_pet_key); return rc == SQLITE_DONE ? 0 : -1; }
  p->pk = sqlite3_column_int64(st_pet_key, 0);
  p->count = sqlite3_column_int64(st_pet_key, 1);
  p->closed = sqlite3_column_int(st_pet_key, 2);
  p->has_goal = sqlite3_column_type(st_pet_key, 3) != SQLITE_NULL;
  p->goal = sqlite3_column_int64(st_pet_key, 3);
  p->dirty = 0;
  strcpy(p->id, id);
  sqlite3_reset(st_pet_key);
  if (in_txn) npcache++;
  *out = p;
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* jansson's memory: a bump arena, emptied after every message (nothing parsed outlives it:   */
/* answers are rendered to bytes at once), so parsing costs no malloc/free per value.          */

typedef struct chunk {
  struct chunk *next;
  size_t cap, used;
  char data[];
} chunk_t;

/* Per thread: each of the two threads parses into its own arena and empties it after serving. */
static __thread chunk_t *arena_head, *arena_cur;

static void *arena_alloc(size_t n) {
  n = (n + 15) & ~(size_t)15;
  while (arena_cur && arena_cur->used + n > arena_cur->cap) {
    if (!arena_cur->next) break;
    arena_cur = arena_cur->next;
    arena_cur->used = 0;
  }
  if (!arena_cur || arena_cur->used + n > arena_cur->cap) {
    size_t cap = n > (1 << 20) ? n : (1 << 20);
    chunk_t *c = malloc(sizeof(chunk_t) + cap);
    if (!c) return NULL;
    c->next = NULL, c->cap = cap, c->used = 0;
    if (arena_cur) { c->next = arena_cur->next; arena_cur->next = c; }
    else arena_head = c;
    arena_cur = c;
  }
  void *p = arena_cur->data + arena_cur->used;
  arena_cur->used += n;
  return p;
}

static void arena_free(void *p) { (void)p; }

/* Everything allocated since the last reset is dropped; the chunks are kept for reuse, except
 * that more than 8 MiB of them are given back (one huge message does not pin its memory). */
static void arena_reset(void) {
  size_t kept = 0;
  chunk_t **link = &arena_head;
  while (*link) {
    chunk_t *c = *link;
    kept += c->cap;
    if (kept > (8u << 20) && c != arena_head) { *link = c->next; free(c); continue; }
    c->used = 0;
    link = &c->next;
  }
  arena_cur = arena_head;
}

/* ------------------------------------------------------------------------------------------ */
/* Params and the contract's field rules (the server's messages).                              */

typedef struct {
  char path[80];
  const char *msg;
} issue_t;

typedef struct {
  int code; /* 0: invalid params, with the issues */
  char message[200];
  int n;
  issue_t it[16];
} failure;

static void issue(failure *f, const char *prefix, const char *key, const char *msg) {
  if (f->n == 16) return;
  snprintf(f->it[f->n].path, sizeof f->it[f->n].path, "%s/%s", prefix, key);
  f->it[f->n++].msg = msg;
}

static int fail_code(failure *f, int code, const char *fmt, const char *arg) {
  f->code = code;
  snprintf(f->message, sizeof f->message, fmt, arg);
  return 0;
}

static const char *const ERR_REQUIRED = "is required";

/* A string member: 1 given (s, n set), 0 absent or null, -1 not a string (reported). */
static int str_member(json_t *obj, const char *prefix, const char *key, int required, failure *f,
                      const char **s, size_t *n) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required) issue(f, prefix, key, ERR_REQUIRED);
    return 0;
  }
  if (!json_is_string(v)) { issue(f, prefix, key, "must be a string"); return -1; }
  *s = json_string_value(v);
  *n = json_string_length(v);
  return 1;
}

static void reject_unknown(json_t *obj, const char *prefix, const char *const *keys, failure *f) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    int ok = 0;
    for (const char *const *p = keys; *p; p++)
      if (!strcmp(k, *p)) { ok = 1; break; }
    if (!ok) issue(f, prefix, k, "is not a known field");
  }
}

static inline int is_space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

static void trim(const char **s, size_t *n) {
  while (*n && is_space((unsigned char)**s)) (*s)++, (*n)--;
  while (*n && is_space((unsigned char)(*s)[*n - 1])) (*n)--;
}

static size_t code_points(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

/* Control characters (Cc), and for single-line text U+2028/U+2029; multi-line text allows
 * tab, LF and CR. */
static int has_forbidden(const char *s, size_t n, int multiline) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20) {
      if (multiline && (c == '\t' || c == '\n' || c == '\r')) continue;
      return 1;
    }
    if (c == 0x7F) return 1;
    if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F) return 1;
    if (!multiline && c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
      return 1;
  }
  return 0;
}

static const char *single_line(const char **s, size_t *n, size_t max, const char *length_msg) {
  trim(s, n);
  if (has_forbidden(*s, *n, 0)) return "must not contain control characters or line breaks";
  if (*n == 0 || (*n > max && code_points(*s, *n) > max)) return length_msg;
  return NULL;
}

static const char *multi_line(const char *s, size_t n, size_t max, const char *length_msg) {
  if (has_forbidden(s, n, 1)) return "must not contain control characters other than tab and line breaks";
  if (n > max && code_points(s, n) > max) return length_msg;
  return NULL;
}

static int contains_url(const char *s, size_t n) {
  for (size_t i = 0; i + 2 < n; i++) {
    if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') return 1;
    if (i + 3 < n && s[i + 3] == '.' && (s[i] | 0x20) == 'w' && (s[i + 1] | 0x20) == 'w' && (s[i + 2] | 0x20) == 'w')
      return 1;
  }
  return 0;
}

static const char *person_name(const char **s, size_t *n) {
  const char *why = single_line(s, n, 100, "must be 1 to 100 characters");
  if (!why && contains_url(*s, *n)) why = "must not contain a URL";
  return why;
}

static int valid_petition_id(const char *s, size_t n) {
  if (n == 0 || n > 64 || s[0] == '-') return 0;
  for (size_t i = 0; i < n; i++)
    if (!(is_digit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-')) return 0;
  return 1;
}
static const char *const ERR_PETITION_ID = "must be 1 to 64 characters a-z, 0-9 or '-', not starting with '-'";

/* The email rule: trimmed, at most 254 bytes, no spaces or control characters, local@domain
 * with one '@' and a domain of two or more non-empty labels. Writes the canonical form. */
static const char *email_rule(const char **s, size_t *n, char *canon, size_t *canon_len) {
  trim(s, n);
  const char *e = *s;
  size_t len = *n;
  if (!len) return "must be an email address (local@domain)";
  if (len > 254) return "must be at most 254 bytes (UTF-8)";
  size_t at = 0, ats = 0, local = 0, dots = 0;
  int prev_sep = 0, empty_label = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)e[i];
    if (c <= 0x20 || c == 0x7F) return "must not contain spaces, invisible or control characters";
    if (c == 0xC2 && i + 1 < len && ((unsigned char)e[i + 1] <= 0x9F || (unsigned char)e[i + 1] == 0xA0))
      return "must not contain spaces, invisible or control characters";
    if (c == 0xE2 && i + 1 < len && ((unsigned char)e[i + 1] == 0x80 || (unsigned char)e[i + 1] == 0x81))
      return "must not contain spaces, invisible or control characters"; /* U+2000..U+206F: spaces, joiners, marks */
    if (c == '@') { ats++, at = i, prev_sep = 1; }
    else if (!ats) local++;
    else if (c == '.') { if (prev_sep) empty_label = 1; dots++, prev_sep = 1; }
    else prev_sep = 0;
  }
  if (ats != 1 || !local) return "must be an email address (local@domain)";
  if (!dots || empty_label || prev_sep) return "must have a domain with a dot, like example.com";
  /* Canonical: lower-cased (ASCII; other text as given), +tag dropped (not a leading '+'),
   * gmail.com/googlemail.com: dots of the local part dropped (unless only dots), domain gmail.com. */
  char low[256];
  for (size_t i = 0; i < len; i++) low[i] = (char)((e[i] >= 'A' && e[i] <= 'Z') ? e[i] | 0x20 : e[i]);
  size_t lend = at;
  for (size_t i = 1; i < at; i++)
    if (low[i] == '+') { lend = i; break; }
  const char *dom = low + at + 1;
  size_t dlen = len - at - 1;
  int gmail = (dlen == 9 && !memcmp(dom, "gmail.com", 9)) || (dlen == 14 && !memcmp(dom, "googlemail.com", 14));
  size_t k = 0;
  if (gmail) {
    for (size_t i = 0; i < lend; i++)
      if (low[i] != '.') canon[k++] = low[i];
    if (!k) { memcpy(canon, low, lend); k = lend; }
    memcpy(canon + k, "@gmail.com", 10);
    k += 10;
  } else {
    memcpy(canon, low, lend);
    k = lend;
    canon[k++] = '@';
    memcpy(canon + k, dom, dlen);
    k += dlen;
  }
  canon[k] = 0;
  *canon_len = k;
  return NULL;
}

static const char COUNTRIES[] =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS "
    "BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE "
    "EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
    "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC "
    "LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
    "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
    "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK ";

static const char *country_rule(const char *s, size_t n, char out[3]) {
  trim(&s, &n);
  if (n == 2 && is_letter((unsigned char)s[0]) && is_letter((unsigned char)s[1])) {
    out[0] = (char)toupper((unsigned char)s[0]), out[1] = (char)toupper((unsigned char)s[1]), out[2] = 0;
    for (const char *p = COUNTRIES; *p; p += 3)
      if (p[0] == out[0] && p[1] == out[1]) return NULL;
  }
  return "must be an ISO 3166-1 alpha-2 country code, like US";
}

static const char *postal_rule(const char *s, size_t n, int us, char out[17], size_t *outn) {
  trim(&s, &n);
  if (us) {
    int ok = n == 5 || (n == 10 && s[5] == '-');
    for (size_t i = 0; ok && i < n; i++) ok = i == 5 ? 1 : is_digit((unsigned char)s[i]);
    if (!ok) return "must be a US ZIP code (12345 or 12345-6789)";
    memcpy(out, s, n);
  } else {
    int alnum = 0;
    if (n < 1 || n > 16) return "must be 1 to 16 letters, digits, spaces or hyphens";
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      if (is_letter(c) || is_digit(c)) alnum = 1;
      else if (c != ' ' && c != '-') return "must be 1 to 16 letters, digits, spaces or hyphens";
      out[i] = (char)toupper(c);
    }
    if (!alnum) return "must be 1 to 16 letters, digits, spaces or hyphens";
  }
  out[n] = 0;
  *outn = n;
  return NULL;
}

static const char *phone_rule(const char *s, size_t n, int us, char out[20]) {
  const char *why = us ? "must be a phone number in E.164 form (+ and 8 to 15 digits) or a 10-digit US number"
                       : "must be a phone number in E.164 form (+ and 8 to 15 digits)";
  trim(&s, &n);
  char d[17];
  size_t nd = 0;
  int plus = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_digit(c)) {
      if (nd > 15) return why;
      d[nd++] = (char)c;
    } else if (c == '+' && !plus && !nd) plus = 1;
    else if (c == '.' || c == '-' || c == '(' || c == ')' || c == ' ') continue;
    else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) i++; /* no-break space */
    else if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
             ((unsigned char)s[i + 2] <= 0x8A || (unsigned char)s[i + 2] == 0xAF)) i += 2;
    else return why;
  }
  if (plus) {
    if (nd < 8 || nd > 15) return why;
    out[0] = '+', memcpy(out + 1, d, nd), out[nd + 1] = 0;
    return NULL;
  }
  if (us && nd == 10) { memcpy(out, "+1", 2), memcpy(out + 2, d, nd), out[nd + 2] = 0; return NULL; }
  if (us && nd == 11 && d[0] == '1') { out[0] = '+', memcpy(out + 1, d, nd), out[nd + 1] = 0; return NULL; }
  return why;
}

/* ------------------------------------------------------------------------------------------ */
/* Output: every answer of a group is rendered into one buffer, written after the commit.      */

static char *out;
static size_t out_len, out_cap;

static void out_reserve(size_t n) {
  if (out_len + n <= out_cap) return;
  while (out_len + n > out_cap) out_cap *= 2;
  out = realloc(out, out_cap);
  if (!out) die("out of memory");
}

static void out_raw(const char *p, size_t n) {
  out_reserve(n);
  memcpy(out + out_len, p, n);
  out_len += n;
}
#define OUT_LIT(s) out_raw(s, sizeof(s) - 1)

static void out_json(json_t *v) {
  for (;;) {
    size_t n = json_dumpb(v, out + out_len, out_cap - out_len, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n <= out_cap - out_len) { out_len += n; return; }
    out_reserve(n);
  }
}

/* A JSON string of valid UTF-8 text (from the store): quotes, backslashes and controls escaped. */
static void out_json_string(const char *p, size_t n) {
  out_reserve(n + 2);
  out[out_len++] = '"';
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out_raw(p + start, i - start);
    char esc[8];
    int k;
    switch (c) {
    case '"': k = sprintf(esc, "\\\""); break;
    case '\\': k = sprintf(esc, "\\\\"); break;
    case '\n': k = sprintf(esc, "\\n"); break;
    case '\r': k = sprintf(esc, "\\r"); break;
    case '\t': k = sprintf(esc, "\\t"); break;
    default: k = sprintf(esc, "\\u%04X", c);
    }
    out_raw(esc, (size_t)k);
    start = i + 1;
  }
  out_raw(p + start, n - start);
  out_raw("\"", 1);
}

static void out_int(long long v) {
  out_reserve(24);
  out_len += (size_t)sprintf(out + out_len, "%lld", v);
}

static void out_id(json_t *id) {
  if (!id || json_is_null(id)) OUT_LIT("null");
  else if (json_is_integer(id)) out_int((long long)json_integer_value(id));
  else out_json(id);
}

static void out_error(json_t *id, int code, const char *message, failure *f) {
  OUT_LIT("{\"jsonrpc\":\"2.0\",\"id\":");
  out_id(id);
  json_t *err = json_pack("{s:i,s:s}", "code", code, "message", message);
  if (f && f->n) {
    json_t *list = json_array();
    for (int i = 0; i < f->n; i++)
      json_array_append_new(list, json_pack("{s:s,s:s}", "path", f->it[i].path, "message", f->it[i].msg));
    json_object_set_new(err, "data", json_pack("{s:o}", "errors", list));
  }
  OUT_LIT(",\"error\":");
  out_json(err);
  json_decref(err);
  OUT_LIT("}");
}

static void out_failure(json_t *id, failure *f) {
  if (f->code) { out_error(id, f->code, f->message, NULL); return; }
  char msg[200];
  snprintf(msg, sizeof msg, "Invalid params: %s %s", f->it[0].path[0] ? f->it[0].path : "params", f->it[0].msg);
  out_error(id, -32602, msg, f);
}

/* ------------------------------------------------------------------------------------------ */
/* Methods. Each validates everything first, then touches the store, then writes its result    */
/* into the output buffer; 0 and `f` filled when it fails (nothing written to the store).      */

static int m_create(json_t *params, failure *f) {
  static const char *const keys[] = {"id", "title", "target", "body", "goal", NULL};
  const char *id = NULL, *title = NULL, *target = NULL, *body = "";
  size_t idn = 0, titlen = 0, targn = 0, bodyn = 0;
  const char *why;
  if (str_member(params, "", "id", 1, f, &id, &idn) > 0 && !valid_petition_id(id, idn)) issue(f, "", "id", ERR_PETITION_ID);
  if (str_member(params, "", "title", 1, f, &title, &titlen) > 0 &&
      (why = single_line(&title, &titlen, 200, "must be 1 to 200 characters")))
    issue(f, "", "title", why);
  if (str_member(params, "", "target", 1, f, &target, &targn) > 0 &&
      (why = single_line(&target, &targn, 200, "must be 1 to 200 characters")))
    issue(f, "", "target", why);
  if (str_member(params, "", "body", 0, f, &body, &bodyn) > 0 &&
      (why = multi_line(body, bodyn, 20000, "must be at most 20000 characters")))
    issue(f, "", "body", why);
  json_t *g = json_object_get(params, "goal");
  json_int_t goal = 0;
  int has_goal = g && !json_is_null(g);
  if (has_goal) {
    if (!json_is_integer(g)) issue(f, "", "goal", "must be an integer");
    else if ((goal = json_integer_value(g)) < 1 || goal > 1000000000) issue(f, "", "goal", "must be an integer from 1 to 1000000000");
  }
  reject_unknown(params, "", keys, f);
  if (f->n) return 0;

  begin_group();
  int64_t now = now_ms();
  sqlite3_stmt *s = st_pet_ins;
  sqlite3_bind_text(s, 1, id, (int)idn, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, title, (int)titlen, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, target, (int)targn, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, body, (int)bodyn, SQLITE_STATIC);
  if (has_goal) sqlite3_bind_int64(s, 5, goal); else sqlite3_bind_null(s, 5);
  sqlite3_bind_int64(s, 6, now);
  int rc = run(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_OK) return fail_code(f, -32000, "Store unavailable: %s", sqlite3_errmsg(db));
  if (sqlite3_changes(db) == 0) return fail_code(f, 1002, "Petition already exists: %s", id);
  char created[32];
  format_ms(now, created);
  json_t *p = json_object();
  json_object_set_new(p, "id", json_stringn(id, idn));
  json_object_set_new(p, "title", json_stringn(title, titlen));
  json_object_set_new(p, "target", json_stringn(target, targn));
  json_object_set_new(p, "body", json_stringn(body, bodyn));
  json_object_set_new(p, "goal", has_goal ? json_integer(goal) : json_null());
  json_object_set_new(p, "status", json_string("open"));
  json_object_set_new(p, "createdAt", json_string(created));
  json_object_set_new(p, "closedAt", json_null());
  json_object_set_new(p, "count", json_integer(0));
  out_json(p);
  json_decref(p);
  return 1;
}

static int m_sign(json_t *params, failure *f) {
  static const char *const keys[] = {"petition", "signer", "comment", "optIn", "source", NULL};
  static const char *const signer_keys[] = {"email", "firstName", "lastName", "postalCode", "country", "phone", NULL};
  static const char *const optin_keys[] = {"email", "phone", "sms", NULL};
  const char *pid = NULL, *email = NULL, *first = NULL, *last = NULL, *postal_raw = NULL, *country_raw = NULL;
  const char *phone_raw = NULL, *comment = NULL, *source = NULL, *why;
  size_t pidn = 0, emailn = 0, firstn = 0, lastn = 0, postal_rawn = 0, country_rawn = 0, phone_rawn = 0;
  size_t commentn = 0, sourcen = 0, keyn = 0, postaln = 0;
  char key[256], ctry[3] = "US", postal[17], e164[20];
  int has_phone = 0, signer_ok = 0;

  if (str_member(params, "", "petition", 1, f, &pid, &pidn) > 0 && !valid_petition_id(pid, pidn))
    issue(f, "", "petition", ERR_PETITION_ID);
  json_t *signer = json_object_get(params, "signer");
  if (!signer || json_is_null(signer)) issue(f, "", "signer", ERR_REQUIRED);
  else if (!json_is_object(signer)) issue(f, "", "signer", "must be an object");
  else {
    int before = f->n;
    if (str_member(signer, "/signer", "email", 1, f, &email, &emailn) > 0 &&
        (why = email_rule(&email, &emailn, key, &keyn)))
      issue(f, "/signer", "email", why);
    if (str_member(signer, "/signer", "firstName", 1, f, &first, &firstn) > 0 && (why = person_name(&first, &firstn)))
      issue(f, "/signer", "firstName", why);
    if (str_member(signer, "/signer", "lastName", 1, f, &last, &lastn) > 0 && (why = person_name(&last, &lastn)))
      issue(f, "/signer", "lastName", why);
    int cg = str_member(signer, "/signer", "country", 0, f, &country_raw, &country_rawn);
    int country_known = cg == 0;
    if (cg > 0) {
      if ((why = country_rule(country_raw, country_rawn, ctry))) issue(f, "/signer", "country", why);
      else country_known = 1;
    }
    int us = ctry[0] == 'U' && ctry[1] == 'S';
    if (str_member(signer, "/signer", "postalCode", 1, f, &postal_raw, &postal_rawn) > 0 && country_known &&
        (why = postal_rule(postal_raw, postal_rawn, us, postal, &postaln)))
      issue(f, "/signer", "postalCode", why);
    int pg = str_member(signer, "/signer", "phone", 0, f, &phone_raw, &phone_rawn);
    has_phone = pg != 0;
    if (pg > 0 && country_known && (why = phone_rule(phone_raw, phone_rawn, us, e164))) issue(f, "/signer", "phone", why);
    reject_unknown(signer, "/signer", signer_keys, f);
    signer_ok = f->n == before;
  }
  if (str_member(params, "", "comment", 0, f, &comment, &commentn) > 0 &&
      (why = multi_line(comment, commentn, 2000, "must be at most 2000 characters")))
    issue(f, "", "comment", why);
  if (str_member(params, "", "source", 0, f, &source, &sourcen) > 0 &&
      (why = single_line(&source, &sourcen, 64, "must be 1 to 64 characters")))
    issue(f, "", "source", why);
  int opt[3] = {0, 0, 0};
  json_t *optin = json_object_get(params, "optIn");
  if (optin && !json_is_null(optin)) {
    if (!json_is_object(optin)) issue(f, "", "optIn", "must be an object");
    else {
      for (int c = 0; c < 3; c++) {
        json_t *b = json_object_get(optin, optin_keys[c]);
        if (!b || json_is_null(b)) continue;
        if (!json_is_boolean(b)) issue(f, "/optIn", optin_keys[c], "must be true or false");
        else opt[c] = json_is_true(b);
      }
      reject_unknown(optin, "/optIn", optin_keys, f);
      if (signer_ok && !has_phone)
        for (int c = 1; c < 3; c++)
          if (opt[c]) issue(f, "/optIn", optin_keys[c], "needs signer.phone");
    }
  }
  reject_unknown(params, "", keys, f);
  if (f->n) return 0;

  /* Valid: now the store. */
  pet_t *p;
  begin_group();
  int found = petition_lookup(pid, &p);
  if (found < 0) return fail_code(f, -32000, "Store unavailable: %s", sqlite3_errmsg(db));
  if (!found) return fail_code(f, 1001, "Petition not found: %s", pid);
  if (p->closed) return fail_code(f, 1003, "Petition is closed: %s", pid);

  int64_t now = now_ms();
  sqlite3_stmt *s = st_sig_ins;
  sqlite3_bind_int64(s, 1, p->pk);
  sqlite3_bind_text(s, 2, key, (int)keyn, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, email, (int)emailn, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, first, (int)firstn, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, last, (int)lastn, SQLITE_STATIC);
  sqlite3_bind_text(s, 6, postal, (int)postaln, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, ctry, 2, SQLITE_STATIC);
  if (has_phone) sqlite3_bind_text(s, 8, e164, -1, SQLITE_STATIC); else sqlite3_bind_null(s, 8);
  if (comment) sqlite3_bind_text(s, 9, comment, (int)commentn, SQLITE_STATIC); else sqlite3_bind_null(s, 9);
  if (source) sqlite3_bind_text(s, 10, source, (int)sourcen, SQLITE_STATIC); else sqlite3_bind_null(s, 10);
  sqlite3_bind_int64(s, 11, now);
  sqlite3_bind_int(s, 12, opt[0]);
  sqlite3_bind_int(s, 13, opt[1]);
  sqlite3_bind_int(s, 14, opt[2]);
  int rc = run(s);
  if (rc != SQLITE_OK) die("insert");
  int duplicate = sqlite3_changes(db) == 0;
  sqlite3_int64 seq;
  if (!duplicate) {
    seq = sqlite3_last_insert_rowid(db);
    p->count++;
    p->dirty = 1;
    if (use_aggregates) {
      char day[11], minute[24];
      format_day(now, day);
      snprintf(minute, sizeof minute, "%010lld", (long long)floor_div(now, 60000));
      if (!agg_add(p->pk, 0, day, 10) || !agg_add(p->pk, 1, ctry, 2) ||
          !agg_add(p->pk, 2, source ? source : "", source ? sourcen : 0) || !agg_add(p->pk, 3, postal, postaln) ||
          !agg_add(p->pk, 4, minute, 10))
        die("aggregates");
    }
  } else {
    sqlite3_bind_int64(st_sig_find, 1, p->pk);
    sqlite3_bind_text(st_sig_find, 2, key, (int)keyn, SQLITE_STATIC);
    rc = sqlite3_step(st_sig_find);
    seq = rc == SQLITE_ROW ? sqlite3_column_int64(st_sig_find, 0) : 0;
    sqlite3_reset(st_sig_find);
    if (rc != SQLITE_ROW) die("lookup");
    if (opt[0] || opt[1] || opt[2]) {
      sqlite3_bind_int64(st_sig_optin, 1, seq);
      sqlite3_bind_int(st_sig_optin, 2, opt[0]);
      sqlite3_bind_int(st_sig_optin, 3, opt[1]);
      sqlite3_bind_int(st_sig_optin, 4, opt[2]);
      if (run(st_sig_optin) != SQLITE_OK) die("opt-in");
    }
  }
  /* The result, formatted directly: ids are [a-z0-9_-], nothing to escape. */
  char sid[16];
  format_sid(seq, sid);
  out_reserve(160 + pidn);
  out_len += (size_t)sprintf(out + out_len, "{\"signatureId\":\"%s\",\"petition\":\"%s\",\"duplicate\":%s,\"count\":%lld}",
                             sid, p->id, duplicate ? "true" : "false", (long long)p->count);
  return 1;
}

static int m_count(json_t *params, failure *f) {
  static const char *const keys[] = {"petition", "groupBy", "since", "until", NULL};
  static const char *const dims[] = {"day", "country", "source", "postalCode", NULL};
  const char *pid = NULL, *by = NULL, *since_s = NULL, *until_s = NULL;
  size_t pidn = 0, byn = 0, sn = 0, un = 0;
  int dim = -1;
  int64_t since = INT64_MIN, until = INT64_MAX;
  if (str_member(params, "", "petition", 1, f, &pid, &pidn) > 0 && !valid_petition_id(pid, pidn))
    issue(f, "", "petition", ERR_PETITION_ID);
  if (str_member(params, "", "groupBy", 0, f, &by, &byn) > 0) {
    for (int i = 0; dims[i]; i++)
      if (!strcmp(by, dims[i])) dim = i;
    if (dim < 0) issue(f, "", "groupBy", "must be one of \"day\", \"postalCode\", \"country\", \"source\"");
  }
  if (str_member(params, "", "since", 0, f, &since_s, &sn) > 0 && !parse_rfc3339(since_s, &since))
    issue(f, "", "since", "must be an RFC 3339 date-time, e.g. 2026-11-29T07:39:19.123Z");
  if (str_member(params, "", "until", 0, f, &until_s, &un) > 0 && !parse_rfc3339(until_s, &until))
    issue(f, "", "until", "must be an RFC 3339 date-time, e.g. 2026-11-29T07:39:19.123Z");
  reject_unknown(params, "", keys, f);
  if (f->n) return 0;

  answer_pending_writes();
  pet_t *p;
  int found = petition_lookup(pid, &p);
  if (found < 0) return fail_code(f, -32000, "Store unavailable: %s", sqlite3_errmsg(db));
  if (!found) return fail_code(f, 1001, "Petition not found: %s", pid);
  int windowed = since != INT64_MIN || until != INT64_MAX;
  sqlite3_int64 total = p->count;
  if (in_txn && (dim >= 0 || windowed) && !flush_pending()) die("flush");
  if (windowed) {
    /* Whole minutes from the aggregates, the rows of the two edge minutes from the index. */
    if (!use_aggregates) {
      sqlite3_bind_int64(st_win_count, 1, p->pk);
      sqlite3_bind_int64(st_win_count, 2, since);
      sqlite3_bind_int64(st_win_count, 3, until);
      sqlite3_step(st_win_count);
      total = sqlite3_column_int64(st_win_count, 0);
      sqlite3_reset(st_win_count);
    } else {
      int64_t m0 = since <= 0 ? 0 : -floor_div(-since, 60000);                    /* first whole minute */
      int64_t m1 = until >= 599999999940000 ? 9999999999 : floor_div(until, 60000); /* end of the last */
      if (m1 < 0) m1 = 0;
      int64_t edges[2][2] = {{since, m0 * 60000}, {m1 * 60000, until}};
      int nedges = 2;
      total = 0;
      if (m0 >= m1) { edges[0][1] = until; nedges = 1; }
      else {
        char a[24], b[24];
        snprintf(a, sizeof a, "%010lld", (long long)m0);
        snprintf(b, sizeof b, "%010lld", (long long)m1);
        sqlite3_bind_int64(st_agg_minutes, 1, p->pk);
        sqlite3_bind_text(st_agg_minutes, 2, a, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st_agg_minutes, 3, b, -1, SQLITE_TRANSIENT);
        sqlite3_step(st_agg_minutes);
        total += sqlite3_column_int64(st_agg_minutes, 0);
        sqlite3_reset(st_agg_minutes);
      }
      for (int e = 0; e < nedges; e++) {
        if (edges[e][0] >= edges[e][1]) continue;
        sqlite3_bind_int64(st_win_count, 1, p->pk);
        sqlite3_bind_int64(st_win_count, 2, edges[e][0]);
        sqlite3_bind_int64(st_win_count, 3, edges[e][1]);
        sqlite3_step(st_win_count);
        total += sqlite3_column_int64(st_win_count, 0);
        sqlite3_reset(st_win_count);
      }
    }
  }
  out_reserve(160 + pidn);
  out_len += (size_t)sprintf(out + out_len, "{\"petition\":\"%s\",\"total\":%lld,\"goal\":", p->id, (long long)total);
  if (p->has_goal) out_int(p->goal); else OUT_LIT("null");
  if (dim >= 0) {
    OUT_LIT(",\"groups\":[");
    int first = 1;
    if (use_aggregates && !windowed) {
      sqlite3_stmt *s = st_agg_groups;
      sqlite3_bind_int64(s, 1, p->pk);
      sqlite3_bind_int(s, 2, dim);
      while (sqlite3_step(s) == SQLITE_ROW) {
        if (!first) OUT_LIT(",");
        first = 0;
        OUT_LIT("{\"key\":");
        json_t *k = json_stringn((const char *)sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        out_json(k);
        json_decref(k);
        OUT_LIT(",\"count\":");
        out_int(sqlite3_column_int64(s, 1));
        OUT_LIT("}");
      }
      sqlite3_reset(s);
    } else { /* a window with groups, or no aggregates: the rows themselves */
      static const char *const exprs[] = {"signed_at/86400000", "country", "coalesce(source,'')", "postal_code"};
      char sql[256];
      snprintf(sql, sizeof sql, "SELECT %s, count(*) FROM signatures WHERE petition=?1 AND signed_at>=?2 AND "
               "signed_at<?3 GROUP BY 1 ORDER BY 1", exprs[dim]);
      sqlite3_stmt *s;
      if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) die("group query");
      sqlite3_bind_int64(s, 1, p->pk);
      sqlite3_bind_int64(s, 2, since);
      sqlite3_bind_int64(s, 3, until);
      while (sqlite3_step(s) == SQLITE_ROW) {
        if (!first) OUT_LIT(",");
        first = 0;
        OUT_LIT("{\"key\":");
        json_t *k;
        if (dim == 0) {
          char day[11];
          format_day(sqlite3_column_int64(s, 0) * 86400000, day);
          k = json_string(day);
        } else k = json_stringn((const char *)sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        out_json(k);
        json_decref(k);
        OUT_LIT(",\"count\":");
        out_int(sqlite3_column_int64(s, 1));
        OUT_LIT("}");
      }
      sqlite3_finalize(s);
    }
    OUT_LIT("]");
  }
  OUT_LIT("}");
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Streaming CSV writer: a buffer that is hashed and written when full. */
typedef struct {
  int fd;
  char buf[256 * 1024];
  size_t n;
  uint64_t bytes;
  sha256_ctx sha;
  int failed;
  char *mem; /* fd < 0: the CSV goes to memory (a page), not hashed */
  size_t mem_len, mem_cap;
} out_t;

static void out_flush(out_t *o) {
  size_t off = 0;
  if (o->fd < 0) {
    if (o->mem_len + o->n > o->mem_cap) {
      while (o->mem_len + o->n > o->mem_cap) o->mem_cap = o->mem_cap ? o->mem_cap * 2 : (1 << 20);
      o->mem = realloc(o->mem, o->mem_cap);
      if (!o->mem) die("out of memory");
    }
    memcpy(o->mem + o->mem_len, o->buf, o->n);
    o->mem_len += o->n;
    o->bytes += o->n;
    o->n = 0;
    return;
  }
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
  if (len > sizeof o->buf && o->fd >= 0) { /* never for these rows, but stay correct */
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

static void csv_row(out_t *o, sqlite3_stmt *s) {
  char sid[16], at[32];
  format_sid(sqlite3_column_int64(s, 0), sid);
  out_cell(o, sid, 15, 0);
  for (int c = 1; c <= 6; c++) /* email, first, last, postal, country, phone */
    out_cell(o, (const char *)sqlite3_column_text(s, c), (size_t)sqlite3_column_bytes(s, c), 0);
  for (int c = 7; c <= 9; c++) {
    int b = sqlite3_column_int(s, c);
    out_cell(o, b ? "true" : "false", b ? 4 : 5, 0);
  }
  out_cell(o, (const char *)sqlite3_column_text(s, 10), (size_t)sqlite3_column_bytes(s, 10), 0);
  format_ms(sqlite3_column_int64(s, 11), at);
  out_cell(o, at, 24, 1);
}

static const char CSV_HEADER[] =
    "signatureId,email,firstName,lastName,postalCode,country,phone,optInEmail,optInPhone,optInSms,source,signedAt\r\n";

/* One page of a contacts CSV export: {count, nextCursor, data}. */
static int export_page(const char *pid, int64_t after_at, int64_t after_id, int limit, int later, failure *f) {
  pet_t *p;
  int found = petition_lookup(pid, &p);
  if (found < 0) return fail_code(f, -32000, "Store unavailable: %s", sqlite3_errmsg(db));
  if (!found) return fail_code(f, 1001, "Petition not found: %s", pid);
  static sqlite3_stmt *st_page;
  if (!st_page)
    st_page = prep("SELECT id,email,first_name,last_name,postal_code,country,phone,email_ok,phone_ok,"
                   "sms_ok,source,signed_at FROM signatures"
                   " WHERE petition=?1 AND (email_ok OR phone_ok OR sms_ok) AND (signed_at,id)>(?2,?3)"
                   " ORDER BY signed_at, id LIMIT ?4");
  out_t *o = &export_out;
  o->fd = -1, o->n = 0, o->bytes = 0, o->failed = 0, o->mem_len = 0;
  if (!later) out_put(o, CSV_HEADER, sizeof CSV_HEADER - 1);
  sqlite3_bind_int64(st_page, 1, p->pk);
  sqlite3_bind_int64(st_page, 2, after_at);
  sqlite3_bind_int64(st_page, 3, after_id);
  sqlite3_bind_int(st_page, 4, limit + 1);
  int rows = 0, rc;
  int64_t last_at = 0, last_id = 0;
  while ((rc = sqlite3_step(st_page)) == SQLITE_ROW) {
    if (rows == limit) break; /* there is a next page */
    csv_row(o, st_page);
    last_id = sqlite3_column_int64(st_page, 0);
    last_at = sqlite3_column_int64(st_page, 11);
    rows++;
  }
  sqlite3_reset(st_page);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail_code(f, -32000, "Store unavailable: %s", sqlite3_errmsg(db));
  out_flush(o);
  out_reserve(96);
  out_len += (size_t)sprintf(out + out_len, "{\"count\":%d,\"nextCursor\":", rows);
  if (rc == SQLITE_ROW) {
    char plain[64], sid[16];
    format_sid(last_id, sid);
    int n = snprintf(plain, sizeof plain, "%lld/%s", (long long)last_at, sid);
    out_reserve(2 * (size_t)n + 2);
    out[out_len++] = '"';
    for (int i = 0; i < n; i++) out_len += (size_t)sprintf(out + out_len, "%02x", (unsigned char)plain[i]);
    out[out_len++] = '"';
  } else OUT_LIT("null");
  OUT_LIT(",\"data\":");
  out_json_string(o->mem, o->mem_len);
  OUT_LIT("}");
  if (o->mem_cap > (8u << 20)) { free(o->mem); o->mem = NULL; o->mem_cap = 0; }
  return 1;
}

static int m_export(json_t *params, failure *f) {
  static const char *const keys[] = {"petition", "audience", "format", "path", "overwrite", "cursor", "limit", NULL};
  const char *pid = NULL, *audience = NULL, *format = NULL, *path = NULL;
  size_t pidn = 0, an = 0, fn = 0, pathn = 0;
  if (str_member(params, "", "petition", 1, f, &pid, &pidn) > 0 && !valid_petition_id(pid, pidn))
    issue(f, "", "petition", ERR_PETITION_ID);
  if (str_member(params, "", "audience", 1, f, &audience, &an) > 0 && strcmp(audience, "contacts"))
    issue(f, "", "audience", "only \"contacts\" in the reference");
  if (str_member(params, "", "format", 1, f, &format, &fn) > 0 && strcmp(format, "csv"))
    issue(f, "", "format", "only \"csv\" in the reference");
  if (str_member(params, "", "path", 0, f, &path, &pathn) > 0 && !pathn) issue(f, "", "path", "must not be empty");
  const char *cursor = NULL;
  size_t cursorn = 0;
  int64_t after_at = INT64_MIN, after_id = 0;
  if (str_member(params, "", "cursor", 0, f, &cursor, &cursorn) > 0) {
    /* The server's cursor: hex of "<signedAt ms>/<signatureId>". */
    char plain[128];
    size_t k = 0;
    int ok = cursorn % 2 == 0 && cursorn / 2 < sizeof plain;
    for (size_t i = 0; ok && i < cursorn; i += 2) {
      unsigned v;
      ok = sscanf(cursor + i, "%2x", &v) == 1;
      plain[k++] = (char)v;
    }
    plain[ok ? k : 0] = 0;
    char *slash = ok ? strchr(plain, '/') : NULL;
    if (slash && !strncmp(slash + 1, "sig_", 4)) {
      after_at = strtoll(plain, NULL, 10);
      for (const char *q = slash + 5; *q; q++) after_id = after_id * 36 + (*q <= '9' ? *q - '0' : *q - 'a' + 10);
    } else issue(f, "", "cursor", "is not a cursor of this export");
  }
  json_t *lim = json_object_get(params, "limit");
  json_int_t limit = 1000;
  if (lim && !json_is_null(lim)) {
    if (!json_is_integer(lim)) issue(f, "", "limit", "must be an integer");
    else if ((limit = json_integer_value(lim)) < 1 || limit > 10000) issue(f, "", "limit", "must be from 1 to 10000");
  }
  json_t *ow = json_object_get(params, "overwrite");
  if (ow && !json_is_null(ow) && !json_is_boolean(ow)) issue(f, "", "overwrite", "must be true or false");
  reject_unknown(params, "", keys, f);
  if (f->n) return 0;
  int overwrite = json_is_true(ow);
  struct stat stt;
  answer_pending_writes();
  if (!path) return export_page(pid, after_at, after_id, (int)limit, cursor != NULL, f);
  if (!overwrite && lstat(path, &stt) == 0) return fail_code(f, 1004, "Export path already exists: %s", path);

  pet_t *p;
  int found = petition_lookup(pid, &p);
  if (found < 0) return fail_code(f, -32000, "Store unavailable: %s", sqlite3_errmsg(db));
  if (!found) return fail_code(f, 1001, "Petition not found: %s", pid);
  if (in_txn && !flush_pending()) die("flush");

  size_t plen = strlen(path);
  char *tmp = malloc(plen + 32);
  snprintf(tmp, plen + 32, "%s.tmp-%ld", path, (long)getpid());
  out_t *o = &export_out;
  o->fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (o->fd < 0) { free(tmp); return fail_code(f, 1004, "Export path cannot be written: %s", path); }
  o->n = 0; o->bytes = 0; o->failed = 0;
  sha256_init(&o->sha);
  out_put(o, CSV_HEADER, sizeof CSV_HEADER - 1);

  sqlite3_int64 rows = 0;
  int rc;
  sqlite3_stmt *s = st_export;
  sqlite3_bind_int64(s, 1, p->pk);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    csv_row(o, s);
    rows++;
  }
  sqlite3_reset(s);
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
  if (!ok) {
    if (rc != SQLITE_DONE) return fail_code(f, -32000, "Store unavailable: %s", sqlite3_errmsg(db));
    return fail_code(f, 1004, "Export path cannot be written: %s", path);
  }
  char hex[65];
  sha256_hex(&o->sha, hex);
  json_t *r = json_pack("{s:s,s:I,s:I,s:s}", "path", path, "count", (json_int_t)rows, "bytes", (json_int_t)o->bytes,
                        "sha256", hex);
  out_json(r);
  json_decref(r);
  return 1;
}

/* One request object (a line, or an element of a batch): its answer into the output buffer.
 * Returns 1 when something was written (notifications get nothing). */
static int handle(json_t *req) {
  if (!json_is_object(req)) { out_error(NULL, -32600, "Invalid Request: not a request object", NULL); return 1; }
  json_t *id = json_object_get(req, "id");
  json_t *method = json_object_get(req, "method");
  json_t *version = json_object_get(req, "jsonrpc");
  json_t *params = json_object_get(req, "params");
  if (id && !(json_is_string(id) || json_is_number(id) || json_is_null(id))) {
    out_error(NULL, -32600, "Invalid Request: id must be a string, a number or null", NULL);
    return 1;
  }
  if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") || !json_is_string(method)) {
    out_error(id, -32600, "Invalid Request: not a JSON-RPC 2.0 request", NULL);
    return 1;
  }
  const char *m = json_string_value(method);
  int (*fn)(json_t *, failure *) = NULL;
  if (!strcmp(m, "sign")) fn = m_sign;
  else if (!strcmp(m, "count")) fn = m_count;
  else if (!strcmp(m, "petition.create")) fn = m_create;
  else if (!strcmp(m, "export")) fn = m_export;
  if (!fn) {
    if (!id) return 0; /* notifications: ignored */
    char msg[160];
    snprintf(msg, sizeof msg, "Method not found: %.100s", m);
    out_error(id, -32601, msg, NULL);
    return 1;
  }
  json_t *empty = NULL;
  if (!params || json_is_null(params) || (json_is_array(params) && json_array_size(params) == 0))
    params = empty = json_object();
  if (!json_is_object(params)) {
    if (!id) return 0;
    failure f = {0};
    issue(&f, "", "", "params must be given by name (an object)");
    f.it[0].path[0] = 0;
    out_failure(id, &f);
    return 1;
  }
  size_t mark = out_len;
  if (id) {
    OUT_LIT("{\"jsonrpc\":\"2.0\",\"id\":");
    out_id(id);
    OUT_LIT(",\"result\":");
  }
  failure f;
  f.code = 0, f.n = 0;
  int ok = fn(params, &f);
  json_decref(empty);
  if (!id) { out_len = mark; return 0; }
  if (!ok) { out_len = mark; out_failure(id, &f); return 1; }
  OUT_LIT("}");
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Group commit over NDJSON on stdin/stdout.                                                   */

static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(1, p, n);
    if (w < 0) { if (errno == EINTR) continue; exit(0); }
    p += w; n -= (size_t)w;
  }
}

void flush_out(void) {
  if (out_len) write_all(out, out_len);
  out_len = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Group commit over NDJSON on stdin/stdout, with two threads taking turns (as the server     */
/* does): the thread holding the input reads what is waiting and parses its complete lines     */
/* (jansson, into its own arena); when the store is free it takes it, lets the other thread    */
/* have the input, and serves its parsed messages as one transaction (validation, SQL, COMMIT  */
/* = fsync, answers), while the other reads and parses the next group. Each message is parsed, */
/* served and freed by one thread, and a client that sends one request at a time is served by  */
/* the thread that read it.                                                                    */

typedef struct {
  json_t *msg;       /* NULL: a line that is not JSON (error holds jansson's text) */
  char error[200];
  int too_large;
} entry_t;

/* The input, used by the thread that holds it. */
static char *buf;
static size_t buf_cap, buf_len, buf_start;
static int input_eof, skipping;

static pthread_mutex_t turns = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turned = PTHREAD_COND_INITIALIZER;
static int input_taken, store_taken, over;

/* Reads what is waiting (blocking for the first bytes when no complete line is buffered) and
 * parses complete lines into `entries`, at most MAX_GROUP requests. Returns the count. */
static size_t read_and_parse(entry_t **entries, size_t *entries_cap) {
  size_t n = 0, requests = 0;
  int first = memchr(buf + buf_start, '\n', buf_len - buf_start) == NULL;
  while (!input_eof) {
    if (!first) {
      struct pollfd pfd = {0, POLLIN, 0};
      if (buf_len - buf_start >= READ_AHEAD || poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLIN | POLLHUP))) break;
    }
    if (buf_start > 0 && buf_cap - buf_len < (64 << 10)) {
      memmove(buf, buf + buf_start, buf_len - buf_start);
      buf_len -= buf_start;
      buf_start = 0;
    }
    if (buf_cap - buf_len < (64 << 10)) { buf_cap *= 2; buf = realloc(buf, buf_cap); if (!buf) die("out of memory"); }
    size_t want = buf_cap - buf_len < READ_AHEAD ? buf_cap - buf_len : READ_AHEAD;
    ssize_t r = read(0, buf + buf_len, want);
    if (r < 0) { if (errno == EINTR) continue; input_eof = 1; break; }
    if (r == 0) { input_eof = 1; break; }
    buf_len += (size_t)r;
    first = 0;
  }
  if (input_eof && buf_len > buf_start && buf[buf_len - 1] != '\n') { /* a last line without \n */
    if (buf_len == buf_cap) { buf_cap += 1; buf = realloc(buf, buf_cap); }
    buf[buf_len++] = '\n';
  }
  for (;;) {
    char *nl = memchr(buf + buf_start, '\n', buf_len - buf_start);
    if (!nl || requests >= MAX_GROUP) break;
    char *line = buf + buf_start;
    size_t len = (size_t)(nl - line);
    buf_start += len + 1;
    if (len && line[len - 1] == '\r') len--;
    if (skipping) { skipping = 0; continue; }
    size_t k = 0;
    while (k < len && isspace((unsigned char)line[k])) k++;
    if (k == len) continue;
    if (n == *entries_cap) {
      *entries_cap = *entries_cap ? *entries_cap * 2 : 1024;
      *entries = realloc(*entries, *entries_cap * sizeof **entries);
      if (!*entries) die("out of memory");
    }
    entry_t *e = &(*entries)[n++];
    e->too_large = len > MAX_MESSAGE;
    e->msg = NULL;
    requests++;
    if (e->too_large) continue;
    json_error_t jerr;
    e->msg = json_loadb(line, len, 0, &jerr);
    if (!e->msg) snprintf(e->error, sizeof e->error, "Parse error: %s", jerr.text);
    else if (json_is_array(e->msg)) requests += json_array_size(e->msg) - 1;
  }
  /* Keep the incomplete tail; drop an over-long line without holding it whole. */
  if (buf_len - buf_start > MAX_MESSAGE + 2 && !memchr(buf + buf_start, '\n', buf_len - buf_start)) {
    if (n == *entries_cap) {
      *entries_cap = *entries_cap ? *entries_cap * 2 : 1024;
      *entries = realloc(*entries, *entries_cap * sizeof **entries);
    }
    entry_t *e = &(*entries)[n++];
    e->too_large = 1;
    e->msg = NULL;
    buf_start = buf_len = 0;
    skipping = 1;
  }
  return n;
}

/* Serves parsed messages as one group: one transaction, then all answers at once. */
static void serve(entry_t *entries, size_t n) {
  for (size_t i = 0; i < n; i++) {
    entry_t *e = &entries[i];
    json_t *msg = e->msg;
    if (e->too_large) {
      out_error(NULL, -32600, "Invalid Request: message too large", NULL);
      OUT_LIT("\n");
    } else if (!msg) {
      out_error(NULL, -32700, e->error, NULL);
      OUT_LIT("\n");
    } else if (json_is_array(msg)) {
      size_t sz = json_array_size(msg);
      if (sz == 0 || sz > 1000) {
        out_error(NULL, -32600, sz ? "Invalid Request: batch too large" : "Invalid Request: empty batch", NULL);
        OUT_LIT("\n");
      } else {
        size_t mark = out_len;
        int any = 0;
        OUT_LIT("[");
        size_t k;
        json_t *v;
        json_array_foreach(msg, k, v) {
          if (any) OUT_LIT(",");
          size_t before = out_len;
          if (handle(v)) any = 1;
          else if (any) out_len = before - 1; /* drop the comma */
        }
        if (any) OUT_LIT("]\n");
        else out_len = mark;
      }
    } else if (handle(msg)) OUT_LIT("\n");
    if (msg) json_decref(msg);
    if (!in_txn) flush_out(); /* reads only so far: answered now */
  }
  commit_group(); /* fsync, or exit before anything of the group is answered */
  flush_out();
}

static void *take_turns(void *unused) {
  (void)unused;
  entry_t *entries = NULL;
  size_t entries_cap = 0;
  for (;;) {
    pthread_mutex_lock(&turns);
    while (input_taken && !over) pthread_cond_wait(&turned, &turns);
    if (over) { pthread_mutex_unlock(&turns); break; }
    input_taken = 1;
    pthread_mutex_unlock(&turns);

    size_t n = read_and_parse(&entries, &entries_cap);
    int ended = input_eof && !memchr(buf + buf_start, '\n', buf_len - buf_start);

    pthread_mutex_lock(&turns);
    while (store_taken) pthread_cond_wait(&turned, &turns);
    store_taken = 1;
    input_taken = 0;
    if (ended) over = 1;
    pthread_cond_broadcast(&turned);
    pthread_mutex_unlock(&turns);

    serve(entries, n);

    pthread_mutex_lock(&turns);
    store_taken = 0;
    pthread_cond_broadcast(&turned);
    pthread_mutex_unlock(&turns);
    arena_reset(); /* what this thread parsed and made; answers are bytes already written */
    if (ended) break;
  }
  free(entries);
  return NULL;
}

int main(int argc, char **argv) {
  const char *path = getenv("PETITION_RPC_DB");
  if (!path) path = "petitions.sqlite3";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) path = argv[++i];
    else if (!strncmp(argv[i], "--db=", 5)) path = argv[i] + 5;
    else if (!strcmp(argv[i], "--no-aggregates")) use_aggregates = 0;
    else if (!strcmp(argv[i], "--help")) { puts("usage: reference [--db PATH] [--no-aggregates]"); return 0; }
    else if (!strcmp(argv[i], "--version")) { puts("reference (C, jansson + sqlite3)"); return 0; }
    else { fprintf(stderr, "usage: reference [--db PATH] [--no-aggregates]\n"); return 64; }
  }
  if (!strncmp(path, "postgres://", 11) || !strncmp(path, "postgresql://", 13)) {
    fprintf(stderr, "reference: PostgreSQL stores are not supported\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  open_store(path);
  json_object_seed(0);
  json_set_alloc_funcs(arena_alloc, arena_free);
  aggs = calloc(AGG_CAP, sizeof *aggs);
  agg_used = malloc(sizeof(int) * AGG_CAP);

  buf_cap = 2 << 20;
  buf = malloc(buf_cap);
  out_cap = 1 << 20;
  out = malloc(out_cap);
  if (!buf || !out) die("out of memory");
  pthread_t other;
  if (pthread_create(&other, NULL, take_turns, NULL) != 0) die("pthread_create");
  take_turns(NULL);
  pthread_join(other, NULL);
  sqlite3_close_v2(db);
  return 0;
}
