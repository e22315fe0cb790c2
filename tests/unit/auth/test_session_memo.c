/*
 * The per-thread memo of verified access tokens (session.c): a token checked a second time
 * gives the same principal without being verified again, yet a tampered copy is still
 * refused, a revoked session or user is refused on the remembered path too, and a token
 * remembered by one instance (server) is never taken as verified by another in the same
 * thread: one with another key refuses it.
 */
#include "test.h"
#include "test_auth.h"
#include "test_store.h"

#include <stdlib.h>
#include <string.h>

#include "auth/session.h"
#include "base/err.h"
#include "base/rand.h"
#include "store/store.h"

static struct store *store;
static struct auth_session *as;

static int insert(enum store_table table, json_t *row, char *id)
{
    return test_store_insert(store, table, row, id);
}

static int check(struct auth_session *a, const char *tok, struct policy_principal *p,
                 const char **why)
{
    *why = NULL;
    return auth_session_check_token(a, tok, strlen(tok), p, why);
}

int main(void)
{
    char dir[] = "/tmp/sb-memoXXXXXX";
    if (test_store_open(dir, &store) < 0) {
        fprintf(stderr, "cannot open a test store\n");
        return 1;
    }
    char client[40], uid[40], uid2[40];
    CHECK_EQ_INT(
        insert(STORE_CLIENTS, json_pack("{s:s,s:s}", "name", "Acme", "slug", "acme"), client), 0);
    CHECK_EQ_INT(insert(STORE_USERS,
                        json_pack("{s:s,s:s,s:s,s:s}", "client_id", client, "email", "a@acme.test",
                                  "name", "A", "role", "admin"),
                        uid),
                 0);
    CHECK_EQ_INT(insert(STORE_USERS,
                        json_pack("{s:s,s:s,s:s,s:s}", "client_id", client, "email", "b@acme.test",
                                  "name", "B", "role", "admin"),
                        uid2),
                 0);
    struct auth_session_config ac = {.jwt_secret = "memo-test-secret-memo-test-secret-0123456789"};
    CHECK_EQ_INT(auth_session_new(store, &ac, &as), 0);

    char sid[UUID_STR_LEN], sid2[UUID_STR_LEN];
    uuid_v4(sid);
    uuid_v4(sid2);
    char *tok = issue(as, client, uid, sid);
    char *tok2 = issue(as, client, uid2, sid2);
    CHECK(tok && tok2);
    if (!tok || !tok2) {
        return test_done();
    }
    struct policy_principal p, q;
    const char *why = NULL;

    /* Verified, then remembered: the same principal both times. */
    CHECK_EQ_INT(check(as, tok, &p, &why), 0);
    CHECK_EQ_INT(check(as, tok, &q, &why), 0);
    CHECK_EQ_STR(q.user_id, uid);
    CHECK_EQ_STR(q.client_id, client);
    CHECK_EQ_STR(q.sid, sid);
    CHECK_EQ_INT(q.role, ROLE_ADMIN);
    CHECK_EQ_INT(q.iat, p.iat);

    /* A copy with one signature byte changed, and a truncated one, are refused. */
    char *bad = strdup(tok);
    size_t n = strlen(bad);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(check(as, bad, &q, &why), SB_E_UNAUTHORIZED);
    CHECK(why && strcmp(why, "bad signature") == 0);
    CHECK_EQ_INT(check(as, tok, &q, &why), 0);
    CHECK_EQ_INT(check(as, bad, &q, &why), SB_E_UNAUTHORIZED);
    bad[n - 1] = 0;
    CHECK_EQ_INT(check(as, bad, &q, &why), SB_E_UNAUTHORIZED);
    CHECK(q.user_id[0] == 0);
    /* Same length and same last bytes (so the remembered token's slot), one claim byte
     * changed: compared whole, it is not the remembered token, and its signature fails. */
    memcpy(bad, tok, n + 1);
    char *dot = strchr(bad, '.');
    CHECK(dot != NULL);
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(check(as, tok, &q, &why), 0);
    CHECK_EQ_INT(check(as, bad, &q, &why), SB_E_UNAUTHORIZED);
    CHECK(q.user_id[0] == 0);
    free(bad);

    /* Revocation applies on the remembered path. */
    CHECK_EQ_INT(check(as, tok2, &q, &why), 0);
    auth_session_revoke_sid(as, sid);
    CHECK_EQ_INT(check(as, tok, &q, &why), SB_E_UNAUTHORIZED);
    CHECK(q.user_id[0] == 0);
    CHECK_EQ_INT(check(as, tok2, &q, &why), 0);
    auth_session_revoke_user(as, uid2);
    CHECK_EQ_INT(check(as, tok2, &q, &why), SB_E_UNAUTHORIZED);

    /* Another key: the remembered token of the old one is refused. */
    char uid3[40];
    CHECK_EQ_INT(insert(STORE_USERS,
                        json_pack("{s:s,s:s,s:s,s:s}", "client_id", client, "email", "c@acme.test",
                                  "name", "C", "role", "admin"),
                        uid3),
                 0);
    auth_session_free(as);
    CHECK_EQ_INT(auth_session_new(store, &ac, &as), 0);
    char *tok3 = issue(as, client, uid3, "");
    CHECK(tok3 != NULL);
    CHECK_EQ_INT(check(as, tok3, &q, &why), 0);
    CHECK_EQ_INT(check(as, tok3, &q, &why), 0);
    /* A second instance in this thread, with another key, while the first one lives: the
     * token the first one remembers is verified again, and refused. */
    struct auth_session_config other = {.jwt_secret = "another-secret-another-secret-0123456789ab"};
    struct auth_session *as2 = NULL;
    CHECK_EQ_INT(auth_session_new(store, &other, &as2), 0);
    CHECK_EQ_INT(check(as2, tok3, &q, &why), SB_E_UNAUTHORIZED);
    CHECK(why && strcmp(why, "bad signature") == 0);
    CHECK_EQ_INT(check(as, tok3, &q, &why), 0);
    CHECK_EQ_INT(check(as2, tok3, &q, &why), SB_E_UNAUTHORIZED);
    auth_session_free(as2);
    auth_session_free(as);

    free(tok);
    free(tok2);
    free(tok3);
    store_free(store);
    test_store_remove(dir);
    return test_done();
}
