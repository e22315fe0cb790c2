/*
 * The shared SQL builder (src/store/sql.c) in both placeholder styles: the exact text of each
 * statement kind, bound values in placeholder order (with $n, n is always the value's place
 * in the array), LIKE patterns with %, _ and \ taken literally, the dialect's spellings of
 * booleans, case-insensitive columns and json casts, in the
 * backends' own dialects. The conformance suite checks what the
 * statements do on real databases; this pins what they say.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "store/postgres/pg_int.h"
#include "store/sql.h"
#include "store/sqlite/sqlite_int.h"

/* The backends' own dialects. */
#define numbered pg_sql_backend.dialect
#define plain sq_sql_backend.dialect

/* Check st's text and its args (as compact JSON), then release it. */
static void expect(struct sql_stmt *st, const char *sql, const char *args)
{
    CHECK_EQ_STR(st->text.data, sql);
    char *got = json_dumps(st->args, JSON_COMPACT);
    CHECK_EQ_STR(got, args);
    free(got);
    sql_stmt_release(st);
}

static void test_list(void)
{
    const struct store_table_desc *t = store_table_desc(STORE_USERS);
    struct store_scope scope = {.client_id = "c1"};
    json_t *in = json_pack("[ss]", "A@x", "b@x");
    json_t *null = json_null();
    struct store_filter filters[] = {
        {"email", STORE_IN, in},
        {"role", STORE_EQ, null},
        {"client_id", STORE_IS_NULL, json_false()},
        {"role", STORE_LT, null},
        {"email", STORE_IN, json_array()},
    };
    struct store_plan plan = {
        .scope = &scope,
        .filters = filters,
        .nfilters = 5,
        .q = "5%_\\",
        .sort = store_column_find(t, "email"),
        .desc = true,
        .limit = 10,
        .after_value = json_string("m@x"),
        .after_id = "u9",
    };
    for (size_t i = 0; i < plan.nfilters; i++) {
        plan.filter_cols[i] = store_column_find(t, filters[i].column);
    }
    struct sql_stmt st;
    sql_stmt_init(&st, &numbered);
    sql_stmt_list(&st, t, &plan);
    const char *cols_pg = "SELECT \"id\", \"client_id\", \"email\"";
    CHECK(strncmp(st.text.data, cols_pg, strlen(cols_pg)) == 0);
    CHECK(strstr(st.text.data, "\"password_hash\"") == NULL);
    const char *tail_pg =
        " FROM \"users\" WHERE (\"client_id\" = $1) AND lower(\"email\") IN (lower($2::text), "
        "lower($3::text)) AND \"role\" IS NULL AND \"client_id\" IS NOT NULL AND false AND "
        "false AND (\"email\" ILIKE $4 ESCAPE '\\' OR \"name\" ILIKE $5 ESCAPE '\\') AND "
        "lower(\"email\") <= lower($6::text) AND (lower(\"email\") < lower($7::text) OR "
        "(lower(\"email\") = lower($8::text) AND \"id\" < $9) OR \"email\" IS NULL) ORDER BY "
        "lower(\"email\") DESC NULLS LAST, \"id\" DESC LIMIT 11";
    const char *args = "[\"c1\",\"A@x\",\"b@x\",\"%5\\\\%\\\\_\\\\\\\\%\",\"%5\\\\%\\\\_\\\\\\\\%"
                       "\",\"m@x\",\"m@x\",\"m@x\",\"u9\"]";
    const char *from = strstr(st.text.data, " FROM ");
    CHECK_EQ_STR(from, tail_pg);
    char *got = json_dumps(st.args, JSON_COMPACT);
    CHECK_EQ_STR(got, args);
    free(got);
    sql_stmt_release(&st);

    sql_stmt_init(&st, &plain);
    sql_stmt_list(&st, t, &plan);
    from = strstr(st.text.data, " FROM ");
    CHECK_EQ_STR(from, " FROM \"users\" WHERE (\"client_id\" = ?) AND \"email\" IN (?, ?) AND "
                       "\"role\" IS NULL AND \"client_id\" IS NOT NULL AND 0 AND 0 AND "
                       "(\"email\" LIKE ? ESCAPE '\\' OR \"name\" LIKE ? ESCAPE '\\') AND "
                       "\"email\" <= ? AND (\"email\" < ? OR (\"email\" = ? AND "
                       "\"id\" < ?) OR \"email\" IS NULL) ORDER BY \"email\" DESC, \"id\" DESC "
                       "LIMIT 11");
    got = json_dumps(st.args, JSON_COMPACT);
    CHECK_EQ_STR(got, args);
    free(got);
    sql_stmt_release(&st);

    /* A NULL keyset value ascending; the search reference of agent_status. */
    const struct store_table_desc *a = store_table_desc(STORE_AGENT_STATUS);
    struct store_scope all = {.all = true};
    struct store_plan p2 = {
        .scope = &all,
        .q = "Ann",
        .sort = store_column_find(a, "id"),
        .limit = 1,
        .after_value = null,
        .after_id = "a1",
    };
    sql_stmt_init(&st, &numbered);
    sql_stmt_list(&st, a, &p2);
    from = strstr(st.text.data, " WHERE ");
    CHECK(from && strstr(from, " OR EXISTS (SELECT 1 FROM \"users\" AS sr WHERE sr.\"id\" = "
                               "\"agent_status\".\"user_id\" AND sr.\"email\" ILIKE $") != NULL);
    CHECK(from && strstr(from, " AND ((\"id\" IS NULL AND \"id\" > $") != NULL);
    CHECK(from && strncmp(from, " WHERE true AND (", 17) == 0);
    /* Every value has its own number, in order. */
    size_t n = json_array_size(st.args);
    char last[16];
    snprintf(last, sizeof(last), "$%zu", n);
    CHECK(strstr(st.text.data, last) != NULL);
    snprintf(last, sizeof(last), "$%zu", n + 1);
    CHECK(strstr(st.text.data, last) == NULL);
    sql_stmt_release(&st);

    /* The keyset's bound outside the OR (an index range then starts at the cursor): >=
     * ascending, even for a nullable column (its NULLs sort first); none for a nullable column
     * descending, whose NULLs come after every value. */
    struct store_plan p3 = {
        .scope = &all,
        .sort = store_column_find(t, "last_login_at"),
        .limit = 1,
        .after_value = json_string("2026-01-01T00:00:00.000Z"),
        .after_id = "u1",
    };
    sql_stmt_init(&st, &plain);
    sql_stmt_list(&st, t, &p3);
    CHECK(strstr(st.text.data, " WHERE 1 AND \"last_login_at\" >= ? AND (\"last_login_at\" > ? "
                               "OR (\"last_login_at\" = ? AND \"id\" > ?))") != NULL);
    sql_stmt_release(&st);
    p3.desc = true;
    sql_stmt_init(&st, &plain);
    sql_stmt_list(&st, t, &p3);
    CHECK(strstr(st.text.data, " WHERE 1 AND (\"last_login_at\" < ? OR (\"last_login_at\" = ? "
                               "AND \"id\" < ?) OR \"last_login_at\" IS NULL)") != NULL);
    sql_stmt_release(&st);
    json_decref(p3.after_value);

    json_decref(plan.after_value);
    json_decref(in);
    json_decref(filters[4].value);
}

static void test_writes(void)
{
    const struct store_table_desc *t = store_table_desc(STORE_CLIENTS);
    json_t *row = json_pack("{ssssss}", "id", "c1", "name", "N", "slug", "n");
    struct sql_stmt st;
    sql_stmt_init(&st, &numbered);
    sql_stmt_insert(&st, t, row);
    expect(&st, "INSERT INTO \"clients\" (\"id\", \"name\", \"slug\") VALUES ($1, $2, $3)",
           "[\"c1\",\"N\",\"n\"]");
    sql_stmt_init(&st, &plain);
    sql_stmt_insert(&st, t, row);
    expect(&st, "INSERT INTO \"clients\" (\"id\", \"name\", \"slug\") VALUES (?, ?, ?)",
           "[\"c1\",\"N\",\"n\"]");
    json_decref(row);

    struct store_scope scope = {.client_id = "c1", .include_global = true};
    struct store_scope all_scope = {.all = true};
    json_t *set = json_pack("{sssi}", "name", "M", "version", 3);
    sql_stmt_init(&st, &numbered);
    sql_stmt_update(&st, t, &scope, "c1", set, 2);
    expect(&st,
           "UPDATE \"clients\" SET \"name\" = $1, \"version\" = $2 WHERE \"id\" = $3 AND (\"id\" "
           "= $4 OR \"id\" IS NULL) AND \"version\" = $5",
           "[\"M\",3,\"c1\",\"c1\",2]");
    json_decref(set);
    /* The update of store_row_update: version + 1 in SQL. */
    set = json_pack("{ss}", "name", "M");
    sql_stmt_init(&st, &plain);
    sql_stmt_update_ex(&st, t, &scope, "c1", set, 2, true);
    expect(&st,
           "UPDATE \"clients\" SET \"name\" = ?, \"version\" = \"version\" + 1 WHERE \"id\" = ? "
           "AND (\"id\" = ? OR \"id\" IS NULL) AND \"version\" = ?",
           "[\"M\",\"c1\",\"c1\",2]");
    sql_stmt_init(&st, &numbered);
    sql_stmt_update_ex(&st, t, &all_scope, "c1", set, 0, false);
    expect(&st, "UPDATE \"clients\" SET \"name\" = $1 WHERE \"id\" = $2 AND true",
           "[\"M\",\"c1\"]");
    json_decref(set);

    struct store_scope none = {0};
    sql_stmt_init(&st, &plain);
    sql_stmt_delete(&st, t, &none, "c1");
    expect(&st, "DELETE FROM \"clients\" WHERE \"id\" = ? AND 0", "[\"c1\"]");

    const struct store_table_desc *u = store_table_desc(STORE_USERS);
    struct store_scope all = {.all = true};
    sql_stmt_init(&st, &numbered);
    sql_stmt_get(&st, u, &all, store_column_find(u, "email"), "A@x", true);
    CHECK(strstr(st.text.data, "\"password_hash\"") != NULL);
    CHECK(strstr(st.text.data, " FROM \"users\" WHERE lower(\"email\") = lower($1::text) AND "
                               "true") != NULL);
    sql_stmt_release(&st);
}

static void test_count(void)
{
    const struct store_table_desc *t = store_table_desc(STORE_USERS);
    struct store_scope all = {.all = true};
    struct store_plan plan = {.scope = &all};
    struct sql_stmt st;
    sql_stmt_init(&st, &plain);
    sql_stmt_count(&st, t, &plan, store_column_find(t, "role"));
    expect(&st, "SELECT \"role\", count(*) FROM \"users\" WHERE 1 GROUP BY \"role\"", "[]");
    sql_stmt_init(&st, &numbered);
    sql_stmt_count(&st, t, &plan, NULL);
    expect(&st, "SELECT 'total', count(*) FROM \"users\" WHERE true", "[]");

    json_t *counts = json_object();
    sql_count_add(counts, json_string("admin"), 2);
    sql_count_add(counts, json_null(), 1);
    sql_count_add(counts, json_true(), 4);
    char *got = json_dumps(counts, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(got, "{\"admin\":2,\"null\":1,\"true\":4}");
    free(got);
    json_decref(counts);
}

int main(void)
{
    test_list();
    test_writes();
    test_count();
    return test_done();
}
