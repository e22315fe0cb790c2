/*
 * Unit tests of the realtime engine (src/realtime/rt*.c, hub.c, fanout.c, presence.c,
 * resume.c) through its real paths: an in-process net server on a loopback port with one
 * worker, a temporary SQLite store and the real auth cache, driven by a small blocking
 * WebSocket client speaking Phoenix vsn 1.0.0. Covered: dispatch of heartbeat, join, leave
 * and bad messages with their error replies; (tenant, topic) group membership, inspected on
 * the loop thread, and what a broadcast reaches; presence diffs and state; postgres_changes
 * with tenant policy; resume ordering (every change once, in seq order, with live writes
 * racing the catch-up); the hub feeding the auth cache (a disabled user's socket closes
 * with 4001); and a registered change-log consumer seeing every change once, in order.
 *
 * Every wait is bounded: a receive gives up after RECV_MS and counts as a failure.
 */
#include "test.h"
#include "test_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/session.h"
#include "base/alloc.h"
#include "base/err.h"
#include "net/net.h"
#include "net/ws/ws_codec.h"
#include "realtime/rt.h"
#include "realtime/rt_int.h"
#include "store/store.h"

#define RECV_MS 5000
#define MAX_CHANNELS 4

static struct store *store;
static struct rt *rt;
static struct auth_session *auth;
static struct net_server *server;
static int port;
static char acme[40], globex[40];
static char *tok_acme, *tok_globex, *tok_doomed;

/* ---- server ---- */

static void on_request(struct net_request *req, void *arg)
{
    char err[128] = "";
    if (net_ws_check(req) == 0 && rt_upgrade(arg, req, err, sizeof err) == 0) {
        return;
    }
    struct net_response resp = {
        .status = 401, .content_type = "text/plain", .body = err, .body_len = strlen(err)};
    net_respond(req, &resp);
}

static void on_worker_start(struct net_worker *w, void *arg)
{
    rt_worker_start(arg, w);
}

static void on_worker_stop(struct net_worker *w, void *arg)
{
    rt_worker_stop(arg, w);
}

static int insert(enum store_table table, json_t *row, char *id)
{
    return test_store_insert(store, table, row, id);
}

static int message(const char *client_id, const char *title)
{
    return insert(STORE_MESSAGES, json_pack("{s:s,s:s}", "client_id", client_id, "title", title),
                  NULL);
}

/* Add an admin of client_id; returns the user's id (malloc'd) or NULL. */
static char *add_admin(const char *client_id, const char *email)
{
    char uid[40];
    if (insert(STORE_USERS,
               json_pack("{s:s,s:s,s:s,s:s}", "client_id", client_id, "email", email, "name", email,
                         "role", "admin"),
               uid) < 0) {
        return NULL;
    }
    return strdup(uid);
}

/* An access token for an admin of client_id (after auth_session_new). */
static char *issue(const char *client_id, const char *uid)
{
    struct policy_principal p;
    memset(&p, 0, sizeof p);
    snprintf(p.user_id, sizeof p.user_id, "%s", uid);
    snprintf(p.client_id, sizeof p.client_id, "%s", client_id);
    p.role = ROLE_ADMIN;
    char *tok = NULL;
    int64_t exp = 0;
    return auth_session_issue(auth, &p, &tok, &exp) == 0 ? tok : NULL;
}

/* ---- a blocking WebSocket client ---- */

struct client {
    int fd;
    struct ws_reader r;
    uint8_t buf[1 << 16];
    size_t len;
    int ref;
    uint16_t close_code; /* set when the server's close frame arrived */
};

static bool wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, RECV_MS) == 1;
}

/* Connect with token (NULL: none) and upgrade; returns the HTTP status (101 on success). */
static int client_open(struct client *c, const char *token)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        return -1;
    }
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET /realtime/v1/websocket?vsn=1.0.0%s%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     token ? "&apikey=" : "", token ? token : "");
    if (write(c->fd, req, (size_t)n) != n) {
        return -1;
    }
    /* Read the response head; any bytes after it are the first frames. */
    char *end = NULL;
    while (!end && c->len < sizeof c->buf - 1) {
        if (!wait_readable(c->fd)) {
            return -1;
        }
        ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
        if (got <= 0) {
            break;
        }
        c->len += (size_t)got;
        c->buf[c->len] = 0;
        end = strstr((char *)c->buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf((char *)c->buf, "HTTP/1.1 %d", &status) != 1) {
        return -1;
    }
    if (end) {
        size_t head = (size_t)(end + 4 - (char *)c->buf);
        memmove(c->buf, c->buf + head, c->len - head);
        c->len -= head;
    }
    ws_reader_init(&c->r, false, 1 << 20);
    return status;
}

static void client_close(struct client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    ws_reader_release(&c->r);
    c->fd = -1;
}

static void client_send(struct client *c, const char *text)
{
    size_t len = strlen(text);
    uint8_t mask[4] = {1, 2, 3, 4}, hdr[14];
    size_t hl = ws_frame_header(hdr, true, WS_OP_TEXT, len, mask);
    uint8_t *frame = malloc(hl + len);
    memcpy(frame, hdr, hl);
    memcpy(frame + hl, text, len);
    ws_mask(frame + hl, len, mask, 0);
    CHECK(write(c->fd, frame, hl + len) == (ssize_t)(hl + len));
    free(frame);
}

/* Send a Phoenix vsn 1 message with the next ref; returns that ref. */
static int client_push(struct client *c, const char *topic, const char *event, json_t *payload)
{
    int ref = ++c->ref;
    char refs[16];
    snprintf(refs, sizeof refs, "%d", ref);
    json_t *m = json_pack("{s:s,s:s,s:o,s:s,s:s}", "topic", topic, "event", event, "payload",
                          payload ? payload : json_object(), "ref", refs, "join_ref", refs);
    char *text = json_dumps(m, JSON_COMPACT);
    client_send(c, text);
    free(text);
    json_decref(m);
    return ref;
}

/* The next text message as JSON, or NULL after RECV_MS or a close (close_code set). */
static json_t *client_recv(struct client *c)
{
    for (int rounds = 0; rounds < 1000; rounds++) {
        if (c->len > 0) {
            size_t used = 0;
            struct ws_event ev;
            uint16_t code = 0;
            int rc = ws_reader_feed(&c->r, c->buf, c->len, &used, &ev, &code);
            if (rc < 0) {
                return NULL;
            }
            json_t *msg = NULL;
            bool closed = false;
            if (rc == 1 && ev.type == WS_EV_TEXT) {
                msg = json_loadb((const char *)ev.data, ev.len, 0, NULL);
            } else if (rc == 1 && ev.type == WS_EV_CLOSE) {
                c->close_code = ev.close_code;
                closed = true;
            }
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            if (msg || closed) {
                return msg;
            }
            if (rc == 1) {
                continue;
            }
        }
        if (!wait_readable(c->fd)) {
            return NULL;
        }
        ssize_t got = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (got <= 0) {
            return NULL;
        }
        c->len += (size_t)got;
    }
    return NULL;
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    return json_string_value(b ? json_object_get(v, b) : v);
}

/* The next message must be topic/event (NULL topic: any); returns it (caller decrefs). */
static json_t *expect(struct client *c, const char *topic, const char *event, int line)
{
    json_t *m = client_recv(c);
    const char *t = str_at(m, "topic", NULL), *e = str_at(m, "event", NULL);
    bool ok = m && e && strcmp(e, event) == 0 && (!topic || (t && strcmp(t, topic) == 0));
    CHECK(ok);
    if (!ok) {
        char *dump = m ? json_dumps(m, JSON_COMPACT) : NULL;
        fprintf(stderr, "  line %d: wanted %s %s, got %s\n", line, topic ? topic : "*", event,
                dump ? dump : "(nothing)");
        free(dump);
    }
    return m;
}
#define EXPECT(c, topic, event) expect((c), (topic), (event), __LINE__)

/* The next message must be the phx_reply with status to ref; returns its response. */
static json_t *expect_reply(struct client *c, const char *topic, int ref, const char *status,
                            int line)
{
    json_t *m = expect(c, topic, "phx_reply", line);
    char refs[16];
    snprintf(refs, sizeof refs, "%d", ref);
    const char *got_ref = str_at(m, "ref", NULL);
    const char *got_status = str_at(json_object_get(m, "payload"), "status", NULL);
    CHECK(got_ref && strcmp(got_ref, refs) == 0);
    CHECK(got_status && strcmp(got_status, status) == 0);
    if (!got_status || strcmp(got_status, status) != 0) {
        fprintf(stderr, "  line %d: reply status %s, wanted %s\n", line,
                got_status ? got_status : "(none)", status);
    }
    json_t *resp = json_incref(json_object_get(json_object_get(m, "payload"), "response"));
    json_decref(m);
    return resp;
}
#define EXPECT_REPLY(c, topic, ref, status) expect_reply((c), (topic), (ref), (status), __LINE__)

/* An error reply's reason must contain want. */
static void expect_error(struct client *c, const char *topic, int ref, const char *want, int line)
{
    json_t *resp = expect_reply(c, topic, ref, "error", line);
    const char *reason = str_at(resp, "reason", NULL);
    CHECK(reason && strstr(reason, want));
    if (!reason || !strstr(reason, want)) {
        fprintf(stderr, "  line %d: reason %s, wanted %s\n", line, reason ? reason : "(none)",
                want);
    }
    json_decref(resp);
}
#define EXPECT_ERROR(c, topic, ref, want) expect_error((c), (topic), (ref), (want), __LINE__)

/* Nothing is pending for c: a heartbeat's reply is the very next message. Everything the
 * loop was asked to send before (fans are posted to the same single loop) came first. */
static void expect_quiet(struct client *c, int line)
{
    int ref = client_push(c, "phoenix", "heartbeat", NULL);
    json_decref(expect_reply(c, "phoenix", ref, "ok", line));
}
#define EXPECT_QUIET(c) expect_quiet((c), __LINE__)

/* Join topic with config (taken, NULL: {}); returns the join's ref. */
static int join(struct client *c, const char *topic, json_t *config)
{
    return client_push(c, topic, "phx_join",
                       json_pack("{s:o}", "config", config ? config : json_object()));
}

/* ---- the loop's groups, read on the loop thread ---- */

struct group_probe {
    const char *tenant, *topic;
    int members; /* -1: no group */
    bool done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void probe_on_loop(void *arg)
{
    struct group_probe *p = arg;
    struct rt_loop *l = rt->loops[0];
    int members = -1;
    for (size_t i = 0; i < RT_GROUP_BUCKETS; i++) {
        for (struct rt_group *g = l->groups[i]; g; g = g->next) {
            if (strcmp(g->tenant, p->tenant) == 0 && strcmp(g->topic, p->topic) == 0) {
                members = 0;
                for (struct rt_chan *ch = g->head; ch; ch = ch->g_next) {
                    members += ch->group == g;
                }
            }
        }
    }
    pthread_mutex_lock(&p->lock);
    p->members = members;
    p->done = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Channels in the (tenant, topic) group of the only loop; -1 when there is no group. */
static int group_members(const char *tenant, const char *topic)
{
    struct group_probe p = {.tenant = tenant, .topic = topic, .members = -2};
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.cond, NULL);
    net_worker_post(net_server_worker(server, 0), probe_on_loop, &p);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += RECV_MS / 1000;
    pthread_mutex_lock(&p.lock);
    while (!p.done && pthread_cond_timedwait(&p.cond, &p.lock, &ts) == 0) {
    }
    bool done = p.done;
    pthread_mutex_unlock(&p.lock);
    CHECK(done);
    if (!done) {
        return -2; /* the probe may still run later: leak p's storage rather than free it */
    }
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.cond);
    return p.members;
}

/* ---- a change-log consumer ---- */

static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t seen_last, seen_n;
static bool seen_in_order = true;

static void record_changes(void *arg, const struct store_change *changes, size_t n)
{
    CHECK(arg == &seen_mu);
    pthread_mutex_lock(&seen_mu);
    for (size_t i = 0; i < n; i++) {
        seen_in_order = seen_in_order && changes[i].seq > seen_last;
        seen_last = changes[i].seq;
        seen_n++;
    }
    pthread_mutex_unlock(&seen_mu);
}

/* Changes in the log after seq. */
static int64_t changes_after(int64_t seq)
{
    int64_t n = 0;
    for (int page = 0; page < 1000; page++) {
        struct store_change *ch = NULL;
        size_t got = 0;
        if (store_changes_read(store, seq, 256, &ch, &got) < 0) {
            return -1;
        }
        n += (int64_t)got;
        seq = got ? ch[got - 1].seq : seq;
        store_changes_free(ch, got);
        if (got < 256) {
            break;
        }
    }
    return n;
}

/* The consumer saw every change since rt_start (head0) once, in seq order. */
static void test_consumer_saw_everything(int64_t head0)
{
    int64_t oldest = 0, head = 0;
    CHECK_EQ_INT(store_changes_bounds(store, &oldest, &head), 0);
    int64_t last = 0, n = 0;
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&seen_mu);
        last = seen_last;
        n = seen_n;
        pthread_mutex_unlock(&seen_mu);
        if (last >= head) {
            break;
        }
        usleep(10000);
    }
    CHECK_EQ_INT(last, head);
    CHECK(n > 10);
    CHECK_EQ_INT(n, changes_after(head0));
    CHECK(seen_in_order);
    /* Consumers are fixed once the hub runs. */
    CHECK_EQ_INT(rt_add_consumer(rt, record_changes, &seen_mu), SB_E_INVAL);
}

/* ---- tests ---- */

static void test_upgrade_needs_apikey(void)
{
    struct client c;
    CHECK_EQ_INT(client_open(&c, NULL), 401);
    client_close(&c);
    CHECK_EQ_INT(client_open(&c, "not-a-token"), 401);
    client_close(&c);
}

static void test_dispatch(void)
{
    struct client c;
    CHECK_EQ_INT(client_open(&c, tok_acme), 101);
    EXPECT_QUIET(&c); /* the upgrade has finished on the loop */
    CHECK_EQ_INT(rt_connections(rt, acme), 1);
    CHECK_EQ_INT(rt_connections(rt, globex), 0);
    /* Not a Phoenix message: ignored, the connection stays usable. */
    client_send(&c, "this is not json");
    client_send(&c, "{\"topic\":\"x\"}");
    EXPECT_QUIET(&c);

    int ref = join(&c, "room1", NULL);
    EXPECT_ERROR(&c, "room1", ref, "unmatched topic");
    ref = join(&c, "realtime:", NULL);
    EXPECT_ERROR(&c, "realtime:", ref, "TopicNameRequired");
    ref = client_push(&c, "realtime:nowhere", "broadcast", json_pack("{s:s}", "event", "x"));
    EXPECT_ERROR(&c, "realtime:nowhere", ref, "unmatched topic");
    ref = client_push(&c, "realtime:a", "phx_join",
                      json_pack("{s:{},s:s}", "config", "access_token", "not.a.jwt"));
    EXPECT_ERROR(&c, "realtime:a", ref, "InvalidJWTToken");

    /* A good join: the reply echoes the bindings with ids and says from where it is live. */
    ref = join(&c, "realtime:a",
               json_pack("{s:[{s:s,s:s,s:s},{s:s,s:s,s:s}]}", "postgres_changes", "event", "*",
                         "schema", "public", "table", "system_messages", "event", "INSERT",
                         "schema", "public", "table", "no_such_table"));
    json_t *resp = EXPECT_REPLY(&c, "realtime:a", ref, "ok");
    json_t *echo = json_object_get(resp, "postgres_changes");
    CHECK_EQ_INT(json_array_size(echo), 2);
    json_int_t id1 = json_integer_value(json_object_get(json_array_get(echo, 0), "id"));
    json_int_t id2 = json_integer_value(json_object_get(json_array_get(echo, 1), "id"));
    /* Ids depend on the spec (below 2^27, as the real server's phash2), not on the socket. */
    CHECK(id1 > 0 && id1 < (1 << 27) && id2 > 0 && id2 < (1 << 27) && id1 != id2);
    CHECK_EQ_STR(str_at(json_array_get(echo, 1), "table", NULL), "no_such_table");
    CHECK(json_is_integer(json_object_get(resp, "seq")));
    json_decref(resp);
    /* ... and the refused binding is reported as a postgres_changes system error. */
    json_t *m = EXPECT(&c, "realtime:a", "system");
    CHECK_EQ_STR(str_at(m, "payload", "status"), "error");
    CHECK(strstr(str_at(m, "payload", "message") ? str_at(m, "payload", "message") : "",
                 "unknown table 'no_such_table'"));
    json_decref(m);

    ref = client_push(&c, "realtime:a", "no_such_event", NULL);
    EXPECT_ERROR(&c, "realtime:a", ref, "unknown event");

    /* A second join of the same topic replaces the channel: phx_close, then the reply. */
    ref = join(&c, "realtime:a", NULL);
    m = EXPECT(&c, "realtime:a", "phx_close");
    json_decref(m);
    json_decref(EXPECT_REPLY(&c, "realtime:a", ref, "ok"));

    /* Channel limit: MAX_CHANNELS per connection. */
    for (int i = 1; i < MAX_CHANNELS; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "realtime:n%d", i);
        ref = join(&c, topic, NULL);
        json_decref(EXPECT_REPLY(&c, topic, ref, "ok"));
    }
    ref = join(&c, "realtime:one-too-many", NULL);
    EXPECT_ERROR(&c, "realtime:one-too-many", ref, "too many channels");

    /* Leave: ok, then phx_close; the topic is unknown afterwards and frees a slot. */
    ref = client_push(&c, "realtime:a", "phx_leave", NULL);
    json_decref(EXPECT_REPLY(&c, "realtime:a", ref, "ok"));
    json_decref(EXPECT(&c, "realtime:a", "phx_close"));
    ref = client_push(&c, "realtime:a", "broadcast", json_pack("{s:s}", "event", "x"));
    EXPECT_ERROR(&c, "realtime:a", ref, "unmatched topic");
    ref = join(&c, "realtime:one-more", NULL);
    json_decref(EXPECT_REPLY(&c, "realtime:one-more", ref, "ok"));
    EXPECT_QUIET(&c);

    client_close(&c);
}

static void test_groups_and_broadcast(void)
{
    struct client a, b, g;
    CHECK_EQ_INT(client_open(&a, tok_acme), 101);
    CHECK_EQ_INT(client_open(&b, tok_acme), 101);
    CHECK_EQ_INT(client_open(&g, tok_globex), 101);
    int ra =
        join(&a, "realtime:room", json_pack("{s:{s:b,s:b}}", "broadcast", "self", 0, "ack", 1));
    int rb = join(&b, "realtime:room", NULL);
    int rg = join(&g, "realtime:room", NULL);
    json_decref(EXPECT_REPLY(&a, "realtime:room", ra, "ok"));
    json_decref(EXPECT_REPLY(&b, "realtime:room", rb, "ok"));
    json_decref(EXPECT_REPLY(&g, "realtime:room", rg, "ok"));
    CHECK_EQ_INT(group_members(acme, "realtime:room"), 2);
    CHECK_EQ_INT(group_members(globex, "realtime:room"), 1);
    CHECK_EQ_INT(group_members(acme, "realtime:elsewhere"), -1);

    /* A's broadcast: acked to A, delivered to B, not to A (self false) nor other tenants. */
    int ref = client_push(
        &a, "realtime:room", "broadcast",
        json_pack("{s:s,s:s,s:{s:i}}", "type", "broadcast", "event", "ping", "payload", "n", 1));
    json_decref(EXPECT_REPLY(&a, "realtime:room", ref, "ok"));
    json_t *m = EXPECT(&b, "realtime:room", "broadcast");
    CHECK_EQ_STR(str_at(m, "payload", "event"), "ping");
    CHECK_EQ_INT(json_integer_value(json_object_get(
                     json_object_get(json_object_get(m, "payload"), "payload"), "n")),
                 1);
    json_decref(m);
    EXPECT_QUIET(&a);
    EXPECT_QUIET(&g);

    /* A server broadcast to one tenant. */
    rt_broadcast_tenant(rt, globex, "realtime:room", "notice", "{\"k\":2}");
    m = EXPECT(&g, "realtime:room", "broadcast");
    CHECK_EQ_STR(str_at(m, "payload", "event"), "notice");
    json_decref(m);
    EXPECT_QUIET(&b);

    /* Nobody but the server may publish on realtime:dashboard. */
    int rd = join(&b, "realtime:dashboard", NULL);
    json_decref(EXPECT_REPLY(&b, "realtime:dashboard", rd, "ok"));
    ref = client_push(&b, "realtime:dashboard", "broadcast", json_pack("{s:s}", "event", "x"));
    EXPECT_ERROR(&b, "realtime:dashboard", ref, "read-only");

    /* Leaving shrinks the group; the last one out removes it. */
    ref = client_push(&b, "realtime:room", "phx_leave", NULL);
    json_decref(EXPECT_REPLY(&b, "realtime:room", ref, "ok"));
    json_decref(EXPECT(&b, "realtime:room", "phx_close"));
    CHECK_EQ_INT(group_members(acme, "realtime:room"), 1);
    client_close(&a); /* the connection's close removes its channels too */
    for (int i = 0; i < 100 && group_members(acme, "realtime:room") != -1; i++) {
        usleep(10000);
    }
    CHECK_EQ_INT(group_members(acme, "realtime:room"), -1);
    CHECK_EQ_INT(group_members(globex, "realtime:room"), 1);
    client_close(&b);
    client_close(&g);
}

/* The single meta of key in a presence map ({key:{metas:[meta]}}), or NULL. */
static const json_t *meta_of(const json_t *map, const char *key)
{
    const json_t *metas = json_object_get(json_object_get(map, key), "metas");
    return json_array_size(metas) == 1 ? json_array_get(metas, 0) : NULL;
}

static void test_presence(void)
{
    struct client a, b, g;
    CHECK_EQ_INT(client_open(&a, tok_acme), 101);
    CHECK_EQ_INT(client_open(&b, tok_acme), 101);
    CHECK_EQ_INT(client_open(&g, tok_globex), 101);
    json_t *pa = json_pack("{s:{s:b,s:s}}", "presence", "enabled", 1, "key", "alice");
    json_t *pb = json_pack("{s:{s:b,s:s}}", "presence", "enabled", 1, "key", "bob");
    json_t *pg = json_pack("{s:{s:b,s:s}}", "presence", "enabled", 1, "key", "gina");
    int ra = join(&a, "realtime:lobby", pa);
    json_decref(EXPECT_REPLY(&a, "realtime:lobby", ra, "ok"));
    json_t *m = EXPECT(&a, "realtime:lobby", "presence_state");
    CHECK_EQ_INT(json_object_size(json_object_get(m, "payload")), 0);
    json_decref(m);
    int rb = join(&b, "realtime:lobby", pb);
    json_decref(EXPECT_REPLY(&b, "realtime:lobby", rb, "ok"));
    json_decref(EXPECT(&b, "realtime:lobby", "presence_state"));

    /* Track: ok to A, a diff joining alice to everyone in the group. */
    int ref = client_push(&a, "realtime:lobby", "presence",
                          json_pack("{s:s,s:s,s:{s:s}}", "type", "presence", "event", "track",
                                    "payload", "status", "online"));
    json_decref(EXPECT_REPLY(&a, "realtime:lobby", ref, "ok"));
    m = EXPECT(&b, "realtime:lobby", "presence_diff");
    const json_t *joined =
        meta_of(json_object_get(json_object_get(m, "payload"), "joins"), "alice");
    CHECK_EQ_STR(str_at(joined, "status", NULL), "online");
    const char *ref1 = str_at(joined, "phx_ref", NULL);
    CHECK(ref1 && *ref1);
    char first_ref[64];
    snprintf(first_ref, sizeof first_ref, "%s", ref1 ? ref1 : "");
    CHECK_EQ_INT(json_object_size(json_object_get(json_object_get(m, "payload"), "leaves")), 0);
    json_decref(m);
    json_decref(EXPECT(&a, "realtime:lobby", "presence_diff"));

    /* Track again: alice leaves with the old meta and joins with the new, linked by
     * phx_ref_prev. */
    ref = client_push(&a, "realtime:lobby", "presence",
                      json_pack("{s:s,s:{s:s}}", "event", "track", "payload", "status", "away"));
    json_decref(EXPECT_REPLY(&a, "realtime:lobby", ref, "ok"));
    m = EXPECT(&b, "realtime:lobby", "presence_diff");
    const json_t *payload = json_object_get(m, "payload");
    const json_t *left = meta_of(json_object_get(payload, "leaves"), "alice");
    joined = meta_of(json_object_get(payload, "joins"), "alice");
    CHECK_EQ_STR(str_at(left, "status", NULL), "online");
    CHECK_EQ_STR(str_at(left, "phx_ref", NULL), first_ref);
    CHECK_EQ_STR(str_at(joined, "status", NULL), "away");
    CHECK_EQ_STR(str_at(joined, "phx_ref_prev", NULL), first_ref);
    CHECK(strcmp(str_at(joined, "phx_ref", NULL) ? str_at(joined, "phx_ref", NULL) : "",
                 first_ref) != 0);
    json_decref(m);
    json_decref(EXPECT(&a, "realtime:lobby", "presence_diff"));

    /* Another tenant's lobby is another registry: empty state, no diffs. */
    int rg = join(&g, "realtime:lobby", pg);
    json_decref(EXPECT_REPLY(&g, "realtime:lobby", rg, "ok"));
    m = EXPECT(&g, "realtime:lobby", "presence_state");
    CHECK_EQ_INT(json_object_size(json_object_get(m, "payload")), 0);
    json_decref(m);
    /* A late joiner of the same tenant gets the whole state. */
    struct client c;
    CHECK_EQ_INT(client_open(&c, tok_acme), 101);
    int rl = join(&c, "realtime:lobby", json_pack("{s:{s:b}}", "presence", "enabled", 1));
    json_decref(EXPECT_REPLY(&c, "realtime:lobby", rl, "ok"));
    m = EXPECT(&c, "realtime:lobby", "presence_state");
    CHECK_EQ_STR(str_at(meta_of(json_object_get(m, "payload"), "alice"), "status", NULL), "away");
    CHECK_EQ_INT(json_object_size(json_object_get(m, "payload")), 1);
    json_decref(m);

    /* Bad presence input changes nothing. */
    ref = client_push(&a, "realtime:lobby", "presence",
                      json_pack("{s:s,s:s}", "event", "track", "payload", "not a map"));
    EXPECT_ERROR(&a, "realtime:lobby", ref, "must be a map");
    ref = client_push(&a, "realtime:lobby", "presence", json_pack("{s:s}", "event", "dance"));
    EXPECT_ERROR(&a, "realtime:lobby", ref, "unknown presence event");
    EXPECT_QUIET(&b);

    /* Untrack: a diff with only leaves. */
    ref = client_push(&a, "realtime:lobby", "presence", json_pack("{s:s}", "event", "untrack"));
    json_decref(EXPECT_REPLY(&a, "realtime:lobby", ref, "ok"));
    m = EXPECT(&b, "realtime:lobby", "presence_diff");
    payload = json_object_get(m, "payload");
    CHECK_EQ_STR(str_at(meta_of(json_object_get(payload, "leaves"), "alice"), "status", NULL),
                 "away");
    CHECK_EQ_INT(json_object_size(json_object_get(payload, "joins")), 0);
    json_decref(m);
    json_decref(EXPECT(&c, "realtime:lobby", "presence_diff"));
    json_decref(EXPECT(&a, "realtime:lobby", "presence_diff"));

    /* A tracked connection that goes away leaves. */
    ref = client_push(&b, "realtime:lobby", "presence",
                      json_pack("{s:s,s:{s:s}}", "event", "track", "payload", "status", "busy"));
    json_decref(EXPECT_REPLY(&b, "realtime:lobby", ref, "ok"));
    json_decref(EXPECT(&b, "realtime:lobby", "presence_diff"));
    json_decref(EXPECT(&c, "realtime:lobby", "presence_diff"));
    client_close(&b);
    m = EXPECT(&c, "realtime:lobby", "presence_diff");
    payload = json_object_get(m, "payload");
    CHECK_EQ_STR(str_at(meta_of(json_object_get(payload, "leaves"), "bob"), "status", NULL),
                 "busy");
    json_decref(m);
    EXPECT_QUIET(&g);
    client_close(&a);
    client_close(&c);
    client_close(&g);
}

/* Read postgres_changes on topic until want changes and (if resumed) the "resumed" system
 * message arrived; titles into out (comma-separated), seqs checked increasing. */
static void collect_changes(struct client *c, const char *topic, int want, bool resumed, char *out,
                            size_t outlen, int line)
{
    int got = 0, resumed_seen = 0;
    int64_t last_seq = -1;
    out[0] = 0;
    for (int i = 0; i < want + 10 && (got < want || resumed_seen < (resumed ? 1 : 0)); i++) {
        json_t *m = client_recv(c);
        if (!m) {
            break;
        }
        const char *ev = str_at(m, "event", NULL);
        if (ev && strcmp(ev, "system") == 0 && str_at(m, "payload", "message") &&
            strcmp(str_at(m, "payload", "message"), "resumed") == 0) {
            resumed_seen++;
            CHECK(json_is_true(json_object_get(json_object_get(m, "payload"), "recovered")));
        } else if (ev && strcmp(ev, "postgres_changes") == 0) {
            const json_t *data = json_object_get(json_object_get(m, "payload"), "data");
            int64_t seq = json_integer_value(json_object_get(data, "seq"));
            CHECK(seq > last_seq);
            last_seq = seq;
            CHECK_EQ_STR(str_at(m, "topic", NULL), topic);
            const char *title = str_at(json_object_get(data, "record"), "title", NULL);
            size_t len = strlen(out);
            snprintf(out + len, outlen - len, "%s%s", len ? "," : "", title ? title : "?");
            got++;
        } else {
            char *dump = json_dumps(m, JSON_COMPACT);
            fprintf(stderr, "  line %d: unexpected %s\n", line, dump);
            free(dump);
            CHECK(false);
        }
        json_decref(m);
    }
    CHECK_EQ_INT(got, want);
    CHECK_EQ_INT(resumed_seen, resumed ? 1 : 0);
}

static json_t *messages_binding(void)
{
    return json_pack("[{s:s,s:s,s:s}]", "event", "*", "schema", "public", "table",
                     "system_messages");
}

static void test_changes_and_resume(void)
{
    struct client a;
    char titles[512];
    CHECK_EQ_INT(client_open(&a, tok_acme), 101);
    int ref = join(&a, "realtime:msgs", json_pack("{s:o}", "postgres_changes", messages_binding()));
    json_t *resp = EXPECT_REPLY(&a, "realtime:msgs", ref, "ok");
    json_decref(resp);
    json_decref(EXPECT(&a, "realtime:msgs", "system")); /* Subscribed to PostgreSQL */

    /* Live: a tenant's row reaches it, another tenant's does not. */
    CHECK_EQ_INT(message(globex, "g0"), 0);
    CHECK_EQ_INT(message(acme, "m1"), 0);
    collect_changes(&a, "realtime:msgs", 1, false, titles, sizeof titles, __LINE__);
    CHECK_EQ_STR(titles, "m1");
    int64_t since = 0;
    {
        /* m1's seq: the head of the log now. */
        int64_t oldest = 0;
        CHECK_EQ_INT(store_changes_bounds(store, &oldest, &since), 0);
    }
    client_close(&a);

    /* Missed while away, including another tenant's row. */
    CHECK_EQ_INT(message(acme, "m2"), 0);
    CHECK_EQ_INT(message(globex, "g1"), 0);
    CHECK_EQ_INT(message(acme, "m3"), 0);
    CHECK_EQ_INT(message(acme, "m4"), 0);

    /* Resume from m1's seq while new rows are written: every acme row after it, once each,
     * in seq order, and one "resumed" (recovered) system message. */
    CHECK_EQ_INT(client_open(&a, tok_acme), 101);
    ref = join(&a, "realtime:msgs",
               json_pack("{s:o,s:{s:I}}", "postgres_changes", messages_binding(), "resume", "since",
                         (json_int_t)since));
    for (int i = 5; i <= 7; i++) {
        char title[8];
        snprintf(title, sizeof title, "m%d", i);
        CHECK_EQ_INT(message(acme, title), 0);
    }
    resp = EXPECT_REPLY(&a, "realtime:msgs", ref, "ok");
    CHECK_EQ_INT(json_integer_value(json_object_get(resp, "seq")), since);
    json_decref(resp);
    json_t *m = EXPECT(&a, "realtime:msgs", "system");
    CHECK_EQ_STR(str_at(m, "payload", "message"), "Subscribed to PostgreSQL");
    json_decref(m);
    collect_changes(&a, "realtime:msgs", 6, true, titles, sizeof titles, __LINE__);
    CHECK_EQ_STR(titles, "m2,m3,m4,m5,m6,m7");

    /* After the catch-up, live again and nothing twice. */
    CHECK_EQ_INT(message(acme, "m8"), 0);
    collect_changes(&a, "realtime:msgs", 1, false, titles, sizeof titles, __LINE__);
    CHECK_EQ_STR(titles, "m8");
    EXPECT_QUIET(&a);

    /* A resume from a seq past the head sends nothing old and still says resumed. */
    struct client b;
    CHECK_EQ_INT(client_open(&b, tok_acme), 101);
    int64_t oldest = 0, head = 0;
    CHECK_EQ_INT(store_changes_bounds(store, &oldest, &head), 0);
    ref = join(&b, "realtime:msgs",
               json_pack("{s:o,s:{s:I}}", "postgres_changes", messages_binding(), "resume", "since",
                         (json_int_t)head));
    json_decref(EXPECT_REPLY(&b, "realtime:msgs", ref, "ok"));
    json_decref(EXPECT(&b, "realtime:msgs", "system"));
    collect_changes(&b, "realtime:msgs", 0, true, titles, sizeof titles, __LINE__);
    CHECK_EQ_STR(titles, "");
    EXPECT_QUIET(&b);
    client_close(&b);
    client_close(&a);
}

static void test_hub_feeds_auth_cache(void)
{
    struct client c;
    CHECK_EQ_INT(client_open(&c, tok_doomed), 101);
    int ref = join(&c, "realtime:x", NULL);
    json_decref(EXPECT_REPLY(&c, "realtime:x", ref, "ok"));
    struct policy_principal p;
    const char *why = NULL;
    CHECK_EQ_INT(auth_session_check_token(auth, tok_doomed, strlen(tok_doomed), &p, &why), 0);

    /* Disable the user in the store: the hub hands the change to the auth cache, and the
     * token check then closes the channel and the socket (4001). */
    struct store_tx *tx = NULL;
    struct store_scope all = {.all = true};
    json_t *patch = json_pack("{s:s}", "status", "disabled");
    CHECK_EQ_INT(store_tx_begin(store, true, &tx), 0);
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &all, p.user_id, patch, 0, NULL), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    json_decref(patch);

    json_t *m = EXPECT(&c, "realtime:x", "system");
    CHECK_EQ_STR(str_at(m, "payload", "status"), "error");
    json_decref(m);
    json_decref(EXPECT(&c, "realtime:x", "phx_close"));
    CHECK(client_recv(&c) == NULL);
    CHECK_EQ_INT(c.close_code, WS_CLOSE_AUTH);
    CHECK(auth_session_check_token(auth, tok_doomed, strlen(tok_doomed), &p, &why) < 0);
    client_close(&c);
}

/* Connections of one loop with equal principals share one copy; it lives while one holds it. */
static void test_shared_principal(void)
{
    struct rt_loop *l = calloc(1, sizeof *l);
    struct policy_principal a, b;
    memset(&a, 0, sizeof a);
    snprintf(a.user_id, sizeof a.user_id, "u1");
    snprintf(a.client_id, sizeof a.client_id, "acme");
    a.role = ROLE_AGENT;
    a.iat = 100;
    b = a;
    const struct policy_principal *p1 = rt_principal_get(l, &a);
    const struct policy_principal *p2 = rt_principal_get(l, &b);
    CHECK(p1 == p2);
    CHECK(p1 != &a);
    CHECK_EQ_STR(p1->user_id, "u1");
    b.iat = 101; /* another token of the same user */
    const struct policy_principal *p3 = rt_principal_get(l, &b);
    CHECK(p3 != p1);
    CHECK(p3->iat == 101);
    b = a;
    b.role = ROLE_VIEWER;
    const struct policy_principal *p4 = rt_principal_get(l, &b);
    CHECK(p4 != p1 && p4->role == ROLE_VIEWER);
    rt_principal_put(l, p1);
    CHECK(rt_principal_get(l, &a) == p2); /* still held by the second connection */
    rt_principal_put(l, p2);
    rt_principal_put(l, p2);
    rt_principal_put(l, p3);
    rt_principal_put(l, p4);
    for (unsigned i = 0; i < RT_PRINCIPAL_BUCKETS; i++) {
        CHECK(l->principals[i] == NULL);
    }
    free(l);
}

/* A frame built once for many connections: header, then a, b and c, whatever their sizes. */
static void test_shared_frame(void)
{
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *mid = xmalloc(n + 1);
        for (size_t k = 0; k < n; k++) {
            mid[k] = (char)('a' + k % 26);
        }
        for (int bin = 0; bin < 2; bin++) {
            struct net_shared *f = net_ws_frame_new(bin, "[1,", 3, mid, n, "]", 1);
            uint8_t h[14];
            size_t hl = ws_frame_header(h, true, bin ? WS_OP_BINARY : WS_OP_TEXT, n + 4, NULL);
            CHECK_EQ_INT(f->len, hl + n + 4);
            CHECK(memcmp(f->data, h, hl) == 0);
            CHECK(memcmp(f->data + hl, "[1,", 3) == 0);
            CHECK(n == 0 || memcmp(f->data + hl + 3, mid, n) == 0);
            CHECK(f->data[hl + 3 + n] == ']' && f->data[f->len] == '\0');
            net_shared_unref(f);
        }
        free(mid);
    }
}

/* An event is made from the log's row texts and built only when asked, once, also when two
 * loops ask at the same time; hidden columns never reach its frames. */
static void *ready_thread(void *arg)
{
    rt_event_ready(arg);
    return NULL;
}

static void test_event_lazy(void)
{
    struct store_change ch = {
        .seq = 7,
        .at_ms = 1764806400123LL,
        .table = STORE_USERS,
        .op = "UPDATE",
        .row_id = "u1",
        .record_json = xstrdup("{\"id\":\"u1\",\"client_id\":\"B\",\"password_hash\":\"x\"}"),
        .old_record_json = xstrdup("{\"id\":\"u1\",\"client_id\":\"A\"}"),
    };
    struct rt_event ev;
    CHECK_EQ_INT(rt_event_init(&ev, &ch), 0);
    CHECK(!ch.record_json && !ch.old_record_json); /* taken */
    CHECK(ev.seq == 7 && ev.op == OP_UPDATE && ev.desc->id == STORE_USERS);
    CHECK(!ev.record && !ev.old_record && !ev.data && ev.record_json);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(pthread_create(&t[i], NULL, ready_thread, &ev), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    struct net_shared *data = ev.data;
    rt_event_ready(&ev);
    CHECK(ev.data == data && data && !ev.record_json && !ev.old_record_json);
    CHECK(!json_object_get(ev.record, "password_hash"));
    CHECK_EQ_STR(json_string_value(json_object_get(ev.old_record, "client_id")), "A");
    CHECK(strstr(data->data, "\"type\":\"UPDATE\"") && strstr(data->data, "\"seq\":7"));
    CHECK(strstr(data->data, "\"commit_timestamp\":\"2025-12-04T00:00:00.123Z\""));
    CHECK(!strstr(data->data, "password_hash"));
    /* It moved from tenant A to B: an arrival and a departure view. */
    CHECK(ev.data_in && strstr(ev.data_in->data, "\"type\":\"INSERT\""));
    CHECK(ev.data_out && strstr(ev.data_out->data, "\"type\":\"DELETE\""));
    rt_event_release(&ev);

    /* A DELETE keeps only the old row; an op the engine does not know is refused and leaves
     * the texts with the change. */
    struct store_change del = {.seq = 8, .table = STORE_CLIENTS, .op = "DELETE", .row_id = "c"};
    del.record_json = xstrdup("{}");
    del.old_record_json = xstrdup("{\"id\":\"c\"}");
    CHECK_EQ_INT(rt_event_init(&ev, &del), 0);
    CHECK(!ev.record_json && ev.old_record_json && del.record_json);
    rt_event_ready(&ev);
    CHECK(!ev.record && ev.old_record && ev.data && !ev.data_in);
    rt_event_release(&ev);
    free(del.record_json);
    struct store_change bad = {.seq = 9, .table = STORE_CLIENTS, .op = "MERGE", .row_id = "c"};
    bad.record_json = xstrdup("{}");
    CHECK_EQ_INT(rt_event_init(&ev, &bad), SB_E_INVAL);
    CHECK(bad.record_json != NULL);
    free(bad.record_json);
}

int main(void)
{
    test_shared_principal();
    test_shared_frame();
    test_event_lazy();
    char dir[] = "/tmp/sbrtXXXXXX";
    if (test_store_open(dir, &store) < 0) {
        return 1;
    }
    CHECK_EQ_INT(
        insert(STORE_CLIENTS, json_pack("{s:s,s:s}", "name", "Acme", "slug", "acme"), acme), 0);
    CHECK_EQ_INT(
        insert(STORE_CLIENTS, json_pack("{s:s,s:s}", "name", "Globex", "slug", "globex"), globex),
        0);
    char *uid_acme = add_admin(acme, "admin@acme.test");
    char *uid_globex = add_admin(globex, "admin@globex.test");
    char *uid_doomed = add_admin(acme, "doomed@acme.test");
    struct auth_session_config ac = {
        .jwt_secret = "unit-test-secret-unit-test-secret-unit-test-secret-0123456789"};
    CHECK_EQ_INT(auth_session_new(store, &ac, &auth), 0);
    tok_acme = issue(acme, uid_acme);
    tok_globex = issue(globex, uid_globex);
    tok_doomed = issue(acme, uid_doomed);
    CHECK(tok_acme && tok_globex && tok_doomed);

    struct rt_config cfg = {.max_channels = MAX_CHANNELS,
                            .max_bindings = 10,
                            .tail_interval_ms = 1000,
                            .token_check_ms = 50};
    CHECK_EQ_INT(rt_new(&cfg, store, auth, &rt), 0);
    struct net_config nc;
    net_config_default(&nc);
    snprintf(nc.host, sizeof nc.host, "127.0.0.1");
    nc.port = 0;
    nc.workers = 1;
    struct net_hooks hooks = {.on_request = on_request,
                              .arg = rt,
                              .on_worker_start = on_worker_start,
                              .on_worker_stop = on_worker_stop};
    CHECK_EQ_INT(net_server_start(&nc, &hooks, &server), 0);
    port = net_server_port(server);
    CHECK_EQ_INT(rt_add_consumer(rt, record_changes, &seen_mu), 0);
    CHECK_EQ_INT(rt_add_consumer(rt, NULL, NULL), SB_E_INVAL);
    int64_t oldest = 0, head0 = 0;
    CHECK_EQ_INT(store_changes_bounds(store, &oldest, &head0), 0);
    seen_last = head0;
    CHECK_EQ_INT(rt_start(rt, server), 0);

    test_upgrade_needs_apikey();
    test_dispatch();
    test_groups_and_broadcast();
    test_presence();
    test_changes_and_resume();
    test_hub_feeds_auth_cache();
    test_consumer_saw_everything(head0);

    rt_stop(rt);
    net_server_stop(server, 1000);
    rt_free(rt);
    auth_session_free(auth);
    store_free(store);
    free(tok_acme);
    free(tok_globex);
    free(tok_doomed);
    free(uid_acme);
    free(uid_globex);
    free(uid_doomed);
    test_store_remove(dir);
    return test_done();
}
