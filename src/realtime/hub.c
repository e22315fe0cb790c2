/*
 * The hub: the one reader of the change log.
 *
 * A thread wakes on the store's commit hook or every tail_interval_ms and reads changes with
 * seq > hub_seq in order, a page at a time. Each page goes first to every registered consumer
 * (rt_add_consumer: the auth cache, the realtime and dashboard counters), so nobody else
 * re-reads the same rows; then, for the WebSocket subscribers, each change becomes a struct
 * rt_event and the page's events go as one refcounted struct rt_batch to every loop
 * (fanout.c). Tasks posted to one loop run in order, so every loop sees seq order. Rows travel
 * as the log's JSON text: the first delivery that needs an event parses its rows and encodes
 * its heavy `data` JSON (the postgres_changes payload without ids) once into a refcounted
 * net_shared (rt_event_ready), so a change that no binding names costs no JSON work at all.
 * Every minute the thread prunes changes older than the retention.
 *
 * Resume reads history with rt_hub_read_history on the libuv pool, so every access to the
 * change log is in this file; its events are made by the same rt_event_init.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "realtime/rt_int.h"

#define RT_HUB_PAGE 256
#define RT_PRUNE_EVERY_MS 60000

/* ---- events ---- */

static const char *op_name(uint8_t op)
{
    return op == OP_INSERT ? "INSERT" : op == OP_UPDATE ? "UPDATE" : "DELETE";
}

uint8_t rt_op_parse(const char *s)
{
    if (!s) {
        return 0;
    }
    if (strcmp(s, "*") == 0) {
        return OP_ALL;
    }
    if (strcasecmp(s, "INSERT") == 0) {
        return OP_INSERT;
    }
    if (strcasecmp(s, "UPDATE") == 0) {
        return OP_UPDATE;
    }
    if (strcasecmp(s, "DELETE") == 0) {
        return OP_DELETE;
    }
    return 0;
}

/* The shared `data` of a postgres_changes event: encoded once for every subscriber. */
static struct net_shared *event_encode(const struct store_table_desc *d, uint8_t op, const char *ts,
                                       json_t *columns, json_t *record, json_t *old_record,
                                       int64_t seq)
{
    json_t *data = json_pack("{s:s,s:s,s:s,s:s,s:O}", "schema", "public", "table", d->name, "type",
                             op_name(op), "commit_timestamp", ts, "columns", columns);
    if (record) {
        json_object_set(data, "record", record);
    }
    if (old_record) {
        json_object_set(data, "old_record", old_record);
    }
    json_object_set_new(data, "errors", json_null());
    json_object_set_new(data, "seq", json_integer(seq));
    size_t len = 0;
    char *text = json_encode(data, &len);
    json_decref(data);
    struct net_shared *sh = net_shared_new(text, len);
    free(text);
    return sh;
}

/* Did this UPDATE move the row to another tenant? */
static bool moved_tenant(const struct rt_event *ev)
{
    if (ev->op != OP_UPDATE || !ev->record || !ev->old_record) {
        return false;
    }
    return !json_equal(json_object_get(ev->record, "client_id"),
                       json_object_get(ev->old_record, "client_id"));
}

int rt_event_init(struct rt_event *ev, struct store_change *ch)
{
    const struct store_table_desc *d = store_table_desc(ch->table);
    uint8_t op = rt_op_parse(ch->op);
    if (!d || !op || op == OP_ALL) {
        return SB_E_INVAL;
    }
    memset(ev, 0, sizeof *ev);
    ev->seq = ch->seq;
    ev->at_ms = ch->at_ms;
    ev->desc = d;
    ev->op = op;
    if (op != OP_DELETE) {
        ev->record_json = ch->record_json;
        ch->record_json = NULL;
    }
    if (op != OP_INSERT) {
        ev->old_record_json = ch->old_record_json;
        ch->old_record_json = NULL;
    }
    return 0;
}

/* Parse the rows, drop hidden columns, and encode the shared data. A row moved to another
 * tenant also gets the two views policy_row_view may ask for: its arrival (an INSERT of the
 * new record) and its departure (a DELETE of the old record). */
static void event_build(struct rt_event *ev)
{
    const struct store_table_desc *d = ev->desc;
    ev->record = store_change_row(ev->record_json);
    ev->old_record = store_change_row(ev->old_record_json);
    free(ev->record_json);
    free(ev->old_record_json);
    ev->record_json = ev->old_record_json = NULL;
    json_t *columns = json_array();
    for (size_t i = 0; i < d->ncols; i++) {
        if (d->cols[i].hidden) {
            if (ev->record) {
                json_object_del(ev->record, d->cols[i].name);
            }
            if (ev->old_record) {
                json_object_del(ev->old_record, d->cols[i].name);
            }
            continue;
        }
        json_array_append_new(
            columns, json_pack("{s:s,s:s}", "name", d->cols[i].name, "type", d->cols[i].pg_type));
    }
    char ts[CLOCK_RFC3339_LEN];
    clock_format_ms(ev->at_ms, ts);
    ev->data = event_encode(d, ev->op, ts, columns, ev->record, ev->old_record, ev->seq);
    if (moved_tenant(ev)) {
        ev->data_in = event_encode(d, OP_INSERT, ts, columns, ev->record, NULL, ev->seq);
        ev->data_out = event_encode(d, OP_DELETE, ts, columns, NULL, ev->old_record, ev->seq);
    }
    json_decref(columns);
}

/* Loops of one batch may ask at once; the first builds. */
static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER;

void rt_event_ready(struct rt_event *ev)
{
    if (atomic_load_explicit(&ev->ready, memory_order_acquire)) {
        return;
    }
    pthread_mutex_lock(&build_mu);
    if (!atomic_load_explicit(&ev->ready, memory_order_relaxed)) {
        event_build(ev);
        atomic_store_explicit(&ev->ready, true, memory_order_release);
    }
    pthread_mutex_unlock(&build_mu);
}

void rt_event_release(struct rt_event *ev)
{
    free(ev->record_json);
    free(ev->old_record_json);
    json_decref(ev->record);
    json_decref(ev->old_record);
    struct net_shared *shared[] = {ev->data, ev->data_in, ev->data_out};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        if (shared[i]) {
            net_shared_unref(shared[i]);
        }
    }
    memset(ev, 0, sizeof *ev);
}

void rt_batch_unref(struct rt_batch *b)
{
    if (atomic_fetch_sub(&b->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        rt_event_release(&b->ev[i]);
    }
    free(b->ev);
    free(b);
}

/* ---- the hub thread ---- */

static void hub_commit_hook(void *arg)
{
    struct rt *rt = arg;
    pthread_mutex_lock(&rt->hub_lock);
    rt->hub_wake = true;
    pthread_mutex_unlock(&rt->hub_lock);
    pthread_cond_signal(&rt->hub_cond); /* after the unlock: no second wake-up of the hub */
}

/* Read and post everything after hub_seq. */
static void hub_poll(struct rt *rt)
{
    for (int round = 0; round < 1000; round++) {
        struct store_change *chs = NULL;
        size_t n = 0;
        int64_t after = atomic_load(&rt->hub_seq);
        int rc = store_changes_read_raw(rt->store, after, RT_HUB_PAGE, &chs, &n);
        if (rc < 0) {
            log_printf(LOG_WARN, "realtime hub: reading changes failed: %s", sb_strerror(rc));
            return;
        }
        if (n == 0) {
            store_changes_free(chs, n);
            return;
        }
        struct rt_batch *b = xcalloc(1, sizeof *b);
        b->ev = xcalloc(n, sizeof *b->ev);
        for (size_t k = 0; k < rt->nconsumers; k++) {
            rt->consumers[k].fn(rt->consumers[k].arg, chs, n);
        }
        for (size_t i = 0; i < n; i++) {
            if (rt_event_init(&b->ev[b->n], &chs[i]) == 0) {
                b->n++;
            }
        }
        int64_t last = chs[n - 1].seq;
        store_changes_free(chs, n);
        atomic_store(&rt->hub_seq, last);
        rt_fan_post_batch(rt, b);
        if (n < RT_HUB_PAGE) {
            return;
        }
    }
}

static void *hub_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sb-hub");
    struct rt *rt = arg;
    int64_t next_prune = clock_mono_ms() + RT_PRUNE_EVERY_MS;
    pthread_mutex_lock(&rt->hub_lock);
    while (!rt->hub_stop) {
        if (!rt->hub_wake) {
            clock_cond_wait_ms(&rt->hub_cond, &rt->hub_lock, rt->cfg.tail_interval_ms);
        }
        if (rt->hub_stop) {
            break;
        }
        rt->hub_wake = false;
        pthread_mutex_unlock(&rt->hub_lock);
        hub_poll(rt);
        if (clock_mono_ms() >= next_prune) {
            next_prune = clock_mono_ms() + RT_PRUNE_EVERY_MS;
            int removed = store_changes_prune(rt->store, clock_now_ms() - rt->cfg.retention_ms);
            if (removed > 0) {
                log_printf(LOG_INFO, "realtime: pruned %d changes", removed);
            }
        }
        pthread_mutex_lock(&rt->hub_lock);
    }
    pthread_mutex_unlock(&rt->hub_lock);
    return NULL;
}

int rt_hub_head(struct rt *rt, int64_t *head)
{
    int64_t oldest = 0;
    *head = 0;
    return store_changes_bounds(rt->store, &oldest, head);
}

int rt_hub_start(struct rt *rt)
{
    store_set_commit_hook(rt->store, hub_commit_hook, rt);
    if (pthread_create(&rt->hub, NULL, hub_main, rt) != 0) {
        store_set_commit_hook(rt->store, NULL, NULL);
        return SB_E_INTERNAL;
    }
    rt->hub_running = true;
    return 0;
}

void rt_hub_stop(struct rt *rt)
{
    store_set_commit_hook(rt->store, NULL, NULL);
    pthread_mutex_lock(&rt->hub_lock);
    rt->hub_stop = true;
    pthread_cond_signal(&rt->hub_cond);
    pthread_mutex_unlock(&rt->hub_lock);
    pthread_join(rt->hub, NULL);
    rt->hub_running = false;
}

int rt_add_consumer(struct rt *rt, rt_changes_fn fn, void *arg)
{
    if (!fn || rt->hub_running || rt->nconsumers == RT_MAX_CONSUMERS) {
        return SB_E_INVAL;
    }
    rt->consumers[rt->nconsumers].fn = fn;
    rt->consumers[rt->nconsumers].arg = arg;
    rt->nconsumers++;
    return 0;
}

/* ---- history for resume ---- */

int rt_hub_read_history(struct rt *rt, bool check_since, int64_t since, int64_t after,
                        bool *recovered, struct store_change **out, size_t *n)
{
    if (check_since) {
        int64_t oldest = 0, head = 0;
        int rc = store_changes_bounds(rt->store, &oldest, &head);
        if (rc < 0) {
            return rc;
        }
        *recovered = oldest == 0 || since >= oldest - 1;
    }
    return store_changes_read_raw(rt->store, after, RT_RESUME_PAGE, out, n);
}
