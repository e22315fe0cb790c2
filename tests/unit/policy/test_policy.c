/*
 * The access rules of DESIGN §5, row by row, against the one module that decides them.
 * Each table below is one rule: who, what, and the expected answer; the REST handlers, the
 * services and the realtime fan-out all ask these same functions.
 */
#include <jansson.h>
#include <string.h>

#include "base/err.h"
#include "policy/policy.h"
#include "test.h"

#define A "aaaaaaaa-0000-4000-8000-000000000001"
#define B "bbbbbbbb-0000-4000-8000-000000000002"
#define UA "aaaaaaaa-1111-4000-8000-000000000003"
#define UA2 "aaaaaaaa-2222-4000-8000-000000000004"

static struct policy_principal who(enum policy_role role, const char *client, const char *user)
{
    struct policy_principal p;
    memset(&p, 0, sizeof p);
    p.role = role;
    snprintf(p.client_id, sizeof p.client_id, "%s", client);
    snprintf(p.user_id, sizeof p.user_id, "%s", user);
    return p;
}

static struct policy_principal super, admin_a, agent_a, viewer_a, admin_b;

/* A row of table in client (NULL: global), optionally with a state and a user_id. */
static json_t *row(const char *client, const char *state, const char *user)
{
    json_t *r = json_pack("{s:o}", "client_id", client ? json_string(client) : json_null());
    if (state) {
        json_object_set_new(r, "state", json_string(state));
    }
    if (user) {
        json_object_set_new(r, "user_id", json_string(user));
    }
    return r;
}

static void test_reads(void)
{
    /* §5 "reads": which (role, table, row) a principal sees. */
    struct {
        const struct policy_principal *p;
        enum store_table table;
        const char *client;
        const char *state;
        bool visible;
    } rules[] = {
        {&super, STORE_AGENT_STATUS, B, NULL, true},
        {&super, STORE_USERS, A, NULL, true},
        {&super, STORE_AUDIT, B, NULL, true},
        {&admin_a, STORE_AGENT_STATUS, A, NULL, true},
        {&admin_a, STORE_AGENT_STATUS, B, NULL, false},
        {&admin_a, STORE_USERS, A, NULL, true},
        {&admin_a, STORE_USERS, B, NULL, false},
        {&admin_a, STORE_AUDIT, A, NULL, true},
        {&admin_a, STORE_AUDIT, B, NULL, false},
        {&admin_a, STORE_MESSAGES, A, "scheduled", true},
        {&admin_a, STORE_MESSAGES, NULL, "expired", true},
        {&admin_a, STORE_MESSAGES, B, "active", false},
        {&agent_a, STORE_AGENT_STATUS, A, NULL, true},
        {&agent_a, STORE_AGENT_STATUS, B, NULL, false},
        {&agent_a, STORE_MESSAGES, A, "active", true},
        {&agent_a, STORE_MESSAGES, NULL, "active", true},
        {&agent_a, STORE_MESSAGES, A, "scheduled", false},
        {&agent_a, STORE_MESSAGES, B, "active", false},
        {&agent_a, STORE_USERS, A, NULL, false},
        {&agent_a, STORE_AUDIT, A, NULL, false},
        {&viewer_a, STORE_AGENT_STATUS, A, NULL, true},
        {&viewer_a, STORE_MESSAGES, NULL, "active", true},
        {&viewer_a, STORE_MESSAGES, A, "expired", false},
        {&viewer_a, STORE_USERS, A, NULL, false},
        {&admin_b, STORE_AGENT_STATUS, A, NULL, false},
        {&admin_b, STORE_MESSAGES, NULL, "active", true},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        json_t *r = row(rules[i].client, rules[i].state, NULL);
        bool got = policy_can_read_row(rules[i].p, rules[i].table, r, NULL);
        if (got != rules[i].visible) {
            fprintf(stderr, "read rule %zu\n", i);
        }
        CHECK(got == rules[i].visible);
        json_decref(r);
    }
    /* Tables a role may not read at all answer forbidden (404/403 at the API). */
    struct store_scope s;
    CHECK_EQ_INT(policy_read_scope(&agent_a, STORE_USERS, &s, NULL), SB_E_FORBIDDEN);
    CHECK_EQ_INT(policy_read_scope(&viewer_a, STORE_AUDIT, &s, NULL), SB_E_FORBIDDEN);
    bool active_only = false;
    CHECK_EQ_INT(policy_read_scope(&viewer_a, STORE_MESSAGES, &s, &active_only), 0);
    CHECK(active_only && !s.all && s.include_global && !strcmp(s.client_id, A));
    CHECK_EQ_INT(policy_read_scope(&admin_a, STORE_MESSAGES, &s, &active_only), 0);
    CHECK(!active_only);
    CHECK_EQ_INT(policy_read_scope(&super, STORE_CLIENTS, &s, NULL), 0);
    CHECK(s.all);
}

static void test_writes(void)
{
    /* §5 "writes": the tables each role may write at all. */
    struct {
        const struct policy_principal *p;
        enum store_table table;
        int rc;
    } rules[] = {
        {&super, STORE_CLIENTS, 0},
        {&super, STORE_MESSAGES, 0},
        {&admin_a, STORE_USERS, 0},
        {&admin_a, STORE_MESSAGES, 0},
        {&admin_a, STORE_AGENT_STATUS, 0},
        {&admin_a, STORE_CLIENTS, SB_E_FORBIDDEN},
        {&admin_a, STORE_AUDIT, SB_E_FORBIDDEN},
        {&agent_a, STORE_AGENT_STATUS, 0},
        {&agent_a, STORE_MESSAGES, SB_E_FORBIDDEN},
        {&agent_a, STORE_USERS, SB_E_FORBIDDEN},
        {&viewer_a, STORE_AGENT_STATUS, SB_E_FORBIDDEN},
        {&viewer_a, STORE_MESSAGES, SB_E_FORBIDDEN},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        struct store_scope s;
        CHECK_EQ_INT(policy_write_scope(rules[i].p, rules[i].table, &s), rules[i].rc);
        if (rules[i].rc == 0 && rules[i].p != &super) {
            CHECK(!s.all && !s.include_global && !strcmp(s.client_id, rules[i].p->client_id));
        }
    }

    /* Agent status: an agent only its own; an admin its tenant's; a viewer none. */
    json_t *own = row(A, NULL, UA), *other = row(A, NULL, UA2), *foreign = row(B, NULL, UA2);
    CHECK(policy_can_set_agent_status(&agent_a, own));
    CHECK(!policy_can_set_agent_status(&agent_a, other));
    CHECK(policy_can_set_agent_status(&admin_a, other));
    CHECK(!policy_can_set_agent_status(&admin_a, foreign));
    CHECK(!policy_can_set_agent_status(&viewer_a, own));
    CHECK(policy_can_set_agent_status(&super, foreign));
    json_decref(own);
    json_decref(other);
    json_decref(foreign);

    /* Users: an admin creates non-super users of its own client only. */
    CHECK(policy_can_assign_role(&admin_a, ROLE_AGENT, A));
    CHECK(policy_can_assign_role(&admin_a, ROLE_ADMIN, A));
    CHECK(!policy_can_assign_role(&admin_a, ROLE_SUPER_ADMIN, NULL));
    CHECK(!policy_can_assign_role(&admin_a, ROLE_AGENT, B));
    CHECK(!policy_can_assign_role(&agent_a, ROLE_AGENT, A));
    CHECK(policy_can_assign_role(&super, ROLE_SUPER_ADMIN, NULL));
    CHECK(!policy_can_assign_role(&super, ROLE_SUPER_ADMIN, A));
    CHECK(!policy_can_assign_role(&super, ROLE_VIEWER, NULL));
    json_t *su = json_pack("{s:s}", "role", "super_admin"),
           *ag = json_pack("{s:s}", "role", "agent");
    CHECK(!policy_can_manage_user(&admin_a, su));
    CHECK(policy_can_manage_user(&admin_a, ag));
    CHECK(policy_can_manage_user(&super, su));
    json_decref(su);
    json_decref(ag);
    CHECK(policy_can_move_tenant(&super));
    CHECK(!policy_can_move_tenant(&admin_a));

    /* Messages: global ones only by a super_admin; an admin its own client's. */
    CHECK(policy_can_write_message(&super, NULL));
    CHECK(policy_can_write_message(&admin_a, A));
    CHECK(!policy_can_write_message(&admin_a, NULL));
    CHECK(!policy_can_write_message(&admin_a, B));
    CHECK(!policy_can_write_message(&agent_a, A));

    /* Clients, metrics, the audit chain. */
    CHECK(policy_can_manage_clients(&super));
    CHECK(!policy_can_manage_clients(&admin_a));
    CHECK(policy_can_read_metrics(&super) && policy_can_read_metrics(&admin_a));
    CHECK(!policy_can_read_metrics(&agent_a) && !policy_can_read_metrics(&viewer_a));
    CHECK(policy_can_verify_audit(&admin_a) && !policy_can_verify_audit(&viewer_a));
    CHECK(policy_is_cross_tenant(&super) && !policy_is_cross_tenant(&admin_a));
}

static void test_realtime(void)
{
    /* A channel's tenant: a super_admin picks one, everyone else has their own. */
    CHECK_EQ_STR(policy_channel_tenant(&super, B), B);
    CHECK_EQ_STR(policy_channel_tenant(&super, NULL), "");
    CHECK_EQ_STR(policy_channel_tenant(&admin_a, B), A);
    CHECK_EQ_STR(policy_channel_tenant(&agent_a, NULL), A);

    /* A row moved from A to B: A sees it leave, B sees it arrive, neither the other's values. */
    json_t *in_a = row(A, NULL, UA), *in_b = row(B, NULL, UA);
    CHECK_EQ_INT(policy_row_view(&admin_a, STORE_AGENT_STATUS, in_b, in_a), POLICY_VIEW_AS_DELETE);
    CHECK_EQ_INT(policy_row_view(&agent_a, STORE_AGENT_STATUS, in_b, in_a), POLICY_VIEW_AS_DELETE);
    CHECK_EQ_INT(policy_row_view(&admin_b, STORE_AGENT_STATUS, in_b, in_a), POLICY_VIEW_AS_INSERT);
    CHECK_EQ_INT(policy_row_view(&super, STORE_AGENT_STATUS, in_b, in_a), POLICY_VIEW_FULL);
    CHECK_EQ_INT(policy_row_view(&admin_a, STORE_AGENT_STATUS, in_a, in_a), POLICY_VIEW_FULL);
    CHECK_EQ_INT(policy_row_view(&admin_b, STORE_AGENT_STATUS, in_a, in_a), POLICY_VIEW_NONE);
    CHECK_EQ_INT(policy_row_view(&admin_a, STORE_AGENT_STATUS, NULL, in_a), POLICY_VIEW_FULL);
    CHECK_EQ_INT(policy_row_view(&admin_b, STORE_AGENT_STATUS, NULL, in_a), POLICY_VIEW_NONE);
    json_decref(in_a);
    json_decref(in_b);

    /* Agents see an active message leave their view when it expires. */
    json_t *active = row(A, "active", NULL), *expired = row(A, "expired", NULL);
    json_t *sched = row(A, "scheduled", NULL), *glob = row(NULL, "active", NULL);
    CHECK_EQ_INT(policy_row_view(&agent_a, STORE_MESSAGES, expired, active), POLICY_VIEW_FULL);
    CHECK_EQ_INT(policy_row_view(&agent_a, STORE_MESSAGES, sched, sched), POLICY_VIEW_NONE);
    CHECK_EQ_INT(policy_row_view(&viewer_a, STORE_MESSAGES, active, NULL), POLICY_VIEW_FULL);
    /* A global message given to tenant A: others see it leave, A keeps seeing it. */
    CHECK_EQ_INT(policy_row_view(&admin_b, STORE_MESSAGES, active, glob), POLICY_VIEW_AS_DELETE);
    CHECK_EQ_INT(policy_row_view(&agent_a, STORE_MESSAGES, active, glob), POLICY_VIEW_FULL);
    json_decref(active);
    json_decref(expired);
    json_decref(sched);
    json_decref(glob);
}

/* Every role reaches its own user row (its preferences) through its tenant; a super_admin
 * through every row; a principal without a role or tenant nothing. */
static void test_self(void)
{
    struct store_scope s;
    CHECK_EQ_INT(policy_self_scope(&super, &s), 0);
    CHECK(s.all);
    const struct policy_principal *tenant[] = {&admin_a, &agent_a, &viewer_a};
    for (size_t i = 0; i < sizeof tenant / sizeof tenant[0]; i++) {
        memset(&s, 0, sizeof s);
        CHECK_EQ_INT(policy_self_scope(tenant[i], &s), 0);
        CHECK(!s.all && !s.include_global);
        CHECK_EQ_STR(s.client_id, A);
    }
    CHECK_EQ_INT(policy_self_scope(&admin_b, &s), 0);
    CHECK_EQ_STR(s.client_id, B);
    struct policy_principal none = who(ROLE_NONE, A, UA), lost = who(ROLE_AGENT, "", UA);
    CHECK_EQ_INT(policy_self_scope(&none, &s), SB_E_FORBIDDEN);
    CHECK_EQ_INT(policy_self_scope(&lost, &s), SB_E_FORBIDDEN);
}

int main(void)
{
    super = who(ROLE_SUPER_ADMIN, "", "");
    admin_a = who(ROLE_ADMIN, A, "");
    agent_a = who(ROLE_AGENT, A, UA);
    viewer_a = who(ROLE_VIEWER, A, "");
    admin_b = who(ROLE_ADMIN, B, "");
    test_reads();
    test_writes();
    test_realtime();
    test_self();
    return test_done();
}
