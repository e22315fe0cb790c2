/*
 * PostgreSQL row operations. The row ops themselves are the shared ones of sql.c: this file
 * gives them the PostgreSQL dialect and run_rows, which makes the transaction's
 * switchboard.scope match the statement's scope first (pg_scope_apply), so the row-level
 * security policies of migration 2 enforce the same tenant a second time, then runs the
 * statement with pg_run (the JSON arguments travel as text and the server infers their types
 * from the columns they meet). Built statements go through the per-connection
 * prepared-statement cache like fixed ones, so repeated list shapes are prepared once.
 *
 * Statements without a scope (insert, refresh tokens, audit append) run under the scope the
 * transaction last set: inserts made on a tenant's behalf are checked against that tenant,
 * and the head and the newest audit entry, which span every tenant, are read through
 * functions that lift the scope. The rest of the file is the fixed statements of meta,
 * refresh tokens, login events, the audit chain and the change log.
 */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "store/sql.h"

#define AUDIT_PAGE 1000

struct pg_row {
    struct sql_row base;
    const PGresult *res;
    int i;
};

static json_t *row_value(const struct sql_row *row, int col, enum store_coltype type)
{
    const struct pg_row *r = (const struct pg_row *)row;
    return pg_value(r->res, r->i, col, type);
}

static json_t *read_row(const PGresult *res, int i, const struct store_table_desc *t,
                        bool with_hidden)
{
    struct pg_row r = {{row_value}, res, i};
    return sql_row_read(&r.base, t, with_hidden);
}

/* sql_backend.run: pg_scope_apply, pg_run, then the result's rows. */
static int run_rows(struct store_tx *tx, const struct store_scope *scope, const char *sql,
                    json_t *args, sql_row_cb row, void *arg)
{
    int rc = scope ? pg_scope_apply(tx, scope) : 0;
    PGresult *res = NULL;
    if (rc >= 0) {
        rc = pg_run(tx, sql, args, row ? &res : NULL);
    }
    for (int i = 0; rc > 0 && row && i < PQntuples(res); i++) {
        struct pg_row r = {{row_value}, res, i};
        if (row(arg, &r.base) != 0) {
            break;
        }
    }
    PQclear(res);
    return rc;
}

const struct sql_backend pg_sql_backend = {
    .dialect =
        {
            .numbered = true,
            .true_sql = "true",
            .false_sql = "false",
            .ilike = "ILIKE",
            .lower_nocase = true,
            .text_cast = "::text",
            .json_cast = "::jsonb",
            .nulls_order = true,
            .whole_results = true,
        },
    .run = run_rows,
};

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

int pg_refresh_prune(struct store_tx *tx, int64_t before_ms, unsigned max)
{
    return run_fixed(tx,
                     "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens "
                     "WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
                     json_pack("[oI]", time_json(before_ms), (json_int_t)max), NULL);
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
    sql_printf(&b, "SELECT ");
    sql_select_cols(&b, t, true);
    sql_printf(&b, " FROM audit_logs WHERE seq > $1 ORDER BY seq LIMIT %d", AUDIT_PAGE);
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
        ch->record_json = PQgetisnull(res, r, 6) ? NULL : xstrdup(PQgetvalue(res, r, 6));
        ch->old_record_json = PQgetisnull(res, r, 7) ? NULL : xstrdup(PQgetvalue(res, r, 7));
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
