/*
 * peer_epoll: the physical floor of the fan-out benchmark (docs/benchmarks.md). One thread,
 * one epoll loop, no allocation while fanning out: every published event is encoded once as
 * a complete WebSocket frame and written to each subscriber with one send().
 *
 * It speaks the subset of Phoenix vsn 1.0.0 that bench/fanout/fanout uses, like peer.mjs:
 *   - phx_join on any topic -> phx_reply ok (echoing postgres_changes bindings with id 1);
 *   - heartbeat -> phx_reply ok; phx_leave -> leaves;
 *   - broadcast {type,event,payload} from a member -> one frame
 *     {"topic":T,"event":"broadcast","payload":<the same payload bytes>,"ref":null}
 *     written to every other member of the topic (switchboard's broadcast without self);
 *   - HTTP POST /publish {"reason":"..."} -> one postgres_changes frame of the same shape and
 *     size as switchboard's agent_status UPDATE, written to every member, then 200;
 *   - HTTP GET /livez -> 200 "ok" (keep-alive), the trivial answer for the HTTP bench.
 * No authorisation, no filtering, no JSON parser (fixed key search). Unread output is kept per
 * connection up to 16 MiB, then the subscriber is dropped (counted, printed at exit).
 *
 * --batch: the one batching trick and nothing more. Everything a connection is sent while one
 * epoll_wait round is handled (all readable input first: members' broadcasts, POST /publish,
 * replies) is appended to its out buffer; at the end of the round every connection with
 * pending bytes gets one send() of all of them, so a subscriber costs one syscall per round
 * however many events the round carried. Subscribers' out buffers are kept (emptied, not
 * freed) between rounds, so after they have grown to a round's size nothing is allocated per
 * delivery; one that grew past 16 KiB is freed once drained. Without --batch every delivery is its
 * own send() as soon as the event is read.
 *
 * Usage: peer_epoll --port P [--host 127.0.0.1] [--batch]; prints "listening <port>" when
 * ready. Runs until SIGTERM/SIGINT. Build: make -C bench/fanout peer_epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define MAX_FD 65536
#define IN_MAX 16384
#define OUT_MAX (16u << 20)
#define OUT_KEEP (16u << 10) /* --batch: a drained out buffer up to this size is kept */

struct pconn {
    bool used;
    bool ws;
    bool joined;
    bool pollout;   /* EPOLLOUT registered: the kernel refused part of out */
    bool dirty;     /* --batch: in g_dirty, out to be sent at the end of the round */
    bool fanned;    /* --batch: has been sent fan-out frames (its out buffer is kept) */
    int pos;        /* index in g_members while joined */
    struct buf in;  /* HTTP bytes until a request is complete */
    struct buf out; /* bytes the kernel did not take yet (--batch: and this round's) */
    struct ws_reader rd;
    char topic[64];
};

static struct pconn *g_c;
static int *g_members; /* fds joined (one topic in practice; the topic is checked per send) */
static int g_nmembers;
static int g_epfd;
static volatile sig_atomic_t g_stop;
static uint64_t g_seq;
static int g_version = 1;
static unsigned long g_dropped;
static struct buf g_frame; /* the frame being fanned out */
static bool g_batch;       /* --batch */
static int *g_dirty;       /* --batch: fds with bytes appended this round */
static int g_ndirty;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void set_events(int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (g_c[fd].out.len > 0) {
        ev.events |= EPOLLOUT;
    }
    g_c[fd].pollout = g_c[fd].out.len > 0;
    epoll_ctl(g_epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void leave(int fd)
{
    struct pconn *c = &g_c[fd];
    if (!c->joined) {
        return;
    }
    int last = g_members[--g_nmembers];
    g_members[c->pos] = last;
    g_c[last].pos = c->pos;
    c->joined = false;
}

static void conn_drop(int fd)
{
    struct pconn *c = &g_c[fd];
    leave(fd);
    c->dirty = false; /* a stale g_dirty entry is skipped */
    buf_release(&c->in);
    buf_release(&c->out);
    ws_reader_release(&c->rd);
    c->used = false;
    close(fd);
}

/* --batch: drained out buffers of subscribers are emptied and kept unless they grew large; a
 * connection that only got replies (handshake, join) keeps none, like an idle one without
 * --batch. */
static void out_drained(struct pconn *c)
{
    if (!c->fanned || c->out.cap > OUT_KEEP) {
        buf_release(&c->out);
        buf_init(&c->out, OUT_MAX);
    } else {
        buf_reset(&c->out);
    }
}

/* --batch: one send() of everything pending on each connection touched this round; the rest
 * waits for EPOLLOUT. A connection already waiting for EPOLLOUT is left to on_writable. */
static void flush_round(void)
{
    for (int k = 0; k < g_ndirty; k++) {
        int fd = g_dirty[k];
        struct pconn *c = &g_c[fd];
        if (!c->used || !c->dirty) {
            continue;
        }
        c->dirty = false;
        if (c->pollout || c->out.len == 0) {
            continue;
        }
        ssize_t n = send(fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN) {
            conn_drop(fd);
            continue;
        }
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
        }
        if (c->out.len > 0) {
            set_events(fd);
        } else {
            out_drained(c);
        }
    }
    g_ndirty = 0;
}

/* --batch: append to out; sent by flush_round. false: over the cap, dropped. */
static bool conn_queue(int fd, const void *data, size_t len)
{
    struct pconn *c = &g_c[fd];
    if (buf_append(&c->out, data, len) < 0) {
        g_dropped++;
        conn_drop(fd);
        return false;
    }
    if (!c->dirty) {
        if (g_ndirty == MAX_FD) { /* only when fds were reused within the round */
            flush_round();
        }
        c->dirty = true;
        g_dirty[g_ndirty++] = fd;
    }
    return true;
}

/* One write; what the kernel does not take waits in out (EPOLLOUT). false: dropped. */
static bool conn_send(int fd, const void *data, size_t len)
{
    if (g_batch) {
        return conn_queue(fd, data, len);
    }
    struct pconn *c = &g_c[fd];
    size_t off = 0;
    if (c->out.len == 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN) {
            conn_drop(fd);
            return false;
        }
        off = n > 0 ? (size_t)n : 0;
        if (off == len) {
            return true;
        }
    }
    bool was_empty = c->out.len == 0;
    if (buf_append(&c->out, (const char *)data + off, len - off) < 0) {
        g_dropped++;
        conn_drop(fd);
        return false;
    }
    if (was_empty) {
        set_events(fd);
    }
    return true;
}

static void send_text(int fd, const char *text, size_t len)
{
    uint8_t hdr[14];
    size_t h = ws_frame_header(hdr, true, WS_OP_TEXT, len, NULL);
    buf_reset(&g_frame);
    if (buf_append(&g_frame, hdr, h) == 0 && buf_append(&g_frame, text, len) == 0) {
        conn_send(fd, g_frame.data, g_frame.len);
    }
}

/* g_frame holds a complete frame: write it to every member of topic except skip. */
static int fan_out(const char *topic, int skip)
{
    int sent = 0;
    for (int k = 0; k < g_nmembers; k++) {
        int fd = g_members[k];
        if (fd == skip || strcmp(g_c[fd].topic, topic) != 0) {
            continue;
        }
        g_c[fd].fanned = true;
        if (conn_send(fd, g_frame.data, g_frame.len)) {
            sent++;
        } else {
            k--; /* the last member moved into slot k */
        }
    }
    return sent;
}

/* The string value after "key":" in s (no escapes expected), copied to out. */
static bool json_str(const char *s, size_t len, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = memmem(s, len, pat, strlen(pat));
    if (!p) {
        return false;
    }
    p += strlen(pat);
    const char *e = memchr(p, '"', (size_t)(s + len - p));
    if (!e || (size_t)(e - p) >= cap) {
        return false;
    }
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return true;
}

/* The JSON value after "payload": (an object), as [*start, *end). */
static bool json_payload(const char *s, size_t len, const char **start, const char **end)
{
    const char *p = memmem(s, len, "\"payload\":", 10);
    if (!p) {
        return false;
    }
    p += 10;
    const char *lim = s + len;
    if (p >= lim || *p != '{') {
        return false;
    }
    int depth = 0;
    bool str = false;
    for (const char *q = p; q < lim; q++) {
        if (str) {
            if (*q == '\\') {
                q++;
            } else if (*q == '"') {
                str = false;
            }
        } else if (*q == '"') {
            str = true;
        } else if (*q == '{') {
            depth++;
        } else if (*q == '}' && --depth == 0) {
            *start = p;
            *end = q + 1;
            return true;
        }
    }
    return false;
}

static void reply(int fd, const char *topic, const char *ref, const char *response)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg,
                     "{\"topic\":\"%s\",\"event\":\"phx_reply\",\"payload\":{\"status\":\"ok\","
                     "\"response\":%s},\"ref\":\"%s\"}",
                     topic, response, ref);
    if (n > 0 && (size_t)n < sizeof msg) {
        send_text(fd, msg, (size_t)n);
    }
}

static void on_ws_text(int fd, const char *s, size_t len)
{
    struct pconn *c = &g_c[fd];
    char topic[64], event[32], ref[32] = "";
    if (!json_str(s, len, "topic", topic, sizeof topic) ||
        !json_str(s, len, "event", event, sizeof event)) {
        return;
    }
    json_str(s, len, "ref", ref, sizeof ref);
    if (strcmp(event, "heartbeat") == 0) {
        reply(fd, topic, ref, "{}");
    } else if (strcmp(event, "phx_join") == 0) {
        leave(fd);
        snprintf(c->topic, sizeof c->topic, "%s", topic);
        c->joined = true;
        c->pos = g_nmembers;
        g_members[g_nmembers++] = fd;
        bool pg = memmem(s, len, "\"table\":\"agent_status\"", 22) != NULL;
        reply(fd, topic, ref,
              pg ? "{\"postgres_changes\":[{\"event\":\"*\",\"schema\":\"public\",\"table\":"
                   "\"agent_status\",\"id\":1}]}"
                 : "{}");
    } else if (strcmp(event, "phx_leave") == 0) {
        leave(fd);
        reply(fd, topic, ref, "{}");
    } else if (strcmp(event, "broadcast") == 0 && c->joined) {
        const char *p0, *p1;
        if (!json_payload(s, len, &p0, &p1)) {
            return;
        }
        /* Encode once, write to every other member. */
        char head[128];
        int hn = snprintf(head, sizeof head,
                          "{\"topic\":\"%s\",\"event\":\"broadcast\",\"payload\":", c->topic);
        static const char tail[] = ",\"ref\":null}";
        size_t plen = (size_t)hn + (size_t)(p1 - p0) + sizeof tail - 1;
        uint8_t hdr[14];
        size_t h = ws_frame_header(hdr, true, WS_OP_TEXT, plen, NULL);
        buf_reset(&g_frame);
        if (buf_append(&g_frame, hdr, h) < 0 || buf_append(&g_frame, head, (size_t)hn) < 0 ||
            buf_append(&g_frame, p0, (size_t)(p1 - p0)) < 0 ||
            buf_append(&g_frame, tail, sizeof tail - 1) < 0) {
            return;
        }
        char my_topic[64];
        memcpy(my_topic, c->topic, sizeof my_topic);
        fan_out(my_topic, fd);
    }
}

/* The postgres_changes frame of an agent_status UPDATE (same shape as peer.mjs and about the
 * size of switchboard's), built once per publish. */
static int publish(const char *reason)
{
    static char prev_reason[256] = "";
    static char prev_ts[40] = "2026-11-25T10:00:00.000Z";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char now[32];
    size_t tl = strftime(now, sizeof now - 5, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(now + tl, sizeof now - tl, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
    g_seq++;
    static const char cols[] =
        "[{\"name\":\"id\",\"type\":\"uuid\"},{\"name\":\"client_id\",\"type\":\"uuid\"},"
        "{\"name\":\"user_id\",\"type\":\"uuid\"},{\"name\":\"display_name\",\"type\":\"text\"},"
        "{\"name\":\"status\",\"type\":\"text\"},{\"name\":\"reason\",\"type\":\"text\"},"
        "{\"name\":\"status_since\",\"type\":\"timestamptz\"},{\"name\":\"updated_by\","
        "\"type\":\"uuid\"},{\"name\":\"created_at\",\"type\":\"timestamptz\"},{\"name\":"
        "\"updated_at\",\"type\":\"timestamptz\"},{\"name\":\"version\",\"type\":\"int8\"}]";
    static const char rec_fmt[] =
        "{\"id\":\"2f1d7a8e-6c1b-4f5e-9a53-0c7c5d2f9b11\",\"client_id\":\"9b0c8a77-1d2e-4c3f-"
        "8a9b-5e6f7a8b9c0d\",\"user_id\":\"c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f\","
        "\"display_name\":\"Agent One\",\"status\":\"busy\",\"reason\":\"%s\",\"status_since\":"
        "\"%s\",\"updated_by\":\"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\",\"created_at\":"
        "\"2026-11-25T10:00:00.000Z\",\"updated_at\":\"%s\",\"version\":%d}";
    char rec[1024], old[1024];
    snprintf(rec, sizeof rec, rec_fmt, reason, now, now, g_version + 1);
    snprintf(old, sizeof old, rec_fmt, prev_reason, prev_ts, prev_ts, g_version);
    char text[4096];
    int n = snprintf(text, sizeof text,
                     "{\"topic\":\"realtime:bench\",\"event\":\"postgres_changes\",\"payload\":{"
                     "\"ids\":[1],\"data\":{\"schema\":\"public\",\"table\":\"agent_status\","
                     "\"type\":\"UPDATE\",\"commit_timestamp\":\"%s\",\"columns\":%s,\"record\":%s,"
                     "\"old_record\":%s,\"errors\":null,\"seq\":%" PRIu64 "}},\"ref\":null}",
                     now, cols, rec, old, g_seq);
    g_version++;
    snprintf(prev_reason, sizeof prev_reason, "%s", reason);
    snprintf(prev_ts, sizeof prev_ts, "%s", now);
    if (n < 0 || (size_t)n >= sizeof text) {
        return 0;
    }
    uint8_t hdr[14];
    size_t h = ws_frame_header(hdr, true, WS_OP_TEXT, (size_t)n, NULL);
    buf_reset(&g_frame);
    if (buf_append(&g_frame, hdr, h) < 0 || buf_append(&g_frame, text, (size_t)n) < 0) {
        return 0;
    }
    return fan_out("realtime:bench", -1);
}

static void http_answer(int fd, int status, const char *ctype, const char *body)
{
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s", status,
                     status == 200 ? "OK" : "Not Found", ctype, strlen(body), body);
    conn_send(fd, resp, (size_t)n);
}

/* Handle complete HTTP requests in c->in; false when the connection is gone or upgraded. */
static bool on_http(int fd)
{
    struct pconn *c = &g_c[fd];
    for (;;) {
        char *hend = c->in.len ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
        if (!hend) {
            return true;
        }
        size_t hlen = (size_t)(hend + 4 - c->in.data);
        char *cl = memmem(c->in.data, hlen, "Content-Length:", 15);
        if (!cl) {
            cl = memmem(c->in.data, hlen, "content-length:", 15);
        }
        size_t blen = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
        if (hlen + blen > IN_MAX) {
            conn_drop(fd);
            return false;
        }
        if (c->in.len < hlen + blen) {
            return true;
        }
        char *key = memmem(c->in.data, hlen, "Sec-WebSocket-Key: ", 19);
        if (strncmp(c->in.data, "GET ", 4) == 0 && key) {
            char *ke = memmem(key + 19, hlen - (size_t)(key + 19 - c->in.data), "\r\n", 2);
            char accept[29];
            ws_accept_key(key + 19, (size_t)(ke - key - 19), accept);
            char resp[192];
            int n = snprintf(resp, sizeof resp,
                             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                             accept);
            c->ws = true;
            ws_reader_init(&c->rd, true, 1 << 20);
            buf_consume(&c->in, hlen);
            if (!conn_send(fd, resp, (size_t)n)) {
                return false;
            }
            return true; /* the caller feeds what follows to the WebSocket */
        }
        if (strncmp(c->in.data, "POST /publish ", 14) == 0) {
            char reason[256] = "";
            json_str(c->in.data + hlen, blen, "reason", reason, sizeof reason);
            int sent = publish(reason);
            char body[64];
            snprintf(body, sizeof body, "{\"ok\":true,\"sent\":%d}", sent);
            if (!g_c[fd].used) {
                return false;
            }
            http_answer(fd, 200, "application/json", body);
        } else if (strncmp(c->in.data, "GET /livez ", 11) == 0) {
            http_answer(fd, 200, "text/plain", "ok");
        } else {
            http_answer(fd, 404, "text/plain", "");
        }
        if (!g_c[fd].used) {
            return false;
        }
        buf_consume(&c->in, hlen + blen);
    }
}

static void on_ws_bytes(int fd, uint8_t *data, size_t len)
{
    while (len > 0 && g_c[fd].used) {
        struct pconn *c = &g_c[fd];
        size_t used = 0;
        struct ws_event ev;
        uint16_t code = 0;
        int rc = ws_reader_feed(&c->rd, data, len, &used, &ev, &code);
        if (rc < 0) {
            conn_drop(fd);
            return;
        }
        data += used;
        len -= used;
        if (rc == 0) {
            return;
        }
        if (ev.type == WS_EV_TEXT) {
            on_ws_text(fd, (const char *)ev.data, ev.len);
        } else if (ev.type == WS_EV_CLOSE) {
            conn_drop(fd);
            return;
        } else if (ev.type == WS_EV_PING) {
            uint8_t frame[14 + 125];
            size_t h = ws_frame_header(frame, true, WS_OP_PONG, ev.len, NULL);
            memcpy(frame + h, ev.data, ev.len);
            conn_send(fd, frame, h + ev.len);
        }
    }
}

static void on_readable(int fd)
{
    static uint8_t rbuf[65536];
    for (int rounds = 0; rounds < 8 && g_c[fd].used; rounds++) {
        struct pconn *c = &g_c[fd];
        ssize_t n = recv(fd, rbuf, sizeof rbuf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            conn_drop(fd);
            return;
        }
        if (c->ws) {
            on_ws_bytes(fd, rbuf, (size_t)n);
        } else {
            if (buf_append(&c->in, rbuf, (size_t)n) < 0) {
                conn_drop(fd);
                return;
            }
            if (!on_http(fd) || !g_c[fd].used) {
                return;
            }
            if (c->ws && c->in.len) {
                size_t rest = c->in.len;
                uint8_t tmp[IN_MAX];
                memcpy(tmp, c->in.data, rest);
                buf_release(&c->in);
                on_ws_bytes(fd, tmp, rest);
            } else if (c->ws) {
                buf_release(&c->in);
            }
        }
        if ((size_t)n < sizeof rbuf) {
            return;
        }
    }
}

static void on_writable(int fd)
{
    struct pconn *c = &g_c[fd];
    if (c->out.len > 0) {
        ssize_t n = send(fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN) {
            conn_drop(fd);
            return;
        }
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
        }
    }
    if (c->out.len == 0) {
        if (g_batch) {
            out_drained(c);
        } else {
            buf_release(&c->out);
            buf_init(&c->out, OUT_MAX);
        }
        set_events(fd);
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--batch") == 0) {
            g_batch = true;
        } else if (strcmp(argv[a], "--port") == 0 && a + 1 < argc) {
            port = atoi(argv[++a]);
        } else if (strcmp(argv[a], "--host") == 0 && a + 1 < argc) {
            host = argv[++a];
        } else {
            fprintf(stderr, "usage: peer_epoll --port P [--host H] [--batch]\n");
            return 2;
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    g_c = calloc(MAX_FD, sizeof *g_c);
    g_members = calloc(MAX_FD, sizeof *g_members);
    g_dirty = calloc(MAX_FD, sizeof *g_dirty);
    buf_init(&g_frame, 1 << 20);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0) {
        perror("listen");
        return 1;
    }
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(g_epfd, EPOLL_CTL_ADD, lfd, &lev);
    printf("listening %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    struct epoll_event evs[512];
    while (!g_stop) {
        int n = epoll_wait(g_epfd, evs, 512, 200);
        for (int k = 0; k < n; k++) {
            int fd = evs[k].data.fd;
            if (fd == lfd) {
                for (int i = 0; i < 256; i++) {
                    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0) {
                        break;
                    }
                    if (cfd >= MAX_FD) {
                        close(cfd);
                        continue;
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct pconn *c = &g_c[cfd];
                    memset(c, 0, sizeof *c);
                    c->used = true;
                    buf_init(&c->in, IN_MAX);
                    buf_init(&c->out, OUT_MAX);
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfd};
                    epoll_ctl(g_epfd, EPOLL_CTL_ADD, cfd, &ev);
                }
                continue;
            }
            if (!g_c[fd].used) {
                continue;
            }
            if (evs[k].events & EPOLLOUT) {
                on_writable(fd);
            }
            if (g_c[fd].used && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                on_readable(fd);
            }
        }
        if (g_batch) {
            flush_round();
        }
    }
    fprintf(stderr, "peer_epoll: %lu subscribers dropped for unread output\n", g_dropped);
    return 0;
}
