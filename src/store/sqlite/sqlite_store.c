/*
 * The SQLite backend: opening connections, the statement cache, transactions, migrations and
 * the ops table (see sqlite_int.h for the connection model).
 *
 * A file database runs in WAL mode, durable by default (every commit group is on disk before
 * its writers are answered: an acknowledged write survives a power loss; "Durability" below)
 * or, with store_options.sqlite_sync_normal, synchronous=NORMAL alone (durable across a crash
 * of the process, up to the last checkpoint on power loss, never corrupt), foreign keys on,
 * and a busy timeout so that another process (switchboard migrate, sqlite3) only delays us.
 * Reader connections are query_only. A read transaction checks out a reader and runs a
 * deferred BEGIN, whose snapshot starts at its first statement (store_tx_head_seq is usually
 * that statement).
 *
 * Group commit. A write transaction holds write_mu from its begin to its commit or rollback,
 * as before, but on a file database it is a logical transaction: SAVEPOINT sb_tx inside a
 * physical transaction (the group) that BEGIN IMMEDIATE opened for an earlier writer or for
 * this one. Its commit RELEASEs the savepoint and leaves write_mu; its rollback rolls back to
 * the savepoint, undoing only its own work. Whoever leaves write_mu ends the group (one
 * COMMIT, one WAL write for all its members) unless another writer is already waiting for
 * write_mu to join it and the group is within its bounds (GROUP_MAX_TX members, GROUP_MAX_MS
 * old); the last writer of a burst therefore commits for everyone before it. A member's
 * store_tx_commit returns only when its group ended, with the group's outcome: 0 after the
 * COMMIT, an error when the COMMIT failed or SQLite rolled the whole transaction back (then
 * no member's work is in the database). So an acknowledged write is always committed, and
 * the commit hook (the hub's wake-up) runs only after the COMMIT that holds the change.
 *
 * Members see the work of the members before them (one connection, one transaction), which
 * keeps versions, the audit chain and `changes.seq` exactly as serial transactions would: a
 * member that read another's uncommitted row is in the same group, so both commit or
 * neither does. Threads that take write_mu for other work (migrations, :memory: reads) end
 * an open group first. ":memory:" does not group: there is no disk write to share.
 *
 * Deferred commits (store_defer_begin/end: the API's writer lane). One thread takes write_mu
 * for a whole batch of logical transactions; each commit RELEASEs into the group and returns
 * at once, and sq_defer_end ends the group and returns its outcome. So a batch needs no
 * hand-over of write_mu and no wake-up per transaction, and the lane answers its callers only
 * after the COMMIT, like every other member.
 *
 * Durability. With synchronous=FULL, SQLite calls fdatasync() inside COMMIT, holding the
 * writer: no group could run while the previous one waited for the disk (about a millisecond
 * here), so at 16 concurrent writers groups formed in two alternating halves and the disk's
 * latency, not the CPU, bounded the rate. So by default the writer runs synchronous=NORMAL
 * (the WAL is written at COMMIT but not synced; SQLite still syncs around checkpoints) and
 * the store syncs the WAL itself, after the COMMIT and outside write_mu: sq_sync(upto) returns
 * once an fdatasync() that began after COMMIT number `upto` ended has completed, and one
 * fdatasync serves every COMMIT before it (the next group runs meanwhile); the writer starts
 * the kernel's writeback of the new WAL pages right after its COMMIT (sync_file_range), so
 * that fdatasync finds them on their way. Every writer is
 * answered only after that: a member of a group after its COMMIT (group_commit), the lane's
 * batch through store_sync. The change log is read by the hub, which hands rows to subscribers
 * and moves its cursor; sq_changes_read syncs up to every COMMIT its snapshot may contain
 * before it returns rows, so no subscriber is sent a change that a power loss could take back
 * (and whose seq a later change could then reuse). A plain read may see a committed write up
 * to one fdatasync before it is durable, as a reader does under PostgreSQL's
 * synchronous_commit = off, but a change-log head handed to a reader (a list's `seq`, a
 * join's resume point: sq_tx_head_seq on a read transaction, sq_changes_bounds) is synced
 * first too (sq_sync_seen), since a client resumes after it: had a power loss taken it back,
 * the next change would reuse its seq and that client would skip it. Every answer to a
 * writer and every event waits for the disk.
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"

int sq_err(sqlite3 *db, int rc)
{
    switch (rc) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return SB_E_CONFLICT;
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_MISMATCH:
        return SB_E_INVAL;
    case SQLITE_CONSTRAINT_TRIGGER:
        return SB_E_FORBIDDEN;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SB_E_AGAIN;
    default:
        break;
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return SB_E_INVAL;
    }
    log_error("sqlite: %s (%d)", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    return SB_E_DB;
}

int sq_prepare(struct sq_conn *c, const char *sql, sqlite3_stmt **out)
{
    for (size_t i = 0; i < c->ncache; i++) {
        if (strcmp(c->cache[i].sql, sql) == 0) {
            *out = c->cache[i].stmt;
            return 0;
        }
    }
    bool keep = c->ncache < SQ_CACHE_MAX;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return sq_err(c->db, rc);
    }
    if (keep) {
        c->cache[c->ncache].sql = xstrdup(sql);
        c->cache[c->ncache].stmt = st;
        c->ncache++;
    }
    *out = st;
    return 0;
}

void sq_done(struct sq_conn *c, sqlite3_stmt *st)
{
    if (!st) {
        return;
    }
    for (size_t i = 0; i < c->ncache; i++) {
        if (c->cache[i].stmt == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return;
        }
    }
    sqlite3_finalize(st);
}

int sq_bind(sqlite3_stmt *st, int idx, json_t *v)
{
    int rc;
    switch (json_typeof(v)) {
    case JSON_STRING:
        /* Not copied: v outlives the binding (the runner resets the statement and clears
         * its bindings before it returns, and the caller holds v until then). */
        rc = sqlite3_bind_text64(st, idx, json_string_value(v), json_string_length(v),
                                 SQLITE_STATIC, SQLITE_UTF8);
        break;
    case JSON_INTEGER:
        rc = sqlite3_bind_int64(st, idx, json_integer_value(v));
        break;
    case JSON_REAL:
        rc = sqlite3_bind_double(st, idx, json_real_value(v));
        break;
    case JSON_TRUE:
        rc = sqlite3_bind_int(st, idx, 1);
        break;
    case JSON_FALSE:
        rc = sqlite3_bind_int(st, idx, 0);
        break;
    case JSON_OBJECT:
    case JSON_ARRAY: {
        size_t len = 0;
        char *text = json_encode(v, &len); /* json_dumps(JSON_COMPACT)'s bytes, faster */
        if (!text) {
            return SB_E_NOMEM;
        }
        rc = sqlite3_bind_text64(st, idx, text, len, free, SQLITE_UTF8);
        break;
    }
    default:
        rc = sqlite3_bind_null(st, idx);
        break;
    }
    return rc == SQLITE_OK ? 0 : sq_err(sqlite3_db_handle(st), rc);
}

int sq_bind_all(sqlite3_stmt *st, json_t *args)
{
    size_t i;
    json_t *v;
    json_array_foreach(args, i, v)
    {
        int rc = sq_bind(st, (int)i + 1, v);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

json_t *sq_column(sqlite3_stmt *st, int i, enum store_coltype type)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return json_null();
    }
    switch (type) {
    case COL_INT:
        return json_integer(sqlite3_column_int64(st, i));
    case COL_BOOL:
        return json_boolean(sqlite3_column_int64(st, i) != 0);
    case COL_JSON: {
        const char *text = (const char *)sqlite3_column_text(st, i);
        json_t *v = text ? json_loadb(text, (size_t)sqlite3_column_bytes(st, i), 0, NULL) : NULL;
        return v ? v : json_null();
    }
    default: {
        const char *text = (const char *)sqlite3_column_text(st, i);
        json_t *v = text ? json_stringn(text, (size_t)sqlite3_column_bytes(st, i)) : NULL;
        return v ? v : json_null();
    }
    }
}

static int exec(struct sq_conn *c, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int err = sq_err(c->db, rc);
        if (err == SB_E_DB && msg) {
            log_error("sqlite: %s in: %.200s", msg, sql);
        }
        sqlite3_free(msg);
        return err;
    }
    return 0;
}

/* Run one statement of sql (no parameters) through the statement cache: the transaction
 * control statements run on every transaction, so they are parsed once per connection. */
static int run(struct sq_conn *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(c, sql, &st);
    if (rc < 0) {
        return rc;
    }
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sq_err(c->db, rc);
    sq_done(c, st);
    return rc;
}

static void conn_close(struct sq_conn *c)
{
    for (size_t i = 0; i < c->ncache; i++) {
        sqlite3_finalize(c->cache[i].stmt);
        free(c->cache[i].sql);
    }
    c->ncache = 0;
    sqlite3_close(c->db);
    c->db = NULL;
}

/* No global memory statistics: each of SQLite's allocations took a process-wide mutex to
 * count itself, and nothing here reads the counts. Sub-journals in memory up to
 * SQ_SUBJOURNAL_MEM (sqlite_int.h). sqlite3_config() works only before the library
 * initializes itself, which any other call (even finding a VFS) does: this runs first in
 * store_sqlite_open. */
static void sqlite_once(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, SQ_SUBJOURNAL_MEM);
}

static int conn_open(struct sq_conn *c, const char *path, const struct store_options *opt,
                     const char *vfs, const char *pragmas)
{
    memset(c, 0, sizeof(*c));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &c->db, flags, vfs);
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot open %s: %s", path, c->db ? sqlite3_errmsg(c->db) : "");
        sqlite3_close(c->db);
        c->db = NULL;
        return SB_E_DB;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, (int)opt->busy_timeout_ms);
    rc = exec(c, pragmas);
    if (rc < 0) {
        conn_close(c);
        return SB_E_DB;
    }
    return 0;
}

static void sq_free(struct store *base)
{
    struct sq_store *s = (struct sq_store *)base;
    if (s->ckpt_on) {
        sqlite3_wal_hook(s->writer.db, NULL, NULL);
        sq_ckpt_stop(&s->ckpt); /* its connection closes before the writer, the last one */
        log_info("sqlite: %llu checkpoints off the writer, %llu by the writer",
                 (unsigned long long)s->ckpt.runs, (unsigned long long)s->ckpt.inline_runs);
    }
    if (s->groups > 0) {
        log_info("sqlite: %llu write transactions committed in %llu group commits",
                 (unsigned long long)s->grouped_commits, (unsigned long long)s->groups);
    }
    for (size_t i = 0; i < s->nreaders; i++) {
        conn_close(&s->readers[i]);
    }
    free(s->readers);
    conn_close(&s->writer);
    if (s->syncs > 0) {
        log_info("sqlite: %llu fdatasyncs of the WAL", (unsigned long long)s->syncs);
    }
    if (s->wal_fd >= 0) {
        close(s->wal_fd);
    }
    if (s->wal_hint_fd >= 0) {
        close(s->wal_hint_fd);
    }
    free(s->wal_path);
    pthread_mutex_destroy(&s->sync_mu);
    pthread_cond_destroy(&s->sync_cv);
    pthread_mutex_destroy(&s->write_mu);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    pthread_mutex_destroy(&s->group_mu);
    pthread_cond_destroy(&s->group_cv);
    store_base_release(&s->base);
    free(s);
}

#define GROUP_MAX_TX 64
#define GROUP_MAX_MS 10

/* Take write_mu, counted in writers_waiting meanwhile so that its holder keeps the group
 * open for us. */
static void writer_lock(struct sq_store *s)
{
    atomic_fetch_add(&s->writers_waiting, 1);
    pthread_mutex_lock(&s->write_mu);
    atomic_fetch_sub(&s->writers_waiting, 1);
}

/* Number the COMMIT about to run (write_mu held); commit_end after it, whatever its outcome. */
static uint64_t commit_begin(struct sq_store *s)
{
    return atomic_fetch_add(&s->begun, 1) + 1;
}

static void commit_end(struct sq_store *s)
{
    pthread_mutex_lock(&s->sync_mu);
    atomic_fetch_add(&s->ended, 1);
    pthread_mutex_unlock(&s->sync_mu);
    /* sq_sync may wait for this COMMIT to end. Woken after the unlock, a waiter that runs at
     * once finds the mutex free instead of blocking on it for a second wake-up. */
    pthread_cond_broadcast(&s->sync_cv);
}

/* fdatasync the WAL (sync_mu not held). The first call opens it and syncs its directory
 * entry too, as SQLite does for a journal it created. */
static int wal_sync(struct sq_store *s)
{
    if (s->wal_fd < 0) {
        int fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log_error("sqlite: cannot open %s to sync it: %s", s->wal_path, strerror(errno));
            return SB_E_DB;
        }
        char *dir = xstrdup(s->wal_path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *(slash == dir ? slash + 1 : slash) = '\0';
        }
        int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(dir);
        if (dfd < 0 || fsync(dfd) < 0) {
            log_error("sqlite: cannot sync the directory of %s: %s", s->wal_path, strerror(errno));
            if (dfd >= 0) {
                close(dfd);
            }
            close(fd);
            return SB_E_DB;
        }
        close(dfd);
        s->wal_fd = fd;
    }
    if (fdatasync(s->wal_fd) < 0) {
        log_error("sqlite: fdatasync of %s failed: %s", s->wal_path, strerror(errno));
        return SB_E_DB;
    }
    return 0;
}

/* Have the kernel start writing the WAL's new pages now (write_mu held): the fdatasync
 * that makes this COMMIT durable begins later, on another thread, once it is scheduled, and
 * then only waits for that I/O and the device's flush. The writer's own descriptor, opened
 * at the first COMMIT; a failure only loses the head start. */
static void wal_start_writeback(struct sq_store *s)
{
    if (!s->sync_own) {
        return;
    }
    if (s->wal_hint_fd < 0) {
        s->wal_hint_fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
        if (s->wal_hint_fd < 0) {
            return;
        }
    }
    (void)sync_file_range(s->wal_hint_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int sq_sync(struct sq_store *s, uint64_t upto)
{
    if (!s->sync_own) {
        return 0;
    }
    int rc = 0;
    bool synced = false; /* this call ran an fdatasync: wake the others once it returns */
    pthread_mutex_lock(&s->sync_mu);
    while (s->synced < upto) {
        if (synced) {
            pthread_cond_broadcast(&s->sync_cv); /* ours did not cover upto: wake them now */
            synced = false;
        }
        if (s->syncing || atomic_load(&s->ended) < upto) {
            pthread_cond_wait(&s->sync_cv, &s->sync_mu);
            continue;
        }
        /* Every COMMIT ended by now has written its WAL frames: this sync covers them. */
        uint64_t covers = atomic_load(&s->ended);
        s->syncing = true;
        pthread_mutex_unlock(&s->sync_mu);
        rc = wal_sync(s);
        pthread_mutex_lock(&s->sync_mu);
        s->syncing = false;
        if (rc == 0) {
            s->syncs++;
            if (covers > s->synced) {
                s->synced = covers;
            }
        }
        synced = true;
        if (rc < 0) {
            break;
        }
    }
    pthread_mutex_unlock(&s->sync_mu);
    if (synced) {
        pthread_cond_broadcast(&s->sync_cv); /* after the unlock, as in commit_end */
    }
    return rc;
}

/*
 * End the open group (write_mu held, no logical transaction in it open): COMMIT it when rc is
 * 0 and it has members, else ROLLBACK; then hand the outcome to every member and wake them.
 * A group that SQLite already rolled back (after an I/O error, for instance) failed.
 */
static _Thread_local struct sq_store *tl_defer; /* this thread is deferring commits on it */

int sq_sync_seen(struct sq_store *s)
{
    /* The deferring thread holds back its own batch's COMMIT: it must not wait for it (and it
     * hands out no head before its batch ends). */
    return tl_defer == s ? 0 : sq_sync(s, atomic_load(&s->begun));
}

static int group_end(struct sq_store *s, int rc)
{
    if (!s->group_open) {
        return 0;
    }
    struct sq_conn *c = &s->writer;
    uint64_t commit = 0;
    if (sqlite3_get_autocommit(c->db)) {
        rc = s->group_members ? SB_E_DB : 0;
    } else if (rc == 0 && s->group_members > 0) {
        commit = commit_begin(s);
        rc = run(c, "COMMIT");
        if (rc < 0 && !sqlite3_get_autocommit(c->db)) {
            run(c, "ROLLBACK");
        }
        commit_end(s);
        if (rc == 0) {
            wal_start_writeback(s);
        }
    } else if (run(c, "ROLLBACK") < 0) {
        exec(c, "ROLLBACK");
    }
    if (rc == 0 && s->group_members > 0) {
        s->groups++;
        s->grouped_commits += s->group_members;
    }
    s->group_open = false;
    s->group_members = 0;
    pthread_mutex_lock(&s->group_mu);
    for (struct sq_waiter *w = s->group_wait; w; w = w->next) {
        w->rc = rc;
        w->commit = commit;
        w->done = true;
    }
    s->group_wait = NULL;
    pthread_cond_broadcast(&s->group_cv);
    pthread_mutex_unlock(&s->group_mu);
    if (rc < 0 && tl_defer == s && s->defer_rc == 0) {
        s->defer_rc = rc; /* deferred commits before this point are lost */
    }
    return rc;
}

/* Leave write_mu (no logical transaction open): the group ends now unless a writer waits to
 * join it and it is within its bounds. */
static void writer_unlock(struct sq_store *s)
{
    if (s->group_open &&
        (atomic_load(&s->writers_waiting) == 0 || s->group_members >= s->group_max_tx ||
         clock_mono_ms() - s->group_started_ms >= s->group_max_ms)) {
        group_end(s, 0);
    }
    pthread_mutex_unlock(&s->write_mu);
}

/* Open a logical write transaction on the writer (write_mu held): join the open group or
 * begin one, then SAVEPOINT. */
static int group_join(struct sq_store *s, struct sq_tx *tx)
{
    struct sq_conn *c = &s->writer;
    if (!s->group_open) {
        int rc = run(c, "BEGIN IMMEDIATE");
        if (rc < 0) {
            return rc;
        }
        s->group_open = true;
        s->group_started_ms = clock_mono_ms();
    }
    int rc = run(c, "SAVEPOINT sb_tx");
    tx->in_group = rc == 0;
    return rc;
}

/* Undo the logical transaction tx alone (write_mu held). When SQLite rolled back the whole
 * group meanwhile, or the undo itself fails, the group fails for every member. */
static void group_undo(struct sq_store *s, struct sq_tx *tx)
{
    struct sq_conn *c = tx->conn;
    tx->in_group = false;
    if (sqlite3_get_autocommit(c->db) || run(c, "ROLLBACK TO sb_tx") < 0 ||
        run(c, "RELEASE sb_tx") < 0) {
        group_end(s, SB_E_DB);
    }
}

int sq_tx_begin(struct store *base, bool write, struct store_tx **out)
{
    struct sq_store *s = (struct sq_store *)base;
    struct sq_tx *tx = xcalloc(1, sizeof(*tx));
    tx->base.store = base;
    tx->base.write = write;
    int rc;
    if (write && !s->memory && tl_defer == s) {
        /* write_mu is this thread's for the batch; after a failed group nothing joins. */
        tx->conn = &s->writer;
        tx->holds_writer = true;
        tx->deferred = true;
        rc = s->defer_rc < 0 ? s->defer_rc : group_join(s, tx);
    } else if (write && !s->memory) {
        writer_lock(s);
        tx->conn = &s->writer;
        tx->holds_writer = true;
        rc = group_join(s, tx);
    } else if (s->memory) {
        writer_lock(s);
        tx->conn = &s->writer;
        tx->holds_writer = true;
        rc = run(tx->conn, write ? "BEGIN IMMEDIATE" : "BEGIN");
    } else {
        pthread_mutex_lock(&s->pool_mu);
        for (;;) {
            for (size_t i = 0; i < s->nreaders && !tx->conn; i++) {
                if (!s->readers[i].in_use) {
                    tx->conn = &s->readers[i];
                }
            }
            if (tx->conn) {
                break;
            }
            pthread_cond_wait(&s->pool_cv, &s->pool_mu);
        }
        tx->conn->in_use = true;
        pthread_mutex_unlock(&s->pool_mu);
        rc = run(tx->conn, "BEGIN");
    }
    if (rc == 0 && write) {
        tx->appends_at_begin = s->appends;
    }
    if (rc < 0) {
        if (tx->holds_writer) {
            if (!tx->deferred) {
                writer_unlock(s);
            }
        } else {
            pthread_mutex_lock(&s->pool_mu);
            tx->conn->in_use = false;
            pthread_cond_signal(&s->pool_cv);
            pthread_mutex_unlock(&s->pool_mu);
        }
        free(tx);
        return rc;
    }
    *out = &tx->base;
    return 0;
}

static void tx_release(struct sq_tx *tx)
{
    struct sq_store *s = (struct sq_store *)tx->base.store;
    if (tx->holds_writer) {
        if (!tx->deferred) {
            writer_unlock(s);
        }
    } else {
        pthread_mutex_lock(&s->pool_mu);
        tx->conn->in_use = false;
        pthread_cond_signal(&s->pool_cv);
        pthread_mutex_unlock(&s->pool_mu);
    }
    free(tx);
}

void sq_tx_rollback(struct store_tx *base)
{
    struct sq_tx *tx = (struct sq_tx *)base;
    if (tx->in_group) {
        group_undo((struct sq_store *)base->store, tx);
    } else if (!sqlite3_get_autocommit(tx->conn->db) && run(tx->conn, "ROLLBACK") < 0) {
        exec(tx->conn, "ROLLBACK");
    }
    tx_release(tx);
}

/* A logical commit: RELEASE into the group, leave write_mu, wait for the group's end. */
static int group_commit(struct sq_store *s, struct sq_tx *tx)
{
    int rc = sqlite3_get_autocommit(tx->conn->db) ? SB_E_DB : run(tx->conn, "RELEASE sb_tx");
    if (rc < 0) {
        group_undo(s, tx);
        tx_release(tx);
        return rc;
    }
    tx->in_group = false;
    s->group_members++;
    if (tx->deferred) {
        s->defer_commits++;
        tx_release(tx);
        return 0; /* the outcome comes from sq_defer_end */
    }
    struct sq_waiter w = {.next = s->group_wait};
    s->group_wait = &w;
    tx_release(tx);
    pthread_mutex_lock(&s->group_mu);
    while (!w.done) {
        pthread_cond_wait(&s->group_cv, &s->group_mu);
    }
    rc = w.rc;
    pthread_mutex_unlock(&s->group_mu);
    return rc == 0 ? sq_sync(s, w.commit) : rc;
}

int sq_tx_commit(struct store_tx *base)
{
    struct sq_tx *tx = (struct sq_tx *)base;
    if (tx->in_group) {
        return group_commit((struct sq_store *)base->store, tx);
    }
    int rc = sqlite3_get_autocommit(tx->conn->db) ? SB_E_DB : run(tx->conn, "COMMIT");
    if (rc < 0 && !sqlite3_get_autocommit(tx->conn->db)) {
        run(tx->conn, "ROLLBACK");
    }
    tx_release(tx);
    return rc;
}

static bool sq_can_defer(struct store *base)
{
    return !((struct sq_store *)base)->memory;
}

static void sq_defer_begin(struct store *base)
{
    struct sq_store *s = (struct sq_store *)base;
    writer_lock(s);
    tl_defer = s;
    s->defer_commits = 0;
    s->defer_rc = 0;
}

static unsigned sq_defer_count(struct store *base)
{
    return ((struct sq_store *)base)->defer_commits;
}

static int sq_defer_end(struct store *base, uint64_t *sync_ticket)
{
    struct sq_store *s = (struct sq_store *)base;
    int rc = group_end(s, 0);
    if (s->defer_rc < 0) {
        rc = s->defer_rc;
    }
    *sync_ticket = atomic_load(&s->begun); /* every COMMIT of the batch, at most these */
    tl_defer = NULL;
    pthread_mutex_unlock(&s->write_mu);
    return rc;
}

static int sq_store_sync(struct store *base, uint64_t ticket)
{
    return sq_sync((struct sq_store *)base, ticket);
}

/* The writer's update hook (write_mu held): every row it inserts, also from a trigger. Counting
 * the change log's rows answers sq_tx_appended without reading the log's head twice per
 * transaction. A row a failed statement or a rollback took back still counts: the commit
 * hook then runs once for nothing, which only wakes its reader. */
static void on_writer_row(void *arg, int op, const char *db, const char *table, sqlite3_int64 rowid)
{
    (void)db;
    (void)rowid;
    if (op == SQLITE_INSERT && strcmp(table, "changes") == 0) {
        ((struct sq_store *)arg)->appends++;
    }
}

static bool sq_tx_appended(struct store_tx *base)
{
    struct sq_tx *tx = (struct sq_tx *)base;
    return ((struct sq_store *)base->store)->appends != tx->appends_at_begin;
}

int sq_tx_head_seq(struct store_tx *tx, int64_t *out)
{
    struct sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(c, "SELECT coalesce(max(seq), 0) FROM changes", &st);
    if (rc < 0) {
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = sq_err(c->db, rc);
    }
    sq_done(c, st);
    if (rc == 0 && !tx->write) {
        rc = sq_sync_seen((struct sq_store *)tx->store);
    }
    return rc;
}

/* Schema version as seen on c (0 before the first migration). Caller holds c. */
static int version_on(struct sq_conn *c, int *out)
{
    sqlite3_stmt *st = NULL;
    *out = 0;
    int rc = sqlite3_prepare_v2(c->db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return 0; /* no migrations table yet */
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = 0;
    } else {
        rc = sq_err(c->db, rc);
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_schema_version(struct store *base, int *out)
{
    struct store_tx *tx = NULL;
    int rc = sq_tx_begin(base, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = version_on(sq_tx_conn(tx), out);
    sq_tx_rollback(tx);
    return rc;
}

/* Count a migration in the schema cookie, as DDL does: a migration that edits table
 * definitions in place (writable_schema) would otherwise leave every open connection,
 * this one included, with the old definitions parsed. */
static int bump_schema_version(struct sq_conn *c)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA schema_version", -1, &st, NULL);
    int version = 0;
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        version = sqlite3_column_int(st, 0);
    } else {
        rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        return sq_err(c->db, rc);
    }
    char sql[48];
    snprintf(sql, sizeof(sql), "PRAGMA schema_version = %d", version + 1);
    return exec(c, sql);
}

static int sq_migrate(struct store *base)
{
    struct sq_store *s = (struct sq_store *)base;
    writer_lock(s);
    group_end(s, 0);
    struct sq_conn *c = &s->writer;
    int applied = 0;
    int rc = exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
    if (rc < 0) {
        goto out;
    }
    for (;;) {
        rc = exec(c, "BEGIN IMMEDIATE");
        if (rc < 0) {
            goto out;
        }
        int version = 0;
        rc = version_on(c, &version); /* inside the tx: another process may migrate too */
        /* Forward only, and never on a schema from a newer switchboard: its data may mean
         * things this binary does not know. */
        if (rc == 0 && version > 0 && !sqlite_migration(version)) {
            log_error("sqlite: the database schema is at version %d, newer than this "
                      "switchboard knows (%d): upgrade switchboard, or restore a backup taken "
                      "before the upgrade",
                      version, sqlite_migration_latest());
            exec(c, "ROLLBACK");
            rc = SB_E_SCHEMA;
            goto out;
        }
        const char *const *stmts = rc < 0 ? NULL : sqlite_migration(version + 1);
        if (!stmts) {
            exec(c, "ROLLBACK");
            break;
        }
        for (size_t i = 0; stmts[i] && rc == 0; i++) {
            rc = exec(c, stmts[i]);
        }
        if (rc == 0) {
            rc = bump_schema_version(c);
        }
        if (rc == 0) {
            char sql[160];
            snprintf(sql, sizeof(sql),
                     "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, "
                     "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now'))",
                     version + 1);
            rc = exec(c, sql);
        }
        if (rc == 0) {
            commit_begin(s);
            rc = exec(c, "COMMIT");
            commit_end(s);
        }
        if (rc < 0) {
            log_error("sqlite: migration %d failed", version + 1);
            if (!sqlite3_get_autocommit(c->db)) {
                exec(c, "ROLLBACK");
            }
            goto out;
        }
        applied++;
    }
    rc = applied;
out:
    writer_unlock(s);
    if (rc > 0 && sq_sync(s, atomic_load(&s->begun)) < 0) {
        rc = SB_E_DB;
    }
    return rc;
}

static int sq_ping(struct store *base)
{
    struct store_tx *tx = NULL;
    int rc = sq_tx_begin(base, false, &tx);
    if (rc < 0) {
        return SB_E_DB;
    }
    rc = exec(sq_tx_conn(tx), "SELECT 1");
    sq_tx_rollback(tx);
    return rc < 0 ? SB_E_DB : 0;
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .sees_every_commit = true,
    .sql = &sq_sql_backend,
    .free = sq_free,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .ping = sq_ping,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
    .tx_head_seq = sq_tx_head_seq,
    .tx_appended = sq_tx_appended,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .refresh_insert = sq_refresh_insert,
    .refresh_find = sq_refresh_find,
    .refresh_mark_used = sq_refresh_mark_used,
    .refresh_revoke = sq_refresh_revoke,
    .refresh_revoked_since = sq_refresh_revoked_since,
    .refresh_prune = sq_refresh_prune,
    .events_add = sq_events_add,
    .events_count = sq_events_count,
    .events_clear = sq_events_clear,
    .audit_last = sq_audit_last,
    .audit_scan = sq_audit_scan,
    .can_defer = sq_can_defer,
    .defer_begin = sq_defer_begin,
    .defer_count = sq_defer_count,
    .defer_end = sq_defer_end,
    .sync = sq_store_sync,
    .changes_read = sq_changes_read,
    .changes_bounds = sq_changes_bounds,
    .changes_prune = sq_changes_prune,
};

/*
 * The database holds the JWT signing secret and every password hash, so it must be private
 * to the server's user: a new file is created 0600 (SQLite gives its -wal and -shm files the
 * database file's mode), and a file, -wal or -shm that group or others may access is
 * refused with the command that fixes it.
 */
static int private_files(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
    }
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char name[4096];
        if ((size_t)snprintf(name, sizeof name, "%s%s", path, suffix[i]) >= sizeof name) {
            log_error("sqlite: database path too long");
            return SB_E_INVAL;
        }
        struct stat st;
        if (stat(name, &st) < 0) {
            if (errno == ENOENT) {
                continue;
            }
            log_error("sqlite: cannot stat %s: %s", name, strerror(errno));
            return SB_E_DB;
        }
        if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO))) {
            log_error("sqlite: %s is accessible to group or others (mode %03o); it holds the "
                      "signing secret and password hashes: run chmod 600 %s",
                      name, (unsigned)(st.st_mode & 0777), name);
            return SB_E_DB;
        }
    }
    return 0;
}

int store_sqlite_open(const char *path, const struct store_options *opt, struct store **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_once);
    if (strcmp(path, ":memory:") != 0) {
        int prc = private_files(path);
        if (prc < 0) {
            return prc;
        }
    }
    struct sq_store *s = xcalloc(1, sizeof(*s));
    store_base_init(&s->base, &sqlite_ops);
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    pthread_mutex_init(&s->group_mu, NULL);
    pthread_cond_init(&s->group_cv, NULL);
    atomic_init(&s->writers_waiting, 0);
    pthread_mutex_init(&s->sync_mu, NULL);
    pthread_cond_init(&s->sync_cv, NULL);
    atomic_init(&s->begun, 0);
    atomic_init(&s->ended, 0);
    s->wal_fd = -1;
    s->wal_hint_fd = -1;
    s->group_max_tx = GROUP_MAX_TX;
    s->group_max_ms = GROUP_MAX_MS;
    s->memory = strcmp(path, ":memory:") == 0;
    /* Durable (the default): the store syncs the WAL itself ("Durability" above). */
    s->sync_own = !s->memory && !opt->sqlite_sync_normal;
    if (s->sync_own) {
        size_t n = strlen(path) + sizeof("-wal");
        s->wal_path = xmalloc(n);
        snprintf(s->wal_path, n, "%s-wal", path);
    }
    int rc = conn_open(&s->writer, path, opt, s->memory ? NULL : sq_walbuf_vfs(),
                       "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
    if (rc == 0 && !s->memory) {
        rc = exec(&s->writer, "PRAGMA journal_mode = WAL");
    }
    if (rc == 0) {
        /* A large write spills SQLite's default 2 MiB page cache to the WAL before its
         * COMMIT: a bulk status change of 10,000 agents spent 13 % of its time in pwrite. The
         * cache grows only as pages are used, up to this bound (the writer only). */
        rc = exec(&s->writer, "PRAGMA cache_size = -32768"); /* KiB: 32 MiB */
    }
    if (rc == 0) {
        sqlite3_update_hook(s->writer.db, on_writer_row, s);
    }
    if (rc < 0) {
        sq_free(&s->base);
        return SB_E_DB;
    }
    if (!s->memory) {
        s->readers = xcalloc(opt->read_connections, sizeof(*s->readers));
        for (size_t i = 0; i < opt->read_connections; i++) {
            rc = conn_open(&s->readers[i], path, opt, NULL,
                           "PRAGMA foreign_keys = ON; PRAGMA query_only = ON;");
            if (rc < 0) {
                sq_free(&s->base);
                return SB_E_DB;
            }
            s->nreaders++;
        }
        s->ckpt_on = sq_ckpt_start(&s->ckpt, s->writer.db, path) == 0;
    }
    *out = &s->base;
    return 0;
}
