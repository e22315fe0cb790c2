/*
 * Trusted proxies and the client address (contract in proxy.h).
 *
 * Every address is held as 16 bytes of IPv6, IPv4 as IPv4-mapped (::ffff:a.b.c.d), so one
 * prefix match serves both families; an IPv4 prefix /n becomes /(96 + n). The list is a
 * plain array: it holds a handful of ranges and is scanned per request.
 */
#include "auth/proxy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"

struct range {
    uint8_t addr[16];
    unsigned prefix; /* 0..128 */
};

struct auth_proxies {
    struct range *r;
    size_t n;
};

/* Parse an address (surrounding blanks, [brackets] and an IPv4 :port are tolerated). */
static bool addr_parse(const char *s, size_t len, uint8_t out[16], bool *v4)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    char txt[64];
    if (len >= 2 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) {
            return false;
        }
        len = (size_t)(close - s - 1);
        s++;
    }
    if (!len || len >= sizeof txt) {
        return false;
    }
    memcpy(txt, s, len);
    txt[len] = '\0';
    char *colon = strchr(txt, ':');
    if (colon && !strchr(colon + 1, ':') && strchr(txt, '.')) {
        *colon = '\0'; /* a.b.c.d:port */
    }
    struct in_addr a4;
    if (inet_pton(AF_INET, txt, &a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        *v4 = true;
        return true;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, txt, &a6) == 1) {
        memcpy(out, &a6, 16);
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        *v4 = memcmp(out, mapped, 12) == 0;
        return true;
    }
    return false;
}

static bool range_has(const struct range *r, const uint8_t a[16])
{
    unsigned bytes = r->prefix / 8, bits = r->prefix % 8;
    if (memcmp(r->addr, a, bytes) != 0) {
        return false;
    }
    if (!bits) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - bits));
    return (r->addr[bytes] & mask) == (a[bytes] & mask);
}

static bool list_has(const struct auth_proxies *self, const uint8_t a[16])
{
    for (size_t i = 0; self && i < self->n; i++) {
        if (range_has(&self->r[i], a)) {
            return true;
        }
    }
    return false;
}

static int parse_entry(const char *s, size_t len, struct range *out)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    bool v4 = false;
    if (!addr_parse(s, alen, out->addr, &v4)) {
        return -1;
    }
    unsigned max = v4 ? 32 : 128;
    unsigned prefix = max;
    if (slash) {
        const char *p = slash + 1;
        size_t plen = len - alen - 1;
        while (plen && p[plen - 1] == ' ') {
            plen--;
        }
        if (!plen || plen > 3) {
            return -1;
        }
        prefix = 0;
        for (size_t i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9') {
                return -1;
            }
            prefix = prefix * 10 + (unsigned)(p[i] - '0');
        }
        if (prefix > max) {
            return -1;
        }
    }
    out->prefix = v4 ? prefix + 96 : prefix;
    /* Clear host bits so the range compares by its network part only. */
    for (unsigned b = out->prefix; b < 128; b++) {
        out->addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
    }
    return 0;
}

int auth_proxies_parse(const char *list, struct auth_proxies **out, char *err, size_t errlen)
{
    if (out) {
        *out = NULL;
    }
    struct auth_proxies *self = xcalloc(1, sizeof *self);
    const char *p = list ? list : "";
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t')) {
            i++;
        }
        if (i < n) {
            struct range r;
            if (parse_entry(p + i, n - i, &r) < 0) {
                snprintf(err, errlen,
                         "invalid value for trusted_proxies: \"%.*s\" is not an address or "
                         "CIDR range",
                         (int)(n - i > 80 ? 80 : n - i), p + i);
                auth_proxies_free(self);
                return SB_E_CONFIG;
            }
            self->r = xrealloc(self->r, (self->n + 1) * sizeof *self->r);
            self->r[self->n++] = r;
        }
        p += e ? n + 1 : n;
    }
    if (out) {
        *out = self;
    } else {
        auth_proxies_free(self);
    }
    return 0;
}

void auth_proxies_free(struct auth_proxies *self)
{
    if (!self) {
        return;
    }
    free(self->r);
    free(self);
}

bool auth_proxies_has(const struct auth_proxies *self, const char *ip)
{
    uint8_t a[16];
    bool v4;
    return ip && addr_parse(ip, strlen(ip), a, &v4) && list_has(self, a);
}

static void addr_format(const uint8_t a[16], bool v4, char *out, size_t outlen)
{
    char txt[AUTH_IP_LEN];
    if (v4) {
        /* Dotted decimal by hand: this runs for every request's log line. */
        char *o = txt;
        for (int i = 12; i < 16; i++) {
            unsigned v = a[i];
            if (v >= 100) {
                *o++ = (char)('0' + v / 100);
            }
            if (v >= 10) {
                *o++ = (char)('0' + v / 10 % 10);
            }
            *o++ = (char)('0' + v % 10);
            *o++ = i < 15 ? '.' : '\0';
        }
    } else {
        inet_ntop(AF_INET6, a, txt, sizeof txt);
    }
    size_t n = strlen(txt);
    if (outlen) {
        n = n < outlen - 1 ? n : outlen - 1;
        memcpy(out, txt, n);
        out[n] = '\0';
    }
}

void auth_client_ip(const struct auth_proxies *self, const char *peer, const char *xff, char *out,
                    size_t outlen)
{
    uint8_t a[16];
    bool v4;
    if (!addr_parse(peer, strlen(peer), a, &v4)) {
        snprintf(out, outlen, "%s", peer);
        return;
    }
    if (xff && list_has(self, a)) {
        /* Right to left: each hop was appended by the one to its right, which we trust. */
        const char *end = xff + strlen(xff);
        while (end > xff) {
            const char *start = end;
            while (start > xff && start[-1] != ',') {
                start--;
            }
            uint8_t h[16];
            bool hv4;
            bool blank = strspn(start, " \t") >= (size_t)(end - start);
            if (!blank) {
                if (!addr_parse(start, (size_t)(end - start), h, &hv4)) {
                    break;
                }
                memcpy(a, h, 16);
                v4 = hv4;
                if (!list_has(self, a)) {
                    break;
                }
            }
            end = start > xff ? start - 1 : xff;
        }
    }
    addr_format(a, v4, out, outlen);
}
