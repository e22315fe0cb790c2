/*
 * Time-in-status statistics: svc_stats_accumulate() is pure arithmetic over intervals, a
 * window and an injected "now" (unit-tested on scripted timelines), and svc_agent_stats()
 * only fetches the agents and their history rows and groups them per agent and per client.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/rand.h"
#include "svc/svc_int.h"

/* Upper bound of history rows one statistics call reads. */
#define STATS_MAX_ROWS 200000

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
        json_object_set_new(secs, svc_status_name((int)i), json_real((double)t->ms[i] / 1000.0));
        json_object_set_new(ms, svc_status_name((int)i), json_integer(t->ms[i]));
    }
    int64_t covered = svc_stats_covered_ms(t);
    int64_t working = t->ms[SVC_ONLINE] + t->ms[SVC_BUSY];
    return json_pack("{s:o,s:o,s:f,s:o,s:o}", "seconds", secs, "ms", ms, "covered_seconds",
                     (double)covered / 1000.0, "uptime", ratio(working, covered), "occupancy",
                     ratio(t->ms[SVC_BUSY], working));
}

/* Every row q matches appended to acc; SB_E_TOOBIG past max rows in acc. */
static int list_all(struct store_tx *tx, enum store_table table, struct store_query *q, json_t *acc,
                    size_t max)
{
    int rc = svc_list_upto(tx, table, q, acc, max);
    return rc == 0 && json_array_size(acc) > max ? SB_E_TOOBIG : rc;
}

struct agent_acc {
    const char *agent_id;
    struct svc_status_time t;
};

static int cmp_acc(const void *a, const void *b)
{
    return strcmp(((const struct agent_acc *)a)->agent_id, ((const struct agent_acc *)b)->agent_id);
}

/*
 * The history rows overlapping [from, to] are, since an agent's intervals follow one another,
 * those that start inside the window and, per agent, the last one that started before it
 * (straddling_rows). Rows starting inside the window come through agent_history_client
 * (client_id, started_at) one tenant at a time, so a call reads the window, not the history.
 * q holds the agents' filters (scope, client_id) and has room for three more.
 */
static int window_rows(struct store_tx *tx, struct store_query *q, const char *tenant,
                       json_t *agents, const char *from, const char *to, json_t *hist)
{
    size_t base = q->nfilters;
    q->sort = "started_at";
    q->filters[base] = (struct store_filter){"started_at", STORE_GTE, json_string(from)};
    q->filters[base + 1] = (struct store_filter){"started_at", STORE_LTE, json_string(to)};
    int rc = 0;
    if (tenant) {
        q->nfilters = base + 2;
        rc = list_all(tx, STORE_AGENT_HISTORY, q, hist, STATS_MAX_ROWS);
    } else {
        json_t *seen = json_object(), *agent;
        size_t i;
        json_array_foreach(agents, i, agent)
        {
            const char *cid = jstr(agent, "client_id");
            if (rc < 0 || !cid || json_object_get(seen, cid)) {
                continue;
            }
            json_object_set_new(seen, cid, json_true());
            q->filters[base + 2] = (struct store_filter){"client_id", STORE_EQ, json_string(cid)};
            q->nfilters = base + 3;
            rc = list_all(tx, STORE_AGENT_HISTORY, q, hist, STATS_MAX_ROWS);
            json_decref(q->filters[base + 2].value);
        }
        json_decref(seen);
    }
    json_decref(q->filters[base].value);
    json_decref(q->filters[base + 1].value);
    q->nfilters = base;
    return rc;
}

/* Per agent, the last interval that started before from, when it had not ended by then. */
static int straddling_rows(struct store_tx *tx, const struct store_scope *scope, const char *tenant,
                           const char *from, int64_t from_ms, json_t *hist)
{
    json_t *rows = NULL, *r;
    int rc = store_agent_history_before(tx, scope, tenant, from, &rows);
    size_t i;
    json_array_foreach(rows, i, r)
    {
        int64_t end_ms = 0;
        const char *end = jstr(r, "ended_at");
        if (!end || (clock_parse_ms(end, &end_ms) == 0 && end_ms > from_ms)) {
            json_array_append(hist, r);
        }
    }
    json_decref(rows);
    return rc;
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
    q.sort = "id";
    rc = list_all(tx, STORE_AGENT_STATUS, &q, agents, STATS_MAX_ROWS);
    const char *tenant = client_id ? client_id : scope.all ? NULL : scope.client_id;
    if (rc == 0) {
        rc = window_rows(tx, &q, tenant, agents, from, to, hist);
    }
    if (rc == 0) {
        rc = straddling_rows(tx, &scope, tenant, from, from_ms, hist);
    }
    for (size_t i = 0; i < q.nfilters; i++) {
        json_decref(q.filters[i].value);
    }
    store_tx_rollback(tx);
    if (rc == 0 && json_array_size(hist) > STATS_MAX_ROWS) {
        rc = SB_E_TOOBIG;
    }
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
