/*
 * Dashboard history: the metric series of each tenant (and of the all-tenants view), one point
 * per dashboard interval, kept in memory in a ring per tenant and in the store (table
 * dashboard_points) so that it outlives a restart.
 *
 * Bounds: a ring holds 24 h at the interval (at most SVC_HISTORY_MAX_POINTS points of 40
 * bytes: 43,201 at the default 2 s, about 1.7 MB), grows by doubling as points arrive, and at
 * most SVC_HISTORY_MAX_TENANTS tenants keep one (further ones have none). A deleted client's
 * ring is dropped.
 *
 * Persistence: every recorded point also joins `pending` (bounded: HISTORY_PENDING_MAX; when
 * full the older half is dropped), which svc_history_flush() writes in one transaction (every
 * SVC_HISTORY_FLUSH_MS and when the jobs thread stops), together with the deletions of
 * forgotten tenants; about once a minute it also prunes the points older than 24 h. At start
 * svc_history_load() fills the rings from the last 24 h in the store. Reads never touch the
 * store: requests are answered from the rings.
 *
 * The jobs thread records and flushes; request threads read; one mutex guards everything but
 * the store calls (flush takes the pending points out under the mutex, writes without it).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "svc/svc_int.h"

#define DAY_MS (24LL * 3600 * 1000)
/* Points waiting to be written, at most (a store that keeps failing loses the oldest). */
#define HISTORY_PENDING_MAX (4 * SVC_HISTORY_MAX_TENANTS)
#define HISTORY_FORGET_MAX 64
#define HISTORY_PRUNE_EVERY_MS (60LL * 1000)

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
    struct store_history_point *pending; /* recorded, not yet written; oldest first */
    size_t npending, cappending;
    char forget[HISTORY_FORGET_MAX][40]; /* tenants whose stored points are to be deleted */
    size_t nforget;
    int64_t last_flush_ms, last_prune_ms; /* owned by the flushing thread */
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
    free(h->pending);
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

/* Append pt to the ring of key (under h->mu). */
static void ring_append(struct svc_history *h, const char *key, const struct point *pt)
{
    struct ring *r = ring_of(h, key, true);
    if (!r) {
        return;
    }
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
        r->p[(r->head + r->len) % r->cap] = *pt;
        r->len++;
    } else if (r->cap) {
        r->p[r->head] = *pt; /* full: overwrite the oldest */
        r->head = (r->head + 1) % r->cap;
    }
}

static void to_stored(const char *key, const struct point *pt, struct store_history_point *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->key, sizeof out->key, "%s", key);
    out->at_ms = pt->at_ms;
    const int32_t v[STORE_HISTORY_NVALUES] = {pt->online,
                                              pt->away,
                                              pt->busy,
                                              pt->offline,
                                              pt->active_messages,
                                              pt->critical_messages,
                                              pt->connections,
                                              pt->events_per_minute};
    memcpy(out->v, v, sizeof v);
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
    const char *key = client_id ? client_id : "";
    pthread_mutex_lock(&h->mu);
    ring_append(h, key, &pt);
    if (strlen(key) < sizeof h->pending->key) {
        if (h->npending == HISTORY_PENDING_MAX) {
            /* the store keeps failing: drop the older half at once (amortised O(1)) */
            size_t keep = h->npending / 2;
            memmove(h->pending, h->pending + (h->npending - keep), keep * sizeof *h->pending);
            h->npending = keep;
        }
        if (h->npending == h->cappending) {
            h->cappending = h->cappending ? h->cappending * 2 : 64;
            h->pending = xrealloc(h->pending, h->cappending * sizeof *h->pending);
        }
        to_stored(key, &pt, &h->pending[h->npending++]);
    }
    pthread_mutex_unlock(&h->mu);
}

int svc_history_flush(struct svc *svc, int64_t now_ms, bool force)
{
    struct svc_history *h = svc->history;
    bool prune = now_ms - h->last_prune_ms >= HISTORY_PRUNE_EVERY_MS;
    if (!force && !prune && now_ms - h->last_flush_ms < SVC_HISTORY_FLUSH_MS) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    struct store_history_point *pts = h->pending;
    size_t n = h->npending;
    h->pending = NULL;
    h->npending = h->cappending = 0;
    char forget[HISTORY_FORGET_MAX][40];
    size_t nforget = h->nforget;
    memcpy(forget, h->forget, nforget * sizeof forget[0]);
    h->nforget = 0;
    pthread_mutex_unlock(&h->mu);
    h->last_flush_ms = now_ms;
    if (!n && !nforget && !prune) {
        free(pts);
        return 0;
    }
    struct store_tx *tx = NULL;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc == 0) {
        rc = store_history_put(tx, pts, n);
    }
    for (size_t i = 0; rc >= 0 && i < nforget; i++) {
        rc = store_history_forget(tx, forget[i]);
    }
    if (rc >= 0 && prune) {
        /* a little more than the rings keep, so a reload never misses their oldest point */
        rc = store_history_prune(tx, now_ms - DAY_MS - 2 * h->interval_ms);
        h->last_prune_ms = now_ms;
    }
    if (tx) {
        rc = svc_tx_end(tx, rc < 0 ? rc : 0, NULL);
    }
    if (rc < 0) {
        log_warn("dashboard history: writing %zu point(s) failed: %s", n, sb_strerror(rc));
    }
    free(pts);
    return rc < 0 ? rc : (int)n;
}

/* Loading: points come by key then time; each goes to its ring (not to pending). */
static int load_point(void *arg, const struct store_history_point *sp)
{
    struct svc_history *h = arg;
    struct point pt = {.at_ms = sp->at_ms,
                       .online = sp->v[0],
                       .away = sp->v[1],
                       .busy = sp->v[2],
                       .offline = sp->v[3],
                       .active_messages = sp->v[4],
                       .critical_messages = sp->v[5],
                       .connections = sp->v[6],
                       .events_per_minute = sp->v[7]};
    ring_append(h, sp->key, &pt);
    return 0;
}

int svc_history_load(struct svc *svc, int64_t now_ms)
{
    struct svc_history *h = svc->history;
    struct store_tx *tx = NULL;
    int rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->nrings; i++) {
        free(h->rings[i].p);
    }
    h->nrings = 0;
    rc = store_history_load(tx, now_ms - DAY_MS, load_point, h);
    size_t points = 0;
    for (size_t i = 0; i < h->nrings; i++) {
        points += h->rings[i].len;
    }
    pthread_mutex_unlock(&h->mu);
    store_tx_rollback(tx);
    if (rc < 0) {
        log_warn("dashboard history: loading failed: %s", sb_strerror(rc));
        return rc;
    }
    return (int)(points > INT32_MAX ? INT32_MAX : points);
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
    /* its stored points go with the next flush (and its pending ones now) */
    const char *key = client_id ? client_id : "";
    size_t k = 0;
    for (size_t i = 0; i < h->npending; i++) {
        if (strcmp(h->pending[i].key, key) != 0) {
            h->pending[k++] = h->pending[i];
        }
    }
    h->npending = k;
    if (h->nforget < HISTORY_FORGET_MAX && strlen(key) < sizeof h->forget[0]) {
        snprintf(h->forget[h->nforget++], sizeof h->forget[0], "%s", key);
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
