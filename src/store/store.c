/*
 * The store's public functions (store.h): check and normalise arguments, apply the rules
 * every backend shares, and dispatch to the backend through its const ops table
 * (store_int.h); the row ops go to the shared SQL builder (sql.h), which runs its statements
 * through the backend's struct sql_backend. What lives here rather than in a backend:
 *   - value checks against the table descriptors of schema.c (unknown column, wrong type,
 *     malformed uuid or time -> SB_E_INVAL), time values normalised to RFC 3339 with
 *     milliseconds so text order is time order;
 *   - insert defaults (id, created_at, updated_at, version) and the update rules (optimistic
 *     concurrency, version + 1, updated_at);
 *   - list cursors (cursor.c) and limits;
 *   - the audit hash chain (audit_hash.h): append computes, verify walks;
 *   - the commit hook: it runs after a write transaction's commit when the transaction
 *     appended to the change log: the backend knows (tx_appended; SQLite counts the
 *     writer's inserts into `changes`), or the log's head read when the transaction began
 *     grew by the time it commits.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/rand.h"
#include "store/audit_hash.h"
#include "store/sql.h"

#define DEFAULT_LIMIT 50
#define MAX_IN_VALUES 500

void store_base_init(struct store *s, const struct store_ops *ops)
{
    s->ops = ops;
    pthread_mutex_init(&s->hook_mu, NULL);
    pthread_mutex_init(&s->bus_mu, NULL);
    s->hook = NULL;
    s->hook_arg = NULL;
    s->bus_hook = NULL;
    s->bus_hook_arg = NULL;
    atomic_init(&s->commit_state, 0);
}

bool store_read_generation(struct store *self, uint64_t *out)
{
    uint_fast64_t v = atomic_load(&self->commit_state);
    if (!self->ops->sees_every_commit || (v & (STORE_GEN_ONE - 1))) {
        return false;
    }
    *out = (uint64_t)(v >> 16);
    return true;
}

/* Bracket a commit of a write: readers find no generation while it is in flight, and a new
 * one once it is done (whether it succeeded or not: a failed group commit may still have
 * committed in part as far as a reader can tell). */
static void commit_enter(struct store *s)
{
    atomic_fetch_add(&s->commit_state, 1);
}

static void commit_leave(struct store *s)
{
    atomic_fetch_add(&s->commit_state, STORE_GEN_ONE - 1);
}

static void run_commit_hook(struct store *s)
{
    pthread_mutex_lock(&s->hook_mu);
    store_commit_cb cb = s->hook;
    void *arg = s->hook_arg;
    pthread_mutex_unlock(&s->hook_mu);
    if (cb) {
        cb(arg);
    }
}

void store_base_release(struct store *s)
{
    pthread_mutex_destroy(&s->hook_mu);
    pthread_mutex_destroy(&s->bus_mu);
}

int store_open(const char *url, const struct store_options *opt, struct store **out)
{
    struct store_options defaults = {.busy_timeout_ms = 5000, .read_connections = 4};
    if (!url || !out) {
        return SB_E_INVAL;
    }
    if (opt) {
        if (opt->busy_timeout_ms > 0) {
            defaults.busy_timeout_ms = opt->busy_timeout_ms;
        }
        if (opt->read_connections > 0) {
            defaults.read_connections = opt->read_connections;
        }
        defaults.sqlite_sync_normal = opt->sqlite_sync_normal;
    }
    *out = NULL;
    if (strncmp(url, "sqlite:", 7) == 0 && url[7] != '\0') {
        return store_sqlite_open(url + 7, &defaults, out);
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        return store_postgres_open(url, &defaults, out);
    }
    return SB_E_INVAL;
}

void store_free(struct store *self)
{
    if (self) {
        self->ops->free(self);
    }
}

const char *store_backend(const struct store *self)
{
    return self->ops->name;
}

int store_migrate(struct store *self)
{
    commit_enter(self);
    int rc = self->ops->migrate(self);
    commit_leave(self);
    return rc;
}

int store_schema_version(struct store *self, int *out)
{
    return self->ops->schema_version(self, out);
}

int store_ping(struct store *self)
{
    return self->ops->ping(self);
}

void store_set_commit_hook(struct store *self, store_commit_cb cb, void *arg)
{
    pthread_mutex_lock(&self->hook_mu);
    self->hook = cb;
    self->hook_arg = arg;
    pthread_mutex_unlock(&self->hook_mu);
}

void store_set_bus_hook(struct store *self, store_bus_cb cb, void *arg)
{
    pthread_mutex_lock(&self->bus_mu);
    self->bus_hook = cb;
    self->bus_hook_arg = arg;
    pthread_mutex_unlock(&self->bus_mu);
}

/* The hook runs under bus_mu, so once store_set_bus_hook returned the old hook is over. */
void store_bus_deliver(struct store *s, const char *msg, size_t len)
{
    pthread_mutex_lock(&s->bus_mu);
    if (s->bus_hook) {
        s->bus_hook(s->bus_hook_arg, msg, len);
    }
    pthread_mutex_unlock(&s->bus_mu);
}

int store_bus_publish(struct store *self, const char *msg, size_t len)
{
    if (!msg || len == 0 || len > STORE_BUS_MAX_MSG || memchr(msg, 0, len)) {
        return SB_E_INVAL;
    }
    return self->ops->bus_publish ? self->ops->bus_publish(self, msg, len) : 0;
}

void store_bus_stats(struct store *self, struct store_bus_stats *out)
{
    memset(out, 0, sizeof *out);
    if (self->ops->bus_stats) {
        self->ops->bus_stats(self, out);
    }
}

int store_tx_begin(struct store *self, bool write, struct store_tx **out)
{
    if (!self || !out) {
        return SB_E_INVAL;
    }
    struct store_tx *tx = NULL;
    int rc = self->ops->tx_begin(self, write, &tx);
    if (rc < 0) {
        return rc;
    }
    tx->store = self;
    tx->write = write;
    tx->head_at_begin = 0;
    if (write && !self->ops->tx_appended) {
        rc = self->ops->tx_head_seq(tx, &tx->head_at_begin);
        if (rc < 0) {
            self->ops->tx_rollback(tx);
            return rc;
        }
    }
    *out = tx;
    return 0;
}

static _Thread_local struct store *tl_deferring; /* between store_defer_begin and end */

int store_tx_commit(struct store_tx *tx)
{
    struct store *s = tx->store;
    bool appended = false;
    if (tx->write && s->ops->tx_appended) {
        appended = s->ops->tx_appended(tx);
    } else if (tx->write) {
        int64_t head = 0;
        int rc = s->ops->tx_head_seq(tx, &head);
        if (rc < 0) {
            s->ops->tx_rollback(tx);
            return rc;
        }
        appended = head != tx->head_at_begin;
    }
    if (tx->write) {
        commit_enter(s);
    }
    bool write = tx->write;
    int rc = s->ops->tx_commit(tx);
    if (write) {
        commit_leave(s);
    }
    if (rc < 0 || !appended) {
        return rc;
    }
    if (write && tl_deferring == s) {
        s->defer_appended = true; /* the hook runs once the group is committed */
        return 0;
    }
    run_commit_hook(s);
    return 0;
}

bool store_can_defer(struct store *self)
{
    return self->ops->can_defer && self->ops->can_defer(self);
}

void store_defer_begin(struct store *self)
{
    commit_enter(self); /* in flight until the group is committed: no cache may fill */
    self->ops->defer_begin(self);
    self->defer_appended = false;
    tl_deferring = self;
}

unsigned store_defer_count(struct store *self)
{
    return self->ops->defer_count(self);
}

int store_defer_end(struct store *self, uint64_t *sync_ticket)
{
    tl_deferring = NULL;
    bool appended = self->defer_appended;
    *sync_ticket = 0;
    int rc = self->ops->defer_end(self, sync_ticket);
    commit_leave(self);
    if (rc == 0 && appended) {
        run_commit_hook(self);
    }
    return rc;
}

int store_sync(struct store *self, uint64_t sync_ticket)
{
    return self->ops->sync ? self->ops->sync(self, sync_ticket) : 0;
}

void store_tx_rollback(struct store_tx *tx)
{
    if (tx) {
        tx->store->ops->tx_rollback(tx);
    }
}

int store_tx_head_seq(struct store_tx *tx, int64_t *out)
{
    return tx->store->ops->tx_head_seq(tx, out);
}

/*
 * Check value against col; *norm receives the value to store (a new reference), time
 * strings rewritten to the canonical RFC 3339 form.
 */
static int check_value(const struct store_column *col, json_t *v, json_t **norm)
{
    if (json_is_null(v)) {
        if (!col->nullable) {
            return SB_E_INVAL;
        }
        *norm = json_null();
        return 0;
    }
    switch (col->type) {
    case COL_TEXT:
        if (!json_is_string(v)) {
            return SB_E_INVAL;
        }
        break;
    case COL_UUID:
        if (!json_is_string(v) || !uuid_is_valid(json_string_value(v))) {
            return SB_E_INVAL;
        }
        break;
    case COL_INT:
        if (!json_is_integer(v)) {
            return SB_E_INVAL;
        }
        break;
    case COL_BOOL:
        if (!json_is_boolean(v)) {
            return SB_E_INVAL;
        }
        break;
    case COL_JSON:
        if (!json_is_object(v) && !json_is_array(v)) {
            return SB_E_INVAL;
        }
        break;
    case COL_TIME: {
        int64_t ms = 0;
        if (!json_is_string(v) || clock_parse_ms(json_string_value(v), &ms) < 0) {
            return SB_E_INVAL;
        }
        char text[CLOCK_RFC3339_LEN];
        clock_format_ms(ms, text);
        *norm = json_string(text);
        return 0;
    }
    }
    *norm = json_incref(v);
    return 0;
}

static bool is_managed(const struct store_table_desc *t, const char *name)
{
    return t->versioned && (strcmp(name, "created_at") == 0 || strcmp(name, "updated_at") == 0 ||
                            strcmp(name, "version") == 0);
}

static void set_now(json_t *obj, const char *key)
{
    char now[CLOCK_RFC3339_LEN];
    clock_format_ms(clock_now_ms(), now);
    json_object_set_new(obj, key, json_string(now));
}

static const struct store_table_desc *writable_table(struct store_tx *tx, enum store_table table)
{
    const struct store_table_desc *t = store_table_desc(table);
    if (!tx || !tx->write || !t) {
        return NULL;
    }
    return t;
}

int store_row_insert(struct store_tx *tx, enum store_table table, json_t *row, json_t **out)
{
    const struct store_table_desc *t = writable_table(tx, table);
    if (out) {
        *out = NULL;
    }
    if (!t || table == STORE_AUDIT || !json_is_object(row)) {
        return SB_E_INVAL;
    }
    json_t *full = json_object();
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(row, key, v)
    {
        const struct store_column *col = store_column_find(t, key);
        if (!col) {
            rc = SB_E_INVAL;
            goto out;
        }
        if (is_managed(t, key)) {
            continue;
        }
        json_t *norm = NULL;
        rc = check_value(col, v, &norm);
        if (rc < 0) {
            goto out;
        }
        json_object_set_new(full, key, norm);
    }
    if (!json_is_string(json_object_get(full, "id"))) {
        char id[UUID_STR_LEN];
        (t->log_ids ? uuid_v7 : uuid_v4)(id);
        json_object_set_new(full, "id", json_string(id));
    }
    if (t->versioned) {
        set_now(full, "created_at");
        json_object_set(full, "updated_at", json_object_get(full, "created_at"));
        json_object_set_new(full, "version", json_integer(1));
    }
    rc = sql_row_insert(tx, t, full);
    if (rc < 0 || !out) {
        goto out;
    }
    struct store_scope all = {.all = true};
    rc = sql_row_get(tx, t, &all, json_string_value(json_object_get(full, "id")), out);
out:
    json_decref(full);
    return rc;
}

int store_row_get(struct store_tx *tx, enum store_table table, const struct store_scope *scope,
                  const char *id, json_t **out)
{
    const struct store_table_desc *t = store_table_desc(table);
    if (!tx || !t || !scope || !id || !out) {
        return SB_E_INVAL;
    }
    *out = NULL;
    return sql_row_get(tx, t, scope, id, out);
}

/* The row after set was applied to current (see store_row_update_from): visible columns of
 * set replace current's (JSON values copied, as a read would give fresh ones), the version is
 * version. */
static json_t *row_after(const struct store_table_desc *t, const json_t *current, json_t *set,
                         int64_t version)
{
    json_t *row = json_copy((json_t *)current);
    const char *key;
    json_t *v;
    json_object_foreach(set, key, v)
    {
        const struct store_column *col = store_column_find(t, key);
        if (col && !col->hidden) {
            json_object_set_new(row, key,
                                col->type == COL_JSON ? json_deep_copy(v) : json_incref(v));
        }
    }
    json_object_set_new(row, "version", json_integer(version));
    return row;
}

/* current has every visible column of t (a whole row as read, not a projection). */
static bool whole_row(const struct store_table_desc *t, const json_t *current)
{
    for (size_t i = 0; i < t->ncols; i++) {
        if (!t->cols[i].hidden && !json_object_get(current, t->cols[i].name)) {
            return false;
        }
    }
    return true;
}

static int row_update(struct store_tx *tx, enum store_table table, const struct store_scope *scope,
                      const char *id, const json_t *current, json_t *patch,
                      int64_t expected_version, json_t **out)
{
    const struct store_table_desc *t = writable_table(tx, table);
    if (out) {
        *out = NULL;
    }
    if (!t || !scope || !id || !json_is_object(patch) || expected_version < 0) {
        return SB_E_INVAL;
    }
    if (table == STORE_AUDIT) {
        return SB_E_FORBIDDEN;
    }
    if (!t->versioned && expected_version > 0) {
        return SB_E_INVAL;
    }
    json_t *set = json_object();
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(patch, key, v)
    {
        const struct store_column *col = store_column_find(t, key);
        if (!col) {
            rc = SB_E_INVAL;
            goto out;
        }
        if (is_managed(t, key)) {
            continue;
        }
        if (strcmp(key, "id") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), id) != 0) {
                rc = SB_E_INVAL;
                goto out;
            }
            continue;
        }
        json_t *norm = NULL;
        rc = check_value(col, v, &norm);
        if (rc < 0) {
            goto out;
        }
        json_object_set_new(set, key, norm);
    }
    /* The update first (version + 1 in SQL, at expected_version when given), then the new
     * row when asked for. Only when the update changed nothing is the current row read, to
     * tell a missing row from a version conflict. */
    if (t->versioned) {
        set_now(set, "updated_at");
    }
    if (json_object_size(set) == 0 && !t->versioned) {
        json_t *cur = NULL;
        rc = sql_row_get(tx, t, scope, id, &cur);
        if (out) {
            *out = cur;
        } else {
            json_decref(cur);
        }
        goto out;
    }
    /* Known row: the update at current's version (the predicate proves current is the row),
     * and the new row from it. Zero rows: current is not the row's state, the usual way. */
    int64_t known = current && t->versioned && tx->store->ops->sql->dialect.values_as_given &&
                            whole_row(t, current)
                        ? json_integer_value(json_object_get(current, "version"))
                        : 0;
    if (known > 0 && (expected_version == 0 || expected_version == known)) {
        rc = sql_row_update_read(tx, t, scope, id, set, known, true, NULL);
        if (rc < 0) {
            goto out;
        }
        if (rc > 0) {
            if (out) {
                *out = row_after(t, current, set, known + 1);
            }
            rc = 0;
            goto out;
        }
    }
    rc = sql_row_update_read(tx, t, scope, id, set, expected_version, t->versioned, out);
    if (rc < 0) {
        goto out;
    }
    if (rc > 0) {
        rc = 0;
        goto out;
    }
    json_t *cur = NULL;
    rc = sql_row_get(tx, t, scope, id, &cur);
    if (rc == 0) {
        rc = SB_E_VERSION; /* expected_version is not the row's */
        if (out) {
            *out = cur;
            cur = NULL;
        }
    }
    json_decref(cur);
out:
    json_decref(set);
    return rc;
}

int store_row_update(struct store_tx *tx, enum store_table table, const struct store_scope *scope,
                     const char *id, json_t *patch, int64_t expected_version, json_t **out)
{
    return row_update(tx, table, scope, id, NULL, patch, expected_version, out);
}

int store_row_update_from(struct store_tx *tx, enum store_table table,
                          const struct store_scope *scope, const json_t *current, json_t *patch,
                          int64_t expected_version, json_t **out)
{
    const char *id = json_string_value(json_object_get(current, "id"));
    if (!id) {
        if (out) {
            *out = NULL;
        }
        return SB_E_INVAL;
    }
    return row_update(tx, table, scope, id, current, patch, expected_version, out);
}

int store_row_delete(struct store_tx *tx, enum store_table table, const struct store_scope *scope,
                     const char *id, json_t **old_out)
{
    const struct store_table_desc *t = writable_table(tx, table);
    if (old_out) {
        *old_out = NULL;
    }
    if (!t || !scope || !id) {
        return SB_E_INVAL;
    }
    if (table == STORE_AUDIT) {
        return SB_E_FORBIDDEN;
    }
    json_t *old = NULL;
    int rc = sql_row_get(tx, t, scope, id, &old);
    if (rc < 0) {
        return rc;
    }
    rc = sql_row_delete(tx, t, scope, id);
    if (rc == 0) {
        rc = SB_E_NOTFOUND;
    }
    if (rc < 0) {
        json_decref(old);
        return rc;
    }
    if (old_out) {
        *old_out = old;
    } else {
        json_decref(old);
    }
    return 0;
}

/* Filters checked and normalised into plan (values owned by norm[]). */
static int plan_filters(const struct store_table_desc *t, const struct store_query *q,
                        struct store_plan *plan, struct store_filter norm[STORE_MAX_FILTERS])
{
    if (q->nfilters > STORE_MAX_FILTERS) {
        return SB_E_INVAL;
    }
    plan->scope = &q->scope;
    plan->count_max = q->count_max;
    plan->filters = norm;
    plan->nfilters = 0;
    plan->q = q->q && q->q[0] ? q->q : NULL;
    for (size_t i = 0; i < q->nfilters; i++) {
        const struct store_filter *f = &q->filters[i];
        const struct store_column *col = f->column ? store_column_find(t, f->column) : NULL;
        if (!col || col->hidden || f->op > STORE_IS_NULL || (int)f->op < 0) {
            return SB_E_INVAL;
        }
        norm[i] = *f;
        norm[i].value = NULL;
        plan->filter_cols[i] = col;
        plan->nfilters = i + 1;
        if (f->op == STORE_IS_NULL) {
            norm[i].value = json_is_false(f->value) ? json_false() : json_true();
            continue;
        }
        if (!f->value) {
            return SB_E_INVAL;
        }
        if (f->op == STORE_IN) {
            if (!json_is_array(f->value) || json_array_size(f->value) > MAX_IN_VALUES) {
                return SB_E_INVAL;
            }
            norm[i].value = json_array();
            size_t j;
            json_t *el;
            json_array_foreach(f->value, j, el)
            {
                json_t *nv = NULL;
                int rc = json_is_null(el) ? SB_E_INVAL : check_value(col, el, &nv);
                if (rc < 0) {
                    return rc;
                }
                json_array_append_new(norm[i].value, nv);
            }
            continue;
        }
        /* Equality with null means IS NULL; ordering against null matches nothing. */
        struct store_column relaxed = *col;
        relaxed.nullable = true;
        if (col->type == COL_UUID) {
            relaxed.type = COL_TEXT; /* a malformed id simply matches nothing */
        }
        int rc = check_value(&relaxed, f->value, &norm[i].value);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static void plan_release(struct store_plan *plan, struct store_filter norm[STORE_MAX_FILTERS])
{
    for (size_t i = 0; i < plan->nfilters; i++) {
        json_decref(norm[i].value);
    }
    json_decref(plan->after_value);
}

int store_row_list(struct store_tx *tx, enum store_table table, const struct store_query *q,
                   json_t **rows_out, char **next_cursor_out)
{
    const struct store_table_desc *t = store_table_desc(table);
    if (!tx || !t || !q || !rows_out || !next_cursor_out || q->limit > STORE_MAX_LIMIT) {
        return SB_E_INVAL;
    }
    *rows_out = NULL;
    *next_cursor_out = NULL;
    struct store_plan plan = {0};
    struct store_filter norm[STORE_MAX_FILTERS];
    char *after_id = NULL;
    int rc = plan_filters(t, q, &plan, norm);
    if (rc < 0) {
        goto out;
    }
    const char *sort = q->sort && q->sort[0] ? q->sort : t->default_sort;
    plan.desc = sort[0] == '-';
    sort += plan.desc ? 1 : 0;
    plan.sort = store_column_find(t, sort);
    if (!plan.sort || !plan.sort->sortable || plan.sort->hidden) {
        rc = SB_E_INVAL;
        goto out;
    }
    plan.limit = q->limit ? q->limit : DEFAULT_LIMIT;
    if (q->cursor && q->cursor[0]) {
        rc = store_cursor_decode(q->cursor, q->sort && q->sort[0] ? q->sort : t->default_sort,
                                 &plan.after_value, &after_id);
        if (rc < 0) {
            goto out;
        }
        plan.after_id = after_id;
    }
    bool more = false;
    json_t *rows = NULL;
    rc = sql_row_list(tx, t, &plan, &rows, &more);
    if (rc < 0) {
        goto out;
    }
    if (more && json_array_size(rows) > 0) {
        json_t *last = json_array_get(rows, json_array_size(rows) - 1);
        *next_cursor_out = store_cursor_encode(q->sort && q->sort[0] ? q->sort : t->default_sort,
                                               json_object_get(last, plan.sort->name),
                                               json_string_value(json_object_get(last, "id")));
    }
    *rows_out = rows;
out:
    plan_release(&plan, norm);
    free(after_id);
    return rc;
}

int store_row_count(struct store_tx *tx, enum store_table table, const struct store_query *q,
                    const char *group_by, json_t **out)
{
    const struct store_table_desc *t = store_table_desc(table);
    if (!tx || !t || !q || !out) {
        return SB_E_INVAL;
    }
    *out = NULL;
    const struct store_column *group = NULL;
    if (group_by) {
        group = store_column_find(t, group_by);
        if (!group || group->hidden || group->type == COL_JSON) {
            return SB_E_INVAL;
        }
    }
    struct store_plan plan = {0};
    struct store_filter norm[STORE_MAX_FILTERS];
    int rc = plan_filters(t, q, &plan, norm);
    if (rc == 0) {
        rc = sql_row_count(tx, t, &plan, group, out);
    }
    plan_release(&plan, norm);
    return rc;
}

int store_user_auth_by_email(struct store_tx *tx, const char *email, json_t **out)
{
    if (!tx || !email || !out) {
        return SB_E_INVAL;
    }
    *out = NULL;
    return sql_user_by_email(tx, email, out);
}

int store_user_email(struct store_tx *tx, const char *id, char *out, size_t cap)
{
    if (!tx || !id || !out || cap == 0) {
        return SB_E_INVAL;
    }
    out[0] = '\0';
    return sql_user_email(tx, id, out, cap);
}

int store_meta_get(struct store_tx *tx, const char *key, char **value_out)
{
    if (!tx || !key || !value_out) {
        return SB_E_INVAL;
    }
    *value_out = NULL;
    return tx->store->ops->meta_get(tx, key, value_out);
}

int store_agent_history_close(struct store_tx *tx, const char *agent_id, const char *ended_at,
                              json_t *reason)
{
    int64_t ms = 0;
    if (!tx || !tx->write || !agent_id || !uuid_is_valid(agent_id) ||
        (ended_at ? clock_parse_ms(ended_at, &ms) < 0
                  : !(json_is_string(reason) || json_is_null(reason)))) {
        return SB_E_INVAL;
    }
    char text[CLOCK_RFC3339_LEN];
    if (ended_at) {
        clock_format_ms(ms, text); /* as every time column is stored */
    }
    return sql_agent_history_close(tx, agent_id, ended_at ? text : NULL, reason);
}

int store_agent_intervals(struct store_tx *tx, const struct store_scope *scope,
                          const char *client_id, const char *from, const char *to, size_t max,
                          store_interval_cb cb, void *arg)
{
    int64_t from_ms = 0, to_ms = 0;
    if (!tx || !scope || !cb || (client_id && !uuid_is_valid(client_id)) || !from || !to ||
        clock_parse_ms(from, &from_ms) < 0 || clock_parse_ms(to, &to_ms) < 0) {
        return SB_E_INVAL;
    }
    char f[CLOCK_RFC3339_LEN], t[CLOCK_RFC3339_LEN];
    clock_format_ms(from_ms, f); /* compared as every time column is stored */
    clock_format_ms(to_ms, t);
    return sql_agent_intervals(tx, scope, client_id, f, from_ms, t, max, cb, arg);
}

int store_history_put(struct store_tx *tx, const struct store_history_point *p, size_t n)
{
    if (!tx || !tx->write || (n && !p)) {
        return SB_E_INVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!memchr(p[i].key, '\0', sizeof p[i].key) || p[i].at_ms < 0) {
            return SB_E_INVAL;
        }
    }
    return n ? sql_history_put(tx, p, n) : 0;
}

int store_history_prune(struct store_tx *tx, int64_t before_ms)
{
    if (!tx || !tx->write) {
        return SB_E_INVAL;
    }
    return sql_history_delete(tx, NULL, before_ms);
}

int store_history_forget(struct store_tx *tx, const char *key)
{
    if (!tx || !tx->write || !key) {
        return SB_E_INVAL;
    }
    return sql_history_delete(tx, key, 0);
}

int store_history_load(struct store_tx *tx, int64_t since_ms, store_history_cb cb, void *arg)
{
    if (!tx || !cb) {
        return SB_E_INVAL;
    }
    return sql_history_load(tx, since_ms, cb, arg);
}

/* The user must be visible in scope: the store's own check, in both backends (PostgreSQL's
 * row-level security repeats it on user_preferences). */
static int prefs_user_check(struct store_tx *tx, const struct store_scope *scope,
                            const char *user_id)
{
    json_t *user = NULL;
    int rc = sql_row_get(tx, store_table_desc(STORE_USERS), scope, user_id, &user);
    json_decref(user);
    return rc;
}

int store_prefs_get(struct store_tx *tx, const struct store_scope *scope, const char *user_id,
                    json_t **out)
{
    if (!tx || !scope || !user_id || !out) {
        return SB_E_INVAL;
    }
    *out = NULL;
    int rc = prefs_user_check(tx, scope, user_id);
    return rc < 0 ? rc : sql_prefs_get(tx, scope, user_id, out);
}

int store_prefs_put(struct store_tx *tx, const struct store_scope *scope, const char *user_id,
                    const json_t *prefs)
{
    if (!tx || !tx->write || !scope || !user_id || !json_is_object(prefs)) {
        return SB_E_INVAL;
    }
    char *text = json_dumps(prefs, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text || strlen(text) > STORE_PREFS_MAX_BYTES) {
        free(text);
        return SB_E_INVAL;
    }
    int rc = prefs_user_check(tx, scope, user_id);
    if (rc == 0) {
        char now[CLOCK_RFC3339_LEN];
        clock_format_ms(clock_now_ms(), now);
        rc = sql_prefs_put(tx, scope, user_id, text, now);
    }
    free(text);
    return rc;
}

int store_meta_set(struct store_tx *tx, const char *key, const char *value)
{
    if (!tx || !tx->write || !key || !value) {
        return SB_E_INVAL;
    }
    return tx->store->ops->meta_set(tx, key, value);
}

int store_refresh_insert(struct store_tx *tx, const char *user_id, const char *family_id,
                         const char *token_hash, int64_t expires_at_ms)
{
    if (!tx || !tx->write || !user_id || !family_id || !token_hash || !token_hash[0] ||
        strlen(user_id) >= 40 || strlen(family_id) >= 40) {
        return SB_E_INVAL;
    }
    char id[UUID_STR_LEN];
    uuid_v4(id);
    return tx->store->ops->refresh_insert(tx, id, user_id, family_id, token_hash, expires_at_ms,
                                          clock_now_ms());
}

int store_refresh_find(struct store_tx *tx, const char *token_hash, struct store_refresh *out)
{
    if (!tx || !token_hash || !out) {
        return SB_E_INVAL;
    }
    memset(out, 0, sizeof(*out));
    return tx->store->ops->refresh_find(tx, token_hash, out);
}

int store_refresh_mark_used(struct store_tx *tx, const char *id)
{
    if (!tx || !tx->write || !id) {
        return SB_E_INVAL;
    }
    int rc = tx->store->ops->refresh_mark_used(tx, id, clock_now_ms());
    return rc == 0 ? SB_E_CONFLICT : rc < 0 ? rc : 0;
}

int store_refresh_revoke_family(struct store_tx *tx, const char *family_id)
{
    if (!tx || !tx->write || !family_id) {
        return SB_E_INVAL;
    }
    return tx->store->ops->refresh_revoke(tx, "family_id", family_id, clock_now_ms());
}

int store_refresh_revoke_user(struct store_tx *tx, const char *user_id)
{
    if (!tx || !tx->write || !user_id) {
        return SB_E_INVAL;
    }
    return tx->store->ops->refresh_revoke(tx, "user_id", user_id, clock_now_ms());
}

int store_events_add(struct store *self, const char *key, int64_t now_ms, unsigned keep,
                     int64_t expires_ms)
{
    struct store_tx *tx;
    int rc = store_tx_begin(self, true, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = self->ops->events_add(tx, key, now_ms, keep ? keep : 1, expires_ms);
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    return store_tx_commit(tx);
}

int store_events_count(struct store *self, const char *key, int64_t since_ms, unsigned *n,
                       int64_t *oldest_ms, int64_t *newest_ms)
{
    *n = 0;
    *oldest_ms = *newest_ms = 0;
    struct store_tx *tx;
    int rc = store_tx_begin(self, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = self->ops->events_count(tx, key, since_ms, n, oldest_ms, newest_ms);
    store_tx_rollback(tx);
    return rc;
}

int store_events_clear(struct store *self, const char *key)
{
    struct store_tx *tx;
    int rc = store_tx_begin(self, true, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = self->ops->events_clear(tx, key);
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    return store_tx_commit(tx);
}

int store_refresh_revoked_since(struct store_tx *tx, int64_t since_ms, json_t **out)
{
    if (!tx || !out) {
        return SB_E_INVAL;
    }
    *out = json_array();
    int rc = tx->store->ops->refresh_revoked_since(tx, since_ms, *out);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int store_agent_history_prune(struct store_tx *tx, int64_t before_ms, unsigned max)
{
    if (!tx || !tx->write || max < 1 || max > 100000 || before_ms < 0) {
        return SB_E_INVAL;
    }
    char before[CLOCK_RFC3339_LEN];
    clock_format_ms(before_ms, before); /* compared as every time column is stored */
    return sql_agent_history_prune(tx, before, max);
}

int store_refresh_prune(struct store_tx *tx, int64_t before_ms, unsigned max)
{
    if (!tx || !tx->write || max < 1 || max > 100000) {
        return SB_E_INVAL;
    }
    return tx->store->ops->refresh_prune(tx, before_ms, max);
}

int store_audit_append(struct store_tx *tx, json_t *entry, json_t **out)
{
    const struct store_table_desc *t = writable_table(tx, STORE_AUDIT);
    if (out) {
        *out = NULL;
    }
    if (!t || !json_is_object(entry)) {
        return SB_E_INVAL;
    }
    json_t *full = json_object();
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(entry, key, v)
    {
        const struct store_column *col = store_column_find(t, key);
        if (!col || strcmp(key, "seq") == 0 || strcmp(key, "prev_hash") == 0 ||
            strcmp(key, "hash") == 0) {
            rc = SB_E_INVAL;
            goto out;
        }
        json_t *norm = NULL;
        rc = check_value(col, v, &norm);
        if (rc < 0) {
            goto out;
        }
        json_object_set_new(full, key, norm);
    }
    if (!json_object_get(full, "action") || !json_object_get(full, "entity_type")) {
        rc = SB_E_INVAL;
        goto out;
    }
    if (!json_object_get(full, "id")) {
        char id[UUID_STR_LEN];
        uuid_v7(id); /* an append-only log: its id index grows at the end */
        json_object_set_new(full, "id", json_string(id));
    }
    if (!json_object_get(full, "at")) {
        set_now(full, "at");
    }
    for (size_t i = 0; i < t->ncols; i++) {
        if (!json_object_get(full, t->cols[i].name)) {
            json_object_set_new(full, t->cols[i].name, json_null());
        }
    }
    int64_t last = 0;
    char prev[AUDIT_HASH_HEX_LEN];
    rc = tx->store->ops->audit_last(tx, &last, prev);
    if (rc < 0) {
        goto out;
    }
    json_object_set_new(full, "seq", json_integer(last + 1));
    json_object_set_new(full, "prev_hash", json_string(prev));
    char hash[AUDIT_HASH_HEX_LEN];
    audit_hash_compute(prev, full, hash);
    json_object_set_new(full, "hash", json_string(hash));
    rc = sql_row_insert(tx, store_table_desc(STORE_AUDIT), full);
    if (rc == 0 && out) {
        *out = json_incref(full);
    }
out:
    json_decref(full);
    return rc;
}

struct verify_state {
    int64_t expect_seq;
    char prev[AUDIT_HASH_HEX_LEN];
    int64_t checked;
    int64_t first_bad;
};

static int verify_row(void *arg, json_t *row)
{
    struct verify_state *st = arg;
    st->checked++;
    int64_t seq = json_integer_value(json_object_get(row, "seq"));
    const char *prev = json_string_value(json_object_get(row, "prev_hash"));
    const char *hash = json_string_value(json_object_get(row, "hash"));
    if (seq != st->expect_seq) {
        st->first_bad = seq < st->expect_seq ? seq : st->expect_seq;
        return 1;
    }
    char want[AUDIT_HASH_HEX_LEN];
    audit_hash_compute(st->prev, row, want);
    if (!prev || !hash || strcmp(prev, st->prev) != 0 || strcmp(hash, want) != 0) {
        st->first_bad = seq;
        return 1;
    }
    snprintf(st->prev, sizeof(st->prev), "%s", hash);
    st->expect_seq++;
    return 0;
}

int store_audit_verify(struct store *self, int64_t *checked, int64_t *first_bad_seq)
{
    if (!self || !checked || !first_bad_seq) {
        return SB_E_INVAL;
    }
    struct verify_state st = {.expect_seq = 1, .prev = AUDIT_GENESIS_HASH};
    int64_t high_water = 0;
    int rc = self->ops->audit_scan(self, verify_row, &st, &high_water);
    if (rc < 0) {
        return rc;
    }
    if (st.first_bad == 0 && high_water >= st.expect_seq) {
        st.first_bad = st.expect_seq; /* the newest entries were deleted */
    }
    *checked = st.checked;
    *first_bad_seq = st.first_bad;
    return 0;
}

int store_changes_read_raw(struct store *self, int64_t after_seq, size_t limit,
                           struct store_change **out, size_t *n)
{
    if (!self || !out || !n || after_seq < 0) {
        return SB_E_INVAL;
    }
    *out = NULL;
    *n = 0;
    if (limit == 0) {
        return 0;
    }
    return self->ops->changes_read(self, after_seq, limit, out, n);
}

json_t *store_change_row(const char *json_text)
{
    if (!json_text) {
        return NULL;
    }
    json_t *row = json_loads(json_text, 0, NULL);
    if (!json_is_object(row)) {
        json_decref(row);
        return NULL;
    }
    return row;
}

int store_changes_read(struct store *self, int64_t after_seq, size_t limit,
                       struct store_change **out, size_t *n)
{
    int rc = store_changes_read_raw(self, after_seq, limit, out, n);
    for (size_t i = 0; rc == 0 && i < *n; i++) {
        struct store_change *ch = &(*out)[i];
        ch->record = store_change_row(ch->record_json);
        ch->old_record = store_change_row(ch->old_record_json);
        free(ch->record_json);
        free(ch->old_record_json);
        ch->record_json = ch->old_record_json = NULL;
    }
    return rc;
}

void store_changes_free(struct store_change *changes, size_t n)
{
    if (!changes) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(changes[i].client_id);
        free(changes[i].row_id);
        json_decref(changes[i].record);
        json_decref(changes[i].old_record);
        free(changes[i].record_json);
        free(changes[i].old_record_json);
    }
    free(changes);
}

int store_changes_bounds(struct store *self, int64_t *oldest, int64_t *head)
{
    if (!self || !oldest || !head) {
        return SB_E_INVAL;
    }
    *oldest = *head = 0;
    return self->ops->changes_bounds(self, oldest, head);
}

int store_changes_prune(struct store *self, int64_t before_ms)
{
    if (!self) {
        return SB_E_INVAL;
    }
    commit_enter(self);
    int rc = self->ops->changes_prune(self, before_ms);
    commit_leave(self);
    return rc;
}
