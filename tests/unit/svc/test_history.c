/*
 * The dashboard history rings (svc/history.c): 24 h at the interval and no more (the oldest
 * points are overwritten in order), thinning to max_points keeps the newest, windows, the
 * tenant cap, forgetting a tenant, and the /dashboard policy.
 */
#include "test.h"
#include "test_store.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "svc/svc.h"

static json_t *snap(int online)
{
    return json_pack("{s:{s:i,s:i,s:i,s:i},s:i,s:{s:i},s:i,s:i}", "agents_by_status", "online",
                     online, "away", 1, "busy", 2, "offline", 3, "active_messages", 4,
                     "active_messages_by_priority", "critical", 1, "connections", 5,
                     "events_per_minute", 6);
}

static int64_t at_ms(const json_t *point)
{
    int64_t ms = -1;
    clock_parse_ms(json_string_value(json_object_get(point, "at")), &ms);
    return ms;
}

int main(void)
{
    char dir[] = "/tmp/sbhistXXXXXX";
    struct store *store = NULL;
    CHECK(test_store_open(dir, &store) == 0);
    struct svc_config cfg = {0};
    struct svc *svc = NULL;
    CHECK(svc_new(store, &cfg, &svc) == 0);
    svc_history_set_interval(svc, 1000); /* 24 h = 86,401 points */
    struct policy_principal admin = {.role = ROLE_ADMIN};
    snprintf(admin.client_id, sizeof admin.client_id, "tenant-a");
    const int64_t t0 = 1700000000000LL;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        json_t *s = snap(i % 1000);
        svc_history_record(svc, "tenant-a", s, t0 + (int64_t)i * 1000);
        json_decref(s);
    }
    json_t *out = NULL;
    CHECK_EQ_INT(svc_dashboard_history(svc, &admin, NULL, 0, INT64_MAX / 2, 0, &out), 0);
    json_t *pts = json_object_get(out, "points");
    CHECK_EQ_INT((int)json_array_size(pts), 86401);
    CHECK(at_ms(json_array_get(pts, 0)) == t0 + (int64_t)(n - 86401) * 1000);
    CHECK(at_ms(json_array_get(pts, 86400)) == t0 + (int64_t)(n - 1) * 1000);
    bool ordered = true;
    for (size_t i = 1; i < json_array_size(pts); i++) {
        ordered =
            ordered && at_ms(json_array_get(pts, i)) == at_ms(json_array_get(pts, i - 1)) + 1000;
    }
    CHECK(ordered);
    const json_t *last = json_array_get(pts, 86400);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(last, "online")), (n - 1) % 1000);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(last, "total")), (n - 1) % 1000 + 6);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(last, "critical_messages")), 1);
    json_decref(out);

    /* thinning keeps the newest point and at most max_points */
    CHECK_EQ_INT(svc_dashboard_history(svc, &admin, NULL, 0, INT64_MAX / 2, 10, &out), 0);
    pts = json_object_get(out, "points");
    CHECK(json_array_size(pts) <= 10 && json_array_size(pts) >= 9);
    CHECK(at_ms(json_array_get(pts, json_array_size(pts) - 1)) == t0 + (int64_t)(n - 1) * 1000);
    CHECK(json_integer_value(json_object_get(out, "interval_ms")) >= 8640000);
    json_decref(out);

    /* a window */
    CHECK_EQ_INT(
        svc_dashboard_history(svc, &admin, NULL, t0 + 99000LL * 1000, t0 + 99009LL * 1000, 0, &out),
        0);
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "points")), 10);
    json_decref(out);

    /* policy: another tenant 404, agents 403 */
    CHECK_EQ_INT(svc_dashboard_history(svc, &admin, "tenant-b", 0, 1, 0, &out), SB_E_NOTFOUND);
    struct policy_principal agent = admin;
    agent.role = ROLE_AGENT;
    CHECK_EQ_INT(svc_dashboard_history(svc, &agent, NULL, 0, 1, 0, &out), SB_E_FORBIDDEN);

    /* the tenant cap: tenant-a plus 1,999 more have rings, the next one none */
    json_t *s = snap(1);
    char key[64];
    for (int i = 0; i < SVC_HISTORY_MAX_TENANTS; i++) {
        snprintf(key, sizeof key, "t-%d", i);
        svc_history_record(svc, key, s, t0);
    }
    struct policy_principal other = admin;
    snprintf(other.client_id, sizeof other.client_id, "t-0");
    CHECK_EQ_INT(svc_dashboard_history(svc, &other, NULL, 0, INT64_MAX / 2, 0, &out), 0);
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "points")), 1);
    json_decref(out);
    snprintf(other.client_id, sizeof other.client_id, "t-%d", SVC_HISTORY_MAX_TENANTS - 1);
    CHECK_EQ_INT(svc_dashboard_history(svc, &other, NULL, 0, INT64_MAX / 2, 0, &out), 0);
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "points")), 0);
    json_decref(out);
    /* forgetting a tenant frees its ring */
    svc_history_forget(svc, "tenant-a");
    CHECK_EQ_INT(svc_dashboard_history(svc, &admin, NULL, 0, INT64_MAX / 2, 0, &out), 0);
    CHECK_EQ_INT((int)json_array_size(json_object_get(out, "points")), 0);
    json_decref(out);
    json_decref(s);

    svc_free(svc);
    store_free(store);
    test_store_remove(dir);
    return test_done();
}
