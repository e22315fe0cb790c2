/* base/csv.c: RFC 4180 records, quoting, line endings, limits and malformed input. */
#include "base/csv.h"

#include <string.h>

#include "test.h"

static json_t *parse(const char *text, size_t max_rows, char *err)
{
    json_t *rows = NULL;
    int rc = csv_parse(text, strlen(text), max_rows, 8, &rows, err, 96);
    return rc == 0 ? rows : NULL;
}

static const char *cell(const json_t *rows, size_t r, size_t f)
{
    return json_string_value(json_array_get(json_array_get(rows, r), f));
}

int main(void)
{
    char err[96];
    json_t *rows = parse("\xEF\xBB\xBF"
                         "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n\n,,\nlast,\"multi\nline\",z",
                         10, err);
    CHECK(rows != NULL);
    CHECK_EQ_INT(json_array_size(rows), 4);
    CHECK_EQ_STR(cell(rows, 0, 0), "a");
    CHECK_EQ_STR(cell(rows, 1, 1), "x, y");
    CHECK_EQ_STR(cell(rows, 1, 2), "say \"hi\"");
    CHECK_EQ_INT(json_array_size(json_array_get(rows, 2)), 3);
    CHECK_EQ_STR(cell(rows, 2, 2), "");
    CHECK_EQ_STR(cell(rows, 3, 1), "multi\nline");
    CHECK_EQ_STR(cell(rows, 3, 2), "z");
    json_decref(rows);

    rows = parse("", 10, err);
    CHECK(rows && json_array_size(rows) == 0);
    json_decref(rows);
    rows = parse("a,\r\n", 10, err);
    CHECK(rows && json_array_size(json_array_get(rows, 0)) == 2);
    json_decref(rows);

    CHECK(parse("a,\"open\n", 10, err) == NULL);
    CHECK(strstr(err, "unterminated") != NULL);
    CHECK(parse("a,b\"c\n", 10, err) == NULL);
    CHECK(strstr(err, "quote inside") != NULL);
    CHECK(parse("\"a\"b,c\n", 10, err) == NULL);
    CHECK(strstr(err, "after a closing quote") != NULL);
    CHECK(parse("1\n2\n3\n", 2, err) == NULL);
    CHECK(strstr(err, "too many records") != NULL);
    CHECK(parse("1,2,3,4,5,6,7,8,9\n", 10, err) == NULL);
    CHECK(strstr(err, "too many fields") != NULL);
    CHECK(strncmp(err, "line 1:", 7) == 0);
    const char nul[] = {'a', ',', 0, 'b', '\n'};
    json_t *r2 = NULL;
    CHECK(csv_parse(nul, sizeof nul, 10, 8, &r2, err, sizeof err) < 0 && r2 == NULL);
    return test_done();
}
