/*
 * The jobs thread (see jobs.h). One pthread sleeps on a condition variable between ticks so
 * svc_jobs_stop() wakes it at once. State owned by the thread: the last published snapshot of
 * each tenant (JSON text without "at") to push only on change. Errors of one tick are logged and
 * the next tick tries again.
 */
#include "svc/jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "svc/svc.h"

#define MAX_TENANTS 10000

struct last_snapshot {
    char key[64]; /* client id, "" for the all-tenants view */
    char *json;   /* without "at" */
    bool seen;    /* still a client in the current round */
};

struct svc_jobs {
    struct svc *svc;
    struct svc_jobs_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop; /* under mu */
    /* owned by the thread */
    struct last_snapshot *last;
    size_t nlast, caplast;
};

static struct last_snapshot *last_of(struct svc_jobs *j, const char *key)
{
    for (size_t i = 0; i < j->nlast; i++) {
        if (!strcmp(j->last[i].key, key)) {
            return &j->last[i];
        }
    }
    if (j->nlast == j->caplast) {
        j->caplast = j->caplast ? j->caplast * 2 : 16;
        j->last = xrealloc(j->last, j->caplast * sizeof *j->last);
    }
    struct last_snapshot *l = &j->last[j->nlast++];
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s", key);
    return l;
}

/* Compute one tenant's snapshot and publish it when it differs from the last one. */
static void snapshot_one(struct svc_jobs *j, const char *client_id, int64_t now_ms)
{
    json_t *snap = NULL;
    int rc = svc_dashboard_snapshot(j->svc, client_id, now_ms, &snap);
    if (rc < 0) {
        if (rc != SB_E_NOTFOUND) {
            log_warn("dashboard snapshot failed: %s", sb_strerror(rc));
        }
        return;
    }
    svc_history_record(j->svc, client_id, snap, now_ms);
    struct last_snapshot *l = last_of(j, client_id ? client_id : "");
    l->seen = true;
    json_t *cmp = json_deep_copy(snap);
    json_object_del(cmp, "at");
    char *text = json_dumps(cmp, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(cmp);
    if (text && (!l->json || strcmp(l->json, text))) {
        free(l->json);
        l->json = text;
        text = NULL;
        if (j->cfg.publish) {
            char *full = json_dumps(snap, JSON_COMPACT);
            if (full) {
                j->cfg.publish(j->cfg.publish_arg, client_id, full);
            }
            free(full);
        }
    }
    free(text);
    json_decref(snap);
}

static void publish_metrics(struct svc_jobs *j, int64_t now_ms)
{
    struct policy_principal root = {.role = ROLE_SUPER_ADMIN};
    struct store_query q = {0};
    q.sort = "id";
    q.limit = STORE_MAX_LIMIT;
    json_t *ids = json_array();
    char *cursor = NULL;
    int rc = 0;
    do {
        struct svc_page page;
        q.cursor = cursor;
        rc = svc_list_rows(j->svc, &root, STORE_CLIENTS, &q, &page);
        free(cursor);
        cursor = NULL;
        if (rc < 0) {
            break;
        }
        size_t i;
        json_t *row;
        json_array_foreach(page.rows, i, row)
        {
            json_array_append(ids, json_object_get(row, "id"));
        }
        cursor = page.next_cursor;
        page.next_cursor = NULL;
        svc_page_release(&page);
    } while (cursor && json_array_size(ids) < MAX_TENANTS);
    free(cursor);
    if (rc < 0) {
        log_warn("dashboard: listing clients failed: %s", sb_strerror(rc));
        json_decref(ids);
        return;
    }
    for (size_t i = 0; i < j->nlast; i++) {
        j->last[i].seen = false;
    }
    snapshot_one(j, NULL, now_ms);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        snapshot_one(j, json_string_value(id), now_ms);
    }
    json_decref(ids);
    /* Forget deleted clients. */
    for (size_t k = 0; k < j->nlast;) {
        if (!j->last[k].seen) {
            svc_history_forget(j->svc, j->last[k].key[0] ? j->last[k].key : NULL);
            free(j->last[k].json);
            j->last[k] = j->last[--j->nlast];
        } else {
            k++;
        }
    }
}

static void *jobs_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sb-jobs");
    struct svc_jobs *j = arg;
    /* Scheduled on the monotonic clock: a step of the wall clock neither stalls the jobs nor
     * runs them in a burst. The wall clock is only what they record. */
    int64_t next_metrics = clock_mono_ms(), next_purge = 0, next_tokens = 0, next_history = 0;
    pthread_mutex_lock(&j->mu);
    while (!j->stop) {
        pthread_mutex_unlock(&j->mu);
        int64_t now = clock_now_ms(), mono = clock_mono_ms();
        int rc = svc_messages_tick(j->svc, now);
        if (rc < 0) {
            log_warn("jobs: message states tick failed: %s", sb_strerror(rc));
        }
        rc = svc_presence_tick(j->svc, now);
        if (rc < 0) {
            log_warn("jobs: presence tick failed: %s", sb_strerror(rc));
        }
        if (j->cfg.message_retention_ms > 0 && mono >= next_purge) {
            rc = svc_messages_purge(j->svc, now, j->cfg.message_retention_ms);
            if (rc < 0) {
                log_warn("jobs: message retention failed: %s", sb_strerror(rc));
            }
            /* a full batch: go on at the next tick */
            next_purge = rc >= STORE_MAX_LIMIT ? mono : mono + 1000;
        }
        if (mono >= next_tokens) {
            rc = svc_auth_prune(j->svc, now);
            if (rc < 0) {
                log_warn("jobs: refresh token pruning failed: %s", sb_strerror(rc));
            }
            /* a full batch: go on at the next tick */
            next_tokens = rc >= SVC_REFRESH_PRUNE_BATCH ? mono : mono + 60000;
        }
        if (j->cfg.history_retention_ms > 0 && mono >= next_history) {
            rc = svc_agent_history_prune(j->svc, now, j->cfg.history_retention_ms);
            if (rc < 0) {
                log_warn("jobs: status history retention failed: %s", sb_strerror(rc));
            }
            /* a full batch: go on at the next tick */
            next_history = rc >= SVC_HISTORY_PRUNE_BATCH ? mono : mono + 60000;
        }
        if (mono >= next_metrics) {
            publish_metrics(j, now);
            next_metrics = mono + j->cfg.metrics_interval_ms;
            svc_history_flush(j->svc, now, false);
        }
        int64_t wake = mono + j->cfg.tick_ms;
        if (next_metrics < wake) {
            wake = next_metrics;
        }
        pthread_mutex_lock(&j->mu);
        int64_t left;
        while (!j->stop && (left = wake - clock_mono_ms()) > 0) {
            clock_cond_wait_ms(&j->cond, &j->mu, left);
        }
    }
    pthread_mutex_unlock(&j->mu);
    /* what was recorded since the last write outlives this process too */
    svc_history_flush(j->svc, clock_now_ms(), true);
    return NULL;
}

int svc_jobs_start(struct svc_jobs **out, struct svc *svc, const struct svc_jobs_config *cfg)
{
    struct svc_jobs *j = xcalloc(1, sizeof *j);
    j->svc = svc;
    j->cfg = *cfg;
    if (j->cfg.tick_ms <= 0) {
        j->cfg.tick_ms = 200;
    }
    if (j->cfg.metrics_interval_ms <= 0) {
        j->cfg.metrics_interval_ms = 2000;
    }
    svc_history_set_interval(svc, j->cfg.metrics_interval_ms);
    int loaded = svc_history_load(svc, clock_now_ms());
    if (loaded > 0) {
        log_info("dashboard history: %d point(s) of the last 24 h loaded", loaded);
    }
    pthread_mutex_init(&j->mu, NULL);
    clock_cond_init(&j->cond);
    if (pthread_create(&j->thread, NULL, jobs_main, j) != 0) {
        pthread_cond_destroy(&j->cond);
        pthread_mutex_destroy(&j->mu);
        free(j);
        return SB_E_INTERNAL;
    }
    *out = j;
    return 0;
}

void svc_jobs_stop(struct svc_jobs *self)
{
    if (!self) {
        return;
    }
    pthread_mutex_lock(&self->mu);
    self->stop = true;
    pthread_cond_signal(&self->cond);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->thread, NULL);
    for (size_t i = 0; i < self->nlast; i++) {
        free(self->last[i].json);
    }
    free(self->last);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mu);
    free(self);
}
