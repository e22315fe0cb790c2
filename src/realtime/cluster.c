/*
 * The cluster: several nodes on one PostgreSQL database behave as one for broadcast,
 * presence and agent connections (DESIGN §1 scale-out, docs/realtime.md "Cluster").
 *
 * Transport. The store's bus (store.h: store_bus_publish and the bus hook; NOTIFY with
 * PostgreSQL), which is at most once and keeps each node's publish order. Every message is
 * one compact ASCII JSON object that starts with {"n":"<node id, 16 hex>","k":"<kind>",
 * so a node recognises its own messages (which the bus also hands back) from their first
 * bytes without parsing them:
 *
 *   b  broadcast       t tenant, c topic, x the frame payload text, or e event and y the
 *                      base64 of a binary payload (vsn 2 kind 3)
 *   p  presence diff   v version, t, c, j joins, l leaves (as in presence_diff)
 *   a  agent conns     v version, u user id, c live connections here, g when it reached 0
 *   s  snapshot        v version, st every local presence [{t, c, s: state}], a {user: [c, g]}
 *   h  heartbeat       v version (every heartbeat_ms: a quarter of the lease, at most 1 s)
 *   q  sync request    to: a node id, or absent for every node; the asked send a snapshot
 *   x  goodbye         the node stops (graceful shutdown)
 *
 * Broadcast. A client's broadcast is posted to this node's loops as before (self and ack
 * stay local) and published; every other node posts it to its local subscribers of the same
 * (tenant, topic). The listener thread posts messages to the loops in bus order, so one
 * sender's order per topic holds everywhere. Server broadcasts (dashboard metrics) are not
 * published: each node computes its own.
 *
 * Versions make presence converge over a lossy bus. Each node numbers the presence diffs and
 * agent messages it publishes (version, under rt->pres_lock, where they are made, so bus
 * order is version order); a snapshot carries the version it is current at. A receiver that
 * sees a version skip, or a heartbeat whose version differs from the last one it applied,
 * asks that node for a snapshot (at most once a second) and replaces the node's entries
 * with it; applying a diff or snapshot twice changes nothing (presence.c). After the store's
 * listener reconnected, and after this node's own heartbeats stopped coming back for
 * deaf_ms (half the lease) and then came back, the node asks everyone for
 * snapshots and sends its own.
 *
 * Leases. A node not heard from for lease_ms is gone: its presences leave (every local
 * subscriber gets the leave diffs) and its agents become orphans. While this node cannot hear
 * its own heartbeats (its bus is down) it expires nobody, and when they come back every node
 * gets a fresh lease, so a database restart does not make the nodes declare each other dead.
 * The timings keep that true: a node heard last a heartbeat before our own last echo expires
 * at lease - heartbeat after the outage began at the earliest, later than we turn deaf
 * (deaf_ms + one tick): with heartbeat = lease / 4 and deaf = lease / 2, 3/4 > 1/2 + tick.
 *
 * Agent connections. Each node counts the realtime connections of agents (role agent) per
 * user and publishes every change; rt_agent_elsewhere() answers from the other live nodes'
 * counts, so the svc presence (src/svc/agents.c) sets an agent offline only on the node that
 * saw the last connection go. A gone node's agents are handed (orphan hook) to the live node
 * with the smallest id, which starts their grace; orphans are kept 3 leases, so they are
 * handed over even when the smallest node dies in the meantime.
 *
 * Threads: cl_on_bus runs on the store's listener thread, the heartbeat and lease checks on
 * the cluster thread, the rest on loop threads; everything below "state" is guarded by
 * rt->pres_lock.
 */
#include <pthread.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/rand.h"
#include "realtime/rt_int.h"

#define CL_TICK_MAX_MS 250
#define CL_HEARTBEAT_MAX_MS 1000
#define CL_ASK_EVERY_MS 1000     /* at most one snapshot request per node per second */
#define CL_AGENT_KEEP_MS 3600000 /* forget a zero count after an hour */
#define CL_ID_HEX 16
#define CL_PREFIX "{\"n\":\""
#define CL_PREFIX_LEN 6
#define CL_KIND_AT (CL_PREFIX_LEN + CL_ID_HEX + 7) /* after ","k":" */

/* One agent's connections on one node. */
struct cl_agent {
    struct cl_agent *next;
    char user_id[64];
    int conns;
    int64_t gone_ms; /* wall clock when conns reached 0 */
};

/* A node heard on the bus. */
struct cl_node {
    struct cl_node *next;
    uint64_t id;
    int64_t seen_mono; /* last message */
    int64_t seen_wall;
    uint64_t version; /* the last presence/agent version applied */
    bool synced;      /* a snapshot was applied and no version was skipped since */
    int64_t asked_mono;
    struct cl_agent *agents;
};

/* An agent of a gone node, waiting to be handed to the smallest live node. */
struct cl_orphan {
    struct cl_orphan *next;
    char user_id[64];
    int64_t gone_ms;
    int64_t until_mono;
};

struct rt_cluster {
    uint64_t id;
    char hex[CL_ID_HEX + 1];
    int64_t lease_ms;
    int64_t heartbeat_ms; /* lease / 4, at most CL_HEARTBEAT_MAX_MS */
    int64_t tick_ms;      /* heartbeat / 4, at most CL_TICK_MAX_MS */
    int64_t deaf_ms;      /* own heartbeats missing this long: our bus is down (lease / 2) */
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* guards stop (and the thread's sleep) */
    pthread_cond_t cv;
    bool stop;
    atomic_bool closed; /* stopped: publish nothing more (after the goodbye) */
    /* state, under rt->pres_lock */
    uint64_t version;
    struct cl_agent *agents; /* this node's */
    struct cl_node *nodes;
    struct cl_orphan *orphans;
    int64_t echo_mono; /* when our own heartbeat last came back */
    bool deaf;
    bool resync; /* send a sync request and a snapshot at the next tick */
    uint64_t bus_dropped;
    /* metrics */
    atomic_uint_fast64_t m_bc_out, m_bc_in, m_expired, m_snapshots;
};

/* ---- messages ---- */

static json_t *msg_new(struct rt_cluster *cl, const char *kind)
{
    return json_pack("{s:s,s:s}", "n", cl->hex, "k", kind);
}

/* Publish m (taken). */
static void msg_send(struct rt *rt, json_t *m)
{
    if (atomic_load(&rt->cluster->closed)) {
        json_decref(m);
        return;
    }
    char *text = json_dumps(m, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(m);
    if (text && store_bus_publish(rt->store, text, strlen(text)) < 0) {
        log_warn("cluster: a %zu-byte message is too large for the bus", strlen(text));
    }
    free(text);
}

static struct cl_agent **agent_slot(struct cl_agent **list, const char *user_id)
{
    while (*list && strcmp((*list)->user_id, user_id) != 0) {
        list = &(*list)->next;
    }
    return list;
}

static void agents_free(struct cl_agent *a)
{
    while (a) {
        struct cl_agent *next = a->next;
        free(a);
        a = next;
    }
}

/* A snapshot of this node (pres_lock held). */
static void send_snapshot_locked(struct rt *rt)
{
    struct rt_cluster *cl = rt->cluster;
    json_t *m = msg_new(cl, "s");
    json_t *agents = json_object();
    for (struct cl_agent *a = cl->agents; a; a = a->next) {
        json_object_set_new(agents, a->user_id,
                            json_pack("[i,I]", a->conns, (json_int_t)a->gone_ms));
    }
    json_object_set_new(m, "v", json_integer((json_int_t)cl->version));
    json_object_set_new(m, "st", rt_pres_local_state_locked(rt));
    json_object_set_new(m, "a", agents);
    msg_send(rt, m);
    atomic_fetch_add(&cl->m_snapshots, 1);
}

/* Ask node to (0: every node) for a snapshot. */
static void send_sync_request(struct rt *rt, uint64_t to)
{
    json_t *m = msg_new(rt->cluster, "q");
    if (to) {
        char hex[CL_ID_HEX + 1];
        snprintf(hex, sizeof hex, "%016" PRIx64, to);
        json_object_set_new(m, "to", json_string(hex));
    }
    msg_send(rt, m);
}

/* ---- nodes (pres_lock held) ---- */

static struct cl_node *node_get(struct rt_cluster *cl, uint64_t id)
{
    for (struct cl_node *n = cl->nodes; n; n = n->next) {
        if (n->id == id) {
            return n;
        }
    }
    struct cl_node *n = xcalloc(1, sizeof *n);
    n->id = id;
    n->next = cl->nodes;
    cl->nodes = n;
    log_info("cluster: node %016" PRIx64 " joined", id);
    return n;
}

/* Ask n for a snapshot unless that was done within CL_ASK_EVERY_MS. */
static void node_ask(struct rt *rt, struct cl_node *n, int64_t now)
{
    if (n->asked_mono && now - n->asked_mono < CL_ASK_EVERY_MS) {
        return;
    }
    n->asked_mono = now;
    send_sync_request(rt, n->id);
}

/* A presence or agent message of version v from n: whether it follows the last one. */
static void node_version(struct rt *rt, struct cl_node *n, uint64_t v, int64_t now)
{
    if (!n->synced || v != n->version + 1) {
        n->synced = false;
        node_ask(rt, n, now);
    }
    n->version = v;
}

/* Forget node n (gone or said goodbye): its presences leave, its agents become orphans. */
static void node_drop_locked(struct rt *rt, struct cl_node *n, struct rt_pres_post **out)
{
    struct rt_cluster *cl = rt->cluster;
    rt_pres_remote_replace_locked(rt, n->id, NULL, out);
    int64_t now = clock_mono_ms();
    for (struct cl_agent *a = n->agents; a; a = a->next) {
        if (a->conns == 0 && a->gone_ms == 0) {
            continue;
        }
        struct cl_orphan *o = xcalloc(1, sizeof *o);
        snprintf(o->user_id, sizeof o->user_id, "%s", a->user_id);
        o->gone_ms = a->conns > 0 ? n->seen_wall : a->gone_ms;
        o->until_mono = now + 3 * cl->lease_ms;
        o->next = cl->orphans;
        cl->orphans = o;
    }
    for (struct cl_node **pp = &cl->nodes; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    }
    agents_free(n->agents);
    free(n);
}

/* Set node n's agent counts from a snapshot's {user: [conns, gone_ms]}. */
static void node_set_agents(struct cl_node *n, json_t *agents)
{
    agents_free(n->agents);
    n->agents = NULL;
    const char *user;
    json_t *v;
    json_object_foreach(agents, user, v)
    {
        if (strlen(user) >= sizeof n->agents->user_id) {
            continue;
        }
        struct cl_agent *a = xcalloc(1, sizeof *a);
        snprintf(a->user_id, sizeof a->user_id, "%s", user);
        a->conns = (int)json_integer_value(json_array_get(v, 0));
        a->gone_ms = json_integer_value(json_array_get(v, 1));
        a->next = n->agents;
        n->agents = a;
    }
}

/* ---- receiving (the store's listener thread) ---- */

static void on_broadcast(struct rt *rt, json_t *m)
{
    const char *tenant = json_string_value(json_object_get(m, "t"));
    const char *topic = json_string_value(json_object_get(m, "c"));
    json_t *x = json_object_get(m, "x");
    const char *y = json_string_value(json_object_get(m, "y"));
    const char *ev = json_string_value(json_object_get(m, "e"));
    if (!tenant || !topic) {
        return;
    }
    struct rt_fan *f = NULL;
    if (json_is_string(x)) {
        f = rt_fan_new(tenant, topic, "broadcast", 0, json_string_value(x), json_string_length(x));
    } else if (y && ev) {
        size_t ylen = strlen(y);
        uint8_t *bin = xmalloc(ylen / 4 * 3 + 3);
        size_t blen = 0;
        if (sodium_base642bin(bin, ylen / 4 * 3 + 3, y, ylen, NULL, &blen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0) {
            size_t flen = 0;
            uint8_t *frame =
                phx_encode_broadcast_binary(topic, ev, NULL, bin, blen, PHX_ENC_BINARY, &flen);
            if (frame) {
                f = rt_fan_new(tenant, topic, "broadcast", 0, NULL, 0);
                f->bin = net_shared_new(frame, flen);
                free(frame);
            }
        }
        free(bin);
    }
    if (f) {
        atomic_fetch_add(&rt->cluster->m_bc_in, 1);
        rt_fan_post(rt, f);
    }
}

/* Presence, agent, snapshot, heartbeat, sync and goodbye messages (pres_lock held). */
static void on_state_locked(struct rt *rt, struct cl_node *n, const char *kind, json_t *m,
                            int64_t now, struct rt_pres_post **out)
{
    struct rt_cluster *cl = rt->cluster;
    uint64_t v = (uint64_t)json_integer_value(json_object_get(m, "v"));
    if (strcmp(kind, "p") == 0) {
        const char *tenant = json_string_value(json_object_get(m, "t"));
        const char *topic = json_string_value(json_object_get(m, "c"));
        node_version(rt, n, v, now);
        if (tenant && topic) {
            rt_pres_remote_diff_locked(rt, n->id, tenant, topic, json_object_get(m, "j"),
                                       json_object_get(m, "l"), out);
        }
    } else if (strcmp(kind, "a") == 0) {
        const char *user = json_string_value(json_object_get(m, "u"));
        node_version(rt, n, v, now);
        if (user && strlen(user) < sizeof n->agents->user_id) {
            struct cl_agent **ap = agent_slot(&n->agents, user);
            if (!*ap) {
                *ap = xcalloc(1, sizeof **ap);
                snprintf((*ap)->user_id, sizeof(*ap)->user_id, "%s", user);
            }
            (*ap)->conns = (int)json_integer_value(json_object_get(m, "c"));
            (*ap)->gone_ms = json_integer_value(json_object_get(m, "g"));
        }
    } else if (strcmp(kind, "s") == 0) {
        rt_pres_remote_replace_locked(rt, n->id, json_object_get(m, "st"), out);
        node_set_agents(n, json_object_get(m, "a"));
        n->version = v;
        n->synced = true;
    } else if (strcmp(kind, "h") == 0) {
        if (!n->synced || v != n->version) {
            n->synced = false;
            node_ask(rt, n, now);
        }
    } else if (strcmp(kind, "q") == 0) {
        const char *to = json_string_value(json_object_get(m, "to"));
        if (!to || strcmp(to, cl->hex) == 0) {
            send_snapshot_locked(rt);
        }
    } else if (strcmp(kind, "x") == 0) {
        log_info("cluster: node %016" PRIx64 " left", n->id);
        node_drop_locked(rt, n, out);
    }
}

/* When our bus comes back: everyone gets a fresh lease, and we resynchronise. */
static void bus_back_locked(struct rt_cluster *cl, int64_t now)
{
    for (struct cl_node *n = cl->nodes; n; n = n->next) {
        n->seen_mono = now;
    }
    cl->echo_mono = now;
    cl->deaf = false;
    cl->resync = true;
}

static void cl_on_bus(void *arg, const char *msg, size_t len)
{
    struct rt *rt = arg;
    struct rt_cluster *cl = rt->cluster;
    int64_t now = clock_mono_ms();
    if (!msg) {
        log_info("cluster: bus reconnected, resynchronising");
        pthread_mutex_lock(&rt->pres_lock);
        bus_back_locked(cl, now);
        pthread_mutex_unlock(&rt->pres_lock);
        return;
    }
    if (len > CL_KIND_AT && memcmp(msg, CL_PREFIX, CL_PREFIX_LEN) == 0 &&
        memcmp(msg + CL_PREFIX_LEN, cl->hex, CL_ID_HEX) == 0) {
        if (msg[CL_KIND_AT] == 'h') {
            pthread_mutex_lock(&rt->pres_lock);
            if (cl->deaf) {
                log_info("cluster: own heartbeats are back");
                bus_back_locked(cl, now);
            }
            cl->echo_mono = now;
            pthread_mutex_unlock(&rt->pres_lock);
        }
        return; /* our own message */
    }
    json_t *m = json_loadb(msg, len, 0, NULL);
    const char *hex = json_string_value(json_object_get(m, "n"));
    const char *kind = json_string_value(json_object_get(m, "k"));
    char *end = NULL;
    uint64_t id = hex && strlen(hex) == CL_ID_HEX ? strtoull(hex, &end, 16) : 0;
    if (!kind || !id || !end || *end || id == cl->id) {
        json_decref(m);
        return;
    }
    struct rt_pres_post *out = NULL;
    pthread_mutex_lock(&rt->pres_lock);
    struct cl_node *n = node_get(cl, id);
    n->seen_mono = now;
    n->seen_wall = clock_now_ms();
    if (strcmp(kind, "b") != 0) {
        on_state_locked(rt, n, kind, m, now, &out);
    }
    pthread_mutex_unlock(&rt->pres_lock);
    if (strcmp(kind, "b") == 0) {
        on_broadcast(rt, m);
    }
    rt_pres_flush(rt, out);
    json_decref(m);
}

/* ---- publishing (loop threads) ---- */

void rt_cluster_broadcast(struct rt *rt, const struct rt_fan *f, const struct phx_msg *m)
{
    struct rt_cluster *cl = rt->cluster;
    if (!cl) {
        return;
    }
    json_t *msg = msg_new(cl, "b");
    json_object_set_new(msg, "t", json_string(f->tenant ? f->tenant : ""));
    json_object_set_new(msg, "c", json_string(f->topic));
    if (f->text) {
        json_object_set_new(msg, "x", json_stringn(f->text->data, f->text->len));
    } else if (m->binary_broadcast && m->bc_event) {
        size_t cap = sodium_base64_ENCODED_LEN(m->bc_payload_len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = xmalloc(cap);
        sodium_bin2base64(b64, cap, m->bc_payload, m->bc_payload_len,
                          sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(msg, "e", json_string(m->bc_event));
        json_object_set_new(msg, "y", json_string(b64));
        free(b64);
    } else {
        json_decref(msg);
        return;
    }
    atomic_fetch_add(&cl->m_bc_out, 1);
    msg_send(rt, msg);
}

void rt_cluster_pres_diff_locked(struct rt *rt, const char *tenant, const char *topic,
                                 json_t *joins, json_t *leaves)
{
    struct rt_cluster *cl = rt->cluster;
    if (!cl) {
        return;
    }
    json_t *m = msg_new(cl, "p");
    json_object_set_new(m, "v", json_integer((json_int_t)++cl->version));
    json_object_set_new(m, "t", json_string(tenant));
    json_object_set_new(m, "c", json_string(topic));
    json_object_set(m, "j", joins);
    json_object_set(m, "l", leaves);
    msg_send(rt, m);
}

void rt_cluster_agent_conn(struct rt *rt, const char *user_id, int delta)
{
    struct rt_cluster *cl = rt->cluster;
    if (!cl || !user_id || strlen(user_id) >= sizeof cl->agents->user_id) {
        return;
    }
    pthread_mutex_lock(&rt->pres_lock);
    struct cl_agent **ap = agent_slot(&cl->agents, user_id);
    if (!*ap) {
        *ap = xcalloc(1, sizeof **ap);
        snprintf((*ap)->user_id, sizeof(*ap)->user_id, "%s", user_id);
    }
    struct cl_agent *a = *ap;
    a->conns += delta;
    if (a->conns < 0) {
        a->conns = 0;
    }
    if (a->conns == 0) {
        a->gone_ms = clock_now_ms();
    }
    json_t *m = msg_new(cl, "a");
    json_object_set_new(m, "v", json_integer((json_int_t)++cl->version));
    json_object_set_new(m, "u", json_string(user_id));
    json_object_set_new(m, "c", json_integer(a->conns));
    json_object_set_new(m, "g", json_integer((json_int_t)a->gone_ms));
    msg_send(rt, m);
    pthread_mutex_unlock(&rt->pres_lock);
}

bool rt_agent_elsewhere(struct rt *rt, const char *user_id, int64_t gone_ms)
{
    struct rt_cluster *cl = rt ? rt->cluster : NULL;
    if (!cl) {
        return false;
    }
    bool elsewhere = false;
    pthread_mutex_lock(&rt->pres_lock);
    for (struct cl_node *n = cl->nodes; n && !elsewhere; n = n->next) {
        struct cl_agent *a = *agent_slot(&n->agents, user_id);
        elsewhere = a && (a->conns > 0 || a->gone_ms > gone_ms);
    }
    pthread_mutex_unlock(&rt->pres_lock);
    return elsewhere;
}

void rt_set_orphan_hook(struct rt *rt, rt_orphan_hook fn, void *arg)
{
    rt->orphan_hook = fn;
    rt->orphan_hook_arg = arg;
}

/* ---- the cluster thread: heartbeats and leases ---- */

/* Whether this node has the smallest id among the live ones (pres_lock held). */
static bool is_smallest_locked(struct rt_cluster *cl)
{
    for (struct cl_node *n = cl->nodes; n; n = n->next) {
        if (n->id < cl->id) {
            return false;
        }
    }
    return true;
}

static void tick(struct rt *rt, int64_t *next_beat)
{
    struct rt_cluster *cl = rt->cluster;
    int64_t now = clock_mono_ms();
    struct rt_pres_post *out = NULL;
    struct cl_orphan *adopt = NULL;
    struct store_bus_stats st;
    store_bus_stats(rt->store, &st);
    pthread_mutex_lock(&rt->pres_lock);
    if (!cl->deaf && now - cl->echo_mono > cl->deaf_ms) {
        cl->deaf = true;
        log_warn("cluster: own heartbeats do not come back; no node expires until they do");
    }
    if (st.dropped != cl->bus_dropped) {
        cl->bus_dropped = st.dropped; /* some of our messages were lost: resend our state */
        send_snapshot_locked(rt);
    }
    if (cl->resync) {
        cl->resync = false;
        send_sync_request(rt, 0);
        send_snapshot_locked(rt);
    }
    for (struct cl_node *n = cl->nodes, *next; n && !cl->deaf; n = next) {
        next = n->next;
        if (now - n->seen_mono > cl->lease_ms) {
            log_warn("cluster: node %016" PRIx64 " not heard from for %lld ms: gone", n->id,
                     (long long)(now - n->seen_mono));
            atomic_fetch_add(&cl->m_expired, 1);
            node_drop_locked(rt, n, &out);
        }
    }
    if (now >= *next_beat) {
        *next_beat = now + cl->heartbeat_ms;
        json_t *m = msg_new(cl, "h");
        json_object_set_new(m, "v", json_integer((json_int_t)cl->version));
        msg_send(rt, m);
    }
    int64_t wall = clock_now_ms();
    for (struct cl_agent **ap = &cl->agents; *ap;) {
        struct cl_agent *a = *ap;
        if (a->conns == 0 && wall - a->gone_ms > CL_AGENT_KEEP_MS) {
            *ap = a->next;
            free(a);
        } else {
            ap = &a->next;
        }
    }
    if (cl->orphans && !cl->deaf && is_smallest_locked(cl)) {
        adopt = cl->orphans;
        cl->orphans = NULL;
    }
    for (struct cl_orphan **op = &cl->orphans; *op;) {
        struct cl_orphan *o = *op;
        if (now > o->until_mono) {
            *op = o->next;
            free(o);
        } else {
            op = &o->next;
        }
    }
    pthread_mutex_unlock(&rt->pres_lock);
    rt_pres_flush(rt, out);
    while (adopt) {
        struct cl_orphan *o = adopt;
        adopt = o->next;
        if (rt->orphan_hook) {
            rt->orphan_hook(rt->orphan_hook_arg, o->user_id, o->gone_ms);
        }
        free(o);
    }
}

static void *cl_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sb-cluster");
    struct rt *rt = arg;
    struct rt_cluster *cl = rt->cluster;
    int64_t next_beat = 0;
    pthread_mutex_lock(&cl->mu);
    while (!cl->stop) {
        pthread_mutex_unlock(&cl->mu);
        tick(rt, &next_beat);
        pthread_mutex_lock(&cl->mu);
        if (cl->stop) {
            break;
        }
        clock_cond_wait_ms(&cl->cv, &cl->mu, cl->tick_ms);
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

/* ---- lifecycle ---- */

void rt_cluster_init(struct rt *rt)
{
    if (strcmp(store_backend(rt->store), "postgres") != 0) {
        return; /* one node: nothing to share */
    }
    struct rt_cluster *cl = xcalloc(1, sizeof *cl);
    do {
        rand_bytes(&cl->id, sizeof cl->id);
    } while (cl->id == 0);
    snprintf(cl->hex, sizeof cl->hex, "%016" PRIx64, cl->id);
    cl->lease_ms = rt->cfg.cluster_lease_ms;
    cl->heartbeat_ms =
        cl->lease_ms / 4 < CL_HEARTBEAT_MAX_MS ? cl->lease_ms / 4 : CL_HEARTBEAT_MAX_MS;
    cl->heartbeat_ms = cl->heartbeat_ms < 50 ? 50 : cl->heartbeat_ms;
    cl->tick_ms = cl->heartbeat_ms / 4 < CL_TICK_MAX_MS ? cl->heartbeat_ms / 4 : CL_TICK_MAX_MS;
    cl->deaf_ms = cl->lease_ms / 2;
    cl->resync = true; /* the first tick announces us and asks for everyone's state */
    pthread_mutex_init(&cl->mu, NULL);
    clock_cond_init(&cl->cv);
    rt->cluster = cl;
}

int rt_cluster_start(struct rt *rt)
{
    struct rt_cluster *cl = rt->cluster;
    if (!cl) {
        return 0;
    }
    pthread_mutex_lock(&rt->pres_lock);
    cl->echo_mono = clock_mono_ms();
    pthread_mutex_unlock(&rt->pres_lock);
    store_set_bus_hook(rt->store, cl_on_bus, rt);
    if (pthread_create(&cl->thread, NULL, cl_main, rt) != 0) {
        store_set_bus_hook(rt->store, NULL, NULL);
        return SB_E_INTERNAL;
    }
    cl->running = true;
    log_info("cluster: node %s, lease %lld ms", cl->hex, (long long)cl->lease_ms);
    return 0;
}

void rt_cluster_stop(struct rt *rt)
{
    struct rt_cluster *cl = rt->cluster;
    if (!cl || !cl->running) {
        return;
    }
    pthread_mutex_lock(&cl->mu);
    cl->stop = true;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    pthread_join(cl->thread, NULL);
    cl->running = false;
    store_set_bus_hook(rt->store, NULL, NULL);
    msg_send(rt, msg_new(cl, "x"));
    atomic_store(&cl->closed, true);
}

void rt_cluster_free(struct rt *rt)
{
    struct rt_cluster *cl = rt->cluster;
    if (!cl) {
        return;
    }
    rt_cluster_stop(rt);
    agents_free(cl->agents);
    while (cl->nodes) {
        struct cl_node *n = cl->nodes;
        cl->nodes = n->next;
        agents_free(n->agents);
        free(n);
    }
    while (cl->orphans) {
        struct cl_orphan *o = cl->orphans;
        cl->orphans = o->next;
        free(o);
    }
    pthread_mutex_destroy(&cl->mu);
    pthread_cond_destroy(&cl->cv);
    free(cl);
    rt->cluster = NULL;
}

void rt_cluster_metrics_render(struct rt *rt, struct buf *out)
{
    struct rt_cluster *cl = rt->cluster;
    if (!cl) {
        return;
    }
    struct store_bus_stats st;
    store_bus_stats(rt->store, &st);
    int64_t nodes = 1;
    pthread_mutex_lock(&rt->pres_lock);
    for (struct cl_node *n = cl->nodes; n; n = n->next) {
        nodes++;
    }
    pthread_mutex_unlock(&rt->pres_lock);
    (void)buf_printf(
        out,
        "# HELP switchboard_cluster_nodes Live nodes as this node sees them (itself included).\n"
        "# TYPE switchboard_cluster_nodes gauge\n"
        "switchboard_cluster_nodes %lld\n"
        "# HELP switchboard_cluster_nodes_expired_total Nodes whose lease ran out.\n"
        "# TYPE switchboard_cluster_nodes_expired_total counter\n"
        "switchboard_cluster_nodes_expired_total %llu\n"
        "# HELP switchboard_cluster_broadcasts_sent_total Client broadcasts published to other "
        "nodes.\n"
        "# TYPE switchboard_cluster_broadcasts_sent_total counter\n"
        "switchboard_cluster_broadcasts_sent_total %llu\n"
        "# HELP switchboard_cluster_broadcasts_received_total Broadcasts of other nodes fanned "
        "out here.\n"
        "# TYPE switchboard_cluster_broadcasts_received_total counter\n"
        "switchboard_cluster_broadcasts_received_total %llu\n"
        "# HELP switchboard_cluster_snapshots_sent_total Presence snapshots published.\n"
        "# TYPE switchboard_cluster_snapshots_sent_total counter\n"
        "switchboard_cluster_snapshots_sent_total %llu\n"
        "# HELP switchboard_bus_published_total Messages queued on the cluster bus.\n"
        "# TYPE switchboard_bus_published_total counter\n"
        "switchboard_bus_published_total %llu\n"
        "# HELP switchboard_bus_dropped_total Bus messages lost (queue full, failed send).\n"
        "# TYPE switchboard_bus_dropped_total counter\n"
        "switchboard_bus_dropped_total %llu\n"
        "# HELP switchboard_bus_notifies_total NOTIFY payloads sent.\n"
        "# TYPE switchboard_bus_notifies_total counter\n"
        "switchboard_bus_notifies_total %llu\n"
        "# HELP switchboard_bus_spilled_total Bus messages sent through bus_spill.\n"
        "# TYPE switchboard_bus_spilled_total counter\n"
        "switchboard_bus_spilled_total %llu\n"
        "# HELP switchboard_bus_received_total Bus messages received (own included).\n"
        "# TYPE switchboard_bus_received_total counter\n"
        "switchboard_bus_received_total %llu\n"
        "# HELP switchboard_bus_reconnects_total Bus connections re-established.\n"
        "# TYPE switchboard_bus_reconnects_total counter\n"
        "switchboard_bus_reconnects_total %llu\n"
        "# HELP switchboard_bus_queue_bytes Bytes waiting to be published.\n"
        "# TYPE switchboard_bus_queue_bytes gauge\n"
        "switchboard_bus_queue_bytes %llu\n",
        (long long)nodes, (unsigned long long)atomic_load(&cl->m_expired),
        (unsigned long long)atomic_load(&cl->m_bc_out),
        (unsigned long long)atomic_load(&cl->m_bc_in),
        (unsigned long long)atomic_load(&cl->m_snapshots), (unsigned long long)st.published,
        (unsigned long long)st.dropped, (unsigned long long)st.notifies,
        (unsigned long long)st.spilled, (unsigned long long)st.received,
        (unsigned long long)st.reconnects, (unsigned long long)st.queue_bytes);
}
