/*
 * Inside the store: the contract between store.c (argument checks, defaults, optimistic
 * concurrency, cursors, the audit hash chain, the commit hook) and a backend (SQL). A backend
 * provides one const struct store_ops (with its struct sql_backend, through which the shared
 * row ops of sql.h run) and embeds struct store / struct store_tx as the first member of its
 * own instance types. store.c validates and normalises every argument before calling an op
 * or a row op, so they may trust that:
 *   - table descriptors and columns come from schema.c (never from the caller's strings),
 *   - row values have the column's JSON type (text/uuid/time: string, time normalised to
 *     RFC 3339 with milliseconds; int: integer; bool: boolean; json: object or array; or null),
 *   - write ops run only in write transactions.
 * Ops return 0 (or a count) or a negative SB_E_* error. Backends map unique violations to
 * SB_E_CONFLICT, NOT NULL / CHECK / foreign key violations to SB_E_INVAL, the append-only
 * triggers to SB_E_FORBIDDEN and anything else to SB_E_DB (logged).
 */
#ifndef SB_STORE_STORE_INT_H
#define SB_STORE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/store.h"

struct store_ops;
struct sql_backend;

/* The shared part of every backend's store instance. */
struct store {
    const struct store_ops *ops;
    pthread_mutex_t hook_mu; /* guards hook, hook_arg */
    store_commit_cb hook;
    void *hook_arg;
    pthread_mutex_t bus_mu; /* guards bus_hook, bus_hook_arg; held while the hook runs */
    store_bus_cb bus_hook;
    void *bus_hook_arg;
    /* The commit generation (store_read_generation): (generation << 16) + commits in flight.
     * A write's commit adds 1 before the backend commits and STORE_GEN_ONE - 1 after. */
    atomic_uint_fast64_t commit_state;
    bool defer_appended; /* a deferred commit appended to `changes` (the deferring thread) */
};

#define STORE_GEN_ONE ((uint_fast64_t)1 << 16)

/* The shared part of every backend's transaction; owned by the thread that began it. */
struct store_tx {
    struct store *store;
    bool write;
    int64_t head_at_begin; /* write tx: change-log head when it began (for the commit hook) */
};

/* A validated list or count request. */
struct store_plan {
    const struct store_scope *scope;
    const struct store_column *filter_cols[STORE_MAX_FILTERS];
    const struct store_filter *filters; /* values normalised (time columns), nfilters entries */
    size_t nfilters;
    const char *q;                   /* NULL or non-empty */
    const struct store_column *sort; /* list only */
    bool desc;                       /* list only */
    size_t limit;                    /* list only: 1..STORE_MAX_LIMIT */
    json_t *after_value;             /* list only: keyset position (may be JSON null) */
    const char *after_id;            /* list only: NULL on the first page */
    size_t count_max;                /* count only, without a group: stop at this + 1 (0: all) */
};

/* One audit row handed to an audit_scan callback; return nonzero to stop the walk. */
typedef int (*store_audit_row_cb)(void *arg, json_t *row);

struct store_ops {
    const char *name; /* "sqlite", "postgres" */
    /* Every commit to the database goes through this process's store (one node): the commit
     * generation then tells whether anything changed. False when other nodes write too. */
    bool sees_every_commit;
    /* The dialect and statement runner the row ops (sql.h) build and run with. */
    const struct sql_backend *sql;
    void (*free)(struct store *s);
    int (*migrate)(struct store *s);
    int (*schema_version)(struct store *s, int *out);
    int (*ping)(struct store *s);

    int (*tx_begin)(struct store *s, bool write, struct store_tx **out);
    int (*tx_commit)(struct store_tx *tx); /* frees tx, rolls back on failure */
    void (*tx_rollback)(struct store_tx *tx);
    int (*tx_head_seq)(struct store_tx *tx, int64_t *out);
    /* Optional: whether this write tx appended to the change log (the commit hook's
     * question); without it store.c compares the log's head at begin and at commit. */
    bool (*tx_appended)(struct store_tx *tx);

    int (*meta_get)(struct store_tx *tx, const char *key, char **value_out);
    int (*meta_set)(struct store_tx *tx, const char *key, const char *value);

    int (*refresh_insert)(struct store_tx *tx, const char *id, const char *user_id,
                          const char *family_id, const char *token_hash, int64_t expires_at_ms,
                          int64_t now_ms);
    int (*refresh_find)(struct store_tx *tx, const char *token_hash, struct store_refresh *out);
    /* Returns rows changed: 1, or 0 when missing or already used. */
    int (*refresh_mark_used)(struct store_tx *tx, const char *id, int64_t now_ms);
    /* Revoke live tokens where column (family_id or user_id) = value; returns the count. */
    int (*refresh_revoke)(struct store_tx *tx, const char *column, const char *value,
                          int64_t now_ms);
    /* Login-limit events (store_events_*): see store.h. */
    int (*events_add)(struct store_tx *tx, const char *key, int64_t now_ms, unsigned keep,
                      int64_t expires_ms);
    int (*events_count)(struct store_tx *tx, const char *key, int64_t since_ms, unsigned *n,
                        int64_t *oldest_ms, int64_t *newest_ms);
    int (*events_clear)(struct store_tx *tx, const char *key);
    /* Append to out (a JSON array) each family_id with a token revoked after since_ms. */
    int (*refresh_revoked_since)(struct store_tx *tx, int64_t since_ms, json_t *out);
    /* Delete up to max tokens that expired before before_ms, oldest first; the count. */
    int (*refresh_prune)(struct store_tx *tx, int64_t before_ms, unsigned max);

    /* The newest audit entry's seq and hash (0 and 64 zeros when empty). */
    int (*audit_last)(struct store_tx *tx, int64_t *seq, char hash[65]);
    /* Walk every audit row in seq order in one read snapshot; *high_water is the highest seq
     * ever assigned (so a deleted tail is visible), or 0 when unknown. */
    int (*audit_scan)(struct store *s, store_audit_row_cb cb, void *arg, int64_t *high_water);

    /* Deferred commits (store.h); NULL where each commit is its own (can_defer false). */
    bool (*can_defer)(struct store *s);
    void (*defer_begin)(struct store *s);
    unsigned (*defer_count)(struct store *s);
    int (*defer_end)(struct store *s, uint64_t *sync_ticket);
    /* Return once what sync_ticket names is on disk; NULL where a commit is durable when it
     * returns. */
    int (*sync)(struct store *s, uint64_t sync_ticket);

    /* Fills record_json and old_record_json (store_changes_read_raw). */
    int (*changes_read)(struct store *s, int64_t after_seq, size_t limit, struct store_change **out,
                        size_t *n);
    int (*changes_bounds)(struct store *s, int64_t *oldest, int64_t *head);
    int (*changes_prune)(struct store *s, int64_t before_ms);

    /* The cluster bus (store.h); NULL for a backend of one node. */
    int (*bus_publish)(struct store *s, const char *msg, size_t len);
    void (*bus_stats)(struct store *s, struct store_bus_stats *out);
};

/* Backends (each in its own directory). path is the part after "sqlite:". */
int store_sqlite_open(const char *path, const struct store_options *opt, struct store **out);
/* url is the whole "postgres://..." or "postgresql://..." URL (libpq connection URI). */
int store_postgres_open(const char *url, const struct store_options *opt, struct store **out);

/* Initialise the shared part of a new store (store.c). */
void store_base_init(struct store *s, const struct store_ops *ops);
void store_base_release(struct store *s);
/* Hand one bus message (or NULL, 0: the listener reconnected) to the bus hook (store.c). */
void store_bus_deliver(struct store *s, const char *msg, size_t len);

/* Cursors (cursor.c): base64url of the JSON array [sort column, value, id]. */
char *store_cursor_encode(const char *sort, json_t *value, const char *id);
/* 0 with *value_out (new reference) and *id_out (malloc'd), or SB_E_INVAL when malformed or
 * made for another sort column. */
int store_cursor_decode(const char *cursor, const char *sort, json_t **value_out, char **id_out);

#endif
