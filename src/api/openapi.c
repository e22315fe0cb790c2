/*
 * GET /api/v1 (an index) and GET /api/v1/openapi.json (an OpenAPI 3.1 document).
 *
 * The document is generated from the router's own tables (api_route_tables), so every route
 * the server answers is described and none that it does not: the path and its {parameters}
 * from the pattern, the method, whether it needs a bearer token (API_AUTH) or a JSON body
 * (API_BODY), the summary and query parameters written beside each route, CSV for lists
 * taking ?format=, and the one error shape of DESIGN §6 for every 4XX/5XX.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "base/err.h"

static const char *const method_names[] = {"",    "get",   "head",   "post",
                                           "put", "patch", "delete", "options"};

static json_t *error_schema(void)
{
    return json_pack(
        "{s:s,s:[s],s:{s:{s:s,s:[s,s],s:{s:{s:s},s:{s:s},s:{s:s,s:{s:s,s:{s:{s:s},s:{s:s}}}},"
        "s:{s:s}}}}}",
        "type", "object", "required", "error", "properties", "error", "type", "object", "required",
        "code", "message", "properties", "code", "type", "string", "message", "type", "string",
        "details", "type", "array", "items", "type", "object", "properties", "field", "type",
        "string", "issue", "type", "string", "current", "type", "object");
}

/* "/api/v1/users/{id}" -> "get_api_v1_users_id" */
static json_t *operation_id(const char *method, const char *pattern)
{
    char id[256];
    size_t n = (size_t)snprintf(id, sizeof id, "%s", method);
    for (const char *p = pattern; *p && n + 2 < sizeof id; p++) {
        bool alnum =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (alnum) {
            id[n++] = *p;
        } else if (id[n - 1] != '_' && *p != '}') {
            id[n++] = '_';
        }
    }
    while (n > 0 && id[n - 1] == '_') {
        n--;
    }
    id[n] = '\0';
    return json_string(id);
}

static json_t *string_param(const char *name, const char *in, bool required)
{
    return json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in", in, "required", required,
                     "schema", "type", "string");
}

static json_t *operation(const struct api_route *r)
{
    const char *m = method_names[r->method];
    json_t *op = json_object();
    json_object_set_new(op, "operationId", operation_id(m, r->pattern));
    json_object_set_new(op, "summary", json_string(r->summary ? r->summary : r->pattern));
    json_object_set_new(op, "security",
                        (r->flags & API_AUTH) ? json_pack("[{s:[]}]", "bearer") : json_array());
    json_t *params = json_array();
    bool csv = false;
    if (r->query) {
        const char *p = r->query;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)n, p);
            csv |= !strcmp(name, "format");
            json_array_append_new(params, string_param(name, "query", false));
            p += n + (e ? 1 : 0);
        }
    }
    if (json_array_size(params)) {
        json_object_set_new(op, "parameters", params);
    } else {
        json_decref(params);
    }
    if (r->flags & API_BODY) {
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{s:{s:s}}}}", "required", 1, "content",
                                      "application/json", "schema", "type", "object"));
    }
    json_t *content = !strcmp(r->pattern, "/metrics")
                          ? json_pack("{s:{s:{s:s}}}", "text/plain", "schema", "type", "string")
                          : json_pack("{s:{s:{s:[s,s]}}}", "application/json", "schema", "type",
                                      "object", "array");
    if (csv) {
        json_object_set_new(content, "text/csv",
                            json_pack("{s:{s:s}}", "schema", "type", "string"));
    }
    json_object_set_new(op, "responses",
                        json_pack("{s:{s:s,s:o},s:{s:s},s:{s:s}}", "2XX", "description", "Success",
                                  "content", content, "4XX", "$ref", "#/components/responses/Error",
                                  "5XX", "$ref", "#/components/responses/Error"));
    return op;
}

json_t *api_openapi_document(struct api *api)
{
    json_t *paths = json_object();
    size_t ntables;
    struct api_route *const *tables = api_route_tables(&ntables);
    for (size_t t = 0; t < ntables; t++) {
        for (const struct api_route *r = tables[t]; r->pattern; r++) {
            json_t *item = json_object_get(paths, r->pattern);
            if (!item) {
                item = json_object();
                json_t *params = json_array();
                for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
                    const char *close = strchr(p, '}');
                    char name[64];
                    snprintf(name, sizeof name, "%.*s", (int)(close - p - 1), p + 1);
                    json_array_append_new(params, string_param(name, "path", true));
                }
                if (json_array_size(params)) {
                    json_object_set_new(item, "parameters", params);
                } else {
                    json_decref(params);
                }
                json_object_set_new(paths, r->pattern, item);
            }
            json_object_set_new(item, method_names[r->method], operation(r));
        }
    }
    return json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:o,s:{s:{s:{s:s,s:s,s:s}},s:{s:o},s:{s:{s:s,s:{s:{s:{s:s}}}}}}}",
        "openapi", "3.1.0", "info", "title", "switchboard", "version", api->version, "description",
        "The switchboard HTTP API. Realtime changes: a WebSocket at /realtime/v1/websocket "
        "(Phoenix protocol, see docs/realtime.md). Errors always have the Error shape.",
        "paths", paths, "components", "securitySchemes", "bearer", "type", "http", "scheme",
        "bearer", "bearerFormat", "JWT", "schemas", "Error", error_schema(), "responses", "Error",
        "description", "An error (DESIGN §6)", "content", "application/json", "schema", "$ref",
        "#/components/schemas/Error");
}

static int openapi_get(struct api_call *c)
{
    return api_reply(c, 200, api_openapi_document(c->api));
}

static int index_get(struct api_call *c)
{
    return api_reply(c, 200,
                     json_pack("{s:s,s:s,s:s,s:s}", "name", "switchboard", "version",
                               c->api->version, "openapi", "/api/v1/openapi.json", "realtime",
                               "/realtime/v1/websocket"));
}

struct api_route api_routes_meta[] = {
    {.method = HTTP_GET,
     .pattern = "/api/v1",
     .summary = "API index: version and links",
     .fn = index_get,
     .flags = API_INLINE},
    {.method = HTTP_GET,
     .pattern = "/api/v1/openapi.json",
     .summary = "This OpenAPI 3.1 document",
     .fn = openapi_get,
     .flags = API_INLINE},
    {.pattern = NULL},
};
