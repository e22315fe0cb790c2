/* Unit tests for src/auth/grace.c: the refresh reuse grace cache. */
#include "test.h"

#include <stdlib.h>

#include "auth/grace.h"
#include "base/err.h"

static void test_put_get_expire(void)
{
    char rt[48];
    char *at = NULL;
    int64_t exp = 0;
    auth_grace_put("h1", "refresh-1", "access-1", 900, 1000, 5000);
    CHECK_EQ_INT(auth_grace_get("h1", 1000, rt, sizeof rt, &at, &exp), 0);
    CHECK_EQ_STR(rt, "refresh-1");
    CHECK_EQ_STR(at, "access-1");
    CHECK_EQ_INT(exp, 900);
    free(at);
    at = NULL;
    CHECK_EQ_INT(auth_grace_get("h1", 5999, rt, sizeof rt, &at, &exp), 0);
    free(at);
    at = NULL;
    CHECK_EQ_INT(auth_grace_get("h1", 6000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    CHECK(at == NULL);
    CHECK_EQ_INT(auth_grace_get("other", 1000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    /* no grace: nothing kept */
    auth_grace_put("h2", "refresh-2", "access-2", 900, 1000, 0);
    CHECK_EQ_INT(auth_grace_get("h2", 1000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    /* dropped (the rotation did not commit) */
    auth_grace_put("h3", "refresh-3", "access-3", 900, 1000, 5000);
    auth_grace_drop("h3");
    CHECK_EQ_INT(auth_grace_get("h3", 1000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    auth_grace_clear();
}

static void test_bounded(void)
{
    char key[32], rt[48];
    char *at = NULL;
    int64_t exp;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        auth_grace_put(key, "r", "a", 1, 1000 + i, 60000);
    }
    CHECK_EQ_INT(auth_grace_get("k9999", 20000, rt, sizeof rt, &at, &exp), 0);
    free(at);
    at = NULL;
    CHECK_EQ_INT(auth_grace_get("k0", 20000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    auth_grace_clear();
}

int main(void)
{
    test_put_get_expire();
    test_bounded();
    return test_done();
}
