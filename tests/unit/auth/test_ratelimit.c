/* Unit tests for src/auth/ratelimit.c: each login rule with an explicit clock, and the
 * in-memory counter store's bound. */
#include "test.h"

#include "auth/ratelimit.h"
#include "base/err.h"

#define MIN (60 * 1000LL)

static struct auth_limiter *L; /* the limiter of the test running */

static void fail_n(const char *acct, const char *ip, int n, int64_t now)
{
    for (int i = 0; i < n; i++) {
        auth_login_failed(L, acct, ip, now);
    }
}

/* Would an attempt be allowed? (An allowed one is ended at once, recording nothing.) */
static int check(const char *acct, const char *ip, int64_t now, int *ra)
{
    *ra = 0;
    int rc = auth_login_check(L, acct, ip, false, now, ra);
    if (rc == 0) {
        auth_login_abandon(L, acct, ip);
    }
    return rc;
}

static void test_pair_is_firm(void)
{
    L = auth_limiter_new(NULL, NULL);
    int64_t t = 1000000;
    int ra;
    fail_n("a@x", "10.0.0.1", 9, t);
    CHECK_EQ_INT(check("a@x", "10.0.0.1", t, &ra), 0);
    auth_login_failed(L, "a@x", "10.0.0.1", t);
    CHECK_EQ_INT(check("a@x", "10.0.0.1", t + 1000, &ra), SB_E_RATELIMIT);
    CHECK_EQ_INT(ra, 899);
    /* sliding: the oldest failure leaves the window 15 min after it happened */
    CHECK_EQ_INT(check("a@x", "10.0.0.1", t + 15 * MIN - 1, &ra), SB_E_RATELIMIT);
    CHECK_EQ_INT(check("a@x", "10.0.0.1", t + 15 * MIN, &ra), 0);
    /* another account from the same IP is untouched */
    CHECK_EQ_INT(check("b@x", "10.0.0.1", t + 1000, &ra), 0);
    auth_limiter_free(L);
}

static void test_account_only_delays(void)
{
    L = auth_limiter_new(NULL, NULL);
    int64_t t = 1000000;
    int ra;
    /* 10 failures from 10 IPs: the 11th attempt from anywhere waits 1 s after the last one */
    for (int i = 0; i < 10; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.1.%d", i);
        auth_login_failed(L, "v@x", ip, t);
    }
    CHECK_EQ_INT(check("v@x", "10.9.9.9", t, &ra), SB_E_RATELIMIT);
    CHECK_EQ_INT(ra, 1);
    CHECK_EQ_INT(check("v@x", "10.9.9.9", t + 1000, &ra), 0);
    /* the delay doubles per further failure and stops at the maximum (60 s) */
    int64_t now = t + 1000;
    int64_t expect = 2;
    for (int i = 0; i < 12; i++) {
        auth_login_failed(L, "v@x", "10.0.2.1", now);
        CHECK_EQ_INT(check("v@x", "10.9.9.9", now, &ra), SB_E_RATELIMIT);
        CHECK_EQ_INT(ra, expect);
        now += (int64_t)ra * 1000;
        CHECK_EQ_INT(check("v@x", "10.9.9.9", now, &ra), 0);
        expect = expect * 2 > 60 ? 60 : expect * 2;
    }
    auth_limiter_free(L);
}

static void test_known_address_skips_account_delay(void)
{
    L = auth_limiter_new(NULL, NULL);
    int64_t t = 5000000;
    int ra;
    auth_login_succeeded(L, "o@x", "192.168.1.5", t);
    for (int i = 0; i < 50; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.3.%d", i);
        auth_login_failed(L, "o@x", ip, t + 1000);
    }
    CHECK_EQ_INT(check("o@x", "10.0.4.1", t + 1000, &ra), SB_E_RATELIMIT);
    CHECK(ra <= 60);
    CHECK_EQ_INT(check("o@x", "192.168.1.5", t + 1000, &ra), 0);
    /* ...but the known address still has its own (account, IP) and IP budgets */
    fail_n("o@x", "192.168.1.5", 10, t + 2000);
    CHECK_EQ_INT(check("o@x", "192.168.1.5", t + 2000, &ra), SB_E_RATELIMIT);
    auth_limiter_free(L);
}

static void test_ip_ceiling(void)
{
    struct auth_login_limits lim = {.ip_attempts = 20};
    L = auth_limiter_new(&lim, NULL);
    int64_t t = 1000000;
    int ra;
    for (int i = 0; i < 19; i++) {
        char acct[32];
        snprintf(acct, sizeof acct, "u%d@x", i);
        auth_login_failed(L, acct, "172.16.0.1", t);
    }
    CHECK_EQ_INT(check("fresh@x", "172.16.0.1", t, &ra), 0);
    auth_login_failed(L, "u19@x", "172.16.0.1", t);
    CHECK_EQ_INT(check("fresh@x", "172.16.0.1", t, &ra), SB_E_RATELIMIT);
    CHECK_EQ_INT(ra, 900);
    CHECK_EQ_INT(check("fresh@x", "172.16.0.2", t, &ra), 0);
    /* a success does not reset the IP's budget */
    auth_login_succeeded(L, "fresh@x", "172.16.0.1", t);
    CHECK_EQ_INT(check("other@x", "172.16.0.1", t, &ra), SB_E_RATELIMIT);
    auth_limiter_free(L);
}

static void test_success_clears_pair_only(void)
{
    L = auth_limiter_new(NULL, NULL);
    int64_t t = 1000000;
    int ra;
    fail_n("s@x", "10.1.0.1", 9, t);
    auth_login_succeeded(L, "s@x", "10.1.0.1", t);
    fail_n("s@x", "10.1.0.1", 9, t);
    CHECK_EQ_INT(check("s@x", "10.1.0.1", t, &ra), 0);
    auth_limiter_free(L);
}

/* Parallel attempts cannot all pass before the first failure is recorded. */
static void test_in_flight_attempts_count(void)
{
    L = auth_limiter_new(NULL, NULL);
    int64_t t = 1000000;
    int ra = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(auth_login_check(L, "f@x", "10.2.0.1", false, t, &ra), 0);
    }
    CHECK_EQ_INT(auth_login_check(L, "f@x", "10.2.0.1", false, t, &ra), SB_E_RATELIMIT);
    CHECK_EQ_INT(ra, 1);
    /* one ends without a verdict: its place is free again */
    auth_login_abandon(L, "f@x", "10.2.0.1");
    CHECK_EQ_INT(auth_login_check(L, "f@x", "10.2.0.1", false, t, &ra), 0);
    /* all fail: the pair is limited for the window */
    for (int i = 0; i < 10; i++) {
        auth_login_failed(L, "f@x", "10.2.0.1", t);
    }
    CHECK_EQ_INT(check("f@x", "10.2.0.1", t, &ra), SB_E_RATELIMIT);
    CHECK_EQ_INT(ra, 900);
    /* past the account threshold, one attempt at a time from unknown addresses */
    CHECK_EQ_INT(check("f@x", "10.2.0.2", t + 1000, &ra), 0);
    CHECK_EQ_INT(auth_login_check(L, "f@x", "10.2.0.2", false, t + 1000, &ra), 0);
    CHECK_EQ_INT(auth_login_check(L, "f@x", "10.2.0.3", false, t + 1000, &ra), SB_E_RATELIMIT);
    auth_login_succeeded(L, "f@x", "10.2.0.2", t + 1000);
    CHECK_EQ_INT(check("f@x", "10.2.0.3", t + 1000, &ra), 0);
    auth_limiter_free(L);
}

static void test_memory_store_bound(void)
{
    struct auth_counters c = auth_counters_memory_new(64);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        c.ops->add(c.self, key, 1000 + i, 4, 60000);
    }
    int64_t o = 0, n = 0;
    /* the newest keys survive, the oldest were dropped */
    CHECK_EQ_INT(c.ops->count(c.self, "k999", 0, &o, &n), 1);
    CHECK_EQ_INT(n, 1999);
    CHECK_EQ_INT(c.ops->count(c.self, "k0", 0, &o, &n), 0);
    /* a ring keeps the newest `keep` events */
    for (int i = 0; i < 10; i++) {
        c.ops->add(c.self, "ring", 5000 + i, 4, 60000);
    }
    CHECK_EQ_INT(c.ops->count(c.self, "ring", 0, &o, &n), 4);
    CHECK_EQ_INT(o, 5006);
    CHECK_EQ_INT(n, 5009);
    CHECK_EQ_INT(c.ops->count(c.self, "ring", 5007, &o, &n), 2);
    c.ops->clear(c.self, "ring");
    CHECK_EQ_INT(c.ops->count(c.self, "ring", 0, &o, &n), 0);
    /* a large ring grows as events come, in order, through every size and after a clear */
    for (int round = 0; round < 2; round++) {
        for (int i = 1; i <= 100; i++) {
            c.ops->add(c.self, "big", 10000 + i, 37, 60000);
            unsigned want = i < 37 ? (unsigned)i : 37;
            if (c.ops->count(c.self, "big", 0, &o, &n) != want || n != 10000 + i ||
                o != 10000 + i - (int64_t)want + 1) {
                CHECK(!"big ring out of order");
                break;
            }
        }
        c.ops->clear(c.self, "big");
    }
    CHECK(1);
    c.ops->free(c.self);
}

/* Two servers' limiters in one process with in-memory counters: attempts in flight and
 * failures of one do not limit the other. */
static void test_instances_independent(void)
{
    struct auth_limiter *a = auth_limiter_new(NULL, NULL), *b = auth_limiter_new(NULL, NULL);
    int64_t t = 1000000;
    int ra = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(auth_login_check(a, "i@x", "10.3.0.1", false, t, &ra), 0);
    }
    CHECK_EQ_INT(auth_login_check(a, "i@x", "10.3.0.1", false, t, &ra), SB_E_RATELIMIT);
    CHECK_EQ_INT(auth_login_check(b, "i@x", "10.3.0.1", false, t, &ra), 0);
    auth_login_abandon(b, "i@x", "10.3.0.1");
    for (int i = 0; i < 10; i++) {
        auth_login_failed(a, "i@x", "10.3.0.1", t);
    }
    auth_limiter_free(a);
    CHECK_EQ_INT(auth_login_check(b, "i@x", "10.3.0.1", false, t, &ra), 0);
    auth_login_abandon(b, "i@x", "10.3.0.1");
    auth_limiter_free(b);
    auth_limiter_free(NULL);
}

int main(void)
{
    test_instances_independent();
    test_pair_is_firm();
    test_account_only_delays();
    test_known_address_skips_account_delay();
    test_ip_ceiling();
    test_success_clears_pair_only();
    test_in_flight_attempts_count();
    test_memory_store_bound();
    return test_done();
}
