/*
 * /api/v1/clients, /api/v1/users and /api/v1/audit.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/limits.h"
#include "svc/svc.h"

static const char *const client_filters[] = {"status", "slug", NULL};
static const char *const user_filters[] = {"client_id", "role", "status", "email", NULL};

static int clients_list(struct api_call *c)
{
    return api_list_table(c, STORE_CLIENTS, client_filters);
}
static int clients_get(struct api_call *c)
{
    return api_get_row(c, STORE_CLIENTS);
}
static int clients_create(struct api_call *c)
{
    return api_create_row(c, svc_client_create);
}
static int clients_update(struct api_call *c)
{
    return api_update_row(c, svc_client_update);
}
static int clients_delete(struct api_call *c)
{
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    int rc = api_svc_result(
        c, svc_client_delete(c->api->svc, &a, c->params[0], api_query(c, "confirm"), &err), &err);
    return rc < 0 ? rc : api_reply(c, 200, json_pack("{s:b}", "deleted", 1));
}
static int clients_impact(struct api_call *c)
{
    json_t *out = NULL;
    int rc = svc_client_impact(c->api->svc, &c->who, c->params[0], &out);
    return rc < 0 ? rc : api_reply(c, 200, out);
}
static int users_list(struct api_call *c)
{
    return api_list_table(c, STORE_USERS, user_filters);
}
static int users_get(struct api_call *c)
{
    return api_get_row(c, STORE_USERS);
}
static int users_create(struct api_call *c)
{
    return api_create_row(c, svc_user_create);
}
static int users_update(struct api_call *c)
{
    return api_update_row(c, svc_user_update);
}
static int users_delete(struct api_call *c)
{
    return api_delete_row(c, svc_user_delete);
}

static int users_reset_token(struct api_call *c)
{
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    char token[48];
    int64_t expires = 0;
    int rc = api_svc_result(
        c, svc_user_reset_token(c->api->svc, &a, c->params[0], token, &expires, &err), &err);
    if (rc < 0) {
        return rc;
    }
    char exp[CLOCK_RFC3339_LEN];
    clock_format_ms(expires, exp);
    rc = api_reply(
        c, 201,
        json_pack("{s:s,s:s,s:s}", "token", token, "expires_at", exp, "user_id", c->params[0]));
    memset(token, 0, sizeof token);
    return rc;
}

/* {"csv": "<text>", "default_role"?: role}: the CSV travels inside the JSON body, so the usual
 * body checks and limits (max_body) apply. */
static int users_import(struct api_call *c)
{
    const json_t *text = json_object_get(c->body, "csv");
    const json_t *role = json_object_get(c->body, "default_role");
    const char *key;
    json_t *v;
    json_object_foreach(c->body, key, v)
    {
        if (strcmp(key, "csv") != 0 && strcmp(key, "default_role") != 0) {
            return api_invalid(c, key, "unknown_field");
        }
    }
    if (!json_is_string(text)) {
        return api_invalid(c, "csv", text ? "must_be_string" : "required");
    }
    if (role && !json_is_null(role) &&
        (!json_is_string(role) || policy_role_parse(json_string_value(role)) == ROLE_NONE)) {
        return api_invalid(c, "default_role", "invalid");
    }
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    json_t *out = NULL;
    int rc = api_svc_result(c,
                            svc_user_import(c->api->svc, &a, json_string_value(text),
                                            json_string_length(text), json_string_value(role), &out,
                                            &err),
                            &err);
    return rc < 0 ? rc : api_reply(c, 201, out);
}

static int audit_list(struct api_call *c)
{
    static const char *const eq[] = {"entity_type", "entity_id", "actor_id",
                                     "action",      "client_id", NULL};
    struct store_query q;
    int rc = api_list_query(c, "audit_logs", eq, &q);
    const char *bounds[2] = {api_query(c, "from"), api_query(c, "to")};
    for (int i = 0; i < 2; i++) {
        int64_t ms;
        if (!bounds[i]) {
            continue;
        }
        if (clock_parse_ms(bounds[i], &ms) < 0) {
            rc = api_invalid(c, i ? "to" : "from", "must_be_rfc3339");
            continue;
        }
        char norm[CLOCK_RFC3339_LEN];
        clock_format_ms(ms, norm);
        q.filters[q.nfilters++] =
            (struct store_filter){"at", i ? STORE_LTE : STORE_GTE, json_string(norm)};
    }
    if (!q.sort) {
        /* Newest first. Narrowed to a time window, an actor or an entity by time, so that
         * each page is read from its cursor on through audit_at, audit_actor (actor_id, at)
         * or audit_entity (entity_type, entity_id, at); by seq a page had to sort every
         * entry of the window, the actor or the entity (an export of a week read the week
         * once per 200 entries). The whole log and a tenant's by seq (audit_client). The
         * orders agree while the clock does not step back. */
        bool narrowed = bounds[0] || bounds[1] || api_query(c, "actor_id") ||
                        (api_query(c, "entity_type") && api_query(c, "entity_id"));
        q.sort = narrowed ? "-at" : "-seq";
    }
    /* The log grows by every change and every refresh, and the viewer counts again after
     * each burst of changes: past this many entries the answer says "at least". */
    q.count_max = SB_LIMIT_AUDIT_TOTAL;
    bool csv = api_wants_csv(c, &rc);
    if (rc == 0 && csv) {
        rc = api_export(c, STORE_AUDIT, &q, api_list_page, NULL);
    } else if (rc == 0) {
        struct svc_page page;
        rc = svc_list(c->api->svc, &c->who, STORE_AUDIT, &q, &page);
        if (rc == SB_E_INVAL) {
            rc = api_fail(c, SB_E_VALIDATION, "invalid cursor or filter");
        }
        if (rc == 0) {
            rc = api_reply_page(c, &page);
        }
    }
    api_list_query_release(&q);
    return rc;
}

static int audit_verify(struct api_call *c)
{
    int64_t checked = 0, bad = 0;
    int rc = svc_audit_verify(c->api->svc, &c->who, &checked, &bad);
    if (rc < 0) {
        return rc;
    }
    return api_reply(c, 200,
                     json_pack("{s:b,s:I,s:o}", "ok", bad == 0, "checked", (json_int_t)checked,
                               "first_bad_seq", bad ? json_integer(bad) : json_null()));
}

struct api_route api_routes_admin[] = {
    {.method = HTTP_GET,
     .pattern = "/api/v1/clients",
     .summary = "List clients (super_admin: all; others their own)",
     .query = "limit,cursor,sort,q,count_by,format,status,slug",
     .fn = clients_list,
     .flags = API_AUTH | API_CACHED,
     .table = STORE_CLIENTS},
    {.method = HTTP_POST,
     .pattern = "/api/v1/clients",
     .summary = "Create a client (tenant)",
     .fn = clients_create,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_GET,
     .pattern = "/api/v1/clients/{id}",
     .summary = "Get a client",
     .fn = clients_get,
     .flags = API_AUTH | API_CACHED,
     .table = STORE_CLIENTS},
    {.method = HTTP_PATCH,
     .pattern = "/api/v1/clients/{id}",
     .summary = "Update a client (name, status, settings)",
     .fn = clients_update,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_DELETE,
     .pattern = "/api/v1/clients/{id}",
     .summary = "Delete a client with its users, agents and messages (?confirm=slug or name)",
     .query = "confirm",
     .fn = clients_delete,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/clients/{id}/impact",
     .summary = "What deleting the client takes with it (counts of users, agents, messages)",
     .fn = clients_impact,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/users",
     .summary = "List users",
     .query = "limit,cursor,sort,q,count_by,format,client_id,role,status,email",
     .fn = users_list,
     .flags = API_AUTH | API_CACHED,
     .table = STORE_USERS},
    {.method = HTTP_POST,
     .pattern = "/api/v1/users",
     .summary = "Create a user",
     .fn = users_create,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_POST,
     .pattern = "/api/v1/users/import",
     .summary = "Import users from CSV ({\"csv\": text, \"default_role\"?: role}), all or "
                "nothing, each with a reset token",
     .fn = users_import,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_GET,
     .pattern = "/api/v1/users/{id}",
     .summary = "Get a user",
     .fn = users_get,
     .flags = API_AUTH | API_CACHED,
     .table = STORE_USERS},
    {.method = HTTP_PATCH,
     .pattern = "/api/v1/users/{id}",
     .summary = "Update a user (name, role, status, password)",
     .fn = users_update,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_DELETE,
     .pattern = "/api/v1/users/{id}",
     .summary = "Delete a user",
     .fn = users_delete,
     .flags = API_AUTH},
    {.method = HTTP_POST,
     .pattern = "/api/v1/users/{id}/reset-token",
     .summary = "Create a one-time password reset token for a user (shown once)",
     .fn = users_reset_token,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/audit",
     .summary = "List audit entries (newest first)",
     .query = "limit,cursor,sort,q,format,entity_type,entity_id,actor_id,action,client_id,from,to",
     .fn = audit_list,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/audit/verify",
     .summary = "Verify the audit hash chain",
     .fn = audit_verify,
     .flags = API_AUTH},
    {.pattern = NULL},
};
