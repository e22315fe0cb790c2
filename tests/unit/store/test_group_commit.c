/*
 * Group commit of the SQLite store (sqlite_store.c), against a real database file:
 *   - a group formed on purpose (two writers made to wait for the first, whose commit must
 *     then wait for theirs): one member fails and rolls back, the others commit in one
 *     COMMIT, and only the failed member's work is missing; the same with a failing member
 *     that added a few hundred KB of pages (its sub-journal stays in memory), and with one
 *     that changed about 1.8 MB of existing pages (its sub-journal passes SQ_SUBJOURNAL_MEM
 *     and moves to a temporary file: a write of 1 MiB at once, which the default VFS alone
 *     would have reported as a full disk);
 *   - many threads writing at once (clients rows and audit entries, every fifth transaction
 *     failing after its first insert): every acknowledged write is there, no failed one is,
 *     the audit chain verifies, `changes.seq` is 1..n without a gap, and the commit hook
 *     (the hub's wake-up) always finds the change it announces already committed;
 *   - the same load in a child process killed with SIGKILL in the middle: after reopening,
 *     every write the child acknowledged (through a pipe, after store_tx_commit returned 0)
 *     is present and no failed one is.
 *   - the commit generation (store_read_generation): it grows with each commit only, and is
 *     not given while a commit waits in an open group;
 *   - deferred commits (store_defer_begin/end): one thread's batch in one group, visible and
 *     announced only once the batch's group is committed;
 *   - a COMMIT that fails (the WAL may not grow): the batch, or the plain commit, reports it
 *     and left nothing; the store writes again afterwards.
 *   - WAL runs (sqlite_walbuf.c): a transaction of about 1.5 MB is written to the WAL with
 *     about one write per 64 KiB, not two per page, and a connection that reads the files
 *     without that layer finds every row and a sound database.
 * The test reads the backend's group counters and bounds through sqlite_int.h.
 */
#include "test.h"
#include "test_store.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/rand.h"
#include "store/sqlite/sqlite_int.h"
#include "store/store.h"

#define THREADS 8
#define PER_THREAD 60
#define FAIL_EVERY 5
#define CHILD_PER_THREAD 4000
#define KILL_AFTER_ACKS 300
#define ID_LINE (UUID_STR_LEN + 1) /* 'A' or 'F', the id, '\n' */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait (bounded) until n threads wait for the writer lock. */
static int wait_for_writers(struct sq_store *sq, unsigned n)
{
    for (int i = 0; i < 10000; i++) {
        if (atomic_load(&sq->writers_waiting) >= n) {
            return 0;
        }
        sleep_ms(1);
    }
    return -1;
}

/* The change-log head inside the last write transaction of this thread (for on_commit). */
static _Thread_local int64_t expect_head;

/* One logical transaction: insert a client with id (and slug) and an audit entry about it;
 * with fail, then insert a second client with the same slug, which fails, and roll back.
 * Returns the commit's result (0), or the failure (SB_E_CONFLICT) after the rollback. */
static int write_one(struct store *s, const char *id, bool fail)
{
    struct store_tx *tx = NULL;
    int rc = store_tx_begin(s, true, &tx);
    if (rc < 0) {
        return rc;
    }
    json_t *row = json_pack("{s:s, s:s, s:s}", "id", id, "name", "group", "slug", id);
    rc = store_row_insert(tx, STORE_CLIENTS, row, NULL);
    json_decref(row);
    if (rc == 0) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "client_id", id, "action", "client.create",
                              "entity_type", "client", "entity_id", id);
        rc = store_audit_append(tx, e, NULL);
        json_decref(e);
    }
    if (rc == 0 && fail) {
        char other[UUID_STR_LEN];
        uuid_v4(other);
        json_t *dup = json_pack("{s:s, s:s, s:s}", "id", other, "name", "dup", "slug", id);
        rc = store_row_insert(tx, STORE_CLIENTS, dup, NULL);
        json_decref(dup);
        if (rc == 0) {
            rc = SB_E_DB; /* the duplicate slug must have been refused */
        }
    }
    if (rc == 0) {
        rc = store_tx_head_seq(tx, &expect_head);
    }
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    return store_tx_commit(tx);
}

static bool has_client(struct store *s, const char *id)
{
    static const struct store_scope all = {.all = true};
    struct store_tx *tx = NULL;
    if (store_tx_begin(s, false, &tx) < 0) {
        return false;
    }
    json_t *row = NULL;
    int rc = store_row_get(tx, STORE_CLIENTS, &all, id, &row);
    json_decref(row);
    store_tx_rollback(tx);
    return rc == 0;
}

/* The change log holds 1..head without a gap. */
static void check_seq_gap_free(struct store *s)
{
    int64_t next = 1;
    for (;;) {
        struct store_change *ch = NULL;
        size_t n = 0;
        CHECK_EQ_INT(store_changes_read(s, next - 1, 500, &ch, &n), 0);
        for (size_t i = 0; i < n; i++) {
            if (ch[i].seq != next) {
                CHECK_EQ_INT(ch[i].seq, next);
            }
            next = ch[i].seq + 1;
        }
        store_changes_free(ch, n);
        if (n == 0) {
            break;
        }
    }
    int64_t oldest = 0, head = 0;
    CHECK_EQ_INT(store_changes_bounds(s, &oldest, &head), 0);
    CHECK_EQ_INT(head, next - 1);
}

/* The commit hook runs on the committing thread: the change-log position its transaction
 * reached must already be visible to a new read transaction (on another connection). */
static atomic_int hook_calls, hook_early;

static void on_commit(void *arg)
{
    int64_t oldest = 0, head = 0;
    if (store_changes_bounds(arg, &oldest, &head) < 0 || head < expect_head) {
        atomic_fetch_add(&hook_early, 1);
    }
    atomic_fetch_add(&hook_calls, 1);
}

/* --- a group formed on purpose --- */

struct member {
    struct store *s;
    char id[UUID_STR_LEN];
    bool fail;
    int big; /* > 0: write_big with this many rows */
    char (*big_ids)[UUID_STR_LEN];
    bool update; /* write_big changes the big rows with these ids instead of adding them */
    int rc;
};

/* Like write_one with n clients of about 3 KB each (ids out) before the failure: a few
 * hundred KB of pages to undo when it rolls back to its savepoint. With update, the n
 * clients ids names get another 3 KB instead: every page that holds them to undo. */
static int write_big(struct store *s, int n, char (*ids)[UUID_STR_LEN], bool update, bool fail)
{
    struct store_tx *tx = NULL;
    int rc = store_tx_begin(s, true, &tx);
    if (rc < 0) {
        return rc;
    }
    char pad[3001];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    static const struct store_scope all = {.all = true};
    for (int i = 0; i < n && rc == 0; i++) {
        if (update) {
            pad[i % 3000] = 'y';
            json_t *patch = json_pack("{s:{s:s}}", "settings", "pad", pad);
            rc = store_row_update(tx, STORE_CLIENTS, &all, ids[i], patch, 0, NULL);
            json_decref(patch);
            continue;
        }
        uuid_v4(ids[i]);
        json_t *row = json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", ids[i], "name", "big", "slug",
                                ids[i], "settings", "pad", pad);
        rc = store_row_insert(tx, STORE_CLIENTS, row, NULL);
        json_decref(row);
    }
    if (rc == 0 && fail) {
        char other[UUID_STR_LEN];
        uuid_v4(other);
        json_t *dup = json_pack("{s:s, s:s, s:s}", "id", other, "name", "dup", "slug", ids[0]);
        rc = store_row_insert(tx, STORE_CLIENTS, dup, NULL);
        json_decref(dup);
        if (rc == 0) {
            rc = SB_E_DB;
        }
    }
    if (rc < 0) {
        store_tx_rollback(tx);
        return rc;
    }
    return store_tx_commit(tx);
}

static void *member_main(void *arg)
{
    struct member *m = arg;
    m->rc = m->big > 0 ? write_big(m->s, m->big, m->big_ids, m->update, m->fail)
                       : write_one(m->s, m->id, m->fail);
    return NULL;
}

/* Begin the write transaction that opens a group: one client inserted, id in first. */
static struct store_tx *begin_first(struct store *s, char first[UUID_STR_LEN])
{
    struct store_tx *tx = NULL;
    CHECK_EQ_INT(store_tx_begin(s, true, &tx), 0);
    uuid_v4(first);
    json_t *row = json_pack("{s:s, s:s, s:s}", "id", first, "name", "first", "slug", first);
    CHECK_EQ_INT(store_row_insert(tx, STORE_CLIENTS, row, NULL), 0);
    json_decref(row);
    return tx;
}

/* big: the failing member writes that many large rows first (0: one small row). */
static void test_one_group(struct store *s, int big)
{
    struct sq_store *sq = (struct sq_store *)s;
    sq->group_max_ms = 600000; /* only "nobody waits" ends this group */
    uint64_t groups0 = sq->groups, commits0 = sq->grouped_commits;

    /* The first writer holds the writer lock while two more line up behind it. */
    char first[UUID_STR_LEN];
    struct store_tx *tx = begin_first(s, first);
    char(*big_ids)[UUID_STR_LEN] = big > 0 ? calloc((size_t)big, UUID_STR_LEN) : NULL;
    struct member m[2] = {{.s = s, .fail = true, .big = big, .big_ids = big_ids},
                          {.s = s, .fail = false}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        uuid_v4(m[i].id);
        pthread_create(&th[i], NULL, member_main, &m[i]);
    }
    CHECK_EQ_INT(wait_for_writers(sq, 2), 0);
    /* Two writers wait: this commit joins the group and returns only after its COMMIT,
     * which the last of the three makes. */
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    CHECK_EQ_INT(m[0].rc, SB_E_CONFLICT);
    CHECK_EQ_INT(m[1].rc, 0);
    CHECK_EQ_INT(sq->groups - groups0, 1);
    CHECK_EQ_INT(sq->grouped_commits - commits0, 2);
    CHECK(has_client(s, first));
    CHECK(!has_client(s, m[0].id));
    CHECK(has_client(s, m[1].id));
    int found = 0;
    for (int i = 0; i < big; i++) {
        found += has_client(s, big_ids[i]);
    }
    CHECK_EQ_INT(found, 0);
    free(big_ids);
    sq->group_max_ms = 10;
}

/* A failing member whose sub-journal outgrows SQ_SUBJOURNAL_MEM: n rows of about 3 KB
 * committed first, then changed by the member that fails. SQLite moves the sub-journal to a
 * temporary file and still rolls the member back alone; the small members before did not
 * need a file. */
static void test_group_subjournal_file(struct store *s, int n)
{
    struct sq_store *sq = (struct sq_store *)s;
    char(*ids)[UUID_STR_LEN] = calloc((size_t)n, UUID_STR_LEN);
    CHECK_EQ_INT(write_big(s, n, ids, false, false), 0);
    unsigned long long files0 = sq_walbuf_subjournal_files();
    sq->group_max_ms = 600000;
    char first[UUID_STR_LEN];
    struct store_tx *tx = begin_first(s, first);
    struct member m[2] = {{.s = s, .fail = true, .big = n, .big_ids = ids, .update = true},
                          {.s = s, .fail = false}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        uuid_v4(m[i].id);
        pthread_create(&th[i], NULL, member_main, &m[i]);
    }
    CHECK_EQ_INT(wait_for_writers(sq, 2), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    CHECK_EQ_INT(m[0].rc, SB_E_CONFLICT);
    CHECK_EQ_INT(m[1].rc, 0);
    CHECK(has_client(s, first));
    CHECK(has_client(s, m[1].id));
    CHECK(sq_walbuf_subjournal_files() > files0);
    /* Every row as committed before: none of the member's changes is left. */
    static const struct store_scope all = {.all = true};
    struct store_tx *rtx = NULL;
    CHECK_EQ_INT(store_tx_begin(s, false, &rtx), 0);
    int changed = 0;
    for (int i = 0; i < n; i++) {
        json_t *row = NULL;
        CHECK_EQ_INT(store_row_get(rtx, STORE_CLIENTS, &all, ids[i], &row), 0);
        const char *pad =
            json_string_value(json_object_get(json_object_get(row, "settings"), "pad"));
        changed += !pad || strchr(pad, 'y') != NULL;
        json_decref(row);
    }
    store_tx_rollback(rtx);
    CHECK_EQ_INT(changed, 0);
    free(ids);
    sq->group_max_ms = 10;
}

/* --- the commit generation (store_read_generation) --- */

struct gen_member {
    struct store *s;
    char id[UUID_STR_LEN];
    bool gen_given; /* store_read_generation's answer inside the member's transaction */
    int rc;
};

static void *gen_member_main(void *arg)
{
    struct gen_member *m = arg;
    struct store_tx *tx = NULL;
    m->rc = store_tx_begin(m->s, true, &tx);
    if (m->rc < 0) {
        return NULL;
    }
    uint64_t g;
    m->gen_given = store_read_generation(m->s, &g);
    json_t *row = json_pack("{s:s, s:s, s:s}", "id", m->id, "name", "gen", "slug", m->id);
    m->rc = store_row_insert(tx, STORE_CLIENTS, row, NULL);
    json_decref(row);
    if (m->rc < 0) {
        store_tx_rollback(tx);
        return NULL;
    }
    m->rc = store_tx_commit(tx);
    return NULL;
}

static uint64_t gen_now(struct store *s)
{
    uint64_t g = 0;
    CHECK(store_read_generation(s, &g));
    return g;
}

/*
 * The generation grows with every committed write and only then: not with reads or
 * rolled-back writes. While a commit is in flight (here: the first writer of a group, whose
 * work waits in the open group for the member behind it) no generation is given, so a cache
 * cannot serve an answer read before a write whose COMMIT is under way.
 */
static void test_generation(struct store *s)
{
    struct sq_store *sq = (struct sq_store *)s;
    uint64_t g0 = gen_now(s);
    struct store_tx *tx = NULL;
    CHECK_EQ_INT(store_tx_begin(s, false, &tx), 0);
    int64_t head = 0;
    CHECK_EQ_INT(store_tx_head_seq(tx, &head), 0);
    store_tx_rollback(tx);
    CHECK_EQ_INT(gen_now(s), g0);

    char id[UUID_STR_LEN];
    uuid_v4(id);
    CHECK_EQ_INT(write_one(s, id, false), 0);
    uint64_t g1 = gen_now(s);
    CHECK(g1 > g0);
    uuid_v4(id);
    CHECK_EQ_INT(write_one(s, id, true), SB_E_CONFLICT);
    CHECK_EQ_INT(gen_now(s), g1);

    sq->group_max_ms = 600000;
    char first[UUID_STR_LEN];
    tx = begin_first(s, first);
    struct gen_member m = {.s = s, .gen_given = true};
    uuid_v4(m.id);
    pthread_t th;
    pthread_create(&th, NULL, gen_member_main, &m);
    CHECK_EQ_INT(wait_for_writers(sq, 1), 0);
    /* Our commit waits in the group until the member ends it; the member runs meanwhile. */
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    pthread_join(th, NULL);
    sq->group_max_ms = 10;
    CHECK_EQ_INT(m.rc, 0);
    CHECK(!m.gen_given);
    uint64_t g2 = gen_now(s);
    CHECK(g2 > g1);
    CHECK(has_client(s, first));
    CHECK(has_client(s, m.id));

    CHECK(store_changes_prune(s, 0) >= 0);
    CHECK(gen_now(s) > g2);
}

/* --- many writers --- */

struct writer {
    struct store *s;
    int n;
    int fd; /* -1, or a pipe: each outcome as a line 'A'/'F' + id + '\n' */
    char (*acked)[UUID_STR_LEN];
    int nacked;
    char (*failed)[UUID_STR_LEN];
    int nfailed;
    int errors; /* unexpected results */
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < w->n; i++) {
        char id[UUID_STR_LEN];
        uuid_v4(id);
        bool fail = i % FAIL_EVERY == FAIL_EVERY - 1;
        int rc = write_one(w->s, id, fail);
        if (fail ? rc != SB_E_CONFLICT : rc != 0) {
            w->errors++;
            continue;
        }
        if (w->fd >= 0) {
            char line[ID_LINE + 1];
            line[0] = fail ? 'F' : 'A';
            memcpy(line + 1, id, UUID_STR_LEN - 1);
            line[UUID_STR_LEN] = '\n';
            if (write(w->fd, line, ID_LINE) != ID_LINE) {
                _exit(3);
            }
        } else if (fail) {
            memcpy(w->failed[w->nfailed++], id, UUID_STR_LEN);
        } else {
            memcpy(w->acked[w->nacked++], id, UUID_STR_LEN);
        }
    }
    return NULL;
}

static void test_many_writers(struct store *s)
{
    struct writer w[THREADS];
    pthread_t th[THREADS];
    atomic_store(&hook_calls, 0);
    atomic_store(&hook_early, 0);
    store_set_commit_hook(s, on_commit, s);
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct writer){.s = s, .n = PER_THREAD, .fd = -1};
        w[t].acked = calloc(PER_THREAD, UUID_STR_LEN);
        w[t].failed = calloc(PER_THREAD, UUID_STR_LEN);
        pthread_create(&th[t], NULL, writer_main, &w[t]);
    }
    int acked = 0, errors = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        acked += w[t].nacked;
        errors += w[t].errors;
    }
    store_set_commit_hook(s, NULL, NULL);
    CHECK_EQ_INT(errors, 0);
    CHECK_EQ_INT(acked, THREADS * (PER_THREAD - PER_THREAD / FAIL_EVERY));
    CHECK_EQ_INT(atomic_load(&hook_calls), acked);
    CHECK_EQ_INT(atomic_load(&hook_early), 0);
    int missing = 0, present = 0;
    for (int t = 0; t < THREADS; t++) {
        for (int i = 0; i < w[t].nacked; i++) {
            missing += !has_client(s, w[t].acked[i]);
        }
        for (int i = 0; i < w[t].nfailed; i++) {
            present += has_client(s, w[t].failed[i]);
        }
        free(w[t].acked);
        free(w[t].failed);
    }
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(present, 0);
    int64_t checked = 0, bad = -1;
    CHECK_EQ_INT(store_audit_verify(s, &checked, &bad), 0);
    CHECK_EQ_INT(bad, 0);
    check_seq_gap_free(s);
}

/* --- SIGKILL in the middle --- */

static void child_main(const char *dir, int fd)
{
    char url[200];
    snprintf(url, sizeof url, "sqlite:%s/t.db", dir);
    struct store *s = NULL;
    if (store_open(url, NULL, &s) < 0) {
        _exit(2);
    }
    struct writer w[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct writer){.s = s, .n = CHILD_PER_THREAD, .fd = fd};
        pthread_create(&th[t], NULL, writer_main, &w[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    _exit(0); /* normally killed long before */
}

static void test_kill9(const char *dir)
{
    int p[2];
    CHECK_EQ_INT(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_main(dir, p[1]);
    }
    close(p[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int acks = 0;
    bool killed = false;
    for (int waited_ms = 0; waited_ms < 120000;) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        int pr = poll(&pfd, 1, 100);
        if (pr == 0) {
            waited_ms += 100;
            continue;
        }
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = read(p[0], buf + len, 4096);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* EOF: the child is gone */
        }
        for (ssize_t i = 0; i < n; i++) {
            acks += buf[len + (size_t)i] == '\n';
        }
        len += (size_t)n;
        if (!killed && acks >= KILL_AFTER_ACKS) {
            kill(pid, SIGKILL);
            killed = true;
        }
    }
    if (!killed) {
        kill(pid, SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(p[0]);
    CHECK(killed);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_EQ_INT(len % ID_LINE, 0);

    char url[200];
    snprintf(url, sizeof url, "sqlite:%s/t.db", dir);
    struct store *s = NULL;
    CHECK_EQ_INT(store_open(url, NULL, &s), 0);
    if (!s) {
        free(buf);
        return;
    }
    int nacked = 0, missing = 0, present = 0;
    for (size_t off = 0; off + ID_LINE <= len; off += ID_LINE) {
        char id[UUID_STR_LEN];
        memcpy(id, buf + off + 1, UUID_STR_LEN - 1);
        id[UUID_STR_LEN - 1] = 0;
        if (buf[off] == 'A') {
            nacked++;
            missing += !has_client(s, id);
        } else {
            present += has_client(s, id);
        }
    }
    CHECK(nacked >= KILL_AFTER_ACKS * (FAIL_EVERY - 1) / FAIL_EVERY);
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(present, 0);
    int64_t checked = 0, bad = -1;
    CHECK_EQ_INT(store_audit_verify(s, &checked, &bad), 0);
    CHECK_EQ_INT(bad, 0);
    CHECK(checked >= nacked);
    check_seq_gap_free(s);
    /* The store still writes after the crash. */
    char id[UUID_STR_LEN];
    uuid_v4(id);
    CHECK_EQ_INT(write_one(s, id, false), 0);
    CHECK(has_client(s, id));
    store_free(s);
    free(buf);
}

/*
 * Deferred commits (store_defer_begin/end, the API's writer lane): on one thread, commits join
 * one group and return at once; their work is neither visible to other connections, nor
 * announced by the commit hook, nor allowed into a read cache (no generation) until
 * store_defer_end commits the group; a member that fails rolls back alone; another thread's
 * writer waits for the end of the batch and then commits normally.
 */
struct plain_writer {
    struct store *s;
    char id[UUID_STR_LEN];
    int rc;
};

static void *plain_writer_main(void *arg)
{
    struct plain_writer *w = arg;
    w->rc = write_one(w->s, w->id, false);
    return NULL;
}

static void test_deferred(struct store *s)
{
    struct sq_store *sq = (struct sq_store *)s;
    CHECK(store_can_defer(s));
    store_set_commit_hook(s, on_commit, s);
    int calls0 = atomic_load(&hook_calls);
    uint64_t groups0 = sq->groups;
    char ids[3][UUID_STR_LEN];
    for (int i = 0; i < 3; i++) {
        uuid_v4(ids[i]);
    }
    store_defer_begin(s);
    CHECK_EQ_INT(store_defer_count(s), 0);
    CHECK_EQ_INT(write_one(s, ids[0], false), 0);
    CHECK_EQ_INT(write_one(s, ids[1], true), SB_E_CONFLICT);
    struct plain_writer w = {.s = s};
    uuid_v4(w.id);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, plain_writer_main, &w), 0);
    CHECK_EQ_INT(wait_for_writers(sq, 1), 0); /* it waits for the batch */
    CHECK_EQ_INT(write_one(s, ids[2], false), 0);
    int64_t last_head = expect_head;
    CHECK_EQ_INT(store_defer_count(s), 2);
    CHECK(!has_client(s, ids[0]) && !has_client(s, ids[2])); /* not committed yet */
    CHECK_EQ_INT(atomic_load(&hook_calls), calls0);
    uint64_t g = 0;
    CHECK(!store_read_generation(s, &g));
    uint64_t ticket = 0;
    CHECK_EQ_INT(store_defer_end(s, &ticket), 0);
    CHECK_EQ_INT(store_sync(s, ticket), 0);
    expect_head = last_head;
    CHECK(has_client(s, ids[0]) && !has_client(s, ids[1]) && has_client(s, ids[2]));
    CHECK(atomic_load(&hook_calls) >= calls0 + 1);
    CHECK_EQ_INT(atomic_load(&hook_early), 0);
    CHECK(sq->groups >= groups0 + 1);
    pthread_join(th, NULL);
    CHECK_EQ_INT(w.rc, 0);
    CHECK(has_client(s, w.id));
    CHECK(store_read_generation(s, &g));
    /* A batch that committed nothing ends cleanly. */
    store_defer_begin(s);
    uuid_v4(ids[1]);
    CHECK_EQ_INT(write_one(s, ids[1], true), SB_E_CONFLICT);
    CHECK_EQ_INT(store_defer_count(s), 0);
    CHECK_EQ_INT(store_defer_end(s, &ticket), 0);
    CHECK_EQ_INT(store_sync(s, ticket), 0);
    CHECK(!has_client(s, ids[1]));
    store_set_commit_hook(s, NULL, NULL);
    check_seq_gap_free(s);
}

/*
 * Durability outside the writer lock ("Durability" in sqlite_store.c): a plain commit returns
 * only once an fdatasync covered its COMMIT; a deferred batch is committed but not yet synced
 * when store_defer_end returns, and store_sync makes it durable; a read of the change log
 * that finds its rows syncs them first (the hub hands out only what is on disk), after which
 * store_sync has nothing left to do. With sqlite_sync = normal the store never syncs itself.
 */
static void test_durability(struct store *s, const char *dir)
{
    struct sq_store *sq = (struct sq_store *)s;
    CHECK(sq->sync_own);
    char id[UUID_STR_LEN];
    uuid_v4(id);
    uint64_t syncs0 = sq->syncs;
    CHECK_EQ_INT(write_one(s, id, false), 0);
    CHECK(sq->syncs > syncs0);
    CHECK(sq->synced == atomic_load(&sq->ended));
    CHECK(sq->synced == atomic_load(&sq->begun));

    int64_t oldest = 0, head = 0;
    CHECK_EQ_INT(store_changes_bounds(s, &oldest, &head), 0);

    /* A change-log head handed to a reader (a list's seq, a join's resume point) is on disk:
     * the read syncs the batch it sees, and the batch's own store_sync has nothing left. */
    for (int via_bounds = 0; via_bounds <= 1; via_bounds++) {
        store_defer_begin(s);
        uuid_v4(id);
        CHECK_EQ_INT(write_one(s, id, false), 0);
        uint64_t t = 0;
        CHECK_EQ_INT(store_defer_end(s, &t), 0);
        CHECK(sq->synced < t);
        syncs0 = sq->syncs;
        int64_t seen = 0, first = 0;
        if (via_bounds) {
            CHECK_EQ_INT(store_changes_bounds(s, &first, &seen), 0);
        } else {
            struct store_tx *tx = NULL;
            CHECK_EQ_INT(store_tx_begin(s, false, &tx), 0);
            CHECK_EQ_INT(store_tx_head_seq(tx, &seen), 0);
            store_tx_rollback(tx);
        }
        CHECK(seen > head);
        CHECK(sq->synced >= t);
        CHECK_EQ_INT((int)(sq->syncs - syncs0), 1);
        CHECK_EQ_INT(store_sync(s, t), 0);
        CHECK_EQ_INT((int)(sq->syncs - syncs0), 1);
        head = seen;
    }
    /* Nothing pending: reading a head does not sync. */
    syncs0 = sq->syncs;
    CHECK_EQ_INT(store_changes_bounds(s, &oldest, &head), 0);
    CHECK_EQ_INT((int)(sq->syncs - syncs0), 0);

    store_defer_begin(s);
    uuid_v4(id);
    CHECK_EQ_INT(write_one(s, id, false), 0);
    uint64_t ticket = 0;
    CHECK_EQ_INT(store_defer_end(s, &ticket), 0);
    CHECK(ticket == atomic_load(&sq->begun));
    CHECK(sq->synced < ticket); /* committed, visible, not yet known to be on disk */
    CHECK(has_client(s, id));
    syncs0 = sq->syncs;
    struct store_change *ch = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_changes_read_raw(s, head, 100, &ch, &n), 0);
    CHECK(n >= 1);
    store_changes_free(ch, n);
    CHECK(sq->synced >= ticket);
    CHECK_EQ_INT((int)(sq->syncs - syncs0), 1);
    CHECK_EQ_INT(store_sync(s, ticket), 0);
    CHECK_EQ_INT((int)(sq->syncs - syncs0), 1); /* nothing left to sync */
    /* Nothing new: reading the log does not sync. */
    CHECK_EQ_INT(store_changes_bounds(s, &oldest, &head), 0);
    CHECK_EQ_INT(store_changes_read_raw(s, head, 100, &ch, &n), 0);
    CHECK_EQ_INT((int)n, 0);
    store_changes_free(ch, n);
    CHECK_EQ_INT((int)(sq->syncs - syncs0), 1);

    /* sqlite_sync = normal: SQLite's own NORMAL, no syncs of ours. */
    char url[200];
    snprintf(url, sizeof url, "sqlite:%s/t.db", dir);
    struct store_options opt = {.sqlite_sync_normal = true};
    struct store *s2 = NULL;
    CHECK_EQ_INT(store_open(url, &opt, &s2), 0);
    if (s2) {
        struct sq_store *sq2 = (struct sq_store *)s2;
        CHECK(!sq2->sync_own);
        uuid_v4(id);
        CHECK_EQ_INT(write_one(s2, id, false), 0);
        CHECK_EQ_INT((int)sq2->syncs, 0);
        store_free(s2);
    }
    check_seq_gap_free(s);
}

/*
 * A COMMIT that fails: the process may not grow files (RLIMIT_FSIZE, which fails the WAL's
 * writes as a full disk would). A deferred batch reports the failure from store_defer_end and
 * none of its work is there; a plain commit reports it from store_tx_commit; then the store
 * writes again.
 */
static void set_fsize(rlim_t cur)
{
    struct rlimit r;
    CHECK_EQ_INT(getrlimit(RLIMIT_FSIZE, &r), 0);
    r.rlim_cur = cur;
    CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &r), 0);
}

static void test_commit_fails(struct store *s)
{
    struct rlimit orig;
    CHECK_EQ_INT(getrlimit(RLIMIT_FSIZE, &orig), 0);
    signal(SIGXFSZ, SIG_IGN);
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    uuid_v4(a);
    uuid_v4(b);
    uuid_v4(c);
    store_defer_begin(s);
    CHECK_EQ_INT(write_one(s, a, false), 0);
    CHECK_EQ_INT(write_one(s, b, false), 0);
    set_fsize(64); /* the WAL header fits, no frame does */
    uint64_t ticket = 0;
    int rc = store_defer_end(s, &ticket);
    set_fsize(orig.rlim_cur);
    CHECK(rc < 0);
    CHECK(!has_client(s, a) && !has_client(s, b));

    set_fsize(64);
    rc = write_one(s, c, false);
    set_fsize(orig.rlim_cur);
    CHECK(rc < 0);
    CHECK(!has_client(s, c));

    CHECK_EQ_INT(write_one(s, c, false), 0);
    CHECK(has_client(s, c));
    check_seq_gap_free(s);
}

static void test_wal_runs(struct store *s, const char *dir)
{
    enum { ROWS = 1500 };
    char name[1001];
    memset(name, 'w', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    unsigned long long writes0 = 0, frames0 = 0, writes1 = 0, frames1 = 0;
    sq_walbuf_counts(&writes0, &frames0);
    struct store_tx *tx = NULL;
    CHECK_EQ_INT(store_tx_begin(s, true, &tx), 0);
    int rc = 0;
    for (int i = 0; i < ROWS && rc == 0; i++) {
        char id[UUID_STR_LEN], slug[40];
        uuid_v7(id);
        snprintf(slug, sizeof slug, "walrun-%d", i);
        json_t *row = json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "slug", slug);
        rc = store_row_insert(tx, STORE_CLIENTS, row, NULL);
        json_decref(row);
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(rc == 0 ? store_tx_commit(tx) : (store_tx_rollback(tx), rc), 0);
    sq_walbuf_counts(&writes1, &frames1);
    unsigned long long writes = writes1 - writes0, frames = frames1 - frames0;
    /* Rows, their change-log copies and indexes: several hundred pages of 4 KiB. */
    CHECK(frames >= 300);
    /* Two writes per frame without the layer; about one per 16 frames (64 KiB) with it. */
    CHECK(writes * 8 <= frames);
    if (writes * 8 > frames) {
        fprintf(stderr, "  %llu writes for %llu frames\n", writes, frames);
    }

    /* Without the layer, as a backup tool or the sqlite3 shell would read it. */
    char path[200];
    snprintf(path, sizeof path, "%s/t.db", dir);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK_EQ_INT(sqlite3_prepare_v2(db,
                                    "SELECT count(*), min(length(name)) FROM clients "
                                    "WHERE slug LIKE 'walrun-%'",
                                    -1, &st, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(st, 0), ROWS);
    CHECK_EQ_INT(sqlite3_column_int(st, 1), (int)sizeof name - 1);
    sqlite3_finalize(st);
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    check_seq_gap_free(s);
}

/* One write transaction of n client rows with 1 KB names (several pages each). */
static int big_commit(struct store *s, int n, const char *tag)
{
    static char name[1001];
    memset(name, 'c', sizeof name - 1);
    struct store_tx *tx = NULL;
    int rc = store_tx_begin(s, true, &tx);
    for (int i = 0; i < n && rc == 0; i++) {
        char id[UUID_STR_LEN], slug[60];
        uuid_v7(id);
        snprintf(slug, sizeof slug, "%s-%d", tag, i);
        json_t *row = json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "slug", slug);
        rc = store_row_insert(tx, STORE_CLIENTS, row, NULL);
        json_decref(row);
    }
    if (rc == 0) {
        return store_tx_commit(tx);
    }
    if (tx) {
        store_tx_rollback(tx);
    }
    return rc;
}

/*
 * Checkpoints off the writer (sqlite_checkpoint.c): once a COMMIT leaves SQ_CKPT_PAGES pages in
 * the WAL that were not copied, the checkpoint thread copies them, and the writer does not;
 * and however much is written, the WAL file stays within SQ_CKPT_INLINE pages and one
 * transaction's (the writer checkpoints in its COMMIT past that, so that the WAL restarts).
 */
static void test_checkpoints(struct store *s)
{
    struct sq_store *sq = (struct sq_store *)s;
    CHECK(sq->ckpt_on);
    /* Lower bounds, so that the WAL passes them several times in a few seconds. */
    enum { PAGES = 200, INLINE = 1000 };
    pthread_mutex_lock(&sq->ckpt.mu);
    uint64_t runs0 = sq->ckpt.runs, inline0 = sq->ckpt.inline_runs;
    sq->ckpt.pages = PAGES;
    sq->ckpt.inline_pages = INLINE;
    sq->ckpt.most = 0;
    pthread_mutex_unlock(&sq->ckpt.mu);
    unsigned long long w0 = 0, f0 = 0, w1 = 0, f1 = 0, most = 0, total = 0;
    for (int i = 0; total < 6 * INLINE && i < 200; i++) {
        char tag[40];
        snprintf(tag, sizeof tag, "ckpt-%d", i);
        sq_walbuf_counts(&w0, &f0);
        CHECK_EQ_INT(big_commit(s, 400, tag), 0);
        sq_walbuf_counts(&w1, &f1);
        total += f1 - f0;
        most = f1 - f0 > most ? f1 - f0 : most;
        if (total >= 2 * PAGES && i % 4 == 0) {
            /* The thread checkpoints meanwhile (bounded wait: it was woken at a COMMIT). */
            for (int t = 0; t < 1000; t++) {
                pthread_mutex_lock(&sq->ckpt.mu);
                bool ran = sq->ckpt.runs > runs0;
                pthread_mutex_unlock(&sq->ckpt.mu);
                if (ran) {
                    break;
                }
                poll(NULL, 0, 10);
            }
        }
    }
    pthread_mutex_lock(&sq->ckpt.mu);
    uint64_t runs = sq->ckpt.runs - runs0, inlines = sq->ckpt.inline_runs - inline0;
    unsigned long long largest = sq->ckpt.most;
    sq->ckpt.pages = SQ_CKPT_PAGES;
    sq->ckpt.inline_pages = SQ_CKPT_INLINE;
    pthread_mutex_unlock(&sq->ckpt.mu);
    CHECK(total >= 6 * INLINE);
    CHECK(runs >= 1);
    /* Per INLINE pages at most one checkpoint of the writer (none while the thread keeps the
     * WAL starting again by itself). */
    CHECK(inlines <= total / INLINE);
    /* The writer's checkpoint is skipped while the thread's runs (the next COMMIT tries
     * again): a few transactions more than INLINE, far below everything written. */
    unsigned long long bound = INLINE + 4 * most;
    CHECK(largest <= bound);
    if (largest > bound || runs < 1) {
        fprintf(stderr,
                "  %llu pages written, the WAL up to %llu pages (bound %llu), %llu checkpoints "
                "by the thread, %llu by the writer\n",
                total, largest, bound, (unsigned long long)runs, (unsigned long long)inlines);
    }
}

/* SQLite keeps no global memory statistics (each allocation would take a process-wide
 * mutex to count itself): with them on, the writes above would have counted bytes. */
static void test_no_memstatus(void)
{
    sqlite3_int64 cur = -1, high = -1;
    CHECK(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &high, 0) == SQLITE_OK);
    CHECK_EQ_INT(cur, 0);
    CHECK_EQ_INT(high, 0);
}

int main(void)
{
    char dir[] = "/tmp/sb-groupXXXXXX";
    struct store *s = NULL;
    if (test_store_open(dir, &s) < 0) {
        fprintf(stderr, "cannot open a test store\n");
        return 1;
    }
    unsigned long long files0 = sq_walbuf_subjournal_files();
    test_one_group(s, 0);
    test_one_group(s, 100); /* about 300 KB of pages to undo, in memory */
    CHECK_EQ_INT((int)(sq_walbuf_subjournal_files() - files0), 0);
    test_group_subjournal_file(s, 600); /* about 1.8 MB of pages to undo: in a file */
    test_generation(s);
    test_deferred(s);
    test_durability(s, dir);
    test_commit_fails(s);
    test_wal_runs(s, dir);
    test_checkpoints(s);
    test_many_writers(s);
    test_no_memstatus();
    store_free(s);
    test_kill9(dir);
    test_store_remove(dir);
    return test_done();
}
