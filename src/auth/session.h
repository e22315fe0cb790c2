/*
 * Sessions: the signing key, access-token issue and verification, the in-memory user-state
 * cache that makes revocation take effect at once; its init and shutdown also set up and
 * release the login limiter (auth/ratelimit.h).
 *
 * The cache holds every user's role, tenant and status and every client's status. It is
 * loaded at start and kept current from the change log (the realtime hub calls
 * auth_session_apply_change for each users/clients event, within a second of any commit,
 * including writes made directly in SQL). A token is accepted only when its signature and
 * times are valid AND the cached user is active, its client is active, its role and tenant
 * still match, and its session was not revoked (logout, refresh reuse, password change).
 *
 * Revocations are durable and reach every node: the revoking transaction marks the session
 * revoked in refresh_tokens and writes an audit entry; auth_session_apply_change applies
 * that entry from the change log on every node, and auth_session_init reloads the sessions
 * revoked within the last access-token lifetime.
 *
 * Thread-safe: a read-write lock guards the cache; verification never touches the store.
 */
#ifndef SB_AUTH_SESSION_H
#define SB_AUTH_SESSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ratelimit.h"
#include "policy/policy.h"
#include "store/store.h"

struct auth_session_config {
    const char *jwt_secret; /* NULL or "": load or generate one in the store's meta table */
    const char *jwt_secret_previous; /* NULL or "": none; else accepted, never used to sign */
    int64_t access_ttl_ms;           /* default 15 min */
    int64_t refresh_ttl_ms;          /* default 30 days */
    int64_t refresh_grace_ms;        /* reuse grace after a rotation (0: none) */
    struct auth_login_limits login;  /* zero fields: the defaults of ratelimit.h */
};

/* Load the key and the user cache. Call once from the main thread before serving. */
int auth_session_init(struct store *store, const struct auth_session_config *cfg);
void auth_session_shutdown(void);

/* Sign an access token for p; *token is malloc'd; *expires_in_s its lifetime. */
int auth_session_issue(const struct policy_principal *p, char **token, int64_t *expires_in_s);
/* Verify a token and the cached user state; fills *out. SB_E_UNAUTHORIZED with *why set. */
int auth_session_check_token(const char *token, size_t len, struct policy_principal *out,
                             const char **why);
/* Like check_token, also giving the token's expiry (seconds since the epoch). */
int auth_session_check_token_exp(const char *token, size_t len, struct policy_principal *out,
                                 int64_t *exp_s, const char **why);
/* Is the principal (from an earlier check) still allowed? For long-lived realtime channels. */
int auth_session_still_valid(const struct policy_principal *p, const char **why);

/* Keep the cache current: a change-log event of table users or clients. */
void auth_session_apply_change(const struct store_change *ch);
/* Revoke every access token of session sid at once (logout, refresh reuse). */
void auth_session_revoke_sid(const char *sid);
/* Revoke every access token issued to user so far (password change). */
void auth_session_revoke_user(const char *user_id);
int64_t auth_session_refresh_ttl_ms(void);
int64_t auth_session_access_ttl_ms(void);
int64_t auth_session_refresh_grace_ms(void);

/* Put a user or client row just read from the store into the cache when the cache does not
 * know it yet, so a token issued from it works at once even before the change log brings the
 * row (a user created a moment ago). Known rows are left to the change log. */
void auth_session_note_user(const json_t *user_row);
void auth_session_note_client(const json_t *client_row);

#endif
