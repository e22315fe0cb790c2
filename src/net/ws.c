/*
 * WebSocket connections (RFC 6455) on top of server.c's connections.
 *
 * After net_upgrade() the connection's input goes through a struct ws_reader (the I/O-free
 * codec in net/ws/); complete messages go to the handler, pings are answered, a peer close
 * is echoed. Output frames are written with one uv_write each: a small owned part (frame
 * header + per-subscriber prefix), the shared refcounted event data, and a small suffix, so
 * fanning one event out to many subscribers copies only the prefixes.
 *
 * Back-pressure: c->queued counts bytes handed to libuv but not yet written. A send that
 * would take it past ws_max_queue closes the connection with 4008 (slow consumer) instead
 * of growing memory or dropping the frame silently; the client resumes on reconnect. Pongs
 * go through the same cap (ws_queue_admit), so a ping flood from a peer that never reads
 * ends the same way; the close itself is reset if the peer takes nothing (close_timeout).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/log.h"
#include "net/net_int.h"

/* Frames of one connection gathered while its worker is corked (net_int.h). */
struct ws_cork_seg {
    struct net_shared *shared; /* NULL: the bytes small.data[off, off + len) */
    size_t off, len;
};
struct ws_cork {
    struct ws_cork *next;  /* the worker's list */
    struct net_conn *conn; /* NULL once the connection went away */
    size_t bytes;
    size_t nshared;
    struct buf small; /* frame headers, prefixes and suffixes, back to back */
    struct ws_cork_seg *seg;
    size_t nseg, segcap;
};

struct net_ws_state {
    const struct net_ws_handler *handler;
    void *user;
    struct ws_cork *cork; /* frames gathered in this corked round, or NULL */
    struct ws_reader reader;
    int64_t last_rx_ms;
    uint16_t close_code;
    bool close_sent;
    bool notified; /* handler->on_close called */
};

struct net_shared *net_shared_new(const void *data, size_t len)
{
    struct net_shared *s = xmalloc(sizeof *s + len + 1);
    s->refs = 1;
    s->len = len;
    memcpy(s->data, data, len);
    s->data[len] = '\0';
    return s;
}

void net_shared_ref(struct net_shared *s)
{
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void net_shared_unref(struct net_shared *s)
{
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free(s);
    }
}

static bool token_list_has(const struct http_slice *v, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (v && i < v->len) {
        while (i < v->len && (v->ptr[i] == ' ' || v->ptr[i] == '\t' || v->ptr[i] == ',')) {
            i++;
        }
        size_t start = i;
        while (i < v->len && v->ptr[i] != ',') {
            i++;
        }
        size_t end = i;
        while (end > start && (v->ptr[end - 1] == ' ' || v->ptr[end - 1] == '\t')) {
            end--;
        }
        struct http_slice t = {v->ptr + start, end - start};
        if (t.len == tl && http_slice_eq_nocase(t, token)) {
            return true;
        }
    }
    return false;
}

int net_ws_check(const struct net_request *req)
{
    if (req->head.method != HTTP_GET || req->head.minor_version < 1) {
        return 400;
    }
    const struct http_slice *up = net_request_header(req, "Upgrade");
    if (!up || !token_list_has(up, "websocket") ||
        !token_list_has(net_request_header(req, "Connection"), "upgrade")) {
        return 400;
    }
    const struct http_slice *ver = net_request_header(req, "Sec-WebSocket-Version");
    if (!ver || !http_slice_eq_nocase(*ver, "13")) {
        return 426;
    }
    const struct http_slice *key = net_request_header(req, "Sec-WebSocket-Key");
    if (!key || !ws_key_is_valid(key->ptr, key->len)) {
        return 400;
    }
    if (req->body_len) {
        return 400;
    }
    return 0;
}

/* ---- corking ---- */

static struct ws_cork *cork_get(struct net_conn *c)
{
    struct net_ws_state *ws = c->ws;
    if (ws->cork) {
        return ws->cork;
    }
    struct net_worker *w = c->w;
    struct ws_cork *k = w->cork_free;
    if (k) {
        w->cork_free = k->next;
        w->ncork_free--;
    } else {
        k = xcalloc(1, sizeof *k);
        buf_init(&k->small, c->w->server->cfg.ws_max_queue + 64);
    }
    k->conn = c;
    k->bytes = k->nshared = k->nseg = 0;
    buf_reset(&k->small);
    k->next = w->corks;
    w->corks = k;
    ws->cork = k;
    return k;
}

static int cork_seg(struct ws_cork *k, struct net_shared *shared, size_t off, size_t len)
{
    if (k->nseg == k->segcap) {
        size_t cap = k->segcap ? k->segcap * 2 : 8;
        struct ws_cork_seg *seg = realloc(k->seg, cap * sizeof *seg);
        if (!seg) {
            return SB_E_NOMEM;
        }
        k->seg = seg;
        k->segcap = cap;
    }
    k->seg[k->nseg++] = (struct ws_cork_seg){shared, off, len};
    return 0;
}

/* Gather small bytes (copied) or a reference to shared. */
static int cork_add(struct ws_cork *k, const void *small, size_t len, struct net_shared *shared)
{
    if (shared) {
        if (cork_seg(k, shared, 0, shared->len) < 0) {
            return SB_E_NOMEM;
        }
        net_shared_ref(shared);
        k->nshared++;
        k->bytes += shared->len;
        return 0;
    }
    if (!len) {
        return 0;
    }
    struct ws_cork_seg *last = k->nseg ? &k->seg[k->nseg - 1] : NULL;
    size_t off = k->small.len;
    if (buf_append(&k->small, small, len) < 0) {
        return SB_E_NOMEM;
    }
    k->bytes += len;
    if (last && !last->shared && last->off + last->len == off) {
        last->len += len; /* adjacent small bytes stay one part */
        return 0;
    }
    return cork_seg(k, NULL, off, len);
}

/* Write what k gathered (if its connection is still there) and recycle or free k. */
static void cork_flush(struct net_worker *w, struct ws_cork *k)
{
    struct net_conn *c = k->conn;
    if (c) {
        c->ws->cork = NULL;
    }
    struct net_shared *stack_sh[16];
    uv_buf_t stack_parts[32];
    struct net_shared **sh = k->nshared <= 16 ? stack_sh : xmalloc(k->nshared * sizeof *sh);
    uv_buf_t *parts = k->nseg <= 32 ? stack_parts : xmalloc(k->nseg * sizeof *parts);
    size_t len = 0, nsh = 0;
    char *small = buf_detach(&k->small, &len);
    for (size_t i = 0; i < k->nseg; i++) {
        const struct ws_cork_seg *g = &k->seg[i];
        if (g->shared) {
            sh[nsh++] = g->shared;
            parts[i] = uv_buf_init(g->shared->data, (unsigned)g->len);
        } else {
            parts[i] = uv_buf_init(small + g->off, (unsigned)g->len);
        }
    }
    if (c && k->nseg) {
        conn_write_gather(c, parts, (unsigned)k->nseg, sh, nsh, small);
    } else {
        for (size_t i = 0; i < nsh; i++) {
            net_shared_unref(sh[i]);
        }
        free(small);
    }
    if (sh != stack_sh) {
        free(sh);
    }
    if (parts != stack_parts) {
        free(parts);
    }
    k->conn = NULL;
    k->nseg = k->nshared = k->bytes = 0;
    if (w->ncork_free < SB_LIMIT_WS_CORK_SPARES && k->segcap <= 64) {
        k->next = w->cork_free;
        w->cork_free = k;
        w->ncork_free++;
    } else {
        buf_release(&k->small);
        free(k->seg);
        free(k);
    }
}

/* Write c's gathered frames now (before a frame that must follow them). */
static void cork_flush_conn(struct net_conn *c)
{
    struct ws_cork *k = c->ws ? c->ws->cork : NULL;
    if (!k) {
        return;
    }
    struct net_worker *w = c->w;
    for (struct ws_cork **pp = &w->corks; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    cork_flush(w, k);
}

void ws_worker_uncork(struct net_worker *w)
{
    /* One at a time: a write that fails closes its connection, and what that triggers may
     * flush another connection out of the list (cork_flush_conn). */
    struct ws_cork *k;
    while ((k = w->corks) != NULL) {
        w->corks = k->next;
        cork_flush(w, k);
    }
}

void ws_worker_release(struct net_worker *w)
{
    while (w->cork_free) {
        struct ws_cork *k = w->cork_free;
        w->cork_free = k->next;
        buf_release(&k->small);
        free(k->seg);
        free(k);
    }
    w->ncork_free = 0;
}

static void ws_send_close(struct net_conn *c, uint16_t code, const char *reason)
{
    struct net_ws_state *ws = c->ws;
    if (ws->close_sent) {
        return;
    }
    ws->close_sent = true;
    cork_flush_conn(c);
    uint8_t payload[125];
    size_t n = 0;
    if (code != WS_CLOSE_NO_STATUS) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)(code & 0xff);
        n = 2;
        size_t rl = reason ? strlen(reason) : 0;
        if (rl > sizeof payload - 2) {
            rl = sizeof payload - 2;
        }
        if (rl) {
            memcpy(payload + 2, reason, rl);
        }
        n += rl;
    }
    uint8_t frame[14 + 125];
    size_t h = ws_frame_header(frame, true, WS_OP_CLOSE, n, NULL);
    memcpy(frame + h, payload, n);
    if (!ws->close_code) {
        ws->close_code = code;
    }
    conn_write(c, (const char *)frame, h + n, NULL, NULL, 0, NULL, 0);
}

void net_ws_close(struct net_conn *c, uint16_t code, const char *reason)
{
    if (c->state != CONN_WS) {
        return;
    }
    ws_send_close(c, code, reason);
    conn_close_after_write(c);
}

void ws_conn_closing(struct net_conn *c)
{
    struct net_ws_state *ws = c->ws;
    if (!ws || ws->notified) {
        return;
    }
    ws->notified = true;
    atomic_fetch_sub(&net_counters.ws_open, 1);
    if (ws->handler->on_close) {
        ws->handler->on_close(c, ws->user, ws->close_code ? ws->close_code : 1006);
    }
}

void ws_conn_release(struct net_conn *c)
{
    if (c->ws) {
        if (c->ws->cork) {
            c->ws->cork->conn = NULL; /* the worker frees it at uncork */
        }
        ws_reader_release(&c->ws->reader);
        free(c->ws);
        c->ws = NULL;
    }
}

/*
 * The one outbound cap of a WebSocket: whether a frame of len bytes fits in c's queue
 * (written, plus gathered while corked). Data frames and pongs alike; when it does not fit
 * the connection is closed with 4008 (slow consumer) and this returns false.
 */
static bool ws_queue_admit(struct net_conn *c, size_t len)
{
    size_t gathered = c->ws->cork ? c->ws->cork->bytes : 0;
    if (c->queued + gathered + len <= c->w->server->cfg.ws_max_queue) {
        return true;
    }
    atomic_fetch_add(&net_counters.ws_slow_closes, 1);
    log_event(LOG_WARN, "slow consumer disconnected",
              json_pack("{s:I,s:I}", "queued", (json_int_t)(c->queued + gathered), "frame",
                        (json_int_t)len));
    net_ws_close(c, WS_CLOSE_SLOW_CONSUMER, "slow consumer");
    return false;
}

void ws_conn_on_data(struct net_conn *c, uint8_t *data, size_t len)
{
    struct net_ws_state *ws = c->ws;
    ws->last_rx_ms = clock_mono_ms();
    size_t off = 0;
    while (off < len && c->state == CONN_WS) {
        size_t used = 0;
        struct ws_event ev;
        uint16_t code = 0;
        int rc = ws_reader_feed(&ws->reader, data + off, len - off, &used, &ev, &code);
        off += used;
        if (rc < 0) {
            net_ws_close(c, code ? code : WS_CLOSE_PROTOCOL,
                         code == WS_CLOSE_TOO_BIG ? "message too big" : "protocol error");
            return;
        }
        if (rc == 0) {
            break;
        }
        switch (ev.type) {
        case WS_EV_TEXT:
        case WS_EV_BINARY:
            if (!ws->close_sent && ws->handler->on_message) {
                ws->handler->on_message(c, ws->user, ev.type == WS_EV_BINARY, ev.data, ev.len);
            }
            break;
        case WS_EV_PING: {
            uint8_t frame[14 + 125];
            size_t h = ws_frame_header(frame, true, WS_OP_PONG, ev.len, NULL);
            memcpy(frame + h, ev.data, ev.len);
            if (!ws->close_sent && ws_queue_admit(c, h + ev.len)) {
                conn_write(c, (const char *)frame, h + ev.len, NULL, NULL, 0, NULL, 0);
            }
            break;
        }
        case WS_EV_CLOSE:
            if (!ws->close_sent) {
                ws->close_code = ev.close_code;
                ws_send_close(c, ev.close_code, NULL);
            }
            conn_close_after_write(c);
            return;
        default:
            break;
        }
    }
    /* Everything delivered has been handled: an idle connection keeps no message buffer. */
    if (c->state == CONN_WS) {
        ws_reader_trim(&ws->reader);
    }
}

void ws_conn_sweep(struct net_conn *c, int64_t now_ms)
{
    struct net_ws_state *ws = c->ws;
    if (now_ms - ws->last_rx_ms > c->w->server->cfg.ws_idle_timeout_ms) {
        net_ws_close(c, WS_CLOSE_NORMAL, "idle timeout");
    }
}

struct net_conn *net_upgrade(struct net_request *req, const struct net_ws_handler *handler,
                             void *user)
{
    struct net_conn *c = req->conn;
    const struct http_slice *key = net_request_header(req, "Sec-WebSocket-Key");
    char accept[29];
    ws_accept_key(key->ptr, key->len, accept);
    char resp[192];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    c->req = NULL;
    free(req);
    free(c->http->head.fields);
    c->http->head.fields = NULL;
    if (c->handle_closed) {
        conn_free(c);
        return NULL;
    }
    if (c->state != CONN_BUSY) {
        return NULL;
    }
    struct net_ws_state *ws = xcalloc(1, sizeof *ws);
    ws->handler = handler;
    ws->user = user;
    ws->last_rx_ms = clock_mono_ms();
    ws_reader_init(&ws->reader, true, c->w->server->cfg.ws_max_message);
    c->ws = ws;
    conn_write(c, resp, (size_t)n, NULL, NULL, 0, NULL, 0);
    c->state = CONN_WS;
    c->deadline_ms = 0;
    atomic_fetch_add(&net_counters.ws_open, 1);
    /* The HTTP state goes; bytes the client sent right after the handshake (and, on TLS,
     * plaintext set aside while the upgrade request was in flight) belong to the WebSocket. */
    struct conn_http *http = c->http;
    c->http = NULL;
    uv_read_start((uv_stream_t *)&c->tcp, worker_alloc, conn_on_read);
    if (http->in.len > http->req_len) {
        ws_conn_on_data(c, (uint8_t *)http->in.data + http->req_len, http->in.len - http->req_len);
    }
    if (http->pending.len && c->state == CONN_WS) {
        ws_conn_on_data(c, (uint8_t *)http->pending.data, http->pending.len);
    }
    conn_http_free(http);
    return c->state == CONN_WS ? c : NULL;
}

int net_ws_send(struct net_conn *c, bool binary, const char *prefix, size_t prefix_len,
                struct net_shared *shared, const char *suffix, size_t suffix_len)
{
    if (c->state != CONN_WS || c->ws->close_sent) {
        return SB_E_IO;
    }
    size_t total = prefix_len + (shared ? shared->len : 0) + suffix_len;
    if (!ws_queue_admit(c, total)) {
        return SB_E_AGAIN;
    }
    uint8_t hdr[14];
    size_t hl = ws_frame_header(hdr, true, binary ? WS_OP_BINARY : WS_OP_TEXT, total, NULL);
    if (c->w->corked) {
        struct ws_cork *k = cork_get(c);
        if (cork_add(k, hdr, hl, NULL) < 0 || cork_add(k, prefix, prefix_len, NULL) < 0 ||
            cork_add(k, NULL, 0, shared) < 0 || cork_add(k, suffix, suffix_len, NULL) < 0) {
            /* Out of memory with part of a frame gathered: the stream cannot go on. */
            k->conn = NULL;
            c->ws->cork = NULL;
            conn_close(c);
            return SB_E_NOMEM;
        }
        atomic_fetch_add(&net_counters.ws_frames_sent, 1);
        return 0;
    }
    cork_flush_conn(c); /* frames gathered earlier go first */
    char stack[512];
    char *small = hl + prefix_len <= sizeof stack ? stack : xmalloc(hl + prefix_len);
    memcpy(small, hdr, hl);
    if (prefix_len) {
        memcpy(small + hl, prefix, prefix_len);
    }
    int rc = conn_write(c, small, hl + prefix_len, shared, suffix, suffix_len, NULL, 0);
    if (small != stack) {
        free(small);
    }
    if (rc == 0) {
        atomic_fetch_add(&net_counters.ws_frames_sent, 1);
    }
    return rc;
}
