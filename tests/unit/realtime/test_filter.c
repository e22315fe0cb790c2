/*
 * Unit tests for src/realtime/filter.c: every operator on int, text, uuid, bool and time
 * columns, AND, quoting, `in` limits, typed validation against the real table descriptors,
 * lazy typing for table "*", and SQL null semantics.
 */
#include "test.h"

#include <stdlib.h>

#include "base/alloc.h"
#include "base/err.h"
#include "realtime/filter.h"
#include "store/schema.h"

#define UUID_A "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
#define UUID_B "7f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"

/* A table with a boolean column: none of ours has one yet. */
static const struct store_column flags_cols[] = {
    {"id", COL_UUID, "uuid", false, false, false, true},
    {"enabled", COL_BOOL, "bool", true, false, false, true},
    {"secret", COL_TEXT, "text", true, true, false, false},
};
static const struct store_table_desc flags_table = {STORE__NTABLES, "flags", flags_cols, 3,    "id",
                                                    false,          false,   "id",       false};

static const struct store_table_desc *table(const char *name)
{
    if (strcmp(name, "flags") == 0) {
        return &flags_table;
    }
    const struct store_table_desc *t = store_table_by_name(name);
    CHECK(t != NULL);
    return t;
}

/* Parse filter on table and match it against record (JSON text); -1 when the parse fails. */
static int try_match(const char *tname, const char *filter, const char *record)
{
    const struct store_table_desc *t = table(tname);
    struct rt_filter *f = NULL;
    char err[256];
    if (rt_filter_parse(filter, t, &f, err, sizeof(err)) < 0) {
        CHECK(f == NULL);
        return -1;
    }
    json_error_t jerr;
    json_t *rec = json_loads(record, 0, &jerr);
    CHECK(rec != NULL);
    bool m = rt_filter_match(f, t, rec);
    json_decref(rec);
    rt_filter_free(f);
    return m ? 1 : 0;
}

#define MATCH(t, f, r) CHECK_EQ_INT(try_match(t, f, r), 1)
#define NO_MATCH(t, f, r) CHECK_EQ_INT(try_match(t, f, r), 0)

/* Expect the parse to fail with SB_E_INVAL and, when want is set, exactly that message. */
static void expect_error(const char *tname, const char *filter, const char *want)
{
    struct rt_filter *f = (struct rt_filter *)&f; /* must be reset to NULL */
    char err[256];
    int rc = rt_filter_parse(filter, tname ? table(tname) : NULL, &f, err, sizeof(err));
    CHECK_EQ_INT(rc, SB_E_INVAL);
    CHECK(f == NULL);
    if (rc == 0) {
        fprintf(stderr, "  accepted: %s\n", filter);
        rt_filter_free(f);
        return;
    }
    CHECK(strncmp(err, "Error parsing `filter` params: ", 31) == 0);
    if (want) {
        CHECK_EQ_STR(err, want);
    }
}

static void test_int_ops(void)
{
    const char *recs[] = {"{\"version\":1}", "{\"version\":2}", "{\"version\":3}"};
    const struct {
        const char *filter;
        int want[3];
    } cases[] = {
        {"version=eq.2", {0, 1, 0}},
        {"version=neq.2", {1, 0, 1}},
        {"version=lt.2", {1, 0, 0}},
        {"version=lte.2", {1, 1, 0}},
        {"version=gt.2", {0, 0, 1}},
        {"version=gte.2", {0, 1, 1}},
        {"version=in.(1,3)", {1, 0, 1}},
        {"version=in.( 3 , 2 )", {0, 1, 1}},
        {"version=gt.-1", {1, 1, 1}},
        {"version=lt.+3", {1, 1, 0}},
        /* numeric, not lexicographic: 10 > 2 */
        {"version=lt.10", {1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int r = 0; r < 3; r++) {
            int got = try_match("agent_status", cases[i].filter, recs[r]);
            CHECK_EQ_INT(got, cases[i].want[r]);
            if (got != cases[i].want[r]) {
                fprintf(stderr, "  %s on %s\n", cases[i].filter, recs[r]);
            }
        }
    }
    MATCH("agent_status", "version=eq.9223372036854775807", "{\"version\":9223372036854775807}");
    expect_error("agent_status", "version=eq.9223372036854775808", NULL);
    expect_error("agent_status", "version=eq.abc",
                 "Error parsing `filter` params: invalid integer value 'abc' for column "
                 "'version'");
    expect_error("agent_status", "version=eq.1.5", NULL);
    expect_error("agent_status", "version=eq.", NULL);
    expect_error("agent_status", "version=eq. 2", NULL);
    expect_error("agent_status", "version=eq.2x", NULL);
    expect_error("agent_status", "version=in.(1,x)", NULL);
    expect_error("audit_logs", "seq=gt.-", NULL);
    /* A string or float in the record is not an integer: no match. */
    NO_MATCH("agent_status", "version=eq.2", "{\"version\":\"2\"}");
    NO_MATCH("agent_status", "version=eq.2", "{\"version\":2.0}");
}

static void test_text_ops(void)
{
    MATCH("agent_status", "status=eq.online", "{\"status\":\"online\"}");
    NO_MATCH("agent_status", "status=eq.online", "{\"status\":\"away\"}");
    NO_MATCH("agent_status", "status=eq.online", "{\"status\":\"Online\"}");
    MATCH("system_messages", "priority=neq.low", "{\"priority\":\"high\"}");
    NO_MATCH("system_messages", "priority=neq.low", "{\"priority\":\"low\"}");
    MATCH("users", "role=in.(admin,agent)", "{\"role\":\"agent\"}");
    MATCH("users", "role=in.(admin,agent)", "{\"role\":\"admin\"}");
    NO_MATCH("users", "role=in.(admin,agent)", "{\"role\":\"viewer\"}");
    NO_MATCH("users", "role=in.(admin,agent)", "{\"role\":\"admi\"}");
    /* Byte order: "B" < "a", "ab" < "b", prefix < longer. */
    MATCH("agent_status", "display_name=lt.a", "{\"display_name\":\"Bob\"}");
    MATCH("agent_status", "display_name=lt.b", "{\"display_name\":\"ab\"}");
    MATCH("agent_status", "display_name=lt.ab", "{\"display_name\":\"a\"}");
    NO_MATCH("agent_status", "display_name=lt.a", "{\"display_name\":\"a\"}");
    MATCH("agent_status", "display_name=lte.a", "{\"display_name\":\"a\"}");
    MATCH("agent_status", "display_name=gt.a", "{\"display_name\":\"ab\"}");
    NO_MATCH("agent_status", "display_name=gt.b", "{\"display_name\":\"ab\"}");
    MATCH("agent_status", "display_name=gte.ab", "{\"display_name\":\"ab\"}");
    MATCH("agent_status", "display_name=gt.z", "{\"display_name\":\"\xc3\xa9\"}");
    /* Empty text value is allowed and compares as the empty string. */
    MATCH("agent_status", "reason=eq.", "{\"reason\":\"\"}");
    NO_MATCH("agent_status", "reason=eq.", "{\"reason\":\"x\"}");
    /* Values are byte-exact, spaces included; dots after the operator belong to the value. */
    MATCH("agent_status", "reason=eq.on a break", "{\"reason\":\"on a break\"}");
    MATCH("agent_status", "reason=eq.a.b.c", "{\"reason\":\"a.b.c\"}");
    MATCH("agent_status", "reason=eq.f(x)", "{\"reason\":\"f(x)\"}");
    MATCH("agent_status", "reason=eq.a=b", "{\"reason\":\"a=b\"}");
    /* A number in a text column is still text. */
    MATCH("agent_status", "reason=eq.5", "{\"reason\":\"5\"}");
    NO_MATCH("agent_status", "reason=eq.5", "{\"reason\":5}");
}

static void test_uuid_ops(void)
{
    const char *rec = "{\"client_id\":\"" UUID_A "\"}";
    MATCH("agent_status", "client_id=eq." UUID_A, rec);
    MATCH("agent_status", "client_id=eq.6F1C2D3E-4A5B-4C6D-8E9F-0A1B2C3D4E5F", rec);
    NO_MATCH("agent_status", "client_id=eq." UUID_B, rec);
    MATCH("agent_status", "client_id=neq." UUID_B, rec);
    MATCH("agent_status", "client_id=lt." UUID_B, rec);
    MATCH("agent_status", "client_id=lte." UUID_A, rec);
    NO_MATCH("agent_status", "client_id=gt." UUID_A, rec);
    MATCH("agent_status", "client_id=gte." UUID_A, rec);
    MATCH("agent_status", "client_id=in.(" UUID_B "," UUID_A ")", rec);
    MATCH("users", "id=eq." UUID_A, "{\"id\":\"" UUID_A "\"}");
    expect_error("agent_status", "client_id=eq.5",
                 "Error parsing `filter` params: invalid uuid value '5' for column 'client_id'");
    expect_error("agent_status", "client_id=eq.6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5", NULL);
    expect_error("agent_status", "client_id=eq.6f1c2d3e04a5b-4c6d-8e9f-0a1b2c3d4e5f", NULL);
    expect_error("agent_status", "client_id=eq.gf1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", NULL);
    /* Quoted uuids are fine. */
    MATCH("agent_status", "client_id=eq.\"" UUID_A "\"", rec);
}

static void test_bool_ops(void)
{
    const char *t = "{\"enabled\":true}", *f = "{\"enabled\":false}";
    MATCH("flags", "enabled=eq.true", t);
    MATCH("flags", "enabled=eq.t", t);
    MATCH("flags", "enabled=eq.TRUE", t);
    NO_MATCH("flags", "enabled=eq.true", f);
    MATCH("flags", "enabled=eq.f", f);
    MATCH("flags", "enabled=neq.false", t);
    NO_MATCH("flags", "enabled=neq.false", f);
    MATCH("flags", "enabled=lt.true", f);
    NO_MATCH("flags", "enabled=lt.true", t);
    MATCH("flags", "enabled=lte.true", t);
    MATCH("flags", "enabled=gt.f", t);
    NO_MATCH("flags", "enabled=gt.f", f);
    MATCH("flags", "enabled=gte.false", f);
    MATCH("flags", "enabled=in.(t,f)", f);
    NO_MATCH("flags", "enabled=in.(t)", f);
    NO_MATCH("flags", "enabled=eq.true", "{\"enabled\":\"true\"}");
    NO_MATCH("flags", "enabled=eq.true", "{\"enabled\":1}");
    expect_error("flags", "enabled=eq.yes",
                 "Error parsing `filter` params: invalid boolean value 'yes' for column "
                 "'enabled'");
    expect_error("flags", "enabled=eq.1", NULL);
    expect_error("flags", "secret=eq.x", NULL);
}

static void test_time_ops(void)
{
    const char *rec = "{\"status_since\":\"2026-11-25T10:00:00.000Z\"}";
    MATCH("agent_status", "status_since=eq.2026-11-25T10:00:00.000Z", rec);
    /* Same instant in another spelling. */
    MATCH("agent_status", "status_since=eq.2026-11-25T10:00:00Z", rec);
    MATCH("agent_status", "status_since=eq.2026-11-25T11:00:00+01:00", rec);
    NO_MATCH("agent_status", "status_since=eq.2026-11-25T10:00:00.001Z", rec);
    MATCH("agent_status", "status_since=neq.2026-11-25T10:00:00.001Z", rec);
    MATCH("agent_status", "status_since=lt.2026-11-25T10:00:00.001Z", rec);
    NO_MATCH("agent_status", "status_since=lt.2026-11-25T10:00:00Z", rec);
    MATCH("agent_status", "status_since=lte.2026-11-25T10:00:00Z", rec);
    MATCH("agent_status", "status_since=gt.2026-11-25T09:59:59.999Z", rec);
    /* Across a year boundary and with a coarser record spelling. */
    MATCH("agent_status", "status_since=gt.2025-12-31T23:59:59Z",
          "{\"status_since\":\"2026-01-01T00:00:00Z\"}");
    MATCH("agent_status", "status_since=gte.2026-11-25T10:00:00.000Z", rec);
    MATCH("agent_status", "status_since=in.(2026-11-25T09:00:00.000Z,2026-11-25T10:00:00.000Z)",
          rec);
    MATCH("system_messages", "expires_at=gt.2026-01-01T00:00:00Z",
          "{\"expires_at\":\"2026-06-01T00:00:00.000Z\"}");
    expect_error("agent_status", "status_since=gt.yesterday",
                 "Error parsing `filter` params: invalid timestamp value 'yesterday' for "
                 "column 'status_since'");
    expect_error("agent_status", "status_since=gt.2026-13-01T00:00:00Z", NULL);
    /* A record value that is not a time never matches. */
    NO_MATCH("agent_status", "status_since=neq.2026-11-25T10:00:00Z",
             "{\"status_since\":\"garbage\"}");
}

static void test_and_and_quotes(void)
{
    const char *rec = "{\"status\":\"online\",\"version\":3,\"reason\":\"a,b\"}";
    MATCH("agent_status", "status=eq.online,version=gte.2", rec);
    MATCH("agent_status", "status=eq.online, version=gte.2", rec);
    MATCH("agent_status", " status = eq.online", rec);
    NO_MATCH("agent_status", "status=eq.online,version=gte.4", rec);
    NO_MATCH("agent_status", "status=eq.away,version=gte.2", rec);
    MATCH("agent_status", "status=eq.online,version=gte.2,reason=eq.\"a,b\"", rec);
    MATCH("agent_status", "reason=eq.\"a,b\",status=eq.online", rec);
    MATCH("agent_status", "reason=in.(x,\"a,b\",y),status=in.(online)", rec);
    MATCH("agent_status", "reason=eq.\"q\\\"u\\\\o(te)\"", "{\"reason\":\"q\\\"u\\\\o(te)\"}");
    MATCH("agent_status", "reason=in.(\"q\\\"\",\" (x) \")", "{\"reason\":\" (x) \"}");
    MATCH("agent_status", "reason=in.(\"\")", "{\"reason\":\"\"}");

    struct rt_filter *f = NULL;
    char err[256];
    CHECK_EQ_INT(rt_filter_parse("status=eq.online,version=gte.2,reason=eq.\"a,b\"",
                                 table("agent_status"), &f, err, sizeof(err)),
                 0);
    CHECK_EQ_INT(rt_filter_count(f), 3);
    rt_filter_free(f);
    CHECK_EQ_INT(rt_filter_parse("reason=in.(a,b,c)", table("agent_status"), &f, err, sizeof(err)),
                 0);
    CHECK_EQ_INT(rt_filter_count(f), 1);
    rt_filter_free(f);
}

static void test_in_limit(void)
{
    struct buf_s {
        char s[2048];
    } b;
    int off = snprintf(b.s, sizeof(b.s), "version=in.(");
    for (int i = 1; i <= 100; i++) {
        off += snprintf(b.s + off, sizeof(b.s) - (size_t)off, "%s%d", i > 1 ? "," : "", i);
    }
    snprintf(b.s + off, sizeof(b.s) - (size_t)off, ")");
    MATCH("agent_status", b.s, "{\"version\":100}");
    MATCH("agent_status", b.s, "{\"version\":1}");
    NO_MATCH("agent_status", b.s, "{\"version\":101}");
    snprintf(b.s + off, sizeof(b.s) - (size_t)off, ",101)");
    expect_error("agent_status", b.s,
                 "Error parsing `filter` params: `in` accepts at most 100 values");
}

static void test_errors(void)
{
    expect_error("agent_status", "foo=eq.1",
                 "Error parsing `filter` params: unknown column 'foo' in table 'agent_status'");
    expect_error("users", "password_hash=eq.x",
                 "Error parsing `filter` params: unknown column 'password_hash' in table "
                 "'users'");
    expect_error("agent_status", "status=like.on%",
                 "Error parsing `filter` params: unknown operator 'like' for column 'status'");
    expect_error("agent_status", "status=not.eq.x", NULL);
    expect_error("agent_status", "status=EQ.x", NULL);
    expect_error("clients", "settings=eq.{}",
                 "Error parsing `filter` params: filters on json column 'settings' are not "
                 "supported");
    expect_error("agent_status", "status", NULL);
    expect_error("agent_status", "status=eq", NULL);
    expect_error("agent_status", "=eq.x", NULL);
    expect_error("agent_status", "status=eq.online,", NULL);
    expect_error("agent_status", ",status=eq.online", NULL);
    expect_error("agent_status", "status=eq.online,,version=eq.1", NULL);
    expect_error("agent_status", "status=in.(a,b", NULL);
    expect_error("agent_status", "status=in.a,b", NULL);
    expect_error("agent_status", "status=in.()", NULL);
    expect_error("agent_status", "status=in.(a,,b)", NULL);
    expect_error("agent_status", "status=in.(a,(b))", NULL);
    expect_error("agent_status", "status=in.(a)x", NULL);
    expect_error("agent_status", "status=eq.x)", NULL);
    expect_error("agent_status", "status=eq.\"unterminated", NULL);
    expect_error("agent_status", "status=eq.a\"b\"", NULL);
    expect_error("agent_status", "status=eq.\"a\"b", NULL);
    expect_error("agent_status", "sta tus=eq.x", NULL);
    expect_error("agent_status", "sta-tus=eq.x", NULL);
    expect_error(NULL, "status=eq.\"x", NULL);
    expect_error(NULL, "=eq.x", NULL);

    /* Messages are truncated to the buffer and stay valid UTF-8. */
    struct rt_filter *f = NULL;
    char small[40];
    CHECK_EQ_INT(rt_filter_parse("foo=eq.1", table("agent_status"), &f, small, sizeof(small)),
                 SB_E_INVAL);
    CHECK_EQ_INT(strlen(small), sizeof(small) - 1);
    char big[512];
    size_t n = (size_t)snprintf(big, sizeof(big), "version=eq.");
    for (int i = 0; i < 60; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "\xc3\xa9");
    }
    char err[256];
    CHECK_EQ_INT(rt_filter_parse(big, table("agent_status"), &f, err, sizeof(err)), SB_E_INVAL);
    json_t *js = json_string(err);
    CHECK(js != NULL);
    json_decref(js);
    for (size_t len = 32; len < 120; len++) {
        CHECK_EQ_INT(rt_filter_parse(big, table("agent_status"), &f, err, len), SB_E_INVAL);
        js = json_string(err);
        CHECK(js != NULL);
        json_decref(js);
    }
    /* NULL err buffer is fine. */
    CHECK_EQ_INT(rt_filter_parse("foo=eq.1", table("agent_status"), &f, NULL, 0), SB_E_INVAL);
}

static void test_empty_and_null(void)
{
    const char *empties[] = {"", "   ", "\t\n"};
    for (size_t i = 0; i < 3; i++) {
        struct rt_filter *f = NULL;
        char err[128];
        CHECK_EQ_INT(rt_filter_parse(empties[i], table("agent_status"), &f, err, sizeof(err)), 0);
        CHECK(f != NULL);
        CHECK_EQ_INT(rt_filter_count(f), 0);
        json_t *rec = json_pack("{s:s}", "status", "online");
        CHECK(rt_filter_match(f, table("agent_status"), rec));
        json_decref(rec);
        rt_filter_free(f);
    }
    struct rt_filter *f = NULL;
    CHECK_EQ_INT(rt_filter_parse(NULL, NULL, &f, NULL, 0), 0);
    CHECK_EQ_INT(rt_filter_count(f), 0);
    rt_filter_free(f);
    CHECK(rt_filter_match(NULL, table("users"), NULL));
    rt_filter_free(NULL);

    /* SQL null semantics: null or absent never matches, not even neq. */
    NO_MATCH("users", "last_login_at=neq.2026-01-01T00:00:00Z", "{\"last_login_at\":null}");
    NO_MATCH("users", "last_login_at=eq.2026-01-01T00:00:00Z", "{\"last_login_at\":null}");
    NO_MATCH("users", "client_id=neq." UUID_A, "{\"client_id\":null}");
    NO_MATCH("users", "client_id=in.(" UUID_A ")", "{\"client_id\":null}");
    NO_MATCH("agent_status", "reason=neq.x", "{}");
    NO_MATCH("agent_status", "version=lt.5", "{\"status\":\"online\"}");
    MATCH("users", "client_id=neq." UUID_A, "{\"client_id\":\"" UUID_B "\"}");
    /* Not an object: no match when there are conditions. */
    CHECK_EQ_INT(rt_filter_parse("status=eq.x", table("agent_status"), &f, NULL, 0), 0);
    json_t *arr = json_array();
    CHECK(!rt_filter_match(f, table("agent_status"), arr));
    CHECK(!rt_filter_match(f, table("agent_status"), NULL));
    CHECK(!rt_filter_match(f, NULL, arr));
    json_decref(arr);
    rt_filter_free(f);
}

/* Table "*": columns resolved per event, values typed lazily. */
static void test_wildcard_table(void)
{
    struct rt_filter *f = NULL;
    char err[256];
    CHECK_EQ_INT(rt_filter_parse("status=eq.online,version=gte.2", NULL, &f, err, sizeof(err)), 0);
    json_t *rec = json_pack("{s:s,s:i}", "status", "online", "version", 2);
    CHECK(rt_filter_match(f, table("agent_status"), rec));
    CHECK(rt_filter_match(f, table("users"), rec));
    /* audit_logs has no status nor version column. */
    CHECK(!rt_filter_match(f, table("audit_logs"), rec));
    CHECK(!rt_filter_match(f, NULL, rec));
    json_decref(rec);
    rt_filter_free(f);

    /* "abc" is no integer: on a table where version is an int, nothing matches. */
    CHECK_EQ_INT(rt_filter_parse("version=neq.abc", NULL, &f, err, sizeof(err)), 0);
    rec = json_pack("{s:i}", "version", 1);
    CHECK(!rt_filter_match(f, table("agent_status"), rec));
    json_decref(rec);
    rt_filter_free(f);

    /* Hidden and JSON columns never match. */
    CHECK_EQ_INT(rt_filter_parse("password_hash=eq.x", NULL, &f, err, sizeof(err)), 0);
    rec = json_pack("{s:s}", "password_hash", "x");
    CHECK(!rt_filter_match(f, table("users"), rec));
    json_decref(rec);
    rt_filter_free(f);
    CHECK_EQ_INT(rt_filter_parse("settings=eq.x", NULL, &f, err, sizeof(err)), 0);
    rec = json_pack("{s:s}", "settings", "x");
    CHECK(!rt_filter_match(f, table("clients"), rec));
    json_decref(rec);
    rt_filter_free(f);

    /* A uuid condition works on every table with client_id. */
    CHECK_EQ_INT(rt_filter_parse("client_id=eq." UUID_A, NULL, &f, err, sizeof(err)), 0);
    rec = json_pack("{s:s}", "client_id", UUID_A);
    CHECK(rt_filter_match(f, table("agent_status"), rec));
    CHECK(rt_filter_match(f, table("system_messages"), rec));
    CHECK(rt_filter_match(f, table("audit_logs"), rec));
    CHECK(!rt_filter_match(f, table("clients"), rec));
    json_decref(rec);
    rt_filter_free(f);

    /* A filter parsed for one table and matched against another resolves the column again. */
    CHECK_EQ_INT(rt_filter_parse("status=eq.active", table("clients"), &f, err, sizeof(err)), 0);
    rec = json_pack("{s:s}", "status", "active");
    CHECK(rt_filter_match(f, table("clients"), rec));
    CHECK(rt_filter_match(f, table("users"), rec));
    CHECK(!rt_filter_match(f, table("audit_logs"), rec));
    json_decref(rec);
    rt_filter_free(f);
}

int main(void)
{
    test_int_ops();
    test_text_ops();
    test_uuid_ops();
    test_bool_ops();
    test_time_ops();
    test_and_and_quotes();
    test_in_limit();
    test_errors();
    test_empty_and_null();
    test_wildcard_table();
    return test_done();
}
