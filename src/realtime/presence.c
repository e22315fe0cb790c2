/*
 * The presence registry: who is tracked on each (tenant, topic), process-wide, so a client
 * on any loop sees every other's presence.
 *
 * A list of struct pres_topic, each with its list of struct pres_entry (one per tracking
 * connection: its key and meta, which carries a process-unique phx_ref), all under
 * rt->pres_lock. Topics are few and entries per topic are usually few, so plain lists are
 * enough. A track or untrack edits the registry under the lock and posts the resulting
 * presence_diff {joins, leaves} as a fan (fanout.c) after releasing it; a join with presence
 * enabled gets the topic's whole presence_state.
 *
 * Cluster. Entries tracked on other nodes live here too, marked with their origin node id
 * (cluster.c feeds them in), so presence_state on any node shows everyone. A local change is
 * also published to the other nodes while the lock is held, so they see diffs in the order
 * the registry took them. A remote entry is known by (origin, phx_ref): phx_ref starts from a
 * random 56-bit number per process, so refs do not collide across nodes.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/rand.h"
#include "realtime/rt_int.h"

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
    rt_fan_post(rt, rt_fan_new(tenant, topic, "presence_diff", 0, text, len));
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
void rt_pres_update(struct rt *rt, struct rt_chan *ch, json_t *fields)
{
    const char *tenant = rt_chan_tenant(ch);
    uint64_t cid = ch->conn ? ch->conn->id : 0;
    json_t *joins = json_object(), *leaves = json_object();
    pthread_mutex_lock(&rt->pres_lock);
    struct pres_topic **tp = pres_slot(rt, tenant, rt_chan_topic(ch));
    struct pres_entry *old = NULL;
    if (*tp) {
        for (struct pres_entry **ep = &(*tp)->entries; *ep; ep = &(*ep)->next) {
            if ((*ep)->origin == 0 && (*ep)->conn_id == cid) {
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
            t->topic = xstrdup(rt_chan_topic(ch));
            t->next = rt->pres;
            rt->pres = t;
            tp = &rt->pres;
        }
        struct pres_entry *e = xcalloc(1, sizeof *e);
        e->conn_id = cid;
        e->key = xstrdup(rt_chan_extra(ch)->presence_key);
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
    if (old || fields) {
        rt_cluster_pres_diff_locked(rt, tenant, rt_chan_topic(ch), joins, leaves);
    }
    pthread_mutex_unlock(&rt->pres_lock);
    if (old) {
        free(old->key);
        free(old->phx_ref);
        json_decref(old->meta);
        free(old);
    }
    if (old || fields) {
        pres_post_diff(rt, tenant, rt_chan_topic(ch), joins, leaves);
    } else {
        json_decref(joins);
        json_decref(leaves);
    }
    ch->tracked = fields != NULL;
}

void rt_pres_push_state(struct rt *rt, struct rt_chan *ch, const char *tenant)
{
    pthread_mutex_lock(&rt->pres_lock);
    json_t *state = pres_state_locked(rt, tenant, rt_chan_topic(ch));
    pthread_mutex_unlock(&rt->pres_lock);
    char *text = json_encode(state, NULL);
    json_decref(state);
    rt_conn_push(ch->conn, rt_chan_join_ref(ch), NULL, rt_chan_topic(ch), "presence_state", text);
    free(text);
}

void rt_pres_handle(struct rt_conn *c, struct rt_chan *ch, struct phx_msg *m)
{
    rt_conn_active(c);
    const char *ev = json_string_value(json_object_get(m->payload, "event"));
    if (ev && strcmp(ev, "track") == 0) {
        json_t *fields = json_object_get(m->payload, "payload");
        if (!json_is_object(fields)) {
            rt_conn_reply_reason(c, m, "Presence track payload must be a map");
            return;
        }
        if (!rt_chan_extra(ch)->presence_key) {
            /* No key given at join: a random one, made only when presence is used. */
            char u[UUID_STR_LEN];
            uuid_v4(u);
            ch->x->presence_key = xstrdup(u);
        }
        rt_pres_update(c->loop->rt, ch, fields);
    } else if (ev && strcmp(ev, "untrack") == 0) {
        if (ch->tracked) {
            rt_pres_update(c->loop->rt, ch, NULL);
        }
    } else {
        rt_conn_reply_reason(c, m, "unknown presence event");
        return;
    }
    rt_conn_reply(c, m->join_ref, m->ref, m->topic, "ok", NULL);
}

/* ---- remote entries (cluster.c) ---- */

static void entry_free(struct pres_entry *e)
{
    free(e->key);
    free(e->phx_ref);
    json_decref(e->meta);
    free(e);
}

/* The pending diff of (tenant, topic) in *out, made on first use. */
static struct rt_pres_post *post_of(struct rt_pres_post **out, const char *tenant,
                                    const char *topic)
{
    for (struct rt_pres_post *p = *out; p; p = p->next) {
        if (strcmp(p->tenant, tenant) == 0 && strcmp(p->topic, topic) == 0) {
            return p;
        }
    }
    struct rt_pres_post *p = xcalloc(1, sizeof *p);
    p->tenant = xstrdup(tenant);
    p->topic = xstrdup(topic);
    p->joins = json_object();
    p->leaves = json_object();
    p->next = *out;
    *out = p;
    return p;
}

/* Add meta under key to a {key: {metas: [...]}} object. */
static void diff_add(json_t *side, const char *key, json_t *meta)
{
    json_t *k = json_object_get(side, key);
    if (!k) {
        k = json_pack("{s:[]}", "metas");
        json_object_set_new(side, key, k);
    }
    json_array_append(json_object_get(k, "metas"), meta);
}

static struct pres_topic *topic_get(struct rt *rt, const char *tenant, const char *topic)
{
    struct pres_topic **tp = pres_slot(rt, tenant, topic);
    if (!*tp) {
        struct pres_topic *t = xcalloc(1, sizeof *t);
        t->tenant = xstrdup(tenant);
        t->topic = xstrdup(topic);
        t->next = rt->pres;
        rt->pres = t;
        return t;
    }
    return *tp;
}

/* Drop the topic when it has no entries left. */
static void topic_gc(struct rt *rt, const char *tenant, const char *topic)
{
    struct pres_topic **tp = pres_slot(rt, tenant, topic);
    if (*tp && !(*tp)->entries) {
        struct pres_topic *t = *tp;
        *tp = t->next;
        free(t->tenant);
        free(t->topic);
        free(t);
    }
}

static struct pres_entry **remote_find(struct pres_topic *t, uint64_t origin, const char *ref)
{
    for (struct pres_entry **ep = &t->entries; *ep; ep = &(*ep)->next) {
        if ((*ep)->origin == origin && strcmp((*ep)->phx_ref, ref) == 0) {
            return ep;
        }
    }
    return NULL;
}

/* Add origin's entry (key, meta) unless it is there; records the join. */
static void remote_join(struct pres_topic *t, uint64_t origin, const char *key, json_t *meta,
                        struct rt_pres_post **out)
{
    const char *ref = json_string_value(json_object_get(meta, "phx_ref"));
    if (!ref || !json_is_object(meta) || remote_find(t, origin, ref)) {
        return;
    }
    struct pres_entry *e = xcalloc(1, sizeof *e);
    e->origin = origin;
    e->key = xstrdup(key);
    e->phx_ref = xstrdup(ref);
    e->meta = json_deep_copy(meta);
    e->next = t->entries;
    t->entries = e;
    diff_add(post_of(out, t->tenant, t->topic)->joins, key, e->meta);
}

/* Remove *ep and record the leave. */
static void remote_leave(struct pres_topic *t, struct pres_entry **ep, struct rt_pres_post **out)
{
    struct pres_entry *e = *ep;
    *ep = e->next;
    diff_add(post_of(out, t->tenant, t->topic)->leaves, e->key, e->meta);
    entry_free(e);
}

void rt_pres_remote_diff_locked(struct rt *rt, uint64_t origin, const char *tenant,
                                const char *topic, json_t *joins, json_t *leaves,
                                struct rt_pres_post **out)
{
    const char *key;
    json_t *v;
    struct pres_topic *t = *pres_slot(rt, tenant, topic);
    json_object_foreach(leaves, key, v)
    {
        size_t i;
        json_t *meta;
        json_array_foreach(json_object_get(v, "metas"), i, meta)
        {
            const char *ref = json_string_value(json_object_get(meta, "phx_ref"));
            struct pres_entry **ep = t && ref ? remote_find(t, origin, ref) : NULL;
            if (ep) {
                remote_leave(t, ep, out);
            }
        }
    }
    json_object_foreach(joins, key, v)
    {
        size_t i;
        json_t *meta;
        json_array_foreach(json_object_get(v, "metas"), i, meta)
        {
            if (!t) {
                t = topic_get(rt, tenant, topic);
            }
            remote_join(t, origin, key, meta, out);
        }
    }
    if (t) {
        topic_gc(rt, tenant, topic);
    }
}

/* The lookup key of an entry: tenant, topic and phx_ref (none of which holds a NUL). */
static char *ref_key(const char *tenant, const char *topic, const char *ref)
{
    return xasprintf("%s\x1f%s\x1f%s", tenant, topic, ref);
}

/* Every phx_ref of state (see rt_pres_remote_replace_locked) as an object of ref_key()s. */
static json_t *state_refs(json_t *state)
{
    json_t *refs = json_object();
    size_t i;
    json_t *tt;
    json_array_foreach(state, i, tt)
    {
        const char *t = json_string_value(json_object_get(tt, "t"));
        const char *c = json_string_value(json_object_get(tt, "c"));
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(tt, "s"), key, v)
        {
            size_t j;
            json_t *meta;
            json_array_foreach(json_object_get(v, "metas"), j, meta)
            {
                const char *r = json_string_value(json_object_get(meta, "phx_ref"));
                if (t && c && r) {
                    char *k = ref_key(t, c, r);
                    json_object_set_new(refs, k, json_true());
                    free(k);
                }
            }
        }
    }
    return refs;
}

void rt_pres_remote_replace_locked(struct rt *rt, uint64_t origin, json_t *state,
                                   struct rt_pres_post **out)
{
    /* Leaves: origin's entries that state no longer has. */
    json_t *refs = state_refs(state);
    for (struct pres_topic **tp = &rt->pres; *tp;) {
        struct pres_topic *t = *tp;
        for (struct pres_entry **ep = &t->entries; *ep;) {
            bool keep = (*ep)->origin != origin;
            if (!keep) {
                char *k = ref_key(t->tenant, t->topic, (*ep)->phx_ref);
                keep = json_object_get(refs, k) != NULL;
                free(k);
            }
            if (!keep) {
                remote_leave(t, ep, out);
            } else {
                ep = &(*ep)->next;
            }
        }
        if (!t->entries) {
            *tp = t->next;
            free(t->tenant);
            free(t->topic);
            free(t);
        } else {
            tp = &t->next;
        }
    }
    json_decref(refs);
    /* Joins: what state has and the registry does not. */
    size_t i;
    json_t *tt;
    json_array_foreach(state, i, tt)
    {
        const char *tenant = json_string_value(json_object_get(tt, "t"));
        const char *topic = json_string_value(json_object_get(tt, "c"));
        if (!tenant || !topic) {
            continue;
        }
        struct pres_topic *t = topic_get(rt, tenant, topic);
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(tt, "s"), key, v)
        {
            size_t j;
            json_t *meta;
            json_array_foreach(json_object_get(v, "metas"), j, meta)
            {
                remote_join(t, origin, key, meta, out);
            }
        }
        topic_gc(rt, tenant, topic);
    }
}

json_t *rt_pres_local_state_locked(struct rt *rt)
{
    json_t *all = json_array();
    for (struct pres_topic *t = rt->pres; t; t = t->next) {
        json_t *s = NULL;
        for (struct pres_entry *e = t->entries; e; e = e->next) {
            if (e->origin == 0) {
                if (!s) {
                    s = json_object();
                }
                diff_add(s, e->key, e->meta);
            }
        }
        if (s) {
            json_array_append_new(
                all, json_pack("{s:s,s:s,s:o}", "t", t->tenant, "c", t->topic, "s", s));
        }
    }
    return all;
}

void rt_pres_flush(struct rt *rt, struct rt_pres_post *list)
{
    while (list) {
        struct rt_pres_post *p = list;
        list = p->next;
        if (json_object_size(p->joins) || json_object_size(p->leaves)) {
            pres_post_diff(rt, p->tenant, p->topic, p->joins, p->leaves);
        } else {
            json_decref(p->joins);
            json_decref(p->leaves);
        }
        free(p->tenant);
        free(p->topic);
        free(p);
    }
}

void rt_pres_free_all(struct rt *rt)
{
    while (rt->pres) {
        struct pres_topic *t = rt->pres;
        rt->pres = t->next;
        while (t->entries) {
            struct pres_entry *e = t->entries;
            t->entries = e->next;
            entry_free(e);
        }
        free(t->tenant);
        free(t->topic);
        free(t);
    }
}
