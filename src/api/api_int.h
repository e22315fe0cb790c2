/*
 * Internals of the API layer shared by api.c (routing, calls, responses) and the route
 * files (routes_*.c). A struct api_call lives from the request's arrival to its response;
 * handlers run either on the loop thread (API_INLINE) or on a thread-pool thread, and only
 * fill the call's response fields; api.c sends it from the loop thread.
 */
#ifndef SB_API_API_INT_H
#define SB_API_API_INT_H

#include <jansson.h>
#include <stdatomic.h>

#include "api/api.h"
#include "base/buf.h"
#include "policy/policy.h"

struct api_call;
typedef int (*api_handler_fn)(struct api_call *call);

enum api_route_flags {
    API_INLINE = 1 << 0, /* cheap: run on the loop thread */
    API_AUTH = 1 << 1,   /* needs a valid access token (401 otherwise) */
    API_BODY = 1 << 2,   /* needs a JSON object body (415/400 otherwise) */
    /* A GET whose 200 answer is a list or row of route->table read through svc_list_counted /
     * svc_get only (nothing else of the principal or the moment): the read cache (cache.c)
     * may answer it. Needs API_AUTH. */
    API_CACHED = 1 << 3,
    /* A write that only runs svc calls committing through the store and nothing slow besides
     * (no password hashing): it may run on the writer lane (lane.c). */
    API_LANE = 1 << 4,
};

#define API_MAX_PARAMS 4
#define API_STATUS_SLOTS 24
#define API_LATENCY_BUCKETS 12

struct api_route {
    enum http_method method;
    const char *pattern; /* "/api/v1/users/{id}" */
    api_handler_fn fn;
    unsigned flags;
    enum store_table table; /* with API_CACHED: the table the answer is read from */
    /* metrics, updated from any thread */
    atomic_uint_fast64_t by_status[API_STATUS_SLOTS];
    atomic_uint_fast64_t latency[API_LATENCY_BUCKETS + 1]; /* cumulative at render time */
    atomic_uint_fast64_t latency_sum_us;
    /* description for the OpenAPI document (openapi.c) */
    const char *summary;
    const char *query; /* query parameters, comma-separated ("format": CSV too), or NULL */
};

struct api {
    struct store *store;
    struct svc *svc;
    struct auth_session *auth; /* verifies bearer tokens (not owned) */
    struct rt *rt;
    char *web_dir;
    char **cors;
    size_t ncors;
    char *version;
    struct auth_proxies *proxies; /* trusted reverse proxies (never NULL) */
    char *metrics_token;          /* NULL: /metrics is open */
    bool secure_cookies;
    atomic_bool draining;
    struct api_cache *cache; /* read cache (cache.c), shared by every worker */
    struct api_lane *lane;   /* the writer lane (lane.c), or NULL */
};

struct api_call {
    struct api *api;
    struct net_request *req;
    struct api_route *route;
    char *params[API_MAX_PARAMS];
    size_t nparams;
    json_t *body;                /* parsed JSON body (API_BODY) */
    json_t *arena;               /* keeps decoded query strings alive */
    int rc;                      /* the handler's result (thread-pool routes) */
    struct policy_principal who; /* valid when API_AUTH */
    /* response */
    int status;
    json_t *json; /* response body, or NULL */
    char *raw;    /* or a raw body (malloc'd) with raw_type */
    size_t raw_len;
    const char *raw_type;
    bool raw_static;    /* raw points to static memory */
    struct buf headers; /* extra response header lines */
    /* error details, used when the handler returns < 0 */
    char err_msg[256];
    json_t *err_details;
    json_t *err_current;
    int retry_after_s;
    struct api_export *export; /* a streamed CSV export (export.c), or NULL */
    /* API_CACHED routes: the cache key and the generation read before the handler ran
     * (cache_key NULL: the answer is not to be cached). */
    char *cache_key;
    size_t cache_key_len;
    uint64_t cache_gen;
    struct api_cache_flight *flight; /* the shared read this call leads, or NULL */
    struct api_call *flight_next;    /* next waiter of the same flight */
    struct api_call *lane_next;      /* next call waiting for the writer lane */
    bool lane_commits;               /* on the lane: the handler committed something */
    uint64_t lane_sync;              /* on the lane: the store_sync ticket of its batch */
    uv_work_t work;
};

/* Run the call's handler (on a pool thread or the lane), then answer it on its loop thread
 * (status < 0: the work was cancelled). */
void api_call_work(struct api_call *c);
void api_call_after(struct api_call *c, int status);

/* ---- the writer lane (lane.c) ---- */
struct api_lane;
/* Start the lane when the store can defer commits (else API_LANE routes use the pool). */
int api_lane_start(struct api *a);
/* Answer what the lane holds and end its thread (the loops still running); free it once no
 * loop runs. */
void api_lane_stop(struct api *a);
void api_lane_free(struct api *a);
/* Queue an API_LANE call; false when there is no lane (run it on the pool). Loop thread. */
bool api_lane_submit(struct api_call *c);

/* ---- the read cache (cache.c) ---- */
struct api_cache;
struct api_cache_entry;
struct api_cache_flight;
struct api_cache_stats {
    uint64_t hits, misses, stores, shared; /* since start */
    uint64_t entries, bytes;               /* now */
};
struct api_cache *api_cache_new(void);
void api_cache_free(struct api_cache *c);
/* The entry for key stored at generation gen and young enough, with a reference the caller
 * drops with api_cache_unref, or NULL. Any thread. */
struct api_cache_entry *api_cache_get(struct api_cache *c, const char *key, size_t key_len,
                                      uint64_t gen);
/* The entry's encoded body (valid while the caller holds its reference). */
const char *api_cache_body(const struct api_cache_entry *e, size_t *len);
void api_cache_unref(struct api_cache_entry *e);
/* Store a copy of body for key, read at generation gen (nothing when gen is older than what
 * the cache holds, or body is over SB_LIMIT_READ_CACHE_ENTRY_BYTES). Any thread. */
void api_cache_put(struct api_cache *c, const char *key, size_t key_len, uint64_t gen,
                   const char *body, size_t body_len);
/*
 * Shared reads (see cache.c). A call that missed joins the read of key at gen in flight on
 * loop: *joined true, the call is parked until that read ends (the function's result is
 * then not for the caller). Else it leads a new flight (returned; NULL when too many are in
 * flight) and must end it with api_cache_flight_end, on loop, once its answer is known;
 * that returns the parked calls (linked through flight_next) for the leader to answer.
 */
struct api_cache_flight *api_cache_flight_join(struct api_cache *c, const char *key, size_t key_len,
                                               uint64_t gen, void *loop, struct api_call *call,
                                               bool *joined);
struct api_call *api_cache_flight_end(struct api_cache *c, struct api_cache_flight *f);
void api_cache_stats(struct api_cache *c, struct api_cache_stats *out);

/* Set a JSON response (takes ownership of body). Returns 0. */
int api_reply(struct api_call *c, int status, json_t *body);
/* Record a field-level validation problem; returns SB_E_VALIDATION. */
int api_invalid(struct api_call *c, const char *field, const char *issue);
/* Set the error message for the error the handler returns; returns err. */
int api_fail(struct api_call *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The decoded query parameter name, or NULL (the result lives as long as the call). */
const char *api_query(struct api_call *c, const char *name);
/* The request header as a NUL-terminated copy in out, or NULL when absent/too long. */
const char *api_header(struct api_call *c, const char *name, char *out, size_t outlen);

/* Route tables of the route files, terminated by a NULL pattern. */
extern struct api_route api_routes_ops[];
extern struct api_route api_routes_auth[];
extern struct api_route api_routes_admin[];
extern struct api_route api_routes_domain[];
extern struct api_route api_routes_meta[];
/* Every route table the router searches, in order (api.c). */
struct api_route *const *api_route_tables(size_t *n);
/* The OpenAPI 3.1 document of every route (openapi.c). */
json_t *api_openapi_document(struct api *api);

/* Cache-Control (API paths) and CORS headers into c->headers (api.c). */
void api_common_headers(struct api_call *c, bool is_api);
/* Count a response of status in the route's metrics and log it (before the request goes). */
void api_call_record(struct api_call *c, int status);
/* Free a call whose request was answered. */
void api_call_release(struct api_call *c);

/* Prometheus text for /metrics (api.c). */
void api_metrics_render(struct api *api, struct buf *out);
/* Static files (static.c): answer GET/HEAD for path. */
int api_static(struct api_call *c, const char *path);

#endif

/* ---- shared by the route files (common.c) ---- */
struct svc_actor;
struct svc_errors;
struct svc_page;
struct store_query;

/* The acting user of an authenticated call, with ip (the client address, see
 * api_client_ip), user agent and request id. */
void api_actor(struct api_call *c, struct svc_actor *out);
/* The client address of the call: the peer, or X-Forwarded-For when the peer is a trusted
 * proxy (auth/proxy.h). out has outlen >= AUTH_IP_LEN bytes. */
void api_client_ip(struct api_call *c, char *out, size_t outlen);
/* Move a service's error details into the call; returns rc. */
int api_svc_result(struct api_call *c, int rc, struct svc_errors *err);
/* Expected version from If-Match (a number, optionally quoted) or body expected_version:
 * 0 when absent, SB_E_VALIDATION when malformed. */
int64_t api_expected_version(struct api_call *c, int *rc);
/*
 * Fill q's paging from ?limit= ?cursor= ?sort= ?q= and add an equality filter for each name
 * in eq_params that is present (value typed for the column of table). Returns 0 or
 * SB_E_VALIDATION with details. Filter values are owned by the call.
 */
int api_list_query(struct api_call *c, const char *table_name, const char *const *eq_params,
                   struct store_query *q);
/* Reply {"data": rows, "next_cursor": ..., "seq": N} and release page. */
int api_reply_page(struct api_call *c, struct svc_page *page);
/* Release the filter values api_list_query created. */
void api_list_query_release(struct store_query *q);

/* Generic collection handlers: list (with the given equality filters), get by {id}, and
 * create/update/delete through a service function of the matching shape. */
struct svc;
typedef int (*api_create_fn)(struct svc *, const struct svc_actor *, const json_t *, json_t **,
                             struct svc_errors *);
typedef int (*api_update_fn)(struct svc *, const struct svc_actor *, const char *, const json_t *,
                             int64_t, json_t **, struct svc_errors *);
typedef int (*api_delete_fn)(struct svc *, const struct svc_actor *, const char *,
                             struct svc_errors *);
int api_list_table(struct api_call *c, enum store_table t, const char *const *eq);
/* One page of table t through svc_list_rows (an api_page_fn for exports: no count). */
int api_list_page(struct api_call *c, enum store_table t, struct store_query *q,
                  struct svc_page *out);
int api_get_row(struct api_call *c, enum store_table t);
int api_create_row(struct api_call *c, api_create_fn fn);
int api_update_row(struct api_call *c, api_update_fn fn);
int api_delete_row(struct api_call *c, api_delete_fn fn);

/* ---- CSV export (export.c) ---- */
struct api_export;
/* Reads one page of a list for export: q as built by the list handler, cursor and limit set
 * by the export. */
typedef int (*api_page_fn)(struct api_call *c, enum store_table t, struct store_query *q,
                           struct svc_page *out);
/* Whether the call asks for CSV (?format=csv, or Accept: text/csv without ?format=json);
 * a bad ?format= sets *rc to SB_E_VALIDATION with details. */
bool api_wants_csv(struct api_call *c, int *rc);
/* Start a CSV export of q's rows (takes q's filter values); reads the first page now, so an
 * error is returned as usual. arg (may be NULL): two values fn reads with api_export_arg. */
int api_export(struct api_call *c, enum store_table t, struct store_query *q, api_page_fn fn,
               const int64_t *arg);
const int64_t *api_export_arg(struct api_call *c);
/* The loop side: stream the export (after the handler returned 0 with c->export set). */
void api_export_start(struct api_call *c);
void api_export_free(struct api_export *ex);
/* One CSV cell (RFC 4180 quoting; with text, the formula prefix). */
void api_csv_cell(struct buf *out, const char *s, size_t n, bool text);
