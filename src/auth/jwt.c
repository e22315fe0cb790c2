/*
 * HS256 JSON Web Tokens (RFC 7519) for access tokens.
 *
 * A token is three base64url segments, header.payload.signature, where the signature is
 * HMAC-SHA-256 over the ASCII bytes "header.payload". Verification is ordered so that the
 * cheapest and most hostile checks come first and no claim is believed before the MAC:
 *
 *   1. length cap (AUTH_JWT_MAX_LEN) before touching the bytes;
 *   2. exactly two dots, no empty segment;
 *   3. header: strict base64url, JSON object without duplicate keys, alg exactly "HS256",
 *      typ absent or "JWT", no other member (so no "crit", "jku", "kid" games);
 *   4. signature: strict base64url of exactly 32 bytes, compared in constant time;
 *   5. payload: strict base64url, JSON object without duplicate keys, typed claims;
 *   6. time: exp, nbf and iat against now with AUTH_JWT_LEEWAY_S of leeway.
 *
 * Decoded segments live in fixed stack buffers sized from AUTH_JWT_MAX_LEN. The base64url
 * codec is the one in token.c. Everything here is reentrant (no globals).
 */
#include "auth/jwt.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "base/alloc.h"
#include "base/err.h"

#define JWT_HEADER_JSON "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define JWT_HEADER_MAX 128 /* decoded header bytes; ours is 27 */
#define JWT_PAYLOAD_MAX (AUTH_JWT_MAX_LEN / 4 * 3)
#define JWT_SIG_B64_LEN 43 /* base64url of 32 bytes */

static const char *const jwt_roles[] = {"super_admin", "admin", "agent", "viewer"};

static bool jwt_role_is_valid(const char *role)
{
    for (size_t i = 0; i < sizeof jwt_roles / sizeof jwt_roles[0]; i++) {
        if (strcmp(role, jwt_roles[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* HMAC-SHA-256 of data with a key of any length (the multi-part API hashes long keys). */
static void jwt_mac(const uint8_t *key, size_t key_len, const char *data, size_t len,
                    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)data, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

/* Copy a string claim of at most cap-1 bytes; false when it does not fit. */
static bool jwt_copy_str(char *dst, size_t cap, json_t *v)
{
    size_t n = json_string_length(v);
    if (n >= cap) {
        return false;
    }
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    return true;
}

/* Decode a base64url segment and parse it as a JSON object (duplicate keys rejected). */
static json_t *jwt_decode_object(const char *seg, size_t len, unsigned char *buf, size_t cap)
{
    int n = auth_b64url_decode(seg, len, buf, cap);
    if (n < 0) {
        return NULL;
    }
    json_t *obj = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* True when the header is exactly {"alg":"HS256"} plus an optional "typ":"JWT". */
static bool jwt_header_is_valid(json_t *hdr)
{
    json_t *alg = json_object_get(hdr, "alg");
    json_t *typ = json_object_get(hdr, "typ");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_string_length(alg) != 5) {
        return false;
    }
    if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0 ||
                json_string_length(typ) != 3)) {
        return false;
    }
    return json_object_size(hdr) == (typ ? 2u : 1u);
}

/* Fill *c from the payload; false when a claim is missing or has the wrong type or size. */
static bool jwt_claims_parse(json_t *p, struct auth_claims *c, bool *has_nbf, int64_t *nbf)
{
    json_t *sub = json_object_get(p, "sub");
    json_t *role = json_object_get(p, "role");
    json_t *cid = json_object_get(p, "client_id");
    json_t *sid = json_object_get(p, "sid");
    json_t *iat = json_object_get(p, "iat");
    json_t *exp = json_object_get(p, "exp");
    json_t *jnbf = json_object_get(p, "nbf");

    if (!json_is_string(sub) || json_string_length(sub) == 0 ||
        !jwt_copy_str(c->sub, sizeof c->sub, sub)) {
        return false;
    }
    if (!json_is_string(role) || !jwt_copy_str(c->role, sizeof c->role, role) ||
        !jwt_role_is_valid(c->role)) {
        return false;
    }
    if (json_is_null(cid)) {
        c->client_id[0] = '\0';
    } else if (!json_is_string(cid) || !jwt_copy_str(c->client_id, sizeof c->client_id, cid)) {
        return false;
    }
    if (!sid) {
        c->sid[0] = '\0';
    } else if (!json_is_string(sid) || !jwt_copy_str(c->sid, sizeof c->sid, sid)) {
        return false;
    }
    if (!json_is_integer(iat) || !json_is_integer(exp)) {
        return false;
    }
    c->iat = json_integer_value(iat);
    c->exp = json_integer_value(exp);
    *has_nbf = jnbf != NULL;
    if (jnbf) {
        if (!json_is_integer(jnbf)) {
            return false;
        }
        *nbf = json_integer_value(jnbf);
    }
    return true;
}

int auth_jwt_verify(const uint8_t *key, size_t key_len, const char *token, size_t len,
                    int64_t now_s, struct auth_claims *out, const char **why)
{
    const char *reason = "malformed";
    json_t *hdr = NULL;
    json_t *payload = NULL;
    unsigned char hbuf[JWT_HEADER_MAX];
    unsigned char pbuf[JWT_PAYLOAD_MAX];
    unsigned char sig[crypto_auth_hmacsha256_BYTES];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    memset(out, 0, sizeof *out);
    if (len > AUTH_JWT_MAX_LEN) {
        reason = "too long";
        goto out_fail;
    }
    if (!token || !key || key_len == 0) {
        goto out_fail;
    }

    const char *dot1 = memchr(token, '.', len);
    if (!dot1) {
        goto out_fail;
    }
    const char *pay = dot1 + 1;
    const char *dot2 = memchr(pay, '.', len - (size_t)(pay - token));
    if (!dot2) {
        goto out_fail;
    }
    const char *sigs = dot2 + 1;
    size_t sig_len = len - (size_t)(sigs - token);
    size_t hdr_len = (size_t)(dot1 - token);
    size_t pay_len = (size_t)(dot2 - pay);
    if (memchr(sigs, '.', sig_len) || hdr_len == 0 || pay_len == 0 || sig_len == 0) {
        goto out_fail;
    }

    hdr = jwt_decode_object(token, hdr_len, hbuf, sizeof hbuf);
    if (!hdr) {
        goto out_fail;
    }
    if (!jwt_header_is_valid(hdr)) {
        reason = "bad algorithm";
        goto out_fail;
    }

    if (sig_len != JWT_SIG_B64_LEN ||
        auth_b64url_decode(sigs, sig_len, sig, sizeof sig) != (int)sizeof sig) {
        goto out_fail;
    }
    jwt_mac(key, key_len, token, (size_t)(dot2 - token), mac);
    int diff = sodium_memcmp(sig, mac, sizeof mac);
    sodium_memzero(mac, sizeof mac);
    if (diff != 0) {
        reason = "bad signature";
        goto out_fail;
    }

    payload = jwt_decode_object(pay, pay_len, pbuf, sizeof pbuf);
    if (!payload) {
        goto out_fail;
    }
    struct auth_claims c;
    memset(&c, 0, sizeof c);
    bool has_nbf = false;
    int64_t nbf = 0;
    if (!jwt_claims_parse(payload, &c, &has_nbf, &nbf)) {
        reason = "missing claims";
        goto out_fail;
    }
    /* Clamp so that now +- leeway cannot overflow. */
    int64_t lo = now_s > INT64_MIN + AUTH_JWT_LEEWAY_S ? now_s - AUTH_JWT_LEEWAY_S : INT64_MIN;
    int64_t hi = now_s < INT64_MAX - AUTH_JWT_LEEWAY_S ? now_s + AUTH_JWT_LEEWAY_S : INT64_MAX;
    if (c.exp <= lo) {
        reason = "expired";
        goto out_fail;
    }
    if ((has_nbf && nbf > hi) || c.iat > hi) {
        reason = "not yet valid";
        goto out_fail;
    }

    *out = c;
    json_decref(payload);
    json_decref(hdr);
    if (why) {
        *why = NULL;
    }
    return 0;

out_fail:
    json_decref(payload);
    json_decref(hdr);
    if (why) {
        *why = reason;
    }
    return SB_E_UNAUTHORIZED;
}

int auth_jwt_sign(const uint8_t *key, size_t key_len, const struct auth_claims *claims, char **out)
{
    *out = NULL;
    const struct auth_claims *c = claims;
    size_t sub_len = strnlen(c->sub, sizeof c->sub);
    if (!key || key_len == 0 || sub_len == 0 || sub_len == sizeof c->sub ||
        strnlen(c->role, sizeof c->role) == sizeof c->role || !jwt_role_is_valid(c->role) ||
        strnlen(c->client_id, sizeof c->client_id) == sizeof c->client_id ||
        strnlen(c->sid, sizeof c->sid) == sizeof c->sid) {
        return SB_E_INVAL;
    }

    /* json_string rejects invalid UTF-8; json_object_set_new then fails with a NULL value. */
    json_t *p = json_object();
    int rc = json_object_set_new(p, "sub", json_string(c->sub));
    rc |= json_object_set_new(p, "role", json_string(c->role));
    rc |= json_object_set_new(p, "client_id",
                              c->client_id[0] ? json_string(c->client_id) : json_null());
    if (c->sid[0]) {
        rc |= json_object_set_new(p, "sid", json_string(c->sid));
    }
    rc |= json_object_set_new(p, "iat", json_integer(c->iat));
    rc |= json_object_set_new(p, "exp", json_integer(c->exp));
    char *pjson = rc == 0 ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!pjson) {
        return SB_E_INVAL;
    }

    size_t hlen = strlen(JWT_HEADER_JSON);
    size_t plen = strlen(pjson);
    size_t cap = (hlen + 2) / 3 * 4 + (plen + 2) / 3 * 4 + JWT_SIG_B64_LEN + 4;
    char *tok = xmalloc(cap);
    size_t n = auth_b64url_encode((const unsigned char *)JWT_HEADER_JSON, hlen, tok);
    tok[n++] = '.';
    n += auth_b64url_encode((const unsigned char *)pjson, plen, tok + n);
    free(pjson);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    jwt_mac(key, key_len, tok, n, mac);
    tok[n++] = '.';
    n += auth_b64url_encode(mac, sizeof mac, tok + n);
    sodium_memzero(mac, sizeof mac);
    if (n > AUTH_JWT_MAX_LEN) {
        free(tok);
        return SB_E_INVAL;
    }
    *out = tok;
    return 0;
}
