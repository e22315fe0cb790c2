/*
 * Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a browser
 * that logged in to an account successfully gets a cookie naming that account, signed with
 * the server key. Presenting it later lets that device skip the account's login delay
 * (auth/ratelimit.h), so a flood of failures against the account from elsewhere cannot keep
 * its owner out even after the owner's address changed. The firm (account, IP) and IP limits
 * still apply to it.
 *
 * Token: "<issued_at_s>.<nonce>.<mac>" with nonce 16 random bytes and mac the HMAC-SHA256 of
 * "device:<account>:<issued_at_s>.<nonce>", both base64url, under a key derived from the
 * server's signing key (so no MAC made here can serve as a token signature). Valid for
 * AUTH_DEVICE_TTL_S. Stateless: nothing is stored; a device cookie is not a credential (it
 * only lifts a delay), so it is not revoked with sessions.
 */
#ifndef SB_AUTH_DEVICE_H
#define SB_AUTH_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_DEVICE_COOKIE "sb_device"
#define AUTH_DEVICE_TTL_S (30 * 86400)
#define AUTH_DEVICE_LEN 96 /* longest token with its NUL */

/* The device-cookie key of one server, derived from its signing key (auth/session.h keeps
 * it beside that key). Zeroed storage is "no key": no token is valid and none is issued. */
struct auth_device_key {
    unsigned char key[32];
    bool set;
};

/* Derive self from the server's signing key (NULL or len 0: clear it). */
void auth_device_key_init(struct auth_device_key *self, const unsigned char *server_key,
                          size_t len);
/* A new device token for account (lower-cased) at now_ms into out ("" without a key). */
void auth_device_issue(const struct auth_device_key *key, const char *account, int64_t now_ms,
                       char out[AUTH_DEVICE_LEN]);
/* Is token (NULL: none) a valid, unexpired device token of account under key (NULL or unset:
 * never)? Constant-time MAC check. */
bool auth_device_valid(const struct auth_device_key *key, const char *account, const char *token,
                       int64_t now_ms);
/* The value of cookie `name` in a Cookie header value, copied into out (outlen bytes), or
 * NULL when absent or too long. */
const char *auth_cookie_get(const char *header, const char *name, char *out, size_t outlen);

#endif
