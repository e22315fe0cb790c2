/*
 * Refresh reuse grace: the pair a refresh token was just rotated into, kept for a few seconds
 * so that a second presentation of the same token (two tabs refreshing at once, a retry
 * after a timeout) gets that same pair instead of ending the session. After the grace a
 * reuse is theft again (svc/auth.c revokes the family).
 *
 * Entries are keyed by the hash of the spent token, hold the new refresh token and access
 * token in clear for at most the grace period, and are wiped when they expire or are dropped.
 * Per server (one struct auth_grace in each auth/session.h instance): a retry that reaches
 * another node or a restarted one finds nothing here.
 *
 * Thread-safe: any thread may call these functions.
 */
#ifndef SB_AUTH_GRACE_H
#define SB_AUTH_GRACE_H

#include <stddef.h>
#include <stdint.h>

struct auth_grace;
struct auth_grace *auth_grace_new(void);
/* Wipe and free every entry; NULL is a no-op. */
void auth_grace_free(struct auth_grace *self);

/* Remember that the token hashed to spent_hash was rotated into (refresh, access,
 * expires_in_s) at now_ms, for grace_ms. grace_ms <= 0 remembers nothing. */
void auth_grace_put(struct auth_grace *self, const char *spent_hash, const char *refresh_token,
                    const char *access_token, int64_t expires_in_s, int64_t now_ms,
                    int64_t grace_ms);
/*
 * The pair spent_hash was rotated into, if its grace has not passed at now_ms: copies the
 * refresh token to refresh_out (refresh_len bytes), sets *access_out (malloc'd) and
 * *expires_in_s, and returns 0; else SB_E_NOTFOUND.
 */
int auth_grace_get(struct auth_grace *self, const char *spent_hash, int64_t now_ms,
                   char *refresh_out, size_t refresh_len, char **access_out, int64_t *expires_in_s);
/* Forget spent_hash (its rotation did not commit). */
void auth_grace_drop(struct auth_grace *self, const char *spent_hash);

#endif
