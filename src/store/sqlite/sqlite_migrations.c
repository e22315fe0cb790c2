/*
 * The SQLite schema as versioned migrations: migrations[i] is version i + 1, a NULL-terminated
 * array of statements run in one transaction by sqlite_migrate(). A migration, once shipped,
 * never changes; a schema change is a new entry at the end (and a line in schema.c).
 *
 * Migration 1 is the whole data model of DESIGN §4. Times are RFC 3339 text with milliseconds
 * ('%Y-%m-%dT%H:%M:%fZ') so that text order is time order; JSON columns are text checked by
 * json_valid(). The change log is written by triggers, so writes made directly in SQL are
 * captured too: each INSERT/UPDATE/DELETE on a logged table appends exactly one `changes` row
 * in the same transaction, with the row as a JSON object (users.password_hash left out).
 * `changes.seq` is AUTOINCREMENT: with one writer and rollback restoring sqlite_sequence it
 * is gap-free and in commit order. audit_logs rejects UPDATE and DELETE; changes rejects UPDATE
 * but allows DELETE (retention).
 */
#include "store/sqlite/sqlite_int.h"

#define NOW "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
#define COMMON                                                                                     \
    "created_at TEXT NOT NULL DEFAULT " NOW ", updated_at TEXT NOT NULL DEFAULT " NOW ", "         \
    "version INTEGER NOT NULL DEFAULT 1"

static const char *const migration_1[] = {
    "CREATE TABLE clients ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " slug TEXT NOT NULL UNIQUE,"
    " status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),"
    " settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)"
    "   AND json_type(settings) = 'object'), " COMMON ")",
    "CREATE INDEX clients_status ON clients (status)",
    "CREATE INDEX clients_created ON clients (created_at, id)",

    "CREATE TABLE users ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " client_id TEXT REFERENCES clients (id) ON DELETE CASCADE,"
    " email TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " name TEXT NOT NULL DEFAULT '',"
    " role TEXT NOT NULL CHECK (role IN ('super_admin', 'admin', 'agent', 'viewer')),"
    " status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),"
    " last_login_at TEXT,"
    " password_hash TEXT, " COMMON ","
    " CHECK (client_id IS NOT NULL OR role = 'super_admin'))",
    "CREATE INDEX users_client ON users (client_id, created_at)",
    "CREATE INDEX users_client_role ON users (client_id, role)",

    "CREATE TABLE agent_status ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,"
    " user_id TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,"
    " display_name TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'offline'"
    "   CHECK (status IN ('online', 'away', 'busy', 'offline')),"
    " reason TEXT,"
    " status_since TEXT NOT NULL DEFAULT " NOW ","
    " updated_by TEXT, " COMMON ")",
    "CREATE INDEX agent_status_client ON agent_status (client_id, status)",

    "CREATE TABLE agent_status_history ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " agent_id TEXT NOT NULL REFERENCES agent_status (id) ON DELETE CASCADE,"
    " client_id TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('online', 'away', 'busy', 'offline')),"
    " reason TEXT,"
    " started_at TEXT NOT NULL DEFAULT " NOW ","
    " ended_at TEXT,"
    " changed_by TEXT)",
    "CREATE INDEX agent_history_agent ON agent_status_history (agent_id, started_at)",
    "CREATE INDEX agent_history_client ON agent_status_history (client_id, started_at)",

    "CREATE TABLE system_messages ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " client_id TEXT REFERENCES clients (id) ON DELETE CASCADE,"
    " title TEXT NOT NULL,"
    " body TEXT NOT NULL DEFAULT '',"
    " priority TEXT NOT NULL DEFAULT 'normal'"
    "   CHECK (priority IN ('low', 'normal', 'high', 'critical')),"
    " starts_at TEXT NOT NULL DEFAULT " NOW ","
    " expires_at TEXT,"
    " state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('scheduled', 'active', 'expired')),"
    " created_by TEXT, " COMMON ")",
    "CREATE INDEX messages_client ON system_messages (client_id, created_at)",
    "CREATE INDEX messages_state ON system_messages (state, starts_at, expires_at)",

    "CREATE TABLE audit_logs ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " at TEXT NOT NULL,"
    " actor_id TEXT,"
    " actor_email TEXT,"
    " client_id TEXT,"
    " action TEXT NOT NULL,"
    " entity_type TEXT NOT NULL,"
    " entity_id TEXT,"
    " \"before\" TEXT CHECK (\"before\" IS NULL OR json_valid(\"before\")),"
    " \"after\" TEXT CHECK (\"after\" IS NULL OR json_valid(\"after\")),"
    " ip TEXT,"
    " user_agent TEXT,"
    " request_id TEXT,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL)",
    "CREATE INDEX audit_client ON audit_logs (client_id, seq)",
    "CREATE INDEX audit_entity ON audit_logs (entity_type, entity_id)",
    "CREATE INDEX audit_actor ON audit_logs (actor_id)",
    "CREATE INDEX audit_at ON audit_logs (at)",
    "CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs BEGIN"
    " SELECT RAISE(ABORT, 'audit_logs is append-only'); END",
    "CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs BEGIN"
    " SELECT RAISE(ABORT, 'audit_logs is append-only'); END",

    "CREATE TABLE changes ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at TEXT NOT NULL DEFAULT " NOW ","
    " client_id TEXT,"
    " table_name TEXT NOT NULL,"
    " op TEXT NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE')),"
    " row_id TEXT NOT NULL,"
    " record TEXT,"
    " old_record TEXT)",
    "CREATE INDEX changes_at ON changes (at)",
    "CREATE TRIGGER changes_no_update BEFORE UPDATE ON changes BEGIN"
    " SELECT RAISE(ABORT, 'changes is append-only'); END",

    "CREATE TABLE refresh_tokens ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " family_id TEXT NOT NULL,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " expires_at TEXT NOT NULL,"
    " used_at TEXT,"
    " revoked_at TEXT,"
    " created_at TEXT NOT NULL DEFAULT " NOW ")",
    "CREATE INDEX refresh_user ON refresh_tokens (user_id)",
    "CREATE INDEX refresh_family ON refresh_tokens (family_id)",

    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",

    /* Change-log triggers (generated from the column lists of schema.c). */
    "CREATE TRIGGER \"clients_changes_insert\" AFTER INSERT ON \"clients\" BEGIN INSERT INTO "
    "changes (client_id, table_name, op, row_id, record, old_record) VALUES (NEW.\"id\", "
    "'clients', 'INSERT', NEW.id, json_object('id', NEW.\"id\", 'name', NEW.\"name\", "
    "'slug', NEW.\"slug\", 'status', NEW.\"status\", 'settings', json(NEW.\"settings\"), "
    "'created_at', NEW.\"created_at\", 'updated_at', NEW.\"updated_at\", 'version', "
    "NEW.\"version\"), NULL); END",
    "CREATE TRIGGER \"clients_changes_update\" AFTER UPDATE ON \"clients\" BEGIN INSERT INTO "
    "changes (client_id, table_name, op, row_id, record, old_record) VALUES (NEW.\"id\", "
    "'clients', 'UPDATE', NEW.id, json_object('id', NEW.\"id\", 'name', NEW.\"name\", "
    "'slug', NEW.\"slug\", 'status', NEW.\"status\", 'settings', json(NEW.\"settings\"), "
    "'created_at', NEW.\"created_at\", 'updated_at', NEW.\"updated_at\", 'version', "
    "NEW.\"version\"), json_object('id', OLD.\"id\", 'name', OLD.\"name\", 'slug', OLD.\"slug\", "
    "'status', OLD.\"status\", 'settings', json(OLD.\"settings\"), 'created_at', "
    "OLD.\"created_at\", 'updated_at', OLD.\"updated_at\", 'version', OLD.\"version\")); END",
    "CREATE TRIGGER \"clients_changes_delete\" AFTER DELETE ON \"clients\" BEGIN INSERT INTO "
    "changes (client_id, table_name, op, row_id, record, old_record) VALUES (OLD.\"id\", "
    "'clients', 'DELETE', OLD.id, NULL, json_object('id', OLD.\"id\", 'name', OLD.\"name\", "
    "'slug', OLD.\"slug\", 'status', OLD.\"status\", 'settings', json(OLD.\"settings\"), "
    "'created_at', OLD.\"created_at\", 'updated_at', OLD.\"updated_at\", 'version', "
    "OLD.\"version\")); END",
    "CREATE TRIGGER \"users_changes_insert\" AFTER INSERT ON \"users\" BEGIN INSERT INTO "
    "changes (client_id, table_name, op, row_id, record, old_record) VALUES "
    "(NEW.\"client_id\", 'users', 'INSERT', NEW.id, json_object('id', NEW.\"id\", "
    "'client_id', NEW.\"client_id\", 'email', NEW.\"email\", 'name', NEW.\"name\", 'role', "
    "NEW.\"role\", 'status', NEW.\"status\", 'last_login_at', NEW.\"last_login_at\", "
    "'created_at', NEW.\"created_at\", 'updated_at', NEW.\"updated_at\", 'version', "
    "NEW.\"version\"), NULL); END",
    "CREATE TRIGGER \"users_changes_update\" AFTER UPDATE ON \"users\" BEGIN INSERT INTO "
    "changes (client_id, table_name, op, row_id, record, old_record) VALUES "
    "(NEW.\"client_id\", 'users', 'UPDATE', NEW.id, json_object('id', NEW.\"id\", "
    "'client_id', NEW.\"client_id\", 'email', NEW.\"email\", 'name', NEW.\"name\", 'role', "
    "NEW.\"role\", 'status', NEW.\"status\", 'last_login_at', NEW.\"last_login_at\", "
    "'created_at', NEW.\"created_at\", 'updated_at', NEW.\"updated_at\", 'version', "
    "NEW.\"version\"), json_object('id', OLD.\"id\", 'client_id', OLD.\"client_id\", 'email', "
    "OLD.\"email\", 'name', OLD.\"name\", 'role', OLD.\"role\", 'status', OLD.\"status\", "
    "'last_login_at', OLD.\"last_login_at\", 'created_at', OLD.\"created_at\", 'updated_at', "
    "OLD.\"updated_at\", 'version', OLD.\"version\")); END",
    "CREATE TRIGGER \"users_changes_delete\" AFTER DELETE ON \"users\" BEGIN INSERT INTO "
    "changes (client_id, table_name, op, row_id, record, old_record) VALUES "
    "(OLD.\"client_id\", 'users', 'DELETE', OLD.id, NULL, json_object('id', OLD.\"id\", "
    "'client_id', OLD.\"client_id\", 'email', OLD.\"email\", 'name', OLD.\"name\", 'role', "
    "OLD.\"role\", 'status', OLD.\"status\", 'last_login_at', OLD.\"last_login_at\", "
    "'created_at', OLD.\"created_at\", 'updated_at', OLD.\"updated_at\", 'version', "
    "OLD.\"version\")); END",
    "CREATE TRIGGER \"agent_status_changes_insert\" AFTER INSERT ON \"agent_status\" BEGIN "
    "INSERT INTO changes (client_id, table_name, op, row_id, record, old_record) VALUES "
    "(NEW.\"client_id\", 'agent_status', 'INSERT', NEW.id, json_object('id', NEW.\"id\", "
    "'client_id', NEW.\"client_id\", 'user_id', NEW.\"user_id\", 'display_name', "
    "NEW.\"display_name\", 'status', NEW.\"status\", 'reason', NEW.\"reason\", 'status_since', "
    "NEW.\"status_since\", 'updated_by', NEW.\"updated_by\", 'created_at', NEW.\"created_at\", "
    "'updated_at', NEW.\"updated_at\", 'version', NEW.\"version\"), NULL); END",
    "CREATE TRIGGER \"agent_status_changes_update\" AFTER UPDATE ON \"agent_status\" BEGIN "
    "INSERT INTO changes (client_id, table_name, op, row_id, record, old_record) VALUES "
    "(NEW.\"client_id\", 'agent_status', 'UPDATE', NEW.id, json_object('id', NEW.\"id\", "
    "'client_id', NEW.\"client_id\", 'user_id', NEW.\"user_id\", 'display_name', "
    "NEW.\"display_name\", 'status', NEW.\"status\", 'reason', NEW.\"reason\", 'status_since', "
    "NEW.\"status_since\", 'updated_by', NEW.\"updated_by\", 'created_at', NEW.\"created_at\", "
    "'updated_at', NEW.\"updated_at\", 'version', NEW.\"version\"), json_object('id', "
    "OLD.\"id\", 'client_id', OLD.\"client_id\", 'user_id', OLD.\"user_id\", 'display_name', "
    "OLD.\"display_name\", 'status', OLD.\"status\", 'reason', OLD.\"reason\", 'status_since', "
    "OLD.\"status_since\", 'updated_by', OLD.\"updated_by\", 'created_at', OLD.\"created_at\", "
    "'updated_at', OLD.\"updated_at\", 'version', OLD.\"version\")); END",
    "CREATE TRIGGER \"agent_status_changes_delete\" AFTER DELETE ON \"agent_status\" BEGIN "
    "INSERT INTO changes (client_id, table_name, op, row_id, record, old_record) VALUES "
    "(OLD.\"client_id\", 'agent_status', 'DELETE', OLD.id, NULL, json_object('id', "
    "OLD.\"id\", 'client_id', OLD.\"client_id\", 'user_id', OLD.\"user_id\", 'display_name', "
    "OLD.\"display_name\", 'status', OLD.\"status\", 'reason', OLD.\"reason\", 'status_since', "
    "OLD.\"status_since\", 'updated_by', OLD.\"updated_by\", 'created_at', OLD.\"created_at\", "
    "'updated_at', OLD.\"updated_at\", 'version', OLD.\"version\")); END",
    "CREATE TRIGGER \"system_messages_changes_insert\" AFTER INSERT ON \"system_messages\" "
    "BEGIN INSERT INTO changes (client_id, table_name, op, row_id, record, old_record) "
    "VALUES (NEW.\"client_id\", 'system_messages', 'INSERT', NEW.id, json_object('id', "
    "NEW.\"id\", 'client_id', NEW.\"client_id\", 'title', NEW.\"title\", 'body', NEW.\"body\", "
    "'priority', NEW.\"priority\", 'starts_at', NEW.\"starts_at\", 'expires_at', "
    "NEW.\"expires_at\", 'state', NEW.\"state\", 'created_by', NEW.\"created_by\", "
    "'created_at', NEW.\"created_at\", 'updated_at', NEW.\"updated_at\", 'version', "
    "NEW.\"version\"), NULL); END",
    "CREATE TRIGGER \"system_messages_changes_update\" AFTER UPDATE ON \"system_messages\" "
    "BEGIN INSERT INTO changes (client_id, table_name, op, row_id, record, old_record) "
    "VALUES (NEW.\"client_id\", 'system_messages', 'UPDATE', NEW.id, json_object('id', "
    "NEW.\"id\", 'client_id', NEW.\"client_id\", 'title', NEW.\"title\", 'body', NEW.\"body\", "
    "'priority', NEW.\"priority\", 'starts_at', NEW.\"starts_at\", 'expires_at', "
    "NEW.\"expires_at\", 'state', NEW.\"state\", 'created_by', NEW.\"created_by\", "
    "'created_at', NEW.\"created_at\", 'updated_at', NEW.\"updated_at\", 'version', "
    "NEW.\"version\"), json_object('id', OLD.\"id\", 'client_id', OLD.\"client_id\", 'title', "
    "OLD.\"title\", 'body', OLD.\"body\", 'priority', OLD.\"priority\", 'starts_at', "
    "OLD.\"starts_at\", 'expires_at', OLD.\"expires_at\", 'state', OLD.\"state\", "
    "'created_by', OLD.\"created_by\", 'created_at', OLD.\"created_at\", 'updated_at', "
    "OLD.\"updated_at\", 'version', OLD.\"version\")); END",
    "CREATE TRIGGER \"system_messages_changes_delete\" AFTER DELETE ON \"system_messages\" "
    "BEGIN INSERT INTO changes (client_id, table_name, op, row_id, record, old_record) "
    "VALUES (OLD.\"client_id\", 'system_messages', 'DELETE', OLD.id, NULL, "
    "json_object('id', OLD.\"id\", 'client_id', OLD.\"client_id\", 'title', OLD.\"title\", "
    "'body', OLD.\"body\", 'priority', OLD.\"priority\", 'starts_at', OLD.\"starts_at\", "
    "'expires_at', OLD.\"expires_at\", 'state', OLD.\"state\", 'created_by', "
    "OLD.\"created_by\", 'created_at', OLD.\"created_at\", 'updated_at', OLD.\"updated_at\", "
    "'version', OLD.\"version\")); END",
    "CREATE TRIGGER \"audit_logs_changes_insert\" AFTER INSERT ON \"audit_logs\" BEGIN "
    "INSERT INTO changes (client_id, table_name, op, row_id, record, old_record) VALUES "
    "(NEW.\"client_id\", 'audit_logs', 'INSERT', NEW.id, json_object('id', NEW.\"id\", "
    "'seq', NEW.\"seq\", 'at', NEW.\"at\", 'actor_id', NEW.\"actor_id\", 'actor_email', "
    "NEW.\"actor_email\", 'client_id', NEW.\"client_id\", 'action', NEW.\"action\", "
    "'entity_type', NEW.\"entity_type\", 'entity_id', NEW.\"entity_id\", 'before', "
    "json(NEW.\"before\"), 'after', json(NEW.\"after\"), 'ip', NEW.\"ip\", 'user_agent', "
    "NEW.\"user_agent\", 'request_id', NEW.\"request_id\", 'prev_hash', NEW.\"prev_hash\", "
    "'hash', NEW.\"hash\"), NULL); END",
    NULL,
};

/* Migration 2: login-limit events (auth/ratelimit.h), kept across restarts. */
static const char *const migration_2[] = {
    "CREATE TABLE login_events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL)",
    "CREATE INDEX login_events_key ON login_events (key, at_ms)",
    "CREATE INDEX login_events_expires ON login_events (expires_ms)",
    NULL,
};

/* Migration 3: the dashboard history (svc/history.c), kept across restarts: one row per tenant
 * (client_key: the client id, '' for the all-tenants view) and metrics interval, pruned after
 * 24 h by the jobs thread. Not in the change log. */
static const char *const migration_3[] = {
    "CREATE TABLE dashboard_points ("
    " client_key TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " online INTEGER NOT NULL, away INTEGER NOT NULL, busy INTEGER NOT NULL,"
    " offline INTEGER NOT NULL, active_messages INTEGER NOT NULL,"
    " critical_messages INTEGER NOT NULL, connections INTEGER NOT NULL,"
    " events_per_minute INTEGER NOT NULL,"
    " PRIMARY KEY (client_key, at_ms)) WITHOUT ROWID",
    "CREATE INDEX dashboard_points_at ON dashboard_points (at_ms)",
    NULL,
};

/* Migration 4: indexes for the two hottest requests. The open history row of an agent
 * (ended_at IS NULL; svc/agents.c looks it up on every status change) is found without walking
 * that agent's whole history, which grows by one row per change; a tenant's agent list comes
 * in its default order (display_name, id) without a sort. */
static const char *const migration_4[] = {
    "CREATE INDEX agent_history_open ON agent_status_history (agent_id, started_at, id) "
    "WHERE ended_at IS NULL",
    "CREATE INDEX agent_status_client_name ON agent_status (client_id, display_name, id)",
    NULL,
};

/* Migration 5: per-user preferences (the panel's notification settings, svc/prefs.c): one
 * JSON object per user, deleted with the user. Not a row of the data model (no version) and
 * not in the change log: only its own user reads and writes it. */
static const char *const migration_5[] = {
    "CREATE TABLE user_preferences ("
    " user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " prefs TEXT NOT NULL CHECK (json_valid(prefs) AND json_type(prefs) = 'object'),"
    " updated_at TEXT NOT NULL DEFAULT " NOW ") WITHOUT ROWID",
    NULL,
};

/* Migration 6: the same CHECK constraints, written as OR chains. SQLite codes `x IN (a, b, c)`
 * with more than two constants as an ephemeral index built on every run of a statement, and
 * a status change runs four such checks (the agent row, its history row, two change-log rows):
 * about 7 % of its instructions. The rows on disk do not change, so the table definitions are
 * edited in place (sqlite.org/lang_altertable.html, "other kinds of table schema changes");
 * sq_migrate bumps schema_version after every migration, so every connection reloads them. */
#define OR_CHECK(table, from, to)                                                                  \
    "UPDATE sqlite_schema SET sql = replace(sql, '" from "', '" to "') "                           \
    "WHERE type = 'table' AND name = '" table "'"
#define STATUS_IN "status IN (''online'', ''away'', ''busy'', ''offline'')"
#define STATUS_OR                                                                                  \
    "status = ''online'' OR status = ''away'' OR status = ''busy'' OR status = ''offline''"
static const char *const migration_6[] = {
    "PRAGMA writable_schema = ON",
    OR_CHECK("agent_status", STATUS_IN, STATUS_OR),
    OR_CHECK("agent_status_history", STATUS_IN, STATUS_OR),
    OR_CHECK("changes", "op IN (''INSERT'', ''UPDATE'', ''DELETE'')",
             "op = ''INSERT'' OR op = ''UPDATE'' OR op = ''DELETE''"),
    OR_CHECK("users", "role IN (''super_admin'', ''admin'', ''agent'', ''viewer'')",
             "role = ''super_admin'' OR role = ''admin'' OR role = ''agent'' OR role = ''viewer''"),
    OR_CHECK("system_messages", "priority IN (''low'', ''normal'', ''high'', ''critical'')",
             "priority = ''low'' OR priority = ''normal'' OR priority = ''high'' OR "
             "priority = ''critical''"),
    OR_CHECK("system_messages", "state IN (''scheduled'', ''active'', ''expired'')",
             "state = ''scheduled'' OR state = ''active'' OR state = ''expired''"),
    "PRAGMA writable_schema = OFF",
    NULL,
};

/* Migration 7: the change-log row of an audit entry no longer copies the entry. An entry is
 * never changed or deleted, so the change log's reader builds the same record from it when it
 * reads the row (sq_changes_read, audit_record); the copy, with the entry's before and
 * after parsed and encoded again, was about a third of the bytes an agent status change
 * wrote. Rows written before keep their copies. */
static const char *const migration_7[] = {
    "DROP TRIGGER audit_logs_changes_insert",
    "CREATE TRIGGER \"audit_logs_changes_insert\" AFTER INSERT ON \"audit_logs\" BEGIN "
    "INSERT INTO changes (client_id, table_name, op, row_id, record, old_record) VALUES "
    "(NEW.\"client_id\", 'audit_logs', 'INSERT', NEW.id, NULL, NULL); END",
    NULL,
};

/* Migration 8: no index on the change log's `at`. Every change wrote an entry into it (two
 * per agent status change), and its only reader was the retention prune, which now finds the
 * first row to keep by walking the log from its oldest row (sq_changes_prune). */
static const char *const migration_8[] = {
    "DROP INDEX changes_at",
    NULL,
};

/* Migration 9: refresh tokens found by expiry, for store_refresh_prune (the table grew by one
 * row per refresh, forever). */
static const char *const migration_9[] = {
    "CREATE INDEX refresh_expires ON refresh_tokens (expires_at)",
    NULL,
};

/* Migration 10: statistics for the query planner on the two tables that grow with use.
 * SQLite has none unless ANALYZE runs (which reads every index holding the writer: seconds on
 * a large log), and without them it takes an equality on an indexed column for the best way
 * in: a tenant admin's audit entries of one hour were found by walking every entry of the
 * tenant through audit_client (client_id, seq) and testing `at`: 0.5-0.6 s over 1 M entries,
 * growing with the log, against 3-5 ms through audit_at once the planner knows that a tenant
 * holds a large share of the rows. These rows say just that (sqlite.org/optoverview.html,
 * "Manual control of query plans using SQLITE_STAT tables"): a client_id narrows to half the
 * table, an agent or an actor to a few hundred or thousand rows, an id or a time to one. The
 * planner compares them against each other, so the row counts need not match the table.
 * A table that ANALYZE has already measured keeps its own statistics. */
static const char *const migration_10[] = {
    "ANALYZE sqlite_schema", /* creates sqlite_stat1, reads no table */
    "WITH s(tbl, idx, stat) AS (VALUES"
    " ('audit_logs', 'sqlite_autoindex_audit_logs_1', '1000000 1'),"
    " ('audit_logs', 'audit_client', '1000000 500000 1'),"
    " ('audit_logs', 'audit_entity', '1000000 100000 20'),"
    " ('audit_logs', 'audit_actor', '1000000 1000'),"
    " ('audit_logs', 'audit_at', '1000000 1'),"
    " ('agent_status_history', 'sqlite_autoindex_agent_status_history_1', '1000000 1'),"
    " ('agent_status_history', 'agent_history_agent', '1000000 200 1'),"
    " ('agent_status_history', 'agent_history_client', '1000000 500000 1'),"
    " ('agent_status_history', 'agent_history_open', '5000 1 1 1')) "
    "INSERT INTO sqlite_stat1 (tbl, idx, stat) SELECT tbl, idx, stat FROM s "
    "WHERE tbl NOT IN (SELECT tbl FROM sqlite_stat1)",
    NULL,
};

/* Migration 11: an actor's or an entity's audit entries in time order. The audit viewer asks
 * for a user's entries of a day (actor_id with from/to): through audit_actor (actor_id) that
 * read every entry of the actor and tested `at` (0.4-0.65 s for an actor of 125 k entries,
 * growing with the log). With `at` after the equality the window is one index range, and a
 * list narrowed to an actor or an entity comes newest first by time from the index (the
 * audit list's default order for such lists, api.md). The same number of indexes as before:
 * a status change writes no more. SQLite drops an index's statistics with it: the
 * hand-made rows of migration 10 come back with a column more, unless ANALYZE measured the
 * table (then the new indexes wait for the next ANALYZE, docs/limits.md). */
static const char *const migration_11[] = {
    "DROP INDEX audit_actor",
    "CREATE INDEX audit_actor ON audit_logs (actor_id, at)",
    "DROP INDEX audit_entity",
    "CREATE INDEX audit_entity ON audit_logs (entity_type, entity_id, at)",
    "WITH s(idx, stat) AS (VALUES ('audit_actor', '1000000 1000 1'),"
    " ('audit_entity', '1000000 100000 20 1')) "
    "INSERT INTO sqlite_stat1 (tbl, idx, stat) SELECT 'audit_logs', idx, stat FROM s "
    "WHERE (SELECT stat FROM sqlite_stat1 WHERE tbl = 'audit_logs' AND idx = 'audit_client') "
    "= '1000000 500000 1'",
    NULL,
};

static const char *const *const migrations[] = {migration_1, migration_2,  migration_3, migration_4,
                                                migration_5, migration_6,  migration_7, migration_8,
                                                migration_9, migration_10, migration_11};

const char *const *sqlite_migration(int version)
{
    if (version < 1 || (size_t)version > sizeof(migrations) / sizeof(migrations[0])) {
        return NULL;
    }
    return migrations[version - 1];
}

int sqlite_migration_latest(void)
{
    return (int)(sizeof(migrations) / sizeof(migrations[0]));
}
