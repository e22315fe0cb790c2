/*
 * OpenSSL over memory BIOs. Each connection has an SSL object whose read BIO we fill with
 * bytes from the socket and whose write BIO we drain into uv_write. There is no blocking and
 * no socket inside OpenSSL, so TLS connections live on the loops exactly like plain ones.
 * Protocol floor: TLS 1.2; the certificate chain and key come from PEM files.
 */
#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

struct tls_ctx {
    SSL_CTX *ssl_ctx;
};

struct tls_conn {
    SSL *ssl;
    BIO *rbio; /* ciphertext in */
    BIO *wbio; /* ciphertext out */
};

static void log_ssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char msg[256] = "unknown error";
    if (e) {
        ERR_error_string_n(e, msg, sizeof msg);
    }
    log_error("%s: %s", what, msg);
    ERR_clear_error();
}

int tls_ctx_new(const char *cert_file, const char *key_file, struct tls_ctx **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        log_ssl_error("TLS");
        return SB_E_CONFIG;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        log_ssl_error("tls_cert");
        SSL_CTX_free(ctx);
        return SB_E_CONFIG;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_ssl_error("tls_key");
        SSL_CTX_free(ctx);
        return SB_E_CONFIG;
    }
    struct tls_ctx *t = xcalloc(1, sizeof *t);
    t->ssl_ctx = ctx;
    *out = t;
    return 0;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
    if (ctx) {
        SSL_CTX_free(ctx->ssl_ctx);
        free(ctx);
    }
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx)
{
    struct tls_conn *t = xcalloc(1, sizeof *t);
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return NULL;
    }
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both BIOs now */
    SSL_set_accept_state(t->ssl);
    return t;
}

void tls_conn_free(struct tls_conn *t)
{
    if (t) {
        SSL_free(t->ssl);
        free(t);
    }
}

int tls_conn_input(struct tls_conn *t, const char *data, size_t len, char *scratch,
                   size_t scratch_len, void (*on_plain)(struct net_conn *c, char *p, size_t n),
                   bool (*stop)(struct net_conn *c), struct net_conn *c)
{
    if (len && BIO_write(t->rbio, data, (int)len) != (int)len) {
        return SB_E_PROTO;
    }
    for (;;) {
        int n = SSL_read(t->ssl, scratch, (int)scratch_len);
        if (n > 0) {
            on_plain(c, scratch, (size_t)n);
            if (stop(c)) {
                return 0;
            }
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            return 0;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            return SB_E_IO; /* close_notify from the peer */
        }
        ERR_clear_error();
        return SB_E_PROTO;
    }
}

int tls_conn_encrypt(struct tls_conn *t, const uv_buf_t *parts, unsigned nparts)
{
    for (unsigned i = 0; i < nparts; i++) {
        if (!parts[i].len) {
            continue;
        }
        int n = SSL_write(t->ssl, parts[i].base, (int)parts[i].len);
        if (n != (int)parts[i].len) {
            ERR_clear_error();
            return SB_E_PROTO;
        }
    }
    return 0;
}

void tls_conn_shutdown(struct tls_conn *t)
{
    if (SSL_is_init_finished(t->ssl)) {
        SSL_shutdown(t->ssl);
    }
    ERR_clear_error();
}

size_t tls_conn_take_output(struct tls_conn *t, char **out)
{
    size_t pending = BIO_ctrl_pending(t->wbio);
    *out = NULL;
    if (!pending) {
        return 0;
    }
    char *buf = xmalloc(pending);
    int n = BIO_read(t->wbio, buf, (int)pending);
    if (n <= 0) {
        free(buf);
        return 0;
    }
    *out = buf;
    return (size_t)n;
}
