#ifndef PETITION_RPC_CPOSTGRES_H
#define PETITION_RPC_CPOSTGRES_H

// libpq's API, with libpq loaded when the PostgreSQL store is first used rather than when the
// process starts (see libpq.c).
#include <postgresql/libpq-fe.h>

/// Loads libpq (libpq.so.5) if it is not loaded yet. Returns 1 when it is available; otherwise
/// 0, with a static message in *error naming what is missing.
int petition_rpc_pq_load(const char **error);

#endif
