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

void rt_pres_push_state(struct rt *rt, struct rt_chan *ch, const char *tenant)
{
    pthread_mutex_lock(&rt->pres_lock);
    json_t *state = pres_state_locked(rt, tenant, ch->topic);
    pthread_mutex_unlock(&rt->pres_lock);
    char *text = json_encode(state, NULL);
    json_decref(state);
    rt_conn_push(ch->conn, ch->join_ref, NULL, ch->topic, "presence_state", text);
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
        if (!ch->presence_key) {
            /* No key given at join: a random one, made only when presence is used. */
            char u[UUID_STR_LEN];
            uuid_v4(u);
            ch->presence_key = xstrdup(u);
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

void rt_pres_free_all(struct rt *rt)
{
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
}
