/*
 * Clients (tenants): super_admin only. Deleting a client cascades to its users, agents,
 * messages and history (foreign keys); the change log records every removed row and the
 * audit log keeps its entries.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rand.h"
#include "svc/svc_int.h"

static bool slug_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0]))) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-')) {
            return false;
        }
    }
    return true;
}

/* Validate the writable fields present in in; with create, required ones must be there. */
static int client_validate(const json_t *in, bool create, struct svc_errors *err)
{
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        if (!strcmp(key, "name")) {
            if (!json_is_string(v) || !json_string_length(v)) {
                rc = svc_invalid(err, "name", "required");
            } else if (json_string_length(v) > 200) {
                rc = svc_invalid(err, "name", "too_long");
            }
        } else if (!strcmp(key, "slug")) {
            if (!json_is_string(v) || !slug_is_valid(json_string_value(v))) {
                rc = svc_invalid(err, "slug", "invalid");
            }
        } else if (!strcmp(key, "status")) {
            if (!json_is_string(v) || (strcmp(json_string_value(v), "active") &&
                                       strcmp(json_string_value(v), "suspended"))) {
                rc = svc_invalid(err, "status", "invalid");
            }
        } else if (!strcmp(key, "settings")) {
            if (!json_is_object(v)) {
                rc = svc_invalid(err, "settings", "must_be_object");
            }
        } else if (!strcmp(key, "id") && create) {
            if (!json_is_string(v) || !uuid_is_valid(json_string_value(v))) {
                rc = svc_invalid(err, "id", "invalid");
            }
        } else if (!strcmp(key, "expected_version")) {
            continue;
        } else {
            rc = svc_invalid(err, key, "unknown_field");
        }
    }
    if (create) {
        if (!json_object_get(in, "name")) {
            rc = svc_invalid(err, "name", "required");
        }
        if (!json_object_get(in, "slug")) {
            rc = svc_invalid(err, "slug", "required");
        }
    }
    return rc;
}

int svc_client_create(struct svc *svc, const struct svc_actor *a, const json_t *in, json_t **out,
                      struct svc_errors *err)
{
    if (!policy_can_manage_clients(&a->who)) {
        return SB_E_FORBIDDEN;
    }
    int rc = client_validate(in, true, err);
    if (rc < 0) {
        return rc;
    }
    json_t *row = json_deep_copy(in);
    if (!json_object_get(row, "status")) {
        json_object_set_new(row, "status", json_string("active"));
    }
    if (!json_object_get(row, "settings")) {
        json_object_set_new(row, "settings", json_object());
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc == 0) {
        rc = store_row_insert(tx, STORE_CLIENTS, row, out);
        if (rc == 0) {
            rc = svc_audit(tx, a, "client.create", "client",
                           json_string_value(json_object_get(*out, "id")), NULL, *out);
        }
        rc = svc_tx_end(tx, rc, NULL);
    }
    json_decref(row);
    if (rc == SB_E_CONFLICT) {
        snprintf(err->message, sizeof err->message, "a client with this slug or id exists");
        svc_invalid(err, "slug", "taken");
    }
    if (rc < 0 && out && *out) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int svc_client_update(struct svc *svc, const struct svc_actor *a, const char *id,
                      const json_t *patch, int64_t expected_version, json_t **out,
                      struct svc_errors *err)
{
    struct store_scope scope;
    if (!policy_can_manage_clients(&a->who)) {
        /* Others may see their own client but not change it: hide foreign ones. */
        json_t *row = NULL;
        int rc = svc_get(svc, &a->who, STORE_CLIENTS, id, &row);
        json_decref(row);
        return rc < 0 ? rc : SB_E_FORBIDDEN;
    }
    policy_system_scope(&scope);
    int rc = client_validate(patch, false, err);
    if (rc < 0) {
        return rc;
    }
    json_t *set = json_deep_copy(patch);
    json_object_del(set, "expected_version");
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, true, &tx);
    if (rc == 0) {
        json_t *before = NULL;
        rc = store_row_get(tx, STORE_CLIENTS, &scope, id, &before);
        if (rc == 0) {
            rc = store_row_update(tx, STORE_CLIENTS, &scope, id, set, expected_version, out);
        }
        if (rc == 0) {
            rc = svc_audit(tx, a, "client.update", "client", id, before, *out);
        } else if (rc == SB_E_VERSION) {
            err->current = *out;
            *out = NULL;
        }
        json_decref(before);
        rc = svc_tx_end(tx, rc, NULL);
    }
    json_decref(set);
    if (rc == SB_E_CONFLICT) {
        svc_invalid(err, "slug", "taken");
    }
    if (rc < 0 && *out) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int svc_client_delete(struct svc *svc, const struct svc_actor *a, const char *id,
                      const char *confirm, struct svc_errors *err)
{
    if (!policy_can_manage_clients(&a->who)) {
        json_t *row = NULL;
        int rc = svc_get(svc, &a->who, STORE_CLIENTS, id, &row);
        json_decref(row);
        return rc < 0 ? rc : SB_E_FORBIDDEN;
    }
    struct store_scope scope;
    policy_system_scope(&scope);
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, true, &tx);
    if (rc < 0) {
        return rc;
    }
    /* The caller must name the client (slug or name), checked against the row deleted. */
    json_t *row = NULL;
    rc = store_row_get(tx, STORE_CLIENTS, &scope, id, &row);
    if (rc == 0 && (!confirm || !*confirm)) {
        rc = svc_invalid(err, "confirm", "required");
    } else if (rc == 0 && strcmp(confirm, json_string_value(json_object_get(row, "slug"))) &&
               strcmp(confirm, json_string_value(json_object_get(row, "name")))) {
        rc = svc_invalid(err, "confirm", "must_match_slug_or_name");
    }
    json_decref(row);
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    json_t *before = NULL;
    rc = store_row_delete(tx, STORE_CLIENTS, &scope, id, &before);
    if (rc == 0) {
        rc = svc_audit(tx, a, "client.delete", "client", id, before, NULL);
    }
    json_decref(before);
    if (rc == 0) {
        return store_tx_commit(tx);
    }
    store_tx_rollback(tx);
    return rc;
}

int svc_client_impact(struct svc *svc, const struct policy_principal *who, const char *id,
                      json_t **out)
{
    json_t *client = NULL;
    int rc = svc_get(svc, who, STORE_CLIENTS, id, &client);
    if (rc < 0) {
        return rc;
    }
    static const struct {
        const char *key;
        enum store_table table;
    } parts[] = {{"users", STORE_USERS},
                 {"agents", STORE_AGENT_STATUS},
                 {"messages", STORE_MESSAGES},
                 {"agent_history", STORE_AGENT_HISTORY}};
    json_t *counts = json_object();
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, false, &tx);
    for (size_t i = 0; rc == 0 && i < sizeof parts / sizeof parts[0]; i++) {
        struct store_query q = {0};
        policy_system_scope(&q.scope);
        q.filters[0] = (struct store_filter){"client_id", STORE_EQ, json_string(id)};
        q.nfilters = 1;
        json_t *n = NULL;
        rc = store_row_count(tx, parts[i].table, &q, NULL, &n);
        json_decref(q.filters[0].value);
        if (rc == 0) {
            json_object_set(counts, parts[i].key, json_object_get(n, "total"));
        }
        json_decref(n);
    }
    store_tx_rollback(tx);
    if (rc < 0) {
        json_decref(counts);
        json_decref(client);
        return rc;
    }
    *out = json_pack("{s:O,s:O,s:O,s:o}", "client_id", json_object_get(client, "id"), "name",
                     json_object_get(client, "name"), "slug", json_object_get(client, "slug"),
                     "deletes", counts);
    json_decref(client);
    return 0;
}
