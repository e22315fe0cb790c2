/*
 * Authentication flows: login, refresh-token rotation with reuse detection (and a short
 * reuse grace for concurrent refreshes, auth/grace.h), logout.
 *
 * A refresh token belongs to a family (one per login); the family id is also the `sid`
 * claim of every access token issued from it, so revoking a family (logout, reuse) cuts
 * its access tokens at once through the session cache. Every outcome writes one audit
 * entry in the transaction that changes the token table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/device.h"
#include "auth/grace.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/session.h"
#include "auth/token.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/rand.h"
#include "svc/svc_int.h"

void svc_tokens_release(struct svc_tokens *t)
{
    if (t->access_token) {
        auth_wipe(t->access_token, strlen(t->access_token));
        free(t->access_token);
    }
    auth_wipe(t->refresh_token, sizeof t->refresh_token);
    json_decref(t->user);
    memset(t, 0, sizeof *t);
}

static void principal_of(const json_t *user, const char *sid, struct policy_principal *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->user_id, sizeof p->user_id, "%s", jstr(user, "id"));
    snprintf(p->client_id, sizeof p->client_id, "%s",
             jstr(user, "client_id") ? jstr(user, "client_id") : "");
    snprintf(p->sid, sizeof p->sid, "%s", sid);
    p->role = policy_role_parse(jstr(user, "role"));
}

/* Issue a new refresh token in family and the access token for user. */
static int issue_pair(struct svc *svc, struct store_tx *tx, const json_t *user, const char *family,
                      struct svc_tokens *out)
{
    if (!svc->auth) {
        return SB_E_INTERNAL; /* no server session state to sign with (svc_set_auth) */
    }
    char hash[AUTH_TOKEN_HASH_LEN];
    auth_token_new(out->refresh_token);
    auth_token_hash(out->refresh_token, strlen(out->refresh_token), hash);
    int rc = store_refresh_insert(tx, jstr(user, "id"), family, hash,
                                  clock_now_ms() + auth_session_refresh_ttl_ms(svc->auth));
    if (rc < 0) {
        return rc;
    }
    struct policy_principal p;
    principal_of(user, family, &p);
    return auth_session_issue(svc->auth, &p, &out->access_token, &out->expires_in);
}

static int audit_only(struct svc *svc, const struct svc_actor *a, const char *action,
                      const char *entity_id, const json_t *after)
{
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = svc_audit(tx, a, action, "session", entity_id, NULL, after);
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    return store_tx_commit(tx);
}

static bool user_can_login(struct svc *svc, const json_t *user)
{
    if (!user || strcmp(jstr(user, "status"), "active") != 0) {
        return false;
    }
    const char *cid = jstr(user, "client_id");
    if (!cid) {
        return true;
    }
    struct store_tx *tx;
    if (store_tx_begin(svc->store, false, &tx) < 0) {
        return false;
    }
    struct store_scope all;
    policy_system_scope(&all);
    json_t *client = NULL;
    int rc = store_row_get(tx, STORE_CLIENTS, &all, cid, &client);
    store_tx_rollback(tx);
    bool ok = rc == 0 && !strcmp(jstr(client, "status"), "active");
    if (rc == 0) {
        auth_session_note_client(svc->auth, client);
    }
    json_decref(client);
    return ok;
}

/* A login the limiter let through: verify, audit, issue. *failed tells a wrong credential
 * (SB_E_UNAUTHORIZED) from errors that reached no verdict. */
static int login_checked(struct svc *svc, const struct svc_actor *ctx, const char *lower,
                         const char *password, struct svc_tokens *out, bool *failed)
{
    json_t *user = NULL;
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = store_user_auth_by_email(tx, lower, &user);
    store_tx_rollback(tx);
    if (rc < 0 && rc != SB_E_NOTFOUND) {
        return rc;
    }
    /* Verify even when the user is unknown (a dummy hash), so timing tells nothing. */
    const char *hash = user ? jstr(user, "password_hash") : NULL;
    bool ok = auth_password_verify(hash, password, strlen(password));
    if (user) {
        json_object_del(user, "password_hash");
    }
    ok = ok && user_can_login(svc, user);
    struct svc_actor a = *ctx;
    snprintf(a.email, sizeof a.email, "%s", lower);
    if (!ok) {
        if (user) {
            snprintf(a.who.user_id, sizeof a.who.user_id, "%s", jstr(user, "id"));
            snprintf(a.who.client_id, sizeof a.who.client_id, "%s",
                     jstr(user, "client_id") ? jstr(user, "client_id") : "");
        }
        a.system = false;
        *failed = true;
        json_t *after = json_pack("{s:s}", "email", lower);
        audit_only(svc, &a, "auth.login_failed", user ? jstr(user, "id") : NULL, after);
        json_decref(after);
        json_decref(user);
        return SB_E_UNAUTHORIZED;
    }
    principal_of(user, "", &a.who);
    a.system = false;
    char family[UUID_STR_LEN];
    uuid_v4(family);
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        json_decref(user);
        return rc;
    }
    char now[CLOCK_RFC3339_LEN];
    clock_format_ms(clock_now_ms(), now);
    json_t *set = json_pack("{s:s}", "last_login_at", now);
    struct store_scope all;
    policy_system_scope(&all);
    json_t *updated = NULL;
    rc = store_row_update(tx, STORE_USERS, &all, jstr(user, "id"), set, 0, &updated);
    json_decref(set);
    if (rc == 0) {
        rc = issue_pair(svc, tx, updated, family, out);
    }
    if (rc == 0) {
        json_t *after = json_pack("{s:s,s:s}", "email", lower, "session", family);
        rc = svc_audit(tx, &a, "auth.login", "session", family, NULL, after);
        json_decref(after);
    }
    json_decref(user);
    rc = svc_tx_end(tx, rc, NULL);
    if (rc < 0) {
        json_decref(updated);
        svc_tokens_release(out);
        return rc;
    }
    auth_session_note_user(svc->auth, updated);
    out->user = updated;
    return 0;
}

int svc_auth_login(struct svc *svc, const struct svc_actor *ctx, const char *email,
                   const char *password, const char *device, struct svc_tokens *out,
                   int *retry_after_s)
{
    memset(out, 0, sizeof *out);
    if (!svc->auth) {
        return SB_E_INTERNAL; /* no server session state (svc_set_auth) */
    }
    char lower[250];
    size_t n = strlen(email);
    if (n >= sizeof lower) {
        n = sizeof lower - 1;
    }
    for (size_t i = 0; i < n; i++) {
        lower[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
    }
    lower[n] = '\0';
    const struct auth_device_key *dkey = auth_session_device_key(svc->auth);
    bool known_device = auth_device_valid(dkey, lower, device, clock_now_ms());
    int rc = auth_login_check(auth_session_limiter(svc->auth), lower, ctx->ip, known_device,
                              clock_now_ms(), retry_after_s);
    if (rc < 0) {
        return rc;
    }
    bool failed = false;
    rc = login_checked(svc, ctx, lower, password, out, &failed);
    if (rc == 0) {
        auth_login_succeeded(auth_session_limiter(svc->auth), lower, ctx->ip, clock_now_ms());
        auth_device_issue(dkey, lower, clock_now_ms(), out->device);
    } else if (failed) {
        auth_login_failed(auth_session_limiter(svc->auth), lower, ctx->ip, clock_now_ms());
    } else {
        auth_login_abandon(auth_session_limiter(svc->auth), lower, ctx->ip);
    }
    return rc;
}

/* A second presentation of a token rotated moments ago (two tabs, a retry): answer with the
 * pair the first one got, kept by auth/grace.c. Nothing changes, so nothing is audited.
 * Not found (the grace passed, or the rotation happened on another node or before a restart):
 * 401 without revoking anything, since this is not known to be theft. Takes user. */
static int grace_reply(struct svc *svc, const char *hash, json_t *user, struct svc_tokens *out)
{
    if (!user || !user_can_login(svc, user) ||
        auth_grace_get(auth_session_grace(svc->auth), hash, clock_now_ms(), out->refresh_token,
                       sizeof out->refresh_token, &out->access_token, &out->expires_in) < 0) {
        json_decref(user);
        return SB_E_UNAUTHORIZED;
    }
    auth_session_note_user(svc->auth, user);
    out->user = user;
    return 0;
}

int svc_auth_prune(struct svc *svc, int64_t now_ms)
{
    if (!svc->auth) {
        return 0;
    }
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    int n = store_refresh_prune(tx, now_ms - auth_session_refresh_ttl_ms(svc->auth),
                                SVC_REFRESH_PRUNE_BATCH);
    rc = svc_tx_end(tx, n < 0 ? n : 0, NULL);
    return rc < 0 ? rc : n;
}

int svc_auth_refresh(struct svc *svc, const struct svc_actor *ctx, const char *refresh_token,
                     struct svc_tokens *out)
{
    memset(out, 0, sizeof *out);
    if (!svc->auth) {
        return SB_E_INTERNAL;
    }
    char hash[AUTH_TOKEN_HASH_LEN];
    auth_token_hash(refresh_token, strlen(refresh_token), hash);
    int64_t grace_ms = auth_session_refresh_grace_ms(svc->auth);
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    struct store_refresh rt;
    rc = store_refresh_find(tx, hash, &rt);
    if (rc == SB_E_NOTFOUND) {
        store_tx_rollback(tx);
        return SB_E_UNAUTHORIZED;
    }
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    struct store_scope all;
    policy_system_scope(&all);
    json_t *user = NULL;
    rc = store_row_get(tx, STORE_USERS, &all, rt.user_id, &user);
    struct svc_actor a = *ctx;
    if (user) {
        principal_of(user, rt.family_id, &a.who);
        snprintf(a.email, sizeof a.email, "%s", jstr(user, "email"));
    }
    a.system = false;
    int64_t now = clock_now_ms();
    if (rc == 0 && rt.used_at_ms && !rt.revoked_at_ms && grace_ms > 0 &&
        now - rt.used_at_ms <= grace_ms) {
        store_tx_rollback(tx);
        return grace_reply(svc, hash, user, out);
    }
    if (rc == 0 && rt.used_at_ms && !rt.revoked_at_ms) {
        /* Reuse of a rotated token after the grace: someone else has a copy. Kill the family. */
        rc = store_refresh_revoke_family(tx, rt.family_id);
        if (rc >= 0) {
            json_t *after = json_pack("{s:s}", "session", rt.family_id);
            rc = svc_audit(tx, &a, "auth.refresh_reuse", "session", rt.family_id, NULL, after);
            json_decref(after);
        }
        if (rc >= 0) {
            rc = store_tx_commit(tx);
            tx = NULL;
        }
        auth_session_revoke_sid(svc->auth, rt.family_id);
        log_event(LOG_WARN, "refresh token reuse detected; session revoked",
                  json_pack("{s:s,s:s}", "user_id", rt.user_id, "request_id", ctx->request_id));
        store_tx_rollback(tx);
        json_decref(user);
        return SB_E_UNAUTHORIZED;
    }
    if (rc < 0 || rt.revoked_at_ms || rt.used_at_ms || rt.expires_at_ms <= now ||
        !user_can_login(svc, user)) {
        store_tx_rollback(tx);
        json_decref(user);
        return SB_E_UNAUTHORIZED;
    }
    rc = store_refresh_mark_used(tx, rt.id);
    if (rc == SB_E_CONFLICT) {
        /* A concurrent refresh of the same token rotated it first (databases that let two
         * write transactions run at once); it kept its pair for us. */
        store_tx_rollback(tx);
        return grace_reply(svc, hash, user, out);
    }
    if (rc == 0) {
        rc = issue_pair(svc, tx, user, rt.family_id, out);
    }
    if (rc == 0) {
        json_t *after = json_pack("{s:s}", "session", rt.family_id);
        rc = svc_audit(tx, &a, "auth.refresh", "session", rt.family_id, NULL, after);
        json_decref(after);
    }
    if (rc == 0) {
        /* Before the commit, so a second refresh that sees the token spent finds the pair. */
        auth_grace_put(auth_session_grace(svc->auth), hash, out->refresh_token, out->access_token,
                       out->expires_in, now, grace_ms);
        rc = store_tx_commit(tx);
        if (rc < 0) {
            auth_grace_drop(auth_session_grace(svc->auth), hash);
        }
    } else {
        store_tx_rollback(tx);
    }
    if (rc < 0) {
        json_decref(user);
        svc_tokens_release(out);
        return rc == SB_E_CONFLICT ? SB_E_UNAUTHORIZED : rc;
    }
    auth_session_note_user(svc->auth, user);
    out->user = user;
    return 0;
}

int svc_auth_logout(struct svc *svc, const struct svc_actor *a, bool everywhere)
{
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    if (everywhere) {
        rc = store_refresh_revoke_user(tx, a->who.user_id);
    } else if (a->who.sid[0]) {
        rc = store_refresh_revoke_family(tx, a->who.sid);
    }
    if (rc >= 0) {
        json_t *after = json_pack("{s:s,s:b}", "session", a->who.sid, "everywhere", everywhere);
        rc = svc_audit(tx, a, everywhere ? "auth.logout_all" : "auth.logout", "session",
                       a->who.sid[0] ? a->who.sid : NULL, NULL, after);
        json_decref(after);
    }
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    rc = store_tx_commit(tx);
    if (rc == 0) {
        if (everywhere) {
            auth_session_revoke_user(svc->auth, a->who.user_id);
        } else {
            auth_session_revoke_sid(svc->auth, a->who.sid);
        }
    }
    return rc;
}

/* ---- passwords: change your own, reset tokens ---- */

static int password_ok(const char *field, const char *pw, struct svc_errors *err)
{
    size_t n = pw ? strlen(pw) : 0;
    if (!pw) {
        return svc_invalid(err, field, "required");
    }
    if (n < AUTH_PASSWORD_MIN_LEN) {
        return svc_invalid(err, field, "too_short");
    }
    return n > AUTH_PASSWORD_MAX_LEN ? svc_invalid(err, field, "too_long") : 0;
}

/* In tx: set user's password hash, revoke every refresh token of the user, and write the
 * audit entry that revokes the user's access tokens on every node (session.c). */
static int set_password(struct store_tx *tx, const struct svc_actor *a, const json_t *user,
                        const char *hash)
{
    struct store_scope all;
    policy_system_scope(&all);
    json_t *set = json_pack("{s:s}", "password_hash", hash);
    json_t *after = NULL;
    const char *id = jstr(user, "id");
    int rc = store_row_update(tx, STORE_USERS, &all, id, set, 0, &after);
    json_decref(set);
    if (rc == 0) {
        rc = store_refresh_revoke_user(tx, id);
        rc = rc > 0 ? 0 : rc;
    }
    if (rc == 0) {
        rc = svc_audit(tx, a, "user.update_password", "user", id, user, after);
    }
    json_decref(after);
    return rc;
}

int svc_auth_change_password(struct svc *svc, const struct svc_actor *a, const char *current,
                             const char *new_password, struct svc_tokens *out,
                             struct svc_errors *err, int *retry_after_s)
{
    memset(out, 0, sizeof *out);
    if (!svc->auth) {
        return SB_E_INTERNAL;
    }
    int rc = 0;
    if (!current || !*current) {
        rc = svc_invalid(err, "current_password", "required");
    } else if (strlen(current) > AUTH_PASSWORD_MAX_LEN) {
        rc = svc_invalid(err, "current_password", "incorrect");
    }
    if (password_ok("new_password", new_password, err) < 0) {
        rc = SB_E_VALIDATION;
    }
    if (rc < 0) {
        return rc;
    }
    struct store_scope all;
    policy_system_scope(&all);
    json_t *user = NULL, *auth = NULL;
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = store_row_get(tx, STORE_USERS, &all, a->who.user_id, &user);
    if (rc == 0) {
        rc = store_user_auth_by_email(tx, jstr(user, "email"), &auth);
    }
    store_tx_rollback(tx);
    /* Guesses of the current password count like failed logins of the account (a stolen
     * session must not become an unlimited password oracle). */
    const char *email = rc == 0 ? jstr(user, "email") : NULL;
    if (email) {
        rc = auth_login_check(auth_session_limiter(svc->auth), email, a->ip, false, clock_now_ms(),
                              retry_after_s);
    }
    bool ok =
        rc == 0 && auth_password_verify(jstr(auth, "password_hash"), current, strlen(current));
    json_decref(auth);
    if (email && rc == 0) {
        if (ok) {
            auth_login_succeeded(auth_session_limiter(svc->auth), email, a->ip, clock_now_ms());
        } else {
            auth_login_failed(auth_session_limiter(svc->auth), email, a->ip, clock_now_ms());
        }
    }
    char hash[AUTH_PASSWORD_HASH_MAX] = "";
    if (rc == 0 && !ok) {
        rc = svc_invalid(err, "current_password", "incorrect");
    }
    if (rc == 0) {
        rc = auth_password_hash(new_password, strlen(new_password), hash);
    }
    if (rc == 0) {
        rc = store_tx_begin(svc->store, true, &tx);
        if (rc == 0) {
            rc = svc_tx_end(tx, set_password(tx, a, user, hash), NULL);
        }
    }
    auth_wipe(hash, sizeof hash);
    if (rc < 0) {
        json_decref(user);
        return rc;
    }
    /* Every session of the user is revoked, this one too; this caller gets a new one. Its
     * tokens are not: revocation counts whole seconds, so the session cache dates a token
     * issued in the second of a revocation at the next second (auth_session_issue). */
    auth_session_revoke_user(svc->auth, a->who.user_id);
    char family[UUID_STR_LEN];
    uuid_v4(family);
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc == 0) {
        rc = issue_pair(svc, tx, user, family, out);
        if (rc == 0) {
            json_t *after = json_pack("{s:s,s:s,s:s}", "email", jstr(user, "email"), "session",
                                      family, "after", "password_change");
            rc = svc_audit(tx, a, "auth.login", "session", family, NULL, after);
            json_decref(after);
        }
        rc = svc_tx_end(tx, rc, NULL);
    }
    if (rc < 0) {
        json_decref(user);
        svc_tokens_release(out);
        return rc;
    }
    out->user = user;
    return 0;
}

#define RESET_PREFIX "password_reset:"

int svc_reset_token_put(struct store_tx *tx, const char *user_id, char token[48],
                        int64_t *expires_ms)
{
    char hash[AUTH_TOKEN_HASH_LEN], key[sizeof RESET_PREFIX + AUTH_TOKEN_HASH_LEN];
    auth_token_new(token);
    auth_token_hash(token, strlen(token), hash);
    snprintf(key, sizeof key, RESET_PREFIX "%s", hash);
    *expires_ms = clock_now_ms() + SVC_RESET_TTL_MS;
    char value[160];
    snprintf(value, sizeof value, "{\"user_id\":\"%s\",\"expires_at_ms\":%lld}", user_id,
             (long long)*expires_ms);
    return store_meta_set(tx, key, value);
}

int svc_user_reset_token(struct svc *svc, const struct svc_actor *a, const char *user_id,
                         char token[48], int64_t *expires_ms, struct svc_errors *err)
{
    (void)err;
    struct store_scope scope;
    int rc = policy_write_scope(&a->who, STORE_USERS, &scope);
    if (rc < 0) {
        json_t *row = NULL;
        rc = svc_get(svc, &a->who, STORE_USERS, user_id, &row);
        json_decref(row);
        return rc < 0 ? rc : SB_E_FORBIDDEN;
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *user = NULL;
    rc = store_row_get(tx, STORE_USERS, &scope, user_id, &user);
    if (rc == 0 && !policy_can_assign_role(&a->who, policy_role_parse(jstr(user, "role")),
                                           jstr(user, "client_id"))) {
        rc = SB_E_FORBIDDEN; /* a tenant admin never resets a super_admin */
    }
    if (rc == 0) {
        rc = svc_reset_token_put(tx, user_id, token, expires_ms);
    }
    if (rc == 0) {
        char exp[CLOCK_RFC3339_LEN];
        clock_format_ms(*expires_ms, exp);
        json_t *after = json_pack("{s:s,s:s}", "user_id", user_id, "expires_at", exp);
        rc = svc_audit(tx, a, "user.reset_token", "user", user_id, NULL, after);
        json_decref(after);
    }
    json_decref(user);
    rc = svc_tx_end(tx, rc, NULL);
    if (rc < 0) {
        auth_wipe(token, AUTH_TOKEN_LEN);
    }
    return rc;
}

int svc_auth_reset(struct svc *svc, const struct svc_actor *ctx, const char *token,
                   const char *new_password, struct svc_errors *err)
{
    int rc = 0;
    if (!token || !*token || strlen(token) >= AUTH_TOKEN_LEN) {
        rc = svc_invalid(err, "token", token && *token ? "invalid_or_expired" : "required");
    }
    if (password_ok("new_password", new_password, err) < 0) {
        rc = SB_E_VALIDATION;
    }
    if (rc < 0) {
        return rc;
    }
    char hash[AUTH_TOKEN_HASH_LEN], key[sizeof RESET_PREFIX + AUTH_TOKEN_HASH_LEN];
    auth_token_hash(token, strlen(token), hash);
    snprintf(key, sizeof key, RESET_PREFIX "%s", hash);
    char pwhash[AUTH_PASSWORD_HASH_MAX] = "";
    rc = auth_password_hash(new_password, strlen(new_password), pwhash);
    if (rc < 0) {
        return rc;
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        auth_wipe(pwhash, sizeof pwhash);
        return rc;
    }
    /* Checked and spent inside the write transaction: writers are serialised, so a token
     * is used once even by two requests at the same time. */
    char *value = NULL;
    json_t *meta = NULL, *user = NULL;
    rc = store_meta_get(tx, key, &value);
    if (rc == 0) {
        meta = json_loads(value, 0, NULL);
    }
    free(value);
    const char *uid = jstr(meta, "user_id");
    if (rc == SB_E_NOTFOUND ||
        (rc == 0 &&
         (!uid || json_is_true(json_object_get(meta, "used")) ||
          json_integer_value(json_object_get(meta, "expires_at_ms")) <= clock_now_ms()))) {
        rc = svc_invalid(err, "token", "invalid_or_expired");
    }
    struct store_scope all;
    policy_system_scope(&all);
    if (rc == 0) {
        rc = store_row_get(tx, STORE_USERS, &all, uid, &user);
        rc = rc == SB_E_NOTFOUND ? svc_invalid(err, "token", "invalid_or_expired") : rc;
    }
    if (rc == 0) {
        json_object_set_new(meta, "used", json_true());
        char *spent = json_dumps(meta, JSON_COMPACT);
        rc = store_meta_set(tx, key, spent);
        free(spent);
    }
    struct svc_actor a = *ctx;
    if (rc == 0) {
        principal_of(user, "", &a.who);
        a.system = false;
        snprintf(a.email, sizeof a.email, "%s", jstr(user, "email"));
        rc = set_password(tx, &a, user, pwhash);
    }
    auth_wipe(pwhash, sizeof pwhash);
    rc = svc_tx_end(tx, rc, NULL);
    if (rc == 0) {
        auth_session_revoke_user(svc->auth, uid);
    }
    json_decref(meta);
    json_decref(user);
    return rc;
}
