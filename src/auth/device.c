/*
 * Device cookies (contract in device.h).
 */
#include "auth/device.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "base/rand.h"

_Static_assert(sizeof(((struct auth_device_key *)0)->key) == crypto_auth_hmacsha256_BYTES,
               "the device key is one HMAC-SHA256 key");

void auth_device_key_init(struct auth_device_key *self, const unsigned char *server_key, size_t len)
{
    auth_wipe(self, sizeof *self);
    if (!server_key || !len) {
        return;
    }
    static const char label[] = "sb device cookie v1";
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, server_key, len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof label - 1);
    crypto_auth_hmacsha256_final(&st, self->key);
    auth_wipe(&st, sizeof st);
    self->set = true;
}

/* mac_b64 of "device:<account>:<body>" where body is "<iat>.<nonce>". */
static void device_mac(const struct auth_device_key *key, const char *account, const char *body,
                       size_t body_len, char mac_b64[64])
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "device:%s:%.*s", account, (int)body_len, body);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)msg, len, key->key);
    auth_b64url_encode(mac, sizeof mac, mac_b64);
    auth_wipe(mac, sizeof mac);
}

void auth_device_issue(const struct auth_device_key *key, const char *account, int64_t now_ms,
                       char out[AUTH_DEVICE_LEN])
{
    if (!key || !key->set) {
        out[0] = '\0';
        return;
    }
    unsigned char nonce[16];
    rand_bytes(nonce, sizeof nonce);
    char nonce_b64[32];
    auth_b64url_encode(nonce, sizeof nonce, nonce_b64);
    char body[64];
    int n = snprintf(body, sizeof body, "%lld.%s", (long long)(now_ms / 1000), nonce_b64);
    char mac_b64[64];
    device_mac(key, account, body, (size_t)n, mac_b64);
    /* body is at most 20 digits, a dot and 22 characters; mac_b64 43 characters. */
    size_t bl = strlen(body), ml = strlen(mac_b64);
    memcpy(out, body, bl);
    out[bl] = '.';
    memcpy(out + bl + 1, mac_b64, ml + 1);
}

bool auth_device_valid(const struct auth_device_key *key, const char *account, const char *token,
                       int64_t now_ms)
{
    if (!key || !key->set || !token || strlen(token) >= AUTH_DEVICE_LEN) {
        return false;
    }
    const char *dot = strrchr(token, '.');
    if (!dot || dot == token) {
        return false;
    }
    char *end;
    long long iat = strtoll(token, &end, 10);
    if (end == token || *end != '.' || iat <= 0 || iat > now_ms / 1000 + 60 ||
        now_ms / 1000 - iat > AUTH_DEVICE_TTL_S) {
        return false;
    }
    char want[64];
    device_mac(key, account, token, (size_t)(dot - token), want);
    size_t wl = strlen(want);
    return strlen(dot + 1) == wl && auth_consttime_eq(want, dot + 1, wl);
}

const char *auth_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == ';') {
            p++;
        }
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= outlen) {
                return NULL;
            }
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return out;
        }
        p = semi;
    }
    return NULL;
}
