/* Unit tests for src/auth/device.c: device cookies and the Cookie header. */
#include "test.h"

#include <stdbool.h>

#include "auth/device.h"

static void test_issue_and_check(void)
{
    int64_t now = 1800000000000LL;
    char t[AUTH_DEVICE_LEN];
    struct auth_device_key none = {0}, key, other;
    auth_device_issue(&none, "owner@x", now, t);
    CHECK_EQ_STR(t, "");                                 /* no key: nothing is issued */
    CHECK(!auth_device_valid(&none, "owner@x", t, now)); /* nor valid */
    CHECK(!auth_device_valid(NULL, "owner@x", t, now));
    auth_device_key_init(&key, (const unsigned char *)"0123456789abcdef0123456789abcdef", 32);
    auth_device_issue(&key, "owner@x", now, t);
    CHECK(strlen(t) > 60);
    CHECK(auth_device_valid(&key, "owner@x", t, now));
    CHECK(auth_device_valid(&key, "owner@x", t, now + (int64_t)AUTH_DEVICE_TTL_S * 1000));
    CHECK(!auth_device_valid(&key, "owner@x", t, now + ((int64_t)AUTH_DEVICE_TTL_S + 1) * 1000));
    CHECK(!auth_device_valid(&key, "other@x", t, now));
    CHECK(!auth_device_valid(&key, "owner@x", NULL, now));
    CHECK(!auth_device_valid(&key, "owner@x", "", now));
    CHECK(!auth_device_valid(&key, "owner@x", "garbage", now));
    /* every single-character change is refused */
    bool all_refused = true;
    for (size_t i = 0; t[i]; i++) {
        char u[AUTH_DEVICE_LEN];
        memcpy(u, t, sizeof u);
        u[i] = u[i] == 'A' ? 'B' : 'A';
        all_refused = all_refused && !auth_device_valid(&key, "owner@x", u, now);
    }
    CHECK(all_refused);
    /* issued in the future (clock games) */
    auth_device_issue(&key, "owner@x", now + 3600 * 1000, t);
    CHECK(!auth_device_valid(&key, "owner@x", t, now));
    char a[AUTH_DEVICE_LEN], b[AUTH_DEVICE_LEN];
    auth_device_issue(&key, "owner@x", now, a);
    auth_device_issue(&key, "owner@x", now, b);
    CHECK(strcmp(a, b) != 0);
    /* another server's key: refused, and the first key still works (two servers, two keys) */
    auth_device_key_init(&other, (const unsigned char *)"another-key-another-key-another-k", 33);
    CHECK(!auth_device_valid(&other, "owner@x", a, now));
    CHECK(auth_device_valid(&key, "owner@x", a, now));
    auth_device_key_init(&key, NULL, 0);
    CHECK(!auth_device_valid(&key, "owner@x", a, now));
}

static void test_cookie_get(void)
{
    char v[32];
    CHECK_EQ_STR(auth_cookie_get("a=1; sb_device=xyz; b=2", "sb_device", v, sizeof v), "xyz");
    CHECK_EQ_STR(auth_cookie_get("sb_device=xyz", "sb_device", v, sizeof v), "xyz");
    CHECK(auth_cookie_get("xsb_device=1; sb_devicex=2", "sb_device", v, sizeof v) == NULL);
    CHECK(auth_cookie_get("a=1", "sb_device", v, sizeof v) == NULL);
    CHECK(auth_cookie_get("", "sb_device", v, sizeof v) == NULL);
    CHECK(auth_cookie_get("sb_device=0123456789012345678901234567890123456789", "sb_device", v,
                          sizeof v) == NULL);
}

int main(void)
{
    test_issue_and_check();
    test_cookie_get();
    return test_done();
}
