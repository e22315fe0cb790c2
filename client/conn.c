/*
 * The SDK's transport layer: URL parsing, name resolution, non-blocking and blocking TCP
 * connects, and the two transports (plain TCP, TLS via OpenSSL) behind one const ops table
 * so the WebSocket loop and the blocking HTTP helper never branch on TLS. Also the small
 * capped string buffer the SDK uses everywhere instead of the server's aborting buf.
 */
#include "sbc_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

int64_t sbc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sbc_random(void *buf, size_t len)
{
    if (RAND_bytes(buf, (int)len) == 1) {
        return;
    }
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n <= 0) {
            break;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* ---- capped string ---- */

void sbc_str_init(struct sbc_str *s, size_t max)
{
    s->data = NULL;
    s->len = 0;
    s->cap = 0;
    s->max = max;
}

void sbc_str_release(struct sbc_str *s)
{
    free(s->data);
    sbc_str_init(s, s->max);
}

int sbc_str_append(struct sbc_str *s, const void *p, size_t n)
{
    if (n > s->max || s->len > s->max - n) {
        return SB_ERR_TOOBIG;
    }
    size_t need = s->len + n + 1;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < need) {
            cap *= 2;
        }
        char *d = realloc(s->data, cap);
        if (!d) {
            return SB_ERR_NOMEM;
        }
        s->data = d;
        s->cap = cap;
    }
    if (n) {
        memcpy(s->data + s->len, p, n);
    }
    s->len += n;
    s->data[s->len] = '\0';
    return 0;
}

int sbc_str_puts(struct sbc_str *s, const char *p)
{
    return sbc_str_append(s, p, strlen(p));
}

int sbc_str_printf(struct sbc_str *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return SB_ERR_INVAL;
    }
    if ((size_t)n < sizeof(small)) {
        return sbc_str_append(s, small, (size_t)n);
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        return SB_ERR_NOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = sbc_str_append(s, big, (size_t)n);
    free(big);
    return rc;
}

void sbc_str_consume(struct sbc_str *s, size_t n)
{
    if (n >= s->len) {
        s->len = 0;
    } else {
        memmove(s->data, s->data + n, s->len - n);
        s->len -= n;
    }
    if (s->data) {
        s->data[s->len] = '\0';
    }
}

/* ---- URL ---- */

int sbc_url_parse(const char *s, struct sbc_url *out)
{
    memset(out, 0, sizeof(*out));
    if (!s) {
        return SB_ERR_URL;
    }
    const char *p;
    if (strncmp(s, "http://", 7) == 0 || strncmp(s, "ws://", 5) == 0) {
        p = strstr(s, "://") + 3;
        memcpy(out->port, "80", 3);
    } else if (strncmp(s, "https://", 8) == 0 || strncmp(s, "wss://", 6) == 0) {
        p = strstr(s, "://") + 3;
        out->tls = true;
        memcpy(out->port, "443", 4);
    } else {
        return SB_ERR_URL;
    }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end) {
            return SB_ERR_URL;
        }
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        p = host_end;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof(out->host)) {
        return SB_ERR_URL;
    }
    for (size_t i = 0; i < hl; i++) {
        char c = host[i];
        if (c <= ' ' || c == '@' || c == '\\' || (unsigned char)c >= 0x7f) {
            return SB_ERR_URL;
        }
    }
    memcpy(out->host, host, hl);
    if (*p == ':') {
        p++;
        size_t pl = strspn(p, "0123456789");
        if (pl == 0 || pl > 5) {
            return SB_ERR_URL;
        }
        long port = strtol(p, NULL, 10);
        if (port < 1 || port > 65535) {
            return SB_ERR_URL;
        }
        snprintf(out->port, sizeof(out->port), "%ld", port);
        p += pl;
    }
    if (*p == '?' || *p == '#') {
        return SB_ERR_URL;
    }
    if (*p != '\0' && *p != '/') {
        return SB_ERR_URL;
    }
    size_t plen = strcspn(p, "?#");
    if (p[plen] != '\0') {
        return SB_ERR_URL;
    }
    while (plen > 0 && p[plen - 1] == '/') {
        plen--;
    }
    if (plen >= sizeof(out->prefix)) {
        return SB_ERR_URL;
    }
    for (size_t i = 0; i < plen; i++) {
        if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f) {
            return SB_ERR_URL;
        }
    }
    memcpy(out->prefix, p, plen);
    /* A URL given as the realtime endpoint is accepted too: strip /realtime/v1[/websocket]. */
    static const char *const tails[] = {"/realtime/v1/websocket", "/realtime/v1"};
    for (size_t i = 0; i < 2; i++) {
        size_t tl = strlen(tails[i]);
        if (plen >= tl && strcmp(out->prefix + plen - tl, tails[i]) == 0) {
            out->prefix[plen - tl] = '\0';
            break;
        }
    }
    return 0;
}

/* ---- resolve and connect ---- */

int sbc_resolve(const struct sbc_url *url, struct addrinfo **out, char *err, size_t errlen)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int rc = getaddrinfo(url->host, url->port, &hints, out);
    if (rc != 0) {
        *out = NULL;
        snprintf(err, errlen, "cannot resolve host '%s': %s", url->host, gai_strerror(rc));
        return SB_ERR_RESOLVE;
    }
    return 0;
}

static int plain_handshake(struct sbc_conn *c)
{
    (void)c;
    return SBC_IO_OK;
}

static int plain_read(struct sbc_conn *c, void *buf, size_t len, size_t *n)
{
    ssize_t r = recv(c->fd, buf, len, 0);
    if (r > 0) {
        *n = (size_t)r;
        return SBC_IO_OK;
    }
    if (r == 0) {
        return SBC_IO_EOF;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return SBC_IO_WANT_READ;
    }
    snprintf(c->err, sizeof(c->err), "read: %s", strerror(errno));
    return SB_ERR_IO;
}

static int plain_write(struct sbc_conn *c, const void *buf, size_t len, size_t *n)
{
    ssize_t r = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (r >= 0) {
        *n = (size_t)r;
        return SBC_IO_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return SBC_IO_WANT_WRITE;
    }
    snprintf(c->err, sizeof(c->err), "write: %s", strerror(errno));
    return SB_ERR_IO;
}

static void plain_close(struct sbc_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
}

static const struct sbc_conn_ops plain_ops = {plain_handshake, plain_read, plain_write,
                                              plain_close};

static void tls_error(struct sbc_conn *c, const char *what)
{
    unsigned long e = ERR_get_error();
    char msg[160] = "";
    if (e) {
        ERR_error_string_n(e, msg, sizeof(msg));
    }
    long vr = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    if (vr != X509_V_OK) {
        snprintf(c->err, sizeof(c->err), "%s: certificate verification failed: %s", what,
                 X509_verify_cert_error_string(vr));
    } else {
        snprintf(c->err, sizeof(c->err), "%s: %s", what, e ? msg : "connection closed");
    }
    ERR_clear_error();
}

static int tls_result(struct sbc_conn *c, int r, const char *what)
{
    int e = SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return SBC_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return SBC_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return SBC_IO_EOF;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            return SBC_IO_EOF;
        }
        tls_error(c, what);
        return SB_ERR_TLS;
    default:
        tls_error(c, what);
        return SB_ERR_TLS;
    }
}

static int tls_handshake(struct sbc_conn *c)
{
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        return SBC_IO_OK;
    }
    int rc = tls_result(c, r, "TLS handshake");
    return rc == SBC_IO_EOF ? SB_ERR_TLS : rc;
}

static int tls_read(struct sbc_conn *c, void *buf, size_t len, size_t *n)
{
    int r = SSL_read_ex(c->ssl, buf, len, n);
    return r == 1 ? SBC_IO_OK : tls_result(c, 0, "TLS read");
}

static int tls_write(struct sbc_conn *c, const void *buf, size_t len, size_t *n)
{
    int r = SSL_write_ex(c->ssl, buf, len, n);
    return r == 1 ? SBC_IO_OK : tls_result(c, 0, "TLS write");
}

static void tls_close(struct sbc_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    plain_close(c);
    c->ops = &plain_ops;
}

static const struct sbc_conn_ops tls_ops = {tls_handshake, tls_read, tls_write, tls_close};

void sbc_conn_init(struct sbc_conn *c)
{
    c->ops = &plain_ops;
    c->fd = -1;
    c->ssl = NULL;
    c->err[0] = '\0';
}

SSL_CTX *sbc_tls_ctx_new(bool verify, const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: cannot create context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            snprintf(err, errlen, "TLS: cannot load CA certificates%s%s", ca_file ? " from " : "",
                     ca_file ? ca_file : "");
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

int sbc_conn_tls(struct sbc_conn *c, SSL_CTX *ctx, const char *host)
{
    c->ssl = SSL_new(ctx);
    if (!c->ssl) {
        return SB_ERR_NOMEM;
    }
    SSL_set_fd(c->ssl, c->fd);
    /* An IP address literal is checked against the certificate's IP SANs and is not sent as
     * SNI; a name is checked against its DNS names. */
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (!is_ip) {
        SSL_set_tlsext_host_name(c->ssl, host);
    }
    if (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) {
        X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                       : X509_VERIFY_PARAM_set1_host(param, host, 0);
        if (!ok) {
            return SB_ERR_TLS;
        }
    }
    c->ops = &tls_ops;
    return 0;
}

int sbc_conn_start(struct sbc_conn *c, const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
        return SB_ERR_CONNECT;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        return 0;
    }
    if (errno == EINPROGRESS) {
        return 1;
    }
    snprintf(c->err, sizeof(c->err), "connect: %s", strerror(errno));
    plain_close(c);
    return SB_ERR_CONNECT;
}

int sbc_conn_finish(struct sbc_conn *c)
{
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
        soerr = errno;
    }
    if (soerr != 0) {
        snprintf(c->err, sizeof(c->err), "connect: %s", strerror(soerr));
        plain_close(c);
        return SB_ERR_CONNECT;
    }
    return 0;
}

/* Wait for events on c->fd until deadline: 0 ready, SB_ERR_TIMEOUT, SB_ERR_IO. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - sbc_now_ms();
        if (left <= 0) {
            return SB_ERR_TIMEOUT;
        }
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left));
        if (r > 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return SB_ERR_IO;
        }
    }
}

int sbc_conn_open_blocking(struct sbc_conn *c, const struct sbc_url *url, SSL_CTX *ctx,
                           int64_t deadline_ms, char *err, size_t errlen)
{
    struct addrinfo *res;
    int rc = sbc_resolve(url, &res, err, errlen);
    if (rc < 0) {
        return rc;
    }
    rc = SB_ERR_CONNECT;
    snprintf(err, errlen, "cannot connect to %s:%s", url->host, url->port);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        sbc_conn_init(c);
        int s = sbc_conn_start(c, ai);
        if (s == 1) {
            s = wait_fd(c->fd, POLLOUT, deadline_ms);
            if (s == SB_ERR_TIMEOUT) {
                plain_close(c);
                rc = SB_ERR_TIMEOUT;
                snprintf(err, errlen, "timed out connecting to %s:%s", url->host, url->port);
                break;
            }
            s = s < 0 ? s : sbc_conn_finish(c);
        }
        if (s == 0) {
            rc = 0;
            break;
        }
        snprintf(err, errlen, "cannot connect to %s:%s: %s", url->host, url->port, c->err);
    }
    freeaddrinfo(res);
    if (rc < 0 || !url->tls) {
        return rc;
    }
    rc = sbc_conn_tls(c, ctx, url->host);
    while (rc == 0) {
        int h = sbc_conn_handshake(c);
        if (h == SBC_IO_OK) {
            return 0;
        }
        if (h < 0) {
            snprintf(err, errlen, "%s", c->err);
            rc = h;
            break;
        }
        int w = wait_fd(c->fd, h == SBC_IO_WANT_READ ? POLLIN : POLLOUT, deadline_ms);
        if (w < 0) {
            snprintf(err, errlen, "TLS handshake with %s timed out", url->host);
            rc = w;
        }
    }
    sbc_conn_close(c);
    return rc < 0 ? rc : SB_ERR_TLS;
}

int sbc_conn_write_all(struct sbc_conn *c, const void *buf, size_t len, int64_t deadline_ms)
{
    const char *p = buf;
    while (len > 0) {
        size_t n = 0;
        int r = sbc_conn_write(c, p, len, &n);
        if (r == SBC_IO_OK) {
            p += n;
            len -= n;
            continue;
        }
        if (r < 0) {
            return r;
        }
        if (r == SBC_IO_EOF) {
            return SB_ERR_IO;
        }
        int w = wait_fd(c->fd, r == SBC_IO_WANT_READ ? POLLIN : POLLOUT, deadline_ms);
        if (w < 0) {
            return w;
        }
    }
    return 0;
}

ssize_t sbc_conn_read_some(struct sbc_conn *c, void *buf, size_t len, int64_t deadline_ms)
{
    for (;;) {
        size_t n = 0;
        int r = sbc_conn_read(c, buf, len, &n);
        if (r == SBC_IO_OK) {
            return (ssize_t)n;
        }
        if (r == SBC_IO_EOF) {
            return 0;
        }
        if (r < 0) {
            return r;
        }
        int w = wait_fd(c->fd, r == SBC_IO_WANT_READ ? POLLIN : POLLOUT, deadline_ms);
        if (w < 0) {
            return w;
        }
    }
}
