/*
 * Loops, listeners and HTTP connections.
 *
 * Each worker owns a libuv loop in its own thread, a listening socket bound with
 * SO_REUSEPORT to the common address (the kernel spreads new connections across them), an
 * async handle for tasks posted from other threads, and a sweep timer that enforces every
 * connection's deadline (header, body, idle, output stuck, close, linger) once per
 * SB_LIMIT_SWEEP_MS. Deadlines live in the connection itself instead of one uv_timer_t
 * each, which keeps an idle connection small; connections sit on an intrusive list per
 * worker. Before the workers bind, a probe bind without SO_REUSEPORT makes sure no other
 * process listens on the port (probe_port). Every cap is named in base/limits.h.
 *
 * A connection reads into its input buffer, parses one request head (http_parse.h), reads
 * the body (Content-Length or chunked), then stops reading and hands the request to the
 * request callback. net_respond() writes the response, drops the request's bytes and goes
 * on with any pipelined bytes already buffered. So responses leave in request order and
 * one slow request cannot be overtaken. While the connection's unwritten output is over
 * the queue cap, net_respond() does not go on (out_paused): a peer that pipelines without
 * reading holds at most the cap plus one answer. Errors that make the framing unsafe answer
 * and then close with a lingering close (shut down our side, discard input briefly) so the
 * client can still read the answer; a peer that takes none of our bytes for close_timeout
 * is reset instead, so every close ends.
 *
 * WebSocket connections are in ws.c; they share struct net_conn (net_int.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/rand.h"
#include "net/net_int.h"
#include "net/tls.h"

struct net_counters net_counters;

static void conn_tls_flush(struct net_conn *c);

void net_config_default(struct net_config *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->host, sizeof out->host, "127.0.0.1");
    out->port = 8080;
    out->workers = 1;
    http_limits_default(&out->limits);
    out->header_timeout_ms = SB_LIMIT_HEADER_TIMEOUT_MS;
    out->body_timeout_ms = SB_LIMIT_BODY_TIMEOUT_MS;
    out->body_min_rate = SB_LIMIT_BODY_MIN_RATE;
    out->idle_timeout_ms = SB_LIMIT_IDLE_TIMEOUT_MS;
    out->close_timeout_ms = SB_LIMIT_CLOSE_TIMEOUT_MS;
    out->ws_idle_timeout_ms = SB_LIMIT_WS_IDLE_TIMEOUT_MS;
    out->ws_max_message = SB_LIMIT_WS_MESSAGE;
    out->ws_max_queue = SB_LIMIT_OUT_QUEUE;
    out->max_connections = SB_LIMIT_CONNECTIONS_PER_WORKER;
    out->max_connections_per_ip = SB_LIMIT_CONNECTIONS_PER_IP;
}

void net_stats_get(struct net_stats *out)
{
    out->connections_open = atomic_load(&net_counters.connections_open);
    out->ws_open = atomic_load(&net_counters.ws_open);
    out->ws_queued_bytes = atomic_load(&net_counters.ws_queued_bytes);
    out->ws_slow_closes = atomic_load(&net_counters.ws_slow_closes);
    out->ws_frames_sent = atomic_load(&net_counters.ws_frames_sent);
    out->ws_passes = atomic_load(&net_counters.ws_passes);
    out->accepted_total = atomic_load(&net_counters.accepted_total);
}

/* ---- connections per peer address ---- */

static size_t ip_hash(const uint8_t ip[16])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 16; i++) {
        h = (h ^ ip[i]) * 1099511628211ull;
    }
    return (size_t)(h % NET_IP_BUCKETS);
}

/* Count one more connection from ip unless that passes the cap; false when it would. *out:
 * the count to give back with ip_release (NULL without a cap). */
static bool ip_acquire(struct net_server *s, const uint8_t ip[16], struct ip_count **out)
{
    size_t cap = s->cfg.max_connections_per_ip;
    *out = NULL;
    if (!cap) {
        return true;
    }
    size_t b = ip_hash(ip);
    bool ok = true;
    pthread_mutex_lock(&s->ip_lock);
    struct ip_count *e = s->ip_buckets[b];
    while (e && memcmp(e->ip, ip, 16) != 0) {
        e = e->next;
    }
    if (!e) {
        e = xcalloc(1, sizeof *e);
        memcpy(e->ip, ip, 16);
        e->next = s->ip_buckets[b];
        s->ip_buckets[b] = e;
    }
    if (e->n >= cap) {
        ok = false;
    } else {
        e->n++;
        *out = e;
    }
    pthread_mutex_unlock(&s->ip_lock);
    return ok;
}

static void ip_release(struct net_server *s, struct ip_count *e)
{
    pthread_mutex_lock(&s->ip_lock);
    if (--e->n == 0) {
        struct ip_count **pp = &s->ip_buckets[ip_hash(e->ip)];
        while (*pp != e) {
            pp = &(*pp)->next;
        }
        *pp = e->next;
        free(e);
    }
    pthread_mutex_unlock(&s->ip_lock);
}

/* The peer's address as 16 bytes (IPv4 as v4-mapped IPv6). */
static void conn_peer_ip(struct net_conn *c, uint8_t out[16])
{
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    memset(out, 0, 16);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) != 0) {
        return;
    }
    if (sa.ss_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((struct sockaddr_in *)&sa)->sin_addr, 4);
    } else if (sa.ss_family == AF_INET6) {
        memcpy(out, &((struct sockaddr_in6 *)&sa)->sin6_addr, 16);
    }
}

/* ---- connection lifecycle ---- */

static void conn_on_closed(uv_handle_t *h)
{
    struct net_conn *c = h->data;
    c->handle_closed = true;
    if (conn_http_state(c) && c->http->req) {
        return; /* net_respond() frees the connection when the request finishes */
    }
    conn_free(c);
}

void conn_http_free(struct conn_http *h)
{
    if (h) {
        buf_release(&h->in);
        buf_release(&h->body);
        buf_release(&h->pending);
        free(h->head.fields);
        free(h);
    }
}

void conn_free(struct net_conn *c)
{
    struct net_worker *w = conn_worker(c);
    w->nconns--;
    atomic_fetch_sub(&net_counters.connections_open, 1);
    if (c->ipc) {
        ip_release(w->server, c->ipc);
    }
    conn_http_free(conn_http_state(c));
    tls_conn_free(c->tls);
    ws_conn_release(c);
    free(c);
}

void conn_close(struct net_conn *c)
{
    if (c->state == CONN_CLOSED) {
        return;
    }
    if (c->state == CONN_WS) {
        ws_conn_closing(c);
    }
    c->state = CONN_CLOSED;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, conn_on_closed);
}

/* A reset frees the socket's kernel buffers at once; used when the peer does not take what
 * we queued (a close past its deadline, output stuck while reading is paused). */
void conn_reset(struct net_conn *c, const char *why)
{
    if (c->state == CONN_CLOSED) {
        return;
    }
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    log_event(LOG_INFO, "connection reset",
              json_pack("{s:s,s:I}", "reason", why, "queued", (json_int_t)c->queued));
    conn_close(c);
}

/* Bytes we queued that the peer has not acknowledged yet: libuv's write queue plus the
 * kernel's send queue (TIOCOUTQ: unsent and unacknowledged), saturating at 32 bits. */
static uint32_t conn_unacked(struct net_conn *c)
{
    size_t n = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    uv_os_fd_t fd;
    int outq = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, TIOCOUTQ, &outq) == 0 &&
        outq > 0) {
        n += (size_t)outq;
    }
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* Whether the peer took some of our bytes since the last call. Used only where nothing new
 * is queued (closing, paused), so any shrink of conn_unacked is the peer reading. */
static bool conn_made_progress(struct net_conn *c)
{
    uint32_t n = conn_unacked(c);
    bool moved = n < c->wq_mark;
    c->wq_mark = n;
    return moved;
}

static void conn_on_linger_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n < 0) {
        conn_close(s->data);
    }
}

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    struct net_conn *c = req->data;
    free(req);
    c->shutting = false;
    if (status < 0 || c->state == CONN_CLOSED) {
        conn_close(c);
        return;
    }
    conn_deadline_set(c, clock_mono_ms() + SB_LIMIT_LINGER_MS);
    uv_read_start((uv_stream_t *)&c->tcp, worker_alloc, conn_on_linger_read);
}

/* Close after everything queued has been written: shut down our side, then discard what
 * the peer still sends for a moment so it can read our answer instead of a reset. A peer
 * that does not take our bytes within close_timeout gets a reset instead (worker_sweep). */
void conn_close_after_write(struct net_conn *c)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER) {
        return;
    }
    if (c->state == CONN_WS) {
        ws_conn_closing(c);
    }
    if (c->tls) {
        tls_conn_shutdown(c->tls);
        conn_tls_flush(c);
    }
    c->state = CONN_LINGER;
    c->out_paused = false;
    conn_deadline_set(c, clock_mono_ms() + conn_worker(c)->server->cfg.close_timeout_ms);
    c->wq_mark = conn_unacked(c);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_shutdown_t *req = xmalloc(sizeof *req);
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, conn_on_shutdown) < 0) {
        free(req);
        conn_close(c);
        return;
    }
    c->shutting = true;
}

/* ---- writing ---- */

struct write_req {
    uv_write_t req;
    struct net_conn *conn;
    char *owned; /* freed after the write */
    size_t bytes;
    size_t nshared;
    struct net_shared *shared[]; /* references released after the write; conn_write keeps
                                  * its small header/prefix/suffix bytes after them */
};

static void write_req_free(struct write_req *wr)
{
    for (size_t i = 0; i < wr->nshared; i++) {
        net_shared_unref(wr->shared[i]);
    }
    free(wr->owned);
    free(wr);
}

static void conn_read_start(struct net_conn *c)
{
    uv_read_start((uv_stream_t *)&c->tcp, worker_alloc, conn_on_read);
}

/* Reading is paused for back-pressure (net_respond) and a write finished: go on with the
 * buffered and further requests once the queue is down to half the cap; until then, the
 * progress moves the deadline of a connection whose output is stuck. */
static void conn_output_drained(struct net_conn *c)
{
    const struct net_config *cfg = &conn_worker(c)->server->cfg;
    conn_deadline_set(c, clock_mono_ms() + cfg->idle_timeout_ms);
    if (c->queued > cfg->ws_max_queue / 2 || c->state != CONN_HEAD) {
        return;
    }
    c->out_paused = false;
    conn_read_start(c);
    conn_process(c);
}

static void conn_on_write(uv_write_t *r, int status)
{
    struct write_req *wr = (struct write_req *)r;
    struct net_conn *c = wr->conn;
    c->queued -= (uint32_t)wr->bytes;
    atomic_fetch_sub(&net_counters.ws_queued_bytes, wr->bytes);
    write_req_free(wr);
    if (status < 0 && c->state != CONN_CLOSED) {
        conn_close(c);
    } else if (c->out_paused) {
        conn_output_drained(c);
    }
    /* Also after a failed write: a streaming response waits for this call to learn that its
     * connection is gone and to release its work (its next write fails). */
    if (!c->queued && conn_http_state(c) && c->http->on_drain) {
        void (*fn)(void *) = c->http->on_drain;
        c->http->on_drain = NULL;
        fn(c->http->drain_arg);
    }
}

/* Queue bufs as one uv_write owned by wr (which holds its memory until the callback). */
static int conn_submit(struct net_conn *c, struct write_req *wr, uv_buf_t *bufs, unsigned n)
{
    if (wr->bytes > UINT32_MAX - c->queued) {
        /* Over 4 GiB unwritten: no peer reads that; the connection goes. */
        write_req_free(wr);
        conn_close(c);
        return SB_E_IO;
    }
    c->queued += (uint32_t)wr->bytes;
    atomic_fetch_add(&net_counters.ws_queued_bytes, wr->bytes);
    int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, bufs, n, conn_on_write);
    if (rc < 0) {
        c->queued -= (uint32_t)wr->bytes;
        atomic_fetch_sub(&net_counters.ws_queued_bytes, wr->bytes);
        write_req_free(wr);
        conn_close(c);
        return SB_E_IO;
    }
    return 0;
}

/* Write bytes exactly as given (ciphertext on TLS connections); takes ownership of data. */
int conn_write_raw(struct net_conn *c, char *data, size_t len)
{
    struct write_req *wr = xcalloc(1, sizeof *wr);
    wr->conn = c;
    wr->owned = data;
    wr->bytes = len;
    uv_buf_t buf = uv_buf_init(data, (unsigned)len);
    return conn_submit(c, wr, &buf, 1);
}

/*
 * Write parts in order: as much as the socket takes right now (uv_try_write, one writev, no
 * request and no epoll registration), then one queued uv_write for the rest. Only the rest
 * costs anything: its transient bytes (owner[i] NULL) are copied into the request, shared
 * bytes are kept by reference, and owned (which parts with owner NET_PART_OWNED point into)
 * goes with the request. owned is always taken over; the caller's references are not.
 */
int conn_write_parts(struct net_conn *c, const uv_buf_t *parts, unsigned n,
                     struct net_shared *const *owner, char *owned)
{
    if (c->state == CONN_CLOSED || c->state == CONN_LINGER) {
        free(owned);
        return SB_E_IO;
    }
    if (c->tls) {
        /* TLS encrypts per connection, so nothing is shared past this point. */
        int rc = tls_conn_encrypt(c->tls, parts, n) < 0 ? SB_E_IO : 0;
        free(owned);
        if (rc < 0) {
            conn_close(c);
            return rc;
        }
        char *out = NULL;
        size_t len = tls_conn_take_output(c->tls, &out);
        return len ? conn_write_raw(c, out, len) : 0;
    }
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        total += parts[i].len;
    }
    if (!total) {
        free(owned);
        return 0;
    }
    size_t done = 0;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
        int r = uv_try_write((uv_stream_t *)&c->tcp, parts, n);
        if (r < 0 && r != UV_EAGAIN) {
            free(owned);
            conn_close(c);
            return SB_E_IO;
        }
        done = r > 0 ? (size_t)r : 0;
    }
    if (done == total) {
        free(owned);
        return 0;
    }
    /* The rest: skip what was written, count what must be copied or referenced. */
    unsigned first = 0;
    size_t skip = done;
    while (first < n && skip >= parts[first].len) {
        skip -= parts[first].len;
        first++;
    }
    size_t copy = 0, nshared = 0;
    for (unsigned i = first; i < n; i++) {
        size_t len = parts[i].len - (i == first ? skip : 0);
        if (!owner[i]) {
            copy += len;
        } else if (owner[i] != NET_PART_OWNED) {
            nshared++;
        }
    }
    struct write_req *wr = xmalloc(sizeof *wr + nshared * sizeof wr->shared[0] + copy);
    char *bytes = (char *)&wr->shared[nshared];
    uv_buf_t stack[64];
    uv_buf_t *rest = n - first <= 64 ? stack : xmalloc((n - first) * sizeof *rest);
    unsigned m = 0;
    size_t ns = 0;
    for (unsigned i = first; i < n; i++) {
        size_t off = i == first ? skip : 0;
        char *base = parts[i].base + off;
        size_t len = parts[i].len - off;
        if (!len) {
            continue;
        }
        if (!owner[i]) {
            memcpy(bytes, base, len);
            base = bytes;
            bytes += len;
        } else if (owner[i] != NET_PART_OWNED) {
            net_shared_ref(owner[i]);
            wr->shared[ns++] = owner[i];
        }
        rest[m++] = uv_buf_init(base, (unsigned)len);
    }
    wr->conn = c;
    wr->owned = owned;
    wr->nshared = ns;
    wr->bytes = total - done;
    int rc = conn_submit(c, wr, rest, m);
    if (rest != stack) {
        free(rest);
    }
    return rc;
}

int conn_write(struct net_conn *c, const char *small, size_t small_len, struct net_shared *shared,
               const char *small2, size_t small2_len, char *owned, size_t owned_len)
{
    uv_buf_t parts[4];
    struct net_shared *owner[4];
    unsigned n = 0;
    if (small_len) {
        owner[n] = NULL;
        parts[n++] = uv_buf_init((char *)small, (unsigned)small_len);
    }
    if (shared && shared->len) {
        owner[n] = shared;
        parts[n++] = uv_buf_init(shared->data, (unsigned)shared->len);
    }
    if (small2_len) {
        owner[n] = NULL;
        parts[n++] = uv_buf_init((char *)small2, (unsigned)small2_len);
    }
    if (owned && owned_len) {
        owner[n] = NET_PART_OWNED;
        parts[n++] = uv_buf_init(owned, (unsigned)owned_len);
    }
    return conn_write_parts(c, parts, n, owner, owned);
}

size_t net_conn_queued(struct net_conn *c)
{
    return c->queued;
}

struct net_worker *net_conn_worker(struct net_conn *c)
{
    return conn_worker(c);
}

/* ---- HTTP ---- */

static const char security_headers[] =
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n"
    "Content-Security-Policy: default-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n";

/* v in decimal at out (room for 20 digits); returns the number of digits. */
static size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

/*
 * Write a complete response on c; the request (if any) is not touched. The head is measured,
 * then copied together on the stack (on the heap past 2 KiB), with no printf: it is built for
 * every request.
 */
static void conn_send_response(struct net_conn *c, const struct net_response *resp,
                               const char *request_id, bool head_only, bool keep_alive)
{
    char status[24];
    size_t status_len = resp->status >= 0
                            ? fmt_u64(status, (uint64_t)resp->status)
                            : (size_t)snprintf(status, sizeof status, "%d", resp->status);
    const char *reason = http_status_text(resp->status);
    size_t reason_len = strlen(reason);
    char length[20];
    size_t length_len = 0;
    bool streaming = c->http->streaming;
    bool chunked = streaming && c->http->stream_chunked;
    if (!streaming) {
        length_len = fmt_u64(length, resp->body_len);
    }
    size_t type_len = resp->content_type ? strlen(resp->content_type) : 0;
    size_t id_len = request_id ? strlen(request_id) : 0;
    size_t extra_len = resp->headers ? strlen(resp->headers) : 0;
    static const char te[] = "Transfer-Encoding: chunked\r\n";
    static const char end_close[] = "Connection: close\r\n\r\n";
    size_t total =
        sizeof "HTTP/1.1 " - 1 + status_len + 1 + reason_len + 2 + (chunked ? sizeof te - 1 : 0) +
        (length_len ? sizeof "Content-Length: " - 1 + length_len + 2 : 0) +
        (type_len ? sizeof "Content-Type: " - 1 + type_len + 2 : 0) + sizeof security_headers - 1 +
        (id_len ? sizeof "X-Request-Id: " - 1 + id_len + 2 : 0) + extra_len +
        (keep_alive ? 2 : sizeof end_close - 1);
    if (total > SB_LIMIT_RESPONSE_HEAD) {
        if (resp->body_owned) {
            free((void *)resp->body);
        }
        conn_close(c);
        return;
    }
    char stack[2048];
    char *head = total <= sizeof stack ? stack : xmalloc(total);
    char *o = head;
    o = PUT_LIT(o, "HTTP/1.1 ");
    o = put(o, status, status_len);
    *o++ = ' ';
    o = put(o, reason, reason_len);
    o = PUT_LIT(o, "\r\n");
    if (chunked) {
        o = PUT_LIT(o, te);
    }
    if (length_len) {
        o = PUT_LIT(o, "Content-Length: ");
        o = put(o, length, length_len);
        o = PUT_LIT(o, "\r\n");
    }
    if (type_len) {
        o = PUT_LIT(o, "Content-Type: ");
        o = put(o, resp->content_type, type_len);
        o = PUT_LIT(o, "\r\n");
    }
    o = PUT_LIT(o, security_headers);
    if (id_len) {
        o = PUT_LIT(o, "X-Request-Id: ");
        o = put(o, request_id, id_len);
        o = PUT_LIT(o, "\r\n");
    }
    if (extra_len) {
        o = put(o, resp->headers, extra_len);
    }
    o = keep_alive ? PUT_LIT(o, "\r\n") : PUT_LIT(o, end_close);
    /* A small body joins the head on the stack (one write() instead of a writev() of two
     * parts); a larger one we do not own goes as transient bytes, copied only if the socket
     * does not take it at once. */
    char *owned = NULL;
    size_t owned_len = 0;
    const char *lent = NULL;
    size_t lent_len = 0;
    if (!head_only && resp->body_len && head == stack &&
        resp->body_len <= sizeof stack - (size_t)(o - head)) {
        o = put(o, resp->body, resp->body_len);
        if (resp->body_owned) {
            free((void *)resp->body);
        }
    } else if (!head_only && resp->body_len) {
        if (resp->body_owned) {
            owned = (char *)resp->body;
            owned_len = resp->body_len;
        } else {
            lent = resp->body;
            lent_len = resp->body_len;
        }
    } else if (resp->body_owned) {
        free((void *)resp->body);
    }
    conn_write(c, head, (size_t)(o - head), NULL, lent, lent_len, owned, owned_len);
    if (head != stack) {
        free(head);
    }
}

/* Answer a request we could not parse (no struct net_request exists) and close. */
static void conn_fail(struct net_conn *c, int status, const char *code, const char *msg)
{
    char body[256];
    int n =
        snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
    char extra[64] = "";
    if (status == 426) {
        snprintf(extra, sizeof extra, "Sec-WebSocket-Version: 13\r\n");
    }
    struct net_response r = {.status = status,
                             .content_type = "application/json",
                             .headers = extra[0] ? extra : NULL,
                             .body = body,
                             .body_len = (size_t)n};
    conn_send_response(c, &r, NULL, false, false);
    log_event(LOG_INFO, "request rejected",
              json_pack("{s:i,s:s}", "status", status, "reason", msg));
    conn_close_after_write(c);
}

static const char *status_code_name(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 408:
        return "request_timeout";
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 417:
        return "expectation_failed";
    case 431:
        return "header_fields_too_large";
    case 501:
        return "not_implemented";
    case 505:
        return "http_version_not_supported";
    default:
        return "error";
    }
}

/*
 * The peer's address as text, no port. On an IPv4 listener it is made from the address kept
 * at accept (no system call per request); an IPv6 listener asks the socket, which tells an
 * IPv4 peer of a dual-stack socket (::ffff:a.b.c.d) from a native one. "" when unknown.
 */
static void conn_peer_name(struct net_conn *c, char *out, size_t len)
{
    static const uint8_t zero[16];
    out[0] = '\0';
    if (conn_worker(c)->server->family == AF_INET) {
        if (memcmp(c->http->ip, zero, sizeof zero) == 0 || len < 16) {
            return;
        }
        char *o = out;
        for (int i = 12; i < 16; i++) {
            unsigned v = c->http->ip[i];
            if (v >= 100) {
                *o++ = (char)('0' + v / 100);
            }
            if (v >= 10) {
                *o++ = (char)('0' + v / 10 % 10);
            }
            *o++ = (char)('0' + v % 10);
            *o++ = i < 15 ? '.' : '\0';
        }
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
        if (sa.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&sa, out, len);
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&sa, out, len);
        }
    }
}

static void conn_dispatch(struct net_conn *c)
{
    if ((c->http->head.chunked || c->http->head.content_length > 0) &&
        c->http->in.data != c->http->head_at) {
        /* The input buffer grew (moved) while the body arrived: point the head's slices into
         * it again by parsing the same bytes once more (only then: buffers only move when
         * they grow, and a body that came with its head in one read never moves them). */
        int st = 0;
        struct http_field *fields = c->http->head.fields;
        if (http_head_parse(c->http->in.data, c->http->head_len,
                            &conn_worker(c)->server->cfg.limits, &c->http->head,
                            conn_worker(c)->fields, &st) > 0) {
            memcpy(fields, conn_worker(c)->fields, c->http->head.nfields * sizeof *fields);
        }
        c->http->head.fields = fields;
    }
    struct net_request *req = xcalloc(1, sizeof *req);
    req->conn = c;
    req->worker = conn_worker(c);
    req->head = c->http->head;
    if (c->http->head.chunked) {
        req->body = c->http->body.data ? c->http->body.data : "";
        req->body_len = c->http->body.len;
    } else {
        req->body = c->http->in.data + c->http->head_len;
        req->body_len =
            (size_t)(c->http->head.content_length > 0 ? c->http->head.content_length : 0);
    }
    conn_peer_name(c, req->ip, sizeof req->ip);
    uuid_v4(req->request_id);
    req->start_mono_ms = clock_mono_ms();
    c->http->req = req;
    c->state = CONN_BUSY;
    conn_deadline_clear(c);
    conn_worker(c)->server->hooks.on_request(req, conn_worker(c)->server->hooks.arg);
    /* Reading goes on while the answer is outstanding: a client that waits for it sends
     * nothing, and stopping and restarting cost two epoll_ctl calls per request. Bytes that
     * do come meanwhile are set aside and stop the reading (conn_on_plain); an end of input
     * waits for the answer (conn_on_read). */
}

/*
 * When the body being read times out: body_timeout after the last read, and at the latest
 * body_timeout plus one second per body_min_rate bytes received after the body started, so
 * a peer that trickles a body cannot hold the connection however often it sends a byte.
 */
static int64_t conn_body_deadline(const struct net_conn *c, int64_t now_ms)
{
    const struct net_config *cfg = &conn_worker(c)->server->cfg;
    int64_t idle = now_ms + cfg->body_timeout_ms;
    if (!cfg->body_min_rate) {
        return idle;
    }
    int64_t total = c->http->body_start_ms + cfg->body_timeout_ms +
                    (int64_t)(c->http->body_rx / cfg->body_min_rate * 1000 +
                              c->http->body_rx % cfg->body_min_rate * 1000 / cfg->body_min_rate);
    return total < idle ? total : idle;
}

/* Parse and dispatch as many buffered requests as possible (one in flight at a time). */
void conn_process(struct net_conn *c)
{
    if (c->processing) {
        return;
    }
    c->processing = true;
    const struct net_config *cfg = &conn_worker(c)->server->cfg;
    while (!c->out_paused && (c->state == CONN_HEAD || c->state == CONN_BODY)) {
        if (c->state == CONN_HEAD) {
            if (c->http->in.len == 0) {
                break;
            }
            int status = 0;
            int rc = http_head_parse(c->http->in.data, c->http->in.len, &cfg->limits,
                                     &c->http->head, conn_worker(c)->fields, &status);
            if (rc <= 0) {
                c->http->head.fields = NULL; /* the worker's array: conn_free must not free it */
            }
            if (rc == 0) {
                if (!c->has_deadline || c->timeout_kind != TIMEOUT_HEADER) {
                    c->timeout_kind = TIMEOUT_HEADER;
                    conn_deadline_set(c, clock_mono_ms() + cfg->header_timeout_ms);
                }
                break;
            }
            if (rc < 0) {
                conn_fail(c, status ? status : 400, status_code_name(status ? status : 400),
                          "malformed request");
                break;
            }
            c->http->head_len = (size_t)rc;
            c->http->head_at = c->http->in.data;
            /* The fields outlive this call (the request may go to a worker thread). */
            struct http_field *fields = xmalloc((c->http->head.nfields + 1) * sizeof *fields);
            memcpy(fields, conn_worker(c)->fields, c->http->head.nfields * sizeof *fields);
            c->http->head.fields = fields;
            if (c->http->head.content_length > 0 &&
                (uint64_t)c->http->head.content_length > cfg->limits.max_body) {
                conn_fail(c, 413, "payload_too_large", "request body too large");
                break;
            }
            bool has_body = c->http->head.chunked || c->http->head.content_length > 0;
            if (has_body && c->http->head.expect_continue && c->http->in.len == c->http->head_len) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                conn_write(c, cont, sizeof cont - 1, NULL, NULL, 0, NULL, 0);
            }
            if (c->http->head.chunked) {
                http_chunked_init(&c->http->chunked, cfg->limits.max_body);
                buf_init(&c->http->body, cfg->limits.max_body);
                c->http->body_off = c->http->head_len;
            }
            c->state = CONN_BODY;
            c->timeout_kind = TIMEOUT_BODY;
            c->http->body_start_ms = clock_mono_ms();
            c->http->body_rx = c->http->in.len - c->http->head_len;
            conn_deadline_set(c, conn_body_deadline(c, c->http->body_start_ms));
        }
        if (c->state == CONN_BODY) {
            if (c->http->head.chunked) {
                size_t used = 0;
                int status = 0;
                int rc = http_chunked_feed(&c->http->chunked, c->http->in.data + c->http->body_off,
                                           c->http->in.len - c->http->body_off, &used,
                                           &c->http->body, &status);
                c->http->body_off += used;
                if (rc < 0) {
                    conn_fail(c, status ? status : 400, status_code_name(status ? status : 400),
                              "bad chunked body");
                    break;
                }
                if (rc == 0) {
                    break;
                }
                c->http->req_len = c->http->body_off;
            } else {
                size_t need =
                    c->http->head_len +
                    (size_t)(c->http->head.content_length > 0 ? c->http->head.content_length : 0);
                if (c->http->in.len < need) {
                    break;
                }
                c->http->req_len = need;
            }
            conn_dispatch(c);
        }
    }
    c->processing = false;
}

/* Plaintext bytes from the peer (decrypted already on TLS connections). */
static void conn_on_plain(struct net_conn *c, char *data, size_t n)
{
    if (c->state == CONN_WS) {
        ws_conn_on_data(c, (uint8_t *)data, n);
        return;
    }
    if (c->state == CONN_BUSY) {
        /* A request is in flight and points into c->http->in: keep the bytes aside until it
         * is answered (conn_request_done), and read no more meanwhile (a pipelining client
         * leaves the rest in the kernel, as before). */
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (buf_append(&c->http->pending, data, n) < 0) {
            conn_close(c);
        }
        return;
    }
    if (c->state != CONN_HEAD && c->state != CONN_BODY) {
        return;
    }
    if (c->state == CONN_BODY) {
        c->http->body_rx += n;
        conn_deadline_set(c, conn_body_deadline(c, clock_mono_ms()));
    }
    if (buf_append(&c->http->in, data, n) < 0) {
        conn_fail(c, c->state == CONN_HEAD ? 431 : 413,
                  c->state == CONN_HEAD ? "header_fields_too_large" : "payload_too_large",
                  "request too large");
        return;
    }
    conn_process(c);
}

static bool conn_is_done(struct net_conn *c)
{
    return c->state == CONN_CLOSED || c->state == CONN_LINGER;
}

/* Send whatever TLS produced (handshake records, alerts) that no write carried out. */
static void conn_tls_flush(struct net_conn *c)
{
    char *out = NULL;
    size_t n = tls_conn_take_output(c->tls, &out);
    if (n && c->state != CONN_CLOSED) {
        conn_write_raw(c, out, n);
    } else {
        free(out);
    }
}

void conn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct net_conn *c = s->data;
    if (n == UV_EOF && c->state == CONN_BUSY) {
        /* The client ended its side after its request (a half-close): the answer still goes
         * out. libuv has stopped reading; once the answer restarts it, the end comes again
         * and closes the connection then. */
        return;
    }
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0) {
        return;
    }
    if (!c->tls) {
        conn_on_plain(c, b->base, (size_t)n);
        return;
    }
    if (c->state == CONN_LINGER) {
        return;
    }
    int rc = tls_conn_input(c->tls, b->base, (size_t)n, conn_worker(c)->tlsbuf,
                            sizeof conn_worker(c)->tlsbuf, conn_on_plain, conn_is_done, c);
    conn_tls_flush(c);
    if (rc < 0 && c->state != CONN_CLOSED) {
        conn_close_after_write(c);
    }
}

void worker_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct net_conn *c = h->data;
    b->base = conn_worker(c)->readbuf;
    b->len = sizeof conn_worker(c)->readbuf;
}

const struct http_slice *net_request_header(const struct net_request *req, const char *name)
{
    return http_head_field(&req->head, name);
}

uv_loop_t *net_request_loop(struct net_request *req)
{
    return &req->worker->loop;
}

static void conn_request_done(struct net_conn *c, bool keep);

void net_respond(struct net_request *req, const struct net_response *resp)
{
    struct net_conn *c = req->conn;
    c->http->req = NULL;
    if (c->handle_closed) {
        if (resp->body_owned) {
            free((void *)resp->body);
        }
        free(req);
        conn_free(c);
        return;
    }
    if (c->state != CONN_BUSY) {
        if (resp->body_owned) {
            free((void *)resp->body);
        }
        free(req);
        return;
    }
    free(c->http->head.fields);
    c->http->head.fields = NULL;
    bool keep = req->head.keep_alive && !resp->close && !conn_worker(c)->stopping;
    conn_send_response(c, resp, req->request_id, req->head.method == HTTP_HEAD, keep);
    free(req);
    conn_request_done(c, keep);
}

/* The response on c is complete: close, or go on with the next request. */
static void conn_request_done(struct net_conn *c, bool keep)
{
    if (c->state == CONN_CLOSED) {
        return;
    }
    if (!keep) {
        conn_close_after_write(c);
        return;
    }
    buf_consume(&c->http->in, c->http->req_len);
    if (c->http->pending.len) {
        if (buf_append(&c->http->in, c->http->pending.data, c->http->pending.len) < 0) {
            conn_close(c);
            return;
        }
        buf_release(&c->http->pending);
    }
    if (c->http->head.chunked) {
        buf_release(&c->http->body);
    }
    c->state = CONN_HEAD;
    c->timeout_kind = TIMEOUT_IDLE;
    conn_deadline_set(c, clock_mono_ms() + conn_worker(c)->server->cfg.idle_timeout_ms);
    if (c->queued > conn_worker(c)->server->cfg.ws_max_queue) {
        /* Back-pressure: a peer that pipelines requests without reading the answers gets no
         * more of them read until its queue drains (conn_output_drained). */
        c->out_paused = true;
        c->wq_mark = conn_unacked(c);
        uv_read_stop((uv_stream_t *)&c->tcp);
        return;
    }
    conn_read_start(c);
    conn_process(c);
}

/* ---- streamed responses ---- */

void net_stream_begin(struct net_request *req, const struct net_response *resp)
{
    struct net_conn *c = req->conn;
    struct conn_http *h = c->http;
    h->streaming = true;
    h->stream_chunked = req->head.minor_version >= 1;
    h->stream_head_only = req->head.method == HTTP_HEAD;
    h->stream_keep =
        h->stream_chunked && req->head.keep_alive && !resp->close && !conn_worker(c)->stopping;
    if (c->handle_closed || c->state != CONN_BUSY) {
        return;
    }
    struct net_response head = *resp;
    head.body = NULL;
    head.body_len = 0;
    head.body_owned = false;
    conn_send_response(c, &head, req->request_id, true, h->stream_keep);
}

int net_stream_write(struct net_request *req, char *data, size_t len)
{
    struct net_conn *c = req->conn;
    if (c->handle_closed || c->state != CONN_BUSY) {
        free(data);
        return SB_E_IO;
    }
    if (c->http->stream_head_only || !len) {
        free(data);
        return 0;
    }
    char size[24];
    int n = 0;
    if (c->http->stream_chunked) {
        n = snprintf(size, sizeof size, "%zx\r\n", len);
        data = xrealloc(data, len + 2);
        memcpy(data + len, "\r\n", 2);
        len += 2;
    }
    return conn_write(c, size, (size_t)n, NULL, NULL, 0, data, len) < 0 ? SB_E_IO : 0;
}

size_t net_stream_queued(struct net_request *req)
{
    return req->conn->handle_closed ? 0 : req->conn->queued;
}

void net_stream_on_drain(struct net_request *req, void (*fn)(void *arg), void *arg)
{
    req->conn->http->on_drain = fn;
    req->conn->http->drain_arg = arg;
}

void net_stream_end(struct net_request *req, bool ok)
{
    struct net_conn *c = req->conn;
    struct conn_http *h = c->http;
    h->req = NULL;
    h->streaming = false;
    h->on_drain = NULL;
    if (c->handle_closed) {
        free(req);
        conn_free(c);
        return;
    }
    if (c->state != CONN_BUSY) {
        free(req);
        return;
    }
    free(c->http->head.fields);
    c->http->head.fields = NULL;
    free(req);
    if (!ok) {
        conn_close(c);
        return;
    }
    if (h->stream_chunked && !h->stream_head_only) {
        conn_write(c, "0\r\n\r\n", 5, NULL, NULL, 0, NULL, 0);
    }
    conn_request_done(c, h->stream_keep);
}

/* ---- accepting ---- */

static void worker_on_connection(uv_stream_t *server, int status)
{
    struct net_worker *w = server->data;
    if (status < 0) {
        return;
    }
    struct net_conn *c = xcalloc(1, sizeof *c);
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    w->nconns++;
    atomic_fetch_add(&net_counters.connections_open, 1);
    atomic_fetch_add(&net_counters.accepted_total, 1);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
        w->nconns > w->server->cfg.max_connections || w->stopping) {
        c->state = CONN_HEAD;
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->http = xcalloc(1, sizeof *c->http);
    buf_init(&c->http->in, w->server->cfg.limits.max_head + w->server->cfg.limits.max_body +
                               SB_LIMIT_INPUT_SLACK);
    buf_init(&c->http->pending, w->server->cfg.limits.max_head + w->server->cfg.limits.max_body);
    if (w->server->tls && !(c->tls = tls_conn_new(w->server->tls))) {
        c->state = CONN_HEAD;
        conn_close(c);
        return;
    }
    c->state = CONN_HEAD;
    conn_peer_ip(c, c->http->ip);
    if (!ip_acquire(w->server, c->http->ip, &c->ipc)) {
        /* A TLS peer has not shaken hands yet: it only sees the close. */
        if (c->tls) {
            conn_close(c);
        } else {
            conn_fail(c, 429, "too_many_connections", "too many connections from this address");
        }
        return;
    }
    c->timeout_kind = TIMEOUT_HEADER;
    conn_deadline_set(c, clock_mono_ms() + w->server->cfg.header_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, worker_alloc, conn_on_read);
}

/* The connection of handle h of w's loop, or NULL (the listener, timers, other handles, and
 * connections already closed). Every TCP handle but the listener is the first member of a
 * struct net_conn. */
static struct net_conn *handle_conn(struct net_worker *w, uv_handle_t *h)
{
    if (h->type != UV_TCP || h == (uv_handle_t *)&w->listener || uv_is_closing(h)) {
        return NULL;
    }
    struct net_conn *c = h->data;
    return c->state == CONN_CLOSED ? NULL : c;
}

struct sweep_ctx {
    struct net_worker *w;
    int64_t now;
};

static void sweep_one(uv_handle_t *h, void *arg)
{
    struct sweep_ctx *x = arg;
    int64_t now = x->now;
    struct net_conn *c = handle_conn(x->w, h);
    if (!c) {
        return;
    }
    if (c->state == CONN_WS) {
        ws_conn_sweep(c, now);
        return;
    }
    if (!conn_deadline_passed(c, now)) {
        return;
    }
    /* Output that is still moving (a slow reader) earns more time; output that is not
     * (a peer that stopped reading) is reset, which frees the kernel's buffers too. */
    if (c->state == CONN_LINGER && c->shutting && conn_made_progress(c)) {
        conn_deadline_set(c, now + conn_worker(c)->server->cfg.close_timeout_ms);
    } else if (c->state == CONN_LINGER && c->shutting) {
        conn_reset(c, "close timeout: the peer does not read");
    } else if (c->state == CONN_LINGER) {
        conn_close(c);
    } else if (c->out_paused && conn_made_progress(c)) {
        conn_deadline_set(c, now + conn_worker(c)->server->cfg.idle_timeout_ms);
    } else if (c->out_paused) {
        conn_reset(c, "output stuck: the peer does not read");
    } else if (c->state == CONN_BODY) {
        conn_fail(c, 408, "request_timeout", "request body too slow");
    } else if (c->state == CONN_HEAD && c->http->in.len > 0) {
        conn_fail(c, 408, "request_timeout", "request timeout");
    } else if (c->state == CONN_HEAD) {
        conn_close(c);
    }
}

static void worker_sweep(uv_timer_t *t)
{
    struct sweep_ctx x = {t->data, clock_mono_ms()};
    uv_walk(&x.w->loop, sweep_one, &x);
}

/* ---- tasks posted from other threads ---- */

struct task {
    struct task *next;
    net_task_fn fn;
    void *arg;
};

void net_worker_post(struct net_worker *w, net_task_fn fn, void *arg)
{
    struct task *t = xmalloc(sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&w->task_lock);
    if (w->task_tail) {
        w->task_tail->next = t;
    } else {
        w->task_head = t;
    }
    w->task_tail = t;
    pthread_mutex_unlock(&w->task_lock);
    uv_async_send(&w->async);
}

static void close_idle_one(uv_handle_t *h, void *arg)
{
    struct net_conn *c = handle_conn(arg, h);
    if (!c) {
        return;
    }
    if (c->state == CONN_HEAD && c->http->in.len == 0) {
        conn_close(c);
    } else if (c->state == CONN_WS) {
        net_ws_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
    }
}

static void worker_close_idle(struct net_worker *w)
{
    uv_walk(&w->loop, close_idle_one, w);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    struct net_worker *w = arg;
    if (uv_is_closing(h)) {
        return;
    }
    /* Every TCP handle but the listener is the first member of a struct net_conn. */
    if (h->type == UV_TCP && h != (uv_handle_t *)&w->listener) {
        conn_close(h->data);
        return;
    }
    uv_close(h, NULL);
}

static void worker_on_async(uv_async_t *a)
{
    struct net_worker *w = a->data;
    pthread_mutex_lock(&w->task_lock);
    struct task *t = w->task_head;
    w->task_head = w->task_tail = NULL;
    pthread_mutex_unlock(&w->task_lock);
    w->corked = true;
    while (t) {
        struct task *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
    }
    w->corked = false;
    ws_worker_uncork(w);
    int stopping = atomic_load(&w->stop_request);
    if (stopping >= 1 && !w->stopping) {
        w->stopping = 1;
        if (w->listening) {
            uv_close((uv_handle_t *)&w->listener, NULL);
            w->listening = false;
        }
        worker_close_idle(w);
    }
    if (stopping >= 2 && w->stopping < 2) {
        w->stopping = 2;
        if (w->server->hooks.on_worker_stop) {
            w->server->hooks.on_worker_stop(w, w->server->hooks.arg);
        }
        uv_walk(&w->loop, walk_close, w);
    }
}

/* Before the loop waits for I/O: write the log lines of this turn (one write for a burst of
 * requests; log_thread_hold). */
static void worker_log_flush(uv_prepare_t *p)
{
    (void)p;
    log_thread_flush();
}

static void worker_run(void *arg)
{
    struct net_worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "sb-worker-%u", w->index);
    pthread_setname_np(pthread_self(), name);
    log_thread_hold(true);
    if (w->server->hooks.on_worker_start) {
        w->server->hooks.on_worker_start(w, w->server->hooks.arg);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    log_thread_hold(false);
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *sa)
{
    const char *h = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    if (uv_ip4_addr(h, port, (struct sockaddr_in *)sa) == 0) {
        return 0;
    }
    if (uv_ip6_addr(h, port, (struct sockaddr_in6 *)sa) == 0) {
        return 0;
    }
    return SB_E_CONFIG;
}

static int open_listener(const struct sockaddr_storage *sa, int *fd_out)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return SB_E_IO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    socklen_t len =
        sa->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (const struct sockaddr *)sa, len) < 0 || listen(fd, SB_LIMIT_LISTEN_BACKLOG) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return SB_E_IO;
    }
    *fd_out = fd;
    return 0;
}

/*
 * Make sure the port is ours before the workers bind it with SO_REUSEPORT. Linux lets any
 * process of the same user join a SO_REUSEPORT group, so a second server on a busy port
 * would start and take half the connections. A probe socket bound without SO_REUSEPORT
 * (SO_REUSEADDR only, so TIME_WAIT leftovers do not matter) fails with EADDRINUSE while
 * anyone listens there, whether with SO_REUSEPORT or not. With port 0 the probe picks the
 * port, which *sa then names. Returns 0, or SB_E_IO with errno set.
 */
static int probe_port(struct sockaddr_storage *sa)
{
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return SB_E_IO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len =
        sa->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (const struct sockaddr *)sa, len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return SB_E_IO;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0) {
        if (sa->ss_family == AF_INET) {
            ((struct sockaddr_in *)sa)->sin_port = ((struct sockaddr_in *)&bound)->sin_port;
        } else {
            ((struct sockaddr_in6 *)sa)->sin6_port = ((struct sockaddr_in6 *)&bound)->sin6_port;
        }
    }
    close(fd);
    return 0;
}

int net_server_start(const struct net_config *cfg, const struct net_hooks *hooks,
                     struct net_server **out)
{
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    if (parse_addr(cfg->host, cfg->port, &sa) < 0) {
        log_error("invalid listen address %s", cfg->host);
        return SB_E_CONFIG;
    }
    if (probe_port(&sa) < 0) {
        if (errno == EADDRINUSE) {
            log_error("cannot listen on %s:%d: address already in use (another process holds "
                      "this port)",
                      cfg->host, cfg->port);
        } else {
            log_error("cannot listen on %s:%d: %s", cfg->host, cfg->port, strerror(errno));
        }
        return SB_E_IO;
    }
    struct tls_ctx *tls = NULL;
    if (cfg->tls_cert && *cfg->tls_cert) {
        int trc = tls_ctx_new(cfg->tls_cert, cfg->tls_key ? cfg->tls_key : "", &tls);
        if (trc < 0) {
            return trc;
        }
    }
    unsigned n = cfg->workers ? cfg->workers : 1;
    struct net_server *s = xcalloc(1, sizeof *s);
    s->family = sa.ss_family;
    s->tls = tls;
    s->cfg = *cfg;
    s->cfg.workers = n;
    if (s->cfg.ws_max_queue > NET_MAX_QUEUE_CAP) {
        s->cfg.ws_max_queue = NET_MAX_QUEUE_CAP; /* a connection counts its queue in 32 bits */
    }
    s->hooks = *hooks;
    pthread_mutex_init(&s->ip_lock, NULL);
    s->workers = xcalloc(n, sizeof *s->workers);
    s->nworkers = n;
    int rc = 0;
    for (unsigned i = 0; i < n; i++) {
        struct net_worker *w = xcalloc(1, sizeof *w);
        s->workers[i] = w;
        w->server = s;
        w->index = i;
        w->listen_fd = -1;
        if (open_listener(&sa, &w->listen_fd) < 0) {
            log_error("cannot listen on %s:%d: %s", cfg->host, s->port ? s->port : cfg->port,
                      strerror(errno));
            rc = SB_E_IO;
            break;
        }
        if (i == 0) {
            struct sockaddr_storage bound;
            socklen_t blen = sizeof bound;
            getsockname(w->listen_fd, (struct sockaddr *)&bound, &blen);
            s->port =
                ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                 : ((struct sockaddr_in6 *)&bound)->sin6_port);
            if (sa.ss_family == AF_INET) {
                ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)s->port);
            } else {
                ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)s->port);
            }
        }
    }
    if (rc < 0) {
        for (unsigned i = 0; i < n; i++) {
            if (s->workers[i] && s->workers[i]->listen_fd >= 0) {
                close(s->workers[i]->listen_fd);
            }
            free(s->workers[i]);
        }
        free(s->workers);
        tls_ctx_free(s->tls);
        pthread_mutex_destroy(&s->ip_lock);
        free(s);
        return rc;
    }
    for (unsigned i = 0; i < n; i++) {
        struct net_worker *w = s->workers[i];
        w->fields = xcalloc(cfg->limits.max_fields + 1, sizeof *w->fields);
        uv_loop_init(&w->loop);
        pthread_mutex_init(&w->task_lock, NULL);
        uv_async_init(&w->loop, &w->async, worker_on_async);
        w->async.data = w;
        uv_timer_init(&w->loop, &w->sweep);
        w->sweep.data = w;
        ws_worker_flush_init(w);
        uv_prepare_init(&w->loop, &w->log_flush);
        uv_prepare_start(&w->log_flush, worker_log_flush);
        uv_unref((uv_handle_t *)&w->log_flush);
        uv_timer_start(&w->sweep, worker_sweep, SB_LIMIT_SWEEP_MS, SB_LIMIT_SWEEP_MS);
        uv_tcp_init(&w->loop, &w->listener);
        w->listener.data = w;
        uv_tcp_open(&w->listener, w->listen_fd);
        uv_listen((uv_stream_t *)&w->listener, SB_LIMIT_LISTEN_BACKLOG, worker_on_connection);
        w->listening = true;
    }
    for (unsigned i = 0; i < n; i++) {
        uv_thread_create(&s->workers[i]->thread, worker_run, s->workers[i]);
    }
    *out = s;
    return 0;
}

int net_server_port(const struct net_server *s)
{
    return s->port;
}

unsigned net_server_workers(const struct net_server *s)
{
    return s->nworkers;
}

struct net_worker *net_server_worker(struct net_server *s, unsigned i)
{
    return i < s->nworkers ? s->workers[i] : NULL;
}

unsigned net_worker_index(const struct net_worker *w)
{
    return w->index;
}

uv_loop_t *net_worker_loop(struct net_worker *w)
{
    return &w->loop;
}

static void noop_task(void *arg)
{
    (void)arg;
}

void net_server_stop(struct net_server *s, int64_t drain_ms)
{
    for (unsigned i = 0; i < s->nworkers; i++) {
        atomic_store(&s->workers[i]->stop_request, 1);
        net_worker_post(s->workers[i], noop_task, NULL);
    }
    int64_t deadline = clock_mono_ms() + drain_ms;
    while (clock_mono_ms() < deadline) {
        if (atomic_load(&net_counters.connections_open) == 0) {
            break;
        }
        usleep(20 * 1000);
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        atomic_store(&s->workers[i]->stop_request, 2);
        net_worker_post(s->workers[i], noop_task, NULL);
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct net_worker *w = s->workers[i];
        uv_thread_join(&w->thread);
        /* Handles closed by the walk have run their callbacks; drain what is left. */
        uv_run(&w->loop, UV_RUN_DEFAULT);
        struct task *t = w->task_head;
        while (t) {
            struct task *next = t->next;
            free(t);
            t = next;
        }
        if (uv_loop_close(&w->loop) != 0) {
            log_warn("worker %u: loop closed with live handles", i);
        }
        pthread_mutex_destroy(&w->task_lock);
        ws_worker_release(w);
        free(w->fields);
        free(w);
    }
    free(s->workers);
    tls_ctx_free(s->tls);
    for (size_t b = 0; b < NET_IP_BUCKETS; b++) {
        while (s->ip_buckets[b]) {
            struct ip_count *e = s->ip_buckets[b];
            s->ip_buckets[b] = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&s->ip_lock);
    free(s);
}
