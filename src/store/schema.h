/*
 * The data model of DESIGN §4 as data: one descriptor per table, shared by every backend and
 * by the realtime engine (column types for `columns` and typed filters). Adding a column
 * means a migration plus a line here.
 */
#ifndef SB_STORE_SCHEMA_H
#define SB_STORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

enum store_table {
    STORE_CLIENTS,
    STORE_USERS,
    STORE_AGENT_STATUS,
    STORE_AGENT_HISTORY,
    STORE_MESSAGES,
    STORE_AUDIT,
    STORE__NTABLES
};

enum store_coltype {
    COL_TEXT,
    COL_UUID,
    COL_INT,
    COL_BOOL,
    COL_JSON, /* object or array */
    COL_TIME, /* RFC 3339 text */
};

struct store_column {
    const char *name;
    enum store_coltype type;
    const char *pg_type; /* PostgreSQL type name for realtime `columns` ("uuid", "text", ...) */
    bool nullable;
    bool hidden;     /* never leaves the store (password hashes) */
    bool searchable; /* included in the q= substring search */
    bool sortable;
};

/* A column of another table that q= also searches: ref_table.col of the row whose id is this
 * row's fk column (agents are found by their user's e-mail). */
struct store_search_ref {
    const char *fk;        /* column of this table holding the other row's id */
    const char *ref_table; /* SQL name of the other table */
    const char *col;       /* its searched column */
};

struct store_table_desc {
    enum store_table id;
    const char *name; /* SQL and realtime table name */
    const struct store_column *cols;
    size_t ncols;
    const char *tenant_col; /* "client_id", or "id" for clients */
    bool versioned;         /* created_at, updated_at, version maintained by the store */
    bool in_changes;        /* writes appear in the `changes` log */
    const char *default_sort;
    bool log_ids; /* an append-only log: new rows get time-ordered (v7) ids */
};

const struct store_table_desc *store_table_desc(enum store_table t);
/* By SQL name ("agent_status"); NULL when unknown. */
const struct store_table_desc *store_table_by_name(const char *name);
/* What else q= searches for table t; NULL: only t's searchable columns. */
const struct store_search_ref *store_table_search_ref(const struct store_table_desc *t);
/* Column by name; NULL when the table has none. */
const struct store_column *store_column_find(const struct store_table_desc *t, const char *name);

#endif
