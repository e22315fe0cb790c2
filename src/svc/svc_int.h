/*
 * Internals shared by the service files.
 */
#ifndef SB_SVC_SVC_INT_H
#define SB_SVC_SVC_INT_H

#include "svc/svc.h"

/* The string value of o[k], or NULL when absent or not a string. */
static inline const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

struct svc_metrics;

struct svc {
    struct store *store;
    struct svc_config cfg;
    struct svc_presence *presence; /* presence.c */
    struct svc_metrics *metrics;   /* metrics.c */
    struct svc_history *history;   /* history.c */
    struct auth_session *auth;     /* the server's session cache (svc_set_auth); may be NULL */
};

/* history.c */
struct svc_history *svc_history_new(void);
void svc_history_free(struct svc_history *h);

/* metrics.c: the in-memory metrics state (events per minute, online samples). */
struct svc_metrics *svc_metrics_new(void);
void svc_metrics_free(struct svc_metrics *m);

/*
 * Check a client-chosen id (row's "id", if any) before an insert into table inside tx. Ids are
 * global, so a conflict must not tell a tenant that another tenant has a row with that id:
 * an id held by a row the actor cannot read is replaced in row by a fresh one (the caller
 * gets its row under the id it really has); one held by a row it can read is SB_E_CONFLICT
 * with err's field "id" ("taken"). 0 when the row may be inserted.
 */
int svc_claim_id(struct store_tx *tx, const struct svc_actor *a, enum store_table table,
                 json_t *row, struct svc_errors *err);

/* Append the rows q matches in table to acc, page after page (q->limit STORE_MAX_LIMIT),
 * stopping once acc holds more than max rows: the caller tells "too many" by
 * json_array_size(acc) > max. q->cursor is NULL again on return. */
int svc_list_upto(struct store_tx *tx, enum store_table table, struct store_query *q, json_t *acc,
                  size_t max);

/* A new password-reset token for user_id inside tx (its hash and expiry in the store's
 * meta); token receives it, *expires_ms its expiry. */
int svc_reset_token_put(struct store_tx *tx, const char *user_id, char token[48],
                        int64_t *expires_ms);

/* Create a user row (and its agent_status row for agents) inside tx, audited. row holds
 * email, name, role, client_id (or null), status; password is hashed here. */
int svc_user_insert(struct svc *svc, struct store_tx *tx, const struct svc_actor *actor,
                    json_t *row, const char *password, json_t **out, struct svc_errors *err);
/* The same without a password: the user sets one with a reset token (svc_reset_token_put). */
int svc_user_insert_unset(struct store_tx *tx, const struct svc_actor *actor, json_t *row,
                          json_t **out, struct svc_errors *err);

#endif
