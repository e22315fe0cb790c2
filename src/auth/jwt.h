/*
 * HS256 JSON Web Tokens for access tokens (DESIGN §6). Verification is strict: the header
 * must be exactly alg HS256 (typ JWT optional), the signature is compared in constant time,
 * exp is required and nbf honoured with at most leeway_s seconds of leeway, required claims
 * (sub, role, exp, iat) must be present with the right types, client_id must be a string or
 * null, base64url must be canonical without padding, duplicate JSON keys are rejected, and
 * tokens over AUTH_JWT_MAX_LEN bytes are rejected before any work.
 */
#ifndef SB_AUTH_JWT_H
#define SB_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_JWT_MAX_LEN 8192
#define AUTH_JWT_LEEWAY_S 60

struct auth_claims {
    char sub[64];       /* user id */
    char role[16];      /* super_admin, admin, agent, viewer */
    char client_id[64]; /* "" when null (super_admin) */
    char sid[64];       /* session (refresh family) id, "" when absent */
    int64_t iat;        /* seconds */
    int64_t exp;        /* seconds */
};

/* Sign claims with key into *out (malloc'd, NUL-terminated). */
int auth_jwt_sign(const uint8_t *key, size_t key_len, const struct auth_claims *claims, char **out);
/*
 * Verify token[0..len) at time now_s; on success fill *out. Errors: SB_E_UNAUTHORIZED for
 * every kind of bad token; *why (may be NULL) gets a short static reason for logs and
 * realtime join errors ("expired", "bad signature", "malformed", ...), never the token.
 */
int auth_jwt_verify(const uint8_t *key, size_t key_len, const char *token, size_t len,
                    int64_t now_s, struct auth_claims *out, const char **why)
    __attribute__((warn_unused_result));

#endif
