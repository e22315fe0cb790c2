/*
 * Gap-free resume of a channel joined with config.resume.since.
 *
 * The channel is registered first, marked resuming; live events for it are then skipped but
 * their highest seq is remembered (fanout.c). A work item on the libuv pool reads the change
 * log page by page after `since` (rt_hub_read_history); each page is filtered and sent on the
 * loop thread, and reading continues until a short page that reached past every skipped live
 * event. The channel's cursor (highest seq considered) then deduplicates live events the
 * catch-up already covered. So nothing is missed, nothing is sent twice, and no pending
 * buffer can grow without bound: the change log is the buffer.
 *
 * While a read is in flight the channel is busy: closing it only marks it dead, and the
 * after-work callback frees it.
 */
#include <stdlib.h>

#include "base/alloc.h"
#include "base/json.h"
#include "realtime/rt_int.h"

struct resume_work {
    uv_work_t req;
    struct rt *rt;
    struct rt_chan *ch;
    int64_t since;
    int64_t after;
    bool first;
    bool recovered;
    int rc;
    struct store_change *changes;
    size_t n;
};

static void resume_work_cb(uv_work_t *req)
{
    struct resume_work *rw = req->data;
    rw->rc = rt_hub_read_history(rw->rt, rw->first, rw->since, rw->after, &rw->recovered,
                                 &rw->changes, &rw->n);
}

static void resume_start(struct rt_loop *l, struct resume_work *rw);

static void resume_after_cb(uv_work_t *req, int status)
{
    struct resume_work *rw = req->data;
    struct rt_chan *ch = rw->ch;
    ch->busy = false;
    bool again = false;
    if (ch->dead || status < 0 || rw->rc < 0) {
        if (!ch->dead && ch->conn) {
            /* The read failed: tell the client to refetch, and go live. */
            ch->resuming = false;
            json_t *extra = json_pack("{s:b}", "recovered", 0);
            rt_chan_system(ch, "postgres_changes", "ok", "resumed", extra);
            json_decref(extra);
        }
        goto out;
    }
    for (size_t i = 0; i < rw->n; i++) {
        struct rt_event ev = {0};
        if (rw->changes[i].seq <= ch->cursor) {
            continue;
        }
        ch->cursor = rw->changes[i].seq;
        if (rt_event_init(&ev, &rw->changes[i]) == 0) {
            rt_chan_deliver(ch, &ev);
        }
        rt_event_release(&ev);
    }
    if (rw->n > 0) {
        rw->after = rw->changes[rw->n - 1].seq;
    }
    if (ch->cursor < rw->after) {
        ch->cursor = rw->after;
    }
    again = rw->n == RT_RESUME_PAGE || ch->cursor < rt_chan_extra(ch)->skipped_max;
    if (!ch->conn || ch->conn->closed) {
        again = false;
    } else if (!again) {
        ch->resuming = false;
        json_t *extra = json_pack("{s:b}", "recovered", rw->recovered);
        rt_chan_system(ch, "postgres_changes", "ok", "resumed", extra);
        json_decref(extra);
    }
out:
    store_changes_free(rw->changes, rw->n);
    rw->changes = NULL;
    rw->n = 0;
    if (again) {
        rw->first = false;
        resume_start(ch->conn->loop, rw);
        return;
    }
    if (ch->dead) {
        rt_chan_free(ch);
    }
    free(rw);
}

static void resume_start(struct rt_loop *l, struct resume_work *rw)
{
    rw->req.data = rw;
    rw->ch->busy = true;
    if (uv_queue_work(net_worker_loop(l->w), &rw->req, resume_work_cb, resume_after_cb) < 0) {
        rw->ch->busy = false;
        rw->ch->resuming = false;
        free(rw);
    }
}

void rt_resume_begin(struct rt_loop *l, struct rt_chan *ch)
{
    struct resume_work *rw = xcalloc(1, sizeof *rw);
    rw->rt = l->rt;
    rw->ch = ch;
    rw->since = ch->cursor;
    rw->after = ch->cursor;
    rw->first = true;
    resume_start(l, rw);
}
