/*
 * Login limiting that slows guessing without locking legitimate users out (OWASP's
 * "Authentication" and "Blocking Brute Force Attacks" guidance). Only failed logins count.
 *
 *   per (account, IP)  firm: `pair_attempts` failures in the window -> 429 until the oldest
 *                      leaves the window (Retry-After up to window).
 *   per IP             firm but high: `ip_attempts` failures in the window over all accounts
 *                      -> 429 for everyone behind that address (an office behind NAT lives
 *                      with the default of 100).
 *   per account        never a lock: after `account_attempts` failures in the window from
 *                      any IPs, each further attempt waits 1 s, 2 s, 4 s ... after the newest
 *                      failure, at most `account_max_delay_ms` (429 with that short
 *                      Retry-After). An address that logged in to the account successfully
 *                      within `known_ttl_ms`, and a browser with the account's device cookie,
 *                      are exempt, so a flood of failures from many IPs cannot keep the owner
 *                      out.
 *
 * A successful login clears its (account, IP) counter and remembers the address as known. It
 * clears neither the IP's counter (one valid account must not reset an attacker's budget for
 * guessing others) nor the account's (the owner logging in must not hand a guesser a fresh
 * run of undelayed attempts; the owner's known addresses skip that delay anyway).
 *
 * The counters sit behind struct auth_counter_ops. The server keeps them in the database
 * (auth_counters_store_new, ratelimit_store.c), so that they hold across nodes and restarts;
 * the in-memory table of ratelimit.c serves unit tests and the limiter's default.
 *
 * Thread-safe: any thread may call these functions.
 */
#ifndef SB_AUTH_RATELIMIT_H
#define SB_AUTH_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A store of timestamped events by key. Each call is atomic with respect to the others.
 *   add    record one event of key at now_ms; keep only the `keep` newest; the key may be
 *          forgotten once now passes its newest event + ttl_ms.
 *   count  the kept events of key newer than since_ms: returns how many and, when there is
 *          at least one, the oldest and newest of them.
 *   clear  forget key.
 *   free   release the store (called by auth_limiter_free).
 */
struct auth_counter_ops {
    void (*add)(void *self, const char *key, int64_t now_ms, unsigned keep, int64_t ttl_ms);
    unsigned (*count)(void *self, const char *key, int64_t since_ms, int64_t *oldest_ms,
                      int64_t *newest_ms);
    void (*clear)(void *self, const char *key);
    void (*free)(void *self);
};

struct auth_counters {
    const struct auth_counter_ops *ops;
    void *self;
};

/* An in-memory counter store with at most max_keys keys (the soonest to expire are dropped
 * first when it is full). */
struct auth_counters auth_counters_memory_new(size_t max_keys);

struct store;
/* The counters in the database (ratelimit_store.c): shared by every node on it and kept
 * across restarts. The store must outlive the limiter. */
struct auth_counters auth_counters_store_new(struct store *store);

struct auth_login_limits {
    int64_t pair_attempts;        /* failures per (account, IP) per window (default 10) */
    int64_t ip_attempts;          /* failures per IP per window, all accounts (default 100) */
    int64_t account_attempts;     /* failures per account before delays start (default 10) */
    int64_t account_max_delay_ms; /* longest per-account delay (default 60 s) */
    int64_t window_ms;            /* sliding window (default 15 min) */
    int64_t known_ttl_ms;         /* how long a successful address stays known (30 days) */
};

/* One server's login limiter (auth/session.h owns it): the limits (NULL or zero fields take
 * their defaults) and the counter store (NULL: a new in-memory one), which it takes ownership
 * of. The attempts in flight are per limiter; the counters are wherever the store keeps them
 * (the database: shared by every node on it). */
struct auth_limiter;
struct auth_limiter *auth_limiter_new(const struct auth_login_limits *lim,
                                      const struct auth_counters *counters);
/* Free the limiter and its counter store; NULL is a no-op. */
void auth_limiter_free(struct auth_limiter *self);

/*
 * May `account` (already lower-cased) try to log in from `ip` now? known_device: the request
 * carries a valid device cookie of the account (auth/device.h), which, like a known address,
 * skips the account's delay. 0, or SB_E_RATELIMIT with *retry_after_s (>= 1) set. Call before
 * verifying the password. An allowed attempt is in
 * flight, counted as a failure by later checks, until exactly one of auth_login_failed,
 * auth_login_succeeded or auth_login_abandon ends it.
 */
int auth_login_check(struct auth_limiter *self, const char *account, const char *ip,
                     bool known_device, int64_t now_ms, int *retry_after_s);
/* Record a failed login of account from ip. */
void auth_login_failed(struct auth_limiter *self, const char *account, const char *ip,
                       int64_t now_ms);
/* Record a successful login of account from ip. */
void auth_login_succeeded(struct auth_limiter *self, const char *account, const char *ip,
                          int64_t now_ms);
/* End an attempt that reached no verdict (a store error): nothing is recorded. */
void auth_login_abandon(struct auth_limiter *self, const char *account, const char *ip);

#endif
