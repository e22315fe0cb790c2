/*
 * The session cache is an instance: two of them in one process (two servers, as in the unit
 * tests of realtime) share nothing. A revocation, a disabled user from the change log or a
 * freed instance in one leaves the other as it was, and verification never reads the store.
 */
#include "test.h"
#include "test_auth.h"
#include "test_store.h"

#include <stdlib.h>
#include <string.h>

#include "auth/device.h"
#include "auth/session.h"
#include "base/err.h"
#include "store/store.h"

static struct store *store;

#define SECRET "unit-test-secret-unit-test-secret-unit-test-secret-0123456789"

static int insert(enum store_table table, json_t *row, char *id)
{
    return test_store_insert(store, table, row, id);
}

static int check(struct auth_session *a, const char *tok, const char **why)
{
    struct policy_principal p;
    *why = NULL;
    return auth_session_check_token(a, tok, strlen(tok), &p, why);
}

/* Apply to a every change after *seq (and move *seq past them). */
static void feed(struct auth_session *a, int64_t *seq)
{
    struct store_change *ch = NULL;
    size_t n = 0;
    CHECK_EQ_INT(store_changes_read(store, *seq, 1000, &ch, &n), 0);
    for (size_t i = 0; i < n; i++) {
        auth_session_apply_change(a, &ch[i]);
        *seq = ch[i].seq;
    }
    store_changes_free(ch, n);
}

int main(void)
{
    char dir[] = "/tmp/sbsessXXXXXX";
    if (test_store_open(dir, &store) < 0) {
        return 1;
    }
    char acme[40], u1[40], u2[40];
    CHECK_EQ_INT(
        insert(STORE_CLIENTS, json_pack("{s:s,s:s}", "name", "Acme", "slug", "acme"), acme), 0);
    CHECK_EQ_INT(insert(STORE_USERS,
                        json_pack("{s:s,s:s,s:s,s:s}", "client_id", acme, "email", "a@acme.test",
                                  "name", "A", "role", "admin"),
                        u1),
                 0);
    CHECK_EQ_INT(insert(STORE_USERS,
                        json_pack("{s:s,s:s,s:s,s:s}", "client_id", acme, "email", "b@acme.test",
                                  "name", "B", "role", "admin"),
                        u2),
                 0);
    int64_t oldest = 0, seq = 0;
    CHECK_EQ_INT(store_changes_bounds(store, &oldest, &seq), 0);

    /* Two servers' caches on one database with one secret. */
    struct auth_session_config cfg = {.jwt_secret = SECRET};
    struct auth_session *a = NULL, *b = NULL, *other = NULL;
    CHECK_EQ_INT(auth_session_new(store, &cfg, &a), 0);
    CHECK_EQ_INT(auth_session_new(store, &cfg, &b), 0);
    CHECK(a && b && a != b);
    char *t1 = issue(a, acme, u1, "00000000-0000-4000-8000-000000000001");
    char *t1b = issue(a, acme, u1, "00000000-0000-4000-8000-000000000002");
    char *t2 = issue(b, acme, u2, "00000000-0000-4000-8000-000000000003");
    CHECK(t1 && t1b && t2);
    const char *why = NULL;
    CHECK_EQ_INT(check(a, t1, &why), 0);
    CHECK_EQ_INT(check(b, t1, &why), 0);
    CHECK_EQ_INT(check(a, t2, &why), 0);

    /* A revoked session in a is revoked in a only. */
    auth_session_revoke_sid(a, "00000000-0000-4000-8000-000000000001");
    CHECK_EQ_INT(check(a, t1, &why), SB_E_UNAUTHORIZED);
    CHECK_EQ_STR(why, "session revoked");
    CHECK_EQ_INT(check(b, t1, &why), 0);
    CHECK_EQ_INT(check(a, t1b, &why), 0);

    /* A password change revoking user u2 in b leaves a's cache alone. */
    auth_session_revoke_user(b, u2);
    CHECK_EQ_INT(check(b, t2, &why), SB_E_UNAUTHORIZED);
    CHECK_EQ_INT(check(a, t2, &why), 0);
    /* The session issued right after it (the caller's new one) is not revoked with them: it
     * is dated the next second, at once (no wait for the clock). */
    char *t2n = issue(b, acme, u2, "00000000-0000-4000-8000-000000000004");
    CHECK_EQ_INT(check(b, t2n, &why), 0);
    free(t2n);

    /* The change log disabling u1, fed to b only (its hub), cuts u1 in b only. */
    struct store_tx *tx = NULL;
    struct store_scope all = {.all = true};
    json_t *patch = json_pack("{s:s}", "status", "disabled");
    CHECK_EQ_INT(store_tx_begin(store, true, &tx), 0);
    CHECK_EQ_INT(store_row_update(tx, STORE_USERS, &all, u1, patch, 0, NULL), 0);
    CHECK_EQ_INT(store_tx_commit(tx), 0);
    json_decref(patch);
    feed(b, &seq);
    CHECK_EQ_INT(check(b, t1b, &why), SB_E_UNAUTHORIZED);
    CHECK_EQ_STR(why, "user disabled or unknown");
    CHECK_EQ_INT(check(a, t1b, &why), 0);

    /* A third server with its own secret accepts neither's tokens, and they not its. */
    struct auth_session_config cfg2 = {.jwt_secret =
                                           "another-secret-another-secret-another-secret-0123"};
    CHECK_EQ_INT(auth_session_new(store, &cfg2, &other), 0);
    CHECK_EQ_INT(check(other, t1b, &why), SB_E_UNAUTHORIZED);
    CHECK_EQ_STR(why, "bad signature");
    char *t3 = issue(other, acme, u1, "00000000-0000-4000-8000-000000000004");
    CHECK(t3 != NULL);
    CHECK_EQ_INT(check(a, t3, &why), SB_E_UNAUTHORIZED);
    /* Device-cookie keys are per instance too: derived from each one's secret, so a cookie
     * made by a works on b (same secret: every node of one database) and not on other. */
    char dev[AUTH_DEVICE_LEN];
    auth_device_issue(auth_session_device_key(a), "a@acme.test", 1800000000000LL, dev);
    CHECK(auth_device_valid(auth_session_device_key(b), "a@acme.test", dev, 1800000000000LL));
    CHECK(!auth_device_valid(auth_session_device_key(other), "a@acme.test", dev, 1800000000000LL));
    CHECK(auth_session_device_key(NULL) == NULL);
    /* Garbage is refused with a reason, not a crash. */
    CHECK_EQ_INT(check(a, "not.a.token", &why), SB_E_UNAUTHORIZED);
    CHECK(why != NULL);
    /* A bad configuration fails the new instance, not the others. */
    struct auth_session_config bad = {.jwt_secret = "short"};
    struct auth_session *none = (struct auth_session *)&bad;
    CHECK_EQ_INT(auth_session_new(store, &bad, &none), SB_E_CONFIG);
    CHECK(none == NULL);

    /* A token b issues to u2 after its password change holds in b (issued at valid_after). */
    char *t4 = issue(b, acme, u2, "00000000-0000-4000-8000-000000000005");
    CHECK(t4 != NULL);
    CHECK_EQ_INT(check(b, t4, &why), 0);

    /* Freeing one instance wipes its key, not the other's. */
    auth_session_free(a);
    auth_session_free(other);
    CHECK_EQ_INT(check(b, t4, &why), 0);

    /* Verification is memory only: it works with the store gone (ASan would catch a read). */
    store_free(store);
    store = NULL;
    CHECK_EQ_INT(check(b, t4, &why), 0);
    CHECK_EQ_INT(check(b, t2, &why), SB_E_UNAUTHORIZED);
    CHECK_EQ_INT(check(b, t1b, &why), SB_E_UNAUTHORIZED);

    /* The revoke and note calls of a svc without a server do nothing. */
    auth_session_revoke_sid(NULL, "x");
    auth_session_revoke_user(NULL, u1);
    auth_session_free(NULL);

    auth_session_free(b);
    free(t1);
    free(t1b);
    free(t2);
    free(t3);
    free(t4);
    test_store_remove(dir);
    return test_done();
}
