/*
 * The writer lane: one thread that runs the handlers of API_LANE routes (the agent status
 * writes, the hottest writes there are) back to back, inside one deferred commit group of the
 * store (store_defer_begin/end), and answers them all after the one COMMIT that makes them
 * durable.
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
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct api_call *head, *tail; /* waiting calls, linked through lane_next (mu) */
    bool stop;                    /* (mu) */
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
    int rc = store_defer_end(store);
    if (rc < 0) {
        log_printf(LOG_WARN, "writer lane: a commit group of writes failed: %s", sb_strerror(rc));
    }
    struct api_call *c = batch;
    while (c) {
        struct api_call *next = c->lane_next;
        c->lane_next = NULL;
        if (rc < 0 && c->lane_commits) {
            c->rc = api_fail(c, rc, "the change could not be committed");
        }
        net_worker_post(c->req->worker, lane_done, c);
        c = next;
    }
}

static void *lane_main(void *arg)
{
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
    if (pthread_create(&l->thread, NULL, lane_main, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l);
        return SB_E_INTERNAL;
    }
    a->lane = l;
    return 0;
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
    if (l->tail) {
        l->tail->lane_next = c;
    } else {
        l->head = c;
        pthread_cond_signal(&l->cv);
    }
    l->tail = c;
    pthread_mutex_unlock(&l->mu);
    return true;
}
