/*
 * Table descriptors of DESIGN §4. The order of columns is the order realtime reports them
 * in `columns`. Common columns (created_at, updated_at, version) are listed explicitly so
 * one array describes everything a row carries.
 */
#include "store/schema.h"

#include <string.h>

#define COLS(a) a, sizeof(a) / sizeof((a)[0])

/* name, type, pg type, nullable, hidden, searchable, sortable */
static const struct store_column clients_cols[] = {
    {"id", COL_UUID, "uuid", false, false, false, true},
    {"name", COL_TEXT, "text", false, false, true, true},
    {"slug", COL_TEXT, "text", false, false, true, true},
    {"status", COL_TEXT, "text", false, false, false, true},
    {"settings", COL_JSON, "jsonb", false, false, false, false},
    {"created_at", COL_TIME, "timestamptz", false, false, false, true},
    {"updated_at", COL_TIME, "timestamptz", false, false, false, true},
    {"version", COL_INT, "int8", false, false, false, true},
};

static const struct store_column users_cols[] = {
    {"id", COL_UUID, "uuid", false, false, false, true},
    {"client_id", COL_UUID, "uuid", true, false, false, true},
    {"email", COL_TEXT, "text", false, false, true, true},
    {"name", COL_TEXT, "text", false, false, true, true},
    {"role", COL_TEXT, "text", false, false, false, true},
    {"status", COL_TEXT, "text", false, false, false, true},
    {"last_login_at", COL_TIME, "timestamptz", true, false, false, true},
    {"password_hash", COL_TEXT, "text", true, true, false, false},
    {"created_at", COL_TIME, "timestamptz", false, false, false, true},
    {"updated_at", COL_TIME, "timestamptz", false, false, false, true},
    {"version", COL_INT, "int8", false, false, false, true},
};

static const struct store_column agent_status_cols[] = {
    {"id", COL_UUID, "uuid", false, false, false, true},
    {"client_id", COL_UUID, "uuid", false, false, false, true},
    {"user_id", COL_UUID, "uuid", false, false, false, true},
    {"display_name", COL_TEXT, "text", false, false, true, true},
    {"status", COL_TEXT, "text", false, false, false, true},
    {"reason", COL_TEXT, "text", true, false, true, true},
    {"status_since", COL_TIME, "timestamptz", false, false, false, true},
    {"updated_by", COL_UUID, "uuid", true, false, false, false},
    {"created_at", COL_TIME, "timestamptz", false, false, false, true},
    {"updated_at", COL_TIME, "timestamptz", false, false, false, true},
    {"version", COL_INT, "int8", false, false, false, true},
};

static const struct store_column agent_history_cols[] = {
    {"id", COL_UUID, "uuid", false, false, false, true},
    {"agent_id", COL_UUID, "uuid", false, false, false, true},
    {"client_id", COL_UUID, "uuid", false, false, false, true},
    {"status", COL_TEXT, "text", false, false, false, true},
    {"reason", COL_TEXT, "text", true, false, false, false},
    {"started_at", COL_TIME, "timestamptz", false, false, false, true},
    {"ended_at", COL_TIME, "timestamptz", true, false, false, true},
    {"changed_by", COL_TEXT, "text", true, false, false, false},
};

static const struct store_column messages_cols[] = {
    {"id", COL_UUID, "uuid", false, false, false, true},
    {"client_id", COL_UUID, "uuid", true, false, false, true},
    {"title", COL_TEXT, "text", false, false, true, true},
    {"body", COL_TEXT, "text", false, false, true, false},
    {"priority", COL_TEXT, "text", false, false, false, true},
    {"starts_at", COL_TIME, "timestamptz", false, false, false, true},
    {"expires_at", COL_TIME, "timestamptz", true, false, false, true},
    {"state", COL_TEXT, "text", false, false, false, true},
    {"created_by", COL_UUID, "uuid", true, false, false, false},
    {"created_at", COL_TIME, "timestamptz", false, false, false, true},
    {"updated_at", COL_TIME, "timestamptz", false, false, false, true},
    {"version", COL_INT, "int8", false, false, false, true},
};

static const struct store_column audit_cols[] = {
    {"id", COL_UUID, "uuid", false, false, false, false},
    {"seq", COL_INT, "int8", false, false, false, true},
    {"at", COL_TIME, "timestamptz", false, false, false, true},
    {"actor_id", COL_TEXT, "text", true, false, false, false},
    {"actor_email", COL_TEXT, "text", true, false, true, false},
    {"client_id", COL_UUID, "uuid", true, false, false, false},
    {"action", COL_TEXT, "text", false, false, true, false},
    {"entity_type", COL_TEXT, "text", false, false, false, false},
    {"entity_id", COL_TEXT, "text", true, false, false, false},
    {"before", COL_JSON, "jsonb", true, false, false, false},
    {"after", COL_JSON, "jsonb", true, false, false, false},
    {"ip", COL_TEXT, "text", true, false, false, false},
    {"user_agent", COL_TEXT, "text", true, false, false, false},
    {"request_id", COL_TEXT, "text", true, false, false, false},
    {"prev_hash", COL_TEXT, "text", false, false, false, false},
    {"hash", COL_TEXT, "text", false, false, false, false},
};

static const struct store_table_desc tables[STORE__NTABLES] = {
    {STORE_CLIENTS, "clients", COLS(clients_cols), "id", true, true, "created_at", false},
    {STORE_USERS, "users", COLS(users_cols), "client_id", true, true, "created_at", false},
    {STORE_AGENT_STATUS, "agent_status", COLS(agent_status_cols), "client_id", true, true,
     "display_name", false},
    {STORE_AGENT_HISTORY, "agent_status_history", COLS(agent_history_cols), "client_id", false,
     false, "started_at", true},
    {STORE_MESSAGES, "system_messages", COLS(messages_cols), "client_id", true, true, "created_at",
     false},
    {STORE_AUDIT, "audit_logs", COLS(audit_cols), "client_id", false, true, "seq", true},
};

const struct store_table_desc *store_table_desc(enum store_table t)
{
    if ((int)t < 0 || t >= STORE__NTABLES) {
        return NULL;
    }
    return &tables[t];
}

const struct store_table_desc *store_table_by_name(const char *name)
{
    for (int i = 0; i < STORE__NTABLES; i++) {
        if (strcmp(tables[i].name, name) == 0) {
            return &tables[i];
        }
    }
    return NULL;
}

const struct store_column *store_column_find(const struct store_table_desc *t, const char *name)
{
    /* The first byte first: called for every member of every row written (about 40 times per
     * status change), and most names differ there. */
    for (size_t i = 0; i < t->ncols; i++) {
        if (t->cols[i].name[0] == name[0] && strcmp(t->cols[i].name, name) == 0) {
            return &t->cols[i];
        }
    }
    return NULL;
}

const struct store_search_ref *store_table_search_ref(const struct store_table_desc *t)
{
    static const struct store_search_ref agent_email = {"user_id", "users", "email"};
    return t && t->id == STORE_AGENT_STATUS ? &agent_email : NULL;
}
