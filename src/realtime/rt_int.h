/*
 * Internal interface of the realtime engine, shared by its files and by nothing outside
 * src/realtime (rt.h is the module's public interface). The engine is split along its seams:
 *
 *   rt_conn.c   the core: per-loop state, connections, channels, sending, token checks
 *   hub.c       the one reader of the change log: events, the hub thread, history pages
 *   fanout.c    (tenant, topic) groups and fan-out of events, broadcasts and presence diffs
 *   presence.c  the presence registry and its diffs
 *   resume.c    gap-free catch-up of a channel joined with resume.since
 *   cluster.c   the cluster bus: broadcasts, presence and agent connections across nodes
 *   rt.c        join, dispatch of Phoenix messages and the public API
 *
 * Threads: everything reachable from a struct rt_loop belongs to that loop's thread; the
 * presence registry and the tenant counts have their own mutexes; struct rt's counters are
 * atomics. Functions below run on the loop thread of their connection or channel unless their
 * comment says otherwise.
 */
#ifndef SB_REALTIME_RT_INT_H
#define SB_REALTIME_RT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "base/buf.h"
#include "net/net.h"
#include "policy/policy.h"
#include "realtime/phx.h"
#include "realtime/rt.h"
#include "store/store.h"

#define RT_MAX_LOOPS 256
#define RT_GROUP_BUCKETS 1024
#define RT_RESUME_PAGE 256 /* changes per history read */
#define RT_PRINCIPAL_BUCKETS 256

enum { OP_INSERT = 1, OP_UPDATE = 2, OP_DELETE = 4, OP_ALL = 7 };

/* Where the server pushes dashboard metrics (DESIGN §7); only it may send there. */
#define RT_DASHBOARD_TOPIC "realtime:dashboard"

/* One change, made by the hub (or a resume read) from the change log's row (rt_event_init).
 * The rest is built at the first delivery that needs it (rt_event_ready, any loop, once) and
 * is immutable afterwards: a change no subscriber's binding names is never parsed. */
struct rt_event {
    int64_t seq;
    int64_t at_ms;
    const struct store_table_desc *desc;
    uint8_t op;
    atomic_bool ready;     /* what follows is built */
    char *record_json;     /* until ready: the row texts */
    char *old_record_json; /* (NULL: none) */
    json_t *record;        /* NULL for DELETE */
    json_t *old_record;    /* NULL for INSERT */
    struct net_shared *data;
    /* Only for an UPDATE that moved the row to another tenant (policy_row_view): */
    struct net_shared *data_in;  /* the row arriving: an INSERT of record */
    struct net_shared *data_out; /* the row leaving: a DELETE of old_record */
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

/* What few channels use, allocated at first use (rt_chan_extra). */
struct rt_chan_extra {
    char *presence_key; /* from the join, or made at the first track */
    /* The channel's own principal when its join or access_token named another token than
     * the connection's apikey; NULL (the usual case) means the connection's. */
    struct policy_principal *own_p;
    int64_t skipped_max; /* highest live seq skipped while resuming */
    int64_t exp_s;       /* with own_exp: the expiry of the channel's own token */
    bool own_exp;
};

/* A joined channel; owned by its connection's loop thread. One allocation: the bindings and
 * the join_ref follow the struct (rt_chan_new; read the join ref with rt_chan_join_ref). Its
 * topic and tenant are its group's, which every channel of the loop on that (tenant, topic)
 * shares; what few channels use is behind x. Every byte here is paid by each subscriber. */
struct rt_chan {
    struct rt_conn *conn; /* NULL once the connection is gone */
    struct rt_chan *next; /* connection's list */
    struct rt_chan *g_prev, *g_next;
    struct rt_group *group;  /* held (one reference) from rt_chan_new to rt_chan_free */
    struct rt_chan_extra *x; /* NULL until needed */
    int64_t cursor;          /* highest change seq considered */
    uint32_t spec_bytes;     /* postgres_changes spec bytes (max_sub_bytes over a connection) */
    uint16_t nb;
    bool has_join_ref : 1;
    bool in_pg : 1; /* has bindings and counts in its group's npg */
    bool bc_self : 1, bc_ack : 1, presence_on : 1;
    bool resuming : 1, busy : 1, dead : 1, tracked : 1;
    struct rt_binding b[]; /* nb entries */
};

/* Channels of one (tenant, topic) on one loop; refs: channels holding it (members, and
 * closed channels a resume read still holds). A group with members that have
 * postgres_changes bindings (npg of them) is in the loop's pg list, which the change fan-out
 * walks; so a channel needs no links of its own for it. */
struct rt_group {
    struct rt_group *next;
    struct rt_chan *head;
    struct rt_loop *loop;
    char *topic;
    struct rt_group *pg_prev, *pg_next;
    uint32_t refs;
    uint32_t npg;
    char tenant[64];
};

static inline const char *rt_chan_topic(const struct rt_chan *ch)
{
    return ch->group->topic;
}

/* NULL when the join had none. */
static inline const char *rt_chan_join_ref(const struct rt_chan *ch)
{
    return ch->has_join_ref ? (const char *)(ch->b + ch->nb) : NULL;
}

struct rt_loop;

/* One WebSocket connection; owned by its loop thread. */
struct rt_conn {
    /* What the fan-out reads for every delivery (closed, id, vsn, nc) shares one cache line. */
    struct rt_loop *loop;
    struct net_conn *nc;
    uint64_t id;
    uint32_t exp_s; /* the apikey's expiry (rt_exp32) */
    uint16_t nchans;
    uint8_t vsn;
    bool counted : 1;      /* announced to the connection hook and the tenant counts */
    bool user_counted : 1; /* holds one of its user's max_user_conns places */
    bool closed : 1;      /* net closed it: reap_cb frees it (it stays in loop->conns until then) */
    struct rt_conn *next; /* loop->conns */
    struct rt_chan *chans;
    /* From the apikey; shared with the loop's other connections of an equal principal
     * (rt_principal_get), never changed. */
    const struct policy_principal *p;
};

/* An expiry in seconds since the epoch as 32 bits: later ones (past 2106) act as 2106. */
static inline uint32_t rt_exp32(int64_t exp_s)
{
    return exp_s <= 0 ? 0 : exp_s >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)exp_s;
}

/* A principal shared by the connections of one loop that present an equal one (the tabs of
 * one user); refs = connections holding it. */
struct rt_principal {
    struct rt_principal *next;
    uint32_t refs;
    struct policy_principal p;
};

struct rt_loop {
    struct rt *rt;
    struct net_worker *w;
    uv_timer_t token_timer;
    uv_timer_t reap_timer;
    bool timers_on;
    bool stopping;
    /* Every connection of the loop, newest first, singly linked (an idle connection pays
     * for one link): closed ones stay until reap_cb, which walks the list while any are. */
    struct rt_conn *conns;
    uint32_t nclosed;
    struct rt_group *pg; /* groups with postgres_changes subscribers */
    struct buf scratch;
    atomic_int_fast64_t delivered_seq;
    struct rt_group *groups[RT_GROUP_BUCKETS];
    struct rt_principal *principals[RT_PRINCIPAL_BUCKETS];
};

/* Live connections of one tenant ("" for super_admins); few tenants, so a flat array. */
struct tenant_count {
    char tenant[64];
    int64_t n;
};

/* Connections of one user (max_user_conns); slots are never emptied, only counted down. */
struct user_count {
    char user_id[40];
    int64_t n;
};

/* Presence registry: (tenant, topic) -> entries; guarded by rt->pres_lock. */
struct pres_entry {
    struct pres_entry *next;
    uint64_t origin;  /* 0: tracked on this node; else the id of the node that tracked it */
    uint64_t conn_id; /* local entries: the tracking connection (0 for remote ones) */
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
    struct auth_session *auth; /* the server's session cache (not owned); fed by the hub */
    struct net_server *server;
    unsigned nworkers;
    pthread_mutex_t loops_lock;
    struct rt_loop *loops[RT_MAX_LOOPS];

    pthread_t hub;
    bool hub_running;
    struct rt_consumer {
        rt_changes_fn fn;
        void *arg;
    } consumers[RT_MAX_CONSUMERS]; /* set before rt_start, read by the hub thread */
    size_t nconsumers;
    pthread_mutex_t hub_lock;
    pthread_cond_t hub_cond;
    bool hub_wake, hub_stop;
    atomic_int_fast64_t hub_seq;

    pthread_mutex_t pres_lock;
    struct pres_topic *pres;
    atomic_uint_fast64_t pres_ref;

    struct rt_cluster *cluster; /* cluster.c; NULL with a database of one node (SQLite) */
    rt_orphan_hook orphan_hook;
    void *orphan_hook_arg;

    rt_conn_hook conn_hook;
    void *conn_hook_arg;
    pthread_mutex_t tenants_lock; /* guards tenants: live connections per tenant */
    struct tenant_count *tenants;
    size_t ntenants;
    struct user_count *users; /* open hash, also under tenants_lock */
    size_t users_cap, users_n;

    atomic_uint_fast64_t next_conn_id;
    atomic_int_fast64_t m_conns, m_chans;
    atomic_uint_fast64_t m_delivered, m_change_frames, m_resumes, m_token_closes, m_broadcasts,
        m_presence, m_slow_drops, m_table[STORE__NTABLES];
};

/* ---- rt_conn.c: loops, connections, channels, sending ---- */

/* The state of worker w's loop, made at first use; NULL past RT_MAX_LOOPS. Any thread. */
struct rt_loop *rt_loop_get(struct rt *rt, struct net_worker *w);
/* Start and stop the loop's token and reap timers (on the loop thread). */
void rt_loop_timers_start(struct rt_loop *l);
void rt_loop_timers_stop(struct rt_loop *l);
/* Free every connection and group of the loop, and the loop (after the server stopped). */
void rt_loop_free(struct rt_loop *l);

/* Send one frame: prefix + shared + suffix; counts a slow-consumer drop. */
void rt_conn_send(struct rt_conn *c, bool binary, const char *prefix, size_t plen,
                  struct net_shared *shared, const char *suffix, size_t slen);
/* Send a whole frame built once for many (net_ws_frame_new): the fan-out's path. */
void rt_conn_send_frame(struct rt_conn *c, struct net_shared *frame);
void rt_conn_push(struct rt_conn *c, const char *join_ref, const char *ref, const char *topic,
                  const char *event, const char *payload_json);
void rt_conn_reply(struct rt_conn *c, const char *join_ref, const char *ref, const char *topic,
                   const char *status, json_t *response);
void rt_conn_reply_reason(struct rt_conn *c, const struct phx_msg *m, const char *reason);
/* Tell the connection hook the client was active. */
void rt_conn_active(struct rt_conn *c);
/* A connection opens (delta 1) or closes (-1): tenant counts and the connection hook. */
void rt_conn_count(struct rt *rt, struct rt_conn *c, int delta);
/* Take one of user_id's max_user_conns places (false: all taken), or give one back. */
bool rt_user_conn_take(struct rt *rt, const char *user_id);
void rt_user_conn_give(struct rt *rt, const char *user_id);
/* Close every channel of c, unlink it from its loop and free it. */
void rt_conn_free(struct rt_conn *c);
size_t rt_conn_sub_bytes(const struct rt_conn *c);
struct rt_chan *rt_conn_find_chan(struct rt_conn *c, const char *topic);
/* Link ch (from rt_chan_new) into c, its (tenant, topic) group and, when it has bindings,
 * the loop's postgres list; ch then acts for p. */
void rt_conn_add_chan(struct rt_conn *c, struct rt_chan *ch, const struct policy_principal *p);
/* The loop's shared copy of p (one reference; give it back with rt_principal_put). */
const struct policy_principal *rt_principal_get(struct rt_loop *l,
                                                const struct policy_principal *p);
void rt_principal_put(struct rt_loop *l, const struct policy_principal *p);
/* net's on_close for realtime connections. */
void rt_conn_on_close(struct net_conn *nc, void *user, uint16_t code);

/* One allocation for the channel, its nb bindings and join_ref; it holds the loop's group of
 * (tenant, topic) but is not a member until rt_conn_add_chan. */
struct rt_chan *rt_chan_new(struct rt_loop *l, const char *tenant, const char *topic,
                            const char *join_ref, size_t nb);
void rt_chan_free(struct rt_chan *ch);
/* ch's rarely used fields, allocated at the first call. */
struct rt_chan_extra *rt_chan_extra(struct rt_chan *ch);
/* When ch's token expires: its own token's, else its connection's (while it lives). */
int64_t rt_chan_exp(const struct rt_chan *ch);
void rt_chan_set_exp(struct rt_chan *ch, int64_t exp_s);
/* Server-side close of a channel: phx_close with ref = join_ref, then drop it. */
void rt_chan_kick(struct rt_conn *c, struct rt_chan *ch);
const char *rt_chan_tenant(const struct rt_chan *ch);
const struct policy_principal *rt_chan_principal(const struct rt_chan *ch);
void rt_chan_set_principal(struct rt_chan *ch, const struct policy_principal *p);
/* A `system` message on ch (join_ref set, ref null); extra's fields are added. */
void rt_chan_system(struct rt_chan *ch, const char *extension, const char *status,
                    const char *message, json_t *extra);

/* ---- hub.c: the change log ---- */

uint8_t rt_op_parse(const char *s);
/* Make the event of a change read by store_changes_read_raw, taking its row texts;
 * SB_E_INVAL for a table or op the engine does not know. */
int rt_event_init(struct rt_event *ev, struct store_change *ch);
/* Build ev's rows and shared frames data once; any thread (each loop of a batch may ask). */
void rt_event_ready(struct rt_event *ev);
void rt_event_release(struct rt_event *ev);
void rt_batch_unref(struct rt_batch *b);
/* The newest seq in the log (0: empty). */
int rt_hub_head(struct rt *rt, int64_t *head);
/* Start the hub thread reading after rt->hub_seq; stop it (joins). */
int rt_hub_start(struct rt *rt);
void rt_hub_stop(struct rt *rt);
/* One page of history after `after` for a resume; any thread (the libuv pool). With
 * check_since, *recovered says whether the log still holds everything after since. */
int rt_hub_read_history(struct rt *rt, bool check_since, int64_t since, int64_t after,
                        bool *recovered, struct store_change **out, size_t *n);

/* ---- fanout.c: groups and fan-out ---- */

/* The loop's group of (tenant, topic), made when missing; one reference for the caller. */
struct rt_group *rt_group_get(struct rt_loop *l, const char *tenant, const char *topic);
void rt_group_put(struct rt_group *g);
/* Make ch (holding its group) a member of it, or no longer one. */
void rt_group_add(struct rt_chan *ch);
void rt_group_remove(struct rt_chan *ch);
void rt_group_free_all(struct rt_loop *l);
/* Send ev to ch when its principal may read the row and a binding matches. */
void rt_chan_deliver(struct rt_chan *ch, struct rt_event *ev);
/* Post b to every loop's postgres subscribers; takes the caller's reference. Any thread. */
void rt_fan_post_batch(struct rt *rt, struct rt_batch *b);
/* A fan for (tenant or NULL: all, topic) with the payload json (len bytes, NULL: none). */
struct rt_fan *rt_fan_new(const char *tenant, const char *topic, const char *event,
                          uint64_t exclude, const char *json, size_t len);
/* Post f to every loop; takes the caller's reference. Any thread. */
void rt_fan_post(struct rt *rt, struct rt_fan *f);
/* A client's broadcast message on ch. */
void rt_fan_handle_broadcast(struct rt_conn *c, struct rt_chan *ch, struct phx_msg *m);

/* ---- presence.c: the presence registry ---- */

/* Track (fields != NULL) or untrack ch's presence; posts the diff. */
void rt_pres_update(struct rt *rt, struct rt_chan *ch, json_t *fields);
/* Push the presence_state of ch's (tenant, topic) to ch. */
void rt_pres_push_state(struct rt *rt, struct rt_chan *ch, const char *tenant);
/* A client's presence message (track / untrack) on ch. */
void rt_pres_handle(struct rt_conn *c, struct rt_chan *ch, struct phx_msg *m);
void rt_pres_free_all(struct rt *rt);

/* Diffs computed under pres_lock, posted after it is released (rt_pres_flush). */
struct rt_pres_post {
    struct rt_pres_post *next;
    char *tenant;
    char *topic;
    json_t *joins, *leaves;
};
/* Post and free every diff of list. */
void rt_pres_flush(struct rt *rt, struct rt_pres_post *list);
/* Remote presence (cluster.c), all with pres_lock held. Apply a presence_diff {joins, leaves}
 * that node origin published for (tenant, topic): entries are known by (origin, phx_ref), so
 * applying one twice changes nothing; what changed is added to *out. */
void rt_pres_remote_diff_locked(struct rt *rt, uint64_t origin, const char *tenant,
                                const char *topic, json_t *joins, json_t *leaves,
                                struct rt_pres_post **out);
/* Make origin's entries equal to state, an array of {t: tenant, c: topic, s: {key: {metas}}}
 * (NULL: none, for a node that is gone); the differences go to *out. */
void rt_pres_remote_replace_locked(struct rt *rt, uint64_t origin, json_t *state,
                                   struct rt_pres_post **out);
/* The local entries as such an array (a snapshot for the other nodes). */
json_t *rt_pres_local_state_locked(struct rt *rt);

/* ---- cluster.c: the bus between nodes (no-ops when rt->cluster is NULL) ---- */

/* Make rt->cluster when the store is shared by nodes (PostgreSQL); from rt_new. */
void rt_cluster_init(struct rt *rt);
/* Start (after the hub: subscribe to the bus, announce this node, heartbeats) and stop (say
 * goodbye, stop the thread, unsubscribe: no bus callback runs after it returns). */
int rt_cluster_start(struct rt *rt);
void rt_cluster_stop(struct rt *rt);
/* After the loops are freed (closing channels still publish nothing then). */
void rt_cluster_free(struct rt *rt);
/* Send a client's broadcast (the fan about to be posted locally, and its message m) to the
 * other nodes. Loop thread. */
void rt_cluster_broadcast(struct rt *rt, const struct rt_fan *f, const struct phx_msg *m);
/* Publish a diff of this node's presence registry; pres_lock held (so the other nodes see
 * diffs in registry order). */
void rt_cluster_pres_diff_locked(struct rt *rt, const char *tenant, const char *topic,
                                 json_t *joins, json_t *leaves);
/* An agent connection of user_id opened (delta 1) or closed (-1) on this node. */
void rt_cluster_agent_conn(struct rt *rt, const char *user_id, int delta);
void rt_cluster_metrics_render(struct rt *rt, struct buf *out);

/* ---- resume.c ---- */

/* Catch ch up from ch->cursor (its resume.since) through the log, then let it go live. */
void rt_resume_begin(struct rt_loop *l, struct rt_chan *ch);

#endif
