/*
 * A temporary SQLite store for unit tests that need a real one: test_store_open makes a new
 * directory from the mkdtemp template dir (e.g. "/tmp/sbXXXXXX", rewritten in place) and a
 * migrated database in it; test_store_remove deletes the database files and the directory
 * once the store is freed. test_store_insert commits one row.
 */
#ifndef SB_TEST_STORE_H
#define SB_TEST_STORE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"

static inline int test_store_open(char *dir, struct store **out)
{
    if (!mkdtemp(dir)) {
        return -1;
    }
    char url[160];
    snprintf(url, sizeof url, "sqlite:%s/t.db", dir);
    if (store_open(url, NULL, out) < 0) {
        return -1;
    }
    return store_migrate(*out) < 0 ? -1 : 0;
}

static inline void test_store_remove(const char *dir)
{
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/t.db%s", dir, suffixes[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Insert row (consumed) into table in its own transaction; its id into id (40 bytes) unless
 * id is NULL. */
static inline int test_store_insert(struct store *store, enum store_table table, json_t *row,
                                    char *id)
{
    struct store_tx *tx = NULL;
    json_t *out = NULL;
    int rc = store_tx_begin(store, true, &tx);
    if (rc < 0) {
        json_decref(row);
        return rc;
    }
    rc = store_row_insert(tx, table, row, &out);
    json_decref(row);
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    if (id) {
        snprintf(id, 40, "%s", json_string_value(json_object_get(out, "id")));
    }
    json_decref(out);
    return store_tx_commit(tx);
}

#endif
