/*
 * Who is the client: the TCP peer, unless the peer is one of our trusted reverse proxies,
 * in which case X-Forwarded-For says. Login limiting and the audit log's `ip` both use the
 * address this gives, so a client can never choose it by sending the header itself.
 *
 * The trusted list is a comma-separated list of CIDR ranges or single addresses, IPv4 or
 * IPv6 ("10.0.0.0/8, 127.0.0.1, ::1"); empty trusts nobody (X-Forwarded-For is ignored).
 * Immutable after parsing: any thread may read it.
 */
#ifndef SB_AUTH_PROXY_H
#define SB_AUTH_PROXY_H

#include <stdbool.h>
#include <stddef.h>

struct auth_proxies;

/* Longest address text auth_client_ip writes, with its NUL (INET6_ADDRSTRLEN). */
#define AUTH_IP_LEN 46

/*
 * Parse list (NULL or "" gives an empty list). On success *out is a new list (free it with
 * auth_proxies_free) and 0 is returned; on a malformed entry, SB_E_CONFIG with a message
 * naming it in err (errlen bytes) and *out NULL. out may be NULL to validate only.
 */
int auth_proxies_parse(const char *list, struct auth_proxies **out, char *err, size_t errlen);
void auth_proxies_free(struct auth_proxies *self);
/* Is the address text ip (IPv4, IPv6 or IPv4-mapped IPv6) inside the list? */
bool auth_proxies_has(const struct auth_proxies *self, const char *ip);

/*
 * The client address of a request from peer, with xff the X-Forwarded-For value (all its
 * fields joined by commas, NULL when absent). When the peer is trusted, the hops of xff are
 * read from the right and the first untrusted one is the client (a malformed hop stops the
 * walk at the trusted address to its right); otherwise, or without xff, the peer. Writes the
 * canonical text form (IPv4-mapped IPv6 as IPv4) to out (outlen >= AUTH_IP_LEN).
 */
void auth_client_ip(const struct auth_proxies *self, const char *peer, const char *xff, char *out,
                    size_t outlen);

#endif
