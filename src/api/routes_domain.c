/*
 * /api/v1/agents, /api/v1/messages and /api/v1/dashboard: JSON mapping only; the services
 * decide and policy scopes every read. Fixed paths (/agents/stats, /agents/bulk-status,
 * /messages/stats) come before the {id} patterns because routes match in table order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/clock.h"
#include "base/err.h"
#include "svc/svc.h"

#define DAY_MS (24LL * 3600 * 1000)

static int window(struct api_call *c, int64_t *from_ms, int64_t *to_ms)
{
    int rc = 0;
    const char *names[2] = {"from", "to"};
    int64_t *dst[2] = {from_ms, to_ms};
    for (int i = 0; i < 2; i++) {
        const char *v = api_query(c, names[i]);
        *dst[i] = 0;
        if (v && clock_parse_ms(v, dst[i]) < 0) {
            rc = api_invalid(c, names[i], "must_be_rfc3339");
        }
    }
    if (rc == 0 && *from_ms && *to_ms && *from_ms >= *to_ms) {
        rc = api_invalid(c, "from", "must_be_before_to");
    }
    return rc;
}

/* ---- agents ---- */

static int agents_list(struct api_call *c)
{
    static const char *const eq[] = {"client_id", "status", "user_id", NULL};
    return api_list_table(c, STORE_AGENT_STATUS, eq);
}

static int agents_get(struct api_call *c)
{
    return api_get_row(c, STORE_AGENT_STATUS);
}

static int agents_update(struct api_call *c)
{
    return api_update_row(c, svc_agent_set_status);
}

static int agents_bulk(struct api_call *c)
{
    struct svc_actor a;
    api_actor(c, &a);
    struct svc_errors err = {0};
    json_t *out = NULL;
    int rc = api_svc_result(c, svc_agent_bulk_status(c->api->svc, &a, c->body, &out, &err), &err);
    if (rc < 0) {
        return rc;
    }
    /* By ids: {data: [rows]}; by filter: {updated: n} (the rows arrive as realtime events). */
    return api_reply(c, 200, json_is_array(out) ? json_pack("{s:o}", "data", out) : out);
}

static int history_page(struct api_call *c, enum store_table t, struct store_query *q,
                        struct svc_page *out)
{
    (void)t;
    const int64_t *win = api_export_arg(c);
    int rc = svc_agent_history(c->api->svc, &c->who, c->params[0], win[0], win[1], q, out);
    return rc == SB_E_INVAL ? api_fail(c, SB_E_VALIDATION, "invalid cursor") : rc;
}

static int agents_history(struct api_call *c)
{
    int64_t from = 0, to = 0;
    struct store_query q;
    int rc = api_list_query(c, "agent_status_history", NULL, &q);
    if (window(c, &from, &to) < 0) {
        rc = SB_E_VALIDATION;
    }
    bool csv = api_wants_csv(c, &rc);
    if (rc == 0 && csv) {
        const int64_t win[2] = {from, to};
        rc = api_export(c, STORE_AGENT_HISTORY, &q, history_page, win);
    } else if (rc == 0) {
        struct svc_page page;
        rc = svc_agent_history(c->api->svc, &c->who, c->params[0], from, to, &q, &page);
        if (rc == SB_E_INVAL) {
            rc = api_fail(c, SB_E_VALIDATION, "invalid cursor");
        }
        if (rc == 0) {
            rc = api_reply_page(c, &page);
        }
    }
    api_list_query_release(&q);
    return rc;
}

static int agents_stats(struct api_call *c)
{
    int64_t from = 0, to = 0;
    int rc = window(c, &from, &to);
    if (rc < 0) {
        return rc;
    }
    int64_t now = clock_now_ms();
    if (!to) {
        to = now;
    }
    if (!from) {
        from = to - DAY_MS;
    }
    if (from >= to) {
        return api_invalid(c, "from", "must_be_before_to");
    }
    json_t *out = NULL;
    rc = svc_agent_stats(c->api->svc, &c->who, api_query(c, "client_id"), from, to, now, &out);
    return rc < 0 ? rc : api_reply(c, 200, out);
}

/* ---- messages ---- */

static int messages_list(struct api_call *c)
{
    static const char *const eq[] = {"client_id", "state", "priority", NULL};
    return api_list_table(c, STORE_MESSAGES, eq);
}

static int messages_get(struct api_call *c)
{
    return api_get_row(c, STORE_MESSAGES);
}

static int messages_create(struct api_call *c)
{
    return api_create_row(c, svc_message_create);
}

static int messages_update(struct api_call *c)
{
    return api_update_row(c, svc_message_update);
}

static int messages_delete(struct api_call *c)
{
    return api_delete_row(c, svc_message_delete);
}

static int messages_stats(struct api_call *c)
{
    json_t *out = NULL;
    int rc = svc_message_stats(c->api->svc, &c->who, api_query(c, "client_id"), &out);
    return rc < 0 ? rc : api_reply(c, 200, out);
}

/* ---- dashboard ---- */

static int dashboard_get(struct api_call *c)
{
    json_t *out = NULL;
    const char *cid = api_query(c, "client_id");
    int rc = svc_dashboard(c->api->svc, &c->who, cid && *cid ? cid : NULL, &out);
    return rc < 0 ? rc : api_reply(c, 200, out);
}

static int dashboard_history(struct api_call *c)
{
    int64_t from = 0, to = 0;
    int rc = window(c, &from, &to);
    const char *mp = api_query(c, "max_points");
    long max_points = 1000;
    if (mp) {
        char *end;
        max_points = strtol(mp, &end, 10);
        if (*end || end == mp || max_points < 1 || max_points > SVC_HISTORY_MAX_POINTS) {
            rc = api_invalid(c, "max_points", "must_be_1_to_86401");
        }
    }
    if (rc < 0) {
        return rc;
    }
    if (!to) {
        to = clock_now_ms();
    }
    if (!from) {
        from = to - DAY_MS;
    }
    if (from >= to) {
        return api_invalid(c, "from", "must_be_before_to");
    }
    const char *cid = api_query(c, "client_id");
    json_t *out = NULL;
    rc = svc_dashboard_history(c->api->svc, &c->who, cid && *cid ? cid : NULL, from, to,
                               (size_t)max_points, &out);
    return rc < 0 ? rc : api_reply(c, 200, out);
}

struct api_route api_routes_domain[] = {
    {.method = HTTP_GET,
     .pattern = "/api/v1/agents",
     .summary = "List agents and their status",
     .query = "limit,cursor,sort,q,count_by,format,client_id,status,user_id",
     .fn = agents_list,
     .flags = API_AUTH | API_CACHED,
     .table = STORE_AGENT_STATUS},
    {.method = HTTP_GET,
     .pattern = "/api/v1/agents/stats",
     .summary = "Time per status per agent and client over a window",
     .query = "client_id,from,to",
     .fn = agents_stats,
     .flags = API_AUTH},
    {.method = HTTP_POST,
     .pattern = "/api/v1/agents/bulk-status",
     .summary = "Set the status of many agents at once (all or nothing): by ids, or every "
                "agent a filter {status, q, client_id} finds (expected_count: the confirmed "
                "count)",
     .fn = agents_bulk,
     .flags = API_AUTH | API_BODY | API_LANE},
    {.method = HTTP_GET,
     .pattern = "/api/v1/agents/{id}",
     .summary = "Get an agent",
     .fn = agents_get,
     .flags = API_AUTH | API_CACHED,
     .table = STORE_AGENT_STATUS},
    {.method = HTTP_PATCH,
     .pattern = "/api/v1/agents/{id}",
     .summary = "Set an agent's status and reason",
     .fn = agents_update,
     .flags = API_AUTH | API_BODY | API_LANE},
    {.method = HTTP_GET,
     .pattern = "/api/v1/agents/{id}/history",
     .summary = "An agent's status history",
     .query = "limit,cursor,format,from,to",
     .fn = agents_history,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/messages",
     .summary = "List system messages",
     .query = "limit,cursor,sort,q,count_by,format,client_id,state,priority",
     .fn = messages_list,
     .flags = API_AUTH | API_CACHED,
     .table = STORE_MESSAGES},
    {.method = HTTP_POST,
     .pattern = "/api/v1/messages",
     .summary = "Create a system message",
     .fn = messages_create,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_GET,
     .pattern = "/api/v1/messages/stats",
     .summary = "Counts of messages by state and priority",
     .query = "client_id",
     .fn = messages_stats,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/messages/{id}",
     .summary = "Get a system message",
     .fn = messages_get,
     .flags = API_AUTH | API_CACHED,
     .table = STORE_MESSAGES},
    {.method = HTTP_PATCH,
     .pattern = "/api/v1/messages/{id}",
     .summary = "Update a system message",
     .fn = messages_update,
     .flags = API_AUTH | API_BODY},
    {.method = HTTP_DELETE,
     .pattern = "/api/v1/messages/{id}",
     .summary = "Delete a system message",
     .fn = messages_delete,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/dashboard",
     .summary = "Dashboard snapshot of a tenant (or all)",
     .query = "client_id",
     .fn = dashboard_get,
     .flags = API_AUTH},
    {.method = HTTP_GET,
     .pattern = "/api/v1/dashboard/history",
     .summary = "The dashboard's metric series over a window (the last 24 h, kept across "
                "restarts)",
     .query = "client_id,from,to,max_points",
     .fn = dashboard_history,
     .flags = API_AUTH},
    {.pattern = NULL},
};
