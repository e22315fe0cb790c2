/*
 * Unit tests for src/realtime/phx.c: frames copied from realtime-protocol.md decoded and
 * re-encoded for both serializers, malformed frames refused, the split encoding equal to the
 * one-shot one, and kind 3/kind 4 binary frames byte for byte.
 */
#include "test.h"

#include <stdlib.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "realtime/phx.h"

/* Compact JSON of v (keys in insertion order, which jansson keeps from the parse). */
static char *dump(json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static int decode_str(int vsn, const char *s, struct phx_msg *m)
{
    return phx_decode_text(vsn, s, strlen(s), m);
}

/* Decode frame, re-encode it with vsn, and expect exactly `expect` (frame itself if NULL). */
static void round_trip(int vsn, const char *frame, const char *expect)
{
    struct phx_msg m;
    int rc = decode_str(vsn, frame, &m);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "  frame: %s\n", frame);
        return;
    }
    char *payload = dump(m.payload);
    size_t len = 0;
    char *enc = phx_encode_text(vsn, m.join_ref, m.ref, m.topic, m.event, payload, &len);
    CHECK_EQ_STR(enc, expect ? expect : frame);
    CHECK_EQ_INT(len, strlen(enc));

    struct phx_msg again;
    CHECK_EQ_INT(phx_decode_text(vsn, enc, len, &again), 0);
    CHECK_EQ_STR(again.topic, m.topic);
    CHECK_EQ_STR(again.event, m.event);
    CHECK(again.ref == NULL ? m.ref == NULL : (m.ref && strcmp(again.ref, m.ref) == 0));
    CHECK(json_equal(again.payload, m.payload));
    phx_msg_release(&again);
    free(enc);
    free(payload);
    phx_msg_release(&m);
}

static void test_decode_v2_frames(void)
{
    const char *join =
        "[\"6\",\"6\",\"realtime:room1\",\"phx_join\",{\"config\":{\"broadcast\":{\"ack\":true,"
        "\"self\":false},\"presence\":{\"key\":\"me\",\"enabled\":true},\"postgres_changes\":[{"
        "\"event\":\"*\",\"schema\":\"public\",\"table\":\"todos\",\"filter\":\"id=eq.5\"}],"
        "\"private\":false},\"access_token\":\"<jwt>\",\"version\":\"realtime-js/2.109.0\"}]";
    struct phx_msg m;
    CHECK_EQ_INT(decode_str(2, join, &m), 0);
    CHECK_EQ_STR(m.join_ref, "6");
    CHECK_EQ_STR(m.ref, "6");
    CHECK_EQ_STR(m.topic, "realtime:room1");
    CHECK_EQ_STR(m.event, "phx_join");
    CHECK(!m.binary_broadcast);
    json_t *pc = json_object_get(json_object_get(m.payload, "config"), "postgres_changes");
    CHECK_EQ_INT(json_array_size(pc), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(pc, 0), "filter")), "id=eq.5");
    CHECK_EQ_STR(json_string_value(json_object_get(m.payload, "access_token")), "<jwt>");
    phx_msg_release(&m);
    CHECK(m.topic == NULL && m.payload == NULL);

    const char *hb = "[null,\"7\",\"phoenix\",\"heartbeat\",{}]";
    CHECK_EQ_INT(decode_str(2, hb, &m), 0);
    CHECK(m.join_ref == NULL);
    CHECK_EQ_STR(m.ref, "7");
    CHECK_EQ_STR(m.topic, "phoenix");
    CHECK_EQ_STR(m.event, "heartbeat");
    CHECK_EQ_INT(json_object_size(m.payload), 0);
    phx_msg_release(&m);

    round_trip(2, join, NULL);
    round_trip(2, hb, NULL);
    round_trip(2,
               "[\"6\",\"8\",\"realtime:room1\",\"presence\",{\"type\":\"presence\",\"event\":"
               "\"track\",\"payload\":{\"online_at\":\"2026-11-25T10:00:00.000Z\"}}]",
               NULL);
    round_trip(2,
               "[\"6\",\"8\",\"realtime:room1\",\"presence\",{\"type\":\"presence\",\"event\":"
               "\"untrack\"}]",
               NULL);
    round_trip(2,
               "[\"6\",\"7\",\"realtime:room1\",\"access_token\",{\"access_token\":\"<new "
               "jwt>\"}]",
               NULL);
    round_trip(2, "[\"6\",\"9\",\"realtime:room1\",\"phx_leave\",{}]", NULL);
    round_trip(2,
               "[\"6\",\"9\",\"realtime:room1\",\"phx_reply\",{\"status\":\"ok\",\"response\":{}}"
               "]",
               NULL);
    round_trip(2,
               "[null,null,\"realtime:room1\",\"broadcast\",{\"type\":\"broadcast\",\"event\":"
               "\"chat\",\"payload\":{\"text\":\"hi\"},\"meta\":{\"id\":\"x\"}}]",
               NULL);
    round_trip(2,
               "[\"6\",null,\"realtime:room1\",\"system\",{\"extension\":\"postgres_changes\","
               "\"status\":\"ok\",\"message\":\"Subscribed to PostgreSQL\",\"channel\":"
               "\"room1\"}]",
               NULL);
    round_trip(2,
               "[null,null,\"realtime:room1\",\"postgres_changes\",{\"ids\":[31817683],\"data\":{"
               "\"schema\":\"public\",\"table\":\"todos\",\"type\":\"UPDATE\","
               "\"commit_timestamp\":\"2025-11-19T00:22:40.877Z\",\"columns\":[{\"name\":\"id\","
               "\"type\":\"int8\"}],\"record\":{\"id\":46,\"done\":true,\"meta\":{\"a\":1}},"
               "\"old_record\":{\"id\":46},\"errors\":null}}]",
               NULL);
    round_trip(2, "[\"6\",\"6\",\"realtime:room1\",\"phx_close\",{}]", NULL);
    /* Whitespace between tokens is fine on input. */
    round_trip(2, " [ null , \"1\" , \"phoenix\" , \"heartbeat\" , { } ] ",
               "[null,\"1\",\"phoenix\",\"heartbeat\",{}]");
}

static void test_decode_v1_frames(void)
{
    const char *bc = "{\"topic\":\"realtime:room1\",\"event\":\"broadcast\",\"payload\":{\"type\":"
                     "\"broadcast\",\"event\":\"chat\",\"payload\":{\"text\":\"hi\"}},\"ref\":"
                     "\"2\",\"join_ref\":\"1\"}";
    struct phx_msg m;
    CHECK_EQ_INT(decode_str(1, bc, &m), 0);
    CHECK_EQ_STR(m.join_ref, "1");
    CHECK_EQ_STR(m.ref, "2");
    CHECK_EQ_STR(m.event, "broadcast");
    CHECK_EQ_STR(json_string_value(json_object_get(m.payload, "event")), "chat");
    phx_msg_release(&m);

    /* Heartbeat from the phoenix-based client has no join_ref key at all. */
    const char *hb = "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"payload\":{},\"ref\":\"3\"}";
    CHECK_EQ_INT(decode_str(1, hb, &m), 0);
    CHECK(m.join_ref == NULL);
    CHECK_EQ_STR(m.ref, "3");
    phx_msg_release(&m);
    /* Keys in any order; null join_ref. */
    CHECK_EQ_INT(decode_str(1,
                            "{\"join_ref\":null,\"payload\":{},\"ref\":null,\"event\":\"e\","
                            "\"topic\":\"t\"}",
                            &m),
                 0);
    CHECK(m.join_ref == NULL && m.ref == NULL);
    phx_msg_release(&m);

    /* The server's V1 frames carry no join_ref and order keys topic, event, ref, payload. */
    round_trip(1, bc,
               "{\"topic\":\"realtime:room1\",\"event\":\"broadcast\",\"ref\":\"2\",\"payload\":{"
               "\"type\":\"broadcast\",\"event\":\"chat\",\"payload\":{\"text\":\"hi\"}}}");
    round_trip(1, hb,
               "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"ref\":\"3\",\"payload\":{}}");
    round_trip(1,
               "{\"topic\":\"realtime:room1\",\"event\":\"phx_join\",\"payload\":{\"config\":{"
               "\"postgres_changes\":[]},\"access_token\":\"tok\"},\"ref\":\"1\",\"join_ref\":"
               "\"1\"}",
               "{\"topic\":\"realtime:room1\",\"event\":\"phx_join\",\"ref\":\"1\",\"payload\":{"
               "\"config\":{\"postgres_changes\":[]},\"access_token\":\"tok\"}}");
    round_trip(1,
               "{\"topic\":\"realtime:room1\",\"event\":\"access_token\",\"payload\":{"
               "\"access_token\":\"new\"},\"ref\":\"7\",\"join_ref\":\"6\"}",
               "{\"topic\":\"realtime:room1\",\"event\":\"access_token\",\"ref\":\"7\","
               "\"payload\":{\"access_token\":\"new\"}}");
    round_trip(1,
               "{\"topic\":\"realtime:room1\",\"event\":\"phx_leave\",\"payload\":{},\"ref\":"
               "\"9\",\"join_ref\":\"6\"}",
               "{\"topic\":\"realtime:room1\",\"event\":\"phx_leave\",\"ref\":\"9\",\"payload\":{}"
               "}");
    round_trip(1,
               "{\"topic\":\"realtime:room1\",\"event\":\"presence\",\"payload\":{\"type\":"
               "\"presence\",\"event\":\"track\",\"payload\":{\"a\":1}},\"ref\":\"8\","
               "\"join_ref\":\"6\"}",
               "{\"topic\":\"realtime:room1\",\"event\":\"presence\",\"ref\":\"8\",\"payload\":{"
               "\"type\":\"presence\",\"event\":\"track\",\"payload\":{\"a\":1}}}");
}

/* "[[[...{}...]]]" wrapped so that the whole frame nests `depth` levels (frame = level 1). */
static char *deep_frame(int vsn, int depth)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int inner = depth - 2; /* frame and payload object */
    int rc = buf_puts(&b, vsn == 2 ? "[null,null,\"t\",\"e\",{\"k\":"
                                   : "{\"topic\":\"t\",\"event\":\"e\",\"payload\":{\"k\":");
    for (int i = 0; i < inner; i++) {
        rc |= buf_putc(&b, '[');
    }
    for (int i = 0; i < inner; i++) {
        rc |= buf_putc(&b, ']');
    }
    rc |= buf_puts(&b, vsn == 2 ? "}]" : "}}");
    CHECK_EQ_INT(rc, 0);
    return buf_detach(&b, NULL);
}

static void expect_proto(int vsn, const char *frame)
{
    struct phx_msg m;
    int rc = decode_str(vsn, frame, &m);
    CHECK_EQ_INT(rc, SB_E_PROTO);
    if (rc != SB_E_PROTO) {
        fprintf(stderr, "  accepted: %s\n", frame);
    }
    CHECK(m.topic == NULL && m.payload == NULL && m.ref == NULL);
    phx_msg_release(&m);
}

static void test_decode_malformed(void)
{
    expect_proto(2, "");
    expect_proto(2, "not json");
    expect_proto(2, "[null,null,\"t\",\"e\",{}");
    expect_proto(2, "[null,null,\"t\",\"e\",{}] x");
    expect_proto(2, "[null,null,\"t\",\"e\"]");
    expect_proto(2, "[null,null,\"t\",\"e\",{},null]");
    expect_proto(2, "[]");
    expect_proto(2, "{\"topic\":\"t\",\"event\":\"e\",\"payload\":{}}");
    expect_proto(2, "\"a string\"");
    expect_proto(2, "[null,null,5,\"e\",{}]");
    expect_proto(2, "[null,null,\"t\",null,{}]");
    expect_proto(2, "[null,null,\"\",\"e\",{}]");
    expect_proto(2, "[null,null,\"t\",\"\",{}]");
    expect_proto(2, "[null,null,\"t\",\"e\",null]");
    expect_proto(2, "[null,null,\"t\",\"e\",[]]");
    expect_proto(2, "[null,null,\"t\",\"e\",\"x\"]");
    expect_proto(2, "[null,null,\"t\",\"e\",7]");
    expect_proto(2, "[1,null,\"t\",\"e\",{}]");
    expect_proto(2, "[null,2,\"t\",\"e\",{}]");
    expect_proto(2, "[null,true,\"t\",\"e\",{}]");
    expect_proto(2, "[null,{},\"t\",\"e\",{}]");
    expect_proto(2, "[null,null,\"t\",\"e\",{\"a\":1,\"a\":2}]");
    expect_proto(2, "[null,null,\"t\",\"e\",{\"x\":{\"a\":1,\"a\":1}}]");
    expect_proto(2, "[null,null,\"t\\u0000x\",\"e\",{}]");
    expect_proto(2, "[null,null,\"t\",\"e\",{\"\xff\":1}]");
    expect_proto(3, "[null,null,\"t\",\"e\",{}]");

    expect_proto(1, "[null,null,\"t\",\"e\",{}]");
    expect_proto(1, "{\"topic\":\"t\",\"event\":\"e\"}");
    expect_proto(1, "{\"topic\":\"t\",\"payload\":{}}");
    expect_proto(1, "{\"event\":\"e\",\"payload\":{}}");
    expect_proto(1, "{\"topic\":\"t\",\"event\":\"e\",\"payload\":null}");
    expect_proto(1, "{\"topic\":\"t\",\"event\":\"e\",\"payload\":[]}");
    expect_proto(1, "{\"topic\":\"t\",\"event\":\"e\",\"payload\":{},\"ref\":3}");
    expect_proto(1, "{\"topic\":\"t\",\"event\":\"e\",\"payload\":{},\"extra\":1}");
    expect_proto(1, "{\"topic\":\"t\",\"topic\":\"u\",\"event\":\"e\",\"payload\":{}}");
    expect_proto(1, "{\"topic\":[\"t\"],\"event\":\"e\",\"payload\":{}}");

    /* Names and refs: 255 bytes fine, 256 refused. */
    char name[300];
    memset(name, 'a', 256);
    name[256] = '\0';
    char *f256 = NULL;
    char *f255 = NULL;
    struct phx_msg m;
    for (int field = 0; field < 4; field++) {
        const char *parts[4] = {"\"j\"", "\"r\"", "\"t\"", "\"e\""};
        char quoted[310];
        snprintf(quoted, sizeof(quoted), "\"%s\"", name);
        parts[field] = quoted;
        f256 = xasprintf("[%s,%s,%s,%s,{}]", parts[0], parts[1], parts[2], parts[3]);
        expect_proto(2, f256);
        quoted[256] = '"';
        quoted[257] = '\0';
        f255 = xasprintf("[%s,%s,%s,%s,{}]", parts[0], parts[1], parts[2], parts[3]);
        CHECK_EQ_INT(decode_str(2, f255, &m), 0);
        phx_msg_release(&m);
        free(f256);
        free(f255);
    }

    /* Depth: 64 levels accepted, 65 refused, for both serializers. */
    for (int vsn = 1; vsn <= 2; vsn++) {
        char *ok = deep_frame(vsn, 64);
        CHECK_EQ_INT(decode_str(vsn, ok, &m), 0);
        phx_msg_release(&m);
        char *deep = deep_frame(vsn, 65);
        expect_proto(vsn, deep);
        free(ok);
        free(deep);
    }
    /* Brackets inside strings (with escaped quotes) do not count. */
    struct buf b;
    buf_init(&b, 1 << 16);
    int rc = buf_puts(&b, "[null,null,\"t\",\"e\",{\"k\":\"\\\"");
    for (int i = 0; i < 100; i++) {
        rc |= buf_puts(&b, "[{");
    }
    rc |= buf_puts(&b, "\"}]");
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(decode_str(2, b.data, &m), 0);
    phx_msg_release(&m);
    buf_release(&b);
}

/* A kind 3 frame from its parts. */
static uint8_t *kind3(const char *jr, const char *ref, const char *topic, const char *ev,
                      const char *meta, int enc, const char *payload, size_t *len)
{
    size_t l[5] = {strlen(jr), strlen(ref), strlen(topic), strlen(ev), strlen(meta)};
    size_t pl = strlen(payload);
    size_t n = 7 + l[0] + l[1] + l[2] + l[3] + l[4] + pl;
    uint8_t *f = malloc(n);
    f[0] = 3;
    for (int i = 0; i < 5; i++) {
        f[1 + i] = (uint8_t)l[i];
    }
    f[6] = (uint8_t)enc;
    size_t off = 7;
    const char *s[5] = {jr, ref, topic, ev, meta};
    for (int i = 0; i < 5; i++) {
        memcpy(f + off, s[i], l[i]);
        off += l[i];
    }
    memcpy(f + off, payload, pl);
    *len = n;
    return f;
}

static void test_decode_binary(void)
{
    size_t n;
    uint8_t *f =
        kind3("6", "7", "realtime:room1", "chat", "", 1, "{\"text\":\"hi from client\"}", &n);
    struct phx_msg m;
    CHECK_EQ_INT(phx_decode_binary(f, n, &m), 0);
    CHECK(m.binary_broadcast);
    CHECK_EQ_STR(m.join_ref, "6");
    CHECK_EQ_STR(m.ref, "7");
    CHECK_EQ_STR(m.topic, "realtime:room1");
    CHECK_EQ_STR(m.event, "broadcast");
    CHECK_EQ_STR(m.bc_event, "chat");
    CHECK_EQ_STR(m.bc_meta, "");
    CHECK_EQ_INT(m.bc_encoding, PHX_ENC_JSON);
    CHECK_EQ_INT(m.bc_payload_len, strlen("{\"text\":\"hi from client\"}"));
    CHECK(memcmp(m.bc_payload, "{\"text\":\"hi from client\"}", m.bc_payload_len) == 0);
    char *p = dump(m.payload);
    CHECK_EQ_STR(p, "{\"type\":\"broadcast\",\"event\":\"chat\",\"payload\":{\"text\":\"hi from "
                    "client\"}}");
    free(p);
    /* The same message as a vsn 1 text frame, as the fan-out would send it to v1 sockets. */
    p = dump(m.payload);
    char *txt = phx_encode_text(1, NULL, NULL, m.topic, m.event, p, NULL);
    CHECK_EQ_STR(txt, "{\"topic\":\"realtime:room1\",\"event\":\"broadcast\",\"ref\":null,"
                      "\"payload\":{\"type\":\"broadcast\",\"event\":\"chat\",\"payload\":{"
                      "\"text\":\"hi from client\"}}}");
    free(txt);
    free(p);
    phx_msg_release(&m);

    /* Every proper prefix of the frame is truncated and refused. */
    for (size_t cut = 0; cut < n; cut++) {
        int rc = phx_decode_binary(f, cut, &m);
        /* Cutting only into the JSON payload leaves invalid JSON, also refused. */
        CHECK_EQ_INT(rc, SB_E_PROTO);
        phx_msg_release(&m);
    }
    /* Every length field one larger than the bytes present. */
    for (int i = 1; i <= 5; i++) {
        uint8_t *g = malloc(n);
        memcpy(g, f, n);
        size_t rest = n - 7;
        for (int k = 1; k < i; k++) {
            rest -= g[k];
        }
        g[i] = (uint8_t)(rest + 1 > 255 ? 255 : rest + 1);
        int rc = phx_decode_binary(g, n, &m);
        CHECK_EQ_INT(rc, SB_E_PROTO);
        phx_msg_release(&m);
        g[i] = 255;
        CHECK_EQ_INT(phx_decode_binary(g, n, &m), SB_E_PROTO);
        phx_msg_release(&m);
        free(g);
    }
    /* Raw payload of zero bytes: any length one too large runs past the end. */
    size_t n0;
    uint8_t *f0 = kind3("1", "2", "realtime:x", "ev", "{}", 0, "", &n0);
    CHECK_EQ_INT(phx_decode_binary(f0, n0, &m), 0);
    CHECK_EQ_INT(m.bc_payload_len, 0);
    phx_msg_release(&m);
    for (int i = 1; i <= 5; i++) {
        f0[i]++;
        CHECK_EQ_INT(phx_decode_binary(f0, n0, &m), SB_E_PROTO);
        f0[i]--;
    }
    free(f0);
    /* Unknown kinds and encodings. */
    for (int kind = 0; kind < 256; kind++) {
        if (kind == 3) {
            continue;
        }
        f[0] = (uint8_t)kind;
        CHECK_EQ_INT(phx_decode_binary(f, n, &m), SB_E_PROTO);
    }
    f[0] = 3;
    f[6] = 2;
    CHECK_EQ_INT(phx_decode_binary(f, n, &m), SB_E_PROTO);
    f[6] = 1;
    CHECK_EQ_INT(phx_decode_binary(f, n, &m), 0);
    phx_msg_release(&m);
    free(f);

    /* Raw binary payload, empty refs become NULL. */
    f = kind3("", "", "realtime:r", "bin", "", 0, "\x01\x02\xff", &n);
    CHECK_EQ_INT(phx_decode_binary(f, n, &m), 0);
    CHECK(m.join_ref == NULL && m.ref == NULL);
    CHECK_EQ_INT(m.bc_encoding, PHX_ENC_BINARY);
    CHECK_EQ_INT(m.bc_payload_len, 3);
    CHECK(memcmp(m.bc_payload, "\x01\x02\xff", 3) == 0);
    CHECK(json_object_get(m.payload, "payload") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(m.payload, "event")), "bin");
    phx_msg_release(&m);
    free(f);

    /* Empty topic, bad JSON, bad UTF-8, NUL in a name, non-object metadata. */
    const struct {
        const char *topic, *ev, *meta;
        int enc;
        const char *payload;
    } bad[] = {
        {"", "e", "", 1, "{}"},
        {"t", "e", "", 1, "{"},
        {"t", "e", "", 1, ""},
        {"t", "e", "", 1, "{\"a\":1,\"a\":2}"},
        {"t\xff", "e", "", 1, "{}"},
        {"t", "\xc0\x80", "", 1, "{}"},
        {"t", "\xed\xa0\x80", "", 1, "{}"},
        {"t", "e", "[]", 1, "{}"},
        {"t", "e", "{", 1, "{}"},
        {"t", "e", "\"x\"", 0, "{}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = kind3("1", "2", bad[i].topic, bad[i].ev, bad[i].meta, bad[i].enc, bad[i].payload, &n);
        int rc = phx_decode_binary(f, n, &m);
        CHECK_EQ_INT(rc, SB_E_PROTO);
        if (rc == 0) {
            fprintf(stderr, "  bad[%zu] accepted\n", i);
        }
        phx_msg_release(&m);
        free(f);
    }
    uint8_t nul[] = {3, 0, 0, 3, 1, 0, 1, 't', 0, 'x', 'e', '{', '}'};
    CHECK_EQ_INT(phx_decode_binary(nul, sizeof(nul), &m), SB_E_PROTO);
    /* Metadata object and non-object JSON payloads are fine; UTF-8 names too. */
    f = kind3("1", "2", "realtime:caf\xc3\xa9", "e", "{\"id\":\"x\"}", 1, "\"just a string\"", &n);
    CHECK_EQ_INT(phx_decode_binary(f, n, &m), 0);
    CHECK_EQ_STR(m.bc_meta, "{\"id\":\"x\"}");
    CHECK_EQ_STR(m.topic, "realtime:caf\xc3\xa9");
    CHECK_EQ_STR(json_string_value(json_object_get(m.payload, "payload")), "just a string");
    phx_msg_release(&m);
    free(f);
    /* Payload depth: 62 levels inside the user payload (64 in the text equivalent). */
    char deep[140];
    memset(deep, '[', 62);
    memset(deep + 62, ']', 62);
    deep[124] = '\0';
    f = kind3("1", "2", "t", "e", "", 1, deep, &n);
    CHECK_EQ_INT(phx_decode_binary(f, n, &m), 0);
    phx_msg_release(&m);
    free(f);
    char deeper[140];
    memset(deeper, '[', 63);
    memset(deeper + 63, ']', 63);
    deeper[126] = '\0';
    f = kind3("1", "2", "t", "e", "", 1, deeper, &n);
    CHECK_EQ_INT(phx_decode_binary(f, n, &m), SB_E_PROTO);
    phx_msg_release(&m);
    free(f);
}

static void test_encode(void)
{
    size_t len;
    char *s = phx_encode_text(2, NULL, "5", "phoenix", "phx_reply",
                              "{\"status\":\"ok\",\"response\":{}}", &len);
    CHECK_EQ_STR(s, "[null,\"5\",\"phoenix\",\"phx_reply\",{\"status\":\"ok\",\"response\":{}}]");
    CHECK_EQ_INT(len, strlen(s));
    free(s);
    s = phx_encode_text(1, "1", "5", "phoenix", "phx_reply", NULL, NULL);
    CHECK_EQ_STR(s, "{\"topic\":\"phoenix\",\"event\":\"phx_reply\",\"ref\":\"5\",\"payload\":{}}");
    free(s);
    CHECK(phx_encode_text(3, NULL, NULL, "t", "e", "{}", NULL) == NULL);
    CHECK(phx_encode_text(2, NULL, NULL, NULL, "e", "{}", NULL) == NULL);

    /* Escaping (json_buf_string, as jansson writes it): quotes, backslashes, control
     * characters; UTF-8 passes through. */
    s = phx_encode_text(2, "a\"b", "c\\d", "realtime:\n\t\x01\x1f\r\b\f", "\xc3\xa9v", "{}", &len);
    CHECK_EQ_STR(s, "[\"a\\\"b\",\"c\\\\d\",\"realtime:\\n\\t\\u0001\\u001F\\r\\b\\f\","
                    "\"\xc3\xa9v\",{}]");
    struct phx_msg m;
    CHECK_EQ_INT(phx_decode_text(2, s, len, &m), 0);
    CHECK_EQ_STR(m.join_ref, "a\"b");
    CHECK_EQ_STR(m.ref, "c\\d");
    CHECK_EQ_STR(m.topic, "realtime:\n\t\x01\x1f\r\b\f");
    CHECK_EQ_STR(m.event, "\xc3\xa9v");
    phx_msg_release(&m);
    free(s);

    /* prefix + shared payload + suffix == one-shot encoding, and parses back. */
    const char *payload =
        "{\"ids\":[1,2],\"data\":{\"type\":\"INSERT\",\"record\":{\"id\":\"x\"}}}";
    for (int vsn = 1; vsn <= 2; vsn++) {
        const char *refs[][2] = {{NULL, NULL}, {"6", NULL}, {"6", "9"}, {NULL, "x\"y"}};
        for (size_t i = 0; i < 4; i++) {
            struct buf b;
            buf_init(&b, 1 << 16);
            int n = phx_encode_prefix(vsn, refs[i][0], refs[i][1], "realtime:room1",
                                      "postgres_changes", &b);
            CHECK(n > 0);
            CHECK_EQ_INT((size_t)n, b.len);
            CHECK_EQ_INT(buf_puts(&b, payload), 0);
            CHECK_EQ_INT(buf_puts(&b, phx_suffix(vsn)), 0);
            char *one = phx_encode_text(vsn, refs[i][0], refs[i][1], "realtime:room1",
                                        "postgres_changes", payload, &len);
            CHECK_EQ_STR(b.data, one);
            CHECK_EQ_INT(phx_decode_text(vsn, b.data, b.len, &m), 0);
            CHECK_EQ_STR(m.topic, "realtime:room1");
            CHECK_EQ_STR(m.event, "postgres_changes");
            CHECK(vsn == 1 ? m.join_ref == NULL
                           : (refs[i][0] ? m.join_ref && strcmp(m.join_ref, refs[i][0]) == 0
                                         : m.join_ref == NULL));
            CHECK(refs[i][1] ? m.ref && strcmp(m.ref, refs[i][1]) == 0 : m.ref == NULL);
            json_t *want = json_loads(payload, 0, NULL);
            CHECK(json_equal(m.payload, want));
            json_decref(want);
            phx_msg_release(&m);
            free(one);
            buf_release(&b);
        }
    }
    CHECK_EQ_STR(phx_suffix(1), "}");
    CHECK_EQ_STR(phx_suffix(2), "]");

    /* A capped buffer: the prefix fails whole and leaves the buffer as it was. */
    struct buf small;
    buf_init(&small, 12);
    CHECK_EQ_INT(buf_puts(&small, "abc"), 0);
    CHECK_EQ_INT(phx_encode_prefix(2, NULL, NULL, "realtime:room1", "e", &small), SB_E_TOOBIG);
    CHECK_EQ_INT(small.len, 3);
    CHECK_EQ_STR(small.data, "abc");
    CHECK_EQ_INT(phx_encode_prefix(0, NULL, NULL, "t", "e", &small), SB_E_INVAL);
    buf_release(&small);
}

static void test_encode_binary(void)
{
    size_t len;
    const char *pl = "{\"a\":1}";
    uint8_t *f = phx_encode_broadcast_binary("realtime:r", "chat", "{\"id\":\"x\"}",
                                             (const uint8_t *)pl, strlen(pl), 1, &len);
    static const uint8_t want[] = {4,   10,  4,   10,  1,   'r', 'e', 'a', 'l', 't', 'i', 'm',
                                   'e', ':', 'r', 'c', 'h', 'a', 't', '{', '"', 'i', 'd', '"',
                                   ':', '"', 'x', '"', '}', '{', '"', 'a', '"', ':', '1', '}'};
    CHECK_EQ_INT(len, sizeof(want));
    CHECK(f && memcmp(f, want, sizeof(want)) == 0);
    free(f);

    f = phx_encode_broadcast_binary("t", "e", NULL, (const uint8_t *)"\x00\xff", 2, 0, &len);
    static const uint8_t want2[] = {4, 1, 1, 0, 0, 't', 'e', 0x00, 0xff};
    CHECK_EQ_INT(len, sizeof(want2));
    CHECK(f && memcmp(f, want2, sizeof(want2)) == 0);
    free(f);

    f = phx_encode_broadcast_binary("t", "e", NULL, NULL, 0, 1, &len);
    CHECK_EQ_INT(len, 5 + 2);
    free(f);

    char big[300];
    memset(big, 'x', 256);
    big[256] = '\0';
    CHECK(phx_encode_broadcast_binary(big, "e", NULL, NULL, 0, 1, &len) == NULL);
    CHECK(phx_encode_broadcast_binary("t", big, NULL, NULL, 0, 1, &len) == NULL);
    CHECK(phx_encode_broadcast_binary("t", "e", big, NULL, 0, 1, &len) == NULL);
    CHECK(phx_encode_broadcast_binary("t", "e", NULL, NULL, 0, 2, &len) == NULL);
    big[255] = '\0';
    f = phx_encode_broadcast_binary(big, big, big, NULL, 0, 1, &len);
    CHECK(f != NULL);
    CHECK_EQ_INT(len, 5 + 3 * 255);
    free(f);

    /* kind 3 in -> kind 4 out reuses the raw payload bytes. */
    uint8_t *in = kind3("6", "7", "realtime:room1", "chat", "", 1, "{\"x\":[1,2]}", &len);
    struct phx_msg m;
    CHECK_EQ_INT(phx_decode_binary(in, len, &m), 0);
    size_t olen;
    uint8_t *o = phx_encode_broadcast_binary(m.topic, m.bc_event, NULL, m.bc_payload,
                                             m.bc_payload_len, m.bc_encoding, &olen);
    CHECK_EQ_INT(olen, 5 + 14 + 4 + 11);
    CHECK(o && o[0] == 4 && memcmp(o + 5, "realtime:room1chat{\"x\":[1,2]}", olen - 5) == 0);
    free(o);
    free(in);
    phx_msg_release(&m);
}

static void test_reply_payload(void)
{
    char *s = phx_reply_payload("ok", NULL);
    CHECK_EQ_STR(s, "{\"status\":\"ok\",\"response\":{}}");
    free(s);
    json_t *r = json_pack("{s:s}", "reason", "unmatched topic");
    s = phx_reply_payload("error", r);
    CHECK_EQ_STR(s, "{\"status\":\"error\",\"response\":{\"reason\":\"unmatched topic\"}}");
    CHECK_EQ_INT(r->refcount, 1);
    json_decref(r);
    free(s);
}

int main(void)
{
    test_decode_v2_frames();
    test_decode_v1_frames();
    test_decode_malformed();
    test_decode_binary();
    test_encode();
    test_encode_binary();
    test_reply_payload();
    return test_done();
}
