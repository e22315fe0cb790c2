/*
 * The PostgreSQL schema as versioned migrations: migrations[i] is version i + 1, a
 * NULL-terminated array of statements run in one transaction by pg_migrate(). A migration,
 * once shipped, never changes; a schema change is a new entry at the end (and a line in
 * schema.c). It mirrors sqlite_migrations.c table for table, so both backends return the same
 * rows for the same calls:
 *
 *   - ids and times are text COLLATE "C" (byte order, like SQLite's BINARY); times are
 *     RFC 3339 UTC with milliseconds, so text order is time order and values come back exactly
 *     as SQLite returns them. Defaults for writes made directly in SQL use sb_rfc3339(now()).
 *   - users.email is unique case-insensitively through a unique index on lower(email) (the
 *     "C" collation folds ASCII only, like SQLite's NOCASE); pg_rows.c compares and sorts it
 *     through lower() as SQLite does through NOCASE.
 *   - clients.settings is jsonb checked to be an object. audit_logs.before/after are json, not
 *     jsonb: the hash chain covers the values as they were written, and json keeps their text
 *     exactly (jsonb would rewrite numbers such as 1e+17), as SQLite's text column does.
 *
 * The change log. One generic row trigger, sb_log_change(tenant column), runs AFTER INSERT,
 * UPDATE or DELETE on clients, users, agent_status, system_messages and AFTER INSERT on
 * audit_logs (so writes made directly in SQL are captured too). It appends one `changes` row
 * in the same transaction with the row as a jsonb object (to_jsonb(NEW) minus
 * users.password_hash, which never leaves the store) and sends NOTIFY switchboard_changes
 * (empty payload, so PostgreSQL folds the notifications of one transaction into one).
 * Delivery always comes from the table: NOTIFY only wakes other nodes up, and the realtime
 * hub also tails the table about once a second, so a lost notification loses nothing.
 *
 * Why `changes.seq` is gap-free and commit-ordered. A sequence is neither: nextval() is not
 * rolled back (gaps) and two concurrent transactions can commit in the opposite order of the
 * numbers they drew (a reader that has seen 6 would skip 5 when it commits later). Instead
 * the trigger takes the next number from the single row of `changes_counter`:
 *     UPDATE changes_counter SET seq = seq + 1 RETURNING seq
 * The UPDATE row-locks the counter until the transaction ends, so a second writer blocks on it
 * until the first commits or rolls back (READ COMMITTED then re-reads the committed value).
 * Hence numbers are handed out in commit order, a rollback also rolls back the increment (no
 * gap), and when a reader sees seq N committed, every seq below N committed before it. The
 * store's write transactions take the same row lock at BEGIN (pg_store.c), which also makes
 * the audit chain's "last seq + 1" safe across nodes and orders lock acquisition so that
 * writers of the store cannot deadlock with each other. The cost is one writer at a time
 * across all nodes, which DESIGN §2 asks for anyway ("one writer serialises writes").
 *
 * Append-only. audit_logs rejects UPDATE, DELETE and TRUNCATE with a trigger (SQLSTATE
 * 42501, mapped to SB_E_FORBIDDEN) and PUBLIC loses those privileges; a deployment that runs
 * the server as a role other than the schema owner gets the grants as a second barrier (the
 * owner and superusers bypass grants, never the trigger). changes rejects UPDATE but allows
 * DELETE (retention). audit_high_water keeps the highest audit seq ever stored, so deleting
 * the newest entries is detectable (the SQLite backend reads sqlite_sequence).
 *
 * Row-level security (migration 2, explained above it) repeats each call's tenant scope as
 * PostgreSQL policies, a second line of defence behind the store's own WHERE clauses.
 */
#include "store/postgres/pg_int.h"

#define T "TEXT COLLATE \"C\""
#define NOW "sb_rfc3339(now())"
#define COMMON                                                                                     \
    "created_at " T " NOT NULL DEFAULT " NOW ", updated_at " T " NOT NULL DEFAULT " NOW ", "       \
    "version BIGINT NOT NULL DEFAULT 1"
#define LOGGED(table, tenant)                                                                      \
    "CREATE TRIGGER " table "_changes AFTER INSERT OR UPDATE OR DELETE ON " table                  \
    " FOR EACH ROW EXECUTE FUNCTION sb_log_change('" tenant "')"

static const char *const migration_1[] = {
    "CREATE FUNCTION sb_rfc3339(ts timestamptz) RETURNS text LANGUAGE sql STABLE AS "
    "$$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') $$",

    "CREATE TABLE clients ("
    " id " T " PRIMARY KEY,"
    " name " T " NOT NULL,"
    " slug " T " NOT NULL UNIQUE,"
    " status " T " NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),"
    " settings JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'), " COMMON ")",
    "CREATE INDEX clients_status ON clients (status)",
    "CREATE INDEX clients_created ON clients (created_at, id)",

    "CREATE TABLE users ("
    " id " T " PRIMARY KEY,"
    " client_id " T " REFERENCES clients (id) ON DELETE CASCADE,"
    " email " T " NOT NULL,"
    " name " T " NOT NULL DEFAULT '',"
    " role " T " NOT NULL CHECK (role IN ('super_admin', 'admin', 'agent', 'viewer')),"
    " status " T " NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),"
    " last_login_at " T ","
    " password_hash " T ", " COMMON ","
    " CHECK (client_id IS NOT NULL OR role = 'super_admin'))",
    "CREATE UNIQUE INDEX users_email ON users (lower(email))",
    "CREATE INDEX users_client ON users (client_id, created_at)",
    "CREATE INDEX users_client_role ON users (client_id, role)",

    "CREATE TABLE agent_status ("
    " id " T " PRIMARY KEY,"
    " client_id " T " NOT NULL REFERENCES clients (id) ON DELETE CASCADE,"
    " user_id " T " NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,"
    " display_name " T " NOT NULL DEFAULT '',"
    " status " T " NOT NULL DEFAULT 'offline'"
    "   CHECK (status IN ('online', 'away', 'busy', 'offline')),"
    " reason " T ","
    " status_since " T " NOT NULL DEFAULT " NOW ","
    " updated_by " T ", " COMMON ")",
    "CREATE INDEX agent_status_client ON agent_status (client_id, status)",

    "CREATE TABLE agent_status_history ("
    " id " T " PRIMARY KEY,"
    " agent_id " T " NOT NULL REFERENCES agent_status (id) ON DELETE CASCADE,"
    " client_id " T " NOT NULL,"
    " status " T " NOT NULL CHECK (status IN ('online', 'away', 'busy', 'offline')),"
    " reason " T ","
    " started_at " T " NOT NULL DEFAULT " NOW ","
    " ended_at " T ","
    " changed_by " T ")",
    "CREATE INDEX agent_history_agent ON agent_status_history (agent_id, started_at)",
    "CREATE INDEX agent_history_client ON agent_status_history (client_id, started_at)",

    "CREATE TABLE system_messages ("
    " id " T " PRIMARY KEY,"
    " client_id " T " REFERENCES clients (id) ON DELETE CASCADE,"
    " title " T " NOT NULL,"
    " body " T " NOT NULL DEFAULT '',"
    " priority " T " NOT NULL DEFAULT 'normal'"
    "   CHECK (priority IN ('low', 'normal', 'high', 'critical')),"
    " starts_at " T " NOT NULL DEFAULT " NOW ","
    " expires_at " T ","
    " state " T " NOT NULL DEFAULT 'active' CHECK (state IN ('scheduled', 'active', 'expired')),"
    " created_by " T ", " COMMON ")",
    "CREATE INDEX messages_client ON system_messages (client_id, created_at)",
    "CREATE INDEX messages_state ON system_messages (state, starts_at, expires_at)",

    "CREATE TABLE audit_logs ("
    " seq BIGINT PRIMARY KEY,"
    " id " T " NOT NULL UNIQUE,"
    " at " T " NOT NULL,"
    " actor_id " T ","
    " actor_email " T ","
    " client_id " T ","
    " action " T " NOT NULL,"
    " entity_type " T " NOT NULL,"
    " entity_id " T ","
    " \"before\" JSON,"
    " \"after\" JSON,"
    " ip " T ","
    " user_agent " T ","
    " request_id " T ","
    " prev_hash " T " NOT NULL,"
    " hash " T " NOT NULL)",
    "CREATE INDEX audit_client ON audit_logs (client_id, seq)",
    "CREATE INDEX audit_entity ON audit_logs (entity_type, entity_id)",
    "CREATE INDEX audit_actor ON audit_logs (actor_id)",
    "CREATE INDEX audit_at ON audit_logs (at)",
    "CREATE TABLE audit_high_water ("
    " one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), seq BIGINT NOT NULL)",
    "INSERT INTO audit_high_water (seq) VALUES (0)",
    "CREATE FUNCTION sb_audit_high_water() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE audit_high_water SET seq = greatest(seq, NEW.seq); RETURN NULL; END $$",
    "CREATE TRIGGER audit_logs_high_water AFTER INSERT ON audit_logs"
    " FOR EACH ROW EXECUTE FUNCTION sb_audit_high_water()",
    "CREATE FUNCTION sb_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';"
    " END $$",
    "CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs"
    " FOR EACH ROW EXECUTE FUNCTION sb_append_only()",
    "CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs"
    " FOR EACH ROW EXECUTE FUNCTION sb_append_only()",
    "CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs"
    " FOR EACH STATEMENT EXECUTE FUNCTION sb_append_only()",
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM PUBLIC",

    "CREATE TABLE changes ("
    " seq BIGINT PRIMARY KEY,"
    " at " T " NOT NULL DEFAULT sb_rfc3339(clock_timestamp()),"
    " client_id " T ","
    " table_name " T " NOT NULL,"
    " op " T " NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE')),"
    " row_id " T " NOT NULL,"
    " record JSONB,"
    " old_record JSONB)",
    "CREATE INDEX changes_at ON changes (at)",
    "CREATE TRIGGER changes_no_update BEFORE UPDATE ON changes"
    " FOR EACH ROW EXECUTE FUNCTION sb_append_only()",
    "REVOKE UPDATE ON changes FROM PUBLIC",
    "CREATE TABLE changes_counter ("
    " one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), seq BIGINT NOT NULL)",
    "INSERT INTO changes_counter (seq) VALUES (0)",
    "CREATE FUNCTION sb_log_change() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "  new_rec jsonb;\n"
    "  old_rec jsonb;\n"
    "  n bigint;\n"
    "BEGIN\n"
    "  IF TG_OP <> 'DELETE' THEN new_rec := to_jsonb(NEW) - 'password_hash'; END IF;\n"
    "  IF TG_OP <> 'INSERT' THEN old_rec := to_jsonb(OLD) - 'password_hash'; END IF;\n"
    "  UPDATE changes_counter SET seq = seq + 1 RETURNING seq INTO n;\n"
    "  INSERT INTO changes (seq, at, client_id, table_name, op, row_id, record, old_record)\n"
    "  VALUES (n, sb_rfc3339(clock_timestamp()), coalesce(new_rec, old_rec) ->> TG_ARGV[0],\n"
    "          TG_TABLE_NAME, TG_OP, coalesce(new_rec, old_rec) ->> 'id', new_rec, old_rec);\n"
    "  PERFORM pg_notify('switchboard_changes', '');\n"
    "  RETURN NULL;\n"
    "END $$",

    "CREATE TABLE refresh_tokens ("
    " id " T " PRIMARY KEY,"
    " user_id " T " NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " family_id " T " NOT NULL,"
    " token_hash " T " NOT NULL UNIQUE,"
    " expires_at " T " NOT NULL,"
    " used_at " T ","
    " revoked_at " T ","
    " created_at " T " NOT NULL DEFAULT " NOW ")",
    "CREATE INDEX refresh_user ON refresh_tokens (user_id)",
    "CREATE INDEX refresh_family ON refresh_tokens (family_id)",

    "CREATE TABLE meta (key " T " PRIMARY KEY, value TEXT NOT NULL)",

    LOGGED("clients", "id"),
    LOGGED("users", "client_id"),
    LOGGED("agent_status", "client_id"),
    LOGGED("system_messages", "client_id"),
    "CREATE TRIGGER audit_logs_changes AFTER INSERT ON audit_logs"
    " FOR EACH ROW EXECUTE FUNCTION sb_log_change('client_id')",
    NULL,
};

/*
 * Migration 2: row-level security, the second line of tenant isolation (DESIGN §2, §5).
 *
 * The first line is the store's own SQL: every row function takes a struct store_scope from
 * src/policy/ and pg_rows.c writes it into the WHERE clause. This migration adds PostgreSQL
 * policies that say the same thing again, so a query that forgot its tenant predicate still
 * cannot see or change another tenant's rows.
 *
 * The scope travels in the setting switchboard.scope, which pg_store.c sets transaction-
 * locally (set_config(..., true)) to match the scope of each row function it runs:
 *   - unset, '' or '*': unrestricted (system work: the change-log hub, logins by e-mail,
 *     jobs, super_admin). The store leaves it unset (''), so unscoped transactions cost
 *     nothing extra; a psql session sees everything, as before this migration.
 *   - a client id: only that tenant's rows, for reading and for writing. USING filters the
 *     rows a SELECT, UPDATE or DELETE can reach (another tenant's row is simply not there:
 *     0 rows); WITH CHECK refuses an INSERT or UPDATE whose new row belongs to another tenant
 *     (SQLSTATE 42501, SB_E_FORBIDDEN). Global rows (client_id NULL) are readable only in
 *     system_messages (global messages are for everyone) and in the `changes` rows of those
 *     messages; no tenant scope may write them.
 *   - anything else (the store writes "-" for a scope of no tenant): no rows at all.
 * Tables and their tenant column: clients (id), users, agent_status, agent_status_history,
 * system_messages, audit_logs, changes (client_id), refresh_tokens (the client_id of the
 * token's user), and from migration 7 user_preferences (the client_id of its user). meta,
 * changes_counter, audit_high_water and schema_migrations hold no tenant data and stay
 * unrestricted.
 *
 * Triggers. The change-log trigger (sb_log_change) and the audit high-water trigger run as
 * the invoker, inside the scoped statement that fired them. SECURITY DEFINER would not help:
 * FORCE below subjects the owner to the policies too. It does not need to: a scoped write
 * only reaches rows of its own tenant, so the `changes` row it appends carries that tenant's
 * client_id and passes the `changes` policy; changes_counter and audit_high_water have no
 * policy. Foreign-key checks and ON DELETE CASCADE always bypass row security (PostgreSQL
 * runs them as the table owner with FORCE ignored), so deleting a user still deletes its
 * agent row, history and refresh tokens.
 *
 * Reads that must see every tenant inside a scoped transaction: the change-log head (lists
 * report the global `seq`) and the newest audit entry (the hash chain spans all tenants).
 * sb_changes_head() and sb_audit_last() clear the setting for their one query and restore
 * it. (A function's SET clause would be simpler, but PostgreSQL lets only superusers attach
 * a custom setting to a function.)
 *
 * Who is protected. Superusers and roles with BYPASSRLS always bypass row security, so the
 * policies only act when switchboard connects as an ordinary role. A table's owner bypasses
 * them too unless the table says FORCE ROW LEVEL SECURITY, which is why every table here
 * says it: the usual deployment runs switchboard as the role that owns the schema (it
 * migrates it). The setting is a guard against the server's own mistakes, not against
 * someone who can run SQL as that role: such a user can set switchboard.scope to '*'.
 */
#define SCOPE_OPEN "sb_scope() IN ('', '*')"
#define RLS(table)                                                                                 \
    "ALTER TABLE " table " ENABLE ROW LEVEL SECURITY",                                             \
        "ALTER TABLE " table " FORCE ROW LEVEL SECURITY"
#define TENANT_POLICY(table, col)                                                                  \
    "CREATE POLICY sb_tenant ON " table " USING (sb_scope_allows(" col "))"                        \
    " WITH CHECK (sb_scope_allows(" col "))"
#define USER_TENANT                                                                                \
    "(" SCOPE_OPEN " OR EXISTS (SELECT 1 FROM users u"                                             \
    " WHERE u.id = refresh_tokens.user_id AND u.client_id = sb_scope()))"

static const char *const migration_2[] = {
    "CREATE FUNCTION sb_scope() RETURNS text LANGUAGE sql STABLE AS "
    "$$ SELECT coalesce(current_setting('switchboard.scope', true), '') $$",
    "CREATE FUNCTION sb_scope_allows(tenant text) RETURNS boolean LANGUAGE sql STABLE AS "
    "$$ SELECT " SCOPE_OPEN " OR tenant = sb_scope() $$",

    "CREATE FUNCTION sb_changes_head() RETURNS bigint LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "  saved text := sb_scope();\n"
    "  n bigint;\n"
    "BEGIN\n"
    "  PERFORM set_config('switchboard.scope', '', true);\n"
    "  SELECT coalesce(max(seq), 0) INTO n FROM changes;\n"
    "  PERFORM set_config('switchboard.scope', saved, true);\n"
    "  RETURN n;\n"
    "END $$",
    "CREATE FUNCTION sb_audit_last() RETURNS TABLE (last_seq bigint, last_hash text)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "  saved text := sb_scope();\n"
    "BEGIN\n"
    "  PERFORM set_config('switchboard.scope', '', true);\n"
    "  RETURN QUERY SELECT a.seq, a.hash::text FROM audit_logs a ORDER BY a.seq DESC LIMIT 1;\n"
    "  PERFORM set_config('switchboard.scope', saved, true);\n"
    "END $$",

    RLS("clients"),
    TENANT_POLICY("clients", "id"),
    RLS("users"),
    TENANT_POLICY("users", "client_id"),
    RLS("agent_status"),
    TENANT_POLICY("agent_status", "client_id"),
    RLS("agent_status_history"),
    TENANT_POLICY("agent_status_history", "client_id"),
    RLS("system_messages"),
    TENANT_POLICY("system_messages", "client_id"),
    "CREATE POLICY sb_global ON system_messages FOR SELECT USING (client_id IS NULL)",
    RLS("audit_logs"),
    TENANT_POLICY("audit_logs", "client_id"),
    RLS("changes"),
    TENANT_POLICY("changes", "client_id"),
    "CREATE POLICY sb_global ON changes FOR SELECT"
    " USING (client_id IS NULL AND table_name = 'system_messages')",
    RLS("refresh_tokens"),
    "CREATE POLICY sb_tenant ON refresh_tokens USING " USER_TENANT " WITH CHECK " USER_TENANT,
    NULL,
};

/* Migration 3: login-limit events (auth/ratelimit.h), shared by every node and kept across
 * restarts. Not tenant data: no row-level security. */
static const char *const migration_3[] = {
    "CREATE TABLE login_events ("
    " id BIGSERIAL PRIMARY KEY,"
    " key TEXT NOT NULL,"
    " at_ms BIGINT NOT NULL,"
    " expires_ms BIGINT NOT NULL)",
    "CREATE INDEX login_events_key ON login_events (key, at_ms)",
    "CREATE INDEX login_events_expires ON login_events (expires_ms)",
    NULL,
};

/* Migration 4: the cluster bus's spill table (pg_bus.c). A bus message too large for one
 * NOTIFY payload is stored here and the notification carries its id; rows older than a
 * minute are pruned by the publisher. Not tenant data: no row-level security. */
static const char *const migration_4[] = {
    "CREATE TABLE bus_spill ("
    " id BIGSERIAL PRIMARY KEY,"
    " created_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " payload TEXT NOT NULL)",
    "CREATE INDEX bus_spill_created ON bus_spill (created_at)",
    NULL,
};

/* Migration 5: the dashboard history (svc/history.c), kept across restarts and shared by the
 * nodes: one row per tenant (client_key: the client id, '' for the all-tenants view) and
 * metrics interval, pruned after 24 h. Only the system reads it (svc applies the policy to the
 * in-memory series): no row-level security. Not in the change log. */
static const char *const migration_5[] = {
    "CREATE TABLE dashboard_points ("
    " client_key TEXT NOT NULL,"
    " at_ms BIGINT NOT NULL,"
    " online INTEGER NOT NULL, away INTEGER NOT NULL, busy INTEGER NOT NULL,"
    " offline INTEGER NOT NULL, active_messages INTEGER NOT NULL,"
    " critical_messages INTEGER NOT NULL, connections INTEGER NOT NULL,"
    " events_per_minute INTEGER NOT NULL,"
    " PRIMARY KEY (client_key, at_ms))",
    "CREATE INDEX dashboard_points_at ON dashboard_points (at_ms)",
    NULL,
};

/*
 * Migration 6: the row-level security policies work with an empty search_path, so the owner
 * role can back the database up (`pg_dump --enable-row-security`, README "Backups").
 *
 * pg_dump runs with search_path = '' and, as the owner, under FORCE ROW LEVEL SECURITY (plain
 * pg_dump sets row_security off and stops at the first table with a policy; the owner has no
 * BYPASSRLS). A policy's own expression is stored resolved, but the body of an SQL function
 * is parsed where it is called: sb_scope_allows called `sb_scope()` unqualified, which does
 * not resolve there ("function sb_scope() does not exist"), so every COPY of a policed table
 * failed, and so did a pg_restore of such a dump. The body now names only pg_catalog
 * functions (always on the path). It is still one STABLE SQL SELECT, so the planner keeps
 * inlining it into every policed query; a SET search_path clause would stop that. sb_scope()
 * (used by the refresh_tokens policy, resolved at CREATE POLICY) already names only
 * pg_catalog. With the setting unset, as in a pg_dump session, the scope is open: the dump
 * holds every tenant's rows.
 */
#define SCOPE_NOW "coalesce(pg_catalog.current_setting('switchboard.scope', true), '')"
static const char *const migration_6[] = {
    "CREATE OR REPLACE FUNCTION sb_scope_allows(tenant text) RETURNS boolean LANGUAGE sql"
    " STABLE AS $$ SELECT " SCOPE_NOW " IN ('', '*') OR tenant = " SCOPE_NOW " $$",
    NULL,
};

/* Migration 7: the same two indexes as SQLite's migration 4. An agent's open history row
 * (ended_at IS NULL; looked up on every status change) is found without walking that agent's
 * whole history, and a tenant's agent list comes in its default order without a sort. */
static const char *const migration_7[] = {
    "CREATE INDEX agent_history_open ON agent_status_history (agent_id, started_at, id) "
    "WHERE ended_at IS NULL",
    "CREATE INDEX agent_status_client_name ON agent_status (client_id, display_name, id)",
    NULL,
};

/* Migration 8: per-user preferences (the panel's notification settings, svc/prefs.c): one
 * object per user, deleted with the user; not in the change log. It is tenant data by its
 * user, so row-level security applies as to refresh_tokens: a tenant scope reaches only the
 * preferences of its own users (the row has no client_id of its own, which a super_admin
 * moving the user to another client would leave stale). */
#define PREFS_TENANT                                                                               \
    "(" SCOPE_OPEN " OR EXISTS (SELECT 1 FROM users u"                                             \
    " WHERE u.id = user_preferences.user_id AND u.client_id = sb_scope()))"
static const char *const migration_8[] = {
    "CREATE TABLE user_preferences ("
    " user_id " T " PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,"
    " prefs JSONB NOT NULL CHECK (jsonb_typeof(prefs) = 'object'),"
    " updated_at " T " NOT NULL DEFAULT " NOW ")",
    RLS("user_preferences"),
    "CREATE POLICY sb_tenant ON user_preferences USING " PREFS_TENANT " WITH CHECK " PREFS_TENANT,
    NULL,
};

/* Migration 9: refresh tokens found by expiry, for store_refresh_prune (the table grew by one
 * row per refresh, forever). */
static const char *const migration_9[] = {
    "CREATE INDEX refresh_expires ON refresh_tokens (expires_at)",
    NULL,
};

/* Migration 10: an actor's or an entity's audit entries in time order (the SQLite store's
 * migration 11 says why): `at` after the equality, the same number of indexes. */
static const char *const migration_10[] = {
    "DROP INDEX audit_actor",
    "CREATE INDEX audit_actor ON audit_logs (actor_id, at)",
    "DROP INDEX audit_entity",
    "CREATE INDEX audit_entity ON audit_logs (entity_type, entity_id, at)",
    NULL,
};

static const char *const *const migrations[] = {migration_1, migration_2, migration_3, migration_4,
                                                migration_5, migration_6, migration_7, migration_8,
                                                migration_9, migration_10};

const char *const *pg_migration(int version)
{
    if (version < 1 || (size_t)version > sizeof(migrations) / sizeof(migrations[0])) {
        return NULL;
    }
    return migrations[version - 1];
}

int pg_migration_latest(void)
{
    return (int)(sizeof(migrations) / sizeof(migrations[0]));
}
