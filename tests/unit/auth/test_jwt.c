/*
 * Unit tests for src/auth/jwt.c. Tokens for the negative cases are built by hand here with
 * libsodium's own base64 and one-shot HMAC (not the code under test), so a shared bug in the
 * codec or the signer cannot hide itself.
 */
#include "test.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>

#include "auth/jwt.h"
#include "auth/token.h"
#include "base/err.h"

#define NOW 1795600800LL
#define TOK_MAX 12000

/* crypto_auth_hmacsha256 (one-shot) needs exactly 32 bytes of key. */
static const uint8_t key[32] = "0123456789abcdef0123456789abcde";
static const uint8_t other_key[32] = "0123456789abcdef0123456789abcdX";

static void b64(const void *in, size_t len, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* out = hseg "." pseg "." base64url(HMAC(k, hseg "." pseg)); segments used verbatim. */
static void make_raw(const uint8_t *k, const char *hseg, const char *pseg, char *out)
{
    /* Room for both segments, two dots and the 43-character signature, or the test is wrong. */
    size_t hl = strlen(hseg), pl = strlen(pseg);
    CHECK(hl + pl + 2 + 44 <= TOK_MAX);
    memcpy(out, hseg, hl);
    out[hl] = '.';
    memcpy(out + hl + 1, pseg, pl);
    out[hl + 1 + pl] = '\0';
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    size_t n = hl + 1 + pl;
    crypto_auth_hmacsha256(mac, (const unsigned char *)out, n, k);
    out[n++] = '.';
    b64(mac, sizeof mac, out + n, TOK_MAX - n);
}

static void make(const uint8_t *k, const char *hjson, const char *pjson, char *out)
{
    static char h[TOK_MAX], p[TOK_MAX];
    b64(hjson, strlen(hjson), h, sizeof h);
    b64(pjson, strlen(pjson), p, sizeof p);
    make_raw(k, h, p, out);
}

#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* A payload with every claim, times relative to NOW. */
static void payload(char *out, size_t cap, long long iat_d, long long exp_d)
{
    snprintf(out, cap,
             "{\"sub\":\"u-1\",\"role\":\"agent\",\"client_id\":\"c-1\",\"iat\":%lld,\"exp\":%lld}",
             NOW + iat_d, NOW + exp_d);
}

static struct auth_claims last;

/* "ok" or the reason verification gave; "BAD RC" when the error code is not 401's. */
static const char *verify_len(const char *tok, size_t len)
{
    const char *why = "unset";
    memset(&last, 0x55, sizeof last);
    int rc = auth_jwt_verify(key, sizeof key, tok, len, NOW, &last, &why);
    if (rc == 0) {
        return why == NULL ? "ok" : "ok but why set";
    }
    if (rc != SB_E_UNAUTHORIZED) {
        return "BAD RC";
    }
    if (last.sub[0] != '\0' || last.exp != 0) {
        return "claims not cleared";
    }
    return why ? why : "(null why)";
}

static const char *verify(const char *tok)
{
    return verify_len(tok, strlen(tok));
}

static const char *verify_hp(const char *hjson, const char *pjson)
{
    static char tok[TOK_MAX];
    make(key, hjson, pjson, tok);
    return verify(tok);
}

static const char *verify_p(const char *pjson)
{
    return verify_hp(HDR, pjson);
}

static void test_sign_verify(void)
{
    struct auth_claims c = {.sub = "user-42",
                            .role = "admin",
                            .client_id = "client-7",
                            .sid = "family-9",
                            .iat = NOW,
                            .exp = NOW + 900};
    char *tok = NULL;
    CHECK_EQ_INT(auth_jwt_sign(key, sizeof key, &c, &tok), 0);
    CHECK(tok != NULL);
    CHECK(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
    CHECK_EQ_STR(verify(tok), "ok");
    CHECK_EQ_STR(last.sub, "user-42");
    CHECK_EQ_STR(last.role, "admin");
    CHECK_EQ_STR(last.client_id, "client-7");
    CHECK_EQ_STR(last.sid, "family-9");
    CHECK_EQ_INT(last.iat, NOW);
    CHECK_EQ_INT(last.exp, NOW + 900);
    /* Same bytes as the independent construction. */
    char p[512], ref[TOK_MAX];
    snprintf(p, sizeof p,
             "{\"sub\":\"user-42\",\"role\":\"admin\",\"client_id\":\"client-7\",\"sid\":"
             "\"family-9\",\"iat\":%lld,\"exp\":%lld}",
             NOW, NOW + 900);
    make(key, HDR, p, ref);
    CHECK_EQ_STR(tok, ref);
    /* why may be NULL. */
    struct auth_claims out;
    CHECK_EQ_INT(auth_jwt_verify(key, sizeof key, tok, strlen(tok), NOW, &out, NULL), 0);
    CHECK_EQ_INT(auth_jwt_verify(other_key, sizeof key, tok, strlen(tok), NOW, &out, NULL),
                 SB_E_UNAUTHORIZED);
    free(tok);

    /* super_admin: client_id null on the wire, "" back; no sid member. */
    struct auth_claims s = {.sub = "root", .role = "super_admin", .iat = NOW, .exp = NOW + 60};
    CHECK_EQ_INT(auth_jwt_sign(key, sizeof key, &s, &tok), 0);
    snprintf(p, sizeof p,
             "{\"sub\":\"root\",\"role\":\"super_admin\",\"client_id\":null,\"iat\":%lld,\"exp\":"
             "%lld}",
             NOW, NOW + 60);
    make(key, HDR, p, ref);
    CHECK_EQ_STR(tok, ref);
    CHECK_EQ_STR(verify(tok), "ok");
    CHECK_EQ_STR(last.client_id, "");
    CHECK_EQ_STR(last.sid, "");
    CHECK_EQ_STR(last.role, "super_admin");
    free(tok);

    /* Keys of any length (the multi-part HMAC hashes keys over 64 bytes). */
    uint8_t long_key[100];
    memset(long_key, 7, sizeof long_key);
    CHECK_EQ_INT(auth_jwt_sign(long_key, sizeof long_key, &c, &tok), 0);
    CHECK_EQ_INT(auth_jwt_verify(long_key, sizeof long_key, tok, strlen(tok), NOW, &out, NULL), 0);
    CHECK_EQ_INT(auth_jwt_verify(long_key, 64, tok, strlen(tok), NOW, &out, NULL),
                 SB_E_UNAUTHORIZED);
    free(tok);

    /* Signing refuses claims it could not verify. */
    struct auth_claims bad = c;
    snprintf(bad.role, sizeof bad.role, "root");
    tok = (char *)"x";
    CHECK_EQ_INT(auth_jwt_sign(key, sizeof key, &bad, &tok), SB_E_INVAL);
    CHECK(tok == NULL);
    bad = c;
    bad.sub[0] = '\0';
    CHECK_EQ_INT(auth_jwt_sign(key, sizeof key, &bad, &tok), SB_E_INVAL);
    bad = c;
    memset(bad.sub, 'a', sizeof bad.sub);
    CHECK_EQ_INT(auth_jwt_sign(key, sizeof key, &bad, &tok), SB_E_INVAL);
    CHECK_EQ_INT(auth_jwt_sign(key, 0, &c, &tok), SB_E_INVAL);
}

/* The jwt.io default example (secret "your-256-bit-secret", a 19-byte key). */
static void test_jwtio_vector(void)
{
    const char *tok = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ik"
                      "pvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_"
                      "adQssw5c";
    const char *secret = "your-256-bit-secret";
    struct auth_claims out;
    const char *why = NULL;
    /* The signature checks out; the payload lacks role, exp and client_id. */
    CHECK_EQ_INT(
        auth_jwt_verify((const uint8_t *)secret, strlen(secret), tok, strlen(tok), NOW, &out, &why),
        SB_E_UNAUTHORIZED);
    CHECK_EQ_STR(why, "missing claims");
    CHECK_EQ_INT(auth_jwt_verify((const uint8_t *)"your-256-bit-secreT", 19, tok, strlen(tok), NOW,
                                 &out, &why),
                 SB_E_UNAUTHORIZED);
    CHECK_EQ_STR(why, "bad signature");
}

static void test_hand_built(void)
{
    char p[512];
    /* Extra claims are ignored; nbf and sid honoured; {"alg":"HS256"} alone is enough. */
    snprintf(p, sizeof p,
             "{\"name\":\"Jane\",\"exp\":%lld,\"role\":\"viewer\",\"sid\":\"s1\",\"aud\":[1,2],"
             "\"client_id\":\"c9\",\"iat\":%lld,\"nbf\":%lld,\"sub\":\"v-1\"}",
             NOW + 10, NOW - 5, NOW - 5);
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\"}", p), "ok");
    CHECK_EQ_STR(last.sub, "v-1");
    CHECK_EQ_STR(last.role, "viewer");
    CHECK_EQ_STR(last.client_id, "c9");
    CHECK_EQ_STR(last.sid, "s1");
    CHECK_EQ_INT(last.exp, NOW + 10);
    CHECK_EQ_STR(verify_hp("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", p), "ok");
    snprintf(p, sizeof p,
             "{\"sub\":\"a\",\"role\":\"super_admin\",\"client_id\":null,\"iat\":%lld,\"exp\":"
             "%lld}",
             NOW, NOW + 1);
    CHECK_EQ_STR(verify_p(p), "ok");
    CHECK_EQ_STR(last.client_id, "");
}

static void test_bad_headers(void)
{
    char p[512], tok[TOK_MAX], h[128], ps[512];
    payload(p, sizeof p, 0, 900);
    CHECK_EQ_STR(verify_p(p), "ok");
    /* alg none with an empty signature, and with a valid MAC for good measure. */
    b64("{\"alg\":\"none\"}", 14, h, sizeof h);
    b64(p, strlen(p), ps, sizeof ps);
    snprintf(tok, sizeof tok, "%s.%s.", h, ps);
    CHECK_EQ_STR(verify(tok), "malformed");
    snprintf(tok, sizeof tok, "%s.%s", h, ps);
    CHECK_EQ_STR(verify(tok), "malformed");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"none\"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"none\",\"typ\":\"JWT\"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"hs256\"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256 \"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":[\"HS256\"]}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"typ\":\"JWT\"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\",\"kid\":\"k1\"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", p), "bad algorithm");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\",\"typ\":null}", p), "bad algorithm");
    /* Duplicate keys, non-objects and non-JSON. */
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", p), "malformed");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"none\",\"alg\":\"HS256\"}", p), "malformed");
    CHECK_EQ_STR(verify_hp("[\"HS256\"]", p), "malformed");
    CHECK_EQ_STR(verify_hp("\"HS256\"", p), "malformed");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\"", p), "malformed");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\"} ", p), "ok");
    CHECK_EQ_STR(verify_hp("{\"alg\":\"HS256\"}{}", p), "malformed");
}

static void test_bad_signatures(void)
{
    char p[512], tok[TOK_MAX];
    payload(p, sizeof p, 0, 900);
    /* Signed with another key. */
    make(other_key, HDR, p, tok);
    CHECK_EQ_STR(verify(tok), "bad signature");
    /* Every single-bit flip of the MAC (re-encoded canonically). */
    make(key, HDR, p, tok);
    char *sig = strrchr(tok, '.') + 1;
    unsigned char mac[32];
    CHECK_EQ_INT(auth_b64url_decode(sig, strlen(sig), mac, sizeof mac), 32);
    int wrong = 0;
    for (int bit = 0; bit < 256; bit++) {
        mac[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        b64(mac, sizeof mac, sig, 44);
        if (strcmp(verify(tok), "bad signature") != 0) {
            wrong++;
        }
        mac[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    CHECK_EQ_INT(wrong, 0);
    b64(mac, sizeof mac, sig, 44);
    CHECK_EQ_STR(verify(tok), "ok");
    /* Signature of the wrong length: 31 and 33 bytes. */
    char short_sig[TOK_MAX];
    snprintf(short_sig, sizeof short_sig, "%.*s", (int)(sig - tok), tok);
    b64(mac, 31, short_sig + strlen(short_sig), 48);
    CHECK_EQ_STR(verify(short_sig), "malformed");
    unsigned char mac33[33];
    memcpy(mac33, mac, 32);
    mac33[32] = 0;
    snprintf(short_sig, sizeof short_sig, "%.*s", (int)(sig - tok), tok);
    b64(mac33, 33, short_sig + strlen(short_sig), 48);
    CHECK_EQ_STR(verify(short_sig), "malformed");
    /* Non-canonical trailing bits in the signature: same 32 bytes, another spelling. */
    char last_c = sig[42];
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    sig[42] = alpha[(strchr(alpha, last_c) - alpha) | 1];
    CHECK_EQ_STR(verify(tok), "malformed");
    sig[42] = last_c;
    /* Padding and foreign characters in the signature. */
    size_t n = strlen(tok);
    tok[n] = '=';
    tok[n + 1] = '\0';
    CHECK_EQ_STR(verify(tok), "malformed");
    tok[n] = '\0';
    char saved = sig[5];
    sig[5] = '+';
    CHECK_EQ_STR(verify(tok), "malformed");
    sig[5] = '/';
    CHECK_EQ_STR(verify(tok), "malformed");
    sig[5] = saved;
    CHECK_EQ_STR(verify(tok), "ok");
    /* A change in the signed part. */
    tok[40] = tok[40] == 'A' ? 'B' : 'A';
    CHECK(strcmp(verify(tok), "ok") != 0);
    /* Empty key. */
    make(key, HDR, p, tok);
    struct auth_claims out;
    CHECK_EQ_INT(auth_jwt_verify(key, 0, tok, strlen(tok), NOW, &out, NULL), SB_E_UNAUTHORIZED);
}

static void test_structure(void)
{
    char p[512], tok[TOK_MAX], t2[2 * TOK_MAX + 8];
    payload(p, sizeof p, 0, 900);
    make(key, HDR, p, tok);
    CHECK_EQ_STR(verify(tok), "ok");
    /* Every proper prefix fails. */
    size_t len = strlen(tok);
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        if (strcmp(verify_len(tok, i), "ok") == 0) {
            accepted++;
        }
    }
    CHECK_EQ_INT(accepted, 0);
    /* Two and four segments, empty segments. */
    char *dot2 = strrchr(tok, '.');
    snprintf(t2, sizeof t2, "%.*s", (int)(dot2 - tok), tok);
    CHECK_EQ_STR(verify(t2), "malformed");
    snprintf(t2, sizeof t2, "%s.%s", tok, dot2 + 1);
    CHECK_EQ_STR(verify(t2), "malformed");
    snprintf(t2, sizeof t2, "%s.", tok);
    CHECK_EQ_STR(verify(t2), "malformed");
    snprintf(t2, sizeof t2, ".%s", tok);
    CHECK_EQ_STR(verify(t2), "malformed");
    CHECK_EQ_STR(verify(".."), "malformed");
    CHECK_EQ_STR(verify(""), "malformed");
    CHECK_EQ_STR(verify("abc"), "malformed");
    const char *hb = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
    make_raw(key, hb, "", t2);
    CHECK_EQ_STR(verify(t2), "malformed");
    /* A NUL inside the token. */
    memcpy(t2, tok, len + 1);
    t2[10] = '\0';
    CHECK_EQ_STR(verify_len(t2, len), "malformed");
    /* Correctly signed but badly encoded segments: padding, '+' '/', trailing bits. */
    char ps[512];
    b64(p, strlen(p), ps, sizeof ps);
    CHECK(strlen(ps) % 4 != 0);
    size_t pl = strlen(ps);
    ps[pl] = '=';
    ps[pl + 1] = '\0';
    if (strlen(ps) % 4 != 0) {
        ps[pl + 1] = '=';
        ps[pl + 2] = '\0';
    }
    make_raw(key, hb, ps, t2);
    CHECK_EQ_STR(verify(t2), "malformed");
    make_raw(key, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9==", ps, t2);
    CHECK_EQ_STR(verify(t2), "malformed");
    ps[pl] = '\0';
    make_raw(key, hb, ps, t2);
    CHECK_EQ_STR(verify(t2), "ok");
    /* Standard-alphabet characters in the header: "{"alg" + "?" makes a '/'-free spelling
       impossible, so substitute in place. */
    char hbad[64];
    snprintf(hbad, sizeof hbad, "%s", hb);
    hbad[3] = '+';
    make_raw(key, hbad, ps, t2);
    CHECK_EQ_STR(verify(t2), "malformed");
    hbad[3] = '/';
    make_raw(key, hbad, ps, t2);
    CHECK_EQ_STR(verify(t2), "malformed");
    /* Non-canonical trailing bits in the payload (length 4k+2 or 4k+3 has unused bits). */
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char lastc = ps[pl - 1];
    ps[pl - 1] = alpha[(strchr(alpha, lastc) - alpha) | 1];
    make_raw(key, hb, ps, t2);
    CHECK_EQ_STR(verify(t2), "malformed");
}

static void test_times(void)
{
    char p[512];
    payload(p, sizeof p, 0, -61);
    CHECK_EQ_STR(verify_p(p), "expired");
    payload(p, sizeof p, 0, -60);
    CHECK_EQ_STR(verify_p(p), "expired");
    payload(p, sizeof p, 0, -59);
    CHECK_EQ_STR(verify_p(p), "ok");
    payload(p, sizeof p, 0, -30);
    CHECK_EQ_STR(verify_p(p), "ok");
    payload(p, sizeof p, -1000, -3600);
    CHECK_EQ_STR(verify_p(p), "expired");
    /* iat in the future beyond the leeway. */
    payload(p, sizeof p, 61, 900);
    CHECK_EQ_STR(verify_p(p), "not yet valid");
    payload(p, sizeof p, 60, 900);
    CHECK_EQ_STR(verify_p(p), "ok");
    /* nbf. */
    snprintf(p, sizeof p,
             "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":%lld,\"exp\":%lld,"
             "\"nbf\":%lld}",
             NOW, NOW + 900, NOW + 61);
    CHECK_EQ_STR(verify_p(p), "not yet valid");
    snprintf(p, sizeof p,
             "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":%lld,\"exp\":%lld,"
             "\"nbf\":%lld}",
             NOW, NOW + 900, NOW + 60);
    CHECK_EQ_STR(verify_p(p), "ok");
    /* Extreme values do not overflow. */
    snprintf(p, sizeof p,
             "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":%lld,\"exp\":%lld}",
             (long long)INT64_MIN, (long long)INT64_MAX);
    CHECK_EQ_STR(verify_p(p), "ok");
    snprintf(p, sizeof p,
             "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":0,\"exp\":%lld}",
             (long long)INT64_MIN);
    CHECK_EQ_STR(verify_p(p), "expired");
    /* Verification time is the caller's: the same token is fine earlier. */
    char tok[TOK_MAX];
    payload(p, sizeof p, 0, -61);
    make(key, HDR, p, tok);
    struct auth_claims out;
    CHECK_EQ_INT(auth_jwt_verify(key, sizeof key, tok, strlen(tok), NOW - 50, &out, NULL), 0);
}

/* Expand a claims template: $I is NOW, $E is NOW + 900, $S is s. */
static void fill(const char *tmpl, const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *t = tmpl; *t && n + 32 < cap; t++) {
        if (t[0] == '$' && (t[1] == 'I' || t[1] == 'E')) {
            n += (size_t)snprintf(out + n, cap - n, "%lld", t[1] == 'I' ? NOW : NOW + 900);
            t++;
        } else if (t[0] == '$' && t[1] == 'S' && s) {
            n += (size_t)snprintf(out + n, cap - n, "%s", s);
            t++;
        } else {
            out[n++] = *t;
        }
    }
    out[n] = '\0';
}

static void test_claims(void)
{
    static const char *const missing[] = {
        "{\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"exp\":$E,\"x\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"x\":$E}",
        /* wrong types */
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"exp\":\"$E\"}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":\"$I\",\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E.5}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I.0,\"exp\":$E}",
        "{\"sub\":7,\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":null,\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":null,\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":5,\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":false,\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"sid\":1,\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"sid\":null,\"iat\":$I,\"exp\":"
        "$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"nbf\":\"0\",\"iat\":$I,\"exp\":"
        "$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E,\"nbf\":"
        "null}",
        /* bad roles */
        "{\"sub\":\"u\",\"role\":\"root\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"Admin\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"super_admin_x\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
    };
    char p[512];
    int wrong = 0;
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        fill(missing[i], NULL, p, sizeof p);
        const char *why = verify_p(p);
        if (strcmp(why, "missing claims") != 0) {
            fprintf(stderr, "claims case %zu: %s\n", i, why);
            wrong++;
        }
    }
    CHECK_EQ_INT(wrong, 0);
    /* String sizes: 63 bytes fit, 64 do not. */
    char s63[64], s64[65];
    memset(s63, 'a', 63);
    s63[63] = '\0';
    memset(s64, 'b', 64);
    s64[64] = '\0';
    snprintf(p, sizeof p,
             "{\"sub\":\"%s\",\"role\":\"agent\",\"client_id\":\"%s\",\"sid\":\"%s\",\"iat\":%lld,"
             "\"exp\":%lld}",
             s63, s63, s63, NOW, NOW + 900);
    CHECK_EQ_STR(verify_p(p), "ok");
    CHECK_EQ_INT(strlen(last.sub), 63);
    CHECK_EQ_INT(strlen(last.client_id), 63);
    CHECK_EQ_INT(strlen(last.sid), 63);
    const char *fmts[] = {
        "{\"sub\":\"$S\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":$I,\"exp\":$E}",
        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"$S\",\"iat\":$I,\"exp\":$E}",
        ("{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"sid\":\"$S\",\"iat\":$I,"
         "\"exp\":$E}"),
    };
    for (size_t i = 0; i < 3; i++) {
        fill(fmts[i], s64, p, sizeof p);
        CHECK_EQ_STR(verify_p(p), "missing claims");
    }
    /* Duplicate keys and non-object payloads. */
    snprintf(p, sizeof p,
             "{\"sub\":\"a\",\"sub\":\"b\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":%lld,"
             "\"exp\":%lld}",
             NOW, NOW + 900);
    CHECK_EQ_STR(verify_p(p), "malformed");
    snprintf(p, sizeof p,
             "{\"sub\":\"a\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":%lld,\"exp\":%lld,"
             "\"exp\":%lld}",
             NOW, NOW - 1000, NOW + 900);
    CHECK_EQ_STR(verify_p(p), "malformed");
    CHECK_EQ_STR(verify_p("[]"), "malformed");
    CHECK_EQ_STR(verify_p("[{\"sub\":\"a\"}]"), "malformed");
    CHECK_EQ_STR(verify_p("\"sub\""), "malformed");
    CHECK_EQ_STR(verify_p("123"), "malformed");
    CHECK_EQ_STR(verify_p("null"), "malformed");
    CHECK_EQ_STR(verify_p("{\"sub\":"), "malformed");
    CHECK_EQ_STR(verify_p("{\"sub\":\"a\\u0000b\"}"), "malformed");
    CHECK_EQ_STR(verify_p("{\"sub\":\"\xff\"}"), "malformed");
}

/* A correctly signed token of exactly total bytes (payload padded with a "pad" claim). */
static void make_sized(size_t total, char *tok)
{
    /* 36 header chars, two dots, 43 signature chars. */
    size_t seg = total - 36 - 2 - 43;
    size_t bytes = seg / 4 * 3 + (seg % 4 ? seg % 4 - 1 : 0);
    char *p = malloc(bytes + 1);
    int head = snprintf(p, bytes + 1,
                        "{\"sub\":\"u\",\"role\":\"agent\",\"client_id\":\"c\",\"iat\":%lld,"
                        "\"exp\":%lld,\"pad\":\"",
                        NOW, NOW + 900);
    memset(p + head, 'x', bytes - (size_t)head - 2);
    memcpy(p + bytes - 2, "\"}", 3);
    make(key, HDR, p, tok);
    free(p);
}

static void test_size_limit(void)
{
    static char tok[TOK_MAX];
    make_sized(AUTH_JWT_MAX_LEN, tok);
    CHECK_EQ_INT(strlen(tok), AUTH_JWT_MAX_LEN);
    CHECK_EQ_STR(verify(tok), "ok");
    CHECK_EQ_STR(last.sub, "u");
    make_sized(AUTH_JWT_MAX_LEN + 1, tok);
    CHECK_EQ_INT(strlen(tok), AUTH_JWT_MAX_LEN + 1);
    CHECK_EQ_STR(verify(tok), "too long");
    /* Checked before anything else: even a NULL pointer with a huge length. */
    CHECK_EQ_STR(verify_len(NULL, SIZE_MAX), "too long");
    CHECK_EQ_STR(verify_len(NULL, 0), "malformed");
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    test_sign_verify();
    test_jwtio_vector();
    test_hand_built();
    test_bad_headers();
    test_bad_signatures();
    test_structure();
    test_times();
    test_claims();
    test_size_limit();
    return test_done();
}
