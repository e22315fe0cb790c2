/*
 * The client: one realtime WebSocket connection driven by a small state machine, and the
 * channels on it.
 *
 * Phases of the connection: IDLE (not trying), WAIT (a timer before the next attempt),
 * TCP (non-blocking connect in progress, trying each resolved address in turn), TLS
 * (handshake), UPGRADE (HTTP upgrade request sent, reading the 101 answer), OPEN (Phoenix
 * frames flow). Any failure in TCP..OPEN goes through conn_lost(), which closes the socket,
 * marks every channel for rejoin and, unless the application disconnected or the failure is
 * fatal (credentials refused), schedules the next attempt after a backoff delay.
 *
 * Channels are a singly linked list owned by the client. Each has a state (IDLE = needs a
 * join once connected and its rejoin time has come, JOINING, JOINED, CLOSED = closed by
 * the server and not rejoined) and its current join ref. Subscriptions are channels with one
 * postgres_changes binding and remember last_seq, the change-log position of the last event
 * delivered: a rejoin asks the server to resume after it and drops any event at or below it,
 * which is what makes delivery exactly-once and in order across reconnects. A channel left
 * by the application is only marked dead and freed by sweep() when no callback is running,
 * so leaving from inside a callback is safe.
 *
 * Outbound bytes go to one capped buffer, flushed as the socket allows. Inbound bytes go
 * through the shared I/O-free WebSocket reader (net/ws/ws_codec.c, client mode) and each text
 * message is parsed with jansson as a vsn 1.0.0 Phoenix object {topic,event,payload,ref}.
 *
 * Locking: one recursive mutex per client guards everything; the loop releases it only
 * while waiting in poll(). Callbacks run with it held (see switchboard.h).
 */
#include "sbc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "net/ws/ws_codec.h"

#define SBC_MAX_OUT (8u * 1024 * 1024)
#define SBC_MAX_MESSAGE (16u * 1024 * 1024)

enum phase { PH_IDLE, PH_WAIT, PH_TCP, PH_TLS, PH_UPGRADE, PH_OPEN };
enum ch_state { CH_IDLE, CH_JOINING, CH_JOINED, CH_CLOSED };

struct sb_channel {
    struct sb_client *client;
    struct sb_channel *next;
    char *topic;
    enum ch_state state;
    bool dead;
    bool is_sub;
    bool was_joined;     /* joined at least once: a rejoin without a seq means a gap */
    bool resume_pending; /* the join asked for a resume; "resumed" not yet seen */
    char join_ref[24];
    int64_t rejoin_at_ms;
    int errors;
    /* subscription */
    char *table, *event, *filter;
    long long last_seq;
    sb_change_cb on_change;
    sb_resync_cb on_resync;
    /* broadcast / presence */
    bool bself, back;
    char *presence_key;
    char *track_meta;
    sb_broadcast_cb on_broadcast;
    sb_presence_cb on_presence;
    sb_channel_status_cb on_status;
    void *user;
};

struct sb_client {
    pthread_mutex_t mu;
    struct sbc_url url;
    char *url_text;
    SSL_CTX *tls_ctx;
    char *token, *refresh_token, *email, *password;
    int64_t refresh_at_ms; /* monotonic time to renew the token; 0 = never */
    int reconnect_min_ms, reconnect_max_ms, heartbeat_ms, connect_timeout_ms, request_timeout_ms;
    enum sb_jitter jitter;
    bool tls_verify;
    char *ca_file;
    sb_state_cb on_state;
    void *user;

    enum sb_state state;
    enum phase phase;
    bool want_connected;
    int failures; /* consecutive failed attempts since the last open */
    struct addrinfo *ai_list, *ai_cur;
    struct sbc_conn conn;
    struct sbc_str out;
    struct sbc_str in_http;
    char ws_key[32];
    struct ws_reader reader;
    bool reader_live;
    int64_t deadline_ms; /* WAIT: next attempt; TCP..UPGRADE: connect timeout */
    int64_t next_heartbeat_ms;
    char hb_ref[24];
    bool hb_pending;
    unsigned long long ref_counter;
    struct sb_channel *channels;
    int callback_depth;
    int wake[2];
    pthread_t thread;
    bool thread_running;
    bool stop_flag;
    char last_error[256];
};

static void lock(const struct sb_client *c)
{
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
}

static void unlock(const struct sb_client *c)
{
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void set_error(struct sb_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct sb_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
    va_end(ap);
}

static void wake(struct sb_client *c)
{
    if (c->wake[1] >= 0) {
        ssize_t r = write(c->wake[1], "w", 1);
        (void)r; /* a full pipe already guarantees a wake-up */
    }
}

static void emit_state(struct sb_client *c, enum sb_state st, int attempt, int delay_ms, int err,
                       const char *reason)
{
    c->state = st;
    if (!c->on_state) {
        return;
    }
    struct sb_state_info info = {st, attempt, delay_ms, err, reason ? reason : ""};
    c->callback_depth++;
    c->on_state(c, &info, c->user);
    c->callback_depth--;
}

static void channel_status(struct sb_channel *ch, enum sb_channel_status st, const char *msg)
{
    if (ch->dead || !ch->on_status) {
        return;
    }
    ch->client->callback_depth++;
    ch->on_status(ch, st, msg ? msg : "", ch->user);
    ch->client->callback_depth--;
}

/* ---- backoff ---- */

/* Uniform random integer in [lo, hi]. */
static int uniform(int lo, int hi)
{
    if (hi <= lo) {
        return lo;
    }
    uint64_t r;
    sbc_random(&r, sizeof(r));
    return lo + (int)(r % (uint64_t)(hi - lo + 1));
}

static int backoff_delay(const struct sb_client *c, int attempt)
{
    int64_t ceiling = c->reconnect_min_ms;
    for (int i = 1; i < attempt && ceiling < c->reconnect_max_ms; i++) {
        ceiling *= 2;
    }
    if (ceiling > c->reconnect_max_ms) {
        ceiling = c->reconnect_max_ms;
    }
    switch (c->jitter) {
    case SB_JITTER_NONE:
        return (int)ceiling;
    case SB_JITTER_EQUAL: {
        int lo = (int)(ceiling / 2);
        return uniform(lo < c->reconnect_min_ms ? c->reconnect_min_ms : lo, (int)ceiling);
    }
    case SB_JITTER_FULL:
    default:
        return uniform(c->reconnect_min_ms, (int)ceiling);
    }
}

/* ---- tokens ---- */

/* Seconds-since-epoch exp claim of a JWT, or 0. */
static long long jwt_exp(const char *token)
{
    const char *p = token ? strchr(token, '.') : NULL;
    const char *q = p ? strchr(p + 1, '.') : NULL;
    if (!q || q - p - 1 > 4096) {
        return 0;
    }
    char b64[4100];
    size_t n = 0;
    for (const char *s = p + 1; s < q; s++) {
        b64[n++] = *s == '-' ? '+' : *s == '_' ? '/' : *s;
    }
    while (n % 4) {
        b64[n++] = '=';
    }
    unsigned char raw[3100];
    int len = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)n);
    if (len <= 0) {
        return 0;
    }
    while (len > 0 && raw[len - 1] == '\0') {
        len--; /* EVP_DecodeBlock counts the padding as zero bytes */
    }
    json_t *j = json_loadb((const char *)raw, (size_t)len, 0, NULL);
    long long exp = (long long)json_integer_value(json_object_get(j, "exp"));
    json_decref(j);
    return exp;
}

static bool can_renew(const struct sb_client *c)
{
    return c->refresh_token || (c->email && c->password);
}

/* Plan the automatic renewal a minute before the token expires (at least 5 s from now). */
static void plan_refresh(struct sb_client *c)
{
    c->refresh_at_ms = 0;
    long long exp = jwt_exp(c->token);
    if (!exp || !can_renew(c)) {
        return;
    }
    long long left_s = exp - (long long)time(NULL) - 60;
    if (left_s < 5) {
        left_s = 5;
    }
    c->refresh_at_ms = sbc_now_ms() + left_s * 1000;
}

static void store_tokens(struct sb_client *c, const char *access, const char *refresh)
{
    if (access) {
        free(c->token);
        c->token = strdup(access);
    }
    if (refresh) {
        free(c->refresh_token);
        c->refresh_token = strdup(refresh);
    }
    plan_refresh(c);
}

static int send_text(struct sb_client *c, const char *text, size_t len);
static int send_push(struct sb_client *c, const char *topic, const char *event, json_t *payload,
                     const char *join_ref, char *ref_out);

static void push_token_to_channels(struct sb_client *c)
{
    if (c->phase != PH_OPEN || !c->token) {
        return;
    }
    for (struct sb_channel *ch = c->channels; ch; ch = ch->next) {
        if (!ch->dead && ch->state == CH_JOINED) {
            json_t *p = json_pack("{s:s}", "access_token", c->token);
            send_push(c, ch->topic, "access_token", p, ch->join_ref, NULL);
            json_decref(p);
        }
    }
}

/* POST a credentials request and store the tokens from the answer. Called without the lock
 * for the HTTP part. */
static int auth_request(struct sb_client *c, const char *path, const char *body)
{
    struct sb_response resp;
    char err[256] = "";
    int rc = sbc_http_exchange(&c->url, c->tls_ctx, "POST", path, NULL, body, 0,
                               c->request_timeout_ms, &resp, err, sizeof(err));
    lock(c);
    if (rc < 0) {
        set_error(c, "%s", err);
        unlock(c);
        return rc;
    }
    if (resp.status != 200) {
        rc = resp.status == 401 || resp.status == 400 || resp.status == 422 ? SB_ERR_AUTH
                                                                            : SB_ERR_HTTP;
        set_error(c, "%s refused: HTTP %d%s%s", path, resp.status,
                  resp.error_message[0] ? ": " : "", resp.error_message);
        unlock(c);
        sb_response_release(&resp);
        return rc;
    }
    json_t *j = json_loadb(resp.body, resp.body_len, 0, NULL);
    const char *access = json_string_value(json_object_get(j, "access_token"));
    const char *refresh = json_string_value(json_object_get(j, "refresh_token"));
    if (!access) {
        set_error(c, "%s: no access_token in the answer", path);
        rc = SB_ERR_PROTO;
    } else {
        store_tokens(c, access, refresh);
        push_token_to_channels(c);
    }
    unlock(c);
    json_decref(j);
    sb_response_release(&resp);
    return rc;
}

SB_API int sb_login(struct sb_client *c, const char *email, const char *password)
{
    if (!c || !email || !password) {
        return SB_ERR_INVAL;
    }
    json_t *b = json_pack("{s:s,s:s}", "email", email, "password", password);
    char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body) {
        return SB_ERR_NOMEM;
    }
    int rc = auth_request(c, "/api/v1/auth/login", body);
    free(body);
    return rc;
}

SB_API int sb_refresh(struct sb_client *c)
{
    if (!c) {
        return SB_ERR_INVAL;
    }
    lock(c);
    char *rt = dup_or_null(c->refresh_token);
    char *email = dup_or_null(c->email), *pw = dup_or_null(c->password);
    unlock(c);
    int rc = SB_ERR_AUTH;
    if (rt) {
        json_t *b = json_pack("{s:s}", "refresh_token", rt);
        char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
        json_decref(b);
        rc = body ? auth_request(c, "/api/v1/auth/refresh", body) : SB_ERR_NOMEM;
        free(body);
    }
    if (rc == SB_ERR_AUTH && email && pw) {
        rc = sb_login(c, email, pw);
    } else if (!rt && !(email && pw)) {
        lock(c);
        set_error(c, "no refresh token or password to renew the access token");
        unlock(c);
    }
    if (rt) {
        OPENSSL_cleanse(rt, strlen(rt));
    }
    if (pw) {
        OPENSSL_cleanse(pw, strlen(pw));
    }
    free(rt);
    free(email);
    free(pw);
    return rc;
}

SB_API int sb_client_set_token(struct sb_client *c, const char *token)
{
    if (!c || !token) {
        return SB_ERR_INVAL;
    }
    lock(c);
    store_tokens(c, token, NULL);
    push_token_to_channels(c);
    unlock(c);
    wake(c);
    return 0;
}

static int copy_out(const char *s, char *buf, size_t len)
{
    size_t n = s ? strlen(s) : 0;
    if (n + 1 > len) {
        return SB_ERR_TOOBIG;
    }
    memcpy(buf, s ? s : "", n + 1);
    return (int)n;
}

SB_API int sb_client_token(struct sb_client *c, char *buf, size_t len)
{
    lock(c);
    int rc = copy_out(c->token, buf, len);
    unlock(c);
    return rc;
}

SB_API int sb_client_refresh_token(struct sb_client *c, char *buf, size_t len)
{
    lock(c);
    int rc = copy_out(c->refresh_token, buf, len);
    unlock(c);
    return rc;
}

/* ---- REST ---- */

SB_API int sb_request_ex(struct sb_client *c, const char *method, const char *path,
                         const char *body, long long if_match, struct sb_response *out)
{
    if (!c || !method || !path || !out || path[0] != '/') {
        return SB_ERR_INVAL;
    }
    memset(out, 0, sizeof(*out));
    for (int tries = 0;; tries++) {
        lock(c);
        char *token = dup_or_null(c->token);
        bool renew = can_renew(c);
        unlock(c);
        char err[256] = "";
        int rc = sbc_http_exchange(&c->url, c->tls_ctx, method, path, token, body, if_match,
                                   c->request_timeout_ms, out, err, sizeof(err));
        free(token);
        if (rc < 0) {
            lock(c);
            set_error(c, "%s", err);
            unlock(c);
            return rc;
        }
        if (out->status != 401 || tries > 0 || !renew) {
            return 0;
        }
        if (sb_refresh(c) < 0) {
            return 0; /* report the original 401 */
        }
        sb_response_release(out);
    }
}

SB_API int sb_download(struct sb_client *c, const char *path, const char *accept,
                       int (*sink)(const char *data, size_t len, void *user), void *user,
                       struct sb_response *out)
{
    if (!c || !path || !sink || !out || path[0] != '/') {
        return SB_ERR_INVAL;
    }
    memset(out, 0, sizeof(*out));
    for (int tries = 0;; tries++) {
        lock(c);
        char *token = dup_or_null(c->token);
        bool renew = can_renew(c);
        unlock(c);
        char err[256] = "";
        int rc =
            sbc_http_download(&c->url, c->tls_ctx, path, token, accept && *accept ? accept : "*/*",
                              c->request_timeout_ms, sink, user, out, err, sizeof(err));
        free(token);
        if (rc < 0) {
            lock(c);
            set_error(c, "%s", err);
            unlock(c);
            return rc;
        }
        if (out->status != 401 || tries > 0 || !renew) {
            return 0;
        }
        if (sb_refresh(c) < 0) {
            return 0; /* report the original 401 */
        }
        sb_response_release(out);
    }
}

SB_API int sb_request(struct sb_client *c, const char *method, const char *path, const char *body,
                      struct sb_response *out)
{
    return sb_request_ex(c, method, path, body, 0, out);
}

SB_API void sb_response_release(struct sb_response *resp)
{
    if (resp) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
    }
}

/* ---- client lifecycle ---- */

SB_API int sb_client_new(const struct sb_options *o, struct sb_client **out)
{
    if (!o || !out || !o->url) {
        return SB_ERR_INVAL;
    }
    *out = NULL;
    struct sb_client *c = calloc(1, sizeof(*c));
    if (!c) {
        return SB_ERR_NOMEM;
    }
    c->wake[0] = c->wake[1] = -1;
    int rc = sbc_url_parse(o->url, &c->url);
    if (rc < 0) {
        free(c);
        return rc;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&c->mu, &attr);
    pthread_mutexattr_destroy(&attr);
    c->url_text = strdup(o->url);
    c->token = dup_or_null(o->token);
    c->refresh_token = dup_or_null(o->refresh_token);
    c->email = dup_or_null(o->email);
    c->password = dup_or_null(o->password);
    c->ca_file = dup_or_null(o->ca_file);
    c->reconnect_min_ms = o->reconnect_min_ms > 0 ? o->reconnect_min_ms : 500;
    c->reconnect_max_ms = o->reconnect_max_ms > 0 ? o->reconnect_max_ms : 30000;
    if (c->reconnect_max_ms < c->reconnect_min_ms) {
        c->reconnect_max_ms = c->reconnect_min_ms;
    }
    c->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : 25000;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    c->request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms : 30000;
    c->jitter = o->jitter;
    c->tls_verify = !o->tls_no_verify;
    c->on_state = o->on_state;
    c->user = o->user;
    sbc_conn_init(&c->conn);
    sbc_str_init(&c->out, SBC_MAX_OUT);
    sbc_str_init(&c->in_http, 64 * 1024);
    if (!c->url_text || (o->token && !c->token) || (o->refresh_token && !c->refresh_token) ||
        (o->email && !c->email) || (o->password && !c->password) || (o->ca_file && !c->ca_file) ||
        pipe2(c->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        sb_client_free(c);
        return SB_ERR_NOMEM;
    }
    if (c->url.tls) {
        char err[256];
        c->tls_ctx = sbc_tls_ctx_new(c->tls_verify, c->ca_file, err, sizeof(err));
        if (!c->tls_ctx) {
            sb_client_free(c);
            return SB_ERR_TLS;
        }
    }
    plan_refresh(c);
    *out = c;
    return 0;
}

static void channel_free(struct sb_channel *ch)
{
    free(ch->topic);
    free(ch->table);
    free(ch->event);
    free(ch->filter);
    free(ch->presence_key);
    free(ch->track_meta);
    free(ch);
}

static void close_transport(struct sb_client *c)
{
    if (c->conn.fd >= 0) {
        sbc_conn_close(&c->conn);
    }
    if (c->reader_live) {
        ws_reader_release(&c->reader);
        c->reader_live = false;
    }
    if (c->ai_list) {
        freeaddrinfo(c->ai_list);
        c->ai_list = c->ai_cur = NULL;
    }
    sbc_str_release(&c->out);
    sbc_str_release(&c->in_http);
    c->hb_pending = false;
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

SB_API void sb_client_free(struct sb_client *c)
{
    if (!c) {
        return;
    }
    sb_client_stop(c);
    close_transport(c);
    for (struct sb_channel *ch = c->channels, *next; ch; ch = next) {
        next = ch->next;
        channel_free(ch);
    }
    if (c->tls_ctx) {
        SSL_CTX_free(c->tls_ctx);
    }
    for (int i = 0; i < 2; i++) {
        if (c->wake[i] >= 0) {
            close(c->wake[i]);
        }
    }
    wipe_free(c->token);
    wipe_free(c->refresh_token);
    wipe_free(c->password);
    free(c->email);
    free(c->url_text);
    free(c->ca_file);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

SB_API enum sb_state sb_client_state(const struct sb_client *c)
{
    lock(c);
    enum sb_state s = c->state;
    unlock(c);
    return s;
}

SB_API void sb_client_last_error(struct sb_client *c, char *buf, size_t len)
{
    if (!len) {
        return;
    }
    lock(c);
    snprintf(buf, len, "%s", c->last_error);
    unlock(c);
}

/* ---- sending ---- */

/* Try to write pending output; 0 or a negative error (the caller then drops the link). */
static int flush_out(struct sb_client *c)
{
    while (c->out.len > 0) {
        size_t n = 0;
        int r = sbc_conn_write(&c->conn, c->out.data, c->out.len, &n);
        if (r == SBC_IO_OK) {
            sbc_str_consume(&c->out, n);
            continue;
        }
        if (r == SBC_IO_WANT_READ || r == SBC_IO_WANT_WRITE) {
            return 0;
        }
        return r < 0 ? r : SB_ERR_IO;
    }
    return 0;
}

static int send_frame(struct sb_client *c, enum ws_opcode op, const void *data, size_t len)
{
    uint8_t hdr[14], mask[4];
    sbc_random(mask, sizeof(mask));
    size_t hl = ws_frame_header(hdr, true, op, len, mask);
    size_t start = c->out.len;
    int rc = sbc_str_append(&c->out, hdr, hl);
    if (rc == 0) {
        rc = sbc_str_append(&c->out, data, len);
    }
    if (rc < 0) {
        c->out.len = start; /* drop the partial frame */
        return rc;
    }
    ws_mask((uint8_t *)c->out.data + start + hl, len, mask, 0);
    return 0;
}

static int send_text(struct sb_client *c, const char *text, size_t len)
{
    if (c->phase != PH_OPEN) {
        return SB_ERR_CLOSED;
    }
    int rc = send_frame(c, WS_OP_TEXT, text, len);
    if (rc == 0) {
        wake(c); /* the loop must now poll for POLLOUT if the write below is partial */
        if (flush_out(c) < 0) {
            /* the loop sees the broken socket on its next read or write */
        }
    }
    return rc;
}

/* Send a Phoenix push; payload is borrowed. ref_out (24 bytes) receives the ref if set. */
static int send_push(struct sb_client *c, const char *topic, const char *event, json_t *payload,
                     const char *join_ref, char *ref_out)
{
    char ref[24];
    snprintf(ref, sizeof(ref), "%llu", ++c->ref_counter);
    json_t *msg = json_pack("{s:s,s:s,s:O,s:s}", "topic", topic, "event", event, "payload",
                            payload ? payload : json_object(), "ref", ref);
    if (!msg) {
        return SB_ERR_NOMEM;
    }
    if (join_ref && json_object_set_new(msg, "join_ref", json_string(join_ref)) < 0) {
        json_decref(msg);
        return SB_ERR_NOMEM;
    }
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text) {
        return SB_ERR_NOMEM;
    }
    int rc = send_text(c, text, strlen(text));
    free(text);
    if (rc == 0 && ref_out) {
        memcpy(ref_out, ref, sizeof(ref));
    }
    return rc;
}

/* ---- channels: join ---- */

static int send_join(struct sb_client *c, struct sb_channel *ch)
{
    json_t *pg = json_array();
    if (ch->is_sub) {
        json_t *b =
            json_pack("{s:s,s:s,s:s}", "event", ch->event, "schema", "public", "table", ch->table);
        if (b && ch->filter) {
            json_object_set_new(b, "filter", json_string(ch->filter));
        }
        json_array_append_new(pg, b);
    }
    json_t *cfg = json_pack(
        "{s:{s:b,s:b},s:{s:s,s:b},s:o,s:b}", "broadcast", "ack", ch->back, "self", ch->bself,
        "presence", "key", ch->presence_key ? ch->presence_key : "", "enabled",
        ch->presence_key != NULL || ch->on_presence != NULL, "postgres_changes", pg, "private", 0);
    ch->resume_pending = false;
    if (cfg && ch->is_sub && ch->last_seq > 0) {
        json_object_set_new(cfg, "resume", json_pack("{s:I}", "since", (json_int_t)ch->last_seq));
        ch->resume_pending = true;
    }
    json_t *payload = cfg ? json_pack("{s:o}", "config", cfg) : NULL;
    if (payload && c->token) {
        json_object_set_new(payload, "access_token", json_string(c->token));
    }
    if (!payload) {
        return SB_ERR_NOMEM;
    }
    char ref[24];
    snprintf(ref, sizeof(ref), "%llu", c->ref_counter + 1);
    int rc = send_push(c, ch->topic, "phx_join", payload, ref, ch->join_ref);
    json_decref(payload);
    if (rc == 0) {
        ch->state = CH_JOINING;
    }
    return rc;
}

/* Join every channel that needs it and whose rejoin time has come. */
static void join_pending(struct sb_client *c, int64_t now)
{
    if (c->phase != PH_OPEN) {
        return;
    }
    for (struct sb_channel *ch = c->channels; ch; ch = ch->next) {
        if (!ch->dead && ch->state == CH_IDLE && ch->rejoin_at_ms <= now) {
            if (send_join(c, ch) < 0) {
                ch->rejoin_at_ms = now + 1000;
            }
        }
    }
}

/* ---- connection state machine ---- */

static void conn_lost(struct sb_client *c, int err, const char *reason, bool fatal)
{
    close_transport(c);
    for (struct sb_channel *ch = c->channels; ch; ch = ch->next) {
        if (ch->state == CH_JOINING || ch->state == CH_JOINED) {
            ch->state = CH_IDLE;
        }
        ch->rejoin_at_ms = 0;
    }
    set_error(c, "%s", reason);
    if (fatal || !c->want_connected) {
        c->want_connected = false;
        c->phase = PH_IDLE;
        emit_state(c, SB_STATE_DISCONNECTED, c->failures, 0, err, reason);
        return;
    }
    c->failures++;
    int delay = backoff_delay(c, c->failures);
    c->phase = PH_WAIT;
    c->deadline_ms = sbc_now_ms() + delay;
    emit_state(c, SB_STATE_RECONNECTING, c->failures, delay, err, reason);
}

static int start_upgrade(struct sb_client *c)
{
    uint8_t key[16];
    sbc_random(key, sizeof(key));
    EVP_EncodeBlock((unsigned char *)c->ws_key, key, sizeof(key));
    bool v6 = strchr(c->url.host, ':') != NULL;
    int rc = sbc_str_printf(&c->out,
                            "GET %s/realtime/v1/websocket?apikey=%s&vsn=1.0.0 HTTP/1.1\r\n"
                            "Host: %s%s%s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                            "User-Agent: libswitchboard/" SB_VERSION_STRING "\r\n\r\n",
                            c->url.prefix, c->token ? c->token : "", v6 ? "[" : "", c->url.host,
                            v6 ? "]" : "", c->url.port, c->ws_key);
    if (rc < 0) {
        return rc;
    }
    c->phase = PH_UPGRADE;
    return flush_out(c);
}

static void tcp_connected(struct sb_client *c)
{
    if (c->url.tls) {
        if (sbc_conn_tls(&c->conn, c->tls_ctx, c->url.host) < 0) {
            conn_lost(c, SB_ERR_TLS, "TLS setup failed", false);
            return;
        }
        c->phase = PH_TLS;
        return;
    }
    int rc = start_upgrade(c);
    if (rc < 0) {
        conn_lost(c, rc, "sending the upgrade request failed", false);
    }
}

/* Try the next resolved address; on none left, report the failure. */
static void connect_next(struct sb_client *c)
{
    char last[256];
    snprintf(last, sizeof(last), "%s", c->conn.err[0] ? c->conn.err : "connection failed");
    while (c->ai_cur) {
        const struct addrinfo *ai = c->ai_cur;
        c->ai_cur = ai->ai_next;
        sbc_conn_init(&c->conn);
        int rc = sbc_conn_start(&c->conn, ai);
        if (rc == 1) {
            c->phase = PH_TCP;
            return;
        }
        if (rc == 0) {
            tcp_connected(c);
            return;
        }
        snprintf(last, sizeof(last), "%s", c->conn.err);
    }
    char reason[700];
    snprintf(reason, sizeof(reason), "cannot connect to %s:%s: %s", c->url.host, c->url.port, last);
    conn_lost(c, SB_ERR_CONNECT, reason, false);
}

static void start_attempt(struct sb_client *c)
{
    emit_state(c, SB_STATE_CONNECTING, c->failures, 0, 0, "");
    if (c->phase != PH_WAIT || !c->want_connected) {
        return; /* the callback disconnected */
    }
    if (!c->token && c->email && c->password) {
        char *email = strdup(c->email), *pw = strdup(c->password);
        int rc = email && pw ? sb_login(c, email, pw) : SB_ERR_NOMEM;
        wipe_free(pw);
        free(email);
        if (rc < 0) {
            char reason[300];
            snprintf(reason, sizeof(reason), "login failed: %s", c->last_error);
            conn_lost(c, rc, reason, rc == SB_ERR_AUTH);
            return;
        }
    }
    char err[256];
    int rc = sbc_resolve(&c->url, &c->ai_list, err, sizeof(err));
    if (rc < 0) {
        conn_lost(c, rc, err, false);
        return;
    }
    c->ai_cur = c->ai_list;
    c->deadline_ms = sbc_now_ms() + c->connect_timeout_ms;
    connect_next(c);
}

static void opened(struct sb_client *c)
{
    c->phase = PH_OPEN;
    c->failures = 0;
    c->last_error[0] = '\0';
    c->hb_pending = false;
    c->next_heartbeat_ms = sbc_now_ms() + c->heartbeat_ms;
    sbc_str_release(&c->in_http);
    emit_state(c, SB_STATE_CONNECTED, 0, 0, 0, "");
    join_pending(c, sbc_now_ms());
}

static void handle_text(struct sb_client *c, const char *text, size_t len);

/* Feed inbound WebSocket bytes; false when the connection was dropped. */
static bool feed_ws(struct sb_client *c, uint8_t *data, size_t len)
{
    while (len > 0 && c->phase == PH_OPEN) {
        size_t used = 0;
        struct ws_event ev;
        uint16_t code = 0;
        int r = ws_reader_feed(&c->reader, data, len, &used, &ev, &code);
        data += used;
        len -= used;
        if (r < 0) {
            uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
            send_frame(c, WS_OP_CLOSE, payload, 2);
            flush_out(c);
            char reason[80];
            snprintf(reason, sizeof(reason), "WebSocket protocol error from the server (%u)", code);
            conn_lost(c, SB_ERR_PROTO, reason, false);
            return false;
        }
        if (r == 0) {
            break;
        }
        switch (ev.type) {
        case WS_EV_TEXT:
            handle_text(c, (const char *)ev.data, ev.len);
            break;
        case WS_EV_PING:
            send_frame(c, WS_OP_PONG, ev.data, ev.len);
            break;
        case WS_EV_CLOSE: {
            uint8_t payload[2] = {(uint8_t)(ev.close_code >> 8), (uint8_t)ev.close_code};
            if (ev.close_code != WS_CLOSE_NO_STATUS) {
                send_frame(c, WS_OP_CLOSE, payload, 2);
                flush_out(c);
            }
            /* ev.data is the reason alone (the codec has taken the 2-byte code off); a close
             * reason is at most 123 bytes. */
            char reason[200];
            size_t rl = ev.len > 123 ? 123 : ev.len;
            snprintf(reason, sizeof(reason), "server closed the connection (code %u%s%.*s)",
                     ev.close_code, rl ? ": " : "", (int)rl, rl ? (const char *)ev.data : "");
            bool fatal = ev.close_code == WS_CLOSE_AUTH && !can_renew(c);
            if (ev.close_code == WS_CLOSE_AUTH && can_renew(c)) {
                sb_refresh(c);
            }
            conn_lost(c, fatal ? SB_ERR_AUTH : SB_ERR_CLOSED, reason, fatal);
            return false;
        }
        default:
            break;
        }
    }
    return c->phase == PH_OPEN;
}

static void upgrade_answer(struct sb_client *c)
{
    struct sbc_http_head h;
    int r = sbc_http_parse_head(c->in_http.data, c->in_http.len, &h);
    if (r == 0) {
        return;
    }
    if (r < 0) {
        conn_lost(c, SB_ERR_PROTO, "malformed HTTP answer to the WebSocket upgrade", false);
        return;
    }
    if (h.status == 401 || h.status == 403) {
        if (can_renew(c) && sb_refresh(c) == 0) {
            conn_lost(c, SB_ERR_AUTH, "token refused; renewed it", false);
            return;
        }
        char reason[300];
        snprintf(reason, sizeof(reason), "the server refused the access token (HTTP %d)%s",
                 h.status, c->token ? "" : ": no token; log in first");
        conn_lost(c, SB_ERR_AUTH, reason, true);
        return;
    }
    char expect[29];
    ws_accept_key(c->ws_key, strlen(c->ws_key), expect);
    if (h.status != 101 || !h.upgrade_websocket || h.accept_len != 28 ||
        memcmp(h.accept, expect, 28) != 0) {
        char reason[120];
        snprintf(reason, sizeof(reason), "WebSocket upgrade failed: HTTP %d%s", h.status,
                 h.status == 101 ? " with a bad Sec-WebSocket-Accept" : "");
        conn_lost(c, h.status == 101 ? SB_ERR_PROTO : SB_ERR_HTTP, reason, false);
        return;
    }
    ws_reader_init(&c->reader, false, SBC_MAX_MESSAGE);
    c->reader_live = true;
    size_t rest_len = c->in_http.len - h.head_len;
    uint8_t *rest = NULL;
    if (rest_len > 0) {
        rest = malloc(rest_len);
        if (!rest) {
            conn_lost(c, SB_ERR_NOMEM, "out of memory", false);
            return;
        }
        memcpy(rest, c->in_http.data + h.head_len, rest_len);
    }
    opened(c);
    if (rest) {
        feed_ws(c, rest, rest_len);
        free(rest);
    }
}

/* Read what the socket has; the phase decides where the bytes go. */
static void do_read(struct sb_client *c)
{
    uint8_t buf[65536];
    for (int rounds = 0; rounds < 64 && (c->phase == PH_UPGRADE || c->phase == PH_OPEN); rounds++) {
        size_t n = 0;
        int r = sbc_conn_read(&c->conn, buf, sizeof(buf), &n);
        if (r == SBC_IO_WANT_READ || r == SBC_IO_WANT_WRITE) {
            return;
        }
        if (r == SBC_IO_EOF || r < 0) {
            char reason[300];
            snprintf(reason, sizeof(reason), "%s",
                     r == SBC_IO_EOF ? "the server closed the connection" : c->conn.err);
            conn_lost(c, r == SBC_IO_EOF ? SB_ERR_CLOSED : r, reason, false);
            return;
        }
        if (c->phase == PH_UPGRADE) {
            if (sbc_str_append(&c->in_http, buf, n) < 0) {
                conn_lost(c, SB_ERR_PROTO, "the upgrade answer is too large", false);
                return;
            }
            upgrade_answer(c);
        } else if (!feed_ws(c, buf, n)) {
            return;
        }
    }
}

static void heartbeat(struct sb_client *c, int64_t now)
{
    if (c->phase != PH_OPEN || now < c->next_heartbeat_ms) {
        return;
    }
    if (c->hb_pending) {
        conn_lost(c, SB_ERR_TIMEOUT, "heartbeat timeout", false);
        return;
    }
    json_t *p = json_object();
    if (send_push(c, "phoenix", "heartbeat", p, NULL, c->hb_ref) == 0) {
        c->hb_pending = true;
    }
    json_decref(p);
    c->next_heartbeat_ms = now + c->heartbeat_ms;
}

static void sweep(struct sb_client *c)
{
    if (c->callback_depth > 0) {
        return;
    }
    struct sb_channel **pp = &c->channels;
    while (*pp) {
        struct sb_channel *ch = *pp;
        if (ch->dead) {
            *pp = ch->next;
            channel_free(ch);
        } else {
            pp = &ch->next;
        }
    }
}

/* One step of the machine after poll: I/O on the socket, then timers. */
static void step(struct sb_client *c, short revents)
{
    int64_t now = sbc_now_ms();
    switch (c->phase) {
    case PH_IDLE:
        break;
    case PH_WAIT:
        if (now >= c->deadline_ms) {
            start_attempt(c);
        }
        break;
    case PH_TCP:
        if (revents & (POLLOUT | POLLERR | POLLHUP)) {
            if (sbc_conn_finish(&c->conn) == 0) {
                tcp_connected(c);
            } else {
                connect_next(c);
            }
        }
        break;
    case PH_TLS: {
        int r = sbc_conn_handshake(&c->conn);
        if (r == SBC_IO_OK) {
            int rc = start_upgrade(c);
            if (rc < 0) {
                conn_lost(c, rc, "sending the upgrade request failed", false);
            }
        } else if (r < 0) {
            char reason[300];
            snprintf(reason, sizeof(reason), "%s", c->conn.err);
            conn_lost(c, SB_ERR_TLS, reason, false);
        }
        break;
    }
    case PH_UPGRADE:
    case PH_OPEN:
        if (c->out.len > 0) {
            int rc = flush_out(c);
            if (rc < 0) {
                char reason[300];
                snprintf(reason, sizeof(reason), "%s", c->conn.err);
                conn_lost(c, rc, reason, false);
                break;
            }
        }
        if (revents & (POLLIN | POLLERR | POLLHUP)) {
            do_read(c);
        }
        break;
    }
    now = sbc_now_ms();
    if ((c->phase == PH_TCP || c->phase == PH_TLS || c->phase == PH_UPGRADE) &&
        now >= c->deadline_ms) {
        conn_lost(c, SB_ERR_TIMEOUT, "timed out opening the connection", false);
    }
    heartbeat(c, now);
    if (c->phase == PH_OPEN && c->refresh_at_ms && now >= c->refresh_at_ms) {
        c->refresh_at_ms = now + 30000; /* retried in 30 s unless the refresh plans anew */
        sb_refresh(c);
    }
    join_pending(c, now);
    sweep(c);
}

SB_API int sb_client_connect(struct sb_client *c)
{
    if (!c) {
        return SB_ERR_INVAL;
    }
    lock(c);
    if (c->phase != PH_IDLE) {
        unlock(c);
        return SB_ERR_STATE;
    }
    c->want_connected = true;
    c->failures = 0;
    c->phase = PH_WAIT;
    c->deadline_ms = sbc_now_ms();
    /* From here on the client is connecting (the state callback fires when the attempt
     * starts); a caller polling sb_client_state must not see DISCONNECTED in between. */
    c->state = SB_STATE_CONNECTING;
    unlock(c);
    wake(c);
    return 0;
}

SB_API void sb_client_disconnect(struct sb_client *c)
{
    if (!c) {
        return;
    }
    lock(c);
    if (c->phase == PH_OPEN) {
        uint8_t payload[2] = {WS_CLOSE_NORMAL >> 8, WS_CLOSE_NORMAL & 0xff};
        send_frame(c, WS_OP_CLOSE, payload, 2);
        flush_out(c);
    }
    bool was = c->phase != PH_IDLE;
    c->want_connected = false;
    if (was) {
        conn_lost(c, 0, "disconnected by the application", true);
    }
    unlock(c);
    wake(c);
}

SB_API int sb_client_fd(const struct sb_client *c)
{
    lock(c);
    int fd = c->phase >= PH_TCP ? c->conn.fd : -1;
    unlock(c);
    return fd;
}

SB_API int sb_client_events(const struct sb_client *c)
{
    lock(c);
    int ev = 0;
    if (c->phase == PH_TCP) {
        ev = POLLOUT;
    } else if (c->phase == PH_TLS) {
        ev = POLLIN | POLLOUT;
    } else if (c->phase == PH_UPGRADE || c->phase == PH_OPEN) {
        ev = POLLIN | (c->out.len > 0 ? POLLOUT : 0);
    }
    unlock(c);
    return ev;
}

SB_API int sb_client_timeout_ms(const struct sb_client *c)
{
    lock(c);
    int64_t now = sbc_now_ms(), at = -1;
    switch (c->phase) {
    case PH_IDLE:
        break;
    case PH_WAIT:
    case PH_TCP:
    case PH_TLS:
    case PH_UPGRADE:
        at = c->deadline_ms;
        break;
    case PH_OPEN:
        at = c->next_heartbeat_ms;
        if (c->refresh_at_ms && c->refresh_at_ms < at) {
            at = c->refresh_at_ms;
        }
        for (const struct sb_channel *ch = c->channels; ch; ch = ch->next) {
            if (!ch->dead && ch->state == CH_IDLE && ch->rejoin_at_ms < at) {
                at = ch->rejoin_at_ms;
            }
        }
        break;
    }
    unlock(c);
    if (at < 0) {
        return -1;
    }
    return at <= now ? 0 : (int)(at - now > 3600000 ? 3600000 : at - now);
}

static int process(struct sb_client *c, int timeout_ms)
{
    int fd = sb_client_fd(c);
    int events = sb_client_events(c);
    int t = sb_client_timeout_ms(c);
    if (t < 0 || (timeout_ms >= 0 && timeout_ms < t)) {
        t = timeout_ms;
    }
    struct pollfd pfd[2] = {{.fd = c->wake[0], .events = POLLIN},
                            {.fd = fd, .events = (short)events}};
    int n = poll(pfd, fd >= 0 ? 2 : 1, t);
    if (n < 0 && errno != EINTR) {
        return SB_ERR_IO;
    }
    if (n > 0 && (pfd[0].revents & POLLIN)) {
        char drain[64];
        while (read(c->wake[0], drain, sizeof(drain)) > 0) {
        }
    }
    lock(c);
    step(c, fd >= 0 && n > 0 ? pfd[1].revents : 0);
    unlock(c);
    return 0;
}

SB_API int sb_client_process(struct sb_client *c, int timeout_ms)
{
    if (!c) {
        return SB_ERR_INVAL;
    }
    lock(c);
    bool threaded = c->thread_running && !pthread_equal(pthread_self(), c->thread);
    unlock(c);
    if (threaded) {
        return SB_ERR_STATE;
    }
    return process(c, timeout_ms);
}

static void *thread_main(void *arg)
{
    struct sb_client *c = arg;
    for (;;) {
        lock(c);
        bool stop = c->stop_flag;
        unlock(c);
        if (stop) {
            break;
        }
        process(c, 1000);
    }
    return NULL;
}

SB_API int sb_client_start(struct sb_client *c)
{
    if (!c) {
        return SB_ERR_INVAL;
    }
    lock(c);
    if (c->thread_running) {
        unlock(c);
        return SB_ERR_STATE;
    }
    c->stop_flag = false;
    if (c->phase == PH_IDLE) {
        c->want_connected = true;
        c->failures = 0;
        c->phase = PH_WAIT;
        c->deadline_ms = sbc_now_ms();
    }
    int rc = pthread_create(&c->thread, NULL, thread_main, c);
    c->thread_running = rc == 0;
    unlock(c);
    return rc == 0 ? 0 : SB_ERR_NOMEM;
}

SB_API void sb_client_stop(struct sb_client *c)
{
    if (!c) {
        return;
    }
    lock(c);
    bool running = c->thread_running;
    c->stop_flag = true;
    unlock(c);
    if (running) {
        wake(c);
        pthread_join(c->thread, NULL);
        lock(c);
        c->thread_running = false;
        unlock(c);
    }
    sb_client_disconnect(c);
}

/* ---- inbound Phoenix messages ---- */

static struct sb_channel *find_channel(struct sb_client *c, const char *topic)
{
    for (struct sb_channel *ch = c->channels; ch; ch = ch->next) {
        if (!ch->dead && ch->state != CH_CLOSED && strcmp(ch->topic, topic) == 0) {
            return ch;
        }
    }
    return NULL;
}

static char *dumps_or_null(json_t *j)
{
    return j && !json_is_null(j) ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static void deliver_change(struct sb_channel *ch, json_t *payload)
{
    json_t *data = json_object_get(payload, "data");
    if (!json_is_object(data) || !ch->on_change) {
        return;
    }
    json_t *jseq = json_object_get(data, "seq");
    long long seq = json_is_integer(jseq) ? (long long)json_integer_value(jseq) : -1;
    if (seq > 0 && seq <= ch->last_seq) {
        return; /* already delivered (overlap between the replay and live events) */
    }
    struct sb_change chg;
    char *record = dumps_or_null(json_object_get(data, "record"));
    char *old = dumps_or_null(json_object_get(data, "old_record"));
    char *all = json_dumps(data, JSON_COMPACT);
    chg.table = json_string_value(json_object_get(data, "table"));
    chg.type = json_string_value(json_object_get(data, "type"));
    chg.seq = seq;
    chg.commit_timestamp = json_string_value(json_object_get(data, "commit_timestamp"));
    chg.record = record;
    chg.old_record = old;
    chg.json = all;
    if (seq > 0) {
        ch->last_seq = seq;
    }
    ch->client->callback_depth++;
    ch->on_change(ch, &chg, ch->user);
    ch->client->callback_depth--;
    free(record);
    free(old);
    free(all);
}

static void handle_reply(struct sb_client *c, struct sb_channel *ch, const char *ref,
                         json_t *payload)
{
    if (!ref || strcmp(ref, ch->join_ref) != 0 || ch->state != CH_JOINING) {
        return; /* acks of broadcasts and presence pushes */
    }
    const char *status = json_string_value(json_object_get(payload, "status"));
    json_t *resp = json_object_get(payload, "response");
    if (status && strcmp(status, "ok") == 0) {
        bool rejoin = ch->was_joined;
        ch->state = CH_JOINED;
        ch->was_joined = true;
        ch->errors = 0;
        json_t *jseq = json_object_get(resp, "seq");
        if (ch->is_sub && ch->last_seq == 0 && json_is_integer(jseq)) {
            ch->last_seq = (long long)json_integer_value(jseq);
        }
        channel_status(ch, SB_CHANNEL_JOINED, "");
        if (!ch->dead && ch->is_sub && rejoin && !ch->resume_pending && ch->on_resync) {
            /* Nothing to resume from: events between the two joins may be lost. */
            c->callback_depth++;
            ch->on_resync(ch, ch->user);
            c->callback_depth--;
        }
        if (!ch->dead && ch->track_meta && ch->state == CH_JOINED) {
            json_t *meta = json_loads(ch->track_meta, 0, NULL);
            json_t *p = json_pack("{s:s,s:s,s:o}", "type", "presence", "event", "track", "payload",
                                  meta ? meta : json_object());
            send_push(c, ch->topic, "presence", p, ch->join_ref, NULL);
            json_decref(p);
        }
        return;
    }
    const char *reason = json_string_value(json_object_get(resp, "reason"));
    char msg[300];
    snprintf(msg, sizeof(msg), "join of %s refused: %s", ch->topic, reason ? reason : "error");
    set_error(c, "%s", msg);
    ch->state = CH_IDLE;
    ch->errors++;
    int64_t delay = 1000;
    for (int i = 1; i < ch->errors && delay < 30000; i++) {
        delay *= 2;
    }
    ch->rejoin_at_ms = sbc_now_ms() + (delay > 30000 ? 30000 : delay);
    channel_status(ch, SB_CHANNEL_ERROR, msg);
}

static void handle_system(struct sb_client *c, struct sb_channel *ch, json_t *payload)
{
    const char *ext = json_string_value(json_object_get(payload, "extension"));
    const char *status = json_string_value(json_object_get(payload, "status"));
    const char *message = json_string_value(json_object_get(payload, "message"));
    if (ext && strcmp(ext, "postgres_changes") == 0 && message && strcmp(message, "resumed") == 0) {
        ch->resume_pending = false;
        if (json_is_true(json_object_get(payload, "recovered"))) {
            channel_status(ch, SB_CHANNEL_RESUMED, "");
        } else if (ch->on_resync) {
            c->callback_depth++;
            ch->on_resync(ch, ch->user);
            c->callback_depth--;
        }
        return;
    }
    if (status && strcmp(status, "error") == 0) {
        set_error(c, "%s: %s", ch->topic, message ? message : "error");
        channel_status(ch, SB_CHANNEL_ERROR, message);
    }
}

static void handle_text(struct sb_client *c, const char *text, size_t len)
{
    json_t *msg = json_loadb(text, len, 0, NULL);
    if (!json_is_object(msg)) {
        json_decref(msg);
        return; /* not a vsn 1.0.0 frame: ignore rather than guess */
    }
    const char *topic = json_string_value(json_object_get(msg, "topic"));
    const char *event = json_string_value(json_object_get(msg, "event"));
    const char *ref = json_string_value(json_object_get(msg, "ref"));
    json_t *payload = json_object_get(msg, "payload");
    if (!topic || !event) {
        json_decref(msg);
        return;
    }
    if (strcmp(topic, "phoenix") == 0) {
        if (strcmp(event, "phx_reply") == 0 && ref && strcmp(ref, c->hb_ref) == 0) {
            c->hb_pending = false;
        }
        json_decref(msg);
        return;
    }
    struct sb_channel *ch = find_channel(c, topic);
    if (!ch) {
        json_decref(msg);
        return;
    }
    if (strcmp(event, "phx_reply") == 0) {
        handle_reply(c, ch, ref, payload);
    } else if (strcmp(event, "postgres_changes") == 0) {
        if (ch->state == CH_JOINED) {
            deliver_change(ch, payload);
        }
    } else if (strcmp(event, "system") == 0) {
        handle_system(c, ch, payload);
    } else if (strcmp(event, "broadcast") == 0) {
        if (ch->on_broadcast) {
            const char *name = json_string_value(json_object_get(payload, "event"));
            char *p = dumps_or_null(json_object_get(payload, "payload"));
            c->callback_depth++;
            ch->on_broadcast(ch, name ? name : "", p ? p : "null", ch->user);
            c->callback_depth--;
            free(p);
        }
    } else if (strcmp(event, "presence_state") == 0 || strcmp(event, "presence_diff") == 0) {
        if (ch->on_presence) {
            char *p = dumps_or_null(payload);
            c->callback_depth++;
            ch->on_presence(ch, event[9] == 's' ? "state" : "diff", p ? p : "{}", ch->user);
            c->callback_depth--;
            free(p);
        }
    } else if (strcmp(event, "phx_close") == 0) {
        if (!ref || strcmp(ref, ch->join_ref) == 0) {
            ch->state = CH_CLOSED;
            channel_status(ch, SB_CHANNEL_CLOSED, c->last_error);
        }
    } else if (strcmp(event, "phx_error") == 0) {
        if (!ref || strcmp(ref, ch->join_ref) == 0) {
            ch->state = CH_IDLE;
            ch->rejoin_at_ms = sbc_now_ms() + 1000;
            channel_status(ch, SB_CHANNEL_ERROR, "channel error on the server; rejoining");
        }
    }
    json_decref(msg);
}

/* ---- channels: public API ---- */

static int channel_add(struct sb_client *c, struct sb_channel *ch, struct sb_channel **out)
{
    ch->client = c;
    ch->state = CH_IDLE;
    lock(c);
    struct sb_channel **pp = &c->channels;
    while (*pp) {
        pp = &(*pp)->next;
    }
    *pp = ch;
    *out = ch;
    join_pending(c, sbc_now_ms());
    unlock(c);
    wake(c);
    return 0;
}

static bool event_is_valid(const char *e)
{
    return !strcmp(e, "*") || !strcmp(e, "INSERT") || !strcmp(e, "UPDATE") || !strcmp(e, "DELETE");
}

SB_API int sb_subscribe_ex(struct sb_client *c, const char *table,
                           const struct sb_subscribe_options *o, struct sb_channel **out)
{
    if (!c || !table || !*table || !o || !o->on_change || !out ||
        (o->event && !event_is_valid(o->event)) || o->since < 0) {
        return SB_ERR_INVAL;
    }
    struct sb_channel *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        return SB_ERR_NOMEM;
    }
    lock(c);
    unsigned long long id = ++c->ref_counter;
    unlock(c);
    char topic[300];
    snprintf(topic, sizeof(topic), "realtime:sb-%s-%llu", table, id);
    ch->topic = strdup(topic);
    ch->table = strdup(table);
    ch->event = strdup(o->event ? o->event : "*");
    ch->filter = o->filter && *o->filter ? strdup(o->filter) : NULL;
    if (!ch->topic || !ch->table || !ch->event || (o->filter && *o->filter && !ch->filter)) {
        channel_free(ch);
        return SB_ERR_NOMEM;
    }
    ch->is_sub = true;
    ch->last_seq = o->since;
    ch->on_change = o->on_change;
    ch->on_resync = o->on_resync;
    ch->on_status = o->on_status;
    ch->user = o->user;
    return channel_add(c, ch, out);
}

SB_API int sb_subscribe(struct sb_client *c, const char *table, const char *event,
                        const char *filter, sb_change_cb cb, void *user, struct sb_channel **out)
{
    struct sb_subscribe_options o;
    memset(&o, 0, sizeof(o));
    o.event = event;
    o.filter = filter;
    o.on_change = cb;
    o.user = user;
    return sb_subscribe_ex(c, table, &o, out);
}

SB_API int sb_channel_join(struct sb_client *c, const char *name,
                           const struct sb_channel_options *o, struct sb_channel **out)
{
    if (!c || !name || !*name || !out || strlen(name) > 200) {
        return SB_ERR_INVAL;
    }
    struct sb_channel *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        return SB_ERR_NOMEM;
    }
    size_t tl = strlen(name) + sizeof("realtime:");
    ch->topic = malloc(tl);
    if (!ch->topic || (o && o->presence_key && !(ch->presence_key = strdup(o->presence_key)))) {
        channel_free(ch);
        return SB_ERR_NOMEM;
    }
    snprintf(ch->topic, tl, "realtime:%s", name);
    if (o) {
        ch->bself = o->broadcast_self != 0;
        ch->back = o->broadcast_ack != 0;
        ch->on_broadcast = o->on_broadcast;
        ch->on_presence = o->on_presence;
        ch->on_status = o->on_status;
        ch->user = o->user;
    }
    return channel_add(c, ch, out);
}

SB_API int sb_unsubscribe(struct sb_channel *ch)
{
    if (!ch) {
        return SB_ERR_INVAL;
    }
    struct sb_client *c = ch->client;
    lock(c);
    if (ch->dead) {
        unlock(c);
        return SB_ERR_CLOSED; /* left already, from the callback that is still running */
    }
    if (ch->state == CH_JOINED || ch->state == CH_JOINING) {
        json_t *p = json_object();
        send_push(c, ch->topic, "phx_leave", p, ch->join_ref, NULL);
        json_decref(p);
    }
    ch->dead = true;
    sweep(c);
    unlock(c);
    return 0;
}

SB_API int sb_channel_leave(struct sb_channel *ch)
{
    return sb_unsubscribe(ch);
}

SB_API long long sb_channel_last_seq(const struct sb_channel *ch)
{
    if (!ch) {
        return 0;
    }
    lock(ch->client);
    long long s = ch->last_seq;
    unlock(ch->client);
    return s;
}

SB_API struct sb_client *sb_channel_client(const struct sb_channel *ch)
{
    return ch ? ch->client : NULL;
}

SB_API int sb_channel_send(struct sb_channel *ch, const char *event, const char *payload)
{
    if (!ch || !event) {
        return SB_ERR_INVAL;
    }
    json_t *p = json_loads(payload ? payload : "{}", 0, NULL);
    if (!json_is_object(p)) {
        json_decref(p);
        return SB_ERR_INVAL;
    }
    struct sb_client *c = ch->client;
    lock(c);
    int rc = SB_ERR_CLOSED;
    if (ch->state == CH_JOINED && !ch->dead) {
        json_t *msg = json_pack("{s:s,s:s,s:O}", "type", "broadcast", "event", event, "payload", p);
        rc = msg ? send_push(c, ch->topic, "broadcast", msg, ch->join_ref, NULL) : SB_ERR_NOMEM;
        json_decref(msg);
    }
    unlock(c);
    json_decref(p);
    return rc;
}

SB_API int sb_channel_track(struct sb_channel *ch, const char *meta)
{
    if (!ch || !meta) {
        return SB_ERR_INVAL;
    }
    json_t *m = json_loads(meta, 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return SB_ERR_INVAL;
    }
    struct sb_client *c = ch->client;
    lock(c);
    if (ch->dead || ch->state == CH_CLOSED) {
        /* Left (from the callback still running) or closed by the server: it is never
         * joined again, so a track would never happen. */
        unlock(c);
        json_decref(m);
        return SB_ERR_CLOSED;
    }
    char *copy = strdup(meta);
    int rc = copy ? 0 : SB_ERR_NOMEM;
    if (copy) {
        free(ch->track_meta);
        ch->track_meta = copy;
        if (ch->state == CH_JOINED) {
            json_t *p =
                json_pack("{s:s,s:s,s:O}", "type", "presence", "event", "track", "payload", m);
            rc = p ? send_push(c, ch->topic, "presence", p, ch->join_ref, NULL) : SB_ERR_NOMEM;
            json_decref(p);
        }
    }
    unlock(c);
    json_decref(m);
    return rc;
}

SB_API int sb_channel_untrack(struct sb_channel *ch)
{
    if (!ch) {
        return SB_ERR_INVAL;
    }
    struct sb_client *c = ch->client;
    lock(c);
    if (ch->dead) {
        unlock(c);
        return SB_ERR_CLOSED;
    }
    free(ch->track_meta);
    ch->track_meta = NULL;
    int rc = 0;
    if (ch->state == CH_JOINED) {
        json_t *p = json_pack("{s:s,s:s}", "type", "presence", "event", "untrack");
        rc = p ? send_push(c, ch->topic, "presence", p, ch->join_ref, NULL) : SB_ERR_NOMEM;
        json_decref(p);
    }
    unlock(c);
    return rc;
}
