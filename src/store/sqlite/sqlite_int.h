/*
 * The SQLite backend's private types, shared by its files:
 *   sqlite_store.c       connections, statement cache, transactions, migrations, ops table
 *   sqlite_rows.c        the row, audit, change-log, meta and refresh-token ops
 *   sqlite_migrations.c  the schema as versioned statement lists
 *   sqlite_walbuf.c      the writer's WAL frames written in runs (a VFS over the default)
 *   sqlite_checkpoint.c  checkpoints on a thread of their own instead of in the writer's COMMIT
 *   sqlite_backup.c      online backup and restore
 *
 * Connections. A file database has one writer connection guarded by write_mu (write
 * transactions use BEGIN IMMEDIATE, so SQLite itself never has to upgrade a lock) and a pool
 * of reader connections (pool_mu + pool_cv) for read transactions, which WAL lets run
 * concurrently with the writer. "sqlite::memory:" has only the writer: every :memory:
 * connection is a separate database, so read transactions take write_mu and use it too.
 * A connection is used by one thread at a time, so connections are opened NOMUTEX.
 *
 * Group commit (file databases only; sqlite_store.c explains it): write transactions are
 * logical, each in a SAVEPOINT of one physical transaction (the group) on the writer, which
 * is committed once for many of them. The group's fields are guarded by write_mu; a member
 * waiting for the COMMIT of its group waits on its own struct sq_waiter (group_mu, group_cv).
 *
 * Each connection caches prepared statements keyed by SQL text (SQLITE_PREPARE_PERSISTENT),
 * up to SQ_CACHE_MAX; beyond that a statement is prepared for one use and finalised.
 *
 * WAL writes (sqlite_walbuf.c). The writer of a file database opens its files through a VFS
 * layered over the default one that writes each transaction's WAL frames as one run, where
 * SQLite makes two writes per page.
 */
#ifndef SB_STORE_SQLITE_INT_H
#define SB_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdatomic.h>

#include "base/buf.h"
#include "store/sql.h"
#include "store/store_int.h"

#define SQ_CACHE_MAX 96

/* A savepoint's sub-journal (the pages to restore if it rolls back) stays in memory up to
 * this size (SQLite's statement-journal spill threshold), then moves to a temporary file. In
 * memory it is one allocation of this size (touched only as far as it is written); with
 * temp_store = MEMORY it was 4 KiB pages in 1 KiB pieces, each allocated and freed once per
 * status change (about 80 allocations per change). On spilling, SQLite writes the memory to
 * the file in one call, which the WAL-gathering layer cuts in pieces (sqlite_walbuf.c). */
#define SQ_SUBJOURNAL_MEM (1024 * 1024)

/* The name of the WAL-gathering VFS, registered at the first call; NULL if it could not be
 * (the default VFS is then used). */
#define SQ_WALBUF_VFS "sb-walbuf"
const char *sq_walbuf_vfs(void);
/* The writes made to WAL files through it so far, and the frames they carried (for tests). */
void sq_walbuf_counts(unsigned long long *writes, unsigned long long *frames);
/* Sub-journals (of savepoints and statements) that outgrew SQ_SUBJOURNAL_MEM and went to a
 * temporary file, on connections through the layer (for tests). */
unsigned long long sq_walbuf_subjournal_files(void);

/* Checkpoints off the writer (sqlite_checkpoint.c): a thread copies the WAL into the database
 * file each time SQ_CKPT_PAGES more pages were appended; the writer checkpoints in its COMMIT
 * only once the WAL holds SQ_CKPT_INLINE pages (so that the WAL starts again). */
#define SQ_CKPT_PAGES 1000 /* SQLite's default automatic checkpoint */
#define SQ_CKPT_INLINE 8000
struct sq_ckpt {
    sqlite3 *db; /* its own connection (the default VFS) */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;  /* want or stop */
    bool want, stop;
    unsigned pages, inline_pages; /* SQ_CKPT_PAGES, SQ_CKPT_INLINE (tests may lower them) */
    unsigned most;                /* the most pages the WAL held after a COMMIT (tests reset it) */
    unsigned copied;              /* WAL pages copied into the database file by the last run */
    uint64_t runs;                /* checkpoints of the thread */
    uint64_t inline_runs;         /* checkpoints of the writer, past SQ_CKPT_INLINE */
    uint64_t failures;            /* of the thread's checkpoints (not counting busy) */
};
/* Open the thread's connection to path, start it and hook the writer; -1 on failure (then
 * SQLite's automatic checkpoint stays). Stop before the writer closes. */
int sq_ckpt_start(struct sq_ckpt *k, sqlite3 *writer, const char *path);
void sq_ckpt_stop(struct sq_ckpt *k);

struct sq_cached {
    char *sql;
    sqlite3_stmt *stmt;
};

struct sq_conn {
    sqlite3 *db;
    struct sq_cached cache[SQ_CACHE_MAX];
    size_t ncache;
    bool in_use; /* readers: checked out by a transaction (guarded by pool_mu) */
};

struct sq_store {
    struct store base;
    bool memory;
    struct sq_conn writer;
    pthread_mutex_t write_mu;
    struct sq_conn *readers;
    size_t nreaders;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    /* Group commit. */
    atomic_uint writers_waiting;  /* threads blocked on write_mu (any thread) */
    bool group_open;              /* BEGIN IMMEDIATE ran on the writer (write_mu) */
    size_t group_members;         /* logical transactions released into it (write_mu) */
    int64_t group_started_ms;     /* monotonic (write_mu) */
    size_t group_max_tx;          /* bounds of a group: members, */
    int64_t group_max_ms;         /* and age (set at open; tests may change them) */
    struct sq_waiter *group_wait; /* its members, waiting for its end (write_mu) */
    uint64_t appends;             /* rows the writer inserted into changes (write_mu) */
    pthread_mutex_t group_mu;     /* guards sq_waiter.done and .rc */
    pthread_cond_t group_cv;      /* a group ended */
    uint64_t groups;              /* groups committed (write_mu) */
    uint64_t grouped_commits;     /* logical commits in them (write_mu) */
    /* Deferred commits (sq_defer_begin to sq_defer_end, one thread holding write_mu): */
    unsigned defer_commits; /* logical commits released since sq_defer_begin */
    int defer_rc;           /* the first failure of a group that ended meanwhile, else 0 */
    /* Durability outside the writer lock (sqlite_sync = full on a file; sqlite_store.c,
     * "Durability"). COMMITs are numbered 1, 2, ... in the order they run. */
    bool sync_own;              /* the writer runs synchronous = NORMAL; sq_sync syncs */
    atomic_uint_fast64_t begun; /* COMMITs begun (written under write_mu) */
    atomic_uint_fast64_t ended; /* COMMITs ended, committed or not (under write_mu + sync_mu) */
    pthread_mutex_t sync_mu;    /* guards what follows */
    pthread_cond_t sync_cv;     /* a COMMIT or an fdatasync ended */
    uint64_t synced;            /* every COMMIT up to this one is on disk */
    bool syncing;               /* an fdatasync is running */
    uint64_t syncs;             /* fdatasyncs done */
    int wal_fd;                 /* the WAL, opened at the first sync; -1 before */
    int wal_hint_fd;            /* the WAL for the writer's writeback hint (write_mu) */
    char *wal_path;
    bool ckpt_on; /* ckpt runs (a file database) */
    struct sq_ckpt ckpt;
};

/* A logical transaction waiting for the end of its group (on its thread's stack). */
struct sq_waiter {
    struct sq_waiter *next;
    int rc;          /* the group's outcome: 0 committed, else the error (group_mu) */
    uint64_t commit; /* the number of the group's COMMIT, for sq_sync (group_mu) */
    bool done;       /* (group_mu) */
};

struct sq_tx {
    struct store_tx base;
    struct sq_conn *conn;
    bool holds_writer; /* write_mu is held (write tx, or any tx on :memory:) */
    bool in_group;     /* a logical write transaction: SAVEPOINT sb_tx is open */
    bool deferred;     /* begun between sq_defer_begin and sq_defer_end: write_mu is theirs */
    uint64_t appends_at_begin; /* a write tx: sq_store.appends when it began */
};

static inline struct sq_conn *sq_tx_conn(struct store_tx *tx)
{
    return ((struct sq_tx *)tx)->conn;
}

/* Prepare (or fetch from the cache) sql on c; release with sq_done. SB_E_DB on error. */
int sq_prepare(struct sq_conn *c, const char *sql, sqlite3_stmt **out);
void sq_done(struct sq_conn *c, sqlite3_stmt *st);
/* Map a SQLite result code to SB_E_*, logging unexpected ones. */
int sq_err(sqlite3 *db, int rc);
/* Bind the JSON value v at 1-based idx (objects and arrays as JSON text). A string is bound
 * without a copy: v must live until the statement is reset (sq_done). */
int sq_bind(sqlite3_stmt *st, int idx, json_t *v);
/* Bind every element of args from idx 1. */
int sq_bind_all(sqlite3_stmt *st, json_t *args);
/* Column i as a JSON value of type `type`. */
json_t *sq_column(sqlite3_stmt *st, int i, enum store_coltype type);
/* Open/close a transaction for a store-level function (changes, audit). */
int sq_tx_begin(struct store *s, bool write, struct store_tx **out);
int sq_tx_commit(struct store_tx *tx);
void sq_tx_rollback(struct store_tx *tx);
int sq_tx_head_seq(struct store_tx *tx, int64_t *out);
/* Return once every COMMIT up to number `upto` is on disk (sqlite_store.c, "Durability"):
 * 0, or SB_E_DB when fdatasync failed. At once where the store does not sync itself. */
int sq_sync(struct sq_store *s, uint64_t upto);
/* Sync every COMMIT that a snapshot taken before this call may hold (for a change-log head or
 * rows about to leave the store); 0 at once when nothing is pending. */
int sq_sync_seen(struct sq_store *s);

/* The NULL-terminated statements of migration version, or NULL past the last one. */
const char *const *sqlite_migration(int version);
/* The newest schema version this binary knows (the number of migrations). */
int sqlite_migration_latest(void);

/* sqlite_rows.c */
/* The dialect and statement runner of the shared row ops (sql.h). */
extern const struct sql_backend sq_sql_backend;
int sq_meta_get(struct store_tx *tx, const char *key, char **value_out);
int sq_meta_set(struct store_tx *tx, const char *key, const char *value);
int sq_refresh_insert(struct store_tx *tx, const char *id, const char *user_id,
                      const char *family_id, const char *token_hash, int64_t expires_at_ms,
                      int64_t now_ms);
int sq_refresh_find(struct store_tx *tx, const char *token_hash, struct store_refresh *out);
int sq_refresh_mark_used(struct store_tx *tx, const char *id, int64_t now_ms);
int sq_refresh_revoke(struct store_tx *tx, const char *column, const char *value, int64_t now_ms);
int sq_events_add(struct store_tx *tx, const char *key, int64_t now_ms, unsigned keep,
                  int64_t expires_ms);
int sq_events_count(struct store_tx *tx, const char *key, int64_t since_ms, unsigned *n,
                    int64_t *oldest_ms, int64_t *newest_ms);
int sq_events_clear(struct store_tx *tx, const char *key);
int sq_refresh_revoked_since(struct store_tx *tx, int64_t since_ms, json_t *out);
int sq_refresh_prune(struct store_tx *tx, int64_t before_ms, unsigned max);
int sq_audit_last(struct store_tx *tx, int64_t *seq, char hash[65]);
int sq_audit_scan(struct store *s, store_audit_row_cb cb, void *arg, int64_t *high_water);
int sq_changes_read(struct store *s, int64_t after_seq, size_t limit, struct store_change **out,
                    size_t *n);
int sq_changes_bounds(struct store *s, int64_t *oldest, int64_t *head);
int sq_changes_prune(struct store *s, int64_t before_ms);

#endif
