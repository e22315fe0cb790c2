/*
 * The login limiter (rules in ratelimit.h) and its in-memory counter store.
 *
 * Keys: "p:<account>|<ip>" (pair), "i:<ip>", "a:<account>" and "k:<account>|<ip>" (a known
 * address: one event per successful login). Every rule is a question about the events of
 * one key inside the window, so a store that can add, count and clear events per key is all
 * the limiter needs; that is the seam for a database-backed store.
 *
 * Memory store: an open-addressing hash table (linear probing, at most half full) of
 * entries owning their key and a ring of the newest `keep` event times. Entries are never
 * removed in place; when the table must grow, it is rebuilt without the entries whose last
 * event has expired, and when more than max_keys remain, without the soonest to expire.
 * One mutex guards it: logins are rare next to everything else, and each call is O(keep).
 */
#include "auth/ratelimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"

/* ---- the in-memory counter store ---- */

struct mem_entry {
    char *key;       /* NULL: free slot */
    int64_t *times;  /* ring of the newest `keep` event times (ms) */
    unsigned keep;   /* most events held */
    unsigned alloc;  /* slots allocated: grows by doubling up to keep, so a key with one
                      * event costs one slot however large keep is */
    unsigned n;      /* events held, at most alloc */
    unsigned head;   /* next slot to write (== n until the ring is full and wraps) */
    int64_t expires; /* newest event + ttl */
};

struct mem_store {
    pthread_mutex_t lock;
    struct mem_entry *tab;
    size_t cap, n, max_keys;
};

static struct mem_entry *mem_slot(struct mem_entry *tab, size_t cap, const char *key)
{
    size_t i = hash_str(key) & (cap - 1);
    while (tab[i].key && strcmp(tab[i].key, key) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return &tab[i];
}

static void mem_entry_release(struct mem_entry *e)
{
    free(e->key);
    free(e->times);
    memset(e, 0, sizeof *e);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Rebuild the table for at least one more key, dropping expired entries and, beyond
 * max_keys, the ones that expire first. */
static void mem_rebuild(struct mem_store *m, int64_t now)
{
    int64_t cutoff = now;
    size_t live = 0;
    for (size_t i = 0; i < m->cap; i++) {
        live += m->tab[i].key && m->tab[i].expires > now;
    }
    if (live + 1 > m->max_keys) {
        int64_t *exp = xcalloc(live ? live : 1, sizeof *exp);
        size_t k = 0;
        for (size_t i = 0; i < m->cap; i++) {
            if (m->tab[i].key && m->tab[i].expires > now) {
                exp[k++] = m->tab[i].expires;
            }
        }
        qsort(exp, k, sizeof *exp, cmp_i64);
        size_t drop = k - m->max_keys * 3 / 4;
        cutoff = exp[drop - 1];
        free(exp);
    }
    size_t cap = m->cap ? m->cap : 256;
    while ((live + 1) * 2 > cap) {
        cap *= 2;
    }
    struct mem_entry *tab = xcalloc(cap, sizeof *tab);
    size_t kept = 0;
    for (size_t i = 0; i < m->cap; i++) {
        struct mem_entry *e = &m->tab[i];
        if (!e->key) {
            continue;
        }
        if (e->expires > cutoff) {
            *mem_slot(tab, cap, e->key) = *e;
            kept++;
        } else {
            mem_entry_release(e);
        }
    }
    free(m->tab);
    m->tab = tab;
    m->cap = cap;
    m->n = kept;
}

static void mem_add(void *self, const char *key, int64_t now_ms, unsigned keep, int64_t ttl_ms)
{
    struct mem_store *m = self;
    if (keep < 1) {
        keep = 1;
    }
    pthread_mutex_lock(&m->lock);
    if (!m->cap || (m->n + 1) * 2 > m->cap) {
        mem_rebuild(m, now_ms);
    }
    struct mem_entry *e = mem_slot(m->tab, m->cap, key);
    if (!e->key) {
        e->key = xstrdup(key);
        m->n++;
    }
    if (e->keep != keep) {
        /* A new ring size (the limits changed): start the ring over. */
        free(e->times);
        e->times = NULL;
        e->keep = keep;
        e->alloc = e->n = e->head = 0;
    }
    if (e->n == e->alloc && e->alloc < keep) {
        /* Not wrapped yet (head == n): grow the linear array. */
        e->alloc = e->alloc ? (e->alloc * 2 < keep ? e->alloc * 2 : keep) : 1;
        e->times = xrealloc(e->times, e->alloc * sizeof *e->times);
        e->head = e->n; /* below keep the array never wraps: oldest at 0 */
    }
    e->times[e->head] = now_ms;
    e->head = (e->head + 1) % e->alloc;
    if (e->n < e->alloc) {
        e->n++;
    }
    if (now_ms + ttl_ms > e->expires) {
        e->expires = now_ms + ttl_ms;
    }
    pthread_mutex_unlock(&m->lock);
}

static unsigned mem_count(void *self, const char *key, int64_t since_ms, int64_t *oldest_ms,
                          int64_t *newest_ms)
{
    struct mem_store *m = self;
    unsigned count = 0;
    pthread_mutex_lock(&m->lock);
    struct mem_entry *e = m->cap ? mem_slot(m->tab, m->cap, key) : NULL;
    if (e && e->key) {
        /* Walk from the newest back; times only grow, so stop at the first old one. */
        for (unsigned k = 0; k < e->n; k++) {
            int64_t t = e->times[(e->head + e->alloc - 1 - k) % e->alloc];
            if (t <= since_ms) {
                break;
            }
            if (count == 0) {
                *newest_ms = t;
            }
            *oldest_ms = t;
            count++;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return count;
}

static void mem_clear(void *self, const char *key)
{
    struct mem_store *m = self;
    pthread_mutex_lock(&m->lock);
    struct mem_entry *e = m->cap ? mem_slot(m->tab, m->cap, key) : NULL;
    if (e && e->key) {
        e->n = e->head = 0;
    }
    pthread_mutex_unlock(&m->lock);
}

static void mem_free(void *self)
{
    struct mem_store *m = self;
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->cap; i++) {
        mem_entry_release(&m->tab[i]);
    }
    free(m->tab);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const struct auth_counter_ops mem_ops = {
    .add = mem_add, .count = mem_count, .clear = mem_clear, .free = mem_free};

struct auth_counters auth_counters_memory_new(size_t max_keys)
{
    struct mem_store *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->max_keys = max_keys >= 16 ? max_keys : 16;
    return (struct auth_counters){.ops = &mem_ops, .self = m};
}

/* ---- the limiter ---- */

#define MEM_MAX_KEYS 100000
#define BASE_DELAY_MS 1000

/* An attempt between its check and its outcome (the password is being verified). */
struct inflight {
    char account[256];
    char ip[64];
};

struct auth_limiter {
    struct auth_login_limits lim;
    struct auth_counters c;
    unsigned account_keep; /* failures kept per account: enough to reach the longest delay */
    /* Attempts in flight count as failures until their outcome is known, so parallel
     * requests cannot all pass the check before any failure is recorded. Bounded by the
     * number of requests the server runs at once. */
    pthread_mutex_t lock;
    struct inflight *fly;
    size_t nfly, capfly;
};

static int64_t or_default(int64_t v, int64_t def)
{
    return v > 0 ? v : def;
}

struct auth_limiter *auth_limiter_new(const struct auth_login_limits *lim,
                                      const struct auth_counters *counters)
{
    struct auth_limiter *self = xcalloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    struct auth_login_limits z = {0};
    if (!lim) {
        lim = &z;
    }
    self->lim.pair_attempts = or_default(lim->pair_attempts, 10);
    self->lim.ip_attempts = or_default(lim->ip_attempts, 100);
    self->lim.account_attempts = or_default(lim->account_attempts, 10);
    self->lim.account_max_delay_ms = or_default(lim->account_max_delay_ms, 60 * 1000);
    self->lim.window_ms = or_default(lim->window_ms, 15 * 60 * 1000);
    self->lim.known_ttl_ms = or_default(lim->known_ttl_ms, 30LL * 86400 * 1000);
    /* Rings hold one slot per attempt counted; bound them (config validation does too). */
    if (self->lim.pair_attempts > 100000) {
        self->lim.pair_attempts = 100000;
    }
    if (self->lim.ip_attempts > 100000) {
        self->lim.ip_attempts = 100000;
    }
    if (self->lim.account_attempts > 100000) {
        self->lim.account_attempts = 100000;
    }
    unsigned steps = 0;
    while (steps < 40 && ((int64_t)BASE_DELAY_MS << steps) < self->lim.account_max_delay_ms) {
        steps++;
    }
    self->account_keep = (unsigned)self->lim.account_attempts + steps + 1;
    self->c = counters && counters->ops ? *counters : auth_counters_memory_new(MEM_MAX_KEYS);
    return self;
}

void auth_limiter_free(struct auth_limiter *self)
{
    if (!self) {
        return;
    }
    self->c.ops->free(self->c.self);
    free(self->fly);
    pthread_mutex_destroy(&self->lock);
    free(self);
}

static int secs_until(int64_t when_ms, int64_t now_ms)
{
    int64_t s = (when_ms - now_ms + 999) / 1000;
    return s < 1 ? 1 : s > 1000000000 ? 1000000000 : (int)s;
}

/* The firm rule of one key: limit events in the window (counting `flying` attempts in
 * flight) -> wait for the oldest to leave, or a second for the ones in flight to end. */
static bool over_limit(struct auth_limiter *self, const char *key, int64_t limit, size_t flying,
                       int64_t now_ms, int *retry_after_s)
{
    int64_t oldest = 0, newest = 0;
    unsigned n =
        self->c.ops->count(self->c.self, key, now_ms - self->lim.window_ms, &oldest, &newest);
    if ((int64_t)(n + flying) < limit) {
        return false;
    }
    *retry_after_s = (int64_t)n >= limit ? secs_until(oldest + self->lim.window_ms, now_ms) : 1;
    return true;
}

/* The account's delay rule, with `flying` attempts in flight counted as failures now. */
static bool account_delayed(struct auth_limiter *self, const char *key, size_t flying,
                            int64_t now_ms, int *retry_after_s)
{
    int64_t oldest = 0, newest = 0;
    unsigned n =
        self->c.ops->count(self->c.self, key, now_ms - self->lim.window_ms, &oldest, &newest);
    if (flying) {
        n += (unsigned)flying;
        newest = now_ms;
    }
    if ((int64_t)n < self->lim.account_attempts) {
        return false;
    }
    unsigned step = n - (unsigned)self->lim.account_attempts;
    int64_t delay = step >= 40 ? self->lim.account_max_delay_ms : (int64_t)BASE_DELAY_MS << step;
    if (delay > self->lim.account_max_delay_ms) {
        delay = self->lim.account_max_delay_ms;
    }
    if (now_ms >= newest + delay) {
        return false;
    }
    *retry_after_s = secs_until(newest + delay, now_ms);
    return true;
}

/* Callers hold self->lock. */
static void fly_count(struct auth_limiter *self, const char *account, const char *ip, size_t *n_ip,
                      size_t *n_pair, size_t *n_account)
{
    *n_ip = *n_pair = *n_account = 0;
    for (size_t i = 0; i < self->nfly; i++) {
        bool same_ip = strcmp(self->fly[i].ip, ip) == 0;
        bool same_account = strcmp(self->fly[i].account, account) == 0;
        *n_ip += same_ip;
        *n_pair += same_ip && same_account;
        *n_account += same_account;
    }
}

/* Callers hold self->lock. Removes one in-flight attempt of (account, ip), if there is one. */
static void fly_remove(struct auth_limiter *self, const char *account, const char *ip)
{
    for (size_t i = 0; i < self->nfly; i++) {
        if (strcmp(self->fly[i].ip, ip) == 0 && strcmp(self->fly[i].account, account) == 0) {
            self->fly[i] = self->fly[--self->nfly];
            return;
        }
    }
}

int auth_login_check(struct auth_limiter *self, const char *account, const char *ip,
                     bool known_device, int64_t now_ms, int *retry_after_s)
{
    char key[320];
    int rc = SB_E_RATELIMIT;
    size_t f_ip, f_pair, f_account;
    pthread_mutex_lock(&self->lock);
    fly_count(self, account, ip, &f_ip, &f_pair, &f_account);
    snprintf(key, sizeof key, "i:%s", ip);
    if (over_limit(self, key, self->lim.ip_attempts, f_ip, now_ms, retry_after_s)) {
        goto out;
    }
    snprintf(key, sizeof key, "p:%s|%s", account, ip);
    if (over_limit(self, key, self->lim.pair_attempts, f_pair, now_ms, retry_after_s)) {
        goto out;
    }
    int64_t oldest = 0, newest = 0;
    snprintf(key, sizeof key, "k:%s|%s", account, ip);
    bool known =
        known_device || self->c.ops->count(self->c.self, key, now_ms - self->lim.known_ttl_ms,
                                           &oldest, &newest) > 0;
    snprintf(key, sizeof key, "a:%s", account);
    if (!known && account_delayed(self, key, f_account, now_ms, retry_after_s)) {
        goto out;
    }
    if (self->nfly == self->capfly) {
        self->capfly = self->capfly ? self->capfly * 2 : 16;
        self->fly = xrealloc(self->fly, self->capfly * sizeof *self->fly);
    }
    snprintf(self->fly[self->nfly].account, sizeof self->fly[self->nfly].account, "%s", account);
    snprintf(self->fly[self->nfly].ip, sizeof self->fly[self->nfly].ip, "%s", ip);
    self->nfly++;
    rc = 0;
out:
    pthread_mutex_unlock(&self->lock);
    return rc;
}

void auth_login_abandon(struct auth_limiter *self, const char *account, const char *ip)
{
    pthread_mutex_lock(&self->lock);
    fly_remove(self, account, ip);
    pthread_mutex_unlock(&self->lock);
}

void auth_login_failed(struct auth_limiter *self, const char *account, const char *ip,
                       int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    fly_remove(self, account, ip);
    char key[320];
    snprintf(key, sizeof key, "i:%s", ip);
    self->c.ops->add(self->c.self, key, now_ms, (unsigned)self->lim.ip_attempts,
                     self->lim.window_ms);
    snprintf(key, sizeof key, "p:%s|%s", account, ip);
    self->c.ops->add(self->c.self, key, now_ms, (unsigned)self->lim.pair_attempts,
                     self->lim.window_ms);
    snprintf(key, sizeof key, "a:%s", account);
    self->c.ops->add(self->c.self, key, now_ms, self->account_keep, self->lim.window_ms);
    pthread_mutex_unlock(&self->lock);
}

void auth_login_succeeded(struct auth_limiter *self, const char *account, const char *ip,
                          int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    fly_remove(self, account, ip);
    char key[320];
    snprintf(key, sizeof key, "p:%s|%s", account, ip);
    self->c.ops->clear(self->c.self, key);
    snprintf(key, sizeof key, "k:%s|%s", account, ip);
    self->c.ops->add(self->c.self, key, now_ms, 1, self->lim.known_ttl_ms);
    pthread_mutex_unlock(&self->lock);
}
