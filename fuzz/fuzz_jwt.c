/*
 * libFuzzer target for HS256 JWT parsing and verification (src/auth/jwt.c).
 *
 * The first input byte picks a mode (low two bits); verification runs at the fixed time
 * FUZZ_JWT_NOW with the fixed key fuzz_jwt_key unless a mode says otherwise:
 *   0  the rest is a token, verified as is (the seeds hold tokens signed with the fixed key,
 *      so mutations of them reach every check up to the MAC);
 *   1  the rest is a payload, 2 a header, '\n', a payload: the target signs them itself
 *      (base64url + HMAC-SHA-256 with the fixed key) so the header and claim checks behind
 *      the MAC are fuzzed too;
 *   3  the rest becomes claims (sub, role, client_id, sid, iat, exp) and a key; the token
 *      auth_jwt_sign makes from them is checked exhaustively (see below).
 * Invariants (abort when broken):
 * - every result is 0 or SB_E_UNAUTHORIZED; a failure has a reason and zeroed claims;
 * - a verified token has a non-empty sub, a known role, NUL-terminated strings, exp after
 *   now - leeway and iat before now + leeway; signing its claims again verifies to the same;
 * - the verifier reads nothing past len: tokens are exact-size heap copies, and the same
 *   token followed by more bytes verifies the same when given its own length;
 * - mode 3: signing fails only for an empty sub or a string that is not UTF-8; a signed
 *   token verifies (at now = iat) iff exp is after iat - leeway, to the same claims; with
 *   another key, cut one byte short, or with any single byte changed, it never verifies.
 * Replayed by tests/unit/auth/test_jwt_corpus.c over fuzz/corpus/jwt/.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/token.h"
#include "base/err.h"
#include "fuzz.h"

#define FUZZ_JWT_NOW INT64_C(1750000000)

static const uint8_t fuzz_jwt_key[32] = "switchboard-fuzz-key-0123456789";

/* DESIGN §6 time rule: exp after now - leeway, iat not after now + leeway (clamped). */
static bool fuzz_jwt_time_ok(int64_t iat, int64_t exp, int64_t now)
{
    int64_t lo = now > INT64_MIN + AUTH_JWT_LEEWAY_S ? now - AUTH_JWT_LEEWAY_S : INT64_MIN;
    int64_t hi = now < INT64_MAX - AUTH_JWT_LEEWAY_S ? now + AUTH_JWT_LEEWAY_S : INT64_MAX;
    return exp > lo && iat <= hi;
}

static bool fuzz_jwt_cstr(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static bool fuzz_jwt_claims_eq(const struct auth_claims *a, const struct auth_claims *b)
{
    return strcmp(a->sub, b->sub) == 0 && strcmp(a->role, b->role) == 0 &&
           strcmp(a->client_id, b->client_id) == 0 && strcmp(a->sid, b->sid) == 0 &&
           a->iat == b->iat && a->exp == b->exp;
}

/* Verify token[0..len) (copied to an exact-size buffer); checks the result's invariants. */
static int fuzz_jwt_verify(const uint8_t *key, size_t key_len, const char *token, size_t len,
                           int64_t now, struct auth_claims *out)
{
    char *exact = fuzz_copy(token, len);
    const char *why = "unset";
    memset(out, 0xa5, sizeof *out);
    int rc = auth_jwt_verify(key, key_len, exact, len, now, out, &why);
    free(exact);
    FUZZ_ASSERT(rc == 0 || rc == SB_E_UNAUTHORIZED);
    if (rc < 0) {
        static const struct auth_claims zero;
        FUZZ_ASSERT(why != NULL && why[0] != '\0' && strcmp(why, "unset") != 0);
        FUZZ_ASSERT(memcmp(out, &zero, sizeof zero) == 0);
        return rc;
    }
    FUZZ_ASSERT(why == NULL);
    FUZZ_ASSERT(len <= AUTH_JWT_MAX_LEN);
    FUZZ_ASSERT(fuzz_jwt_cstr(out->sub, sizeof out->sub) && out->sub[0] != '\0');
    FUZZ_ASSERT(fuzz_jwt_cstr(out->role, sizeof out->role));
    FUZZ_ASSERT(strcmp(out->role, "super_admin") == 0 || strcmp(out->role, "admin") == 0 ||
                strcmp(out->role, "agent") == 0 || strcmp(out->role, "viewer") == 0);
    FUZZ_ASSERT(fuzz_jwt_cstr(out->client_id, sizeof out->client_id));
    FUZZ_ASSERT(fuzz_jwt_cstr(out->sid, sizeof out->sid));
    FUZZ_ASSERT(fuzz_jwt_time_ok(out->iat, out->exp, now));
    return 0;
}

/* A verified token: the same bytes with junk after them verify the same; re-signing works. */
static void fuzz_jwt_accepted(const uint8_t *key, size_t key_len, const char *token, size_t len,
                              int64_t now, const struct auth_claims *c)
{
    char *longer = malloc(len + 8);
    FUZZ_ASSERT(longer != NULL);
    memcpy(longer, token, len);
    memcpy(longer + len, ".AAAA\0x=", 8);
    struct auth_claims again;
    FUZZ_ASSERT(auth_jwt_verify(key, key_len, longer, len, now, &again, NULL) == 0);
    FUZZ_ASSERT(fuzz_jwt_claims_eq(c, &again));
    free(longer);

    char *tok = NULL;
    FUZZ_ASSERT(auth_jwt_sign(key, key_len, c, &tok) == 0);
    FUZZ_ASSERT(fuzz_jwt_verify(key, key_len, tok, strlen(tok), now, &again) == 0);
    FUZZ_ASSERT(fuzz_jwt_claims_eq(c, &again));
    free(tok);
}

static void fuzz_jwt_token(const char *token, size_t len)
{
    struct auth_claims c;
    if (fuzz_jwt_verify(fuzz_jwt_key, sizeof fuzz_jwt_key, token, len, FUZZ_JWT_NOW, &c) == 0) {
        fuzz_jwt_accepted(fuzz_jwt_key, sizeof fuzz_jwt_key, token, len, FUZZ_JWT_NOW, &c);
    }
}

/* Build header.payload.signature from raw segment bytes, signed with the fixed key. */
static void fuzz_jwt_signed_segments(const uint8_t *hdr, size_t hlen, const uint8_t *pay,
                                     size_t plen)
{
    size_t cap = (hlen + 2) / 3 * 4 + (plen + 2) / 3 * 4 + 64;
    char *tok = malloc(cap);
    FUZZ_ASSERT(tok != NULL);
    size_t n = auth_b64url_encode(hdr, hlen, tok);
    tok[n++] = '.';
    n += auth_b64url_encode(pay, plen, tok + n);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, fuzz_jwt_key, sizeof fuzz_jwt_key);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, n);
    crypto_auth_hmacsha256_final(&st, mac);
    tok[n++] = '.';
    n += auth_b64url_encode(mac, sizeof mac, tok + n);
    FUZZ_ASSERT(n < cap);
    fuzz_jwt_token(tok, n);
    free(tok);
}

/* Take the next string field (up to a NUL byte or the end) from *p, at most cap - 1 bytes. */
static void fuzz_jwt_take(const uint8_t **p, const uint8_t *end, char *dst, size_t cap)
{
    size_t n = 0;
    while (*p < end && **p != '\0' && n < cap - 1) {
        dst[n++] = (char)*(*p)++;
    }
    dst[n] = '\0';
    if (*p < end) {
        (*p)++;
    }
}

static int64_t fuzz_jwt_int(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && *p < end; i++) {
        v = v << 8 | *(*p)++;
    }
    return (int64_t)v;
}

static bool fuzz_jwt_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static void fuzz_jwt_claims(const uint8_t *p, const uint8_t *end)
{
    static const char *const roles[] = {"super_admin", "admin", "agent", "viewer"};
    struct auth_claims c;
    memset(&c, 0, sizeof c);
    uint8_t sel = p < end ? *p++ : 0;
    strcpy(c.role, roles[sel & 3]);
    c.iat = fuzz_jwt_int(&p, end);
    c.exp = fuzz_jwt_int(&p, end);
    fuzz_jwt_take(&p, end, c.sub, sizeof c.sub);
    fuzz_jwt_take(&p, end, c.client_id, sizeof c.client_id);
    fuzz_jwt_take(&p, end, c.sid, sizeof c.sid);
    uint8_t key[64];
    size_t key_len = 0;
    while (p < end && key_len < sizeof key) {
        key[key_len++] = *p++;
    }
    if (key_len == 0) {
        key[key_len++] = 'k';
    }

    char *tok = NULL;
    int rc = auth_jwt_sign(key, key_len, &c, &tok);
    bool signable =
        c.sub[0] && fuzz_jwt_utf8(c.sub) && fuzz_jwt_utf8(c.client_id) && fuzz_jwt_utf8(c.sid);
    FUZZ_ASSERT((rc == 0) == signable);
    if (rc < 0) {
        FUZZ_ASSERT(rc == SB_E_INVAL && tok == NULL);
        return;
    }
    size_t len = strlen(tok);
    int64_t now = c.iat;
    bool valid = fuzz_jwt_time_ok(c.iat, c.exp, now);
    struct auth_claims out;
    rc = fuzz_jwt_verify(key, key_len, tok, len, now, &out);
    FUZZ_ASSERT((rc == 0) == valid);
    if (rc == 0) {
        FUZZ_ASSERT(fuzz_jwt_claims_eq(&c, &out));
        fuzz_jwt_accepted(key, key_len, tok, len, now, &out);
    }
    if (valid) {
        /* Only a token that would verify proves anything when it is changed. */
        key[sel % key_len] ^= 0x01;
        FUZZ_ASSERT(fuzz_jwt_verify(key, key_len, tok, len, now, &out) < 0);
        key[sel % key_len] ^= 0x01;
        FUZZ_ASSERT(fuzz_jwt_verify(key, key_len, tok, len - 1, now, &out) < 0);
        uint8_t flip = (uint8_t)(sel | 1);
        for (size_t i = 0; i < len; i++) {
            tok[i] = (char)(tok[i] ^ flip);
            FUZZ_ASSERT(fuzz_jwt_verify(key, key_len, tok, len, now, &out) < 0);
            tok[i] = (char)(tok[i] ^ flip);
        }
    }
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const uint8_t *rest = data + 1, *end = data + size;
    switch (data[0] & 3) {
    case 0:
        fuzz_jwt_token((const char *)rest, size - 1);
        break;
    case 1:
        fuzz_jwt_signed_segments((const uint8_t *)"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, rest,
                                 size - 1);
        break;
    case 2: {
        const uint8_t *nl = memchr(rest, '\n', size - 1);
        const uint8_t *pay = nl ? nl + 1 : end;
        fuzz_jwt_signed_segments(rest, (size_t)((nl ? nl : end) - rest), pay, (size_t)(end - pay));
        break;
    }
    default:
        fuzz_jwt_claims(rest, end);
        break;
    }
    return 0;
}
