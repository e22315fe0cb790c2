/*
 * Agent status: quick and bulk status changes, the status history, time-in-status
 * statistics and the presence-driven "offline after a grace period".
 *
 * Every status change goes through apply_status(): inside the caller's write transaction it
 * updates the agent_status row, closes the agent's open agent_status_history row (ended_at =
 * now) and opens the next one, and appends one audit entry. The history of an agent is thus a
 * chain of contiguous, non-overlapping intervals with at most one open row, which the history
 * window query and the statistics rely on.
 *
 * Statistics are split in two: svc_stats_accumulate() is pure arithmetic over intervals, a
 * window and an injected "now" (unit-tested on scripted timelines), and svc_agent_stats()
 * only fetches rows and groups them.
 *
 * Presence is a small table (user id -> live connection count, time the count reached zero)
 * behind a mutex; the realtime engine feeds it, the jobs thread asks it what is due.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/rand.h"
#include "svc/svc_int.h"

/* Upper bound of history rows one statistics call reads. */
#define STATS_MAX_ROWS 200000

static const char *const status_names[SVC__NSTATUS] = {"online", "away", "busy", "offline"};

int svc_status_parse(const char *s)
{
    for (int i = 0; s && i < SVC__NSTATUS; i++) {
        if (!strcmp(s, status_names[i])) {
            return i;
        }
    }
    return -1;
}

const char *svc_status_name(int status)
{
    return status >= 0 && status < SVC__NSTATUS ? status_names[status] : "";
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Characters (code points) of a valid UTF-8 string. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

/* Check {status?, reason?} (status required when need_status). */
static int check_status_input(const json_t *in, bool need_status, const char *const *allowed,
                              struct svc_errors *err)
{
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        bool ok = false;
        for (const char *const *f = allowed; *f; f++) {
            ok = ok || !strcmp(*f, key);
        }
        if (!ok) {
            rc = svc_invalid(err, key, "unknown_field");
        }
    }
    const json_t *st = json_object_get(in, "status");
    const json_t *reason = json_object_get(in, "reason");
    if (!st && need_status) {
        rc = svc_invalid(err, "status", "required");
    } else if (st && (!json_is_string(st) || svc_status_parse(json_string_value(st)) < 0)) {
        rc = svc_invalid(err, "status", "invalid");
    }
    if (reason && !json_is_null(reason)) {
        if (!json_is_string(reason)) {
            rc = svc_invalid(err, "reason", "must_be_string");
        } else if (utf8_len(json_string_value(reason)) > SVC_REASON_MAX) {
            rc = svc_invalid(err, "reason", "too_long");
        }
    }
    if (!st && !reason) {
        rc = svc_invalid(err, "status", "required");
    }
    return rc;
}

/* The open history rows of agent_id (normally one). */
static int open_history(struct store_tx *tx, const char *agent_id, json_t **rows)
{
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.filters[0] = (struct store_filter){"agent_id", STORE_EQ, json_string(agent_id)};
    q.filters[1] = (struct store_filter){"ended_at", STORE_IS_NULL, json_true()};
    q.nfilters = 2;
    q.limit = STORE_MAX_LIMIT;
    char *next = NULL;
    int rc = store_row_list(tx, STORE_AGENT_HISTORY, &q, rows, &next);
    free(next);
    json_decref(q.filters[0].value);
    json_decref(q.filters[1].value);
    return rc;
}

/*
 * Apply status (NULL: keep) and reason (json string or null; NULL: keep unless the status
 * changes, then clear) to the agent row before, inside tx, with history and one audit entry.
 * *after (may be NULL) receives the new row.
 */
static int apply_status(struct store_tx *tx, const struct svc_actor *a, const json_t *before,
                        const char *status, const json_t *reason, int64_t expected_version,
                        json_t **after, struct svc_errors *err)
{
    struct store_scope all;
    policy_system_scope(&all);
    const char *id = jstr(before, "id");
    const char *old_status = jstr(before, "status");
    bool changes = status && strcmp(status, old_status);
    char now[CLOCK_RFC3339_LEN];
    clock_format_ms(clock_now_ms(), now);
    json_t *set = json_object();
    json_object_set_new(set, "updated_by",
                        a->system || !a->who.user_id[0] ? json_null()
                                                        : json_string(a->who.user_id));
    if (reason) {
        json_object_set_new(set, "reason", json_deep_copy(reason));
    } else if (changes) {
        json_object_set_new(set, "reason", json_null());
    }
    if (changes) {
        json_object_set_new(set, "status", json_string(status));
        json_object_set_new(set, "status_since", json_string(now));
    }
    json_t *row = NULL, *open = NULL;
    int rc = store_row_update(tx, STORE_AGENT_STATUS, &all, id, set, expected_version, &row);
    if (rc == SB_E_VERSION) {
        if (err) {
            err->current = row;
            row = NULL;
        }
        goto out;
    }
    if (rc == 0) {
        rc = open_history(tx, id, &open);
    }
    const char *by = a->system ? "system" : a->who.user_id;
    size_t i;
    json_t *h;
    json_array_foreach(open, i, h)
    {
        if (rc < 0) {
            break;
        }
        json_t *patch = changes ? json_pack("{s:s}", "ended_at", now)
                                : json_pack("{s:O}", "reason", json_object_get(row, "reason"));
        rc = store_row_update(tx, STORE_AGENT_HISTORY, &all, jstr(h, "id"), patch, 0, NULL);
        json_decref(patch);
    }
    if (rc == 0 && (changes || json_array_size(open) == 0)) {
        json_t *nh = json_pack("{s:s,s:s,s:s,s:O,s:s,s:n,s:s}", "agent_id", id, "client_id",
                               jstr(row, "client_id"), "status", jstr(row, "status"), "reason",
                               json_object_get(row, "reason"), "started_at", now, "ended_at",
                               "changed_by", by);
        rc = store_row_insert(tx, STORE_AGENT_HISTORY, nh, NULL);
        json_decref(nh);
    }
    if (rc == 0) {
        rc = svc_audit(tx, a, "agent_status.update", "agent_status", id, before, row);
    }
out:
    json_decref(open);
    json_decref(set);
    if (rc == 0 && after) {
        *after = row;
    } else {
        json_decref(row);
    }
    return rc;
}

/* The agent row id in the actor's write scope, checked with policy; SB_E_NOTFOUND for a row
 * the actor cannot see at all, SB_E_FORBIDDEN for one it sees but may not set. */
static int writable_agent(struct svc *svc, struct store_tx *tx, const struct svc_actor *a,
                          const char *id, json_t **out)
{
    *out = NULL;
    struct store_scope scope;
    int rc = policy_write_scope(&a->who, STORE_AGENT_STATUS, &scope);
    if (rc < 0) {
        /* Not a writer at all: 403 only for rows the actor can read. */
        struct store_scope rs;
        if (policy_read_scope(&a->who, STORE_AGENT_STATUS, &rs, NULL) < 0) {
            return SB_E_NOTFOUND;
        }
        json_t *row = NULL;
        rc = store_row_get(tx, STORE_AGENT_STATUS, &rs, id, &row);
        json_decref(row);
        return rc < 0 ? rc : SB_E_FORBIDDEN;
    }
    (void)svc;
    if (!uuid_is_valid(id)) {
        return SB_E_NOTFOUND;
    }
    rc = store_row_get(tx, STORE_AGENT_STATUS, &scope, id, out);
    if (rc == 0 && !policy_can_set_agent_status(&a->who, *out)) {
        json_decref(*out);
        *out = NULL;
        rc = SB_E_FORBIDDEN;
    }
    return rc;
}

int svc_agent_set_status(struct svc *svc, const struct svc_actor *a, const char *id,
                         const json_t *in, int64_t expected_version, json_t **out,
                         struct svc_errors *err)
{
    static const char *const fields[] = {"status", "reason", "expected_version", NULL};
    *out = NULL;
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *before = NULL;
    rc = writable_agent(svc, tx, a, id, &before);
    if (rc == 0) {
        rc = check_status_input(in, false, fields, err);
    }
    if (rc == 0 && expected_version > 0 &&
        json_integer_value(json_object_get(before, "version")) != expected_version) {
        err->current = json_incref(before);
        rc = SB_E_VERSION;
    }
    if (rc == 0) {
        rc = apply_status(tx, a, before, jstr(in, "status"), json_object_get(in, "reason"),
                          expected_version, out, err);
    }
    json_decref(before);
    return svc_tx_end(tx, rc, out);
}

int svc_agent_bulk_status(struct svc *svc, const struct svc_actor *a, const json_t *in,
                          json_t **out, struct svc_errors *err)
{
    static const char *const fields[] = {"ids", "status", "reason", NULL};
    *out = NULL;
    int rc = check_status_input(in, true, fields, err);
    const json_t *ids = json_object_get(in, "ids");
    if (!json_is_array(ids)) {
        return svc_invalid(err, "ids", ids ? "must_be_array" : "required");
    }
    size_t n = json_array_size(ids);
    if (n == 0) {
        return svc_invalid(err, "ids", "empty");
    }
    if (n > SVC_BULK_MAX) {
        return svc_invalid(err, "ids", "too_many");
    }
    char field[32];
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(ids, i);
        snprintf(field, sizeof field, "ids[%zu]", i);
        if (!json_is_string(v)) {
            rc = svc_invalid(err, field, "must_be_string");
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (json_equal(v, json_array_get(ids, j))) {
                rc = svc_invalid(err, field, "duplicate");
                break;
            }
        }
    }
    if (rc < 0) {
        return rc;
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        json_t *row = NULL;
        rc = writable_agent(svc, tx, a, id, &row);
        if (rc < 0) {
            snprintf(field, sizeof field, "ids[%zu]", i);
            svc_invalid(err, field, rc == SB_E_NOTFOUND ? "not_found" : "forbidden");
            snprintf(err->message, sizeof err->message, "agent %.40s %s; nothing was changed", id,
                     rc == SB_E_NOTFOUND ? "not found" : "may not be changed by you");
        } else {
            json_array_append_new(rows, row);
        }
    }
    json_t *result = json_array();
    size_t i;
    json_t *before;
    json_array_foreach(rows, i, before)
    {
        if (rc < 0) {
            break;
        }
        json_t *after = NULL;
        rc = apply_status(tx, a, before, jstr(in, "status"), json_object_get(in, "reason"), 0,
                          &after, NULL);
        if (rc == 0) {
            json_array_append_new(result, after);
        }
    }
    json_decref(rows);
    rc = svc_tx_end(tx, rc, NULL);
    if (rc < 0) {
        json_decref(result);
        return rc;
    }
    *out = result;
    return 0;
}

int svc_agent_history(struct svc *svc, const struct policy_principal *who, const char *id,
                      int64_t from_ms, int64_t to_ms, struct store_query *q, struct svc_page *out)
{
    memset(out, 0, sizeof *out);
    out->total = -1; /* history pages are not counted */
    struct store_scope scope;
    if (policy_read_scope(who, STORE_AGENT_HISTORY, &scope, NULL) < 0 || !uuid_is_valid(id)) {
        return SB_E_NOTFOUND;
    }
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *agent = NULL, *straddle = NULL;
    rc = store_row_get(tx, STORE_AGENT_STATUS, &scope, id, &agent);
    json_decref(agent);
    if (rc == 0) {
        rc = store_tx_head_seq(tx, &out->seq);
    }
    char from[CLOCK_RFC3339_LEN], to[CLOCK_RFC3339_LEN];
    clock_format_ms(from_ms, from);
    clock_format_ms(to_ms, to);
    /* Intervals are contiguous, so at most one row started before from and overlaps the
     * window: fetch it separately (first page only), then the rows starting inside it. */
    if (rc == 0 && from_ms > 0 && !q->cursor) {
        struct store_query sq = {0};
        sq.scope = scope;
        sq.filters[0] = (struct store_filter){"agent_id", STORE_EQ, json_string(id)};
        sq.filters[1] = (struct store_filter){"started_at", STORE_LT, json_string(from)};
        sq.nfilters = 2;
        sq.sort = "-started_at";
        sq.limit = 1;
        char *next = NULL;
        rc = store_row_list(tx, STORE_AGENT_HISTORY, &sq, &straddle, &next);
        free(next);
        json_decref(sq.filters[0].value);
        json_decref(sq.filters[1].value);
        json_t *r = rc == 0 ? json_array_get(straddle, 0) : NULL;
        int64_t end_ms = 0;
        if (r && jstr(r, "ended_at") && clock_parse_ms(jstr(r, "ended_at"), &end_ms) == 0 &&
            end_ms <= from_ms) {
            json_array_clear(straddle);
        }
    }
    if (rc == 0) {
        q->scope = scope;
        q->sort = "started_at";
        size_t base = q->nfilters;
        if (base + 3 > STORE_MAX_FILTERS) {
            rc = SB_E_INVAL;
        } else {
            q->filters[q->nfilters++] =
                (struct store_filter){"agent_id", STORE_EQ, json_string(id)};
            if (from_ms > 0) {
                q->filters[q->nfilters++] =
                    (struct store_filter){"started_at", STORE_GTE, json_string(from)};
            }
            if (to_ms > 0) {
                q->filters[q->nfilters++] =
                    (struct store_filter){"started_at", STORE_LTE, json_string(to)};
            }
            rc = store_row_list(tx, STORE_AGENT_HISTORY, q, &out->rows, &out->next_cursor);
            for (size_t i = base; i < q->nfilters; i++) {
                json_decref(q->filters[i].value);
            }
            q->nfilters = base;
        }
    }
    store_tx_rollback(tx);
    if (rc == 0 && json_array_size(straddle)) {
        json_array_insert(out->rows, 0, json_array_get(straddle, 0));
    }
    json_decref(straddle);
    if (rc < 0) {
        svc_page_release(out);
    }
    return rc;
}

/* ---- statistics ---- */

void svc_stats_accumulate(struct svc_status_time *acc, const struct svc_interval *iv, size_t n,
                          int64_t from_ms, int64_t to_ms, int64_t now_ms)
{
    int64_t hi = to_ms < now_ms ? to_ms : now_ms;
    for (size_t i = 0; i < n; i++) {
        if (iv[i].status < 0 || iv[i].status >= SVC__NSTATUS) {
            continue;
        }
        int64_t s = iv[i].start_ms > from_ms ? iv[i].start_ms : from_ms;
        int64_t e = iv[i].end_ms < 0 ? hi : iv[i].end_ms;
        if (e > hi) {
            e = hi;
        }
        if (e > s) {
            acc->ms[iv[i].status] += e - s;
        }
    }
}

int64_t svc_stats_covered_ms(const struct svc_status_time *t)
{
    int64_t sum = 0;
    for (int i = 0; i < SVC__NSTATUS; i++) {
        sum += t->ms[i];
    }
    return sum;
}

static json_t *ratio(int64_t num, int64_t den)
{
    return den > 0 ? json_real((double)num / (double)den) : json_null();
}

json_t *svc_stats_json(const struct svc_status_time *t)
{
    json_t *secs = json_object(), *ms = json_object();
    for (int i = 0; i < SVC__NSTATUS; i++) {
        json_object_set_new(secs, status_names[i], json_real((double)t->ms[i] / 1000.0));
        json_object_set_new(ms, status_names[i], json_integer(t->ms[i]));
    }
    int64_t covered = svc_stats_covered_ms(t);
    int64_t working = t->ms[SVC_ONLINE] + t->ms[SVC_BUSY];
    return json_pack("{s:o,s:o,s:f,s:o,s:o}", "seconds", secs, "ms", ms, "covered_seconds",
                     (double)covered / 1000.0, "uptime", ratio(working, covered), "occupancy",
                     ratio(t->ms[SVC_BUSY], working));
}

/* Append every row matching q (all pages) to acc, at most max rows in total. */
static int list_all(struct store_tx *tx, enum store_table table, struct store_query *q, json_t *acc,
                    size_t max)
{
    char *cursor = NULL;
    int rc = 0;
    q->limit = STORE_MAX_LIMIT;
    for (;;) {
        json_t *rows = NULL;
        char *next = NULL;
        q->cursor = cursor;
        rc = store_row_list(tx, table, q, &rows, &next);
        free(cursor);
        cursor = next;
        if (rc == 0) {
            json_array_extend(acc, rows);
        }
        json_decref(rows);
        if (rc < 0 || !cursor) {
            break;
        }
        if (json_array_size(acc) >= max) {
            rc = SB_E_TOOBIG;
            break;
        }
    }
    free(cursor);
    q->cursor = NULL;
    return rc;
}

struct agent_acc {
    const char *agent_id;
    struct svc_status_time t;
};

static int cmp_acc(const void *a, const void *b)
{
    return strcmp(((const struct agent_acc *)a)->agent_id, ((const struct agent_acc *)b)->agent_id);
}

int svc_agent_stats(struct svc *svc, const struct policy_principal *who, const char *client_id,
                    int64_t from_ms, int64_t to_ms, int64_t now_ms, json_t **out)
{
    *out = NULL;
    if (from_ms >= to_ms) {
        return SB_E_VALIDATION;
    }
    struct store_scope scope;
    int rc = policy_read_scope(who, STORE_AGENT_STATUS, &scope, NULL);
    if (rc < 0) {
        return rc;
    }
    if (client_id && !uuid_is_valid(client_id)) {
        return SB_E_NOTFOUND;
    }
    if (client_id && !scope.all && strcmp(client_id, scope.client_id)) {
        return SB_E_NOTFOUND;
    }
    char from[CLOCK_RFC3339_LEN], to[CLOCK_RFC3339_LEN];
    clock_format_ms(from_ms, from);
    clock_format_ms(to_ms, to);
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *agents = json_array(), *hist = json_array();
    struct store_query q = {0};
    q.scope = scope;
    if (client_id) {
        q.filters[q.nfilters++] =
            (struct store_filter){"client_id", STORE_EQ, json_string(client_id)};
    }
    size_t base = q.nfilters;
    q.sort = "id";
    rc = list_all(tx, STORE_AGENT_STATUS, &q, agents, STATS_MAX_ROWS);
    /* Rows overlapping the window: closed ones ending after from, and open ones. */
    q.sort = NULL;
    q.filters[base] = (struct store_filter){"started_at", STORE_LTE, json_string(to)};
    q.filters[base + 1] = (struct store_filter){"ended_at", STORE_GT, json_string(from)};
    q.nfilters = base + 2;
    if (rc == 0) {
        rc = list_all(tx, STORE_AGENT_HISTORY, &q, hist, STATS_MAX_ROWS);
    }
    json_decref(q.filters[base + 1].value);
    q.filters[base + 1] = (struct store_filter){"ended_at", STORE_IS_NULL, json_true()};
    if (rc == 0) {
        rc = list_all(tx, STORE_AGENT_HISTORY, &q, hist, STATS_MAX_ROWS);
    }
    for (size_t i = 0; i < q.nfilters; i++) {
        json_decref(q.filters[i].value);
    }
    store_tx_rollback(tx);
    if (rc < 0) {
        json_decref(agents);
        json_decref(hist);
        return rc;
    }
    size_t na = json_array_size(agents);
    struct agent_acc *acc = xcalloc(na ? na : 1, sizeof *acc);
    for (size_t i = 0; i < na; i++) {
        acc[i].agent_id = jstr(json_array_get(agents, i), "id");
    }
    qsort(acc, na, sizeof *acc, cmp_acc);
    size_t i;
    json_t *h;
    json_array_foreach(hist, i, h)
    {
        struct agent_acc key = {.agent_id = jstr(h, "agent_id")};
        struct agent_acc *a = key.agent_id ? bsearch(&key, acc, na, sizeof *acc, cmp_acc) : NULL;
        struct svc_interval iv = {.status = svc_status_parse(jstr(h, "status")), .end_ms = -1};
        if (!a || clock_parse_ms(jstr(h, "started_at"), &iv.start_ms) < 0 ||
            (jstr(h, "ended_at") && clock_parse_ms(jstr(h, "ended_at"), &iv.end_ms) < 0)) {
            continue;
        }
        svc_stats_accumulate(&a->t, &iv, 1, from_ms, to_ms, now_ms);
    }
    json_t *agents_out = json_array(), *clients = json_object();
    json_t *agent;
    json_array_foreach(agents, i, agent)
    {
        struct agent_acc key = {.agent_id = jstr(agent, "id")};
        struct agent_acc *a = bsearch(&key, acc, na, sizeof *acc, cmp_acc);
        json_t *o = svc_stats_json(&a->t);
        json_object_set_new(o, "agent_id", json_string(a->agent_id));
        json_object_set(o, "user_id", json_object_get(agent, "user_id"));
        json_object_set(o, "client_id", json_object_get(agent, "client_id"));
        json_object_set(o, "display_name", json_object_get(agent, "display_name"));
        json_object_set(o, "status", json_object_get(agent, "status"));
        json_array_append_new(agents_out, o);
        /* per client: sum in a hidden accumulator keyed by client id */
        const char *cid = jstr(agent, "client_id");
        json_t *c = json_object_get(clients, cid);
        if (!c) {
            c = json_pack("{s:i,s:[iiii]}", "agents", 0, "ms", 0, 0, 0, 0);
            json_object_set_new(clients, cid, c);
        }
        json_object_set_new(c, "agents",
                            json_integer(json_integer_value(json_object_get(c, "agents")) + 1));
        json_t *ms = json_object_get(c, "ms");
        for (int s = 0; s < SVC__NSTATUS; s++) {
            json_array_set_new(
                ms, (size_t)s,
                json_integer(json_integer_value(json_array_get(ms, (size_t)s)) + a->t.ms[s]));
        }
    }
    json_t *clients_out = json_array();
    const char *cid;
    json_t *c;
    json_object_foreach(clients, cid, c)
    {
        struct svc_status_time t = {{0}};
        for (int s = 0; s < SVC__NSTATUS; s++) {
            t.ms[s] = json_integer_value(json_array_get(json_object_get(c, "ms"), (size_t)s));
        }
        json_t *o = svc_stats_json(&t);
        json_object_set_new(o, "client_id", json_string(cid));
        json_object_set(o, "agents", json_object_get(c, "agents"));
        json_array_append_new(clients_out, o);
    }
    free(acc);
    json_decref(clients);
    json_decref(hist);
    json_decref(agents);
    *out = json_pack("{s:s,s:s,s:o,s:o}", "from", from, "to", to, "agents", agents_out, "clients",
                     clients_out);
    return 0;
}

/* ---- presence ----
 *
 * Across nodes (src/realtime/cluster.c counts every node's agent connections): when this
 * node's grace of a user runs out, elsewhere() asks whether another live node still has a
 * connection of the user, or lost its last one later than we did; then that node decides and
 * this one forgets the user. When a node dies, one live node adopts its agents
 * (svc_presence_adopt), so their grace runs here.
 */

#define PRESENCE_RETRY_MS 1000

struct presence_entry {
    char user_id[64];
    int conns;
    bool grace; /* conns reached 0 at gone_ms and the grace is running */
    bool idle;  /* reported idle at idle_ms; reported back once active_ms passes it */
    int64_t gone_ms;
    int64_t active_ms;
    int64_t idle_ms;
    int64_t retry_ms; /* no idle report before this (a failed write is retried) */
};

struct svc_presence {
    pthread_mutex_t mu;
    svc_presence_elsewhere_fn elsewhere; /* cluster: another node decides (may be NULL) */
    void *elsewhere_arg;
    int64_t grace_ms;
    int64_t idle_after_ms; /* 0: no idle tracking */
    struct presence_entry *v;
    size_t n, cap;
};

struct svc_presence *svc_presence_new(int64_t grace_ms)
{
    struct svc_presence *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->grace_ms = grace_ms;
    return p;
}

void svc_presence_free(struct svc_presence *p)
{
    if (!p) {
        return;
    }
    pthread_mutex_destroy(&p->mu);
    free(p->v);
    free(p);
}

/* Entry of user_id (mutex held); created when create is set, else NULL when missing. */
static struct presence_entry *presence_find(struct svc_presence *p, const char *user_id,
                                            bool create)
{
    for (size_t i = 0; i < p->n; i++) {
        if (!strcmp(p->v[i].user_id, user_id)) {
            return &p->v[i];
        }
    }
    if (!create || strlen(user_id) >= sizeof p->v[0].user_id) {
        return NULL;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = xrealloc(p->v, p->cap * sizeof *p->v);
    }
    struct presence_entry *e = &p->v[p->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->user_id, sizeof e->user_id, "%s", user_id);
    return e;
}

static void presence_remove(struct svc_presence *p, struct presence_entry *e)
{
    *e = p->v[--p->n];
}

void svc_presence_set_idle(struct svc_presence *p, int64_t idle_ms)
{
    pthread_mutex_lock(&p->mu);
    p->idle_after_ms = idle_ms > 0 ? idle_ms : 0;
    pthread_mutex_unlock(&p->mu);
}

void svc_presence_connected(struct svc_presence *p, const char *user_id, int64_t now_ms)
{
    pthread_mutex_lock(&p->mu);
    struct presence_entry *e = presence_find(p, user_id, true);
    if (e) {
        e->conns++;
        e->grace = false;
        e->active_ms = now_ms;
    }
    pthread_mutex_unlock(&p->mu);
}

void svc_presence_disconnected(struct svc_presence *p, const char *user_id, int64_t now_ms)
{
    pthread_mutex_lock(&p->mu);
    struct presence_entry *e = presence_find(p, user_id, false);
    if (e && e->conns > 0 && --e->conns == 0) {
        e->grace = true;
        e->gone_ms = now_ms;
    }
    pthread_mutex_unlock(&p->mu);
}

size_t svc_presence_due(struct svc_presence *p, int64_t now_ms, char (*out)[64], size_t max)
{
    size_t k = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n && k < max;) {
        struct presence_entry *e = &p->v[i];
        if (e->conns == 0 && e->grace && e->gone_ms + p->grace_ms <= now_ms) {
            if (!p->elsewhere || !p->elsewhere(p->elsewhere_arg, e->user_id, e->gone_ms)) {
                snprintf(out[k++], 64, "%s", e->user_id);
            }
            presence_remove(p, e);
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return k;
}

void svc_presence_retry(struct svc_presence *p, char (*users)[64], size_t n, int64_t now_ms,
                        int64_t retry_ms)
{
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < n; i++) {
        struct presence_entry *e = presence_find(p, users[i], true);
        if (e && e->conns == 0) {
            e->grace = true;
            e->gone_ms = now_ms + retry_ms - p->grace_ms;
        }
    }
    pthread_mutex_unlock(&p->mu);
}

void svc_presence_active(struct svc_presence *p, const char *user_id, int64_t now_ms)
{
    pthread_mutex_lock(&p->mu);
    struct presence_entry *e = presence_find(p, user_id, false);
    if (e && now_ms > e->active_ms) {
        e->active_ms = now_ms;
    }
    pthread_mutex_unlock(&p->mu);
}

size_t svc_presence_idle_due(struct svc_presence *p, int64_t now_ms, char (*out)[64], bool *back,
                             size_t max)
{
    size_t k = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n && k < max && p->idle_after_ms > 0; i++) {
        struct presence_entry *e = &p->v[i];
        if (e->conns == 0 || now_ms < e->retry_ms) {
            continue; /* the grace decides, or a retry waits */
        }
        if (!e->idle && now_ms - e->active_ms >= p->idle_after_ms) {
            e->idle = true;
            e->idle_ms = now_ms;
            back[k] = false;
        } else if (e->idle && e->active_ms > e->idle_ms) {
            e->idle = false;
            back[k] = true;
        } else {
            continue;
        }
        snprintf(out[k++], 64, "%s", e->user_id);
    }
    pthread_mutex_unlock(&p->mu);
    return k;
}

void svc_presence_idle_retry(struct svc_presence *p, const char *user_id, bool back, int64_t now_ms,
                             int64_t retry_ms)
{
    pthread_mutex_lock(&p->mu);
    struct presence_entry *e = presence_find(p, user_id, false);
    if (e) {
        /* Undo what idle_due() recorded, so the same report comes again (when still true),
         * but not before retry_ms. */
        e->idle = back;
        e->retry_ms = now_ms + retry_ms;
    }
    pthread_mutex_unlock(&p->mu);
}

int svc_presence_count(struct svc_presence *p, const char *user_id)
{
    pthread_mutex_lock(&p->mu);
    struct presence_entry *e = presence_find(p, user_id, false);
    int n = e ? e->conns : 0;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void svc_presence_set_elsewhere_fn(struct svc_presence *p, svc_presence_elsewhere_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->elsewhere = fn;
    p->elsewhere_arg = arg;
    pthread_mutex_unlock(&p->mu);
}

void svc_presence_adopt(struct svc_presence *p, const char *user_id, int64_t gone_ms)
{
    pthread_mutex_lock(&p->mu);
    struct presence_entry *e = presence_find(p, user_id, true);
    if (e && e->conns == 0 && (!e->grace || e->gone_ms < gone_ms)) {
        e->grace = true;
        e->gone_ms = gone_ms;
    }
    pthread_mutex_unlock(&p->mu);
}

struct svc_presence *svc_presence_of(struct svc *svc)
{
    return svc->presence;
}

/* The agent row of user_id (system scope) or NULL. */
static int agent_of_user(struct store_tx *tx, const char *user_id, json_t **rows)
{
    *rows = NULL;
    if (!uuid_is_valid(user_id)) {
        return 0;
    }
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.filters[0] = (struct store_filter){"user_id", STORE_EQ, json_string(user_id)};
    q.nfilters = 1;
    q.limit = 1;
    char *next = NULL;
    int rc = store_row_list(tx, STORE_AGENT_STATUS, &q, rows, &next);
    free(next);
    json_decref(q.filters[0].value);
    return rc;
}

/* What a presence event does to agent: the new status and reason, or NULL for nothing. */
static const char *presence_target(const json_t *agent, int kind, const char **reason)
{
    const char *status = jstr(agent, "status");
    const json_t *why = json_object_get(agent, "reason");
    switch (kind) {
    case 0: /* grace ran out */
        *reason = "disconnected";
        return strcmp(status, "offline") ? "offline" : NULL;
    case 1: /* idle */
        *reason = "idle";
        return strcmp(status, "online") == 0 ? "away" : NULL;
    default: /* back from idle: only an automatic away is undone */
        *reason = NULL;
        return strcmp(status, "away") == 0 && json_is_string(why) &&
                       strcmp(json_string_value(why), "idle") == 0 &&
                       json_is_null(json_object_get(agent, "updated_by"))
                   ? "online"
                   : NULL;
    }
}

int svc_presence_tick(struct svc *svc, int64_t now_ms)
{
    char users[128][64];
    int kind[128]; /* 0 offline (grace), 1 idle, 2 back */
    bool back[64];
    size_t ngone = svc_presence_due(svc->presence, now_ms, users, 64);
    size_t nidle = svc_presence_idle_due(svc->presence, now_ms, users + ngone, back, 64);
    size_t n = ngone + nidle;
    for (size_t i = 0; i < n; i++) {
        kind[i] = i < ngone ? 0 : back[i - ngone] ? 2 : 1;
    }
    if (n == 0) {
        return 0;
    }
    struct svc_actor sys;
    svc_actor_system(&sys);
    struct store_tx *tx = NULL;
    int rc = store_tx_begin(svc->store, true, &tx);
    int changed = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *rows = NULL;
        rc = agent_of_user(tx, users[i], &rows);
        json_t *agent = json_array_get(rows, 0);
        const char *why = NULL;
        const char *to = rc == 0 && agent ? presence_target(agent, kind[i], &why) : NULL;
        if (to) {
            json_t *reason = why ? json_string(why) : NULL;
            rc = apply_status(tx, &sys, agent, to, reason, 0, NULL, NULL);
            json_decref(reason);
            changed += rc == 0;
        }
        json_decref(rows);
    }
    if (tx && rc == 0) {
        rc = store_tx_commit(tx);
    } else if (tx) {
        store_tx_rollback(tx);
    }
    if (rc < 0) {
        svc_presence_retry(svc->presence, users, ngone, now_ms, PRESENCE_RETRY_MS);
        for (size_t i = ngone; i < n; i++) {
            svc_presence_idle_retry(svc->presence, users[i], kind[i] == 2, now_ms,
                                    PRESENCE_RETRY_MS);
        }
    }
    return rc < 0 ? rc : changed;
}
