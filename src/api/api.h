/*
 * The HTTP API and everything else served over HTTP: /api/v1 (DESIGN §6), /livez, /readyz,
 * /metrics, the web panel's static files, and the hand-off of /realtime/v1/websocket
 * upgrades to the realtime engine.
 *
 * api_on_request() is the net layer's request callback: it runs on a loop thread, matches
 * the route, and either answers at once (cheap routes) or runs the handler on the libuv
 * thread pool (everything that touches the store), answering from the loop afterwards.
 */
#ifndef SB_API_API_H
#define SB_API_API_H

#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"

struct api;
struct store;
struct svc;
struct rt;

struct api_options {
    const char *web_dir;      /* serve static files from disk; NULL/"": embedded assets */
    const char *cors_origins; /* comma-separated allow-list; NULL/"": no CORS */
    const char *version;      /* build version for /metrics */
    /* CIDR list whose X-Forwarded-For names the client (auth/proxy.h); NULL/"": none.
     * Validated by the caller: a malformed list trusts nobody. */
    const char *trusted_proxies;
    const char *metrics_token; /* /metrics requires "Authorization: Bearer <it>"; NULL/"": open */
    bool secure_cookies;       /* served over TLS: cookies get the Secure attribute */
};

/* auth (not owned, outlives the api) verifies every bearer token. */
struct auth_session;
int api_new(const struct api_options *opt, struct store *store, struct svc *svc,
            struct auth_session *auth, struct api **out);
void api_free(struct api *self);
/* Attach the realtime engine (WebSocket upgrades); NULL refuses upgrades with 503. */
void api_set_realtime(struct api *self, struct rt *rt);
/* While draining, /readyz answers 503 and responses ask clients to close. */
void api_set_draining(struct api *self, bool draining);
/* net_hooks.on_request; arg is the struct api. */
void api_on_request(struct net_request *req, void *arg);

#endif
