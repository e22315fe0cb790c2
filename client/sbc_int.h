/*
 * libswitchboard internals shared by the files of client/: URL and transport (conn.c),
 * blocking HTTP (rest.c), the client loop and channels (client.c), errors (errors.c).
 * Nothing here is installed; only include/switchboard.h is public. Every non-static name
 * starts with sbc_ and is hidden from the shared library by -fvisibility=hidden.
 */
#ifndef SB_CLIENT_SBC_INT_H
#define SB_CLIENT_SBC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "switchboard.h"

/* ---- URL ---------------------------------------------------------------------------- */

struct sbc_url {
    bool tls;         /* https or wss */
    char host[256];   /* without brackets for IPv6 */
    char port[8];     /* decimal */
    char prefix[512]; /* path prefix without trailing '/', "" for none */
};

/* Parse http[s]:// or ws[s]:// URLs. 0 or SB_ERR_URL. */
int sbc_url_parse(const char *s, struct sbc_url *out);

/* ---- transport (plain TCP or TLS) ------------------------------------------------------ */

enum {
    SBC_IO_OK = 0,
    SBC_IO_EOF = 1,
    SBC_IO_WANT_READ = 2,
    SBC_IO_WANT_WRITE = 3,
};

struct sbc_conn;

/* The transport as a const ops table (STYLE: polymorphism = ops + instance). Each returns
 * SBC_IO_* or a negative SB_ERR_*; *n is set on SBC_IO_OK. */
struct sbc_conn_ops {
    int (*handshake)(struct sbc_conn *c);
    int (*read)(struct sbc_conn *c, void *buf, size_t len, size_t *n);
    int (*write)(struct sbc_conn *c, const void *buf, size_t len, size_t *n);
    void (*close)(struct sbc_conn *c);
};

struct sbc_conn {
    const struct sbc_conn_ops *ops;
    int fd;
    SSL *ssl;
    char err[256]; /* last transport error text */
};

/* A TLS context for the options (verify, CA file); NULL with err filled on failure. */
SSL_CTX *sbc_tls_ctx_new(bool verify, const char *ca_file, char *err, size_t errlen);

/* Resolve url's host: 0 or SB_ERR_RESOLVE (err says why). Free with freeaddrinfo. */
struct addrinfo;
int sbc_resolve(const struct sbc_url *url, struct addrinfo **out, char *err, size_t errlen);

/* Start a non-blocking connect to ai: 0 connected, 1 in progress, or SB_ERR_CONNECT. */
int sbc_conn_start(struct sbc_conn *c, const struct addrinfo *ai);
/* After POLLOUT on a connect in progress: 0 or SB_ERR_CONNECT (err set). */
int sbc_conn_finish(struct sbc_conn *c);
/* Switch c to TLS (after the TCP connect): 0 or SB_ERR_TLS/NOMEM. */
int sbc_conn_tls(struct sbc_conn *c, SSL_CTX *ctx, const char *host);
void sbc_conn_init(struct sbc_conn *c);
static inline int sbc_conn_handshake(struct sbc_conn *c)
{
    return c->ops->handshake(c);
}
static inline int sbc_conn_read(struct sbc_conn *c, void *buf, size_t len, size_t *n)
{
    return c->ops->read(c, buf, len, n);
}
static inline int sbc_conn_write(struct sbc_conn *c, const void *buf, size_t len, size_t *n)
{
    return c->ops->write(c, buf, len, n);
}
static inline void sbc_conn_close(struct sbc_conn *c)
{
    c->ops->close(c);
}

/* Blocking helpers with a deadline (monotonic ms): connect (every address, TLS included),
 * write all, read some. */
int sbc_conn_open_blocking(struct sbc_conn *c, const struct sbc_url *url, SSL_CTX *ctx,
                           int64_t deadline_ms, char *err, size_t errlen);
int sbc_conn_write_all(struct sbc_conn *c, const void *buf, size_t len, int64_t deadline_ms);
/* Read up to len: bytes read (>0), 0 at EOF, or a negative error. */
ssize_t sbc_conn_read_some(struct sbc_conn *c, void *buf, size_t len, int64_t deadline_ms);

int64_t sbc_now_ms(void);

/* ---- growable byte string with a cap (never aborts) ------------------------------------ */

struct sbc_str {
    char *data;
    size_t len, cap, max;
};
void sbc_str_init(struct sbc_str *s, size_t max);
void sbc_str_release(struct sbc_str *s);
int sbc_str_append(struct sbc_str *s, const void *p, size_t n);
int sbc_str_puts(struct sbc_str *s, const char *p);
int sbc_str_printf(struct sbc_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbc_str_consume(struct sbc_str *s, size_t n);

/* ---- HTTP ------------------------------------------------------------------------------ */

/* A parsed response head; slices point into the caller's buffer. */
struct sbc_http_head {
    int status;
    size_t head_len;          /* bytes of the head including the blank line */
    long long content_length; /* -1 if absent */
    bool chunked;
    const char *accept; /* Sec-WebSocket-Accept value */
    size_t accept_len;
    bool upgrade_websocket; /* Upgrade: websocket */
};

/* Parse a response head in buf[0..len): 1 complete, 0 need more, SB_ERR_PROTO malformed. */
int sbc_http_parse_head(const char *buf, size_t len, struct sbc_http_head *out);

/* Decode a whole body after the head (content-length, chunked, or to EOF) into out. */
int sbc_http_body(const char *buf, size_t len, const struct sbc_http_head *head,
                  struct sbc_str *out);

/* Blocking HTTP exchange on a new connection: 0 and *resp, or a negative error. */
int sbc_http_exchange(const struct sbc_url *url, SSL_CTX *ctx, const char *method, const char *path,
                      const char *token, const char *body, long long if_match, int timeout_ms,
                      struct sb_response *resp, char *err, size_t errlen);
/* Blocking GET whose 200 body goes to sink as it arrives (decoded from chunks); any other
 * status is read whole into *resp like sbc_http_exchange. timeout_ms bounds each silence. */
int sbc_http_download(const struct sbc_url *url, SSL_CTX *ctx, const char *path, const char *token,
                      const char *accept, int timeout_ms,
                      int (*sink)(const char *data, size_t len, void *user), void *user,
                      struct sb_response *resp, char *err, size_t errlen);

/* Random bytes (OpenSSL RAND_bytes, falling back to getrandom). */
void sbc_random(void *buf, size_t len);

#endif
