/*
 * The writer lane: one thread that runs the handlers of API_LANE routes (the agent status
 * writes, the hottest writes there are) back to back, inside one deferred commit group of the
 * store (store_defer_begin/end), and answers them all once the group's one COMMIT is on disk.
 *
 * On the thread pool each such write held a pool thread until its group committed, handed the
 * store's writer lock to the next thread and was woken when the group ended: groups were as
 * large as the pool (about five at --workers 1) and every write paid two thread switches of
 * its own. Here a batch takes whatever waits (at most LANE_BATCH calls): one wake-up of the
 * lane, no hand-over of the writer between the calls, and the group grows with the load.
 *
 * What a caller sees does not change: the answer goes out only after its work is durable,
 * and a batch whose COMMIT failed answers every call that committed anything in it with that
 * error (none of their work is in the database); calls that failed on their own keep their
 * own answers. A handler may read and write the store as on the pool; it must not wait for
 * anything slow but the database (no password hashing: those routes stay on the pool).
 *
 * Durability is the second thread's work: after its COMMIT a batch waits in the sync queue
 * while the lane runs the next one, and the sync thread answers every batch it holds after
 * one store_sync (one fdatasync of the WAL for all of them). So the disk's latency overlaps
 * the next batch's work instead of holding the writer; an answer still goes out only once
 * its write is on disk, and a failed sync answers every call that committed with the error.
 *
 * Only where the store can defer (SQLite on a file); elsewhere API_LANE routes run on the
 * pool like any other (PostgreSQL commits concurrent transactions in parallel itself).
 */
#include <pthread.h>
#include <stdlib.h>

#include "api/api_int.h"
#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#define LANE_BATCH 64 /* calls per commit group, at most */

struct api_lane {
    struct api *api;
    pthread_t thread, sync_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;                      /* calls to run, or stop */
    pthread_cond_t sync_cv;                 /* calls to sync, or lane_ended */
    struct api_call *head, *tail;           /* waiting calls, linked through lane_next (mu) */
    struct api_call *sync_head, *sync_tail; /* committed, waiting for the disk (mu) */
    bool stop;                              /* (mu) */
    bool lane_ended;                        /* the lane thread ran its last batch (mu) */
};

/* On the call's loop: answer it like a pool call. */
static void lane_done(void *arg)
{
    api_call_after(arg, 0);
}

static void lane_run(struct api_lane *l, struct api_call *batch)
{
    struct store *store = l->api->store;
    store_defer_begin(store);
    for (struct api_call *c = batch; c; c = c->lane_next) {
        unsigned before = store_defer_count(store);
        api_call_work(c);
        c->lane_commits = store_defer_count(store) != before;
    }
    uint64_t ticket = 0;
    int rc = store_defer_end(store, &ticket);
    if (rc < 0) {
        log_printf(LOG_WARN, "writer lane: a commit group of writes failed: %s", sb_strerror(rc));
    }
    struct api_call *last = batch;
    for (struct api_call *c = batch; c; c = c->lane_next) {
        if (rc < 0 && c->lane_commits) {
            c->rc = api_fail(c, rc, "the change could not be committed");
            c->lane_commits = false; /* nothing of it to wait for */
        }
        c->lane_sync = ticket;
        last = c;
    }
    pthread_mutex_lock(&l->mu);
    bool wake = !l->sync_tail;
    if (l->sync_tail) {
        l->sync_tail->lane_next = batch;
    } else {
        l->sync_head = batch;
    }
    l->sync_tail = last;
    pthread_mutex_unlock(&l->mu);
    if (wake) {
        pthread_cond_signal(&l->sync_cv); /* after the unlock: see api_lane_submit */
    }
}

/* The sync thread: answer the committed batches once one store_sync covers them all. */
static void *sync_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sb-sync");
    struct api_lane *l = arg;
    struct store *store = l->api->store;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->sync_head && !l->lane_ended) {
            pthread_cond_wait(&l->sync_cv, &l->mu);
        }
        struct api_call *calls = l->sync_head;
        if (!calls) {
            break;
        }
        l->sync_head = l->sync_tail = NULL;
        pthread_mutex_unlock(&l->mu);
        uint64_t upto = 0;
        for (struct api_call *c = calls; c; c = c->lane_next) {
            upto = c->lane_sync > upto ? c->lane_sync : upto;
        }
        int rc = store_sync(store, upto);
        if (rc < 0) {
            log_printf(LOG_WARN, "writer lane: writes committed but not synced: %s",
                       sb_strerror(rc));
        }
        while (calls) {
            struct api_call *next = calls->lane_next;
            calls->lane_next = NULL;
            if (rc < 0 && calls->lane_commits) {
                calls->rc = api_fail(calls, rc, "the change could not be made durable");
            }
            net_worker_post(calls->req->worker, lane_done, calls);
            calls = next;
        }
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void *lane_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sb-lane");
    struct api_lane *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->head && !l->stop) {
            pthread_cond_wait(&l->cv, &l->mu);
        }
        if (!l->head) {
            break;
        }
        /* Up to LANE_BATCH calls, in arrival order. */
        struct api_call *batch = l->head, *last = l->head;
        for (int n = 1; n < LANE_BATCH && last->lane_next; n++) {
            last = last->lane_next;
        }
        l->head = last->lane_next;
        if (!l->head) {
            l->tail = NULL;
        }
        last->lane_next = NULL;
        pthread_mutex_unlock(&l->mu);
        lane_run(l, batch);
        pthread_mutex_lock(&l->mu);
    }
    l->lane_ended = true;
    pthread_cond_signal(&l->sync_cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int api_lane_start(struct api *a)
{
    if (!store_can_defer(a->store)) {
        return 0;
    }
    struct api_lane *l = xcalloc(1, sizeof *l);
    l->api = a;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    pthread_cond_init(&l->sync_cv, NULL);
    if (pthread_create(&l->sync_thread, NULL, sync_main, l) != 0) {
        goto fail;
    }
    if (pthread_create(&l->thread, NULL, lane_main, l) != 0) {
        pthread_mutex_lock(&l->mu);
        l->lane_ended = true;
        pthread_cond_signal(&l->sync_cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->sync_thread, NULL);
        goto fail;
    }
    a->lane = l;
    return 0;
fail:
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    pthread_cond_destroy(&l->sync_cv);
    free(l);
    return SB_E_INTERNAL;
}

/* Runs what was queued, then ends the thread; later calls take the pool (api_lane_submit
 * answers false). The loops may still read a->lane: it stays until api_lane_free. */
void api_lane_stop(struct api *a)
{
    struct api_lane *l = a->lane;
    if (!l) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    bool joined = l->stop;
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (!joined) {
        pthread_join(l->thread, NULL);
        pthread_join(l->sync_thread, NULL); /* it answers what it holds, then ends */
    }
}

void api_lane_free(struct api *a)
{
    struct api_lane *l = a->lane;
    if (!l) {
        return;
    }
    api_lane_stop(a);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    pthread_cond_destroy(&l->sync_cv);
    free(l);
    a->lane = NULL;
}

bool api_lane_submit(struct api_call *c)
{
    struct api_lane *l = c->api->lane;
    if (!l) {
        return false;
    }
    c->lane_next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->stop) {
        pthread_mutex_unlock(&l->mu);
        return false;
    }
    bool wake = !l->tail;
    if (l->tail) {
        l->tail->lane_next = c;
    } else {
        l->head = c;
    }
    l->tail = c;
    pthread_mutex_unlock(&l->mu);
    /* Signalled after the unlock: on a busy CPU the woken thread runs at once, and had we
     * still held the mutex it would block on it and need a second wake-up (two more
     * thread switches per hand-over). The struct outlives both threads. */
    if (wake) {
        pthread_cond_signal(&l->cv);
    }
    return true;
}
