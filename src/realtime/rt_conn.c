/*
 * The realtime core: per-loop state, connections, channels and sending.
 *
 * One struct rt_loop per net worker holds that loop's connections (a doubly linked list),
 * its postgres list (channels with bindings, walked by every event batch), its group table
 * (fanout.c) and a scratch buffer for frame prefixes; all of it belongs to the loop thread.
 * A channel is one allocation with its bindings, topic and join_ref behind the struct; it is
 * linked into its connection's list, its (tenant, topic) group and maybe the postgres list,
 * and rt_chan_close undoes all three. A channel with resume work in flight (busy) is only
 * marked dead; resume.c frees it when the work returns.
 *
 * net may call rt_conn_on_close from inside net_ws_send (slow consumer), so rt_conn_on_close only
 * marks the connection and queues it; a zero-delay timer reaps it outside every callback of ours
 * (Redis' rule). A per-loop timer re-checks every channel's principal (auth cache) and expiry
 * every token_check_ms and closes failing channels with a `system` error and phx_close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/session.h"
#include "base/alloc.h"
#include "base/hash.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "realtime/filter.h"
#include "realtime/rt_int.h"

#define RT_SCRATCH_MAX (64 * 1024)

/* ---- loops ---- */

struct rt_loop *rt_loop_get(struct rt *rt, struct net_worker *w)
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

/* ---- shared principals ---- */

static bool principal_eq(const struct policy_principal *a, const struct policy_principal *b)
{
    return a->role == b->role && a->iat == b->iat && strcmp(a->user_id, b->user_id) == 0 &&
           strcmp(a->client_id, b->client_id) == 0 && strcmp(a->sid, b->sid) == 0;
}

static unsigned principal_bucket(const struct policy_principal *p)
{
    uint64_t h = hash_str_more(hash_str(p->user_id), p->sid);
    h = (h ^ (uint64_t)p->iat) * 1099511628211ULL;
    return (unsigned)(h % RT_PRINCIPAL_BUCKETS);
}

const struct policy_principal *rt_principal_get(struct rt_loop *l, const struct policy_principal *p)
{
    struct rt_principal **head = &l->principals[principal_bucket(p)];
    for (struct rt_principal *e = *head; e; e = e->next) {
        if (principal_eq(&e->p, p)) {
            e->refs++;
            return &e->p;
        }
    }
    struct rt_principal *e = xmalloc(sizeof *e);
    e->refs = 1;
    e->p = *p;
    e->next = *head;
    *head = e;
    return &e->p;
}

void rt_principal_put(struct rt_loop *l, const struct policy_principal *p)
{
    struct rt_principal **pp = &l->principals[principal_bucket(p)];
    while (*pp && &(*pp)->p != p) {
        pp = &(*pp)->next;
    }
    struct rt_principal *e = *pp;
    if (e && --e->refs == 0) {
        *pp = e->next;
        free(e);
    }
}

/* ---- sending ---- */

void rt_conn_send(struct rt_conn *c, bool binary, const char *prefix, size_t plen,
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

void rt_conn_send_frame(struct rt_conn *c, struct net_shared *frame)
{
    if (c->closed || !c->nc) {
        return;
    }
    if (net_ws_send_frame(c->nc, frame) == SB_E_AGAIN) {
        atomic_fetch_add(&c->loop->rt->m_slow_drops, 1);
    }
}

/* Push event with payload_json (NULL: {}) on topic. */
void rt_conn_push(struct rt_conn *c, const char *join_ref, const char *ref, const char *topic,
                  const char *event, const char *payload_json)
{
    size_t len = 0;
    char *frame = phx_encode_text(c->vsn, join_ref, ref, topic, event, payload_json, &len);
    if (frame) {
        rt_conn_send(c, false, frame, len, NULL, NULL, 0);
        free(frame);
    }
}

void rt_conn_reply(struct rt_conn *c, const char *join_ref, const char *ref, const char *topic,
                   const char *status, json_t *response)
{
    char *payload = phx_reply_payload(status, response);
    if (payload) {
        rt_conn_push(c, join_ref, ref, topic, "phx_reply", payload);
        free(payload);
    }
}

void rt_conn_reply_reason(struct rt_conn *c, const struct phx_msg *m, const char *reason)
{
    json_t *resp = json_pack("{s:s}", "reason", reason);
    rt_conn_reply(c, m->join_ref, m->ref, m->topic, "error", resp);
    json_decref(resp);
}

static const char *subtopic(const char *topic)
{
    return strncmp(topic, "realtime:", 9) == 0 ? topic + 9 : topic;
}

/* A `system` message on ch (join_ref set, ref null). */
void rt_chan_system(struct rt_chan *ch, const char *extension, const char *status,
                    const char *message, json_t *extra)
{
    json_t *p = json_pack("{s:s,s:s,s:s,s:s}", "extension", extension, "status", status, "message",
                          message, "channel", subtopic(rt_chan_topic(ch)));
    if (extra) {
        json_object_update(p, extra);
    }
    char *text = json_encode(p, NULL);
    json_decref(p);
    rt_conn_push(ch->conn, rt_chan_join_ref(ch), NULL, rt_chan_topic(ch), "system", text);
    free(text);
}

/* ---- channels ---- */

const char *rt_chan_tenant(const struct rt_chan *ch)
{
    return ch->group->tenant;
}

struct rt_chan_extra *rt_chan_extra(struct rt_chan *ch)
{
    if (!ch->x) {
        ch->x = xcalloc(1, sizeof *ch->x);
    }
    return ch->x;
}

/* Who the channel acts for; only while its connection lives (callers check ch->conn). */
const struct policy_principal *rt_chan_principal(const struct rt_chan *ch)
{
    return ch->x && ch->x->own_p ? ch->x->own_p : ch->conn->p;
}

void rt_chan_set_principal(struct rt_chan *ch, const struct policy_principal *p)
{
    if (ch->x) {
        free(ch->x->own_p);
        ch->x->own_p = NULL;
    }
    if (memcmp(p, ch->conn->p, sizeof *p) != 0) {
        struct rt_chan_extra *x = rt_chan_extra(ch);
        x->own_p = xmalloc(sizeof *p);
        *x->own_p = *p;
    }
}

/* Only while its connection lives (callers check ch->conn). */
int64_t rt_chan_exp(const struct rt_chan *ch)
{
    return ch->x && ch->x->own_exp ? ch->x->exp_s : (int64_t)ch->conn->exp_s;
}

/* After rt_conn_add_chan (the connection's expiry is the usual one). */
void rt_chan_set_exp(struct rt_chan *ch, int64_t exp_s)
{
    if (rt_exp32(exp_s) == ch->conn->exp_s) {
        if (ch->x) {
            ch->x->own_exp = false;
        }
        return;
    }
    struct rt_chan_extra *x = rt_chan_extra(ch);
    x->own_exp = true;
    x->exp_s = exp_s;
}

struct rt_chan *rt_chan_new(struct rt_loop *l, const char *tenant, const char *topic,
                            const char *join_ref, size_t nb)
{
    size_t jl = join_ref ? strlen(join_ref) + 1 : 0;
    struct rt_chan *ch = xcalloc(1, sizeof *ch + nb * sizeof ch->b[0] + jl);
    ch->nb = (uint16_t)nb;
    ch->group = rt_group_get(l, tenant, topic);
    if (join_ref) {
        memcpy(ch->b + nb, join_ref, jl);
        ch->has_join_ref = true;
    }
    return ch;
}

void rt_chan_free(struct rt_chan *ch)
{
    for (uint16_t i = 0; i < ch->nb; i++) {
        rt_filter_free(ch->b[i].filter);
    }
    if (ch->x) {
        free(ch->x->own_p);
        free(ch->x->presence_key);
        free(ch->x);
    }
    rt_group_put(ch->group);
    free(ch);
}

/* Remove ch from every index (the caller unlinked it from its connection) and free it, or
 * leave it to the resume work in flight. */
static void chan_close(struct rt_loop *l, struct rt_chan *ch)
{
    if (ch->tracked) {
        rt_pres_update(l->rt, ch, NULL);
    }
    rt_group_remove(ch);
    atomic_fetch_sub(&l->rt->m_chans, 1);
    ch->conn = NULL;
    ch->dead = true;
    if (!ch->busy) {
        rt_chan_free(ch);
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
void rt_chan_kick(struct rt_conn *c, struct rt_chan *ch)
{
    rt_conn_push(c, rt_chan_join_ref(ch), rt_chan_join_ref(ch), rt_chan_topic(ch), "phx_close",
                 "{}");
    conn_drop_chan(c, ch);
}

struct rt_chan *rt_conn_find_chan(struct rt_conn *c, const char *topic)
{
    for (struct rt_chan *ch = c->chans; ch; ch = ch->next) {
        if (strcmp(rt_chan_topic(ch), topic) == 0) {
            return ch;
        }
    }
    return NULL;
}

void rt_conn_add_chan(struct rt_conn *c, struct rt_chan *ch, const struct policy_principal *p)
{
    struct rt_loop *l = c->loop;
    ch->conn = c;
    rt_chan_set_principal(ch, p);
    ch->next = c->chans;
    c->chans = ch;
    c->nchans++;
    rt_group_add(ch);
    atomic_fetch_add(&l->rt->m_chans, 1);
}

/* ---- connections ---- */

void rt_conn_active(struct rt_conn *c)
{
    struct rt *rt = c->loop->rt;
    if (rt->conn_hook && c->counted) {
        rt->conn_hook(rt->conn_hook_arg, c->p, RT_CONN_ACTIVE);
    }
}

/* A connection opens (delta 1) or closes (-1): tenant counts and the connection hook. */
void rt_conn_count(struct rt *rt, struct rt_conn *c, int delta)
{
    pthread_mutex_lock(&rt->tenants_lock);
    size_t i = 0;
    while (i < rt->ntenants && strcmp(rt->tenants[i].tenant, c->p->client_id) != 0) {
        i++;
    }
    if (i == rt->ntenants) {
        rt->tenants = xrealloc(rt->tenants, (rt->ntenants + 1) * sizeof *rt->tenants);
        memset(&rt->tenants[i], 0, sizeof rt->tenants[i]);
        snprintf(rt->tenants[i].tenant, sizeof rt->tenants[i].tenant, "%s", c->p->client_id);
        rt->ntenants++;
    }
    rt->tenants[i].n += delta;
    pthread_mutex_unlock(&rt->tenants_lock);
    c->counted = delta > 0;
    if (c->p->role == ROLE_AGENT) {
        rt_cluster_agent_conn(rt, c->p->user_id, delta);
    }
    if (rt->conn_hook) {
        rt->conn_hook(rt->conn_hook_arg, c->p, delta > 0 ? RT_CONN_OPEN : RT_CONN_CLOSE);
    }
}

/* The slot of user_id in rt->users (cap a power of two); caller holds tenants_lock. */
static struct user_count *user_slot(struct user_count *tab, size_t cap, const char *user_id)
{
    size_t i = hash_str(user_id) & (cap - 1);
    while (tab[i].user_id[0] && strcmp(tab[i].user_id, user_id) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return &tab[i];
}

bool rt_user_conn_take(struct rt *rt, const char *user_id)
{
    if (!rt->cfg.max_user_conns || !user_id[0]) {
        return true;
    }
    pthread_mutex_lock(&rt->tenants_lock);
    if ((rt->users_n + 1) * 2 > rt->users_cap) {
        size_t cap = rt->users_cap ? rt->users_cap * 2 : 64;
        struct user_count *tab = xcalloc(cap, sizeof *tab);
        for (size_t i = 0; i < rt->users_cap; i++) {
            if (rt->users[i].user_id[0]) {
                *user_slot(tab, cap, rt->users[i].user_id) = rt->users[i];
            }
        }
        free(rt->users);
        rt->users = tab;
        rt->users_cap = cap;
    }
    struct user_count *u = user_slot(rt->users, rt->users_cap, user_id);
    if (!u->user_id[0]) {
        snprintf(u->user_id, sizeof u->user_id, "%s", user_id);
        rt->users_n++;
    }
    bool ok = u->n < (int64_t)rt->cfg.max_user_conns;
    if (ok) {
        u->n++;
    }
    pthread_mutex_unlock(&rt->tenants_lock);
    return ok;
}

void rt_user_conn_give(struct rt *rt, const char *user_id)
{
    pthread_mutex_lock(&rt->tenants_lock);
    if (rt->users_cap) {
        struct user_count *u = user_slot(rt->users, rt->users_cap, user_id);
        if (u->user_id[0] && u->n > 0) {
            u->n--;
        }
    }
    pthread_mutex_unlock(&rt->tenants_lock);
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

/* The postgres_changes spec bytes of c's channels (a connection has few). */
size_t rt_conn_sub_bytes(const struct rt_conn *c)
{
    size_t n = 0;
    for (const struct rt_chan *ch = c->chans; ch; ch = ch->next) {
        n += ch->spec_bytes;
    }
    return n;
}

/* Free c, which is out of l->conns. */
static void conn_free(struct rt_loop *l, struct rt_conn *c)
{
    if (c->counted) {
        rt_conn_count(l->rt, c, -1);
    }
    if (c->user_counted) {
        rt_user_conn_give(l->rt, c->p->user_id);
        c->user_counted = false;
    }
    while (c->chans) {
        struct rt_chan *ch = c->chans;
        c->chans = ch->next;
        chan_close(l, ch);
    }
    atomic_fetch_sub(&l->rt->m_conns, 1);
    rt_principal_put(l, c->p);
    free(c);
}

/* Free a live connection that net never took (rt.c): it is at the head of l->conns. */
void rt_conn_free(struct rt_conn *c)
{
    struct rt_loop *l = c->loop;
    for (struct rt_conn **pp = &l->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    conn_free(l, c);
}

/* Free the closed connections. Freeing one may close others (a presence leave sent to a slow
 * consumer): those are only marked, and the timer is armed again for them. */
static void reap_cb(uv_timer_t *t)
{
    struct rt_loop *l = t->data;
    struct rt_conn **pp = &l->conns;
    while (*pp && l->nclosed > 0) {
        struct rt_conn *c = *pp;
        if (c->closed) {
            *pp = c->next;
            l->nclosed--;
            conn_free(l, c);
        } else {
            pp = &c->next;
        }
    }
}

/* Net closed c's socket. Its channels and counts go in reap_cb, on a later turn of the loop:
 * the close may come from inside a fan-out walk. Once the timers are stopped, rt_loop_free
 * frees it with the rest. */
void rt_conn_on_close(struct net_conn *nc, void *user, uint16_t code)
{
    (void)nc;
    (void)code;
    struct rt_conn *c = user;
    struct rt_loop *l = c->loop;
    c->closed = true;
    c->nc = NULL;
    l->nclosed++;
    if (l->timers_on) {
        uv_timer_start(&l->reap_timer, reap_cb, 0, 0);
    }
}

/* ---- token checks ---- */

static void token_cb(uv_timer_t *t)
{
    struct rt_loop *l = t->data;
    int64_t now_s = clock_now_ms() / 1000;
    struct rt_conn *next_c;
    for (struct rt_conn *c = l->conns; c; c = next_c) {
        /* A send below may close c (slow consumer): it is only marked (reap_cb frees it). */
        next_c = c->next;
        if (c->closed) {
            continue;
        }
        struct rt_chan *next;
        for (struct rt_chan *ch = c->chans; ch; ch = next) {
            next = ch->next;
            char msg[160];
            const char *why = NULL;
            int64_t exp_s = rt_chan_exp(ch);
            if (now_s >= exp_s) {
                snprintf(msg, sizeof msg, "Token has expired %lld seconds ago",
                         (long long)(now_s - exp_s));
            } else if (auth_session_still_valid(l->rt->auth, rt_chan_principal(ch), &why) < 0) {
                snprintf(msg, sizeof msg, "Token has been revoked: %s", why ? why : "revoked");
            } else {
                continue;
            }
            rt_chan_system(ch, "system", "error", msg, NULL);
            atomic_fetch_add(&l->rt->m_token_closes, 1);
            rt_chan_kick(c, ch);
        }
        const char *why = NULL;
        if (auth_session_still_valid(l->rt->auth, c->p, &why) < 0 && c->nc) {
            /* The apikey's user was disabled or its session revoked: close the socket. */
            net_ws_close(c->nc, WS_CLOSE_AUTH, "token revoked");
        }
    }
}

void rt_loop_timers_start(struct rt_loop *l)
{
    uv_loop_t *loop = net_worker_loop(l->w);
    uint64_t every_ms = (uint64_t)l->rt->cfg.token_check_ms;
    uv_timer_init(loop, &l->token_timer);
    uv_timer_init(loop, &l->reap_timer);
    l->token_timer.data = l;
    l->reap_timer.data = l;
    uv_timer_start(&l->token_timer, token_cb, every_ms, every_ms);
    l->timers_on = true;
}

void rt_loop_timers_stop(struct rt_loop *l)
{
    l->timers_on = false;
    l->stopping = true;
    reap_cb(&l->reap_timer);
    uv_close((uv_handle_t *)&l->token_timer, NULL);
    uv_close((uv_handle_t *)&l->reap_timer, NULL);
}

void rt_loop_free(struct rt_loop *l)
{
    l->timers_on = false;
    while (l->conns) {
        struct rt_conn *c = l->conns;
        l->conns = c->next;
        conn_free(l, c);
    }
    l->nclosed = 0;
    rt_group_free_all(l);
    buf_release(&l->scratch);
    free(l);
}
