// A SQLite VFS that writes a commit's WAL frames with one system call.
//
// SQLite appends each frame to the WAL with two writes (its 24-byte header, then the page)
// and syncs the file at commit: a one-at-a-time sign that changes ~11 pages made ~22 pwrite
// calls and one fdatasync, and on this machine the pwrite calls cost as much kernel time as
// the sync (4.4 us each). This VFS wraps the default one (unix) and, for WAL files only, keeps
// the frames a transaction appends in a buffer, written with one pwrite:
//   - right after the page of a commit frame (its header's "database size" field is not 0):
//     so a commit's frames are in the file before SQLite syncs (synchronous=FULL: the same
//     bytes, then the same fdatasync, as durable as before) and before it publishes them in
//     the WAL index for other connections (whatever the synchronous setting);
//   - before anything that needs the file as SQLite left it: a sync, a read, a size query, a
//     truncation, a write elsewhere, a file control, or 96 KiB gathered.
// Frames of a transaction that does not commit (written out of a small cache, then rolled
// back) are dropped, never written late over frames another connection committed since: the
// connection's rollback hook (csqlitewal_watch) and the close discard the buffer. SQLite never
// counted on those frames. The WAL header (offset 0) is written at once, as SQLite wrote it.
// A write inside the buffered range (SQLite rewriting a frame of the running transaction)
// lands in the buffer. Errors of a deferred write are returned by the call that flushed (e.g.
// SQLITE_FULL for a full disk), which fails the transaction as before.
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "CSQLiteWAL.h"

// At most this many bytes go to the wrapped file in one call: the unix VFS's pwrite path
// takes fewer than 128 KiB at a time (it masks the count with 0x1ffff, having never been asked
// for more than a page and its header); 96 KiB is 23 frames of 4 KiB pages, one write for a
// one-at-a-time sign (~11 frames), a few for a pipelined group.
enum { BUFFER_LIMIT = 96 * 1024 };

typedef struct WALFile {
  sqlite3_file base;
  sqlite3_file *real;  // the wrapped VFS's file, right after this struct
  int isWAL;
  unsigned char *buffer;
  sqlite3_int64 start;  // file offset of buffer[0]
  int length;
  int capacity;
  int commit_pending;  // a commit frame's header is buffered: flush after its page
} WALFile;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs wal_vfs;
// Two method tables, set up once: one for wrapped files of version 3 (the unix VFS's own
// files: shared memory and mmap methods present), one of version 1 for any other, so SQLite
// asks this layer for exactly what it would ask the wrapped file for.
static sqlite3_io_methods wal_methods;
static sqlite3_io_methods wal_methods_v1;

static int flush(WALFile *file) {
  if (file->length == 0) return SQLITE_OK;
  int length = file->length;
  file->length = 0;
  return file->real->pMethods->xWrite(file->real, file->buffer, length, file->start);
}

// Frames of a transaction that ended without a commit: never to be written.
static void discard(WALFile *file) {
  file->length = 0;
  file->commit_pending = 0;
}

static int wal_close(sqlite3_file *handle) {
  WALFile *file = (WALFile *)handle;
  // Every commit was written at its commit frame: what is left belongs to a transaction the
  // close rolled back.
  discard(file);
  int closed = file->real->pMethods->xClose(file->real);
  free(file->buffer);
  file->buffer = NULL;
  return closed;
}

static int wal_read(sqlite3_file *handle, void *out, int amount, sqlite3_int64 offset) {
  WALFile *file = (WALFile *)handle;
  int rc = flush(file);
  if (rc != SQLITE_OK) return rc;
  return file->real->pMethods->xRead(file->real, out, amount, offset);
}

static int buffer_write(WALFile *file, const void *data, int amount, sqlite3_int64 offset) {
  sqlite3_int64 end = file->start + file->length;
  if (file->length > 0 && offset >= file->start && offset + amount <= end) {
    memcpy(file->buffer + (offset - file->start), data, (size_t)amount);
    return SQLITE_OK;
  }
  if (file->length == 0 || offset != end || file->length + amount > BUFFER_LIMIT) {
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    if (amount > BUFFER_LIMIT) return file->real->pMethods->xWrite(file->real, data, amount, offset);
    file->start = offset;
  }
  if (file->length + amount > file->capacity) {
    int capacity = file->capacity ? file->capacity : 48 * 1024;
    while (capacity < file->length + amount) capacity *= 2;
    if (capacity > BUFFER_LIMIT) capacity = BUFFER_LIMIT;
    unsigned char *grown = realloc(file->buffer, (size_t)capacity);
    if (!grown) {
      int rc = flush(file);
      if (rc != SQLITE_OK) return rc;
      return file->real->pMethods->xWrite(file->real, data, amount, offset);
    }
    file->buffer = grown;
    file->capacity = capacity;
  }
  memcpy(file->buffer + file->length, data, (size_t)amount);
  file->length += amount;
  return SQLITE_OK;
}

// The 24-byte frame header's second field: the database size in pages after a commit, 0 in
// the frames before a transaction's last.
static int is_commit_frame_header(const void *data, int amount) {
  const unsigned char *bytes = data;
  return amount == 24 && (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

static int wal_write(sqlite3_file *handle, const void *data, int amount, sqlite3_int64 offset) {
  WALFile *file = (WALFile *)handle;
  if (!file->isWAL) return file->real->pMethods->xWrite(file->real, data, amount, offset);
  if (offset == 0) {
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xWrite(file->real, data, amount, offset);
  }
  int commit_header = is_commit_frame_header(data, amount);
  int rc = buffer_write(file, data, amount, offset);
  if (rc != SQLITE_OK) {
    discard(file);
    return rc;
  }
  if (file->commit_pending && !commit_header) {
    file->commit_pending = 0;
    return flush(file);
  }
  if (commit_header) file->commit_pending = 1;
  return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *handle, sqlite3_int64 size) {
  WALFile *file = (WALFile *)handle;
  int rc = flush(file);
  if (rc != SQLITE_OK) return rc;
  return file->real->pMethods->xTruncate(file->real, size);
}

static int wal_sync(sqlite3_file *handle, int flags) {
  WALFile *file = (WALFile *)handle;
  int rc = flush(file);
  if (rc != SQLITE_OK) return rc;
  return file->real->pMethods->xSync(file->real, flags);
}

static int wal_file_size(sqlite3_file *handle, sqlite3_int64 *size) {
  WALFile *file = (WALFile *)handle;
  int rc = flush(file);
  if (rc != SQLITE_OK) return rc;
  return file->real->pMethods->xFileSize(file->real, size);
}

static int wal_lock(sqlite3_file *handle, int level) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xLock(file->real, level);
}

static int wal_unlock(sqlite3_file *handle, int level) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xUnlock(file->real, level);
}

static int wal_check_reserved_lock(sqlite3_file *handle, int *out) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xCheckReservedLock(file->real, out);
}

static int wal_file_control(sqlite3_file *handle, int op, void *argument) {
  WALFile *file = (WALFile *)handle;
  int rc = flush(file);
  if (rc != SQLITE_OK) return rc;
  return file->real->pMethods->xFileControl(file->real, op, argument);
}

static int wal_sector_size(sqlite3_file *handle) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xSectorSize(file->real);
}

static int wal_device_characteristics(sqlite3_file *handle) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xDeviceCharacteristics(file->real);
}

static int wal_shm_map(sqlite3_file *handle, int region, int size, int extend, void volatile **out) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xShmMap(file->real, region, size, extend, out);
}

static int wal_shm_lock(sqlite3_file *handle, int offset, int count, int flags) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xShmLock(file->real, offset, count, flags);
}

static void wal_shm_barrier(sqlite3_file *handle) {
  WALFile *file = (WALFile *)handle;
  file->real->pMethods->xShmBarrier(file->real);
}

static int wal_shm_unmap(sqlite3_file *handle, int delete_flag) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xShmUnmap(file->real, delete_flag);
}

static int wal_fetch(sqlite3_file *handle, sqlite3_int64 offset, int amount, void **out) {
  WALFile *file = (WALFile *)handle;
  int rc = flush(file);
  if (rc != SQLITE_OK) return rc;
  return file->real->pMethods->xFetch(file->real, offset, amount, out);
}

static int wal_unfetch(sqlite3_file *handle, sqlite3_int64 offset, void *page) {
  WALFile *file = (WALFile *)handle;
  return file->real->pMethods->xUnfetch(file->real, offset, page);
}

static int wal_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *handle, int flags, int *out_flags) {
  (void)vfs;
  WALFile *file = (WALFile *)handle;
  memset(file, 0, sizeof *file);
  file->real = (sqlite3_file *)&file[1];
  int rc = real_vfs->xOpen(real_vfs, name, file->real, flags, out_flags);
  if (rc != SQLITE_OK || file->real->pMethods == NULL) {
    if (file->real->pMethods) file->real->pMethods->xClose(file->real);
    file->base.pMethods = NULL;
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  file->isWAL = (flags & SQLITE_OPEN_WAL) != 0;
  const sqlite3_io_methods *real = file->real->pMethods;
  int complete = real->iVersion >= 3 && real->xShmMap && real->xShmLock && real->xShmBarrier && real->xShmUnmap &&
                 real->xFetch && real->xUnfetch;
  file->base.pMethods = complete ? &wal_methods : &wal_methods_v1;
  return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs;
  return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  (void)vfs;
  return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
  (void)vfs;
  return real_vfs->xFullPathname(real_vfs, name, size, out);
}
static void *vfs_dl_open(sqlite3_vfs *vfs, const char *name) {
  (void)vfs;
  return real_vfs->xDlOpen(real_vfs, name);
}
static void vfs_dl_error(sqlite3_vfs *vfs, int size, char *out) {
  (void)vfs;
  real_vfs->xDlError(real_vfs, size, out);
}
static void (*vfs_dl_sym(sqlite3_vfs *vfs, void *library, const char *symbol))(void) {
  (void)vfs;
  return real_vfs->xDlSym(real_vfs, library, symbol);
}
static void vfs_dl_close(sqlite3_vfs *vfs, void *library) {
  (void)vfs;
  real_vfs->xDlClose(real_vfs, library);
}
static int vfs_randomness(sqlite3_vfs *vfs, int size, char *out) {
  (void)vfs;
  return real_vfs->xRandomness(real_vfs, size, out);
}
static int vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
  (void)vfs;
  return real_vfs->xSleep(real_vfs, microseconds);
}
static int vfs_current_time(sqlite3_vfs *vfs, double *out) {
  (void)vfs;
  return real_vfs->xCurrentTime(real_vfs, out);
}
static int vfs_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
  (void)vfs;
  return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, size, out) : 0;
}
static int vfs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
  (void)vfs;
  return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void on_rollback(void *argument) {
  sqlite3 *db = argument;
  sqlite3_file *journal = NULL;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &journal) != SQLITE_OK || !journal) return;
  if (journal->pMethods != &wal_methods && journal->pMethods != &wal_methods_v1) return;
  WALFile *file = (WALFile *)journal;
  if (file->isWAL) discard(file);
}

int csqlitewal_watch(sqlite3 *db) {
  sqlite3_rollback_hook(db, on_rollback, db);
  return SQLITE_OK;
}

int csqlitewal_register(void) {
  if (real_vfs) return SQLITE_OK;
  sqlite3_vfs *found = sqlite3_vfs_find(NULL);
  if (!found) return SQLITE_ERROR;
  if (found->iVersion < 2 || !found->xCurrentTimeInt64) return SQLITE_ERROR;
  real_vfs = found;

  wal_methods = (sqlite3_io_methods){
      .iVersion = 3,
      .xClose = wal_close,
      .xRead = wal_read,
      .xWrite = wal_write,
      .xTruncate = wal_truncate,
      .xSync = wal_sync,
      .xFileSize = wal_file_size,
      .xLock = wal_lock,
      .xUnlock = wal_unlock,
      .xCheckReservedLock = wal_check_reserved_lock,
      .xFileControl = wal_file_control,
      .xSectorSize = wal_sector_size,
      .xDeviceCharacteristics = wal_device_characteristics,
      .xShmMap = wal_shm_map,
      .xShmLock = wal_shm_lock,
      .xShmBarrier = wal_shm_barrier,
      .xShmUnmap = wal_shm_unmap,
      .xFetch = wal_fetch,
      .xUnfetch = wal_unfetch,
  };
  wal_methods_v1 = wal_methods;
  wal_methods_v1.iVersion = 1;
  wal_vfs = (sqlite3_vfs){
      .iVersion = 2,
      .szOsFile = (int)sizeof(WALFile) + found->szOsFile,
      .mxPathname = found->mxPathname,
      .zName = "petition-rpc-wal",
      .xOpen = wal_open,
      .xDelete = vfs_delete,
      .xAccess = vfs_access,
      .xFullPathname = vfs_full_pathname,
      .xDlOpen = vfs_dl_open,
      .xDlError = vfs_dl_error,
      .xDlSym = vfs_dl_sym,
      .xDlClose = vfs_dl_close,
      .xRandomness = vfs_randomness,
      .xSleep = vfs_sleep,
      .xCurrentTime = vfs_current_time,
      .xGetLastError = vfs_get_last_error,
      .xCurrentTimeInt64 = vfs_current_time_int64,
  };
  return sqlite3_vfs_register(&wal_vfs, 1);
}
