/*
 * Dashboard history: the metric series of each tenant (and of the all-tenants view), one point
 * per dashboard interval, kept in memory in a ring per tenant.
 *
 * Bounds: a ring holds 24 h at the interval (at most SVC_HISTORY_MAX_POINTS points of 40
 * bytes: 43,201 at the default 2 s, about 1.7 MB), grows by doubling as points arrive, and at
 * most SVC_HISTORY_MAX_TENANTS tenants keep one (further ones have none). A deleted client's
 * ring is dropped. The series starts when the server starts (it is not persisted).
 *
 * The jobs thread records; request threads read; one mutex guards everything.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "svc/svc_int.h"

#define DAY_MS (24LL * 3600 * 1000)

struct point {
    int64_t at_ms;
    int32_t online, away, busy, offline;
    int32_t active_messages, critical_messages, connections, events_per_minute;
};

struct ring {
    char key[64]; /* client id; "" for the all-tenants view */
    struct point *p;
    size_t cap, len, head; /* head: index of the oldest point */
};

struct svc_history {
    pthread_mutex_t mu;
    int64_t interval_ms;
    size_t max_points;
    struct ring *rings;
    size_t nrings;
};

struct svc_history *svc_history_new(void)
{
    struct svc_history *h = xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    h->interval_ms = 2000;
    h->max_points = DAY_MS / 2000 + 1;
    return h;
}

void svc_history_free(struct svc_history *h)
{
    if (!h) {
        return;
    }
    for (size_t i = 0; i < h->nrings; i++) {
        free(h->rings[i].p);
    }
    free(h->rings);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void svc_history_set_interval(struct svc *svc, int64_t interval_ms)
{
    struct svc_history *h = svc->history;
    pthread_mutex_lock(&h->mu);
    h->interval_ms = interval_ms > 0 ? interval_ms : 2000;
    size_t n = (size_t)(DAY_MS / h->interval_ms) + 1;
    h->max_points = n > SVC_HISTORY_MAX_POINTS ? SVC_HISTORY_MAX_POINTS : n;
    pthread_mutex_unlock(&h->mu);
}

static struct ring *ring_of(struct svc_history *h, const char *key, bool create)
{
    for (size_t i = 0; i < h->nrings; i++) {
        if (!strcmp(h->rings[i].key, key)) {
            return &h->rings[i];
        }
    }
    if (!create || h->nrings >= SVC_HISTORY_MAX_TENANTS) {
        return NULL;
    }
    h->rings = xrealloc(h->rings, (h->nrings + 1) * sizeof *h->rings);
    struct ring *r = &h->rings[h->nrings++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    return r;
}

static int32_t geti(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b) {
        v = json_object_get(v, b);
    }
    return (int32_t)json_integer_value(v);
}

void svc_history_record(struct svc *svc, const char *client_id, const json_t *snap, int64_t now_ms)
{
    struct point pt = {
        .at_ms = now_ms,
        .online = geti(snap, "agents_by_status", "online"),
        .away = geti(snap, "agents_by_status", "away"),
        .busy = geti(snap, "agents_by_status", "busy"),
        .offline = geti(snap, "agents_by_status", "offline"),
        .active_messages = geti(snap, "active_messages", NULL),
        .critical_messages = geti(snap, "active_messages_by_priority", "critical"),
        .connections = geti(snap, "connections", NULL),
        .events_per_minute = geti(snap, "events_per_minute", NULL),
    };
    struct svc_history *h = svc->history;
    pthread_mutex_lock(&h->mu);
    struct ring *r = ring_of(h, client_id ? client_id : "", true);
    if (r) {
        if (r->len == r->cap && r->cap < h->max_points) {
            /* grow: unroll into a larger array, oldest first */
            size_t cap = r->cap ? r->cap * 2 : 64;
            cap = cap > h->max_points ? h->max_points : cap;
            struct point *p = xmalloc(cap * sizeof *p);
            for (size_t i = 0; i < r->len; i++) {
                p[i] = r->p[(r->head + i) % r->cap];
            }
            free(r->p);
            r->p = p;
            r->cap = cap;
            r->head = 0;
        }
        if (r->len < r->cap) {
            r->p[(r->head + r->len) % r->cap] = pt;
            r->len++;
        } else if (r->cap) {
            r->p[r->head] = pt; /* full: overwrite the oldest */
            r->head = (r->head + 1) % r->cap;
        }
    }
    pthread_mutex_unlock(&h->mu);
}

void svc_history_forget(struct svc *svc, const char *client_id)
{
    struct svc_history *h = svc->history;
    pthread_mutex_lock(&h->mu);
    struct ring *r = ring_of(h, client_id ? client_id : "", false);
    if (r) {
        free(r->p);
        *r = h->rings[--h->nrings];
    }
    pthread_mutex_unlock(&h->mu);
}

static json_t *point_json(const struct point *p)
{
    char at[CLOCK_RFC3339_LEN];
    clock_format_ms(p->at_ms, at);
    return json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "at", at, "online", p->online,
                     "away", p->away, "busy", p->busy, "offline", p->offline, "total",
                     p->online + p->away + p->busy + p->offline, "active_messages",
                     p->active_messages, "critical_messages", p->critical_messages, "connections",
                     p->connections, "events_per_minute", p->events_per_minute);
}

int svc_dashboard_history(struct svc *svc, const struct policy_principal *who,
                          const char *client_id, int64_t from_ms, int64_t to_ms, size_t max_points,
                          json_t **out)
{
    *out = NULL;
    if (!policy_can_read_metrics(who)) {
        return SB_E_FORBIDDEN;
    }
    if (!policy_is_cross_tenant(who)) {
        if (client_id && strcmp(client_id, who->client_id)) {
            return SB_E_NOTFOUND;
        }
        client_id = who->client_id;
    } else if (client_id) {
        json_t *row = NULL;
        int rc = svc_get(svc, who, STORE_CLIENTS, client_id, &row);
        json_decref(row);
        if (rc < 0) {
            return rc;
        }
    }
    struct svc_history *h = svc->history;
    json_t *points = json_array();
    pthread_mutex_lock(&h->mu);
    int64_t interval = h->interval_ms;
    struct ring *r = ring_of(h, client_id ? client_id : "", false);
    size_t first = 0, n = 0;
    if (r) {
        /* points are in time order: find the ones inside [from, to] */
        while (first < r->len && r->p[(r->head + first) % r->cap].at_ms < from_ms) {
            first++;
        }
        while (first + n < r->len && r->p[(r->head + first + n) % r->cap].at_ms <= to_ms) {
            n++;
        }
        /* more than max_points: keep every step-th, always the newest */
        size_t step = max_points && n > max_points ? (n + max_points - 1) / max_points : 1;
        for (size_t i = (n - 1) % step; i < n; i += step) {
            json_array_append_new(points, point_json(&r->p[(r->head + first + i) % r->cap]));
        }
        interval *= (int64_t)step;
    }
    pthread_mutex_unlock(&h->mu);
    char from[CLOCK_RFC3339_LEN], to[CLOCK_RFC3339_LEN];
    clock_format_ms(from_ms, from);
    clock_format_ms(to_ms, to);
    *out = json_pack("{s:o,s:s,s:s,s:I,s:o}", "client_id",
                     client_id ? json_string(client_id) : json_null(), "from", from, "to", to,
                     "interval_ms", (json_int_t)interval, "points", points);
    return 0;
}
