/*
 * Time-in-status statistics over scripted timelines with an injected clock: exact
 * milliseconds per status, clipping to the window, open intervals ending at min(now, to),
 * empty windows, and the derived uptime and occupancy.
 */
#include "test.h"

#include <math.h>

#include "svc/svc.h"

#define S 1000LL           /* one second in ms */
#define T0 1700000000000LL /* an arbitrary origin */

/* online [0,600) busy [600,900) away [900,1000) online [1000, open) */
static const struct svc_interval timeline[] = {
    {SVC_ONLINE, T0, T0 + 600 * S},
    {SVC_BUSY, T0 + 600 * S, T0 + 900 * S},
    {SVC_AWAY, T0 + 900 * S, T0 + 1000 * S},
    {SVC_ONLINE, T0 + 1000 * S, -1},
};
#define NT (sizeof timeline / sizeof timeline[0])

static struct svc_status_time run(int64_t from, int64_t to, int64_t now)
{
    struct svc_status_time t = {{0}};
    svc_stats_accumulate(&t, timeline, NT, T0 + from * S, T0 + to * S, T0 + now * S);
    return t;
}

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void test_clipped_window_with_open_interval(void)
{
    /* window [300,1200], now 1100: the open interval ends at now */
    struct svc_status_time t = run(300, 1200, 1100);
    CHECK_EQ_INT(t.ms[SVC_ONLINE], (300 + 100) * S);
    CHECK_EQ_INT(t.ms[SVC_BUSY], 300 * S);
    CHECK_EQ_INT(t.ms[SVC_AWAY], 100 * S);
    CHECK_EQ_INT(t.ms[SVC_OFFLINE], 0);
    CHECK_EQ_INT(svc_stats_covered_ms(&t), 800 * S);
    json_t *j = svc_stats_json(&t);
    CHECK(fabs(num(j, "uptime") - 700.0 / 800.0) < 1e-12);
    CHECK(fabs(num(j, "occupancy") - 300.0 / 700.0) < 1e-12);
    CHECK(fabs(num(j, "covered_seconds") - 800.0) < 1e-9);
    CHECK(fabs(num(json_object_get(j, "seconds"), "online") - 400.0) < 1e-9);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "ms"), "busy")), 300 * S);
    json_decref(j);
}

static void test_window_ends_before_now(void)
{
    /* window [950,1050], now far later: away 50 s, online 50 s (the open one, clipped at to) */
    struct svc_status_time t = run(950, 1050, 5000);
    CHECK_EQ_INT(t.ms[SVC_AWAY], 50 * S);
    CHECK_EQ_INT(t.ms[SVC_ONLINE], 50 * S);
    CHECK_EQ_INT(t.ms[SVC_BUSY], 0);
    /* the open interval counted to "to", never beyond */
    t = run(0, 2000, 3000);
    CHECK_EQ_INT(t.ms[SVC_ONLINE], (600 + 1000) * S);
    CHECK_EQ_INT(svc_stats_covered_ms(&t), 2000 * S);
}

static void test_interval_after_window_ignored(void)
{
    struct svc_status_time t = run(0, 500, 1100);
    CHECK_EQ_INT(t.ms[SVC_ONLINE], 500 * S);
    CHECK_EQ_INT(t.ms[SVC_BUSY], 0);
    CHECK_EQ_INT(svc_stats_covered_ms(&t), 500 * S);
    json_t *j = svc_stats_json(&t);
    CHECK(fabs(num(j, "uptime") - 1.0) < 1e-12);
    CHECK(fabs(num(j, "occupancy") - 0.0) < 1e-12);
    CHECK(json_is_real(json_object_get(j, "occupancy")));
    json_decref(j);
}

static void test_empty_windows(void)
{
    /* before the first interval */
    struct svc_status_time t = run(-500, -100, 1100);
    CHECK_EQ_INT(svc_stats_covered_ms(&t), 0);
    json_t *j = svc_stats_json(&t);
    CHECK(json_is_null(json_object_get(j, "uptime")));
    CHECK(json_is_null(json_object_get(j, "occupancy")));
    json_decref(j);
    /* a window entirely in the future of now: the open interval has not reached it */
    t = run(2000, 3000, 1100);
    CHECK_EQ_INT(svc_stats_covered_ms(&t), 0);
    /* a zero-length window */
    t = run(700, 700, 1100);
    CHECK_EQ_INT(svc_stats_covered_ms(&t), 0);
    /* no rows at all */
    struct svc_status_time z = {{0}};
    svc_stats_accumulate(&z, NULL, 0, T0, T0 + 10 * S, T0 + 5 * S);
    CHECK_EQ_INT(svc_stats_covered_ms(&z), 0);
}

static void test_now_inside_window(void)
{
    /* window [0,2000] but now is 950: away only counts 50 s, the open one nothing */
    struct svc_status_time t = run(0, 2000, 950);
    CHECK_EQ_INT(t.ms[SVC_ONLINE], 600 * S);
    CHECK_EQ_INT(t.ms[SVC_BUSY], 300 * S);
    CHECK_EQ_INT(t.ms[SVC_AWAY], 50 * S);
}

static void test_offline_and_unknown(void)
{
    const struct svc_interval iv[] = {
        {SVC_OFFLINE, T0, T0 + 30 * S},
        {99, T0 + 30 * S, T0 + 40 * S}, /* unknown status: ignored */
        {SVC_BUSY, T0 + 40 * S, T0 + 100 * S},
    };
    struct svc_status_time t = {{0}};
    svc_stats_accumulate(&t, iv, 3, T0 + 10 * S, T0 + 70 * S, T0 + 1000 * S);
    CHECK_EQ_INT(t.ms[SVC_OFFLINE], 20 * S);
    CHECK_EQ_INT(t.ms[SVC_BUSY], 30 * S);
    CHECK_EQ_INT(svc_stats_covered_ms(&t), 50 * S);
    json_t *j = svc_stats_json(&t);
    CHECK(fabs(num(j, "uptime") - 30.0 / 50.0) < 1e-12);
    CHECK(fabs(num(j, "occupancy") - 1.0) < 1e-12);
    json_decref(j);
    /* accumulating adds: a second agent's rows on top */
    svc_stats_accumulate(&t, iv, 1, T0, T0 + 70 * S, T0 + 1000 * S);
    CHECK_EQ_INT(t.ms[SVC_OFFLINE], 50 * S);
}

static void test_status_names(void)
{
    CHECK_EQ_INT(svc_status_parse("busy"), SVC_BUSY);
    CHECK_EQ_INT(svc_status_parse("Busy"), -1);
    CHECK_EQ_INT(svc_status_parse(NULL), -1);
    CHECK_EQ_STR(svc_status_name(SVC_OFFLINE), "offline");
}

int main(void)
{
    test_clipped_window_with_open_interval();
    test_window_ends_before_now();
    test_interval_after_window_ignored();
    test_empty_windows();
    test_now_inside_window();
    test_offline_and_unknown();
    test_status_names();
    return test_done();
}
