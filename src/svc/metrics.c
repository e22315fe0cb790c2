/*
 * Dashboard metrics: the per-tenant snapshot (counts from the store plus a few figures kept
 * in memory) and the in-memory state behind those figures.
 *
 * The memory part is one small record per tenant, behind one mutex:
 *   - events per minute: 60 one-second buckets of change-log events, fed by the realtime
 *     hub (svc_metrics_count_changes, a consumer of the change log); a bucket is reused when its
 *     second is more than a minute old. Audit entries are not counted (every change writes
 *     one, so they would only double the figure). Global rows (client_id NULL: global
 *     messages, super_admins) count for every tenant.
 *   - online samples: 60 one-second buckets holding the most agents seen online in that
 *     second, recorded by every snapshot; "online_agents_drop" compares the current count
 *     with the most seen in the last minute.
 * The key "" holds global events and "*" the online samples of the all-tenants view.
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

#define WINDOW_S 60

struct tenant_metrics {
    char key[64];
    int64_t ev_sec[WINDOW_S];
    int64_t ev_n[WINDOW_S];
    int64_t on_sec[WINDOW_S];
    int64_t on_max[WINDOW_S];
};

struct svc_metrics {
    pthread_mutex_t mu;
    svc_connections_cb conn_fn; /* set before threads start */
    void *conn_arg;
    struct tenant_metrics *v;
    size_t n, cap;
};

struct svc_metrics *svc_metrics_new(void)
{
    struct svc_metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void svc_metrics_free(struct svc_metrics *m)
{
    if (!m) {
        return;
    }
    pthread_mutex_destroy(&m->mu);
    free(m->v);
    free(m);
}

void svc_metrics_set_connections_fn(struct svc *svc, svc_connections_cb fn, void *arg)
{
    svc->metrics->conn_fn = fn;
    svc->metrics->conn_arg = arg;
}

/* The record of key (mutex held), created on first use. */
static struct tenant_metrics *tenant(struct svc_metrics *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++) {
        if (!strcmp(m->v[i].key, key)) {
            return &m->v[i];
        }
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->v = xrealloc(m->v, m->cap * sizeof *m->v);
    }
    struct tenant_metrics *t = &m->v[m->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->key, sizeof t->key, "%s", key);
    return t;
}

void svc_metrics_count_changes(struct svc *svc, const struct store_change *c, size_t n)
{
    struct svc_metrics *m = svc->metrics;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < n; i++) {
        if (c[i].table == STORE_AUDIT) {
            continue;
        }
        int64_t sec = c[i].at_ms / 1000;
        struct tenant_metrics *t = tenant(m, c[i].client_id ? c[i].client_id : "");
        size_t b = (size_t)(sec % WINDOW_S);
        if (t->ev_sec[b] != sec) {
            t->ev_sec[b] = sec;
            t->ev_n[b] = 0;
        }
        t->ev_n[b]++;
    }
    pthread_mutex_unlock(&m->mu);
}

static int64_t events_in(const struct tenant_metrics *t, int64_t now_sec)
{
    int64_t sum = 0;
    for (size_t b = 0; b < WINDOW_S; b++) {
        if (t->ev_sec[b] > now_sec - WINDOW_S && t->ev_sec[b] <= now_sec) {
            sum += t->ev_n[b];
        }
    }
    return sum;
}

/* Events in the last minute of client_id (plus global ones), or of everything (NULL). */
static int64_t events_per_minute(struct svc_metrics *m, const char *client_id, int64_t now_ms)
{
    int64_t sum = 0, now_sec = now_ms / 1000;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->v[i].key;
        if (!strcmp(k, "*")) {
            continue;
        }
        if (!client_id || !*k || !strcmp(k, client_id)) {
            sum += events_in(&m->v[i], now_sec);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return sum;
}

/* Record online agents now for key; returns the most seen in the last minute (now included). */
static int64_t online_max(struct svc_metrics *m, const char *key, int64_t online, int64_t now_ms)
{
    int64_t now_sec = now_ms / 1000, max = online;
    pthread_mutex_lock(&m->mu);
    struct tenant_metrics *t = tenant(m, key);
    size_t b = (size_t)(now_sec % WINDOW_S);
    if (t->on_sec[b] != now_sec) {
        t->on_sec[b] = now_sec;
        t->on_max[b] = online;
    } else if (online > t->on_max[b]) {
        t->on_max[b] = online;
    }
    for (size_t i = 0; i < WINDOW_S; i++) {
        if (t->on_sec[i] > now_sec - WINDOW_S && t->on_sec[i] <= now_sec && t->on_max[i] > max) {
            max = t->on_max[i];
        }
    }
    pthread_mutex_unlock(&m->mu);
    return max;
}

static const char *const statuses[] = {"online", "away", "busy", "offline", NULL};
static const char *const priorities[] = {"low", "normal", "high", "critical", NULL};

/* Grouped counts of table in scope (+ one optional filter) completed with every name of set;
 * adds "total" when with_total. */
static int grouped(struct store_tx *tx, enum store_table table, const struct store_scope *scope,
                   const char *fcol, const char *fval, const char *group, const char *const *set,
                   json_t **out, int64_t *total)
{
    struct store_query q = {0};
    q.scope = *scope;
    if (fcol) {
        q.filters[q.nfilters++] = (struct store_filter){fcol, STORE_EQ, json_string(fval)};
    }
    json_t *counts = NULL;
    int rc = store_row_count(tx, table, &q, group, &counts);
    for (size_t i = 0; i < q.nfilters; i++) {
        json_decref(q.filters[i].value);
    }
    if (rc < 0) {
        return rc;
    }
    *total = 0;
    if (!group) {
        *total = json_integer_value(json_object_get(counts, "total"));
        json_decref(counts);
        return 0;
    }
    *out = json_object();
    for (; *set; set++) {
        json_int_t v = json_integer_value(json_object_get(counts, *set));
        json_object_set_new(*out, *set, json_integer(v));
        *total += v;
    }
    json_decref(counts);
    return 0;
}

int svc_dashboard_snapshot(struct svc *svc, const char *client_id, int64_t now_ms, json_t **out)
{
    *out = NULL;
    if (client_id && !uuid_is_valid(client_id)) {
        return SB_E_NOTFOUND;
    }
    struct store_scope all, own, own_global;
    policy_system_scope(&all);
    own = (struct store_scope){.all = false, .client_id = client_id, .include_global = false};
    own_global = own;
    own_global.include_global = true;
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *agents = NULL, *msgs = NULL;
    int64_t n_agents = 0, n_msgs = 0, n_users = 0, n_clients = 0;
    if (client_id) {
        json_t *client = NULL;
        rc = store_row_get(tx, STORE_CLIENTS, &all, client_id, &client);
        json_decref(client);
    }
    if (rc == 0) {
        rc = grouped(tx, STORE_AGENT_STATUS, client_id ? &own : &all, NULL, NULL, "status",
                     statuses, &agents, &n_agents);
    }
    if (rc == 0) {
        rc = grouped(tx, STORE_MESSAGES, client_id ? &own_global : &all, "state", "active",
                     "priority", priorities, &msgs, &n_msgs);
    }
    if (rc == 0) {
        rc = grouped(tx, STORE_USERS, client_id ? &own : &all, NULL, NULL, NULL, NULL, NULL,
                     &n_users);
    }
    if (rc == 0 && !client_id) {
        rc = grouped(tx, STORE_CLIENTS, &all, NULL, NULL, NULL, NULL, NULL, &n_clients);
    }
    store_tx_rollback(tx);
    if (rc < 0) {
        json_decref(agents);
        json_decref(msgs);
        return rc;
    }
    json_object_set_new(agents, "total", json_integer(n_agents));
    struct svc_metrics *m = svc->metrics;
    int64_t conns = m->conn_fn ? m->conn_fn(m->conn_arg, client_id) : 0;
    int64_t online = json_integer_value(json_object_get(agents, "online"));
    int64_t max = online_max(m, client_id ? client_id : "*", online, now_ms);
    bool drop = max > 0 && online * 5 <= max * 4;
    bool critical = json_integer_value(json_object_get(msgs, "critical")) > 0;
    char at[CLOCK_RFC3339_LEN];
    clock_format_ms(now_ms, at);
    json_t *o = json_object();
    json_object_set_new(o, "client_id", client_id ? json_string(client_id) : json_null());
    json_object_set_new(o, "agents_by_status", agents);
    json_object_set_new(o, "active_messages_by_priority", msgs);
    json_object_set_new(o, "active_messages", json_integer(n_msgs));
    json_object_set_new(o, "users", json_integer(n_users));
    if (!client_id) {
        json_object_set_new(o, "clients", json_integer(n_clients));
    }
    json_object_set_new(o, "connections", json_integer(conns));
    json_object_set_new(o, "events_per_minute",
                        json_integer(events_per_minute(m, client_id, now_ms)));
    json_object_set_new(
        o, "significant",
        json_pack("{s:b,s:b}", "online_agents_drop", drop, "critical_message_active", critical));
    json_object_set_new(o, "at", json_string(at));
    *out = o;
    return 0;
}

int svc_dashboard(struct svc *svc, const struct policy_principal *who, const char *client_id,
                  json_t **out)
{
    *out = NULL;
    if (!policy_can_read_metrics(who)) {
        return SB_E_FORBIDDEN;
    }
    if (policy_is_cross_tenant(who)) {
        return svc_dashboard_snapshot(svc, client_id, clock_now_ms(), out);
    }
    if (client_id && strcmp(client_id, who->client_id)) {
        return SB_E_NOTFOUND;
    }
    return svc_dashboard_snapshot(svc, who->client_id, clock_now_ms(), out);
}
