#ifndef CSQLITEWAL_H
#define CSQLITEWAL_H

#include <sqlite3.h>

// Registers, once per process, a SQLite VFS that wraps the default one and becomes the
// default, and whose WAL files gather a commit's frames into one write (see wal_buffer.c).
// Returns SQLITE_OK or SQLite's error.
int csqlitewal_register(void);


// Installs the connection's rollback hook, which drops the WAL frames a transaction wrote
// into the buffer and did not commit. Every connection opened through the VFS needs it.
int csqlitewal_watch(sqlite3 *db);

#endif
