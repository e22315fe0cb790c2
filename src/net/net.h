/*
 * The network layer: libuv event loops (one per worker thread, each with its own
 * SO_REUSEPORT listener), HTTP/1.1 connections and WebSocket connections.
 *
 * Threads. net_server_start() runs `workers` loop threads. Each connection belongs to the
 * loop that accepted it, for its whole life; every callback below fires on that loop's
 * thread. Other threads reach a loop only through net_worker_post().
 *
 * HTTP. A connection parses one request at a time; while a request is in flight the next
 * (pipelined) request waits, so responses go out in request order, and while more than
 * ws_max_queue bytes of answers are unwritten no further request is read (back-pressure). The
 * request callback must eventually call net_respond() exactly once, on the connection's loop thread
 * (from a work item: uv_queue_work on net_request_loop(), whose after-callback runs on the loop).
 *
 * WebSocket. net_upgrade() answers 101 and turns the connection into a WebSocket whose
 * messages go to a struct net_ws_handler. Outgoing frames are queued with a byte cap; a
 * connection whose queue would exceed it is closed with 4008 (slow consumer).
 */
#ifndef SB_NET_NET_H
#define SB_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http/http_parse.h"
#include "net/ws/ws_codec.h"

struct net_server;
struct net_worker;
struct net_conn;

struct net_config {
    char host[64];
    int port;                  /* 0: any free port (see net_server_port) */
    unsigned workers;          /* loop threads, >= 1 */
    struct http_limits limits; /* request limits (DESIGN §8) */
    /* Every cap below is named, with its default and config key, in base/limits.h. */
    int64_t header_timeout_ms;     /* whole request head must arrive within this */
    int64_t body_timeout_ms;       /* body: time between reads, and the base total time */
    size_t body_min_rate;          /* body: bytes per second that extend the total by 1 s */
    int64_t idle_timeout_ms;       /* keep-alive idle, or output stuck while reading paused */
    int64_t close_timeout_ms;      /* a close whose peer takes nothing is reset after this */
    int64_t ws_idle_timeout_ms;    /* WebSocket with no frame from the peer */
    size_t ws_max_message;         /* WebSocket message limit (close 1009) */
    size_t ws_max_queue;           /* outbound bytes queued per connection (4008; HTTP pauses) */
    size_t max_connections;        /* per worker; beyond it new connections are closed at once */
    size_t max_connections_per_ip; /* over all workers, 0: no limit; beyond it 429 */
    const char *tls_cert;          /* PEM chain; with tls_key, serve https and wss only */
    const char *tls_key;
};

void net_config_default(struct net_config *out);

/* A parsed HTTP request; owned by the connection until net_respond(). */
struct net_request {
    struct net_conn *conn;
    struct net_worker *worker;
    struct http_head head;
    const char *body; /* NUL-terminated, body_len bytes (decoded if chunked) */
    size_t body_len;
    char ip[48];         /* peer address, no port */
    char request_id[37]; /* a UUID, also sent back as X-Request-Id */
    int64_t start_mono_ms;
    void *route; /* for the request handler's use (e.g. the matched route, for metrics) */
};

/* Called on the connection's loop thread for every complete request. */
typedef void (*net_request_cb)(struct net_request *req, void *arg);

struct net_response {
    int status;
    const char *content_type; /* NULL: no body headers beyond Content-Length */
    const char *headers;      /* extra header lines, each ending in "\r\n", or NULL */
    const char *body;         /* may be NULL when body_len is 0 */
    size_t body_len;
    bool body_owned; /* net frees body with free() after sending */
    bool close;      /* close the connection after this response */
};

/*
 * Send the response for req and release req. For HEAD the body is not sent but
 * Content-Length is. Security headers (nosniff, Referrer-Policy, CSP, X-Request-Id) are
 * added here for every response.
 */
void net_respond(struct net_request *req, const struct net_response *resp);

/*
 * Streamed responses, for bodies too large to hold in memory. net_stream_begin() sends the
 * head of resp (its body is ignored) with Transfer-Encoding: chunked (HTTP/1.0: no length,
 * the connection closes at the end); net_stream_write() sends one piece of the body (takes
 * ownership of data: freed with free()); net_stream_end() finishes the response and releases
 * req like net_respond(), or with ok false closes the connection without the final chunk,
 * so the client sees a cut body. All on the connection's loop thread. A write to a connection
 * that is gone returns SB_E_IO (the caller still ends the stream).
 * net_stream_queued() is the bytes not yet written; net_stream_on_drain() calls fn(arg) once
 * when they reach 0 (whether written or dropped because the connection failed); call it only
 * while net_stream_queued() > 0.
 */
void net_stream_begin(struct net_request *req, const struct net_response *resp);
int net_stream_write(struct net_request *req, char *data, size_t len);
size_t net_stream_queued(struct net_request *req);
void net_stream_on_drain(struct net_request *req, void (*fn)(void *arg), void *arg);
void net_stream_end(struct net_request *req, bool ok);

/* The loop that owns req's connection (for uv_queue_work). */
uv_loop_t *net_request_loop(struct net_request *req);

/* Value of request header name, or NULL. */
const struct http_slice *net_request_header(const struct net_request *req, const char *name);

/* WebSocket side. Every callback fires on the connection's loop thread. */
struct net_ws_handler {
    /* A complete text (binary=false) or binary message. The data is valid during the call. */
    void (*on_message)(struct net_conn *conn, void *user, bool binary, const uint8_t *data,
                       size_t len);
    /* The connection is gone (peer close, error, slow consumer, shutdown). After this call
     * net never touches user again; the handler frees it here. */
    void (*on_close)(struct net_conn *conn, void *user, uint16_t code);
};

/*
 * Answer req with 101 Switching Protocols (the caller has validated the request with
 * net_ws_check) and make the connection a WebSocket served by handler with user. Releases
 * req. Returns the connection (valid until on_close).
 */
struct net_conn *net_upgrade(struct net_request *req, const struct net_ws_handler *handler,
                             void *user);

/*
 * Check a WebSocket upgrade request (RFC 6455 §4.2.1). Returns 0 when valid, else the HTTP
 * status to answer (400, or 426 for a wrong Sec-WebSocket-Version).
 */
int net_ws_check(const struct net_request *req);

/* A refcounted immutable byte string shared by many frames (the fan-out's event data). */
struct net_shared {
    int refs; /* atomic */
    size_t len;
    char data[];
};
struct net_shared *net_shared_new(const void *data, size_t len);
/* One shared string made of a, b and c in that order (a frame built once for many: prefix,
 * event data, suffix) without an intermediate copy; any part may be empty. */
struct net_shared *net_shared_concat(const void *a, size_t a_len, const void *b, size_t b_len,
                                     const void *c, size_t c_len);
void net_shared_ref(struct net_shared *s);
void net_shared_unref(struct net_shared *s);

/*
 * Queue one message made of prefix + shared (may be NULL) + suffix as a single WebSocket
 * frame (text or binary). Only small per-subscriber bytes are copied; the shared part is
 * referenced. Returns 0, or SB_E_AGAIN when the queue cap was exceeded (the connection is
 * then being closed with 4008) or SB_E_IO when the connection is closing.
 */
int net_ws_send(struct net_conn *conn, bool binary, const char *prefix, size_t prefix_len,
                struct net_shared *shared, const char *suffix, size_t suffix_len);
/*
 * A whole WebSocket frame (header and the payload a, b, c in that order) built once, to be
 * sent to many connections with net_ws_send_frame: each of them then costs one reference, no
 * header or copy of its own.
 */
struct net_shared *net_ws_frame_new(bool binary, const void *a, size_t a_len, const void *b,
                                    size_t b_len, const void *c, size_t c_len);
/* Queue a frame made by net_ws_frame_new; returns like net_ws_send. */
int net_ws_send_frame(struct net_conn *conn, struct net_shared *frame);
/* Start the close handshake with code and reason; on_close follows. */
void net_ws_close(struct net_conn *conn, uint16_t code, const char *reason);
/* The worker owning conn. */
struct net_worker *net_conn_worker(struct net_conn *conn);
/* Bytes currently queued for sending on conn. */
size_t net_conn_queued(struct net_conn *conn);

/* Run fn(arg) on worker's loop thread soon. Thread-safe. */
typedef void (*net_task_fn)(void *arg);
void net_worker_post(struct net_worker *w, net_task_fn fn, void *arg);
/* Index of the worker (0..workers-1) and its loop. */
unsigned net_worker_index(const struct net_worker *w);
uv_loop_t *net_worker_loop(struct net_worker *w);

/* Called on each worker's loop thread once at start (init per-loop state) and at stop. */
struct net_hooks {
    net_request_cb on_request;
    void *arg;
    void (*on_worker_start)(struct net_worker *w, void *arg);
    void (*on_worker_stop)(struct net_worker *w, void *arg);
};

/*
 * Bind and listen (errors here are reported before any thread starts: SB_E_IO with a log
 * line naming the address), then start the loop threads.
 */
int net_server_start(const struct net_config *cfg, const struct net_hooks *hooks,
                     struct net_server **out);
int net_server_port(const struct net_server *s);
unsigned net_server_workers(const struct net_server *s);
struct net_worker *net_server_worker(struct net_server *s, unsigned i);
/*
 * Graceful stop: close the listeners (new connections are refused), let in-flight requests
 * finish for up to drain_ms, close idle keep-alive connections and WebSockets (1001), then
 * stop and join the loop threads and free everything. Call from the main thread.
 */
void net_server_stop(struct net_server *s, int64_t drain_ms);

/* Process-wide gauges for /metrics. */
struct net_stats {
    uint64_t connections_open;
    uint64_t ws_open;
    uint64_t ws_queued_bytes;
    uint64_t ws_slow_closes;
    uint64_t ws_frames_sent;
    uint64_t ws_passes; /* passes writing gathered frames (frames_sent / passes: batching) */
    uint64_t accepted_total;
};
void net_stats_get(struct net_stats *out);

#endif
