/*
 * Fan-out: (tenant, topic) groups and the delivery of change events, broadcasts and
 * presence diffs to the channels of every loop.
 *
 * Each loop has a hash table of groups, RT_GROUP_BUCKETS chains keyed by (tenant, topic);
 * a group lists the channels of one topic in one tenant, so two tenants' realtime:room1
 * never meet. A broadcast or presence diff is a struct rt_fan whose payload JSON is encoded
 * once and shared by reference; one reference per loop, each loop sends it to the members of
 * its group (or of every group with that topic when the fan has no tenant).
 *
 * A client's broadcast also goes to the other nodes (cluster.c), which post it to their own
 * loops the same way; server broadcasts (rt_broadcast_tenant: dashboard metrics) stay local.
 *
 * Change events arrive from the hub as a struct rt_batch, also one reference per loop. Each
 * loop walks its channels with postgres bindings; a channel that may read the row
 * (policy_row_view, in memory) and has matching bindings gets the frame (frame start +
 * {"ids":[..],"data": + the shared data + suffix), built once and shared by every next
 * subscriber with the same topic, serializer, view and ids (frame_cache). A resuming channel skips
 * live events but remembers the highest seq it skipped; the channel's cursor drops events a resume
 * already sent (resume.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "realtime/filter.h"
#include "realtime/rt_int.h"

/* ---- groups (tenant, topic) ---- */

static uint32_t hash_key(const char *tenant, const char *topic)
{
    uint32_t h = 2166136261u;
    for (const char *s = tenant; *s; s++) {
        h = (h ^ (uint8_t)*s) * 16777619u;
    }
    h = (h ^ 0x1f) * 16777619u;
    for (const char *s = topic; *s; s++) {
        h = (h ^ (uint8_t)*s) * 16777619u;
    }
    return h;
}

static struct rt_group **group_slot(struct rt_loop *l, const char *tenant, const char *topic)
{
    struct rt_group **pp = &l->groups[hash_key(tenant, topic) % RT_GROUP_BUCKETS];
    while (*pp && (strcmp((*pp)->tenant, tenant) != 0 || strcmp((*pp)->topic, topic) != 0)) {
        pp = &(*pp)->next;
    }
    return pp;
}

struct rt_group *rt_group_get(struct rt_loop *l, const char *tenant, const char *topic)
{
    struct rt_group **pp = group_slot(l, tenant, topic);
    if (!*pp) {
        struct rt_group *g = xcalloc(1, sizeof *g);
        snprintf(g->tenant, sizeof g->tenant, "%s", tenant);
        g->topic = xstrdup(topic);
        g->loop = l;
        *pp = g;
    }
    (*pp)->refs++;
    return *pp;
}

static void group_free(struct rt_group *g)
{
    free(g->topic);
    free(g);
}

void rt_group_put(struct rt_group *g)
{
    if (--g->refs) {
        return;
    }
    struct rt_group **pp = group_slot(g->loop, g->tenant, g->topic);
    if (*pp == g) {
        *pp = g->next;
    }
    group_free(g);
}

void rt_group_add(struct rt_chan *ch)
{
    struct rt_group *g = ch->group;
    ch->g_prev = NULL;
    ch->g_next = g->head;
    if (g->head) {
        g->head->g_prev = ch;
    }
    g->head = ch;
    if (ch->nb) {
        ch->in_pg = true;
        if (g->npg++ == 0) {
            struct rt_loop *l = g->loop;
            g->pg_prev = NULL;
            g->pg_next = l->pg;
            if (l->pg) {
                l->pg->pg_prev = g;
            }
            l->pg = g;
        }
    }
}

void rt_group_remove(struct rt_chan *ch)
{
    struct rt_group *g = ch->group;
    if (ch->g_prev) {
        ch->g_prev->g_next = ch->g_next;
    } else if (g->head == ch) {
        g->head = ch->g_next;
    }
    if (ch->g_next) {
        ch->g_next->g_prev = ch->g_prev;
    }
    ch->g_prev = ch->g_next = NULL;
    if (ch->in_pg) {
        ch->in_pg = false;
        if (--g->npg == 0) {
            struct rt_loop *l = g->loop;
            if (g->pg_prev) {
                g->pg_prev->pg_next = g->pg_next;
            } else {
                l->pg = g->pg_next;
            }
            if (g->pg_next) {
                g->pg_next->pg_prev = g->pg_prev;
            }
            g->pg_prev = g->pg_next = NULL;
        }
    }
}

void rt_group_free_all(struct rt_loop *l)
{
    for (size_t j = 0; j < RT_GROUP_BUCKETS; j++) {
        while (l->groups[j]) {
            struct rt_group *g = l->groups[j];
            l->groups[j] = g->next;
            group_free(g);
        }
    }
}

/* ---- change events ---- */

/* Does any binding of ch match the change (op, rec) of ev's table? Appends matching ids to
 * out as "1,2". */
static size_t chan_match_ids(const struct rt_chan *ch, const struct rt_event *ev, uint8_t op,
                             const json_t *rec, struct buf *out)
{
    size_t n = 0;
    for (uint16_t i = 0; i < ch->nb; i++) {
        const struct rt_binding *b = &ch->b[i];
        if (!(b->ops & op) || (b->table >= 0 && b->table != (int)ev->desc->id)) {
            continue;
        }
        if (b->filter && !rt_filter_match(b->filter, ev->desc, rec)) {
            continue;
        }
        if (buf_printf(out, n ? ",%u" : "%u", b->id) < 0) {
            break;
        }
        n++;
    }
    return n;
}

/*
 * While a loop fans a batch out: the last whole frame built for a change, per serializer,
 * reused for every next subscriber with the same serializer, topic, view of the row and
 * matching binding ids (the common case: many subscribers of one topic with the same bindings
 * get the same bytes; binding ids depend only on the spec, rt.c). One slot per serializer, so
 * vsn 1 and vsn 2 clients mixed on a topic share too. A subscriber then costs its policy
 * check and binding match, and a reference to the frame: no JSON, no copy. Thread-local: each
 * loop has its own.
 */
#define CACHE_KEY_MAX 256
#define CACHE_SLOTS 2 /* vsn 1 and 2 */
struct frame_slot {
    struct net_shared *frame;      /* prefix, ids, data and suffix; NULL: empty */
    const struct net_shared *data; /* what it was built from (alive for the batch) */
    size_t key_len;
    char key[CACHE_KEY_MAX]; /* topic, NUL, matching ids */
};
struct frame_cache {
    bool on; /* inside batch_on_loop */
    struct frame_slot slot[CACHE_SLOTS];
    struct buf ids;     /* scratch for a subscriber's matching ids */
    uint64_t delivered; /* counted into m_delivered once per batch */
    uint64_t built;     /* frames built, counted into m_change_frames once per batch */
};
static _Thread_local struct frame_cache tl_cache;

static void slot_drop(struct frame_slot *s)
{
    if (s->frame) {
        net_shared_unref(s->frame);
        s->frame = NULL;
    }
    s->data = NULL;
    s->key_len = 0;
}

static void cache_drop(void)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        slot_drop(&tl_cache.slot[i]);
    }
}

static void deliver_cached(struct rt_chan *ch, const struct rt_event *ev, uint8_t op,
                           const json_t *rec, struct net_shared *data)
{
    struct rt_conn *c = ch->conn;
    struct buf *ids = &tl_cache.ids;
    if (!ids->max_len) {
        buf_init(ids, CACHE_KEY_MAX * 16); /* released at the end of the batch */
    }
    buf_reset(ids);
    if (chan_match_ids(ch, ev, op, rec, ids) == 0 || ids->len == 0) {
        return;
    }
    struct frame_slot *s = &tl_cache.slot[c->vsn >= 2];
    size_t tl = strlen(rt_chan_topic(ch));
    bool keyable = tl + 1 + ids->len <= CACHE_KEY_MAX;
    if (!(keyable && s->frame && s->data == data && s->key_len == tl + 1 + ids->len &&
          memcmp(s->key, rt_chan_topic(ch), tl + 1) == 0 &&
          memcmp(s->key + tl + 1, ids->data, ids->len) == 0)) {
        /* Only the prefix goes through the loop's scratch (bounded); the row data, which may
         * be larger than that, is copied once, straight into the frame. */
        struct buf *b = &c->loop->scratch;
        buf_reset(b);
        if (phx_encode_prefix(c->vsn, NULL, NULL, rt_chan_topic(ch), "postgres_changes", b) < 0 ||
            buf_puts(b, "{\"ids\":[") < 0 || buf_append(b, ids->data, ids->len) < 0 ||
            buf_puts(b, "],\"data\":") < 0) {
            return;
        }
        char suffix[3] = {'}', phx_suffix(c->vsn)[0], 0};
        slot_drop(s);
        s->frame = net_ws_frame_new(false, b->data, b->len, data->data, data->len, suffix, 2);
        tl_cache.built++;
        if (keyable) {
            s->data = data;
            memcpy(s->key, rt_chan_topic(ch), tl + 1);
            memcpy(s->key + tl + 1, ids->data, ids->len);
            s->key_len = tl + 1 + ids->len;
        }
    }
    rt_conn_send_frame(c, s->frame);
    tl_cache.delivered++;
    if (!keyable) {
        slot_drop(s);
    }
}

/* Does a binding of ch name ev's table? (Its op and filter are matched once ev is built: a
 * row that moved between tenants may reach ch as another op.) */
static bool chan_names_table(const struct rt_chan *ch, const struct rt_event *ev)
{
    for (uint16_t i = 0; i < ch->nb; i++) {
        if (ch->b[i].ops && (ch->b[i].table < 0 || ch->b[i].table == (int)ev->desc->id)) {
            return true;
        }
    }
    return false;
}

void rt_chan_deliver(struct rt_chan *ch, struct rt_event *ev)
{
    struct rt_conn *c = ch->conn;
    if (!c || c->closed || !chan_names_table(ch, ev)) {
        return;
    }
    rt_event_ready(ev);
    /* What this subscriber may see of the change; a row that moved between tenants is an
     * arrival on one side and a departure on the other (policy_row_view). */
    uint8_t op = ev->op;
    const json_t *rec = op == OP_DELETE ? ev->old_record : ev->record;
    struct net_shared *data = ev->data;
    switch (policy_row_view(rt_chan_principal(ch), ev->desc->id, ev->record, ev->old_record)) {
    case POLICY_VIEW_NONE:
        return;
    case POLICY_VIEW_FULL:
        break;
    case POLICY_VIEW_AS_INSERT:
        op = OP_INSERT;
        data = ev->data_in;
        break;
    case POLICY_VIEW_AS_DELETE:
        op = OP_DELETE;
        rec = ev->old_record;
        data = ev->data_out;
        break;
    }
    if (!data) {
        return;
    }
    if (tl_cache.on) {
        deliver_cached(ch, ev, op, rec, data);
        return;
    }
    struct buf *b = &c->loop->scratch;
    buf_reset(b);
    if (phx_encode_prefix(c->vsn, NULL, NULL, rt_chan_topic(ch), "postgres_changes", b) < 0 ||
        buf_puts(b, "{\"ids\":[") < 0) {
        return;
    }
    size_t before = b->len;
    if (chan_match_ids(ch, ev, op, rec, b) == 0 || b->len == before) {
        return;
    }
    if (buf_puts(b, "],\"data\":") < 0) {
        return;
    }
    char suffix[3] = {'}', phx_suffix(c->vsn)[0], 0};
    rt_conn_send(c, false, b->data, b->len, data, suffix, 2);
    atomic_fetch_add(&c->loop->rt->m_delivered, 1);
    atomic_fetch_add(&c->loop->rt->m_change_frames, 1); /* its own prefix */
}

/* What a loop receives from another thread: one shared batch or fan. */
struct loop_task {
    struct rt_loop *loop;
    void *obj;
};

/* Post fn with obj to the first n loops; the caller set obj's refcount to n. */
static void post_to_loops(struct rt *rt, unsigned n, net_task_fn fn, void *obj)
{
    for (unsigned i = 0; i < n; i++) {
        struct rt_loop *l = rt_loop_get(rt, net_server_worker(rt->server, i));
        struct loop_task *t = xmalloc(sizeof *t);
        t->loop = l;
        t->obj = obj;
        net_worker_post(l->w, fn, t);
    }
}

/* The loop's channel with postgres_changes bindings after ch (NULL: the first one), group by
 * group. */
static struct rt_chan *next_pg_chan(struct rt_loop *l, struct rt_chan *ch)
{
    struct rt_group *g = ch ? ch->group : l->pg;
    ch = ch ? ch->g_next : g ? g->head : NULL;
    while (g) {
        for (; ch; ch = ch->g_next) {
            if (ch->in_pg) {
                return ch;
            }
        }
        g = g->pg_next;
        ch = g ? g->head : NULL;
    }
    return NULL;
}

static void batch_on_loop(void *arg)
{
    struct loop_task *t = arg;
    struct rt_loop *l = t->loop;
    struct rt_batch *b = t->obj;
    free(t);
    tl_cache.on = true;
    for (size_t i = 0; i < b->n; i++) {
        struct rt_event *ev = &b->ev[i];
        for (struct rt_chan *ch = next_pg_chan(l, NULL); ch; ch = next_pg_chan(l, ch)) {
            if (ch->dead || !ch->conn || ch->conn->closed) {
                continue;
            }
            if (ch->resuming) {
                struct rt_chan_extra *x = rt_chan_extra(ch);
                if (ev->seq > x->skipped_max) {
                    x->skipped_max = ev->seq;
                }
                continue;
            }
            if (ev->seq <= ch->cursor) {
                continue;
            }
            ch->cursor = ev->seq;
            rt_chan_deliver(ch, ev);
        }
        atomic_store(&l->delivered_seq, ev->seq);
        cache_drop(); /* the next event has other data */
    }
    tl_cache.on = false;
    buf_release(&tl_cache.ids);
    if (tl_cache.delivered) {
        atomic_fetch_add(&l->rt->m_delivered, tl_cache.delivered);
        atomic_fetch_add(&l->rt->m_change_frames, tl_cache.built);
        tl_cache.delivered = 0;
        tl_cache.built = 0;
    }
    rt_batch_unref(b);
}

void rt_fan_post_batch(struct rt *rt, struct rt_batch *b)
{
    unsigned nl = rt->nworkers;
    if (b->n == 0 || nl == 0) {
        atomic_store(&b->refs, 1);
        rt_batch_unref(b);
        return;
    }
    atomic_store(&b->refs, (int)nl);
    post_to_loops(rt, nl, batch_on_loop, b);
}

/* ---- broadcasts and presence diffs ---- */

static void fan_unref(struct rt_fan *f)
{
    if (atomic_fetch_sub(&f->refs, 1) != 1) {
        return;
    }
    free(f->tenant);
    free(f->topic);
    free(f->event);
    if (f->text) {
        net_shared_unref(f->text);
    }
    if (f->bin) {
        net_shared_unref(f->bin);
    }
    free(f);
}

/* Send f to the members of g: the text frame is built once per serializer for the group (its
 * members share the topic) and every member gets a reference to it. */
static void fan_send_group(struct rt_group *g, const struct rt_fan *f, struct buf *scratch)
{
    struct net_shared *frame[3] = {NULL, NULL, NULL}; /* by vsn (1, 2) */
    struct net_shared *bin = NULL;
    for (struct rt_chan *ch = g->head; ch; ch = ch->g_next) {
        struct rt_conn *c = ch->conn;
        if (!c || c->closed || ch->dead || (f->exclude_conn && c->id == f->exclude_conn)) {
            continue;
        }
        if (f->bin && c->vsn == 2) {
            if (!bin) {
                bin = net_ws_frame_new(true, f->bin->data, f->bin->len, NULL, 0, NULL, 0);
            }
            rt_conn_send_frame(c, bin);
            continue;
        }
        if (!f->text || (c->vsn != 1 && c->vsn != 2)) {
            continue;
        }
        if (!frame[c->vsn]) {
            /* The payload may be larger than the scratch buffer (a client's broadcast up to
             * the message limit): only the prefix goes through it. */
            buf_reset(scratch);
            if (phx_encode_prefix(c->vsn, NULL, NULL, rt_chan_topic(ch), f->event, scratch) < 0) {
                continue;
            }
            const char *sfx = phx_suffix(c->vsn);
            frame[c->vsn] = net_ws_frame_new(false, scratch->data, scratch->len, f->text->data,
                                             f->text->len, sfx, strlen(sfx));
        }
        rt_conn_send_frame(c, frame[c->vsn]);
    }
    net_shared_unref(frame[1]);
    net_shared_unref(frame[2]);
    net_shared_unref(bin);
}

static void fan_on_loop(void *arg)
{
    struct loop_task *t = arg;
    struct rt_loop *l = t->loop;
    struct rt_fan *f = t->obj;
    free(t);
    if (f->tenant) {
        struct rt_group *g = *group_slot(l, f->tenant, f->topic);
        if (g) {
            fan_send_group(g, f, &l->scratch);
        }
    } else {
        for (size_t i = 0; i < RT_GROUP_BUCKETS; i++) {
            for (struct rt_group *g = l->groups[i]; g; g = g->next) {
                if (strcmp(g->topic, f->topic) == 0) {
                    fan_send_group(g, f, &l->scratch);
                }
            }
        }
    }
    fan_unref(f);
}

void rt_fan_post(struct rt *rt, struct rt_fan *f)
{
    unsigned n = rt->nworkers;
    if (n == 0) {
        atomic_store(&f->refs, 1);
        fan_unref(f);
        return;
    }
    atomic_store(&f->refs, (int)n);
    post_to_loops(rt, n, fan_on_loop, f);
}

struct rt_fan *rt_fan_new(const char *tenant, const char *topic, const char *event,
                          uint64_t exclude, const char *json, size_t len)
{
    struct rt_fan *f = xcalloc(1, sizeof *f);
    f->tenant = tenant ? xstrdup(tenant) : NULL;
    f->topic = xstrdup(topic);
    f->event = xstrdup(event);
    f->exclude_conn = exclude;
    if (json) {
        f->text = net_shared_new(json, len);
    }
    return f;
}

void rt_broadcast_tenant(struct rt *rt, const char *client_id, const char *topic, const char *event,
                         const char *payload_json)
{
    json_t *payload = json_loads(payload_json ? payload_json : "{}", JSON_DECODE_ANY, NULL);
    if (!payload) {
        return;
    }
    json_t *msg =
        json_pack("{s:s,s:s,s:o}", "type", "broadcast", "event", event, "payload", payload);
    size_t len = 0;
    char *text = json_encode(msg, &len);
    json_decref(msg);
    rt_fan_post(rt, rt_fan_new(client_id, topic, "broadcast", 0, text, len));
    free(text);
}

void rt_fan_handle_broadcast(struct rt_conn *c, struct rt_chan *ch, struct phx_msg *m)
{
    struct rt *rt = c->loop->rt;
    rt_conn_active(c);
    const char *ev =
        m->binary_broadcast ? m->bc_event : json_string_value(json_object_get(m->payload, "event"));
    if (!ev) {
        rt_conn_reply_reason(c, m, "broadcast needs an event");
        return;
    }
    if (strcmp(rt_chan_topic(ch), RT_DASHBOARD_TOPIC) == 0) {
        /* Only the server publishes there: nobody may spoof a tenant's dashboard figures. */
        rt_conn_reply_reason(c, m, "realtime:dashboard is read-only");
        return;
    }
    struct rt_fan *f;
    if (m->binary_broadcast && m->bc_encoding == PHX_ENC_BINARY) {
        f = rt_fan_new(rt_chan_tenant(ch), rt_chan_topic(ch), "broadcast", ch->bc_self ? 0 : c->id,
                       NULL, 0);
        size_t len = 0;
        uint8_t *frame = phx_encode_broadcast_binary(rt_chan_topic(ch), ev, NULL, m->bc_payload,
                                                     m->bc_payload_len, PHX_ENC_BINARY, &len);
        if (frame) {
            f->bin = net_shared_new(frame, len);
            free(frame);
        }
    } else {
        json_t *msg = json_pack("{s:s,s:s}", "type", "broadcast", "event", ev);
        json_t *inner = json_object_get(m->payload, "payload");
        json_object_set_new(msg, "payload", inner ? json_incref(inner) : json_object());
        size_t len = 0;
        char *text = json_encode(msg, &len);
        json_decref(msg);
        f = rt_fan_new(rt_chan_tenant(ch), rt_chan_topic(ch), "broadcast", ch->bc_self ? 0 : c->id,
                       text, len);
        free(text);
    }
    atomic_fetch_add(&rt->m_broadcasts, 1);
    rt_cluster_broadcast(rt, f, m);
    rt_fan_post(rt, f);
    if (ch->bc_ack && m->ref) {
        rt_conn_reply(c, m->join_ref, m->ref, m->topic, "ok", NULL);
    }
}
