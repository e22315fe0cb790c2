/* Unit tests for src/auth/grace.c: the refresh reuse grace cache. */
#include "test.h"

#include <stdlib.h>

#include "auth/grace.h"
#include "base/err.h"

static void test_put_get_expire(void)
{
    struct auth_grace *g = auth_grace_new();
    char rt[48];
    char *at = NULL;
    int64_t exp = 0;
    auth_grace_put(g, "h1", "refresh-1", "access-1", 900, 1000, 5000);
    CHECK_EQ_INT(auth_grace_get(g, "h1", 1000, rt, sizeof rt, &at, &exp), 0);
    CHECK_EQ_STR(rt, "refresh-1");
    CHECK_EQ_STR(at, "access-1");
    CHECK_EQ_INT(exp, 900);
    free(at);
    at = NULL;
    CHECK_EQ_INT(auth_grace_get(g, "h1", 5999, rt, sizeof rt, &at, &exp), 0);
    free(at);
    at = NULL;
    CHECK_EQ_INT(auth_grace_get(g, "h1", 6000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    CHECK(at == NULL);
    CHECK_EQ_INT(auth_grace_get(g, "other", 1000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    /* no grace: nothing kept */
    auth_grace_put(g, "h2", "refresh-2", "access-2", 900, 1000, 0);
    CHECK_EQ_INT(auth_grace_get(g, "h2", 1000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    /* dropped (the rotation did not commit) */
    auth_grace_put(g, "h3", "refresh-3", "access-3", 900, 1000, 5000);
    auth_grace_drop(g, "h3");
    CHECK_EQ_INT(auth_grace_get(g, "h3", 1000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    auth_grace_free(g);
}

static void test_bounded(void)
{
    struct auth_grace *g = auth_grace_new();
    char key[32], rt[48];
    char *at = NULL;
    int64_t exp;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        auth_grace_put(g, key, "r", "a", 1, 1000 + i, 60000);
    }
    CHECK_EQ_INT(auth_grace_get(g, "k9999", 20000, rt, sizeof rt, &at, &exp), 0);
    free(at);
    at = NULL;
    CHECK_EQ_INT(auth_grace_get(g, "k0", 20000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    auth_grace_free(g);
}

/* Two servers in one process keep separate entries. */
static void test_instances_independent(void)
{
    struct auth_grace *a = auth_grace_new(), *b = auth_grace_new();
    char rt[48];
    char *at = NULL;
    int64_t exp = 0;
    auth_grace_put(a, "h", "refresh-a", "access-a", 900, 1000, 5000);
    CHECK_EQ_INT(auth_grace_get(b, "h", 1000, rt, sizeof rt, &at, &exp), SB_E_NOTFOUND);
    CHECK_EQ_INT(auth_grace_get(a, "h", 1000, rt, sizeof rt, &at, &exp), 0);
    free(at);
    at = NULL;
    auth_grace_free(a);
    auth_grace_put(b, "h", "refresh-b", "access-b", 900, 1000, 5000);
    CHECK_EQ_INT(auth_grace_get(b, "h", 1000, rt, sizeof rt, &at, &exp), 0);
    CHECK_EQ_STR(rt, "refresh-b");
    free(at);
    auth_grace_free(b);
    auth_grace_free(NULL);
}

int main(void)
{
    test_instances_independent();
    test_put_get_expire();
    test_bounded();
    return test_done();
}
