/*
 * Placeholder until the realtime engine lands: upgrades are refused with 503.
 */
#include "realtime/rt.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/err.h"

struct rt {
    int unused;
};

int rt_new(const struct rt_config *cfg, struct store *store, struct rt **out)
{
    (void)cfg;
    (void)store;
    *out = xcalloc(1, sizeof **out);
    return 0;
}

int rt_start(struct rt *rt, struct net_server *server)
{
    (void)rt;
    (void)server;
    return 0;
}

void rt_stop(struct rt *rt)
{
    (void)rt;
}

void rt_free(struct rt *rt)
{
    free(rt);
}

void rt_worker_start(struct rt *rt, struct net_worker *w)
{
    (void)rt;
    (void)w;
}

void rt_worker_stop(struct rt *rt, struct net_worker *w)
{
    (void)rt;
    (void)w;
}

int rt_upgrade(struct rt *rt, struct net_request *req, char *err, size_t errlen)
{
    (void)rt;
    (void)req;
    snprintf(err, errlen, "realtime is not available yet");
    return SB_E_UNAVAILABLE;
}

void rt_metrics_render(struct rt *rt, struct buf *out)
{
    (void)rt;
    (void)out;
}
