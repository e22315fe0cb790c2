/*
 * Operations endpoints: /livez (the process answers), /readyz (not draining and the
 * database answers), /metrics (Prometheus text format).
 */
#include <stdlib.h>

#include "api/api_int.h"
#include "base/err.h"
#include "store/store.h"

static int livez(struct api_call *c)
{
    return api_reply(c, 200, json_pack("{s:s}", "status", "ok"));
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

static int metrics(struct api_call *c)
{
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
    {.method = HTTP_GET, .pattern = "/livez", .fn = livez, .flags = API_INLINE},
    {.method = HTTP_GET, .pattern = "/readyz", .fn = readyz, .flags = 0},
    {.method = HTTP_GET, .pattern = "/metrics", .fn = metrics, .flags = API_INLINE},
    {.pattern = NULL},
};
