// libpq, loaded on first use.
//
// Linking libpq makes every process load it and the ~20 libraries it needs (TLS, Kerberos,
// LDAP, SASL...) before main: measured on this machine, +4.0 ms of CPU for each start of a
// program that never talks to PostgreSQL (0.65 -> 4.66 ms for an empty C program linked as the
// server is). Most starts use the embedded SQLite store, so the PostgreSQL store loads libpq
// with dlopen when it first connects. Each function of libpq the store uses is defined here
// under its own name, and forwards to libpq's, found once with dlsym; the Swift code calls
// libpq exactly as if it were linked.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "CPostgres.h"

// The handle of libpq once loaded. Only ever read and written atomically: the first
// connections of several threads may load it at once (dlopen gives each the same handle).
static void *libpq_handle;

static void *libpq(const char **error) {
  void *handle = __atomic_load_n(&libpq_handle, __ATOMIC_ACQUIRE);
  if (handle) return handle;
  handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    if (error) *error = "libpq (libpq.so.5, Debian package libpq5) cannot be loaded";
    return NULL;
  }
  __atomic_store_n(&libpq_handle, handle, __ATOMIC_RELEASE);
  return handle;
}

int petition_rpc_pq_load(const char **error) { return libpq(error) != NULL; }

// Called only after petition_rpc_pq_load succeeded (a connection exists); a libpq without the
// function is older than this program supports, which no request can recover from.
static void *libpq_symbol(const char *name) {
  const char *error = NULL;
  void *handle = libpq(&error);
  if (!handle) {
    fprintf(stderr, "petition-rpc: %s\n", error);
    abort();
  }
  void *symbol = dlsym(handle, name);
  if (!symbol) {
    fprintf(stderr, "petition-rpc: the installed libpq has no %s (libpq 14 or later is needed)\n", name);
    abort();
  }
  return symbol;
}

#define FORWARD(ret, name, params, args)                                      \
  ret name params {                                                           \
    static ret(*function) params;                                             \
    ret(*f) params = __atomic_load_n(&function, __ATOMIC_ACQUIRE);            \
    if (!f) {                                                                 \
      f = (ret(*) params)libpq_symbol(#name);                                 \
      __atomic_store_n(&function, f, __ATOMIC_RELEASE);                       \
    }                                                                         \
    return f args;                                                            \
  }

#define FORWARD_VOID(name, params, args)                                      \
  void name params {                                                          \
    static void(*function) params;                                            \
    void(*f) params = __atomic_load_n(&function, __ATOMIC_ACQUIRE);           \
    if (!f) {                                                                 \
      f = (void(*) params)libpq_symbol(#name);                                \
      __atomic_store_n(&function, f, __ATOMIC_RELEASE);                       \
    }                                                                         \
    f args;                                                                   \
  }

// Connections.
FORWARD(PGconn *, PQconnectdb, (const char *conninfo), (conninfo))
FORWARD(PGconn *, PQconnectdbParams,
        (const char *const *keywords, const char *const *values, int expand_dbname),
        (keywords, values, expand_dbname))
FORWARD_VOID(PQfinish, (PGconn *conn), (conn))
FORWARD_VOID(PQreset, (PGconn *conn), (conn))
FORWARD(ConnStatusType, PQstatus, (const PGconn *conn), (conn))
FORWARD(PGTransactionStatusType, PQtransactionStatus, (const PGconn *conn), (conn))
FORWARD(char *, PQerrorMessage, (const PGconn *conn), (conn))
FORWARD(int, PQbackendPID, (const PGconn *conn), (conn))
FORWARD(int, PQsocket, (const PGconn *conn), (conn))
FORWARD(int, PQserverVersion, (const PGconn *conn), (conn))
FORWARD(const char *, PQparameterStatus, (const PGconn *conn, const char *paramName), (conn, paramName))
FORWARD(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn *conn, PQnoticeProcessor proc, void *arg),
        (conn, proc, arg))

// Commands, one round trip each.
FORWARD(PGresult *, PQexec, (PGconn *conn, const char *query), (conn, query))
FORWARD(PGresult *, PQexecParams,
        (PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues,
         const int *paramLengths, const int *paramFormats, int resultFormat),
        (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))
FORWARD(PGresult *, PQprepare,
        (PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes),
        (conn, stmtName, query, nParams, paramTypes))
FORWARD(PGresult *, PQexecPrepared,
        (PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues, const int *paramLengths,
         const int *paramFormats, int resultFormat),
        (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat))

// Asynchronous commands and pipeline mode.
FORWARD(int, PQsendQuery, (PGconn *conn, const char *query), (conn, query))
FORWARD(int, PQsendQueryParams,
        (PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues,
         const int *paramLengths, const int *paramFormats, int resultFormat),
        (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))
FORWARD(int, PQsendPrepare,
        (PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes),
        (conn, stmtName, query, nParams, paramTypes))
FORWARD(int, PQsendQueryPrepared,
        (PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues, const int *paramLengths,
         const int *paramFormats, int resultFormat),
        (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat))
FORWARD(int, PQsetSingleRowMode, (PGconn *conn), (conn))
FORWARD(PGresult *, PQgetResult, (PGconn *conn), (conn))
FORWARD(int, PQisBusy, (PGconn *conn), (conn))
FORWARD(int, PQconsumeInput, (PGconn *conn), (conn))
FORWARD(PGcancel *, PQgetCancel, (PGconn *conn), (conn))
FORWARD_VOID(PQfreeCancel, (PGcancel *cancel), (cancel))
FORWARD(int, PQcancel, (PGcancel *cancel, char *errbuf, int errbufsize), (cancel, errbuf, errbufsize))
FORWARD(PGpipelineStatus, PQpipelineStatus, (const PGconn *conn), (conn))
FORWARD(int, PQenterPipelineMode, (PGconn *conn), (conn))
FORWARD(int, PQexitPipelineMode, (PGconn *conn), (conn))
FORWARD(int, PQpipelineSync, (PGconn *conn), (conn))
FORWARD(int, PQsendFlushRequest, (PGconn *conn), (conn))
FORWARD(int, PQsetnonblocking, (PGconn *conn, int arg), (conn, arg))
FORWARD(int, PQflush, (PGconn *conn), (conn))

// Results.
FORWARD(ExecStatusType, PQresultStatus, (const PGresult *res), (res))
FORWARD(char *, PQresultErrorMessage, (const PGresult *res), (res))
FORWARD(char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode))
FORWARD(int, PQntuples, (const PGresult *res), (res))
FORWARD(int, PQnfields, (const PGresult *res), (res))
FORWARD(char *, PQfname, (const PGresult *res, int field_num), (res, field_num))
FORWARD(char *, PQcmdTuples, (PGresult *res), (res))
FORWARD(char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))
FORWARD(int, PQgetlength, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))
FORWARD(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))
FORWARD_VOID(PQclear, (PGresult *res), (res))
FORWARD_VOID(PQfreemem, (void *ptr), (ptr))

// COPY and escaping.
FORWARD(int, PQputCopyData, (PGconn *conn, const char *buffer, int nbytes), (conn, buffer, nbytes))
FORWARD(int, PQputCopyEnd, (PGconn *conn, const char *errormsg), (conn, errormsg))
FORWARD(int, PQgetCopyData, (PGconn *conn, char **buffer, int async), (conn, buffer, async))
FORWARD(char *, PQescapeLiteral, (PGconn *conn, const char *str, size_t len), (conn, str, len))
FORWARD(char *, PQescapeIdentifier, (PGconn *conn, const char *str, size_t len), (conn, str, len))
