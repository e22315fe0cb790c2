/*
 * The store: the only interface the rest of the server sees for persistent data (DESIGN §4).
 * Backends (sqlite/, postgres/) implement struct store_ops in store_int.h; callers
 * never see SQL, connections or backend types.
 *
 * Rows travel as jansson objects whose keys are column names and whose values are typed
 * JSON (strings for text, uuid and time columns, integers, booleans, objects for JSON
 * columns, null). Hidden columns (users.password_hash) are accepted on write but never
 * returned, except by store_user_auth_by_email().
 *
 * Threads: a struct store may be used from any number of threads at once, but never from an
 * event-loop thread (calls block). A struct store_tx belongs to the thread that began it.
 * Write transactions are serialised (one writer); read transactions run concurrently.
 * A thread holding a transaction must not begin a second one, nor call the functions that
 * take a struct store (migrate, changes, audit verify, ping): with "sqlite::memory:" every
 * transaction uses the one connection, and write transactions always wait for each other.
 *
 * Ownership: json_t arguments are borrowed (never stolen); json_t results are new references
 * and strings are malloc'd, both owned by the caller. Values are checked against the column
 * types of schema.h (SB_E_INVAL on mismatch; uuid columns need a canonical UUID); time values
 * are normalised to RFC 3339 UTC with milliseconds.
 *
 * Tenancy: every row function takes a struct store_scope, which comes from src/policy/
 * and restricts the rows the call may see or touch. A row outside the scope is reported as
 * SB_E_NOTFOUND, exactly like a missing row.
 */
#ifndef SB_STORE_STORE_H
#define SB_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/schema.h"

struct store;
struct store_tx;

struct store_options {
    int64_t busy_timeout_ms; /* SQLite busy timeout (default 5000) */
    size_t read_connections; /* concurrent readers (default 4) */
    /* SQLite's synchronous: false (default) FULL, every commit group is fsynced before its
     * writers are answered; true NORMAL (WAL: durable across a crash of the process, not
     * across a power loss). */
    bool sqlite_sync_normal;
};

/*
 * Open the database named by url: "sqlite:PATH", "sqlite::memory:" or
 * "postgres://..." / "postgresql://...". opt may be NULL for defaults. Does not migrate.
 * Returns 0, SB_E_INVAL for an unknown scheme,
 * SB_E_DB when the database cannot be opened. Migrate before beginning transactions.
 */
int store_open(const char *url, const struct store_options *opt, struct store **out);
/* Close every connection; NULL is a no-op. No transaction may be open. */
void store_free(struct store *self);
/* "sqlite" or "postgres". */
const char *store_backend(const struct store *self);
/* Apply pending migrations in order, each in its own transaction; returns the number applied
 * (>= 0) or an error. Safe to run again. Migrations are forward only: a database whose schema
 * is newer than this binary (written by a later switchboard) is refused with SB_E_SCHEMA
 * and left untouched. */
int store_migrate(struct store *self);
/* Schema version after migrations (number of the last applied migration). */
int store_schema_version(struct store *self, int *out);
/*
 * Online backup of an SQLite database (url "sqlite:PATH"; PostgreSQL has pg_dump). Copies
 * one consistent snapshot through SQLite's backup API in a single step, in its own read
 * transaction, so a server writing to the database meanwhile is not blocked (WAL) and its
 * later commits are not in the copy. Writes out_path + ".partial", checks it, then renames
 * it to out_path (mode 0600; it holds password hashes). *version_out: the copy's schema
 * version. SB_E_INVAL for a non-SQLite url, SB_E_NOTFOUND when the database does not
 * exist, SB_E_IO / SB_E_DB otherwise.
 */
int store_backup(const char *url, const char *out_path, int *version_out);
/*
 * Replace the SQLite database of url with the backup in_path (creating it if missing). The
 * backup must be a sound switchboard database no newer than this binary (SB_E_VALIDATION,
 * SB_E_SCHEMA). Refuses with SB_E_UNAVAILABLE while any other connection has the target
 * open (a running server): it takes SQLite's exclusive lock for the whole copy.
 */
int store_restore(const char *url, const char *in_path, int *version_out);
/* Cheap liveness check of the database (for /readyz): 0 or SB_E_DB. */
int store_ping(struct store *self);

/*
 * Called after every committed write transaction that appended to `changes` (its change-log
 * head moved between begin and commit), inside store_tx_commit on the committing thread,
 * with no store lock held; it may begin transactions of its own. The hub uses it to wake up.
 * With PostgreSQL it also runs on the store's listener thread when a notification on
 * switchboard_changes arrives (another node's commit, a direct SQL write), possibly
 * concurrently with a committing thread; it must be a cheap, thread-safe wake-up.
 * One hook; set it before other threads use the store (a NULL cb removes it).
 */
typedef void (*store_commit_cb)(void *arg);
void store_set_commit_hook(struct store *self, store_commit_cb cb, void *arg);

/*
 * The cluster bus: small messages between the nodes that share this database (realtime
 * broadcast, presence and agent connections; src/realtime/cluster.c). At most once: a
 * message may be lost (a full queue, a database restart), never duplicated; the messages one
 * node publishes reach every listener in publish order.
 *
 * publish: enqueue msg (len bytes of text without NUL; non-ASCII bytes need a UTF-8
 * database) and return at once; any thread, never blocks on the database. Beyond a byte
 * bound the oldest queued messages are dropped (counted in store_bus_stats). Returns 0, or
 * SB_E_INVAL for an empty message or one over STORE_BUS_MAX_MSG. SQLite (one node): a no-op
 * returning 0.
 *
 * The hook: cb(arg, msg, len) for every message published by any node on the database,
 * including this one (tell them apart by content), in each node's order, on the store's
 * listener thread (one thread: calls never overlap); msg is valid during the call only. After
 * the listener lost its connection and got it back, cb(arg, NULL, 0) says that messages may
 * have been missed meanwhile. The hook must not block for long (it delays every later
 * message) and must not call store_set_bus_hook. One hook; a NULL cb removes it; once
 * store_set_bus_hook returned, the previous hook is not running and never runs again.
 */
#define STORE_BUS_MAX_MSG (64u << 20)
typedef void (*store_bus_cb)(void *arg, const char *msg, size_t len);
void store_set_bus_hook(struct store *self, store_bus_cb cb, void *arg);
int store_bus_publish(struct store *self, const char *msg, size_t len);
/* Counters of the bus since the store opened (all zero with SQLite). */
struct store_bus_stats {
    uint64_t published;   /* messages accepted by publish */
    uint64_t dropped;     /* messages lost: queue over its bound, or a failed send */
    uint64_t notifies;    /* NOTIFY payloads sent (each carries one or more messages) */
    uint64_t spilled;     /* messages too large for a NOTIFY, sent through bus_spill */
    uint64_t received;    /* messages handed to the hook */
    uint64_t reconnects;  /* listener or publisher connections re-established */
    uint64_t queue_bytes; /* bytes waiting to be sent now */
};
void store_bus_stats(struct store *self, struct store_bus_stats *out);

/*
 * The commit generation: a number that grows with every committed write of this process
 * (store_tx_commit of a write transaction, the change-log pruning), for caches of read
 * answers (api/cache.c). Returns true with *out when a read that began after this call and
 * saw the database as it was then is still the database's answer for as long as the
 * generation stays *out. Returns false when that cannot be known now: a commit is in flight
 * (from just before the backend commits until just after it did, before the writer is
 * answered, so a writer that got its answer never finds an older generation), or the
 * backend has other writers this process does not see (PostgreSQL: other nodes, direct
 * SQL). Writes by another process into an SQLite file are not seen either (the realtime
 * hub's tail finds them later); such writers are administration tools. Any thread; one
 * atomic load.
 */
bool store_read_generation(struct store *self, uint64_t *out);

/* Transactions. */
int store_tx_begin(struct store *self, bool write, struct store_tx **out);
/* Commit and free tx. On failure the transaction was rolled back (tx is freed either way).
 * Returns 0 only once the commit is done (never before): SQLite files may share one COMMIT
 * among the write transactions of several threads (group commit, sqlite_store.c), so a
 * write's commit may wait for the others of its group, and fails when their shared COMMIT
 * fails. A read of the same thread after it returned sees the write. */
int store_tx_commit(struct store_tx *tx);
/* Roll back and free tx; NULL is a no-op. */
void store_tx_rollback(struct store_tx *tx);
/*
 * Deferred commits, for one thread that runs many write transactions back to back (the API's
 * writer lane). Between store_defer_begin and store_defer_end that thread holds the store's
 * writer (other writers wait), and store_tx_commit of its write transactions returns 0 as soon
 * as their work is in the open commit group, without waiting for it: nothing is durable or
 * visible to other connections yet, and the commit hook waits too. store_defer_end commits
 * the group and returns its outcome: 0 when every commit since store_defer_begin is
 * committed, else an error, and then none of them is (answer their callers with it). They
 * are durable once store_sync(self, *sync_ticket) returned 0 (it fails when the disk did);
 * answer nobody before. The thread may defer the next batch meanwhile: another thread can
 * wait in store_sync. store_defer_count counts the commits, so a caller can tell which of
 * its calls committed anything. Only where store_can_defer (SQLite on a file); elsewhere each
 * commit completes on its own.
 */
bool store_can_defer(struct store *self);
void store_defer_begin(struct store *self);
unsigned store_defer_count(struct store *self);
int store_defer_end(struct store *self, uint64_t *sync_ticket);
int store_sync(struct store *self, uint64_t sync_ticket);
/* The change-log position this transaction sees (max seq in `changes`, 0 when empty). */
int store_tx_head_seq(struct store_tx *tx, int64_t *out);

/* Which rows a call may see: from src/policy/. */
struct store_scope {
    bool all;              /* every row (super_admin, system jobs) */
    const char *client_id; /* otherwise only rows of this tenant (NULL: none) */
    bool include_global;   /* also rows whose client_id is NULL (system_messages) */
};

enum store_op {
    STORE_EQ,
    STORE_NEQ,
    STORE_LT,
    STORE_LTE,
    STORE_GT,
    STORE_GTE,
    STORE_IN,
    STORE_IS_NULL /* value NULL or true: IS NULL; json false: IS NOT NULL */
};

struct store_filter {
    const char *column; /* must be a column of the table, else SB_E_INVAL */
    enum store_op op;
    json_t *value; /* typed value; an array for STORE_IN; see STORE_IS_NULL. EQ/NEQ with a
                      JSON null mean IS NULL / IS NOT NULL; other ops with null match nothing.
                      Hidden columns cannot be filtered on (SB_E_INVAL). */
};

#define STORE_MAX_FILTERS 16
#define STORE_MAX_LIMIT 500

struct store_query {
    struct store_scope scope;
    struct store_filter filters[STORE_MAX_FILTERS]; /* all must hold (AND) */
    size_t nfilters;
    const char *q;      /* case-insensitive substring over the table's search columns, or NULL */
    const char *sort;   /* column name, '-' prefix for descending; NULL: the table's default */
    size_t limit;       /* 1..STORE_MAX_LIMIT; 0 means 50 */
    const char *cursor; /* next_cursor of the previous page, or NULL */
    size_t count_max;   /* store_row_count's total stops at count_max + 1 rows (0: all) */
};

/*
 * Insert row into table. Missing id gets a random UUID; versioned tables get created_at,
 * updated_at (now) and version 1. *out (may be NULL) receives the stored row, hidden
 * columns removed. Errors: SB_E_CONFLICT (unique key, e.g. users.email case-insensitive,
 * clients.slug, agent_status.user_id), SB_E_INVAL (unknown column, wrong type, a required
 * column missing or null, a value outside the column's CHECK, e.g. an unknown role, a
 * foreign key to a missing row, a read transaction, or STORE_AUDIT: use store_audit_append).
 * Given created_at, updated_at and version are ignored.
 */
int store_row_insert(struct store_tx *tx, enum store_table table, json_t *row, json_t **out);

/* Fetch one row by id within scope: 0 with *out, or SB_E_NOTFOUND. */
int store_row_get(struct store_tx *tx, enum store_table table, const struct store_scope *scope,
                  const char *id, json_t **out);

/*
 * The open interval(s) of agent_id's status history (ended_at null): ended at ended_at (an
 * RFC 3339 time) or, with ended_at NULL, given reason (a JSON string or null). One statement
 * in place of a list and an update per row. The number of intervals changed, or SB_E_*.
 */
int store_agent_history_close(struct store_tx *tx, const char *agent_id, const char *ended_at,
                              json_t *reason);

/* One status interval of an agent as store_agent_intervals hands it over (strings valid
 * during the call only). */
struct store_interval {
    const char *agent_id;
    const char *status;
    int64_t start_ms;
    int64_t end_ms; /* -1 while open */
};
typedef int (*store_interval_cb)(void *arg, const struct store_interval *iv);

/*
 * Every status interval of the agents of client_id (NULL: of every client), within scope,
 * that overlaps [from, to] (RFC 3339 times): since an agent's intervals follow one another,
 * per agent the last one begun before from unless it had ended by then (one index seek per
 * agent), and every one begun from from to to (a range of agent_history_client, one client at
 * a time). So a call reads the agents and the window, however long the history, and keeps
 * no rows: each goes to cb, in no particular order. Past max intervals SB_E_TOOBIG; a nonzero
 * return of cb stops the walk and is returned. 0, SB_E_INVAL or SB_E_*.
 */
int store_agent_intervals(struct store_tx *tx, const struct store_scope *scope,
                          const char *client_id, const char *from, const char *to, size_t max,
                          store_interval_cb cb, void *arg);

/*
 * Apply patch (column -> new value) to the row id within scope. With expected_version > 0 a
 * different current version fails with SB_E_VERSION and *out set to the current row. On
 * success version grows by one, updated_at is now and *out (may be NULL) is the new row.
 * A patch that changes nothing still bumps version (it is an explicit update).
 * Patch keys version, created_at and updated_at are ignored; id is allowed only with the
 * row's own id. expected_version > 0 on an unversioned table is SB_E_INVAL. STORE_AUDIT:
 * SB_E_FORBIDDEN (also for store_row_delete).
 */
int store_row_update(struct store_tx *tx, enum store_table table, const struct store_scope *scope,
                     const char *id, json_t *patch, int64_t expected_version, json_t **out);
/* store_row_update of the row current (that row as this transaction read it: its visible
 * columns, version included). Where the backend keeps values as written (SQLite), the update
 * is made only while the row is still at current's version, and *out is current with the
 * changes applied instead of a second read; otherwise (another version, another backend) it
 * is store_row_update's own way. Same results either way. */
int store_row_update_from(struct store_tx *tx, enum store_table table,
                          const struct store_scope *scope, const json_t *current, json_t *patch,
                          int64_t expected_version, json_t **out);

/* Delete the row id within scope; *old_out (may be NULL) receives the deleted row. Rows of
 * other tables that reference it are deleted too (ON DELETE CASCADE), each logged. */
int store_row_delete(struct store_tx *tx, enum store_table table, const struct store_scope *scope,
                     const char *id, json_t **old_out);

/*
 * One page of rows matching q, as a JSON array in *rows_out. *next_cursor_out is a
 * malloc'd opaque cursor when more rows follow, else NULL. Keyset pagination on
 * (sort column, id), so pages are stable under inserts. NULLs sort first ascending and
 * last descending. SB_E_INVAL for an unknown, hidden or unsortable sort column, a malformed
 * cursor or one made for another sort. q is matched with LIKE over the table's searchable
 * columns (% and _ are literal).
 */
int store_row_list(struct store_tx *tx, enum store_table table, const struct store_query *q,
                   json_t **rows_out, char **next_cursor_out);

/* Count rows matching q (limit, sort and cursor ignored) grouped by column group_by
 * (NULL: one total, at most q->count_max + 1 when count_max is set: the count stops there,
 * so a large table costs no more than that many rows). *out is {"<value>": n, ...} or
 * {"total": n}. */
int store_row_count(struct store_tx *tx, enum store_table table, const struct store_query *q,
                    const char *group_by, json_t **out);

/* Users by email (case-insensitive), including password_hash; for login only. */
int store_user_auth_by_email(struct store_tx *tx, const char *email, json_t **out);
/* The e-mail of user id, in every tenant, into out (cap bytes, cut to fit): what an audit
 * entry names its actor by. SB_E_NOTFOUND when there is no such user. */
int store_user_email(struct store_tx *tx, const char *id, char *out, size_t cap);

/*
 * Dashboard history points (svc/history.c), kept so the series outlives a restart. A point is
 * one tenant's figures at one time; key is the client id, "" for the all-tenants view. Not
 * tenant rows of the data model: only the system writes and reads them (no scope, no change
 * log). put writes n points in a write tx (a point already stored for its key and time stays
 * as it is); prune deletes every point older than before_ms and forget every point of key
 * (both return the number deleted); load calls cb for each point at or after since_ms, by key
 * then time, in any tx (cb returns nonzero to stop; it must not use tx).
 */
#define STORE_HISTORY_NVALUES 8
struct store_history_point {
    char key[40];
    int64_t at_ms;
    /* online, away, busy, offline, active_messages, critical_messages, connections,
     * events_per_minute */
    int32_t v[STORE_HISTORY_NVALUES];
};
typedef int (*store_history_cb)(void *arg, const struct store_history_point *p);
int store_history_put(struct store_tx *tx, const struct store_history_point *p, size_t n);
int store_history_prune(struct store_tx *tx, int64_t before_ms);
int store_history_forget(struct store_tx *tx, const char *key);
int store_history_load(struct store_tx *tx, int64_t since_ms, store_history_cb cb, void *arg);

/*
 * Preferences of one user (the panel's notification settings, svc/prefs.c): one JSON object
 * per user in table user_preferences, deleted with the user. Not a row of the data model: no
 * version, no change log, no realtime event. user_id must name a users row within scope, else
 * SB_E_NOTFOUND (another tenant's user is missing, as everywhere). get: 0 with *out the stored
 * object, or 0 with *out NULL when the user has stored none. put (write tx): replaces the
 * stored object with prefs (borrowed; a JSON object of at most STORE_PREFS_MAX_BYTES encoded,
 * else SB_E_INVAL).
 */
#define STORE_PREFS_MAX_BYTES 4096
int store_prefs_get(struct store_tx *tx, const struct store_scope *scope, const char *user_id,
                    json_t **out);
int store_prefs_put(struct store_tx *tx, const struct store_scope *scope, const char *user_id,
                    const json_t *prefs);

/* Key/value settings (for example the generated JWT secret). SB_E_NOTFOUND when unset. */
int store_meta_get(struct store_tx *tx, const char *key, char **value_out);
int store_meta_set(struct store_tx *tx, const char *key, const char *value);

/* Refresh tokens (stored only as hashes). */
struct store_refresh {
    char id[40];
    char user_id[40];
    char family_id[40];
    int64_t expires_at_ms;
    int64_t used_at_ms;    /* 0 when unused */
    int64_t revoked_at_ms; /* 0 when live */
};
int store_refresh_insert(struct store_tx *tx, const char *user_id, const char *family_id,
                         const char *token_hash, int64_t expires_at_ms);
int store_refresh_find(struct store_tx *tx, const char *token_hash, struct store_refresh *out);
/* find: SB_E_NOTFOUND for an unknown hash. mark_used: 0, or SB_E_CONFLICT when the token is
 * already used (or missing), so a concurrent second use is detected atomically. The revoke
 * functions return how many live tokens they revoked. */
int store_refresh_mark_used(struct store_tx *tx, const char *id);
int store_refresh_revoke_family(struct store_tx *tx, const char *family_id);
int store_refresh_revoke_user(struct store_tx *tx, const char *user_id);
/* The sessions (refresh families) revoked after since_ms, as a new JSON array of family ids:
 * what a starting node reloads so that revoked access tokens stay revoked across restarts. */
int store_refresh_revoked_since(struct store_tx *tx, int64_t since_ms, json_t **out);
/* Delete up to max (1..100000) agent status intervals that ended before before_ms (an open
 * interval, the agent's current status, stays however old), one client at a time through
 * agent_history_client, so a call reads the rows begun before before_ms and no others. The
 * number deleted, or SB_E_*. A write transaction. */
int store_agent_history_prune(struct store_tx *tx, int64_t before_ms, unsigned max);
/* Delete up to max (1..100000) refresh tokens that expired before before_ms, the oldest
 * first, through the index on expires_at (a token past its expiry is refused anyway). Every
 * refresh adds a token, so without this the table, and a node's start (which reads the
 * revoked ones), grow forever. The number deleted, or SB_E_*. */
int store_refresh_prune(struct store_tx *tx, int64_t before_ms, unsigned max);

/*
 * Timestamped events by key, for the login limiter (auth/ratelimit.h): shared by every node
 * on the database and kept across restarts. Each call runs in a transaction of its own, so
 * the caller must hold none. add records one event of key at now_ms, keeps only the `keep`
 * newest of the key and forgets events (of every key) whose expiry passed; count gives how
 * many events of key are newer than since_ms, with the oldest and newest of them (0 when
 * none); clear forgets key.
 */
int store_events_add(struct store *self, const char *key, int64_t now_ms, unsigned keep,
                     int64_t expires_ms);
int store_events_count(struct store *self, const char *key, int64_t since_ms, unsigned *n,
                       int64_t *oldest_ms, int64_t *newest_ms);
int store_events_clear(struct store *self, const char *key);

/*
 * Audit: append entry (actor_id, actor_email, client_id, action, entity_type, entity_id,
 * before, after, ip, user_agent, request_id; id/at optional) inside a write transaction. The
 * store assigns seq, links prev_hash to the previous entry and computes hash
 * (audit_hash.h). *out (may be NULL) receives the stored entry.
 */
int store_audit_append(struct store_tx *tx, json_t *entry, json_t **out);
/* Walk the whole chain in seq order: *checked entries; *first_bad_seq is 0 when intact, else
 * the first seq that is modified, missing, reordered or inserted (a deleted newest entry is
 * detected from the backend's sequence high-water mark). */
int store_audit_verify(struct store *self, int64_t *checked, int64_t *first_bad_seq);

/* The change log (table `changes`). */
struct store_change {
    int64_t seq;
    int64_t at_ms;
    enum store_table table;
    char op[8];      /* INSERT, UPDATE, DELETE */
    char *client_id; /* NULL for global rows */
    char *row_id;
    json_t *record;     /* NULL for DELETE */
    json_t *old_record; /* NULL for INSERT */
    /* store_changes_read_raw only (record and old_record stay NULL): the same as JSON text. */
    char *record_json;
    char *old_record_json;
};
/* Up to limit changes with seq > after_seq in seq order; *out is an array of *n entries
 * (free with store_changes_free). table is STORE__NTABLES for a table unknown to schema.h. */
int store_changes_read(struct store *self, int64_t after_seq, size_t limit,
                       struct store_change **out, size_t *n);
/* The same with the rows as text (record_json, old_record_json), for readers that parse only
 * what they use (the realtime hub: a change nobody subscribes to is never parsed). */
int store_changes_read_raw(struct store *self, int64_t after_seq, size_t limit,
                           struct store_change **out, size_t *n);
/* A change's row text as an object (new reference), or NULL for NULL or anything else. */
json_t *store_change_row(const char *json_text);
void store_changes_free(struct store_change *changes, size_t n);
/* Highest and lowest seq still retained (0 when empty). */
int store_changes_bounds(struct store *self, int64_t *oldest, int64_t *head);
/* Delete changes older than before_ms, always keeping the newest row; returns rows removed. */
int store_changes_prune(struct store *self, int64_t before_ms);

#endif
