/*
 * Operations endpoints: /livez (the process answers), /readyz (not draining and the
 * database answers), /metrics (Prometheus text format; with --metrics-token only for
 * "Authorization: Bearer <token>", 401 otherwise).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "auth/token.h"
#include "base/err.h"
#include "store/store.h"

static int livez(struct api_call *c)
{
    /* The same bytes json_encode would make of {"status":"ok"}, without building them. */
    static const char ok[] = "{\"status\":\"ok\"}";
    c->status = 200;
    c->raw = (char *)ok;
    c->raw_len = sizeof ok - 1;
    c->raw_type = "application/json";
    c->raw_static = true;
    return 0;
}

static int readyz(struct api_call *c)
{
    if (atomic_load(&c->api->draining)) {
        return api_fail(c, SB_E_UNAVAILABLE, "draining");
    }
    if (store_ping(c->api->store) < 0) {
        return api_fail(c, SB_E_UNAVAILABLE, "database unreachable");
    }
    return api_reply(c, 200, json_pack("{s:s}", "status", "ready"));
}

/* Both sides are hashed before comparing, so the comparison takes the same time whatever the
 * lengths and contents of the token sent. */
static bool metrics_allowed(struct api_call *c)
{
    if (!c->api->metrics_token) {
        return true;
    }
    const struct http_slice *h = net_request_header(c->req, "Authorization");
    if (!h || h->len < 7 || strncasecmp(h->ptr, "Bearer ", 7) != 0) {
        return false;
    }
    char got[AUTH_TOKEN_HASH_LEN], want[AUTH_TOKEN_HASH_LEN];
    auth_token_hash(h->ptr + 7, h->len - 7, got);
    auth_token_hash(c->api->metrics_token, strlen(c->api->metrics_token), want);
    return auth_consttime_eq(got, want, AUTH_TOKEN_HASH_LEN - 1);
}

static int metrics(struct api_call *c)
{
    if (!metrics_allowed(c)) {
        buf_init(&c->headers, 16 * 1024); /* as api_finish would */
        (void)buf_puts(&c->headers, "WWW-Authenticate: Bearer realm=\"metrics\"\r\n");
        return api_fail(c, SB_E_UNAUTHORIZED, "/metrics needs its bearer token");
    }
    struct buf out;
    buf_init(&out, 16 * 1024 * 1024);
    api_metrics_render(c->api, &out);
    c->status = 200;
    c->raw_len = out.len;
    c->raw = buf_detach(&out, NULL);
    c->raw_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

struct api_route api_routes_ops[] = {
    {.method = HTTP_GET,
     .pattern = "/livez",
     .summary = "Liveness: the process answers",
     .fn = livez,
     .flags = API_INLINE},
    {.method = HTTP_GET,
     .pattern = "/readyz",
     .summary = "Readiness: not draining and the database answers",
     .fn = readyz,
     .flags = 0},
    {.method = HTTP_GET,
     .pattern = "/metrics",
     .summary = "Prometheus metrics",
     .fn = metrics,
     .flags = API_INLINE},
    {.pattern = NULL},
};
