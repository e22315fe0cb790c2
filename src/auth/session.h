/*
 * Sessions: the signing key, access-token issue and verification, the in-memory user-state
 * cache that makes revocation take effect at once.
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
 * that entry from the change log on every node, and auth_session_new reloads the sessions
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

/*
 * One server's session state (the key and the cache above). The app creates one and hands it
 * to api, svc and realtime; two servers in one process (the unit tests) each have their own,
 * so a revocation, a disabled user, a device-cookie key, a login attempt in flight or a
 * refresh grace entry of one never shows in the other. (Login-limit counters live in the
 * database, auth_counters_store_new, so servers on one database share them on purpose.)
 */
struct auth_session;

/* Load or create the key and load the user cache and recent revocations from store. Call
 * from the main thread before serving. *out is the caller's (auth_session_free). The login
 * limiter counts in store, which must outlive every login; token checks never touch it. */
int auth_session_new(struct store *store, const struct auth_session_config *cfg,
                     struct auth_session **out);
/* Wipe the key and free everything; NULL is a no-op. Call after every user has stopped. */
void auth_session_free(struct auth_session *self);
/* The device-cookie key derived from this server's signing key (auth/device.h); NULL when
 * self is NULL. */
struct auth_device_key;
const struct auth_device_key *auth_session_device_key(const struct auth_session *self);
/* This server's login limiter (auth/ratelimit.h) and refresh reuse grace (auth/grace.h),
 * owned by self. */
struct auth_limiter *auth_session_limiter(struct auth_session *self);
struct auth_grace;
struct auth_grace *auth_session_grace(struct auth_session *self);

/* Sign an access token for p; *token is malloc'd; *expires_in_s its lifetime. A token issued
 * in the second of a revocation of its user is dated the next second (revocations count whole
 * seconds), so it is not revoked with the sessions before it. */
int auth_session_issue(struct auth_session *self, const struct policy_principal *p, char **token,
                       int64_t *expires_in_s);
/* Verify a token and the cached user state; fills *out. SB_E_UNAUTHORIZED with *why set.
 * Never queries the store. */
int auth_session_check_token(struct auth_session *self, const char *token, size_t len,
                             struct policy_principal *out, const char **why);
/* Like check_token, also giving the token's expiry (seconds since the epoch). */
int auth_session_check_token_exp(struct auth_session *self, const char *token, size_t len,
                                 struct policy_principal *out, int64_t *exp_s, const char **why);
/* Is the principal (from an earlier check) still allowed? For long-lived realtime channels. */
int auth_session_still_valid(struct auth_session *self, const struct policy_principal *p,
                             const char **why);

/* Keep the cache current: a change-log event of table users, clients or audit_logs (the
 * realtime hub's consumer; any thread). */
void auth_session_apply_change(struct auth_session *self, const struct store_change *ch);
/* Revoke every access token of session sid at once (logout, refresh reuse). The revoke and
 * note calls do nothing when self is NULL (a svc without a server). */
void auth_session_revoke_sid(struct auth_session *self, const char *sid);
/* Revoke every access token issued to user so far (password change). */
void auth_session_revoke_user(struct auth_session *self, const char *user_id);
int64_t auth_session_refresh_ttl_ms(const struct auth_session *self);
int64_t auth_session_access_ttl_ms(const struct auth_session *self);
int64_t auth_session_refresh_grace_ms(const struct auth_session *self);

/* Put a user or client row just read from the store into the cache when the cache does not
 * know it yet, so a token issued from it works at once even before the change log brings the
 * row (a user created a moment ago). Known rows are left to the change log. */
void auth_session_note_user(struct auth_session *self, const json_t *user_row);
void auth_session_note_client(struct auth_session *self, const json_t *client_row);

#endif
