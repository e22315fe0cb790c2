/*
 * The SQL builder both backends share (internal to src/store). It writes the statements of
 * the row ops (insert, get, update, delete, list, count) from the table descriptors of
 * schema.c and a validated struct store_plan, and runs them as the row ops store.c calls; a
 * backend only supplies a struct sql_backend: its dialect and one function
 * that prepares, binds and runs a statement and hands over its typed rows. What differs
 * between the two SQL dialects is data, in one const struct sql_dialect per backend, never
 * an #ifdef or a second copy of the builder.
 *
 * A statement is its text plus the values it binds, as a JSON array in placeholder order:
 * each value is appended to the array and its placeholder written at once, so with numbered
 * placeholders $n is simply the array's size and both styles come out of one function.
 * Identifiers come only from descriptors and are always double-quoted ("before" and "after"
 * are keywords); every value is a parameter.
 */
#ifndef SB_STORE_SQL_H
#define SB_STORE_SQL_H

#include "base/buf.h"
#include "store/store_int.h"

/* Built statements are bounded by the descriptors and STORE_MAX_FILTERS; past it is a bug. */
#define SQL_MAX (256 * 1024)

/* How a backend's SQL spells what the builder needs. */
struct sql_dialect {
    bool numbered;        /* placeholders $1, $2, ... (else ?) */
    const char *true_sql; /* the constant predicates: "true"/"false" or "1"/"0" */
    const char *false_sql;
    const char *ilike;     /* LIKE that ignores ASCII case: "ILIKE", or "LIKE" in SQLite */
    bool lower_nocase;     /* compare case-insensitive columns (users.email) through lower()
                              on both sides; else the column's own collation does it */
    const char *text_cast; /* cast of a parameter given to lower(): "::text" or "" */
    const char *json_cast; /* cast of a json column and its value to compare: "::jsonb" */
    bool nulls_order;      /* say NULLS FIRST/LAST so NULL sorts lowest (SQLite's default) */
    bool values_as_given;  /* a stored value reads back exactly as written (checked values:
                              SQLite keeps text, integers and JSON text as bound) */
    bool whole_results;    /* run holds a statement's whole result before the first row
                              callback (libpq): long reads go in pages */
};

/* One result row as a backend hands it to a sql_row_cb; valid only during the call. */
struct sql_row {
    /* Column col (0-based) of the row as a new JSON value of type `type`. */
    json_t *(*value)(const struct sql_row *self, int col, enum store_coltype type);
};

/* Called for each result row in order; nonzero stops the walk (the rest are not read). */
typedef int (*sql_row_cb)(void *arg, const struct sql_row *row);

/* A backend as the shared row ops see it (struct store_ops.sql). */
struct sql_backend {
    struct sql_dialect dialect;
    /*
     * Run sql (in the dialect's placeholders) bound to args (a JSON array, borrowed) on tx,
     * after making the transaction's scope match scope (NULL: leave it as it is), and call
     * row (may be NULL) for each result row. Returns the number of rows changed (by a
     * statement that returns none), a count >= 0 that callers ignore (a query), or an SB_E_*
     * error. Runs on the transaction's thread; row must not use tx.
     */
    int (*run)(struct store_tx *tx, const struct store_scope *scope, const char *sql, json_t *args,
               sql_row_cb row, void *arg);
};

/*
 * The row ops, once for every backend: each builds its statement in the dialect of tx's
 * backend and runs it through that backend (tx->store->ops->sql). store.c calls them with
 * checked arguments (store_int.h says what they may trust) and they return what the
 * backend's run returns on failure: SB_E_CONFLICT, SB_E_INVAL, SB_E_FORBIDDEN or SB_E_DB.
 */
/* row: every column to store (id and defaults filled). */
int sql_row_insert(struct store_tx *tx, const struct store_table_desc *t, json_t *row);
/* Visible columns only (hidden ones never). SB_E_NOTFOUND outside scope. */
int sql_row_get(struct store_tx *tx, const struct store_table_desc *t,
                const struct store_scope *scope, const char *id, json_t **out);
/* Set the columns of set on row id within scope, and version + 1 in SQL when bump_version;
 * when version > 0 only if the row's version is still that. Then *out (when out is not NULL)
 * receives the updated row (visible columns), NULL when no row changed. Returns the number
 * of rows changed (0 or 1). */
int sql_row_update_read(struct store_tx *tx, const struct store_table_desc *t,
                        const struct store_scope *scope, const char *id, json_t *set,
                        int64_t version, bool bump_version, json_t **out);
/* Returns the number of rows deleted (0 or 1). */
int sql_row_delete(struct store_tx *tx, const struct store_table_desc *t,
                   const struct store_scope *scope, const char *id);
/* Up to plan->limit rows in order; *more tells whether another row follows. */
int sql_row_list(struct store_tx *tx, const struct store_table_desc *t,
                 const struct store_plan *plan, json_t **rows_out, bool *more);
/* {"<value>": n} grouped by group (NULL: {"total": n}). */
int sql_row_count(struct store_tx *tx, const struct store_table_desc *t,
                  const struct store_plan *plan, const struct store_column *group, json_t **out);
/* The user with that e-mail (compared ignoring ASCII case), hidden columns included, in
 * every tenant. SB_E_NOTFOUND when none. */
int sql_user_by_email(struct store_tx *tx, const char *email, json_t **out);
/* Only the e-mail of the user with that id (store_user_email), in every tenant. */
int sql_user_email(struct store_tx *tx, const char *id, char *out, size_t cap);

/* The dashboard history points (store_history_*, store.h), arguments checked by store.c. */
int sql_agent_history_close(struct store_tx *tx, const char *agent_id, const char *ended_at,
                            json_t *reason);
int sql_agent_intervals(struct store_tx *tx, const struct store_scope *scope, const char *client_id,
                        const char *from, int64_t from_ms, const char *to, size_t max,
                        store_interval_cb cb, void *arg);
int sql_agent_history_prune(struct store_tx *tx, const char *before, unsigned max);
int sql_history_put(struct store_tx *tx, const struct store_history_point *p, size_t n);
int sql_history_delete(struct store_tx *tx, const char *key, int64_t before_ms);
int sql_history_load(struct store_tx *tx, int64_t since_ms, store_history_cb cb, void *arg);

/* The preferences of a user (store_prefs_*, store.h), the user already found within scope by
 * store.c; scope is handed to the backend for PostgreSQL's row-level security. get: 0 with
 * *out NULL when none are stored. put: prefs is the encoded JSON object. */
int sql_prefs_get(struct store_tx *tx, const struct store_scope *scope, const char *user_id,
                  json_t **out);
int sql_prefs_put(struct store_tx *tx, const struct store_scope *scope, const char *user_id,
                  const char *prefs, const char *updated_at);

/* Append printf-formatted SQL text; our SQL is bounded, so overflowing is a bug (abort). */
void sql_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The column list of t: the visible columns, the hidden ones too when with_hidden. */
void sql_select_cols(struct buf *b, const struct store_table_desc *t, bool with_hidden);
/* A row selected with sql_select_cols(t, with_hidden) as an object of t's column names. */
json_t *sql_row_read(const struct sql_row *row, const struct store_table_desc *t, bool with_hidden);

/* The statement builders under the row ops, exposed for the unit test. A statement is being
 * built; the text and args belong to it until sql_stmt_release. */
struct sql_stmt {
    const struct sql_dialect *d;
    struct buf text;
    json_t *args; /* the bound values (JSON array) in placeholder order */
};

void sql_stmt_init(struct sql_stmt *self, const struct sql_dialect *d);
void sql_stmt_release(struct sql_stmt *self);
/* INSERT of every column of row that t has. Values are borrowed. */
void sql_stmt_insert(struct sql_stmt *self, const struct store_table_desc *t, json_t *row);
/* SELECT of the row whose key_col is key within scope. */
void sql_stmt_get(struct sql_stmt *self, const struct store_table_desc *t,
                  const struct store_scope *scope, const struct store_column *key_col,
                  const char *key, bool with_hidden);
/* UPDATE of set's columns on row id within scope; only at that version when version > 0
 * (store.c puts the bumped version in set). */
void sql_stmt_update(struct sql_stmt *self, const struct store_table_desc *t,
                     const struct store_scope *scope, const char *id, json_t *set, int64_t version);
/* The same, with "version" = "version" + 1 after set's columns when bump_version. */
void sql_stmt_update_ex(struct sql_stmt *self, const struct store_table_desc *t,
                        const struct store_scope *scope, const char *id, json_t *set,
                        int64_t version, bool bump_version);
void sql_stmt_delete(struct sql_stmt *self, const struct store_table_desc *t,
                     const struct store_scope *scope, const char *id);
/* A list page: plan->limit + 1 rows (the extra one tells whether more follow), in
 * (sort, id) order after the keyset position of the cursor when there is one. */
void sql_stmt_list(struct sql_stmt *self, const struct store_table_desc *t,
                   const struct store_plan *plan);
/* Rows of (group value or 'total', count). */
void sql_stmt_count(struct sql_stmt *self, const struct store_table_desc *t,
                    const struct store_plan *plan, const struct store_column *group);
/* Add one row of a count statement to counts: key (stolen) becomes the member name. */
void sql_count_add(json_t *counts, json_t *key, int64_t n);

#endif
