/*
 * The read cache (api/cache.c) on its own: an answer is found only under the generation it
 * was stored with, a newer generation drops every entry and an older one stores nothing,
 * the bounds of base/limits.h hold (entries, bytes, one answer), an entry being sent stays
 * valid while the table drops it, answers expire after SB_LIMIT_READ_CACHE_AGE_MS, and shared
 * reads park only calls of the same key, generation and loop.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_int.h"
#include "base/limits.h"

static struct api_cache_entry *get(struct api_cache *c, const char *key, uint64_t gen)
{
    return api_cache_get(c, key, strlen(key), gen);
}

static void put(struct api_cache *c, const char *key, uint64_t gen, const char *body)
{
    api_cache_put(c, key, strlen(key), gen, body, strlen(body));
}

static bool has(struct api_cache *c, const char *key, uint64_t gen, const char *body)
{
    struct api_cache_entry *e = get(c, key, gen);
    if (!e) {
        return false;
    }
    size_t len = 0;
    const char *b = api_cache_body(e, &len);
    bool same = len == strlen(body) && memcmp(b, body, len) == 0;
    api_cache_unref(e);
    return same;
}

static void test_generations(void)
{
    struct api_cache *c = api_cache_new();
    put(c, "k1", 5, "{\"a\":1}");
    CHECK(has(c, "k1", 5, "{\"a\":1}"));
    CHECK(!has(c, "k2", 5, "{\"a\":1}"));
    CHECK(!has(c, "k1", 4, "{\"a\":1}")); /* a reader behind the cache */
    put(c, "k1", 4, "{\"old\":1}");       /* read before a commit the cache has seen */
    CHECK(has(c, "k1", 5, "{\"a\":1}"));
    put(c, "k1", 5, "{\"a\":2}"); /* the same key again replaces */
    CHECK(has(c, "k1", 5, "{\"a\":2}"));
    /* An entry being sent outlives the table's reference (ASan checks the read). */
    struct api_cache_entry *held = get(c, "k1", 5);
    CHECK(held != NULL);
    put(c, "k3", 6, "{\"b\":1}"); /* a newer generation drops every older entry */
    CHECK(!has(c, "k1", 6, "{\"a\":2}"));
    CHECK(!has(c, "k1", 5, "{\"a\":2}"));
    size_t len = 0;
    CHECK(memcmp(api_cache_body(held, &len), "{\"a\":2}", 7) == 0);
    CHECK_EQ_INT(len, 7);
    api_cache_unref(held);
    CHECK(has(c, "k3", 6, "{\"b\":1}"));
    CHECK(!has(c, "k3", 7, "{\"b\":1}")); /* looking up under a newer one drops it too */
    CHECK(!has(c, "k3", 6, "{\"b\":1}"));
    struct api_cache_stats st;
    api_cache_stats(c, &st);
    CHECK_EQ_INT(st.entries, 0);
    CHECK_EQ_INT(st.bytes, 0);
    CHECK(st.hits >= 5);
    api_cache_free(c);
}

static void test_bounds(void)
{
    struct api_cache *c = api_cache_new();
    char key[32];
    for (int i = 0; i < SB_LIMIT_READ_CACHE_ENTRIES + 50; i++) {
        snprintf(key, sizeof key, "k%d", i);
        put(c, key, 1, "{}");
    }
    struct api_cache_stats st;
    api_cache_stats(c, &st);
    CHECK_EQ_INT(st.entries, SB_LIMIT_READ_CACHE_ENTRIES);
    CHECK(!has(c, "k0", 1, "{}")); /* the oldest went first */
    snprintf(key, sizeof key, "k%d", SB_LIMIT_READ_CACHE_ENTRIES + 49);
    CHECK(has(c, key, 1, "{}"));

    size_t big = SB_LIMIT_READ_CACHE_ENTRY_BYTES;
    char *body = malloc(big + 2);
    memset(body, 'x', big + 1);
    body[big + 1] = '\0';
    put(c, "too-big", 1, body); /* one byte over the bound for one answer */
    CHECK(!has(c, "too-big", 1, body));
    body[big] = '\0';
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "big%d", i);
        put(c, key, 1, body);
        api_cache_stats(c, &st);
        CHECK(st.bytes <= SB_LIMIT_READ_CACHE_BYTES);
    }
    CHECK(has(c, "big39", 1, body));
    CHECK(!has(c, "big0", 1, body));
    free(body);
    api_cache_free(c);
}

static void test_age(void)
{
    struct api_cache *c = api_cache_new();
    put(c, "k", 1, "{}");
    CHECK(has(c, "k", 1, "{}"));
    struct timespec ts = {(SB_LIMIT_READ_CACHE_AGE_MS + 100) / 1000,
                          ((SB_LIMIT_READ_CACHE_AGE_MS + 100) % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    CHECK(!has(c, "k", 1, "{}"));
    api_cache_free(c);
}

static void test_flights(void)
{
    struct api_cache *c = api_cache_new();
    int loop_a, loop_b;
    struct api_call leader = {0}, w1 = {0}, w2 = {0}, other = {0}, older = {0};
    bool joined = true;
    struct api_cache_flight *f = api_cache_flight_join(c, "k", 1, 3, &loop_a, &leader, &joined);
    CHECK(f != NULL);
    CHECK(!joined);
    CHECK(api_cache_flight_join(c, "k", 1, 3, &loop_a, &w1, &joined) == f);
    CHECK(joined);
    CHECK(api_cache_flight_join(c, "k", 1, 3, &loop_a, &w2, &joined) == f);
    CHECK(joined);
    /* Another loop, or another generation, leads its own read. */
    struct api_cache_flight *fb = api_cache_flight_join(c, "k", 1, 3, &loop_b, &other, &joined);
    CHECK(!joined && fb && fb != f);
    struct api_cache_flight *fo = api_cache_flight_join(c, "k", 1, 2, &loop_a, &older, &joined);
    CHECK(!joined && fo && fo != f);
    struct api_call *w = api_cache_flight_end(c, f);
    CHECK(w == &w2 && w->flight_next == &w1 && w1.flight_next == NULL);
    CHECK(api_cache_flight_end(c, fb) == NULL);
    CHECK(api_cache_flight_end(c, fo) == NULL);
    struct api_cache_stats st;
    api_cache_stats(c, &st);
    CHECK_EQ_INT(st.shared, 2);
    /* Ended: the next miss leads again. */
    f = api_cache_flight_join(c, "k", 1, 3, &loop_a, &w1, &joined);
    CHECK(!joined && f);
    api_cache_free(c); /* frees the flight still open */
}

int main(void)
{
    test_generations();
    test_bounds();
    test_age();
    test_flights();
    return test_done();
}
