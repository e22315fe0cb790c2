/*
 * The PostgreSQL backend: the connection pool, the per-connection statement cache, running
 * statements (savepoints, error mapping), transactions, migrations and the ops table (see
 * pg_int.h for the connection model and pg_migrations.c for the schema and the change log).
 *
 * Transactions. A read transaction is REPEATABLE READ READ ONLY: one snapshot, taken at its
 * first statement (usually store_tx_head_seq), so a list and the change-log position it
 * reports agree. A write transaction takes write_mu (one writer per process, as with SQLite),
 * then a pooled connection, runs BEGIN (READ COMMITTED) and at once locks the single row of
 * changes_counter (SELECT ... FOR UPDATE): from then on it is the only writer of the store on
 * any node until it commits or rolls back. READ COMMITTED matters: a writer that waited for
 * the counter lock must see the value the previous writer committed, where REPEATABLE READ
 * would fail with a serialization error. Optimistic concurrency stays in store.c
 * (UPDATE ... WHERE version = n).
 *
 * Tenant scope (row-level security, pg_migrations.c migration 2). A transaction begins with
 * switchboard.scope unset, which the policies treat as unrestricted; pg_scope_apply() sets it
 * transaction-locally to the scope of each row function, and remembers the value in the
 * pg_tx so that a run of calls with one scope costs a single set_config. set_config runs
 * outside the per-statement savepoints, so rolling one back never undoes it, and the value
 * ends with the transaction, so a pooled connection never carries it to the next one.
 *
 * A connection found broken when it is checked out is reset (and its statement cache, which
 * lived in the old server session, dropped), so a restarted server costs one failed call.
 */
#include "store/postgres/pg_int.h"

#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"

#define MIGRATE_LOCK_KEY 0x73776264 /* pg_advisory_xact_lock key that serialises migrations */

int pg_err(PGconn *db, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state) {
        if (strcmp(state, "23505") == 0) {
            return SB_E_CONFLICT; /* unique_violation */
        }
        if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0) {
            return SB_E_INVAL; /* not null, check, foreign key; malformed values */
        }
        if (strcmp(state, "42501") == 0) {
            return SB_E_FORBIDDEN; /* append-only triggers, revoked grants */
        }
        if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
            strcmp(state, "55P03") == 0) {
            return SB_E_AGAIN; /* serialization failure, deadlock, lock timeout */
        }
    }
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if (!msg || !msg[0]) {
        msg = db ? PQerrorMessage(db) : "no connection";
    }
    log_error("postgres: %s%s%s", state ? state : "", state ? ": " : "", msg);
    return SB_E_DB;
}

/* Run a fixed statement without parameters; 0 or an error. */
static int exec_simple(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_err(db, res);
    PQclear(res);
    return rc;
}

json_t *pg_value(const PGresult *res, int row, int col, enum store_coltype type)
{
    if (PQgetisnull(res, row, col)) {
        return json_null();
    }
    const char *text = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    switch (type) {
    case COL_INT:
        return json_integer(strtoll(text, NULL, 10));
    case COL_BOOL:
        return json_boolean(text[0] == 't');
    case COL_JSON: {
        json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
        return v ? v : json_null();
    }
    default: {
        json_t *v = json_stringn(text, len);
        return v ? v : json_null();
    }
    }
}

/* The text form of a parameter; *owned is set when the caller must free it. */
static int param_text(json_t *v, const char **out, char **owned)
{
    *owned = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            return SB_E_INVAL; /* PostgreSQL text cannot hold NUL */
        }
        *out = json_string_value(v);
        return 0;
    case JSON_INTEGER:
        *owned = xasprintf("%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        *owned = xasprintf("%.17g", json_real_value(v));
        break;
    case JSON_TRUE:
        *out = "true";
        return 0;
    case JSON_FALSE:
        *out = "false";
        return 0;
    case JSON_OBJECT:
    case JSON_ARRAY:
        *owned = json_dumps(v, JSON_COMPACT);
        if (!*owned) {
            return SB_E_NOMEM;
        }
        break;
    default:
        *out = NULL;
        return 0;
    }
    *out = *owned;
    return 0;
}

/* The cached statement name for sql on c, preparing it on first use; NULL (with rc 0) when
 * the cache is full and the statement must run unnamed. */
static int statement(struct pg_conn *c, const char *sql, int nparams, const char **name)
{
    *name = NULL;
    for (size_t i = 0; i < c->ncache; i++) {
        if (strcmp(c->cache[i].sql, sql) == 0) {
            *name = c->cache[i].name;
            return 0;
        }
    }
    if (c->ncache >= PG_CACHE_MAX) {
        return 0;
    }
    struct pg_cached *e = &c->cache[c->ncache];
    snprintf(e->name, sizeof(e->name), "sb%u", c->next_name++);
    PGresult *res = PQprepare(c->db, e->name, sql, nparams, NULL);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_err(c->db, res);
    PQclear(res);
    if (rc < 0) {
        return rc;
    }
    e->sql = xstrdup(sql);
    c->ncache++;
    *name = e->name;
    return 0;
}

int pg_run(struct store_tx *base, const char *sql, json_t *args, PGresult **res_out)
{
    struct pg_tx *tx = pg_tx(base);
    struct pg_conn *c = tx->conn;
    if (res_out) {
        *res_out = NULL;
    }
    if (tx->failed) {
        return SB_E_DB;
    }
    size_t n = args ? json_array_size(args) : 0;
    if (n > PG_MAX_PARAMS) {
        return SB_E_INVAL;
    }
    const char **values = xcalloc(n ? n : 1, sizeof(*values));
    char **owned = xcalloc(n ? n : 1, sizeof(*owned));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = param_text(json_array_get(args, i), &values[i], &owned[i]);
    }
    /* Reads in a write transaction do not fail on constraints: no savepoint for them. */
    bool savepoint = tx->write && strncmp(sql, "SELECT", 6) != 0;
    if (rc == 0 && savepoint) {
        rc = exec_simple(c->db, "SAVEPOINT sb_stmt");
    }
    PGresult *res = NULL;
    if (rc == 0) {
        const char *name = NULL;
        rc = statement(c, sql, (int)n, &name);
        if (rc == 0) {
            res = name ? PQexecPrepared(c->db, name, (int)n, values, NULL, NULL, 0)
                       : PQexecParams(c->db, sql, (int)n, NULL, values, NULL, NULL, 0);
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_TUPLES_OK) {
                rc = PQntuples(res);
            } else if (st == PGRES_COMMAND_OK) {
                rc = (int)strtol(PQcmdTuples(res), NULL, 10);
            } else {
                rc = pg_err(c->db, res);
            }
        }
        if (savepoint) {
            int sp = exec_simple(c->db, rc < 0 ? "ROLLBACK TO SAVEPOINT sb_stmt"
                                               : "RELEASE SAVEPOINT sb_stmt");
            if (sp < 0) {
                tx->failed = true;
                rc = rc < 0 ? rc : sp;
            }
        } else if (rc < 0) {
            tx->failed = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(owned[i]);
    }
    free(owned);
    free(values);
    if (rc >= 0 && res_out) {
        *res_out = res;
    } else {
        PQclear(res);
    }
    return rc;
}

/* The value of switchboard.scope for a scope of no tenant: no client id looks like this. */
#define SCOPE_NONE "-"

int pg_scope_apply(struct store_tx *base, const struct store_scope *scope)
{
    struct pg_tx *tx = pg_tx(base);
    const char *want = "";
    if (!scope->all) {
        /* '' and '*' mean unrestricted to the policies: never let a tenant id turn into one. */
        const char *id = scope->client_id;
        want = id && id[0] && strcmp(id, "*") != 0 ? id : SCOPE_NONE;
    }
    if (strcmp(tx->scope ? tx->scope : "", want) == 0) {
        return 0;
    }
    json_t *args = json_pack("[s]", want);
    if (!args) {
        return SB_E_INVAL;
    }
    int rc = pg_run(base, "SELECT set_config('switchboard.scope', $1, true)", args, NULL);
    json_decref(args);
    if (rc < 0) {
        return rc;
    }
    free(tx->scope);
    tx->scope = want[0] ? xstrdup(want) : NULL;
    return 0;
}

static void conn_forget_statements(struct pg_conn *c)
{
    for (size_t i = 0; i < c->ncache; i++) {
        free(c->cache[i].sql);
    }
    c->ncache = 0;
}

static void conn_close(struct pg_conn *c)
{
    conn_forget_statements(c);
    PQfinish(c->db);
    c->db = NULL;
}

/* Per-session settings; 0 or SB_E_DB. */
static int conn_setup(struct pg_conn *c)
{
    if (PQstatus(c->db) != CONNECTION_OK) {
        log_error("postgres: cannot connect: %s", PQerrorMessage(c->db));
        return SB_E_DB;
    }
    c->backend_pid = PQbackendPID(c->db); /* under pool_mu or before the listener starts */
    return exec_simple(c->db, "SET client_min_messages TO warning") < 0 ? SB_E_DB : 0;
}

static int conn_open(struct pg_conn *c, const char *conninfo)
{
    memset(c, 0, sizeof(*c));
    const char *keys[] = {"fallback_application_name", "connect_timeout", "dbname", NULL};
    const char *vals[] = {"switchboard", "10", conninfo, NULL};
    c->db = PQconnectdbParams(keys, vals, 1);
    if (!c->db) {
        return SB_E_NOMEM;
    }
    int rc = conn_setup(c);
    if (rc < 0) {
        conn_close(c);
    }
    return rc;
}

/* A checked-out connection that lost its server gets one reconnect attempt. */
static int conn_ensure(struct pg_store *s, struct pg_conn *c)
{
    if (PQstatus(c->db) == CONNECTION_OK) {
        return 0;
    }
    conn_forget_statements(c);
    PQreset(c->db);
    pthread_mutex_lock(&s->pool_mu);
    int rc = conn_setup(c);
    pthread_mutex_unlock(&s->pool_mu);
    return rc;
}

/* Whether pid is one of our pooled connections' server processes. */
static bool is_own_pid(struct pg_store *s, int pid)
{
    bool own = false;
    pthread_mutex_lock(&s->pool_mu);
    for (size_t i = 0; i < s->nconns && !own; i++) {
        own = s->conns[i].backend_pid == pid;
    }
    pthread_mutex_unlock(&s->pool_mu);
    return own;
}

static void run_hook(struct store *base)
{
    pthread_mutex_lock(&base->hook_mu);
    store_commit_cb cb = base->hook;
    void *arg = base->hook_arg;
    pthread_mutex_unlock(&base->hook_mu);
    if (cb) {
        cb(arg);
    }
}

PGconn *pg_connect_aux(const char *conninfo, const char *app)
{
    const char *keys[] = {
        "fallback_application_name", "connect_timeout",  "keepalives", "keepalives_idle",
        "keepalives_interval",       "keepalives_count", "dbname",     NULL};
    const char *vals[] = {app, "10", "1", "10", "5", "3", conninfo, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

/* (Re)connect the listener's connection and LISTEN; 0 or SB_E_DB. */
static int listen_connect(struct pg_store *s)
{
    if (s->listen_db && PQstatus(s->listen_db) != CONNECTION_OK) {
        PQreset(s->listen_db);
    } else if (!s->listen_db) {
        s->listen_db = pg_connect_aux(s->conninfo, "switchboard-listen");
    }
    if (!s->listen_db || PQstatus(s->listen_db) != CONNECTION_OK) {
        return SB_E_DB;
    }
    int rc = exec_simple(s->listen_db, "LISTEN switchboard_changes");
    return rc < 0 ? rc : exec_simple(s->listen_db, "LISTEN switchboard_bus");
}

/*
 * The listener thread: wait (poll) for the connection's socket or the stop pipe; drain
 * notifications, hand bus payloads to pg_bus_receive as they come and run the commit hook
 * once per wake-up. A lost connection is retried every second, and after a reconnect the hook
 * runs once in case something was missed meanwhile, and the bus hook hears (NULL, 0).
 */
static void *listen_main(void *arg)
{
    pthread_setname_np(pthread_self(), "sb-pg-listen");
    struct pg_store *s = arg;
    bool connected = true;
    for (;;) {
        struct pollfd fds[2] = {{.fd = s->stop_pipe[0], .events = POLLIN},
                                {.fd = connected ? PQsocket(s->listen_db) : -1, .events = POLLIN}};
        int n = poll(fds, 2, connected ? -1 : 1000);
        if (n < 0 && errno != EINTR) {
            break;
        }
        if (fds[0].revents) {
            break;
        }
        if (!connected) {
            connected = listen_connect(s) == 0;
            if (connected) {
                log_info("postgres: listener reconnected");
                pg_bus_count_reconnect(&s->base);
                run_hook(&s->base);
                store_bus_deliver(&s->base, NULL, 0);
            }
            continue;
        }
        if (!fds[1].revents) {
            continue;
        }
        if (!PQconsumeInput(s->listen_db)) {
            log_warn("postgres: listener connection lost: %s", PQerrorMessage(s->listen_db));
            connected = false;
            continue;
        }
        bool any = false;
        for (PGnotify *nt = PQnotifies(s->listen_db); nt; nt = PQnotifies(s->listen_db)) {
            if (strcmp(nt->relname, "switchboard_bus") == 0) {
                pg_bus_receive(s, s->listen_db, nt->extra);
            } else {
                any = any || !is_own_pid(s, nt->be_pid);
            }
            PQfreemem(nt);
        }
        if (any) {
            run_hook(&s->base);
        }
    }
    return NULL;
}

static int listen_start(struct pg_store *s)
{
    if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
        s->stop_pipe[0] = s->stop_pipe[1] = -1;
        return SB_E_IO;
    }
    if (listen_connect(s) < 0) {
        return SB_E_DB;
    }
    if (pthread_create(&s->listen_thread, NULL, listen_main, s) != 0) {
        return SB_E_INTERNAL;
    }
    s->listening = true;
    return 0;
}

static void pg_free(struct store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    pg_bus_stop(s);
    if (s->listening) {
        ssize_t w = write(s->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(s->listen_thread, NULL);
    }
    for (int i = 0; i < 2; i++) {
        if (s->stop_pipe[i] >= 0) {
            close(s->stop_pipe[i]);
        }
    }
    PQfinish(s->listen_db);
    for (size_t i = 0; i < s->nconns; i++) {
        conn_close(&s->conns[i]);
    }
    free(s->conns);
    free(s->conninfo);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    pthread_mutex_destroy(&s->write_mu);
    store_base_release(&s->base);
    free(s);
}

static struct pg_conn *checkout(struct pg_store *s)
{
    struct pg_conn *c = NULL;
    pthread_mutex_lock(&s->pool_mu);
    for (;;) {
        for (size_t i = 0; i < s->nconns && !c; i++) {
            if (!s->conns[i].in_use) {
                c = &s->conns[i];
            }
        }
        if (c) {
            break;
        }
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    }
    c->in_use = true;
    pthread_mutex_unlock(&s->pool_mu);
    return c;
}

static void checkin(struct pg_store *s, struct pg_conn *c)
{
    pthread_mutex_lock(&s->pool_mu);
    c->in_use = false;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

static void tx_release(struct pg_tx *tx)
{
    struct pg_store *s = (struct pg_store *)tx->base.store;
    checkin(s, tx->conn);
    if (tx->write) {
        pthread_mutex_unlock(&s->write_mu);
    }
    free(tx->scope);
    free(tx);
}

/* Begin on a pooled connection; lock_counter takes the writers' row lock (not before the
 * schema exists: migrations and the schema version use lock_counter = false). */
static int tx_open(struct store *base, bool write, bool lock_counter, struct store_tx **out)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pg_tx *tx = xcalloc(1, sizeof(*tx));
    tx->base.store = base;
    tx->base.write = write;
    tx->write = write;
    if (write) {
        pthread_mutex_lock(&s->write_mu);
    }
    tx->conn = checkout(s);
    int rc = conn_ensure(s, tx->conn);
    if (rc == 0) {
        rc = exec_simple(tx->conn->db, write ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                                             : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    }
    if (rc == 0 && lock_counter) {
        rc = exec_simple(tx->conn->db, "SELECT seq FROM changes_counter FOR UPDATE");
        if (rc < 0) {
            exec_simple(tx->conn->db, "ROLLBACK");
        }
    }
    if (rc < 0) {
        tx_release(tx);
        return rc == SB_E_AGAIN ? rc : SB_E_DB;
    }
    *out = &tx->base;
    return 0;
}

int pg_tx_begin(struct store *base, bool write, struct store_tx **out)
{
    return tx_open(base, write, write, out);
}

void pg_tx_rollback(struct store_tx *base)
{
    struct pg_tx *tx = pg_tx(base);
    if (PQtransactionStatus(tx->conn->db) != PQTRANS_IDLE) {
        exec_simple(tx->conn->db, "ROLLBACK");
    }
    tx_release(tx);
}

int pg_tx_commit(struct store_tx *base)
{
    struct pg_tx *tx = pg_tx(base);
    PGconn *db = tx->conn->db;
    int rc = 0;
    if (tx->failed || PQtransactionStatus(db) != PQTRANS_INTRANS) {
        rc = SB_E_DB; /* a failed transaction can only roll back */
    } else {
        PGresult *res = PQexec(db, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            rc = pg_err(db, res);
        } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
            rc = SB_E_DB; /* the server rolled back */
        }
        PQclear(res);
    }
    if (rc < 0 && PQtransactionStatus(db) != PQTRANS_IDLE) {
        exec_simple(db, "ROLLBACK");
    }
    tx_release(tx);
    return rc;
}

int pg_tx_head_seq(struct store_tx *tx, int64_t *out)
{
    /* The head is global: sb_changes_head() lifts a tenant scope for its one query. */
    PGresult *res = NULL;
    int rc = pg_run(tx, "SELECT sb_changes_head()", NULL, &res);
    if (rc < 0) {
        return rc;
    }
    *out = rc == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return 0;
}

/* Schema version inside tx (0 before the first migration). */
static int version_in(struct store_tx *tx, int *out)
{
    *out = 0;
    PGresult *res = NULL;
    int rc = pg_run(tx, "SELECT to_regclass('schema_migrations') IS NOT NULL", NULL, &res);
    if (rc < 0) {
        return rc;
    }
    bool exists = rc == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!exists) {
        return 0;
    }
    rc = pg_run(tx, "SELECT coalesce(max(version), 0) FROM schema_migrations", NULL, &res);
    if (rc < 0) {
        return rc;
    }
    *out = rc == 1 ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return 0;
}

static int pg_schema_version(struct store *base, int *out)
{
    struct store_tx *tx = NULL;
    int rc = tx_open(base, false, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = version_in(tx, out);
    pg_tx_rollback(tx);
    return rc;
}

/* Apply the migration after the current version in one transaction; 1 applied, 0 none left.
 * The advisory lock serialises nodes that start at the same time. */
static int migrate_one(struct store *base)
{
    struct store_tx *tx = NULL;
    int rc = tx_open(base, true, false, &tx);
    if (rc < 0) {
        return rc;
    }
    PGconn *db = pg_tx(tx)->conn->db;
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d)", MIGRATE_LOCK_KEY);
    rc = exec_simple(db, sql);
    if (rc == 0) {
        rc = exec_simple(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                             "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
    }
    int version = 0;
    if (rc == 0) {
        rc = version_in(tx, &version);
    }
    if (rc == 0 && version > 0 && !pg_migration(version)) {
        log_error("postgres: the database schema is at version %d, newer than this switchboard "
                  "knows (%d): upgrade switchboard on every node, or restore a dump taken "
                  "before the upgrade",
                  version, pg_migration_latest());
        pg_tx_rollback(tx);
        return SB_E_SCHEMA;
    }
    const char *const *stmts = rc < 0 ? NULL : pg_migration(version + 1);
    for (size_t i = 0; stmts && stmts[i] && rc == 0; i++) {
        rc = exec_simple(db, stmts[i]);
        if (rc < 0) {
            log_error("postgres: migration %d statement %zu failed", version + 1, i + 1);
        }
    }
    if (rc == 0 && stmts) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, "
                 "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))",
                 version + 1);
        rc = exec_simple(db, sql);
    }
    if (rc < 0) {
        pg_tx_rollback(tx);
        return rc;
    }
    rc = pg_tx_commit(tx);
    return rc < 0 ? rc : stmts ? 1 : 0;
}

static int pg_migrate(struct store *base)
{
    int applied = 0;
    for (int i = 0; i < 10000; i++) {
        int rc = migrate_one(base);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            break;
        }
        applied++;
    }
    return applied;
}

static int pg_ping(struct store *base)
{
    struct store_tx *tx = NULL;
    int rc = tx_open(base, false, false, &tx);
    if (rc < 0) {
        return SB_E_DB;
    }
    rc = exec_simple(pg_tx(tx)->conn->db, "SELECT 1");
    pg_tx_rollback(tx);
    return rc < 0 ? SB_E_DB : 0;
}

static const struct store_ops postgres_ops = {
    .name = "postgres",
    /* Other nodes and direct SQL commit without this process knowing at once (NOTIFY comes
     * after the commit, asynchronously): no commit generation, so no read cache. */
    .sees_every_commit = false,
    .sql = &pg_sql_backend,
    .free = pg_free,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .ping = pg_ping,
    .tx_begin = pg_tx_begin,
    .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback,
    .tx_head_seq = pg_tx_head_seq,
    .meta_get = pg_meta_get,
    .meta_set = pg_meta_set,
    .refresh_insert = pg_refresh_insert,
    .refresh_find = pg_refresh_find,
    .refresh_mark_used = pg_refresh_mark_used,
    .refresh_revoke = pg_refresh_revoke,
    .refresh_revoked_since = pg_refresh_revoked_since,
    .refresh_prune = pg_refresh_prune,
    .events_add = pg_events_add,
    .events_count = pg_events_count,
    .events_clear = pg_events_clear,
    .audit_last = pg_audit_last,
    .audit_scan = pg_audit_scan,
    .changes_read = pg_changes_read,
    .changes_bounds = pg_changes_bounds,
    .changes_prune = pg_changes_prune,
    .bus_publish = pg_bus_publish,
    .bus_stats = pg_bus_stats,
};

int store_postgres_open(const char *url, const struct store_options *opt, struct store **out)
{
    struct pg_store *s = xcalloc(1, sizeof(*s));
    store_base_init(&s->base, &postgres_ops);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    pthread_mutex_init(&s->write_mu, NULL);
    s->conninfo = xstrdup(url);
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    /* One connection per concurrent reader plus the writer's. */
    size_t n = opt->read_connections + 1;
    s->conns = xcalloc(n, sizeof(*s->conns));
    for (size_t i = 0; i < n; i++) {
        if (conn_open(&s->conns[i], url) < 0) {
            pg_free(&s->base);
            return SB_E_DB;
        }
        s->nconns++;
    }
    if (listen_start(s) < 0 || pg_bus_start(s) < 0) {
        pg_free(&s->base);
        return SB_E_DB;
    }
    *out = &s->base;
    return 0;
}
