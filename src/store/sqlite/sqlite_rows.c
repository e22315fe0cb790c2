/*
 * SQLite row operations, generic over the table descriptors of schema.c. SQL text is built
 * from descriptor names only (always double-quoted, since "before" and "after" are keywords),
 * and every value is a bound parameter: arguments are collected in a JSON array in the order
 * their '?' appear and bound by sq_bind_all. Built statements go through the per-connection
 * statement cache like fixed ones, so repeated list shapes are prepared once.
 *
 * Scope (DESIGN §5) becomes one predicate: all -> 1; no tenant -> 0; else
 * "<tenant_col>" = ? [OR "<tenant_col>" IS NULL]. List pages use keyset pagination on
 * (sort column, id); SQLite orders NULL first ascending and last descending, and the keyset
 * predicate follows that order.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

#define SQL_MAX (256 * 1024)

/* SELECT list of the visible columns of t (hidden ones too when with_hidden). */
static void select_cols(struct buf *b, const struct store_table_desc *t, bool with_hidden)
{
    bool first = true;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].hidden && !with_hidden) {
            continue;
        }
        sq_sql(b, "%s\"%s\"", first ? "" : ", ", t->cols[i].name);
        first = false;
    }
}

static json_t *read_row(sqlite3_stmt *st, const struct store_table_desc *t, bool with_hidden)
{
    json_t *row = json_object();
    int idx = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].hidden && !with_hidden) {
            continue;
        }
        json_object_set_new(row, t->cols[i].name, sq_column(st, idx++, t->cols[i].type));
    }
    return row;
}

static void scope_sql(struct buf *b, json_t *args, const struct store_table_desc *t,
                      const struct store_scope *scope)
{
    if (scope->all) {
        sq_sql(b, "1");
    } else if (!scope->client_id) {
        sq_sql(b, "0");
    } else {
        sq_sql(b, "(\"%s\" = ?", t->tenant_col);
        json_array_append_new(args, json_string(scope->client_id));
        if (scope->include_global) {
            sq_sql(b, " OR \"%s\" IS NULL", t->tenant_col);
        }
        sq_sql(b, ")");
    }
}

/* Prepare b's SQL on c and bind args. */
static int prepare_bound(struct sq_conn *c, struct buf *b, json_t *args, sqlite3_stmt **st)
{
    int rc = sq_prepare(c, b->data, st);
    if (rc < 0) {
        return rc;
    }
    rc = sq_bind_all(*st, args);
    if (rc < 0) {
        sq_done(c, *st);
        *st = NULL;
    }
    return rc;
}

/* Run a statement that returns no rows; returns sqlite3_changes() or an error. */
static int run(struct sq_conn *c, struct buf *b, json_t *args)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, b, args, &st);
    if (rc < 0) {
        return rc;
    }
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? sqlite3_changes(c->db) : sq_err(c->db, rc);
    sq_done(c, st);
    return rc;
}

int sq_row_insert(struct store_tx *tx, const struct store_table_desc *t, json_t *row)
{
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    sq_sql(&b, "INSERT INTO \"%s\" (", t->name);
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(row, key, v)
    {
        if (!store_column_find(t, key)) {
            continue; /* store.c checked; never build SQL from a name not in the descriptor */
        }
        sq_sql(&b, "%s\"%s\"", n ? ", " : "", store_column_find(t, key)->name);
        json_array_append(args, v);
        n++;
    }
    sq_sql(&b, ") VALUES (");
    for (size_t i = 0; i < n; i++) {
        sq_sql(&b, "%s?", i ? ", " : "");
    }
    sq_sql(&b, ")");
    int rc = run(sq_tx_conn(tx), &b, args);
    json_decref(args);
    buf_release(&b);
    return rc < 0 ? rc : 0;
}

static int get_row(struct store_tx *tx, const struct store_table_desc *t,
                   const struct store_scope *scope, const char *key_col, const char *key,
                   bool with_hidden, json_t **out)
{
    struct sq_conn *c = sq_tx_conn(tx);
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    sq_sql(&b, "SELECT ");
    select_cols(&b, t, with_hidden);
    sq_sql(&b, " FROM \"%s\" WHERE \"%s\" = ? AND ", t->name, key_col);
    json_array_append_new(args, json_string(key));
    scope_sql(&b, args, t, scope);
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, &b, args, &st);
    if (rc == 0) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = read_row(st, t, with_hidden);
            rc = 0;
        } else {
            rc = rc == SQLITE_DONE ? SB_E_NOTFOUND : sq_err(c->db, rc);
        }
        sq_done(c, st);
    }
    json_decref(args);
    buf_release(&b);
    return rc;
}

int sq_row_get(struct store_tx *tx, const struct store_table_desc *t,
               const struct store_scope *scope, const char *id, json_t **out)
{
    return get_row(tx, t, scope, "id", id, false, out);
}

int sq_user_by_email(struct store_tx *tx, const char *email, json_t **out)
{
    struct store_scope all = {.all = true};
    return get_row(tx, store_table_desc(STORE_USERS), &all, "email", email, true, out);
}

int sq_row_update(struct store_tx *tx, const struct store_table_desc *t,
                  const struct store_scope *scope, const char *id, json_t *set, int64_t version)
{
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    sq_sql(&b, "UPDATE \"%s\" SET ", t->name);
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(set, key, v)
    {
        const struct store_column *col = store_column_find(t, key);
        if (!col) {
            continue;
        }
        sq_sql(&b, "%s\"%s\" = ?", n++ ? ", " : "", col->name);
        json_array_append(args, v);
    }
    sq_sql(&b, " WHERE \"id\" = ? AND ");
    json_array_append_new(args, json_string(id));
    scope_sql(&b, args, t, scope);
    if (version > 0) {
        sq_sql(&b, " AND \"version\" = ?");
        json_array_append_new(args, json_integer(version));
    }
    int rc = run(sq_tx_conn(tx), &b, args);
    json_decref(args);
    buf_release(&b);
    return rc;
}

int sq_row_delete(struct store_tx *tx, const struct store_table_desc *t,
                  const struct store_scope *scope, const char *id)
{
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    sq_sql(&b, "DELETE FROM \"%s\" WHERE \"id\" = ? AND ", t->name);
    json_array_append_new(args, json_string(id));
    scope_sql(&b, args, t, scope);
    int rc = run(sq_tx_conn(tx), &b, args);
    json_decref(args);
    buf_release(&b);
    return rc;
}

/* The LIKE pattern %q% with \, % and _ escaped. */
static json_t *like_pattern(const char *q)
{
    struct buf b;
    buf_init(&b, SQL_MAX);
    sq_sql(&b, "%%");
    for (const char *p = q; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\') {
            sq_sql(&b, "\\");
        }
        sq_sql(&b, "%c", *p);
    }
    sq_sql(&b, "%%");
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
    sq_sql(b, " WHERE ");
    scope_sql(b, args, t, plan->scope);
    for (size_t i = 0; i < plan->nfilters; i++) {
        const struct store_filter *f = &plan->filters[i];
        const char *col = plan->filter_cols[i]->name;
        if (f->op == STORE_IS_NULL) {
            sq_sql(b, " AND \"%s\" IS %sNULL", col, json_is_false(f->value) ? "NOT " : "");
        } else if (f->op == STORE_IN) {
            if (json_array_size(f->value) == 0) {
                sq_sql(b, " AND 0");
                continue;
            }
            sq_sql(b, " AND \"%s\" IN (", col);
            for (size_t j = 0; j < json_array_size(f->value); j++) {
                sq_sql(b, "%s?", j ? ", " : "");
                json_array_append(args, json_array_get(f->value, j));
            }
            sq_sql(b, ")");
        } else if (json_is_null(f->value)) {
            if (f->op == STORE_EQ || f->op == STORE_NEQ) {
                sq_sql(b, " AND \"%s\" IS %sNULL", col, f->op == STORE_NEQ ? "NOT " : "");
            } else {
                sq_sql(b, " AND 0");
            }
        } else {
            sq_sql(b, " AND \"%s\" %s ?", col, ops[f->op]);
            json_array_append(args, f->value);
        }
    }
    if (plan->q) {
        bool any = false;
        for (size_t i = 0; i < t->ncols; i++) {
            if (!t->cols[i].searchable || t->cols[i].hidden) {
                continue;
            }
            sq_sql(b, "%s\"%s\" LIKE ? ESCAPE '\\'", any ? " OR " : " AND (", t->cols[i].name);
            json_array_append_new(args, like_pattern(plan->q));
            any = true;
        }
        const struct store_search_ref *r = store_table_search_ref(t);
        if (r) {
            sq_sql(b,
                   "%sEXISTS (SELECT 1 FROM \"%s\" AS sr WHERE sr.\"id\" = \"%s\".\"%s\" AND "
                   "sr.\"%s\" LIKE ? ESCAPE '\\')",
                   any ? " OR " : " AND (", r->ref_table, t->name, r->fk, r->col);
            json_array_append_new(args, like_pattern(plan->q));
            any = true;
        }
        if (any) {
            sq_sql(b, ")");
        }
    }
}

int sq_row_list(struct store_tx *tx, const struct store_table_desc *t,
                const struct store_plan *plan, json_t **rows_out, bool *more)
{
    struct sq_conn *c = sq_tx_conn(tx);
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    sq_sql(&b, "SELECT ");
    select_cols(&b, t, false);
    sq_sql(&b, " FROM \"%s\"", t->name);
    where_sql(&b, args, t, plan);
    const char *s = plan->sort->name;
    const char *cmp = plan->desc ? "<" : ">";
    if (plan->after_id) {
        json_t *id = json_string(plan->after_id);
        if (json_is_null(plan->after_value)) {
            if (plan->desc) {
                sq_sql(&b, " AND (\"%s\" IS NULL AND \"id\" < ?)", s);
            } else {
                sq_sql(&b, " AND ((\"%s\" IS NULL AND \"id\" > ?) OR \"%s\" IS NOT NULL)", s, s);
            }
            json_array_append(args, id);
        } else {
            sq_sql(&b, " AND (\"%s\" %s ? OR (\"%s\" = ? AND \"id\" %s ?)%s%s%s)", s, cmp, s, cmp,
                   plan->desc ? " OR \"" : "", plan->desc ? s : "", plan->desc ? "\" IS NULL" : "");
            json_array_append(args, plan->after_value);
            json_array_append(args, plan->after_value);
            json_array_append(args, id);
        }
        json_decref(id);
    }
    const char *dir = plan->desc ? "DESC" : "ASC";
    sq_sql(&b, " ORDER BY \"%s\" %s, \"id\" %s LIMIT %zu", s, dir, dir, plan->limit + 1);
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, &b, args, &st);
    json_t *rows = json_array();
    *more = false;
    while (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            break;
        }
        if (step != SQLITE_ROW) {
            rc = sq_err(c->db, step);
            break;
        }
        if (json_array_size(rows) == plan->limit) {
            *more = true;
            break;
        }
        json_array_append_new(rows, read_row(st, t, false));
    }
    sq_done(c, st);
    json_decref(args);
    buf_release(&b);
    if (rc < 0) {
        json_decref(rows);
        return rc;
    }
    *rows_out = rows;
    return 0;
}

int sq_row_count(struct store_tx *tx, const struct store_table_desc *t,
                 const struct store_plan *plan, const struct store_column *group, json_t **out)
{
    struct sq_conn *c = sq_tx_conn(tx);
    struct buf b;
    buf_init(&b, SQL_MAX);
    json_t *args = json_array();
    if (group) {
        sq_sql(&b, "SELECT \"%s\", count(*) FROM \"%s\"", group->name, t->name);
    } else {
        sq_sql(&b, "SELECT 'total', count(*) FROM \"%s\"", t->name);
    }
    where_sql(&b, args, t, plan);
    if (group) {
        sq_sql(&b, " GROUP BY \"%s\"", group->name);
    }
    sqlite3_stmt *st = NULL;
    int rc = prepare_bound(c, &b, args, &st);
    json_t *obj = json_object();
    while (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            break;
        }
        if (step != SQLITE_ROW) {
            rc = sq_err(c->db, step);
            break;
        }
        json_t *key = sq_column(st, 0, group ? group->type : COL_TEXT);
        char *text = json_is_string(key) ? xstrdup(json_string_value(key))
                                         : json_dumps(key, JSON_ENCODE_ANY);
        json_object_set_new(obj, text ? text : "null", json_integer(sqlite3_column_int64(st, 1)));
        free(text);
        json_decref(key);
    }
    sq_done(c, st);
    json_decref(args);
    buf_release(&b);
    if (rc < 0) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* A fixed statement with string/integer arguments given as a JSON array (stolen). */
static int run_fixed(struct store_tx *tx, const char *sql, json_t *args)
{
    struct buf b = {.data = (char *)sql};
    int rc = run(sq_tx_conn(tx), &b, args);
    json_decref(args);
    return rc;
}

int sq_meta_get(struct store_tx *tx, const char *key, char **value_out)
{
    struct sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(c, "SELECT value FROM meta WHERE key = ?", &st);
    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *value_out = xstrdup((const char *)sqlite3_column_text(st, 0));
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? SB_E_NOTFOUND : sq_err(c->db, rc);
    }
    sq_done(c, st);
    return rc;
}

int sq_meta_set(struct store_tx *tx, const char *key, const char *value)
{
    int rc = run_fixed(tx,
                       "INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       json_pack("[ss]", key, value));
    return rc < 0 ? rc : 0;
}

static json_t *time_json(int64_t ms)
{
    char text[CLOCK_RFC3339_LEN];
    clock_format_ms(ms, text);
    return json_string(text);
}

int sq_refresh_insert(struct store_tx *tx, const char *id, const char *user_id,
                      const char *family_id, const char *token_hash, int64_t expires_at_ms,
                      int64_t now_ms)
{
    int rc = run_fixed(tx,
                       "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, "
                       "expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       json_pack("[ssssoo]", id, user_id, family_id, token_hash,
                                 time_json(expires_at_ms), time_json(now_ms)));
    return rc < 0 ? rc : 0;
}

static int64_t column_ms(sqlite3_stmt *st, int i)
{
    const char *text = (const char *)sqlite3_column_text(st, i);
    int64_t ms = 0;
    if (!text || clock_parse_ms(text, &ms) < 0) {
        return 0;
    }
    return ms;
}

int sq_refresh_find(struct store_tx *tx, const char *token_hash, struct store_refresh *out)
{
    struct sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(c,
                        "SELECT id, user_id, family_id, expires_at, used_at, revoked_at "
                        "FROM refresh_tokens WHERE token_hash = ?",
                        &st);
    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out->id, sizeof(out->id), "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(out->user_id, sizeof(out->user_id), "%s",
                 (const char *)sqlite3_column_text(st, 1));
        snprintf(out->family_id, sizeof(out->family_id), "%s",
                 (const char *)sqlite3_column_text(st, 2));
        out->expires_at_ms = column_ms(st, 3);
        out->used_at_ms = column_ms(st, 4);
        out->revoked_at_ms = column_ms(st, 5);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? SB_E_NOTFOUND : sq_err(c->db, rc);
    }
    sq_done(c, st);
    return rc;
}

int sq_refresh_mark_used(struct store_tx *tx, const char *id, int64_t now_ms)
{
    return run_fixed(tx, "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL",
                     json_pack("[os]", time_json(now_ms), id));
}

int sq_refresh_revoke(struct store_tx *tx, const char *column, const char *value, int64_t now_ms)
{
    const char *sql = strcmp(column, "family_id") == 0
                          ? "UPDATE refresh_tokens SET revoked_at = ? "
                            "WHERE family_id = ? AND revoked_at IS NULL"
                          : "UPDATE refresh_tokens SET revoked_at = ? "
                            "WHERE user_id = ? AND revoked_at IS NULL";
    return run_fixed(tx, sql, json_pack("[os]", time_json(now_ms), value));
}

int sq_events_add(struct store_tx *tx, const char *key, int64_t now_ms, unsigned keep,
                  int64_t expires_ms)
{
    int rc = run_fixed(tx, "DELETE FROM login_events WHERE expires_ms <= ?",
                       json_pack("[I]", (json_int_t)now_ms));
    if (rc >= 0) {
        rc = run_fixed(tx, "INSERT INTO login_events (key, at_ms, expires_ms) VALUES (?, ?, ?)",
                       json_pack("[sII]", key, (json_int_t)now_ms, (json_int_t)expires_ms));
    }
    if (rc >= 0) {
        rc = run_fixed(tx,
                       "DELETE FROM login_events WHERE key = ? AND id NOT IN (SELECT id FROM "
                       "login_events WHERE key = ? ORDER BY at_ms DESC, id DESC LIMIT ?)",
                       json_pack("[ssI]", key, key, (json_int_t)keep));
    }
    return rc < 0 ? rc : 0;
}

int sq_events_count(struct store_tx *tx, const char *key, int64_t since_ms, unsigned *n,
                    int64_t *oldest_ms, int64_t *newest_ms)
{
    struct sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(c,
                        "SELECT count(*), coalesce(min(at_ms), 0), coalesce(max(at_ms), 0) "
                        "FROM login_events WHERE key = ? AND at_ms > ?",
                        &st);
    if (rc < 0) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, since_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *n = (unsigned)sqlite3_column_int64(st, 0);
        *oldest_ms = sqlite3_column_int64(st, 1);
        *newest_ms = sqlite3_column_int64(st, 2);
        rc = 0;
    } else {
        rc = sq_err(c->db, rc);
    }
    sq_done(c, st);
    return rc;
}

int sq_events_clear(struct store_tx *tx, const char *key)
{
    int rc = run_fixed(tx, "DELETE FROM login_events WHERE key = ?", json_pack("[s]", key));
    return rc < 0 ? rc : 0;
}

int sq_refresh_revoked_since(struct store_tx *tx, int64_t since_ms, json_t *out)
{
    struct sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = NULL;
    int rc =
        sq_prepare(c, "SELECT DISTINCT family_id FROM refresh_tokens WHERE revoked_at > ?", &st);
    if (rc < 0) {
        return rc;
    }
    char since[CLOCK_RFC3339_LEN];
    clock_format_ms(since_ms, since);
    sqlite3_bind_text(st, 1, since, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_array_append_new(out, json_string((const char *)sqlite3_column_text(st, 0)));
    }
    rc = rc == SQLITE_DONE ? 0 : sq_err(c->db, rc);
    sq_done(c, st);
    return rc;
}

int sq_audit_last(struct store_tx *tx, int64_t *seq, char hash[65])
{
    struct sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(c, "SELECT seq, hash FROM audit_logs ORDER BY seq DESC LIMIT 1", &st);
    if (rc < 0) {
        return rc;
    }
    *seq = 0;
    snprintf(hash, 65, "%064d", 0);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        const char *h = (const char *)sqlite3_column_text(st, 1);
        snprintf(hash, 65, "%s", h ? h : "");
        rc = 0;
    } else {
        rc = sq_err(c->db, rc);
    }
    sq_done(c, st);
    return rc;
}

int sq_audit_insert(struct store_tx *tx, json_t *entry)
{
    return sq_row_insert(tx, store_table_desc(STORE_AUDIT), entry);
}

int sq_audit_scan(struct store *s, store_audit_row_cb cb, void *arg, int64_t *high_water)
{
    const struct store_table_desc *t = store_table_desc(STORE_AUDIT);
    struct store_tx *tx = NULL;
    int rc = sq_tx_begin(s, false, &tx);
    if (rc < 0) {
        return rc;
    }
    struct sq_conn *c = sq_tx_conn(tx);
    struct buf b;
    buf_init(&b, SQL_MAX);
    sq_sql(&b, "SELECT ");
    select_cols(&b, t, true);
    sq_sql(&b, " FROM audit_logs ORDER BY seq");
    sqlite3_stmt *st = NULL;
    rc = sq_prepare(c, b.data, &st);
    while (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            break;
        }
        if (step != SQLITE_ROW) {
            rc = sq_err(c->db, step);
            break;
        }
        json_t *row = read_row(st, t, true);
        int stop = cb(arg, row);
        json_decref(row);
        if (stop) {
            break;
        }
    }
    sq_done(c, st);
    buf_release(&b);
    *high_water = 0;
    if (rc == 0) {
        st = NULL;
        rc = sq_prepare(c, "SELECT seq FROM sqlite_sequence WHERE name = 'audit_logs'", &st);
        if (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            *high_water = sqlite3_column_int64(st, 0);
        }
        sq_done(c, st);
    }
    sq_tx_rollback(tx);
    return rc;
}

int sq_changes_read(struct store *s, int64_t after_seq, size_t limit, struct store_change **out,
                    size_t *n)
{
    struct store_tx *tx = NULL;
    int rc = sq_tx_begin(s, false, &tx);
    if (rc < 0) {
        return rc;
    }
    struct sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = NULL;
    rc = sq_prepare(c,
                    "SELECT seq, at, client_id, table_name, op, row_id, record, old_record "
                    "FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                    &st);
    struct store_change *v = NULL;
    size_t count = 0;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, after_seq);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
        v = xcalloc(limit < 1024 ? limit : 1024, sizeof(*v));
    }
    size_t cap = limit < 1024 ? limit : 1024;
    while (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            break;
        }
        if (step != SQLITE_ROW) {
            rc = sq_err(c->db, step);
            break;
        }
        if (count == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        struct store_change *ch = &v[count++];
        memset(ch, 0, sizeof(*ch));
        ch->seq = sqlite3_column_int64(st, 0);
        ch->at_ms = column_ms(st, 1);
        const char *client = (const char *)sqlite3_column_text(st, 2);
        ch->client_id = client ? xstrdup(client) : NULL;
        const struct store_table_desc *t =
            store_table_by_name((const char *)sqlite3_column_text(st, 3));
        ch->table = t ? t->id : STORE__NTABLES;
        snprintf(ch->op, sizeof(ch->op), "%s", (const char *)sqlite3_column_text(st, 4));
        ch->row_id = xstrdup((const char *)sqlite3_column_text(st, 5));
        json_t *rec = sq_column(st, 6, COL_JSON), *old = sq_column(st, 7, COL_JSON);
        ch->record = json_is_null(rec) ? NULL : rec;
        ch->old_record = json_is_null(old) ? NULL : old;
    }
    sq_done(c, st);
    sq_tx_rollback(tx);
    if (rc < 0) {
        store_changes_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return 0;
}

int sq_changes_bounds(struct store *s, int64_t *oldest, int64_t *head)
{
    struct store_tx *tx = NULL;
    int rc = sq_tx_begin(s, false, &tx);
    if (rc < 0) {
        return rc;
    }
    struct sq_conn *c = sq_tx_conn(tx);
    sqlite3_stmt *st = NULL;
    rc = sq_prepare(c, "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM changes", &st);
    if (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *oldest = sqlite3_column_int64(st, 0);
            *head = sqlite3_column_int64(st, 1);
        } else {
            rc = sq_err(c->db, step);
        }
    }
    sq_done(c, st);
    sq_tx_rollback(tx);
    return rc;
}

int sq_changes_prune(struct store *s, int64_t before_ms)
{
    struct store_tx *tx = NULL;
    int rc = sq_tx_begin(s, true, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = run_fixed(tx,
                   "DELETE FROM changes WHERE at < ? "
                   "AND seq < (SELECT max(seq) FROM changes)",
                   json_pack("[o]", time_json(before_ms)));
    if (rc < 0) {
        sq_tx_rollback(tx);
        return rc;
    }
    int commit = sq_tx_commit(tx);
    return commit < 0 ? commit : rc;
}
