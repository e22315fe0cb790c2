/*
 * Agent status: quick and bulk status changes, the status history, and the status changes
 * presence asks for (offline after the grace, away when idle, back online).
 *
 * Every status change goes through apply_status(): inside the caller's write transaction it
 * updates the agent_status row, closes the agent's open agent_status_history row (ended_at =
 * now) and opens the next one, and appends one audit entry. The history of an agent is thus a
 * chain of contiguous, non-overlapping intervals with at most one open row, which the history
 * window query and the statistics (agent_stats.c) rely on.
 *
 * Who is connected, and when a grace or an idle period runs out, is the presence registry's
 * business (presence.c); svc_presence_tick() here turns what is due into status changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/rand.h"
#include "svc/svc_int.h"

/* A failed presence write is retried this much later. */
#define PRESENCE_RETRY_MS 1000

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
    json_t *row = NULL;
    int open = 0;
    /* before is the row as this transaction read it: the new row need not be read back. */
    int rc =
        store_row_update_from(tx, STORE_AGENT_STATUS, &all, before, set, expected_version, &row);
    if (rc == SB_E_VERSION) {
        if (err) {
            err->current = row;
            row = NULL;
        }
        goto out;
    }
    /* The open interval ends now, or (same status) takes the new reason. */
    if (rc == 0) {
        open = store_agent_history_close(tx, id, changes ? now : NULL,
                                         changes ? NULL : json_object_get(row, "reason"));
        rc = open < 0 ? open : 0;
    }
    const char *by = a->system ? "system" : a->who.user_id;
    if (rc == 0 && (changes || open == 0)) {
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

/* Bulk by ids (see svc_agent_bulk_status); rc carries the input check so far. */
static int bulk_ids(struct svc *svc, const struct svc_actor *a, const json_t *in, int rc,
                    json_t **out, struct svc_errors *err)
{
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

/* The agent_status query of a bulk filter {status?, q?, client_id?} within the actor's write
 * scope, its problems in err. Filter values are new references (api-style release). */
static int bulk_query(const struct svc_actor *a, const json_t *filter, struct store_query *q,
                      struct svc_errors *err)
{
    memset(q, 0, sizeof *q);
    int rc = 0;
    const char *key;
    json_t *v;
    char field[48];
    json_object_foreach((json_t *)filter, key, v)
    {
        snprintf(field, sizeof field, "filter.%.30s", key);
        bool text = json_is_string(v);
        if (strcmp(key, "status") != 0 && strcmp(key, "q") != 0 && strcmp(key, "client_id") != 0) {
            rc = svc_invalid(err, field, "unknown_field");
        } else if (json_is_null(v) || (text && !*json_string_value(v))) {
            continue; /* no condition, as an empty query parameter of the list */
        } else if (!text) {
            rc = svc_invalid(err, field, "must_be_string");
        } else if (!strcmp(key, "status") && svc_status_parse(json_string_value(v)) < 0) {
            rc = svc_invalid(err, field, "invalid");
        } else if (!strcmp(key, "client_id") && !uuid_is_valid(json_string_value(v))) {
            rc = svc_invalid(err, field, "invalid");
        } else if (!strcmp(key, "q") && utf8_len(json_string_value(v)) > SVC_REASON_MAX) {
            rc = svc_invalid(err, field, "too_long");
        } else if (!strcmp(key, "q")) {
            q->q = json_string_value(v);
        } else {
            q->filters[q->nfilters++] = (struct store_filter){
                !strcmp(key, "status") ? "status" : "client_id", STORE_EQ, json_incref(v)};
        }
    }
    if (rc == 0 && policy_write_scope(&a->who, STORE_AGENT_STATUS, &q->scope) < 0) {
        rc = SB_E_FORBIDDEN;
    }
    q->limit = STORE_MAX_LIMIT;
    return rc;
}

/* Bulk by filter (see svc_agent_bulk_status); rc carries the input check so far. */
static int bulk_filter(struct svc *svc, const struct svc_actor *a, const json_t *in, int rc,
                       json_t **out, struct svc_errors *err)
{
    const json_t *filter = json_object_get(in, "filter");
    const json_t *expected = json_object_get(in, "expected_count");
    if (!json_is_object(filter)) {
        rc = svc_invalid(err, "filter", "must_be_object");
    }
    if (expected && (!json_is_integer(expected) || json_integer_value(expected) < 0)) {
        rc = svc_invalid(err, "expected_count", "must_be_non_negative_integer");
    }
    struct store_query q;
    int qrc = json_is_object(filter) ? bulk_query(a, filter, &q, err) : 0;
    if (rc < 0 || qrc < 0) {
        if (json_is_object(filter)) {
            for (size_t i = 0; i < q.nfilters; i++) {
                json_decref(q.filters[i].value);
            }
        }
        return qrc == SB_E_FORBIDDEN ? qrc : rc < 0 ? rc : qrc;
    }
    struct store_tx *tx = NULL;
    rc = store_tx_begin(svc->store, true, &tx);
    json_t *rows = NULL;
    if (rc == 0) {
        rows = json_array();
        rc = svc_list_upto(tx, STORE_AGENT_STATUS, &q, rows, SVC_BULK_FILTER_MAX);
    }
    for (size_t i = 0; i < q.nfilters; i++) {
        json_decref(q.filters[i].value);
    }
    if (rc < 0) {
        json_decref(rows);
        return tx ? svc_tx_end(tx, rc, NULL) : rc;
    }
    size_t n = json_array_size(rows);
    if (n > SVC_BULK_FILTER_MAX) {
        rc = svc_invalid(err, "filter", "too_many");
        snprintf(err->message, sizeof err->message,
                 "more than %d agents match; narrow the filter (nothing was changed)",
                 SVC_BULK_FILTER_MAX);
    } else if (expected && (size_t)json_integer_value(expected) != n) {
        rc = SB_E_CONFLICT;
        svc_invalid(err, "expected_count", "does_not_match");
        err->current = json_pack("{s:I}", "count", (json_int_t)n);
        snprintf(err->message, sizeof err->message,
                 "%zu agents match now, not %" JSON_INTEGER_FORMAT "; nothing was changed", n,
                 json_integer_value(expected));
    }
    size_t i;
    json_t *before;
    json_array_foreach(rows, i, before)
    {
        if (rc < 0) {
            break;
        }
        if (!policy_can_set_agent_status(&a->who, before)) {
            rc = SB_E_FORBIDDEN;
            snprintf(err->message, sizeof err->message,
                     "agent %.40s may not be changed by you; nothing was changed",
                     jstr(before, "id"));
        }
    }
    json_array_foreach(rows, i, before)
    {
        if (rc < 0) {
            break;
        }
        rc = apply_status(tx, a, before, jstr(in, "status"), json_object_get(in, "reason"), 0, NULL,
                          NULL);
    }
    if (rc == 0) {
        json_t *after = json_pack(
            "{s:I,s:s,s:O,s:O}", "count", (json_int_t)n, "status", jstr(in, "status"), "reason",
            json_object_get(in, "reason") ? json_object_get(in, "reason") : json_null(), "filter",
            filter);
        rc = svc_audit(tx, a, "agent_status.bulk_update", "agent_status", NULL, NULL, after);
        json_decref(after);
    }
    json_decref(rows);
    rc = svc_tx_end(tx, rc, NULL);
    if (rc == 0) {
        *out = json_pack("{s:I}", "updated", (json_int_t)n);
    }
    return rc;
}

int svc_agent_bulk_status(struct svc *svc, const struct svc_actor *a, const json_t *in,
                          json_t **out, struct svc_errors *err)
{
    static const char *const fields[] = {"ids",    "filter", "expected_count",
                                         "status", "reason", NULL};
    *out = NULL;
    int rc = check_status_input(in, true, fields, err);
    bool by_filter = json_object_get(in, "filter") != NULL;
    if (by_filter && json_object_get(in, "ids")) {
        return svc_invalid(err, "filter", "not_with_ids");
    }
    if (!by_filter && json_object_get(in, "expected_count")) {
        rc = svc_invalid(err, "expected_count", "only_with_filter");
    }
    return by_filter ? bulk_filter(svc, a, in, rc, out, err) : bulk_ids(svc, a, in, rc, out, err);
}

/* Whether interval r had ended by from_ms (false while open). */
static bool ended_by(const json_t *r, int64_t from_ms)
{
    int64_t end_ms = 0;
    const char *end = jstr(r, "ended_at");
    return end && clock_parse_ms(end, &end_ms) == 0 && end_ms <= from_ms;
}

/* The agent's interval begun before from and still running then, as an array of it (empty
 * when there is none): the last one begun before from, or, when several began in that same
 * millisecond (a status set twice within it leaves one that ended as it began), the one of
 * them not ended by from. */
static int straddling(struct store_tx *tx, const struct store_scope *scope, const char *id,
                      const char *from, int64_t from_ms, json_t **out)
{
    struct store_query sq = {0};
    sq.scope = *scope;
    sq.filters[0] = (struct store_filter){"agent_id", STORE_EQ, json_string(id)};
    sq.filters[1] = (struct store_filter){"started_at", STORE_LT, json_string(from)};
    sq.nfilters = 2;
    sq.sort = "-started_at";
    sq.limit = 1;
    char *next = NULL;
    json_t *rows = NULL;
    int rc = store_row_list(tx, STORE_AGENT_HISTORY, &sq, &rows, &next);
    free(next);
    next = NULL;
    json_t *last = rc == 0 ? json_array_get(rows, 0) : NULL;
    if (last && ended_by(last, from_ms)) {
        json_decref(sq.filters[1].value);
        sq.filters[1] = (struct store_filter){"started_at", STORE_EQ,
                                              json_incref(json_object_get(last, "started_at"))};
        sq.limit = STORE_MAX_LIMIT;
        json_t *ties = NULL;
        rc = store_row_list(tx, STORE_AGENT_HISTORY, &sq, &ties, &next);
        free(next);
        json_array_clear(rows);
        size_t i;
        json_t *t;
        json_array_foreach(ties, i, t)
        {
            if (!ended_by(t, from_ms)) {
                json_array_append(rows, t);
                break;
            }
        }
        json_decref(ties);
    }
    json_decref(sq.filters[0].value);
    json_decref(sq.filters[1].value);
    if (rc < 0) {
        json_decref(rows);
        rows = NULL;
    }
    *out = rows;
    return rc;
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
        rc = straddling(tx, &scope, id, from, from_ms, &straddle);
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

int svc_agent_history_prune(struct svc *svc, int64_t now_ms, int64_t retention_ms)
{
    if (retention_ms <= 0 || now_ms - retention_ms < 0) {
        return SB_E_INVAL;
    }
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    int n = store_agent_history_prune(tx, now_ms - retention_ms, SVC_HISTORY_PRUNE_BATCH);
    rc = svc_tx_end(tx, n < 0 ? n : 0, NULL);
    return rc < 0 ? rc : n;
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
