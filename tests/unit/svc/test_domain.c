/*
 * Agents, presence, messages and the jobs thread against a real (temporary SQLite) store
 * with the demo data: presence grace sets offline as "system" and a reconnect leaves the
 * status alone; idle agents go away and come back; bulk changes are all-or-nothing; the message
 * tick moves states as audited row updates; the jobs thread publishes each tenant's dashboard once
 * and then only when it changed; events_per_minute counts the changes it is fed.
 */
#include "test.h"
#include "test_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "auth/session.h"
#include "base/err.h"
#include "store/store.h"
#include "svc/jobs.h"
#include "svc/svc.h"

static struct store *store;
static struct svc *svc;
static struct svc_actor root;
static char acme[64], globex[64];

static const char *str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* The first row of table where col = val (system scope), or NULL. */
static json_t *find(enum store_table t, const char *col, const char *val)
{
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    q.filters[0] = (struct store_filter){col, STORE_EQ, json_string(val)};
    q.nfilters = 1;
    struct store_tx *tx = NULL;
    json_t *rows = NULL, *row = NULL;
    char *next = NULL;
    if (store_tx_begin(store, false, &tx) == 0) {
        if (store_row_list(tx, t, &q, &rows, &next) == 0 && json_array_size(rows)) {
            row = json_incref(json_array_get(rows, 0));
        }
        store_tx_rollback(tx);
    }
    free(next);
    json_decref(rows);
    json_decref(q.filters[0].value);
    return row;
}

static int64_t count(enum store_table t, const char *col, const char *val)
{
    struct store_query q = {0};
    policy_system_scope(&q.scope);
    if (col) {
        q.filters[0] = (struct store_filter){col, STORE_EQ, json_string(val)};
        q.nfilters = 1;
    }
    struct store_tx *tx = NULL;
    json_t *c = NULL;
    int64_t n = -1;
    if (store_tx_begin(store, false, &tx) == 0) {
        if (store_row_count(tx, t, &q, NULL, &c) == 0) {
            n = json_integer_value(json_object_get(c, "total"));
        }
        store_tx_rollback(tx);
    }
    json_decref(c);
    json_decref(q.filters[0].value);
    return n;
}

/* The agent_status row of the demo user email (new reference). */
static json_t *agent_of(const char *email)
{
    json_t *u = find(STORE_USERS, "email", email);
    json_t *a = u ? find(STORE_AGENT_STATUS, "user_id", str(u, "id")) : NULL;
    json_decref(u);
    return a;
}

static int set_status(const char *agent_id, const char *status)
{
    json_t *in = json_pack("{s:s}", "status", status);
    json_t *out = NULL;
    struct svc_errors err = {0};
    int rc = svc_agent_set_status(svc, &root, agent_id, in, 0, &out, &err);
    svc_errors_release(&err);
    json_decref(in);
    json_decref(out);
    return rc;
}

static void test_presence_tick(void)
{
    json_t *a = agent_of("agent1@acme.test");
    CHECK(a != NULL);
    if (!a) {
        return;
    }
    const char *id = str(a, "id");
    const char *uid = str(a, "user_id");
    int64_t hist0 = count(STORE_AGENT_HISTORY, "agent_id", id);
    CHECK_EQ_INT(set_status(id, "online"), 0);
    CHECK_EQ_INT(count(STORE_AGENT_HISTORY, "agent_id", id), hist0 + 1);
    int64_t audits = count(STORE_AUDIT, NULL, NULL);

    /* disconnect: nothing before the grace (100 ms here), offline after it, as "system" */
    struct svc_presence *p = svc_presence_of(svc);
    int64_t t = clock_now_ms();
    svc_presence_connected(p, uid, t);
    svc_presence_disconnected(p, uid, t + 10);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 109), 0);
    json_t *row = find(STORE_AGENT_STATUS, "id", id);
    CHECK_EQ_STR(str(row, "status"), "online");
    json_decref(row);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 110), 1);
    row = find(STORE_AGENT_STATUS, "id", id);
    CHECK_EQ_STR(str(row, "status"), "offline");
    CHECK(json_is_null(json_object_get(row, "updated_by")));
    json_decref(row);
    CHECK_EQ_INT(count(STORE_AUDIT, NULL, NULL), audits + 1);
    CHECK_EQ_INT(count(STORE_AUDIT, "actor_id", "system") > 0, 1);
    CHECK_EQ_INT(count(STORE_AGENT_HISTORY, "agent_id", id), hist0 + 2);
    json_t *open = NULL;
    {
        struct store_query q = {0};
        policy_system_scope(&q.scope);
        q.filters[0] = (struct store_filter){"agent_id", STORE_EQ, json_string(id)};
        q.filters[1] = (struct store_filter){"ended_at", STORE_IS_NULL, json_true()};
        q.nfilters = 2;
        struct store_tx *tx = NULL;
        char *next = NULL;
        store_tx_begin(store, false, &tx);
        store_row_list(tx, STORE_AGENT_HISTORY, &q, &open, &next);
        store_tx_rollback(tx);
        free(next);
        json_decref(q.filters[0].value);
        json_decref(q.filters[1].value);
    }
    CHECK_EQ_INT(json_array_size(open), 1);
    CHECK_EQ_STR(str(json_array_get(open, 0), "changed_by"), "system");
    CHECK_EQ_STR(str(json_array_get(open, 0), "status"), "offline");
    json_decref(open);

    /* reconnect inside the grace: the status stays */
    CHECK_EQ_INT(set_status(id, "busy"), 0);
    t = clock_now_ms();
    svc_presence_connected(p, uid, t);
    svc_presence_disconnected(p, uid, t + 10);
    svc_presence_connected(p, uid, t + 50);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 1000), 0);
    row = find(STORE_AGENT_STATUS, "id", id);
    CHECK_EQ_STR(str(row, "status"), "busy");
    json_decref(row);
    svc_presence_disconnected(p, uid, t + 2000);
    json_decref(a);
}

/* The status and reason of agent id, checked. */
static void check_agent(const char *id, const char *status, const char *reason)
{
    json_t *row = find(STORE_AGENT_STATUS, "id", id);
    CHECK_EQ_STR(str(row, "status"), status);
    if (reason) {
        CHECK_EQ_STR(str(row, "reason"), reason);
    } else {
        CHECK(json_is_null(json_object_get(row, "reason")));
    }
    json_decref(row);
}

/* Idle -> away (100 ms here): only from online, once, as "system" with reason "idle"; the
 * next activity undoes exactly that automatic away and nothing else. */
static void test_idle_away(void)
{
    json_t *a = agent_of("agent4@acme.test");
    CHECK(a != NULL);
    if (!a) {
        return;
    }
    const char *id = str(a, "id");
    const char *uid = str(a, "user_id");
    struct svc_presence *p = svc_presence_of(svc);
    svc_presence_set_idle(p, 100);
    CHECK_EQ_INT(set_status(id, "online"), 0);
    int64_t audits = count(STORE_AUDIT, NULL, NULL);
    int64_t t = clock_now_ms();
    svc_presence_connected(p, uid, t);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 99), 0);
    check_agent(id, "online", NULL);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 100), 1);
    check_agent(id, "away", "idle");
    CHECK_EQ_INT(count(STORE_AUDIT, NULL, NULL), audits + 1);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 150), 0); /* reported once */
    svc_presence_active(p, uid, t + 200);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 201), 1);
    check_agent(id, "online", NULL);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 250), 0);

    /* busy stays busy when idle, and stays busy when active again */
    CHECK_EQ_INT(set_status(id, "busy"), 0);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 400), 0);
    svc_presence_active(p, uid, t + 450);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 451), 0);
    check_agent(id, "busy", NULL);

    /* an away someone chose is not undone by activity */
    CHECK_EQ_INT(set_status(id, "away"), 0);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 600), 0);
    svc_presence_active(p, uid, t + 650);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 651), 0);
    check_agent(id, "away", NULL);

    /* a reconnect after an automatic away counts as activity */
    CHECK_EQ_INT(set_status(id, "online"), 0);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 800), 1);
    check_agent(id, "away", "idle");
    svc_presence_connected(p, uid, t + 850);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 851), 1);
    check_agent(id, "online", NULL);

    svc_presence_disconnected(p, uid, t + 900);
    svc_presence_disconnected(p, uid, t + 900);
    svc_presence_set_idle(p, 0);
    CHECK_EQ_INT(svc_presence_tick(svc, t + 2000), 1); /* the grace: offline */
    check_agent(id, "offline", "disconnected");
    json_decref(a);
}

static void test_bulk_atomic(void)
{
    json_t *a = agent_of("agent2@acme.test"), *b = agent_of("agent3@acme.test");
    CHECK(a && b);
    int64_t audits = count(STORE_AUDIT, NULL, NULL);
    int64_t hist = count(STORE_AGENT_HISTORY, NULL, NULL);
    json_t *in = json_pack("{s:[s,s,s],s:s}", "ids", str(a, "id"), str(b, "id"),
                           "00000000-0000-4000-8000-000000000000", "status", "busy");
    json_t *out = NULL;
    struct svc_errors err = {0};
    CHECK_EQ_INT(svc_agent_bulk_status(svc, &root, in, &out, &err), SB_E_NOTFOUND);
    CHECK(out == NULL);
    CHECK(err.details != NULL);
    svc_errors_release(&err);
    json_decref(in);
    CHECK_EQ_INT(count(STORE_AUDIT, NULL, NULL), audits);
    CHECK_EQ_INT(count(STORE_AGENT_HISTORY, NULL, NULL), hist);
    json_t *ra = find(STORE_AGENT_STATUS, "id", str(a, "id"));
    CHECK_EQ_INT(json_integer_value(json_object_get(ra, "version")),
                 json_integer_value(json_object_get(a, "version")));
    json_decref(ra);
    /* duplicates are refused before anything is read */
    in = json_pack("{s:[s,s],s:s}", "ids", str(a, "id"), str(a, "id"), "status", "busy");
    CHECK_EQ_INT(svc_agent_bulk_status(svc, &root, in, &out, &err), SB_E_VALIDATION);
    svc_errors_release(&err);
    json_decref(in);
    /* the good pair: two rows, two history rows, two audit entries */
    in = json_pack("{s:[s,s],s:s,s:s}", "ids", str(a, "id"), str(b, "id"), "status", "busy",
                   "reason", "calls");
    CHECK_EQ_INT(svc_agent_bulk_status(svc, &root, in, &out, &err), 0);
    CHECK_EQ_INT(json_array_size(out), 2);
    CHECK_EQ_STR(str(json_array_get(out, 1), "reason"), "calls");
    CHECK_EQ_INT(count(STORE_AUDIT, NULL, NULL), audits + 2);
    CHECK_EQ_INT(count(STORE_AGENT_HISTORY, NULL, NULL), hist + 2);
    svc_errors_release(&err);
    json_decref(in);
    json_decref(out);
    json_decref(a);
    json_decref(b);
}

static void test_message_tick(void)
{
    int64_t now = clock_now_ms();
    char s[CLOCK_RFC3339_LEN], e[CLOCK_RFC3339_LEN];
    clock_format_ms(now + 150, s);
    clock_format_ms(now + 300, e);
    json_t *in = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "title", "tick", "body", "b", "priority",
                           "high", "starts_at", s, "expires_at", e, "client_id", acme);
    json_t *m = NULL;
    struct svc_errors err = {0};
    CHECK_EQ_INT(svc_message_create(svc, &root, in, &m, &err), 0);
    svc_errors_release(&err);
    json_decref(in);
    CHECK_EQ_STR(str(m, "state"), "scheduled");
    int64_t audits = count(STORE_AUDIT, NULL, NULL);
    CHECK_EQ_INT(svc_messages_tick(svc, now + 100), 0);
    CHECK_EQ_INT(svc_messages_tick(svc, now + 200), 1);
    json_t *r = find(STORE_MESSAGES, "id", str(m, "id"));
    CHECK_EQ_STR(str(r, "state"), "active");
    json_decref(r);
    CHECK_EQ_INT(svc_messages_tick(svc, now + 400), 1);
    r = find(STORE_MESSAGES, "id", str(m, "id"));
    CHECK_EQ_STR(str(r, "state"), "expired");
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "version")), 3);
    json_decref(r);
    CHECK_EQ_INT(count(STORE_AUDIT, NULL, NULL), audits + 2);
    CHECK(count(STORE_AUDIT, "action", "message.expire") >= 1);
    CHECK_EQ_INT(svc_messages_tick(svc, now + 500), 0);
    json_decref(m);
    CHECK_EQ_STR(svc_message_state_at(10, -1, 5), "scheduled");
    CHECK_EQ_STR(svc_message_state_at(10, 20, 10), "active");
    CHECK_EQ_STR(svc_message_state_at(10, 20, 20), "expired");
}

/* ---- jobs: publish on change only ---- */

static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;
static int pub_all, pub_acme, pub_globex;

static void on_publish(void *arg, const char *client_id, const char *json)
{
    (void)arg;
    CHECK(json && json[0] == '{');
    pthread_mutex_lock(&pub_mu);
    if (!client_id) {
        pub_all++;
    } else if (!strcmp(client_id, acme)) {
        pub_acme++;
    } else if (!strcmp(client_id, globex)) {
        pub_globex++;
    }
    pthread_mutex_unlock(&pub_mu);
}

static void snapshot(int *all, int *a, int *g)
{
    pthread_mutex_lock(&pub_mu);
    *all = pub_all;
    *a = pub_acme;
    *g = pub_globex;
    pthread_mutex_unlock(&pub_mu);
}

/* Hand every change of the log to svc_metrics_count_changes, a page at a time. */
static void feed_change_log(void)
{
    int64_t after = 0;
    for (int page = 0; page < 1000; page++) {
        struct store_change *ch = NULL;
        size_t n = 0;
        CHECK_EQ_INT(store_changes_read(store, after, 500, &ch, &n), 0);
        if (n > 0) {
            svc_metrics_count_changes(svc, ch, n);
            after = ch[n - 1].seq;
        }
        store_changes_free(ch, n);
        if (n < 500) {
            return;
        }
    }
}

static void test_jobs_publish_on_change(void)
{
    struct svc_jobs *j = NULL;
    struct svc_jobs_config cfg = {.tick_ms = 20, .metrics_interval_ms = 50, .publish = on_publish};
    CHECK_EQ_INT(svc_jobs_start(&j, svc, &cfg), 0);
    int all, a, g;
    /* the first round publishes every tenant once, later rounds nothing (no change) */
    for (int i = 0; i < 100; i++) {
        snapshot(&all, &a, &g);
        if (all && a && g) {
            break;
        }
        usleep(10000);
    }
    usleep(400000);
    snapshot(&all, &a, &g);
    CHECK_EQ_INT(all, 1);
    CHECK_EQ_INT(a, 1);
    CHECK_EQ_INT(g, 1);
    /* a Globex change: Globex and the all-tenants view again, Acme not */
    json_t *ag = agent_of("agent1@globex.test");
    CHECK_EQ_INT(set_status(str(ag, "id"), "online"), 0);
    json_decref(ag);
    for (int i = 0; i < 100; i++) {
        snapshot(&all, &a, &g);
        if (g >= 2 && all >= 2) {
            break;
        }
        usleep(10000);
    }
    usleep(300000);
    snapshot(&all, &a, &g);
    CHECK_EQ_INT(g, 2);
    CHECK_EQ_INT(all, 2);
    CHECK_EQ_INT(a, 1);
    svc_jobs_stop(j);
    /* the snapshot saw the change: one online; events_per_minute counts only what it is fed
     * (the jobs thread does not read the change log), here the log as the hub would */
    json_t *snap = NULL;
    CHECK_EQ_INT(svc_dashboard_snapshot(svc, globex, clock_now_ms(), &snap), 0);
    json_t *by = json_object_get(snap, "agents_by_status");
    CHECK_EQ_INT(json_integer_value(json_object_get(by, "online")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(snap, "events_per_minute")), 0);
    json_decref(snap);
    feed_change_log();
    CHECK_EQ_INT(svc_dashboard_snapshot(svc, globex, clock_now_ms(), &snap), 0);
    CHECK(json_integer_value(json_object_get(snap, "events_per_minute")) >= 1);
    CHECK(json_object_get(snap, "clients") == NULL);
    json_decref(snap);
    /* an online drop of >= 20% within the minute raises the flag */
    ag = agent_of("agent1@globex.test");
    CHECK_EQ_INT(set_status(str(ag, "id"), "away"), 0);
    json_decref(ag);
    CHECK_EQ_INT(svc_dashboard_snapshot(svc, globex, clock_now_ms(), &snap), 0);
    CHECK(
        json_is_true(json_object_get(json_object_get(snap, "significant"), "online_agents_drop")));
    json_decref(snap);
    CHECK_EQ_INT(
        svc_dashboard_snapshot(svc, "00000000-0000-4000-8000-000000000000", clock_now_ms(), &snap),
        SB_E_NOTFOUND);
}

static void add_interval(const json_t *agent, const char *status, const char *start,
                         const char *end)
{
    json_t *row = json_pack("{s:s, s:s, s:s, s:s}", "agent_id", str(agent, "id"), "client_id",
                            str(agent, "client_id"), "status", status, "started_at", start);
    if (end) {
        json_object_set_new(row, "ended_at", json_string(end));
    }
    struct store_tx *tx = NULL;
    CHECK_EQ_INT(store_tx_begin(store, true, &tx), 0);
    CHECK_EQ_INT(store_row_insert(tx, STORE_AGENT_HISTORY, row, NULL), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    json_decref(row);
}

static int64_t ms_at(const char *t)
{
    int64_t ms = 0;
    CHECK_EQ_INT(clock_parse_ms(t, &ms), 0);
    return ms;
}

/* The stats row of agent in out's "agents" (borrowed), or NULL. */
static json_t *stats_of(json_t *out, const json_t *agent)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(out, "agents"), i, a)
    {
        if (strcmp(str(a, "agent_id"), str(agent, "id")) == 0) {
            return a;
        }
    }
    return NULL;
}

static int64_t stat_ms(json_t *out, const json_t *agent, const char *status)
{
    json_t *a = stats_of(out, agent);
    return a ? json_integer_value(json_object_get(json_object_get(a, "ms"), status)) : -1;
}

/* Time in status counts every interval overlapping the window, also one that began long
 * before it (read per agent, not found among the rows starting inside the window). */
static void test_stats_window(void)
{
    json_t *a = agent_of("agent1@acme.test"), *b = agent_of("agent2@acme.test");
    json_t *c = agent_of("agent1@globex.test");
    add_interval(a, "offline", "2019-12-31T00:00:00Z", "2020-01-01T00:00:00Z");
    add_interval(a, "online", "2020-01-01T00:00:00Z", "2020-01-01T06:00:00Z");
    add_interval(a, "busy", "2020-01-01T06:00:00Z", "2020-01-01T09:00:00Z");
    add_interval(a, "away", "2020-01-01T09:00:00Z", "2020-01-02T00:00:00Z");
    add_interval(b, "online", "2019-06-01T00:00:00Z", "2020-06-01T00:00:00Z");
    add_interval(c, "busy", "2019-06-01T00:00:00Z", "2020-06-01T00:00:00Z");
    const int64_t H = 3600 * 1000;
    int64_t from = ms_at("2020-01-01T03:00:00Z"), to = ms_at("2020-01-01T12:00:00Z");
    int64_t now = clock_now_ms();
    json_t *out = NULL;
    CHECK_EQ_INT(svc_agent_stats(svc, &root.who, acme, from, to, now, &out), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "agents")), 5);
    CHECK_EQ_INT(stat_ms(out, a, "online"), 3 * H);
    CHECK_EQ_INT(stat_ms(out, a, "busy"), 3 * H);
    CHECK_EQ_INT(stat_ms(out, a, "away"), 3 * H);
    CHECK_EQ_INT(stat_ms(out, a, "offline"), 0);
    CHECK_EQ_INT(stat_ms(out, b, "online"), 9 * H);
    CHECK(stats_of(out, c) == NULL);
    json_decref(out);

    /* Every client (one window read per client); the per-client sums. */
    CHECK_EQ_INT(svc_agent_stats(svc, &root.who, NULL, from, to, now, &out), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "agents")), 8);
    CHECK_EQ_INT(stat_ms(out, a, "away"), 3 * H);
    CHECK_EQ_INT(stat_ms(out, b, "online"), 9 * H);
    CHECK_EQ_INT(stat_ms(out, c, "busy"), 9 * H);
    size_t i;
    json_t *cl;
    int clients = 0;
    json_array_foreach(json_object_get(out, "clients"), i, cl)
    {
        json_t *ms = json_object_get(cl, "ms");
        bool is_acme = strcmp(str(cl, "client_id"), acme) == 0;
        CHECK_EQ_INT(json_integer_value(json_object_get(ms, "online")), is_acme ? 12 * H : 0);
        CHECK_EQ_INT(json_integer_value(json_object_get(ms, "busy")), is_acme ? 3 * H : 9 * H);
        clients++;
    }
    CHECK_EQ_INT(clients, 2);
    json_decref(out);

    /* A tenant's admin: its own agents only, with or without naming its client. */
    struct policy_principal admin = {.role = ROLE_ADMIN};
    snprintf(admin.client_id, sizeof admin.client_id, "%.36s", acme);
    CHECK_EQ_INT(svc_agent_stats(svc, &admin, NULL, from, to, now, &out), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(out, "agents")), 5);
    CHECK_EQ_INT(stat_ms(out, b, "online"), 9 * H);
    CHECK(stats_of(out, c) == NULL);
    json_decref(out);
    CHECK_EQ_INT(svc_agent_stats(svc, &admin, globex, from, to, now, &out), SB_E_NOTFOUND);

    /* A window after every change: each agent's open interval, begun before it, covers it. */
    from = now + H;
    to = now + 2 * H;
    CHECK_EQ_INT(svc_agent_stats(svc, &root.who, NULL, from, to, to, &out), 0);
    json_t *st;
    json_array_foreach(json_object_get(out, "agents"), i, st)
    {
        CHECK_EQ_INT((int64_t)(json_real_value(json_object_get(st, "covered_seconds")) * 1000), H);
    }
    json_decref(out);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* An agent's history over a window starts with the interval running at its start, also when
 * another interval began in that same millisecond and ended at once (a status set twice within
 * it; that one holds the larger id here, so ids alone would pick it). */
static void test_history_straddle_tie(void)
{
    json_t *a = agent_of("agent3@acme.test");
    add_interval(a, "busy", "2024-03-01T00:00:00Z", "2024-03-01T06:00:00Z");
    json_t *row =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", "ffffffff-ffff-7fff-bfff-ffffffffffff",
                  "agent_id", str(a, "id"), "client_id", str(a, "client_id"), "status", "away",
                  "started_at", "2024-03-01T00:00:00Z", "ended_at", "2024-03-01T00:00:00Z");
    struct store_tx *tx = NULL;
    CHECK_EQ_INT(store_tx_begin(store, true, &tx), 0);
    CHECK_EQ_INT(store_row_insert(tx, STORE_AGENT_HISTORY, row, NULL), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    json_decref(row);
    struct store_query q = {.limit = 10};
    struct svc_page page;
    CHECK_EQ_INT(svc_agent_history(svc, &root.who, str(a, "id"), ms_at("2024-03-01T01:00:00Z"),
                                   ms_at("2024-03-01T02:00:00Z"), &q, &page),
                 0);
    CHECK_EQ_INT(json_array_size(page.rows), 1);
    CHECK_EQ_STR(str(json_array_get(page.rows, 0), "status"), "busy");
    svc_page_release(&page);
    /* A window from that very millisecond starts with both, in time order. */
    q = (struct store_query){.limit = 10};
    CHECK_EQ_INT(svc_agent_history(svc, &root.who, str(a, "id"), ms_at("2024-03-01T00:00:00Z"),
                                   ms_at("2024-03-01T02:00:00Z"), &q, &page),
                 0);
    CHECK_EQ_INT(json_array_size(page.rows), 2);
    svc_page_release(&page);
    json_decref(a);
}

/* Status history retention: intervals that ended more than the retention ago go, the rest
 * stays; a retention of 0 or less is refused (the jobs thread only calls with one set). */
static void test_history_prune(void)
{
    json_t *a = agent_of("agent4@acme.test");
    int64_t now = clock_now_ms();
    const int64_t D = 86400000;
    char t[4][CLOCK_RFC3339_LEN];
    clock_format_ms(now - 40 * D, t[0]);
    clock_format_ms(now - 31 * D, t[1]);
    clock_format_ms(now - 29 * D, t[2]);
    clock_format_ms(now - 28 * D, t[3]);
    add_interval(a, "busy", t[0], t[1]); /* ended 31 days ago */
    add_interval(a, "away", t[1], t[2]); /* ended 29 days ago */
    add_interval(a, "online", t[2], t[3]);
    CHECK_EQ_INT(svc_agent_history_prune(svc, now, 0), SB_E_INVAL);
    /* (with those of the tests before, all ended years ago) */
    int n = svc_agent_history_prune(svc, now, 30 * D);
    CHECK(n >= 1 && n < SVC_HISTORY_PRUNE_BATCH);
    CHECK_EQ_INT(svc_agent_history_prune(svc, now, 30 * D), 0);
    struct store_query q = {.limit = 50};
    struct svc_page page;
    CHECK_EQ_INT(
        svc_agent_history(svc, &root.who, str(a, "id"), now - 41 * D, now - 27 * D, &q, &page), 0);
    CHECK_EQ_INT(json_array_size(page.rows), 2);
    CHECK_EQ_STR(str(json_array_get(page.rows, 0), "status"), "away");
    CHECK_EQ_STR(str(json_array_get(page.rows, 1), "status"), "online");
    svc_page_release(&page);
    json_decref(a);
}

/* Refresh tokens expired a refresh lifetime ago are deleted, the rest kept. */
static void test_refresh_prune(void)
{
    CHECK_EQ_INT(svc_auth_prune(svc, clock_now_ms()), 0); /* no auth session: nothing to do */
    struct auth_session_config cfg = {.jwt_secret = "prune-test-secret-0123456789abcdef",
                                      .refresh_ttl_ms = 60000};
    struct auth_session *auth = NULL;
    CHECK_EQ_INT(auth_session_new(store, &cfg, &auth), 0);
    svc_set_auth(svc, auth);
    json_t *u = find(STORE_USERS, "email", "agent1@acme.test");
    int64_t now = clock_now_ms();
    struct store_tx *tx = NULL;
    CHECK_EQ_INT(store_tx_begin(store, true, &tx), 0);
    const char *fam = "00000000-0000-4000-8000-00000000f001";
    CHECK_EQ_INT(store_refresh_insert(tx, str(u, "id"), fam, "prune-long-ago", now - 61000), 0);
    CHECK_EQ_INT(store_refresh_insert(tx, str(u, "id"), fam, "prune-recent", now - 59000), 0);
    CHECK_EQ_INT(store_refresh_insert(tx, str(u, "id"), fam, "prune-live", now + 60000), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    CHECK_EQ_INT(svc_auth_prune(svc, now), 1);
    CHECK_EQ_INT(svc_auth_prune(svc, now), 0);
    struct store_refresh r;
    CHECK_EQ_INT(store_tx_begin(store, false, &tx), 0);
    CHECK_EQ_INT(store_refresh_find(tx, "prune-long-ago", &r), SB_E_NOTFOUND);
    CHECK_EQ_INT(store_refresh_find(tx, "prune-recent", &r), 0);
    CHECK_EQ_INT(store_refresh_find(tx, "prune-live", &r), 0);
    store_tx_rollback(tx);
    svc_set_auth(svc, NULL);
    auth_session_free(auth);
    json_decref(u);
}

int main(void)
{
    char dir[] = "/tmp/sbsvcXXXXXX";
    if (test_store_open(dir, &store) < 0) {
        return 1;
    }
    struct svc_config cfg = {.presence_grace_ms = 100};
    CHECK_EQ_INT(svc_new(store, &cfg, &svc), 0);
    CHECK_EQ_INT(svc_seed_demo(svc), 0);
    svc_actor_system(&root);
    root.system = false;
    root.who.role = ROLE_SUPER_ADMIN;
    json_t *u = find(STORE_USERS, "email", "root@demo.test");
    snprintf(root.who.user_id, sizeof root.who.user_id, "%s", str(u, "id"));
    json_decref(u);
    json_t *c = find(STORE_CLIENTS, "slug", "acme");
    snprintf(acme, sizeof acme, "%s", str(c, "id"));
    json_decref(c);
    c = find(STORE_CLIENTS, "slug", "globex");
    snprintf(globex, sizeof globex, "%s", str(c, "id"));
    json_decref(c);

    test_presence_tick();
    test_idle_away();
    test_bulk_atomic();
    test_message_tick();
    test_jobs_publish_on_change();
    test_stats_window();
    test_history_straddle_tie();
    test_history_prune();
    test_refresh_prune();

    svc_free(svc);
    store_free(store);
    test_store_remove(dir);
    return test_done();
}
