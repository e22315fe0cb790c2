/*
 * System messages: validated create/update/delete, the state the server maintains from the
 * times (scheduled -> active -> expired) and counts for the statistics endpoint.
 *
 * The state is a column (so lists filter on it and realtime subscribers see it change) that
 * only the server writes: on create and update it is derived from starts_at / expires_at at
 * that moment, and svc_messages_tick(), run by the jobs thread several times a second, moves
 * rows whose time has come with ordinary audited row updates (actor "system"). A cheap read
 * transaction first checks whether anything is due, so the writer lock is only taken when a
 * row actually changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/rand.h"
#include "svc/svc_int.h"

#define TITLE_MAX 200
#define BODY_MAX 5000
#define TICK_BATCH 200

static const char *const priorities[] = {"low", "normal", "high", "critical", NULL};
static const char *const states[] = {"scheduled", "active", "expired", NULL};

static bool one_of(const char *s, const char *const *set)
{
    for (; s && *set; set++) {
        if (!strcmp(s, *set)) {
            return true;
        }
    }
    return false;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

const char *svc_message_state_at(int64_t starts_ms, int64_t expires_ms, int64_t now_ms)
{
    if (expires_ms >= 0 && expires_ms <= now_ms) {
        return "expired";
    }
    return starts_ms > now_ms ? "scheduled" : "active";
}

static int text_field(const json_t *row, const char *name, size_t max, struct svc_errors *err)
{
    const json_t *v = json_object_get(row, name);
    if (!json_is_string(v)) {
        return svc_invalid(err, name, v && !json_is_null(v) ? "must_be_string" : "required");
    }
    size_t n = utf8_len(json_string_value(v));
    if (n == 0) {
        return svc_invalid(err, name, "required");
    }
    return n > max ? svc_invalid(err, name, "too_long") : 0;
}

/*
 * Check the fields of in (create: the whole row; update: a patch) and merge them into row.
 * Times are normalised; row gets state at now_ms. client_id is checked against the actor
 * separately.
 */
static int merge_validate(json_t *row, const json_t *in, bool create, int64_t now_ms,
                          struct svc_errors *err)
{
    static const char *const fields[] = {"id",         "client_id",        "title",
                                         "body",       "priority",         "starts_at",
                                         "expires_at", "expected_version", NULL};
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        if (!one_of(key, fields)) {
            rc = svc_invalid(err, key,
                             !strcmp(key, "state") || !strcmp(key, "created_by") ? "read_only"
                                                                                 : "unknown_field");
        } else if (!strcmp(key, "id")) {
            if (!json_is_string(v) || !uuid_is_valid(json_string_value(v))) {
                rc = svc_invalid(err, "id", "invalid");
            } else if (!create && !json_equal(v, json_object_get(row, "id"))) {
                rc = svc_invalid(err, "id", "read_only");
            }
        } else if (!strcmp(key, "client_id")) {
            if (!json_is_null(v) && (!json_is_string(v) || !uuid_is_valid(json_string_value(v)))) {
                rc = svc_invalid(err, "client_id", "invalid");
            }
        } else if (strcmp(key, "expected_version")) {
            json_object_set(row, key, v);
        }
    }
    if (create && !json_object_get(row, "priority")) {
        json_object_set_new(row, "priority", json_string("normal"));
    }
    char buf[CLOCK_RFC3339_LEN];
    if (create && !json_object_get(row, "starts_at")) {
        clock_format_ms(now_ms, buf);
        json_object_set_new(row, "starts_at", json_string(buf));
    }
    if (create && !json_object_get(row, "expires_at")) {
        json_object_set_new(row, "expires_at", json_null());
    }
    rc = text_field(row, "title", TITLE_MAX, err) < 0 ? SB_E_VALIDATION : rc;
    rc = text_field(row, "body", BODY_MAX, err) < 0 ? SB_E_VALIDATION : rc;
    if (!one_of(jstr(row, "priority"), priorities)) {
        rc = svc_invalid(err, "priority", "invalid");
    }
    int64_t starts = 0, expires = -1;
    const json_t *sv = json_object_get(row, "starts_at");
    const json_t *ev = json_object_get(row, "expires_at");
    bool times_ok = true;
    if (!json_is_string(sv) || clock_parse_ms(json_string_value(sv), &starts) < 0) {
        rc = svc_invalid(err, "starts_at", json_is_null(sv) ? "required" : "must_be_rfc3339");
        times_ok = false;
    }
    if (!json_is_null(ev) &&
        (!json_is_string(ev) || clock_parse_ms(json_string_value(ev), &expires) < 0)) {
        rc = svc_invalid(err, "expires_at", "must_be_rfc3339_or_null");
        times_ok = false;
    }
    if (times_ok && expires >= 0 && expires <= starts) {
        rc = svc_invalid(err, "expires_at", "must_be_after_starts_at");
    }
    if (rc < 0) {
        return rc;
    }
    clock_format_ms(starts, buf);
    json_object_set_new(row, "starts_at", json_string(buf));
    if (expires >= 0) {
        clock_format_ms(expires, buf);
        json_object_set_new(row, "expires_at", json_string(buf));
    }
    json_object_set_new(row, "state", json_string(svc_message_state_at(starts, expires, now_ms)));
    return 0;
}

/* May a write client_id (NULL: global)? 0, SB_E_FORBIDDEN (global for non-super) or a
 * validation error (a client the actor cannot name or that does not exist). */
static int check_target(struct store_tx *tx, const struct svc_actor *a, const char *client_id,
                        struct svc_errors *err)
{
    if (!policy_can_write_message(&a->who, client_id)) {
        if (!client_id) {
            snprintf(err->message, sizeof err->message,
                     "global messages can only be written by a super_admin");
            return SB_E_FORBIDDEN;
        }
        return svc_invalid(err, "client_id", "not_found");
    }
    if (!client_id) {
        return 0;
    }
    struct store_scope all;
    policy_system_scope(&all);
    json_t *client = NULL;
    int rc = store_row_get(tx, STORE_CLIENTS, &all, client_id, &client);
    json_decref(client);
    return rc == SB_E_NOTFOUND ? svc_invalid(err, "client_id", "not_found") : rc;
}

int svc_message_create(struct svc *svc, const struct svc_actor *a, const json_t *in, json_t **out,
                       struct svc_errors *err)
{
    *out = NULL;
    struct store_scope scope;
    int rc = policy_write_scope(&a->who, STORE_MESSAGES, &scope);
    if (rc < 0) {
        return rc;
    }
    json_t *row = json_object();
    if (json_object_get(in, "expected_version")) {
        svc_invalid(err, "expected_version", "unknown_field");
        rc = SB_E_VALIDATION;
    }
    rc = merge_validate(row, in, true, clock_now_ms(), err) < 0 ? SB_E_VALIDATION : rc;
    if (rc < 0) {
        json_decref(row);
        return rc;
    }
    if (json_object_get(in, "id")) {
        json_object_set(row, "id", json_object_get(in, "id"));
    }
    if (json_object_get(in, "client_id")) {
        json_object_set(row, "client_id", json_object_get(in, "client_id"));
    } else {
        json_object_set_new(row, "client_id",
                            policy_is_cross_tenant(&a->who) ? json_null()
                                                            : json_string(a->who.client_id));
    }
    json_object_set_new(row, "created_by",
                        a->system || !a->who.user_id[0] ? json_null()
                                                        : json_string(a->who.user_id));
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        json_decref(row);
        return rc;
    }
    rc = check_target(tx, a, jstr(row, "client_id"), err);
    if (rc == 0) {
        rc = svc_claim_id(tx, a, STORE_MESSAGES, row, err);
    }
    if (rc == 0) {
        rc = store_row_insert(tx, STORE_MESSAGES, row, out);
        if (rc == SB_E_CONFLICT) {
            svc_invalid(err, "id", "taken");
        }
    }
    if (rc == 0) {
        rc = svc_audit(tx, a, "message.create", "system_message", jstr(*out, "id"), NULL, *out);
    }
    json_decref(row);
    return svc_tx_end(tx, rc, out);
}

/* The message id in the actor's write scope; SB_E_FORBIDDEN when it is only readable. */
static int writable_message(struct store_tx *tx, const struct svc_actor *a, const char *id,
                            json_t **out)
{
    *out = NULL;
    if (!uuid_is_valid(id)) {
        return SB_E_NOTFOUND;
    }
    struct store_scope ws, rs;
    bool active_only = false;
    int rc = policy_write_scope(&a->who, STORE_MESSAGES, &ws);
    if (rc == 0) {
        rc = store_row_get(tx, STORE_MESSAGES, &ws, id, out);
        if (rc != SB_E_NOTFOUND) {
            return rc;
        }
    }
    /* Not writable: 403 only when the actor can see the row, else 404 (no leaks). */
    if (policy_read_scope(&a->who, STORE_MESSAGES, &rs, &active_only) < 0) {
        return SB_E_NOTFOUND;
    }
    json_t *row = NULL;
    rc = store_row_get(tx, STORE_MESSAGES, &rs, id, &row);
    bool visible = rc == 0 && (!active_only || !strcmp(jstr(row, "state"), "active"));
    json_decref(row);
    if (rc < 0 && rc != SB_E_NOTFOUND) {
        return rc;
    }
    return visible ? SB_E_FORBIDDEN : SB_E_NOTFOUND;
}

int svc_message_update(struct svc *svc, const struct svc_actor *a, const char *id,
                       const json_t *patch, int64_t expected_version, json_t **out,
                       struct svc_errors *err)
{
    *out = NULL;
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *before = NULL, *row = NULL;
    rc = writable_message(tx, a, id, &before);
    if (rc < 0) {
        goto out;
    }
    if (expected_version > 0 &&
        json_integer_value(json_object_get(before, "version")) != expected_version) {
        err->current = json_incref(before);
        rc = SB_E_VERSION;
        goto out;
    }
    row = json_deep_copy(before);
    rc = merge_validate(row, patch, false, clock_now_ms(), err);
    if (rc < 0) {
        goto out;
    }
    json_t *cid = json_object_get(patch, "client_id");
    if (cid && !json_equal(cid, json_object_get(before, "client_id"))) {
        json_object_set(row, "client_id", cid);
        rc = check_target(tx, a, jstr(row, "client_id"), err);
        if (rc < 0) {
            goto out;
        }
    }
    json_t *set = json_object();
    static const char *const cols[] = {"client_id", "title",      "body",  "priority",
                                       "starts_at", "expires_at", "state", NULL};
    for (const char *const *c = cols; *c; c++) {
        json_object_set(set, *c, json_object_get(row, *c));
    }
    rc = store_row_update(tx, STORE_MESSAGES, &(struct store_scope){.all = true}, id, set,
                          expected_version, out);
    json_decref(set);
    if (rc == SB_E_VERSION) {
        err->current = *out;
        *out = NULL;
        goto out;
    }
    if (rc == 0) {
        rc = svc_audit(tx, a, "message.update", "system_message", id, before, *out);
    }
out:
    json_decref(before);
    json_decref(row);
    return svc_tx_end(tx, rc, out);
}

int svc_message_delete(struct svc *svc, const struct svc_actor *a, const char *id,
                       struct svc_errors *err)
{
    (void)err;
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *before = NULL;
    rc = writable_message(tx, a, id, &before);
    if (rc == 0) {
        rc = store_row_delete(tx, STORE_MESSAGES, &(struct store_scope){.all = true}, id, NULL);
    }
    if (rc == 0) {
        rc = svc_audit(tx, a, "message.delete", "system_message", id, before, NULL);
    }
    json_decref(before);
    if (rc == 0) {
        return store_tx_commit(tx);
    }
    store_tx_rollback(tx);
    return rc;
}

/* {"a": n, ...} with every name of set present (0 when absent from counts). */
static json_t *complete(json_t *counts, const char *const *set)
{
    json_t *o = json_object();
    for (; *set; set++) {
        json_t *v = json_object_get(counts, *set);
        json_object_set_new(o, *set, json_integer(v ? json_integer_value(v) : 0));
    }
    return o;
}

int svc_message_stats(struct svc *svc, const struct policy_principal *who, const char *client_id,
                      json_t **out)
{
    *out = NULL;
    struct store_query q = {0};
    bool active_only = false;
    int rc = policy_read_scope(who, STORE_MESSAGES, &q.scope, &active_only);
    if (rc < 0) {
        return rc;
    }
    if (client_id) {
        if (!uuid_is_valid(client_id) || (!q.scope.all && strcmp(client_id, q.scope.client_id))) {
            return SB_E_NOTFOUND;
        }
        q.filters[q.nfilters++] =
            (struct store_filter){"client_id", STORE_EQ, json_string(client_id)};
    }
    if (active_only) {
        q.filters[q.nfilters++] = (struct store_filter){"state", STORE_EQ, json_string("active")};
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, false, &tx);
    json_t *by_state = NULL, *by_prio = NULL, *active_prio = NULL;
    if (rc == 0) {
        rc = store_row_count(tx, STORE_MESSAGES, &q, "state", &by_state);
        if (rc == 0) {
            rc = store_row_count(tx, STORE_MESSAGES, &q, "priority", &by_prio);
        }
        if (rc == 0 && !active_only) {
            q.filters[q.nfilters++] =
                (struct store_filter){"state", STORE_EQ, json_string("active")};
        }
        if (rc == 0) {
            rc = store_row_count(tx, STORE_MESSAGES, &q, "priority", &active_prio);
        }
        store_tx_rollback(tx);
    }
    for (size_t i = 0; i < q.nfilters; i++) {
        json_decref(q.filters[i].value);
    }
    if (rc == 0) {
        json_int_t total = 0;
        const char *k;
        json_t *v;
        json_object_foreach(by_state, k, v)
        {
            total += json_integer_value(v);
        }
        *out = json_pack("{s:I,s:o,s:o,s:o}", "total", total, "by_state",
                         complete(by_state, states), "by_priority", complete(by_prio, priorities),
                         "active_by_priority", complete(active_prio, priorities));
    }
    json_decref(by_state);
    json_decref(by_prio);
    json_decref(active_prio);
    return rc;
}

/* Rows with state `state` whose column `col` is <= now (at most TICK_BATCH). */
static int due_rows(struct store_tx *tx, const char *state, const char *col, const char *now,
                    json_t **rows)
{
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.filters[0] = (struct store_filter){"state", STORE_EQ, json_string(state)};
    q.filters[1] = (struct store_filter){col, STORE_LTE, json_string(now)};
    q.nfilters = 2;
    q.limit = TICK_BATCH;
    q.sort = col;
    char *next = NULL;
    int rc = store_row_list(tx, STORE_MESSAGES, &q, rows, &next);
    free(next);
    json_decref(q.filters[0].value);
    json_decref(q.filters[1].value);
    return rc;
}

static int find_due(struct store_tx *tx, const char *now, json_t **rows)
{
    json_t *more = NULL;
    int rc = due_rows(tx, "scheduled", "starts_at", now, rows);
    if (rc == 0) {
        rc = due_rows(tx, "active", "expires_at", now, &more);
    }
    if (rc == 0) {
        json_array_extend(*rows, more);
    }
    json_decref(more);
    return rc;
}

int svc_messages_tick(struct svc *svc, int64_t now_ms)
{
    char now[CLOCK_RFC3339_LEN];
    clock_format_ms(now_ms, now);
    struct store_tx *tx;
    json_t *rows = NULL;
    int rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = find_due(tx, now, &rows);
    store_tx_rollback(tx);
    size_t n = json_array_size(rows);
    json_decref(rows);
    rows = NULL;
    if (rc < 0 || n == 0) {
        return rc;
    }
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    /* Read again inside the write transaction: a user may have changed a row meanwhile. */
    rc = find_due(tx, now, &rows);
    struct svc_actor sys;
    svc_actor_system(&sys);
    struct store_scope all;
    policy_system_scope(&all);
    int changed = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (rc < 0) {
            break;
        }
        int64_t starts = 0, expires = -1;
        clock_parse_ms(jstr(row, "starts_at"), &starts);
        if (jstr(row, "expires_at")) {
            clock_parse_ms(jstr(row, "expires_at"), &expires);
        }
        const char *state = svc_message_state_at(starts, expires, now_ms);
        if (!strcmp(state, jstr(row, "state"))) {
            continue;
        }
        json_t *set = json_pack("{s:s}", "state", state);
        json_t *after = NULL;
        rc = store_row_update(tx, STORE_MESSAGES, &all, jstr(row, "id"), set, 0, &after);
        json_decref(set);
        if (rc == 0) {
            rc = svc_audit(tx, &sys,
                           !strcmp(state, "active") ? "message.activate" : "message.expire",
                           "system_message", jstr(row, "id"), row, after);
            changed++;
        }
        json_decref(after);
    }
    json_decref(rows);
    rc = svc_tx_end(tx, rc, NULL);
    return rc < 0 ? rc : changed;
}

/* Expired messages whose expires_at is before cutoff, oldest first, at most one page. */
static int find_purgeable(struct store_tx *tx, const char *cutoff, json_t **rows)
{
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.filters[0] = (struct store_filter){"state", STORE_EQ, json_string("expired")};
    q.filters[1] = (struct store_filter){"expires_at", STORE_LT, json_string(cutoff)};
    q.nfilters = 2;
    q.sort = "expires_at";
    q.limit = STORE_MAX_LIMIT;
    char *next = NULL;
    int rc = store_row_list(tx, STORE_MESSAGES, &q, rows, &next);
    free(next);
    json_decref(q.filters[0].value);
    json_decref(q.filters[1].value);
    return rc;
}

int svc_messages_purge(struct svc *svc, int64_t now_ms, int64_t retention_ms)
{
    if (retention_ms <= 0) {
        return 0;
    }
    char cutoff[CLOCK_RFC3339_LEN];
    clock_format_ms(now_ms - retention_ms, cutoff);
    struct store_tx *tx;
    json_t *rows = NULL;
    int rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = find_purgeable(tx, cutoff, &rows);
    store_tx_rollback(tx);
    size_t n = json_array_size(rows);
    json_decref(rows);
    rows = NULL;
    if (rc < 0 || n == 0) {
        return rc;
    }
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = find_purgeable(tx, cutoff, &rows);
    struct svc_actor sys;
    svc_actor_system(&sys);
    struct store_scope all;
    policy_system_scope(&all);
    int deleted = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (rc < 0) {
            break;
        }
        json_t *before = NULL;
        rc = store_row_delete(tx, STORE_MESSAGES, &all, jstr(row, "id"), &before);
        if (rc == 0) {
            rc = svc_audit(tx, &sys, "message.purge", "system_message", jstr(row, "id"), before,
                           NULL);
            deleted++;
        }
        json_decref(before);
    }
    json_decref(rows);
    rc = svc_tx_end(tx, rc, NULL);
    return rc < 0 ? rc : deleted;
}
