/*
 * The service context and the pieces every service shares: actors, validation errors and
 * the audit helper.
 */
#include "svc/svc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/rand.h"
#include "svc/svc_int.h"

void svc_errors_release(struct svc_errors *e)
{
    json_decref(e->details);
    json_decref(e->current);
    e->details = NULL;
    e->current = NULL;
}

int svc_invalid(struct svc_errors *e, const char *field, const char *issue)
{
    if (e) {
        if (!e->details) {
            e->details = json_array();
        }
        json_array_append_new(e->details, json_pack("{s:s,s:s}", "field", field, "issue", issue));
    }
    return SB_E_VALIDATION;
}

int svc_new(struct store *store, const struct svc_config *cfg, struct svc **out)
{
    struct svc *s = xcalloc(1, sizeof *s);
    s->store = store;
    s->cfg = *cfg;
    s->presence = svc_presence_new(cfg->presence_grace_ms > 0 ? cfg->presence_grace_ms : 60000);
    svc_presence_set_idle(s->presence, cfg->idle_away_ms);
    s->metrics = svc_metrics_new();
    s->history = svc_history_new();
    *out = s;
    return 0;
}

void svc_free(struct svc *svc)
{
    if (svc) {
        svc_presence_free(svc->presence);
        svc_metrics_free(svc->metrics);
        svc_history_free(svc->history);
    }
    free(svc);
}

void svc_set_auth(struct svc *svc, struct auth_session *auth)
{
    svc->auth = auth;
}

struct store *svc_store(struct svc *svc)
{
    return svc->store;
}

void svc_actor_system(struct svc_actor *out)
{
    memset(out, 0, sizeof *out);
    out->system = true;
    out->who.role = ROLE_NONE;
    snprintf(out->email, sizeof out->email, "system");
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

int svc_claim_id(struct store_tx *tx, const struct svc_actor *a, enum store_table table,
                 json_t *row, struct svc_errors *err)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    if (!id || !uuid_is_valid(id)) {
        return 0; /* no id, or a malformed one the store refuses as invalid */
    }
    struct store_scope all;
    policy_system_scope(&all);
    json_t *held = NULL;
    int rc = store_row_get(tx, table, &all, id, &held);
    if (rc == SB_E_NOTFOUND) {
        return 0;
    }
    if (rc < 0) {
        return rc;
    }
    bool visible = a->system || policy_can_read_row(&a->who, table, held, NULL);
    json_decref(held);
    if (visible) {
        svc_invalid(err, "id", "taken");
        return SB_E_CONFLICT;
    }
    char fresh[UUID_STR_LEN];
    uuid_v4(fresh);
    json_object_set_new(row, "id", json_string(fresh));
    return 0;
}

int svc_tx_end(struct store_tx *tx, int rc, json_t **out)
{
    if (rc == 0) {
        rc = store_tx_commit(tx);
    } else {
        store_tx_rollback(tx);
    }
    if (rc < 0 && out) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int svc_audit(struct store_tx *tx, const struct svc_actor *actor, const char *action,
              const char *entity_type, const char *entity_id, const json_t *before,
              const json_t *after)
{
    json_t *e = json_object();
    json_object_set_new(e, "actor_id",
                        actor->system ? json_string("system") : str_or_null(actor->who.user_id));
    char email[sizeof actor->email];
    snprintf(email, sizeof email, "%s", actor->email);
    if (!actor->system && !email[0] && actor->who.user_id[0]) {
        /* Callers know the actor's id from the token; the e-mail comes from the users row. */
        store_user_email(tx, actor->who.user_id, email, sizeof email);
    }
    json_object_set_new(e, "actor_email", str_or_null(email));
    /* The entry belongs to the tenant of the entity when it has one, else the actor's. */
    const json_t *row = after ? after : before;
    const json_t *cid = row ? json_object_get(row, "client_id") : NULL;
    if (row && strcmp(entity_type, "client") == 0) {
        cid = json_object_get(row, "id");
    }
    if (json_is_string(cid)) {
        json_object_set_new(e, "client_id", json_string(json_string_value(cid)));
    } else {
        json_object_set_new(e, "client_id", str_or_null(actor->who.client_id));
    }
    json_object_set_new(e, "action", json_string(action));
    json_object_set_new(e, "entity_type", json_string(entity_type));
    json_object_set_new(e, "entity_id", str_or_null(entity_id));
    /* Shared, not copied: the store only reads the entry, which dies before we return. */
    json_object_set_new(e, "before", before ? json_incref((json_t *)before) : json_null());
    json_object_set_new(e, "after", after ? json_incref((json_t *)after) : json_null());
    json_object_set_new(e, "ip", str_or_null(actor->ip));
    json_object_set_new(e, "user_agent", str_or_null(actor->user_agent));
    json_object_set_new(e, "request_id", str_or_null(actor->request_id));
    int rc = store_audit_append(tx, e, NULL);
    json_decref(e);
    return rc;
}

int svc_list_upto(struct store_tx *tx, enum store_table table, struct store_query *q, json_t *acc,
                  size_t max)
{
    char *cursor = NULL;
    int rc = 0;
    q->limit = STORE_MAX_LIMIT;
    do {
        json_t *page = NULL;
        char *next = NULL;
        q->cursor = cursor;
        rc = store_row_list(tx, table, q, &page, &next);
        free(cursor);
        cursor = next;
        if (rc == 0) {
            json_array_extend(acc, page);
        }
        json_decref(page);
    } while (rc == 0 && cursor && json_array_size(acc) <= max);
    free(cursor);
    q->cursor = NULL;
    return rc;
}
