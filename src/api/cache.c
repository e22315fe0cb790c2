/*
 * The read cache: encoded JSON answers of authenticated list/get reads (routes flagged
 * API_CACHED), reused while the store's commit generation has not moved.
 *
 * Why here. The point is to answer on the loop thread without the thread-pool hop, the SQL
 * and the JSON encoding, which together are about 80% of such a request's CPU; the API layer
 * owns all three (the hop, the call, the encoded bytes). What makes the answer is decided
 * below it: svc_read_view names the part of the principal the read depends on (policy scope
 * and active-only rule, so an admin and a viewer of one tenant share an agents answer but not
 * a messages one, and two tenants never share one) and svc_read_generation the moment
 * (store_read_generation).
 *
 * Correctness. key = view + "\n" + path + "?" + raw query. An answer is stored with the
 * generation read before its read transaction began (on the loop thread, before the work is
 * queued) and used only while the current generation is still that one: a commit raises the
 * generation before its writer is answered and no generation is given while a commit is in
 * flight, so a write a client saw acknowledged is never hidden by an older answer. Only 200
 * answers are stored; errors (4xx of bad parameters, 404, 403) are computed every time.
 * Authentication runs before the lookup, so a revoked token gets 401 whatever is cached.
 * Requests for CSV (Accept: text/csv) and HEAD bypass the cache. No in-memory state goes into
 * these answers: agent rows carry no live presence fields (svc/presence.c changes statuses by
 * writing them, which moves the generation), `seq` is the change-log head, `total` is counted
 * in the same read as the rows.
 *
 * Structure. One table shared by every worker under one mutex (held for a hash lookup and a
 * reference count, never while sending): a chained hash of SB_LIMIT_READ_CACHE_ENTRIES * 2
 * buckets and a FIFO list for eviction. All entries have the generation cache->gen; storing
 * under a newer generation first drops every entry (they can never be used again), storing
 * under an older one stores nothing. Entries are reference counted so that a hit sends the
 * body without a copy while another thread may evict it.
 *
 * Shared reads. After a change event every open panel of a tenant asks for the same page at
 * once, before the first answer is stored. A miss therefore first looks for a read of the
 * same key and generation already in flight on its own loop and, when there is one, waits
 * for it instead of reading again (api_cache_flight_join): one query serves them all. That
 * answer is current for every waiter: the generation was unchanged, with no commit in
 * flight, when the waiter arrived, so the database did not change between the leader's
 * generation and the waiter's arrival, and the leader's snapshot is at least that new. A
 * leader whose answer is not a 200 sends its waiters the long way, each with its own read.
 * Waiters stay on their own loop because only that loop's thread may answer them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/limits.h"

#define NBUCKETS (SB_LIMIT_READ_CACHE_ENTRIES * 2)

struct api_cache_entry {
    atomic_int refs; /* the table's reference plus one per hit being sent */
    uint64_t hash;
    int64_t stored_ms;             /* clock_mono_ms when stored */
    struct api_cache_entry *chain; /* next in the bucket */
    struct api_cache_entry *older; /* FIFO neighbours */
    struct api_cache_entry *newer;
    size_t key_len;
    size_t body_len;
    char *key;
    char data[]; /* key, then body */
};

/* A read in flight for key at gen on one loop, and the calls of that loop waiting for it. */
struct api_cache_flight {
    struct api_cache_flight *next;
    void *loop;
    uint64_t hash;
    uint64_t gen;
    struct api_call *waiters; /* linked through flight_next, newest first */
    size_t key_len;
    char key[];
};

struct api_cache {
    pthread_mutex_t mu;
    uint64_t gen; /* generation of every entry held */
    struct api_cache_entry *buckets[NBUCKETS];
    struct api_cache_entry *oldest, *newest;
    size_t n, bytes;
    struct api_cache_flight *flights;
    size_t nflights;
    atomic_uint_fast64_t hits, misses, stores, shared;
};

struct api_cache *api_cache_new(void)
{
    struct api_cache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static size_t entry_bytes(const struct api_cache_entry *e)
{
    return sizeof *e + e->key_len + e->body_len;
}

void api_cache_unref(struct api_cache_entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
        free(e);
    }
}

const char *api_cache_body(const struct api_cache_entry *e, size_t *len)
{
    *len = e->body_len;
    return e->data + e->key_len;
}

/* Unlink e from its bucket and the FIFO and drop the table's reference (mu held). */
static void entry_remove(struct api_cache *c, struct api_cache_entry *e)
{
    struct api_cache_entry **pp = &c->buckets[e->hash % NBUCKETS];
    while (*pp != e) {
        pp = &(*pp)->chain;
    }
    *pp = e->chain;
    if (e->older) {
        e->older->newer = e->newer;
    } else {
        c->oldest = e->newer;
    }
    if (e->newer) {
        e->newer->older = e->older;
    } else {
        c->newest = e->older;
    }
    c->n--;
    c->bytes -= entry_bytes(e);
    api_cache_unref(e);
}

static void drop_all(struct api_cache *c)
{
    while (c->oldest) {
        entry_remove(c, c->oldest);
    }
}

void api_cache_free(struct api_cache *c)
{
    if (!c) {
        return;
    }
    drop_all(c);
    while (c->flights) {
        struct api_cache_flight *f = c->flights;
        c->flights = f->next;
        free(f);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static struct api_cache_entry *find(struct api_cache *c, uint64_t h, const char *key, size_t n)
{
    for (struct api_cache_entry *e = c->buckets[h % NBUCKETS]; e; e = e->chain) {
        if (e->hash == h && e->key_len == n && memcmp(e->key, key, n) == 0) {
            return e;
        }
    }
    return NULL;
}

struct api_cache_entry *api_cache_get(struct api_cache *c, const char *key, size_t key_len,
                                      uint64_t gen)
{
    uint64_t h = hash_mem(key, key_len);
    int64_t now = clock_mono_ms();
    struct api_cache_entry *hit = NULL;
    pthread_mutex_lock(&c->mu);
    if (gen > c->gen) {
        /* Something was committed since these were read: they are dead for good. */
        drop_all(c);
        c->gen = gen;
    } else if (gen == c->gen) {
        struct api_cache_entry *e = find(c, h, key, key_len);
        if (e && now - e->stored_ms < SB_LIMIT_READ_CACHE_AGE_MS) {
            atomic_fetch_add(&e->refs, 1);
            hit = e;
        } else if (e) {
            entry_remove(c, e);
        }
    }
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add(hit ? &c->hits : &c->misses, 1);
    return hit;
}

void api_cache_put(struct api_cache *c, const char *key, size_t key_len, uint64_t gen,
                   const char *body, size_t body_len)
{
    if (body_len > SB_LIMIT_READ_CACHE_ENTRY_BYTES ||
        key_len + body_len + sizeof(struct api_cache_entry) > SB_LIMIT_READ_CACHE_BYTES) {
        return;
    }
    struct api_cache_entry *e = xmalloc(sizeof *e + key_len + body_len);
    atomic_init(&e->refs, 1);
    e->hash = hash_mem(key, key_len);
    e->stored_ms = clock_mono_ms();
    e->chain = e->older = e->newer = NULL;
    e->key_len = key_len;
    e->body_len = body_len;
    e->key = e->data;
    memcpy(e->data, key, key_len);
    memcpy(e->data + key_len, body, body_len);
    pthread_mutex_lock(&c->mu);
    if (gen < c->gen) {
        /* Read before a commit that a newer entry has already seen. */
        pthread_mutex_unlock(&c->mu);
        free(e);
        return;
    }
    if (gen > c->gen) {
        drop_all(c);
        c->gen = gen;
    }
    struct api_cache_entry *old = find(c, e->hash, key, key_len);
    if (old) {
        entry_remove(c, old);
    }
    while (c->oldest && (c->n >= SB_LIMIT_READ_CACHE_ENTRIES ||
                         c->bytes + entry_bytes(e) > SB_LIMIT_READ_CACHE_BYTES)) {
        entry_remove(c, c->oldest);
    }
    struct api_cache_entry **b = &c->buckets[e->hash % NBUCKETS];
    e->chain = *b;
    *b = e;
    e->older = c->newest;
    if (c->newest) {
        c->newest->newer = e;
    } else {
        c->oldest = e;
    }
    c->newest = e;
    c->n++;
    c->bytes += entry_bytes(e);
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add(&c->stores, 1);
}

struct api_cache_flight *api_cache_flight_join(struct api_cache *c, const char *key, size_t key_len,
                                               uint64_t gen, void *loop, struct api_call *call,
                                               bool *joined)
{
    uint64_t h = hash_mem(key, key_len);
    struct api_cache_flight *f = NULL;
    *joined = false;
    pthread_mutex_lock(&c->mu);
    for (f = c->flights; f; f = f->next) {
        if (f->loop == loop && f->gen == gen && f->hash == h && f->key_len == key_len &&
            memcmp(f->key, key, key_len) == 0) {
            call->flight_next = f->waiters;
            f->waiters = call;
            *joined = true;
            break;
        }
    }
    if (!f && c->nflights < SB_LIMIT_READ_CACHE_ENTRIES) {
        f = xmalloc(sizeof *f + key_len);
        f->loop = loop;
        f->hash = h;
        f->gen = gen;
        f->waiters = NULL;
        f->key_len = key_len;
        memcpy(f->key, key, key_len);
        f->next = c->flights;
        c->flights = f;
        c->nflights++;
    }
    pthread_mutex_unlock(&c->mu);
    if (*joined) {
        atomic_fetch_add(&c->shared, 1);
    }
    return f;
}

struct api_call *api_cache_flight_end(struct api_cache *c, struct api_cache_flight *f)
{
    pthread_mutex_lock(&c->mu);
    struct api_cache_flight **pp = &c->flights;
    while (*pp != f) {
        pp = &(*pp)->next;
    }
    *pp = f->next;
    c->nflights--;
    pthread_mutex_unlock(&c->mu);
    struct api_call *w = f->waiters;
    free(f);
    return w;
}

void api_cache_stats(struct api_cache *c, struct api_cache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    out->entries = c->n;
    out->bytes = c->bytes;
    pthread_mutex_unlock(&c->mu);
    out->hits = atomic_load(&c->hits);
    out->misses = atomic_load(&c->misses);
    out->stores = atomic_load(&c->stores);
    out->shared = atomic_load(&c->shared);
}
