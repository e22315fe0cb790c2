/*
 * SDK unit tests that need no server: URL parsing, the HTTP response-head parser (fed at
 * every split point), clear errors for bad URLs and unreachable servers, and reconnect
 * backoff delays within their bounds (observed through the state callback while connecting
 * to a loopback port that refuses connections).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sbc_int.h"
#include "test.h"

static void test_url(void)
{
    struct sbc_url u;
    CHECK_EQ_INT(sbc_url_parse("http://127.0.0.1:8080", &u), 0);
    CHECK_EQ_STR(u.host, "127.0.0.1");
    CHECK_EQ_STR(u.port, "8080");
    CHECK(!u.tls);
    CHECK_EQ_INT(sbc_url_parse("https://example.test/base/", &u), 0);
    CHECK(u.tls);
    CHECK_EQ_STR(u.port, "443");
    CHECK_EQ_STR(u.prefix, "/base");
    CHECK_EQ_INT(sbc_url_parse("ws://[::1]:9/realtime/v1", &u), 0);
    CHECK_EQ_STR(u.host, "::1");
    CHECK_EQ_STR(u.prefix, "");
    const char *bad[] = {
        "",           "127.0.0.1:8080", "ftp://x",     "http://",      "http://:80",
        "http://h:0", "http://h:99999", "http://h:8x", "http://h?q=1", "http://a b",
        "http://u@h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(sbc_url_parse(bad[i], &u), SB_ERR_URL);
    }
}

static void test_head(void)
{
    const char *r =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nXY";
    size_t len = strlen(r);
    struct sbc_http_head h;
    for (size_t split = 0; split < len - 2; split++) {
        CHECK_EQ_INT(sbc_http_parse_head(r, split, &h), 0);
    }
    CHECK_EQ_INT(sbc_http_parse_head(r, len, &h), 1);
    CHECK_EQ_INT(h.status, 101);
    CHECK(h.upgrade_websocket);
    CHECK_EQ_INT(h.accept_len, 28);
    CHECK_EQ_INT(h.head_len, len - 2);
    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
    CHECK_EQ_INT(sbc_http_parse_head(chunked, strlen(chunked), &h), 1);
    CHECK(h.chunked);
    struct sbc_str body;
    sbc_str_init(&body, 1024);
    CHECK_EQ_INT(sbc_http_body(chunked, strlen(chunked), &h, &body), 0);
    CHECK_EQ_STR(body.data, "{\"a\":1}");
    sbc_str_release(&body);
    const char *cl = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";
    CHECK_EQ_INT(sbc_http_parse_head(cl, strlen(cl), &h), 1);
    CHECK_EQ_INT(h.status, 404);
    CHECK_EQ_INT(h.content_length, 2);
    CHECK_EQ_INT(sbc_http_parse_head("HTTX/1.1 200 OK\r\n\r\n", 19, &h), SB_ERR_PROTO);
    CHECK_EQ_INT(sbc_http_parse_head("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 28, &h), SB_ERR_PROTO);
}

/* A loopback port with nothing listening. */
static int refused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

struct trace {
    int reconnects, connecting, last_attempt, bad;
    int64_t last_reconnect_ms;
    int last_delay;
    int last_error;
    char reason[256];
};

static void on_state(struct sb_client *c, const struct sb_state_info *info, void *user)
{
    (void)c;
    struct trace *t = user;
    int64_t now = sbc_now_ms();
    if (info->state == SB_STATE_RECONNECTING) {
        int n = info->attempt;
        int64_t ceiling = 40;
        for (int i = 1; i < n && ceiling < 300; i++) {
            ceiling *= 2;
        }
        if (ceiling > 300) {
            ceiling = 300;
        }
        if (info->delay_ms < 40 || info->delay_ms > ceiling || n != t->reconnects + 1) {
            t->bad++;
            fprintf(stderr, "attempt %d delay %d outside [40, %lld]\n", n, info->delay_ms,
                    (long long)ceiling);
        }
        t->reconnects++;
        t->last_reconnect_ms = now;
        t->last_delay = info->delay_ms;
        t->last_error = info->error;
        snprintf(t->reason, sizeof(t->reason), "%s", info->reason);
    } else if (info->state == SB_STATE_CONNECTING) {
        if (t->reconnects > 0 && now - t->last_reconnect_ms < t->last_delay - 2) {
            t->bad++;
            fprintf(stderr, "retried after %lld ms, before its delay %d\n",
                    (long long)(now - t->last_reconnect_ms), t->last_delay);
        }
        t->connecting++;
    }
}

static void run_until(struct sb_client *c, struct trace *t, int reconnects, int max_ms)
{
    int64_t end = sbc_now_ms() + max_ms;
    while (t->reconnects < reconnects && sbc_now_ms() < end) {
        sb_client_process(c, 50);
    }
}

static void test_backoff_refused(void)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", refused_port());
    struct trace t = {0};
    struct sb_options o = {0};
    o.url = url;
    o.token = "x";
    o.reconnect_min_ms = 40;
    o.reconnect_max_ms = 300;
    o.on_state = on_state;
    o.user = &t;
    struct sb_client *c = NULL;
    CHECK_EQ_INT(sb_client_new(&o, &c), 0);
    CHECK_EQ_INT(sb_client_connect(c), 0);
    CHECK_EQ_INT(sb_client_connect(c), SB_ERR_STATE);
    run_until(c, &t, 7, 10000);
    CHECK_EQ_INT(t.reconnects, 7);
    CHECK_EQ_INT(t.bad, 0);
    CHECK_EQ_INT(t.last_error, SB_ERR_CONNECT);
    CHECK(strstr(t.reason, "refused") != NULL);
    sb_client_disconnect(c);
    CHECK_EQ_INT(sb_client_state(c), SB_STATE_DISCONNECTED);

    struct sb_response r;
    CHECK_EQ_INT(sb_request(c, "GET", "/livez", NULL, &r), SB_ERR_CONNECT);
    char err[256];
    sb_client_last_error(c, err, sizeof(err));
    CHECK(strstr(err, "cannot connect to 127.0.0.1") != NULL);
    sb_client_free(c);
}

static void test_threaded(void)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", refused_port());
    struct trace t = {0};
    struct sb_options o = {0};
    o.url = url;
    o.reconnect_min_ms = 40;
    o.reconnect_max_ms = 300;
    o.jitter = SB_JITTER_EQUAL;
    o.on_state = on_state;
    o.user = &t;
    struct sb_client *c = NULL;
    CHECK_EQ_INT(sb_client_new(&o, &c), 0);
    CHECK_EQ_INT(sb_client_start(c), 0);
    CHECK_EQ_INT(sb_client_start(c), SB_ERR_STATE);
    CHECK_EQ_INT(sb_client_process(c, 0), SB_ERR_STATE);
    for (int i = 0; i < 200; i++) {
        sb_client_state(c);
        usleep(5000);
    }
    sb_client_stop(c);
    CHECK(t.reconnects >= 2);
    CHECK_EQ_INT(t.bad, 0);
    sb_client_free(c);
}

static void test_bad_host(void)
{
    struct trace t = {0};
    struct sb_options o = {0};
    o.url = "http://no-such-host.invalid:80";
    o.reconnect_min_ms = 40;
    o.reconnect_max_ms = 40;
    o.on_state = on_state;
    o.user = &t;
    struct sb_client *c = NULL;
    CHECK_EQ_INT(sb_client_new(&o, &c), 0);
    sb_client_connect(c);
    run_until(c, &t, 1, 10000);
    CHECK_EQ_INT(t.last_error, SB_ERR_RESOLVE);
    CHECK(strstr(t.reason, "cannot resolve host 'no-such-host.invalid'") != NULL);
    sb_client_free(c);

    o.url = "localhost:8080";
    CHECK_EQ_INT(sb_client_new(&o, &c), SB_ERR_URL);
    CHECK(c == NULL);
    CHECK(strstr(sb_errstr(SB_ERR_URL), "URL") != NULL);
    o.url = NULL;
    CHECK_EQ_INT(sb_client_new(&o, &c), SB_ERR_INVAL);
}

int main(void)
{
    test_url();
    test_head();
    test_backoff_refused();
    test_threaded();
    test_bad_host();
    return test_done();
}
