/*
 * Who may read and write what (DESIGN §5). The only code that decides access: the REST
 * handlers, the realtime fan-out and the services all ask here, and every store query gets
 * its tenant scope from here.
 *
 * Summary:
 *   super_admin  reads and writes everything; global messages; clients.
 *   admin        reads its client (the client row, agents, messages own + global, users,
 *                audit, metrics); writes its client's users (never super_admin), agent
 *                statuses and its client's messages.
 *   agent        reads its client's agents and active messages (own + global); writes its own
 *                agent status only.
 *   viewer       reads like an agent; writes nothing.
 * A row of another tenant is invisible (404 at the API), never "forbidden".
 */
#ifndef SB_POLICY_POLICY_H
#define SB_POLICY_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

enum policy_role { ROLE_NONE = 0, ROLE_SUPER_ADMIN, ROLE_ADMIN, ROLE_AGENT, ROLE_VIEWER };

/* An authenticated user as the token and the user cache describe it. */
struct policy_principal {
    char user_id[40];   /* ids are UUIDs (36 characters) */
    char client_id[40]; /* "" for super_admin */
    char sid[40];       /* session (refresh family), "" if none */
    enum policy_role role;
    int64_t iat; /* when the token was issued (seconds), 0 when unknown */
};

/* "admin" -> ROLE_ADMIN; ROLE_NONE when unknown. */
enum policy_role policy_role_parse(const char *s);
const char *policy_role_name(enum policy_role r);

/*
 * The scope for reading table: 0 with *out filled (pointers into p, valid while p is), or
 * SB_E_FORBIDDEN when the role may not read the table at all. Agents and viewers reading
 * system_messages must also filter state=active: *active_only is set then.
 */
int policy_read_scope(const struct policy_principal *p, enum store_table table,
                      struct store_scope *out, bool *active_only);

/*
 * How p may see a change of a row (realtime fan-out, resume). row is the new record (NULL
 * for a DELETE), old_row the old one (NULL for an INSERT).
 *   NONE       not at all;
 *   FULL       as it happened (an active message becoming expired is still shown to agents,
 *              so they see it leave their view);
 *   AS_INSERT  an UPDATE that moved the row into p's tenant: p sees it arrive, as an INSERT
 *              of the new record, and never the other tenant's old values;
 *   AS_DELETE  an UPDATE that moved the row out of p's tenant: p sees it leave, as a DELETE
 *              of the old record, and never the new tenant's values.
 */
enum policy_view {
    POLICY_VIEW_NONE,
    POLICY_VIEW_FULL,
    POLICY_VIEW_AS_INSERT,
    POLICY_VIEW_AS_DELETE
};
enum policy_view policy_row_view(const struct policy_principal *p, enum store_table table,
                                 const json_t *row, const json_t *old_row);
/* policy_row_view(...) != POLICY_VIEW_NONE. */
bool policy_can_read_row(const struct policy_principal *p, enum store_table table,
                         const json_t *row, const json_t *old_row);
/* Does p act across every tenant (its reads and writes are not confined to one client, its
 * rows default to no client)? */
bool policy_is_cross_tenant(const struct policy_principal *p);
/* May p create, rename, suspend or delete clients? */
bool policy_can_manage_clients(const struct policy_principal *p);
/* May p read dashboard metrics (REST /dashboard and the realtime:dashboard channel)? */
bool policy_can_read_metrics(const struct policy_principal *p);
/* May p verify the audit chain (its own tenant's share, or all of it when cross-tenant)? */
bool policy_can_verify_audit(const struct policy_principal *p);
/* May p move a row to another tenant (change its client_id)? */
bool policy_can_move_tenant(const struct policy_principal *p);
/* May p delete or change the user whose row is user_row (already within p's write scope)?
 * Only a super_admin touches a super_admin. */
bool policy_can_manage_user(const struct policy_principal *p, const json_t *user_row);
/* The tenant a realtime channel of p belongs to: p's own client, or for a cross-tenant
 * principal the one it asks for (requested, may be NULL: "", every tenant's global view). */
const char *policy_channel_tenant(const struct policy_principal *p, const char *requested);

/* Scope for writing rows of table, or SB_E_FORBIDDEN. */
int policy_write_scope(const struct policy_principal *p, enum store_table table,
                       struct store_scope *out);

/* Scope of p's own user row and of what belongs to p alone (its preferences), which every
 * role may read and write whatever else it may list: p's tenant, or every row for a
 * super_admin. SB_E_FORBIDDEN for a principal without a role or a tenant. The caller still
 * names p's own user id: the scope alone would admit the tenant's other users. */
int policy_self_scope(const struct policy_principal *p, struct store_scope *out);

/* Field-level write checks (the row is already within the write scope). */
/* May p create or change a user into role for client_id (NULL for none)? */
bool policy_can_assign_role(const struct policy_principal *p, enum policy_role role,
                            const char *client_id);
/* May p set the status of the agent whose agent_status row is agent_row? */
bool policy_can_set_agent_status(const struct policy_principal *p, const json_t *agent_row);
/* May p create or change a message for client_id (NULL: global)? */
bool policy_can_write_message(const struct policy_principal *p, const char *client_id);
/* Scope of system jobs (timers, presence): every row. */
void policy_system_scope(struct store_scope *out);

#endif
