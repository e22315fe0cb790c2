/*
 * Reads through policy: the caller describes filters and paging, policy decides the scope
 * (and for agents and viewers reading messages, only active ones).
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "svc/svc_int.h"

void svc_page_release(struct svc_page *p)
{
    json_decref(p->rows);
    json_decref(p->counts);
    free(p->next_cursor);
    p->rows = NULL;
    p->counts = NULL;
    p->next_cursor = NULL;
}

/* The page's total and, with count_by, its counts per value, in the page's transaction. */
static int page_counts(struct store_tx *tx, enum store_table table, const struct store_query *q,
                       const char *count_by, struct svc_page *out)
{
    int rc = 0;
    if (!q->cursor && !out->next_cursor) {
        /* The first page holds every matching row (same snapshot): no need to count them. */
        out->total = (int64_t)json_array_size(out->rows);
    } else {
        json_t *total = NULL;
        rc = store_row_count(tx, table, q, NULL, &total);
        if (rc == 0) {
            out->total = json_integer_value(json_object_get(total, "total"));
            if (q->count_max && out->total > (int64_t)q->count_max) {
                out->total = (int64_t)q->count_max; /* more than that */
                out->total_capped = true;
            }
        }
        json_decref(total);
    }
    if (rc == 0 && count_by) {
        rc = store_row_count(tx, table, q, count_by, &out->counts);
    }
    return rc;
}

static int list_page(struct svc *svc, const struct policy_principal *who, enum store_table table,
                     struct store_query *q, bool counted, const char *count_by,
                     struct svc_page *out);

int svc_list(struct svc *svc, const struct policy_principal *who, enum store_table table,
             struct store_query *q, struct svc_page *out)
{
    return list_page(svc, who, table, q, true, NULL, out);
}

int svc_list_rows(struct svc *svc, const struct policy_principal *who, enum store_table table,
                  struct store_query *q, struct svc_page *out)
{
    return list_page(svc, who, table, q, false, NULL, out);
}

int svc_list_counted(struct svc *svc, const struct policy_principal *who, enum store_table table,
                     struct store_query *q, const char *count_by, struct svc_page *out)
{
    return list_page(svc, who, table, q, true, count_by, out);
}

static int list_page(struct svc *svc, const struct policy_principal *who, enum store_table table,
                     struct store_query *q, bool counted, const char *count_by,
                     struct svc_page *out)
{
    memset(out, 0, sizeof *out);
    out->total = -1;
    bool active_only = false;
    int rc = policy_read_scope(who, table, &q->scope, &active_only);
    if (rc < 0) {
        return rc;
    }
    json_t *active = NULL;
    if (active_only) {
        if (q->nfilters >= STORE_MAX_FILTERS) {
            return SB_E_INVAL;
        }
        active = json_string("active");
        q->filters[q->nfilters].column = "state";
        q->filters[q->nfilters].op = STORE_EQ;
        q->filters[q->nfilters].value = active;
        q->nfilters++;
    }
    struct store_tx *tx;
    rc = store_tx_begin(svc->store, false, &tx);
    if (rc == 0) {
        rc = store_tx_head_seq(tx, &out->seq);
        if (rc == 0) {
            rc = store_row_list(tx, table, q, &out->rows, &out->next_cursor);
        }
        if (rc == 0 && counted) {
            rc = page_counts(tx, table, q, count_by, out);
        }
        store_tx_rollback(tx);
        if (rc < 0) {
            svc_page_release(out);
        }
    }
    if (active) {
        q->nfilters--;
        json_decref(active);
    }
    return rc;
}

int svc_get(struct svc *svc, const struct policy_principal *who, enum store_table table,
            const char *id, json_t **out)
{
    struct store_scope scope;
    bool active_only = false;
    bool role_denied = policy_read_scope(who, table, &scope, &active_only) < 0;
    if (role_denied) {
        /* The role may not read this table: 403 for a row of its own tenant, 404 for any
         * other id, so a foreign row stays invisible (DESIGN §5). */
        if (who->role == ROLE_NONE || !who->client_id[0]) {
            return SB_E_NOTFOUND;
        }
        scope = (struct store_scope){.all = false, .client_id = who->client_id};
    }
    struct store_tx *tx;
    int rc = store_tx_begin(svc->store, false, &tx);
    if (rc < 0) {
        return rc;
    }
    rc = store_row_get(tx, table, &scope, id, out);
    store_tx_rollback(tx);
    if (role_denied) {
        if (rc == 0) {
            json_decref(*out);
            *out = NULL;
            rc = SB_E_FORBIDDEN;
        }
        return rc;
    }
    if (rc == 0 && active_only) {
        const json_t *st = json_object_get(*out, "state");
        if (!json_is_string(st) || strcmp(json_string_value(st), "active") != 0) {
            json_decref(*out);
            *out = NULL;
            return SB_E_NOTFOUND;
        }
    }
    return rc;
}

int svc_read_view(const struct policy_principal *who, enum store_table table, char *out,
                  size_t outlen)
{
    struct store_scope scope;
    bool active_only = false;
    int rc = policy_read_scope(who, table, &scope, &active_only);
    if (rc < 0) {
        return rc;
    }
    /* svc_list and svc_get read with exactly this scope and active-only rule and nothing else
     * of who. Written by hand: this runs for every cached read on the loop thread. */
    const char *tenant = scope.client_id ? scope.client_id : "-";
    size_t tlen = strlen(tenant);
    if ((unsigned)table > 9 || outlen < 9 + tlen) {
        return SB_E_INTERNAL;
    }
    out[0] = (char)('0' + (int)table);
    out[1] = '|';
    out[2] = scope.all ? '1' : '0';
    out[3] = '|';
    out[4] = scope.include_global ? '1' : '0';
    out[5] = '|';
    out[6] = active_only ? '1' : '0';
    out[7] = '|';
    memcpy(out + 8, tenant, tlen + 1);
    return 0;
}

bool svc_read_generation(struct svc *svc, uint64_t *out)
{
    return store_read_generation(svc->store, out);
}

int svc_audit_verify(struct svc *svc, const struct policy_principal *who, int64_t *checked,
                     int64_t *first_bad_seq)
{
    if (!policy_can_verify_audit(who)) {
        return SB_E_FORBIDDEN;
    }
    int rc = store_audit_verify(svc->store, checked, first_bad_seq);
    if (rc < 0 || policy_is_cross_tenant(who)) {
        return rc;
    }
    /* The chain is global; a tenant admin learns only how many of its own entries it covers. */
    struct store_query q = {0};
    rc = policy_read_scope(who, STORE_AUDIT, &q.scope, NULL);
    struct store_tx *tx = NULL;
    if (rc == 0) {
        rc = store_tx_begin(svc->store, false, &tx);
    }
    json_t *counts = NULL;
    if (rc == 0) {
        rc = store_row_count(tx, STORE_AUDIT, &q, NULL, &counts);
        store_tx_rollback(tx);
    }
    if (rc == 0) {
        *checked = json_integer_value(json_object_get(counts, "total"));
    }
    json_decref(counts);
    return rc;
}
