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

/* Upper bounds of the agents and the status intervals one statistics call reads (the
 * intervals are summed as they come, not kept: 7 days of 5,000 agents changing status 50
 * times a day is 1.75 M). */
#define STATS_MAX_AGENTS 200000
#define STATS_MAX_INTERVALS 5000000

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

/* The window and clock of a statistics call, and its agents sorted by id. */
struct stats_walk {
    struct agent_acc *acc;
    size_t n;
    int64_t from_ms, to_ms, now_ms;
};

static int add_interval(void *arg, const struct store_interval *iv)
{
    struct stats_walk *w = arg;
    struct agent_acc key = {.agent_id = iv->agent_id};
    struct agent_acc *a = bsearch(&key, w->acc, w->n, sizeof *w->acc, cmp_acc);
    struct svc_interval one = {
        .status = svc_status_parse(iv->status), .start_ms = iv->start_ms, .end_ms = iv->end_ms};
    if (a) {
        svc_stats_accumulate(&a->t, &one, 1, w->from_ms, w->to_ms, w->now_ms);
    }
    return 0;
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
    json_t *agents = json_array();
    struct store_query q = {0};
    q.scope = scope;
    if (client_id) {
        q.filters[q.nfilters++] =
            (struct store_filter){"client_id", STORE_EQ, json_string(client_id)};
    }
    q.sort = "id";
    rc = list_all(tx, STORE_AGENT_STATUS, &q, agents, STATS_MAX_AGENTS);
    json_decref(q.filters[0].value);
    size_t na = json_array_size(agents);
    struct agent_acc *acc = xcalloc(na ? na : 1, sizeof *acc);
    for (size_t i = 0; i < na; i++) {
        acc[i].agent_id = jstr(json_array_get(agents, i), "id");
    }
    qsort(acc, na, sizeof *acc, cmp_acc);
    struct stats_walk w = {acc, na, from_ms, to_ms, now_ms};
    if (rc == 0) {
        const char *tenant = client_id ? client_id : scope.all ? NULL : scope.client_id;
        rc = store_agent_intervals(tx, &scope, tenant, from, to, STATS_MAX_INTERVALS, add_interval,
                                   &w);
    }
    store_tx_rollback(tx);
    if (rc < 0) {
        free(acc);
        json_decref(agents);
        return rc;
    }
    size_t i;
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
    json_decref(agents);
    *out = json_pack("{s:s,s:s,s:o,s:o}", "from", from, "to", to, "agents", agents_out, "clients",
                     clients_out);
    return 0;
}
