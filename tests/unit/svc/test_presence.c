/*
 * The presence grace state machine with an injected clock: a user's last disconnect starts
 * the grace, a reconnect inside it cancels it, only the last of several connections counts,
 * due users are reported once, a failed offline write is retried, and concurrent use from
 * several threads keeps the counts.
 */
#include "test.h"

#include <pthread.h>

#include "svc/svc.h"

#define GRACE 60000

static size_t due(struct svc_presence *p, int64_t now, char (*out)[64], size_t max)
{
    return svc_presence_due(p, now, out, max);
}

static void test_disconnect_then_due_after_grace(void)
{
    struct svc_presence *p = svc_presence_new(GRACE);
    char out[4][64];
    svc_presence_connected(p, "u1", 1000);
    CHECK_EQ_INT(svc_presence_count(p, "u1"), 1);
    CHECK_EQ_INT(due(p, 1000 + 10 * GRACE, out, 4), 0); /* connected: never due */
    svc_presence_disconnected(p, "u1", 2000);
    CHECK_EQ_INT(svc_presence_count(p, "u1"), 0);
    CHECK_EQ_INT(due(p, 2000 + GRACE - 1, out, 4), 0);
    CHECK_EQ_INT(due(p, 2000 + GRACE, out, 4), 1);
    CHECK_EQ_STR(out[0], "u1");
    /* reported once */
    CHECK_EQ_INT(due(p, 2000 + 2 * GRACE, out, 4), 0);
    svc_presence_free(p);
}

static void test_reconnect_inside_grace(void)
{
    struct svc_presence *p = svc_presence_new(GRACE);
    char out[4][64];
    svc_presence_connected(p, "u2", 0);
    svc_presence_disconnected(p, "u2", 1000);
    svc_presence_connected(p, "u2", 30000);
    CHECK_EQ_INT(due(p, 1000 + GRACE, out, 4), 0);
    CHECK_EQ_INT(due(p, 10 * GRACE, out, 4), 0);
    /* a later disconnect starts a fresh grace from its own time */
    svc_presence_disconnected(p, "u2", 40000);
    CHECK_EQ_INT(due(p, 40000 + GRACE - 1, out, 4), 0);
    CHECK_EQ_INT(due(p, 40000 + GRACE, out, 4), 1);
    svc_presence_free(p);
}

static void test_only_last_connection_counts(void)
{
    struct svc_presence *p = svc_presence_new(GRACE);
    char out[4][64];
    svc_presence_connected(p, "u3", 0);
    svc_presence_connected(p, "u3", 10);
    svc_presence_disconnected(p, "u3", 1000);
    CHECK_EQ_INT(svc_presence_count(p, "u3"), 1);
    CHECK_EQ_INT(due(p, 1000 + 5 * GRACE, out, 4), 0);
    svc_presence_disconnected(p, "u3", 400000);
    CHECK_EQ_INT(due(p, 400000 + GRACE - 1, out, 4), 0);
    CHECK_EQ_INT(due(p, 400000 + GRACE, out, 4), 1);
    CHECK_EQ_STR(out[0], "u3");
    /* an unknown user's disconnect (or one too many) is ignored */
    svc_presence_disconnected(p, "nobody", 0);
    svc_presence_disconnected(p, "u3", 0);
    CHECK_EQ_INT(due(p, 100 * GRACE, out, 4), 0);
    svc_presence_free(p);
}

static void test_due_respects_max(void)
{
    struct svc_presence *p = svc_presence_new(GRACE);
    char out[2][64];
    const char *users[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        svc_presence_connected(p, users[i], 0);
        svc_presence_disconnected(p, users[i], 0);
    }
    CHECK_EQ_INT(due(p, GRACE, out, 2), 2);
    CHECK_EQ_INT(due(p, GRACE, out, 2), 1);
    CHECK_EQ_INT(due(p, GRACE, out, 2), 0);
    svc_presence_free(p);
}

struct worker_arg {
    struct svc_presence *p;
    const char *user;
};

static void *worker(void *arg)
{
    struct worker_arg *w = arg;
    for (int i = 0; i < 2000; i++) {
        svc_presence_connected(w->p, w->user, i);
        svc_presence_disconnected(w->p, w->user, i);
    }
    svc_presence_connected(w->p, w->user, 5000);
    return NULL;
}

static void test_threads(void)
{
    struct svc_presence *p = svc_presence_new(GRACE);
    pthread_t t[4];
    struct worker_arg a[4] = {{p, "shared"}, {p, "shared"}, {p, "x"}, {p, "y"}};
    for (int i = 0; i < 4; i++) {
        pthread_create(&t[i], NULL, worker, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    CHECK_EQ_INT(svc_presence_count(p, "shared"), 2);
    CHECK_EQ_INT(svc_presence_count(p, "x"), 1);
    char out[4][64];
    CHECK_EQ_INT(due(p, 100 * GRACE, out, 4), 0);
    svc_presence_free(p);
}

/* A failed offline write puts the user back: due again after the retry delay, unless the
 * user reconnected in between. */
static void test_retry_after_failed_write(void)
{
    struct svc_presence *p = svc_presence_new(GRACE);
    char out[4][64];
    svc_presence_connected(p, "r1", 0);
    svc_presence_disconnected(p, "r1", 0);
    svc_presence_connected(p, "r2", 0);
    svc_presence_disconnected(p, "r2", 0);
    CHECK_EQ_INT(due(p, GRACE, out, 4), 2);
    svc_presence_retry(p, out, 2, GRACE, 1000);
    CHECK_EQ_INT(due(p, GRACE + 999, out, 4), 0);
    svc_presence_connected(p, "r2", GRACE + 500); /* back before the retry */
    CHECK_EQ_INT(due(p, GRACE + 1000, out, 4), 1);
    CHECK_EQ_STR(out[0], "r1");
    CHECK_EQ_INT(due(p, 10 * GRACE, out, 4), 0);
    CHECK_EQ_INT(svc_presence_count(p, "r2"), 1);
    svc_presence_free(p);
}

/* Idle tracking with an injected clock: quiet connected users are reported idle once, back
 * after new activity, never while disconnected, and a failed write is reported again after
 * the retry delay. */
static void test_idle(void)
{
    struct svc_presence *p = svc_presence_new(GRACE);
    svc_presence_set_idle(p, 1000);
    char out[4][64];
    bool back[4];
    svc_presence_connected(p, "i1", 0);
    svc_presence_active(p, "i1", 500);
    CHECK_EQ_INT(svc_presence_idle_due(p, 1499, out, back, 4), 0);
    CHECK_EQ_INT(svc_presence_idle_due(p, 1500, out, back, 4), 1);
    CHECK_EQ_STR(out[0], "i1");
    CHECK(!back[0]);
    CHECK_EQ_INT(svc_presence_idle_due(p, 5000, out, back, 4), 0); /* once */
    svc_presence_active(p, "i1", 6000);
    CHECK_EQ_INT(svc_presence_idle_due(p, 6000, out, back, 4), 1);
    CHECK(back[0]);
    CHECK_EQ_INT(svc_presence_idle_due(p, 6500, out, back, 4), 0);
    /* the away write failed: reported again, not before the retry delay */
    CHECK_EQ_INT(svc_presence_idle_due(p, 7000, out, back, 4), 1);
    CHECK(!back[0]);
    svc_presence_idle_retry(p, "i1", false, 7000, 1000);
    CHECK_EQ_INT(svc_presence_idle_due(p, 7999, out, back, 4), 0);
    CHECK_EQ_INT(svc_presence_idle_due(p, 8000, out, back, 4), 1);
    CHECK(!back[0]);
    /* disconnected users are the grace's business */
    svc_presence_disconnected(p, "i1", 9000);
    svc_presence_active(p, "i1", 9100);
    CHECK_EQ_INT(svc_presence_idle_due(p, 20000, out, back, 4), 0);
    /* idle tracking off: nothing */
    svc_presence_connected(p, "i2", 0);
    svc_presence_set_idle(p, 0);
    CHECK_EQ_INT(svc_presence_idle_due(p, 100000, out, back, 4), 0);
    svc_presence_free(p);
}

/* Another node (cluster) decides when it says so: due() forgets the user then. */
struct other_node {
    int64_t gone_ms; /* the other node lost its last connection then (0: never had one) */
    bool connected;
    int calls;
};

static bool elsewhere(void *arg, const char *user_id, int64_t gone_ms)
{
    struct other_node *o = arg;
    o->calls++;
    CHECK_EQ_STR(user_id, "u9");
    return o->connected || o->gone_ms > gone_ms;
}

static void test_elsewhere_and_adopt(void)
{
    struct svc_presence *p = svc_presence_new(GRACE);
    struct other_node o = {.connected = true};
    svc_presence_set_elsewhere_fn(p, elsewhere, &o);
    char out[4][64];
    svc_presence_connected(p, "u9", 0);
    svc_presence_disconnected(p, "u9", 1000);
    CHECK_EQ_INT(due(p, 1000 + GRACE - 1, out, 4), 0);
    CHECK_EQ_INT(o.calls, 0); /* asked only when the grace ran out */
    CHECK_EQ_INT(due(p, 1000 + GRACE, out, 4), 0);
    CHECK_EQ_INT(o.calls, 1);
    CHECK_EQ_INT(due(p, 1000 + 2 * GRACE, out, 4), 0); /* forgotten, not asked again */
    CHECK_EQ_INT(o.calls, 1);

    /* The other node lost its connection earlier than we did: we decide. */
    o = (struct other_node){.gone_ms = 500};
    svc_presence_connected(p, "u9", 2000);
    svc_presence_disconnected(p, "u9", 3000);
    CHECK_EQ_INT(due(p, 3000 + GRACE, out, 4), 1);
    CHECK_EQ_STR(out[0], "u9");

    /* Adopted from a dead node: the grace runs from the given time; a later adoption of an
     * older time does not shorten it; a user connected here is not touched. */
    o = (struct other_node){0};
    svc_presence_adopt(p, "u9", 10000);
    svc_presence_adopt(p, "u9", 5000);
    CHECK_EQ_INT(due(p, 10000 + GRACE - 1, out, 4), 0);
    CHECK_EQ_INT(due(p, 10000 + GRACE, out, 4), 1);
    svc_presence_connected(p, "u9", 20000);
    svc_presence_adopt(p, "u9", 20000);
    CHECK_EQ_INT(due(p, 20000 + 10 * GRACE, out, 4), 0);
    CHECK_EQ_INT(svc_presence_count(p, "u9"), 1);
    svc_presence_free(p);
}

int main(void)
{
    test_elsewhere_and_adopt();
    test_idle();
    test_retry_after_failed_write();
    test_disconnect_then_due_after_grace();
    test_reconnect_inside_grace();
    test_only_last_connection_counts();
    test_due_respects_max();
    test_threads();
    return test_done();
}
