/*
 * The realtime engine: Phoenix channels over WebSocket for @supabase/realtime-js (vsn 1 and
 * 2), postgres_changes fan-out from the change log, broadcast, presence, token refresh and
 * expiry, and gap-free resume (DESIGN §2, §7; docs/realtime.md is the user-facing account).
 *
 * This file is the engine's front: the public API of rt.h (lifecycle, the WebSocket upgrade,
 * metrics), the decoding and dispatch of each client message, and the join, which reads the
 * channel's config (postgres_changes bindings, broadcast and presence options, resume.since)
 * and registers the channel before it replies, so the reply goes out only once the
 * subscription is live. rt_int.h names the other files and their shares of the work.
 *
 * struct rt (process-wide) holds the configuration, the hub thread, the presence registry
 * (one mutex) and atomic metrics. One struct rt_loop per net worker, found by worker index;
 * everything inside an rt_loop is owned by that worker's loop thread.
 */
#include "realtime/rt.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/session.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/rand.h"
#include "realtime/filter.h"
#include "realtime/rt_int.h"

#define RT_TOKEN_MAX 8192

static const char *const table_names_allowed[] = {"clients", "users", "agent_status",
                                                  "system_messages", "audit_logs"};

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
    uint8_t ops = rt_op_parse(json_string_value(ev));
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

/* A join request as its steps read it. */
struct join_req {
    json_t *config; /* payload.config (borrowed from the message) */
    json_t *pgs;    /* config.postgres_changes */
    size_t nb;
    size_t spec_bytes;         /* compact JSON size of pgs */
    struct policy_principal p; /* who joins */
    int64_t exp_s;
    const char *tenant; /* in p or in config */
    bool has_err;       /* some binding was refused: first_err says why */
    char first_err[256];
};

/* Topic and limits. A duplicate join replaces the channel (Phoenix closes the old one
 * first). Replies with the reason and returns false when the join is refused. */
static bool join_admit(struct rt_conn *c, struct phx_msg *m, struct join_req *j)
{
    struct rt *rt = c->loop->rt;
    const char *topic = m->topic;
    if (strncmp(topic, "realtime:", 9) != 0) {
        rt_conn_reply_reason(c, m, "unmatched topic");
        return false;
    }
    if (!topic[9]) {
        rt_conn_reply_reason(c, m, "TopicNameRequired: You must provide a topic name");
        return false;
    }
    struct rt_chan *old = rt_conn_find_chan(c, topic);
    if (old) {
        rt_chan_kick(c, old);
    }
    if (c->nchans >= rt->cfg.max_channels) {
        rt_conn_reply_reason(c, m, "too many channels");
        return false;
    }
    j->config = json_object_get(m->payload, "config");
    j->pgs = json_object_get(j->config, "postgres_changes");
    j->nb = json_is_array(j->pgs) ? json_array_size(j->pgs) : 0;
    if (j->nb > rt->cfg.max_bindings) {
        rt_conn_reply_reason(c, m, "too many bindings");
        return false;
    }
    /* The parsed filters cost about what their text does: bound the text per connection. */
    j->spec_bytes = j->nb ? json_dumpb(j->pgs, NULL, 0, JSON_COMPACT) : 0;
    if (rt->cfg.max_sub_bytes && rt_conn_sub_bytes(c) + j->spec_bytes > rt->cfg.max_sub_bytes) {
        char reason[128];
        snprintf(reason, sizeof reason,
                 "too many subscriptions: postgres_changes specs over %zu bytes on this connection",
                 rt->cfg.max_sub_bytes);
        rt_conn_reply_reason(c, m, reason);
        return false;
    }
    return true;
}

/* Reply "InvalidJWTToken: <why>" to m. */
static void join_refuse_token(struct rt_conn *c, struct phx_msg *m, const char *why)
{
    char reason[160];
    snprintf(reason, sizeof reason, "InvalidJWTToken: %s", why);
    rt_conn_reply_reason(c, m, reason);
}

/* Who joins: the join's access_token, else the connection's apikey; and in which tenant (a
 * super_admin may name one in config.dashboard.client_id). Replies and returns false when
 * the token is invalid, expired or revoked. */
static bool join_principal(struct rt_conn *c, struct phx_msg *m, struct join_req *j)
{
    const char *tok = json_string_value(json_object_get(m->payload, "access_token"));
    if (!tok) {
        tok = json_string_value(json_object_get(m->payload, "user_token"));
    }
    const char *why = NULL;
    if (tok && *tok && strncmp(tok, "sb_", 3) != 0) {
        if (auth_session_check_token_exp(c->loop->rt->auth, tok, strlen(tok), &j->p, &j->exp_s,
                                         &why) < 0) {
            join_refuse_token(c, m, why ? why : "invalid token");
            return false;
        }
    } else {
        int64_t now_s = clock_now_ms() / 1000;
        if (now_s >= c->exp_s) {
            char expired[96];
            snprintf(expired, sizeof expired, "Token has expired %lld seconds ago",
                     (long long)(now_s - c->exp_s));
            join_refuse_token(c, m, expired);
            return false;
        }
        if (auth_session_still_valid(c->loop->rt->auth, c->p, &why) < 0) {
            join_refuse_token(c, m, why ? why : "revoked");
            return false;
        }
        j->p = *c->p;
        j->exp_s = c->exp_s;
    }
    const char *dash =
        json_string_value(json_object_get(json_object_get(j->config, "dashboard"), "client_id"));
    j->tenant = policy_channel_tenant(&j->p, dash);
    if (strcmp(m->topic, RT_DASHBOARD_TOPIC) == 0 && !policy_can_read_metrics(&j->p)) {
        /* The same rule as GET /api/v1/dashboard (403 there). */
        rt_conn_reply_reason(c, m, "Unauthorized: dashboard metrics are for admins");
        return false;
    }
    return true;
}

/* The channel with its broadcast and presence options, not yet registered. */
static struct rt_chan *join_chan_new(struct rt_conn *c, const struct phx_msg *m,
                                     const struct join_req *j)
{
    struct rt_chan *ch = rt_chan_new(c->loop, j->tenant, m->topic, m->join_ref, j->nb);
    json_t *bc = json_object_get(j->config, "broadcast");
    ch->bc_self = json_truthy(json_object_get(bc, "self"));
    ch->bc_ack = json_truthy(json_object_get(bc, "ack"));
    json_t *pres = json_object_get(j->config, "presence");
    ch->presence_on = json_truthy(json_object_get(pres, "enabled"));
    const char *pkey = json_string_value(json_object_get(pres, "key"));
    if (pkey && *pkey) {
        rt_chan_extra(ch)->presence_key = xstrdup(pkey);
    }
    return ch;
}

#define BINDING_ID_MASK ((1u << 27) - 1)

/* The id of binding i of the join: like the real server's (phash2 of the params), a number
 * below 2^27 that depends only on the spec, so every subscriber with the same binding gets the
 * same id and so the same bytes of each change (fanout.c builds one frame per topic and ids).
 * A spec equal to an earlier one of the channel shares its id and matches nothing itself
 * (the twin's id already makes the client fire both); a different spec whose hash collides
 * with an earlier id takes the next free one, so ids tell the channel's bindings apart. */
static uint32_t binding_id(const struct join_req *j, struct rt_chan *ch, size_t i)
{
    const json_t *spec = json_array_get(j->pgs, i);
    char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = text ? hash_str(text) : 0;
    free(text);
    uint32_t id = (uint32_t)(h ^ (h >> 32)) & BINDING_ID_MASK;
    for (size_t k = 0; k < i; k++) {
        if (json_equal(spec, json_array_get(j->pgs, k))) {
            ch->b[i].ops = 0;
            return ch->b[k].id;
        }
    }
    for (bool taken = true; taken;) {
        id = id ? id : 1;
        taken = false;
        for (size_t k = 0; k < i && !taken; k++) {
            taken = ch->b[k].id == id;
        }
        if (taken) {
            id = (id + 1) & BINDING_ID_MASK;
        }
    }
    return id;
}

/* Parse every binding into ch; returns the echo for the reply (each spec with its id). A
 * refused binding stays (ops 0, matches nothing) and the first refusal is kept in j. */
static json_t *join_bindings(struct rt_chan *ch, struct join_req *j)
{
    json_t *echo = json_array();
    char errbuf[256];
    for (size_t i = 0; i < j->nb; i++) {
        json_t *spec = json_array_get(j->pgs, i);
        const char *e = binding_parse(spec, &ch->b[i], errbuf, sizeof errbuf);
        ch->b[i].id = binding_id(j, ch, i);
        if (e && !j->has_err) {
            snprintf(j->first_err, sizeof j->first_err, "%s", e);
            j->has_err = true;
        }
        json_t *copy = json_is_object(spec) ? json_deep_copy(spec) : json_object();
        json_object_set_new(copy, "id", json_integer(ch->b[i].id));
        json_array_append_new(echo, copy);
    }
    return echo;
}

/* Set the channel's cursor and reply ok with the echo (taken). The join is live after this
 * loop's delivered position: every later change will be matched against the channel. The
 * reply says where that is (our extension), so a client that reconnects before its first
 * event can still resume from the right place. Returns whether the join resumes. */
static bool join_reply(struct rt_conn *c, struct phx_msg *m, struct rt_chan *ch,
                       const struct join_req *j, json_t *echo)
{
    json_t *since = json_object_get(json_object_get(j->config, "resume"), "since");
    bool resuming = json_is_integer(since) && json_integer_value(since) >= 0;
    if (resuming) {
        rt_chan_extra(ch); /* skipped_max, written by every batch while it resumes */
        ch->resuming = true;
        ch->cursor = json_integer_value(since);
    }
    int64_t live_seq = atomic_load(&c->loop->delivered_seq);
    if (!resuming) {
        ch->cursor = live_seq;
    }
    json_t *resp = json_pack("{s:o,s:I}", "postgres_changes", echo, "seq",
                             (json_int_t)(resuming ? ch->cursor : live_seq));
    rt_conn_reply(c, m->join_ref, m->ref, m->topic, "ok", resp);
    json_decref(resp);
    return resuming;
}

static void conn_handle_join(struct rt_conn *c, struct phx_msg *m)
{
    struct rt *rt = c->loop->rt;
    struct join_req j = {0};
    if (!join_admit(c, m, &j) || !join_principal(c, m, &j)) {
        return;
    }
    struct rt_chan *ch = join_chan_new(c, m, &j);
    ch->spec_bytes = (uint32_t)j.spec_bytes;
    json_t *echo = join_bindings(ch, &j);
    /* Register first, so the reply goes out only once the subscription is live. */
    rt_conn_add_chan(c, ch, &j.p);
    rt_chan_set_exp(ch, j.exp_s);
    bool resuming = join_reply(c, m, ch, &j, echo);
    if (ch->presence_on) {
        rt_pres_push_state(rt, ch, j.tenant);
    }
    if (j.nb) {
        rt_chan_system(ch, "postgres_changes", j.has_err ? "error" : "ok",
                       j.has_err ? j.first_err : "Subscribed to PostgreSQL", NULL);
    }
    if (resuming) {
        atomic_fetch_add(&rt->m_resumes, 1);
        rt_resume_begin(c->loop, ch);
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
    if (auth_session_check_token_exp(c->loop->rt->auth, tok, strlen(tok), &p, &exp_s, &why) < 0) {
        snprintf(msg, sizeof msg, "Invalid token: %s", why ? why : "invalid");
    } else {
        const char *tenant = policy_channel_tenant(&p, rt_chan_tenant(ch));
        if (strcmp(tenant, rt_chan_tenant(ch)) == 0) {
            rt_chan_set_principal(ch, &p);
            rt_chan_set_exp(ch, exp_s);
            return;
        }
        snprintf(msg, sizeof msg, "Invalid token: the token belongs to another tenant");
    }
    rt_chan_system(ch, "system", "error", msg, NULL);
    atomic_fetch_add(&c->loop->rt->m_token_closes, 1);
    rt_chan_kick(c, ch);
}

static void conn_dispatch(struct rt_conn *c, struct phx_msg *m)
{
    if (strcmp(m->topic, "phoenix") == 0) {
        if (strcmp(m->event, "heartbeat") == 0) {
            rt_conn_reply(c, NULL, m->ref, "phoenix", "ok", NULL);
        }
        return;
    }
    if (strcmp(m->event, "phx_join") == 0) {
        conn_handle_join(c, m);
        return;
    }
    struct rt_chan *ch = rt_conn_find_chan(c, m->topic);
    if (strcmp(m->event, "phx_leave") == 0) {
        rt_conn_reply(c, m->join_ref, m->ref, m->topic, "ok", NULL);
        if (ch) {
            rt_chan_kick(c, ch);
        }
        return;
    }
    if (!ch) {
        rt_conn_reply_reason(c, m, "unmatched topic");
        return;
    }
    if (strcmp(m->event, "access_token") == 0) {
        conn_handle_access_token(c, ch, m);
    } else if (strcmp(m->event, "broadcast") == 0) {
        rt_fan_handle_broadcast(c, ch, m);
    } else if (strcmp(m->event, "presence") == 0) {
        size_t n = c->loop->rt->cfg.max_presence_bytes;
        if (n && json_dumpb(m->payload, NULL, 0, JSON_COMPACT) > n) {
            /* Every later join gets the topic's whole state: one key must not make it huge. */
            char reason[96];
            snprintf(reason, sizeof reason, "presence payload too large (max %zu bytes)", n);
            rt_conn_reply_reason(c, m, reason);
            return;
        }
        rt_pres_handle(c, ch, m);
    } else if (m->ref) {
        rt_conn_reply_reason(c, m, "unknown event");
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

static const struct net_ws_handler rt_handler = {
    .on_message = on_message,
    .on_close = rt_conn_on_close,
};

/* ---- public API ---- */

/* The change-log consumers of the engine itself: the auth cache and per-table counters. */
static void auth_cache_consume(void *arg, const struct store_change *changes, size_t n)
{
    struct auth_session *auth = arg;
    for (size_t i = 0; i < n; i++) {
        auth_session_apply_change(auth, &changes[i]);
    }
}

static void table_counts_consume(void *arg, const struct store_change *changes, size_t n)
{
    struct rt *rt = arg;
    for (size_t i = 0; i < n; i++) {
        if ((int)changes[i].table >= 0 && changes[i].table < STORE__NTABLES) {
            atomic_fetch_add(&rt->m_table[changes[i].table], 1);
        }
    }
}

int rt_new(const struct rt_config *cfg, struct store *store, struct auth_session *auth,
           struct rt **out)
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
    if (rt->cfg.cluster_lease_ms <= 0) {
        rt->cfg.cluster_lease_ms = 5000;
    }
    rt->store = store;
    rt->auth = auth;
    pthread_mutex_init(&rt->loops_lock, NULL);
    pthread_mutex_init(&rt->hub_lock, NULL);
    clock_cond_init(&rt->hub_cond);
    pthread_mutex_init(&rt->pres_lock, NULL);
    pthread_mutex_init(&rt->tenants_lock, NULL);
    uint64_t base = 0;
    rand_bytes(&base, sizeof base);
    atomic_store(&rt->pres_ref, base >> 8);
    atomic_store(&rt->next_conn_id, 1);
    rt_add_consumer(rt, auth_cache_consume, auth);
    rt_add_consumer(rt, table_counts_consume, rt);
    rt_cluster_init(rt);
    *out = rt;
    return 0;
}

int rt_start(struct rt *rt, struct net_server *server)
{
    rt->server = server;
    int64_t head = 0;
    int rc = rt_hub_head(rt, &head);
    if (rc < 0) {
        return rc;
    }
    atomic_store(&rt->hub_seq, head);
    unsigned n = net_server_workers(server);
    for (unsigned i = 0; i < n && i < RT_MAX_LOOPS; i++) {
        struct rt_loop *l = rt_loop_get(rt, net_server_worker(server, i));
        atomic_store(&l->delivered_seq, head);
    }
    rt->nworkers = n < RT_MAX_LOOPS ? n : RT_MAX_LOOPS;
    rc = rt_hub_start(rt);
    return rc < 0 ? rc : rt_cluster_start(rt);
}

void rt_stop(struct rt *rt)
{
    if (!rt) {
        return;
    }
    rt_cluster_stop(rt);
    if (!rt->hub_running) {
        return;
    }
    rt_hub_stop(rt);
}

void rt_free(struct rt *rt)
{
    if (!rt) {
        return;
    }
    rt_stop(rt);
    for (size_t i = 0; i < RT_MAX_LOOPS; i++) {
        if (rt->loops[i]) {
            rt_loop_free(rt->loops[i]);
        }
    }
    rt_cluster_free(rt);
    rt_pres_free_all(rt);
    pthread_mutex_destroy(&rt->loops_lock);
    pthread_mutex_destroy(&rt->hub_lock);
    pthread_cond_destroy(&rt->hub_cond);
    pthread_mutex_destroy(&rt->pres_lock);
    pthread_mutex_destroy(&rt->tenants_lock);
    free(rt->tenants);
    free(rt->users);
    free(rt);
}

void rt_worker_start(struct rt *rt, struct net_worker *w)
{
    struct rt_loop *l = rt_loop_get(rt, w);
    if (l) {
        rt_loop_timers_start(l);
    }
}

void rt_worker_stop(struct rt *rt, struct net_worker *w)
{
    struct rt_loop *l = rt_loop_get(rt, w);
    if (!l || !l->timers_on) {
        return;
    }
    rt_loop_timers_stop(l);
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
    if (auth_session_check_token_exp(rt->auth, key.data, key.len, &p, &exp_s, &why) < 0) {
        snprintf(err, errlen, "invalid apikey: %s", why ? why : "invalid token");
        rc = SB_E_UNAUTHORIZED;
        goto out;
    }
    uint8_t v = 1;
    if (query_param(req->head.query, "vsn", &vsn) > 0 && vsn.len && vsn.data[0] == '2') {
        v = 2;
    }
    struct rt_loop *l = rt_loop_get(rt, req->worker);
    if (!l) {
        snprintf(err, errlen, "realtime is not available on this worker");
        rc = SB_E_UNAVAILABLE;
        goto out;
    }
    if (!rt_user_conn_take(rt, p.user_id)) {
        snprintf(err, errlen, "too many realtime connections for this user (max %zu)",
                 rt->cfg.max_user_conns);
        rc = SB_E_RATELIMIT;
        goto out;
    }
    struct rt_conn *c = xcalloc(1, sizeof *c);
    c->user_counted = true;
    c->loop = l;
    c->id = atomic_fetch_add(&rt->next_conn_id, 1);
    c->p = rt_principal_get(l, &p);
    c->exp_s = rt_exp32(exp_s);
    c->vsn = v;
    c->next = l->conns;
    l->conns = c;
    atomic_fetch_add(&rt->m_conns, 1);
    struct net_conn *nc = net_upgrade(req, &rt_handler, c);
    if (nc) {
        c->nc = nc;
        rt_conn_count(rt, c, 1);
    } else if (!c->closed) {
        /* net never took the handler: nothing will call rt_conn_on_close. */
        rt_conn_free(c);
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

/* jemalloc's control interface when the server is linked with it (SB_JEMALLOC in
 * CMakeLists.txt); NULL under glibc's malloc. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

/* Bytes the process has allocated and not freed: jemalloc's stats.allocated (refreshed by
 * advancing its epoch), else glibc's mallinfo2 (every arena). */
static unsigned long long heap_bytes(void)
{
    if (mallctl) {
        uint64_t epoch = 1;
        size_t len = sizeof epoch;
        size_t allocated = 0;
        size_t alen = sizeof allocated;
        if (mallctl("epoch", &epoch, &len, &epoch, len) == 0 &&
            mallctl("stats.allocated", &allocated, &alen, NULL, 0) == 0) {
            return allocated;
        }
    }
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks;
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
    unsigned long long heap = heap_bytes();
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
        "# HELP switchboard_realtime_change_frames_total postgres_changes frames built: one "
        "serves every subscriber with the same topic, serializer and binding ids.\n"
        "# TYPE switchboard_realtime_change_frames_total counter\n"
        "switchboard_realtime_change_frames_total %llu\n"
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
        "# HELP switchboard_process_heap_bytes Bytes in use by malloc (jemalloc's "
        "stats.allocated, or glibc's mallinfo2).\n"
        "# TYPE switchboard_process_heap_bytes gauge\n"
        "switchboard_process_heap_bytes %llu\n"
        "# HELP switchboard_realtime_table_events_total Changes read from the log, by table.\n"
        "# TYPE switchboard_realtime_table_events_total counter\n",
        (long long)atomic_load(&rt->m_conns), (long long)atomic_load(&rt->m_chans),
        (unsigned long long)atomic_load(&rt->m_delivered),
        (unsigned long long)atomic_load(&rt->m_change_frames),
        (unsigned long long)atomic_load(&rt->m_broadcasts),
        (unsigned long long)atomic_load(&rt->m_presence),
        (unsigned long long)atomic_load(&rt->m_resumes),
        (unsigned long long)atomic_load(&rt->m_token_closes),
        (unsigned long long)atomic_load(&rt->m_slow_drops), (long long)hub,
        (long long)(hub - delivered), heap);
    for (int t = 0; t < STORE__NTABLES; t++) {
        const struct store_table_desc *d = store_table_desc((enum store_table)t);
        if (d && d->in_changes) {
            (void)buf_printf(out, "switchboard_realtime_table_events_total{table=\"%s\"} %llu\n",
                             d->name, (unsigned long long)atomic_load(&rt->m_table[t]));
        }
    }
    rt_cluster_metrics_render(rt, out);
}
