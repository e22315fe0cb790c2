/*
 * Checkpoints off the writer (a file database only).
 *
 * SQLite's default: the connection that commits copies the WAL back into the database file
 * once the WAL holds 1,000 pages, inside its COMMIT, and waits there for two fdatasyncs (the
 * WAL, then the database file). Here that was the writer, holding write_mu: at 16 concurrent
 * status changes it blocked in those syncs about 7 % of the time, while every writer waited.
 *
 * So the writer's WAL hook (which replaces the automatic checkpoint) only wakes a thread with
 * a connection of its own each time another SQ_CKPT_PAGES pages have been appended since its
 * last checkpoint, and that thread runs a PASSIVE checkpoint: it copies what no reader still
 * needs, takes no lock a writer waits for, and syncs as SQLite always does (the WAL before it
 * overwrites the database file, the database file before the WAL may be reused).
 *
 * The WAL starts again from its beginning only when a write transaction begins with every
 * frame copied, which a writer that commits back to back hardly ever finds while another
 * thread copies. So once the WAL holds SQ_CKPT_INLINE pages the writer checkpoints in its
 * COMMIT as before; the thread has copied all but its last SQ_CKPT_PAGES or so by then, and
 * the WAL restarts at the next write. The WAL is thus bounded (about SQ_CKPT_INLINE pages
 * while a reader does not hold an old snapshot for long, as without this thread).
 */
#include "store/sqlite/sqlite_int.h"

#include <pthread.h>
#include <string.h>

#include "base/log.h"

static void ckpt_run(struct sq_ckpt *k)
{
    int nlog = 0, ncopied = 0;
    int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied);
    pthread_mutex_lock(&k->mu);
    if (rc == SQLITE_OK) {
        k->runs++;
        k->copied = ncopied > 0 ? (unsigned)ncopied : 0;
    } else if (rc != SQLITE_BUSY) { /* busy: the writer's own checkpoint is running */
        k->failures++;
        if (k->failures == 1 || k->failures % 1000 == 0) {
            log_warn("sqlite: checkpoint failed: %s (%llu so far)", sqlite3_errmsg(k->db),
                     (unsigned long long)k->failures);
        }
    }
    pthread_mutex_unlock(&k->mu);
}

static void *ckpt_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sb-checkpoint");
    struct sq_ckpt *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        if (!k->want) {
            pthread_cond_wait(&k->cv, &k->mu);
            continue;
        }
        k->want = false;
        pthread_mutex_unlock(&k->mu);
        ckpt_run(k);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* After each COMMIT on the writer (write_mu held), with the WAL's size in pages. */
static int ckpt_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sq_ckpt *k = arg;
    unsigned n = pages > 0 ? (unsigned)pages : 0;
    pthread_mutex_lock(&k->mu);
    bool own = n >= k->inline_pages;
    if (n > k->most) {
        k->most = n;
    }
    if (n < k->copied) {
        k->copied = 0; /* the WAL started again from its beginning */
    }
    bool wake = !own && n - k->copied >= k->pages && !k->want;
    if (wake) {
        k->want = true;
    }
    pthread_mutex_unlock(&k->mu);
    if (wake) {
        pthread_cond_signal(&k->cv); /* after the unlock: no second wake-up of the thread */
    }
    if (own) {
        /* Busy while the thread's checkpoint runs: the next COMMIT tries again. */
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&k->mu);
        if (rc == SQLITE_OK) {
            k->inline_runs++;
            k->copied = 0; /* the WAL restarts at the next write */
        }
        pthread_mutex_unlock(&k->mu);
    }
    return SQLITE_OK; /* a failed checkpoint does not fail the COMMIT (as SQLite's own) */
}

int sq_ckpt_start(struct sq_ckpt *k, sqlite3 *writer, const char *path)
{
    memset(k, 0, sizeof(*k));
    k->pages = SQ_CKPT_PAGES;
    k->inline_pages = SQ_CKPT_INLINE;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &k->db, flags, NULL);
    if (rc == SQLITE_OK) {
        /* Reading the schema opens the WAL on this connection (a checkpoint needs it). */
        rc = sqlite3_exec(k->db, "PRAGMA synchronous = NORMAL; SELECT count(*) FROM sqlite_schema",
                          NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot open %s for checkpoints: %s", path,
                  k->db ? sqlite3_errmsg(k->db) : sqlite3_errstr(rc));
        sq_ckpt_stop(k);
        return -1;
    }
    if (pthread_create(&k->thread, NULL, ckpt_main, k) != 0) {
        log_error("sqlite: cannot start the checkpoint thread");
        sq_ckpt_stop(k);
        return -1;
    }
    k->started = true;
    sqlite3_wal_hook(writer, ckpt_wal_hook, k);
    return 0;
}

void sq_ckpt_stop(struct sq_ckpt *k)
{
    if (k->started) {
        pthread_mutex_lock(&k->mu);
        k->stop = true;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->thread, NULL);
        k->started = false;
    }
    if (k->db) {
        sqlite3_close(k->db);
        k->db = NULL;
    }
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
}
