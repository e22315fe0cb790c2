/*
 * Store conformance: the behaviour every backend must show, written only against store.h,
 * run for "sqlite::memory:", a temporary SQLite file and, when SB_TEST_PG_URL is set,
 * PostgreSQL. Parts that tamper with the database behind the store's back (append-only
 * triggers, audit chain tampering, writes made directly in SQL) open the database directly:
 * the SQLite file with sqlite3, PostgreSQL with libpq (struct raw). PostgreSQL also runs
 * test_pg_nodes: two stores on one database (two switchboard nodes) writing at once while a
 * third tails the change log, which must see seq 1, 2, 3, ... with no gap at any moment.
 */
#include "test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/rand.h"
#include "store/store.h"

static const struct store_scope ALL = {.all = true};

/* Arguments are borrowed by the store: P() builds one that lives until the end of the run. */
static json_t *garbage;
static pthread_mutex_t garbage_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *tmp(json_t *v)
{
    pthread_mutex_lock(&garbage_mu);
    json_array_append_new(garbage, v);
    pthread_mutex_unlock(&garbage_mu);
    return v;
}
#define P(...) tmp(json_pack(__VA_ARGS__))

static struct store_tx *wtx(struct store *s)
{
    struct store_tx *tx = NULL;
    int rc = store_tx_begin(s, true, &tx);
    CHECK_EQ_INT(rc, 0);
    return tx;
}

static struct store_tx *rtx(struct store *s)
{
    struct store_tx *tx = NULL;
    int rc = store_tx_begin(s, false, &tx);
    CHECK_EQ_INT(rc, 0);
    return tx;
}

static int64_t head(struct store *s)
{
    int64_t oldest = 0, h = 0;
    CHECK_EQ_INT(store_changes_bounds(s, &oldest, &h), 0);
    return h;
}

static const char *str(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : "";
}

/* The single change after seq `after`; checks there is exactly one. Caller frees. */
static struct store_change *one_change(struct store *s, int64_t after, const char *op,
                                       enum store_table table)
{
    struct store_change *ch = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_changes_read(s, after, 10, &ch, &n), 0);
    CHECK_EQ_INT(n, 1);
    if (n < 1) {
        store_changes_free(ch, n);
        return NULL;
    }
    CHECK_EQ_INT(ch[0].seq, after + 1);
    CHECK_EQ_STR(ch[0].op, op);
    CHECK_EQ_INT(ch[0].table, table);
    CHECK(ch[0].at_ms > 0);
    if (strcmp(op, "INSERT") == 0) {
        CHECK(ch[0].record && !ch[0].old_record);
    } else if (strcmp(op, "UPDATE") == 0) {
        CHECK(ch[0].record && ch[0].old_record);
    } else {
        CHECK(!ch[0].record && ch[0].old_record);
    }
    return ch;
}

static json_t *insert(struct store *s, enum store_table t, json_t *row)
{
    struct store_tx *tx = wtx(s);
    json_t *out = NULL;
    int rc = store_row_insert(tx, t, row, &out);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    return out;
}

static int insert_rc(struct store *s, enum store_table t, json_t *row)
{
    struct store_tx *tx = wtx(s);
    int rc = store_row_insert(tx, t, row, NULL);
    store_tx_rollback(tx);
    return rc;
}

static void new_id(char id[UUID_STR_LEN])
{
    uuid_v4(id);
}

static void test_migrate(const char *url, struct store **out)
{
    struct store *s = NULL;
    CHECK_EQ_INT(store_open(url, NULL, &s), 0);
    if (!s) {
        *out = NULL;
        return;
    }
    int v = -1;
    CHECK_EQ_INT(store_schema_version(s, &v), 0);
    CHECK_EQ_INT(v, 0);
    CHECK(store_migrate(s) >= 1);
    CHECK_EQ_INT(store_migrate(s), 0);
    CHECK_EQ_INT(store_schema_version(s, &v), 0);
    CHECK(v >= 1);
    CHECK_EQ_INT(store_ping(s), 0);
    CHECK_EQ_INT(head(s), 0);
    *out = s;
}

static int hook_calls;
static void on_commit(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&hook_calls, 1, __ATOMIC_SEQ_CST);
}

/* Insert/update/delete on every logged table: one change each, with the right content. */
static void test_change_log(struct store *s, char client_a[UUID_STR_LEN])
{
    store_set_commit_hook(s, on_commit, NULL);
    hook_calls = 0;
    int64_t h = head(s);
    json_t *c =
        insert(s, STORE_CLIENTS,
               P("{s:s, s:s, s:{s:i}}", "name", "Acme", "slug", "acme", "settings", "theme", 3));
    CHECK(c != NULL);
    CHECK_EQ_INT(hook_calls, 1);
    snprintf(client_a, UUID_STR_LEN, "%s", str(c, "id"));
    CHECK_EQ_INT(json_integer_value(json_object_get(c, "version")), 1);
    CHECK_EQ_STR(str(c, "status"), "active");
    CHECK(strlen(str(c, "created_at")) == 24);
    CHECK(json_is_object(json_object_get(c, "settings")));
    struct store_change *ch = one_change(s, h, "INSERT", STORE_CLIENTS);
    if (ch) {
        CHECK_EQ_STR(ch->client_id, client_a);
        CHECK_EQ_STR(ch->row_id, client_a);
        CHECK(json_equal(ch->record, c));
        CHECK_EQ_INT(
            json_integer_value(json_object_get(json_object_get(ch->record, "settings"), "theme")),
            3);
        store_changes_free(ch, 1);
    }
    h++;

    struct store_tx *tx = wtx(s);
    json_t *c2 = NULL;
    CHECK_EQ_INT(
        store_row_update(tx, STORE_CLIENTS, &ALL, client_a, P("{s:s}", "name", "Acme Inc"), 1, &c2),
        0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(c2, "version")), 2);
    CHECK_EQ_STR(str(c2, "name"), "Acme Inc");
    ch = one_change(s, h, "UPDATE", STORE_CLIENTS);
    if (ch) {
        CHECK(json_equal(ch->record, c2));
        CHECK(json_equal(ch->old_record, c));
        store_changes_free(ch, 1);
    }
    h++;
    json_decref(c);
    json_decref(c2);

    /* users: password_hash is stored but never leaves the store (except for login). */
    json_t *u =
        insert(s, STORE_USERS,
               P("{s:s, s:s, s:s, s:s, s:s}", "client_id", client_a, "email", "Alice@Acme.test",
                 "name", "Alice", "role", "admin", "password_hash", "secret-hash"));
    CHECK(u && !json_object_get(u, "password_hash"));
    CHECK(json_object_get(u, "last_login_at") && json_is_null(json_object_get(u, "last_login_at")));
    ch = one_change(s, h, "INSERT", STORE_USERS);
    if (ch) {
        CHECK_EQ_STR(ch->client_id, client_a);
        CHECK(!json_object_get(ch->record, "password_hash"));
        CHECK(json_equal(ch->record, u));
        store_changes_free(ch, 1);
    }
    h++;
    tx = rtx(s);
    json_t *got = NULL;
    CHECK_EQ_INT(store_row_get(tx, STORE_USERS, &ALL, str(u, "id"), &got), 0);
    CHECK(got && !json_object_get(got, "password_hash"));
    json_decref(got);
    CHECK_EQ_INT(store_user_auth_by_email(tx, "alice@ACME.test", &got), 0);
    CHECK_EQ_STR(str(got, "password_hash"), "secret-hash");
    json_decref(got);
    CHECK_EQ_INT(store_user_auth_by_email(tx, "nobody@acme.test", &got), SB_E_NOTFOUND);
    /* store_user_email: the e-mail as stored, in any tenant; cut to the buffer. */
    char email[256] = "x";
    CHECK_EQ_INT(store_user_email(tx, str(u, "id"), email, sizeof email), 0);
    CHECK_EQ_STR(email, "Alice@Acme.test");
    CHECK_EQ_INT(store_user_email(tx, str(u, "id"), email, 6), 0);
    CHECK_EQ_STR(email, "Alice");
    CHECK_EQ_INT(store_user_email(tx, "00000000-0000-4000-8000-000000000000", email, sizeof email),
                 SB_E_NOTFOUND);
    CHECK_EQ_STR(email, "");
    CHECK_EQ_INT(store_user_email(tx, NULL, email, sizeof email), SB_E_INVAL);
    store_tx_rollback(tx);
    CHECK_EQ_INT(hook_calls, 3);

    tx = wtx(s);
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &ALL, str(u, "id"),
                                  P("{s:s}", "password_hash", "new-hash"), 0, NULL),
                 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    ch = one_change(s, h, "UPDATE", STORE_USERS);
    if (ch) {
        CHECK(!json_object_get(ch->record, "password_hash"));
        CHECK(!json_object_get(ch->old_record, "password_hash"));
        CHECK_EQ_INT(json_integer_value(json_object_get(ch->record, "version")), 2);
        store_changes_free(ch, 1);
    }
    h++;

    /* Case-insensitive email uniqueness, slug uniqueness. */
    CHECK_EQ_INT(insert_rc(s, STORE_USERS,
                           P("{s:s, s:s, s:s, s:s}", "client_id", client_a, "email",
                             "alice@acme.TEST", "name", "Other", "role", "agent")),
                 SB_E_CONFLICT);
    CHECK_EQ_INT(insert_rc(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "X", "slug", "acme")),
                 SB_E_CONFLICT);
    CHECK_EQ_INT(head(s), h);

    /* agent_status */
    json_t *a = insert(s, STORE_AGENT_STATUS,
                       P("{s:s, s:s, s:s, s:s}", "client_id", client_a, "user_id", str(u, "id"),
                         "display_name", "Alice", "status", "online"));
    ch = one_change(s, h, "INSERT", STORE_AGENT_STATUS);
    if (ch) {
        CHECK_EQ_STR(ch->client_id, client_a);
        CHECK(json_equal(ch->record, a));
        store_changes_free(ch, 1);
    }
    h++;
    CHECK_EQ_INT(insert_rc(s, STORE_AGENT_STATUS,
                           P("{s:s, s:s, s:s}", "client_id", client_a, "user_id", str(u, "id"),
                             "display_name", "Dup")),
                 SB_E_CONFLICT);
    tx = wtx(s);
    CHECK_EQ_INT(store_row_update(tx, STORE_AGENT_STATUS, &ALL, str(a, "id"),
                                  P("{s:s, s:s}", "status", "busy", "reason", "call"), 1, NULL),
                 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    ch = one_change(s, h, "UPDATE", STORE_AGENT_STATUS);
    if (ch) {
        CHECK_EQ_STR(str(ch->record, "status"), "busy");
        CHECK_EQ_STR(str(ch->old_record, "status"), "online");
        store_changes_free(ch, 1);
    }
    h++;
    tx = wtx(s);
    json_t *old = NULL;
    CHECK_EQ_INT(store_row_delete(tx, STORE_AGENT_STATUS, &ALL, str(a, "id"), &old), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    CHECK_EQ_STR(str(old, "reason"), "call");
    ch = one_change(s, h, "DELETE", STORE_AGENT_STATUS);
    if (ch) {
        CHECK_EQ_STR(ch->client_id, client_a);
        CHECK_EQ_STR(ch->row_id, str(a, "id"));
        CHECK(json_equal(ch->old_record, old));
        store_changes_free(ch, 1);
    }
    h++;
    json_decref(old);
    json_decref(a);

    /* system_messages: a global one has a NULL client_id in the log too. */
    json_t *m = insert(s, STORE_MESSAGES,
                       P("{s:s, s:s, s:s, s:s}", "title", "Maintenance", "body", "tonight",
                         "priority", "high", "starts_at", "2026-01-01T10:00:00Z"));
    CHECK_EQ_STR(str(m, "starts_at"), "2026-01-01T10:00:00.000Z");
    ch = one_change(s, h, "INSERT", STORE_MESSAGES);
    if (ch) {
        CHECK(ch->client_id == NULL);
        CHECK(json_equal(ch->record, m));
        store_changes_free(ch, 1);
    }
    h++;
    tx = wtx(s);
    CHECK_EQ_INT(store_row_update(tx, STORE_MESSAGES, &ALL, str(m, "id"),
                                  P("{s:s}", "state", "expired"), 0, NULL),
                 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    store_changes_free(one_change(s, h, "UPDATE", STORE_MESSAGES), 1);
    h++;
    tx = wtx(s);
    CHECK_EQ_INT(store_row_delete(tx, STORE_MESSAGES, &ALL, str(m, "id"), NULL), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    store_changes_free(one_change(s, h, "DELETE", STORE_MESSAGES), 1);
    h++;
    json_decref(m);

    /* audit_logs: insert only. */
    tx = wtx(s);
    json_t *e = NULL;
    CHECK_EQ_INT(store_audit_append(tx,
                                    P("{s:s, s:s, s:s, s:s, s:{s:s}, s:s}", "client_id", client_a,
                                      "action", "user.update", "entity_type", "user", "entity_id",
                                      str(u, "id"), "after", "name", "Alice", "user_agent",
                                      "say \"hi\" \\ tab\t nl\n \x01 caf\xc3\xa9 \xe2\x9c\x93"),
                                    &e),
                 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    /* An append-only log's ids are time-ordered (version 7), so its id index grows at the end. */
    CHECK(str(e, "id") && strlen(str(e, "id")) == 36 && str(e, "id")[14] == '7');
    ch = one_change(s, h, "INSERT", STORE_AUDIT);
    if (ch) {
        CHECK_EQ_STR(ch->client_id, client_a);
        CHECK_EQ_STR(str(ch->record, "hash"), str(e, "hash"));
        CHECK(json_is_object(json_object_get(ch->record, "after")));
        /* The whole entry (SQLite builds it from the entry when the log is read). */
        CHECK_EQ_STR(str(ch->record, "id"), str(e, "id"));
        CHECK_EQ_STR(str(ch->record, "action"), "user.update");
        CHECK_EQ_STR(str(ch->record, "entity_id"), str(u, "id"));
        CHECK_EQ_STR(str(ch->record, "prev_hash"), str(e, "prev_hash"));
        CHECK_EQ_STR(str(json_object_get(ch->record, "after"), "name"), "Alice");
        CHECK(json_is_null(json_object_get(ch->record, "before")));
        CHECK_EQ_INT(json_integer_value(json_object_get(ch->record, "seq")),
                     json_integer_value(json_object_get(e, "seq")));
        CHECK(json_equal(ch->record, e)); /* every field, text with quotes and escapes too */
        store_changes_free(ch, 1);
    }
    h++;
    tx = wtx(s);
    CHECK_EQ_INT(
        store_row_update(tx, STORE_AUDIT, &ALL, str(e, "id"), P("{s:s}", "action", "x"), 0, NULL),
        SB_E_FORBIDDEN);
    CHECK_EQ_INT(store_row_delete(tx, STORE_AUDIT, &ALL, str(e, "id"), NULL), SB_E_FORBIDDEN);
    CHECK_EQ_INT(store_row_insert(tx, STORE_AUDIT, P("{s:s}", "action", "x"), NULL), SB_E_INVAL);
    store_tx_rollback(tx);
    json_decref(e);
    json_decref(u);

    /* A rolled-back write leaves no gap; a read transaction or a meta-only write does not
     * fire the commit hook. */
    int calls = hook_calls;
    tx = wtx(s);
    CHECK_EQ_INT(
        store_row_insert(tx, STORE_CLIENTS, P("{s:s, s:s}", "name", "Gone", "slug", "gone"), NULL),
        0);
    store_tx_rollback(tx);
    tx = wtx(s);
    CHECK_EQ_INT(store_meta_set(tx, "k", "v"), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    CHECK_EQ_INT(store_tx_commit(rtx(s)), 0);
    CHECK_EQ_INT(hook_calls, calls);
    json_decref(insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "Kept", "slug", "kept")));
    store_changes_free(one_change(s, h, "INSERT", STORE_CLIENTS), 1);
    h++;
    CHECK_EQ_INT(hook_calls, calls + 1);
    store_set_commit_hook(s, NULL, NULL);

    tx = rtx(s);
    int64_t th = 0;
    CHECK_EQ_INT(store_tx_head_seq(tx, &th), 0);
    CHECK_EQ_INT(th, h);
    store_tx_rollback(tx);
}

/* Every change from the start: seq 1, 2, 3, ... */
static void check_gap_free(struct store *s)
{
    struct store_change *ch = NULL;
    size_t n = 0;
    int64_t oldest = 0, h = 0;
    CHECK_EQ_INT(store_changes_bounds(s, &oldest, &h), 0);
    CHECK_EQ_INT(store_changes_read(s, 0, 100000, &ch, &n), 0);
    CHECK_EQ_INT(n, h - oldest + 1);
    bool ok = n > 0;
    for (size_t i = 0; i < n; i++) {
        ok = ok && ch[i].seq == oldest + (int64_t)i;
    }
    CHECK(ok);
    store_changes_free(ch, n);
}

static void test_validation(struct store *s, const char *client_a)
{
    CHECK_EQ_INT(
        insert_rc(s, STORE_CLIENTS, P("{s:s, s:s, s:s}", "name", "A", "slug", "a1", "nope", "x")),
        SB_E_INVAL);
    CHECK_EQ_INT(insert_rc(s, STORE_CLIENTS, P("{s:i, s:s}", "name", 5, "slug", "a2")), SB_E_INVAL);
    CHECK_EQ_INT(insert_rc(s, STORE_CLIENTS, P("{s:s}", "slug", "a3")), SB_E_INVAL);
    CHECK_EQ_INT(insert_rc(s, STORE_CLIENTS, P("{s:n, s:s}", "name", "slug", "a4")), SB_E_INVAL);
    CHECK_EQ_INT(insert_rc(s, STORE_USERS,
                           P("{s:s, s:s, s:s}", "client_id", "not-a-uuid", "email", "z@z.test",
                             "role", "agent")),
                 SB_E_INVAL);
    CHECK_EQ_INT(insert_rc(s, STORE_MESSAGES,
                           P("{s:s, s:s, s:s}", "client_id", client_a, "title", "t", "starts_at",
                             "yesterday")),
                 SB_E_INVAL);
    struct store_tx *tx = rtx(s);
    CHECK_EQ_INT(store_row_insert(tx, STORE_CLIENTS, P("{s:s}", "name", "r"), NULL), SB_E_INVAL);
    store_tx_rollback(tx);
}

static void test_version_and_scope(struct store *s, const char *client_a)
{
    json_t *b = insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "Globex", "slug", "globex"));
    const char *client_b = str(b, "id");
    json_t *ua = insert(s, STORE_USERS,
                        P("{s:s, s:s, s:s, s:s}", "client_id", client_a, "email", "bob@acme.test",
                          "name", "Bob", "role", "agent"));
    const char *id = str(ua, "id");

    /* Optimistic concurrency. */
    struct store_tx *tx = wtx(s);
    json_t *out = NULL;
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &ALL, id, P("{s:s}", "name", "Bobby"), 1, &out),
                 0);
    json_decref(out);
    out = NULL;
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &ALL, id, P("{s:s}", "name", "Rob"), 1, &out),
                 SB_E_VERSION);
    CHECK(out != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(out, "version")), 2);
    CHECK_EQ_STR(str(out, "name"), "Bobby");
    json_decref(out);
    /* The row an update returns is the row a read gives after it:
     * new values, version + 1, updated_at, no hidden column; without expected_version too. */
    out = NULL;
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &ALL, id, P("{s:s}", "name", "Bobby"), 0, &out),
                 0);
    json_t *read = NULL;
    CHECK_EQ_INT(store_row_get(tx, STORE_USERS, &ALL, id, &read), 0);
    CHECK(json_equal(out, read));
    CHECK_EQ_INT(json_integer_value(json_object_get(out, "version")), 3);
    CHECK_EQ_STR(str(out, "name"), "Bobby");
    CHECK(!json_object_get(out, "password_hash"));
    json_decref(read);
    json_decref(out);
    out = NULL;
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &ALL, "00000000-0000-4000-8000-000000000000",
                                  P("{s:s}", "name", "x"), 0, &out),
                 SB_E_NOTFOUND);
    CHECK(out == NULL);
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &ALL, "00000000-0000-4000-8000-000000000000",
                                  P("{s:s}", "name", "x"), 3, &out),
                 SB_E_NOTFOUND);
    CHECK(out == NULL);
    CHECK_EQ_INT(store_tx_commit(tx), 0);

    /* Another tenant's row is not found, for every operation. */
    struct store_scope sa = {.client_id = client_a}, sb = {.client_id = client_b};
    struct store_scope none = {0};
    tx = wtx(s);
    CHECK_EQ_INT(store_row_get(tx, STORE_USERS, &sa, id, &out), 0);
    json_decref(out);
    CHECK_EQ_INT(store_row_get(tx, STORE_USERS, &sb, id, &out), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_row_get(tx, STORE_USERS, &none, id, &out), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &sb, id, P("{s:s}", "name", "x"), 0, NULL),
                 SB_E_NOTFOUND);
    CHECK_EQ_INT(store_row_delete(tx, STORE_USERS, &sb, id, NULL), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_row_get(tx, STORE_CLIENTS, &sb, client_a, &out), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_row_get(tx, STORE_CLIENTS, &sa, client_a, &out), 0);
    json_decref(out);
    CHECK_EQ_INT(store_tx_commit(tx), 0);

    json_t *g = insert(s, STORE_MESSAGES, P("{s:s}", "title", "global"));
    json_t *mb =
        insert(s, STORE_MESSAGES, P("{s:s, s:s}", "client_id", client_b, "title", "for b"));
    tx = rtx(s);
    struct store_query q = {.scope = sb};
    json_t *rows = NULL;
    char *next = NULL;
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 0);
    json_decref(rows);
    q.scope = sa;
    CHECK_EQ_INT(store_row_list(tx, STORE_MESSAGES, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 0);
    json_decref(rows);
    q.scope = sb;
    q.scope.include_global = true;
    CHECK_EQ_INT(store_row_list(tx, STORE_MESSAGES, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 2);
    json_decref(rows);
    q.scope = none;
    q.scope.include_global = true;
    CHECK_EQ_INT(store_row_list(tx, STORE_MESSAGES, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 0);
    json_decref(rows);
    q.scope = ALL;
    CHECK_EQ_INT(store_row_list(tx, STORE_MESSAGES, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 2);
    CHECK(next == NULL);
    json_decref(rows);
    store_tx_rollback(tx);
    json_decref(g);
    json_decref(mb);
    json_decref(ua);
    json_decref(b);
}

/* Walk all pages of a sort with limit 2; ids must be the full list in order, each once. */
static void walk(struct store *s, enum store_table t, const struct store_scope *scope,
                 const char *sort, json_t *expect_ids)
{
    struct store_query q = {.scope = *scope, .sort = sort, .limit = 2};
    json_t *ids = json_array();
    char *cursor = NULL;
    for (int page = 0; page < 50; page++) {
        struct store_tx *tx = rtx(s);
        json_t *rows = NULL;
        char *next = NULL;
        q.cursor = cursor;
        int rc = store_row_list(tx, t, &q, &rows, &next);
        CHECK_EQ_INT(rc, 0);
        store_tx_rollback(tx);
        free(cursor);
        cursor = next;
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            json_array_append(ids, json_object_get(r, "id"));
        }
        CHECK(json_array_size(rows) <= 2);
        json_decref(rows);
        if (rc < 0 || !cursor) {
            break;
        }
    }
    CHECK(cursor == NULL);
    free(cursor);
    if (!json_equal(ids, expect_ids)) {
        char *a = json_dumps(ids, 0), *b = json_dumps(expect_ids, 0);
        fprintf(stderr, "sort %s: got %s want %s\n", sort, a, b);
        free(a);
        free(b);
    }
    CHECK(json_equal(ids, expect_ids));
    json_decref(ids);
}

/* The new row store_row_update_from gives (built from the row read before, where the backend
 * keeps values as written) is the row a read gives after it: JSON (nested, a real, escapes),
 * times, a hidden column left out, the version; with a stale row, with expected_version, and
 * with a projection that is not a whole row. */
static void update_from_is_read(struct store_tx *tx, enum store_table t, const char *id,
                                const json_t *cur, json_t *patch, int64_t expected, int want_rc)
{
    json_t *out = NULL;
    CHECK_EQ_INT(store_row_update_from(tx, t, &ALL, cur, patch, expected, &out), want_rc);
    json_t *read = NULL;
    CHECK_EQ_INT(store_row_get(tx, t, &ALL, id, &read), 0);
    CHECK(out && json_equal(out, read));
    if (out && read && !json_equal(out, read)) {
        char *a = json_dumps(out, JSON_SORT_KEYS), *b = json_dumps(read, JSON_SORT_KEYS);
        fprintf(stderr, "update_from: %s\n   read: %s\n", a, b);
        free(a);
        free(b);
    }
    json_decref(out);
    json_decref(read);
}

static void test_update_from(struct store *s, const char *client_a)
{
    json_t *c = insert(s, STORE_CLIENTS,
                       P("{s:s, s:s, s:{s:i, s:[s, f]}}", "name", "Initech", "slug", "initech",
                         "settings", "z", 1, "a", "x", 2.5));
    const char *cid = str(c, "id");
    struct store_tx *tx = wtx(s);
    json_t *cur = NULL;
    CHECK_EQ_INT(store_row_get(tx, STORE_CLIENTS, &ALL, cid, &cur), 0);
    int64_t v = json_integer_value(json_object_get(cur, "version"));
    update_from_is_read(tx, STORE_CLIENTS, cid, cur,
                        P("{s:s, s:{s:[i, s, n], s:f, s:{s:b}}}", "name", "Ini\"tech\n\u00e9",
                          "settings", "b", 1, "two\t", "c", 0.5, "m", "on", true),
                        0, 0);
    /* cur is stale now (version v, the row v + 1): the update still applies (no
     * expected_version), and its result is the row's. */
    update_from_is_read(tx, STORE_CLIENTS, cid, cur, P("{s:s}", "status", "suspended"), 0, 0);
    json_t *now = NULL;
    CHECK_EQ_INT(store_row_get(tx, STORE_CLIENTS, &ALL, cid, &now), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(now, "version")), v + 2);
    /* expected_version not the row's: SB_E_VERSION with the current row. */
    update_from_is_read(tx, STORE_CLIENTS, cid, now, P("{s:s}", "name", "Late"), v, SB_E_VERSION);
    /* expected_version the row's, and a row that is not whole (a projection). */
    update_from_is_read(tx, STORE_CLIENTS, cid, now, P("{s:s}", "name", "On time"), v + 2, 0);
    json_t *part = P("{s:s, s:I}", "id", cid, "version", (json_int_t)(v + 3));
    update_from_is_read(tx, STORE_CLIENTS, cid, part, P("{s:s}", "name", "Part"), 0, 0);
    json_decref(now);
    json_decref(cur);
    CHECK_EQ_INT(store_tx_commit(tx), 0);

    /* users: a hidden column (password_hash) never appears. */
    json_t *u = insert(s, STORE_USERS,
                       P("{s:s, s:s, s:s, s:s, s:s}", "client_id", client_a, "email",
                         "upd@acme.test", "name", "Upd", "role", "agent", "password_hash", "h"));
    tx = wtx(s);
    CHECK_EQ_INT(store_row_get(tx, STORE_USERS, &ALL, str(u, "id"), &cur), 0);
    update_from_is_read(
        tx, STORE_USERS, str(u, "id"), cur,
        P("{s:s, s:s}", "name", "Updated", "last_login_at", "2026-12-05T07:00:00.5+01:00"), 0, 0);
    json_decref(cur);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    json_decref(c);
    json_decref(u);
}

static void test_list(struct store *s)
{
    json_t *c = insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "Paging", "slug", "paging"));
    const char *cid = str(c, "id");
    struct store_scope sc = {.client_id = cid};
    /* names and login times chosen so that the orders differ; two logins are NULL. */
    static const char *names[] = {"delta", "alpha", "echo", "charlie", "bravo"};
    static const char *logins[] = {"2026-01-03T00:00:00.000Z", NULL, "2026-01-01T00:00:00.000Z",
                                   NULL, "2026-01-02T00:00:00.000Z"};
    static const char *roles[] = {"agent", "agent", "viewer", "admin", "agent"};
    char ids[5][UUID_STR_LEN];
    for (int i = 0; i < 5; i++) {
        char email[64];
        snprintf(email, sizeof(email), "%s_x@paging.test", names[i]);
        json_t *row = P("{s:s, s:s, s:s, s:s}", "client_id", cid, "email", email, "name", names[i],
                        "role", roles[i]);
        if (logins[i]) {
            json_object_set_new(row, "last_login_at", json_string(logins[i]));
        }
        json_t *u = insert(s, STORE_USERS, row);
        snprintf(ids[i], UUID_STR_LEN, "%s", str(u, "id"));
        json_decref(u);
    }
    int by_name[] = {1, 4, 3, 0, 2};
    json_t *asc = json_array(), *desc = json_array();
    for (int i = 0; i < 5; i++) {
        json_array_append_new(asc, json_string(ids[by_name[i]]));
        json_array_append_new(desc, json_string(ids[by_name[4 - i]]));
    }
    walk(s, STORE_USERS, &sc, "name", asc);
    walk(s, STORE_USERS, &sc, "-name", desc);
    json_decref(asc);
    json_decref(desc);

    /* A nullable sort column: NULLs first ascending (by id), last descending. */
    int nulls[2] = {1, 3};
    if (strcmp(ids[1], ids[3]) > 0) {
        nulls[0] = 3;
        nulls[1] = 1;
    }
    int by_login[] = {nulls[0], nulls[1], 2, 4, 0};
    asc = json_array();
    desc = json_array();
    for (int i = 0; i < 5; i++) {
        json_array_append_new(asc, json_string(ids[by_login[i]]));
        json_array_append_new(desc, json_string(ids[by_login[4 - i]]));
    }
    walk(s, STORE_USERS, &sc, "last_login_at", asc);
    walk(s, STORE_USERS, &sc, "-last_login_at", desc);
    json_decref(asc);
    json_decref(desc);

    /* Default sort (created_at, ties by id) also walks everything exactly once. */
    struct store_tx *tx = rtx(s);
    struct store_query q = {.scope = sc, .limit = 500};
    json_t *rows = NULL;
    char *next = NULL;
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 5);
    json_t *all_ids = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        json_array_append(all_ids, json_object_get(r, "id"));
    }
    json_decref(rows);
    store_tx_rollback(tx);
    walk(s, STORE_USERS, &sc, NULL, all_ids);
    json_decref(all_ids);

    tx = rtx(s);
    /* Bad sorts and cursors. */
    q.sort = "password_hash";
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), SB_E_INVAL);
    q.sort = "nope";
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), SB_E_INVAL);
    q.sort = "name";
    q.cursor = "!!!garbage";
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), SB_E_INVAL);
    q.cursor = "WzEsMl0"; /* [1,2] */
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), SB_E_INVAL);
    q.limit = 2;
    q.cursor = NULL;
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    json_decref(rows);
    CHECK(next != NULL);
    q.sort = "email";
    q.cursor = next;
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), SB_E_INVAL);
    free((char *)q.cursor);
    q.cursor = NULL;
    q.limit = STORE_MAX_LIMIT + 1;
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), SB_E_INVAL);
    q.limit = 0;
    q.sort = NULL;

    /* q search: case-insensitive substring, % and _ are literal. */
    q.q = "ALPH";
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 1);
    CHECK_EQ_STR(str(json_array_get(rows, 0), "name"), "alpha");
    json_decref(rows);
    q.q = "_X@PAGING";
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 5);
    json_decref(rows);
    q.q = "%";
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 0);
    json_decref(rows);
    q.q = "a_p";
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 0);
    json_decref(rows);
    q.q = NULL;

    /* Filters. */
    q.nfilters = 1;
    q.filters[0] = (struct store_filter){"role", STORE_EQ, json_string("agent")};
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 3);
    json_decref(rows);
    json_decref(q.filters[0].value);
    q.filters[0] = (struct store_filter){"role", STORE_IN, json_pack("[ss]", "admin", "viewer")};
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 2);
    json_decref(rows);
    json_decref(q.filters[0].value);
    q.filters[0] = (struct store_filter){"last_login_at", STORE_IS_NULL, NULL};
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 2);
    json_decref(rows);
    q.filters[0] =
        (struct store_filter){"last_login_at", STORE_GTE, json_string("2026-01-02T00:00:00Z")};
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), 0);
    CHECK_EQ_INT(json_array_size(rows), 2);
    json_decref(rows);
    json_decref(q.filters[0].value);
    q.filters[0] = (struct store_filter){"password_hash", STORE_IS_NULL, NULL};
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), SB_E_INVAL);
    q.filters[0] = (struct store_filter){"bogus", STORE_EQ, json_string("x")};
    CHECK_EQ_INT(store_row_list(tx, STORE_USERS, &q, &rows, &next), SB_E_INVAL);
    json_decref(q.filters[0].value);
    q.nfilters = 0;

    /* Counts. */
    json_t *cnt = NULL;
    CHECK_EQ_INT(store_row_count(tx, STORE_USERS, &q, "role", &cnt), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(cnt, "agent")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(cnt, "viewer")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(cnt, "admin")), 1);
    CHECK_EQ_INT(json_object_size(cnt), 3);
    json_decref(cnt);
    CHECK_EQ_INT(store_row_count(tx, STORE_USERS, &q, NULL, &cnt), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(cnt, "total")), 5);
    json_decref(cnt);
    /* A capped count stops one row past count_max (the caller tells "more than" from it);
     * with enough room it is exact; grouped counts are never capped. */
    static const size_t caps[][2] = {{1, 2}, {3, 4}, {4, 5}, {5, 5}, {100, 5}};
    for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        q.count_max = caps[k][0];
        CHECK_EQ_INT(store_row_count(tx, STORE_USERS, &q, NULL, &cnt), 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(cnt, "total")), (int)caps[k][1]);
        json_decref(cnt);
    }
    q.count_max = 1;
    q.nfilters = 1;
    q.filters[0] = (struct store_filter){"role", STORE_EQ, json_string("agent")};
    CHECK_EQ_INT(store_row_count(tx, STORE_USERS, &q, NULL, &cnt), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(cnt, "total")), 2);
    json_decref(cnt);
    json_decref(q.filters[0].value);
    q.nfilters = 0;
    CHECK_EQ_INT(store_row_count(tx, STORE_USERS, &q, "role", &cnt), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(cnt, "agent")), 3);
    json_decref(cnt);
    q.count_max = 0;
    CHECK_EQ_INT(store_row_count(tx, STORE_USERS, &q, "password_hash", &cnt), SB_E_INVAL);
    store_tx_rollback(tx);
    json_decref(c);
}

/* Unlogged history rows, foreign keys, and cascading deletes that are logged row by row. */
static void test_history_cascade(struct store *s)
{
    json_t *c = insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "Cascade", "slug", "cascade"));
    const char *cid = str(c, "id");
    json_t *u =
        insert(s, STORE_USERS,
               P("{s:s, s:s, s:s}", "client_id", cid, "email", "c@cascade.test", "role", "agent"));
    json_t *a = insert(
        s, STORE_AGENT_STATUS,
        P("{s:s, s:s, s:s}", "client_id", cid, "user_id", str(u, "id"), "display_name", "C"));
    char missing[UUID_STR_LEN];
    new_id(missing);
    CHECK_EQ_INT(insert_rc(s, STORE_USERS,
                           P("{s:s, s:s, s:s}", "client_id", missing, "email", "fk@cascade.test",
                             "role", "agent")),
                 SB_E_INVAL);
    CHECK_EQ_INT(
        insert_rc(s, STORE_USERS, P("{s:s, s:s}", "email", "nc@cascade.test", "role", "agent")),
        SB_E_INVAL); /* only a super_admin has no client */
    CHECK_EQ_INT(insert_rc(s, STORE_USERS,
                           P("{s:s, s:s, s:s}", "client_id", cid, "email", "r@cascade.test", "role",
                             "emperor")),
                 SB_E_INVAL);
    int64_t h = head(s);
    json_t *hist = insert(s, STORE_AGENT_HISTORY,
                          P("{s:s, s:s, s:s, s:s}", "agent_id", str(a, "id"), "client_id", cid,
                            "status", "online", "started_at", "2026-01-01T00:00:00Z"));
    CHECK(hist != NULL);
    CHECK(json_is_null(json_object_get(hist, "ended_at")));
    struct store_tx *tx = wtx(s);
    json_t *out = NULL;
    CHECK_EQ_INT(store_row_update(tx, STORE_AGENT_HISTORY, &ALL, str(hist, "id"),
                                  P("{s:s}", "ended_at", "2026-01-01T01:00:00Z"), 1, &out),
                 SB_E_INVAL);
    CHECK_EQ_INT(store_row_update(tx, STORE_AGENT_HISTORY, &ALL, str(hist, "id"),
                                  P("{s:s}", "ended_at", "2026-01-01T01:00:00Z"), 0, &out),
                 0);
    CHECK_EQ_STR(str(out, "ended_at"), "2026-01-01T01:00:00.000Z");
    CHECK(!json_object_get(out, "version"));
    json_decref(out);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    CHECK_EQ_INT(head(s), h); /* history is not in the change log */

    /* store_agent_history_close: only the agent's open interval; a new reason, then an end. */
    json_t *open =
        insert(s, STORE_AGENT_HISTORY,
               P("{s:s, s:s, s:s, s:s, s:s}", "agent_id", str(a, "id"), "client_id", cid, "status",
                 "busy", "reason", "lunch", "started_at", "2026-01-01T01:00:00Z"));
    tx = wtx(s);
    json_t *why = json_string("meeting");
    CHECK_EQ_INT(store_agent_history_close(tx, str(a, "id"), NULL, why), 1);
    json_decref(why);
    CHECK_EQ_INT(store_agent_history_close(tx, str(a, "id"), "2026-01-01T02:00:00+01:00", NULL), 1);
    CHECK_EQ_INT(store_agent_history_close(tx, str(a, "id"), "2026-01-01T03:00:00Z", NULL), 0);
    CHECK_EQ_INT(store_agent_history_close(tx, str(a, "id"), "yesterday", NULL), SB_E_INVAL);
    CHECK_EQ_INT(store_agent_history_close(tx, "not-a-uuid", "2026-01-01T03:00:00Z", NULL),
                 SB_E_INVAL);
    json_t *num = json_integer(3);
    CHECK_EQ_INT(store_agent_history_close(tx, str(a, "id"), NULL, num), SB_E_INVAL);
    json_decref(num);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    tx = rtx(s);
    CHECK_EQ_INT(store_row_get(tx, STORE_AGENT_HISTORY, &ALL, str(open, "id"), &out), 0);
    CHECK_EQ_STR(str(out, "reason"), "meeting");
    CHECK_EQ_STR(str(out, "ended_at"), "2026-01-01T01:00:00.000Z"); /* stored normalised */
    json_decref(out);
    CHECK_EQ_INT(store_row_get(tx, STORE_AGENT_HISTORY, &ALL, str(hist, "id"), &out), 0);
    CHECK_EQ_STR(str(out, "ended_at"), "2026-01-01T01:00:00.000Z"); /* was closed: untouched */
    CHECK(json_is_null(json_object_get(out, "reason")));
    json_decref(out);
    store_tx_rollback(tx);
    json_decref(open);
    tx = rtx(s);
    CHECK_EQ_INT(store_agent_history_close(tx, str(a, "id"), "2026-01-01T03:00:00Z", NULL),
                 SB_E_INVAL); /* a read transaction */
    store_tx_rollback(tx);
    CHECK_EQ_INT(head(s), h);
    CHECK_EQ_INT(
        insert_rc(s, STORE_AGENT_HISTORY,
                  P("{s:s, s:s, s:s}", "agent_id", missing, "client_id", cid, "status", "online")),
        SB_E_INVAL);

    tx = wtx(s);
    CHECK_EQ_INT(store_row_delete(tx, STORE_CLIENTS, &ALL, cid, NULL), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    struct store_change *ch = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_changes_read(s, h, 10, &ch, &n), 0);
    CHECK_EQ_INT(n, 3); /* agent_status, users, clients */
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_STR(ch[i].op, "DELETE");
        CHECK_EQ_STR(ch[i].client_id, cid);
        seen |= 1 << ch[i].table;
    }
    CHECK_EQ_INT(seen, (1 << STORE_CLIENTS) | (1 << STORE_USERS) | (1 << STORE_AGENT_STATUS));
    store_changes_free(ch, n);
    tx = rtx(s);
    CHECK_EQ_INT(store_row_get(tx, STORE_AGENT_HISTORY, &ALL, str(hist, "id"), &out),
                 SB_E_NOTFOUND);
    store_tx_rollback(tx);
    json_decref(hist);
    json_decref(a);
    json_decref(u);
    json_decref(c);
}

/* store_agent_intervals' callback: each interval as "agent status start end" in a JSON array
 * (end -1 while open); with stop_after > 0 it stops the walk (returning 7) after that many. */
struct got {
    json_t *list;
    int stop_after;
};

static int got_interval(void *arg, const struct store_interval *iv)
{
    struct got *g = arg;
    char line[160];
    snprintf(line, sizeof line, "%s %s %lld %lld", iv->agent_id, iv->status,
             (long long)iv->start_ms, (long long)iv->end_ms);
    json_array_append_new(g->list, json_string(line));
    return g->stop_after > 0 && (int)json_array_size(g->list) >= g->stop_after ? 7 : 0;
}

/* The intervals of agent in g, in start order, as "status start end" joined by ';'. */
static const char *got_of(struct got *g, const char *agent)
{
    static char out[512];
    out[0] = '\0';
    json_t *mine = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(g->list, i, v)
    {
        const char *line = json_string_value(v);
        if (strncmp(line, agent, strlen(agent)) == 0) {
            json_array_append_new(mine, json_string(line + strlen(agent) + 1));
        }
    }
    for (size_t k = 0; k < json_array_size(mine); k++) { /* few: sort by start, simply */
        for (size_t j = k + 1; j < json_array_size(mine); j++) {
            long long a = atoll(strchr(json_string_value(json_array_get(mine, k)), ' ') + 1);
            long long b = atoll(strchr(json_string_value(json_array_get(mine, j)), ' ') + 1);
            if (b < a) {
                json_t *t = json_incref(json_array_get(mine, k));
                json_array_set(mine, k, json_array_get(mine, j));
                json_array_set_new(mine, j, t);
            }
        }
    }
    json_array_foreach(mine, i, v)
    {
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? ";" : "",
                 json_string_value(v));
    }
    json_decref(mine);
    return out;
}

static int walk_intervals(struct store *s, const struct store_scope *scope, const char *client,
                          const char *from, const char *to, size_t max, struct got *g)
{
    json_array_clear(g->list);
    struct store_tx *tx = rtx(s);
    int rc = store_agent_intervals(tx, scope, client, from, to, max, got_interval, g);
    store_tx_rollback(tx);
    return rc;
}

/* store_agent_intervals past one statement's page (20,000 rows): 20,005 intervals of one
 * agent, the last seven starting at the same time across the page's end, each once. */
struct sums {
    long long n, start, end;
};

static int sum_interval(void *arg, const struct store_interval *iv)
{
    struct sums *m = arg;
    m->n++;
    m->start += iv->start_ms;
    m->end += iv->end_ms;
    return 0;
}

static void test_history_pages(struct store *s, const char *client, const char *agent)
{
    const long long T = 1735689600000LL; /* 2025-01-01T00:00Z */
    struct sums want = {0, 0, 0};
    struct store_tx *tx = wtx(s);
    for (int i = 0; i < 20005; i++) {
        long long start = T + (i < 19998 ? i : 19998) * 1000LL, end = start + 1000 + i;
        char a[CLOCK_RFC3339_LEN], b[CLOCK_RFC3339_LEN];
        clock_format_ms(start, a);
        clock_format_ms(end, b);
        json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s}", "agent_id", agent, "client_id", client,
                                "status", "online", "started_at", a, "ended_at", b);
        CHECK_EQ_INT(store_row_insert(tx, STORE_AGENT_HISTORY, row, NULL), 0);
        json_decref(row);
        want.n++;
        want.start += start;
        want.end += end;
    }
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    struct sums got = {0, 0, 0};
    tx = rtx(s);
    CHECK_EQ_INT(store_agent_intervals(tx, &ALL, client, "2025-01-01T00:00:00Z",
                                       "2025-01-02T00:00:00Z", 100000, sum_interval, &got),
                 0);
    store_tx_rollback(tx);
    CHECK_EQ_INT(got.n, want.n);
    CHECK_EQ_INT(got.start, want.start);
    CHECK_EQ_INT(got.end, want.end);
}

/* store_agent_intervals: the intervals overlapping a window, per client and within scope. */
static void test_history_intervals(struct store *s)
{
    json_t *c1 = insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "Window 1", "slug", "window-1"));
    json_t *c2 = insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "Window 2", "slug", "window-2"));
    json_t *ag[3], *us[3];
    const char *cl[3] = {str(c1, "id"), str(c1, "id"), str(c2, "id")};
    for (int i = 0; i < 3; i++) {
        char email[64];
        snprintf(email, sizeof email, "w%d@window.test", i);
        us[i] = insert(s, STORE_USERS,
                       P("{s:s, s:s, s:s}", "client_id", cl[i], "email", email, "role", "agent"));
        ag[i] = insert(s, STORE_AGENT_STATUS,
                       P("{s:s, s:s, s:s}", "client_id", cl[i], "user_id", str(us[i], "id"),
                         "display_name", email));
    }
    const char *a0 = str(ag[0], "id"), *a1 = str(ag[1], "id"), *a2 = str(ag[2], "id");
    /* Agent 0: three closed hours from 2026-01-01T00:00Z and an open one; agent 1: open
     * since 2025; agent 2 (the other client): 00:30 to 00:45. */
    static const char *const t0[] = {"2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z",
                                     "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"};
    static const char *const s0[] = {"online", "busy", "away", "online"};
    for (int i = 0; i < 4; i++) {
        json_t *row = P("{s:s, s:s, s:s, s:s}", "agent_id", a0, "client_id", cl[0], "status", s0[i],
                        "started_at", t0[i]);
        if (i < 3) {
            json_object_set_new(row, "ended_at", json_string(t0[i + 1]));
        }
        json_decref(insert(s, STORE_AGENT_HISTORY, row));
    }
    json_decref(insert(s, STORE_AGENT_HISTORY,
                       P("{s:s, s:s, s:s, s:s}", "agent_id", a1, "client_id", cl[1], "status",
                         "busy", "started_at", "2025-06-01T00:00:00Z")));
    /* Set twice in that millisecond: an interval that ended as it began, tied with the open
     * one (and with the larger id): the open one is the agent's interval at any later time. */
    json_decref(
        insert(s, STORE_AGENT_HISTORY,
               P("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", "ffffffff-ffff-7fff-bfff-ffffffffffff",
                 "agent_id", a1, "client_id", cl[1], "status", "away", "started_at",
                 "2025-06-01T00:00:00Z", "ended_at", "2025-06-01T00:00:00Z")));
    json_decref(
        insert(s, STORE_AGENT_HISTORY,
               P("{s:s, s:s, s:s, s:s, s:s}", "agent_id", a2, "client_id", cl[2], "status", "away",
                 "started_at", "2026-01-01T00:30:00Z", "ended_at", "2026-01-01T00:45:00Z")));
    const long long T = 1767225600000LL, H = 3600000; /* 2026-01-01T00:00Z */
    char want[256];
    struct got g = {json_array(), 0};
    /* An interval ending at from does not overlap; one starting at from does, once. */
    CHECK_EQ_INT(
        walk_intervals(s, &ALL, cl[0], "2026-01-01T02:00:00Z", "2026-01-01T02:30:00Z", 100, &g), 0);
    CHECK_EQ_INT(json_array_size(g.list), 2);
    snprintf(want, sizeof want, "away %lld %lld", T + 2 * H, T + 3 * H);
    CHECK_EQ_STR(got_of(&g, a0), want);
    snprintf(want, sizeof want, "busy %lld -1", 1748736000000LL);
    CHECK_EQ_STR(got_of(&g, a1), want);
    /* Offset times name instants; the straddling interval, then those begun inside. */
    CHECK_EQ_INT(walk_intervals(s, &ALL, cl[0], "2026-01-01T03:30:00+02:00", "2026-01-01T03:00:00Z",
                                100, &g),
                 0);
    snprintf(want, sizeof want, "busy %lld %lld;away %lld %lld;online %lld -1", T + H, T + 2 * H,
             T + 2 * H, T + 3 * H, T + 3 * H);
    CHECK_EQ_STR(got_of(&g, a0), want);
    CHECK_EQ_INT(
        walk_intervals(s, &ALL, cl[0], "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z", 100, &g), 0);
    CHECK_EQ_INT(json_array_size(g.list), 0);
    /* Every client; a tenant's scope keeps its own agents, whatever client is asked for. */
    CHECK_EQ_INT(
        walk_intervals(s, &ALL, NULL, "2026-01-01T00:40:00Z", "2026-01-01T00:50:00Z", 100, &g), 0);
    snprintf(want, sizeof want, "online %lld %lld", T, T + H);
    CHECK_EQ_STR(got_of(&g, a0), want);
    CHECK(strncmp(got_of(&g, a1), "busy ", 5) == 0);
    snprintf(want, sizeof want, "away %lld %lld", T + H / 2, T + H * 3 / 4);
    CHECK_EQ_STR(got_of(&g, a2), want);
    struct store_scope own = {.client_id = cl[2]};
    CHECK_EQ_INT(
        walk_intervals(s, &own, NULL, "2026-01-01T00:40:00Z", "2026-01-01T00:50:00Z", 100, &g), 0);
    CHECK_EQ_INT(json_array_size(g.list), 1);
    CHECK_EQ_STR(got_of(&g, a2), want);
    CHECK_EQ_INT(
        walk_intervals(s, &own, cl[0], "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 100, &g), 0);
    CHECK_EQ_INT(json_array_size(g.list), 0);
    /* Bounded, and stopped by the callback. */
    CHECK_EQ_INT(
        walk_intervals(s, &ALL, cl[0], "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 3, &g),
        SB_E_TOOBIG);
    CHECK_EQ_INT(
        walk_intervals(s, &ALL, cl[0], "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 5, &g), 0);
    CHECK_EQ_INT(json_array_size(g.list), 5);
    g.stop_after = 2;
    CHECK_EQ_INT(
        walk_intervals(s, &ALL, cl[0], "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 100, &g), 7);
    CHECK_EQ_INT(json_array_size(g.list), 2);
    g.stop_after = 0;
    test_history_pages(s, cl[2], a2);
    CHECK_EQ_INT(walk_intervals(s, &ALL, "not-a-uuid", "2026-01-01T00:00:00Z",
                                "2026-01-02T00:00:00Z", 9, &g),
                 SB_E_INVAL);
    CHECK_EQ_INT(walk_intervals(s, &ALL, NULL, "yesterday", "2026-01-02T00:00:00Z", 9, &g),
                 SB_E_INVAL);
    CHECK_EQ_INT(walk_intervals(s, &ALL, NULL, "2026-01-01T00:00:00Z", NULL, 9, &g), SB_E_INVAL);
    json_decref(g.list);
    /* Retention: closed intervals that ended before the time go, at most max a call; open ones
     * (agent 1 since 2025) and one still running at the time (agent 0's 01:00-02:00) stay. */
    struct store_tx *tx = rtx(s);
    CHECK_EQ_INT(store_agent_history_prune(tx, T + H * 3 / 2, 10), SB_E_INVAL); /* read tx */
    store_tx_rollback(tx);
    tx = wtx(s);
    CHECK_EQ_INT(store_agent_history_prune(tx, T + H * 3 / 2, 0), SB_E_INVAL);
    CHECK_EQ_INT(store_agent_history_prune(tx, T + H * 3 / 2, 2), 2);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    tx = wtx(s);
    /* agent 0's first hour, agent 1's zero-length interval, agent 2's 00:30-00:45 and the
     * 20,005 of test_history_pages, less the two already gone */
    CHECK_EQ_INT(store_agent_history_prune(tx, T + H * 3 / 2, 100000), 20006);
    CHECK_EQ_INT(store_agent_history_prune(tx, T + H * 3 / 2, 100000), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    const char *const kept_of[3] = {a0, a1, a2};
    const int kept[3] = {3, 1, 0};
    tx = rtx(s);
    for (int i = 0; i < 3; i++) {
        struct store_query hq = {.scope = ALL, .nfilters = 1};
        hq.filters[0] = (struct store_filter){"agent_id", STORE_EQ, json_string(kept_of[i])};
        json_t *n = NULL;
        CHECK_EQ_INT(store_row_count(tx, STORE_AGENT_HISTORY, &hq, NULL, &n), 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(n, "total")), kept[i]);
        json_decref(n);
        json_decref(hq.filters[0].value);
    }
    store_tx_rollback(tx);
    tx = wtx(s);
    CHECK_EQ_INT(store_row_delete(tx, STORE_CLIENTS, &ALL, cl[0], NULL), 0);
    CHECK_EQ_INT(store_row_delete(tx, STORE_CLIENTS, &ALL, cl[2], NULL), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    for (int i = 0; i < 3; i++) {
        json_decref(ag[i]);
        json_decref(us[i]);
    }
    json_decref(c1);
    json_decref(c2);
}

static void test_meta_refresh(struct store *s, const char *client_a)
{
    struct store_tx *tx = wtx(s);
    char *v = NULL;
    CHECK_EQ_INT(store_meta_get(tx, "jwt_secret", &v), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_meta_set(tx, "jwt_secret", "one"), 0);
    CHECK_EQ_INT(store_meta_set(tx, "jwt_secret", "two"), 0);
    CHECK_EQ_INT(store_meta_get(tx, "jwt_secret", &v), 0);
    CHECK_EQ_STR(v, "two");
    free(v);
    json_t *u = NULL;
    CHECK_EQ_INT(store_row_insert(tx, STORE_USERS,
                                  P("{s:s, s:s, s:s}", "client_id", client_a, "email",
                                    "tok@acme.test", "role", "agent"),
                                  &u),
                 0);
    char fam[UUID_STR_LEN], fam2[UUID_STR_LEN];
    new_id(fam);
    new_id(fam2);
    const char *uid = str(u, "id");
    CHECK_EQ_INT(store_refresh_insert(tx, uid, fam, "hash-1", 4102444800000LL), 0);
    CHECK_EQ_INT(store_refresh_insert(tx, uid, fam, "hash-2", 4102444800000LL), 0);
    CHECK_EQ_INT(store_refresh_insert(tx, uid, fam2, "hash-3", 4102444800000LL), 0);
    CHECK_EQ_INT(store_refresh_insert(tx, uid, fam2, "hash-3", 4102444800000LL), SB_E_CONFLICT);
    struct store_refresh r;
    CHECK_EQ_INT(store_refresh_find(tx, "hash-1", &r), 0);
    CHECK_EQ_STR(r.user_id, uid);
    CHECK_EQ_STR(r.family_id, fam);
    CHECK_EQ_INT(r.expires_at_ms, 4102444800000LL);
    CHECK_EQ_INT(r.used_at_ms, 0);
    CHECK_EQ_INT(r.revoked_at_ms, 0);
    CHECK_EQ_INT(store_refresh_find(tx, "hash-x", &r), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_refresh_find(tx, "hash-1", &r), 0);
    CHECK_EQ_INT(store_refresh_mark_used(tx, r.id), 0);
    CHECK_EQ_INT(store_refresh_mark_used(tx, r.id), SB_E_CONFLICT);
    CHECK_EQ_INT(store_refresh_find(tx, "hash-1", &r), 0);
    CHECK(r.used_at_ms > 0);
    CHECK_EQ_INT(store_refresh_revoke_family(tx, fam), 2);
    CHECK_EQ_INT(store_refresh_revoke_family(tx, fam), 0);
    CHECK_EQ_INT(store_refresh_find(tx, "hash-2", &r), 0);
    CHECK(r.revoked_at_ms > 0);
    CHECK_EQ_INT(store_refresh_find(tx, "hash-3", &r), 0);
    CHECK_EQ_INT(r.revoked_at_ms, 0);
    CHECK_EQ_INT(store_refresh_find(tx, "hash-2", &r), 0);
    int64_t fam_revoked_ms = r.revoked_at_ms;
    CHECK_EQ_INT(store_refresh_revoke_user(tx, uid), 1);
    /* Revoked sessions since a time: each family once; none after the newest revocation. */
    json_t *fams = NULL;
    CHECK_EQ_INT(store_refresh_revoked_since(tx, fam_revoked_ms - 60000, &fams), 0);
    CHECK_EQ_INT((int64_t)json_array_size(fams), 2);
    bool seen1 = false, seen2 = false;
    for (size_t i = 0; i < json_array_size(fams); i++) {
        const char *f = json_string_value(json_array_get(fams, i));
        seen1 = seen1 || (f && !strcmp(f, fam));
        seen2 = seen2 || (f && !strcmp(f, fam2));
    }
    CHECK(seen1 && seen2);
    json_decref(fams);
    CHECK_EQ_INT(store_refresh_revoked_since(tx, 4102444800000LL, &fams), 0);
    CHECK_EQ_INT((int64_t)json_array_size(fams), 0);
    json_decref(fams);
    /* Pruning: only tokens expired before the time, the oldest first, at most max a call. */
    const int64_t T = 1767225600000LL; /* 2026-01-01T00:00Z */
    CHECK_EQ_INT(store_refresh_insert(tx, uid, fam, "old-3", T - 1000), 0);
    CHECK_EQ_INT(store_refresh_insert(tx, uid, fam, "old-1", T - 3000), 0);
    CHECK_EQ_INT(store_refresh_insert(tx, uid, fam, "old-2", T - 2000), 0);
    CHECK_EQ_INT(store_refresh_insert(tx, uid, fam, "at-t", T), 0);
    CHECK_EQ_INT(store_refresh_prune(tx, T, 2), 2);
    CHECK_EQ_INT(store_refresh_find(tx, "old-1", &r), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_refresh_find(tx, "old-2", &r), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_refresh_find(tx, "old-3", &r), 0);
    CHECK_EQ_INT(store_refresh_prune(tx, T, 2), 1);
    CHECK_EQ_INT(store_refresh_prune(tx, T, 2), 0);
    CHECK_EQ_INT(store_refresh_find(tx, "at-t", &r), 0); /* not before T */
    CHECK_EQ_INT(store_refresh_find(tx, "hash-1", &r), 0);
    CHECK_EQ_INT(store_refresh_prune(tx, T, 0), SB_E_INVAL);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    tx = rtx(s);
    CHECK_EQ_INT(store_refresh_prune(tx, T, 5), SB_E_INVAL); /* a read transaction */
    store_tx_rollback(tx);
    json_decref(u);
}

/* Login-limit events: counted in a window, bounded per key, expired, cleared. */
static void test_events(struct store *s)
{
    unsigned n = 9;
    int64_t oldest = -1, newest = -1;
    CHECK_EQ_INT(store_events_count(s, "k1", 0, &n, &oldest, &newest), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(oldest, 0);
    for (int64_t t = 1000; t <= 5000; t += 1000) {
        CHECK_EQ_INT(store_events_add(s, "k1", t, 3, t + 100000), 0);
    }
    CHECK_EQ_INT(store_events_add(s, "k2", 5000, 3, 5500), 0);
    CHECK_EQ_INT(store_events_count(s, "k1", 0, &n, &oldest, &newest), 0);
    CHECK_EQ_INT(n, 3); /* only the 3 newest are kept */
    CHECK_EQ_INT(oldest, 3000);
    CHECK_EQ_INT(newest, 5000);
    CHECK_EQ_INT(store_events_count(s, "k1", 3500, &n, &oldest, &newest), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(oldest, 4000);
    /* An add after k2's expiry forgets it. */
    CHECK_EQ_INT(store_events_add(s, "k3", 6000, 1, 7000), 0);
    CHECK_EQ_INT(store_events_count(s, "k2", 0, &n, &oldest, &newest), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(store_events_clear(s, "k1"), 0);
    CHECK_EQ_INT(store_events_count(s, "k1", 0, &n, &oldest, &newest), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(store_events_count(s, "k3", 0, &n, &oldest, &newest), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(store_events_clear(s, "k3"), 0);
}

/* Dashboard history points: put (a repeat of a key and time is kept as it was), load since a
 * time by key then time, prune by age, forget a key, and a read tx may not write. */
struct loaded {
    struct store_history_point p[16];
    size_t n;
};

static int collect_point(void *arg, const struct store_history_point *p)
{
    struct loaded *l = arg;
    if (l->n < 16) {
        l->p[l->n++] = *p;
    }
    return 0;
}

static void test_dashboard_points(struct store *s)
{
    struct store_history_point pts[5] = {
        {.key = "k-b", .at_ms = 3000, .v = {1, 2, 3, 4, 5, 6, 7, 8}},
        {.key = "", .at_ms = 1000, .v = {9}},
        {.key = "k-a", .at_ms = 2000, .v = {10, 0, 0, 0, 0, 0, 0, 2147483647}},
        {.key = "k-a", .at_ms = 1000, .v = {11}},
        {.key = "k-a", .at_ms = 500, .v = {12}},
    };
    struct store_tx *tx = NULL;
    CHECK_EQ_INT(store_tx_begin(s, false, &tx), 0);
    CHECK_EQ_INT(store_history_put(tx, pts, 1), SB_E_INVAL);
    store_tx_rollback(tx);
    CHECK_EQ_INT(store_tx_begin(s, true, &tx), 0);
    CHECK_EQ_INT(store_history_put(tx, pts, 5), 0);
    struct store_history_point again = {.key = "k-b", .at_ms = 3000, .v = {99}};
    CHECK_EQ_INT(store_history_put(tx, &again, 1), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);

    struct loaded l = {0};
    CHECK_EQ_INT(store_tx_begin(s, false, &tx), 0);
    CHECK_EQ_INT(store_history_load(tx, 1000, collect_point, &l), 0);
    store_tx_rollback(tx);
    CHECK_EQ_INT((int)l.n, 4); /* 500 is before since */
    CHECK_EQ_STR(l.p[0].key, "");
    CHECK_EQ_STR(l.p[1].key, "k-a");
    CHECK(l.p[1].at_ms == 1000 && l.p[1].v[0] == 11);
    CHECK(l.p[2].at_ms == 2000 && l.p[2].v[0] == 10 && l.p[2].v[7] == 2147483647);
    CHECK_EQ_STR(l.p[3].key, "k-b");
    CHECK(l.p[3].v[0] == 1 && l.p[3].v[7] == 8); /* the repeat did not overwrite */

    CHECK_EQ_INT(store_tx_begin(s, true, &tx), 0);
    CHECK_EQ_INT(store_history_prune(tx, 1000), 1); /* k-a at 500 */
    CHECK_EQ_INT(store_history_forget(tx, "k-a"), 2);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    memset(&l, 0, sizeof l);
    CHECK_EQ_INT(store_tx_begin(s, false, &tx), 0);
    CHECK_EQ_INT(store_history_load(tx, 0, collect_point, &l), 0);
    store_tx_rollback(tx);
    CHECK_EQ_INT((int)l.n, 2);
    CHECK_EQ_INT(store_tx_begin(s, true, &tx), 0);
    CHECK_EQ_INT(store_history_prune(tx, 1LL << 50), 2);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
}

/* User preferences: one object per user, scoped by the user's tenant, not in the change log,
 * deleted with the user. */
static void test_prefs(struct store *s)
{
    json_t *c1 = insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "Prefs 1", "slug", "prefs-1"));
    json_t *c2 = insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "Prefs 2", "slug", "prefs-2"));
    json_t *u1 = insert(s, STORE_USERS,
                        P("{s:s, s:s, s:s}", "client_id", str(c1, "id"), "email", "p1@prefs.test",
                          "role", "viewer"));
    json_t *u2 = insert(s, STORE_USERS,
                        P("{s:s, s:s, s:s}", "client_id", str(c2, "id"), "email", "p2@prefs.test",
                          "role", "viewer"));
    struct store_scope t1 = {.client_id = str(c1, "id")}, t2 = {.client_id = str(c2, "id")};
    struct store_scope none = {0};
    int64_t h = head(s);

    struct store_tx *tx = rtx(s);
    json_t *out = json_true(); /* must be replaced by NULL */
    CHECK_EQ_INT(store_prefs_get(tx, &t1, str(u1, "id"), &out), 0);
    CHECK(out == NULL); /* none stored yet */
    CHECK_EQ_INT(store_prefs_put(tx, &t1, str(u1, "id"), P("{s:b}", "sound", 1)), SB_E_INVAL);
    store_tx_rollback(tx);

    tx = wtx(s);
    CHECK_EQ_INT(store_prefs_put(tx, &t1, str(u1, "id"), P("{s:b, s:b}", "sound", 1, "status", 0)),
                 0);
    CHECK_EQ_INT(store_prefs_put(tx, &t1, str(u2, "id"), P("{s:b}", "sound", 1)), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_prefs_put(tx, &none, str(u1, "id"), P("{s:b}", "sound", 0)), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_prefs_put(tx, &t1, str(u1, "id"), P("[]")), SB_E_INVAL);
    char big[STORE_PREFS_MAX_BYTES + 1];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(store_prefs_put(tx, &t1, str(u1, "id"), P("{s:s}", "k", big)), SB_E_INVAL);
    CHECK_EQ_INT(store_prefs_put(tx, &ALL, str(u2, "id"), P("{s:b}", "message", 0)), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    CHECK_EQ_INT(head(s), h); /* not in the change log */

    tx = rtx(s);
    CHECK_EQ_INT(store_prefs_get(tx, &t1, str(u1, "id"), &out), 0);
    CHECK(json_equal(out, P("{s:b, s:b}", "sound", 1, "status", 0)));
    json_decref(out);
    out = NULL;
    CHECK_EQ_INT(store_prefs_get(tx, &t2, str(u1, "id"), &out), SB_E_NOTFOUND);
    CHECK(out == NULL);
    CHECK_EQ_INT(store_prefs_get(tx, &t2, str(u2, "id"), &out), 0);
    CHECK(json_equal(out, P("{s:b}", "message", 0)));
    json_decref(out);
    store_tx_rollback(tx);

    /* put replaces the whole object. */
    tx = wtx(s);
    CHECK_EQ_INT(store_prefs_put(tx, &t1, str(u1, "id"), P("{s:b}", "connection", 0)), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    tx = rtx(s);
    CHECK_EQ_INT(store_prefs_get(tx, &ALL, str(u1, "id"), &out), 0);
    CHECK(json_equal(out, P("{s:b}", "connection", 0)));
    json_decref(out);
    store_tx_rollback(tx);

    /* Deleting the user (here through its client) deletes its preferences. */
    tx = wtx(s);
    CHECK_EQ_INT(store_row_delete(tx, STORE_CLIENTS, &ALL, str(c1, "id"), NULL), 0);
    CHECK_EQ_INT(store_row_delete(tx, STORE_CLIENTS, &ALL, str(c2, "id"), NULL), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    tx = rtx(s);
    CHECK_EQ_INT(store_prefs_get(tx, &ALL, str(u1, "id"), &out), SB_E_NOTFOUND);
    store_tx_rollback(tx);
    json_decref(c1);
    json_decref(c2);
    json_decref(u1);
    json_decref(u2);
}

/* A direct connection to the store's database, behind its back: a SQLite file or a
 * PostgreSQL URL. */
struct raw {
    sqlite3 *lite;
    PGconn *pg;
};

static bool is_pg_url(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

static bool raw_open(struct raw *r, const char *where)
{
    memset(r, 0, sizeof(*r));
    if (is_pg_url(where)) {
        r->pg = PQconnectdb(where);
        bool ok = PQstatus(r->pg) == CONNECTION_OK;
        if (ok) {
            PQclear(PQexec(r->pg, "SET client_min_messages TO warning"));
        }
        return ok;
    }
    bool ok = sqlite3_open(where, &r->lite) == SQLITE_OK;
    sqlite3_busy_timeout(r->lite, 5000);
    return ok;
}

static void raw_close(struct raw *r)
{
    if (r->pg) {
        PQfinish(r->pg);
    }
    if (r->lite) {
        sqlite3_close(r->lite);
    }
}

/* Run sql (one or more statements); true when it succeeded, else *err_out gets the message. */
static bool raw_try(struct raw *r, const char *sql, char *err_out, size_t err_len)
{
    if (r->pg) {
        PGresult *res = PQexec(r->pg, sql);
        ExecStatusType st = PQresultStatus(res);
        bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (!ok && err_out) {
            snprintf(err_out, err_len, "%s", PQresultErrorMessage(res));
        }
        PQclear(res);
        return ok;
    }
    char *msg = NULL;
    int rc = sqlite3_exec(r->lite, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK && err_out) {
        snprintf(err_out, err_len, "%s", msg ? msg : "");
    }
    sqlite3_free(msg);
    return rc == SQLITE_OK;
}

static void raw_exec_ok(struct raw *r, const char *sql)
{
    char msg[512] = "";
    bool ok = raw_try(r, sql, msg, sizeof(msg));
    if (!ok) {
        fprintf(stderr, "raw sql failed: %s: %s\n", sql, msg);
    }
    CHECK(ok);
}

static void verify_expect(struct store *s, int64_t want_checked, int64_t want_bad)
{
    int64_t checked = -1, bad = -1;
    CHECK_EQ_INT(store_audit_verify(s, &checked, &bad), 0);
    CHECK_EQ_INT(bad, want_bad);
    if (want_checked >= 0) {
        CHECK_EQ_INT(checked, want_checked);
    }
}

#define AUDIT_N 10

/* raw_db: the SQLite file or PostgreSQL URL to tamper with, NULL to skip tampering. */
static void test_audit(struct store *s, const char *client_a, const char *raw_db)
{
    int64_t checked = 0, bad = -1;
    CHECK_EQ_INT(store_audit_verify(s, &checked, &bad), 0);
    int64_t base = checked; /* entries from earlier tests */
    CHECK_EQ_INT(bad, 0);
    char prev[80] = "";
    for (int i = 0; i < AUDIT_N; i++) {
        struct store_tx *tx = wtx(s);
        json_t *e = NULL;
        CHECK_EQ_INT(store_audit_append(tx,
                                        P("{s:s, s:s, s:s, s:s, s:{s:i, s:[i]}, s:{s:i}, s:s, s:s}",
                                          "actor_email", "root@demo.test", "client_id", client_a,
                                          "action", "client.update", "entity_type", "client",
                                          "before", "z", i, "a", i, "after", "n", i + 1, "ip",
                                          "127.0.0.1", "at", "2026-03-01T12:00:00+01:00"),
                                        &e),
                     0);
        CHECK_EQ_INT(store_tx_commit(tx), 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(e, "seq")), base + i + 1);
        CHECK_EQ_STR(str(e, "at"), "2026-03-01T11:00:00.000Z");
        CHECK_EQ_INT(strlen(str(e, "hash")), 64);
        if (i > 0) {
            CHECK_EQ_STR(str(e, "prev_hash"), prev);
        }
        snprintf(prev, sizeof(prev), "%s", str(e, "hash"));
        json_decref(e);
    }
    struct store_tx *tx = wtx(s);
    CHECK_EQ_INT(store_audit_append(tx, P("{s:s}", "action", "x"), NULL), SB_E_INVAL);
    CHECK_EQ_INT(
        store_audit_append(
            tx, P("{s:s, s:s, s:s}", "action", "x", "entity_type", "y", "hash", "00"), NULL),
        SB_E_INVAL);
    store_tx_rollback(tx);
    int64_t total = base + AUDIT_N;
    verify_expect(s, total, 0);
    if (!raw_db) {
        return;
    }

    struct raw raw, *db = &raw;
    CHECK(raw_open(db, raw_db));
    if (db->lite) {
        /* SQLite (migration 7): an audit entry's change-log row holds no copy of the entry, and
         * reading the log gives the entry as it is stored, before and after included. */
        sqlite3_stmt *st = NULL;
        CHECK_EQ_INT(sqlite3_prepare_v2(db->lite,
                                        "SELECT count(*), count(c.record), max(c.seq) FROM "
                                        "changes AS c WHERE c.table_name = 'audit_logs'",
                                        -1, &st, NULL),
                     SQLITE_OK);
        CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
        CHECK(sqlite3_column_int(st, 0) >= AUDIT_N);
        CHECK_EQ_INT(sqlite3_column_int(st, 1), 0);
        int64_t last = sqlite3_column_int64(st, 2);
        sqlite3_finalize(st);
        struct store_change *ch = NULL;
        size_t n = 0;
        CHECK_EQ_INT(store_changes_read(s, last - 1, 10, &ch, &n), 0);
        CHECK_EQ_INT(n, 1);
        if (n == 1) {
            CHECK_EQ_INT(ch[0].table, STORE_AUDIT);
            json_t *b = json_object_get(ch[0].record, "before");
            CHECK_EQ_INT(json_integer_value(json_object_get(b, "z")), AUDIT_N - 1);
            CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(b, "a"), 0)),
                         AUDIT_N - 1);
            CHECK_EQ_INT(
                json_integer_value(json_object_get(json_object_get(ch[0].record, "after"), "n")),
                AUDIT_N);
            CHECK_EQ_STR(str(ch[0].record, "ip"), "127.0.0.1");
            CHECK_EQ_STR(str(ch[0].record, "actor_email"), "root@demo.test");
            CHECK_EQ_STR(str(ch[0].record, "hash"), prev); /* the last entry's */
            CHECK(!ch[0].old_record);
        }
        /* A row written before migration 7 keeps the copy it holds: it is read as stored. */
        char sql[300];
        snprintf(sql, sizeof sql,
                 "INSERT INTO changes (client_id, table_name, op, row_id, record) "
                 "SELECT client_id, 'audit_logs', 'INSERT', id, '{\"legacy\":true}' "
                 "FROM audit_logs WHERE hash = '%s'",
                 prev);
        store_changes_free(ch, n);
        ch = NULL;
        n = 0;
        raw_exec_ok(db, sql);
        CHECK_EQ_INT(store_changes_read(s, last, 10, &ch, &n), 0);
        CHECK_EQ_INT(n, 1);
        if (n == 1) {
            CHECK_EQ_INT(ch[0].table, STORE_AUDIT);
            CHECK(json_is_true(json_object_get(ch[0].record, "legacy")));
            CHECK_EQ_INT(json_object_size(ch[0].record), 1);
        }
        store_changes_free(ch, n);
    }
    /* The schema itself rejects changes to audit_logs and updates of changes. */
    CHECK(!raw_try(db, "UPDATE audit_logs SET action = 'x' WHERE seq = 1", NULL, 0));
    CHECK(!raw_try(db, "DELETE FROM audit_logs WHERE seq = 1", NULL, 0));
    CHECK(!raw_try(db, "UPDATE changes SET op = 'DELETE'", NULL, 0));
    if (db->pg) {
        CHECK(!raw_try(db, "TRUNCATE audit_logs", NULL, 0));
    }
    verify_expect(s, total, 0);

    raw_exec_ok(db, db->pg
                        ? "DROP TRIGGER audit_logs_no_update ON audit_logs;"
                          "DROP TRIGGER audit_logs_no_delete ON audit_logs"
                        : "DROP TRIGGER audit_logs_no_update; DROP TRIGGER audit_logs_no_delete");
    char sql[512];
    int64_t t5 = base + 5, t3 = base + 3;

    /* A modified field. */
    snprintf(sql, sizeof(sql), "UPDATE audit_logs SET action = 'client.delete' WHERE seq = %lld; ",
             (long long)t5);
    raw_exec_ok(db, sql);
    verify_expect(s, t5, t5);
    snprintf(sql, sizeof(sql), "UPDATE audit_logs SET action = 'client.update' WHERE seq = %lld; ",
             (long long)t5);
    raw_exec_ok(db, sql);
    verify_expect(s, total, 0);
    /* A modified JSON field. */
    snprintf(sql, sizeof(sql), "UPDATE audit_logs SET \"after\" = '{\"n\":99}' WHERE seq = %lld; ",
             (long long)t5);
    raw_exec_ok(db, sql);
    verify_expect(s, t5, t5);
    snprintf(sql, sizeof(sql),
             "UPDATE audit_logs SET \"after\" = '{ \"n\" : 5 }' WHERE seq = %lld; ", (long long)t5);
    raw_exec_ok(db, sql);
    verify_expect(s, total, 0); /* same value, other spelling: still intact */

    /* Two rows' contents swapped. */
    snprintf(sql, sizeof(sql),
             "CREATE TEMP TABLE sw AS SELECT * FROM audit_logs WHERE seq IN (%lld, %lld);"
             "UPDATE audit_logs SET id = id || '-x' WHERE seq IN (%lld, %lld);"
             "UPDATE audit_logs SET (id, at, action, \"before\", \"after\", prev_hash, hash) = "
             "(SELECT id, at, action, \"before\", \"after\", prev_hash, hash FROM sw "
             " WHERE sw.seq = %lld + %lld - audit_logs.seq) WHERE seq IN (%lld, %lld);",
             (long long)t3, (long long)t3 + 1, (long long)t3, (long long)t3 + 1, (long long)t3,
             (long long)t3 + 1, (long long)t3, (long long)t3 + 1);
    raw_exec_ok(db, sql);
    verify_expect(s, t3, t3);
    snprintf(sql, sizeof(sql),
             "UPDATE audit_logs SET id = id || '-x' WHERE seq IN (%lld, %lld);"
             "UPDATE audit_logs SET (id, at, action, \"before\", \"after\", prev_hash, hash) = "
             "(SELECT id, at, action, \"before\", \"after\", prev_hash, hash FROM sw "
             " WHERE sw.seq = audit_logs.seq) WHERE seq IN (%lld, %lld);",
             (long long)t3, (long long)t3 + 1, (long long)t3, (long long)t3 + 1);
    raw_exec_ok(db, sql);
    verify_expect(s, total, 0);

    /* The newest entry deleted. */
    snprintf(sql, sizeof(sql),
             "CREATE TEMP TABLE last AS SELECT * FROM audit_logs WHERE seq = %lld;"
             "DELETE FROM audit_logs WHERE seq = %lld;",
             (long long)total, (long long)total);
    raw_exec_ok(db, sql);
    verify_expect(s, total - 1, total);
    raw_exec_ok(db, "INSERT INTO audit_logs SELECT * FROM last");
    verify_expect(s, total, 0);

    /* A middle entry deleted. */
    snprintf(sql, sizeof(sql), "DELETE FROM audit_logs WHERE seq = %lld", (long long)t5);
    raw_exec_ok(db, sql);
    verify_expect(s, t5, t5);
    raw_close(db);
}

struct writer_arg {
    struct store *s;
    const char *client_id;
    int failures;
};

static void *writer_main(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < 200; i++) {
        struct store_tx *tx = NULL;
        if (store_tx_begin(a->s, true, &tx) < 0) {
            a->failures++;
            continue;
        }
        json_t *m = NULL;
        int rc = store_row_insert(tx, STORE_MESSAGES,
                                  P("{s:s, s:s}", "client_id", a->client_id, "title", "load"), &m);
        if (rc == 0 && i % 2) {
            rc = store_row_update(tx, STORE_MESSAGES, &ALL, str(m, "id"),
                                  P("{s:s}", "priority", "low"), 1, NULL);
        }
        json_decref(m);
        if (rc == 0) {
            rc = store_tx_commit(tx);
        } else {
            store_tx_rollback(tx);
        }
        if (rc < 0) {
            a->failures++;
        }
    }
    return NULL;
}

static void *reader_main(void *p)
{
    struct writer_arg *a = p;
    int64_t last = 0;
    for (int i = 0; i < 200; i++) {
        struct store_tx *tx = NULL;
        int64_t h = 0;
        if (store_tx_begin(a->s, false, &tx) < 0 || store_tx_head_seq(tx, &h) < 0 || h < last) {
            a->failures++;
        }
        store_tx_rollback(tx);
        last = h;
    }
    return NULL;
}

static void test_concurrency(struct store *s, const char *client_a)
{
    int64_t before = head(s);
    struct writer_arg args[3] = {{s, client_a, 0}, {s, client_a, 0}, {s, client_a, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        pthread_create(&th[i], NULL, i < 2 ? writer_main : reader_main, &args[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
    }
    CHECK_EQ_INT(args[0].failures + args[1].failures + args[2].failures, 0);
    CHECK_EQ_INT(head(s), before + 600);
    check_gap_free(s);
}

struct tail_arg {
    struct store *s;
    int64_t after;
    volatile int stop;
    int gaps;
    int64_t seen;
};

/* Tail the change log like the realtime hub: every read must continue exactly at after + 1. */
static void *tail_main(void *p)
{
    struct tail_arg *a = p;
    for (int round = 0; round < 200000; round++) {
        int last_round = __atomic_load_n(&a->stop, __ATOMIC_SEQ_CST);
        struct store_change *ch = NULL;
        size_t n = 0;
        if (store_changes_read(a->s, a->after, 1000, &ch, &n) < 0) {
            a->gaps++;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (ch[i].seq != a->after + 1) {
                a->gaps++;
            }
            a->after = ch[i].seq;
            a->seen++;
        }
        store_changes_free(ch, n);
        if (last_round && n == 0) {
            break;
        }
    }
    return NULL;
}

/*
 * PostgreSQL only: a second store on the same database is a second switchboard node. A write
 * made directly in SQL is logged like one made through the store; writers on both nodes at
 * once get gap-free seqs, and a tail reader on a third connection never sees a later seq
 * before an earlier one (commit order).
 */
static void test_pg_nodes(struct store *s, const char *url, const char *client_a)
{
    struct store *s2 = NULL, *s3 = NULL;
    CHECK_EQ_INT(store_open(url, NULL, &s2), 0);
    CHECK_EQ_INT(store_open(url, NULL, &s3), 0);
    if (!s2 || !s3) {
        store_free(s2);
        store_free(s3);
        return;
    }
    CHECK_EQ_INT(store_migrate(s2), 0);
    CHECK_EQ_STR(store_backend(s2), "postgres");

    /* Another node's commit runs this node's commit hook (LISTEN/NOTIFY), promptly. */
    store_set_commit_hook(s, on_commit, NULL);
    int calls = __atomic_load_n(&hook_calls, __ATOMIC_SEQ_CST);
    json_decref(insert(s2, STORE_CLIENTS, P("{s:s, s:s}", "name", "Node2", "slug", "node2")));
    for (int i = 0; i < 500 && __atomic_load_n(&hook_calls, __ATOMIC_SEQ_CST) == calls; i++) {
        usleep(10000);
    }
    CHECK(__atomic_load_n(&hook_calls, __ATOMIC_SEQ_CST) > calls);
    store_set_commit_hook(s, NULL, NULL);

    struct raw raw;
    CHECK(raw_open(&raw, url));
    int64_t h = head(s);
    raw_exec_ok(&raw, "UPDATE users SET name = 'Direct', password_hash = 'h2' "
                      "WHERE email = 'bob@acme.test'");
    struct store_change *ch = one_change(s2, h, "UPDATE", STORE_USERS);
    if (ch) {
        CHECK_EQ_STR(str(ch->record, "name"), "Direct");
        CHECK_EQ_STR(str(ch->old_record, "name"), "Bobby");
        CHECK_EQ_STR(ch->client_id, client_a);
        CHECK(!json_object_get(ch->record, "password_hash"));
        store_changes_free(ch, 1);
    }
    h++;
    /* A direct INSERT relying on the column defaults gets the store's time format. */
    raw_exec_ok(&raw, "INSERT INTO clients (id, name, slug) VALUES "
                      "('0b5e4c1e-0000-4000-8000-000000000001', 'Direct', 'direct')");
    ch = one_change(s, h, "INSERT", STORE_CLIENTS);
    if (ch) {
        CHECK_EQ_INT(strlen(str(ch->record, "created_at")), 24);
        CHECK(json_is_object(json_object_get(ch->record, "settings")));
        CHECK_EQ_INT(json_integer_value(json_object_get(ch->record, "version")), 1);
        store_changes_free(ch, 1);
    }
    h++;
    /* A rolled-back direct write leaves no gap either. */
    raw_exec_ok(&raw, "BEGIN; DELETE FROM clients WHERE slug = 'direct'; ROLLBACK");
    raw_close(&raw);
    CHECK_EQ_INT(head(s), h);

    struct tail_arg tail = {.s = s3, .after = h};
    pthread_t tt;
    pthread_create(&tt, NULL, tail_main, &tail);
    struct writer_arg args[4] = {
        {s, client_a, 0}, {s, client_a, 0}, {s2, client_a, 0}, {s2, client_a, 0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, writer_main, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    __atomic_store_n(&tail.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(tt, NULL);
    CHECK_EQ_INT(args[0].failures + args[1].failures + args[2].failures + args[3].failures, 0);
    CHECK_EQ_INT(head(s2), h + 1200);
    CHECK_EQ_INT(tail.gaps, 0);
    CHECK_EQ_INT(tail.seen, 1200);
    check_gap_free(s2);
    store_free(s3);
    store_free(s2);
}

static void test_prune(struct store *s)
{
    /* A cut between two changes removes what came before it and keeps the rest. */
    int64_t h0 = head(s);
    const char *names[] = {"prune-a", "prune-b", "prune-c"};
    for (int i = 0; i < 3; i++) {
        struct timespec ts = {0, 3000000};
        nanosleep(&ts, NULL); /* distinct milliseconds */
        json_decref(insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", names[i], "slug", names[i])));
    }
    struct store_change *ch = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_changes_read(s, h0, 10, &ch, &n), 0);
    CHECK_EQ_INT(n, 3);
    int64_t cut = n == 3 ? ch[1].at_ms : 0, keep = n == 3 ? ch[1].seq : 0;
    CHECK(n != 3 || ch[0].at_ms < cut);
    store_changes_free(ch, n);
    CHECK(store_changes_prune(s, cut) > 0);
    int64_t oldest = 0, h2 = 0;
    CHECK_EQ_INT(store_changes_bounds(s, &oldest, &h2), 0);
    CHECK_EQ_INT(oldest, keep);
    CHECK_EQ_INT(h2, h0 + 3);
    CHECK_EQ_INT(store_changes_prune(s, cut), 0); /* nothing more before the cut */

    int64_t h = head(s);
    CHECK_EQ_INT(store_changes_prune(s, 0), 0);
    CHECK(store_changes_prune(s, 4102444800000LL) > 0);
    CHECK_EQ_INT(store_changes_bounds(s, &oldest, &h2), 0);
    CHECK_EQ_INT(h2, h);
    CHECK_EQ_INT(oldest, h);
    CHECK_EQ_INT(store_changes_read(s, 0, 10, &ch, &n), 0);
    CHECK_EQ_INT(n, 1);
    store_changes_free(ch, n);
    /* seq keeps growing after a prune. */
    json_decref(insert(s, STORE_CLIENTS, P("{s:s, s:s}", "name", "After", "slug", "after")));
    CHECK_EQ_INT(head(s), h + 1);
}

/* ---- the cluster bus ---- */

#define BUS_N 1000

struct bus_seen {
    pthread_mutex_t mu;
    char *msgs[BUS_N + 16];
    size_t lens[BUS_N + 16];
    size_t n;
    int reconnects;
};

static void on_bus(void *arg, const char *msg, size_t len)
{
    struct bus_seen *b = arg;
    pthread_mutex_lock(&b->mu);
    if (!msg) {
        b->reconnects++;
    } else if (b->n < BUS_N + 16) {
        b->msgs[b->n] = malloc(len + 1);
        memcpy(b->msgs[b->n], msg, len);
        b->msgs[b->n][len] = '\0';
        b->lens[b->n++] = len;
    }
    pthread_mutex_unlock(&b->mu);
}

static size_t bus_count(struct bus_seen *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static void bus_wait(struct bus_seen *b, size_t n)
{
    for (int i = 0; i < 1000 && bus_count(b) < n; i++) {
        usleep(10000);
    }
}

/*
 * store_bus_*: bad messages are refused; SQLite publishes nothing; with PostgreSQL another
 * store on the database (another node) receives every message once, in publish order, whole
 * (quotes, backslashes, newlines, and one too large for a NOTIFY, which goes through
 * bus_spill), and a store hears its own messages too.
 */
static void test_bus(struct store *s, const char *url, bool pg)
{
    CHECK_EQ_INT(store_bus_publish(s, "", 0), SB_E_INVAL);
    CHECK_EQ_INT(store_bus_publish(s, "a\0b", 3), SB_E_INVAL);
    struct store_bus_stats st;
    if (!pg) {
        CHECK_EQ_INT(store_bus_publish(s, "x", 1), 0);
        store_bus_stats(s, &st);
        CHECK_EQ_INT(st.published, 0);
        return;
    }
    struct store *s2 = NULL;
    CHECK_EQ_INT(store_open(url, NULL, &s2), 0);
    if (!s2) {
        return;
    }
    struct bus_seen seen = {.n = 0};
    pthread_mutex_init(&seen.mu, NULL);
    store_set_bus_hook(s, on_bus, &seen);
    size_t big_len = 100000;
    char *big = malloc(big_len + 1);
    memset(big, 'b', big_len);
    big[big_len] = '\0';
    const char *odd = "q\"uote\\back\nline{\"k\":[1]}";
    for (int i = 0; i < BUS_N; i++) {
        char m[32];
        int len = snprintf(m, sizeof m, "m%d", i);
        CHECK_EQ_INT(store_bus_publish(s2, m, (size_t)len), 0);
        if (i == BUS_N / 2) {
            CHECK_EQ_INT(store_bus_publish(s2, big, big_len), 0);
            CHECK_EQ_INT(store_bus_publish(s2, odd, strlen(odd)), 0);
        }
    }
    bus_wait(&seen, BUS_N + 2);
    CHECK_EQ_INT(bus_count(&seen), BUS_N + 2);
    size_t k = 0;
    bool in_order = true;
    for (int i = 0; i < BUS_N && k < seen.n; i++) {
        char m[32];
        snprintf(m, sizeof m, "m%d", i);
        in_order = in_order && strcmp(seen.msgs[k++], m) == 0;
        if (i == BUS_N / 2 && k + 1 < seen.n) {
            CHECK_EQ_INT(seen.lens[k], big_len);
            CHECK(memcmp(seen.msgs[k++], big, big_len) == 0);
            CHECK_EQ_STR(seen.msgs[k++], odd);
        }
    }
    CHECK(in_order);
    store_bus_stats(s2, &st);
    CHECK_EQ_INT(st.published, BUS_N + 2);
    CHECK_EQ_INT(st.dropped, 0);
    CHECK_EQ_INT(st.spilled, 1);
    CHECK(st.notifies >= 1 && st.notifies < BUS_N / 10); /* many messages per NOTIFY */
    /* A store hears its own messages. */
    CHECK_EQ_INT(store_bus_publish(s, "own", 3), 0);
    bus_wait(&seen, BUS_N + 3);
    CHECK_EQ_INT(bus_count(&seen), BUS_N + 3);
    if (seen.n == BUS_N + 3) {
        CHECK_EQ_STR(seen.msgs[BUS_N + 2], "own");
    }
    store_bus_stats(s, &st);
    CHECK_EQ_INT(st.received, BUS_N + 3);
    store_set_bus_hook(s, NULL, NULL);
    for (size_t i = 0; i < seen.n; i++) {
        free(seen.msgs[i]);
    }
    pthread_mutex_destroy(&seen.mu);
    free(big);
    store_free(s2);
}

/* SQLite: the enumerated CHECK constraints (migration 6) cost no ephemeral index per statement
 * run, and still refuse a value outside their list. */
static int ephemeral_opens(sqlite3 *db, const char *sql)
{
    char explain[512];
    snprintf(explain, sizeof(explain), "EXPLAIN %s", sql);
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_prepare_v2(db, explain, -1, &st, NULL) == SQLITE_OK) {
        n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            n += strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral") == 0;
        }
    }
    sqlite3_finalize(st);
    return n;
}

static void test_sqlite_checks(const char *file)
{
    struct raw r;
    CHECK(raw_open(&r, file));
    static const char *const writes[] = {
        "UPDATE agent_status SET status = 'busy', reason = NULL WHERE id = 'x'",
        /* (parenthesised: one element made of two literals) */
        ("INSERT INTO agent_status_history (id, agent_id, client_id, status) "
         "VALUES ('h', 'x', 'c', 'busy')"),
        "INSERT INTO changes (table_name, op, row_id) VALUES ('agent_status', 'UPDATE', 'x')",
        "UPDATE users SET role = 'admin' WHERE id = 'x'",
        "UPDATE system_messages SET priority = 'high', state = 'expired' WHERE id = 'x'",
    };
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        int n = ephemeral_opens(r.lite, writes[i]);
        if (n != 0) {
            fprintf(stderr, "%d ephemeral indexes in: %s\n", n, writes[i]);
        }
        CHECK_EQ_INT(n, 0);
    }
    raw_exec_ok(&r, "BEGIN");
    char msg[512] = "";
    CHECK(!raw_try(&r, "INSERT INTO changes (table_name, op, row_id) VALUES ('t', 'MERGE', 'x')",
                   msg, sizeof(msg)));
    CHECK(strstr(msg, "CHECK constraint failed") != NULL);
    CHECK(raw_try(&r, "INSERT INTO changes (table_name, op, row_id) VALUES ('t', 'DELETE', 'x')",
                  NULL, 0));
    CHECK(!raw_try(&r,
                   "INSERT INTO agent_status_history (id, agent_id, client_id, status) "
                   "VALUES ('h', 'x', 'c', 'gone')",
                   msg, sizeof(msg)));
    CHECK(strstr(msg, "CHECK constraint failed") != NULL);
    raw_exec_ok(&r, "ROLLBACK");
    raw_close(&r);
}

/* SQLite (migration 10): the planner's statistics for the log-like tables, and the plans they
 * are there for. The tenant's column narrows to half the table, so a time window, an actor or
 * an entity is read through its own index, not by walking the tenant's rows; a tenant's
 * newest entries still come through audit_client in order; an agent's history through
 * agent_history_agent; the open interval through agent_history_open. */
static void check_plan(sqlite3 *db, const char *sql, const char *index)
{
    char explain[1024];
    snprintf(explain, sizeof(explain), "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st = NULL;
    char plan[1024] = "";
    size_t len = 0;
    if (sqlite3_prepare_v2(db, explain, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            len += (size_t)snprintf(plan + len, sizeof(plan) - len, "%s; ",
                                    (const char *)sqlite3_column_text(st, 3));
            if (len >= sizeof(plan)) {
                len = sizeof(plan) - 1;
            }
        }
    }
    sqlite3_finalize(st);
    char want[128];
    snprintf(want, sizeof(want), "USING INDEX %s ", index);
    /* An ordered page comes in the index's order, not from a sort of everything that
     * matches ("FOR RIGHT PART OF ORDER BY" sorts only the ties of the index's order). */
    bool sorts = strstr(plan, "USE TEMP B-TREE FOR ORDER BY") != NULL;
    if (!strstr(plan, want) || sorts) {
        fprintf(stderr, "plan of %s\n  is: %s\n  want: %s, no sort\n", sql, plan, index);
    }
    CHECK(strstr(plan, want) != NULL);
    CHECK(!sorts);
}

static void test_sqlite_plans(const char *file)
{
    struct raw r;
    CHECK(raw_open(&r, file));
    sqlite3_stmt *st = NULL;
    CHECK_EQ_INT(sqlite3_prepare_v2(r.lite,
                                    "SELECT stat FROM sqlite_stat1 WHERE tbl = 'audit_logs' AND "
                                    "idx = 'audit_client'",
                                    -1, &st, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "1000000 500000 1");
    sqlite3_finalize(st);
    /* Migration 11 rebuilt audit_actor and audit_entity with `at` (DROP INDEX drops their
     * statistics) and wrote theirs again, one row each. */
    CHECK_EQ_INT(sqlite3_prepare_v2(r.lite,
                                    "SELECT group_concat(idx || '=' || stat, ';') FROM (SELECT "
                                    "idx, stat FROM sqlite_stat1 WHERE tbl = 'audit_logs' AND idx "
                                    "IN ('audit_actor', 'audit_entity') ORDER BY idx)",
                                    -1, &st, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0),
                 "audit_actor=1000000 1000 1;audit_entity=1000000 100000 20 1");
    sqlite3_finalize(st);
    static const char *const plans[][2] = {
        {"SELECT count(*) FROM (SELECT 1 FROM audit_logs WHERE (client_id = 'c') AND "
         "at >= '2026-01-01T00:00:00.000Z' AND at <= '2026-01-01T01:00:00.000Z' LIMIT 10001)",
         "audit_at"},
        {"SELECT id FROM audit_logs WHERE (client_id = 'c') AND at >= '2026-01-01T00:00:00.000Z' "
         "AND at <= '2026-01-01T01:00:00.000Z' ORDER BY at DESC, id DESC LIMIT 51",
         "audit_at"},
        {"SELECT count(*) FROM audit_logs WHERE (client_id = 'c') AND actor_id = 'u'",
         "audit_actor"},
        {"SELECT count(*) FROM audit_logs WHERE (client_id = 'c') AND entity_type = 'client' AND "
         "entity_id = 'e'",
         "audit_entity"},
        {"SELECT id FROM audit_logs WHERE (client_id = 'c') ORDER BY seq DESC, id DESC LIMIT 51",
         "audit_client"},
        /* an actor's or an entity's entries, newest first by time (migration 11): from the
         * index in order, alone or within a window, first page and later ones */
        {"SELECT id FROM audit_logs WHERE (client_id = 'c') AND actor_id = 'u' ORDER BY at DESC, "
         "id DESC LIMIT 51",
         "audit_actor"},
        {"SELECT id FROM audit_logs WHERE (client_id = 'c') AND actor_id = 'u' AND at >= "
         "'2026-01-01T00:00:00.000Z' AND at <= '2026-01-02T00:00:00.000Z' ORDER BY at DESC, id "
         "DESC LIMIT 51",
         "audit_actor"},
        {"SELECT id FROM audit_logs WHERE actor_id = ? AND at >= ? AND at <= ? AND at <= ? AND (at "
         "< ? OR (at = ? AND id < ?)) ORDER BY at DESC, id DESC LIMIT 201",
         "audit_actor"},
        {"SELECT count(*) FROM (SELECT 1 FROM audit_logs WHERE (client_id = 'c') AND actor_id = "
         "'u' AND at >= '2026-01-01T00:00:00.000Z' AND at <= '2026-01-02T00:00:00.000Z' LIMIT "
         "10001)",
         "audit_actor"},
        {"SELECT id FROM audit_logs WHERE (client_id = 'c') AND entity_type = 'agent_status' AND "
         "entity_id = 'e' AND at >= '2026-01-01T00:00:00.000Z' ORDER BY at DESC, id DESC LIMIT 51",
         "audit_entity"},
        {"SELECT id FROM audit_logs WHERE entity_type = 'agent_status' AND entity_id = 'e' ORDER "
         "BY "
         "at DESC, id DESC LIMIT 51",
         "audit_entity"},
        /* a window's later page (newest first by time): from its cursor on */
        {"SELECT id FROM audit_logs WHERE (client_id = ?) AND at >= ? AND at <= ? AND at <= ? "
         "AND (at < ? OR (at = ? AND id < ?)) ORDER BY at DESC, id DESC LIMIT 201",
         "audit_at"},
        {"SELECT id FROM agent_status_history WHERE (client_id = 'c') AND agent_id = 'a' AND "
         "started_at >= '2026-01-01T00:00:00.000Z' AND started_at <= '2026-01-08T00:00:00.000Z' "
         "ORDER BY started_at ASC, id ASC LIMIT 501",
         "agent_history_agent"},
        {"UPDATE agent_status_history SET ended_at = 'x' WHERE agent_id = 'a' AND ended_at IS NULL",
         "agent_history_open"},
    };
    for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
        check_plan(r.lite, plans[i][0], plans[i][1]);
    }
    raw_close(&r);
}

static void run_conformance(const char *url)
{
    fprintf(stderr, "conformance: %s\n", url);
    garbage = json_array();
    const char *file = NULL;
    if (strncmp(url, "sqlite:", 7) == 0 && strcmp(url, "sqlite::memory:") != 0) {
        file = url + 7;
    }
    bool pg = is_pg_url(url);
    const char *raw_db = pg ? url : file; /* NULL for :memory: */
    struct store *s = NULL;
    test_migrate(url, &s);
    if (!s) {
        return;
    }
    char client_a[UUID_STR_LEN] = "";
    test_change_log(s, client_a);
    check_gap_free(s);
    test_validation(s, client_a);
    test_version_and_scope(s, client_a);
    test_update_from(s, client_a);
    test_list(s);
    test_meta_refresh(s, client_a);
    test_events(s);
    test_dashboard_points(s);
    test_history_cascade(s);
    test_history_intervals(s);
    test_prefs(s);
    check_gap_free(s);
    if (raw_db) {
        test_concurrency(s, client_a);
    }
    if (pg) {
        test_pg_nodes(s, url, client_a);
    }
    test_bus(s, url, pg);
    test_audit(s, client_a, raw_db);
    test_prune(s);
    if (file) {
        test_sqlite_checks(file);
        test_sqlite_plans(file);
    }
    store_free(s);

    /* Reopening a migrated database applies nothing and keeps the data. */
    CHECK_EQ_INT(store_open(url, NULL, &s), 0);
    if (s && raw_db) {
        CHECK_EQ_INT(store_migrate(s), 0);
        CHECK(head(s) > 0);
    }
    store_free(s);
    json_decref(garbage);
}

int main(void)
{
    struct store *s = NULL;
    CHECK_EQ_INT(store_open("mysql://x", NULL, &s), SB_E_INVAL);
    CHECK_EQ_INT(store_open("sqlite:/nonexistent-dir/x/y.db", NULL, &s), SB_E_DB);

    run_conformance("sqlite::memory:");

    char path[] = "/tmp/sb-store-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
        char url[64];
        snprintf(url, sizeof(url), "sqlite:%s", path);
        run_conformance(url);
        char aux[64];
        unlink(path);
        snprintf(aux, sizeof(aux), "%s-wal", path);
        unlink(aux);
        snprintf(aux, sizeof(aux), "%s-shm", path);
        unlink(aux);
    }

    const char *pg = getenv("SB_TEST_PG_URL");
    if (pg && pg[0]) {
        run_conformance(pg);
    }
    return test_done();
}
