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
static int issue_pair(struct store_tx *tx, const json_t *user, const char *family,
                      struct svc_tokens *out)
{
    char hash[AUTH_TOKEN_HASH_LEN];
    auth_token_new(out->refresh_token);
    auth_token_hash(out->refresh_token, strlen(out->refresh_token), hash);
    int rc = store_refresh_insert(tx, jstr(user, "id"), family, hash,
                                  clock_now_ms() + auth_session_refresh_ttl_ms());
    if (rc < 0) {
        return rc;
    }
    struct policy_principal p;
    principal_of(user, family, &p);
    return auth_session_issue(&p, &out->access_token, &out->expires_in);
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
        auth_session_note_client(client);
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
        rc = issue_pair(tx, updated, family, out);
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
    auth_session_note_user(updated);
    out->user = updated;
    return 0;
}

int svc_auth_login(struct svc *svc, const struct svc_actor *ctx, const char *email,
                   const char *password, const char *device, struct svc_tokens *out,
                   int *retry_after_s)
{
    memset(out, 0, sizeof *out);
    char lower[250];
    size_t n = strlen(email);
    if (n >= sizeof lower) {
        n = sizeof lower - 1;
    }
    for (size_t i = 0; i < n; i++) {
        lower[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
    }
    lower[n] = '\0';
    bool known_device = auth_device_valid(lower, device, clock_now_ms());
    int rc = auth_login_check(lower, ctx->ip, known_device, clock_now_ms(), retry_after_s);
    if (rc < 0) {
        return rc;
    }
    bool failed = false;
    rc = login_checked(svc, ctx, lower, password, out, &failed);
    if (rc == 0) {
        auth_login_succeeded(lower, ctx->ip, clock_now_ms());
        auth_device_issue(lower, clock_now_ms(), out->device);
    } else if (failed) {
        auth_login_failed(lower, ctx->ip, clock_now_ms());
    } else {
        auth_login_abandon(lower, ctx->ip);
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
        auth_grace_get(hash, clock_now_ms(), out->refresh_token, sizeof out->refresh_token,
                       &out->access_token, &out->expires_in) < 0) {
        json_decref(user);
        return SB_E_UNAUTHORIZED;
    }
    auth_session_note_user(user);
    out->user = user;
    return 0;
}

int svc_auth_refresh(struct svc *svc, const struct svc_actor *ctx, const char *refresh_token,
                     struct svc_tokens *out)
{
    memset(out, 0, sizeof *out);
    char hash[AUTH_TOKEN_HASH_LEN];
    auth_token_hash(refresh_token, strlen(refresh_token), hash);
    int64_t grace_ms = auth_session_refresh_grace_ms();
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
        auth_session_revoke_sid(rt.family_id);
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
        rc = issue_pair(tx, user, rt.family_id, out);
    }
    if (rc == 0) {
        json_t *after = json_pack("{s:s}", "session", rt.family_id);
        rc = svc_audit(tx, &a, "auth.refresh", "session", rt.family_id, NULL, after);
        json_decref(after);
    }
    if (rc == 0) {
        /* Before the commit, so a second refresh that sees the token spent finds the pair. */
        auth_grace_put(hash, out->refresh_token, out->access_token, out->expires_in, now, grace_ms);
        rc = store_tx_commit(tx);
        if (rc < 0) {
            auth_grace_drop(hash);
        }
    } else {
        store_tx_rollback(tx);
    }
    if (rc < 0) {
        json_decref(user);
        svc_tokens_release(out);
        return rc == SB_E_CONFLICT ? SB_E_UNAUTHORIZED : rc;
    }
    auth_session_note_user(user);
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
            auth_session_revoke_user(a->who.user_id);
        } else {
            auth_session_revoke_sid(a->who.sid);
        }
    }
    return rc;
}
