/*
 * Internals shared by the service files.
 */
#ifndef SB_SVC_SVC_INT_H
#define SB_SVC_SVC_INT_H

#include "svc/svc.h"

struct svc_metrics;

struct svc {
    struct store *store;
    struct svc_config cfg;
    struct svc_presence *presence; /* agents.c */
    struct svc_metrics *metrics;   /* metrics.c */
    struct svc_history *history;   /* history.c */
};

/* history.c */
struct svc_history *svc_history_new(void);
void svc_history_free(struct svc_history *h);

/* metrics.c: the in-memory metrics state (events per minute, online samples). */
struct svc_metrics *svc_metrics_new(void);
void svc_metrics_free(struct svc_metrics *m);

/* Create a user row (and its agent_status row for agents) inside tx, audited. row holds
 * email, name, role, client_id (or null), status; password is hashed here. */
int svc_user_insert(struct svc *svc, struct store_tx *tx, const struct svc_actor *actor,
                    json_t *row, const char *password, json_t **out, struct svc_errors *err);

#endif
