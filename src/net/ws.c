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
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/log.h"
#include "net/net_int.h"

struct net_shared *net_shared_new(const void *data, size_t len)
{
    return net_shared_concat(data, len, NULL, 0, NULL, 0);
}

struct net_shared *net_shared_concat(const void *a, size_t a_len, const void *b, size_t b_len,
                                     const void *c, size_t c_len)
{
    size_t len = a_len + b_len + c_len;
    struct net_shared *s = xmalloc(sizeof *s + len + 1);
    s->refs = 1;
    s->len = len;
    if (a_len) {
        memcpy(s->data, a, a_len);
    }
    if (b_len) {
        memcpy(s->data + a_len, b, b_len);
    }
    if (c_len) {
        memcpy(s->data + a_len + b_len, c, c_len);
    }
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

/* ---- corking ----
 *
 * While its worker runs posted tasks, a connection's frames are gathered as parts chained
 * through a round's segs array: small bytes (frame headers, per-subscriber prefixes) are
 * appended to the round's bytes, shared event data is referenced (pinned once per round, not
 * once per delivery). Each connection's parts go out with one writev straight from those
 * buffers (conn_write_parts), and only what the socket did not take is copied or referenced
 * into a queued write. The arrays keep their capacity between rounds, up to the retention
 * limits below, so a steady fan-out allocates nothing.
 *
 * Writing a round to 10,000 sockets takes the kernel about 100 ms here, so it is written in
 * slices of WS_FLUSH_SLICE connections, one slice per turn of the loop, and the loop reads
 * its sockets and runs new tasks in between. Two rounds take turns: one is being written
 * (w->flushing, from w->flush_pos), the other gathers. A new frame for a connection that is
 * still waiting in the round being written joins its chain there, so it goes out in this
 * pass; any other connection is listed in the gathering round, written in the next pass. A
 * frame thus waits at most about one pass, not the rest of the current one and all of the
 * next, and a connection's frames stay in order: it has one chain, in one round
 * (ws.cork_round).
 */

#define CORK_KEEP_SEGS (256u * 1024u)        /* parts kept allocated between rounds */
#define CORK_KEEP_BYTES (4u * 1024u * 1024u) /* small bytes kept allocated between rounds */
#define CORK_MAX_BYTES (1u << 30)            /* small bytes of one round */
#define WS_FLUSH_SLICE 256u                  /* connections written per turn of the loop */
#define WS_SEG_RUN 8u                        /* parts of a connection's chain run (cork_part) */

/* Grow *arr (of elem-sized items, capacity *cap) to hold need items. */
static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem, uint32_t first)
{
    if (need <= *cap) {
        return 0;
    }
    uint32_t n = *cap ? *cap : first;
    while (n < need) {
        if (n > UINT32_MAX / 2) {
            return SB_E_NOMEM;
        }
        n *= 2;
    }
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p) {
        return SB_E_NOMEM;
    }
    *arr = p;
    *cap = n;
    return 0;
}

/* The round holding c's chain (valid while c is listed or has parts). */
static struct ws_round *conn_round(struct net_conn *c)
{
    return &conn_worker(c)->rounds[c->ws.cork_round];
}

/* The part after index i of a chain that ends at index tail (runs: see cork_part). */
static inline uint32_t seg_after(const struct ws_round *r, uint32_t i, uint32_t tail)
{
    if (i == tail) {
        return UINT32_MAX;
    }
    return (i + 1) % WS_SEG_RUN ? i + 1 : r->segs[i].next - 1;
}

/* Append a part to c's chain (small bytes next to its last small part extend that part).
 * A chain is made of runs of WS_SEG_RUN parts, each run one connection's and aligned in the
 * round's array, the last part of a full run linking to the next run: the parts of a
 * connection that gets many frames in a round are read back a run at a time, not one cache
 * miss per part, when its chain is written. */
static int cork_part(struct net_conn *c, struct net_shared *shared, size_t off, size_t len)
{
    struct ws_round *r = conn_round(c);
    struct net_ws_state *ws = &c->ws;
    if (!len) {
        return 0;
    }
    if (!shared && ws->cork_tail) {
        struct ws_seg *t = &r->segs[ws->cork_tail - 1];
        if (!t->shared && (size_t)t->off + t->len == off) {
            t->len += (uint32_t)len;
            c->queued += (uint32_t)len;
            return 0;
        }
    }
    uint32_t idx;
    if (ws->cork_tail && ws->cork_tail % WS_SEG_RUN) {
        idx = ws->cork_tail; /* the next free part of the tail's run */
    } else {
        if (r->nsegs > UINT32_MAX - 2 * WS_SEG_RUN ||
            grow((void **)&r->segs, &r->segcap, r->nsegs + WS_SEG_RUN, sizeof *r->segs, 1024) < 0) {
            return SB_E_NOMEM;
        }
        idx = r->nsegs; /* a multiple of WS_SEG_RUN */
        r->nsegs += WS_SEG_RUN;
        if (ws->cork_tail) {
            r->segs[ws->cork_tail - 1].next = idx + 1;
        } else {
            ws->cork_head = idx + 1;
        }
    }
    r->segs[idx] = (struct ws_seg){shared, (uint32_t)off, (uint32_t)len, 0};
    ws->cork_tail = idx + 1;
    c->queued += (uint32_t)len; /* gathered bytes count against the outbound cap */
    return 0;
}

/* Copy small bytes into the round's buffer and chain them to c. */
static int cork_small(struct net_conn *c, const void *data, size_t len)
{
    struct ws_round *r = conn_round(c);
    if (!len) {
        return 0;
    }
    if (!r->bytes.max_len) {
        buf_init(&r->bytes, CORK_MAX_BYTES);
    }
    size_t off = r->bytes.len;
    if (buf_append(&r->bytes, data, len) < 0) {
        return SB_E_NOMEM;
    }
    return cork_part(c, NULL, off, len);
}

/* Hold one reference to shared until r is written (the last few pins are checked, so an
 * event fanned out to many connections is pinned once). */
static int cork_pin(struct ws_round *r, struct net_shared *shared)
{
    for (uint32_t k = r->npins; k > 0 && k + 4 > r->npins; k--) {
        if (r->pins[k - 1] == shared) {
            return 0;
        }
    }
    if (grow((void **)&r->pins, &r->pincap, r->npins + 1, sizeof *r->pins, 64) < 0) {
        return SB_E_NOMEM;
    }
    net_shared_ref(shared);
    r->pins[r->npins++] = shared;
    return 0;
}

/* Forget c's gathered parts (and take their bytes off its queue); returns the bytes. */
static size_t cork_forget(struct net_conn *c)
{
    struct ws_round *r = conn_round(c);
    struct net_ws_state *ws = &c->ws;
    size_t bytes = 0;
    if (ws->cork_head) {
        for (uint32_t i = ws->cork_head - 1; i != UINT32_MAX;
             i = seg_after(r, i, ws->cork_tail - 1)) {
            bytes += r->segs[i].len;
        }
    }
    ws->cork_head = ws->cork_tail = 0;
    c->queued -= (uint32_t)bytes;
    return bytes;
}

/* Write c's gathered frames now (in its pass, or before a frame that must follow them). */
static void cork_flush_conn(struct net_conn *c)
{
    struct net_ws_state *ws = &c->ws;
    if (!ws->cork_head) {
        return;
    }
    struct net_worker *w = conn_worker(c);
    struct ws_round *r = conn_round(c);
    uint32_t n = 0, tail = ws->cork_tail - 1;
    for (uint32_t i = ws->cork_head - 1; i != UINT32_MAX; i = seg_after(r, i, tail)) {
        n++;
    }
    if (n > w->iovcap) {
        uint32_t cap = w->iovcap;
        struct net_shared **owner = NULL;
        if (grow((void **)&w->iov, &cap, n, sizeof *w->iov, 64) < 0 ||
            !(owner = realloc(w->iov_owner, cap * sizeof *owner))) {
            cork_forget(c);
            conn_close(c);
            return;
        }
        w->iov_owner = owner;
        w->iovcap = cap;
    }
    n = 0;
    for (uint32_t i = ws->cork_head - 1; i != UINT32_MAX; i = seg_after(r, i, tail)) {
        const struct ws_seg *g = &r->segs[i];
        char *base = g->shared ? g->shared->data + g->off : r->bytes.data + g->off;
        w->iov[n] = uv_buf_init(base, g->len);
        w->iov_owner[n] = g->shared;
        n++;
    }
    cork_forget(c);
    conn_write_parts(c, w->iov, n, w->iov_owner, NULL);
}

/* Empty a written round (every listed connection has gone out or gone away). Arrays above
 * the retention limits are freed only once a round uses under a quarter of them: under a
 * steady load that needs more, each round would otherwise map them anew (page faults, and a
 * TLB shootdown per unmap), which took about a sixth of the loop at 2 M deliveries/s. */
static void round_reset(struct ws_round *r)
{
    uint32_t used = r->nsegs;
    size_t used_bytes = r->bytes.len;
    r->nconns = 0;
    r->nsegs = 0;
    buf_reset(&r->bytes);
    for (uint32_t k = 0; k < r->npins; k++) {
        net_shared_unref(r->pins[k]);
    }
    r->npins = 0;
    if (r->segcap > CORK_KEEP_SEGS && used < r->segcap / 4) {
        free(r->segs);
        r->segs = NULL;
        r->segcap = 0;
    }
    if (r->bytes.cap > CORK_KEEP_BYTES && used_bytes < r->bytes.cap / 4) {
        buf_release(&r->bytes);
    }
}

static void flush_on_idle(uv_idle_t *h);

/* Write the next slice of the round in its pass, starting a pass with the gathering round
 * when none is under way; the idle handle brings the next slice while anything is left. */
static void flush_slice(struct net_worker *w)
{
    if (!w->flushing && w->rounds[w->gather].nconns) {
        w->gather ^= 1;
        w->flushing = true;
        w->flush_pos = 0;
        w->passes++;
    }
    if (w->flushing) {
        struct ws_round *r = &w->rounds[w->gather ^ 1];
        uint32_t budget = WS_FLUSH_SLICE;
        /* One at a time, re-reading the count: a write that fails closes its connection. */
        while (w->flush_pos < r->nconns && budget > 0) {
            struct net_conn *c = r->conns[w->flush_pos++];
            if (c) {
                budget--;
                c->ws.cork_listed = false;
                cork_flush_conn(c);
            }
        }
        if (w->flush_pos >= r->nconns) {
            round_reset(r);
            w->flushing = false;
        }
    }
    bool more = w->flushing || w->rounds[w->gather].nconns > 0;
    if (more && !uv_is_active((uv_handle_t *)&w->flush_idle) &&
        !uv_is_closing((uv_handle_t *)&w->flush_idle)) {
        uv_idle_start(&w->flush_idle, flush_on_idle);
    } else if (!more && uv_is_active((uv_handle_t *)&w->flush_idle)) {
        uv_idle_stop(&w->flush_idle);
    }
    if (w->frames_sent) {
        atomic_fetch_add(&net_counters.ws_frames_sent, w->frames_sent);
        w->frames_sent = 0;
    }
    if (w->passes) {
        atomic_fetch_add(&net_counters.ws_passes, w->passes);
        w->passes = 0;
    }
    if (w->iovcap > CORK_KEEP_SEGS) {
        free(w->iov);
        free(w->iov_owner);
        w->iov = NULL;
        w->iov_owner = NULL;
        w->iovcap = 0;
    }
}

/* A turn of the loop while a pass is unfinished: its next slice. */
static void flush_on_idle(uv_idle_t *h)
{
    flush_slice(h->data);
}

void ws_worker_flush_init(struct net_worker *w)
{
    uv_idle_init(&w->loop, &w->flush_idle);
    w->flush_idle.data = w;
}

void ws_worker_uncork(struct net_worker *w)
{
    flush_slice(w);
}

void ws_worker_release(struct net_worker *w)
{
    /* The loop has stopped and every connection is closed: drop what is left unwritten. */
    if (w->spare_reader) {
        ws_reader_release(w->spare_reader);
        free(w->spare_reader);
        w->spare_reader = NULL;
    }
    for (int i = 0; i < 2; i++) {
        struct ws_round *r = &w->rounds[i];
        round_reset(r);
        free(r->segs);
        free(r->conns);
        free(r->pins);
        buf_release(&r->bytes);
        *r = (struct ws_round){0};
    }
    w->flushing = false;
    free(w->iov);
    free(w->iov_owner);
    w->iov = NULL;
    w->iov_owner = NULL;
    w->iovcap = 0;
}

/* Gather one frame (header, prefix, shared, suffix) for c in the corked round. */
static int cork_frame(struct net_conn *c, const uint8_t *hdr, size_t hl, const char *prefix,
                      size_t prefix_len, struct net_shared *shared, const char *suffix,
                      size_t suffix_len)
{
    struct net_worker *w = conn_worker(c);
    struct net_ws_state *ws = &c->ws;
    if (!ws->cork_listed) {
        /* Parts left from a chain flushed early (cork_flush_conn) are none: start anew. */
        struct ws_round *g = &w->rounds[w->gather];
        if (grow((void **)&g->conns, &g->conns_cap, g->nconns + 1, sizeof *g->conns, 256) < 0) {
            return SB_E_NOMEM;
        }
        g->conns[g->nconns++] = c;
        ws->cork_listed = true;
        ws->cork_round = w->gather & 1;
    }
    if (cork_small(c, hdr, hl) < 0 || cork_small(c, prefix, prefix_len) < 0) {
        return SB_E_NOMEM;
    }
    if (shared && shared->len &&
        (cork_pin(conn_round(c), shared) < 0 || cork_part(c, shared, 0, shared->len) < 0)) {
        return SB_E_NOMEM;
    }
    if (cork_small(c, suffix, suffix_len) < 0) {
        return SB_E_NOMEM;
    }
    return 0;
}

static void ws_send_close(struct net_conn *c, uint16_t code, const char *reason)
{
    struct net_ws_state *ws = &c->ws;
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
    struct net_ws_state *ws = &c->ws;
    if (!ws->on || ws->notified) {
        return;
    }
    ws->notified = true;
    atomic_fetch_sub(&net_counters.ws_open, 1);
    const struct net_ws_handler *h = conn_worker(c)->ws_handlers[ws->handler];
    if (h->on_close) {
        h->on_close(c, c->ws_user, ws->close_code ? ws->close_code : 1006);
    }
}

void ws_conn_release(struct net_conn *c)
{
    if (c->ws.on) {
        if (c->ws.cork_listed) {
            struct ws_round *r = conn_round(c);
            for (uint32_t i = 0; i < r->nconns; i++) {
                if (r->conns[i] == c) {
                    r->conns[i] = NULL; /* its parts stay unreferenced until the round is reset */
                }
            }
        }
        if (c->ws.reader) {
            ws_reader_release(c->ws.reader);
            free(c->ws.reader);
            c->ws.reader = NULL;
        }
    }
}

/*
 * The one outbound cap of a WebSocket: whether a frame of len bytes fits in c's queue
 * (written, plus gathered while corked). Data frames and pongs alike; when it does not fit
 * the connection is closed with 4008 (slow consumer) and this returns false.
 */
static bool ws_queue_admit(struct net_conn *c, size_t len)
{
    /* c->queued includes the bytes gathered in this corked round. */
    if (c->queued + len <= conn_worker(c)->server->cfg.ws_max_queue) {
        return true;
    }
    atomic_fetch_add(&net_counters.ws_slow_closes, 1);
    log_event(LOG_WARN, "slow consumer disconnected",
              json_pack("{s:I,s:I}", "queued", (json_int_t)c->queued, "frame", (json_int_t)len));
    net_ws_close(c, WS_CLOSE_SLOW_CONSUMER, "slow consumer");
    return false;
}

/* Between messages a connection holds no reader: it borrows the worker's spare one for the
 * input at hand and keeps it only while a frame or a fragmented message is unfinished. */
static struct ws_reader *reader_take(struct net_conn *c)
{
    struct net_worker *w = conn_worker(c);
    struct ws_reader *r = c->ws.reader;
    if (r) {
        return r;
    }
    r = w->spare_reader ? w->spare_reader : xmalloc(sizeof *r);
    w->spare_reader = NULL; /* lent (a nested read on another connection takes a new one) */
    ws_reader_init(r, true, w->server->cfg.ws_max_message);
    c->ws.reader = r;
    return r;
}

static void reader_give_back(struct net_conn *c)
{
    struct net_worker *w = conn_worker(c);
    struct ws_reader *r = c->ws.reader;
    if (!r || !ws_reader_idle(r)) {
        return;
    }
    ws_reader_release(r);
    c->ws.reader = NULL;
    if (w->spare_reader) {
        free(r);
    } else {
        w->spare_reader = r;
    }
}

void ws_conn_on_data(struct net_conn *c, uint8_t *data, size_t len)
{
    struct net_ws_state *ws = &c->ws;
    ws->last_rx_ms = (uint32_t)clock_mono_ms();
    size_t off = 0;
    while (off < len && c->state == CONN_WS) {
        size_t used = 0;
        struct ws_event ev;
        uint16_t code = 0;
        int rc = ws_reader_feed(reader_take(c), data + off, len - off, &used, &ev, &code);
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
        case WS_EV_BINARY: {
            const struct net_ws_handler *h = conn_worker(c)->ws_handlers[ws->handler];
            if (!ws->close_sent && h->on_message) {
                h->on_message(c, c->ws_user, ev.type == WS_EV_BINARY, ev.data, ev.len);
            }
            break;
        }
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
    /* Everything delivered has been handled: an idle connection keeps no message buffer,
     * and between messages no reader. */
    if (c->state == CONN_WS && ws->reader) {
        ws_reader_trim(ws->reader);
        reader_give_back(c);
    }
}

void ws_conn_sweep(struct net_conn *c, int64_t now_ms)
{
    struct net_ws_state *ws = &c->ws;
    /* Idle times up to 2^31 ms (24.8 days) are told apart; a longer configured timeout
     * acts as that, so a connection is closed before its stamp wraps. */
    int64_t limit = conn_worker(c)->server->cfg.ws_idle_timeout_ms;
    if (limit <= 0) {
        return; /* 0: no idle close */
    }
    if (limit > INT32_MAX) {
        limit = INT32_MAX;
    }
    if ((int64_t)(uint32_t)((uint32_t)now_ms - ws->last_rx_ms) > limit) {
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
    c->http->req = NULL;
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
    struct net_worker *w = conn_worker(c);
    unsigned hi = 0;
    while (hi < w->nws_handlers && w->ws_handlers[hi] != handler) {
        hi++;
    }
    if (hi == NET_WS_HANDLERS) {
        log_event(LOG_ERROR, "too many WebSocket handlers", NULL);
        conn_close(c);
        return NULL;
    }
    if (hi == w->nws_handlers) {
        w->ws_handlers[w->nws_handlers++] = handler;
    }
    /* The HTTP state goes (its place holds the user pointer); bytes the client sent right
     * after the handshake (and, on TLS, plaintext set aside while the upgrade request was in
     * flight) belong to the WebSocket. */
    struct conn_http *http = c->http;
    struct net_ws_state *ws = &c->ws;
    ws->on = true;
    ws->handler = (uint8_t)hi;
    c->ws_user = user;
    ws->last_rx_ms = (uint32_t)clock_mono_ms();
    conn_write(c, resp, (size_t)n, NULL, NULL, 0, NULL, 0);
    c->state = CONN_WS;
    conn_deadline_clear(c);
    atomic_fetch_add(&net_counters.ws_open, 1);
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

struct net_shared *net_ws_frame_new(bool binary, const void *a, size_t a_len, const void *b,
                                    size_t b_len, const void *c, size_t c_len)
{
    size_t len = a_len + b_len + c_len;
    uint8_t hdr[14];
    size_t hl = ws_frame_header(hdr, true, binary ? WS_OP_BINARY : WS_OP_TEXT, len, NULL);
    struct net_shared *s = xmalloc(sizeof *s + hl + len + 1);
    s->refs = 1;
    s->len = hl + len;
    char *p = s->data;
    memcpy(p, hdr, hl);
    p += hl;
    if (a_len) {
        memcpy(p, a, a_len);
        p += a_len;
    }
    if (b_len) {
        memcpy(p, b, b_len);
        p += b_len;
    }
    if (c_len) {
        memcpy(p, c, c_len);
        p += c_len;
    }
    *p = '\0';
    return s;
}

int net_ws_send_frame(struct net_conn *c, struct net_shared *frame)
{
    if (c->state != CONN_WS || c->ws.close_sent) {
        return SB_E_IO;
    }
    if (!ws_queue_admit(c, frame->len)) {
        return SB_E_AGAIN;
    }
    struct net_worker *w = conn_worker(c);
    if (w->corked) {
        if (cork_frame(c, NULL, 0, NULL, 0, frame, NULL, 0) < 0) {
            cork_forget(c);
            conn_close(c);
            return SB_E_NOMEM;
        }
        w->frames_sent++;
        return 0;
    }
    cork_flush_conn(c); /* frames gathered earlier go first */
    int rc = conn_write(c, NULL, 0, frame, NULL, 0, NULL, 0);
    if (rc == 0) {
        atomic_fetch_add(&net_counters.ws_frames_sent, 1);
    }
    return rc;
}

int net_ws_send(struct net_conn *c, bool binary, const char *prefix, size_t prefix_len,
                struct net_shared *shared, const char *suffix, size_t suffix_len)
{
    if (c->state != CONN_WS || c->ws.close_sent) {
        return SB_E_IO;
    }
    size_t total = prefix_len + (shared ? shared->len : 0) + suffix_len;
    if (!ws_queue_admit(c, total)) {
        return SB_E_AGAIN;
    }
    uint8_t hdr[14];
    size_t hl = ws_frame_header(hdr, true, binary ? WS_OP_BINARY : WS_OP_TEXT, total, NULL);
    if (conn_worker(c)->corked) {
        if (cork_frame(c, hdr, hl, prefix, prefix_len, shared, suffix, suffix_len) < 0) {
            /* Out of memory with part of a frame gathered: the stream cannot go on. */
            cork_forget(c);
            conn_close(c);
            return SB_E_NOMEM;
        }
        conn_worker(c)->frames_sent++;
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
