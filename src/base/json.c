/*
 * Strict JSON parsing: a byte pre-scan enforces the depth limit before jansson builds
 * anything, then jansson parses with JSON_REJECT_DUPLICATES.
 *
 * Compact encoding: json_encode writes the bytes json_dumps(JSON_COMPACT | JSON_ENCODE_ANY)
 * writes, into one growing buffer (jansson calls back per token, grows a buffer and copies
 * the result once more; that was a fifth of the CPU of an authenticated list request).
 * Strings are copied in runs between the bytes that need an escape, with jansson's escapes
 * (\\ \" \b \f \n \r \t, other control characters as \u00XX with capital hex) and its
 * UTF-8 check. A value it does not handle the same way (a real, invalid UTF-8, nesting deeper
 * than ENC_MAX_DEPTH) is left to json_dumps whole, so the output never differs.
 */
#include "base/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"

bool json_depth_ok(const char *text, size_t len, int max_depth)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '\\') {
                i++;
            } else if (ch == '"') {
                in_str = false;
            }
            continue;
        }
        if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max_depth) {
                return false;
            }
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    return true;
}

json_t *json_parse_strict(const char *text, size_t len, char *err, size_t errlen)
{
    if (!json_depth_ok(text, len, JSON_MAX_DEPTH)) {
        snprintf(err, errlen, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
    }
    return v;
}

#define ENC_MAX_DEPTH 256

struct enc {
    char *p;
    size_t len, cap;
    bool sorted; /* object members in key order (jansson's JSON_SORT_KEYS) */
};

static char *enc_room(struct enc *e, size_t n)
{
    if (e->cap - e->len < n) {
        size_t cap = e->cap * 2;
        while (cap - e->len < n) {
            cap *= 2;
        }
        e->p = xrealloc(e->p, cap);
        e->cap = cap;
    }
    return e->p + e->len;
}

static void enc_put(struct enc *e, const char *s, size_t n)
{
    memcpy(enc_room(e, n), s, n);
    e->len += n;
}

/* Length of the valid UTF-8 sequence at s (first byte >= 0x80), or 0 (jansson's rules:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return len;
}

/* Write str[0..n) as a JSON string literal at o, which has room for n * 6 + 2 bytes; returns
 * the end, or NULL at invalid UTF-8 unless replace, which writes U+FFFD for each bad byte. */
/* Might any of the 8 bytes at s need escaping (under 0x20, from 0x80, '"' or a backslash)?
 * Exact for "no": the usual plain ASCII text is copied a word at a time. */
static bool word_needs_escape(const unsigned char *s)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t x;
    memcpy(&x, s, 8);
    uint64_t q = x ^ ('"' * ones), b = x ^ ('\\' * ones);
    return ((x | ((x - 0x20 * ones) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) != 0;
}

static char *escape_string(char *o, const char *str, size_t n, bool replace)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run + 8 <= n && !word_needs_escape(s + run)) {
            run += 8;
        }
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\') {
            run++;
        }
        memcpy(o, s + i, run - i);
        o += run - i;
        i = run;
        if (i == n) {
            break;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);
            if (!k && !replace) {
                return NULL;
            }
            if (!k) {
                memcpy(o, "\\uFFFD", 6);
                o += 6;
                i++;
                continue;
            }
            memcpy(o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
            break;
        }
        i++;
    }
    *o++ = '"';
    return o;
}

static bool enc_string(struct enc *e, const char *str, size_t n)
{
    char *o = escape_string(enc_room(e, n * 6 + 2), str, n, false);
    if (!o) {
        return false;
    }
    e->len = (size_t)(o - e->p);
    return true;
}

int json_buf_string(struct buf *b, const char *s, size_t n)
{
    char *o = buf_reserve(b, n * 6 + 2);
    if (!o) {
        return SB_E_TOOBIG;
    }
    buf_commit(b, (size_t)(escape_string(o, s, n, true) - o));
    return 0;
}

static bool enc_value(struct enc *e, const json_t *v, int depth);

struct enc_member {
    const char *key;
    size_t len;
    const json_t *value;
};

/* jansson's order for JSON_SORT_KEYS: bytes compared as unsigned, a prefix first. */
static int member_cmp(const void *a, const void *b)
{
    const struct enc_member *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* An object's members sorted by key (e->sorted). */
static bool enc_sorted_object(struct enc *e, const json_t *v, int depth)
{
    size_t n = json_object_size(v), i = 0;
    struct enc_member small[32];
    struct enc_member *m = n <= 32 ? small : xcalloc(n, sizeof *m);
    for (void *it = json_object_iter((json_t *)v); it && i < n;
         it = json_object_iter_next((json_t *)v, it), i++) {
        m[i] = (struct enc_member){json_object_iter_key(it), json_object_iter_key_len(it),
                                   json_object_iter_value(it)};
    }
    if (m == small) {
        /* Insertion sort: rows have a dozen members, where qsort's indirect calls cost more. */
        for (size_t a = 1; a < i; a++) {
            struct enc_member x = m[a];
            size_t b = a;
            for (; b > 0 && member_cmp(&m[b - 1], &x) > 0; b--) {
                m[b] = m[b - 1];
            }
            m[b] = x;
        }
    } else {
        qsort(m, i, sizeof *m, member_cmp);
    }
    bool ok = true;
    enc_put(e, "{", 1);
    for (size_t k = 0; k < i && ok; k++) {
        if (k) {
            enc_put(e, ",", 1);
        }
        ok = enc_string(e, m[k].key, m[k].len);
        if (ok) {
            enc_put(e, ":", 1);
            ok = enc_value(e, m[k].value, depth + 1);
        }
    }
    enc_put(e, "}", 1);
    if (m != small) {
        free(m);
    }
    return ok;
}

static bool enc_value(struct enc *e, const json_t *v, int depth)
{
    if (depth > ENC_MAX_DEPTH) {
        return false;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (e->sorted && json_object_size(v) > 1) {
            return enc_sorted_object(e, v, depth);
        }
        enc_put(e, "{", 1);
        bool first = true;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first) {
                enc_put(e, ",", 1);
            }
            first = false;
            if (!enc_string(e, json_object_iter_key(it), json_object_iter_key_len(it))) {
                return false;
            }
            enc_put(e, ":", 1);
            if (!enc_value(e, json_object_iter_value(it), depth + 1)) {
                return false;
            }
        }
        enc_put(e, "}", 1);
        return true;
    }
    case JSON_ARRAY: {
        enc_put(e, "[", 1);
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if (i) {
                enc_put(e, ",", 1);
            }
            if (!enc_value(e, json_array_get(v, i), depth + 1)) {
                return false;
            }
        }
        enc_put(e, "]", 1);
        return true;
    }
    case JSON_STRING:
        return enc_string(e, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        char *o = enc_room(e, BUF_I64_LEN);
        e->len += buf_fmt_i64(o, (int64_t)json_integer_value(v));
        return true;
    }
    case JSON_TRUE:
        enc_put(e, "true", 4);
        return true;
    case JSON_FALSE:
        enc_put(e, "false", 5);
        return true;
    case JSON_NULL:
        enc_put(e, "null", 4);
        return true;
    default:
        return false; /* reals: jansson's own formatting */
    }
}

static char *encode(const json_t *v, size_t *len_out, bool sorted)
{
    struct enc e = {.p = xmalloc(1024), .cap = 1024, .sorted = sorted};
    if (v && enc_value(&e, v, 0)) {
        *enc_room(&e, 1) = 0;
        if (len_out) {
            *len_out = e.len;
        }
        return e.p;
    }
    free(e.p);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                (sorted ? JSON_SORT_KEYS : JSON_PRESERVE_ORDER));
    if (!s) {
        s = xstrdup("null");
    }
    if (len_out) {
        *len_out = strlen(s);
    }
    return s;
}

char *json_encode(const json_t *v, size_t *len_out)
{
    return encode(v, len_out, false);
}

char *json_encode_sorted(const json_t *v, size_t *len_out)
{
    return encode(v, len_out, true);
}

static bool keys_ascending(const char *const *keys, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) >= 0) {
            return false;
        }
    }
    return true;
}

char *json_encode_sorted_pick(const json_t *obj, const char *const *keys, size_t n, size_t *len_out)
{
    if (keys_ascending(keys, n)) {
        struct enc e = {.p = xmalloc(1024), .cap = 1024, .sorted = true};
        bool ok = true;
        enc_put(&e, "{", 1);
        for (size_t i = 0; i < n && ok; i++) {
            if (i) {
                enc_put(&e, ",", 1);
            }
            const json_t *v = json_object_get(obj, keys[i]);
            ok = enc_string(&e, keys[i], strlen(keys[i]));
            if (ok) {
                enc_put(&e, ":", 1);
                ok = v ? enc_value(&e, v, 1) : (enc_put(&e, "null", 4), true);
            }
        }
        if (ok) {
            enc_put(&e, "}", 1);
            *enc_room(&e, 1) = 0;
            if (len_out) {
                *len_out = e.len;
            }
            return e.p;
        }
        free(e.p); /* a value only jansson encodes (a real): the general path below */
    }
    json_t *pick = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        json_object_set_new(pick, keys[i], v ? json_incref(v) : json_null());
    }
    char *out = encode(pick, len_out, true);
    json_decref(pick);
    return out;
}
