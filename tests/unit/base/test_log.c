/*
 * Log lines (base/log.c): log_fields writes the same JSON line log_event would, with every
 * escape and invalid UTF-8 replaced; a thread that holds its lines writes nothing until it
 * flushes, a warning flushes at once after the held lines, in order; the text format. And
 * json_buf_string (base/json.c) against json_dumps.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"

static char path[64];

/* The log file's lines from line `from` on (a JSON array of parsed lines, or of strings for
 * the text format). */
static json_t *lines_from(size_t from, bool parse)
{
    json_t *out = json_array();
    FILE *f = fopen(path, "r");
    char line[8192];
    size_t i = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (i++ < from) {
            continue;
        }
        line[strcspn(line, "\n")] = '\0';
        json_t *v = parse ? json_loads(line, 0, NULL) : json_string(line);
        json_array_append_new(out, v ? v : json_string("<not JSON>"));
    }
    if (f) {
        fclose(f);
    }
    return out;
}

static size_t count_lines(void)
{
    json_t *all = lines_from(0, false);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

static const char *field(json_t *lines, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(lines, i), key));
}

static void test_json_buf_string(void)
{
    static const char *const samples[] = {"", "plain", "q\"b\\s/", "\b\f\n\r\t\x01\x1f\x7f",
                                          "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        struct buf b;
        buf_init(&b, 1024);
        CHECK_EQ_INT(json_buf_string(&b, samples[i], strlen(samples[i])), 0);
        json_t *s = json_string(samples[i]);
        char *want = json_dumps(s, JSON_ENCODE_ANY);
        CHECK_EQ_STR(b.data, want);
        free(want);
        json_decref(s);
        buf_release(&b);
    }
    struct buf b;
    buf_init(&b, 1024);
    CHECK_EQ_INT(json_buf_string(&b,
                                 "a\xff"
                                 "b\xc3",
                                 4),
                 0);
    CHECK_EQ_STR(b.data, "\"a\\uFFFDb\\uFFFD\"");
    buf_release(&b);
    buf_init(&b, 10); /* the worst case (6 bytes per byte) must fit the cap */
    CHECK(json_buf_string(&b, "abcd", 4) < 0);
    CHECK_EQ_INT(b.len, 0);
    buf_release(&b);
}

static void test_lines(void)
{
    log_setup(LOG_INFO, true);
    CHECK_EQ_INT(log_open_file(path), 0);
    static const char bad_path[] = "/a\"b\n\xff/c";
    struct log_field f[] = {LOG_STR("path", bad_path, sizeof bad_path - 1), LOG_NUM("status", 404),
                            LOG_STR("ip", "127.0.0.1", 9)};
    log_fields(LOG_INFO, "request", f, 3);
    log_fields(LOG_DEBUG, "below the level", f, 3);
    log_event(LOG_INFO, "event", json_pack("{s:s,s:i}", "k", "v", "n", 7));
    log_event(LOG_INFO, "bare", NULL);
    json_t *l = lines_from(0, true);
    CHECK_EQ_INT(json_array_size(l), 3);
    CHECK_EQ_STR(field(l, 0, "msg"), "request");
    CHECK_EQ_STR(field(l, 0, "level"), "info");
    CHECK(field(l, 0, "ts") && strlen(field(l, 0, "ts")) == 24);
    CHECK_EQ_STR(field(l, 0, "path"), "/a\"b\n\xef\xbf\xbd/c");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(l, 0), "status")), 404);
    CHECK_EQ_STR(field(l, 0, "ip"), "127.0.0.1");
    CHECK_EQ_STR(field(l, 1, "k"), "v");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(l, 1), "n")), 7);
    CHECK_EQ_STR(field(l, 2, "msg"), "bare");
    json_decref(l);

    /* Held: nothing written until the flush; a warning flushes the held lines first. */
    size_t before = count_lines();
    log_thread_hold(true);
    log_fields(LOG_INFO, "held 1", NULL, 0);
    log_fields(LOG_INFO, "held 2", f, 1);
    CHECK_EQ_INT(count_lines(), before);
    log_printf(LOG_WARN, "a warning");
    l = lines_from(before, true);
    CHECK_EQ_INT(json_array_size(l), 3);
    CHECK_EQ_STR(field(l, 0, "msg"), "held 1");
    CHECK_EQ_STR(field(l, 1, "msg"), "held 2");
    CHECK_EQ_STR(field(l, 2, "msg"), "a warning");
    CHECK_EQ_STR(field(l, 2, "level"), "warn");
    json_decref(l);
    log_fields(LOG_INFO, "held 3", NULL, 0);
    CHECK_EQ_INT(count_lines(), before + 3);
    log_thread_flush();
    CHECK_EQ_INT(count_lines(), before + 4);
    /* Many held lines go out once they pass the bound, whole. */
    for (int i = 0; i < 2000; i++) {
        log_fields(LOG_INFO, "bulk", f, 3);
    }
    size_t mid = count_lines();
    CHECK(mid > before + 4 && mid < before + 4 + 2000);
    log_thread_hold(false);
    CHECK_EQ_INT(count_lines(), before + 4 + 2000);
    l = lines_from(before + 4, true);
    size_t whole = 0;
    for (size_t i = 0; i < json_array_size(l); i++) {
        whole += field(l, i, "msg") && strcmp(field(l, i, "msg"), "bulk") == 0;
    }
    CHECK_EQ_INT(whole, 2000);
    json_decref(l);

    /* The text format: "ts level msg {fields}". */
    log_setup(LOG_INFO, false);
    before = count_lines();
    log_fields(LOG_INFO, "request", f + 1, 2);
    log_fields(LOG_INFO, "plain", NULL, 0);
    log_event(LOG_INFO, "event", json_pack("{s:i}", "n", 1));
    l = lines_from(before, false);
    CHECK_EQ_INT(json_array_size(l), 3);
    const char *t0 = json_string_value(json_array_get(l, 0));
    CHECK(t0 && strlen(t0) > 25 &&
          strcmp(t0 + 25, "info  request {\"status\":404,\"ip\":\"127.0.0.1\"}") == 0);
    const char *t1 = json_string_value(json_array_get(l, 1));
    CHECK(t1 && strlen(t1) > 25 && strcmp(t1 + 25, "info  plain") == 0);
    const char *t2 = json_string_value(json_array_get(l, 2));
    CHECK(t2 && strlen(t2) > 25 && strcmp(t2 + 25, "info  event {\"n\":1}") == 0);
    json_decref(l);
}

int main(void)
{
    test_json_buf_string();
    snprintf(path, sizeof path, "/tmp/sb-test-log.%ld", (long)getpid());
    int saved = dup(STDERR_FILENO);
    test_lines();
    /* Results on the real stderr again. */
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    unlink(path);
    return test_done();
}
