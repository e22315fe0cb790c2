/*
 * The agent presence registry: a small table (user id -> live connection count, the time the
 * count reached zero, activity for idle tracking) behind a mutex. The realtime engine feeds
 * it (connections opening and closing, activity); the jobs thread asks it what is due
 * (svc_presence_due, svc_presence_idle_due) and agents.c turns that into status changes.
 *
 * Across nodes (src/realtime/cluster.c counts every node's agent connections): when this
 * node's grace of a user runs out, elsewhere() asks whether another live node still has a
 * connection of the user, or lost its last one later than we did; then that node decides and
 * this one forgets the user. When a node dies, one live node adopts its agents
 * (svc_presence_adopt), so their grace runs here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "svc/svc_int.h"

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
