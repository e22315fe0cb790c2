/*
 * Internals shared by server.c (loops, HTTP connections) and ws.c (WebSocket connections).
 * Not for use outside src/net/.
 */
#ifndef SB_NET_NET_INT_H
#define SB_NET_NET_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/buf.h"
#include "net/net.h"

enum conn_state {
    CONN_HEAD = 0, /* reading a request head (or idle between requests) */
    CONN_BODY,     /* reading a request body */
    CONN_BUSY,     /* a request is with the handler; reading paused */
    CONN_WS,       /* WebSocket */
    CONN_LINGER,   /* our side shut down; discarding input until the peer closes */
    CONN_CLOSED,   /* uv_close called */
};

enum conn_timeout { TIMEOUT_HEADER = 1, TIMEOUT_BODY, TIMEOUT_IDLE };

/* A part of a WebSocket frame gathered while its worker is corked (ws.c): bytes of a shared
 * object, or (shared NULL) of its round's bytes. next: the connection's next part
 * (index + 1, 0 at the end). */
struct ws_seg {
    struct net_shared *shared;
    uint32_t off, len;
    uint32_t next;
};

/* WebSocket frames gathered while the worker runs posted tasks (ws.c): the parts, chained
 * per connection; the small bytes they point into; the connections in the order they were
 * listed (NULL: gone); one reference per shared object. The arrays keep their capacity from
 * round to round, so fanning out allocates nothing. */
struct ws_round {
    struct ws_seg *segs;
    uint32_t nsegs, segcap;
    struct net_conn **conns;
    uint32_t nconns, conns_cap;
    struct net_shared **pins;
    uint32_t npins, pincap;
    struct buf bytes; /* frame headers, prefixes and suffixes */
};

/* The HTTP side of a connection: input, the request being read, its body. Separate from
 * struct net_conn so that a WebSocket (which lives long and idles) does not carry it. */
struct conn_http {
    struct buf in;
    struct http_head head;
    size_t head_len;
    const char *head_at; /* in.data when the head was parsed (its slices point there) */
    size_t req_len;      /* head + body bytes of the request in flight */
    size_t body_off;
    struct http_chunked chunked;
    struct buf body;
    struct buf pending;      /* TLS: plaintext that arrived while a request was in flight */
    int64_t body_start_ms;   /* when the body of the request being read started */
    size_t body_rx;          /* body bytes received so far (for the minimum rate) */
    struct net_request *req; /* the request in flight, or NULL */
    /* A streamed response (net_stream_*) in progress */
    void (*on_drain)(void *arg); /* once, when queued drops to 0 */
    void *drain_arg;
    uint8_t ip[16]; /* peer address (IPv4 as v4-mapped IPv6), for the requests' ip */
    bool streaming;
    bool stream_chunked;   /* Transfer-Encoding: chunked (HTTP/1.1), else close-delimited */
    bool stream_head_only; /* HEAD: the body is not sent */
    bool stream_keep;
};

struct ws_reader;

/* The WebSocket side of a connection (ws.c), inside struct net_conn: an idle WebSocket costs
 * no allocation beyond its connection. */
struct net_ws_state {
    /* First what every fanned-out frame reads and writes (one cache line per delivery). */
    uint32_t cork_head, cork_tail; /* parts gathered (rounds[cork_round].segs index + 1), or 0 */
    /* Low 32 bits of the monotonic clock (ms) at the last frame from the peer; compared
     * modulo 2^32 (ws_conn_sweep). */
    uint32_t last_rx_ms;
    uint16_t close_code;
    uint8_t handler; /* index in the worker's ws_handlers */
    bool on : 1;     /* the connection is (or was) a WebSocket */
    bool close_sent : 1;
    bool notified : 1;    /* the handler's on_close called */
    bool cork_listed : 1; /* in rounds[cork_round].conns, not yet reached by its pass */
    bool cork_round : 1;  /* which of the worker's two rounds holds its chain */
    /* Only while a frame or a fragmented message is partly read; between messages the
     * connection holds no reader (ws_conn_on_data borrows the worker's spare one). */
    struct ws_reader *reader;
};

struct ip_count;

/* The most a connection may queue (struct net_conn counts it in 32 bits). */
#define NET_MAX_QUEUE_CAP ((size_t)1 << 30)

/* One TCP connection. Owned by its worker's loop thread. The worker finds its connections
 * by walking its loop's handles (every TCP handle but the listener is the first member of a
 * struct net_conn), so they need no list of their own. Every byte here is paid by each idle
 * WebSocket: what only HTTP needs lives in struct conn_http, freed on upgrade. */
struct net_conn {
    uv_tcp_t tcp;
    /* What every fanned-out frame reads (net_ws_send, cork_frame), kept together so that a
     * delivery touches one cache line of the connection, not three (the worker is found
     * from tcp.loop, conn_worker). */
    uint32_t queued;  /* bytes handed to uv_write and not yet written (conn_submit bounds it) */
    uint32_t wq_mark; /* unacknowledged output at the last progress check (saturating) */
    struct net_ws_state ws;
    uint32_t deadline; /* low 32 bits of the monotonic ms clock (conn_deadline_*) */
    uint8_t state;
    uint8_t timeout_kind;
    bool has_deadline : 1;
    bool processing : 1;    /* inside conn_process (no re-entry) */
    bool handle_closed : 1; /* uv_close finished while a request was in flight */
    bool out_paused : 1;    /* HTTP: not reading requests until the output queue drains */
    bool shutting : 1;      /* uv_shutdown pending: our last bytes are not all written yet */
    union {
        struct conn_http *http; /* HTTP (!ws.on); freed when the connection becomes a WebSocket */
        void *ws_user;          /* WebSocket (ws.on): the handler's user pointer */
    };
    struct tls_conn *tls; /* NULL on plain connections */
    struct ip_count *ipc; /* the server's count of the peer address this one holds, or NULL */
};

/* A connection's deadline is kept in 32 bits and compared modulo 2^32, like ws.last_rx_ms:
 * every timeout is far shorter than 24 days, and the sweep looks at each connection every
 * second, so a deadline is seen long before it could wrap. */
static inline void conn_deadline_set(struct net_conn *c, int64_t at_ms)
{
    c->deadline = (uint32_t)at_ms;
    c->has_deadline = true;
}

static inline void conn_deadline_clear(struct net_conn *c)
{
    c->has_deadline = false;
}

static inline bool conn_deadline_passed(const struct net_conn *c, int64_t now_ms)
{
    return c->has_deadline && (int32_t)((uint32_t)now_ms - c->deadline) >= 0;
}

#define NET_WS_HANDLERS 8 /* distinct struct net_ws_handler per worker */

struct task;
struct tls_conn;
struct tls_ctx;

struct net_worker {
    struct net_server *server;
    unsigned index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    int listen_fd;
    bool listening;
    uv_async_t async;
    uv_timer_t sweep;
    pthread_mutex_t task_lock;
    struct task *task_head, *task_tail;
    size_t nconns;
    int stopping;              /* loop thread's view: 1 draining, 2 stopping */
    atomic_int stop_request;   /* set by net_server_stop */
    struct http_field *fields; /* scratch for parsing, cfg.limits.max_fields entries */
    bool corked;               /* running posted tasks: WebSocket frames are gathered */
    /* Frames gathered for WebSockets (ws.c): rounds[gather] takes new connections; while
     * `flushing`, the other one is being written, one slice per turn of the loop (flush_idle),
     * from flush_pos. */
    struct ws_round rounds[2];
    uint8_t gather;
    bool flushing;
    uint32_t flush_pos;
    uv_idle_t flush_idle;
    uint64_t passes;        /* passes started since they were last counted (ws.c) */
    uv_prepare_t log_flush; /* writes the lines this loop held (log_thread_hold) each turn */
    uv_buf_t *iov;          /* scratch for writing one connection's parts */
    struct net_shared **iov_owner;
    uint32_t iovcap;
    uint64_t frames_sent; /* WebSocket frames since the last uncork (counted once per round) */
    struct ws_reader *spare_reader; /* lent to a WebSocket while it reads (ws_conn_on_data) */
    /* The handlers of this loop's WebSockets (a program has one or two), so that a connection
     * keeps a one-byte index instead of a pointer. */
    const struct net_ws_handler *ws_handlers[NET_WS_HANDLERS];
    unsigned nws_handlers;
    char readbuf[64 * 1024];
    char tlsbuf[16 * 1024]; /* decrypted plaintext, one TLS record at a time */
};

/* The worker owning c: the one whose loop runs c's handle (no pointer of its own). */
static inline struct net_worker *conn_worker(const struct net_conn *c)
{
    return (struct net_worker *)(void *)((char *)c->tcp.loop - offsetof(struct net_worker, loop));
}

/* c's HTTP state, NULL once it is a WebSocket. */
static inline struct conn_http *conn_http_state(const struct net_conn *c)
{
    return c->ws.on ? NULL : c->http;
}

/* Open connections per peer address, over all workers (cfg.max_connections_per_ip). */
#define NET_IP_BUCKETS 1024
struct ip_count {
    struct ip_count *next;
    uint8_t ip[16];
    size_t n;
};

struct net_server {
    struct net_config cfg;
    pthread_mutex_t ip_lock;
    struct ip_count *ip_buckets[NET_IP_BUCKETS];
    struct net_hooks hooks;
    struct net_worker **workers;
    unsigned nworkers;
    int port;
    int family;          /* of the listen address: AF_INET peers are always IPv4 */
    struct tls_ctx *tls; /* NULL without TLS */
};

struct net_counters {
    atomic_uint_fast64_t connections_open;
    atomic_uint_fast64_t ws_open;
    atomic_uint_fast64_t ws_queued_bytes; /* all connections' unwritten bytes */
    atomic_uint_fast64_t ws_slow_closes;
    atomic_uint_fast64_t ws_frames_sent;
    atomic_uint_fast64_t ws_passes;
    atomic_uint_fast64_t accepted_total;
};
extern struct net_counters net_counters;

void worker_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
void conn_process(struct net_conn *c);
void conn_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
void conn_close(struct net_conn *c);
/* Close at once with a TCP reset (SO_LINGER 0): the kernel drops what we had queued. */
void conn_reset(struct net_conn *c, const char *why);
void conn_close_after_write(struct net_conn *c);
void conn_free(struct net_conn *c);
void conn_http_free(struct conn_http *h);
/* Write bytes as they are (ciphertext on TLS connections); takes ownership of data. */
int conn_write_raw(struct net_conn *c, char *data, size_t len);
/* Write small + shared + small2 + owned (taken over) in order; small and small2 may live on
 * the caller's stack, shared stays the caller's reference (conn_write_parts). */
int conn_write(struct net_conn *c, const char *small, size_t small_len, struct net_shared *shared,
               const char *small2, size_t small2_len, char *owned, size_t owned_len);
/* owner[i] of a part that points into the owned buffer of conn_write_parts. */
#define NET_PART_OWNED ((struct net_shared *)1)
/* Write parts in order: directly as far as the socket takes them, the rest queued. owner[i]:
 * NULL for transient bytes (copied if they must wait), the net_shared the part points into
 * (referenced if it must wait; the caller keeps its own reference) or NET_PART_OWNED. owned
 * is taken over (freed once written). */
int conn_write_parts(struct net_conn *c, const uv_buf_t *parts, unsigned n,
                     struct net_shared *const *owner, char *owned);

/* ws.c */
/* While a worker runs its posted tasks it is corked: frames sent to a WebSocket are gathered
 * per connection and written with one writev each when the tasks are done (uncork), so a
 * loop that is behind delivers several events to a subscriber in one system call. */
void ws_worker_uncork(struct net_worker *w);
void ws_worker_flush_init(struct net_worker *w);
/* Free the spare gatherers (worker teardown). */
void ws_worker_release(struct net_worker *w);
void ws_conn_on_data(struct net_conn *c, uint8_t *data, size_t len);
void ws_conn_sweep(struct net_conn *c, int64_t now_ms);
/* The connection is closing: tell the handler (once). */
void ws_conn_closing(struct net_conn *c);
void ws_conn_release(struct net_conn *c);

#endif
