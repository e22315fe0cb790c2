/*
 * Opaque secrets: refresh tokens (256-bit random, base64url) and the hashes under which they
 * are stored (SHA-256, hex). Also constant-time comparison and wiping.
 */
#ifndef SB_AUTH_TOKEN_H
#define SB_AUTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_LEN 44      /* 43 base64url characters and the NUL */
#define AUTH_TOKEN_HASH_LEN 65 /* 64 hex characters and the NUL */

void auth_token_new(char out[AUTH_TOKEN_LEN]);
void auth_token_hash(const char *token, size_t len, char out[AUTH_TOKEN_HASH_LEN]);
bool auth_consttime_eq(const void *a, const void *b, size_t len);
void auth_wipe(void *p, size_t len);

/* base64url without padding; returns the encoded length. out needs 4*ceil(len/3)+1 bytes. */
size_t auth_b64url_encode(const unsigned char *in, size_t len, char *out);
/* Strict decode (no padding, canonical trailing bits); returns decoded length or SB_E_INVAL. */
int auth_b64url_decode(const char *in, size_t len, unsigned char *out, size_t out_cap);

#endif
