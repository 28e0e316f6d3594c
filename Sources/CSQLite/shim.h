#ifndef PETITION_RPC_CSQLITE_SHIM_H
#define PETITION_RPC_CSQLITE_SHIM_H
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast of -1 to a function pointer, which Swift cannot import. */
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
static inline sqlite3_destructor_type csqlite_static(void) { return SQLITE_STATIC; }

/* Before SQLite initialises: no memory statistics, so no global mutex around every one of its
   allocations (~100 per sign; sqlite3_config is variadic, which Swift cannot call). Returns
   SQLITE_MISUSE, harmlessly, once SQLite is initialised. */
static inline int csqlite_disable_memory_statistics(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

#endif
