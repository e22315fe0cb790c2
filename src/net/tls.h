/*
 * TLS for HTTP and WebSocket connections (https, wss), with OpenSSL over memory BIOs: the
 * socket I/O stays libuv's; this module only turns ciphertext into plaintext and back.
 * Internal to src/net.
 */
#ifndef SB_NET_TLS_H
#define SB_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct net_conn;
struct tls_ctx;
struct tls_conn;

/* Load a PEM certificate chain and private key; errors are logged. 0 or SB_E_CONFIG. */
int tls_ctx_new(const char *cert_file, const char *key_file, struct tls_ctx **out);
void tls_ctx_free(struct tls_ctx *ctx);

/* A server-side TLS session for one connection. NULL on failure. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx);
void tls_conn_free(struct tls_conn *t);

/*
 * Feed ciphertext from the socket. Each chunk of decrypted plaintext is handed to on_plain
 * (which may close the connection; feeding stops when stop() says so). Handshake and alert
 * bytes to send are left for tls_conn_take_output. Returns 0, or SB_E_PROTO on a TLS error.
 */
int tls_conn_input(struct tls_conn *t, const char *data, size_t len, char *scratch,
                   size_t scratch_len, void (*on_plain)(struct net_conn *c, char *p, size_t n),
                   bool (*stop)(struct net_conn *c), struct net_conn *c);
/* Encrypt the parts (in order) as application data. 0 or SB_E_PROTO. */
int tls_conn_encrypt(struct tls_conn *t, const uv_buf_t *parts, unsigned nparts);
/* Start a TLS close_notify. */
void tls_conn_shutdown(struct tls_conn *t);
/* Ciphertext waiting to be sent: a malloc'd buffer in *out (NULL when none). */
size_t tls_conn_take_output(struct tls_conn *t, char **out);

#endif
