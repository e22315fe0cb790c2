/*
 * The access rules of DESIGN §5 as a handful of small functions over (role, tenant). No I/O:
 * the realtime fan-out calls policy_can_read_row for every event and subscriber.
 */
#include "policy/policy.h"

#include <string.h>

#include "base/err.h"

static const char *const role_names[] = {"", "super_admin", "admin", "agent", "viewer"};

enum policy_role policy_role_parse(const char *s)
{
    for (int i = 1; i <= ROLE_VIEWER; i++) {
        if (s && strcmp(s, role_names[i]) == 0) {
            return (enum policy_role)i;
        }
    }
    return ROLE_NONE;
}

const char *policy_role_name(enum policy_role r)
{
    return (int)r >= 0 && r <= ROLE_VIEWER ? role_names[r] : "";
}

void policy_system_scope(struct store_scope *out)
{
    out->all = true;
    out->client_id = NULL;
    out->include_global = true;
}

static void tenant_scope(const struct policy_principal *p, struct store_scope *out, bool global)
{
    out->all = false;
    out->client_id = p->client_id[0] ? p->client_id : NULL;
    out->include_global = global;
}

int policy_read_scope(const struct policy_principal *p, enum store_table table,
                      struct store_scope *out, bool *active_only)
{
    if (active_only) {
        *active_only = false;
    }
    if (p->role == ROLE_SUPER_ADMIN) {
        policy_system_scope(out);
        return 0;
    }
    if (p->role == ROLE_NONE || !p->client_id[0]) {
        return SB_E_FORBIDDEN;
    }
    switch (table) {
    case STORE_CLIENTS:
    case STORE_AGENT_STATUS:
    case STORE_AGENT_HISTORY:
        tenant_scope(p, out, false);
        return 0;
    case STORE_MESSAGES:
        tenant_scope(p, out, true);
        if (active_only && p->role != ROLE_ADMIN) {
            *active_only = true;
        }
        return 0;
    case STORE_USERS:
    case STORE_AUDIT:
        if (p->role != ROLE_ADMIN) {
            return SB_E_FORBIDDEN;
        }
        tenant_scope(p, out, false);
        return 0;
    default:
        return SB_E_FORBIDDEN;
    }
}

static const char *row_tenant(enum store_table table, const json_t *row)
{
    const json_t *v = json_object_get(row, table == STORE_CLIENTS ? "id" : "client_id");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool is_active(const json_t *row)
{
    const json_t *s = row ? json_object_get(row, "state") : NULL;
    return json_is_string(s) && strcmp(json_string_value(s), "active") == 0;
}

bool policy_can_read_row(const struct policy_principal *p, enum store_table table,
                         const json_t *row, const json_t *old_row)
{
    struct store_scope scope;
    bool active_only = false;
    if (policy_read_scope(p, table, &scope, &active_only) < 0) {
        return false;
    }
    if (scope.all) {
        return true;
    }
    const json_t *r = row ? row : old_row;
    if (!r) {
        return false;
    }
    const char *tenant = row_tenant(table, r);
    bool in_tenant = tenant ? strcmp(tenant, scope.client_id) == 0 : scope.include_global;
    if (!in_tenant) {
        return false;
    }
    if (active_only) {
        return is_active(row) || is_active(old_row);
    }
    return true;
}

int policy_write_scope(const struct policy_principal *p, enum store_table table,
                       struct store_scope *out)
{
    if (p->role == ROLE_SUPER_ADMIN) {
        policy_system_scope(out);
        return 0;
    }
    if (!p->client_id[0]) {
        return SB_E_FORBIDDEN;
    }
    switch (table) {
    case STORE_USERS:
    case STORE_MESSAGES:
        if (p->role != ROLE_ADMIN) {
            return SB_E_FORBIDDEN;
        }
        tenant_scope(p, out, false);
        return 0;
    case STORE_AGENT_STATUS:
        if (p->role != ROLE_ADMIN && p->role != ROLE_AGENT) {
            return SB_E_FORBIDDEN;
        }
        tenant_scope(p, out, false);
        return 0;
    default:
        return SB_E_FORBIDDEN;
    }
}

bool policy_can_assign_role(const struct policy_principal *p, enum policy_role role,
                            const char *client_id)
{
    if (role == ROLE_NONE) {
        return false;
    }
    if (p->role == ROLE_SUPER_ADMIN) {
        /* super_admins have no client; everyone else needs one */
        return role == ROLE_SUPER_ADMIN ? client_id == NULL : client_id != NULL;
    }
    return p->role == ROLE_ADMIN && role != ROLE_SUPER_ADMIN && client_id &&
           strcmp(client_id, p->client_id) == 0;
}

bool policy_can_set_agent_status(const struct policy_principal *p, const json_t *agent_row)
{
    if (p->role == ROLE_SUPER_ADMIN) {
        return true;
    }
    const char *tenant = row_tenant(STORE_AGENT_STATUS, agent_row);
    if (!tenant || strcmp(tenant, p->client_id) != 0) {
        return false;
    }
    if (p->role == ROLE_ADMIN) {
        return true;
    }
    const json_t *uid = json_object_get(agent_row, "user_id");
    return p->role == ROLE_AGENT && json_is_string(uid) &&
           strcmp(json_string_value(uid), p->user_id) == 0;
}

bool policy_can_write_message(const struct policy_principal *p, const char *client_id)
{
    if (p->role == ROLE_SUPER_ADMIN) {
        return true;
    }
    return p->role == ROLE_ADMIN && client_id && strcmp(client_id, p->client_id) == 0;
}
