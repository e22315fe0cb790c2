/* Unit tests for src/base: errors, buffers, clock, uuids. */
#include "test.h"

#include <stdlib.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/rand.h"

static void test_err(void)
{
    CHECK_EQ_INT(err_http_status(SB_E_NOTFOUND), 404);
    CHECK_EQ_STR(err_code(SB_E_VALIDATION), "validation_failed");
    CHECK_EQ_STR(sb_strerror(0), "ok");
    CHECK_EQ_INT(err_http_status(-1), 500);
    CHECK_EQ_STR(err_code(12345), "ok");
}

static void test_buf(void)
{
    struct buf b;
    buf_init(&b, 10);
    CHECK_EQ_INT(buf_puts(&b, "hello"), 0);
    CHECK_EQ_INT(buf_printf(&b, "%d", 12345), 0);
    CHECK_EQ_STR(b.data, "hello12345");
    CHECK_EQ_INT(buf_putc(&b, 'x'), SB_E_TOOBIG);
    CHECK_EQ_INT(b.len, 10);
    buf_consume(&b, 5);
    CHECK_EQ_STR(b.data, "12345");
    size_t n;
    char *p = buf_detach(&b, &n);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_STR(p, "12345");
    free(p);
    CHECK(b.data == NULL);
    buf_release(&b);
}

static void test_clock(void)
{
    char s[CLOCK_RFC3339_LEN];
    clock_format_ms(0, s);
    CHECK_EQ_STR(s, "1970-01-01T00:00:00.000Z");
    clock_format_ms(1795600800123, s);
    CHECK_EQ_STR(s, "2026-11-25T10:00:00.123Z");
    int64_t ms = 0;
    CHECK_EQ_INT(clock_parse_ms("2026-11-25T10:00:00.123Z", &ms), 0);
    CHECK_EQ_INT(ms, 1795600800123);
    CHECK_EQ_INT(clock_parse_ms("2026-11-25T11:00:00+01:00", &ms), 0);
    CHECK_EQ_INT(ms, 1795600800000);
    CHECK_EQ_INT(clock_parse_ms("2026-11-25", &ms), SB_E_INVAL);
    CHECK_EQ_INT(clock_parse_ms("2026-13-25T10:00:00Z", &ms), SB_E_INVAL);
    CHECK_EQ_INT(clock_parse_ms("2026-11-25T10:00:00Zjunk", &ms), SB_E_INVAL);
    CHECK(clock_mono_ms() > 0);
}

static void test_uuid(void)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    uuid_v4(a);
    uuid_v4(b);
    CHECK(uuid_is_valid(a));
    CHECK(strcmp(a, b) != 0);
    CHECK(a[14] == '4');
    CHECK(!uuid_is_valid("not-a-uuid"));
    CHECK(!uuid_is_valid("0000000000000000000000000000000000000"));
}

int main(void)
{
    test_err();
    test_buf();
    test_clock();
    test_uuid();
    return test_done();
}
