/*
 * The realtime engine: Phoenix channels over WebSocket for @supabase/realtime-js (vsn 1 and
 * 2), postgres_changes fan-out from the change log, broadcast, presence, token refresh and
 * expiry, and gap-free resume (DESIGN §2, §7; docs/realtime.md is the user-facing account).
 *
 * Threads and data structures
 *
 *   struct rt (process-wide): configuration, the hub thread, the presence registry (one
 *   mutex) and atomic metrics. One struct rt_loop per net worker, found by worker index;
 *   everything inside an rt_loop is owned by that worker's loop thread.
 *
 *   Hub thread: wakes on the store's commit hook or every tail_interval_ms, reads changes
 *   with seq > hub_seq in order, feeds users/clients changes to the auth cache, turns each
 *   change into a struct rt_event whose heavy `data` JSON is encoded once into a refcounted
 *   net_shared, and posts the batch (refcounted, one reference per loop) to every loop. Each
 *   loop walks its channels with postgres bindings; a channel that may read the row
 *   (policy_can_read_row, in memory) and has matching bindings gets one frame made of a
 *   small per-subscriber prefix (frame start + {"ids":[..],"data":), the shared data and a
 *   two-byte suffix. Tasks posted to one loop run in order, so every loop sees seq order.
 *
 *   Connections (struct rt_conn) live in their loop's list; channels (struct rt_chan) in
 *   their connection's list, in the loop's (tenant, topic) group table (broadcast and
 *   presence) and, when they have bindings, in the loop's postgres list. net may call
 *   on_close from inside net_ws_send (slow consumer), so on_close only marks the connection
 *   and queues it; a zero-delay timer reaps it outside every callback of ours (Redis' rule).
 *
 *   Broadcast and presence diffs are a struct rt_fan (payload JSON encoded once, refcounted)
 *   posted to every loop, where the group (tenant, topic) receives it. Tenant keys scope
 *   topics: two tenants' realtime:room1 never meet.
 *
 *   Resume: the channel is registered first, marked resuming; live events for it are then
 *   skipped but their highest seq is remembered. A work item on the libuv pool reads the
 *   change log page by page after `since`; each page is filtered and sent on the loop
 *   thread, and reading continues until a short page that reached past every skipped live
 *   event. The channel's cursor (highest seq considered) then deduplicates live events the
 *   catch-up already covered. So nothing is missed, nothing is sent twice, and no pending
 *   buffer can grow without bound: the change log is the buffer.
 *
 *   Tokens: a per-loop timer re-checks every channel's principal (auth cache) and expiry
 *   every token_check_ms and closes failing channels with a `system` error and phx_close.
 */
#include "realtime/rt.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/session.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/rand.h"
#include "policy/policy.h"
#include "realtime/filter.h"
#include "realtime/phx.h"
#include "store/store.h"

#define RT_MAX_LOOPS 256
#define RT_GROUP_BUCKETS 1024
#define RT_HUB_PAGE 256
#define RT_RESUME_PAGE 256
#define RT_PRUNE_EVERY_MS 60000
#define RT_SCRATCH_MAX (64 * 1024)
#define RT_TOKEN_MAX 8192
#define RT_DASHBOARD_TOPIC "realtime:dashboard"

enum { OP_INSERT = 1, OP_UPDATE = 2, OP_DELETE = 4, OP_ALL = 7 };

/* One change, built by the hub (or a resume read) and immutable afterwards. */
struct rt_event {
    int64_t seq;
    const struct store_table_desc *desc;
    uint8_t op;
    json_t *record;     /* NULL for DELETE */
    json_t *old_record; /* NULL for INSERT */
    struct net_shared *data;
};

/* Events posted to every loop; refs = one per loop. */
struct rt_batch {
    atomic_int refs;
    size_t n;
    struct rt_event *ev;
};

/* A broadcast or presence diff for one (tenant, topic) on every loop; refs = one per loop. */
struct rt_fan {
    atomic_int refs;
    char *tenant; /* NULL: every tenant */
    char *topic;
    char *event;
    uint64_t exclude_conn;   /* 0: none */
    struct net_shared *text; /* payload JSON */
    struct net_shared *bin;  /* a whole kind 4 frame (vsn 2 only) or NULL */
};

struct rt_binding {
    struct rt_filter *filter; /* NULL: no filter */
    uint32_t id;
    int8_t table; /* enum store_table, or -1 for every table */
    uint8_t ops;  /* OP_* mask; 0 when the binding was refused */
};

struct rt_group;
struct rt_conn;

/* A joined channel; owned by its connection's loop thread. One allocation: the bindings,
 * the topic and the join_ref follow the struct (chan_new). */
struct rt_chan {
    struct rt_conn *conn; /* NULL once the connection is gone */
    struct rt_chan *next; /* connection's list */
    struct rt_chan *g_prev, *g_next;
    struct rt_group *group;
    struct rt_chan *pg_prev, *pg_next;
    const char *topic;
    const char *join_ref; /* NULL when the join had none */
    char *presence_key;   /* from the join, or made at the first track */
    /* The channel's own principal when its join or access_token named another token than
     * the connection's apikey; NULL (the usual case) means the connection's. */
    struct policy_principal *own_p;
    int64_t exp_s;
    int64_t cursor;      /* highest change seq considered */
    int64_t skipped_max; /* highest live seq skipped while resuming */
    uint16_t nb;
    bool in_pg;
    bool bc_self, bc_ack, presence_on;
    bool resuming, busy, dead, tracked;
    struct rt_binding b[]; /* nb entries */
};

/* Channels of one (tenant, topic) on one loop. */
struct rt_group {
    struct rt_group *next;
    struct rt_chan *head;
    char *topic;
    char tenant[64];
};

struct rt_loop;

/* One WebSocket connection; owned by its loop thread. */
struct rt_conn {
    struct rt_loop *loop;
    struct net_conn *nc;
    struct rt_conn *prev, *next;
    struct rt_conn *dead_next;
    struct rt_chan *chans;
    uint64_t id;
    struct policy_principal p; /* from the apikey */
    int64_t exp_s;
    bool counted; /* announced to the connection hook and the tenant counts */
    uint32_t next_bid;
    uint16_t nchans;
    uint8_t vsn;
    bool closed;
};

struct rt_loop {
    struct rt *rt;
    struct net_worker *w;
    uv_timer_t token_timer;
    uv_timer_t reap_timer;
    bool timers_on;
    bool stopping;
    struct rt_conn *conns;
    struct rt_conn *dead;
    struct rt_chan *pg;
    struct buf scratch;
    atomic_int_fast64_t delivered_seq;
    struct rt_group *groups[RT_GROUP_BUCKETS];
};

/* Live connections of one tenant ("" for super_admins); few tenants, so a flat array. */
struct tenant_count {
    char tenant[64];
    int64_t n;
};

/* Presence registry: (tenant, topic) -> entries; guarded by rt->pres_lock. */
struct pres_entry {
    struct pres_entry *next;
    uint64_t conn_id;
    char *key;
    char *phx_ref;
    json_t *meta; /* {phx_ref, ...fields} */
};
struct pres_topic {
    struct pres_topic *next;
    char *tenant;
    char *topic;
    struct pres_entry *entries;
};

struct rt {
    struct rt_config cfg;
    struct store *store;
    struct net_server *server;
    unsigned nworkers;
    pthread_mutex_t loops_lock;
    struct rt_loop *loops[RT_MAX_LOOPS];

    pthread_t hub;
    bool hub_running;
    pthread_mutex_t hub_lock;
    pthread_cond_t hub_cond;
    bool hub_wake, hub_stop;
    atomic_int_fast64_t hub_seq;

    pthread_mutex_t pres_lock;
    struct pres_topic *pres;
    atomic_uint_fast64_t pres_ref;

    rt_conn_hook conn_hook;
    void *conn_hook_arg;
    pthread_mutex_t tenants_lock; /* guards tenants: live connections per tenant */
    struct tenant_count *tenants;
    size_t ntenants;

    atomic_uint_fast64_t next_conn_id;
    atomic_int_fast64_t m_conns, m_chans;
    atomic_uint_fast64_t m_delivered, m_resumes, m_token_closes, m_broadcasts, m_presence,
        m_slow_drops, m_table[STORE__NTABLES];
};

static const char *const table_names_allowed[] = {"clients", "users", "agent_status",
                                                  "system_messages", "audit_logs"};

/* ---- small helpers ---- */

static const char *op_name(uint8_t op)
{
    return op == OP_INSERT ? "INSERT" : op == OP_UPDATE ? "UPDATE" : "DELETE";
}

static uint8_t op_parse(const char *s)
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

static struct rt_loop *loop_get(struct rt *rt, struct net_worker *w)
{
    unsigned i = net_worker_index(w);
    if (i >= RT_MAX_LOOPS) {
        return NULL;
    }
    pthread_mutex_lock(&rt->loops_lock);
    struct rt_loop *l = rt->loops[i];
    if (!l) {
        l = xcalloc(1, sizeof *l);
        l->rt = rt;
        l->w = w;
        buf_init(&l->scratch, RT_SCRATCH_MAX);
        rt->loops[i] = l;
    }
    pthread_mutex_unlock(&rt->loops_lock);
    return l;
}

static const char *chan_tenant(const struct rt_chan *ch)
{
    return ch->group ? ch->group->tenant : "";
}

/* ---- events ---- */

/* Build the shared event from a change, taking its record and old_record. */
static int event_build(struct rt_event *ev, struct store_change *ch)
{
    const struct store_table_desc *d = store_table_desc(ch->table);
    uint8_t op = op_parse(ch->op);
    if (!d || !op || op == OP_ALL) {
        return SB_E_INVAL;
    }
    ev->seq = ch->seq;
    ev->desc = d;
    ev->op = op;
    ev->record = op == OP_DELETE ? NULL : ch->record;
    ev->old_record = op == OP_INSERT ? NULL : ch->old_record;
    if (ev->record) {
        ch->record = NULL;
    }
    if (ev->old_record) {
        ch->old_record = NULL;
    }
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
    clock_format_ms(ch->at_ms, ts);
    json_t *data = json_pack("{s:s,s:s,s:s,s:s,s:o}", "schema", "public", "table", d->name, "type",
                             op_name(op), "commit_timestamp", ts, "columns", columns);
    if (ev->record) {
        json_object_set(data, "record", ev->record);
    }
    if (ev->old_record) {
        json_object_set(data, "old_record", ev->old_record);
    }
    json_object_set_new(data, "errors", json_null());
    json_object_set_new(data, "seq", json_integer(ch->seq));
    size_t len = 0;
    char *text = json_encode(data, &len);
    json_decref(data);
    ev->data = net_shared_new(text, len);
    free(text);
    return 0;
}

static void event_release(struct rt_event *ev)
{
    json_decref(ev->record);
    json_decref(ev->old_record);
    if (ev->data) {
        net_shared_unref(ev->data);
    }
    memset(ev, 0, sizeof *ev);
}

static void batch_unref(struct rt_batch *b)
{
    if (atomic_fetch_sub(&b->refs, 1) != 1) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        event_release(&b->ev[i]);
    }
    free(b->ev);
    free(b);
}

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

/* ---- sending ---- */

static void conn_send(struct rt_conn *c, bool binary, const char *prefix, size_t plen,
                      struct net_shared *shared, const char *suffix, size_t slen)
{
    if (c->closed || !c->nc) {
        return;
    }
    int rc = net_ws_send(c->nc, binary, prefix, plen, shared, suffix, slen);
    if (rc == SB_E_AGAIN) {
        atomic_fetch_add(&c->loop->rt->m_slow_drops, 1);
    }
}

/* Push event with payload_json (NULL: {}) on topic. */
static void conn_push(struct rt_conn *c, const char *join_ref, const char *ref, const char *topic,
                      const char *event, const char *payload_json)
{
    size_t len = 0;
    char *frame = phx_encode_text(c->vsn, join_ref, ref, topic, event, payload_json, &len);
    if (frame) {
        conn_send(c, false, frame, len, NULL, NULL, 0);
        free(frame);
    }
}

static void conn_reply(struct rt_conn *c, const char *join_ref, const char *ref, const char *topic,
                       const char *status, json_t *response)
{
    char *payload = phx_reply_payload(status, response);
    if (payload) {
        conn_push(c, join_ref, ref, topic, "phx_reply", payload);
        free(payload);
    }
}

static void conn_reply_reason(struct rt_conn *c, const struct phx_msg *m, const char *reason)
{
    json_t *resp = json_pack("{s:s}", "reason", reason);
    conn_reply(c, m->join_ref, m->ref, m->topic, "error", resp);
    json_decref(resp);
}

static const char *subtopic(const char *topic)
{
    return strncmp(topic, "realtime:", 9) == 0 ? topic + 9 : topic;
}

/* A `system` message on ch (join_ref set, ref null). */
static void chan_system(struct rt_chan *ch, const char *extension, const char *status,
                        const char *message, json_t *extra)
{
    json_t *p = json_pack("{s:s,s:s,s:s,s:s}", "extension", extension, "status", status, "message",
                          message, "channel", subtopic(ch->topic));
    if (extra) {
        json_object_update(p, extra);
    }
    char *text = json_encode(p, NULL);
    json_decref(p);
    conn_push(ch->conn, ch->join_ref, NULL, ch->topic, "system", text);
    free(text);
}

/* Does any binding of ch match ev? Appends matching ids to out as "1,2". */
static size_t chan_match_ids(const struct rt_chan *ch, const struct rt_event *ev, struct buf *out)
{
    size_t n = 0;
    const json_t *rec = ev->op == OP_DELETE ? ev->old_record : ev->record;
    for (uint16_t i = 0; i < ch->nb; i++) {
        const struct rt_binding *b = &ch->b[i];
        if (!(b->ops & ev->op) || (b->table >= 0 && b->table != (int)ev->desc->id)) {
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

/* Who the channel acts for; only while its connection lives (callers check ch->conn). */
static const struct policy_principal *chan_principal(const struct rt_chan *ch)
{
    return ch->own_p ? ch->own_p : &ch->conn->p;
}

static void chan_set_principal(struct rt_chan *ch, const struct policy_principal *p)
{
    free(ch->own_p);
    ch->own_p = NULL;
    if (memcmp(p, &ch->conn->p, sizeof *p) != 0) {
        ch->own_p = xmalloc(sizeof *p);
        *ch->own_p = *p;
    }
}

static void chan_deliver(struct rt_chan *ch, const struct rt_event *ev)
{
    struct rt_conn *c = ch->conn;
    if (!c || c->closed) {
        return;
    }
    if (!policy_can_read_row(chan_principal(ch), ev->desc->id, ev->record, ev->old_record)) {
        return;
    }
    struct buf *b = &c->loop->scratch;
    buf_reset(b);
    if (phx_encode_prefix(c->vsn, NULL, NULL, ch->topic, "postgres_changes", b) < 0 ||
        buf_puts(b, "{\"ids\":[") < 0) {
        return;
    }
    size_t before = b->len;
    if (chan_match_ids(ch, ev, b) == 0 || b->len == before) {
        return;
    }
    if (buf_puts(b, "],\"data\":") < 0) {
        return;
    }
    char suffix[3] = {'}', phx_suffix(c->vsn)[0], 0};
    conn_send(c, false, b->data, b->len, ev->data, suffix, 2);
    atomic_fetch_add(&c->loop->rt->m_delivered, 1);
}

/* ---- groups (tenant, topic) ---- */

static struct rt_group **group_slot(struct rt_loop *l, const char *tenant, const char *topic)
{
    struct rt_group **pp = &l->groups[hash_key(tenant, topic) % RT_GROUP_BUCKETS];
    while (*pp && (strcmp((*pp)->tenant, tenant) != 0 || strcmp((*pp)->topic, topic) != 0)) {
        pp = &(*pp)->next;
    }
    return pp;
}

static void group_add(struct rt_loop *l, struct rt_chan *ch, const char *tenant)
{
    struct rt_group **pp = group_slot(l, tenant, ch->topic);
    if (!*pp) {
        struct rt_group *g = xcalloc(1, sizeof *g);
        snprintf(g->tenant, sizeof g->tenant, "%s", tenant);
        g->topic = xstrdup(ch->topic);
        *pp = g;
    }
    struct rt_group *g = *pp;
    ch->group = g;
    ch->g_prev = NULL;
    ch->g_next = g->head;
    if (g->head) {
        g->head->g_prev = ch;
    }
    g->head = ch;
}

static void group_remove(struct rt_loop *l, struct rt_chan *ch)
{
    struct rt_group *g = ch->group;
    if (!g) {
        return;
    }
    if (ch->g_prev) {
        ch->g_prev->g_next = ch->g_next;
    } else {
        g->head = ch->g_next;
    }
    if (ch->g_next) {
        ch->g_next->g_prev = ch->g_prev;
    }
    ch->g_prev = ch->g_next = NULL;
    if (!g->head) {
        struct rt_group **pp = group_slot(l, g->tenant, g->topic);
        if (*pp == g) {
            *pp = g->next;
        }
        free(g->topic);
        free(g);
        ch->group = NULL;
    }
}

/* ---- fan-out of broadcasts and presence diffs ---- */

struct fan_task {
    struct rt_loop *loop;
    struct rt_fan *fan;
};

static void fan_send_group(struct rt_group *g, const struct rt_fan *f, struct buf *scratch)
{
    for (struct rt_chan *ch = g->head; ch; ch = ch->g_next) {
        struct rt_conn *c = ch->conn;
        if (!c || c->closed || ch->dead || (f->exclude_conn && c->id == f->exclude_conn)) {
            continue;
        }
        if (f->bin && c->vsn == 2) {
            conn_send(c, true, NULL, 0, f->bin, NULL, 0);
            continue;
        }
        if (!f->text) {
            continue;
        }
        buf_reset(scratch);
        if (phx_encode_prefix(c->vsn, NULL, NULL, ch->topic, f->event, scratch) < 0) {
            continue;
        }
        const char *sfx = phx_suffix(c->vsn);
        conn_send(c, false, scratch->data, scratch->len, f->text, sfx, strlen(sfx));
    }
}

static void fan_on_loop(void *arg)
{
    struct fan_task *t = arg;
    struct rt_loop *l = t->loop;
    struct rt_fan *f = t->fan;
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

/* Post f to every loop; takes the caller's reference. */
static void fan_post(struct rt *rt, struct rt_fan *f)
{
    unsigned n = rt->nworkers;
    if (n == 0) {
        atomic_store(&f->refs, 1);
        fan_unref(f);
        return;
    }
    atomic_store(&f->refs, (int)n);
    for (unsigned i = 0; i < n; i++) {
        struct rt_loop *l = loop_get(rt, net_server_worker(rt->server, i));
        struct fan_task *t = xmalloc(sizeof *t);
        t->loop = l;
        t->fan = f;
        net_worker_post(l->w, fan_on_loop, t);
    }
}

static struct rt_fan *fan_new(const char *tenant, const char *topic, const char *event,
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
    fan_post(rt, fan_new(client_id, topic, "broadcast", 0, text, len));
    free(text);
}

/* ---- presence registry ---- */

static struct pres_topic **pres_slot(struct rt *rt, const char *tenant, const char *topic)
{
    struct pres_topic **pp = &rt->pres;
    while (*pp && (strcmp((*pp)->tenant, tenant) != 0 || strcmp((*pp)->topic, topic) != 0)) {
        pp = &(*pp)->next;
    }
    return pp;
}

/* {key:{metas:[...]}} of the topic; caller holds pres_lock. */
static json_t *pres_state_locked(struct rt *rt, const char *tenant, const char *topic)
{
    json_t *state = json_object();
    struct pres_topic *t = *pres_slot(rt, tenant, topic);
    for (struct pres_entry *e = t ? t->entries : NULL; e; e = e->next) {
        json_t *k = json_object_get(state, e->key);
        if (!k) {
            k = json_pack("{s:[]}", "metas");
            json_object_set_new(state, e->key, k);
        }
        json_array_append(json_object_get(k, "metas"), e->meta);
    }
    return state;
}

static void pres_post_diff(struct rt *rt, const char *tenant, const char *topic, json_t *joins,
                           json_t *leaves)
{
    json_t *diff = json_pack("{s:o,s:o}", "joins", joins, "leaves", leaves);
    size_t len = 0;
    char *text = json_encode(diff, &len);
    json_decref(diff);
    fan_post(rt, fan_new(tenant, topic, "presence_diff", 0, text, len));
    free(text);
    atomic_fetch_add(&rt->m_presence, 1);
}

static json_t *pres_one(const char *key, json_t *meta)
{
    json_t *o = json_object();
    json_object_set_new(o, key, json_pack("{s:[O]}", "metas", meta));
    return o;
}

/* Track (meta != NULL) or untrack ch's presence; posts the diff. */
static void pres_update(struct rt *rt, struct rt_chan *ch, json_t *fields)
{
    const char *tenant = chan_tenant(ch);
    uint64_t cid = ch->conn ? ch->conn->id : 0;
    json_t *joins = json_object(), *leaves = json_object();
    pthread_mutex_lock(&rt->pres_lock);
    struct pres_topic **tp = pres_slot(rt, tenant, ch->topic);
    struct pres_entry *old = NULL;
    if (*tp) {
        for (struct pres_entry **ep = &(*tp)->entries; *ep; ep = &(*ep)->next) {
            if ((*ep)->conn_id == cid) {
                old = *ep;
                *ep = old->next;
                break;
            }
        }
    }
    if (old) {
        json_decref(leaves);
        leaves = pres_one(old->key, old->meta);
    }
    if (fields) {
        if (!*tp) {
            struct pres_topic *t = xcalloc(1, sizeof *t);
            t->tenant = xstrdup(tenant);
            t->topic = xstrdup(ch->topic);
            t->next = rt->pres;
            rt->pres = t;
            tp = &rt->pres;
        }
        struct pres_entry *e = xcalloc(1, sizeof *e);
        e->conn_id = cid;
        e->key = xstrdup(ch->presence_key);
        e->phx_ref = xasprintf("F%016llx", (unsigned long long)atomic_fetch_add(&rt->pres_ref, 1));
        e->meta = json_deep_copy(fields);
        json_object_set_new(e->meta, "phx_ref", json_string(e->phx_ref));
        if (old) {
            json_object_set_new(e->meta, "phx_ref_prev", json_string(old->phx_ref));
        }
        e->next = (*tp)->entries;
        (*tp)->entries = e;
        json_decref(joins);
        joins = pres_one(e->key, e->meta);
    } else if (*tp && !(*tp)->entries) {
        struct pres_topic *t = *tp;
        *tp = t->next;
        free(t->tenant);
        free(t->topic);
        free(t);
    }
    pthread_mutex_unlock(&rt->pres_lock);
    if (old) {
        free(old->key);
        free(old->phx_ref);
        json_decref(old->meta);
        free(old);
    }
    if (old || fields) {
        pres_post_diff(rt, tenant, ch->topic, joins, leaves);
    } else {
        json_decref(joins);
        json_decref(leaves);
    }
    ch->tracked = fields != NULL;
}

/* ---- channels ---- */

static struct rt_chan *chan_new(const char *topic, const char *join_ref, size_t nb)
{
    size_t tl = strlen(topic) + 1, jl = join_ref ? strlen(join_ref) + 1 : 0;
    struct rt_chan *ch = xcalloc(1, sizeof *ch + nb * sizeof ch->b[0] + tl + jl);
    ch->nb = (uint16_t)nb;
    char *str = (char *)(ch->b + nb);
    ch->topic = memcpy(str, topic, tl);
    ch->join_ref = join_ref ? memcpy(str + tl, join_ref, jl) : NULL;
    return ch;
}

static void chan_free(struct rt_chan *ch)
{
    free(ch->own_p);
    for (uint16_t i = 0; i < ch->nb; i++) {
        rt_filter_free(ch->b[i].filter);
    }
    free(ch->presence_key);
    free(ch);
}

/* Remove ch from every index (the caller unlinked it from its connection) and free it, or
 * leave it to the resume work in flight. */
static void chan_close(struct rt_loop *l, struct rt_chan *ch)
{
    if (ch->tracked) {
        pres_update(l->rt, ch, NULL);
    }
    group_remove(l, ch);
    if (ch->in_pg) {
        if (ch->pg_prev) {
            ch->pg_prev->pg_next = ch->pg_next;
        } else {
            l->pg = ch->pg_next;
        }
        if (ch->pg_next) {
            ch->pg_next->pg_prev = ch->pg_prev;
        }
        ch->in_pg = false;
    }
    atomic_fetch_sub(&l->rt->m_chans, 1);
    ch->conn = NULL;
    ch->dead = true;
    if (!ch->busy) {
        chan_free(ch);
    }
}

/* Unlink ch from its connection and close it. */
static void conn_drop_chan(struct rt_conn *c, struct rt_chan *ch)
{
    for (struct rt_chan **pp = &c->chans; *pp; pp = &(*pp)->next) {
        if (*pp == ch) {
            *pp = ch->next;
            c->nchans--;
            break;
        }
    }
    chan_close(c->loop, ch);
}

/* Server-side close of a channel: phx_close with ref = join_ref, then drop it. */
static void chan_kick(struct rt_conn *c, struct rt_chan *ch)
{
    conn_push(c, ch->join_ref, ch->join_ref, ch->topic, "phx_close", "{}");
    conn_drop_chan(c, ch);
}

static struct rt_chan *conn_find_chan(struct rt_conn *c, const char *topic)
{
    for (struct rt_chan *ch = c->chans; ch; ch = ch->next) {
        if (strcmp(ch->topic, topic) == 0) {
            return ch;
        }
    }
    return NULL;
}

/* ---- resume ---- */

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
    if (rw->first) {
        int64_t oldest = 0, head = 0;
        rw->rc = store_changes_bounds(rw->rt->store, &oldest, &head);
        if (rw->rc < 0) {
            return;
        }
        rw->recovered = oldest == 0 || rw->since >= oldest - 1;
    }
    rw->rc = store_changes_read(rw->rt->store, rw->after, RT_RESUME_PAGE, &rw->changes, &rw->n);
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
            chan_system(ch, "postgres_changes", "ok", "resumed", extra);
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
        if (event_build(&ev, &rw->changes[i]) == 0) {
            chan_deliver(ch, &ev);
        }
        event_release(&ev);
    }
    if (rw->n > 0) {
        rw->after = rw->changes[rw->n - 1].seq;
    }
    if (ch->cursor < rw->after) {
        ch->cursor = rw->after;
    }
    again = rw->n == RT_RESUME_PAGE || ch->cursor < ch->skipped_max;
    if (!ch->conn || ch->conn->closed) {
        again = false;
    } else if (!again) {
        ch->resuming = false;
        json_t *extra = json_pack("{s:b}", "recovered", rw->recovered);
        chan_system(ch, "postgres_changes", "ok", "resumed", extra);
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
        chan_free(ch);
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

/* ---- join ---- */

static bool json_truthy(const json_t *v)
{
    return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

/* Parse one binding into b and its echo; returns an error message or NULL. */
static const char *binding_parse(const json_t *spec, struct rt_binding *b, char *err, size_t errlen)
{
    b->table = -1;
    b->ops = 0;
    if (!json_is_object(spec)) {
        return "postgres_changes entries must be objects";
    }
    const json_t *ev = json_object_get(spec, "event");
    const json_t *schema = json_object_get(spec, "schema");
    const json_t *table = json_object_get(spec, "table");
    const json_t *filter = json_object_get(spec, "filter");
    uint8_t ops = op_parse(json_string_value(ev));
    if (!ops) {
        return "event must be one of *, INSERT, UPDATE, DELETE";
    }
    if (schema && !json_is_null(schema) &&
        (!json_is_string(schema) || (strcmp(json_string_value(schema), "public") != 0 &&
                                     strcmp(json_string_value(schema), "*") != 0))) {
        return "schema must be public";
    }
    const struct store_table_desc *desc = NULL;
    if (table && !json_is_null(table)) {
        const char *t = json_string_value(table);
        if (!t) {
            return "table must be a string";
        }
        if (strcmp(t, "*") != 0) {
            bool ok = false;
            for (size_t i = 0; i < sizeof table_names_allowed / sizeof *table_names_allowed; i++) {
                ok = ok || strcmp(t, table_names_allowed[i]) == 0;
            }
            desc = ok ? store_table_by_name(t) : NULL;
            if (!desc) {
                snprintf(err, errlen,
                         "Unable to subscribe to changes with given parameters: unknown table "
                         "'%.64s'",
                         t);
                return err;
            }
            b->table = (int8_t)desc->id;
        }
    }
    if (filter && !json_is_null(filter)) {
        if (!json_is_string(filter)) {
            return "filter must be a string";
        }
        if (rt_filter_parse(json_string_value(filter), desc, &b->filter, err, errlen) < 0) {
            return err;
        }
    }
    b->ops = ops;
    return NULL;
}

static void conn_handle_join(struct rt_conn *c, struct phx_msg *m)
{
    struct rt *rt = c->loop->rt;
    const char *topic = m->topic;
    if (strncmp(topic, "realtime:", 9) != 0) {
        conn_reply_reason(c, m, "unmatched topic");
        return;
    }
    if (!topic[9]) {
        conn_reply_reason(c, m, "TopicNameRequired: You must provide a topic name");
        return;
    }
    /* A duplicate join replaces the channel (Phoenix closes the old one first). */
    struct rt_chan *old = conn_find_chan(c, topic);
    if (old) {
        chan_kick(c, old);
    }
    if (c->nchans >= rt->cfg.max_channels) {
        conn_reply_reason(c, m, "too many channels");
        return;
    }
    json_t *config = json_object_get(m->payload, "config");
    json_t *pgs = json_object_get(config, "postgres_changes");
    size_t nb = json_is_array(pgs) ? json_array_size(pgs) : 0;
    if (nb > rt->cfg.max_bindings) {
        conn_reply_reason(c, m, "too many bindings");
        return;
    }
    /* Who joins: the join's access_token, else the connection's apikey. */
    struct policy_principal p;
    int64_t exp_s = 0;
    const char *tok = json_string_value(json_object_get(m->payload, "access_token"));
    if (!tok) {
        tok = json_string_value(json_object_get(m->payload, "user_token"));
    }
    if (tok && *tok && strncmp(tok, "sb_", 3) != 0) {
        const char *why = NULL;
        if (auth_session_check_token_exp(tok, strlen(tok), &p, &exp_s, &why) < 0) {
            char reason[160];
            snprintf(reason, sizeof reason, "InvalidJWTToken: %s", why ? why : "invalid token");
            conn_reply_reason(c, m, reason);
            return;
        }
    } else {
        const char *why = NULL;
        int64_t now_s = clock_now_ms() / 1000;
        if (now_s >= c->exp_s) {
            char reason[160];
            snprintf(reason, sizeof reason, "InvalidJWTToken: Token has expired %lld seconds ago",
                     (long long)(now_s - c->exp_s));
            conn_reply_reason(c, m, reason);
            return;
        }
        if (auth_session_still_valid(&c->p, &why) < 0) {
            char reason[160];
            snprintf(reason, sizeof reason, "InvalidJWTToken: %s", why ? why : "revoked");
            conn_reply_reason(c, m, reason);
            return;
        }
        p = c->p;
        exp_s = c->exp_s;
    }
    const char *tenant = p.client_id;
    const char *dash =
        json_string_value(json_object_get(json_object_get(config, "dashboard"), "client_id"));
    if (p.role == ROLE_SUPER_ADMIN && dash && strlen(dash) < 40) {
        tenant = dash;
    }

    struct rt_chan *ch = chan_new(topic, m->join_ref, nb);
    ch->exp_s = exp_s;
    json_t *bc = json_object_get(config, "broadcast");
    ch->bc_self = json_truthy(json_object_get(bc, "self"));
    ch->bc_ack = json_truthy(json_object_get(bc, "ack"));
    json_t *pres = json_object_get(config, "presence");
    ch->presence_on = json_truthy(json_object_get(pres, "enabled"));
    const char *pkey = json_string_value(json_object_get(pres, "key"));
    if (pkey && *pkey) {
        ch->presence_key = xstrdup(pkey);
    }

    json_t *echo = json_array();
    char errbuf[256];
    const char *first_err = NULL;
    char first_err_buf[256] = "";
    for (size_t i = 0; i < nb; i++) {
        json_t *spec = json_array_get(pgs, i);
        const char *e = binding_parse(spec, &ch->b[i], errbuf, sizeof errbuf);
        ch->b[i].id = ++c->next_bid;
        if (e && !first_err) {
            snprintf(first_err_buf, sizeof first_err_buf, "%s", e);
            first_err = first_err_buf;
        }
        json_t *copy = json_is_object(spec) ? json_deep_copy(spec) : json_object();
        json_object_set_new(copy, "id", json_integer(ch->b[i].id));
        json_array_append_new(echo, copy);
    }

    /* Register first, so the reply goes out only once the subscription is live. */
    ch->conn = c;
    chan_set_principal(ch, &p);
    ch->next = c->chans;
    c->chans = ch;
    c->nchans++;
    group_add(c->loop, ch, tenant);
    if (nb) {
        ch->in_pg = true;
        ch->pg_next = c->loop->pg;
        if (c->loop->pg) {
            c->loop->pg->pg_prev = ch;
        }
        c->loop->pg = ch;
    }
    atomic_fetch_add(&rt->m_chans, 1);

    json_t *resume = json_object_get(config, "resume");
    json_t *since = json_object_get(resume, "since");
    bool resuming = json_is_integer(since) && json_integer_value(since) >= 0;
    if (resuming) {
        ch->resuming = true;
        ch->cursor = json_integer_value(since);
    }

    /* The join is live after this loop's delivered position: every later change will be
     * matched against the channel. The reply says where that is (our extension), so a client
     * that reconnects before its first event can still resume from the right place. */
    int64_t live_seq = atomic_load(&c->loop->delivered_seq);
    if (!resuming) {
        ch->cursor = live_seq;
    }
    json_t *resp = json_pack("{s:o,s:I}", "postgres_changes", echo, "seq",
                             (json_int_t)(resuming ? ch->cursor : live_seq));
    conn_reply(c, m->join_ref, m->ref, topic, "ok", resp);
    json_decref(resp);

    if (ch->presence_on) {
        pthread_mutex_lock(&rt->pres_lock);
        json_t *state = pres_state_locked(rt, tenant, topic);
        pthread_mutex_unlock(&rt->pres_lock);
        char *text = json_encode(state, NULL);
        json_decref(state);
        conn_push(c, ch->join_ref, NULL, topic, "presence_state", text);
        free(text);
    }
    if (nb) {
        if (first_err) {
            chan_system(ch, "postgres_changes", "error", first_err, NULL);
        } else {
            chan_system(ch, "postgres_changes", "ok", "Subscribed to PostgreSQL", NULL);
        }
    }
    if (resuming) {
        atomic_fetch_add(&rt->m_resumes, 1);
        struct resume_work *rw = xcalloc(1, sizeof *rw);
        rw->rt = rt;
        rw->ch = ch;
        rw->since = ch->cursor;
        rw->after = ch->cursor;
        rw->first = true;
        resume_start(c->loop, rw);
    }
}

/* ---- other channel events ---- */

static void conn_handle_access_token(struct rt_conn *c, struct rt_chan *ch, struct phx_msg *m)
{
    const char *tok = json_string_value(json_object_get(m->payload, "access_token"));
    if (!tok || !*tok || strncmp(tok, "sb_", 3) == 0) {
        return;
    }
    struct policy_principal p;
    int64_t exp_s = 0;
    const char *why = NULL;
    char msg[200];
    if (auth_session_check_token_exp(tok, strlen(tok), &p, &exp_s, &why) < 0) {
        snprintf(msg, sizeof msg, "Invalid token: %s", why ? why : "invalid");
    } else {
        const char *tenant = p.role == ROLE_SUPER_ADMIN ? chan_tenant(ch) : p.client_id;
        if (strcmp(tenant, chan_tenant(ch)) == 0) {
            chan_set_principal(ch, &p);
            ch->exp_s = exp_s;
            return;
        }
        snprintf(msg, sizeof msg, "Invalid token: the token belongs to another tenant");
    }
    chan_system(ch, "system", "error", msg, NULL);
    atomic_fetch_add(&c->loop->rt->m_token_closes, 1);
    chan_kick(c, ch);
}

static void conn_active(struct rt_conn *c)
{
    struct rt *rt = c->loop->rt;
    if (rt->conn_hook && c->counted) {
        rt->conn_hook(rt->conn_hook_arg, &c->p, RT_CONN_ACTIVE);
    }
}

static void conn_handle_broadcast(struct rt_conn *c, struct rt_chan *ch, struct phx_msg *m)
{
    struct rt *rt = c->loop->rt;
    conn_active(c);
    const char *ev =
        m->binary_broadcast ? m->bc_event : json_string_value(json_object_get(m->payload, "event"));
    if (!ev) {
        conn_reply_reason(c, m, "broadcast needs an event");
        return;
    }
    if (strcmp(ch->topic, RT_DASHBOARD_TOPIC) == 0) {
        /* Only the server publishes there: nobody may spoof a tenant's dashboard figures. */
        conn_reply_reason(c, m, "realtime:dashboard is read-only");
        return;
    }
    struct rt_fan *f;
    if (m->binary_broadcast && m->bc_encoding == PHX_ENC_BINARY) {
        f = fan_new(chan_tenant(ch), ch->topic, "broadcast", ch->bc_self ? 0 : c->id, NULL, 0);
        size_t len = 0;
        uint8_t *frame = phx_encode_broadcast_binary(ch->topic, ev, NULL, m->bc_payload,
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
        f = fan_new(chan_tenant(ch), ch->topic, "broadcast", ch->bc_self ? 0 : c->id, text, len);
        free(text);
    }
    atomic_fetch_add(&rt->m_broadcasts, 1);
    fan_post(rt, f);
    if (ch->bc_ack && m->ref) {
        conn_reply(c, m->join_ref, m->ref, m->topic, "ok", NULL);
    }
}

static void conn_handle_presence(struct rt_conn *c, struct rt_chan *ch, struct phx_msg *m)
{
    conn_active(c);
    const char *ev = json_string_value(json_object_get(m->payload, "event"));
    if (ev && strcmp(ev, "track") == 0) {
        json_t *fields = json_object_get(m->payload, "payload");
        if (!json_is_object(fields)) {
            conn_reply_reason(c, m, "Presence track payload must be a map");
            return;
        }
        if (!ch->presence_key) {
            /* No key given at join: a random one, made only when presence is used. */
            char u[UUID_STR_LEN];
            uuid_v4(u);
            ch->presence_key = xstrdup(u);
        }
        pres_update(c->loop->rt, ch, fields);
    } else if (ev && strcmp(ev, "untrack") == 0) {
        if (ch->tracked) {
            pres_update(c->loop->rt, ch, NULL);
        }
    } else {
        conn_reply_reason(c, m, "unknown presence event");
        return;
    }
    conn_reply(c, m->join_ref, m->ref, m->topic, "ok", NULL);
}

static void conn_dispatch(struct rt_conn *c, struct phx_msg *m)
{
    if (strcmp(m->topic, "phoenix") == 0) {
        if (strcmp(m->event, "heartbeat") == 0) {
            conn_reply(c, NULL, m->ref, "phoenix", "ok", NULL);
        }
        return;
    }
    if (strcmp(m->event, "phx_join") == 0) {
        conn_handle_join(c, m);
        return;
    }
    struct rt_chan *ch = conn_find_chan(c, m->topic);
    if (strcmp(m->event, "phx_leave") == 0) {
        conn_reply(c, m->join_ref, m->ref, m->topic, "ok", NULL);
        if (ch) {
            chan_kick(c, ch);
        }
        return;
    }
    if (!ch) {
        conn_reply_reason(c, m, "unmatched topic");
        return;
    }
    if (strcmp(m->event, "access_token") == 0) {
        conn_handle_access_token(c, ch, m);
    } else if (strcmp(m->event, "broadcast") == 0) {
        conn_handle_broadcast(c, ch, m);
    } else if (strcmp(m->event, "presence") == 0) {
        conn_handle_presence(c, ch, m);
    } else if (m->ref) {
        conn_reply_reason(c, m, "unknown event");
    }
}

/* ---- connection callbacks ---- */

static void on_message(struct net_conn *nc, void *user, bool binary, const uint8_t *data,
                       size_t len)
{
    struct rt_conn *c = user;
    c->nc = nc;
    if (c->closed) {
        return;
    }
    struct phx_msg m;
    memset(&m, 0, sizeof m);
    int rc;
    if (binary) {
        rc = c->vsn == 2 ? phx_decode_binary(data, len, &m) : SB_E_PROTO;
    } else {
        rc = phx_decode_text(c->vsn, (const char *)data, len, &m);
    }
    if (rc < 0) {
        /* Not a Phoenix message: ignored (the connection stays usable). */
        phx_msg_release(&m);
        return;
    }
    conn_dispatch(c, &m);
    phx_msg_release(&m);
}

/* A connection opens (delta 1) or closes (-1): tenant counts and the connection hook. */
static void conn_count(struct rt *rt, struct rt_conn *c, int delta)
{
    pthread_mutex_lock(&rt->tenants_lock);
    size_t i = 0;
    while (i < rt->ntenants && strcmp(rt->tenants[i].tenant, c->p.client_id) != 0) {
        i++;
    }
    if (i == rt->ntenants) {
        rt->tenants = xrealloc(rt->tenants, (rt->ntenants + 1) * sizeof *rt->tenants);
        memset(&rt->tenants[i], 0, sizeof rt->tenants[i]);
        snprintf(rt->tenants[i].tenant, sizeof rt->tenants[i].tenant, "%s", c->p.client_id);
        rt->ntenants++;
    }
    rt->tenants[i].n += delta;
    pthread_mutex_unlock(&rt->tenants_lock);
    c->counted = delta > 0;
    if (rt->conn_hook) {
        rt->conn_hook(rt->conn_hook_arg, &c->p, delta > 0 ? RT_CONN_OPEN : RT_CONN_CLOSE);
    }
}

void rt_set_conn_hook(struct rt *rt, rt_conn_hook fn, void *arg)
{
    rt->conn_hook = fn;
    rt->conn_hook_arg = arg;
}

int64_t rt_connections(struct rt *rt, const char *client_id)
{
    int64_t n = 0;
    pthread_mutex_lock(&rt->tenants_lock);
    for (size_t i = 0; i < rt->ntenants; i++) {
        if (!client_id || strcmp(rt->tenants[i].tenant, client_id) == 0) {
            n += rt->tenants[i].n;
        }
    }
    pthread_mutex_unlock(&rt->tenants_lock);
    return n;
}

static void conn_free(struct rt_conn *c)
{
    struct rt_loop *l = c->loop;
    if (c->counted) {
        conn_count(l->rt, c, -1);
    }
    while (c->chans) {
        struct rt_chan *ch = c->chans;
        c->chans = ch->next;
        chan_close(l, ch);
    }
    if (c->prev) {
        c->prev->next = c->next;
    } else if (l->conns == c) {
        l->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    atomic_fetch_sub(&l->rt->m_conns, 1);
    free(c);
}

static void reap_cb(uv_timer_t *t)
{
    struct rt_loop *l = t->data;
    while (l->dead) {
        struct rt_conn *c = l->dead;
        l->dead = c->dead_next;
        conn_free(c);
    }
}

static void on_close(struct net_conn *nc, void *user, uint16_t code)
{
    (void)nc;
    (void)code;
    struct rt_conn *c = user;
    struct rt_loop *l = c->loop;
    c->closed = true;
    c->nc = NULL;
    if (!l->timers_on) {
        conn_free(c);
        return;
    }
    c->dead_next = l->dead;
    l->dead = c;
    uv_timer_start(&l->reap_timer, reap_cb, 0, 0);
}

static const struct net_ws_handler rt_handler = {
    .on_message = on_message,
    .on_close = on_close,
};

/* ---- token checks ---- */

static void token_cb(uv_timer_t *t)
{
    struct rt_loop *l = t->data;
    int64_t now_s = clock_now_ms() / 1000;
    for (struct rt_conn *c = l->conns; c; c = c->next) {
        if (c->closed) {
            continue;
        }
        struct rt_chan *next;
        for (struct rt_chan *ch = c->chans; ch; ch = next) {
            next = ch->next;
            char msg[160];
            const char *why = NULL;
            if (now_s >= ch->exp_s) {
                snprintf(msg, sizeof msg, "Token has expired %lld seconds ago",
                         (long long)(now_s - ch->exp_s));
            } else if (auth_session_still_valid(chan_principal(ch), &why) < 0) {
                snprintf(msg, sizeof msg, "Token has been revoked: %s", why ? why : "revoked");
            } else {
                continue;
            }
            chan_system(ch, "system", "error", msg, NULL);
            atomic_fetch_add(&l->rt->m_token_closes, 1);
            chan_kick(c, ch);
        }
        const char *why = NULL;
        if (auth_session_still_valid(&c->p, &why) < 0 && c->nc) {
            /* The apikey's user was disabled or its session revoked: close the socket. */
            net_ws_close(c->nc, WS_CLOSE_AUTH, "token revoked");
        }
    }
}

/* ---- hub ---- */

struct batch_task {
    struct rt_loop *loop;
    struct rt_batch *batch;
};

static void batch_on_loop(void *arg)
{
    struct batch_task *t = arg;
    struct rt_loop *l = t->loop;
    struct rt_batch *b = t->batch;
    free(t);
    for (size_t i = 0; i < b->n; i++) {
        const struct rt_event *ev = &b->ev[i];
        for (struct rt_chan *ch = l->pg; ch; ch = ch->pg_next) {
            if (ch->dead || !ch->conn || ch->conn->closed) {
                continue;
            }
            if (ch->resuming) {
                if (ev->seq > ch->skipped_max) {
                    ch->skipped_max = ev->seq;
                }
                continue;
            }
            if (ev->seq <= ch->cursor) {
                continue;
            }
            ch->cursor = ev->seq;
            chan_deliver(ch, ev);
        }
        atomic_store(&l->delivered_seq, ev->seq);
    }
    batch_unref(b);
}

static void hub_commit_hook(void *arg)
{
    struct rt *rt = arg;
    pthread_mutex_lock(&rt->hub_lock);
    rt->hub_wake = true;
    pthread_cond_signal(&rt->hub_cond);
    pthread_mutex_unlock(&rt->hub_lock);
}

/* Read and post everything after hub_seq. */
static void hub_poll(struct rt *rt)
{
    for (int round = 0; round < 1000; round++) {
        struct store_change *chs = NULL;
        size_t n = 0;
        int64_t after = atomic_load(&rt->hub_seq);
        int rc = store_changes_read(rt->store, after, RT_HUB_PAGE, &chs, &n);
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
        for (size_t i = 0; i < n; i++) {
            auth_session_apply_change(&chs[i]);
            if ((int)chs[i].table >= 0 && chs[i].table < STORE__NTABLES) {
                atomic_fetch_add(&rt->m_table[chs[i].table], 1);
            }
            if (event_build(&b->ev[b->n], &chs[i]) == 0) {
                b->n++;
            }
        }
        int64_t last = chs[n - 1].seq;
        store_changes_free(chs, n);
        atomic_store(&rt->hub_seq, last);
        unsigned nl = rt->nworkers;
        if (b->n == 0 || nl == 0) {
            atomic_store(&b->refs, 1);
            batch_unref(b);
        } else {
            atomic_store(&b->refs, (int)nl);
            for (unsigned i = 0; i < nl; i++) {
                struct rt_loop *l = loop_get(rt, net_server_worker(rt->server, i));
                struct batch_task *t = xmalloc(sizeof *t);
                t->loop = l;
                t->batch = b;
                net_worker_post(l->w, batch_on_loop, t);
            }
        }
        if (n < RT_HUB_PAGE) {
            return;
        }
    }
}

static void *hub_main(void *arg)
{
    struct rt *rt = arg;
    int64_t next_prune = clock_mono_ms() + RT_PRUNE_EVERY_MS;
    pthread_mutex_lock(&rt->hub_lock);
    while (!rt->hub_stop) {
        if (!rt->hub_wake) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (rt->cfg.tail_interval_ms % 1000) * 1000000;
            ts.tv_sec += rt->cfg.tail_interval_ms / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&rt->hub_cond, &rt->hub_lock, &ts);
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

/* ---- public API ---- */

int rt_new(const struct rt_config *cfg, struct store *store, struct rt **out)
{
    struct rt *rt = xcalloc(1, sizeof *rt);
    rt->cfg = *cfg;
    if (!rt->cfg.max_channels) {
        rt->cfg.max_channels = 100;
    }
    if (!rt->cfg.max_bindings) {
        rt->cfg.max_bindings = 100;
    }
    if (rt->cfg.tail_interval_ms <= 0) {
        rt->cfg.tail_interval_ms = 1000;
    }
    if (rt->cfg.retention_ms <= 0) {
        rt->cfg.retention_ms = 24LL * 3600 * 1000;
    }
    if (rt->cfg.token_check_ms <= 0) {
        rt->cfg.token_check_ms = 500;
    }
    rt->store = store;
    pthread_mutex_init(&rt->loops_lock, NULL);
    pthread_mutex_init(&rt->hub_lock, NULL);
    pthread_cond_init(&rt->hub_cond, NULL);
    pthread_mutex_init(&rt->pres_lock, NULL);
    pthread_mutex_init(&rt->tenants_lock, NULL);
    uint64_t base = 0;
    rand_bytes(&base, sizeof base);
    atomic_store(&rt->pres_ref, base >> 8);
    atomic_store(&rt->next_conn_id, 1);
    *out = rt;
    return 0;
}

int rt_start(struct rt *rt, struct net_server *server)
{
    rt->server = server;
    int64_t oldest = 0, head = 0;
    int rc = store_changes_bounds(rt->store, &oldest, &head);
    if (rc < 0) {
        return rc;
    }
    atomic_store(&rt->hub_seq, head);
    unsigned n = net_server_workers(server);
    for (unsigned i = 0; i < n && i < RT_MAX_LOOPS; i++) {
        struct rt_loop *l = loop_get(rt, net_server_worker(server, i));
        atomic_store(&l->delivered_seq, head);
    }
    rt->nworkers = n < RT_MAX_LOOPS ? n : RT_MAX_LOOPS;
    store_set_commit_hook(rt->store, hub_commit_hook, rt);
    if (pthread_create(&rt->hub, NULL, hub_main, rt) != 0) {
        store_set_commit_hook(rt->store, NULL, NULL);
        return SB_E_INTERNAL;
    }
    rt->hub_running = true;
    return 0;
}

void rt_stop(struct rt *rt)
{
    if (!rt || !rt->hub_running) {
        return;
    }
    store_set_commit_hook(rt->store, NULL, NULL);
    pthread_mutex_lock(&rt->hub_lock);
    rt->hub_stop = true;
    pthread_cond_signal(&rt->hub_cond);
    pthread_mutex_unlock(&rt->hub_lock);
    pthread_join(rt->hub, NULL);
    rt->hub_running = false;
}

void rt_free(struct rt *rt)
{
    if (!rt) {
        return;
    }
    rt_stop(rt);
    for (size_t i = 0; i < RT_MAX_LOOPS; i++) {
        struct rt_loop *l = rt->loops[i];
        if (!l) {
            continue;
        }
        l->timers_on = false;
        while (l->dead) {
            struct rt_conn *c = l->dead;
            l->dead = c->dead_next;
            conn_free(c);
        }
        while (l->conns) {
            conn_free(l->conns);
        }
        for (size_t j = 0; j < RT_GROUP_BUCKETS; j++) {
            while (l->groups[j]) {
                struct rt_group *g = l->groups[j];
                l->groups[j] = g->next;
                free(g->topic);
                free(g);
            }
        }
        buf_release(&l->scratch);
        free(l);
    }
    while (rt->pres) {
        struct pres_topic *t = rt->pres;
        rt->pres = t->next;
        while (t->entries) {
            struct pres_entry *e = t->entries;
            t->entries = e->next;
            free(e->key);
            free(e->phx_ref);
            json_decref(e->meta);
            free(e);
        }
        free(t->tenant);
        free(t->topic);
        free(t);
    }
    pthread_mutex_destroy(&rt->loops_lock);
    pthread_mutex_destroy(&rt->hub_lock);
    pthread_cond_destroy(&rt->hub_cond);
    pthread_mutex_destroy(&rt->pres_lock);
    pthread_mutex_destroy(&rt->tenants_lock);
    free(rt->tenants);
    free(rt);
}

void rt_worker_start(struct rt *rt, struct net_worker *w)
{
    struct rt_loop *l = loop_get(rt, w);
    if (!l) {
        return;
    }
    uv_loop_t *loop = net_worker_loop(w);
    uv_timer_init(loop, &l->token_timer);
    uv_timer_init(loop, &l->reap_timer);
    l->token_timer.data = l;
    l->reap_timer.data = l;
    uv_timer_start(&l->token_timer, token_cb, (uint64_t)rt->cfg.token_check_ms,
                   (uint64_t)rt->cfg.token_check_ms);
    l->timers_on = true;
}

void rt_worker_stop(struct rt *rt, struct net_worker *w)
{
    struct rt_loop *l = loop_get(rt, w);
    if (!l || !l->timers_on) {
        return;
    }
    l->timers_on = false;
    l->stopping = true;
    reap_cb(&l->reap_timer);
    uv_close((uv_handle_t *)&l->token_timer, NULL);
    uv_close((uv_handle_t *)&l->reap_timer, NULL);
}

static int query_param(const struct http_slice query, const char *name, struct buf *out)
{
    size_t pos = 0;
    struct http_slice k, v;
    while (http_query_next(query, &pos, &k, &v)) {
        if (k.len == strlen(name) && memcmp(k.ptr, name, k.len) == 0) {
            return http_url_decode(v.ptr, v.len, true, out) < 0 ? SB_E_INVAL : 1;
        }
    }
    return 0;
}

int rt_upgrade(struct rt *rt, struct net_request *req, char *err, size_t errlen)
{
    struct buf key, vsn;
    buf_init(&key, RT_TOKEN_MAX);
    buf_init(&vsn, 16);
    int rc = query_param(req->head.query, "apikey", &key);
    if (rc <= 0) {
        const struct http_slice *h = net_request_header(req, "x-api-key");
        buf_reset(&key);
        rc = h && buf_append(&key, h->ptr, h->len) == 0 ? 1 : 0;
    }
    if (rc <= 0 || key.len == 0) {
        snprintf(err, errlen, "missing apikey");
        rc = SB_E_UNAUTHORIZED;
        goto out;
    }
    struct policy_principal p;
    int64_t exp_s = 0;
    const char *why = NULL;
    if (auth_session_check_token_exp(key.data, key.len, &p, &exp_s, &why) < 0) {
        snprintf(err, errlen, "invalid apikey: %s", why ? why : "invalid token");
        rc = SB_E_UNAUTHORIZED;
        goto out;
    }
    uint8_t v = 1;
    if (query_param(req->head.query, "vsn", &vsn) > 0 && vsn.len && vsn.data[0] == '2') {
        v = 2;
    }
    struct rt_loop *l = loop_get(rt, req->worker);
    if (!l) {
        snprintf(err, errlen, "realtime is not available on this worker");
        rc = SB_E_UNAVAILABLE;
        goto out;
    }
    struct rt_conn *c = xcalloc(1, sizeof *c);
    c->loop = l;
    c->id = atomic_fetch_add(&rt->next_conn_id, 1);
    c->p = p;
    c->exp_s = exp_s;
    c->vsn = v;
    c->next = l->conns;
    if (l->conns) {
        l->conns->prev = c;
    }
    l->conns = c;
    atomic_fetch_add(&rt->m_conns, 1);
    struct net_conn *nc = net_upgrade(req, &rt_handler, c);
    if (nc) {
        c->nc = nc;
        conn_count(rt, c, 1);
    } else if (!c->closed) {
        /* net never took the handler: nothing will call on_close. */
        conn_free(c);
    }
    rc = 0;
out:
    if (key.data) {
        explicit_bzero(key.data, key.len);
    }
    buf_release(&key);
    buf_release(&vsn);
    return rc;
}

void rt_metrics_render(struct rt *rt, struct buf *out)
{
    int64_t hub = atomic_load(&rt->hub_seq);
    int64_t delivered = hub;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct rt_loop *l = rt->loops[i];
        if (l) {
            int64_t d = atomic_load(&l->delivered_seq);
            delivered = d < delivered ? d : delivered;
        }
    }
    struct mallinfo2 mi = mallinfo2();
    (void)buf_printf(
        out,
        "# HELP switchboard_realtime_connections Open realtime connections.\n"
        "# TYPE switchboard_realtime_connections gauge\n"
        "switchboard_realtime_connections %lld\n"
        "# HELP switchboard_realtime_channels Joined realtime channels.\n"
        "# TYPE switchboard_realtime_channels gauge\n"
        "switchboard_realtime_channels %lld\n"
        "# HELP switchboard_realtime_events_delivered_total postgres_changes frames queued.\n"
        "# TYPE switchboard_realtime_events_delivered_total counter\n"
        "switchboard_realtime_events_delivered_total %llu\n"
        "# HELP switchboard_realtime_broadcasts_total Client broadcasts fanned out.\n"
        "# TYPE switchboard_realtime_broadcasts_total counter\n"
        "switchboard_realtime_broadcasts_total %llu\n"
        "# HELP switchboard_realtime_presence_diffs_total Presence diffs fanned out.\n"
        "# TYPE switchboard_realtime_presence_diffs_total counter\n"
        "switchboard_realtime_presence_diffs_total %llu\n"
        "# HELP switchboard_realtime_resume_requests_total Joins with resume.since.\n"
        "# TYPE switchboard_realtime_resume_requests_total counter\n"
        "switchboard_realtime_resume_requests_total %llu\n"
        "# HELP switchboard_realtime_token_closes_total Channels closed for an expired, "
        "revoked or invalid token.\n"
        "# TYPE switchboard_realtime_token_closes_total counter\n"
        "switchboard_realtime_token_closes_total %llu\n"
        "# HELP switchboard_realtime_slow_consumer_drops_total Sends refused because the "
        "outbound queue was full (connection closed with 4008).\n"
        "# TYPE switchboard_realtime_slow_consumer_drops_total counter\n"
        "switchboard_realtime_slow_consumer_drops_total %llu\n"
        "# HELP switchboard_realtime_hub_seq Last change seq read by the hub.\n"
        "# TYPE switchboard_realtime_hub_seq gauge\n"
        "switchboard_realtime_hub_seq %lld\n"
        "# HELP switchboard_realtime_hub_lag Changes read by the hub and not yet processed by "
        "every loop.\n"
        "# TYPE switchboard_realtime_hub_lag gauge\n"
        "switchboard_realtime_hub_lag %lld\n"
        "# HELP switchboard_process_heap_bytes Bytes in use by malloc (mallinfo2).\n"
        "# TYPE switchboard_process_heap_bytes gauge\n"
        "switchboard_process_heap_bytes %llu\n"
        "# HELP switchboard_realtime_table_events_total Changes read from the log, by table.\n"
        "# TYPE switchboard_realtime_table_events_total counter\n",
        (long long)atomic_load(&rt->m_conns), (long long)atomic_load(&rt->m_chans),
        (unsigned long long)atomic_load(&rt->m_delivered),
        (unsigned long long)atomic_load(&rt->m_broadcasts),
        (unsigned long long)atomic_load(&rt->m_presence),
        (unsigned long long)atomic_load(&rt->m_resumes),
        (unsigned long long)atomic_load(&rt->m_token_closes),
        (unsigned long long)atomic_load(&rt->m_slow_drops), (long long)hub,
        (long long)(hub - delivered), (unsigned long long)mi.uordblks);
    for (int t = 0; t < STORE__NTABLES; t++) {
        const struct store_table_desc *d = store_table_desc((enum store_table)t);
        if (d && d->in_changes) {
            (void)buf_printf(out, "switchboard_realtime_table_events_total{table=\"%s\"} %llu\n",
                             d->name, (unsigned long long)atomic_load(&rt->m_table[t]));
        }
    }
}
