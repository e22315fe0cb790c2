/*
 * SQLite row operations. The row ops themselves are the shared ones of sql.c: this file gives
 * them the SQLite dialect (users.email is declared COLLATE NOCASE, LIKE already ignores ASCII
 * case and NULL already sorts lowest) and run_rows, which binds a statement (sq_bind_all),
 * steps it and hands over its rows. Built statements go through the per-connection statement
 * cache like fixed ones, so repeated list shapes are prepared once. The rest of the file is
 * the fixed statements of meta, refresh tokens, login events, the audit chain and the change
 * log.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "store/sql.h"

struct sq_row {
    struct sql_row base;
    sqlite3_stmt *st;
};

static json_t *row_value(const struct sql_row *row, int col, enum store_coltype type)
{
    return sq_column(((const struct sq_row *)row)->st, col, type);
}

static json_t *read_row(sqlite3_stmt *st, const struct store_table_desc *t, bool with_hidden)
{
    struct sq_row r = {{row_value}, st};
    return sql_row_read(&r.base, t, with_hidden);
}

/* Step sql bound to args on c, calling row (may be NULL) for each result row until it returns
 * nonzero; returns sqlite3_changes() (0 when row stopped the walk) or an error. */
static int run(struct sq_conn *c, const char *sql, json_t *args, sql_row_cb row, void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(c, sql, &st);
    if (rc < 0) {
        return rc;
    }
    rc = sq_bind_all(st, args);
    struct sq_row r = {{row_value}, st};
    while (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            rc = sqlite3_changes(c->db);
            break;
        }
        if (step != SQLITE_ROW) {
            rc = sq_err(c->db, step);
            break;
        }
        if (!row || row(arg, &r.base) != 0) {
            break;
        }
    }
    sq_done(c, st);
    return rc;
}

/* sql_backend.run: SQLite has no scope of its own beyond the statement's predicate. */
static int run_rows(struct store_tx *tx, const struct store_scope *scope, const char *sql,
                    json_t *args, sql_row_cb row, void *arg)
{
    (void)scope;
    return run(sq_tx_conn(tx), sql, args, row, arg);
}

const struct sql_backend sq_sql_backend = {
    .dialect =
        {
            .true_sql = "1",
            .false_sql = "0",
            .ilike = "LIKE",
            .text_cast = "",
            .json_cast = "",
            .values_as_given = true,
        },
    .run = run_rows,
};

/* A fixed statement with string/integer arguments given as a JSON array (stolen). */
static int run_fixed(struct store_tx *tx, const char *sql, json_t *args)
{
    int rc = run(sq_tx_conn(tx), sql, args, NULL, NULL);
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

int sq_refresh_prune(struct store_tx *tx, int64_t before_ms, unsigned max)
{
    return run_fixed(tx,
                     "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens "
                     "WHERE expires_at < ? ORDER BY expires_at LIMIT ?)",
                     json_pack("[oI]", time_json(before_ms), (json_int_t)max));
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
    sql_printf(&b, "SELECT ");
    sql_select_cols(&b, t, true);
    sql_printf(&b, " FROM audit_logs ORDER BY seq");
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

/* The change log from a position on. An audit entry's row has no copy of the entry since
 * migration 7: its record is built from the entry's columns (audit_record), in the order of
 * the object the trigger of migration 1 stored. */
static const char changes_read_sql[] =
    "SELECT c.seq, c.at, c.client_id, c.table_name, c.op, c.row_id, c.record, c.old_record, "
    "a.id, a.seq, a.at, a.actor_id, a.actor_email, a.client_id, a.action, a.entity_type, "
    "a.entity_id, a.\"before\", a.\"after\", a.ip, a.user_agent, a.request_id, a.prev_hash, "
    "a.hash FROM changes AS c LEFT JOIN audit_logs AS a "
    "ON c.record IS NULL AND c.table_name = 'audit_logs' AND a.id = c.row_id "
    "WHERE c.seq > ? ORDER BY c.seq LIMIT ?";

enum { AUDIT_COL0 = 8 }; /* a.id, the first column of the entry in changes_read_sql */
static const struct {
    const char *key; /* with its quotes, colon and the comma before it */
    char kind;       /* 's' text, 'i' integer, 'j' JSON text */
} audit_fields[] = {
    {"{\"id\":", 's'},         {",\"seq\":", 'i'},         {",\"at\":", 's'},
    {",\"actor_id\":", 's'},   {",\"actor_email\":", 's'}, {",\"client_id\":", 's'},
    {",\"action\":", 's'},     {",\"entity_type\":", 's'}, {",\"entity_id\":", 's'},
    {",\"before\":", 'j'},     {",\"after\":", 'j'},       {",\"ip\":", 's'},
    {",\"user_agent\":", 's'}, {",\"request_id\":", 's'},  {",\"prev_hash\":", 's'},
    {",\"hash\":", 's'},
};

/* The change-log record of the audit entry in the row of st (what SQLite's json_object built
 * in SQL before, at about twice the cost: it parsed before and after again). */
static char *audit_record(sqlite3_stmt *st)
{
    size_t n = sizeof(audit_fields) / sizeof(audit_fields[0]);
    size_t room = 2;
    for (size_t i = 0; i < n; i++) {
        room += strlen(audit_fields[i].key) +
                6 * (size_t)sqlite3_column_bytes(st, AUDIT_COL0 + (int)i) + 24;
    }
    struct buf b;
    buf_init(&b, room); /* ample: every append below fits */
    for (size_t i = 0; i < n; i++) {
        int col = AUDIT_COL0 + (int)i;
        (void)buf_puts(&b, audit_fields[i].key);
        if (sqlite3_column_type(st, col) == SQLITE_NULL) {
            (void)buf_puts(&b, "null");
        } else if (audit_fields[i].kind == 'i') {
            (void)buf_put_i64(&b, sqlite3_column_int64(st, col));
        } else if (audit_fields[i].kind == 'j') {
            /* Written by our encoder (and CHECKed json_valid): already compact JSON. */
            (void)buf_puts(&b, (const char *)sqlite3_column_text(st, col));
        } else {
            const char *text = (const char *)sqlite3_column_text(st, col);
            (void)json_buf_string(&b, text, (size_t)sqlite3_column_bytes(st, col));
        }
    }
    (void)buf_putc(&b, '}');
    return buf_detach(&b, NULL);
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
    rc = sq_prepare(c, changes_read_sql, &st);
    struct store_change *v = NULL;
    size_t count = 0;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, after_seq);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
        v = xmalloc(16 * sizeof(*v)); /* grown as rows come: most reads find a few */
    }
    size_t cap = 16;
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
        const char *rec = (const char *)sqlite3_column_text(st, 6);
        const char *old = (const char *)sqlite3_column_text(st, 7);
        if (sqlite3_column_type(st, AUDIT_COL0) != SQLITE_NULL) {
            ch->record_json = audit_record(st);
        } else {
            ch->record_json = rec ? xstrdup(rec) : NULL;
        }
        ch->old_record_json = old ? xstrdup(old) : NULL;
    }
    sq_done(c, st);
    sq_tx_rollback(tx);
    if (rc == 0 && count > 0) {
        /* Rows go to subscribers only once on disk: every COMMIT the snapshot may hold had
         * begun before this point ("Durability" in sqlite_store.c). */
        rc = sq_sync_seen((struct sq_store *)s);
    }
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
    if (rc == 0) {
        rc = sq_sync_seen((struct sq_store *)s); /* a resume point: on disk (sq_tx_head_seq) */
    }
    return rc;
}

int sq_changes_prune(struct store *s, int64_t before_ms)
{
    struct store_tx *tx = NULL;
    int rc = sq_tx_begin(s, true, &tx);
    if (rc < 0) {
        return rc;
    }
    /* Everything before the first row (in seq order) written at or after the cut, and never
     * the last row (seq must not be reused). The log stays one run without a hole even if the
     * clock stepped back. The walk from the oldest row reads the rows it deletes and one more
     * (migration 8 dropped the index on `at`). */
    rc = run_fixed(tx,
                   "DELETE FROM changes WHERE seq < coalesce("
                   "(SELECT seq FROM changes WHERE at >= ? ORDER BY seq LIMIT 1), "
                   "(SELECT max(seq) FROM changes))",
                   json_pack("[o]", time_json(before_ms)));
    if (rc < 0) {
        sq_tx_rollback(tx);
        return rc;
    }
    int commit = sq_tx_commit(tx);
    return commit < 0 ? commit : rc;
}
