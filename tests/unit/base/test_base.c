/* Unit tests for src/base: errors, buffers, clock, uuids. */
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
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

/* Integers as JSON and log fields write them: every digit count, both signs, the ends. */
static void test_i64(void)
{
    static const int64_t v[] = {0,
                                1,
                                -1,
                                9,
                                10,
                                -10,
                                99,
                                100,
                                123456789,
                                -987654321,
                                INT64_MAX,
                                INT64_MIN,
                                1000000000000000000LL};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char want[32], got[BUF_I64_LEN + 1];
        snprintf(want, sizeof want, "%lld", (long long)v[i]);
        size_t n = buf_fmt_i64(got, v[i]);
        got[n] = '\0';
        CHECK_EQ_STR(got, want);
    }
    struct buf b;
    buf_init(&b, 64);
    CHECK_EQ_INT(buf_put_i64(&b, -42), 0);
    CHECK_EQ_INT(buf_put_i64(&b, 7), 0);
    CHECK_EQ_STR(b.data, "-427");
    buf_release(&b);
    json_t *o = json_pack("{s:I,s:I}", "a", (json_int_t)INT64_MIN, "b", (json_int_t)1200);
    size_t len = 0;
    char *text = json_encode(o, &len);
    CHECK_EQ_STR(text, "{\"a\":-9223372036854775808,\"b\":1200}");
    free(text);
    json_decref(o);
}

static void test_clock(void)
{
    char s[CLOCK_RFC3339_LEN];
    clock_format_ms(0, s);
    CHECK_EQ_STR(s, "1970-01-01T00:00:00.000Z");
    clock_format_ms(1795600800123, s);
    CHECK_EQ_STR(s, "2026-11-25T10:00:00.123Z");
    /* the same second again, the next one, and back (a thread keeps its last second) */
    clock_format_ms(1795600800007, s);
    CHECK_EQ_STR(s, "2026-11-25T10:00:00.007Z");
    clock_format_ms(1795600801999, s);
    CHECK_EQ_STR(s, "2026-11-25T10:00:01.999Z");
    clock_format_ms(1795600800050, s);
    CHECK_EQ_STR(s, "2026-11-25T10:00:00.050Z");
    clock_format_ms(-1, s);
    CHECK_EQ_STR(s, "1969-12-31T23:59:59.999Z");
    int64_t ms = 0;
    CHECK_EQ_INT(clock_parse_ms("2026-11-25T10:00:00.123Z", &ms), 0);
    CHECK_EQ_INT(ms, 1795600800123);
    CHECK_EQ_INT(clock_parse_ms("2026-11-25T11:00:00+01:00", &ms), 0);
    CHECK_EQ_INT(ms, 1795600800000);
    CHECK_EQ_INT(clock_parse_ms("2026-11-25", &ms), SB_E_INVAL);
    CHECK_EQ_INT(clock_parse_ms("2026-13-25T10:00:00Z", &ms), SB_E_INVAL);
    CHECK_EQ_INT(clock_parse_ms("2026-11-25T10:00:00Zjunk", &ms), SB_E_INVAL);
    CHECK(clock_mono_ms() > 0);
    /* A timed wait runs on the monotonic clock: unsignalled, it lasts its time (a condition
     * variable left on the wall clock would see the monotonic deadline as long past). */
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond;
    clock_cond_init(&cond);
    pthread_mutex_lock(&mu);
    int64_t t0 = clock_mono_ms();
    while (clock_mono_ms() - t0 < 30) {
        clock_cond_wait_ms(&cond, &mu, 30 - (clock_mono_ms() - t0));
    }
    pthread_mutex_unlock(&mu);
    int64_t t1 = clock_mono_ms();
    CHECK(t1 - t0 >= 30);
    /* one wait of 40 ms, unsignalled: at least most of it passes (spurious wake-ups aside) */
    pthread_mutex_lock(&mu);
    clock_cond_wait_ms(&cond, &mu, 40);
    pthread_mutex_unlock(&mu);
    CHECK(clock_mono_ms() - t1 >= 30);
    pthread_cond_destroy(&cond);
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

    /* Version 7: the first 48 bits are the Unix milliseconds, so ids of later milliseconds sort
     * after earlier ones; the rest random. */
    int64_t t0 = clock_now_ms();
    char v1[UUID_STR_LEN], v2[UUID_STR_LEN], v3[UUID_STR_LEN];
    uuid_v7(v1);
    uuid_v7(v2);
    CHECK(uuid_is_valid(v1) && uuid_is_valid(v2));
    CHECK(v1[14] == '7' && strchr("89ab", v1[19]) != NULL);
    CHECK(strcmp(v1, v2) != 0);
    char hex[13];
    memcpy(hex, v1, 8);
    memcpy(hex + 8, v1 + 9, 4);
    hex[12] = '\0';
    int64_t ms = (int64_t)strtoll(hex, NULL, 16);
    CHECK(ms >= t0 && ms <= clock_now_ms());
    while (clock_now_ms() == ms) {
    }
    uuid_v7(v3);
    CHECK(strcmp(v3, v1) > 0 && strcmp(v3, v2) > 0);
    /* Ids of one process sort in the order they were made, also many in one millisecond. */
    char prev[UUID_STR_LEN], next[UUID_STR_LEN];
    uuid_v7(prev);
    int increasing = 1;
    for (int i = 0; i < 10000; i++) {
        uuid_v7(next);
        increasing &= strcmp(next, prev) > 0 && uuid_is_valid(next) && next[14] == '7' &&
                      strchr("89ab", next[19]) != NULL;
        memcpy(prev, next, sizeof prev);
    }
    CHECK(increasing);
}

static int cmp_uuid(const void *x, const void *y)
{
    return strcmp(x, y);
}

/* UUIDs come from a per-thread pool refilled every 64: across refills they stay valid
 * version-4 UUIDs and distinct, and a forked child does not repeat the parent's next one. */
static void test_uuid_pool(void)
{
    enum { N = 1000 };
    static char ids[N][UUID_STR_LEN];
    for (int i = 0; i < N; i++) {
        uuid_v4(ids[i]);
        CHECK(uuid_is_valid(ids[i]));
        CHECK(ids[i][14] == '4');
        CHECK(strchr("89ab", ids[i][19]) != NULL);
    }
    qsort(ids, N, sizeof ids[0], cmp_uuid);
    int dups = 0;
    for (int i = 1; i < N; i++) {
        dups += strcmp(ids[i - 1], ids[i]) == 0;
    }
    CHECK_EQ_INT(dups, 0);

    char parent[UUID_STR_LEN], child[UUID_STR_LEN] = "";
    uuid_v4(parent); /* the pool now holds the next ones */
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char mine[UUID_STR_LEN];
        uuid_v4(mine);
        ssize_t w = write(fds[1], mine, sizeof mine);
        _exit(w == (ssize_t)sizeof mine ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < sizeof child) {
        ssize_t r = read(fds[0], child + got, sizeof child - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_INT((int)got, (int)sizeof child);
    uuid_v4(parent);
    CHECK(uuid_is_valid(child));
    CHECK(strcmp(parent, child) != 0);
}

int main(void)
{
    test_err();
    test_buf();
    test_i64();
    test_clock();
    test_uuid();
    test_uuid_pool();
    return test_done();
}
