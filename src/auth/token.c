/*
 * Opaque secrets and the small primitives around them.
 *
 * Refresh tokens are 32 bytes from the OS CSPRNG, written as 43 base64url characters; the
 * store keeps only their SHA-256 (hex), so a database leak does not leak live sessions.
 *
 * This file also holds the one base64url codec of the auth module (jwt.c uses it). Encoding
 * never pads. Decoding is strict so that every byte string has exactly one accepted spelling:
 * no '=' padding, only the URL-safe alphabet, no length of the form 4k+1, and the unused low
 * bits of the last character must be zero. A JWT whose signature could be spelled two ways
 * would let an attacker mint distinct-but-valid tokens, which breaks token blocklists.
 */
#include "auth/token.h"

#include <limits.h>
#include <stdint.h>
#include <sodium.h>

#include "base/err.h"
#include "base/rand.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of a base64url character, or -1. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

size_t auth_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

int auth_b64url_decode(const char *in, size_t len, unsigned char *out, size_t out_cap)
{
    size_t rem = len % 4;
    if (rem == 1 || len / 4 > (size_t)INT_MAX / 3 - 1) {
        return SB_E_INVAL;
    }
    size_t out_len = len / 4 * 3 + (rem ? rem - 1 : 0);
    if (out_len > out_cap) {
        return SB_E_INVAL;
    }
    size_t o = 0;
    uint32_t acc = 0;
    unsigned nbits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) {
            return SB_E_INVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[o++] = (unsigned char)(acc >> nbits);
            acc &= (1u << nbits) - 1;
        }
    }
    /* What is left in acc are the unused low bits of the last character. */
    if (acc != 0) {
        return SB_E_INVAL;
    }
    return (int)o;
}

void auth_token_new(char out[AUTH_TOKEN_LEN])
{
    unsigned char raw[32];
    rand_bytes(raw, sizeof raw);
    auth_b64url_encode(raw, sizeof raw, out);
    auth_wipe(raw, sizeof raw);
}

void auth_token_hash(const char *token, size_t len, char out[AUTH_TOKEN_HASH_LEN])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, len);
    sodium_bin2hex(out, AUTH_TOKEN_HASH_LEN, digest, sizeof digest);
    auth_wipe(digest, sizeof digest);
}

bool auth_consttime_eq(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

void auth_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}
