#ifndef CSQLITEWAL_H
#define CSQLITEWAL_H

// Registers, once per process, a SQLite VFS that wraps the default one and becomes the
// default, and whose WAL files gather a commit's frames into one write (see wal_buffer.c).
// Returns SQLITE_OK or SQLite's error.
int csqlitewal_register(void);

#endif
