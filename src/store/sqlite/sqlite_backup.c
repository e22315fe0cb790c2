/*
 * Backup and restore of an SQLite database (switchboard backup / restore), through SQLite's
 * online backup API rather than a file copy: a file copy of a live WAL database can catch the
 * main file and the WAL at different moments, the backup API cannot.
 *
 * Backup: a read-only connection runs sqlite3_backup_step(-1), which copies every page
 * inside one read transaction: one snapshot, taken while the server keeps committing (WAL
 * readers do not block writers). A step in several pieces would restart whenever another
 * process writes; one step never does. The copy is written to OUT.partial in rollback-journal
 * mode (one self-contained file), checked with quick_check, synced and renamed to OUT.
 *
 * Restore: the backup is checked first (quick_check, a switchboard schema no newer than this
 * binary). Then a connection to the target takes SQLite's exclusive lock (locking_mode
 * EXCLUSIVE + BEGIN EXCLUSIVE; in WAL mode this fails while any other connection has the
 * database open, which is how a running server is detected) and keeps it while the backup
 * API copies the pages in, so nobody sees a half-restored database.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "store/sqlite/sqlite_int.h"
#include "store/store.h"

#define BUSY_TIMEOUT_MS 5000

static const char *sqlite_path(const char *url)
{
    if (!url || strncmp(url, "sqlite:", 7) != 0 || !url[7] || !strcmp(url + 7, ":memory:")) {
        return NULL;
    }
    return url + 7;
}

/* One value of a one-row query into out (text) or *num; SB_E_DB when it fails. */
static int query_one(sqlite3 *db, const char *sql, char *out, size_t cap, int *num)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return SB_E_DB;
    }
    if (out) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", t ? (const char *)t : "");
    }
    if (num) {
        *num = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return 0;
}

/* quick_check passes and the schema is a switchboard one this binary knows. */
static int check_database(sqlite3 *db, const char *what, int *version_out)
{
    char ok[64];
    if (query_one(db, "PRAGMA quick_check", ok, sizeof ok, NULL) < 0 || strcmp(ok, "ok") != 0) {
        log_error("%s is not a sound SQLite database", what);
        return SB_E_VALIDATION;
    }
    int version = 0;
    if (query_one(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", NULL, 0,
                  &version) < 0 ||
        version < 1) {
        log_error("%s is not a switchboard database (no schema_migrations)", what);
        return SB_E_VALIDATION;
    }
    if (version > sqlite_migration_latest()) {
        log_error("%s has schema version %d, newer than this switchboard knows (%d)", what, version,
                  sqlite_migration_latest());
        return SB_E_SCHEMA;
    }
    *version_out = version;
    return 0;
}

/* Copy every page of src into dst in one step; SB_E_UNAVAILABLE when locked throughout. */
static int copy_pages(sqlite3 *dst, sqlite3 *src)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        log_error("sqlite backup: %s", sqlite3_errmsg(dst));
        return SB_E_DB;
    }
    int rc;
    for (int tries = 0;; tries++) {
        rc = sqlite3_backup_step(b, -1);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries >= 100) {
            break;
        }
        sqlite3_sleep(50);
    }
    int frc = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE || frc != SQLITE_OK) {
        log_error("sqlite backup: %s", sqlite3_errstr(rc != SQLITE_DONE ? rc : frc));
        return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? SB_E_UNAVAILABLE : SB_E_DB;
    }
    return 0;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return SB_E_IO;
    }
    int rc = fsync(fd) == 0 ? 0 : SB_E_IO;
    close(fd);
    return rc;
}

int store_backup(const char *url, const char *out_path, int *version_out)
{
    const char *path = sqlite_path(url);
    if (!path) {
        return SB_E_INVAL;
    }
    if (access(path, F_OK) != 0) {
        return SB_E_NOTFOUND;
    }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.partial", out_path) >= sizeof tmp) {
        return SB_E_INVAL;
    }
    sqlite3 *src = NULL, *dst = NULL;
    int rc = SB_E_DB;
    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        log_error("cannot open %s: %s", path, sqlite3_errmsg(src));
        goto out;
    }
    sqlite3_busy_timeout(src, BUSY_TIMEOUT_MS);
    unlink(tmp);
    mode_t old = umask(077); /* the copy holds password hashes */
    int orc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    umask(old);
    if (orc != SQLITE_OK) {
        log_error("cannot create %s: %s", tmp, sqlite3_errmsg(dst));
        rc = SB_E_IO;
        goto out_tmp;
    }
    rc = copy_pages(dst, src);
    if (rc < 0) {
        goto out_tmp;
    }
    /* The copy carries the source's WAL flag; make it one self-contained file. */
    char mode[32];
    if (query_one(dst, "PRAGMA journal_mode = DELETE", mode, sizeof mode, NULL) < 0) {
        rc = SB_E_DB;
        goto out_tmp;
    }
    rc = check_database(dst, tmp, version_out);
    if (rc < 0) {
        goto out_tmp;
    }
    sqlite3_close(dst);
    dst = NULL;
    if (chmod(tmp, 0600) != 0 || fsync_path(tmp) < 0 || rename(tmp, out_path) != 0) {
        log_error("cannot write %s", out_path);
        rc = SB_E_IO;
        goto out_tmp;
    }
    rc = 0;
    goto out;
out_tmp:
    sqlite3_close(dst);
    dst = NULL;
    unlink(tmp);
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    return rc;
}

int store_restore(const char *url, const char *in_path, int *version_out)
{
    const char *path = sqlite_path(url);
    if (!path) {
        return SB_E_INVAL;
    }
    if (access(in_path, R_OK) != 0) {
        return SB_E_NOTFOUND;
    }
    sqlite3 *src = NULL, *dst = NULL;
    int rc = SB_E_VALIDATION;
    if (sqlite3_open_v2(in_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        log_error("cannot open %s: %s", in_path, sqlite3_errmsg(src));
        goto out;
    }
    rc = check_database(src, in_path, version_out);
    if (rc < 0) {
        goto out;
    }
    mode_t old = umask(077);
    int orc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    umask(old);
    if (orc != SQLITE_OK) {
        log_error("cannot open %s: %s", path, sqlite3_errmsg(dst));
        rc = SB_E_IO;
        goto out;
    }
    /* No busy wait: a database that another process has open is in use, now. */
    char mode[32];
    if (query_one(dst, "PRAGMA locking_mode = EXCLUSIVE", mode, sizeof mode, NULL) < 0 ||
        sqlite3_exec(dst, "BEGIN EXCLUSIVE; COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        log_error("%s is in use (stop the server first): %s", path, sqlite3_errmsg(dst));
        rc = SB_E_UNAVAILABLE;
        goto out;
    }
    rc = copy_pages(dst, src);
    if (rc < 0) {
        goto out;
    }
    /* Back to the server's WAL mode, with the restored pages checkpointed into the file. */
    if (query_one(dst, "PRAGMA journal_mode = WAL", mode, sizeof mode, NULL) < 0) {
        rc = SB_E_DB;
        goto out;
    }
    int v = 0;
    rc = check_database(dst, path, &v);
out:
    sqlite3_close(dst);
    sqlite3_close(src);
    return rc;
}
