/*
 * The login limiter's counters in the database (struct auth_counter_ops over the store's
 * login_events table): every node on one database sees the same failures, and a restart
 * forgets none of them. Each call is one short transaction of its own; logins already pay a
 * database read and an argon2id verification, so a few indexed statements more do not show.
 *
 * A database error never locks anyone out and never crashes a login: it is logged, an add
 * is lost and a count answers zero (the limiter then allows the attempt), because refusing
 * every login while the database hiccups would turn a hiccup into an outage.
 */
#include <stdlib.h>

#include "auth/ratelimit.h"
#include "base/err.h"
#include "base/log.h"
#include "store/store.h"

static void db_add(void *self, const char *key, int64_t now_ms, unsigned keep, int64_t ttl_ms)
{
    int rc = store_events_add(self, key, now_ms, keep, now_ms + ttl_ms);
    if (rc < 0) {
        log_warn("login limits: recording a failure failed: %s", sb_strerror(rc));
    }
}

static unsigned db_count(void *self, const char *key, int64_t since_ms, int64_t *oldest_ms,
                         int64_t *newest_ms)
{
    unsigned n = 0;
    int64_t oldest = 0, newest = 0;
    int rc = store_events_count(self, key, since_ms, &n, &oldest, &newest);
    if (rc < 0) {
        log_warn("login limits: reading counters failed: %s", sb_strerror(rc));
        return 0;
    }
    if (n) {
        *oldest_ms = oldest;
        *newest_ms = newest;
    }
    return n;
}

static void db_clear(void *self, const char *key)
{
    int rc = store_events_clear(self, key);
    if (rc < 0) {
        log_warn("login limits: clearing a counter failed: %s", sb_strerror(rc));
    }
}

static void db_free(void *self)
{
    (void)self; /* the store belongs to the caller */
}

static const struct auth_counter_ops db_ops = {
    .add = db_add,
    .count = db_count,
    .clear = db_clear,
    .free = db_free,
};

struct auth_counters auth_counters_store_new(struct store *store)
{
    return (struct auth_counters){.ops = &db_ops, .self = store};
}
