/*
 * PostgreSQL row operations, generic over the table descriptors of schema.c; the same shape
 * as sqlite_rows.c so both backends answer alike. SQL text is built from descriptor names
 * only (always double-quoted: "before" and "after" are keywords) and every value is a
 * parameter: arguments are collected in a JSON array and written as $1, $2, ... in the order
 * they are appended (pg_run sends them as text and the server infers their types from the
 * columns they meet). Built statements go through the per-connection prepared-statement
 * cache like fixed ones, so repeated list shapes are prepared once.
 *
 * Where SQLite's semantics differ from PostgreSQL's defaults, the SQL here restores SQLite's:
 *   - scope is one predicate: all -> true; no tenant -> false; else
 *     "<tenant_col>" = $n [OR "<tenant_col>" IS NULL]; every function that takes a scope also
 *     hands it to pg_scope_apply() first, so the row-level security policies of migration 2
 *     enforce the same tenant a second time. Functions without a scope (insert, refresh
 *     tokens, audit append) run under the scope the transaction last set: inserts made on a
 *     tenant's behalf are checked against that tenant, and the head and the newest audit
 *     entry, which span every tenant, are read through functions that lift the scope;
 *   - users.email compares and sorts case-insensitively (SQLite's COLLATE NOCASE): both
 *     sides go through lower(), which the "C" collation limits to ASCII like NOCASE;
 *   - q is matched with ILIKE (SQLite's LIKE is case-insensitive for ASCII);
 *   - NULLs sort first ascending and last descending (NULLS FIRST / NULLS LAST), and the
 *     keyset predicate follows that order;
 *   - json columns compare as jsonb (the json type has no equality).
 */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

#define SQL_MAX (256 * 1024)
#define AUDIT_PAGE 1000

/* Append v (borrowed) to args and write its placeholder. */
static void param(struct buf *b, json_t *args, json_t *v)
{
    json_array_append(args, v);
    pg_sql(b, "$%zu", json_array_size(args));
}

static void param_new(struct buf *b, json_t *args, json_t *v)
{
    param(b, args, v);
    json_decref(v);
}

static bool is_nocase(const struct store_table_desc *t, const struct store_column *col)
{
    return t->id == STORE_USERS && strcmp(col->name, "email") == 0;
}

/* The column as an expression to compare or sort by. */
static void col_expr(struct buf *b, const struct store_table_desc *t,
                     const struct store_column *col)
{
    if (is_nocase(t, col)) {
        pg_sql(b, "lower(\"%s\")", col->name);
    } else if (col->type == COL_JSON) {
        pg_sql(b, "\"%s\"::jsonb", col->name);
    } else {
        pg_sql(b, "\"%s\"", col->name);
    }
}

/* A value compared with col_expr(col). */
static void col_param(struct buf *b, json_t *args, const struct store_table_desc *t,
                      const struct store_column *col, json_t *v)
{
    if (is_nocase(t, col)) {
        pg_sql(b, "lower(");
        param(b, args, v);
        pg_sql(b, "::text)");
    } else if (col->type == COL_JSON) {
        param(b, args, v);
        pg_sql(b, "::jsonb");
    } else {
        param(b, args, v);
    }
}

/* SELECT list of the visible columns of t (hidden ones too when with_hidden). */
static void select_cols(struct buf *b, const struct store_table_desc *t, bool with_hidden)
{
    bool first = true;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].hidden && !with_hidden) {
            continue;
        }
        pg_sql(b, "%s\"%s\"", first ? "" : ", ", t->cols[i].name);
        first = false;
    }
}

static json_t *read_row(const PGresult *res, int row, const struct store_table_desc *t,
                        bool with_hidden)
{
    json_t *obj = json_object();
    int idx = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].hidden && !with_hidden) {
            continue;
        }
        json_object_set_new(obj, t->cols[i].name, pg_value(res, row, idx++, t->cols[i].type));
    }
    return obj;
}

static void scope_sql(struct buf *b, json_t *args, const struct store_table_desc *t,
                      const struct store_scope *scope)
{
    if (scope->all) {
        pg_sql(b, "true");
    } else if (!scope->client_id) {
        pg_sql(b, "false");
    } else {
        pg_sql(b, "(\"%s\" = ", t->tenant_col);
        param_new(b, args, json_string(scope->client_id));
        if (scope->include_global) {
            pg_sql(b, " OR \"%s\" IS NULL", t->tenant_col);
        }
        pg_sql(b, ")");
    }
}

/* Run b's SQL with args (both released). */
static int run_built(struct store_tx *tx, struct buf *b, json_t *args, PGresult **res)
{
    int rc = pg_run(tx, b->data, args, res);
    json_decref(args);
    buf_release(b);
    return rc;
}

int pg_row_insert(struct store_tx *tx, const struct store_table_desc *t, json_t *row)
{
    struct buf b, vals;
    buf_init(&b, SQL_MAX);
    buf_init(&vals, SQL_MAX);
    json_t *args = json_array();
    pg_sql(&b, "INSERT INTO \"%s\" (", t->name);
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(row, key, v)
    {
        const struct store_column *col = store_column_find(t, key);
        if (!col) {
            continue; /* store.c checked; never build SQL from a name not in the descriptor */
        }
        pg_sql(&b, "%s\"%s\"", n ? ", " : "", col->name);
        pg_sql(&vals, "%s", n ? ", " : "");
        param(&vals, args, v);
        n++;
    }
    pg_sql(&b, ") VALUES (%s)", vals.data ? vals.data : "");
    buf_release(&vals);
    int rc = run_built(tx, &b, args, NULL);
    return rc < 0 ? rc : 0;
}

static int get_row(struct store_tx *tx, const struct store_table_desc *t,
                   const struct store_scope *scope, const struct store_column *key_col,
                   const char *key, bool with_hidden, json_t **out)
{
    int rc = pg_scope_apply(tx, scope);
    if (rc < 0) {
        return rc;
    }
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    pg_sql(&b, "SELECT ");
    select_cols(&b, t, with_hidden);
    pg_sql(&b, " FROM \"%s\" WHERE ", t->name);
    col_expr(&b, t, key_col);
    pg_sql(&b, " = ");
    json_t *kv = json_string(key);
    col_param(&b, args, t, key_col, kv);
    json_decref(kv);
    pg_sql(&b, " AND ");
    scope_sql(&b, args, t, scope);
    PGresult *res = NULL;
    rc = run_built(tx, &b, args, &res);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        PQclear(res);
        return SB_E_NOTFOUND;
    }
    *out = read_row(res, 0, t, with_hidden);
    PQclear(res);
    return 0;
}

int pg_row_get(struct store_tx *tx, const struct store_table_desc *t,
               const struct store_scope *scope, const char *id, json_t **out)
{
    return get_row(tx, t, scope, store_column_find(t, "id"), id, false, out);
}

int pg_user_by_email(struct store_tx *tx, const char *email, json_t **out)
{
    const struct store_table_desc *t = store_table_desc(STORE_USERS);
    struct store_scope all = {.all = true};
    return get_row(tx, t, &all, store_column_find(t, "email"), email, true, out);
}

int pg_row_update(struct store_tx *tx, const struct store_table_desc *t,
                  const struct store_scope *scope, const char *id, json_t *set, int64_t version)
{
    int rc = pg_scope_apply(tx, scope);
    if (rc < 0) {
        return rc;
    }
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    pg_sql(&b, "UPDATE \"%s\" SET ", t->name);
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(set, key, v)
    {
        const struct store_column *col = store_column_find(t, key);
        if (!col) {
            continue;
        }
        pg_sql(&b, "%s\"%s\" = ", n++ ? ", " : "", col->name);
        param(&b, args, v);
    }
    pg_sql(&b, " WHERE \"id\" = ");
    param_new(&b, args, json_string(id));
    pg_sql(&b, " AND ");
    scope_sql(&b, args, t, scope);
    if (version > 0) {
        pg_sql(&b, " AND \"version\" = ");
        param_new(&b, args, json_integer(version));
    }
    return run_built(tx, &b, args, NULL);
}

int pg_row_delete(struct store_tx *tx, const struct store_table_desc *t,
                  const struct store_scope *scope, const char *id)
{
    int rc = pg_scope_apply(tx, scope);
    if (rc < 0) {
        return rc;
    }
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    pg_sql(&b, "DELETE FROM \"%s\" WHERE \"id\" = ", t->name);
    param_new(&b, args, json_string(id));
    pg_sql(&b, " AND ");
    scope_sql(&b, args, t, scope);
    return run_built(tx, &b, args, NULL);
}

/* The LIKE pattern %q% with \, % and _ escaped. */
static json_t *like_pattern(const char *q)
{
    struct buf b;
    buf_init(&b, SQL_MAX);
    pg_sql(&b, "%%");
    for (const char *p = q; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\') {
            pg_sql(&b, "\\");
        }
        pg_sql(&b, "%c", *p);
    }
    pg_sql(&b, "%%");
    json_t *v = json_string(b.data);
    buf_release(&b);
    return v ? v : json_string("");
}

/* WHERE clause of a list or count: scope, filters and q. */
static void where_sql(struct buf *b, json_t *args, const struct store_table_desc *t,
                      const struct store_plan *plan)
{
    static const char *const ops[] = {
        [STORE_EQ] = "=",   [STORE_NEQ] = "<>", [STORE_LT] = "<",
        [STORE_LTE] = "<=", [STORE_GT] = ">",   [STORE_GTE] = ">=",
    };
    pg_sql(b, " WHERE ");
    scope_sql(b, args, t, plan->scope);
    for (size_t i = 0; i < plan->nfilters; i++) {
        const struct store_filter *f = &plan->filters[i];
        const struct store_column *col = plan->filter_cols[i];
        if (f->op == STORE_IS_NULL) {
            pg_sql(b, " AND \"%s\" IS %sNULL", col->name, json_is_false(f->value) ? "NOT " : "");
        } else if (f->op == STORE_IN) {
            if (json_array_size(f->value) == 0) {
                pg_sql(b, " AND false");
                continue;
            }
            pg_sql(b, " AND ");
            col_expr(b, t, col);
            pg_sql(b, " IN (");
            for (size_t j = 0; j < json_array_size(f->value); j++) {
                pg_sql(b, "%s", j ? ", " : "");
                col_param(b, args, t, col, json_array_get(f->value, j));
            }
            pg_sql(b, ")");
        } else if (json_is_null(f->value)) {
            if (f->op == STORE_EQ || f->op == STORE_NEQ) {
                pg_sql(b, " AND \"%s\" IS %sNULL", col->name, f->op == STORE_NEQ ? "NOT " : "");
            } else {
                pg_sql(b, " AND false");
            }
        } else {
            pg_sql(b, " AND ");
            col_expr(b, t, col);
            pg_sql(b, " %s ", ops[f->op]);
            col_param(b, args, t, col, f->value);
        }
    }
    if (plan->q) {
        bool any = false;
        for (size_t i = 0; i < t->ncols; i++) {
            if (!t->cols[i].searchable || t->cols[i].hidden) {
                continue;
            }
            pg_sql(b, "%s\"%s\" ILIKE ", any ? " OR " : " AND (", t->cols[i].name);
            param_new(b, args, like_pattern(plan->q));
            pg_sql(b, " ESCAPE '\\'");
            any = true;
        }
        const struct store_search_ref *r = store_table_search_ref(t);
        if (r) {
            pg_sql(b,
                   "%sEXISTS (SELECT 1 FROM \"%s\" AS sr WHERE sr.\"id\" = \"%s\".\"%s\" AND "
                   "sr.\"%s\" ILIKE ",
                   any ? " OR " : " AND (", r->ref_table, t->name, r->fk, r->col);
            param_new(b, args, like_pattern(plan->q));
            pg_sql(b, " ESCAPE '\\')");
            any = true;
        }
        if (any) {
            pg_sql(b, ")");
        }
    }
}

/* The keyset predicate: rows after (after_value, after_id) in the list's order. */
static void keyset_sql(struct buf *b, json_t *args, const struct store_table_desc *t,
                       const struct store_plan *plan)
{
    const struct store_column *col = plan->sort;
    const char *s = col->name;
    const char *cmp = plan->desc ? "<" : ">";
    json_t *id = json_string(plan->after_id);
    if (json_is_null(plan->after_value)) {
        if (plan->desc) {
            pg_sql(b, " AND (\"%s\" IS NULL AND \"id\" < ", s);
            param(b, args, id);
            pg_sql(b, ")");
        } else {
            pg_sql(b, " AND ((\"%s\" IS NULL AND \"id\" > ", s);
            param(b, args, id);
            pg_sql(b, ") OR \"%s\" IS NOT NULL)", s);
        }
    } else {
        pg_sql(b, " AND (");
        col_expr(b, t, col);
        pg_sql(b, " %s ", cmp);
        col_param(b, args, t, col, plan->after_value);
        pg_sql(b, " OR (");
        col_expr(b, t, col);
        pg_sql(b, " = ");
        col_param(b, args, t, col, plan->after_value);
        pg_sql(b, " AND \"id\" %s ", cmp);
        param(b, args, id);
        pg_sql(b, ")");
        if (plan->desc) {
            pg_sql(b, " OR \"%s\" IS NULL", s);
        }
        pg_sql(b, ")");
    }
    json_decref(id);
}

int pg_row_list(struct store_tx *tx, const struct store_table_desc *t,
                const struct store_plan *plan, json_t **rows_out, bool *more)
{
    int rc = pg_scope_apply(tx, plan->scope);
    if (rc < 0) {
        return rc;
    }
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    pg_sql(&b, "SELECT ");
    select_cols(&b, t, false);
    pg_sql(&b, " FROM \"%s\"", t->name);
    where_sql(&b, args, t, plan);
    if (plan->after_id) {
        keyset_sql(&b, args, t, plan);
    }
    pg_sql(&b, " ORDER BY ");
    col_expr(&b, t, plan->sort);
    pg_sql(&b, plan->desc ? " DESC NULLS LAST, \"id\" DESC" : " ASC NULLS FIRST, \"id\" ASC");
    pg_sql(&b, " LIMIT %zu", plan->limit + 1);
    PGresult *res = NULL;
    rc = run_built(tx, &b, args, &res);
    if (rc < 0) {
        return rc;
    }
    json_t *rows = json_array();
    int n = PQntuples(res);
    *more = (size_t)n > plan->limit;
    for (int i = 0; i < n && (size_t)i < plan->limit; i++) {
        json_array_append_new(rows, read_row(res, i, t, false));
    }
    PQclear(res);
    *rows_out = rows;
    return 0;
}

int pg_row_count(struct store_tx *tx, const struct store_table_desc *t,
                 const struct store_plan *plan, const struct store_column *group, json_t **out)
{
    int rc = pg_scope_apply(tx, plan->scope);
    if (rc < 0) {
        return rc;
    }
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    if (group) {
        pg_sql(&b, "SELECT \"%s\", count(*) FROM \"%s\"", group->name, t->name);
    } else {
        pg_sql(&b, "SELECT 'total', count(*) FROM \"%s\"", t->name);
    }
    where_sql(&b, args, t, plan);
    if (group) {
        pg_sql(&b, " GROUP BY \"%s\"", group->name);
    }
    PGresult *res = NULL;
    rc = run_built(tx, &b, args, &res);
    if (rc < 0) {
        return rc;
    }
    json_t *obj = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *key = pg_value(res, i, 0, group ? group->type : COL_TEXT);
        char *text = json_is_string(key) ? xstrdup(json_string_value(key))
                                         : json_dumps(key, JSON_ENCODE_ANY);
        json_object_set_new(obj, text ? text : "null",
                            json_integer(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
        free(text);
        json_decref(key);
    }
    PQclear(res);
    *out = obj;
    return 0;
}

/* A fixed statement with arguments given as a JSON array (stolen). */
static int run_fixed(struct store_tx *tx, const char *sql, json_t *args, PGresult **res)
{
    int rc = pg_run(tx, sql, args, res);
    json_decref(args);
    return rc;
}

int pg_meta_get(struct store_tx *tx, const char *key, char **value_out)
{
    PGresult *res = NULL;
    int rc = run_fixed(tx, "SELECT value FROM meta WHERE key = $1", json_pack("[s]", key), &res);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        rc = SB_E_NOTFOUND;
    } else {
        *value_out = xstrdup(PQgetvalue(res, 0, 0));
        rc = 0;
    }
    PQclear(res);
    return rc;
}

int pg_meta_set(struct store_tx *tx, const char *key, const char *value)
{
    int rc = run_fixed(tx,
                       "INSERT INTO meta (key, value) VALUES ($1, $2) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       json_pack("[ss]", key, value), NULL);
    return rc < 0 ? rc : 0;
}

static json_t *time_json(int64_t ms)
{
    char text[CLOCK_RFC3339_LEN];
    clock_format_ms(ms, text);
    return json_string(text);
}

int pg_refresh_insert(struct store_tx *tx, const char *id, const char *user_id,
                      const char *family_id, const char *token_hash, int64_t expires_at_ms,
                      int64_t now_ms)
{
    int rc = run_fixed(tx,
                       "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, "
                       "expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                       json_pack("[ssssoo]", id, user_id, family_id, token_hash,
                                 time_json(expires_at_ms), time_json(now_ms)),
                       NULL);
    return rc < 0 ? rc : 0;
}

static int64_t value_ms(const PGresult *res, int row, int col)
{
    int64_t ms = 0;
    if (PQgetisnull(res, row, col) || clock_parse_ms(PQgetvalue(res, row, col), &ms) < 0) {
        return 0;
    }
    return ms;
}

int pg_refresh_find(struct store_tx *tx, const char *token_hash, struct store_refresh *out)
{
    PGresult *res = NULL;
    int rc = run_fixed(tx,
                       "SELECT id, user_id, family_id, expires_at, used_at, revoked_at "
                       "FROM refresh_tokens WHERE token_hash = $1",
                       json_pack("[s]", token_hash), &res);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        PQclear(res);
        return SB_E_NOTFOUND;
    }
    snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(res, 0, 0));
    snprintf(out->user_id, sizeof(out->user_id), "%s", PQgetvalue(res, 0, 1));
    snprintf(out->family_id, sizeof(out->family_id), "%s", PQgetvalue(res, 0, 2));
    out->expires_at_ms = value_ms(res, 0, 3);
    out->used_at_ms = value_ms(res, 0, 4);
    out->revoked_at_ms = value_ms(res, 0, 5);
    PQclear(res);
    return 0;
}

int pg_refresh_mark_used(struct store_tx *tx, const char *id, int64_t now_ms)
{
    return run_fixed(tx, "UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
                     json_pack("[os]", time_json(now_ms), id), NULL);
}

int pg_refresh_revoke(struct store_tx *tx, const char *column, const char *value, int64_t now_ms)
{
    const char *sql = strcmp(column, "family_id") == 0
                          ? "UPDATE refresh_tokens SET revoked_at = $1 "
                            "WHERE family_id = $2 AND revoked_at IS NULL"
                          : "UPDATE refresh_tokens SET revoked_at = $1 "
                            "WHERE user_id = $2 AND revoked_at IS NULL";
    return run_fixed(tx, sql, json_pack("[os]", time_json(now_ms), value), NULL);
}

int pg_events_add(struct store_tx *tx, const char *key, int64_t now_ms, unsigned keep,
                  int64_t expires_ms)
{
    int rc = run_fixed(tx, "DELETE FROM login_events WHERE expires_ms <= $1",
                       json_pack("[I]", (json_int_t)now_ms), NULL);
    if (rc >= 0) {
        rc = run_fixed(tx, "INSERT INTO login_events (key, at_ms, expires_ms) VALUES ($1, $2, $3)",
                       json_pack("[sII]", key, (json_int_t)now_ms, (json_int_t)expires_ms), NULL);
    }
    if (rc >= 0) {
        rc = run_fixed(tx,
                       "DELETE FROM login_events WHERE key = $1 AND id NOT IN (SELECT id FROM "
                       "login_events WHERE key = $1 ORDER BY at_ms DESC, id DESC LIMIT $2)",
                       json_pack("[sI]", key, (json_int_t)keep), NULL);
    }
    return rc < 0 ? rc : 0;
}

int pg_events_count(struct store_tx *tx, const char *key, int64_t since_ms, unsigned *n,
                    int64_t *oldest_ms, int64_t *newest_ms)
{
    PGresult *res = NULL;
    int rc = run_fixed(tx,
                       "SELECT count(*), coalesce(min(at_ms), 0), coalesce(max(at_ms), 0) "
                       "FROM login_events WHERE key = $1 AND at_ms > $2",
                       json_pack("[sI]", key, (json_int_t)since_ms), &res);
    if (rc < 0) {
        return rc;
    }
    if (rc > 0) {
        *n = (unsigned)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        *oldest_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        *newest_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    }
    PQclear(res);
    return 0;
}

int pg_events_clear(struct store_tx *tx, const char *key)
{
    int rc = run_fixed(tx, "DELETE FROM login_events WHERE key = $1", json_pack("[s]", key), NULL);
    return rc < 0 ? rc : 0;
}

int pg_refresh_revoked_since(struct store_tx *tx, int64_t since_ms, json_t *out)
{
    PGresult *res = NULL;
    int rc = run_fixed(tx, "SELECT DISTINCT family_id FROM refresh_tokens WHERE revoked_at > $1",
                       json_pack("[o]", time_json(since_ms)), &res);
    if (rc < 0) {
        return rc;
    }
    for (int i = 0; i < rc; i++) {
        json_array_append_new(out, json_string(PQgetvalue(res, i, 0)));
    }
    PQclear(res);
    return 0;
}

int pg_audit_last(struct store_tx *tx, int64_t *seq, char hash[65])
{
    *seq = 0;
    snprintf(hash, 65, "%064d", 0);
    /* The chain spans every tenant: sb_audit_last() lifts a tenant scope for its query. */
    PGresult *res = NULL;
    int rc = pg_run(tx, "SELECT last_seq, last_hash FROM sb_audit_last()", NULL, &res);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        *seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(hash, 65, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return 0;
}

int pg_audit_insert(struct store_tx *tx, json_t *entry)
{
    return pg_row_insert(tx, store_table_desc(STORE_AUDIT), entry);
}

/* Walk audit_logs in pages of AUDIT_PAGE rows, all in the read transaction's one snapshot. */
int pg_audit_scan(struct store *s, store_audit_row_cb cb, void *arg, int64_t *high_water)
{
    const struct store_table_desc *t = store_table_desc(STORE_AUDIT);
    struct store_tx *tx = NULL;
    *high_water = 0;
    int rc = pg_tx_begin(s, false, &tx);
    if (rc < 0) {
        return rc;
    }
    struct buf b;
    buf_init(&b, SQL_MAX);
    pg_sql(&b, "SELECT ");
    select_cols(&b, t, true);
    pg_sql(&b, " FROM audit_logs WHERE seq > $1 ORDER BY seq LIMIT %d", AUDIT_PAGE);
    int64_t after = INT64_MIN;
    bool stop = false;
    for (int page = 0; !stop && page < 100000000; page++) {
        PGresult *res = NULL;
        rc = run_fixed(tx, b.data, json_pack("[I]", (json_int_t)after), &res);
        if (rc < 0) {
            break;
        }
        int n = PQntuples(res);
        for (int i = 0; i < n && !stop; i++) {
            json_t *row = read_row(res, i, t, true);
            after = json_integer_value(json_object_get(row, "seq"));
            stop = cb(arg, row) != 0;
            json_decref(row);
        }
        PQclear(res);
        stop = stop || n < AUDIT_PAGE;
    }
    buf_release(&b);
    if (rc >= 0) {
        PGresult *res = NULL;
        rc = pg_run(tx, "SELECT seq FROM audit_high_water", NULL, &res);
        if (rc == 1) {
            *high_water = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        }
        PQclear(res);
    }
    pg_tx_rollback(tx);
    return rc < 0 ? rc : 0;
}

int pg_changes_read(struct store *s, int64_t after_seq, size_t limit, struct store_change **out,
                    size_t *n)
{
    struct store_tx *tx = NULL;
    int rc = pg_tx_begin(s, false, &tx);
    if (rc < 0) {
        return rc;
    }
    PGresult *res = NULL;
    rc = run_fixed(tx,
                   "SELECT seq, at, client_id, table_name, op, row_id, record, old_record "
                   "FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                   json_pack("[II]", (json_int_t)after_seq,
                             (json_int_t)(limit > INT32_MAX ? INT32_MAX : limit)),
                   &res);
    pg_tx_rollback(tx);
    if (rc < 0) {
        return rc;
    }
    size_t count = (size_t)PQntuples(res);
    struct store_change *v = xcalloc(count ? count : 1, sizeof(*v));
    for (size_t i = 0; i < count; i++) {
        int r = (int)i;
        struct store_change *ch = &v[i];
        ch->seq = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        ch->at_ms = value_ms(res, r, 1);
        ch->client_id = PQgetisnull(res, r, 2) ? NULL : xstrdup(PQgetvalue(res, r, 2));
        const struct store_table_desc *t = store_table_by_name(PQgetvalue(res, r, 3));
        ch->table = t ? t->id : STORE__NTABLES;
        snprintf(ch->op, sizeof(ch->op), "%s", PQgetvalue(res, r, 4));
        ch->row_id = xstrdup(PQgetvalue(res, r, 5));
        json_t *rec = pg_value(res, r, 6, COL_JSON), *old = pg_value(res, r, 7, COL_JSON);
        ch->record = json_is_null(rec) ? NULL : rec;
        ch->old_record = json_is_null(old) ? NULL : old;
    }
    PQclear(res);
    *out = v;
    *n = count;
    return 0;
}

int pg_changes_bounds(struct store *s, int64_t *oldest, int64_t *head)
{
    struct store_tx *tx = NULL;
    int rc = pg_tx_begin(s, false, &tx);
    if (rc < 0) {
        return rc;
    }
    PGresult *res = NULL;
    rc = pg_run(tx, "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM changes", NULL, &res);
    if (rc == 1) {
        *oldest = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *head = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    pg_tx_rollback(tx);
    return rc < 0 ? rc : 0;
}

int pg_changes_prune(struct store *s, int64_t before_ms)
{
    struct store_tx *tx = NULL;
    int rc = pg_tx_begin(s, true, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = run_fixed(tx,
                   "DELETE FROM changes WHERE at < $1 "
                   "AND seq < (SELECT max(seq) FROM changes)",
                   json_pack("[o]", time_json(before_ms)), NULL);
    if (rc < 0) {
        pg_tx_rollback(tx);
        return rc;
    }
    int commit = pg_tx_commit(tx);
    return commit < 0 ? commit : rc;
}
