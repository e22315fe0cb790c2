/*
 * First-run data: `switchboard init` (the first super_admin) and `--demo` (DESIGN §3).
 * Seeding is idempotent: every row is looked up by its natural key (slug, e-mail) and
 * created only when missing, demo messages once (a meta flag each), so `--demo` can run on
 * every start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "svc/svc_int.h"

int svc_init_admin(struct svc *svc, const char *email, const char *password)
{
    struct svc_actor actor;
    svc_actor_system(&actor);
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *row = json_pack("{s:s,s:s,s:s,s:n,s:s}", "email", email, "name", "Administrator",
                            "role", "super_admin", "client_id", "status", "active");
    struct svc_errors err = {0};
    rc = svc_user_insert(svc, tx, &actor, row, password, NULL, &err);
    json_decref(row);
    if (rc < 0) {
        if (err.details) {
            char *d = json_dumps(err.details, JSON_COMPACT);
            log_error("init: %s", d ? d : "validation failed");
            free(d);
        }
        svc_errors_release(&err);
        store_tx_rollback(tx);
        return rc;
    }
    return store_tx_commit(tx);
}

static int find_one(struct store_tx *tx, enum store_table t, const char *col, const char *value,
                    json_t **out)
{
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.filters[0].column = col;
    q.filters[0].op = STORE_EQ;
    q.filters[0].value = json_string(value);
    q.nfilters = 1;
    q.limit = 1;
    json_t *rows = NULL;
    char *next = NULL;
    int rc = store_row_list(tx, t, &q, &rows, &next);
    json_decref(q.filters[0].value);
    free(next);
    if (rc < 0) {
        return rc;
    }
    json_t *r = json_array_get(rows, 0);
    *out = r ? json_incref(r) : NULL;
    json_decref(rows);
    return 0;
}

static int ensure_client(struct store_tx *tx, const struct svc_actor *actor, const char *name,
                         const char *slug, char id_out[40])
{
    json_t *row = NULL;
    int rc = find_one(tx, STORE_CLIENTS, "slug", slug, &row);
    if (rc < 0) {
        return rc;
    }
    if (!row) {
        json_t *in = json_pack("{s:s,s:s,s:s,s:{}}", "name", name, "slug", slug, "status", "active",
                               "settings");
        rc = store_row_insert(tx, STORE_CLIENTS, in, &row);
        json_decref(in);
        if (rc < 0) {
            return rc;
        }
        rc = svc_audit(tx, actor, "client.create", "client",
                       json_string_value(json_object_get(row, "id")), NULL, row);
        if (rc < 0) {
            json_decref(row);
            return rc;
        }
    }
    snprintf(id_out, 40, "%s", json_string_value(json_object_get(row, "id")));
    json_decref(row);
    return 0;
}

static int ensure_user(struct svc *svc, struct store_tx *tx, const struct svc_actor *actor,
                       const char *email, const char *name, const char *role, const char *client_id)
{
    json_t *row = NULL;
    int rc = find_one(tx, STORE_USERS, "email", email, &row);
    if (rc < 0 || row) {
        json_decref(row);
        return rc;
    }
    json_t *in =
        json_pack("{s:s,s:s,s:s,s:o,s:s}", "email", email, "name", name, "role", role, "client_id",
                  client_id ? json_string(client_id) : json_null(), "status", "active");
    struct svc_errors err = {0};
    rc = svc_user_insert(svc, tx, actor, in, "demo-password", NULL, &err);
    svc_errors_release(&err);
    json_decref(in);
    return rc;
}

/* Demo messages are seeded once: a meta flag "demo:message:<key>" remembers each (with its
 * id), so one edited (its title changed) or deleted later is never created again. A database
 * seeded before the flag existed is recognised by the title once, then flagged. */
static int ensure_message(struct store_tx *tx, const struct svc_actor *actor, const char *key,
                          const char *client_id, const char *title, const char *body,
                          const char *priority)
{
    char flag[96];
    snprintf(flag, sizeof flag, "demo:message:%s", key);
    char *seeded = NULL;
    int rc = store_meta_get(tx, flag, &seeded);
    free(seeded);
    if (rc != SB_E_NOTFOUND) {
        return rc; /* 0: seeded before */
    }
    json_t *row = NULL;
    rc = find_one(tx, STORE_MESSAGES, "title", title, &row);
    if (rc == 0 && !row) {
        char now[CLOCK_RFC3339_LEN];
        clock_format_ms(clock_now_ms(), now);
        json_t *in = json_pack("{s:o,s:s,s:s,s:s,s:s,s:n,s:s,s:n}", "client_id",
                               client_id ? json_string(client_id) : json_null(), "title", title,
                               "body", body, "priority", priority, "starts_at", now, "expires_at",
                               "state", "active", "created_by");
        rc = store_row_insert(tx, STORE_MESSAGES, in, &row);
        json_decref(in);
        if (rc == 0) {
            rc = svc_audit(tx, actor, "message.create", "system_message",
                           json_string_value(json_object_get(row, "id")), NULL, row);
        }
    }
    if (rc == 0) {
        rc = store_meta_set(tx, flag, json_string_value(json_object_get(row, "id")));
    }
    json_decref(row);
    return rc;
}

int svc_seed_demo(struct svc *svc)
{
    struct svc_actor actor;
    svc_actor_system(&actor);
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    char acme[40], globex[40];
    rc = ensure_client(tx, &actor, "Acme", "acme", acme);
    if (rc == 0) {
        rc = ensure_client(tx, &actor, "Globex", "globex", globex);
    }
    if (rc == 0) {
        rc = ensure_user(svc, tx, &actor, "root@demo.test", "Root", "super_admin", NULL);
    }
    if (rc == 0) {
        rc = ensure_user(svc, tx, &actor, "admin@acme.test", "Acme Admin", "admin", acme);
    }
    if (rc == 0) {
        rc = ensure_user(svc, tx, &actor, "viewer@acme.test", "Acme Viewer", "viewer", acme);
    }
    for (int i = 1; rc == 0 && i <= 5; i++) {
        char email[64], name[64];
        snprintf(email, sizeof email, "agent%d@acme.test", i);
        snprintf(name, sizeof name, "Acme Agent %d", i);
        rc = ensure_user(svc, tx, &actor, email, name, "agent", acme);
    }
    if (rc == 0) {
        rc = ensure_user(svc, tx, &actor, "admin@globex.test", "Globex Admin", "admin", globex);
    }
    for (int i = 1; rc == 0 && i <= 3; i++) {
        char email[64], name[64];
        snprintf(email, sizeof email, "agent%d@globex.test", i);
        snprintf(name, sizeof name, "Globex Agent %d", i);
        rc = ensure_user(svc, tx, &actor, email, name, "agent", globex);
    }
    if (rc == 0) {
        rc = ensure_message(tx, &actor, "welcome", NULL, "Welcome to switchboard",
                            "This is a global message every tenant sees.", "normal");
    }
    if (rc == 0) {
        rc = ensure_message(tx, &actor, "acme-meeting", acme, "Acme: team meeting at 10:00",
                            "Weekly sync in the main room.", "high");
    }
    if (rc == 0) {
        rc = ensure_message(tx, &actor, "globex-maintenance", globex, "Globex: maintenance tonight",
                            "Systems will be read-only from 22:00.", "normal");
    }
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    return store_tx_commit(tx);
}
