/*
 * Users: validation, password hashing, the agent_status row every agent has, audit.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "auth/session.h"
#include "auth/token.h"
#include "base/clock.h"
#include "base/csv.h"
#include "base/err.h"
#include "svc/svc_int.h"

static bool email_is_valid(const char *e)
{
    size_t n = strlen(e);
    const char *at = strchr(e, '@');
    if (n < 3 || n > 254 || !at || at == e || !at[1] || strchr(at + 1, '@') ||
        !strchr(at + 1, '.')) {
        return false;
    }
    for (const char *p = e; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' || *p == '>') {
            return false;
        }
    }
    return true;
}

/* Lower-case the e-mail in place in row (uniqueness is case-insensitive anyway, and a
 * canonical form keeps lookups simple). */
static void email_canon(json_t *row)
{
    const char *e = jstr(row, "email");
    if (!e) {
        return;
    }
    char buf[256];
    size_t n = strlen(e);
    if (n >= sizeof buf) {
        return;
    }
    for (size_t i = 0; i <= n; i++) {
        buf[i] = (char)tolower((unsigned char)e[i]);
    }
    json_object_set_new(row, "email", json_string(buf));
}

/* The checks of a new user row (fields, password unless no_password, its client exists)
 * inside tx: 0 or SB_E_VALIDATION with err's fields. */
static int user_check(struct store_tx *tx, const json_t *row, const char *password,
                      bool no_password, struct svc_errors *err)
{
    int rc = 0;
    const char *email = jstr(row, "email");
    const char *name = jstr(row, "name");
    const char *role = jstr(row, "role");
    const char *status = jstr(row, "status");
    if (!email) {
        rc = svc_invalid(err, "email", "required");
    } else if (!email_is_valid(email)) {
        rc = svc_invalid(err, "email", "invalid");
    }
    if (!name || !*name) {
        rc = svc_invalid(err, "name", "required");
    } else if (strlen(name) > 200) {
        rc = svc_invalid(err, "name", "too_long");
    }
    if (!role) {
        rc = svc_invalid(err, "role", "required");
    } else if (policy_role_parse(role) == ROLE_NONE) {
        rc = svc_invalid(err, "role", "invalid");
    }
    if (status && strcmp(status, "active") != 0 && strcmp(status, "disabled") != 0) {
        rc = svc_invalid(err, "status", "invalid");
    }
    size_t plen = password ? strlen(password) : 0;
    if (no_password) {
        /* set later with a reset token */
    } else if (!password) {
        rc = svc_invalid(err, "password", "required");
    } else if (plen < AUTH_PASSWORD_MIN_LEN) {
        rc = svc_invalid(err, "password", "too_short");
    } else if (plen > AUTH_PASSWORD_MAX_LEN) {
        rc = svc_invalid(err, "password", "too_long");
    }
    if (rc < 0) {
        return rc;
    }
    const char *client_id = jstr(row, "client_id");
    bool super = strcmp(role, "super_admin") == 0;
    if (super && client_id) {
        return svc_invalid(err, "client_id", "must_be_null_for_super_admin");
    }
    if (!super && !client_id) {
        return svc_invalid(err, "client_id", "required");
    }
    if (client_id) {
        struct store_scope all;
        policy_system_scope(&all);
        json_t *client = NULL;
        rc = store_row_get(tx, STORE_CLIENTS, &all, client_id, &client);
        json_decref(client);
        if (rc == SB_E_NOTFOUND) {
            return svc_invalid(err, "client_id", "not_found");
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* svc_user_insert; with no_password the user gets no password hash (it cannot log in until
 * a reset token sets one) and password must be NULL. */
static int user_insert(struct store_tx *tx, const struct svc_actor *actor, json_t *row,
                       const char *password, bool no_password, json_t **out, struct svc_errors *err)
{
    int rc = user_check(tx, row, password, no_password, err);
    if (rc < 0) {
        return rc;
    }
    size_t plen = password ? strlen(password) : 0;
    const char *client_id = jstr(row, "client_id");
    const char *name = jstr(row, "name");
    const char *role = jstr(row, "role");
    const char *status = jstr(row, "status");
    char hash[AUTH_PASSWORD_HASH_MAX] = "";
    if (!no_password) {
        rc = auth_password_hash(password, plen, hash);
        if (rc < 0) {
            return rc;
        }
    }
    json_t *in = json_deep_copy(row);
    json_object_del(in, "password");
    email_canon(in);
    if (!status) {
        json_object_set_new(in, "status", json_string("active"));
    }
    json_object_set_new(in, "password_hash", no_password ? json_null() : json_string(hash));
    auth_wipe(hash, sizeof hash);
    json_t *user = NULL;
    rc = svc_claim_id(tx, actor, STORE_USERS, in, err);
    if (rc < 0) {
        json_decref(in);
        return rc;
    }
    rc = store_row_insert(tx, STORE_USERS, in, &user);
    json_decref(in);
    if (rc == SB_E_CONFLICT) {
        snprintf(err->message, sizeof err->message, "a user with this e-mail already exists");
        svc_invalid(err, "email", "taken");
        return SB_E_CONFLICT;
    }
    if (rc < 0) {
        return rc;
    }
    const char *uid = jstr(user, "id");
    rc = svc_audit(tx, actor, "user.create", "user", uid, NULL, user);
    if (rc == 0 && strcmp(role, "agent") == 0) {
        char now[CLOCK_RFC3339_LEN];
        clock_format_ms(clock_now_ms(), now);
        json_t *as =
            json_pack("{s:s,s:s,s:s,s:s,s:n,s:s,s:o}", "client_id", client_id, "user_id", uid,
                      "display_name", name, "status", "offline", "reason", "status_since", now,
                      "updated_by", actor->system ? json_null() : json_string(actor->who.user_id));
        json_t *agent = NULL;
        rc = store_row_insert(tx, STORE_AGENT_STATUS, as, &agent);
        json_decref(as);
        if (rc == 0) {
            rc = svc_audit(tx, actor, "agent_status.create", "agent_status", jstr(agent, "id"),
                           NULL, agent);
        }
        if (rc == 0) {
            json_t *h =
                json_pack("{s:s,s:s,s:s,s:n,s:s,s:n,s:s}", "agent_id", jstr(agent, "id"),
                          "client_id", client_id, "status", "offline", "reason", "started_at", now,
                          "ended_at", "changed_by", actor->system ? "system" : actor->who.user_id);
            rc = store_row_insert(tx, STORE_AGENT_HISTORY, h, NULL);
            json_decref(h);
        }
        json_decref(agent);
    }
    if (rc < 0) {
        json_decref(user);
        return rc;
    }
    if (out) {
        *out = user;
    } else {
        json_decref(user);
    }
    return 0;
}

int svc_user_insert(struct svc *svc, struct store_tx *tx, const struct svc_actor *actor,
                    json_t *row, const char *password, json_t **out, struct svc_errors *err)
{
    (void)svc;
    return user_insert(tx, actor, row, password, false, out, err);
}

int svc_user_insert_unset(struct store_tx *tx, const struct svc_actor *actor, json_t *row,
                          json_t **out, struct svc_errors *err)
{
    return user_insert(tx, actor, row, NULL, true, out, err);
}

static const char *const user_fields[] = {
    "id", "email", "name", "role", "status", "client_id", "password", "expected_version", NULL};

static int check_fields(const json_t *in, const char *const *allowed, struct svc_errors *err)
{
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        bool ok = false;
        for (const char *const *f = allowed; *f; f++) {
            ok = ok || strcmp(*f, key) == 0;
        }
        if (!ok) {
            rc = svc_invalid(err, key, "unknown_field");
        } else if (strcmp(key, "expected_version") && strcmp(key, "client_id") &&
                   !json_is_string(v)) {
            rc = svc_invalid(err, key, "must_be_string");
        } else if (!strcmp(key, "client_id") && !json_is_string(v) && !json_is_null(v)) {
            rc = svc_invalid(err, key, "must_be_string");
        }
    }
    return rc;
}

int svc_user_create(struct svc *svc, const struct svc_actor *a, const json_t *in, json_t **out,
                    struct svc_errors *err)
{
    struct store_scope scope;
    int rc = policy_write_scope(&a->who, STORE_USERS, &scope);
    if (rc < 0) {
        return rc;
    }
    rc = check_fields(in, user_fields, err);
    if (rc < 0) {
        return rc;
    }
    json_t *row = json_deep_copy(in);
    json_object_del(row, "expected_version");
    if (!policy_is_cross_tenant(&a->who) && !json_object_get(row, "client_id")) {
        json_object_set_new(row, "client_id", json_string(a->who.client_id));
    }
    const char *role = jstr(row, "role");
    const char *client_id = jstr(row, "client_id");
    if (role && policy_role_parse(role) != ROLE_NONE &&
        !policy_can_assign_role(&a->who, policy_role_parse(role), client_id)) {
        /* role and client_id point into row: decide before releasing it. */
        if (policy_is_cross_tenant(&a->who)) {
            rc = svc_invalid(err, "client_id",
                             client_id ? "must_be_null_for_super_admin" : "required");
        } else {
            rc = !strcmp(role, "super_admin") ? SB_E_FORBIDDEN
                                              : svc_invalid(err, "client_id", "not_found");
        }
        json_decref(row);
        return rc;
    }
    const char *password = jstr(row, "password");
    char *pw = password ? strdup(password) : NULL;
    json_object_del(row, "password");
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc == 0) {
        rc = svc_user_insert(svc, tx, a, row, pw, out, err);
        if (rc == 0) {
            rc = store_tx_commit(tx);
            if (rc < 0) {
                json_decref(*out);
                *out = NULL;
            }
        } else {
            store_tx_rollback(tx);
        }
    }
    if (pw) {
        auth_wipe(pw, strlen(pw));
        free(pw);
    }
    json_decref(row);
    return rc;
}

/* Number of active super_admins. */
static int count_active_supers(struct store_tx *tx, int64_t *n)
{
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.filters[0] = (struct store_filter){"role", STORE_EQ, json_string("super_admin")};
    q.filters[1] = (struct store_filter){"status", STORE_EQ, json_string("active")};
    q.nfilters = 2;
    json_t *counts = NULL;
    int rc = store_row_count(tx, STORE_USERS, &q, NULL, &counts);
    json_decref(q.filters[0].value);
    json_decref(q.filters[1].value);
    if (rc == 0) {
        *n = json_integer_value(json_object_get(counts, "total"));
    }
    json_decref(counts);
    return rc;
}

static int agent_row_of(struct store_tx *tx, const char *user_id, json_t **out)
{
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.filters[0] = (struct store_filter){"user_id", STORE_EQ, json_string(user_id)};
    q.nfilters = 1;
    q.limit = 1;
    json_t *rows = NULL;
    char *next = NULL;
    int rc = store_row_list(tx, STORE_AGENT_STATUS, &q, &rows, &next);
    json_decref(q.filters[0].value);
    free(next);
    *out = NULL;
    if (rc == 0 && json_array_size(rows)) {
        *out = json_incref(json_array_get(rows, 0));
    }
    json_decref(rows);
    return rc;
}

/* Keep the agent_status row in step with the user's role and name. */
static int sync_agent_row(struct store_tx *tx, const struct svc_actor *a, const json_t *before,
                          const json_t *after)
{
    bool was = !strcmp(jstr(before, "role"), "agent");
    bool is = !strcmp(jstr(after, "role"), "agent");
    const char *uid = jstr(after, "id");
    json_t *agent = NULL;
    int rc = agent_row_of(tx, uid, &agent);
    struct store_scope all;
    policy_system_scope(&all);
    if (rc == 0 && was && !is && agent) {
        json_t *old = NULL;
        rc = store_row_delete(tx, STORE_AGENT_STATUS, &all, jstr(agent, "id"), &old);
        if (rc == 0) {
            rc = svc_audit(tx, a, "agent_status.delete", "agent_status", jstr(agent, "id"), old,
                           NULL);
        }
        json_decref(old);
    } else if (rc == 0 && is && !agent) {
        char now[CLOCK_RFC3339_LEN];
        clock_format_ms(clock_now_ms(), now);
        json_t *as =
            json_pack("{s:s,s:s,s:s,s:s,s:n,s:s,s:n}", "client_id", jstr(after, "client_id"),
                      "user_id", uid, "display_name", jstr(after, "name"), "status", "offline",
                      "reason", "status_since", now, "updated_by");
        json_t *row = NULL;
        rc = store_row_insert(tx, STORE_AGENT_STATUS, as, &row);
        json_decref(as);
        if (rc == 0) {
            rc =
                svc_audit(tx, a, "agent_status.create", "agent_status", jstr(row, "id"), NULL, row);
        }
        json_decref(row);
    } else if (rc == 0 && is && agent &&
               (strcmp(jstr(agent, "display_name"), jstr(after, "name")) ||
                strcmp(jstr(agent, "client_id"), jstr(after, "client_id")))) {
        json_t *set = json_pack("{s:s,s:s}", "display_name", jstr(after, "name"), "client_id",
                                jstr(after, "client_id"));
        json_t *row = NULL;
        rc = store_row_update(tx, STORE_AGENT_STATUS, &all, jstr(agent, "id"), set, 0, &row);
        json_decref(set);
        if (rc == 0) {
            rc = svc_audit(tx, a, "agent_status.update", "agent_status", jstr(agent, "id"), agent,
                           row);
        }
        json_decref(row);
    }
    json_decref(agent);
    return rc;
}

int svc_user_update(struct svc *svc, const struct svc_actor *a, const char *id, const json_t *patch,
                    int64_t expected_version, json_t **out, struct svc_errors *err)
{
    *out = NULL;
    struct store_scope scope;
    int rc = policy_write_scope(&a->who, STORE_USERS, &scope);
    if (rc < 0) {
        json_t *row = NULL;
        rc = svc_get(svc, &a->who, STORE_USERS, id, &row);
        json_decref(row);
        return rc < 0 ? rc : SB_E_FORBIDDEN;
    }
    rc = check_fields(patch, user_fields, err);
    if (json_object_get(patch, "id")) {
        rc = svc_invalid(err, "id", "read_only");
    }
    if (rc < 0) {
        return rc;
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *before = NULL, *set = NULL;
    bool pw_changed = false, disabled = false;
    char hash[AUTH_PASSWORD_HASH_MAX] = "";
    rc = store_row_get(tx, STORE_USERS, &scope, id, &before);
    if (rc < 0) {
        goto out;
    }
    if (expected_version > 0 &&
        json_integer_value(json_object_get(before, "version")) != expected_version) {
        err->current = json_incref(before);
        rc = SB_E_VERSION;
        goto out;
    }
    set = json_deep_copy(patch);
    json_object_del(set, "expected_version");
    json_object_del(set, "password");
    email_canon(set);
    if (!json_object_get(set, "client_id") && json_object_get(patch, "client_id") == NULL) {
        json_object_set(set, "client_id", json_object_get(before, "client_id"));
    }
    const char *role = jstr(set, "role") ? jstr(set, "role") : jstr(before, "role");
    const char *client_id = jstr(set, "client_id");
    const char *status = jstr(set, "status") ? jstr(set, "status") : jstr(before, "status");
    if (jstr(set, "email") && !email_is_valid(jstr(set, "email"))) {
        rc = svc_invalid(err, "email", "invalid");
    }
    if (jstr(set, "name") && (!*jstr(set, "name") || strlen(jstr(set, "name")) > 200)) {
        rc = svc_invalid(err, "name", *jstr(set, "name") ? "too_long" : "required");
    }
    if (policy_role_parse(role) == ROLE_NONE) {
        rc = svc_invalid(err, "role", "invalid");
    }
    if (strcmp(status, "active") && strcmp(status, "disabled")) {
        rc = svc_invalid(err, "status", "invalid");
    }
    if (rc < 0) {
        goto out;
    }
    if (json_object_get(patch, "client_id") && !policy_can_move_tenant(&a->who) &&
        !json_equal(json_object_get(patch, "client_id"), json_object_get(before, "client_id"))) {
        rc = svc_invalid(err, "client_id", "read_only");
        goto out;
    }
    if (!policy_can_assign_role(&a->who, policy_role_parse(role), client_id)) {
        rc = policy_is_cross_tenant(&a->who)
                 ? svc_invalid(err, "client_id",
                               client_id ? "must_be_null_for_super_admin" : "required")
                 : SB_E_FORBIDDEN;
        goto out;
    }
    const char *old_client = jstr(before, "client_id");
    if (client_id && (!old_client || strcmp(client_id, old_client))) {
        json_t *client = NULL;
        struct store_scope all;
        policy_system_scope(&all);
        rc = store_row_get(tx, STORE_CLIENTS, &all, client_id, &client);
        json_decref(client);
        if (rc == SB_E_NOTFOUND) {
            rc = svc_invalid(err, "client_id", "not_found");
        }
        if (rc < 0) {
            goto out;
        }
    }
    bool was_active_super =
        !strcmp(jstr(before, "role"), "super_admin") && !strcmp(jstr(before, "status"), "active");
    if (was_active_super && (strcmp(role, "super_admin") || strcmp(status, "active"))) {
        int64_t n = 0;
        rc = count_active_supers(tx, &n);
        if (rc == 0 && n <= 1) {
            snprintf(err->message, sizeof err->message,
                     "the last active super_admin cannot be disabled or demoted");
            rc = SB_E_CONFLICT;
        }
        if (rc < 0) {
            goto out;
        }
    }
    const char *password = jstr(patch, "password");
    if (password) {
        size_t plen = strlen(password);
        if (plen < AUTH_PASSWORD_MIN_LEN || plen > AUTH_PASSWORD_MAX_LEN) {
            rc = svc_invalid(err, "password",
                             plen < AUTH_PASSWORD_MIN_LEN ? "too_short" : "too_long");
            goto out;
        }
        rc = auth_password_hash(password, plen, hash);
        if (rc < 0) {
            goto out;
        }
        json_object_set_new(set, "password_hash", json_string(hash));
        pw_changed = true;
    }
    disabled = !strcmp(status, "disabled") && strcmp(jstr(before, "status"), "disabled");
    rc = store_row_update(tx, STORE_USERS, &scope, id, set, expected_version, out);
    if (rc == SB_E_VERSION) {
        err->current = *out;
        *out = NULL;
        goto out;
    }
    if (rc == SB_E_CONFLICT) {
        svc_invalid(err, "email", "taken");
        goto out;
    }
    if (rc == 0) {
        rc = svc_audit(tx, a, pw_changed ? "user.update_password" : "user.update", "user", id,
                       before, *out);
    }
    if (rc == 0) {
        rc = sync_agent_row(tx, a, before, *out);
    }
    if (rc == 0 && (pw_changed || disabled)) {
        rc = store_refresh_revoke_user(tx, id);
        rc = rc > 0 ? 0 : rc;
    }
out:
    auth_wipe(hash, sizeof hash);
    json_decref(before);
    json_decref(set);
    rc = svc_tx_end(tx, rc, out);
    if (rc >= 0 && (pw_changed || disabled)) {
        auth_session_revoke_user(svc->auth, id);
    }
    return rc;
}

int svc_user_delete(struct svc *svc, const struct svc_actor *a, const char *id,
                    struct svc_errors *err)
{
    struct store_scope scope;
    int rc = policy_write_scope(&a->who, STORE_USERS, &scope);
    if (rc < 0) {
        json_t *row = NULL;
        rc = svc_get(svc, &a->who, STORE_USERS, id, &row);
        json_decref(row);
        return rc < 0 ? rc : SB_E_FORBIDDEN;
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *before = NULL;
    rc = store_row_get(tx, STORE_USERS, &scope, id, &before);
    if (rc == 0 && !strcmp(jstr(before, "role"), "super_admin")) {
        if (!policy_can_manage_user(&a->who, before)) {
            rc = SB_E_FORBIDDEN;
        } else if (!strcmp(jstr(before, "status"), "active")) {
            int64_t n = 0;
            rc = count_active_supers(tx, &n);
            if (rc == 0 && n <= 1) {
                snprintf(err->message, sizeof err->message,
                         "the last active super_admin cannot be deleted");
                rc = SB_E_CONFLICT;
            }
        }
    }
    if (rc == 0) {
        rc = store_refresh_revoke_user(tx, id);
        rc = rc > 0 ? 0 : rc;
    }
    if (rc == 0) {
        rc = store_row_delete(tx, STORE_USERS, &scope, id, NULL);
    }
    if (rc == 0) {
        rc = svc_audit(tx, a, "user.delete", "user", id, before, NULL);
    }
    json_decref(before);
    if (rc == 0) {
        rc = store_tx_commit(tx);
        if (rc == 0) {
            auth_session_revoke_user(svc->auth, id);
        }
        return rc;
    }
    store_tx_rollback(tx);
    return rc;
}

/* ---- CSV import ----
 *
 * All or nothing: every record is checked first (the fields of a new user, a role the actor
 * may give in the tenant, the e-mail unique in the file and in the database), and any problem
 * answers the whole list of them, by record, with nothing written. Otherwise one transaction
 * creates every user without a password, with a one-time reset token each: no argon2id work
 * at import (thousands of hashes would take minutes); each user sets a password with the
 * token (POST /api/v1/auth/reset).
 */

static const char *const import_columns[] = {"email", "name", "role", "status", "client_id", NULL};

/* A problem of record n (the header is record 1). */
static void import_problem(struct svc_errors *err, size_t n, const char *field, const char *issue)
{
    if (!err->details) {
        err->details = json_array();
    }
    json_array_append_new(err->details, json_pack("{s:I,s:s,s:s}", "row", (json_int_t)n, "field",
                                                  field, "issue", issue));
}

/* Record n as a user row (header names the columns), with its problems in err; *forbidden
 * when the actor may not give that role there (nothing else is worth checking then). */
static json_t *import_row(const struct svc_actor *a, const json_t *header, const json_t *rec,
                          const char *default_role, size_t n, struct svc_errors *err,
                          bool *forbidden)
{
    json_t *row = json_object();
    for (size_t i = 0; i < json_array_size(header); i++) {
        const char *col = json_string_value(json_array_get(header, i));
        const char *v = json_string_value(json_array_get(rec, i));
        if (v && *v) {
            json_object_set_new(row, col, json_string(v));
        }
    }
    if (json_array_size(rec) != json_array_size(header)) {
        import_problem(err, n, "row", "wrong_number_of_fields");
    }
    if (default_role && !json_object_get(row, "role")) {
        json_object_set_new(row, "role", json_string(default_role));
    }
    email_canon(row);
    if (!policy_is_cross_tenant(&a->who)) {
        if (json_object_get(row, "client_id") &&
            strcmp(jstr(row, "client_id"), a->who.client_id) != 0) {
            import_problem(err, n, "client_id", "not_found");
        }
        json_object_set_new(row, "client_id", json_string(a->who.client_id));
    }
    const char *role = jstr(row, "role");
    enum policy_role r = role ? policy_role_parse(role) : ROLE_NONE;
    *forbidden = r != ROLE_NONE && !policy_can_assign_role(&a->who, r, jstr(row, "client_id"));
    if (*forbidden) {
        import_problem(err, n, "role", "forbidden");
    }
    return row;
}

int svc_user_import(struct svc *svc, const struct svc_actor *a, const char *csv, size_t len,
                    const char *default_role, json_t **out, struct svc_errors *err)
{
    *out = NULL;
    struct store_scope scope;
    if (policy_write_scope(&a->who, STORE_USERS, &scope) < 0) {
        return SB_E_FORBIDDEN;
    }
    json_t *recs = NULL;
    char why[96];
    if (csv_parse(csv, len, SVC_IMPORT_MAX + 1, 16, &recs, why, sizeof why) < 0) {
        snprintf(err->message, sizeof err->message, "not CSV: %s", why);
        import_problem(err, 0, "csv", "malformed");
        return SB_E_VALIDATION;
    }
    json_t *header = json_array_get(recs, 0);
    size_t n = json_array_size(recs);
    int rc = 0;
    if (!header || n < 2) {
        import_problem(err, 1, "csv", "no_records");
        rc = SB_E_VALIDATION;
    }
    for (size_t i = 0; header && i < json_array_size(header); i++) {
        bool known = false;
        for (const char *const *c = import_columns; *c; c++) {
            known = known || !strcmp(json_string_value(json_array_get(header, i)), *c);
        }
        if (!known) {
            import_problem(err, 1, json_string_value(json_array_get(header, i)), "unknown_column");
            rc = SB_E_VALIDATION;
        }
    }
    if (rc < 0) {
        json_decref(recs);
        return rc;
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        json_decref(recs);
        return rc;
    }
    /* Pass 1: check everything, write nothing. */
    json_t *rows = json_array();
    json_t *seen = json_object();
    for (size_t i = 1; i < n && rc >= 0; i++) {
        bool forbidden = false;
        json_t *row =
            import_row(a, header, json_array_get(recs, i), default_role, i + 1, err, &forbidden);
        struct svc_errors one = {0};
        int crc = forbidden ? SB_E_VALIDATION : user_check(tx, row, NULL, true, &one);
        for (size_t k = 0; k < json_array_size(one.details); k++) {
            json_t *d = json_array_get(one.details, k);
            import_problem(err, i + 1, jstr(d, "field"), jstr(d, "issue"));
        }
        svc_errors_release(&one);
        const char *email = jstr(row, "email");
        if (crc == 0 && email) {
            json_t *held = NULL;
            if (json_object_get(seen, email)) {
                import_problem(err, i + 1, "email", "duplicate_in_file");
            } else if (store_user_auth_by_email(tx, email, &held) == 0) {
                import_problem(err, i + 1, "email", "taken");
            }
            json_decref(held);
            json_object_set_new(seen, email, json_true());
        }
        if (crc < 0 && crc != SB_E_VALIDATION) {
            rc = crc;
        }
        json_array_append_new(rows, row);
    }
    json_decref(seen);
    json_decref(recs);
    if (rc >= 0 && err->details) {
        snprintf(err->message, sizeof err->message, "%zu problem(s); nothing was imported",
                 json_array_size(err->details));
        rc = SB_E_VALIDATION;
    }
    /* Pass 2: every record is good: create them all, each with its reset token. */
    json_t *users = json_array();
    for (size_t i = 0; rc == 0 && i < json_array_size(rows); i++) {
        json_t *user = NULL;
        rc = svc_user_insert_unset(tx, a, json_array_get(rows, i), &user, err);
        char token[48];
        int64_t expires = 0;
        if (rc == 0) {
            rc = svc_reset_token_put(tx, jstr(user, "id"), token, &expires);
        }
        if (rc == 0) {
            char exp[CLOCK_RFC3339_LEN];
            clock_format_ms(expires, exp);
            json_array_append_new(users,
                                  json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "row", (json_int_t)i + 2,
                                            "id", jstr(user, "id"), "email", jstr(user, "email"),
                                            "role", jstr(user, "role"), "reset_token", token,
                                            "reset_expires_at", exp));
            auth_wipe(token, sizeof token);
        }
        json_decref(user);
    }
    if (rc == 0) {
        json_t *after = json_pack("{s:I}", "users", (json_int_t)json_array_size(users));
        rc = svc_audit(tx, a, "user.import", "user", NULL, NULL, after);
        json_decref(after);
    }
    json_decref(rows);
    rc = svc_tx_end(tx, rc, NULL);
    if (rc < 0) {
        json_decref(users);
        return rc;
    }
    *out = json_pack("{s:I,s:o}", "created", (json_int_t)json_array_size(users), "users", users);
    return 0;
}
