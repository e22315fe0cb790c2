/*
 * fanout: load generator for the realtime fan-out benchmark (docs/benchmarks.md).
 *
 * Three modes in one binary:
 *
 *   fanout sub   opens N WebSocket subscribers (Phoenix vsn 1.0.0) from one process with
 *                one epoll loop, joins each to realtime:bench with a postgres_changes binding
 *                on public.agent_status, heartbeats every 25 s, and for every postgres_changes
 *                frame parses the publish time embedded in data.record's reason ("bench <ns>",
 *                CLOCK_REALTIME) and adds now - then to a latency histogram; a second
 *                histogram measures from the frame's data.commit_timestamp (millisecond
 *                precision) to receipt, which leaves the publishing HTTP request out. Writes a
 *                ready file once every subscriber has joined (or failed), and a result file at
 *                the end: counters (with the process's CPU time in total and at ready, so the
 *                receive phase's CPU per frame can be told apart from the connect phase's)
 *                plus the histograms' non-empty buckets; then keeps the sockets open
 *                (heartbeating) for --linger-s or until SIGTERM.
 *   fanout pub   publishes events at a fixed rate, open loop (the schedule never waits for the
 *                server): --mode rest PATCHes /api/v1/agents/{id} (switchboard), --mode peer
 *                POSTs /publish (the peers), over --conns HTTP/1.1 keep-alive connections
 *                (default 16) with at most one request in flight on each; an event due while
 *                every connection waits for an answer is counted "late" and sent as soon as
 *                one is free, never dropped. Each carries "bench <CLOCK_REALTIME ns>" taken just
 *                before its request is written. Or (--mode ws) broadcasts on one WebSocket
 *                channel (--topic), each also carrying "q":"<--id>/<sequence>", at a fixed rate
 *                or (--rate 0) as fast as the socket takes them. Broadcast subscribers
 *                (--kind broadcast) may join several topics (--topics N:
 *                realtime:bench-0..N-1) and count, per publisher id, sequences that go
 *                backwards (duplicates or reordering: "disorder").
 *   fanout merge reads result files of several sub processes and prints one summary line
 *                (key=value) with deliveries, deliveries/s, latency percentiles and the
 *                generators' receive CPU (gen_rx_cpu_s, gen_rx_ns_per_frame).
 *
 * Build: make -C bench/fanout (plain cc, no CMake). Driven by bench/fanout/run.sh.
 *
 * Data structures: one struct conn per subscriber in a flat array; the epoll data is the
 * array index. Reads go into one shared 256 KiB buffer; the clock is read once per recv() and
 * shared by the frames in it. A complete, unfragmented text frame with an all-ASCII payload
 * (every event frame here) is taken straight from that buffer when the connection's
 * ws_reader (src/net/ws/ws_codec.c, client mode) is between messages, since it passes all of
 * the reader's checks; everything else goes through the reader, which keeps partial frames
 * itself. Event frames are recognised by the event name right after the topic, and the
 * publish time, order tag and commit timestamp are found where the servers put them (with a
 * full search when a frame has another shape). The only per-connection buffers are the
 * handshake response (until the 101) and pending output (normally empty: frames are small
 * and written directly).
 *
 * The histogram is log-linear (HDR style): exact below 128 us, then 64 sub-buckets per power
 * of two, so any value is off by less than 1.6 %; the maximum is kept exactly.
 *
 * Everything is bounded: connections in flight (--inflight), the connect phase
 * (--connect-timeout-s), the whole run (--timeout-s), the quiet time after the last
 * delivery (--idle-s), buffer sizes, and every HTTP request of the publisher (10 s, answer
 * included; a request without an answer by then fails and its connection is replaced).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "net/ws/ws_codec.h"

#define HIST_BUCKETS 4096
#define HB_INTERVAL_NS (25ull * 1000000000ull)
#define MAX_SRC 16
#define MAX_TOPICS 64 /* sub --topics / pub --id: per-publisher order is checked below this */

enum conn_state {
    C_IDLE = 0,
    C_CONNECTING,
    C_HANDSHAKE,
    C_JOINING,
    C_JOINED,
    C_FAILED,
};

struct conn {
    int fd;
    enum conn_state state;
    struct ws_reader rd;
    struct buf hs;  /* handshake response bytes until the blank line */
    struct buf out; /* bytes not yet accepted by the kernel */
    uint32_t events;
    uint32_t next_ref;
    uint64_t next_hb_ns;
    int joins_ok;       /* --topics: channels joined so far */
    uint32_t *next_seq; /* broadcast: per publisher id, the sequence number expected next */
    bool rd_mid;        /* rd holds part of a frame or message: no fast path (feed_ws) */
};

struct sub_opts {
    const char *host;
    int port;
    const char *path;
    const char *token;
    int conns;
    struct in_addr src[MAX_SRC];
    int nsrc;
    int expect;
    int inflight;
    int connect_timeout_s;
    int timeout_s;
    int idle_s;
    int linger_s;
    const char *ready_path;
    const char *out_path;
    bool broadcast; /* --kind broadcast: join for broadcasts, count "broadcast" frames */
    int topics;     /* broadcast: join realtime:bench-0 .. -(topics-1); 0: realtime:bench */
};

struct stats {
    uint64_t hist[HIST_BUCKETS];        /* publish (before the HTTP request) -> receive */
    uint64_t commit_hist[HIST_BUCKETS]; /* data.commit_timestamp (ms precision) -> receive */
    uint64_t deliveries;
    uint64_t max_lat_us;
    uint64_t min_pub_ns;
    uint64_t max_rx_ns;
    uint64_t bad_frames; /* postgres_changes frames without a parsable publish time */
    uint64_t disorder;   /* broadcasts whose publisher sequence went backwards (dup/reorder) */
    int joined;
    int failed;
    int closed; /* joined subscribers the server closed before the end */
    char first_error[256];
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64 for WebSocket mask keys (not a secret: the masks only have to vary). */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_rand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

/* Histogram bucket of a value in microseconds, and the value a bucket stands for. */
static int hist_index(uint64_t v)
{
    if (v < 128) {
        return (int)v;
    }
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 6;
    int idx = 128 + (shift - 1) * 64 + (int)((v >> shift) - 64);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t hist_value(int idx)
{
    if (idx < 128) {
        return (uint64_t)idx;
    }
    int shift = (idx - 128) / 64 + 1;
    uint64_t base = (uint64_t)(64 + (idx - 128) % 64) << shift;
    return base + ((1ull << shift) >> 1);
}

static void set_error(struct stats *st, const char *what, const void *data, size_t len)
{
    if (st->first_error[0] != '\0') {
        return;
    }
    int n = (int)(len > 160 ? 160 : len);
    snprintf(st->first_error, sizeof st->first_error, "%s: %.*s", what, n, (const char *)data);
    for (char *p = st->first_error; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
}

/* ---- subscriber side --------------------------------------------------------------- */

struct sub {
    struct sub_opts o;
    struct conn *c;
    int epfd;
    int started;  /* connections begun */
    int inflight; /* connecting, handshaking or joining */
    int settled;  /* joined or failed */
    bool ready_written;
    double ready_cpu_s; /* process CPU when the ready file was written (connect phase) */
    uint64_t last_rx_mono;
    struct stats st;
};

static void conn_update_events(struct sub *s, int i)
{
    struct conn *c = &s->c[i];
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (c->state == C_CONNECTING || c->out.len > 0) {
        ev.events |= EPOLLOUT;
    }
    epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_fail(struct sub *s, int i, const char *why, const void *data, size_t len)
{
    struct conn *c = &s->c[i];
    if (c->state == C_JOINED) {
        s->st.closed++;
    } else if (c->state != C_FAILED) {
        s->inflight--;
        s->settled++;
        s->st.failed++;
    }
    set_error(&s->st, why, data, len);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = C_FAILED;
    ws_reader_release(&c->rd);
    buf_release(&c->hs);
    buf_release(&c->out);
    free(c->next_seq);
    c->next_seq = NULL;
}

/* Write bytes, queueing what the kernel does not take. Returns false on a dead socket. */
static bool conn_write(struct sub *s, int i, const void *data, size_t len)
{
    struct conn *c = &s->c[i];
    size_t off = 0;
    if (c->out.len == 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            return false;
        }
        off = n > 0 ? (size_t)n : 0;
    }
    if (off < len) {
        if (buf_append(&c->out, (const char *)data + off, len - off) < 0) {
            return false;
        }
        conn_update_events(s, i);
    }
    return true;
}

static bool conn_send_text(struct sub *s, int i, const char *text, size_t len)
{
    uint8_t frame[1024];
    uint32_t key = next_rand();
    uint8_t mask[4];
    memcpy(mask, &key, 4);
    if (len + 14 > sizeof frame) {
        return false;
    }
    size_t h = ws_frame_header(frame, true, WS_OP_TEXT, len, mask);
    memcpy(frame + h, text, len);
    ws_mask(frame + h, len, mask, 0);
    return conn_write(s, i, frame, h + len);
}

static bool conn_send_heartbeat(struct sub *s, int i)
{
    struct conn *c = &s->c[i];
    char msg[128];
    int n =
        snprintf(msg, sizeof msg,
                 "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"payload\":{},\"ref\":\"%u\"}",
                 c->next_ref++);
    return conn_send_text(s, i, msg, (size_t)n);
}

static bool conn_send_join(struct sub *s, int i)
{
    char msg[900];
    int n;
    if (s->o.broadcast) {
        int topics = s->o.topics > 0 ? s->o.topics : 1;
        for (int k = 0; k < topics; k++) {
            char topic[32];
            if (s->o.topics > 0) {
                snprintf(topic, sizeof topic, "bench-%d", k);
            } else {
                snprintf(topic, sizeof topic, "bench");
            }
            n = snprintf(msg, sizeof msg,
                         "{\"topic\":\"realtime:%s\",\"event\":\"phx_join\",\"payload\":{"
                         "\"config\":{\"broadcast\":{\"self\":false,\"ack\":false},"
                         "\"presence\":{\"enabled\":false}},\"access_token\":\"%s\"},"
                         "\"ref\":\"1\",\"join_ref\":\"%d\"}",
                         topic, s->o.token, k + 1);
            if (n <= 0 || (size_t)n >= sizeof msg || !conn_send_text(s, i, msg, (size_t)n)) {
                return false;
            }
        }
        return true;
    }
    n = snprintf(msg, sizeof msg,
                 "{\"topic\":\"realtime:bench\",\"event\":\"phx_join\",\"payload\":{\"config\":"
                 "{\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\",\"table\":"
                 "\"agent_status\"}],\"broadcast\":{\"self\":false,\"ack\":false},"
                 "\"presence\":{\"enabled\":false}},\"access_token\":\"%s\"},\"ref\":\"1\","
                 "\"join_ref\":\"1\"}",
                 s->o.token);
    if (n < 0 || (size_t)n >= sizeof msg) {
        return false;
    }
    return conn_send_text(s, i, msg, (size_t)n);
}

static void conn_start(struct sub *s, int i)
{
    struct conn *c = &s->c[i];
    s->started++;
    s->inflight++;
    ws_reader_init(&c->rd, false, 1 << 20);
    buf_init(&c->hs, 8192);
    buf_init(&c->out, 1 << 20);
    c->next_ref = 2;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(s, i, "socket", strerror(errno), strlen(strerror(errno)));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = s->o.src[i % s->o.nsrc]};
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) {
        conn_fail(s, i, "bind", strerror(errno), strlen(strerror(errno)));
        return;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->o.port)};
    inet_pton(AF_INET, s->o.host, &dst.sin_addr);
    c->state = C_CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        conn_fail(s, i, "connect", strerror(errno), strlen(strerror(errno)));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void conn_connected(struct sub *s, int i)
{
    struct conn *c = &s->c[i];
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
        conn_fail(s, i, "connect", strerror(err), strlen(strerror(err)));
        return;
    }
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     s->o.path, s->o.host, s->o.port);
    c->state = C_HANDSHAKE;
    if (n < 0 || (size_t)n >= sizeof req || !conn_write(s, i, req, (size_t)n)) {
        conn_fail(s, i, "write", "upgrade request", 15);
        return;
    }
    conn_update_events(s, i);
}

/* The digits of "bench <ns>" at p (just after the tag); 0 when there are none. *after is
 * where they end. */
static uint64_t parse_bench(const uint8_t *p, const uint8_t *end, const uint8_t **after)
{
    uint64_t v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 19) {
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    *after = p;
    return digits > 0 ? v : 0;
}

static const char k_bench_tag[] = "\"bench ";

/* The first "bench <ns>" at or after p, 0 if none; *after: where its digits end. The tag
 * ends in the only character that is rare in these frames, a space, so memchr finds the
 * candidates (cheaper per frame than memmem). */
static uint64_t first_bench(const uint8_t *p, const uint8_t *end, const uint8_t **after)
{
    const size_t pre = sizeof k_bench_tag - 2; /* bytes before the space */
    *after = end;
    for (const uint8_t *q = p + pre; q < end; q++) {
        q = memchr(q, ' ', (size_t)(end - q));
        if (q == NULL) {
            break;
        }
        if (memcmp(q - pre, k_bench_tag, pre) == 0) {
            return parse_bench(q + 1, end, after);
        }
    }
    return 0;
}

/* The largest "bench <ns>" in the frame, 0 when there is none: the fallback for frames of an
 * unexpected shape. */
static uint64_t frame_publish_ns(const uint8_t *data, size_t len)
{
    uint64_t best = 0;
    const uint8_t *p = data;
    const uint8_t *end = data + len;
    while (p < end) {
        const uint8_t *after = end;
        uint64_t v = first_bench(p, end, &after);
        if (v > best) {
            best = v;
        }
        p = after;
    }
    return best;
}

/* Publish time of a postgres_changes frame: the "bench <ns>" of data.record (the row as
 * published; old_record carries an earlier one, and with several publisher connections
 * the server may commit them in another order than they were sent). Frames without a
 * "record" fall back to the largest "bench <ns>" anywhere. hint: where data.columns ends
 * when the frame has the usual key order (commit_timestamp, columns, record, old_record:
 * every server here), so the key is normally found by one compare; NULL to search. */
static uint64_t record_publish_ns(const uint8_t *from, const uint8_t *hint, const uint8_t *data,
                                  size_t len)
{
    static const char tag[] = "\"record\":";
    static const char next[] = "],\"record\":";
    const uint8_t *end = data + len;
    const uint8_t *hit = NULL;
    if (hint != NULL && (size_t)(end - hint) >= sizeof next - 1 &&
        memcmp(hint, next, sizeof next - 1) == 0) {
        hit = hint + 2;
    } else {
        hit = memmem(from, (size_t)(end - from), tag, sizeof tag - 1);
    }
    const uint8_t *after = end;
    uint64_t v = hit != NULL ? first_bench(hit + sizeof tag - 1, end, &after) : 0;
    return v != 0 ? v : frame_publish_ns(data, len);
}

/* n decimal digits at p, or -1. */
static int parse_fixed(const uint8_t *p, int n)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (p[k] < '0' || p[k] > '9') {
            return -1;
        }
        v = v * 10 + (p[k] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* data.commit_timestamp ("2026-11-25T10:00:00.123Z") in ns since the epoch, 0 if absent or
 * malformed. Parsed by hand (no strptime/timegm per frame). *tail: just after the value (or
 * from when it is absent), where data.columns normally follows. */
static uint64_t frame_commit_ns(const uint8_t *from, const uint8_t *end, const uint8_t **tail)
{
    static const char tag[] = "\"commit_timestamp\":\"";
    const uint8_t *hit = memmem(from, (size_t)(end - from), tag, sizeof tag - 1);
    *tail = from;
    if (hit == NULL || (size_t)(end - hit) < sizeof tag - 1 + 24) {
        return 0;
    }
    const uint8_t *t = hit + sizeof tag - 1;
    *tail = t + 24;
    int y = parse_fixed(t, 4);
    int mo = parse_fixed(t + 5, 2);
    int d = parse_fixed(t + 8, 2);
    int h = parse_fixed(t + 11, 2);
    int mi = parse_fixed(t + 14, 2);
    int sec = parse_fixed(t + 17, 2);
    int ms = parse_fixed(t + 20, 3);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        sec < 0 || sec > 60 || ms < 0 || t[4] != '-' || t[7] != '-' || t[10] != 'T' ||
        t[13] != ':' || t[16] != ':' || t[19] != '.') {
        return 0;
    }
    int64_t s = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
    return ((uint64_t)s * 1000u + (uint64_t)ms) * 1000000ull;
}

/* Where data.columns ends (its ']') when it comes next at p, else NULL: a hint for
 * record_publish_ns. Column entries are {"name":..,"type":..} with no ']' inside. */
static const uint8_t *columns_end(const uint8_t *p, const uint8_t *end)
{
    static const char tag[] = "\",\"columns\":[";
    if ((size_t)(end - p) < sizeof tag || memcmp(p, tag, sizeof tag - 1) != 0) {
        return NULL;
    }
    p += sizeof tag - 1;
    return memchr(p, ']', (size_t)(end - p));
}

static bool has(const uint8_t *data, size_t len, const char *needle)
{
    return memmem(data, len, needle, strlen(needle)) != NULL;
}

/* Where the top-level event name starts. Every server here writes a vsn 1.0.0 frame as
 * {"topic":"<topic>","event":"<name>",...; NULL when the frame does not start that way (the
 * caller then searches the whole frame, as for any unexpected shape). */
static const uint8_t *frame_event(const uint8_t *data, size_t len)
{
    static const char head[] = "{\"topic\":\"";
    static const char ev[] = ",\"event\":\"";
    const uint8_t *end = data + len;
    if (len < sizeof head - 1 || memcmp(data, head, sizeof head - 1) != 0) {
        return NULL;
    }
    const uint8_t *p = data + sizeof head - 1;
    const uint8_t *q = memchr(p, '"', (size_t)(end - p));
    if (q == NULL || q[-1] == '\\' || (size_t)(end - q) < sizeof ev ||
        memcmp(q + 1, ev, sizeof ev - 1) != 0) {
        return NULL;
    }
    return q + sizeof ev;
}

/* Whether the event name at p (from frame_event) is name (given with its closing quote). */
static bool event_is(const uint8_t *p, const uint8_t *end, const char *name, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, name, n) == 0;
}

/* A broadcast of fanout pub --mode ws carries "q":"<publisher id>/<sequence>"; a sequence
 * below the one expected next from that publisher is a duplicate or out of order (a gap
 * is a lost message, counted by the totals). from: where to start looking (just after the
 * publish time, which the publisher writes right before it). */
static void check_order(struct sub *s, struct conn *c, const uint8_t *from, const uint8_t *data,
                        size_t len)
{
    static const char tag[] = "\"q\":\"";
    static const char next[] = "\",\"q\":\""; /* right after the publish time */
    const uint8_t *end = data + len;
    const uint8_t *hit = NULL;
    if ((size_t)(end - from) >= sizeof next - 1 && memcmp(from, next, sizeof next - 1) == 0) {
        hit = from + 2;
    } else {
        hit = memmem(from, (size_t)(end - from), tag, sizeof tag - 1);
    }
    if (hit == NULL && from != data) {
        hit = memmem(data, len, tag, sizeof tag - 1);
    }
    if (hit == NULL) {
        return;
    }
    const uint8_t *p = hit + sizeof tag - 1;
    uint64_t id = 0;
    uint64_t seq = 0;
    int digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 10; p++, digits++) {
        id = id * 10 + (uint64_t)(*p - '0');
    }
    if (digits == 0 || p == end || *p != '/' || id >= MAX_TOPICS) {
        return;
    }
    p++;
    digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 10; p++, digits++) {
        seq = seq * 10 + (uint64_t)(*p - '0');
    }
    if (digits == 0 || seq > UINT32_MAX) {
        return;
    }
    if (c->next_seq == NULL) {
        c->next_seq = calloc(MAX_TOPICS, sizeof *c->next_seq);
    }
    if (seq < c->next_seq[id]) {
        s->st.disorder++;
        set_error(&s->st, "broadcast out of order", data, len);
        return;
    }
    c->next_seq[id] = (uint32_t)seq + 1;
}

/* One text message. rx: CLOCK_REALTIME read once for the recv() batch it came in. */
static void on_text(struct sub *s, int i, const uint8_t *data, size_t len, uint64_t rx)
{
    static const char bc_name[] = "broadcast\"";
    static const char pg_name[] = "postgres_changes\"";
    struct conn *c = &s->c[i];
    const uint8_t *end = data + len;
    const uint8_t *evn = frame_event(data, len);
    bool delivery;
    if (evn != NULL) {
        delivery = s->o.broadcast ? event_is(evn, end, bc_name, sizeof bc_name - 1)
                                  : event_is(evn, end, pg_name, sizeof pg_name - 1);
    } else {
        delivery =
            has(data, len,
                s->o.broadcast ? "\"event\":\"broadcast\"" : "\"event\":\"postgres_changes\"");
    }
    if (delivery) {
        const uint8_t *from = evn != NULL ? evn : data;
        const uint8_t *after = data;
        uint64_t pub;
        uint64_t commit = 0;
        if (!s->o.broadcast) {
            const uint8_t *tail = from;
            commit = frame_commit_ns(from, end, &tail);
            pub = record_publish_ns(from, columns_end(tail, end), data, len);
        } else if (evn != NULL) {
            pub = first_bench(from, end, &after); /* the publisher sends exactly one */
        } else {
            pub = frame_publish_ns(data, len);
        }
        if (pub == 0 || pub > rx + 1000000000ull) {
            s->st.bad_frames++;
            set_error(&s->st, "event without publish time", data, len);
            return;
        }
        uint64_t lat_us = (rx - (pub < rx ? pub : rx)) / 1000;
        s->st.hist[hist_index(lat_us)]++;
        if (s->o.broadcast) {
            check_order(s, c, after < end ? after : data, data, len);
        } else {
            if (commit != 0) {
                s->st.commit_hist[hist_index((rx > commit ? rx - commit : 0) / 1000)]++;
            }
        }
        s->st.deliveries++;
        if (lat_us > s->st.max_lat_us) {
            s->st.max_lat_us = lat_us;
        }
        if (s->st.min_pub_ns == 0 || pub < s->st.min_pub_ns) {
            s->st.min_pub_ns = pub;
        }
        if (rx > s->st.max_rx_ns) {
            s->st.max_rx_ns = rx;
        }
        c->events++;
        return;
    }
    if (c->state == C_JOINING && has(data, len, "\"event\":\"phx_reply\"") &&
        has(data, len, "\"ref\":\"1\"")) {
        if (has(data, len, "\"status\":\"ok\"") &&
            ++c->joins_ok < (s->o.broadcast && s->o.topics > 0 ? s->o.topics : 1)) {
            return;
        }
        if (has(data, len, "\"status\":\"ok\"")) {
            c->state = C_JOINED;
            s->inflight--;
            s->settled++;
            s->st.joined++;
        } else {
            conn_fail(s, i, "join refused", data, len);
        }
        return;
    }
    if (has(data, len, "\"event\":\"phx_close\"") || has(data, len, "\"event\":\"phx_error\"") ||
        (has(data, len, "\"event\":\"system\"") && has(data, len, "\"status\":\"error\""))) {
        set_error(&s->st, "server said", data, len);
    }
}

/* The 101 response; returns the offset of the first WebSocket byte, 0 if incomplete, -1 bad. */
static long handshake_done(struct conn *c)
{
    char *end = strstr(c->hs.data, "\r\n\r\n");
    if (end == NULL) {
        return 0;
    }
    if (strncmp(c->hs.data, "HTTP/1.1 101", 12) != 0) {
        return -1;
    }
    char accept[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept);
    if (strcasestr(c->hs.data, accept) == NULL) {
        return -1;
    }
    return (long)(end + 4 - c->hs.data);
}

/* Whether len bytes are all ASCII (and so valid UTF-8), 8 at a time. */
static bool all_ascii(const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    size_t k = 0;
    for (; k + 32 <= len; k += 32) {
        uint64_t w[4];
        memcpy(w, p + k, 32);
        acc |= w[0] | w[1] | w[2] | w[3];
    }
    for (; k + 8 <= len; k += 8) {
        uint64_t w;
        memcpy(&w, p + k, 8);
        acc |= w;
    }
    for (; k < len; k++) {
        acc |= p[k];
    }
    return (acc & 0x8080808080808080ull) == 0;
}

/* The fast path of feed_ws: a complete, unfragmented, unmasked text frame with a minimal 7- or
 * 16-bit length and an all-ASCII payload at data, while the connection's ws_reader is between
 * messages. Such a frame passes every check of the reader (client mode), so its payload is
 * handed on directly: *payload and *plen, returns the frame's size. 0: anything else (a
 * partial frame, another opcode, non-ASCII text, ...), which goes through ws_reader_feed and
 * all of its checks. */
static size_t fast_text_frame(const uint8_t *data, size_t len, const uint8_t **payload,
                              size_t *plen)
{
    if (len < 2 || data[0] != 0x81 || (data[1] & 0x80) != 0) { /* FIN + text, no RSV, no mask */
        return 0;
    }
    size_t h = 2;
    size_t n = data[1];
    if (n == 126) {
        if (len < 4) {
            return 0;
        }
        n = (size_t)data[2] << 8 | data[3];
        h = 4;
        if (n < 126) {
            return 0; /* not minimal: the reader rejects it */
        }
    } else if (n == 127) {
        return 0;
    }
    if (len - h < n || !all_ascii(data + h, n)) {
        return 0;
    }
    *payload = data + h;
    *plen = n;
    return h + n;
}

static void feed_ws(struct sub *s, int i, uint8_t *data, size_t len, uint64_t rx)
{
    while (len > 0 && s->c[i].fd >= 0) {
        struct conn *c = &s->c[i];
        const uint8_t *payload;
        size_t plen;
        size_t whole = c->rd_mid ? 0 : fast_text_frame(data, len, &payload, &plen);
        if (whole > 0) {
            data += whole;
            len -= whole;
            on_text(s, i, payload, plen, rx);
            continue;
        }
        size_t used = 0;
        struct ws_event ev;
        uint16_t code = 0;
        int rc = ws_reader_feed(&c->rd, data, len, &used, &ev, &code);
        if (rc < 0) {
            conn_fail(s, i, "ws protocol error from server", "", 0);
            return;
        }
        data += used;
        len -= used;
        if (rc == 0) {
            c->rd_mid = true; /* inside a frame or a fragmented message */
            return;
        }
        if (ev.type == WS_EV_TEXT || ev.type == WS_EV_BINARY) {
            c->rd_mid = false; /* a whole message ended: the reader is between messages */
        }
        if (ev.type == WS_EV_TEXT) {
            on_text(s, i, ev.data, ev.len, rx);
        } else if (ev.type == WS_EV_CLOSE) {
            char why[64];
            int n = snprintf(why, sizeof why, "close %u", ev.close_code);
            conn_fail(s, i, "server closed", why, (size_t)n);
            return;
        } else if (ev.type == WS_EV_PING) {
            uint8_t frame[14 + 125];
            uint8_t mask[4] = {1, 2, 3, 4};
            size_t h = ws_frame_header(frame, true, WS_OP_PONG, ev.len, mask);
            memcpy(frame + h, ev.data, ev.len);
            ws_mask(frame + h, ev.len, mask, 0);
            conn_write(s, i, frame, h + ev.len);
        }
    }
}

/* Read what the socket has: up to 8 recv() of 256 KiB each; the clock is read once per
 * recv() and shared by every frame in it. */
static void conn_readable(struct sub *s, int i)
{
    static uint8_t rbuf[256 * 1024];
    for (int rounds = 0; rounds < 8 && s->c[i].fd >= 0; rounds++) {
        struct conn *c = &s->c[i];
        ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            conn_fail(s, i, "server closed the socket", n == 0 ? "eof" : strerror(errno),
                      n == 0 ? 3 : strlen(strerror(errno)));
            return;
        }
        uint64_t rx = now_ns(CLOCK_REALTIME);
        if (c->state == C_HANDSHAKE) {
            size_t before = c->hs.len;
            if (buf_append(&c->hs, rbuf, (size_t)n) < 0) {
                conn_fail(s, i, "handshake too long", "", 0);
                return;
            }
            long off = handshake_done(c);
            if (off < 0) {
                conn_fail(s, i, "upgrade refused", c->hs.data, c->hs.len);
                return;
            }
            if (off == 0) {
                continue;
            }
            c->state = C_JOINING;
            c->next_hb_ns = now_ns(CLOCK_MONOTONIC) + HB_INTERVAL_NS;
            if (!conn_send_join(s, i)) {
                conn_fail(s, i, "write", "join", 4);
                return;
            }
            size_t rest = before + (size_t)n - (size_t)off;
            feed_ws(s, i, rbuf + (size_t)n - rest, rest, rx);
            continue;
        }
        feed_ws(s, i, rbuf, (size_t)n, rx);
        if ((size_t)n < sizeof rbuf) {
            return;
        }
    }
}

static void conn_writable(struct sub *s, int i)
{
    struct conn *c = &s->c[i];
    if (c->state == C_CONNECTING) {
        conn_connected(s, i);
        return;
    }
    if (c->out.len > 0) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            conn_fail(s, i, "write", strerror(errno), strlen(strerror(errno)));
            return;
        }
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
        }
    }
    conn_update_events(s, i);
}

/* CPU seconds (user + system) this process has used so far. */
static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void write_ready(struct sub *s)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->o.ready_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return;
    }
    fprintf(f, "joined=%d failed=%d first_error=%s\n", s->st.joined, s->st.failed,
            s->st.first_error[0] ? s->st.first_error : "-");
    fclose(f);
    rename(tmp, s->o.ready_path);
    s->ready_written = true;
    s->ready_cpu_s = self_cpu_s();
}

static void write_result(struct sub *s)
{
    FILE *f = fopen(s->o.out_path, "w");
    if (f == NULL) {
        perror(s->o.out_path);
        return;
    }
    double cpu = self_cpu_s();
    int complete = 0;
    for (int i = 0; i < s->o.conns; i++) {
        if (s->c[i].state == C_JOINED && s->c[i].events >= (uint32_t)s->o.expect) {
            complete++;
        }
    }
    fprintf(f,
            "conns %d joined %d failed %d closed %d complete %d expect %d deliveries %" PRIu64
            " bad %" PRIu64 " min_pub_ns %" PRIu64 " max_rx_ns %" PRIu64 " max_lat_us %" PRIu64
            " gen_cpu_s %.3f gen_cpu_ready_s %.3f disorder %" PRIu64 "\n",
            s->o.conns, s->st.joined, s->st.failed, s->st.closed, complete, s->o.expect,
            s->st.deliveries, s->st.bad_frames, s->st.min_pub_ns, s->st.max_rx_ns, s->st.max_lat_us,
            cpu, s->ready_cpu_s, s->st.disorder);
    fprintf(f, "error %s\n", s->st.first_error[0] ? s->st.first_error : "-");
    for (int b = 0; b < HIST_BUCKETS; b++) {
        if (s->st.hist[b] != 0) {
            fprintf(f, "%d %" PRIu64 "\n", b, s->st.hist[b]);
        }
    }
    for (int b = 0; b < HIST_BUCKETS; b++) {
        if (s->st.commit_hist[b] != 0) {
            fprintf(f, "%d %" PRIu64 "\n", HIST_BUCKETS + b, s->st.commit_hist[b]);
        }
    }
    fclose(f);
}

static bool all_complete(struct sub *s)
{
    if (s->o.expect <= 0 || s->st.joined == 0) {
        return false;
    }
    for (int i = 0; i < s->o.conns; i++) {
        if (s->c[i].state == C_JOINED && s->c[i].events < (uint32_t)s->o.expect) {
            return false;
        }
    }
    return true;
}

static void heartbeat_sweep(struct sub *s, uint64_t now)
{
    for (int i = 0; i < s->o.conns; i++) {
        struct conn *c = &s->c[i];
        if ((c->state == C_JOINING || c->state == C_JOINED) && now >= c->next_hb_ns) {
            c->next_hb_ns = now + HB_INTERVAL_NS;
            if (!conn_send_heartbeat(s, i)) {
                conn_fail(s, i, "write", "heartbeat", 9);
            }
        }
    }
}

/* One epoll round (waits at most 100 ms). */
static void pump(struct sub *s)
{
    struct epoll_event evs[1024];
    int n = epoll_wait(s->epfd, evs, 1024, 100);
    uint64_t deliveries = s->st.deliveries;
    for (int k = 0; k < n; k++) {
        int i = (int)evs[k].data.u32;
        if (s->c[i].fd < 0) {
            continue;
        }
        if (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            conn_writable(s, i);
        }
        if (s->c[i].fd >= 0 && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
            conn_readable(s, i);
        }
    }
    if (s->st.deliveries != deliveries) {
        s->last_rx_mono = now_ns(CLOCK_MONOTONIC); /* for --idle-s: once per round is enough */
    }
}

static int run_sub(struct sub_opts *o)
{
    struct sub *s = calloc(1, sizeof *s);
    s->o = *o;
    s->c = calloc((size_t)o->conns, sizeof *s->c);
    for (int i = 0; i < o->conns; i++) {
        s->c[i].fd = -1;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    uint64_t deadline = t0 + (uint64_t)o->timeout_s * 1000000000ull;
    uint64_t connect_deadline = t0 + (uint64_t)o->connect_timeout_s * 1000000000ull;
    uint64_t next_sweep = t0;
    while (!g_stop) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= deadline) {
            set_error(&s->st, "timeout", "run deadline", 12);
            break;
        }
        while (s->started < o->conns && s->inflight < o->inflight) {
            conn_start(s, s->started);
        }
        if (!s->ready_written && s->settled == o->conns) {
            write_ready(s);
        }
        if (!s->ready_written && now >= connect_deadline) {
            for (int i = 0; i < o->conns; i++) {
                enum conn_state st = s->c[i].state;
                if (st == C_IDLE) {
                    s->started++;
                    s->inflight++;
                    conn_fail(s, i, "connect phase timeout", "", 0);
                } else if (st != C_JOINED && st != C_FAILED) {
                    conn_fail(s, i, "connect phase timeout", "", 0);
                }
            }
            write_ready(s);
        }
        if (s->ready_written && all_complete(s)) {
            break;
        }
        if (s->last_rx_mono != 0 && now - s->last_rx_mono > (uint64_t)o->idle_s * 1000000000ull) {
            break;
        }
        if (now >= next_sweep) {
            heartbeat_sweep(s, now);
            next_sweep = now + 1000000000ull;
        }
        pump(s);
    }
    if (!s->ready_written) {
        write_ready(s);
    }
    write_result(s);
    /* Keep the sockets open (and alive) until told to stop, so that the caller can read the
     * server's CPU and memory before the disconnects. */
    uint64_t linger_end = now_ns(CLOCK_MONOTONIC) + (uint64_t)o->linger_s * 1000000000ull;
    while (!g_stop && now_ns(CLOCK_MONOTONIC) < linger_end) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= next_sweep) {
            heartbeat_sweep(s, now);
            next_sweep = now + 1000000000ull;
        }
        pump(s);
    }
    for (int i = 0; i < o->conns; i++) {
        if (s->c[i].fd >= 0) {
            close(s->c[i].fd);
        }
    }
    return 0;
}

/* ---- publisher ---------------------------------------------------------------------- */

struct pub_opts {
    const char *host;
    int port;
    const char *mode; /* "rest", "peer" (POST /publish) or "ws" (broadcast on a WebSocket) */
    const char *token;
    const char *agent;
    const char *path; /* ws: the upgrade path */
    int count;
    int rate;
    int conns;         /* rest/peer: keep-alive connections (requests in flight at most) */
    int pad;           /* ws: bytes of padding in each broadcast payload */
    const char *topic; /* ws: the channel (default realtime:bench) */
    int id;            /* ws: publisher id carried with each sequence number ("q":"id/seq") */
};

static int http_connect(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &dst.sin_addr);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send one masked text frame on a blocking socket. */
static int ws_send_blocking(int fd, const char *text, size_t len)
{
    static uint8_t frame[70000];
    if (len + 14 > sizeof frame) {
        return -1;
    }
    uint32_t key = next_rand();
    uint8_t mask[4];
    memcpy(mask, &key, 4);
    size_t h = ws_frame_header(frame, true, WS_OP_TEXT, len, mask);
    memcpy(frame + h, text, len);
    ws_mask(frame + h, len, mask, 0);
    size_t off = 0;
    while (off < h + len) {
        ssize_t n = send(fd, frame + off, h + len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

/* The WebSocket publisher: upgrade, join its topic for broadcasts, read the join reply.
 * Returns the socket or -1. */
static int ws_publisher_open(const struct pub_opts *o)
{
    int fd = http_connect(o->host, o->port);
    if (fd < 0) {
        return -1;
    }
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o->path, o->host, o->port);
    char resp[8192];
    size_t got = 0;
    if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    while (got < sizeof resp - 1) {
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r <= 0) {
            close(fd);
            return -1;
        }
        got += (size_t)r;
        resp[got] = '\0';
        if (strstr(resp, "\r\n\r\n")) {
            break;
        }
    }
    if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "pub: upgrade refused: %.200s\n", resp);
        close(fd);
        return -1;
    }
    char join[1200];
    n = snprintf(join, sizeof join,
                 "{\"topic\":\"%s\",\"event\":\"phx_join\",\"payload\":{\"config\":"
                 "{\"broadcast\":{\"self\":false,\"ack\":false},\"presence\":{\"enabled\":false}},"
                 "\"access_token\":\"%s\"},\"ref\":\"1\",\"join_ref\":\"1\"}",
                 o->topic, o->token ? o->token : "");
    if (n < 0 || (size_t)n >= sizeof join || ws_send_blocking(fd, join, (size_t)n) < 0) {
        close(fd);
        return -1;
    }
    got = 0;
    for (int tries = 0; tries < 20 && got < sizeof resp - 1; tries++) {
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        if (memmem(resp, got, "\"status\":\"ok\"", 13)) {
            return fd;
        }
    }
    fprintf(stderr, "pub: join refused: %.*s\n", (int)(got > 200 ? 200 : got), resp);
    close(fd);
    return -1;
}

/* Discard whatever the server sent the publisher (heartbeat replies and the like). */
static void drain_nonblocking(int fd)
{
    char tmp[65536];
    while (recv(fd, tmp, sizeof tmp, MSG_DONTWAIT) > 0) {
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- open-loop HTTP publisher (--mode rest | peer) ----------------------------------- */

#define PUB_REQ_TIMEOUT_NS (10ull * 1000000000ull) /* one request, answer included */
#define PUB_RESP_MAX 65536

/* One keep-alive connection of the HTTP publisher; at most one request in flight. */
struct hconn {
    int fd;
    int event;          /* index of the event in flight, -1 when idle */
    int tries;          /* sends of that event (a dead socket is reconnected and resent once) */
    uint64_t t_real;    /* its publish time, the one in the body (CLOCK_REALTIME) */
    uint64_t sent_mono; /* when it was first sent, for the 10 s bound */
    char req[2048];
    size_t req_len;
    size_t req_off; /* bytes of req the kernel took */
    char *resp;     /* PUB_RESP_MAX bytes */
    size_t resp_len;
};

struct hpub {
    const struct pub_opts *o;
    struct hconn *c;
    int ok;
    int failed;
    uint64_t *req_us; /* one per answered event */
    int nreq;
    uint64_t max_req_us;
    char first_fail[300];
};

/* A non-blocking keep-alive connection, or -1. */
static int hpub_connect(const struct pub_opts *o)
{
    int fd = http_connect(o->host, o->port); /* blocking connect, bounded by SO_SNDTIMEO */
    if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void hpub_fail(struct hpub *p, const char *why)
{
    p->failed++;
    if (p->first_fail[0] == '\0') {
        snprintf(p->first_fail, sizeof p->first_fail, "%s", why);
    }
}

/* Write what the kernel takes of the request in flight; false on a dead socket. */
static bool hpub_flush(struct hconn *c)
{
    while (c->req_off < c->req_len) {
        ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return true;
        }
        if (n <= 0) {
            return false;
        }
        c->req_off += (size_t)n;
    }
    return true;
}

/* Start event k on the idle connection c: the publish time is read just before the request
 * is written, and carried in its body as "bench <ns>" (what the subscribers measure from).
 * False when the socket is dead (the request fits: run_http_pub bounds token and agent). */
static bool hpub_start(struct hpub *p, struct hconn *c, int k)
{
    const struct pub_opts *o = p->o;
    char body[256];
    int blen;
    int rlen;
    c->event = k;
    c->tries = 1;
    c->resp_len = 0;
    c->req_off = 0;
    c->sent_mono = now_ns(CLOCK_MONOTONIC);
    c->t_real = now_ns(CLOCK_REALTIME);
    if (strcmp(o->mode, "rest") == 0) {
        blen = snprintf(body, sizeof body, "{\"status\":\"busy\",\"reason\":\"bench %" PRIu64 "\"}",
                        c->t_real);
        rlen = snprintf(c->req, sizeof c->req,
                        "PATCH /api/v1/agents/%s HTTP/1.1\r\nHost: %s:%d\r\n"
                        "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n%s",
                        o->agent, o->host, o->port, o->token, blen, body);
    } else {
        blen = snprintf(body, sizeof body, "{\"reason\":\"bench %" PRIu64 "\"}", c->t_real);
        rlen = snprintf(c->req, sizeof c->req,
                        "POST /publish HTTP/1.1\r\nHost: %s:%d\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                        o->host, o->port, blen, body);
    }
    if (rlen < 0 || (size_t)rlen >= sizeof c->req) {
        return false;
    }
    c->req_len = (size_t)rlen;
    return hpub_flush(c);
}

/* The connection died with a request in flight: reconnect, and resend the same request once
 * (same publish time, as the closed-loop publisher did); a second loss fails the event. */
static bool hpub_redo(struct hpub *p, struct hconn *c, const char *why)
{
    close(c->fd);
    c->fd = hpub_connect(p->o);
    if (c->fd < 0) {
        return false;
    }
    if (c->event < 0) {
        return true;
    }
    if (c->tries >= 2) {
        hpub_fail(p, why);
        c->event = -1;
        return true;
    }
    c->tries++;
    c->resp_len = 0;
    c->req_off = 0;
    if (!hpub_flush(c)) {
        return hpub_redo(p, c, why);
    }
    return true;
}

/* Read the answer; when it is complete, count it and make the connection idle. Returns false
 * when the socket is dead. */
static bool hpub_read(struct hpub *p, struct hconn *c)
{
    for (;;) {
        if (c->resp_len >= PUB_RESP_MAX - 1) {
            return false; /* an answer this big is not one of ours */
        }
        ssize_t n = recv(c->fd, c->resp + c->resp_len, PUB_RESP_MAX - 1 - c->resp_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return true;
        }
        if (n <= 0 || c->event < 0) {
            return false; /* closed, failed, or bytes nobody asked for */
        }
        c->resp_len += (size_t)n;
        c->resp[c->resp_len] = '\0';
        char *e = strstr(c->resp, "\r\n\r\n");
        if (e == NULL) {
            continue;
        }
        size_t hdr_end = (size_t)(e + 4 - c->resp);
        char *cl = strcasestr(c->resp, "\r\ncontent-length:");
        size_t want = cl != NULL && cl < e ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
        if (c->resp_len < hdr_end + want) {
            continue;
        }
        if (c->resp_len > hdr_end + want) {
            return false; /* more than one answer to one request */
        }
        int status = strncmp(c->resp, "HTTP/1.", 7) == 0 ? (int)strtol(c->resp + 9, NULL, 10) : -1;
        uint64_t req_us = (now_ns(CLOCK_REALTIME) - c->t_real) / 1000;
        if (req_us > p->max_req_us) {
            p->max_req_us = req_us;
        }
        p->req_us[p->nreq++] = req_us;
        if (status >= 200 && status < 300) {
            p->ok++;
        } else {
            char why[300];
            snprintf(why, sizeof why, "status %d body %.200s", status, c->resp + hdr_end);
            hpub_fail(p, why);
        }
        c->event = -1;
        c->resp_len = 0;
        return true;
    }
}

/* REST (PATCH /api/v1/agents/{id}) or peer (POST /publish) at a fixed rate, open loop: event k
 * is due at t0 + k / rate and goes out on an idle connection of --conns; when none is idle it
 * is counted late and sent as soon as one frees (never dropped). --rate 0: as fast as the
 * connections are answered. */
static int run_http_pub(const struct pub_opts *o)
{
    struct hpub p = {.o = o};
    int n = o->conns;
    if ((o->token ? strlen(o->token) : 0) + (o->agent ? strlen(o->agent) : 0) > 1500) {
        fprintf(stderr, "pub: token and agent id too long\n");
        return 2;
    }
    p.c = calloc((size_t)n, sizeof *p.c);
    p.req_us = calloc((size_t)o->count, sizeof *p.req_us);
    struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
    for (int k = 0; k < n; k++) {
        p.c[k].event = -1;
        p.c[k].resp = malloc(PUB_RESP_MAX);
        p.c[k].fd = hpub_connect(o);
        if (p.c[k].fd < 0) {
            fprintf(stderr, "pub: cannot connect to %s:%d\n", o->host, o->port);
            return 1;
        }
    }
    uint64_t step = o->rate > 0 ? 1000000000ull / (uint64_t)o->rate : 0;
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    int next = 0;      /* next event to send */
    int late = 0;      /* events that found no idle connection when due */
    int late_upto = 0; /* events below this were checked for lateness */
    uint64_t max_late_ns = 0;
    int rc = 0;
    while ((next < o->count || p.ok + p.failed < o->count) && !g_stop) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        int idle = 0;
        while (next < o->count && (step == 0 || t0 + (uint64_t)next * step <= now)) {
            while (idle < n && p.c[idle].event >= 0) {
                idle++;
            }
            if (idle == n) {
                /* every event due by now that still waits is late, each counted once */
                int due_last = step == 0 ? next : (int)((now - t0) / step);
                due_last = due_last < o->count - 1 ? due_last : o->count - 1;
                int from = next > late_upto ? next : late_upto;
                if (step > 0 && due_last >= from) {
                    late += due_last - from + 1;
                    late_upto = due_last + 1;
                }
                break;
            }
            uint64_t due = t0 + (uint64_t)next * step;
            if (now > due && now - due > max_late_ns) {
                max_late_ns = now - due;
            }
            if (!hpub_start(&p, &p.c[idle], next) && !hpub_redo(&p, &p.c[idle], "send failed")) {
                fprintf(stderr, "pub: reconnect failed\n");
                rc = 1;
                goto out;
            }
            next++;
        }
        int timeout_ms = 100; /* wake at the next due time (to send it or count it late) */
        if (next < o->count && step > 0) {
            uint64_t due = t0 + (uint64_t)next * step;
            uint64_t wait_ns = due > now ? due - now : 0;
            timeout_ms = (int)((wait_ns + 999999) / 1000000);
            timeout_ms = timeout_ms < 100 ? timeout_ms : 100;
        }
        for (int k = 0; k < n; k++) {
            struct hconn *c = &p.c[k];
            if (c->event >= 0 && now > c->sent_mono + PUB_REQ_TIMEOUT_NS) {
                /* no answer in 10 s: the event failed; the socket may still get that answer,
                 * so it is replaced */
                hpub_fail(&p, "no answer in 10 s");
                c->event = -1;
                if (!hpub_redo(&p, c, "timeout")) {
                    fprintf(stderr, "pub: reconnect failed\n");
                    rc = 1;
                    goto out;
                }
            }
            pfd[k].fd = c->fd;
            pfd[k].events =
                (short)(POLLIN | (c->req_off < c->req_len && c->event >= 0 ? POLLOUT : 0));
            pfd[k].revents = 0;
        }
        if (poll(pfd, (nfds_t)n, timeout_ms) <= 0) {
            continue;
        }
        for (int k = 0; k < n; k++) {
            struct hconn *c = &p.c[k];
            bool alive = true;
            if (pfd[k].revents & POLLOUT) {
                alive = hpub_flush(c);
            }
            if (alive && (pfd[k].revents & (POLLIN | POLLERR | POLLHUP))) {
                alive = hpub_read(&p, c);
            }
            if (!alive && !hpub_redo(&p, c, "connection lost")) {
                fprintf(stderr, "pub: reconnect failed\n");
                rc = 1;
                goto out;
            }
        }
    }
out:;
    double secs = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    qsort(p.req_us, (size_t)p.nreq, sizeof *p.req_us, cmp_u64);
    double p50 = p.nreq ? (double)p.req_us[p.nreq / 2] / 1000.0 : 0;
    double p99 = p.nreq ? (double)p.req_us[(p.nreq * 99) / 100] / 1000.0 : 0;
    printf("published=%d failed=%d seconds=%.2f request_p50_ms=%.1f request_p99_ms=%.1f "
           "max_request_ms=%.1f pub_conns=%d late=%d max_late_ms=%.1f first_failure=%s\n",
           p.ok, p.failed, secs, p50, p99, (double)p.max_req_us / 1000.0, n, late,
           (double)max_late_ns / 1e6, p.first_fail[0] ? p.first_fail : "-");
    for (int k = 0; k < n; k++) {
        if (p.c[k].fd >= 0) {
            close(p.c[k].fd);
        }
        free(p.c[k].resp);
    }
    free(p.c);
    free(p.req_us);
    free(pfd);
    return rc != 0 || p.failed > 0 ? 1 : 0;
}

/* The WebSocket publisher (--mode ws): broadcasts at a fixed rate on one socket, which never
 * waits for an answer (open loop). */
static int run_pub(struct pub_opts *o)
{
    if (strcmp(o->mode, "ws") != 0) {
        return run_http_pub(o);
    }
    char *padding = malloc((size_t)o->pad + 1);
    memset(padding, 'x', (size_t)o->pad);
    padding[o->pad] = '\0';
    int fd = ws_publisher_open(o);
    if (fd < 0) {
        fprintf(stderr, "pub: cannot connect to %s:%d\n", o->host, o->port);
        return 1;
    }
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    /* --rate 0: as fast as the socket takes them */
    uint64_t step = o->rate > 0 ? 1000000000ull / (uint64_t)o->rate : 0;
    int ok = 0;
    int failed = 0;
    uint64_t max_req_us = 0;
    uint64_t *req_us_all = calloc((size_t)o->count, sizeof *req_us_all);
    int nreq = 0;
    char first_fail[300] = "";
    for (int k = 0; k < o->count && !g_stop; k++) {
        uint64_t due = t0 + (uint64_t)k * step;
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (step > 0 && due > now) {
            struct timespec ts = {.tv_sec = (time_t)((due - now) / 1000000000ull),
                                  .tv_nsec = (long)((due - now) % 1000000000ull)};
            nanosleep(&ts, NULL);
        }
        uint64_t t = now_ns(CLOCK_REALTIME);
        static char msg[66000];
        int mlen = snprintf(msg, sizeof msg,
                            "{\"topic\":\"%s\",\"event\":\"broadcast\",\"payload\":"
                            "{\"type\":\"broadcast\",\"event\":\"bench\",\"payload\":{\"t\":"
                            "\"bench %" PRIu64 "\",\"q\":\"%d/%d\",\"pad\":\"%s\"}},\"ref\":null,"
                            "\"join_ref\":\"1\"}",
                            o->topic, t, o->id, k, padding);
        if (mlen < 0 || (size_t)mlen >= sizeof msg || ws_send_blocking(fd, msg, (size_t)mlen) < 0) {
            failed++;
            snprintf(first_fail, sizeof first_fail, "websocket send failed");
            break;
        }
        if (k % 64 == 0) {
            drain_nonblocking(fd);
        }
        req_us_all[nreq++] = (now_ns(CLOCK_REALTIME) - t) / 1000;
        ok++;
    }
    double secs = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    qsort(req_us_all, (size_t)nreq, sizeof *req_us_all, cmp_u64);
    double p50 = nreq ? (double)req_us_all[nreq / 2] / 1000.0 : 0;
    double p99 = nreq ? (double)req_us_all[(nreq * 99) / 100] / 1000.0 : 0;
    printf("published=%d failed=%d seconds=%.2f request_p50_ms=%.1f request_p99_ms=%.1f "
           "max_request_ms=%.1f first_failure=%s\n",
           ok, failed, secs, p50, p99, (double)max_req_us / 1000.0,
           first_fail[0] ? first_fail : "-");
    free(req_us_all);
    free(padding);
    {
        /* Close cleanly: closing with unread bytes (other senders' broadcasts on the topic)
         * would send a reset, and the server could discard our last frames unread. */
        uint8_t frame[16];
        uint8_t mask[4] = {1, 2, 3, 4};
        uint8_t code[2] = {0x03, 0xe8}; /* 1000 */
        size_t h = ws_frame_header(frame, true, WS_OP_CLOSE, sizeof code, mask);
        memcpy(frame + h, code, sizeof code);
        ws_mask(frame + h, sizeof code, mask, 0);
        if (send(fd, frame, h + sizeof code, MSG_NOSIGNAL) > 0) {
            shutdown(fd, SHUT_WR);
            char tmp[65536];
            while (recv(fd, tmp, sizeof tmp, 0) > 0) { /* until EOF or the 10 s timeout */
            }
        }
    }
    close(fd);
    return failed > 0 ? 1 : 0;
}

/* ---- merge -------------------------------------------------------------------------- */

static int run_merge(int argc, char **argv)
{
    static uint64_t hist[2 * HIST_BUCKETS]; /* publish latency, then commit latency */
    uint64_t deliveries = 0;
    uint64_t min_pub = 0;
    uint64_t max_rx = 0;
    uint64_t max_lat = 0;
    uint64_t bad = 0;
    uint64_t disorder = 0;
    long conns = 0;
    long joined = 0;
    long failed = 0;
    long closed = 0;
    long complete = 0;
    long expect = 0;
    double gen_cpu = 0;
    double gen_cpu_ready = 0;
    char error[600] = "-";
    for (int a = 0; a < argc; a++) {
        FILE *f = fopen(argv[a], "r");
        if (f == NULL) {
            perror(argv[a]);
            return 1;
        }
        long c, j, fl, cl, cp, e;
        uint64_t d, b, mp, mr, ml, dis;
        double cpu, cpu_ready;
        if (fscanf(
                f,
                "conns %ld joined %ld failed %ld closed %ld complete %ld expect %ld "
                "deliveries %" SCNu64 " bad %" SCNu64 " min_pub_ns %" SCNu64 " max_rx_ns %" SCNu64
                " max_lat_us %" SCNu64 " gen_cpu_s %lf gen_cpu_ready_s %lf disorder %" SCNu64 "\n",
                &c, &j, &fl, &cl, &cp, &e, &d, &b, &mp, &mr, &ml, &cpu, &cpu_ready, &dis) != 14) {
            fprintf(stderr, "%s: bad header\n", argv[a]);
            fclose(f);
            return 1;
        }
        char line[512];
        if (fgets(line, sizeof line, f) != NULL && strncmp(line, "error -", 7) != 0 &&
            strcmp(error, "-") == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(error, sizeof error, "%s", line + 6);
        }
        int idx;
        uint64_t cnt;
        while (fscanf(f, "%d %" SCNu64 "\n", &idx, &cnt) == 2) {
            if (idx >= 0 && idx < 2 * HIST_BUCKETS) {
                hist[idx] += cnt;
            }
        }
        fclose(f);
        conns += c;
        joined += j;
        failed += fl;
        closed += cl;
        complete += cp;
        expect = e;
        deliveries += d;
        bad += b;
        disorder += dis;
        gen_cpu += cpu;
        gen_cpu_ready += cpu_ready;
        if (mp != 0 && (min_pub == 0 || mp < min_pub)) {
            min_pub = mp;
        }
        if (mr > max_rx) {
            max_rx = mr;
        }
        if (ml > max_lat) {
            max_lat = ml;
        }
    }
    double pct[3] = {0.50, 0.90, 0.99};
    double out[2][3] = {{0, 0, 0}, {0, 0, 0}};
    for (int h = 0; h < 2; h++) {
        const uint64_t *hh = hist + h * HIST_BUCKETS;
        uint64_t total = 0;
        for (int b = 0; b < HIST_BUCKETS; b++) {
            total += hh[b];
        }
        for (int p = 0; p < 3; p++) {
            uint64_t rank = (uint64_t)((double)total * pct[p]);
            uint64_t seen = 0;
            for (int b = 0; b < HIST_BUCKETS; b++) {
                seen += hh[b];
                if (seen > rank) {
                    out[h][p] = (double)hist_value(b) / 1000.0;
                    break;
                }
            }
        }
    }
    double span = max_rx > min_pub ? (double)(max_rx - min_pub) / 1e9 : 0;
    printf("conns=%ld joined=%ld failed=%ld closed=%ld complete=%ld expected=%ld "
           "deliveries=%" PRIu64 " missing=%" PRId64 " bad=%" PRIu64 " disorder=%" PRIu64
           " span_s=%.3f "
           "deliveries_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
           "commit_p50_ms=%.2f commit_p90_ms=%.2f commit_p99_ms=%.2f gen_cpu_s=%.2f "
           "gen_rx_cpu_s=%.2f gen_rx_ns_per_frame=%.0f error=%s\n",
           conns, joined, failed, closed, complete, expect, deliveries,
           (int64_t)joined * expect - (int64_t)deliveries, bad, disorder, span,
           span > 0 ? (double)deliveries / span : 0.0, out[0][0], out[0][1], out[0][2],
           (double)max_lat / 1000.0, out[1][0], out[1][1], out[1][2], gen_cpu,
           gen_cpu - gen_cpu_ready,
           deliveries > 0 ? (gen_cpu - gen_cpu_ready) * 1e9 / (double)deliveries : 0.0, error);
    return 0;
}

/* ---- command line ------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage:\n"
            "  fanout sub --port P --path PATH --token T --conns N --src A[,A...] --expect E\n"
            "             --ready FILE --out FILE [--host H] [--inflight N] [--kind pg|broadcast]\n"
            "             [--topics N (broadcast: join realtime:bench-0..N-1)]\n"
            "             [--connect-timeout-s S] [--timeout-s S] [--idle-s S] [--linger-s S]\n"
            "  fanout pub --port P --mode rest|peer|ws --count N --rate R [--token T --agent ID]\n"
            "             [--host H] [--conns N (rest/peer: keep-alive connections, default 16)]\n"
            "             [--path PATH --pad BYTES --topic T --id N (ws)] (--rate 0: unpaced)\n"
            "  fanout merge RESULT...\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_src(const char *list, struct sub_opts *o)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (o->nsrc == MAX_SRC || inet_pton(AF_INET, t, &o->src[o->nsrc]) != 1) {
            return -1;
        }
        o->nsrc++;
    }
    return o->nsrc > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    g_rng ^= now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
    if (strcmp(argv[1], "merge") == 0) {
        return run_merge(argc - 2, argv + 2);
    }
    struct sub_opts so = {.host = "127.0.0.1",
                          .inflight = 200,
                          .connect_timeout_s = 120,
                          .timeout_s = 300,
                          .idle_s = 10};
    struct pub_opts po = {
        .host = "127.0.0.1", .mode = "rest", .rate = 20, .conns = 16, .topic = "realtime:bench"};
    bool bad = false;
    for (int a = 2; a < argc; a++) {
        const char *k = argv[a];
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (v == NULL) {
            bad = true;
            break;
        }
        a++;
        if (strcmp(k, "--host") == 0) {
            so.host = v;
            po.host = v;
        } else if (strcmp(k, "--port") == 0) {
            bad |= parse_int(v, 1, 65535, &so.port) < 0;
            po.port = so.port;
        } else if (strcmp(k, "--path") == 0) {
            so.path = v;
            po.path = v;
        } else if (strcmp(k, "--token") == 0) {
            so.token = v;
            po.token = v;
        } else if (strcmp(k, "--conns") == 0) {
            bad |= parse_int(v, 1, 19000, &so.conns) < 0;
            po.conns = so.conns;
        } else if (strcmp(k, "--src") == 0) {
            bad |= parse_src(v, &so) < 0;
        } else if (strcmp(k, "--expect") == 0) {
            bad |= parse_int(v, 0, 1000000, &so.expect) < 0;
        } else if (strcmp(k, "--inflight") == 0) {
            bad |= parse_int(v, 1, 10000, &so.inflight) < 0;
        } else if (strcmp(k, "--connect-timeout-s") == 0) {
            bad |= parse_int(v, 1, 3600, &so.connect_timeout_s) < 0;
        } else if (strcmp(k, "--timeout-s") == 0) {
            bad |= parse_int(v, 1, 3600, &so.timeout_s) < 0;
        } else if (strcmp(k, "--idle-s") == 0) {
            bad |= parse_int(v, 1, 3600, &so.idle_s) < 0;
        } else if (strcmp(k, "--linger-s") == 0) {
            bad |= parse_int(v, 0, 3600, &so.linger_s) < 0;
        } else if (strcmp(k, "--ready") == 0) {
            so.ready_path = v;
        } else if (strcmp(k, "--out") == 0) {
            so.out_path = v;
        } else if (strcmp(k, "--mode") == 0) {
            po.mode = v;
        } else if (strcmp(k, "--kind") == 0) {
            so.broadcast = strcmp(v, "broadcast") == 0;
            bad |= !so.broadcast && strcmp(v, "pg") != 0;
        } else if (strcmp(k, "--pad") == 0) {
            bad |= parse_int(v, 0, 60000, &po.pad) < 0;
        } else if (strcmp(k, "--agent") == 0) {
            po.agent = v;
        } else if (strcmp(k, "--count") == 0) {
            bad |= parse_int(v, 1, 1000000, &po.count) < 0;
        } else if (strcmp(k, "--rate") == 0) {
            bad |= parse_int(v, 0, 100000, &po.rate) < 0;
        } else if (strcmp(k, "--topic") == 0) {
            po.topic = v;
        } else if (strcmp(k, "--id") == 0) {
            bad |= parse_int(v, 0, MAX_TOPICS - 1, &po.id) < 0;
        } else if (strcmp(k, "--topics") == 0) {
            bad |= parse_int(v, 0, MAX_TOPICS, &so.topics) < 0;
        } else {
            bad = true;
        }
    }
    if (!bad && strcmp(argv[1], "sub") == 0 && so.port > 0 && so.path && so.token && so.conns > 0 &&
        so.nsrc > 0 && so.ready_path && so.out_path) {
        return run_sub(&so);
    }
    if (!bad && strcmp(argv[1], "pub") == 0 && po.port > 0 && po.count > 0 && po.conns <= 1024 &&
        (strcmp(po.mode, "peer") == 0 || (strcmp(po.mode, "ws") == 0 && po.path != NULL) ||
         (strcmp(po.mode, "rest") == 0 && po.token != NULL && po.agent != NULL))) {
        return run_pub(&po);
    }
    usage();
    return 2;
}
