/*
 * json_encode (base/json.c) writes exactly what json_dumps(JSON_COMPACT | JSON_ENCODE_ANY)
 * writes, and json_encode_sorted what json_dumps(... | JSON_SORT_KEYS) writes (the audit
 * chain hashes those bytes, so one byte off breaks every stored chain): hand-picked values (every
 * escape, UTF-8 of each length, invalid UTF-8, keys that need escapes, integer limits, reals, deep
 * nesting) and 3,000 random trees; json_encode_sorted_pick what json_dumps(... | JSON_SORT_KEYS)
 * writes for the object of the picked members.
 */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

static int mismatches;

static void same_as(const json_t *v, bool sorted)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                   (sorted ? JSON_SORT_KEYS : JSON_PRESERVE_ORDER));
    size_t len = 0;
    char *got = sorted ? json_encode_sorted(v, &len) : json_encode(v, &len);
    const char *w = want ? want : "null";
    if (strcmp(got, w) != 0 || len != strlen(w)) {
        if (mismatches++ < 5) {
            fprintf(stderr, "json_encode%s: got %.200s\n             want %.200s\n",
                    sorted ? "_sorted" : "", got, w);
        }
    }
    CHECK(strcmp(got, w) == 0 && len == strlen(w));
    free(want);
    free(got);
}

static void same(json_t *v)
{
    same_as(v, false);
    same_as(v, true);
    json_decref(v);
}

static unsigned long long rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* Pieces of strings: plain text, every escape, UTF-8 of 2-4 bytes, and invalid bytes. */
static const char *const pieces[] = {
    "a",
    "Zed ",
    "\"",
    "\\",
    "/",
    "\b",
    "\f",
    "\n",
    "\r",
    "\t",
    "\x01",
    "\x1f",
    "\x7f",
    " ",
    "\xc3\xa9",
    "\xe2\x82\xac",
    "\xf0\x9d\x84\x9e",
    "\xed\x9f\xbf",
    "\xef\xbf\xbf",
    "\xc3",
    "\xc0\x80",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xe0\x80\xaf",
    "\x80",
    "\xff",
};

static json_t *rand_string(bool valid_only)
{
    char buf[128];
    size_t len = 0;
    unsigned n = rnd(8);
    for (unsigned i = 0; i < n; i++) {
        const char *p = pieces[rnd(valid_only ? 19 : sizeof pieces / sizeof *pieces)];
        size_t k = strlen(p);
        memcpy(buf + len, p, k);
        len += k;
    }
    if (rnd(10) == 0) {
        buf[len++] = 0; /* an embedded NUL */
    }
    return json_stringn_nocheck(buf, len);
}

static json_t *rand_value(int depth)
{
    unsigned k = rnd(depth > 4 ? 6 : 9);
    switch (k) {
    case 0:
        return json_null();
    case 1:
        return json_true();
    case 2:
        return json_false();
    case 3: {
        static const json_int_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN, 1000000007};
        return json_integer(ints[rnd(7)]);
    }
    case 4:
        return rand_string(rnd(20) != 0);
    case 5:
        return rnd(8) == 0 ? json_real(rnd(3) == 0 ? 0.5 : 1e300) : json_integer(rnd(100000));
    case 6:
    case 7: {
        json_t *o = json_object();
        unsigned n = rnd(5);
        for (unsigned i = 0; i < n; i++) {
            json_t *key = rand_string(true);
            json_object_setn_new_nocheck(o, json_string_value(key), json_string_length(key),
                                         rand_value(depth + 1));
            json_decref(key);
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        unsigned n = rnd(5);
        for (unsigned i = 0; i < n; i++) {
            json_array_append_new(a, rand_value(depth + 1));
        }
        return a;
    }
    }
}

/* Strings are scanned for bytes to escape a word (8 bytes) at a time: every piece at every
 * offset of plain runs up to 40 bytes long. */
static void test_piece_positions(void)
{
    for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
        size_t pl = strlen(pieces[p]);
        for (size_t len = 0; len <= 40; len++) {
            for (size_t at = 0; at <= len; at++) {
                char buf[64];
                memset(buf, 'x', len);
                memmove(buf + at + pl, buf + at, len - at);
                memcpy(buf + at, pieces[p], pl);
                same(json_stringn_nocheck(buf, len + pl));
            }
        }
    }
}

/* json_encode_sorted_pick(obj, keys) is json_dumps(SORT_KEYS) of the object of obj's members
 * named keys (missing ones null), also when a value is a real or the keys are not in order
 * (both take the general path). */
static void pick_same(const json_t *obj, const char *const *keys, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        json_object_set_new(o, keys[i], v ? json_incref(v) : json_null());
    }
    char *want = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    size_t len = 0;
    char *got = json_encode_sorted_pick(obj, keys, n, &len);
    const char *w = want ? want : "null"; /* invalid UTF-8: neither encodes it (as in same_as) */
    if (strcmp(got, w) != 0 || len != strlen(w)) {
        if (mismatches++ < 5) {
            fprintf(stderr, "json_encode_sorted_pick: got %.200s\n want %.200s\n", got, w);
        }
    }
    CHECK(strcmp(got, w) == 0 && len == strlen(w));
    free(want);
    free(got);
    json_decref(o);
}

static void test_pick(void)
{
    static const char *const sorted[] = {"a", "ab", "b", "x\"y", "z"};
    static const char *const unsorted[] = {"z", "a", "b"};
    json_t *obj = json_pack("{s:s, s:{s:i, s:i}, s:n, s:[i, {s:b, s:b}], s:s}", "a", "A\n", "b",
                            "y", 1, "x", 2, "z", "ab", 1, "q", true, "p", false, "extra", "no");
    pick_same(obj, sorted, 5);
    pick_same(obj, unsorted, 3);
    pick_same(obj, sorted, 0);
    json_object_set_new(obj, "z", json_real(2.5));
    pick_same(obj, sorted, 5);
    json_decref(obj);
    for (int i = 0; i < 500; i++) {
        json_t *v = json_object();
        for (size_t k = 0; k < 5; k++) {
            if (rnd(3)) {
                json_object_set_new(v, sorted[k], rand_value(1));
            }
        }
        pick_same(v, sorted, 5);
        json_decref(v);
    }
}

int main(void)
{
    test_piece_positions();
    test_pick();
    same(json_null());
    same(json_true());
    same(json_integer(INT64_MIN));
    same(json_real(3.25));
    same(json_string(""));
    same(json_object());
    same(json_array());
    same(json_string("\"\\/\b\f\n\r\t\x01\x1f\x7f plain \xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"));
    same(json_stringn_nocheck("bad \xc3", 5));
    same(json_stringn_nocheck("nul\0in", 6));
    same(json_pack("{s:s, s:i, s:[b, n, {s:s}], s:f}", "na\"me", "A\nB", "n", 7, "list", 1, "k",
                   "v", "r", 1.5));
    json_t *keys = json_object();
    json_object_setn_new_nocheck(keys, "k\0\x01\"", 4, json_integer(1));
    json_object_set_new(keys, "\xe2\x82\xac", json_string("euro"));
    same(keys);
    /* Key order for the sorted form: prefixes, case, bytes above 0x7f, an embedded NUL, more
     * members than the encoder sorts on its stack, objects inside arrays inside objects. */
    json_t *order = json_pack("{s:i, s:i, s:i, s:i, s:i, s:[{s:i, s:i}]}", "b", 1, "ab", 2, "a", 3,
                              "B", 4, "\xc3\xa9", 5, "list", "z", 1, "y", 2);
    json_object_setn_new_nocheck(order, "a\0b", 3, json_integer(6));
    for (int i = 0; i < 40; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", (i * 7) % 40);
        json_object_set_new(order, k, json_pack("{s:i, s:n}", "z", i, "a"));
    }
    same(order);
    json_t *deep = json_array();
    json_t *cur = deep;
    for (int i = 0; i < 300; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    same(deep);
    for (int i = 0; i < 3000; i++) {
        same(rand_value(0));
    }
    CHECK_EQ_INT(mismatches, 0);
    return test_done();
}
