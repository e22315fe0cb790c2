/*
 * The SQL builder both backends share (internal to src/store). It writes the statements of
 * the row ops (insert, get, update, delete, list, count) from the table descriptors of
 * schema.c and a validated struct store_plan; a backend only prepares, binds and runs them
 * and reads the typed rows. What differs between the two SQL dialects is data, in one const
 * struct sql_dialect per backend, never an #ifdef or a second copy of the builder.
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
};

/* A statement being built; the text and args belong to it until sql_stmt_release. */
struct sql_stmt {
    const struct sql_dialect *d;
    struct buf text;
    json_t *args; /* the bound values (JSON array) in placeholder order */
};

void sql_stmt_init(struct sql_stmt *self, const struct sql_dialect *d);
void sql_stmt_release(struct sql_stmt *self);

/* Append printf-formatted SQL text; our SQL is bounded, so overflowing is a bug (abort). */
void sql_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The column list of t: the visible columns, the hidden ones too when with_hidden. */
void sql_select_cols(struct buf *b, const struct store_table_desc *t, bool with_hidden);

/* The row ops' statements, written into a freshly initialised self. Values are borrowed. */
/* INSERT of every column of row that t has. */
void sql_stmt_insert(struct sql_stmt *self, const struct store_table_desc *t, json_t *row);
/* SELECT of the row whose key_col is key within scope. */
void sql_stmt_get(struct sql_stmt *self, const struct store_table_desc *t,
                  const struct store_scope *scope, const struct store_column *key_col,
                  const char *key, bool with_hidden);
/* UPDATE of set's columns on row id within scope; only at that version when version > 0
 * (store.c puts the bumped version in set). */
void sql_stmt_update(struct sql_stmt *self, const struct store_table_desc *t,
                     const struct store_scope *scope, const char *id, json_t *set, int64_t version);
void sql_stmt_delete(struct sql_stmt *self, const struct store_table_desc *t,
                     const struct store_scope *scope, const char *id);
/* A list page: plan->limit + 1 rows (the extra one tells whether more follow), in
 * (sort, id) order after the keyset position of the cursor when there is one. */
void sql_stmt_list(struct sql_stmt *self, const struct store_table_desc *t,
                   const struct store_plan *plan);
/* Rows of (group value or 'total', count). */
void sql_stmt_count(struct sql_stmt *self, const struct store_table_desc *t,
                    const struct store_plan *plan, const struct store_column *group);

/* Column col (0-based among the selected ones) of the current row as a JSON value. */
typedef json_t *(*sql_value_cb)(void *arg, int col, enum store_coltype type);
/* The current row of a statement built with sql_select_cols(with_hidden) as an object. */
json_t *sql_row_read(const struct store_table_desc *t, bool with_hidden, sql_value_cb value,
                     void *arg);
/* Add one row of a count statement to counts: key (stolen) becomes the member name. */
void sql_count_add(json_t *counts, json_t *key, int64_t n);

#endif
