/*
 * The realtime engine (DESIGN §7): Phoenix channels over WebSocket as @supabase/realtime-js
 * speaks them, postgres_changes from the change log with tenant policy applied in memory,
 * broadcast, presence, token refresh and expiry, and gap-free resume.
 *
 * Threads: rt_upgrade and every connection callback run on the connection's loop thread.
 * The hub thread reads new changes from the store after each commit (store commit hook) and
 * on a ~1 s tail, hands each page to the change-log consumers (the auth cache, counters, see
 * rt_add_consumer), and posts each event to every loop, where it is matched against that
 * loop's subscribers; the event's data JSON is encoded once and shared.
 */
#ifndef SB_REALTIME_RT_H
#define SB_REALTIME_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "net/net.h"
#include "policy/policy.h"

struct rt;
struct store;
struct store_change;

struct rt_config {
    size_t max_channels;  /* per connection (100) */
    size_t max_bindings;  /* per channel (100) */
    size_t max_sub_bytes; /* postgres_changes specs of all channels of a connection (128 KiB) */
    size_t max_presence_bytes; /* one presence track payload (8 KiB) */
    size_t max_user_conns;     /* WebSocket connections per user (0: unlimited) */
    int64_t tail_interval_ms;  /* poll for changes made by other processes (1000) */
    int64_t retention_ms;      /* change log retention (24 h) */
    int64_t token_check_ms;    /* how often joined channels re-check their token (500) */
    int64_t cluster_lease_ms;  /* a node not heard from for this long is gone (5000) */
};

/* A new engine on store. auth (not owned, outlives rt) verifies every apikey and join token
 * and is kept current by the hub (a change-log consumer added here). */
struct auth_session;
int rt_new(const struct rt_config *cfg, struct store *store, struct auth_session *auth,
           struct rt **out);
/* Start the hub thread; call after net_server_start with the running server. */
int rt_start(struct rt *rt, struct net_server *server);
/* Stop the hub thread (before net_server_stop) and free everything (after it). */
void rt_stop(struct rt *rt);
void rt_free(struct rt *rt);

/* net_hooks per-worker callbacks (per-loop state and timers). */
void rt_worker_start(struct rt *rt, struct net_worker *w);
void rt_worker_stop(struct rt *rt, struct net_worker *w);

/*
 * Handle a WebSocket upgrade request that passed net_ws_check: authenticate the apikey,
 * read vsn, and upgrade. Returns 0 when the request was consumed (upgraded), or a negative
 * error (SB_E_UNAUTHORIZED: answer 401) with a message in err.
 */
int rt_upgrade(struct rt *rt, struct net_request *req, char *err, size_t errlen);

/*
 * Send a server broadcast {type:"broadcast", event, payload} on topic ("realtime:dashboard")
 * to every subscriber of that topic in tenant client_id (NULL: in every tenant), on every
 * loop. payload_json is JSON text (NULL: {}); invalid JSON is ignored. Thread-safe; call
 * after rt_start.
 */
void rt_broadcast_tenant(struct rt *rt, const char *client_id, const char *topic, const char *event,
                         const char *payload_json);

/*
 * A consumer of the change log. The hub reads the log once for everyone: for each page of
 * changes it calls every consumer, in the order they were added, with the page (n >= 1, seq
 * order, every change from rt_start on exactly once), on the hub thread; then it sends the
 * page's events to the WebSocket subscribers. The changes are borrowed for the call and
 * must not be changed. fn must be quick, safe against its own other callers, and must not
 * call into rt. The engine itself adds the auth cache and its per-table counters at rt_new.
 * Add before rt_start; at most RT_MAX_CONSUMERS (SB_E_INVAL beyond).
 */
#define RT_MAX_CONSUMERS 8
typedef void (*rt_changes_fn)(void *arg, const struct store_change *changes, size_t n);
int rt_add_consumer(struct rt *rt, rt_changes_fn fn, void *arg);

/*
 * Connection hook: fn(arg, p, RT_CONN_OPEN) when a realtime connection authenticated as p
 * opens, RT_CONN_CLOSE when it closes, RT_CONN_ACTIVE when its client shows activity (sends a
 * broadcast or a presence track/untrack; heartbeats, joins and token refreshes do not count);
 * on the connection's loop thread, so fn must be quick and thread-safe. Used for
 * presence-driven agent status. Set before rt_start.
 */
enum rt_conn_event { RT_CONN_OPEN, RT_CONN_CLOSE, RT_CONN_ACTIVE };
typedef void (*rt_conn_hook)(void *arg, const struct policy_principal *p, enum rt_conn_event ev);
void rt_set_conn_hook(struct rt *rt, rt_conn_hook fn, void *arg);
/* Live realtime connections of tenant client_id (NULL: all tenants). Thread-safe. */
int64_t rt_connections(struct rt *rt, const char *client_id);

/*
 * Cluster (several nodes on one PostgreSQL database; docs/realtime.md "Cluster"). Agent
 * presence spans nodes: rt_agent_elsewhere(rt, user_id, gone_ms) is true when another live
 * node has a realtime connection of user_id, or lost its last one after gone_ms (wall clock),
 * so that node decides when the agent goes offline. Any thread. When a node dies, one live
 * node (the one with the smallest node id) gets fn(arg, user_id, gone_ms) for each agent the
 * dead node had connected (gone_ms: when it was last heard from) or was still counting a
 * grace for, on the cluster thread; fn must be quick and thread-safe. Set before rt_start.
 */
bool rt_agent_elsewhere(struct rt *rt, const char *user_id, int64_t gone_ms);
typedef void (*rt_orphan_hook)(void *arg, const char *user_id, int64_t gone_ms);
void rt_set_orphan_hook(struct rt *rt, rt_orphan_hook fn, void *arg);

/* Realtime metrics in Prometheus text format. */
void rt_metrics_render(struct rt *rt, struct buf *out);

#endif
