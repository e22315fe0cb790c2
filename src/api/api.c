/*
 * Request entry point, router, calls and responses.
 *
 * Routes are static tables (one per route file) searched in order; a pattern segment
 * "{name}" matches one non-empty path segment, captured in order into call->params
 * (percent-decoded). A path that matches a pattern under another method answers 405 with
 * Allow. Every response passes through api_finish(), which maps errors to the JSON error
 * format of DESIGN §6, adds CORS and Cache-Control headers, records metrics per route and
 * status, and writes the access log line (path only: query strings may hold tokens).
 */
#include "api/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "auth/proxy.h"
#include "auth/session.h"
#include "auth/token.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "realtime/rt.h"
#include "svc/svc.h"

static struct api_route *const route_tables[] = {api_routes_ops, api_routes_meta, api_routes_auth,
                                                 api_routes_admin, api_routes_domain};

struct api_route *const *api_route_tables(size_t *n)
{
    *n = sizeof route_tables / sizeof route_tables[0];
    return route_tables;
}

static const int status_slots[API_STATUS_SLOTS] = {200, 201, 204, 304, 400, 401, 403, 404,
                                                   405, 408, 409, 413, 414, 415, 422, 426,
                                                   429, 431, 500, 501, 503, 505, 101, 0};

static const double latency_bounds_s[API_LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

/* Requests that match no route are counted here. */
static struct api_route route_unmatched = {
    .method = HTTP_OTHER, .pattern = "(unmatched)", .flags = API_INLINE};

static int status_slot(int status)
{
    for (int i = 0; i < API_STATUS_SLOTS - 1; i++) {
        if (status_slots[i] == status) {
            return i;
        }
    }
    return API_STATUS_SLOTS - 1;
}

int api_new(const struct api_options *opt, struct store *store, struct svc *svc,
            struct auth_session *auth, struct api **out)
{
    struct api *a = xcalloc(1, sizeof *a);
    a->store = store;
    a->svc = svc;
    a->auth = auth;
    a->web_dir = opt->web_dir && *opt->web_dir ? xstrdup(opt->web_dir) : NULL;
    a->version = xstrdup(opt->version ? opt->version : "dev");
    char err[160];
    if (auth_proxies_parse(opt->trusted_proxies, &a->proxies, err, sizeof err) < 0) {
        auth_proxies_parse(NULL, &a->proxies, err, sizeof err);
    }
    a->metrics_token =
        opt->metrics_token && *opt->metrics_token ? xstrdup(opt->metrics_token) : NULL;
    a->secure_cookies = opt->secure_cookies;
    a->cache = api_cache_new();
    if (api_lane_start(a) < 0) {
        log_warn("api: no writer lane (thread creation failed): writes use the thread pool");
    }
    if (opt->cors_origins && *opt->cors_origins) {
        const char *p = opt->cors_origins;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            while (n && *p == ' ') {
                p++;
                n--;
            }
            while (n && p[n - 1] == ' ') {
                n--;
            }
            if (n) {
                a->cors = xrealloc(a->cors, (a->ncors + 1) * sizeof *a->cors);
                a->cors[a->ncors++] = xstrndup(p, n);
            }
            p += e ? (size_t)(e - p) + 1 : strlen(p);
        }
    }
    *out = a;
    return 0;
}

void api_free(struct api *a)
{
    if (!a) {
        return;
    }
    api_lane_free(a);
    for (size_t i = 0; i < a->ncors; i++) {
        free(a->cors[i]);
    }
    free(a->cors);
    free(a->web_dir);
    free(a->version);
    auth_proxies_free(a->proxies);
    api_cache_free(a->cache);
    if (a->metrics_token) {
        auth_wipe(a->metrics_token, strlen(a->metrics_token));
        free(a->metrics_token);
    }
    free(a);
}

void api_set_realtime(struct api *a, struct rt *rt)
{
    a->rt = rt;
}

void api_set_draining(struct api *a, bool draining)
{
    atomic_store(&a->draining, draining);
    if (draining) {
        /* The lane answers what it holds while the loops still run; later writes take the
         * pool, whose work the loops wait for when they stop. */
        api_lane_stop(a);
    }
}

/* ---- helpers for handlers ---- */

int api_reply(struct api_call *c, int status, json_t *body)
{
    c->status = status;
    json_decref(c->json);
    c->json = body;
    return 0;
}

int api_invalid(struct api_call *c, const char *field, const char *issue)
{
    if (!c->err_details) {
        c->err_details = json_array();
    }
    json_array_append_new(c->err_details, json_pack("{s:s,s:s}", "field", field, "issue", issue));
    return SB_E_VALIDATION;
}

int api_fail(struct api_call *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    va_end(ap);
    return err;
}

const char *api_header(struct api_call *c, const char *name, char *out, size_t outlen)
{
    const struct http_slice *v = net_request_header(c->req, name);
    if (!v || v->len >= outlen) {
        return NULL;
    }
    memcpy(out, v->ptr, v->len);
    out[v->len] = '\0';
    return out;
}

/* Decoded query values are kept in a JSON object on the call so they live with it. */
const char *api_query(struct api_call *c, const char *name)
{
    struct http_slice q = c->req->head.query;
    size_t pos = 0;
    struct http_slice k, v;
    while (http_query_next(q, &pos, &k, &v)) {
        struct buf key;
        buf_init(&key, 256);
        if (http_url_decode(k.ptr, k.len, true, &key) < 0 || !key.data ||
            strcmp(key.data, name) != 0) {
            buf_release(&key);
            continue;
        }
        buf_release(&key);
        struct buf val;
        buf_init(&val, 4096);
        if (http_url_decode(v.ptr, v.len, true, &val) < 0) {
            buf_release(&val);
            return NULL;
        }
        json_t *s = json_string(val.data ? val.data : "");
        buf_release(&val);
        if (!s) {
            return NULL; /* not UTF-8 */
        }
        if (!c->arena) {
            c->arena = json_array();
        }
        json_array_append_new(c->arena, s);
        return json_string_value(s);
    }
    return NULL;
}

/* ---- routing ---- */

/* Match path against pattern; on success fill params (decoded). */
static bool route_match(const char *pattern, const char *path, size_t path_len, struct api_call *c)
{
    size_t np = 0;
    const char *p = pattern;
    size_t i = 0;
    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t start = i;
            while (i < path_len && path[i] != '/') {
                i++;
            }
            if (i == start || np >= API_MAX_PARAMS) {
                goto fail;
            }
            struct buf b;
            buf_init(&b, 1024);
            if (http_url_decode(path + start, i - start, false, &b) < 0 || !b.data) {
                buf_release(&b);
                goto fail;
            }
            c->params[np++] = buf_detach(&b, NULL);
            p = close + 1;
            continue;
        }
        /* The literal text up to the next parameter, compared at once. */
        size_t lit = strcspn(p, "{");
        if (lit > path_len - i || memcmp(p, path + i, lit) != 0) {
            goto fail;
        }
        p += lit;
        i += lit;
    }
    if (i != path_len) {
        goto fail;
    }
    c->nparams = np;
    return true;
fail:
    for (size_t k = 0; k < np; k++) {
        free(c->params[k]);
        c->params[k] = NULL;
    }
    return false;
}

static struct api_route *route_find(struct api_call *c, bool *other_method, struct buf *allow)
{
    const char *path = c->req->head.path.ptr;
    size_t len = c->req->head.path.len;
    enum http_method m = c->req->head.method == HTTP_HEAD ? HTTP_GET : c->req->head.method;
    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0]; t++) {
        for (struct api_route *r = route_tables[t]; r->pattern; r++) {
            if (!route_match(r->pattern, path, len, c)) {
                continue;
            }
            if (r->method == m) {
                return r;
            }
            *other_method = true;
            static const char *const names[] = {"",    "GET",   "HEAD",   "POST",
                                                "PUT", "PATCH", "DELETE", "OPTIONS"};
            if (allow->len) {
                (void)buf_puts(allow, ", ");
            }
            (void)buf_puts(allow, names[r->method]);
            for (size_t k = 0; k < c->nparams; k++) {
                free(c->params[k]);
                c->params[k] = NULL;
            }
            c->nparams = 0;
        }
    }
    return NULL;
}

/* ---- finishing a call ---- */

static const char *cors_origin(struct api_call *c, char *buf, size_t len)
{
    const char *origin = api_header(c, "Origin", buf, len);
    if (!origin) {
        return NULL;
    }
    for (size_t i = 0; i < c->api->ncors; i++) {
        if (strcmp(c->api->cors[i], origin) == 0 || strcmp(c->api->cors[i], "*") == 0) {
            return origin;
        }
    }
    return NULL;
}

static void call_free(struct api_call *c)
{
    for (size_t k = 0; k < c->nparams; k++) {
        free(c->params[k]);
    }
    json_decref(c->body);
    json_decref(c->arena);
    json_decref(c->json);
    json_decref(c->err_details);
    json_decref(c->err_current);
    if (!c->raw_static) {
        free(c->raw);
    }
    buf_release(&c->headers);
    api_export_free(c->export);
    free(c->cache_key);
    free(c);
}

/* Cache-Control for API paths and CORS headers, into c->headers. */
void api_common_headers(struct api_call *c, bool is_api)
{
    if (!c->headers.max_len) {
        buf_init(&c->headers, 16 * 1024);
    }
    if (is_api) {
        (void)buf_puts(&c->headers, "Cache-Control: no-store\r\n");
    }
    char ob[512];
    const char *origin = cors_origin(c, ob, sizeof ob);
    if (origin) {
        (void)buf_printf(&c->headers,
                         "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
                         "Access-Control-Expose-Headers: X-Request-Id, ETag, Retry-After\r\n",
                         origin);
    }
}

/* Count the call's response in the route's metrics and write the access log line. */
void api_call_record(struct api_call *c, int status)
{
    struct net_request *req = c->req;
    struct api_route *r = c->route ? c->route : &route_unmatched;
    atomic_fetch_add(&r->by_status[status_slot(status)], 1);
    int64_t us = (clock_mono_ms() - req->start_mono_ms) * 1000;
    atomic_fetch_add(&r->latency_sum_us, (uint64_t)us);
    int b = 0;
    while (b < API_LATENCY_BUCKETS && (double)us / 1e6 > latency_bounds_s[b]) {
        b++;
    }
    atomic_fetch_add(&r->latency[b], 1);
    if (log_enabled(LOG_INFO) && r != &api_routes_ops[0]) {
        /* The client as login limiting and the audit log see it (a trusted proxy's
         * X-Forwarded-For), and the TCP peer beside it when that differs. */
        char ip[AUTH_IP_LEN];
        api_client_ip(c, ip, sizeof ip);
        struct log_field f[] = {
            LOG_STR("request_id", req->request_id, strlen(req->request_id)),
            LOG_STR("method", req->head.method_str.ptr, req->head.method_str.len),
            LOG_STR("path", req->head.path.ptr, req->head.path.len),
            LOG_NUM("status", status),
            LOG_NUM("duration_us", us),
            LOG_STR("ip", ip, strlen(ip)),
            LOG_STR("peer", req->ip, strlen(req->ip)),
        };
        size_t n = sizeof f / sizeof f[0];
        log_fields(LOG_INFO, "request", f, strcmp(ip, req->ip) != 0 ? n : n - 1);
    }
}

void api_call_release(struct api_call *c)
{
    c->req = NULL;
    call_free(c);
}

static void api_finish(struct api_call *c, int rc)
{
    struct net_request *req = c->req;
    bool is_api = req->head.path.len >= 4 && memcmp(req->head.path.ptr, "/api", 4) == 0;
    if (rc < 0) {
        json_decref(c->json);
        c->json = NULL;
        if (!c->raw_static) {
            free(c->raw);
        }
        c->raw = NULL;
        c->status = err_http_status(rc);
        json_t *e = json_pack("{s:s,s:s}", "code", err_code(rc), "message",
                              c->err_msg[0] ? c->err_msg : sb_strerror(rc));
        if (c->err_details) {
            json_object_set(e, "details", c->err_details);
        }
        if (c->err_current) {
            json_object_set(e, "current", c->err_current);
        }
        c->json = json_pack("{s:o}", "error", e);
        if (c->status >= 500) {
            log_event(LOG_ERROR, "request failed",
                      json_pack("{s:s,s:s,s:s}", "request_id", req->request_id, "error",
                                err_code(rc), "message",
                                c->err_msg[0] ? c->err_msg : sb_strerror(rc)));
        }
    }
    if (rc == SB_E_RATELIMIT && c->retry_after_s > 0) {
        if (!c->headers.max_len) {
            buf_init(&c->headers, 16 * 1024);
        }
        (void)buf_printf(&c->headers, "Retry-After: %d\r\n", c->retry_after_s);
    }
    api_common_headers(c, is_api);
    struct net_response resp = {.status = c->status ? c->status : 200};
    if (c->json) {
        size_t len;
        char *body = json_encode(c->json, &len);
        resp.content_type = "application/json";
        resp.body = body;
        resp.body_len = len;
        resp.body_owned = true;
    } else if (c->raw) {
        resp.content_type = c->raw_type;
        resp.body = c->raw;
        resp.body_len = c->raw_len;
        resp.body_owned = !c->raw_static;
        c->raw = NULL;
    }
    resp.headers = c->headers.len ? c->headers.data : NULL;
    resp.close = atomic_load(&c->api->draining);

    api_call_record(c, resp.status);
    net_respond(req, &resp);
    c->req = NULL;
    call_free(c);
}

/* On a thread-pool thread: run the handler, then encode a successful JSON answer there too,
 * so that the loop thread only writes the bytes (api_finish sends c->raw as it is). */
void api_call_work(struct api_call *c)
{
    c->rc = c->route->fn(c);
    if (c->rc == 0 && c->json && !c->export && !c->raw) {
        size_t len = 0;
        char *body = json_encode(c->json, &len);
        if (body) {
            c->raw = body;
            c->raw_len = len;
            c->raw_type = "application/json";
            c->raw_static = false;
            json_decref(c->json);
            c->json = NULL;
        }
    }
}

static void call_work(uv_work_t *w)
{
    api_call_work(w->data);
}

static void call_after(uv_work_t *w, int status);

/* Answer the calls that waited for a shared read (cache.c) on the loop thread: with body when
 * the leader's answer was a cacheable 200, else each the long way (its own read), or with an
 * error when the leader's work was cancelled (status < 0). */
static void waiters_answer(struct api_call *w, int status, const char *body, size_t len)
{
    while (w) {
        struct api_call *next = w->flight_next;
        w->flight_next = NULL;
        if (body) {
            w->status = 200;
            w->raw = (char *)body;
            w->raw_len = len;
            w->raw_type = "application/json";
            w->raw_static = true;
            api_finish(w, 0);
        } else if (status < 0) {
            api_finish(w, SB_E_INTERNAL);
        } else {
            w->work.data = w;
            if (uv_queue_work(net_request_loop(w->req), &w->work, call_work, call_after) < 0) {
                api_finish(w, api_fail(w, SB_E_UNAVAILABLE, "server busy"));
            }
        }
        w = next;
    }
}

static void call_after(uv_work_t *w, int status)
{
    api_call_after(w->data, status);
}

void api_call_after(struct api_call *c, int status)
{
    struct api_call *waiters = NULL;
    if (c->flight) {
        waiters = api_cache_flight_end(c->api->cache, c->flight);
        c->flight = NULL;
    }
    bool cacheable = status == 0 && c->rc == 0 && !c->export && c->cache_key && c->status == 200 &&
                     c->raw && c->raw_type && strcmp(c->raw_type, "application/json") == 0;
    if (cacheable) {
        api_cache_put(c->api->cache, c->cache_key, c->cache_key_len, c->cache_gen, c->raw,
                      c->raw_len);
    }
    /* The waiters go first: the leader's answer (c->raw) is freed when it is sent. */
    waiters_answer(waiters, status, cacheable ? c->raw : NULL, c->raw_len);
    if (status == 0 && c->rc == 0 && c->export) {
        api_export_start(c);
        return;
    }
    api_finish(c, status < 0 ? SB_E_INTERNAL : c->rc);
}

static int check_body(struct api_call *c)
{
    char ct[128];
    const char *type = api_header(c, "Content-Type", ct, sizeof ct);
    if (!type || strncasecmp(type, "application/json", 16) != 0 ||
        (type[16] && type[16] != ';' && type[16] != ' ')) {
        return api_fail(c, SB_E_MEDIA, "Content-Type must be application/json");
    }
    char err[160];
    json_t *v = json_parse_strict(c->req->body, c->req->body_len, err, sizeof err);
    if (!v) {
        return api_fail(c, SB_E_INVAL, "%s", err);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return api_fail(c, SB_E_INVAL, "the request body must be a JSON object");
    }
    json_decref(c->body);
    c->body = v;
    return 0;
}

static int authenticate(struct api_call *c)
{
    const struct http_slice *h = net_request_header(c->req, "Authorization");
    if (!h || h->len < 8 || strncasecmp(h->ptr, "Bearer ", 7) != 0) {
        return api_fail(c, SB_E_UNAUTHORIZED, "missing bearer token");
    }
    const char *why = NULL;
    int rc = auth_session_check_token(c->api->auth, h->ptr + 7, h->len - 7, &c->who, &why);
    if (rc < 0) {
        return api_fail(c, SB_E_UNAUTHORIZED, "invalid access token (%s)", why ? why : "invalid");
    }
    return 0;
}

/*
 * The read cache for an API_CACHED route (cache.c): answer the call from it and return true,
 * or return false, leaving c->cache_key set when the answer may be stored once read. The
 * generation is read here, on the loop thread before the work is queued, so before the
 * read's snapshot.
 */
static bool asks_csv(const struct net_request *req)
{
    const struct http_slice *a = net_request_header(req, "Accept");
    for (size_t i = 0; a && i + 3 <= a->len; i++) {
        if (strncasecmp(a->ptr + i, "csv", 3) == 0) {
            return true;
        }
    }
    return false;
}

static bool cache_answer(struct api_call *c)
{
    struct net_request *req = c->req;
    uint64_t gen = 0;
    char view[128];
    /* HEAD, and an Accept that may ask for CSV (api_wants_csv), go the long way. */
    if (req->head.method != HTTP_GET || asks_csv(req) || !svc_read_generation(c->api->svc, &gen) ||
        svc_read_view(&c->who, c->route->table, view, sizeof view) < 0) {
        return false;
    }
    size_t vlen = strlen(view);
    size_t plen = req->head.path.len, qlen = req->head.query.len;
    size_t len = vlen + 1 + plen + 1 + qlen;
    char *key = xmalloc(len + 1);
    memcpy(key, view, vlen);
    key[vlen] = '\n';
    memcpy(key + vlen + 1, req->head.path.ptr, plen);
    key[vlen + 1 + plen] = '?';
    if (qlen) {
        memcpy(key + vlen + 2 + plen, req->head.query.ptr, qlen);
    }
    key[len] = '\0';
    struct api_cache_entry *e = api_cache_get(c->api->cache, key, len, gen);
    if (!e) {
        c->cache_key = key;
        c->cache_key_len = len;
        c->cache_gen = gen;
        bool joined = false;
        struct api_cache_flight *f =
            api_cache_flight_join(c->api->cache, key, len, gen, net_request_loop(req), c, &joined);
        if (!joined) {
            c->flight = f;
        }
        return joined; /* parked: the flight's leader answers it (call_after) */
    }
    free(key);
    c->status = 200;
    c->raw = (char *)api_cache_body(e, &c->raw_len);
    c->raw_type = "application/json";
    c->raw_static = true;
    api_finish(c, 0);
    api_cache_unref(e);
    return true;
}

static void preflight(struct api_call *c)
{
    char ob[512];
    const char *origin = cors_origin(c, ob, sizeof ob);
    c->status = 204;
    if (!origin) {
        return;
    }
    buf_init(&c->headers, 4096);
    (void)buf_puts(&c->headers,
                   "Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, OPTIONS\r\n"
                   "Access-Control-Allow-Headers: Authorization, Content-Type, "
                   "If-Match\r\nAccess-Control-Max-Age: 600\r\n");
}

void api_on_request(struct net_request *req, void *arg)
{
    struct api *a = arg;
    struct api_call *c = xcalloc(1, sizeof *c);
    c->api = a;
    c->req = req;
    /* WebSocket upgrades go to the realtime engine. */
    if (req->head.upgrade && req->head.path.len >= 10 &&
        memcmp(req->head.path.ptr + req->head.path.len - 10, "/websocket", 10) == 0 &&
        req->head.path.len >= 12 && memcmp(req->head.path.ptr, "/realtime/v1", 12) == 0) {
        if (!a->rt) {
            api_finish(c, api_fail(c, SB_E_UNAVAILABLE, "realtime is not available"));
            return;
        }
        int st = net_ws_check(req);
        if (st) {
            c->status = st;
            api_reply(c, st,
                      json_pack("{s:{s:s,s:s}}", "error", "code",
                                st == 426 ? "upgrade_required" : "bad_request", "message",
                                "invalid WebSocket handshake"));
            if (st == 426) {
                buf_init(&c->headers, 1024);
                (void)buf_puts(&c->headers, "Sec-WebSocket-Version: 13\r\n");
            }
            api_finish(c, 0);
            return;
        }
        int rc = rt_upgrade(a->rt, req, c->err_msg, sizeof c->err_msg);
        if (rc < 0) {
            api_finish(c, rc);
            return;
        }
        c->req = NULL;
        call_free(c);
        return;
    }
    if (req->head.method == HTTP_OPTIONS) {
        preflight(c);
        api_finish(c, 0);
        return;
    }
    bool other_method = false;
    struct buf allow;
    buf_init(&allow, 256);
    struct api_route *r = route_find(c, &other_method, &allow);
    if (!r) {
        bool is_api = req->head.path.len >= 5 && memcmp(req->head.path.ptr, "/api/", 5) == 0;
        if (other_method) {
            buf_init(&c->headers, 1024);
            (void)buf_printf(&c->headers, "Allow: %s\r\n", allow.data);
            buf_release(&allow);
            api_finish(c, api_fail(c, SB_E_METHOD, "method not allowed"));
            return;
        }
        buf_release(&allow);
        if (!is_api && (req->head.method == HTTP_GET || req->head.method == HTTP_HEAD)) {
            /* Decoded, a path is never longer than the request line that carried it. */
            struct buf b;
            buf_init(&b, req->head.path.len + 1);
            int drc = http_url_decode(req->head.path.ptr, req->head.path.len, false, &b);
            int rc = drc < 0 ? api_fail(c, SB_E_INVAL, "bad path")
                             : api_static(c, b.data ? b.data : "/");
            buf_release(&b);
            api_finish(c, rc);
            return;
        }
        api_finish(c, api_fail(c, SB_E_NOTFOUND, "no such endpoint"));
        return;
    }
    buf_release(&allow);
    c->route = r;
    int rc = 0;
    if ((r->flags & API_AUTH) && (rc = authenticate(c)) < 0) {
        api_finish(c, rc);
        return;
    }
    if ((r->flags & API_AUTH) && c->who.role == ROLE_AGENT && r->method != HTTP_GET) {
        /* An agent's own write is activity (idle -> away, svc presence). */
        svc_presence_active(svc_presence_of(c->api->svc), c->who.user_id, clock_now_ms());
    }
    if ((r->flags & API_BODY) && (rc = check_body(c)) < 0) {
        api_finish(c, rc);
        return;
    }
    if ((r->flags & API_CACHED) && cache_answer(c)) {
        return;
    }
    if (r->flags & API_INLINE) {
        api_finish(c, r->fn(c));
        return;
    }
    if ((r->flags & API_LANE) && api_lane_submit(c)) {
        return;
    }
    c->work.data = c;
    if (uv_queue_work(net_request_loop(req), &c->work, call_work, call_after) < 0) {
        if (c->flight) {
            /* Nothing joined it yet: joining happens on this thread, after this callback. */
            (void)api_cache_flight_end(c->api->cache, c->flight);
            c->flight = NULL;
        }
        api_finish(c, api_fail(c, SB_E_UNAVAILABLE, "server busy"));
    }
}

/* ---- /metrics ---- */

void api_metrics_render(struct api *a, struct buf *out)
{
    (void)buf_printf(out,
                     "# HELP switchboard_build_info Build information.\n"
                     "# TYPE switchboard_build_info gauge\n"
                     "switchboard_build_info{version=\"%s\"} 1\n",
                     a->version);
    (void)buf_puts(out, "# HELP switchboard_http_requests_total HTTP requests by route and "
                        "status.\n# TYPE switchboard_http_requests_total counter\n");
    struct api_route *all[256];
    size_t n = 0;
    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0]; t++) {
        for (struct api_route *r = route_tables[t]; r->pattern && n < 255; r++) {
            all[n++] = r;
        }
    }
    all[n++] = &route_unmatched;
    static const char *const mnames[] = {"OTHER", "GET",   "HEAD",   "POST",
                                         "PUT",   "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < n; i++) {
        for (int s = 0; s < API_STATUS_SLOTS; s++) {
            uint64_t v = atomic_load(&all[i]->by_status[s]);
            if (v) {
                char st[8];
                if (status_slots[s]) {
                    snprintf(st, sizeof st, "%d", status_slots[s]);
                } else {
                    snprintf(st, sizeof st, "other");
                }
                (void)buf_printf(out,
                                 "switchboard_http_requests_total{method=\"%s\",route=\"%s\","
                                 "status=\"%s\"} %llu\n",
                                 mnames[all[i]->method], all[i]->pattern, st,
                                 (unsigned long long)v);
            }
        }
    }
    (void)buf_puts(out, "# HELP switchboard_http_request_duration_seconds Request latency.\n"
                        "# TYPE switchboard_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        uint64_t count = 0;
        for (int b = 0; b <= API_LATENCY_BUCKETS; b++) {
            count += atomic_load(&all[i]->latency[b]);
        }
        if (!count) {
            continue;
        }
        uint64_t cum = 0;
        for (int b = 0; b < API_LATENCY_BUCKETS; b++) {
            cum += atomic_load(&all[i]->latency[b]);
            (void)buf_printf(out,
                             "switchboard_http_request_duration_seconds_bucket{route=\"%s\","
                             "le=\"%g\"} %llu\n",
                             all[i]->pattern, latency_bounds_s[b], (unsigned long long)cum);
        }
        (void)buf_printf(out,
                         "switchboard_http_request_duration_seconds_bucket{route=\"%s\","
                         "le=\"+Inf\"} %llu\n"
                         "switchboard_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                         "switchboard_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                         all[i]->pattern, (unsigned long long)count, all[i]->pattern,
                         (double)atomic_load(&all[i]->latency_sum_us) / 1e6, all[i]->pattern,
                         (unsigned long long)count);
    }
    struct net_stats ns;
    net_stats_get(&ns);
    (void)buf_printf(out,
                     "# HELP switchboard_connections_open Open TCP connections.\n"
                     "# TYPE switchboard_connections_open gauge\n"
                     "switchboard_connections_open %llu\n"
                     "# HELP switchboard_connections_accepted_total Accepted connections.\n"
                     "# TYPE switchboard_connections_accepted_total counter\n"
                     "switchboard_connections_accepted_total %llu\n"
                     "# HELP switchboard_websockets_open Open WebSocket connections.\n"
                     "# TYPE switchboard_websockets_open gauge\n"
                     "switchboard_websockets_open %llu\n"
                     "# HELP switchboard_outbound_queued_bytes Bytes queued for sending.\n"
                     "# TYPE switchboard_outbound_queued_bytes gauge\n"
                     "switchboard_outbound_queued_bytes %llu\n"
                     "# HELP switchboard_ws_frames_sent_total WebSocket frames queued.\n"
                     "# TYPE switchboard_ws_frames_sent_total counter\n"
                     "switchboard_ws_frames_sent_total %llu\n"
                     "# HELP switchboard_ws_passes_total Passes writing gathered WebSocket "
                     "frames.\n"
                     "# TYPE switchboard_ws_passes_total counter\n"
                     "switchboard_ws_passes_total %llu\n"
                     "# HELP switchboard_slow_consumer_disconnects_total Connections closed "
                     "with 4008.\n"
                     "# TYPE switchboard_slow_consumer_disconnects_total counter\n"
                     "switchboard_slow_consumer_disconnects_total %llu\n",
                     (unsigned long long)ns.connections_open, (unsigned long long)ns.accepted_total,
                     (unsigned long long)ns.ws_open, (unsigned long long)ns.ws_queued_bytes,
                     (unsigned long long)ns.ws_frames_sent, (unsigned long long)ns.ws_passes,
                     (unsigned long long)ns.ws_slow_closes);
    struct api_cache_stats cs;
    api_cache_stats(a->cache, &cs);
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } cache_metrics[] = {
        {"hits_total", "counter", "Reads answered from the read cache.", cs.hits},
        {"misses_total", "counter", "Cacheable reads not in the read cache.", cs.misses},
        {"stores_total", "counter", "Answers put in the read cache.", cs.stores},
        {"shared_total", "counter",
         "Reads answered by another request's read of the same page in flight.", cs.shared},
        {"entries", "gauge", "Answers in the read cache.", cs.entries},
        {"bytes", "gauge", "Bytes held by the read cache.", cs.bytes},
    };
    for (size_t i = 0; i < sizeof cache_metrics / sizeof cache_metrics[0]; i++) {
        (void)buf_printf(out,
                         "# HELP switchboard_http_read_cache_%s %s\n"
                         "# TYPE switchboard_http_read_cache_%s %s\n"
                         "switchboard_http_read_cache_%s %llu\n",
                         cache_metrics[i].name, cache_metrics[i].help, cache_metrics[i].name,
                         cache_metrics[i].type, cache_metrics[i].name,
                         (unsigned long long)cache_metrics[i].value);
    }
    if (a->rt) {
        rt_metrics_render(a->rt, out);
    }
}
