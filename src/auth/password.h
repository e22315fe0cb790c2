/*
 * Password hashing: argon2id (libsodium crypto_pwhash_str) at m = 19 MiB, t = 2, p = 1 or
 * stronger. Hashing is slow on purpose: call only from worker threads, never a loop. A
 * process-wide semaphore caps concurrent hashes (auth_password_set_concurrency) so a burst of
 * logins cannot take every worker thread.
 */
#ifndef SB_AUTH_PASSWORD_H
#define SB_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define AUTH_PASSWORD_MIN_LEN 8
#define AUTH_PASSWORD_MAX_LEN 256

/* Maximum concurrent hash/verify operations (default 2). Call before serving. */
void auth_password_set_concurrency(unsigned n);
/* Hash pw into out (NUL-terminated encoded string); 0, SB_E_INVAL (length) or SB_E_NOMEM. */
int auth_password_hash(const char *pw, size_t len, char out[AUTH_PASSWORD_HASH_MAX])
    __attribute__((warn_unused_result));
/* True when pw matches hash. hash NULL verifies against a fixed dummy hash and returns false,
 * taking the same time, so an unknown user and a wrong password cannot be told apart. */
bool auth_password_verify(const char *hash, const char *pw, size_t len)
    __attribute__((warn_unused_result));

#endif
