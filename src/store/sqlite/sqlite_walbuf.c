/*
 * A VFS over SQLite's default one that writes a transaction's WAL frames with one system call
 * instead of two per page (see sqlite_int.h, "WAL writes").
 *
 * SQLite appends each frame of a commit to the WAL as two writes: the 24-byte frame header,
 * then the page (sqlite.org/fileformat2.html, "WAL file format"). An agent status change
 * dirties about twenty pages, so a commit made some forty pwrite()s, an eighth of the
 * server's CPU at saturation. Here writes to a WAL file that continue the previous one are
 * gathered in memory and written as one run when the transaction's last frame is complete.
 * That moment is exact: a frame header whose "database size after commit" field (bytes 4-7)
 * is not zero marks the commit frame, and the page written right after it ends the
 * transaction. The run is written before that page's xWrite returns, so SQLite publishes the
 * commit in the WAL index (which readers trust) only after its frames are in the file, and a
 * failed write fails the transaction as it did before.
 *
 * Anything else done to the WAL file (a read, a write elsewhere, a sync, its size, a
 * truncation, a file control, closing it) writes the run first, so SQLite never sees the
 * file other than it would without this layer. Every other file (the database, journals)
 * passes straight through, except that a write over 64 KiB goes in pieces of that size: the
 * default VFS takes under 128 KiB per call, and a sub-journal that outgrows its memory
 * (SQ_SUBJOURNAL_MEM) is written to its file in one call.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sqlite_int.h"

#define WB_FRAME_HDR 24          /* WAL_FRAME_HDRSIZE */
#define WB_RUN_MAX (1024 * 1024) /* a longer run is written at once */
#define WB_CHUNK (64 * 1024)     /* the default VFS writes under 128 KiB per call */
#define WB_KEEP (256 * 1024)     /* run buffer kept allocated between transactions */

struct wb_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, allocated right after this struct */
    bool wal;
    bool commit_page; /* the last frame header written was a commit frame's */
    unsigned char *run;
    size_t len, cap;
    sqlite3_int64 off; /* file offset of run[0] */
};

static sqlite3_vfs *wb_real;
static sqlite3_vfs wb_vfs;
static atomic_ullong wb_writes, wb_frames; /* made to WAL files (for tests) */
static atomic_ullong wb_subjournals;       /* sub-journals spilled to a file (for tests) */

/* Write p[0..n) at off to the real file in pieces the default VFS takes whole: it writes
 * at most the low 17 bits of a length per call, so a longer write would come out short (and
 * be reported as a full disk). */
static int real_write(struct wb_file *f, const void *p, size_t n, sqlite3_int64 off)
{
    int rc = SQLITE_OK;
    for (size_t at = 0; at < n && rc == SQLITE_OK; at += WB_CHUNK) {
        size_t k = n - at < WB_CHUNK ? n - at : WB_CHUNK;
        rc = f->real->pMethods->xWrite(f->real, (const unsigned char *)p + at, (int)k,
                                       off + (sqlite3_int64)at);
        if (f->wal) {
            atomic_fetch_add_explicit(&wb_writes, 1, memory_order_relaxed);
        }
    }
    return rc;
}

static int wb_flush(struct wb_file *f)
{
    if (!f->len) {
        return SQLITE_OK;
    }
    int rc = real_write(f, f->run, f->len, f->off);
    f->len = 0;
    if (f->cap > WB_KEEP) {
        free(f->run);
        f->run = NULL;
        f->cap = 0;
    }
    return rc;
}

static int wb_close(sqlite3_file *pf)
{
    struct wb_file *f = (struct wb_file *)pf;
    int rc = wb_flush(f);
    free(f->run);
    f->run = NULL;
    f->cap = 0;
    int rc2 = f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *pf, void *p, int n, sqlite3_int64 off)
{
    struct wb_file *f = (struct wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, p, n, off);
}

/* Append to the run; false when it cannot grow (the caller writes through). */
static bool wb_append(struct wb_file *f, const void *p, size_t n)
{
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 64 * 1024;
        while (cap < f->len + n) {
            cap *= 2;
        }
        unsigned char *run = realloc(f->run, cap);
        if (!run) {
            return false;
        }
        f->run = run;
        f->cap = cap;
    }
    memcpy(f->run + f->len, p, n);
    f->len += n;
    return true;
}

static int wb_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off)
{
    struct wb_file *f = (struct wb_file *)pf;
    if (!f->wal) {
        return real_write(f, p, (size_t)n, off); /* a sub-journal spills in one write */
    }
    int rc;
    if (f->len && off != f->off + (sqlite3_int64)f->len && (rc = wb_flush(f)) != SQLITE_OK) {
        return rc;
    }
    /* Every write after a commit frame's header, up to the next frame header, is written at
     * once: the commit page (also if SQLite ever writes it in two parts) and anything SQLite
     * writes after it before a new transaction begins. */
    bool ends = f->commit_page && n != WB_FRAME_HDR;
    if (n == WB_FRAME_HDR) {
        const unsigned char *b = p;
        f->commit_page = (b[4] | b[5] | b[6] | b[7]) != 0;
        atomic_fetch_add_explicit(&wb_frames, 1, memory_order_relaxed);
    }
    if (!f->len) {
        f->off = off;
    }
    if (!wb_append(f, p, (size_t)n)) {
        if ((rc = wb_flush(f)) != SQLITE_OK) {
            return rc;
        }
        return real_write(f, p, (size_t)n, off);
    }
    if (ends || f->len >= WB_RUN_MAX) {
        return wb_flush(f);
    }
    return SQLITE_OK;
}

static int wb_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    struct wb_file *f = (struct wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *pf, int flags)
{
    struct wb_file *f = (struct wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    struct wb_file *f = (struct wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wb_lock(sqlite3_file *pf, int level)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xLock(f->real, level);
}

static int wb_unlock(sqlite3_file *pf, int level)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xUnlock(f->real, level);
}

static int wb_check_reserved(sqlite3_file *pf, int *out)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wb_file_control(sqlite3_file *pf, int op, void *arg)
{
    struct wb_file *f = (struct wb_file *)pf;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wb_sector_size(sqlite3_file *pf)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xSectorSize(f->real);
}

static int wb_device_characteristics(sqlite3_file *pf)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int wb_shm_map(sqlite3_file *pf, int region, int size, int extend, void volatile **out)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xShmMap(f->real, region, size, extend, out);
}

static int wb_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void wb_shm_barrier(sqlite3_file *pf)
{
    struct wb_file *f = (struct wb_file *)pf;
    f->real->pMethods->xShmBarrier(f->real);
}

static int wb_shm_unmap(sqlite3_file *pf, int delete_flag)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int wb_fetch(sqlite3_file *pf, sqlite3_int64 off, int n, void **out)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xFetch(f->real, off, n, out);
}

static int wb_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
    struct wb_file *f = (struct wb_file *)pf;
    return f->real->pMethods->xUnfetch(f->real, off, p);
}

/* One table per version of the default VFS's methods (SQLite checks iVersion before it calls
 * the shared-memory and mmap methods). */
static sqlite3_io_methods wb_methods[4];

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags, int *out_flags)
{
    (void)vfs;
    struct wb_file *f = (struct wb_file *)pf;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    int rc = wb_real->xOpen(wb_real, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || !f->real->pMethods) {
        f->base.pMethods = NULL; /* nothing to close */
        return rc;
    }
    int v = f->real->pMethods->iVersion;
    f->base.pMethods = &wb_methods[v < 1 ? 1 : v > 3 ? 3 : v];
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    if (flags & SQLITE_OPEN_SUBJOURNAL) {
        atomic_fetch_add(&wb_subjournals, 1);
    }
    return SQLITE_OK;
}

static void wb_register(void)
{
    wb_real = sqlite3_vfs_find(NULL);
    if (!wb_real) {
        return;
    }
    for (int v = 1; v <= 3; v++) {
        wb_methods[v] = (sqlite3_io_methods){
            .iVersion = v,
            .xClose = wb_close,
            .xRead = wb_read,
            .xWrite = wb_write,
            .xTruncate = wb_truncate,
            .xSync = wb_sync,
            .xFileSize = wb_file_size,
            .xLock = wb_lock,
            .xUnlock = wb_unlock,
            .xCheckReservedLock = wb_check_reserved,
            .xFileControl = wb_file_control,
            .xSectorSize = wb_sector_size,
            .xDeviceCharacteristics = wb_device_characteristics,
            .xShmMap = v >= 2 ? wb_shm_map : NULL,
            .xShmLock = v >= 2 ? wb_shm_lock : NULL,
            .xShmBarrier = v >= 2 ? wb_shm_barrier : NULL,
            .xShmUnmap = v >= 2 ? wb_shm_unmap : NULL,
            .xFetch = v >= 3 ? wb_fetch : NULL,
            .xUnfetch = v >= 3 ? wb_unfetch : NULL,
        };
    }
    /* Everything but opening a file is the default VFS's own (none of its other methods
     * depends on which sqlite3_vfs it is called through). */
    wb_vfs = *wb_real;
    wb_vfs.szOsFile = (int)sizeof(struct wb_file) + wb_real->szOsFile;
    wb_vfs.zName = SQ_WALBUF_VFS;
    wb_vfs.pNext = NULL;
    wb_vfs.xOpen = wb_open;
    if (sqlite3_vfs_register(&wb_vfs, 0) != SQLITE_OK) {
        wb_real = NULL;
    }
}

const char *sq_walbuf_vfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, wb_register);
    return wb_real ? SQ_WALBUF_VFS : NULL;
}

unsigned long long sq_walbuf_subjournal_files(void)
{
    return atomic_load(&wb_subjournals);
}

void sq_walbuf_counts(unsigned long long *writes, unsigned long long *frames)
{
    *writes = atomic_load(&wb_writes);
    *frames = atomic_load(&wb_frames);
}
