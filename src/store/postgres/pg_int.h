/*
 * The PostgreSQL backend's private types, shared by its files:
 *   pg_store.c       connection pool, statement cache, transactions, migrations, ops table
 *   pg_rows.c        the row, audit, change-log, meta and refresh-token ops
 *   pg_migrations.c  the schema as versioned statement lists
 *
 * Connections. A fixed pool of PGconn (pool_mu + pool_cv), each used by one transaction
 * (and so one thread) at a time. Write transactions also take write_mu, so one process runs
 * one writer at a time like the SQLite backend; across processes (several switchboard nodes
 * on one database) writers serialise on the row lock of `changes_counter` (pg_migrations.c
 * explains why that makes `changes.seq` gap-free and commit-ordered).
 *
 * Listener. One more connection LISTENs on switchboard_changes in a thread of its own; a
 * notification (another node's commit, or a direct SQL write; our own connections' are
 * skipped by backend pid, store.c already ran the hook for them) runs the store's commit hook,
 * so the realtime hub wakes at once instead of at its next periodic tail. The hub reads the
 * table either way, so a dropped connection or a lost notification only delays delivery.
 *
 * Bus. pg_bus.c is the cluster bus (store_bus_publish): a publisher thread with one more
 * connection sends NOTIFY switchboard_bus; the listener above also LISTENs there and hands
 * the payloads to pg_bus_receive.
 *
 * Each connection caches server-side prepared statements keyed by SQL text (PQprepare with
 * the names s0, s1, ...), up to PG_CACHE_MAX; beyond that a statement runs unnamed. All values
 * travel as text parameters whose types the server infers from the statement.
 *
 * Tenant scope. Every row function that takes a struct store_scope also sets the
 * transaction-local setting switchboard.scope to match it (pg_scope_apply), which the
 * row-level security policies of migration 2 read (pg_migrations.c). The value is cached per
 * transaction, so a transaction pays one extra round trip for each change of scope (usually
 * none, or one for a tenant principal's transaction); the unrestricted scope is the value
 * every transaction starts with and costs nothing.
 *
 * Statement atomicity. PostgreSQL aborts the whole transaction when one statement fails,
 * SQLite only the statement. Callers of the store rely on the latter (a unique violation
 * reported as SB_E_CONFLICT, then the transaction goes on), so every statement of a write
 * transaction runs inside a savepoint that is rolled back when the statement fails.
 */
#ifndef SB_STORE_PG_INT_H
#define SB_STORE_PG_INT_H

#include <libpq-fe.h>

#include "base/buf.h"
#include "store/sql.h"
#include "store/store_int.h"

#define PG_CACHE_MAX 128
#define PG_MAX_PARAMS 1200

struct pg_cached {
    char *sql;
    char name[16];
};

struct pg_conn {
    PGconn *db;
    struct pg_cached cache[PG_CACHE_MAX];
    size_t ncache;
    unsigned next_name;
    bool in_use;     /* checked out by a transaction (guarded by pool_mu) */
    int backend_pid; /* the server process (guarded by pool_mu): our own NOTIFYs */
};

struct pg_store {
    struct store base;
    char *conninfo;
    struct pg_conn *conns;
    size_t nconns;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    pthread_mutex_t write_mu;
    /* The listener (pg_store.c): its own connection LISTENing on switchboard_changes. */
    PGconn *listen_db;
    pthread_t listen_thread;
    bool listening;     /* the thread runs (join it on free) */
    int stop_pipe[2];   /* written once by pg_free to stop the thread */
    struct pg_bus *bus; /* pg_bus.c */
};

struct pg_tx {
    struct store_tx base;
    struct pg_conn *conn;
    bool write;
    bool failed; /* a statement failed outside a savepoint: only rollback remains */
    char *scope; /* switchboard.scope as this transaction set it; NULL: unset ('') */
};

static inline struct pg_tx *pg_tx(struct store_tx *tx)
{
    return (struct pg_tx *)tx;
}

/*
 * Run sql (with $1.. placeholders) on the transaction's connection with the JSON values of
 * args (an array; NULL for none) as text parameters: strings as is, integers in decimal,
 * booleans as true/false, objects and arrays as JSON text, null as SQL NULL. *res (may be
 * NULL) receives the result, to be PQclear'd. Returns the number of rows affected (or
 * returned) or an SB_E_* error mapped from the SQLSTATE.
 */
int pg_run(struct store_tx *tx, const char *sql, json_t *args, PGresult **res);
/* Map a failed result to SB_E_*, logging unexpected ones. */
int pg_err(PGconn *db, const PGresult *res);
/* Column (row, col) of res as a JSON value of type `type`. */
json_t *pg_value(const PGresult *res, int row, int col, enum store_coltype type);
/*
 * Make the transaction's switchboard.scope match scope before a statement that scope governs:
 * '' for scope->all, the client id for a tenant scope, "-" (no rows) for a scope of no
 * tenant. Issues SELECT set_config(..., true) only when the value differs from the one this
 * transaction already set. 0 or an error (the transaction is then failed).
 */
int pg_scope_apply(struct store_tx *tx, const struct store_scope *scope);
/* Transactions for store-level functions (changes, audit). */
int pg_tx_begin(struct store *s, bool write, struct store_tx **out);
int pg_tx_commit(struct store_tx *tx);
void pg_tx_rollback(struct store_tx *tx);
int pg_tx_head_seq(struct store_tx *tx, int64_t *out);

/* A connection for a thread of its own (listener, bus publisher) with TCP keepalives, so a
 * vanished server is noticed; NULL only when out of memory (check PQstatus). */
PGconn *pg_connect_aux(const char *conninfo, const char *app);

/* pg_bus.c: start and stop the publisher thread; publish and count (store ops); hand one
 * switchboard_bus payload to the bus hook (listener thread; db is the listener's connection,
 * used to read spilled messages); count a listener reconnect. */
int pg_bus_start(struct pg_store *s);
void pg_bus_stop(struct pg_store *s);
int pg_bus_publish(struct store *s, const char *msg, size_t len);
void pg_bus_stats(struct store *s, struct store_bus_stats *out);
void pg_bus_receive(struct pg_store *s, PGconn *db, const char *payload);
void pg_bus_count_reconnect(struct store *s);

/* The NULL-terminated statements of migration version, or NULL past the last one. */
const char *const *pg_migration(int version);
/* The newest schema version this binary knows (the number of migrations). */
int pg_migration_latest(void);

/* pg_rows.c */
/* The dialect and statement runner of the shared row ops (sql.h). */
extern const struct sql_backend pg_sql_backend;
int pg_meta_get(struct store_tx *tx, const char *key, char **value_out);
int pg_meta_set(struct store_tx *tx, const char *key, const char *value);
int pg_refresh_insert(struct store_tx *tx, const char *id, const char *user_id,
                      const char *family_id, const char *token_hash, int64_t expires_at_ms,
                      int64_t now_ms);
int pg_refresh_find(struct store_tx *tx, const char *token_hash, struct store_refresh *out);
int pg_refresh_mark_used(struct store_tx *tx, const char *id, int64_t now_ms);
int pg_refresh_revoke(struct store_tx *tx, const char *column, const char *value, int64_t now_ms);
int pg_events_add(struct store_tx *tx, const char *key, int64_t now_ms, unsigned keep,
                  int64_t expires_ms);
int pg_events_count(struct store_tx *tx, const char *key, int64_t since_ms, unsigned *n,
                    int64_t *oldest_ms, int64_t *newest_ms);
int pg_events_clear(struct store_tx *tx, const char *key);
int pg_refresh_revoked_since(struct store_tx *tx, int64_t since_ms, json_t *out);
int pg_refresh_prune(struct store_tx *tx, int64_t before_ms, unsigned max);
int pg_audit_last(struct store_tx *tx, int64_t *seq, char hash[65]);
int pg_audit_scan(struct store *s, store_audit_row_cb cb, void *arg, int64_t *high_water);
int pg_changes_read(struct store *s, int64_t after_seq, size_t limit, struct store_change **out,
                    size_t *n);
int pg_changes_bounds(struct store *s, int64_t *oldest, int64_t *head);
int pg_changes_prune(struct store *s, int64_t before_ms);

#endif
