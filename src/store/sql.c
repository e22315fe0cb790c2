/*
 * The one SQL builder of the row ops (sql.h), generic over the table descriptors of schema.c
 * and over a struct sql_dialect. Both backends must answer alike, so where PostgreSQL's
 * defaults differ from SQLite's, the PostgreSQL dialect asks for SQLite's behaviour:
 *   - scope is one predicate: all -> true; no tenant -> false; else
 *     "<tenant_col>" = $n [OR "<tenant_col>" IS NULL] (PostgreSQL's row-level security
 *     enforces the same tenant a second time: pg_scope_apply);
 *   - users.email compares and sorts case-insensitively: SQLite declares it COLLATE NOCASE,
 *     PostgreSQL puts both sides through lower(), which the "C" collation limits to ASCII
 *     like NOCASE;
 *   - q is matched with the dialect's case-insensitive LIKE (SQLite's LIKE already is, for
 *     ASCII), with \, % and _ in q taken literally;
 *   - NULLs sort first ascending and last descending, and the keyset predicate follows that
 *     order;
 *   - json columns compare through the dialect's cast (PostgreSQL's json has no equality).
 *
 * The row ops at the end of the file build one statement each and run it through the
 * backend's run function, which calls back once per result row with a struct sql_row that
 * reads typed columns (PGresult or sqlite3_stmt underneath); the rows become JSON here, so
 * both backends produce the same shapes by construction.
 */
#include "store/sql.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"

void sql_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        abort();
    }
}

/* Append s, our own bounded SQL text (overflowing is a bug, as in sql_printf). The builders
 * below use these rather than sql_printf on the hot paths: formatting was 6 % of the CPU of an
 * agent status change, which builds six statements. */
static void put(struct buf *b, const char *s)
{
    if (buf_puts(b, s) < 0) {
        abort();
    }
}

/* Append "name" (a name from the table descriptors, which never contain a quote). */
static void put_name(struct buf *b, const char *name)
{
    size_t n = strlen(name);
    char *p = buf_reserve(b, n + 2);
    if (!p) {
        abort();
    }
    p[0] = '"';
    memcpy(p + 1, name, n);
    p[n + 1] = '"';
    buf_commit(b, n + 2);
}

void sql_stmt_init(struct sql_stmt *self, const struct sql_dialect *d)
{
    self->d = d;
    buf_init(&self->text, SQL_MAX);
    if (!buf_reserve(&self->text, 511)) { /* most statements fit: no regrowth */
        abort();
    }
    self->args = json_array();
}

void sql_stmt_release(struct sql_stmt *self)
{
    buf_release(&self->text);
    json_decref(self->args);
    self->args = NULL;
}

/* Bind v (borrowed) and write its placeholder into b (the statement's text or a part of it
 * that is joined later in the same order). */
static void param_to(struct sql_stmt *st, struct buf *b, json_t *v)
{
    json_array_append(st->args, v);
    if (st->d->numbered) {
        sql_printf(b, "$%zu", json_array_size(st->args));
    } else {
        put(b, "?");
    }
}

static void param(struct sql_stmt *st, json_t *v)
{
    param_to(st, &st->text, v);
}

static void param_new(struct sql_stmt *st, json_t *v)
{
    param(st, v);
    json_decref(v);
}

static bool is_nocase(const struct store_table_desc *t, const struct store_column *col)
{
    return t->id == STORE_USERS && strcmp(col->name, "email") == 0;
}

/* The column as an expression to compare or sort by. */
static void col_expr(struct sql_stmt *st, const struct store_table_desc *t,
                     const struct store_column *col)
{
    if (st->d->lower_nocase && is_nocase(t, col)) {
        sql_printf(&st->text, "lower(\"%s\")", col->name);
    } else if (col->type == COL_JSON) {
        put_name(&st->text, col->name);
        put(&st->text, st->d->json_cast);
    } else {
        put_name(&st->text, col->name);
    }
}

/* A value compared with col_expr(col). */
static void col_param(struct sql_stmt *st, const struct store_table_desc *t,
                      const struct store_column *col, json_t *v)
{
    if (st->d->lower_nocase && is_nocase(t, col)) {
        sql_printf(&st->text, "lower(");
        param(st, v);
        sql_printf(&st->text, "%s)", st->d->text_cast);
    } else {
        param(st, v);
        if (col->type == COL_JSON) {
            sql_printf(&st->text, "%s", st->d->json_cast);
        }
    }
}

void sql_select_cols(struct buf *b, const struct store_table_desc *t, bool with_hidden)
{
    bool first = true;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].hidden && !with_hidden) {
            continue;
        }
        if (!first) {
            put(b, ", ");
        }
        put_name(b, t->cols[i].name);
        first = false;
    }
}

json_t *sql_row_read(const struct sql_row *row, const struct store_table_desc *t, bool with_hidden)
{
    json_t *obj = json_object();
    int idx = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].hidden && !with_hidden) {
            continue;
        }
        json_object_set_new(obj, t->cols[i].name, row->value(row, idx++, t->cols[i].type));
    }
    return obj;
}

void sql_count_add(json_t *counts, json_t *key, int64_t n)
{
    char *text =
        json_is_string(key) ? xstrdup(json_string_value(key)) : json_dumps(key, JSON_ENCODE_ANY);
    json_object_set_new(counts, text ? text : "null", json_integer(n));
    free(text);
    json_decref(key);
}

static void scope_sql(struct sql_stmt *st, const struct store_table_desc *t,
                      const struct store_scope *scope)
{
    if (scope->all) {
        put(&st->text, st->d->true_sql);
    } else if (!scope->client_id) {
        put(&st->text, st->d->false_sql);
    } else {
        put(&st->text, "(");
        put_name(&st->text, t->tenant_col);
        put(&st->text, " = ");
        param_new(st, json_string(scope->client_id));
        if (scope->include_global) {
            put(&st->text, " OR ");
            put_name(&st->text, t->tenant_col);
            put(&st->text, " IS NULL");
        }
        put(&st->text, ")");
    }
}

/* For each column of obj that t has: its name (followed by assign) into the text and its
 * value's placeholder into vals, which is the text itself or a part joined to it later. */
static void column_values(struct sql_stmt *st, const struct store_table_desc *t, json_t *obj,
                          const char *assign, struct buf *vals)
{
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(obj, key, v)
    {
        const struct store_column *col = store_column_find(t, key);
        if (!col) {
            continue; /* store.c checked; never build SQL from a name not in the descriptor */
        }
        if (n) {
            put(&st->text, ", ");
        }
        put_name(&st->text, col->name);
        put(&st->text, assign);
        if (vals != &st->text && n) {
            put(vals, ", ");
        }
        param_to(st, vals, v);
        n++;
    }
}

void sql_stmt_insert(struct sql_stmt *self, const struct store_table_desc *t, json_t *row)
{
    struct buf vals;
    buf_init(&vals, SQL_MAX);
    put(&self->text, "INSERT INTO ");
    put_name(&self->text, t->name);
    put(&self->text, " (");
    column_values(self, t, row, "", &vals);
    put(&self->text, ") VALUES (");
    put(&self->text, vals.data ? vals.data : "");
    put(&self->text, ")");
    buf_release(&vals);
}

void sql_stmt_get(struct sql_stmt *self, const struct store_table_desc *t,
                  const struct store_scope *scope, const struct store_column *key_col,
                  const char *key, bool with_hidden)
{
    put(&self->text, "SELECT ");
    sql_select_cols(&self->text, t, with_hidden);
    put(&self->text, " FROM ");
    put_name(&self->text, t->name);
    put(&self->text, " WHERE ");
    col_expr(self, t, key_col);
    put(&self->text, " = ");
    json_t *kv = json_string(key);
    col_param(self, t, key_col, kv);
    json_decref(kv);
    put(&self->text, " AND ");
    scope_sql(self, t, scope);
}

void sql_stmt_update(struct sql_stmt *self, const struct store_table_desc *t,
                     const struct store_scope *scope, const char *id, json_t *set, int64_t version)
{
    sql_stmt_update_ex(self, t, scope, id, set, version, false);
}

void sql_stmt_update_ex(struct sql_stmt *self, const struct store_table_desc *t,
                        const struct store_scope *scope, const char *id, json_t *set,
                        int64_t version, bool bump_version)
{
    put(&self->text, "UPDATE ");
    put_name(&self->text, t->name);
    put(&self->text, " SET ");
    column_values(self, t, set, " = ", &self->text);
    if (bump_version) {
        put(&self->text, json_object_size(set) ? ", " : "");
        put(&self->text, "\"version\" = \"version\" + 1");
    }
    put(&self->text, " WHERE \"id\" = ");
    param_new(self, json_string(id));
    put(&self->text, " AND ");
    scope_sql(self, t, scope);
    if (version > 0) {
        put(&self->text, " AND \"version\" = ");
        param_new(self, json_integer(version));
    }
}

void sql_stmt_delete(struct sql_stmt *self, const struct store_table_desc *t,
                     const struct store_scope *scope, const char *id)
{
    sql_printf(&self->text, "DELETE FROM \"%s\" WHERE \"id\" = ", t->name);
    param_new(self, json_string(id));
    sql_printf(&self->text, " AND ");
    scope_sql(self, t, scope);
}

/* The LIKE pattern %q% with \, % and _ escaped. */
static json_t *like_pattern(const char *q)
{
    struct buf b;
    buf_init(&b, SQL_MAX);
    sql_printf(&b, "%%");
    for (const char *p = q; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\') {
            sql_printf(&b, "\\");
        }
        sql_printf(&b, "%c", *p);
    }
    sql_printf(&b, "%%");
    json_t *v = json_string(b.data);
    buf_release(&b);
    return v ? v : json_string("");
}

/* One filter of a list or count, after " AND ". */
static void filter_sql(struct sql_stmt *st, const struct store_table_desc *t,
                       const struct store_column *col, const struct store_filter *f)
{
    static const char *const ops[] = {
        [STORE_EQ] = "=",   [STORE_NEQ] = "<>", [STORE_LT] = "<",
        [STORE_LTE] = "<=", [STORE_GT] = ">",   [STORE_GTE] = ">=",
    };
    if (f->op == STORE_IS_NULL) {
        sql_printf(&st->text, "\"%s\" IS %sNULL", col->name, json_is_false(f->value) ? "NOT " : "");
    } else if (f->op == STORE_IN) {
        if (json_array_size(f->value) == 0) {
            sql_printf(&st->text, "%s", st->d->false_sql);
            return;
        }
        col_expr(st, t, col);
        sql_printf(&st->text, " IN (");
        for (size_t j = 0; j < json_array_size(f->value); j++) {
            sql_printf(&st->text, "%s", j ? ", " : "");
            col_param(st, t, col, json_array_get(f->value, j));
        }
        sql_printf(&st->text, ")");
    } else if (json_is_null(f->value)) {
        if (f->op == STORE_EQ || f->op == STORE_NEQ) {
            sql_printf(&st->text, "\"%s\" IS %sNULL", col->name, f->op == STORE_NEQ ? "NOT " : "");
        } else {
            sql_printf(&st->text, "%s", st->d->false_sql);
        }
    } else {
        col_expr(st, t, col);
        sql_printf(&st->text, " %s ", ops[f->op]);
        col_param(st, t, col, f->value);
    }
}

/* The search q over the searchable columns and the search reference, after " AND ". */
static void search_sql(struct sql_stmt *st, const struct store_table_desc *t, const char *q)
{
    const char *like = st->d->ilike;
    bool any = false;
    for (size_t i = 0; i < t->ncols; i++) {
        if (!t->cols[i].searchable || t->cols[i].hidden) {
            continue;
        }
        sql_printf(&st->text, "%s\"%s\" %s ", any ? " OR " : "(", t->cols[i].name, like);
        param_new(st, like_pattern(q));
        sql_printf(&st->text, " ESCAPE '\\'");
        any = true;
    }
    const struct store_search_ref *r = store_table_search_ref(t);
    if (r) {
        sql_printf(&st->text,
                   "%sEXISTS (SELECT 1 FROM \"%s\" AS sr WHERE sr.\"id\" = \"%s\".\"%s\" AND "
                   "sr.\"%s\" %s ",
                   any ? " OR " : "(", r->ref_table, t->name, r->fk, r->col, like);
        param_new(st, like_pattern(q));
        sql_printf(&st->text, " ESCAPE '\\')");
        any = true;
    }
    sql_printf(&st->text, "%s", any ? ")" : st->d->true_sql);
}

/* WHERE clause of a list or count: scope, filters and q. */
static void where_sql(struct sql_stmt *st, const struct store_table_desc *t,
                      const struct store_plan *plan)
{
    sql_printf(&st->text, " WHERE ");
    scope_sql(st, t, plan->scope);
    for (size_t i = 0; i < plan->nfilters; i++) {
        sql_printf(&st->text, " AND ");
        filter_sql(st, t, plan->filter_cols[i], &plan->filters[i]);
    }
    if (plan->q) {
        sql_printf(&st->text, " AND ");
        search_sql(st, t, plan->q);
    }
}

/* The keyset predicate: rows after (after_value, after_id) in the list's order, where NULL
 * sorts lowest. */
static void keyset_sql(struct sql_stmt *st, const struct store_table_desc *t,
                       const struct store_plan *plan)
{
    const struct store_column *col = plan->sort;
    const char *s = col->name;
    const char *cmp = plan->desc ? "<" : ">";
    json_t *id = json_string(plan->after_id);
    if (json_is_null(plan->after_value)) {
        if (plan->desc) {
            sql_printf(&st->text, " AND (\"%s\" IS NULL AND \"id\" < ", s);
            param(st, id);
            sql_printf(&st->text, ")");
        } else {
            sql_printf(&st->text, " AND ((\"%s\" IS NULL AND \"id\" > ", s);
            param(st, id);
            sql_printf(&st->text, ") OR \"%s\" IS NOT NULL)", s);
        }
    } else {
        /* The same bound once more outside the OR, so that an index on the sort column starts
         * its range at the cursor: without it every page walked the rows of every page before
         * it (an export of n rows read about n * n / (2 * page) of them). Not for a nullable
         * column descending: its NULLs come after every value. */
        if (!plan->desc || !col->nullable) {
            sql_printf(&st->text, " AND ");
            col_expr(st, t, col);
            sql_printf(&st->text, " %s ", plan->desc ? "<=" : ">=");
            col_param(st, t, col, plan->after_value);
        }
        sql_printf(&st->text, " AND (");
        col_expr(st, t, col);
        sql_printf(&st->text, " %s ", cmp);
        col_param(st, t, col, plan->after_value);
        sql_printf(&st->text, " OR (");
        col_expr(st, t, col);
        sql_printf(&st->text, " = ");
        col_param(st, t, col, plan->after_value);
        sql_printf(&st->text, " AND \"id\" %s ", cmp);
        param(st, id);
        sql_printf(&st->text, ")");
        if (plan->desc) {
            sql_printf(&st->text, " OR \"%s\" IS NULL", s);
        }
        sql_printf(&st->text, ")");
    }
    json_decref(id);
}

void sql_stmt_list(struct sql_stmt *self, const struct store_table_desc *t,
                   const struct store_plan *plan)
{
    sql_printf(&self->text, "SELECT ");
    sql_select_cols(&self->text, t, false);
    sql_printf(&self->text, " FROM \"%s\"", t->name);
    where_sql(self, t, plan);
    if (plan->after_id) {
        keyset_sql(self, t, plan);
    }
    sql_printf(&self->text, " ORDER BY ");
    col_expr(self, t, plan->sort);
    const char *dir = plan->desc ? "DESC" : "ASC";
    const char *nulls = !self->d->nulls_order ? "" : plan->desc ? " NULLS LAST" : " NULLS FIRST";
    sql_printf(&self->text, " %s%s, \"id\" %s LIMIT %zu", dir, nulls, dir, plan->limit + 1);
}

void sql_stmt_count(struct sql_stmt *self, const struct store_table_desc *t,
                    const struct store_plan *plan, const struct store_column *group)
{
    if (group) {
        sql_printf(&self->text, "SELECT \"%s\", count(*) FROM \"%s\"", group->name, t->name);
    } else if (plan->count_max) {
        /* The count stops one row past count_max: the scan of a large table stops there too. */
        sql_printf(&self->text, "SELECT 'total', count(*) FROM (SELECT 1 FROM \"%s\"", t->name);
    } else {
        sql_printf(&self->text, "SELECT 'total', count(*) FROM \"%s\"", t->name);
    }
    where_sql(self, t, plan);
    if (group) {
        sql_printf(&self->text, " GROUP BY \"%s\"", group->name);
    } else if (plan->count_max) {
        sql_printf(&self->text, " LIMIT %zu) AS \"capped\"", plan->count_max + 1);
    }
}

/* Run st (released) through tx's backend. */
static int run(struct store_tx *tx, const struct store_scope *scope, struct sql_stmt *st,
               sql_row_cb row, void *arg)
{
    int rc = tx->store->ops->sql->run(tx, scope, st->text.data, st->args, row, arg);
    sql_stmt_release(st);
    return rc;
}

static const struct sql_dialect *dialect(struct store_tx *tx)
{
    return &tx->store->ops->sql->dialect;
}

int sql_row_insert(struct store_tx *tx, const struct store_table_desc *t, json_t *row)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_stmt_insert(&st, t, row);
    int rc = run(tx, NULL, &st, NULL, NULL);
    return rc < 0 ? rc : 0;
}

/* Rows collected by add_row: up to limit, and whether another followed. */
struct rows {
    const struct store_table_desc *t;
    bool with_hidden;
    size_t limit;
    json_t *rows;
    bool more;
};

static int add_row(void *arg, const struct sql_row *row)
{
    struct rows *r = arg;
    if (json_array_size(r->rows) == r->limit) {
        r->more = true;
        return 1;
    }
    json_array_append_new(r->rows, sql_row_read(row, r->t, r->with_hidden));
    return 0;
}

static int get_row(struct store_tx *tx, const struct store_table_desc *t,
                   const struct store_scope *scope, const char *key_col, const char *key,
                   bool with_hidden, json_t **out)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_stmt_get(&st, t, scope, store_column_find(t, key_col), key, with_hidden);
    struct rows r = {t, with_hidden, 1, json_array(), false};
    int rc = run(tx, scope, &st, add_row, &r);
    if (rc >= 0) {
        *out = json_incref(json_array_get(r.rows, 0));
        rc = *out ? 0 : SB_E_NOTFOUND;
    }
    json_decref(r.rows);
    return rc;
}

int sql_row_get(struct store_tx *tx, const struct store_table_desc *t,
                const struct store_scope *scope, const char *id, json_t **out)
{
    return get_row(tx, t, scope, "id", id, false, out);
}

int sql_user_by_email(struct store_tx *tx, const char *email, json_t **out)
{
    struct store_scope all = {.all = true};
    return get_row(tx, store_table_desc(STORE_USERS), &all, "email", email, true, out);
}

static int first_value(void *arg, const struct sql_row *row)
{
    json_t **v = arg;
    *v = row->value(row, 0, COL_TEXT);
    return 1;
}

/* One column, not the whole row as an object: every audited write names its actor. */
int sql_user_email(struct store_tx *tx, const char *id, char *out, size_t cap)
{
    const struct store_table_desc *t = store_table_desc(STORE_USERS);
    struct store_scope all = {.all = true};
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    put(&st.text, "SELECT \"email\" FROM \"users\" WHERE ");
    col_expr(&st, t, store_column_find(t, "id"));
    put(&st.text, " = ");
    json_t *kv = json_string(id);
    col_param(&st, t, store_column_find(t, "id"), kv);
    json_decref(kv);
    json_t *v = NULL;
    int rc = run(tx, &all, &st, first_value, &v);
    if (rc >= 0) {
        rc = json_is_string(v) ? 0 : SB_E_NOTFOUND;
    }
    if (rc == 0) {
        snprintf(out, cap, "%s", json_string_value(v));
    }
    json_decref(v);
    return rc;
}

/* The new row is read by its id after the update rather than with RETURNING: SQLite gathers
 * RETURNING rows in an ephemeral table, whose pager it allocates and frees on every run, and
 * in the profile of agent status changes that cost more than the read. */
int sql_row_update_read(struct store_tx *tx, const struct store_table_desc *t,
                        const struct store_scope *scope, const char *id, json_t *set,
                        int64_t version, bool bump_version, json_t **out)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_stmt_update_ex(&st, t, scope, id, set, version, bump_version);
    int rc = run(tx, scope, &st, NULL, NULL);
    if (out) {
        *out = NULL;
    }
    if (rc > 0 && out) {
        int grc = sql_row_get(tx, t, scope, id, out);
        rc = grc < 0 ? grc : rc;
    }
    return rc;
}

int sql_row_delete(struct store_tx *tx, const struct store_table_desc *t,
                   const struct store_scope *scope, const char *id)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_stmt_delete(&st, t, scope, id);
    return run(tx, scope, &st, NULL, NULL);
}

int sql_row_list(struct store_tx *tx, const struct store_table_desc *t,
                 const struct store_plan *plan, json_t **rows_out, bool *more)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_stmt_list(&st, t, plan);
    struct rows r = {t, false, plan->limit, json_array(), false};
    int rc = run(tx, plan->scope, &st, add_row, &r);
    if (rc < 0) {
        json_decref(r.rows);
        return rc;
    }
    *more = r.more;
    *rows_out = r.rows;
    return 0;
}

struct counts {
    const struct store_column *group;
    json_t *obj;
};

static int add_count(void *arg, const struct sql_row *row)
{
    struct counts *c = arg;
    json_t *n = row->value(row, 1, COL_INT);
    sql_count_add(c->obj, row->value(row, 0, c->group ? c->group->type : COL_TEXT),
                  json_integer_value(n));
    json_decref(n);
    return 0;
}

int sql_row_count(struct store_tx *tx, const struct store_table_desc *t,
                  const struct store_plan *plan, const struct store_column *group, json_t **out)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_stmt_count(&st, t, plan, group);
    struct counts c = {group, json_object()};
    int rc = run(tx, plan->scope, &st, add_count, &c);
    if (rc < 0) {
        json_decref(c.obj);
        return rc;
    }
    *out = c.obj;
    return 0;
}

int sql_agent_history_close(struct store_tx *tx, const char *agent_id, const char *ended_at,
                            json_t *reason)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    if (ended_at) {
        sql_printf(&st.text, "UPDATE agent_status_history SET ended_at = ");
        param_new(&st, json_string(ended_at));
    } else {
        sql_printf(&st.text, "UPDATE agent_status_history SET reason = ");
        param(&st, reason);
    }
    sql_printf(&st.text, " WHERE agent_id = ");
    param_new(&st, json_string(agent_id));
    sql_printf(&st.text, " AND ended_at IS NULL");
    return run(tx, NULL, &st, NULL, NULL);
}

/* store_agent_intervals' walk over the rows of its statements (add_interval reads them). */
#define INTERVAL_COLS "\"agent_id\", \"status\", \"started_at\", \"ended_at\", \"id\""
struct intervals {
    store_interval_cb cb;
    void *arg;
    size_t left;   /* intervals still allowed */
    int64_t after; /* skip intervals that ended by then */
    int rc;
    size_t rows;         /* rows of the statement so far */
    char last_start[64]; /* the last row's started_at and id, as stored */
    char last_id[64];
};

/* Rows of one statement of a window where the backend holds whole results (libpq): so that
 * it never holds more than this many. */
#define WINDOW_PAGE 20000

static int add_interval(void *arg, const struct sql_row *row)
{
    struct intervals *w = arg;
    json_t *v[5] = {row->value(row, 0, COL_UUID), row->value(row, 1, COL_TEXT),
                    row->value(row, 2, COL_TIME), row->value(row, 3, COL_TIME),
                    row->value(row, 4, COL_UUID)};
    struct store_interval iv = {json_string_value(v[0]), json_string_value(v[1]), 0, -1};
    const char *start = json_string_value(v[2]), *end = json_string_value(v[3]);
    const char *id = json_string_value(v[4]);
    int stop = 0;
    w->rows++;
    if (!iv.agent_id || !iv.status || !start || !id || strlen(start) >= sizeof w->last_start ||
        strlen(id) >= sizeof w->last_id || clock_parse_ms(start, &iv.start_ms) < 0 ||
        (end && clock_parse_ms(end, &iv.end_ms) < 0)) {
        w->rc = SB_E_DB; /* a row the schema rules out */
        stop = 1;
    } else {
        memcpy(w->last_start, start, strlen(start) + 1);
        memcpy(w->last_id, id, strlen(id) + 1);
        if (end && iv.end_ms <= w->after) {
            /* ended by the start of the window */
        } else if (w->left == 0) {
            w->rc = SB_E_TOOBIG;
            stop = 1;
        } else {
            w->left--;
            stop = w->cb(w->arg, &iv);
            w->rc = stop;
        }
    }
    for (size_t i = 0; i < 5; i++) {
        json_decref(v[i]);
    }
    return stop;
}

static int add_client(void *arg, const struct sql_row *row)
{
    json_array_append_new(arg, row->value(row, 0, COL_UUID));
    return 0;
}

/* The intervals of one client (NULL: within scope only) begun in [from, to], along
 * agent_history_client (client_id, started_at): one statement whose rows SQLite hands over as
 * it steps, or, for a backend that holds whole results, pages in (started_at, id) order. */
static int window_intervals(struct store_tx *tx, const struct store_scope *scope,
                            const char *client_id, const char *from, const char *to,
                            struct intervals *w)
{
    bool paged = dialect(tx)->whole_results;
    w->after = INT64_MIN;
    w->last_start[0] = '\0';
    for (;;) {
        struct sql_stmt st;
        sql_stmt_init(&st, dialect(tx));
        sql_printf(&st.text, "SELECT " INTERVAL_COLS " FROM \"agent_status_history\" WHERE ");
        scope_sql(&st, store_table_desc(STORE_AGENT_HISTORY), scope);
        if (client_id) {
            sql_printf(&st.text, " AND \"client_id\" = ");
            param_new(&st, json_string(client_id));
        }
        /* The range's start stands alone too, so that the index's range begins there. */
        sql_printf(&st.text, " AND \"started_at\" >= ");
        param_new(&st, json_string(w->last_start[0] ? w->last_start : from));
        if (w->last_start[0]) {
            sql_printf(&st.text, " AND (\"started_at\" > ");
            param_new(&st, json_string(w->last_start));
            sql_printf(&st.text, " OR (\"started_at\" = ");
            param_new(&st, json_string(w->last_start));
            sql_printf(&st.text, " AND \"id\" > ");
            param_new(&st, json_string(w->last_id));
            sql_printf(&st.text, "))");
        }
        sql_printf(&st.text, " AND \"started_at\" <= ");
        param_new(&st, json_string(to));
        if (paged) {
            sql_printf(&st.text, " ORDER BY \"started_at\", \"id\" LIMIT %d", WINDOW_PAGE);
        }
        w->rows = 0;
        int rc = run(tx, scope, &st, add_interval, w);
        rc = rc < 0 ? rc : w->rc;
        if (rc != 0 || !paged || w->rows < WINDOW_PAGE) {
            return rc;
        }
    }
}

int sql_agent_intervals(struct store_tx *tx, const struct store_scope *scope, const char *client_id,
                        const char *from, int64_t from_ms, const char *to, size_t max,
                        store_interval_cb cb, void *arg)
{
    struct intervals w = {.cb = cb, .arg = arg, .left = max, .after = from_ms};
    /* Per agent, the last interval begun before from: driven by the agents, one seek through
     * agent_history_agent (agent_id, started_at) and one by primary key each; the scope then
     * applies to the rows found (named as the table, so scope_sql's column is theirs). */
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_printf(&st.text, "SELECT " INTERVAL_COLS " FROM (SELECT h.* FROM \"agent_status\" AS a"
                         " JOIN \"agent_status_history\" AS h ON h.\"id\" = (SELECT x.\"id\""
                         " FROM \"agent_status_history\" AS x WHERE x.\"agent_id\" = a.\"id\""
                         " AND x.\"started_at\" < ");
    param_new(&st, json_string(from));
    /* Of intervals begun in the same millisecond (a status set twice within it leaves one that
     * ended as it began), the open one or else the one that ended last. */
    sql_printf(&st.text, " ORDER BY x.\"started_at\" DESC, (x.\"ended_at\" IS NULL) DESC,"
                         " x.\"ended_at\" DESC, x.\"id\" DESC LIMIT 1)");
    if (client_id) {
        sql_printf(&st.text, " WHERE a.\"client_id\" = ");
        param_new(&st, json_string(client_id));
    }
    sql_printf(&st.text, ") AS \"agent_status_history\" WHERE ");
    scope_sql(&st, store_table_desc(STORE_AGENT_HISTORY), scope);
    int rc = run(tx, scope, &st, add_interval, &w);
    rc = rc < 0 ? rc : w.rc;
    if (rc != 0 || client_id) {
        return rc != 0 ? rc : window_intervals(tx, scope, client_id, from, to, &w);
    }
    /* Every client: the window of each, so that each read is one range of the index. */
    json_t *clients = json_array();
    sql_stmt_init(&st, dialect(tx));
    sql_printf(&st.text, "SELECT DISTINCT \"client_id\" FROM \"agent_status\" WHERE ");
    scope_sql(&st, store_table_desc(STORE_AGENT_STATUS), scope);
    rc = run(tx, scope, &st, add_client, clients);
    rc = rc < 0 ? rc : 0;
    size_t i;
    json_t *c;
    json_array_foreach(clients, i, c)
    {
        if (rc == 0) {
            rc = window_intervals(tx, scope, json_string_value(c), from, to, &w);
        }
    }
    json_decref(clients);
    return rc;
}

int sql_agent_history_prune(struct store_tx *tx, const char *before, unsigned max)
{
    struct store_scope all = {.all = true};
    json_t *clients = json_array();
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_printf(&st.text, "SELECT \"id\" FROM \"clients\"");
    int rc = run(tx, &all, &st, add_client, clients);
    int deleted = 0;
    size_t i;
    json_t *c;
    json_array_foreach(clients, i, c)
    {
        if (rc < 0 || (unsigned)deleted >= max) {
            break;
        }
        /* The client's intervals begun before `before` (a range of agent_history_client):
         * after a prune only the open ones and those running at `before` remain in it. */
        sql_stmt_init(&st, dialect(tx));
        sql_printf(&st.text, "DELETE FROM \"agent_status_history\" WHERE \"id\" IN (SELECT "
                             "\"id\" FROM \"agent_status_history\" WHERE \"client_id\" = ");
        param(&st, c);
        sql_printf(&st.text, " AND \"started_at\" < ");
        param_new(&st, json_string(before));
        sql_printf(&st.text, " AND \"ended_at\" < ");
        param_new(&st, json_string(before));
        sql_printf(&st.text, " LIMIT "); /* a parameter: one statement text for every batch */
        param_new(&st, json_integer((json_int_t)(max - (unsigned)deleted)));
        sql_printf(&st.text, ")");
        rc = run(tx, &all, &st, NULL, NULL);
        deleted += rc > 0 ? rc : 0;
    }
    json_decref(clients);
    return rc < 0 ? rc : deleted;
}

/* ---- dashboard history points (table dashboard_points, migrations of both backends) ---- */

static const char history_cols[] = "online, away, busy, offline, active_messages, "
                                   "critical_messages, connections, events_per_minute";
/* Points per INSERT statement: 10 parameters each, far below either backend's limit. */
#define HISTORY_BATCH 100

int sql_history_put(struct store_tx *tx, const struct store_history_point *p, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc >= 0; i += HISTORY_BATCH) {
        struct sql_stmt st;
        sql_stmt_init(&st, dialect(tx));
        sql_printf(&st.text, "INSERT INTO dashboard_points (client_key, at_ms, %s) VALUES ",
                   history_cols);
        for (size_t k = i; k < n && k < i + HISTORY_BATCH; k++) {
            sql_printf(&st.text, "%s(", k > i ? ", " : "");
            param_new(&st, json_string(p[k].key));
            sql_printf(&st.text, ", ");
            param_new(&st, json_integer(p[k].at_ms));
            for (int c = 0; c < STORE_HISTORY_NVALUES; c++) {
                sql_printf(&st.text, ", ");
                param_new(&st, json_integer(p[k].v[c]));
            }
            sql_printf(&st.text, ")");
        }
        sql_printf(&st.text, " ON CONFLICT (client_key, at_ms) DO NOTHING");
        rc = run(tx, NULL, &st, NULL, NULL);
    }
    return rc < 0 ? rc : 0;
}

int sql_history_delete(struct store_tx *tx, const char *key, int64_t before_ms)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    if (key) {
        sql_printf(&st.text, "DELETE FROM dashboard_points WHERE client_key = ");
        param_new(&st, json_string(key));
    } else {
        sql_printf(&st.text, "DELETE FROM dashboard_points WHERE at_ms < ");
        param_new(&st, json_integer(before_ms));
    }
    return run(tx, NULL, &st, NULL, NULL);
}

struct history_walk {
    store_history_cb cb;
    void *arg;
};

static int history_row(void *arg, const struct sql_row *row)
{
    struct history_walk *w = arg;
    struct store_history_point pt = {0};
    json_t *v = row->value(row, 0, COL_TEXT);
    snprintf(pt.key, sizeof pt.key, "%s", json_string_value(v) ? json_string_value(v) : "");
    json_decref(v);
    v = row->value(row, 1, COL_INT);
    pt.at_ms = json_integer_value(v);
    json_decref(v);
    for (int c = 0; c < STORE_HISTORY_NVALUES; c++) {
        v = row->value(row, c + 2, COL_INT);
        pt.v[c] = (int32_t)json_integer_value(v);
        json_decref(v);
    }
    return w->cb(w->arg, &pt);
}

int sql_history_load(struct store_tx *tx, int64_t since_ms, store_history_cb cb, void *arg)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_printf(&st.text,
               "SELECT client_key, at_ms, %s FROM dashboard_points WHERE at_ms >= ", history_cols);
    param_new(&st, json_integer(since_ms));
    sql_printf(&st.text, " ORDER BY client_key, at_ms");
    struct history_walk w = {cb, arg};
    int rc = run(tx, NULL, &st, history_row, &w);
    return rc < 0 ? rc : 0;
}

/* ---- user preferences (table user_preferences, migrations of both backends) ---- */

static int prefs_row(void *arg, const struct sql_row *row)
{
    json_t **out = arg;
    json_t *v = row->value(row, 0, COL_JSON);
    if (json_is_object(v)) {
        *out = v;
    } else {
        json_decref(v);
    }
    return 1;
}

int sql_prefs_get(struct store_tx *tx, const struct store_scope *scope, const char *user_id,
                  json_t **out)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_printf(&st.text, "SELECT prefs FROM user_preferences WHERE user_id = ");
    param_new(&st, json_string(user_id));
    *out = NULL;
    int rc = run(tx, scope, &st, prefs_row, out);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
        return rc;
    }
    return 0;
}

int sql_prefs_put(struct store_tx *tx, const struct store_scope *scope, const char *user_id,
                  const char *prefs, const char *updated_at)
{
    struct sql_stmt st;
    sql_stmt_init(&st, dialect(tx));
    sql_printf(&st.text, "INSERT INTO user_preferences (user_id, prefs, updated_at) VALUES (");
    param_new(&st, json_string(user_id));
    sql_printf(&st.text, ", ");
    param_new(&st, json_string(prefs));
    sql_printf(&st.text, ", ");
    param_new(&st, json_string(updated_at));
    sql_printf(&st.text, ") ON CONFLICT (user_id) DO UPDATE SET prefs = excluded.prefs,"
                         " updated_at = excluded.updated_at");
    int rc = run(tx, scope, &st, NULL, NULL);
    return rc < 0 ? rc : 0;
}
