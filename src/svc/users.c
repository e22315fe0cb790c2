/*
 * Users: validation, password hashing, the agent_status row every agent has, audit.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "auth/token.h"
#include "base/clock.h"
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

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
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

int svc_user_insert(struct svc *svc, struct store_tx *tx, const struct svc_actor *actor,
                    json_t *row, const char *password, json_t **out, struct svc_errors *err)
{
    (void)svc;
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
    if (!password) {
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
    char hash[AUTH_PASSWORD_HASH_MAX];
    rc = auth_password_hash(password, plen, hash);
    if (rc < 0) {
        return rc;
    }
    json_t *in = json_deep_copy(row);
    json_object_del(in, "password");
    email_canon(in);
    if (!status) {
        json_object_set_new(in, "status", json_string("active"));
    }
    json_object_set_new(in, "password_hash", json_string(hash));
    auth_wipe(hash, sizeof hash);
    json_t *user = NULL;
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
