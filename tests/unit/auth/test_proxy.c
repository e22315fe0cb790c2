/* Unit tests for src/auth/proxy.c: trusted-proxy lists and the client address. */
#include "test.h"

#include "auth/proxy.h"
#include "base/err.h"

static const char *client(const struct auth_proxies *p, const char *peer, const char *xff)
{
    static char out[AUTH_IP_LEN];
    auth_client_ip(p, peer, xff, out, sizeof out);
    return out;
}

static void test_parse(void)
{
    char err[200];
    struct auth_proxies *p = NULL;
    CHECK_EQ_INT(auth_proxies_parse("", &p, err, sizeof err), 0);
    CHECK(p != NULL);
    CHECK(!auth_proxies_has(p, "127.0.0.1"));
    auth_proxies_free(p);
    CHECK_EQ_INT(
        auth_proxies_parse(" 10.0.0.0/8 , ::1,192.168.1.7, fd00::/8 ", &p, err, sizeof err), 0);
    CHECK(auth_proxies_has(p, "10.200.3.4"));
    CHECK(!auth_proxies_has(p, "11.0.0.1"));
    CHECK(auth_proxies_has(p, "::1"));
    CHECK(auth_proxies_has(p, "192.168.1.7"));
    CHECK(!auth_proxies_has(p, "192.168.1.8"));
    CHECK(auth_proxies_has(p, "fd12::1"));
    CHECK(auth_proxies_has(p, "::ffff:10.1.2.3"));
    auth_proxies_free(p);
    const char *bad[] = {"10.0.0.0/33", "nonsense", "10.0.0.1/", "::1/129", "1.2.3.4/x", "1.2.3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(auth_proxies_parse(bad[i], &p, err, sizeof err), SB_E_CONFIG);
        CHECK(p == NULL);
        CHECK(strstr(err, "trusted_proxies") != NULL);
    }
    CHECK_EQ_INT(auth_proxies_parse("127.0.0.0/8", NULL, err, sizeof err), 0);
}

static void test_client_ip(void)
{
    char err[200];
    struct auth_proxies *none = NULL, *p = NULL;
    auth_proxies_parse("", &none, err, sizeof err);
    auth_proxies_parse("127.0.0.1, 10.0.0.0/8", &p, err, sizeof err);
    /* no trusted proxy: the header is ignored */
    CHECK_EQ_STR(client(none, "127.0.0.1", "203.0.113.9"), "127.0.0.1");
    /* an untrusted peer cannot choose its address */
    CHECK_EQ_STR(client(p, "198.51.100.1", "203.0.113.9"), "198.51.100.1");
    /* trusted peer: the right-most untrusted hop */
    CHECK_EQ_STR(client(p, "127.0.0.1", "203.0.113.9"), "203.0.113.9");
    CHECK_EQ_STR(client(p, "127.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.5"), "203.0.113.9");
    CHECK_EQ_STR(client(p, "127.0.0.1", "203.0.113.9:5555"), "203.0.113.9");
    CHECK_EQ_STR(client(p, "127.0.0.1", "[2001:db8::1]"), "2001:db8::1");
    CHECK_EQ_STR(client(p, "127.0.0.1", "2001:db8::1"), "2001:db8::1");
    CHECK_EQ_STR(client(p, "::ffff:127.0.0.1", "::ffff:203.0.113.9"), "203.0.113.9");
    /* IPv4 written back in canonical dotted decimal, every digit count */
    CHECK_EQ_STR(client(p, "127.0.0.1", "0.0.0.0"), "0.0.0.0");
    CHECK_EQ_STR(client(p, "127.0.0.1", "255.255.255.255"), "255.255.255.255");
    CHECK_EQ_STR(client(p, "127.0.0.1", "1.20.100.9"), "1.20.100.9");
    CHECK_EQ_STR(client(none, "::ffff:10.200.3.45", NULL), "10.200.3.45");
    /* every hop trusted: the left-most */
    CHECK_EQ_STR(client(p, "127.0.0.1", "10.0.0.9, 10.0.0.5"), "10.0.0.9");
    /* a malformed hop stops at the trusted address to its right */
    CHECK_EQ_STR(client(p, "127.0.0.1", "203.0.113.9, garbage"), "127.0.0.1");
    CHECK_EQ_STR(client(p, "127.0.0.1", "garbage, 10.0.0.5"), "10.0.0.5");
    /* empty hops are skipped; an empty header gives the peer */
    CHECK_EQ_STR(client(p, "127.0.0.1", "203.0.113.9, ,"), "203.0.113.9");
    CHECK_EQ_STR(client(p, "127.0.0.1", ""), "127.0.0.1");
    CHECK_EQ_STR(client(p, "127.0.0.1", NULL), "127.0.0.1");
    auth_proxies_free(none);
    auth_proxies_free(p);
}

int main(void)
{
    test_parse();
    test_client_ip();
    return test_done();
}
