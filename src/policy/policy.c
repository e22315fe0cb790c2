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

static bool in_scope(const struct store_scope *scope, enum store_table table, const json_t *row)
{
    if (!row) {
        return false;
    }
    const char *tenant = row_tenant(table, row);
    return tenant ? scope->client_id && strcmp(tenant, scope->client_id) == 0
                  : scope->include_global;
}

enum policy_view policy_row_view(const struct policy_principal *p, enum store_table table,
                                 const json_t *row, const json_t *old_row)
{
    struct store_scope scope;
    bool active_only = false;
    if (policy_read_scope(p, table, &scope, &active_only) < 0) {
        return POLICY_VIEW_NONE;
    }
    if (scope.all) {
        return POLICY_VIEW_FULL;
    }
    bool in_new = in_scope(&scope, table, row);
    bool in_old = in_scope(&scope, table, old_row);
    if (row && old_row && in_new != in_old) {
        /* Moved between tenants: each side sees only its own values. */
        if (in_new) {
            return !active_only || is_active(row) ? POLICY_VIEW_AS_INSERT : POLICY_VIEW_NONE;
        }
        return !active_only || is_active(old_row) ? POLICY_VIEW_AS_DELETE : POLICY_VIEW_NONE;
    }
    if (!in_new && !in_old) {
        return POLICY_VIEW_NONE;
    }
    if (active_only && !is_active(row) && !is_active(old_row)) {
        return POLICY_VIEW_NONE;
    }
    return POLICY_VIEW_FULL;
}

bool policy_can_read_row(const struct policy_principal *p, enum store_table table,
                         const json_t *row, const json_t *old_row)
{
    return policy_row_view(p, table, row, old_row) != POLICY_VIEW_NONE;
}

bool policy_is_cross_tenant(const struct policy_principal *p)
{
    return p->role == ROLE_SUPER_ADMIN;
}

bool policy_can_manage_clients(const struct policy_principal *p)
{
    return p->role == ROLE_SUPER_ADMIN;
}

bool policy_can_read_metrics(const struct policy_principal *p)
{
    return p->role == ROLE_SUPER_ADMIN || (p->role == ROLE_ADMIN && p->client_id[0]);
}

bool policy_can_verify_audit(const struct policy_principal *p)
{
    return policy_can_read_metrics(p);
}

bool policy_can_move_tenant(const struct policy_principal *p)
{
    return p->role == ROLE_SUPER_ADMIN;
}

bool policy_can_manage_user(const struct policy_principal *p, const json_t *user_row)
{
    const json_t *role = json_object_get(user_row, "role");
    bool target_super = json_is_string(role) && !strcmp(json_string_value(role), "super_admin");
    return !target_super || p->role == ROLE_SUPER_ADMIN;
}

const char *policy_channel_tenant(const struct policy_principal *p, const char *requested)
{
    if (p->role == ROLE_SUPER_ADMIN && requested && strlen(requested) < sizeof p->client_id) {
        return requested;
    }
    return p->client_id;
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

int policy_self_scope(const struct policy_principal *p, struct store_scope *out)
{
    if (p->role == ROLE_SUPER_ADMIN) {
        policy_system_scope(out);
        return 0;
    }
    if (p->role == ROLE_NONE || !p->client_id[0]) {
        return SB_E_FORBIDDEN;
    }
    tenant_scope(p, out, false);
    return 0;
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
