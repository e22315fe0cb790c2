/*
 * Unit tests for the RFC 6455 codec (src/net/ws/ws_codec.c).
 *
 * Every reader test builds a byte stream, runs it through a fresh reader and turns what comes
 * out into a transcript string ("TEXT(5):hello | PING(0): | E1002"). The stream is fed whole,
 * split in two at every byte position (sampled positions for streams over 4 KiB, see
 * split_positions), and one byte at a time; all transcripts must be identical to the expected
 * one. Feeding a copy each time matters: the reader unmasks in place.
 */
#include "test.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "net/net_int.h"
#include "net/ws/ws_codec.h"

#define FIN 0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10

static const uint8_t test_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* ---- stream building ---- */

static void put_raw(struct buf *in, const void *p, size_t n)
{
    CHECK_EQ_INT(buf_append(in, p, n), 0);
}

/* One frame: b0 is FIN/RSV/opcode; masked frames use test_mask. */
static void put_frame(struct buf *in, uint8_t b0, const void *payload, size_t len, bool masked)
{
    uint8_t hdr[14];
    size_t n = ws_frame_header(hdr, (b0 & FIN) != 0, (enum ws_opcode)(b0 & 0x0F), len,
                               masked ? test_mask : NULL);
    hdr[0] = b0;
    put_raw(in, hdr, n);
    char *p = buf_reserve(in, len);
    CHECK(p != NULL);
    if (!p) {
        return;
    }
    if (len) {
        memcpy(p, payload, len);
    }
    if (masked) {
        ws_mask((uint8_t *)p, len, test_mask, 0);
    }
    buf_commit(in, len);
}

static void put_close(struct buf *in, uint16_t code, const char *reason, size_t reason_len,
                      bool masked)
{
    uint8_t payload[125];
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    memcpy(payload + 2, reason, reason_len);
    put_frame(in, FIN | WS_OP_CLOSE, payload, 2 + reason_len, masked);
}

/* ---- transcripts ---- */

/* Like CHECK, but counts only failures: the transcript machinery runs millions of times. */
#define ENSURE(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_failed++;                                                                         \
            fprintf(stderr, "%s:%d: ENSURE failed: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                          \
    } while (0)

static void describe_event(struct buf *out, const struct ws_event *ev)
{
    static const char *names[] = {"NONE", "TEXT", "BIN", "PING", "PONG", "CLOSE"};
    ENSURE(ev->data != NULL);
    ENSURE(0 == buf_printf(out, "%s", names[ev->type]));
    if (ev->type == WS_EV_CLOSE) {
        ENSURE(0 == buf_printf(out, " %u", (unsigned)ev->close_code));
    }
    ENSURE(0 == buf_printf(out, "(%zu):", ev->len));
    if (ev->len > 48) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < ev->len; i++) {
            h = (h ^ ev->data[i]) * 16777619u;
        }
        ENSURE(0 == buf_printf(out, "#%08x", (unsigned)h));
        return;
    }
    for (size_t i = 0; i < ev->len; i++) {
        uint8_t c = ev->data[i];
        int rc = c >= 0x20 && c < 0x7f && c != '\\' ? buf_putc(out, (char)c)
                                                    : buf_printf(out, "\\x%02x", (unsigned)c);
        ENSURE(rc == 0);
    }
}

/*
 * Feed in[0..len) in chunks: [0, split) then the rest when step is 0, else step bytes at a
 * time. Returns the transcript (xmalloc'd): events, then "ok" (idle between frames),
 * "partial" (inside a frame or message) or "E<code>".
 */
static char *transcript(const uint8_t *in, size_t len, bool server, size_t max_message,
                        size_t split, size_t step)
{
    uint8_t *copy = xmalloc(len ? len : 1);
    if (len) {
        memcpy(copy, in, len);
    }
    struct ws_reader r;
    ws_reader_init(&r, server, max_message);
    struct buf out;
    buf_init(&out, 1 << 20);
    size_t pos = 0;
    bool failed = false;
    while (pos < len && !failed) {
        size_t end = step ? pos + step : (pos < split ? split : len);
        if (end > len) {
            end = len;
        }
        while (pos < end) {
            size_t used = 0;
            struct ws_event ev;
            uint16_t code = 0;
            int rc = ws_reader_feed(&r, copy + pos, end - pos, &used, &ev, &code);
            ENSURE(used <= end - pos);
            pos += used;
            if (rc < 0) {
                ENSURE(rc == (code == WS_CLOSE_TOO_BIG ? SB_E_TOOBIG : SB_E_PROTO));
                ENSURE(0 == buf_printf(&out, "E%u", (unsigned)code));
                failed = true;
                break;
            }
            if (rc == 1) {
                describe_event(&out, &ev);
                ENSURE(0 == buf_puts(&out, " | "));
            } else {
                ENSURE(pos == end);
                break;
            }
        }
    }
    if (!failed) {
        bool idle = r.state == 0 && r.hdr_len == 0 && r.msg_opcode == 0;
        ENSURE(0 == buf_puts(&out, idle ? "ok" : "partial"));
    }
    ws_reader_release(&r);
    free(copy);
    return buf_detach(&out, NULL);
}

/*
 * Split positions to try: all of 0..len for small streams; for big ones every position in
 * the first and last 300 bytes plus every 251st in between (each run costs O(len)).
 */
static bool split_wanted(size_t k, size_t len)
{
    return len <= 4096 || k < 300 || k + 300 > len || k % 251 == 0;
}

/* Run a stream in every feeding pattern and compare each transcript to expected. */
static void expect_stream(const struct buf *in, bool server, size_t max_message,
                          const char *expected)
{
    const uint8_t *p = (const uint8_t *)in->data;
    char *whole = transcript(p, in->len, server, max_message, in->len, 0);
    CHECK_EQ_STR(whole, expected);

    size_t bad_split = SIZE_MAX;
    for (size_t k = 0; k <= in->len && bad_split == SIZE_MAX; k++) {
        if (!split_wanted(k, in->len)) {
            continue;
        }
        char *t = transcript(p, in->len, server, max_message, k, 0);
        if (strcmp(t, whole) != 0) {
            bad_split = k;
            fprintf(stderr, "split at %zu: %s\n  whole: %s\n", k, t, whole);
        }
        free(t);
    }
    CHECK(bad_split == SIZE_MAX);

    char *bytewise = transcript(p, in->len, server, max_message, 0, 1);
    CHECK_EQ_STR(bytewise, whole);
    free(bytewise);
    free(whole);
}

/* ---- helpers for the rule tests ---- */

static void stream_init(struct buf *in)
{
    buf_init(in, 1 << 22);
}

static void expect_single(uint8_t b0, const void *payload, size_t len, bool masked, bool server,
                          const char *expected)
{
    struct buf in;
    stream_init(&in);
    put_frame(&in, b0, payload, len, masked);
    expect_stream(&in, server, 0, expected);
    buf_release(&in);
}

/* ---- tests ---- */

static void test_accept_key(void)
{
    char out[29];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    ws_accept_key(key, strlen(key), out);
    CHECK_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK_EQ_INT(strlen(out), 28);

    CHECK(ws_key_is_valid(key, strlen(key)));
    CHECK(ws_key_is_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24));
    CHECK(ws_key_is_valid("+/+/+/+/+/+/+/+/+/+/+w==", 24));
    CHECK(!ws_key_is_valid(key, 23));
    CHECK(!ws_key_is_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
    CHECK(!ws_key_is_valid("dGhlIHNhbXBsZSBub25jZQ===", 25));
    CHECK(!ws_key_is_valid("dGhlIHNhbXBsZSBub25jZQA=", 24));
    CHECK(!ws_key_is_valid("dGhlIHNhbXBsZSBub25j-Q==", 24));
    CHECK(!ws_key_is_valid("dGhlIHNhbXBsZSBub25j Q==", 24));
    CHECK(!ws_key_is_valid("", 0));
    CHECK(!ws_key_is_valid(NULL, 24));
}

static void test_frame_header(void)
{
    uint8_t h[14];
    CHECK_EQ_INT(ws_frame_header(h, true, WS_OP_TEXT, 0, NULL), 2);
    CHECK(h[0] == 0x81 && h[1] == 0x00);
    CHECK_EQ_INT(ws_frame_header(h, true, WS_OP_BINARY, 125, NULL), 2);
    CHECK(h[0] == 0x82 && h[1] == 125);
    CHECK_EQ_INT(ws_frame_header(h, false, WS_OP_TEXT, 126, NULL), 4);
    CHECK(h[0] == 0x01 && h[1] == 126 && h[2] == 0 && h[3] == 126);
    CHECK_EQ_INT(ws_frame_header(h, true, WS_OP_TEXT, 65535, NULL), 4);
    CHECK(h[1] == 126 && h[2] == 0xFF && h[3] == 0xFF);
    CHECK_EQ_INT(ws_frame_header(h, true, WS_OP_TEXT, 65536, NULL), 10);
    static const uint8_t len64[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    CHECK(h[1] == 127 && memcmp(h + 2, len64, 8) == 0);
    CHECK_EQ_INT(ws_frame_header(h, true, WS_OP_CLOSE, 0x0102030405ULL, NULL), 10);
    static const uint8_t len64b[8] = {0, 0, 0, 1, 2, 3, 4, 5};
    CHECK(h[0] == 0x88 && memcmp(h + 2, len64b, 8) == 0);

    /* Client frames: mask bit and key after the length. */
    CHECK_EQ_INT(ws_frame_header(h, true, WS_OP_PING, 5, test_mask), 6);
    CHECK(h[0] == 0x89 && h[1] == (0x80 | 5) && memcmp(h + 2, test_mask, 4) == 0);
    CHECK_EQ_INT(ws_frame_header(h, true, WS_OP_TEXT, 126, test_mask), 8);
    CHECK(h[1] == (0x80 | 126) && memcmp(h + 4, test_mask, 4) == 0);
    CHECK_EQ_INT(ws_frame_header(h, true, WS_OP_TEXT, 65536, test_mask), 14);
    CHECK(h[1] == (0x80 | 127) && memcmp(h + 10, test_mask, 4) == 0);

    /* ws_mask with an offset continues the mask where a previous chunk stopped. */
    uint8_t a[7] = {1, 2, 3, 4, 5, 6, 7}, b[7];
    memcpy(b, a, 7);
    ws_mask(a, 7, test_mask, 0);
    ws_mask(b, 3, test_mask, 0);
    ws_mask(b + 3, 4, test_mask, 3);
    CHECK(memcmp(a, b, 7) == 0);
    CHECK(a[0] == (1 ^ 0x37) && a[4] == (5 ^ 0x37));
}

static void test_utf8(void)
{
    struct {
        const char *s;
        uint32_t accept; /* 0 valid and complete, 1 invalid, 2 incomplete */
    } cases[] = {
        {"", 0},
        {"hello", 0},
        {"\xc3\xa9", 0},
        {"\xe2\x82\xac", 0},
        {"\xf0\x9f\x98\x80", 0},
        {"\xf4\x8f\xbf\xbf", 0},
        {"\xed\x9f\xbf", 0},
        {"\xef\xbf\xbf", 0},
        {"\xc0\xaf", 1},         /* overlong */
        {"\xc1\xbf", 1},         /* overlong */
        {"\xe0\x80\xaf", 1},     /* overlong */
        {"\xf0\x80\x80\xaf", 1}, /* overlong */
        {"\xed\xa0\x80", 1},     /* surrogate */
        {"\xf4\x90\x80\x80", 1}, /* > U+10FFFF */
        {"\xf5\x80\x80\x80", 1},
        {"\xff", 1},
        {"\x80", 1},
        {"a\xc3", 2},
        {"\xe2\x82", 2},
        {"\xf0\x9f\x98", 2},
        {"\xc3\x41", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint8_t *p = (const uint8_t *)cases[i].s;
        size_t n = strlen(cases[i].s);
        uint32_t st = ws_utf8_step(0, p, n);
        uint32_t got = st == 0 ? 0 : st == 1 ? 1 : 2;
        if (got != cases[i].accept) {
            fprintf(stderr, "utf8 case %zu\n", i);
        }
        CHECK_EQ_INT(got, cases[i].accept);
        /* Byte by byte gives the same final state. */
        uint32_t st2 = 0;
        for (size_t k = 0; k < n && st2 != 1; k++) {
            st2 = ws_utf8_step(st2, p + k, 1);
        }
        CHECK_EQ_INT(st2, st);
    }
    /* Fails at the bad byte: F4 90 is rejected without the rest of the sequence. */
    CHECK_EQ_INT(ws_utf8_step(0, (const uint8_t *)"\xf4\x90", 2), 1);
    CHECK_EQ_INT(ws_utf8_step(0, (const uint8_t *)"\xe0\x9f", 2), 1);
    CHECK_EQ_INT(ws_utf8_step(1, (const uint8_t *)"a", 1), 1);
}

static void test_close_codes(void)
{
    static const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                     1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const uint16_t invalid[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                       1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        CHECK(ws_close_code_is_valid(valid[i]));
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        CHECK(!ws_close_code_is_valid(invalid[i]));
    }
}

static void test_valid_sizes(void)
{
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        char *payload = xmalloc(n + 1);
        for (size_t k = 0; k < n; k++) {
            payload[k] = (char)('a' + k % 26);
        }
        for (int kind = 0; kind < 2; kind++) {
            struct buf in;
            stream_init(&in);
            put_frame(&in, FIN | (kind ? WS_OP_BINARY : WS_OP_TEXT), payload, n, true);
            /* Expected transcript from the same describer applied to the plain payload. */
            struct ws_event ev = {kind ? WS_EV_BINARY : WS_EV_TEXT, (const uint8_t *)payload, n, 0};
            struct buf want;
            buf_init(&want, 1 << 20);
            describe_event(&want, &ev);
            CHECK_EQ_INT(buf_puts(&want, " | ok"), 0);
            expect_stream(&in, true, 0, want.data);
            buf_release(&want);
            buf_release(&in);
        }
        free(payload);
    }
}

static void test_zero_copy(void)
{
    struct buf in;
    stream_init(&in);
    put_frame(&in, FIN | WS_OP_TEXT, "hello", 5, true);
    put_frame(&in, FIN | WS_OP_PING, "p", 1, true);
    struct ws_reader r;
    ws_reader_init(&r, true, 0);
    uint8_t *p = (uint8_t *)in.data;
    size_t used = 0;
    struct ws_event ev;
    uint16_t code = 0;
    CHECK_EQ_INT(ws_reader_feed(&r, p, in.len, &used, &ev, &code), 1);
    CHECK_EQ_INT(ev.type, WS_EV_TEXT);
    CHECK(ev.data == p + 6); /* points into the input, unmasked in place */
    CHECK(ev.len == 5 && memcmp(ev.data, "hello", 5) == 0);
    CHECK_EQ_INT(used, 11);
    /* The rest of the input is untouched until fed. */
    CHECK(p[used] == (FIN | WS_OP_PING));
    CHECK_EQ_INT(ws_reader_feed(&r, p + used, in.len - used, &used, &ev, &code), 1);
    CHECK_EQ_INT(ev.type, WS_EV_PING);
    CHECK(ev.len == 1 && ev.data[0] == 'p');
    CHECK_EQ_INT(ws_reader_feed(&r, p, 0, &used, &ev, &code), 0);
    CHECK_EQ_INT(used, 0);
    ws_reader_release(&r);
    buf_release(&in);
}

static void test_fragmented(void)
{
    struct buf in;
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "Hello, ", 7, true);
    put_frame(&in, FIN | WS_OP_PING, "ping!", 5, true);
    put_frame(&in, WS_OP_CONT, "wor", 3, true);
    put_frame(&in, FIN | WS_OP_PONG, "", 0, true);
    put_frame(&in, WS_OP_CONT, "", 0, true);
    put_frame(&in, FIN | WS_OP_CONT, "ld \xe2\x82\xac", 6, true);
    put_frame(&in, FIN | WS_OP_BINARY, "\x00\xff", 2, true);
    expect_stream(&in, true, 0,
                  "PING(5):ping! | PONG(0): | TEXT(16):Hello, world \\xe2\\x82\\xac | "
                  "BIN(2):\\x00\\xff | ok");
    buf_release(&in);

    /* A multi-byte character split across fragments is fine. */
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "a\xf0\x9f", 3, true);
    put_frame(&in, WS_OP_CONT, "\x98", 1, true);
    put_frame(&in, FIN | WS_OP_CONT, "\x80z", 2, true);
    expect_stream(&in, true, 0, "TEXT(6):a\\xf0\\x9f\\x98\\x80z | ok");
    buf_release(&in);

    /* An unfinished message is reported as partial, not as an event. */
    stream_init(&in);
    put_frame(&in, WS_OP_BINARY, "abc", 3, true);
    expect_stream(&in, true, 0, "partial");
    buf_release(&in);
}

/* A connection's deadline is 32 bits compared modulo 2^32 (net/net_int.h): it passes at its
 * time, also across the wrap of the low 32 bits of the clock, and never without one. */
static void test_deadline(void)
{
    struct net_conn c = {0};
    CHECK(!conn_deadline_passed(&c, 0));
    CHECK(!conn_deadline_passed(&c, INT64_C(1) << 40));
    const int64_t starts[] = {1000, (INT64_C(1) << 32) - 500, (INT64_C(5) << 32) - 1,
                              INT64_C(1) << 41};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        int64_t now = starts[i];
        conn_deadline_set(&c, now + 30000);
        CHECK(!conn_deadline_passed(&c, now));
        CHECK(!conn_deadline_passed(&c, now + 29999));
        CHECK(conn_deadline_passed(&c, now + 30000));
        CHECK(conn_deadline_passed(&c, now + 90000));
        conn_deadline_clear(&c);
        CHECK(!conn_deadline_passed(&c, now + 90000));
    }
}

/* ws_reader_idle: true only between messages with nothing held, which is when a connection
 * may drop its reader (net/ws.c) and go on with a fresh one. */
static void test_idle(void)
{
    struct buf in;
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "ab", 2, true);        /* fragment 1 */
    put_frame(&in, FIN | WS_OP_PING, "p", 1, true);   /* control inside the message */
    put_frame(&in, FIN | WS_OP_CONT, "cd", 2, true);  /* last fragment */
    put_frame(&in, FIN | WS_OP_TEXT, "xyz", 3, true); /* a whole message, fed in two */
    uint8_t *p = (uint8_t *)in.data;
    struct ws_reader r;
    ws_reader_init(&r, true, 0);
    CHECK(ws_reader_idle(&r));
    size_t used = 0, off = 0;
    struct ws_event ev;
    uint16_t code = 0;
    /* Fragment 1 is buffered: not idle, even after a trim. */
    CHECK_EQ_INT(ws_reader_feed(&r, p, 8, &used, &ev, &code), 0);
    off += used;
    ws_reader_trim(&r);
    CHECK(!ws_reader_idle(&r));
    /* Half of the ping's header: not idle. */
    CHECK_EQ_INT(ws_reader_feed(&r, p + off, 1, &used, &ev, &code), 0);
    off += used;
    CHECK(!ws_reader_idle(&r));
    CHECK_EQ_INT(ws_reader_feed(&r, p + off, 6, &used, &ev, &code), 1);
    off += used;
    CHECK_EQ_INT(ev.type, WS_EV_PING);
    CHECK(!ws_reader_idle(&r)); /* the message is still open */
    CHECK_EQ_INT(ws_reader_feed(&r, p + off, 8, &used, &ev, &code), 1);
    off += used;
    CHECK_EQ_INT(ev.type, WS_EV_TEXT);
    CHECK(ev.len == 4 && memcmp(ev.data, "abcd", 4) == 0);
    CHECK(!ws_reader_idle(&r)); /* holds the assembled message until trimmed */
    ws_reader_trim(&r);
    CHECK(ws_reader_idle(&r));
    /* Part of a frame's payload: not idle; the rest completes it. */
    CHECK_EQ_INT(ws_reader_feed(&r, p + off, 7, &used, &ev, &code), 0);
    off += used;
    ws_reader_trim(&r);
    CHECK(!ws_reader_idle(&r));
    CHECK_EQ_INT(ws_reader_feed(&r, p + off, in.len - off, &used, &ev, &code), 1);
    CHECK(ev.len == 3 && memcmp(ev.data, "xyz", 3) == 0);
    ws_reader_trim(&r);
    CHECK(ws_reader_idle(&r));
    ws_reader_release(&r);
    /* A failed reader is not idle (its error sticks). */
    ws_reader_init(&r, true, 0);
    uint8_t bad[2] = {FIN | WS_OP_TEXT, 0x00}; /* unmasked from a client */
    CHECK(ws_reader_feed(&r, bad, 2, &used, &ev, &code) < 0);
    CHECK(!ws_reader_idle(&r));
    ws_reader_release(&r);
    buf_release(&in);
}

static void test_rsv_and_opcodes(void)
{
    expect_single(FIN | RSV1 | WS_OP_TEXT, "x", 1, true, true, "E1002");
    expect_single(FIN | RSV2 | WS_OP_TEXT, "x", 1, true, true, "E1002");
    expect_single(FIN | RSV3 | WS_OP_BINARY, "x", 1, true, true, "E1002");
    expect_single(FIN | RSV1 | WS_OP_PING, "", 0, true, true, "E1002");
    static const uint8_t bad_ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < sizeof(bad_ops); i++) {
        expect_single(FIN | bad_ops[i], "x", 1, true, true, "E1002");
        expect_single(FIN | bad_ops[i], "", 0, false, false, "E1002");
    }
}

static void test_control_rules(void)
{
    char big[126];
    memset(big, 'p', sizeof(big));
    expect_single(FIN | WS_OP_PING, big, 125, true, true, "PING(125):#995e1f9f | ok");
    expect_single(FIN | WS_OP_PING, big, 126, true, true, "E1002");
    expect_single(FIN | WS_OP_PONG, big, 126, true, true, "E1002");
    expect_single(FIN | WS_OP_CLOSE, big, 126, true, true, "E1002");
    expect_single(WS_OP_PING, "a", 1, true, true, "E1002");
    expect_single(WS_OP_PONG, "", 0, true, true, "E1002");
    expect_single(WS_OP_CLOSE, "\x03\xe8", 2, true, true, "E1002");
}

static void test_masking_rules(void)
{
    expect_single(FIN | WS_OP_TEXT, "hi", 2, false, true, "E1002");
    expect_single(FIN | WS_OP_PING, "", 0, false, true, "E1002");
    expect_single(FIN | WS_OP_TEXT, "hi", 2, true, false, "E1002");
    expect_single(FIN | WS_OP_CLOSE, "", 0, true, false, "E1002");
}

static void test_fragment_rules(void)
{
    expect_single(FIN | WS_OP_CONT, "x", 1, true, true, "E1002");
    expect_single(WS_OP_CONT, "x", 1, true, true, "E1002");

    struct buf in;
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "a", 1, true);
    put_frame(&in, FIN | WS_OP_TEXT, "b", 1, true);
    expect_stream(&in, true, 0, "E1002");
    buf_release(&in);

    stream_init(&in);
    put_frame(&in, WS_OP_BINARY, "a", 1, true);
    put_frame(&in, FIN | WS_OP_PING, "", 0, true);
    put_frame(&in, WS_OP_TEXT, "b", 1, true);
    expect_stream(&in, true, 0, "PING(0): | E1002");
    buf_release(&in);

    /* After a complete fragmented message, a continuation has nothing to continue. */
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "a", 1, true);
    put_frame(&in, FIN | WS_OP_CONT, "b", 1, true);
    put_frame(&in, FIN | WS_OP_CONT, "c", 1, true);
    expect_stream(&in, true, 0, "TEXT(2):ab | E1002");
    buf_release(&in);
}

static void test_length_rules(void)
{
    struct buf in;
    /* 64-bit length with the high bit set. */
    static const uint8_t high[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    stream_init(&in);
    put_raw(&in, high, sizeof(high));
    expect_stream(&in, true, 0, "E1002");
    buf_release(&in);

    /* Non-minimal: 16-bit length for 125 bytes, 64-bit for 65535 and for 5. */
    static const uint8_t nm16[] = {0x82, 0xFE, 0, 125, 1, 2, 3, 4};
    static const uint8_t nm64[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4};
    static const uint8_t nm64s[] = {0x81, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4};
    const uint8_t *bad[] = {nm16, nm64, nm64s};
    size_t bad_len[] = {sizeof(nm16), sizeof(nm64), sizeof(nm64s)};
    for (size_t i = 0; i < 3; i++) {
        stream_init(&in);
        put_raw(&in, bad[i], bad_len[i]);
        expect_stream(&in, true, 0, "E1002");
        buf_release(&in);
    }

    /* Minimal encodings at the boundaries are accepted (header only: partial). */
    static const uint8_t ok16[] = {0x82, 0xFE, 0, 126, 1, 2, 3, 4};
    static const uint8_t ok64[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4};
    stream_init(&in);
    put_raw(&in, ok16, sizeof(ok16));
    expect_stream(&in, true, 0, "partial");
    buf_release(&in);
    stream_init(&in);
    put_raw(&in, ok64, sizeof(ok64));
    expect_stream(&in, true, 0, "partial");
    buf_release(&in);
}

static void test_size_limit(void)
{
    struct buf in;
    char payload[1001];
    memset(payload, 'x', sizeof(payload));

    /* Exactly the limit is fine. */
    stream_init(&in);
    put_frame(&in, FIN | WS_OP_BINARY, payload, 1000, true);
    expect_stream(&in, true, 1000, "BIN(1000):#07d18165 | ok");
    buf_release(&in);

    /* One over is refused from the header alone: no payload byte is needed. */
    stream_init(&in);
    put_frame(&in, FIN | WS_OP_BINARY, payload, 1001, true);
    in.len = 8; /* header of a 1001-byte masked frame */
    expect_stream(&in, true, 1000, "E1009");
    buf_release(&in);

    /* The 64-bit case: 2^40 bytes announced. */
    static const uint8_t huge[] = {0x82, 0xFF, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    stream_init(&in);
    put_raw(&in, huge, sizeof(huge));
    expect_stream(&in, true, 0, "E1009");
    buf_release(&in);

    /* Fragments add up: 600 + 401 > 1000, refused at the second header. */
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, payload, 600, true);
    put_frame(&in, FIN | WS_OP_PING, "", 0, true);
    put_frame(&in, FIN | WS_OP_CONT, payload, 401, true);
    in.len -= 401;
    expect_stream(&in, true, 1000, "PING(0): | E1009");
    buf_release(&in);

    /* 600 + 400 fits. */
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, payload, 600, true);
    put_frame(&in, FIN | WS_OP_CONT, payload, 400, true);
    expect_stream(&in, true, 1000, "TEXT(1000):#07d18165 | ok");
    buf_release(&in);
}

static void test_utf8_rules(void)
{
    struct buf in;
    expect_single(FIN | WS_OP_TEXT, "ab\xff", 3, true, true, "E1007");
    expect_single(FIN | WS_OP_TEXT, "\xed\xa0\x80", 3, true, true, "E1007");
    expect_single(FIN | WS_OP_TEXT, "ab\xe2\x82", 4, true, true, "E1007");
    /* Binary messages are not checked. */
    expect_single(FIN | WS_OP_BINARY, "\xff", 1, true, true, "BIN(1):\\xff | ok");

    /* Fail fast: the bad byte in a first fragment fails before the message ends. */
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "ok", 2, true);
    put_frame(&in, WS_OP_CONT, "\xc0\xaf", 2, true);
    expect_stream(&in, true, 0, "E1007");
    buf_release(&in);

    /* ... and before the frame ends: 10-byte frame, only 2 payload bytes present. */
    stream_init(&in);
    put_frame(&in, FIN | WS_OP_TEXT, "a\xfe\x00\x00\x00\x00\x00\x00\x00\x00", 10, true);
    in.len = 6 + 2;
    expect_stream(&in, true, 0, "E1007");
    buf_release(&in);

    /* Incomplete sequence at the end of the final fragment. */
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "ok", 2, true);
    put_frame(&in, FIN | WS_OP_CONT, "\xf0\x9f\x98", 3, true);
    expect_stream(&in, true, 0, "E1007");
    buf_release(&in);

    /* Incomplete at the end of a non-final fragment is fine until the end. */
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "\xf0\x9f\x98", 3, true);
    expect_stream(&in, true, 0, "partial");
    buf_release(&in);
}

static void test_close_rules(void)
{
    struct buf in;
    expect_single(FIN | WS_OP_CLOSE, "", 0, true, true, "CLOSE 1005(0): | ok");
    expect_single(FIN | WS_OP_CLOSE, "\x03", 1, true, true, "E1002");

    static const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                     1010, 1011, 1013, 3000, 4000, 4999};
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        stream_init(&in);
        put_close(&in, valid[i], "bye", 3, true);
        char want[64];
        snprintf(want, sizeof(want), "CLOSE %u(3):bye | ok", (unsigned)valid[i]);
        expect_stream(&in, true, 0, want);
        buf_release(&in);
    }
    static const uint16_t invalid[] = {0,    999,  1004, 1005, 1006, 1015,
                                       1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        stream_init(&in);
        put_close(&in, invalid[i], "", 0, true);
        expect_stream(&in, true, 0, "E1002");
        buf_release(&in);
    }

    stream_init(&in);
    put_close(&in, 1000, "bad \xff", 5, true);
    expect_stream(&in, true, 0, "E1007");
    buf_release(&in);

    stream_init(&in);
    put_close(&in, 1000, "caf\xc3", 4, true);
    expect_stream(&in, true, 0, "E1007");
    buf_release(&in);

    stream_init(&in);
    put_close(&in, 1001, "caf\xc3\xa9", 5, true);
    expect_stream(&in, true, 0, "CLOSE 1001(5):caf\\xc3\\xa9 | ok");
    buf_release(&in);

    /* A close may interleave with a fragmented message too. */
    stream_init(&in);
    put_frame(&in, WS_OP_TEXT, "a", 1, true);
    put_close(&in, 1000, "", 0, true);
    expect_stream(&in, true, 0, "CLOSE 1000(0): | partial");
    buf_release(&in);
}

static void test_sticky_error(void)
{
    struct buf in;
    stream_init(&in);
    put_frame(&in, FIN | WS_OP_TEXT, "hi", 2, false);
    put_frame(&in, FIN | WS_OP_TEXT, "hi", 2, true);
    struct ws_reader r;
    ws_reader_init(&r, true, 0);
    size_t used = 0;
    struct ws_event ev;
    uint16_t code = 0;
    CHECK_EQ_INT(ws_reader_feed(&r, (uint8_t *)in.data, in.len, &used, &ev, &code), SB_E_PROTO);
    CHECK_EQ_INT(code, 1002);
    code = 0;
    CHECK_EQ_INT(ws_reader_feed(&r, (uint8_t *)in.data + 4, in.len - 4, &used, &ev, &code),
                 SB_E_PROTO);
    CHECK_EQ_INT(code, 1002);
    CHECK_EQ_INT(used, 0);
    ws_reader_release(&r);
    buf_release(&in);
}

static void test_client_mode(void)
{
    struct buf in;
    stream_init(&in);
    put_frame(&in, FIN | WS_OP_TEXT, "{\"event\":\"phx_reply\"}", 21, false);
    put_frame(&in, FIN | WS_OP_PING, "", 0, false);
    put_frame(&in, WS_OP_BINARY, "\x01", 1, false);
    put_frame(&in, FIN | WS_OP_CONT, "\x02", 1, false);
    char big[70000];
    memset(big, 'z', sizeof(big));
    put_frame(&in, FIN | WS_OP_TEXT, big, sizeof(big), false);
    put_close(&in, 4008, "slow", 4, false);
    expect_stream(&in, false, 0,
                  "TEXT(21):{\"event\":\"phx_reply\"} | PING(0): | BIN(2):\\x01\\x02 | "
                  "TEXT(70000):#0f924245 | CLOSE 4008(4):slow | ok");
    buf_release(&in);
}

int main(void)
{
    test_accept_key();
    test_frame_header();
    test_utf8();
    test_close_codes();
    test_valid_sizes();
    test_zero_copy();
    test_fragmented();
    test_idle();
    test_deadline();
    test_rsv_and_opcodes();
    test_control_rules();
    test_masking_rules();
    test_fragment_rules();
    test_length_rules();
    test_size_limit();
    test_utf8_rules();
    test_close_rules();
    test_sticky_error();
    test_client_mode();
    return test_done();
}
